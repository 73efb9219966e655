//! Writing a distributed Map's results to S3 (its `ResultWriter`), asked by the interpreter as
//! a task with the resource [`asl::interpreter::RESULT_WRITER_RESOURCE`]. The interpreter
//! hands every child's record; this files them as AWS does under
//! `<Prefix>/<map run id>/`: `SUCCEEDED_0.json`, `FAILED_0.json`, `PENDING_0.json` (only
//! those with records; `.jsonl` with `OutputType` JSONL), then `manifest.json` listing them.
//! The task's result is the Map's: `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::s3::{Client, S3Error};
use crate::aws::Aws;
use crate::task::{Integration, Outcome, TaskCall};

const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// Serves [`asl::interpreter::RESULT_WRITER_RESOURCE`] with the engine's S3 client.
pub struct ResultWriter(pub Aws);

#[async_trait]
impl Integration for ResultWriter {
    async fn call(&self, call: TaskCall) -> Outcome {
        let aws = self.0.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let client = aws.s3().map_err(|e| e.to_string())?;
            write_results(&client, &call.input)
        })
        .await;
        match outcome {
            Ok(Ok(v)) => Outcome::Succeeded(v),
            Ok(Err(cause)) => Outcome::Failed { error: RESULT_WRITER_FAILED.into(), cause },
            Err(e) => Outcome::Failed { error: RESULT_WRITER_FAILED.into(), cause: e.to_string() },
        }
    }
}

/// File the records of `request` (`{"Arguments": {"Bucket", "Prefix"}, "WriterConfig",
/// "MapRunArn", "Records"}`) and answer the Map's output.
pub fn write_results(client: &Client, request: &Value) -> Result<Value, String> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let args = request.get("Arguments").cloned().unwrap_or(Value::Null);
    let bucket = text(&args, "Bucket").ok_or("The ResultWriter's arguments have no 'Bucket'")?;
    let prefix = text(&args, "Prefix").unwrap_or_default();
    let run_arn = text(request, "MapRunArn").unwrap_or_default();
    let run_id = run_arn.rsplit(':').next().unwrap_or_default();
    let base = match prefix.trim_end_matches('/') {
        "" => run_id.to_owned(),
        p => format!("{p}/{run_id}"),
    };
    let config = request.get("WriterConfig").cloned().unwrap_or_else(|| json!({}));
    let lines = text(&config, "OutputType").as_deref() == Some("JSONL");
    let transformation = text(&config, "Transformation").unwrap_or_else(|| "NONE".into());
    let records = request.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut files = serde_json::Map::new();
    for status in ["FAILED", "PENDING", "SUCCEEDED"] {
        let group: Vec<Value> =
            records.iter().filter(|r| r.get("Status").and_then(Value::as_str) == Some(status)).cloned().collect();
        let mut listed = Vec::new();
        if !group.is_empty() {
            let group = asl::interpreter::transform_results(group, &transformation);
            let body = if lines {
                group.iter().map(|v| v.to_string() + "\n").collect::<String>()
            } else {
                Value::Array(group).to_string()
            };
            let key = format!("{base}/{status}_0.{}", if lines { "jsonl" } else { "json" });
            put(client, &bucket, &key, body.as_bytes())?;
            listed.push(json!({"Key": key, "Size": body.len()}));
        }
        files.insert(status.into(), Value::Array(listed));
    }
    let manifest = json!({"DestinationBucket": bucket, "MapRunArn": run_arn, "ResultFiles": files});
    let manifest_key = format!("{base}/manifest.json");
    put(client, &bucket, &manifest_key, manifest.to_string().as_bytes())?;
    Ok(json!({"MapRunArn": run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}))
}

fn put(client: &Client, bucket: &str, key: &str, body: &[u8]) -> Result<(), String> {
    let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    client.put_object(bucket, key, body, headers).map(|_| ()).map_err(|e| match e {
        S3Error::Service(s) => format!("S3 {} writing s3://{bucket}/{key}: {}", s.code, s.message),
        other => format!("Writing s3://{bucket}/{key}: {other}"),
    })
}
