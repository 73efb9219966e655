//! Tags on state machines and activities: TagResource, UntagResource, ListTagsForResource,
//! each one operation of the engine's catalog.

use serde_json::{json, Value};

use crate::api::{ApiResult, Request};
use crate::AppState;

pub async fn tag(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("resourceArn")?;
    let tags = req.tags()?.unwrap_or_default();
    state.engine.tag_resource(arn, tags).await?;
    Ok(json!({}))
}

pub async fn untag(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("resourceArn")?;
    let keys: Vec<String> = req
        .value("tagKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    state.engine.untag_resource(arn, &keys).await?;
    Ok(json!({}))
}

pub async fn list(state: &AppState, req: Request<'_>) -> ApiResult {
    let arn = req.required_str("resourceArn")?;
    let tags: Vec<Value> = state
        .engine
        .list_tags_for_resource(arn)
        .await?
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    Ok(json!({ "tags": tags }))
}
