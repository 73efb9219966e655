//! State machines, their versions and aliases, and definition validation: each action parses
//! its request, calls one operation of the engine's catalog (`engine::catalog`) and shapes
//! the answer.

use engine::catalog::{
    check_definition, check_name, Diagnostic, NewAlias, NewStateMachine, StateMachineRow, StateMachineUpdate,
    CONFIGURATION_KEYS,
};
use engine::{MachineRef, StateMachineType};
use serde_json::{json, Map, Value};

use crate::api::{date, next_token, ApiError, ApiResult, Request};
use crate::AppState;

/// The configuration members a request gives (`loggingConfiguration`, ...).
fn configuration_of(req: &Request<'_>) -> Map<String, Value> {
    CONFIGURATION_KEYS.iter().filter_map(|key| req.value(key).map(|v| ((*key).to_owned(), v.clone()))).collect()
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

/// AWS's model: a definition has at most 1,048,576 characters (1 MiB).
const MAX_DEFINITION_LENGTH: usize = 1_048_576;

pub async fn create(state: &AppState, req: Request<'_>) -> ApiResult {
    let name = req.required_str("name")?;
    req.str_at_most("definition", MAX_DEFINITION_LENGTH)?;
    let definition = req.required_str("definition")?;
    let role_arn = req.required_str("roleArn")?;
    check_name(name)?;
    let kind = machine_type(&req)?;
    let publish = req.bool("publish")?.unwrap_or(false);
    let version_description = req.str("versionDescription")?;
    if version_description.is_some() && !publish {
        return Err(ApiError::validation("Version description can only be set when publish is true"));
    }
    let created = state
        .engine
        .create_state_machine(NewStateMachine {
            name: name.to_owned(),
            definition: definition.to_owned(),
            role_arn: role_arn.to_owned(),
            kind,
            configuration: configuration_of(&req),
            tags: req.tags()?,
            publish,
            version_description: version_description.map(str::to_owned),
        })
        .await?;
    let mut out = json!({"stateMachineArn": created.arn, "creationDate": date(created.created)});
    if let Some(v) = created.version_arn {
        out["stateMachineVersionArn"] = json!(v);
    }
    Ok(out)
}

fn describe_json(arn: &str, row: &StateMachineRow, definition: &str, role: &str, revision: &str) -> Value {
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
    out
}

pub async fn describe(state: &AppState, req: Request<'_>) -> ApiResult {
    let machine = req.machine_arn("stateMachineArn")?;
    let found = state.engine.describe_state_machine(&machine).await?;
    let row = &found.machine;
    match &found.version {
        None => Ok(describe_json(&found.arn, row, &row.definition, &row.role_arn, &row.revision_id)),
        Some(v) => {
            let mut out = describe_json(&found.arn, row, &v.definition, &v.role_arn, &v.revision_id);
            out["creationDate"] = date(v.created);
            if let Some(d) = &v.description {
                out["description"] = json!(d);
            }
            Ok(out)
        }
    }
}

pub async fn update(state: &AppState, req: Request<'_>) -> ApiResult {
    let machine = req.machine_arn("stateMachineArn")?;
    if !matches!(machine, MachineRef::Base { .. }) {
        return Err(ApiError::invalid_arn(machine.arn()));
    }
    let definition = req.str_at_most("definition", MAX_DEFINITION_LENGTH)?;
    let role = req.str("roleArn")?;
    let configuration = configuration_of(&req);
    let publish = req.bool("publish")?.unwrap_or(false);
    if definition.is_none() && role.is_none() && configuration.is_empty() && !publish {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    let update = StateMachineUpdate {
        definition: definition.map(str::to_owned),
        role_arn: role.map(str::to_owned),
        configuration,
        publish,
        version_description: req.str("versionDescription")?.map(str::to_owned),
    };
    let updated = state.engine.update_state_machine(&machine, update).await?;
    let mut out = json!({"updateDate": date(updated.updated), "revisionId": updated.revision_id});
    if let Some(v) = updated.version_arn {
        out["stateMachineVersionArn"] = json!(v);
    }
    Ok(out)
}

pub async fn delete(state: &AppState, req: Request<'_>) -> ApiResult {
    let machine = req.machine_arn("stateMachineArn")?;
    state.engine.delete_state_machine(&machine).await?;
    Ok(json!({}))
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let page = state.engine.list_state_machines(after.as_deref(), limit).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| json!({"stateMachineArn": r.arn, "name": r.name, "type": r.kind, "creationDate": date(r.created)}))
        .collect();
    let mut out = json!({ "stateMachines": items });
    if let Some(t) = next_token(&page) {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn validate(state: &AppState, req: Request<'_>) -> ApiResult {
    req.str_at_most("definition", MAX_DEFINITION_LENGTH)?;
    let definition = req.required_str("definition")?;
    let _ = machine_type(&req)?;
    let _ = state;
    let check = check_definition(definition);
    let shape =
        |d: &Diagnostic| json!({"severity": d.severity, "code": d.code, "message": d.message, "location": d.location});
    if check.errors.is_empty() {
        let warnings: Vec<Value> = check.warnings.iter().map(shape).collect();
        return Ok(json!({"result": "OK", "diagnostics": warnings, "truncated": false}));
    }
    let limit = req.max_results()?.min(100);
    let errors: Vec<Value> = check.errors.iter().take(limit).map(shape).collect();
    Ok(json!({"result": "FAIL", "diagnostics": errors, "truncated": check.errors.len() > limit}))
}

// ----- versions -----------------------------------------------------------------------------

pub async fn publish(state: &AppState, req: Request<'_>) -> ApiResult {
    let machine = req.machine_arn("stateMachineArn")?;
    let revision = req.str("revisionId")?;
    let description = req.str("description")?.map(str::to_owned);
    let v = state.engine.publish_state_machine_version(&machine, revision, description).await?;
    Ok(json!({"stateMachineVersionArn": v.arn, "creationDate": date(v.created)}))
}

pub async fn list_versions(state: &AppState, req: Request<'_>) -> ApiResult {
    let machine = req.machine_arn("stateMachineArn")?;
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let page = state.engine.list_state_machine_versions(&machine, after.as_deref(), limit).await?;
    let items: Vec<Value> =
        page.items.iter().map(|v| json!({"stateMachineVersionArn": v.arn, "creationDate": date(v.created)})).collect();
    let mut out = json!({ "stateMachineVersions": items });
    if let Some(t) = next_token(&page) {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn delete_version(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.str("stateMachineVersionArn")?.or(req.str("stateMachineArn")?).ok_or_else(|| {
        ApiError::validation("1 validation error detected: Value null at 'stateMachineVersionArn' failed to satisfy constraint: Member must not be null")
    })?;
    state.engine.delete_state_machine_version(&MachineRef::parse(arn)?).await?;
    Ok(json!({}))
}

// ----- aliases ------------------------------------------------------------------------------

pub async fn create_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let name = req.required_str("name")?;
    let new = NewAlias {
        name: name.to_owned(),
        routing: req.value("routingConfiguration").cloned().unwrap_or(Value::Null),
        description: req.str("description")?.map(str::to_owned),
    };
    let alias = state.engine.create_state_machine_alias(new).await?;
    Ok(json!({"stateMachineAliasArn": alias.arn, "creationDate": date(alias.created)}))
}

pub async fn describe_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let alias = req.machine_arn("stateMachineAliasArn")?;
    let a = state.engine.describe_state_machine_alias(&alias).await?;
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
    let alias = req.machine_arn("stateMachineAliasArn")?;
    let routing = req.value("routingConfiguration");
    let description = req.str("description")?.map(str::to_owned);
    let updated = state.engine.update_state_machine_alias(&alias, routing, description).await?;
    Ok(json!({ "updateDate": date(updated) }))
}

pub async fn delete_alias(state: &AppState, req: Request<'_>) -> ApiResult {
    let alias = req.machine_arn("stateMachineAliasArn")?;
    state.engine.delete_state_machine_alias(&alias).await?;
    Ok(json!({}))
}

pub async fn list_aliases(state: &AppState, req: Request<'_>) -> ApiResult {
    let machine = req.machine_arn("stateMachineArn")?;
    let limit = req.max_results()?;
    let after = req.next_token()?;
    let page = state.engine.list_state_machine_aliases(&machine, after.as_deref(), limit).await?;
    let items: Vec<Value> =
        page.items.iter().map(|a| json!({"stateMachineAliasArn": a.arn, "creationDate": date(a.created)})).collect();
    let mut out = json!({ "stateMachineAliases": items });
    if let Some(t) = next_token(&page) {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
