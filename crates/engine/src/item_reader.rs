//! The read of a distributed Map's items (its `ItemReader`), asked by the interpreter as a
//! task with the resource [`asl::interpreter::ITEM_READER_RESOURCE`]: an S3 listing
//! (`s3:listObjectsV2`) or an S3 object (`s3:getObject`) read as JSON, JSON Lines, CSV or an
//! S3 inventory manifest. The items are the task's result; a read that fails fails with
//! `States.ItemReaderFailed`.
//!
//! Objects are read as streams and reading stops at `MaxItems`: a JSON Lines, CSV or
//! inventory object is never held whole (a JSON document is parsed whole, as it must be to
//! know it is an array). [`each_item`] hands the items on one at a time as they are read (a
//! Map Run's driver batches them into children as they come); [`read_items`] collects them.

use std::io::{BufRead, BufReader, Read};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::aws::s3::{Client, ListOptions, S3Error};
use crate::aws::Aws;
use crate::task::{Integration, Outcome, TaskCall};

const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";

/// Serves [`asl::interpreter::ITEM_READER_RESOURCE`] with the engine's S3 client.
pub struct ItemReader(pub Aws);

#[async_trait]
impl Integration for ItemReader {
    async fn call(&self, call: TaskCall) -> Outcome {
        let aws = self.0.clone();
        let outcome = tokio::task::spawn_blocking(move || read_items(&aws, &call.input)).await;
        match outcome {
            Ok(Ok(items)) => Outcome::Succeeded(Value::Array(items)),
            Ok(Err(cause)) => Outcome::Failed { error: ITEM_READER_FAILED.into(), cause },
            Err(e) => Outcome::Failed { error: ITEM_READER_FAILED.into(), cause: e.to_string() },
        }
    }
}

/// Read the items the request names: `{"Resource", "Arguments", "ReaderConfig"}`.
pub fn read_items(aws: &Aws, request: &Value) -> Result<Vec<Value>, String> {
    let client = aws.s3().map_err(|e| e.to_string())?;
    read_with(&client, request)
}

/// [`read_items`] with a given client.
pub fn read_with(client: &Client, request: &Value) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    each_item(client, request, &mut |item| {
        items.push(item);
        true
    })?;
    Ok(items)
}

/// Hand each item the request names to `take`, in order, as it is read (never all at once),
/// until `take` answers false or `MaxItems` are taken.
pub fn each_item(client: &Client, request: &Value, take: &mut dyn FnMut(Value) -> bool) -> Result<(), String> {
    let args = request.get("Arguments").cloned().unwrap_or(Value::Null);
    let config = request.get("ReaderConfig").cloned().unwrap_or_else(|| json!({}));
    let max = match config.get("MaxItems").and_then(Value::as_u64) {
        None | Some(0) => usize::MAX,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let text = |k: &str| args.get(k).and_then(Value::as_str);
    let bucket = text("Bucket").ok_or("The ItemReader's arguments have no 'Bucket'")?;
    let mut taken = 0usize;
    let mut sink = |item: Value| {
        if taken >= max {
            return false;
        }
        taken += 1;
        take(item) && taken < max
    };
    match request.get("Resource").and_then(Value::as_str) {
        Some(asl::definition::LIST_OBJECTS_V2) => list_objects(client, bucket, text("Prefix"), &mut sink),
        Some(asl::definition::GET_OBJECT) => {
            let key = text("Key").ok_or("The ItemReader's arguments have no 'Key'")?;
            let format = Format::of(&config)?;
            let object = client.get_object(bucket, key, None).map_err(|e| s3_cause(&e, bucket, key))?;
            match format {
                Format::Manifest => read_manifest(client, object.body, &mut sink).map(drop),
                other => other.each(object.body, &mut sink).map(drop),
            }
        }
        other => Err(format!("The ItemReader resource {other:?} is not one Baton reads")),
    }
}

/// Where items go as they are read; false stops the read.
type Sink<'a> = dyn FnMut(Value) -> bool + 'a;

/// `s3:listObjectsV2`: each object as AWS shapes it (`Etag`, `Key`, `LastModified` in epoch
/// seconds, `Size`, `StorageClass`).
fn list_objects(client: &Client, bucket: &str, prefix: Option<&str>, take: &mut Sink<'_>) -> Result<(), String> {
    let mut token: Option<String> = None;
    loop {
        let options = ListOptions { prefix, continuation_token: token.as_deref(), ..ListOptions::default() };
        let page = client.list_objects_v2(bucket, &options).map_err(|e| s3_cause(&e, bucket, prefix.unwrap_or("")))?;
        for o in page.objects {
            let modified = o
                .last_modified
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or(Value::Null, |t| json!(t.timestamp()));
            let more = take(json!({
                "Etag": o.etag.unwrap_or_default(),
                "Key": o.key,
                "LastModified": modified,
                "Size": o.size,
                "StorageClass": "STANDARD",
            }));
            if !more {
                return Ok(());
            }
        }
        match page.next_continuation_token.filter(|_| page.is_truncated) {
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}

/// How an object's bytes become items.
#[derive(Debug, Clone, PartialEq)]
enum Format {
    Json,
    JsonLines,
    Csv { headers: Option<Vec<String>>, delimiter: u8 },
    Manifest,
}

impl Format {
    fn of(config: &Value) -> Result<Self, String> {
        let field = |k: &str| config.get(k).and_then(Value::as_str);
        Ok(match field("InputType") {
            Some("JSON") => Format::Json,
            Some("JSONL") => Format::JsonLines,
            Some("MANIFEST") => Format::Manifest,
            Some("CSV") => {
                let delimiter = match field("CSVDelimiter") {
                    None | Some("COMMA") => b',',
                    Some("PIPE") => b'|',
                    Some("SEMICOLON") => b';',
                    Some("SPACE") => b' ',
                    Some("TAB") => b'\t',
                    Some(other) => return Err(format!("Unknown CSVDelimiter '{other}'")),
                };
                let headers = match field("CSVHeaderLocation") {
                    Some("GIVEN") => Some(
                        config
                            .get("CSVHeaders")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                            .unwrap_or_default(),
                    ),
                    _ => None,
                };
                Format::Csv { headers, delimiter }
            }
            other => return Err(format!("The InputType {other:?} is not one Baton reads")),
        })
    }

    /// The items of one object, at most `max`.
    #[cfg(test)]
    fn read(&self, body: impl Read, max: usize) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        self.each(body, &mut |item| {
            if items.len() < max {
                items.push(item);
            }
            items.len() < max
        })?;
        Ok(items)
    }

    /// Each item of one object to `take`, as it is read; `Ok(false)` when `take` stopped it.
    fn each(&self, body: impl Read, take: &mut Sink<'_>) -> Result<bool, String> {
        match self {
            Format::Json => {
                let doc: Value = serde_json::from_reader(body).map_err(|e| format!("The object is not JSON: {e}"))?;
                match doc {
                    Value::Array(items) => Ok(items.into_iter().all(take)),
                    _ => Err("Attempting to map over non-iterable node.".into()),
                }
            }
            Format::JsonLines => {
                for (n, line) in BufReader::new(body).lines().enumerate() {
                    let line = line.map_err(|e| format!("Reading the object: {e}"))?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let item = serde_json::from_str(&line)
                        .map_err(|e| format!("Line {} of the object is not JSON: {e}", n + 1))?;
                    if !take(item) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Format::Csv { headers, delimiter } => read_csv(body, headers.clone(), *delimiter, take),
            Format::Manifest => Err("A manifest's files are read with their client".into()),
        }
    }
}

/// CSV rows as objects keyed by the headers (the first row's, or the given ones): a missing
/// field is `""`, a field past the headers is dropped, as AWS reads them.
fn read_csv(body: impl Read, headers: Option<Vec<String>>, delimiter: u8, take: &mut Sink<'_>) -> Result<bool, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(body);
    let mut headers = headers;
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| format!("Reading the CSV object: {e}"))?;
        if !more {
            return Ok(true);
        }
        let Some(names) = &headers else {
            headers = Some(record.iter().map(str::to_owned).collect());
            continue;
        };
        let mut item = Map::new();
        for (i, name) in names.iter().enumerate() {
            item.insert(name.clone(), Value::String(record.get(i).unwrap_or_default().to_owned()));
        }
        if !take(Value::Object(item)) {
            return Ok(false);
        }
    }
}

/// An S3 inventory `manifest.json`: its CSV files (gzip-compressed or not), each row keyed
/// by the manifest's `fileSchema`.
fn read_manifest(client: &Client, body: impl Read, take: &mut Sink<'_>) -> Result<bool, String> {
    let manifest: Value = serde_json::from_reader(body).map_err(|e| format!("The manifest is not JSON: {e}"))?;
    if let Some(format) = manifest.get("fileFormat").and_then(Value::as_str) {
        if !format.eq_ignore_ascii_case("CSV") {
            return Err(format!("The inventory's fileFormat {format} is not one Baton reads (CSV)"));
        }
    }
    let schema: Vec<String> = manifest
        .get("fileSchema")
        .and_then(Value::as_str)
        .ok_or("The manifest has no 'fileSchema'")?
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    let bucket = manifest
        .get("destinationBucket")
        .and_then(Value::as_str)
        .map(|b| b.strip_prefix("arn:aws:s3:::").unwrap_or(b).to_owned())
        .ok_or("The manifest has no 'destinationBucket'")?;
    let files = manifest.get("files").and_then(Value::as_array).ok_or("The manifest has no 'files'")?;
    for file in files {
        let key = file.get("key").and_then(Value::as_str).ok_or("A manifest file has no 'key'")?;
        let object = client.get_object(&bucket, key, None).map_err(|e| s3_cause(&e, &bucket, key))?;
        let reader: Box<dyn Read> = if key.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(object.body))
        } else {
            Box::new(object.body)
        };
        if !read_csv(reader, Some(schema.clone()), b',', take)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The cause of a failed S3 call, as the Map Run reports it.
fn s3_cause(e: &S3Error, bucket: &str, key: &str) -> String {
    match e {
        S3Error::Service(s) => format!("S3 {} for s3://{bucket}/{key}: {}", s.code, s.message),
        other => format!("Reading s3://{bucket}/{key}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(body: &str, headers: Option<Vec<&str>>, max: usize) -> Vec<Value> {
        let headers = headers.map(|h| h.into_iter().map(str::to_owned).collect());
        Format::Csv { headers, delimiter: b',' }.read(body.as_bytes(), max).unwrap()
    }

    #[test]
    fn csv_rows_take_the_first_rows_headers_padding_and_dropping_fields() {
        let items = csv("H1,\nValue4,Value5,Value6\n,,,\n   \n", None, usize::MAX);
        assert_eq!(
            items,
            vec![json!({"H1": "Value4", "": "Value5"}), json!({"H1": "", "": ""}), json!({"H1": "   ", "": ""}),]
        );
    }

    #[test]
    fn csv_with_given_headers_reads_every_row_and_stops_at_max_items() {
        let items = csv("a,b\nc,d\ne,f\n", Some(vec!["X"]), 2);
        assert_eq!(items, vec![json!({"X": "a"}), json!({"X": "c"})]);
    }

    #[test]
    fn json_must_be_an_array_and_jsonl_is_one_item_a_line() {
        let err = Format::Json.read(&b"{\"Hello\": \"world\"}"[..], usize::MAX).unwrap_err();
        assert_eq!(err, "Attempting to map over non-iterable node.");
        let items = Format::JsonLines.read(&b"{\"a\":1}\n\n[2]\n3\n"[..], 2).unwrap();
        assert_eq!(items, vec![json!({"a": 1}), json!([2])]);
    }

    #[test]
    fn other_delimiters_split_fields() {
        let items = Format::Csv { headers: None, delimiter: b'|' }.read(&b"a|b\n1|2\n"[..], usize::MAX).unwrap();
        assert_eq!(items, vec![json!({"a": "1", "b": "2"})]);
    }
}
