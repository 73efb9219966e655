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
                let label = c.as_object().and_then(condition).unwrap_or_else(|| format!("rule {}", i + 1));
                out.push((next.to_owned(), Some(label), false));
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

/// A Choice rule as a person would say it: `$.total > 100`, `$.kind == "gift" and …`, a
/// JSONata condition without its `{% %}`. `None` for a rule this cannot read.
fn condition(rule: &Map<String, Value>) -> Option<String> {
    if let Some(Value::String(text)) = rule.get("Condition") {
        let inner = text.trim().strip_prefix("{%").and_then(|t| t.strip_suffix("%}")).unwrap_or(text);
        return Some(inner.trim().to_owned());
    }
    let all = |key: &str, joint: &str| -> Option<String> {
        let parts: Option<Vec<String>> =
            rule.get(key)?.as_array()?.iter().map(|r| r.as_object().and_then(condition)).collect();
        Some(
            parts?
                .iter()
                .map(|p| if p.contains(' ') { format!("({p})") } else { p.clone() })
                .collect::<Vec<_>>()
                .join(joint),
        )
    };
    if let Some(c) = all("And", " and ").or_else(|| all("Or", " or ")) {
        return Some(c);
    }
    if let Some(Value::Object(inner)) = rule.get("Not") {
        return Some(format!("not ({})", condition(inner)?));
    }
    let variable = rule.get("Variable")?.as_str()?;
    let (op, value) = rule.iter().find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Assign" | "Comment"))?;
    let test = |yes: &str, no: &str| if value.as_bool() == Some(false) { no.to_owned() } else { yes.to_owned() };
    let operand = match op.strip_suffix("Path") {
        Some(_) => value.as_str().unwrap_or_default().to_owned(),
        None => value.to_string(),
    };
    let compared = |symbol: &str| format!("{variable} {symbol} {operand}");
    let comparison = op.trim_end_matches("Path");
    Some(match comparison {
        "IsPresent" => format!("{variable} {}", test("present", "absent")),
        "IsNull" => format!("{variable} {}", test("is null", "not null")),
        _ if comparison.starts_with("Is") => {
            format!("{variable} {} {}", test("is", "not"), comparison[2..].to_lowercase())
        }
        _ if comparison.ends_with("GreaterThanEquals") => compared(">="),
        _ if comparison.ends_with("LessThanEquals") => compared("<="),
        _ if comparison.ends_with("GreaterThan") => compared(">"),
        _ if comparison.ends_with("LessThan") => compared("<"),
        _ if comparison.ends_with("Equals") => compared("=="),
        _ if comparison.ends_with("Matches") => compared("matches"),
        _ => compared(op),
    })
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
    let (mut svg, mut label_svg) = (String::new(), String::new());
    // Loops back up go round the right-hand side, outside the widest layer: room for them and
    // their labels is added to the graph's width, so nothing is cut off at its edge.
    let mut right = 0.0_f64;
    for n in layers.iter().flatten() {
        let Some(Value::Object(s)) = states.get(&n.name) else { continue };
        for (next, labels, catch) in merged(transitions(s)) {
            let Some(t) = placed.get(next.as_str()) else { continue };
            let (x1, y1) = (n.x + n.laid.w / 2.0, n.y + n.laid.h);
            let (x2, y2) = (t.x + t.laid.w / 2.0, t.y);
            let class = if catch { "edge catch" } else { "edge" };
            let (path, at, anchor) = if y2 > y1 {
                let (c1, c2) = (y1 + 20.0, y2 - 20.0);
                // Labels sit three quarters of the way, near the target: the edges leaving one
                // Choice fan out there, so their labels do not overlap.
                let at = bezier((x1, y1), (x1, c1), (x2, c2), (x2, y2), 0.75);
                (format!("M{x1:.1},{y1:.1} C{x1:.1},{c1:.1} {x2:.1},{c2:.1} {x2:.1},{y2:.1}"), at, "middle")
            } else {
                // From the source's right side up to the target's, bulging LOOP_GAP past the
                // widest layer (a cubic's bulge is 3/4 of its control points' offset), so it
                // passes beside the states between them, not through them.
                let (xa, xb) = (n.x + n.laid.w, t.x + t.laid.w);
                let (ya, yb) = (n.y + n.laid.h / 2.0, t.y + t.laid.h / 2.0);
                let peak = width + LOOP_GAP;
                let side = (peak - 0.125 * (xa + xb)) / 0.75;
                let label_w = labels.iter().map(|l| text_width(&short_label(l))).fold(0.0, f64::max);
                right = right.max(LOOP_GAP + if labels.is_empty() { 2.0 } else { 4.0 + label_w + 4.0 });
                let path = format!("M{xa:.1},{ya:.1} C{side:.1},{ya:.1} {side:.1},{yb:.1} {xb:.1},{yb:.1}");
                (path, (peak + 4.0, (ya + yb) / 2.0 + 4.0), "start")
            };
            let _ = write!(svg, "<path class=\"{class}\" d=\"{path}\" marker-end=\"url(#arrow)\"/>");
            if !labels.is_empty() {
                // One line a label, stacked upwards so the last sits at the anchor point, each
                // on a white ground so the edges under it do not cross its letters.
                let first_y = at.1 - LABEL_LINE * (labels.len() - 1) as f64;
                label_svg.push_str("<g class=\"edge-labels\">");
                for (i, label) in labels.iter().enumerate() {
                    let w = text_width(&short_label(label)) + 4.0;
                    let x = if anchor == "middle" { at.0 - w / 2.0 } else { at.0 - 2.0 };
                    let _ = write!(
                        label_svg,
                        "<rect class=\"edge-label-ground\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\"/>",
                        first_y + LABEL_LINE * i as f64 - 9.0,
                        LABEL_LINE
                    );
                }
                let _ = write!(
                    label_svg,
                    "<text class=\"edge-label\" text-anchor=\"{anchor}\"><title>{}</title>",
                    escape(&labels.join("\n"))
                );
                for (i, label) in labels.iter().enumerate() {
                    let _ = write!(
                        label_svg,
                        "<tspan x=\"{:.1}\" y=\"{:.1}\">{}</tspan>",
                        at.0,
                        first_y + LABEL_LINE * i as f64,
                        escape(&short_label(label))
                    );
                }
                label_svg.push_str("</text></g>");
            }
        }
    }
    for n in placed.values() {
        let _ = write!(svg, "<g transform=\"translate({:.1},{:.1})\">{}</g>", n.x, n.y, n.laid.svg);
    }
    // Edges first, then boxes over them, then the labels over both.
    svg.push_str(&label_svg);
    Laid { w: width + right, h: height, svg }
}

/// Transitions to the same state by the same kind of edge drawn once, with all their labels
/// (a rule and the Default going to one state would otherwise draw two labels on one line).
fn merged(transitions: Vec<(String, Option<String>, bool)>) -> Vec<(String, Vec<String>, bool)> {
    let mut out: Vec<(String, Vec<String>, bool)> = Vec::new();
    for (next, label, catch) in transitions {
        match out.iter_mut().find(|(n, _, c)| *n == next && *c == catch) {
            Some((_, labels, _)) => labels.extend(label),
            None => out.push((next, label.into_iter().collect(), catch)),
        }
    }
    out
}

/// The point at `t` of a cubic Bézier curve.
fn bezier(p0: (f64, f64), p1: (f64, f64), p2: (f64, f64), p3: (f64, f64), t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let at = |a: f64, b: f64, c: f64, d: f64| u * u * u * a + 3.0 * u * u * t * b + 3.0 * u * t * t * c + t * t * t * d;
    (at(p0.0, p1.0, p2.0, p3.0), at(p0.1, p1.1, p2.1, p3.1))
}

/// How far loops go right of the widest layer.
const LOOP_GAP: f64 = 14.0;
/// The line height of stacked edge labels.
const LABEL_LINE: f64 = 12.0;
/// The longest edge label drawn in full (the whole of it is in the tooltip).
const LABEL_CHARS: usize = 26;

/// An edge label cut to what fits between two boxes.
fn short_label(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        format!("{}…", label.chars().take(LABEL_CHARS - 1).collect::<String>())
    }
}

/// Roughly how wide a label is drawn (10.5 px system sans-serif).
fn text_width(label: &str) -> f64 {
    label.chars().count() as f64 * 6.0
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
        assert!(svg.contains(">$.a present<"), "a Choice edge is labelled with its condition: {svg}");
        assert!(svg.contains("node st-succeeded\" data-state=\"Pick\""));
        assert!(svg.contains("node st-waiting\" data-state=\"Item\""));
    }

    fn rule(json: &str) -> Option<String> {
        condition(serde_json::from_str::<Value>(json).unwrap().as_object().unwrap())
    }

    #[test]
    fn choice_rules_read_as_conditions() {
        assert_eq!(rule(r#"{"Variable":"$.total","NumericGreaterThan":100,"Next":"X"}"#).unwrap(), "$.total > 100");
        assert_eq!(rule(r#"{"Variable":"$.kind","StringEquals":"gift","Next":"X"}"#).unwrap(), "$.kind == \"gift\"");
        assert_eq!(rule(r#"{"Variable":"$.a","NumericLessThanEqualsPath":"$.b","Next":"X"}"#).unwrap(), "$.a <= $.b");
        assert_eq!(rule(r#"{"Variable":"$.a","IsPresent":false,"Next":"X"}"#).unwrap(), "$.a absent");
        assert_eq!(rule(r#"{"Variable":"$.a","IsNumeric":true,"Next":"X"}"#).unwrap(), "$.a is numeric");
        assert_eq!(rule(r#"{"Variable":"$.a","StringMatches":"*.pdf","Next":"X"}"#).unwrap(), "$.a matches \"*.pdf\"");
        assert_eq!(
            rule(r#"{"And":[{"Variable":"$.a","BooleanEquals":true},{"Not":{"Variable":"$.b","IsNull":true}}],"Next":"X"}"#)
                .unwrap(),
            "($.a == true) and (not ($.b is null))"
        );
        assert_eq!(rule(r#"{"Condition":"{% $states.input.n > 1 %}","Next":"X"}"#).unwrap(), "$states.input.n > 1");
        assert_eq!(rule(r#"{"Next":"X"}"#), None);
    }

    #[test]
    fn a_rule_and_the_default_to_one_state_share_one_edge_with_both_labels() {
        let def = r#"{"StartAt":"Pick","States":{
            "Pick":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"Done"},
                                               {"Variable":"$.n","NumericEquals":2,"Next":"Other"}],"Default":"Done"},
            "Other":{"Type":"Pass","End":true},"Done":{"Type":"Succeed"}}}"#;
        let svg = render(def, &HashMap::new());
        assert_eq!(svg.matches("class=\"edge\"").count(), 2, "{svg}");
        let label = svg.split("<text class=\"edge-label\"").find(|t| t.contains("default")).unwrap();
        assert!(label.contains(">$.n == 1</tspan>") && label.contains(">default</tspan>"), "{label}");
        let ys: Vec<&str> = label.match_indices(" y=\"").map(|(i, _)| &label[i + 4..i + 9]).collect();
        assert_ne!(ys[0], ys[1], "stacked, not on top of each other: {label}");
    }

    #[test]
    fn a_loop_back_and_its_label_fit_inside_the_graph() {
        let def = r#"{"StartAt":"Work","States":{
            "Work":{"Type":"Pass","Next":"Again"},
            "Again":{"Type":"Choice","Choices":[{"Variable":"$.more","BooleanEquals":true,"Next":"Work"}],"Default":"End"},
            "End":{"Type":"Succeed"}}}"#;
        let svg = render(def, &HashMap::new());
        let width: f64 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let label_x: f64 = svg
            .split("<tspan x=\"")
            .skip(1)
            .find(|t| t.contains("$.more"))
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let label_end = PAD + label_x + text_width("$.more == true");
        assert!(label_end <= width, "the loop's label ends at {label_end}, the graph at {width}: {svg}");
    }

    #[test]
    fn survives_a_broken_definition() {
        assert!(render("[1]", &HashMap::new()).contains("not a JSON object"));
        let svg = render(r#"{"StartAt":"Nowhere","States":{"X":{"Type":"Pass","Next":"Y"}}}"#, &HashMap::new());
        assert!(svg.contains("data-state=\"X\""));
    }
}
