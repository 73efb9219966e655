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
    let mut path = |p: &PathRef| {
        if let PathRef::Variable { name, .. } = p {
            names.insert(name.clone());
        }
    };
    let mut paths: Vec<&PathRef> = Vec::new();
    let mut templates: Vec<&JsonataTemplate> = Vec::new();
    let mut expressions: Vec<&Expression> = Vec::new();
    for p in [&state.input_path, &state.output_path] {
        if let DataPath::Path(p) = p {
            paths.push(p);
        }
    }
    fn assign<'a>(a: &'a Option<Assign>, paths: &mut Vec<&'a PathRef>, templates: &mut Vec<&'a JsonataTemplate>) {
        match a {
            Some(Assign::Path(t)) => paths.extend(t.paths()),
            Some(Assign::Jsonata(t)) => templates.push(t),
            None => {}
        }
    }
    fn payload<'a>(p: &'a Option<Payload>, paths: &mut Vec<&'a PathRef>, templates: &mut Vec<&'a JsonataTemplate>) {
        match p {
            Some(Payload::Path(t)) => paths.extend(t.paths()),
            Some(Payload::Jsonata(t)) => templates.push(t),
            None => {}
        }
    }
    fn dynamic<'a, T>(d: Option<&'a Dynamic<T>>, paths: &mut Vec<&'a PathRef>, expressions: &mut Vec<&'a Expression>) {
        match d {
            Some(Dynamic::Path(p)) => paths.push(p),
            Some(Dynamic::Jsonata(e)) => expressions.push(e),
            _ => {}
        }
    }
    assign(&state.assign, &mut paths, &mut templates);
    templates.extend(state.output.as_ref());
    let mut catchers: &[Catcher] = &[];
    match &state.kind {
        StateKind::Pass(p) => paths.extend(p.parameters.iter().flat_map(Template::paths)),
        StateKind::Task(t) => {
            paths.extend(t.parameters.iter().flat_map(Template::paths));
            paths.extend(t.result_selector.iter().flat_map(Template::paths));
            templates.extend(t.arguments.as_ref());
            payload(&t.credentials, &mut paths, &mut templates);
            dynamic(t.timeout_seconds.as_ref(), &mut paths, &mut expressions);
            dynamic(t.heartbeat_seconds.as_ref(), &mut paths, &mut expressions);
            catchers = &t.catch;
        }
        StateKind::Choice(c) => {
            for branch in &c.rules {
                match &branch.test {
                    ChoiceTest::Rule(cond) => paths.extend(cond.paths()),
                    ChoiceTest::Jsonata(e) => expressions.push(e),
                    ChoiceTest::Constant(_) => {}
                }
                assign(&branch.assign, &mut paths, &mut templates);
                templates.extend(branch.output.as_ref());
            }
        }
        StateKind::Wait(w) => match &w.wait_for {
            WaitFor::SecondsPath(p) | WaitFor::TimestampPath(p) => paths.push(p),
            WaitFor::SecondsJsonata(e) | WaitFor::TimestampJsonata(e) => expressions.push(e),
            WaitFor::Seconds(_) | WaitFor::Timestamp(_) => {}
        },
        StateKind::Succeed => {}
        StateKind::Fail(f) => {
            for field in [&f.error, &f.cause].into_iter().flatten() {
                match field {
                    FailField::Dynamic(d) => paths.extend(d.paths()),
                    FailField::Jsonata(e) => expressions.push(e),
                    FailField::Literal(_) => {}
                }
            }
        }
        StateKind::Parallel(p) => {
            paths.extend(p.parameters.iter().flat_map(Template::paths));
            paths.extend(p.result_selector.iter().flat_map(Template::paths));
            templates.extend(p.arguments.as_ref());
            catchers = &p.catch;
        }
        StateKind::Map(m) => {
            paths.extend(m.items_path.iter());
            templates.extend(m.items.as_ref());
            payload(&m.item_selector, &mut paths, &mut templates);
            dynamic(Some(&m.max_concurrency), &mut paths, &mut expressions);
            dynamic(m.tolerated_failure_count.as_ref(), &mut paths, &mut expressions);
            dynamic(m.tolerated_failure_percentage.as_ref(), &mut paths, &mut expressions);
            paths.extend(m.result_selector.iter().flat_map(Template::paths));
            catchers = &m.catch;
        }
    }
    for c in catchers {
        assign(&c.assign, &mut paths, &mut templates);
        templates.extend(c.output.as_ref());
    }
    paths.into_iter().for_each(&mut path);
    expressions.extend(templates.into_iter().flat_map(JsonataTemplate::expressions));
    for e in expressions {
        names.extend(e.variables().map(str::to_owned));
    }
}
