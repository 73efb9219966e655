//! State machines, their versions and aliases, and definition validation.

use serde_json::{json, Map, Value};
use store::{AliasRow, StateMachineRow, StateMachineType, StoreError, VersionRow};

use crate::api::{check_name, date, encode_token, page, ApiError, ApiResult, Request};
use crate::arn::{parse_machine, MachineRef};
use crate::AppState;

fn no_machine(arn: &str) -> ApiError {
    ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

/// The parts of a state machine's configuration CreateStateMachine compares for idempotency.
fn config_of(req: &Request<'_>) -> String {
    let mut cfg = Map::new();
    for key in ["loggingConfiguration", "tracingConfiguration", "encryptionConfiguration"] {
        if let Some(v) = req.value(key) {
            cfg.insert(key.into(), v.clone());
        }
    }
    Value::Object(cfg).to_string()
}

fn machine_type(req: &Request<'_>) -> Result<StateMachineType, ApiError> {
    match req.str("type")? {
        None | Some("STANDARD") => Ok(StateMachineType::Standard),
        Some("EXPRESS") => Ok(StateMachineType::Express),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: \
             Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    }
}

pub async fn load_machine(state: &AppState, arn: &str) -> Result<StateMachineRow, ApiError> {
    state.engine.store().get_state_machine(arn).await?.ok_or_else(|| no_machine(arn))
}

fn check_definition(state: &AppState, definition: &str) -> Result<(), ApiError> {
    state.engine.definition(definition).map(|_| ()).map_err(ApiError::from)
}

/// Express machines run in memory and answer at once: a Task that waits for a callback
/// cannot run there, and AWS refuses it when the machine is created or updated.
fn check_express(definition: &str) -> Result<(), ApiError> {
    fn find(states: &Value, at: &str) -> Option<String> {
        for (name, state) in states.as_object()? {
            let here = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
            let resource = state.get("Resource").and_then(Value::as_str).unwrap_or_default();
            if resource.ends_with(".waitForTaskToken") {
                return Some(format!("{here}/Resource"));
            }
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                for (i, b) in branches.iter().enumerate() {
                    if let Some(found) = b.get("States").and_then(|s| find(s, &format!("{here}/Branches/{i}/States"))) {
                        return Some(found);
                    }
                }
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(found) =
                    state.get(key).and_then(|p| p.get("States")).and_then(|s| find(s, &format!("{here}/{key}/States")))
                {
                    return Some(found);
                }
            }
        }
        None
    }
    let parsed: Value = serde_json::from_str(definition).unwrap_or(Value::Null);
    match parsed.get("States").and_then(|s| find(s, "/States")) {
        Some(at) => Err(ApiError::new(
            "InvalidDefinition",
            format!(
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not \
                 support '.waitForTaskToken' service integration at {at}'"
            ),
        )),
        None => Ok(()),
    }
}

/// AWS's model: a definition has at most 1,048,576 characters (1 MiB).
const MAX_DEFINITION_LENGTH: usize = 1_048_576;

pub async fn create(state: &AppState, req: Request<'_>) -> ApiResult {
    let name = req.required_str("name")?;
    req.str_at_most("definition", MAX_DEFINITION_LENGTH)?;
    let definition = req.required_str("definition")?;
    let role_arn = req.required_str("roleArn")?;
    check_name(name)?;
    let kind = machine_type(&req)?;
    check_definition(state, definition)?;
    if kind == StateMachineType::Express {
        check_express(definition)?;
    }
    let publish = req.bool("publish")?.unwrap_or(false);
    let version_description = req.str("versionDescription")?;
    if version_description.is_some() && !publish {
        return Err(ApiError::validation("Version description can only be set when publish is true"));
    }
    let arn = state.arns.state_machine(name);
    let now = engine::clock::now_ms();
    let row = StateMachineRow {
        arn: arn.clone(),
        name: name.to_owned(),
        definition: definition.to_owned(),
        role_arn: role_arn.to_owned(),
        kind,
        created: now,
        updated: now,
        revision_id: state.engine.new_name(),
        description: None,
        config: config_of(&req),
    };
    match state.engine.store().insert_state_machine(&row).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            let existing = load_machine(state, &arn).await?;
            let same =
                existing.definition == row.definition && existing.kind == row.kind && existing.config == row.config;
            if !same {
                return Err(ApiError::new(
                    "StateMachineAlreadyExists",
                    format!("State Machine Already Exists: '{arn}'"),
                ));
            }
            return Ok(json!({"stateMachineArn": arn, "creationDate": date(existing.created)}));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(tags) = req.value("tags") {
        crate::tags::store_tags(state, &arn, tags).await?;
    }
    let mut out = json!({"stateMachineArn": arn, "creationDate": date(now)});
    if publish {
        let version = publish_version(state, &row, version_description).await?;
        out["stateMachineVersionArn"] = json!(version.arn);
    }
    Ok(out)
}

async fn publish_version(
    state: &AppState,
    row: &StateMachineRow,
    description: Option<&str>,
) -> Result<VersionRow, ApiError> {
    let versions = state.engine.store().list_versions(&row.arn).await?;
    if let Some(v) = versions.iter().find(|v| v.revision_id == row.revision_id) {
        // Publishing the same revision again returns the version that has it.
        return Ok(v.clone());
    }
    let next = versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
    let v = VersionRow {
        arn: format!("{}:{next}", row.arn),
        state_machine_arn: row.arn.clone(),
        version: next,
        definition: row.definition.clone(),
        role_arn: row.role_arn.clone(),
        revision_id: row.revision_id.clone(),
        description: description.map(str::to_owned),
        created: engine::clock::now_ms(),
    };
    state.engine.store().insert_version(&v).await?;
    Ok(v)
}

fn describe_json(
    state: &AppState,
    arn: &str,
    row: &StateMachineRow,
    definition: &str,
    role: &str,
    revision: &str,
) -> Value {
    let cfg: Value = serde_json::from_str(&row.config).unwrap_or_else(|_| json!({}));
    let mut out = json!({
        "stateMachineArn": arn,
        "name": row.name,
        "status": "ACTIVE",
        "definition": definition,
        "roleArn": role,
        "type": row.kind,
        "creationDate": date(row.created),
        "loggingConfiguration": cfg.get("loggingConfiguration").cloned().unwrap_or_else(|| json!({"level": "OFF", "includeExecutionData": false})),
        "tracingConfiguration": cfg.get("tracingConfiguration").cloned().unwrap_or_else(|| json!({"enabled": false})),
        "revisionId": revision,
    });
    if let Some(enc) = cfg.get("encryptionConfiguration") {
        out["encryptionConfiguration"] = enc.clone();
    }
    if let Some(d) = &row.description {
        out["description"] = json!(d);
    }
    let _ = state;
    out
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineArn")?;
    match parse_machine(arn)? {
        MachineRef::Base { arn, .. } => {
            let row = load_machine(state, &arn).await?;
            Ok(describe_json(state, &arn, &row, &row.definition, &row.role_arn, &row.revision_id))
        }
        MachineRef::Version { base_arn, arn, .. } => {
            let row = load_machine(state, &base_arn).await?;
            let v = state.engine.store().get_version(&arn).await?.ok_or_else(|| no_machine(&arn))?;
            let mut out = describe_json(state, &arn, &row, &v.definition, &v.role_arn, &v.revision_id);
            out["creationDate"] = date(v.created);
            if let Some(d) = &v.description {
                out["description"] = json!(d);
            }
            Ok(out)
        }
        MachineRef::Alias { .. } => Err(ApiError::invalid_arn(arn)),
    }
}

pub async fn update(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineArn")?;
    let MachineRef::Base { arn, .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    let mut row = load_machine(state, &arn).await?;
    let definition = req.str_at_most("definition", MAX_DEFINITION_LENGTH)?;
    let role = req.str("roleArn")?;
    let has_config = ["loggingConfiguration", "tracingConfiguration", "encryptionConfiguration"]
        .iter()
        .any(|k| req.value(k).is_some());
    let publish = req.bool("publish")?.unwrap_or(false);
    if definition.is_none() && role.is_none() && !has_config && !publish {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    if let Some(d) = definition {
        check_definition(state, d)?;
        if row.kind == StateMachineType::Express {
            check_express(d)?;
        }
        if d != row.definition {
            row.definition = d.to_owned();
            row.revision_id = state.engine.new_name();
        }
    }
    if let Some(r) = role {
        if r != row.role_arn {
            row.role_arn = r.to_owned();
            row.revision_id = state.engine.new_name();
        }
    }
    if has_config {
        let mut cfg: Map<String, Value> = serde_json::from_str(&row.config).unwrap_or_default();
        for key in ["loggingConfiguration", "tracingConfiguration", "encryptionConfiguration"] {
            if let Some(v) = req.value(key) {
                cfg.insert(key.into(), v.clone());
            }
        }
        row.config = Value::Object(cfg).to_string();
    }
    row.updated = engine::clock::now_ms();
    state.engine.store().update_state_machine(&row).await?;
    let mut out = json!({"updateDate": date(row.updated), "revisionId": row.revision_id});
    if publish {
        let v = publish_version(state, &row, req.str("versionDescription")?).await?;
        out["stateMachineVersionArn"] = json!(v.arn);
    }
    Ok(out)
}

pub async fn delete(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineArn")?;
    match parse_machine(arn)? {
        MachineRef::Base { arn, .. } => {
            // Running executions end: AWS stops them at their next transition.
            let store = state.engine.store();
            let mut after: Option<String> = None;
            loop {
                let running = store.list_executions(&arn, Some("RUNNING"), after.as_deref(), 500).await?;
                for e in &running {
                    state.engine.stop_execution(&e.arn, None, None).await?;
                }
                match running.last() {
                    Some(last) if running.len() == 500 => after = Some(last.arn.clone()),
                    _ => break,
                }
            }
            store.delete_state_machine(&arn).await?;
            Ok(json!({}))
        }
        MachineRef::Version { .. } => delete_version(state, req).await,
        MachineRef::Alias { .. } => Err(ApiError::invalid_arn(arn)),
    }
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let rows = state.engine.store().list_state_machines(after.as_deref(), limit + 1).await?;
    let more = rows.len() > limit;
    let page: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|r| json!({"stateMachineArn": r.arn, "name": r.name, "type": r.kind, "creationDate": date(r.created)}))
        .collect();
    let mut out = json!({ "stateMachines": page });
    if more {
        if let Some(last) = rows.get(limit - 1) {
            out["nextToken"] = json!(encode_token(&last.arn));
        }
    }
    Ok(out)
}

pub async fn validate(state: &AppState, req: Request<'_>) -> ApiResult {
    req.str_at_most("definition", MAX_DEFINITION_LENGTH)?;
    let definition = req.required_str("definition")?;
    let _ = machine_type(&req)?;
    let _ = state;
    match asl::Definition::parse(definition) {
        Ok(_) => {
            // Not an error (AWS accepts it), but a callback or activity wait without a timeout
            // hangs for a year when the answer never comes.
            let parsed: Value = serde_json::from_str(definition).unwrap_or(Value::Null);
            let warnings: Vec<Value> = asl::definition::waits_without_timeout(&parsed)
                .into_iter()
                .map(|(location, state)| {
                    json!({
                        "severity": "WARNING",
                        "code": "NO_TASK_TIMEOUT",
                        "message": format!(
                            "State '{state}' waits for a task token or an activity worker without TimeoutSeconds: \
                             if no answer comes it waits up to a year"
                        ),
                        "location": location,
                    })
                })
                .chain(engine::aws::tasks::unfollowed_sync_tasks(&parsed).into_iter().map(|(location, state, resource)| {
                    json!({
                        "severity": "WARNING",
                        "code": "UNSUPPORTED_SYNC",
                        "message": format!(
                            "State '{state}' waits for '{resource}' to finish (.sync), which Baton cannot follow: \
                             the Task fails with Baton.UnsupportedResource; call it without .sync and poll its status"
                        ),
                        "location": location,
                    })
                }))
                .collect();
            Ok(json!({"result": "OK", "diagnostics": warnings, "truncated": false}))
        }
        Err(e) => {
            let limit = req.max_results()?.min(100);
            let diags: Vec<Value> = e
                .problems
                .iter()
                .take(limit)
                .map(|p| json!({"severity": "ERROR", "code": p.code.as_str(), "message": p.message, "location": p.location}))
                .collect();
            Ok(json!({"result": "FAIL", "diagnostics": diags, "truncated": e.problems.len() > limit}))
        }
    }
}

// ----- versions -----------------------------------------------------------------------------

pub async fn publish(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineArn")?;
    let MachineRef::Base { arn, .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    let row = load_machine(state, &arn).await?;
    if let Some(rev) = req.str("revisionId")? {
        if rev != row.revision_id {
            return Err(ApiError::new("ConflictException", format!(
                "Failed to publish the State Machine version for revision {rev}. The current State Machine revision is {}.",
                row.revision_id
            ))
            .status(409));
        }
    }
    let v = publish_version(state, &row, req.str("description")?).await?;
    Ok(json!({"stateMachineVersionArn": v.arn, "creationDate": date(v.created)}))
}

pub async fn list_versions(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineArn")?;
    let MachineRef::Base { arn, .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    let limit = req.max_results()?;
    let after = req.next_token()?;
    load_machine(state, &arn).await?;
    let versions = state.engine.store().list_versions(&arn).await?;
    let (versions, next) = page(versions, |v| v.arn.clone(), after.as_deref(), limit);
    let items: Vec<Value> =
        versions.iter().map(|v| json!({"stateMachineVersionArn": v.arn, "creationDate": date(v.created)})).collect();
    let mut out = json!({ "stateMachineVersions": items });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn delete_version(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.str("stateMachineVersionArn")?.or(req.str("stateMachineArn")?).ok_or_else(|| {
        ApiError::validation("1 validation error detected: Value null at 'stateMachineVersionArn' failed to satisfy constraint: Member must not be null")
    })?;
    let MachineRef::Version { base_arn, .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    let aliases = state.engine.store().list_aliases(&base_arn).await?;
    if aliases.iter().any(|a| a.routing.contains(&format!("\"{arn}\""))) {
        return Err(ApiError::new(
            "ConflictException",
            format!("Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                aliases.iter().filter(|a| a.routing.contains(arn)).map(|a| a.arn.as_str()).collect::<Vec<_>>().join(", ")),
        )
        .status(409));
    }
    state.engine.store().delete_version(arn).await?;
    Ok(json!({}))
}

// ----- aliases ------------------------------------------------------------------------------

fn alias_not_found(arn: &str) -> ApiError {
    ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
}

/// Check a routing configuration: 1-2 versions of this machine, weights adding up to 100.
async fn check_routing(state: &AppState, base_arn: &str, routing: &Value) -> Result<(), ApiError> {
    let Some(items) = routing.as_array().filter(|a| (1..=2).contains(&a.len())) else {
        return Err(ApiError::validation("Routing configuration must contain one or two versions"));
    };
    let mut total = 0;
    for item in items {
        let version_arn = item.get("stateMachineVersionArn").and_then(Value::as_str).unwrap_or_default();
        let weight = item.get("weight").and_then(Value::as_i64).unwrap_or(-1);
        if !(0..=100).contains(&weight) {
            return Err(ApiError::validation("Routing weights must be between 0 and 100"));
        }
        total += weight;
        match parse_machine(version_arn)? {
            MachineRef::Version { base_arn: b, .. } if b == base_arn => {}
            _ => {
                return Err(ApiError::validation(format!(
                    "Invalid version ARN in the routing configuration: {version_arn}"
                )))
            }
        }
        if state.engine.store().get_version(version_arn).await?.is_none() {
            return Err(ApiError::new("ResourceNotFound", format!("Resource not found: '{version_arn}'")));
        }
    }
    if total != 100 {
        return Err(ApiError::validation("Sum of routing configuration weights must be equal to 100"));
    }
    Ok(())
}

pub async fn create_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let name = req.required_str("name")?;
    check_name(name)?;
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::new("InvalidName", format!("Invalid Name: '{name}'")));
    }
    let routing = req.value("routingConfiguration").cloned().unwrap_or(Value::Null);
    let first =
        routing.get(0).and_then(|r| r.get("stateMachineVersionArn")).and_then(Value::as_str).unwrap_or_default();
    let base = parse_machine(first)?.base_arn().to_owned();
    load_machine(state, &base).await?;
    check_routing(state, &base, &routing).await?;
    let arn = format!("{base}:{name}");
    let now = engine::clock::now_ms();
    let row = AliasRow {
        arn: arn.clone(),
        state_machine_arn: base,
        name: name.to_owned(),
        description: req.str("description")?.map(str::to_owned),
        routing: routing.to_string(),
        created: now,
        updated: now,
    };
    match state.engine.store().insert_alias(&row).await {
        Ok(()) => Ok(json!({"stateMachineAliasArn": arn, "creationDate": date(now)})),
        Err(StoreError::AlreadyExists(_)) => {
            let existing = state.engine.store().get_alias(&arn).await?.ok_or_else(|| alias_not_found(&arn))?;
            if existing.routing == row.routing && existing.description == row.description {
                Ok(json!({"stateMachineAliasArn": arn, "creationDate": date(existing.created)}))
            } else {
                Err(ApiError::new(
                    "ConflictException",
                    format!("Alias already exists with a different configuration: '{arn}'"),
                )
                .status(409))
            }
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn describe_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineAliasArn")?;
    let MachineRef::Alias { .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    let a = state.engine.store().get_alias(arn).await?.ok_or_else(|| alias_not_found(arn))?;
    let mut out = json!({
        "stateMachineAliasArn": a.arn,
        "name": a.name,
        "routingConfiguration": serde_json::from_str::<Value>(&a.routing).unwrap_or(Value::Null),
        "creationDate": date(a.created),
        "updateDate": date(a.updated),
    });
    if let Some(d) = a.description {
        out["description"] = json!(d);
    }
    Ok(out)
}

pub async fn update_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineAliasArn")?;
    let MachineRef::Alias { base_arn, .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    let mut a = state.engine.store().get_alias(arn).await?.ok_or_else(|| alias_not_found(arn))?;
    if let Some(routing) = req.value("routingConfiguration") {
        check_routing(state, &base_arn, routing).await?;
        a.routing = routing.to_string();
    }
    if let Some(d) = req.str("description")? {
        a.description = Some(d.to_owned());
    }
    a.updated = engine::clock::now_ms();
    state.engine.store().update_alias(&a).await?;
    Ok(json!({"updateDate": date(a.updated)}))
}

pub async fn delete_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineAliasArn")?;
    let MachineRef::Alias { .. } = parse_machine(arn)? else { return Err(ApiError::invalid_arn(arn)) };
    state.engine.store().delete_alias(arn).await?;
    Ok(json!({}))
}

pub async fn list_aliases(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("stateMachineArn")?;
    let base = parse_machine(arn)?.base_arn().to_owned();
    let limit = req.max_results()?;
    let after = req.next_token()?;
    load_machine(state, &base).await?;
    let aliases = state.engine.store().list_aliases(&base).await?;
    let (aliases, next) = page(aliases, |a| a.arn.clone(), after.as_deref(), limit);
    let items: Vec<Value> =
        aliases.iter().map(|a| json!({"stateMachineAliasArn": a.arn, "creationDate": date(a.created)})).collect();
    let mut out = json!({ "stateMachineAliases": items });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

/// The definition and version an execution of `arn` runs, with the alias that chose it.
pub struct Resolved {
    pub machine: StateMachineRow,
    pub definition: String,
    pub role_arn: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
}

pub async fn resolve_for_start(state: &AppState, arn: &str) -> Result<Resolved, ApiError> {
    match parse_machine(arn)? {
        MachineRef::Base { arn, .. } => {
            let m = load_machine(state, &arn).await?;
            Ok(Resolved {
                definition: m.definition.clone(),
                role_arn: m.role_arn.clone(),
                machine: m,
                version_arn: None,
                alias_arn: None,
            })
        }
        MachineRef::Version { base_arn, arn, .. } => {
            let m = load_machine(state, &base_arn).await?;
            let v = state.engine.store().get_version(&arn).await?.ok_or_else(|| no_machine(&arn))?;
            Ok(Resolved {
                definition: v.definition,
                role_arn: v.role_arn,
                machine: m,
                version_arn: Some(arn),
                alias_arn: None,
            })
        }
        MachineRef::Alias { base_arn, arn, .. } => {
            let m = load_machine(state, &base_arn).await?;
            // StartExecution's errors do not include ResourceNotFound: a missing alias is a
            // state machine that does not exist.
            let a = state.engine.store().get_alias(&arn).await?.ok_or_else(|| no_machine(&arn))?;
            let routing: Value = serde_json::from_str(&a.routing).unwrap_or(Value::Null);
            let items = routing.as_array().cloned().unwrap_or_default();
            // Weighted choice between the alias's versions.
            let roll = (state
                .engine
                .new_name()
                .bytes()
                .fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(b as u32))
                % 100) as i64;
            let mut acc = 0;
            let mut chosen = None;
            for item in &items {
                acc += item.get("weight").and_then(Value::as_i64).unwrap_or(0);
                if roll < acc {
                    chosen = item.get("stateMachineVersionArn").and_then(Value::as_str).map(str::to_owned);
                    break;
                }
            }
            let version_arn = chosen
                .or_else(|| {
                    items
                        .first()
                        .and_then(|i| i.get("stateMachineVersionArn"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .ok_or_else(|| alias_not_found(&arn))?;
            let v = state.engine.store().get_version(&version_arn).await?.ok_or_else(|| no_machine(&version_arn))?;
            Ok(Resolved {
                definition: v.definition,
                role_arn: v.role_arn,
                machine: m,
                version_arn: Some(version_arn),
                alias_arn: Some(arn),
            })
        }
    }
}
