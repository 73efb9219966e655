//! Tags on state machines and activities.

use serde_json::{json, Value};

use crate::api::{ApiError, ApiResult, Request};
use crate::AppState;

const MAX_TAGS: usize = 50;

async fn check_resource(state: &AppState, arn: &str) -> Result<(), ApiError> {
    let store = state.engine.store();
    let exists = if arn.contains(":stateMachine:") {
        store.get_state_machine(arn).await?.is_some()
    } else if arn.contains(":activity:") {
        store.get_activity(arn).await?.is_some()
    } else {
        return Err(ApiError::invalid_arn(arn));
    };
    if exists {
        Ok(())
    } else {
        Err(ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'")))
    }
}

/// Store `[{key, value}]` tags on a resource.
pub async fn store_tags(state: &AppState, arn: &str, tags: &Value) -> Result<(), ApiError> {
    let items = tags.as_array().ok_or_else(|| ApiError::validation("tags must be a list"))?;
    let mut pairs = Vec::with_capacity(items.len());
    for t in items {
        let key = t.get("key").and_then(Value::as_str).ok_or_else(|| ApiError::validation("a tag needs a key"))?;
        let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 || key.starts_with("aws:") {
            return Err(ApiError::validation(format!("Invalid tag: '{key}'")));
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    let existing = state.engine.store().tags(arn).await?;
    let total = existing.iter().filter(|(k, _)| !pairs.iter().any(|(p, _)| p == k)).count() + pairs.len();
    if total > MAX_TAGS {
        return Err(ApiError::new("TooManyTags", format!("Too many tags: a resource can have at most {MAX_TAGS}")));
    }
    state.engine.store().tag(arn, &pairs).await?;
    Ok(())
}

pub async fn tag(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("resourceArn")?;
    check_resource(state, arn).await?;
    store_tags(state, arn, req.value("tags").unwrap_or(&Value::Array(vec![]))).await?;
    Ok(json!({}))
}

pub async fn untag(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("resourceArn")?;
    check_resource(state, arn).await?;
    let keys: Vec<String> = req
        .value("tagKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    state.engine.store().untag(arn, &keys).await?;
    Ok(json!({}))
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("resourceArn")?;
    check_resource(state, arn).await?;
    let tags: Vec<Value> =
        state.engine.store().tags(arn).await?.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    Ok(json!({ "tags": tags }))
}
