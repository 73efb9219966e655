//! Static analysis, done once when an expression is parsed: its free variables, the
//! `$states` members (and their top-level keys) it reads, the host functions it names, and
//! whether it reads `$` at its top level.

use super::*;

/// The host functions an expression names (by call or as a value), as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HostRefs(pub(super) u16);

pub(super) const HOST_FUNCTIONS: [&str; 10] =
    ["partition", "range", "hash", "random", "uuid", "parse", "now", "millis", "eval", "shuffle"];

impl HostRefs {
    pub(super) fn note(&mut self, name: &str) {
        if let Some(i) = HOST_FUNCTIONS.iter().position(|f| *f == name) {
            self.0 |= 1 << i;
        }
    }

    pub(super) fn has(self, name: &str) -> bool {
        HOST_FUNCTIONS.iter().position(|f| *f == name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub(super) fn needs_random(self) -> bool {
        self.has("random") || self.has("uuid") || self.has("shuffle")
    }
}

/// Which top-level members of a document an expression reads: a state's input is often large
/// and an expression often reads one field of it (`$states.input.order.id`), so only those
/// members are converted for JSONata.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct KeyUse {
    /// Read other than as `$states.member.key` (whole, by index, through a function...).
    pub(super) whole: bool,
    /// The keys read as `$states.member.key`, sorted.
    pub(super) keys: Vec<String>,
}

impl KeyUse {
    pub(super) fn note(&mut self, key: Option<&str>) {
        match key {
            Some(k) => {
                if let Err(i) = self.keys.binary_search_by(|x| x.as_str().cmp(k)) {
                    self.keys.insert(i, k.to_owned());
                }
            }
            None => self.whole = true,
        }
    }
}

/// What an expression refers to outside itself, found once at parse time.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Refs {
    /// Top-level keys read of `$states.input` and `$states.result`.
    pub(super) input_keys: KeyUse,
    pub(super) result_keys: KeyUse,
    /// Variables read and not bound inside the expression (`states` included), sorted.
    pub(super) free: Vec<String>,
    /// Members of `$states` to bind (all of them when `$states` is used as a whole).
    pub(super) states: StatesRefs,
    /// Members named explicitly (`$states.result`), which fields restrict.
    pub(super) named: StatesRefs,
    pub(super) host: HostRefs,
    /// `$` or `$$` where no context item exists: ASL expressions have no input document.
    pub(super) root_context: bool,
}

// ----- static analysis ---------------------------------------------------------------------

/// Walks the tree once for free variables, `$states` members, host functions and root `$`.
#[derive(Default)]
pub(super) struct Analysis {
    read: BTreeSet<String>,
    bound: BTreeSet<String>,
    states: StatesRefs,
    named: StatesRefs,
    input_keys: KeyUse,
    result_keys: KeyUse,
    host: HostRefs,
    root_context: bool,
}

pub(super) fn analyse(ast: &AstNode) -> Refs {
    let mut a = Analysis::default();
    a.node(ast, false);
    let free = a.read.iter().filter(|n| !a.bound.contains(*n)).cloned().collect();
    Refs {
        input_keys: a.input_keys,
        result_keys: a.result_keys,
        free,
        states: a.states,
        named: a.named,
        host: a.host,
        root_context: a.root_context,
    }
}

impl Analysis {
    /// `in_item`: a context item exists here (inside a path step, predicate, lambda, ...).
    fn node(&mut self, node: &AstNode, in_item: bool) {
        match node {
            AstNode::Variable(name) => self.variable(name, in_item),
            AstNode::ParentVariable(_) => {
                if !in_item {
                    self.root_context = true;
                }
            }
            AstNode::Path { steps } => self.path(steps, in_item),
            AstNode::Binary { op, lhs, rhs } => {
                if matches!(op, jsonata_core::ast::BinaryOp::ColonEqual) {
                    if let AstNode::Variable(name) = lhs.as_ref() {
                        self.bound.insert(name.clone());
                    }
                }
                self.node(lhs, in_item);
                self.node(rhs, in_item);
            }
            AstNode::Unary { operand, .. } => self.node(operand, in_item),
            AstNode::Function { name, args, .. } => {
                self.host.note(name);
                args.iter().for_each(|a| self.node(a, in_item));
            }
            AstNode::Call { procedure, args } => {
                self.node(procedure, in_item);
                args.iter().for_each(|a| self.node(a, in_item));
            }
            AstNode::Lambda { params, body, .. } => {
                self.bound.extend(params.iter().cloned());
                self.node(body, true);
            }
            AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
                items.iter().for_each(|i| self.node(i, in_item));
            }
            AstNode::Object(pairs) => {
                for (k, v) in pairs {
                    self.node(k, in_item);
                    self.node(v, in_item);
                }
            }
            AstNode::ObjectTransform { input, pattern } => {
                self.node(input, in_item);
                for (k, v) in pattern {
                    self.node(k, true);
                    self.node(v, true);
                }
            }
            AstNode::Conditional { condition, then_branch, else_branch } => {
                self.node(condition, in_item);
                self.node(then_branch, in_item);
                if let Some(e) = else_branch {
                    self.node(e, in_item);
                }
            }
            AstNode::FunctionApplication(inner) => self.node(inner, true),
            AstNode::Sort { input, terms } => {
                self.node(input, in_item);
                terms.iter().for_each(|(t, _)| self.node(t, true));
            }
            AstNode::Transform { location, update, delete } => {
                self.node(location, true);
                self.node(update, true);
                if let Some(d) = delete {
                    self.node(d, true);
                }
            }
            AstNode::String(_)
            | AstNode::Name(_)
            | AstNode::Number(_)
            | AstNode::Boolean(_)
            | AstNode::Null
            | AstNode::Undefined
            | AstNode::Placeholder
            | AstNode::Regex { .. }
            | AstNode::Wildcard
            | AstNode::Descendant
            | AstNode::Parent(_) => {}
        }
    }

    fn variable(&mut self, name: &str, in_item: bool) {
        if name.is_empty() {
            if !in_item {
                self.root_context = true;
            }
            return;
        }
        self.host.note(name);
        if name == "states" {
            self.states = StatesRefs::all();
            self.input_keys.whole = true;
            self.result_keys.whole = true;
        }
        self.read.insert(name.to_owned());
    }

    fn path(&mut self, steps: &[PathStep], in_item: bool) {
        for (i, step) in steps.iter().enumerate() {
            let step_in_item = in_item || i > 0;
            if i == 0 {
                if let AstNode::Variable(name) = &step.node {
                    if name == "states" && step.stages.is_empty() {
                        self.read.insert("states".to_owned());
                        match steps.get(1).map(|s| &s.node) {
                            Some(AstNode::Name(member)) => {
                                // `$states.member.key` with nothing between reads one key.
                                let key = match (steps.get(1), steps.get(2)) {
                                    (Some(m), Some(PathStep { node: AstNode::Name(k), .. }))
                                        if m.stages.is_empty() && m.focus.is_none() && m.index_var.is_none() =>
                                    {
                                        Some(k.as_str())
                                    }
                                    _ => None,
                                };
                                match member.as_str() {
                                    "input" => self.input_keys.note(key),
                                    "result" => self.result_keys.note(key),
                                    _ => {}
                                }
                                for refs in [&mut self.states, &mut self.named] {
                                    match member.as_str() {
                                        "input" => refs.input = true,
                                        "result" => refs.result = true,
                                        "errorOutput" => refs.error_output = true,
                                        "context" => refs.context = true,
                                        _ => {}
                                    }
                                }
                            }
                            _ => {
                                self.states = StatesRefs::all();
                                self.input_keys.whole = true;
                                self.result_keys.whole = true;
                            }
                        }
                        continue;
                    }
                }
            }
            self.node(&step.node, step_in_item);
            for stage in &step.stages {
                if let Stage::Filter(f) = stage {
                    self.node(f, true);
                }
            }
            for bound in [&step.focus, &step.index_var].into_iter().flatten() {
                self.bound.insert(bound.clone());
            }
        }
    }
}
