//! Workflow variable names, and which variables each state reads (DescribeStateMachine's
//! `variableReferences`).

use super::*;

/// The longest variable name AWS accepts.
pub const MAX_VARIABLE_NAME_CHARS: usize = 80;

/// A variable name: an identifier (Unicode letters, digits and `_`, not starting with a digit)
/// of at most 80 characters, other than the reserved `states`. Dots are not allowed: `Assign`
/// sets whole variables, never a part of one.
pub fn check_variable_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return Err("a name must not be empty") };
    if name.chars().count() > MAX_VARIABLE_NAME_CHARS {
        return Err("a name has at most 80 characters");
    }
    if name == "states" {
        return Err("'states' is reserved");
    }
    if !(first.is_alphabetic() || first == '_') || !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return Err("a name is a letter or '_' followed by letters, digits or '_'");
    }
    Ok(())
}

/// Which variables each state reads, by state name, each list sorted (DescribeStateMachine's
/// `variableReferences`). States that read none are absent.
pub fn variable_references(def: &Definition) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for graph in &def.graphs {
        for state in &graph.states {
            let mut names = std::collections::BTreeSet::new();
            state_variables(state, &mut names);
            if !names.is_empty() {
                out.insert(state.name.clone(), names.into_iter().collect());
            }
        }
    }
    out
}

fn state_variables(state: &State, names: &mut std::collections::BTreeSet<String>) {
    let mut reads = Reads::default();
    match state.kind.io() {
        Some(Fields::JsonPath(io)) => {
            for p in [&io.input_path, &io.output_path] {
                if let DataPath::Path(p) = p {
                    reads.paths.push(p);
                }
            }
            reads.template(io.assign.as_ref());
        }
        Some(Fields::Jsonata(io)) => reads.templates.extend(io.output.iter().chain(&io.assign)),
        None => {}
    }
    match state.kind.recovery() {
        Some(Fields::JsonPath((_, result))) => {
            reads.template(result.result_selector.as_ref());
            for c in &result.catch {
                reads.template(c.handling.assign.as_ref());
            }
        }
        Some(Fields::Jsonata((_, result))) => {
            for c in &result.catch {
                reads.templates.extend(c.handling.assign.iter().chain(&c.handling.output));
            }
        }
        None => {}
    }
    match &state.kind {
        StateKind::Pass(p) => {
            if let Fields::JsonPath(p) = &p.fields {
                reads.template(p.parameters.as_ref());
            }
        }
        StateKind::Task(t) => match &t.fields {
            Fields::JsonPath(t) => {
                reads.template(t.parameters.as_ref());
                reads.template(t.credentials.as_ref());
                reads.dynamic(t.timeout_seconds.as_ref());
                reads.dynamic(t.heartbeat_seconds.as_ref());
            }
            Fields::Jsonata(t) => {
                reads.templates.extend(t.arguments.iter().chain(&t.credentials));
                reads.jsonata_dynamic(t.timeout_seconds.as_ref());
                reads.jsonata_dynamic(t.heartbeat_seconds.as_ref());
            }
        },
        StateKind::Choice(c) => match &c.fields {
            Fields::JsonPath(c) => {
                for branch in &c.rules {
                    reads.paths.extend(branch.condition.paths());
                    reads.template(branch.assign.as_ref());
                }
            }
            Fields::Jsonata(c) => {
                for branch in &c.rules {
                    if let JsonataCondition::Expression(e) = &branch.condition {
                        reads.expressions.push(e);
                    }
                    reads.templates.extend(branch.leaving.assign.iter().chain(&branch.leaving.output));
                }
            }
        },
        StateKind::Wait(w) => match &w.fields {
            Fields::JsonPath(w) => match &w.wait_for {
                WaitFor::SecondsPath(p) | WaitFor::TimestampPath(p) => reads.paths.push(p),
                WaitFor::Seconds(_) | WaitFor::Timestamp(_) => {}
            },
            Fields::Jsonata(w) => match &w.wait_for {
                JsonataWaitFor::Seconds(d) => reads.jsonata_dynamic(Some(d)),
                JsonataWaitFor::Timestamp(d) => reads.jsonata_dynamic(Some(d)),
            },
        },
        StateKind::Succeed(_) => {}
        StateKind::Fail(f) => match &f.fields {
            Fields::JsonPath(f) => {
                for field in [&f.error, &f.cause].into_iter().flatten() {
                    if let PathFailField::Dynamic(d) = field {
                        reads.paths.extend(d.paths());
                    }
                }
            }
            Fields::Jsonata(f) => {
                for field in [&f.error, &f.cause].into_iter().flatten() {
                    if let JsonataFailField::Expression(e) = field {
                        reads.expressions.push(e);
                    }
                }
            }
        },
        StateKind::Parallel(p) => match &p.fields {
            Fields::JsonPath(p) => reads.template(p.parameters.as_ref()),
            Fields::Jsonata(p) => reads.templates.extend(p.arguments.iter()),
        },
        StateKind::Map(m) => match &m.fields {
            Fields::JsonPath(m) => {
                reads.paths.extend(m.items_path.iter());
                reads.template(m.item_selector.as_ref());
                reads.dynamic(Some(&m.max_concurrency));
                reads.dynamic(m.tolerated_failure_count.as_ref());
                reads.dynamic(m.tolerated_failure_percentage.as_ref());
            }
            Fields::Jsonata(m) => {
                reads.templates.extend(m.items.iter().chain(&m.item_selector));
                reads.jsonata_dynamic(Some(&m.max_concurrency));
                reads.jsonata_dynamic(m.tolerated_failure_count.as_ref());
                reads.jsonata_dynamic(m.tolerated_failure_percentage.as_ref());
            }
        },
    }
    for p in reads.paths {
        if let PathRef::Variable { name, .. } = p {
            names.insert(name.clone());
        }
    }
    reads.expressions.extend(reads.templates.into_iter().flat_map(JsonataTemplate::expressions));
    for e in reads.expressions {
        names.extend(e.variables().map(str::to_owned));
    }
}

/// What a state's fields read: paths, JSONata templates and expressions.
#[derive(Default)]
struct Reads<'a> {
    paths: Vec<&'a PathRef>,
    templates: Vec<&'a JsonataTemplate>,
    expressions: Vec<&'a Expression>,
}

impl<'a> Reads<'a> {
    fn template(&mut self, t: Option<&'a Template>) {
        self.paths.extend(t.into_iter().flat_map(Template::paths));
    }

    fn dynamic<T>(&mut self, d: Option<&'a Dynamic<T>>) {
        if let Some(Dynamic::Path(p)) = d {
            self.paths.push(p);
        }
    }

    fn jsonata_dynamic<T>(&mut self, d: Option<&'a JsonataDynamic<T>>) {
        if let Some(JsonataDynamic::Expression(e)) = d {
            self.expressions.push(e);
        }
    }
}
