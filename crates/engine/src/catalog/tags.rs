//! Tags on state machines and activities: TagResource, UntagResource, ListTagsForResource,
//! and the tags CreateStateMachine and CreateActivity give. AWS's limits: 50 tags a resource,
//! keys of 1-128 characters not starting with `aws:`, values of at most 256.

use serde_json::Value;

use crate::error::EngineError;
use crate::service::Engine;

/// The most tags a resource has.
pub const MAX_TAGS: usize = 50;

/// Tags as a request gives them, checked: `(key, value)` in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

impl Tags {
    /// Read `[{key, value}]`.
    pub fn parse(tags: &Value) -> Result<Tags, EngineError> {
        let items = tags.as_array().ok_or_else(|| EngineError::Validation("tags must be a list".into()))?;
        let mut pairs = Vec::with_capacity(items.len());
        for t in items {
            let key = t
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| EngineError::Validation("a tag needs a key".into()))?;
            let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
            if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 || key.starts_with("aws:") {
                return Err(EngineError::Validation(format!("Invalid tag: '{key}'")));
            }
            pairs.push((key.to_owned(), value.to_owned()));
        }
        Ok(Tags(pairs))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl Engine {
    /// The resource a tag action names must exist: a state machine or an activity.
    async fn check_taggable(&self, arn: &str) -> Result<(), EngineError> {
        let store = self.store();
        let exists = if arn.contains(":stateMachine:") {
            store.get_state_machine(arn).await?.is_some()
        } else if arn.contains(":activity:") {
            store.get_activity(arn).await?.is_some()
        } else {
            return Err(EngineError::invalid_arn(arn));
        };
        if exists {
            Ok(())
        } else {
            Err(EngineError::ResourceNotFound(arn.to_owned()))
        }
    }

    /// Add or replace tags on a resource known to exist, within [`MAX_TAGS`].
    pub(crate) async fn add_tags(&self, arn: &str, tags: Tags) -> Result<(), EngineError> {
        let existing = self.store().tags(arn).await?;
        let pairs = tags.0;
        let total = existing.iter().filter(|(k, _)| !pairs.iter().any(|(p, _)| p == k)).count() + pairs.len();
        if total > MAX_TAGS {
            return Err(EngineError::TooManyTags(MAX_TAGS));
        }
        self.store().tag(arn, &pairs).await?;
        Ok(())
    }

    /// TagResource.
    pub async fn tag_resource(&self, arn: &str, tags: Tags) -> Result<(), EngineError> {
        self.check_taggable(arn).await?;
        self.add_tags(arn, tags).await
    }

    /// UntagResource (keys the resource does not have are ignored).
    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), EngineError> {
        self.check_taggable(arn).await?;
        self.store().untag(arn, keys).await?;
        Ok(())
    }

    /// ListTagsForResource: `(key, value)` pairs.
    pub async fn list_tags_for_resource(&self, arn: &str) -> Result<Vec<(String, String)>, EngineError> {
        self.check_taggable(arn).await?;
        Ok(self.store().tags(arn).await?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tags_are_checked_as_aws_checks_them() {
        let tags = Tags::parse(&json!([{"key": "team", "value": "ops"}, {"key": "solo"}])).expect("valid tags");
        assert_eq!(tags.pairs(), [("team".to_owned(), "ops".to_owned()), ("solo".to_owned(), String::new())]);
        for (bad, message) in [
            (json!({}), "tags must be a list"),
            (json!([{"value": "v"}]), "a tag needs a key"),
            (json!([{"key": "aws:x"}]), "Invalid tag: 'aws:x'"),
            (json!([{"key": ""}]), "Invalid tag: ''"),
        ] {
            let e = Tags::parse(&bad).unwrap_err();
            assert_eq!((e.aws_name(), e.to_string().as_str()), ("ValidationException", message));
        }
    }
}
