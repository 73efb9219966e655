//! The graph of a state machine as SVG, drawn from its definition: states in layers (breadth
//! first from `StartAt`), transitions as arrows (Choice branches labelled, Catch edges dashed),
//! Parallel branches and Map iterators drawn nested inside their state. Each state can be
//! coloured by its status in an execution. Works on the definition's JSON, so it draws any
//! definition the store holds; it never fails, at worst it draws less.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;

use serde_json::{Map, Value};

use super::html::escape;

/// How far an execution got in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateStatus {
    Succeeded,
    Failed,
    /// Failed, and a Catch sent the execution on.
    Caught,
    InProgress,
    /// Waiting for a person or a worker to answer its task token.
    Waiting,
}

impl StateStatus {
    pub fn class(self) -> &'static str {
        match self {
            StateStatus::Succeeded => "st-succeeded",
            StateStatus::Failed => "st-failed",
            StateStatus::Caught => "st-caught",
            StateStatus::InProgress => "st-progress",
            StateStatus::Waiting => "st-waiting",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StateStatus::Succeeded => "succeeded",
            StateStatus::Failed => "failed",
            StateStatus::Caught => "caught",
            StateStatus::InProgress => "in progress",
            StateStatus::Waiting => "waiting",
        }
    }
}

const NODE_W: f64 = 170.0;
const NODE_H: f64 = 34.0;
const GAP_X: f64 = 24.0;
const GAP_Y: f64 = 42.0;
const PAD: f64 = 14.0;
const HEADER: f64 = 26.0;

/// One laid-out graph: its size and its SVG, drawn at the origin.
struct Laid {
    w: f64,
    h: f64,
    svg: String,
}

struct Node {
    name: String,
    laid: Laid,
    x: f64,
    y: f64,
}

/// Draw a definition (its JSON text). `status` colours states by name.
pub fn render(definition: &str, status: &HashMap<String, StateStatus>) -> String {
    let Ok(Value::Object(def)) = serde_json::from_str::<Value>(definition) else {
        return "<p class=\"muted\">The definition is not a JSON object.</p>".into();
    };
    let laid = layout(&def, status, 0);
    let (w, h) = (laid.w + 2.0 * PAD, laid.h + 2.0 * PAD);
    format!(
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"#666\"/></marker></defs><g transform=\"translate({PAD},{PAD})\">{}</g></svg>",
        laid.svg
    )
}

/// The states a state can go to next, with a label and whether it is a Catch edge.
fn transitions(state: &Map<String, Value>) -> Vec<(String, Option<String>, bool)> {
    let mut out = Vec::new();
    if let Some(Value::Array(choices)) = state.get("Choices") {
        for (i, c) in choices.iter().enumerate() {
            if let Some(next) = c.get("Next").and_then(Value::as_str) {
                out.push((next.to_owned(), Some(format!("#{}", i + 1)), false));
            }
        }
        if let Some(next) = state.get("Default").and_then(Value::as_str) {
            out.push((next.to_owned(), Some("default".into()), false));
        }
    }
    if let Some(next) = state.get("Next").and_then(Value::as_str) {
        out.push((next.to_owned(), None, false));
    }
    if let Some(Value::Array(catchers)) = state.get("Catch") {
        for c in catchers {
            if let Some(next) = c.get("Next").and_then(Value::as_str) {
                let errors = c
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                out.push((next.to_owned(), Some(errors), true));
            }
        }
    }
    out
}

/// The nested graphs of a Parallel (its branches) or a Map (its iterator).
fn nested(state: &Map<String, Value>) -> Vec<&Map<String, Value>> {
    let mut out = Vec::new();
    if let Some(Value::Array(branches)) = state.get("Branches") {
        out.extend(branches.iter().filter_map(Value::as_object));
    }
    for key in ["ItemProcessor", "Iterator"] {
        if let Some(Value::Object(inner)) = state.get(key) {
            out.push(inner);
        }
    }
    out
}

fn layout(graph: &Map<String, Value>, status: &HashMap<String, StateStatus>, depth: usize) -> Laid {
    let empty = Map::new();
    let states = graph.get("States").and_then(Value::as_object).unwrap_or(&empty);
    let start = graph.get("StartAt").and_then(Value::as_str).unwrap_or_default();

    // Layers: breadth first from StartAt; states nothing reaches go last.
    let mut layer_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    let mut queue = VecDeque::new();
    if states.contains_key(start) {
        layer_of.insert(start, 0);
        queue.push_back(start);
    }
    while let Some(name) = queue.pop_front() {
        order.push(name);
        let layer = layer_of[name];
        if let Some(Value::Object(s)) = states.get(name) {
            for (next, _, _) in transitions(s) {
                if let Some((key, _)) = states.get_key_value(next.as_str()) {
                    if !layer_of.contains_key(key.as_str()) {
                        layer_of.insert(key.as_str(), layer + 1);
                        queue.push_back(key.as_str());
                    }
                }
            }
        }
    }
    let last = layer_of.values().copied().max().map_or(0, |l| l + 1);
    for name in states.keys() {
        if !layer_of.contains_key(name.as_str()) {
            layer_of.insert(name.as_str(), last);
            order.push(name.as_str());
        }
    }

    let mut layers: Vec<Vec<Node>> = Vec::new();
    for name in order {
        let layer = layer_of[name];
        while layers.len() <= layer {
            layers.push(Vec::new());
        }
        let state = states.get(name).and_then(Value::as_object).unwrap_or(&empty);
        layers[layer].push(Node { name: name.to_owned(), laid: node(name, state, status, depth), x: 0.0, y: 0.0 });
    }

    // Place: each layer a centred row.
    let width = layers
        .iter()
        .map(|l| l.iter().map(|n| n.laid.w).sum::<f64>() + GAP_X * (l.len().saturating_sub(1)) as f64)
        .fold(NODE_W, f64::max);
    let mut y = 0.0;
    for layer in &mut layers {
        let row_w: f64 = layer.iter().map(|n| n.laid.w).sum::<f64>() + GAP_X * (layer.len().saturating_sub(1)) as f64;
        let row_h = layer.iter().map(|n| n.laid.h).fold(0.0, f64::max);
        let mut x = (width - row_w) / 2.0;
        for n in layer.iter_mut() {
            n.x = x;
            n.y = y;
            x += n.laid.w + GAP_X;
        }
        y += row_h + GAP_Y;
    }
    let height = (y - GAP_Y).max(NODE_H);

    let placed: HashMap<&str, &Node> = layers.iter().flatten().map(|n| (n.name.as_str(), n)).collect();
    let mut svg = String::new();
    for n in placed.values() {
        let Some(Value::Object(s)) = states.get(&n.name) else { continue };
        for (next, label, catch) in transitions(s) {
            let Some(t) = placed.get(next.as_str()) else { continue };
            let (x1, y1) = (n.x + n.laid.w / 2.0, n.y + n.laid.h);
            let (x2, y2) = (t.x + t.laid.w / 2.0, t.y);
            let class = if catch { "edge catch" } else { "edge" };
            let path = if y2 > y1 {
                format!("M{x1:.1},{y1:.1} C{x1:.1},{:.1} {x2:.1},{:.1} {x2:.1},{y2:.1}", y1 + 20.0, y2 - 20.0)
            } else {
                // A loop back up: go round the right-hand side.
                let side = width + 12.0;
                format!(
                    "M{:.1},{:.1} C{side:.1},{:.1} {side:.1},{:.1} {:.1},{:.1}",
                    n.x + n.laid.w,
                    n.y + n.laid.h / 2.0,
                    n.y + n.laid.h / 2.0,
                    t.y + t.laid.h / 2.0,
                    t.x + t.laid.w,
                    t.y + t.laid.h / 2.0
                )
            };
            let _ = write!(svg, "<path class=\"{class}\" d=\"{path}\" marker-end=\"url(#arrow)\"/>");
            if let Some(label) = label {
                let _ = write!(
                    svg,
                    "<text class=\"edge-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    (x1 + x2) / 2.0 + 4.0,
                    (y1 + y2) / 2.0,
                    escape(&label)
                );
            }
        }
    }
    for n in placed.values() {
        let _ = write!(svg, "<g transform=\"translate({:.1},{:.1})\">{}</g>", n.x, n.y, n.laid.svg);
    }
    Laid { w: width, h: height, svg }
}

/// One state: a box with its name and type; Parallel and Map hold their nested graphs.
fn node(name: &str, state: &Map<String, Value>, status: &HashMap<String, StateStatus>, depth: usize) -> Laid {
    let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?");
    let class = status.get(name).map_or("st-none", |s| s.class());
    let title = match status.get(name) {
        Some(s) => format!("{name} ({kind}): {}", s.label()),
        None => format!("{name} ({kind})"),
    };
    let inner = if depth < 8 { nested(state) } else { Vec::new() };
    if inner.is_empty() {
        let shape = if matches!(kind, "Choice") { "choice" } else { "state" };
        return Laid {
            w: NODE_W,
            h: NODE_H,
            svg: format!(
                "<g class=\"node {class}\" data-state=\"{n}\"><title>{t}</title><rect class=\"{shape}\" width=\"{NODE_W}\" \
                 height=\"{NODE_H}\" rx=\"6\"/><text x=\"{:.1}\" y=\"21\" text-anchor=\"middle\">{n}</text></g>",
                NODE_W / 2.0,
                n = escape(&short(name)),
                t = escape(&title),
            ),
        };
    }
    let laid: Vec<Laid> = inner.iter().map(|g| layout(g, status, depth + 1)).collect();
    let w = (laid.iter().map(|l| l.w).sum::<f64>() + GAP_X * (laid.len() - 1) as f64 + 2.0 * PAD).max(NODE_W);
    let h = laid.iter().map(|l| l.h).fold(0.0, f64::max) + HEADER + 2.0 * PAD;
    let mut svg = format!(
        "<g class=\"node group {class}\" data-state=\"{n}\"><title>{t}</title><rect class=\"group\" width=\"{w:.1}\" \
         height=\"{h:.1}\" rx=\"8\"/><text x=\"10\" y=\"18\">{n} · {k}</text>",
        n = escape(&short(name)),
        t = escape(&title),
        k = escape(kind),
    );
    let mut x = PAD;
    for l in laid {
        let _ = write!(
            svg,
            "<rect class=\"branch\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\"/>\
             <g transform=\"translate({x:.1},{:.1})\">{}</g>",
            x - 6.0,
            HEADER + PAD - 6.0,
            l.w + 12.0,
            l.h + 12.0,
            HEADER + PAD,
            l.svg
        );
        x += l.w + GAP_X;
    }
    svg.push_str("</g>");
    Laid { w, h, svg }
}

/// Names longer than a box shows are cut (the full name is in the tooltip).
fn short(name: &str) -> String {
    if name.chars().count() <= 22 {
        name.to_owned()
    } else {
        format!("{}…", name.chars().take(21).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_choice_catch_and_nested_states() {
        let def = r#"{"StartAt":"Pick","States":{
            "Pick":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"Fan"}],"Default":"Done"},
            "Fan":{"Type":"Parallel","Branches":[
                {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
                {"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"Item","States":{"Item":{"Type":"Pass","End":true}}},"End":true}}}
            ],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Done"}],"Next":"Done"},
            "Done":{"Type":"Succeed"}}}"#;
        let mut status = HashMap::new();
        status.insert("Pick".to_owned(), StateStatus::Succeeded);
        status.insert("Item".to_owned(), StateStatus::Waiting);
        let svg = render(def, &status);
        for name in ["Pick", "Fan", "A", "M", "Item", "Done"] {
            assert!(svg.contains(&format!("data-state=\"{name}\"")), "{name} missing in {svg}");
        }
        assert!(svg.contains("edge catch"));
        assert!(svg.contains(">default<"));
        assert!(svg.contains("node st-succeeded\" data-state=\"Pick\""));
        assert!(svg.contains("node st-waiting\" data-state=\"Item\""));
    }

    #[test]
    fn survives_a_broken_definition() {
        assert!(render("[1]", &HashMap::new()).contains("not a JSON object"));
        let svg = render(r#"{"StartAt":"Nowhere","States":{"X":{"Type":"Pass","Next":"Y"}}}"#, &HashMap::new());
        assert!(svg.contains("data-state=\"X\""));
    }
}
