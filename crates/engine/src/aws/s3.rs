//! An S3 client (the REST-XML protocol), SigV4-signed, for any S3-compatible endpoint: AWS,
//! MinIO, LocalStack, moto, or Baton's own built-in S3. Objects are read as streams
//! ([`Client::get_object`] hands back a reader), so a large object never sits in memory whole.
//!
//! Also the `aws-sdk:s3:<action>` Task ([`task`]): the request from Step Functions' fields,
//! the result in its shape (`Body` as text, `ContentLength`, `ETag`, `Metadata`, ...), errors
//! as `S3.NoSuchKeyException`, `S3.S3Exception`.
//!
//! Addressing: path-style (`ENDPOINT/bucket/key`) for configured endpoints, virtual-hosted
//! (`https://bucket.s3.REGION.amazonaws.com/key`) on AWS.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use base64::Engine as _;
use md5::Digest as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::client::{self, Body, Request, SendError, DEFAULT_TIMEOUT};
use super::config::{CredentialSource, Credentials};
use super::errors::{name_client_error, name_service_error, Flavour, ServiceError};
use super::{services, Aws, NOT_CONFIGURED};
use crate::task::{TaskOutcome, MAX_RESULT_BYTES};

/// Characters left as they are in a key: RFC 3986's unreserved ones and `/`.
const KEY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
/// In a query value or a path segment, only the unreserved ones.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Why an S3 call gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    #[error(transparent)]
    NotConfigured(#[from] super::NotConfigured),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("{}: {}", .0.code, .0.message)]
    Service(ServiceError),
}

/// An S3 endpoint with the credentials to sign for it.
#[derive(Clone)]
pub struct Client {
    http: Arc<client::Client>,
    endpoint: String,
    region: String,
    path_style: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("s3::Client").field("endpoint", &self.endpoint).field("region", &self.region).finish()
    }
}

/// An object being read.
pub struct Object {
    /// The body, read as it arrives.
    pub body: Box<dyn Read + Send + Sync>,
    pub info: ObjectInfo,
}

/// What HeadObject (and GetObject) tell about an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `x-amz-meta-*`, without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// Every response header, for the Task's result.
    pub headers: Vec<(String, String)>,
}

/// One page of ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    pub next_continuation_token: Option<String>,
    pub is_truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// ListObjectsV2's options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions<'a> {
    pub prefix: Option<&'a str>,
    pub delimiter: Option<&'a str>,
    pub continuation_token: Option<&'a str>,
    pub start_after: Option<&'a str>,
    pub max_keys: Option<u32>,
}

impl Client {
    /// A client for `endpoint` (`http://host:port`) signing with `credentials` for `region`,
    /// path-style.
    pub fn new(endpoint: impl Into<String>, region: impl Into<String>, credentials: Credentials) -> Self {
        let source = CredentialSource::Static { credentials, from: "the S3 client's own".into() };
        Self {
            http: Arc::new(client::Client::new(source)),
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            region: region.into(),
            path_style: true,
        }
    }

    pub(super) fn with_shared(aws: Aws, endpoint: String, region: String, path_style: bool) -> Self {
        Self { http: aws.shared_client(), endpoint, region, path_style }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn url(&self, bucket: Option<&str>, key: Option<&str>, query: &[(&str, &str)]) -> String {
        let key = key.map(|k| utf8_percent_encode(k, KEY).to_string());
        let mut url = match bucket {
            None => format!("{}/", self.endpoint),
            Some(b) if !self.path_style && !b.contains('.') => {
                let host = self.endpoint.replacen("://", &format!("://{b}."), 1);
                format!("{host}/{}", key.unwrap_or_default())
            }
            Some(b) => match key {
                Some(k) => format!("{}/{}/{k}", self.endpoint, utf8_percent_encode(b, VALUE)),
                None => format!("{}/{}", self.endpoint, utf8_percent_encode(b, VALUE)),
            },
        };
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&utf8_percent_encode(k, VALUE).to_string());
            if !v.is_empty() || *k != "uploads" {
                url.push('=');
                url.push_str(&utf8_percent_encode(v, VALUE).to_string());
            }
        }
        url
    }

    fn send(
        &self,
        method: &'static str,
        url: String,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Result<client::Response, S3Error> {
        let request = Request {
            method,
            url,
            headers,
            body: Body::Bytes(body),
            signing_name: "s3",
            region: self.region.clone(),
            s3: true,
            timeout: DEFAULT_TIMEOUT,
        };
        let response = self.http.send(request, None)?;
        check(response, method == "HEAD")
    }

    /// Read an object, or the bytes `range` names (`first..=last`, as HTTP's Range header).
    pub fn get_object(&self, bucket: &str, key: &str, range: Option<(u64, Option<u64>)>) -> Result<Object, S3Error> {
        let mut headers = Vec::new();
        if let Some((first, last)) = range {
            let last = last.map(|l| l.to_string()).unwrap_or_default();
            headers.push(("range".to_owned(), format!("bytes={first}-{last}")));
        }
        let response = self.send("GET", self.url(Some(bucket), Some(key), &[]), headers, &[])?;
        let info = object_info(&response.headers);
        Ok(Object { body: response.reader, info })
    }

    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, S3Error> {
        let response = self.send("HEAD", self.url(Some(bucket), Some(key), &[]), Vec::new(), &[])?;
        Ok(object_info(&response.headers))
    }

    /// Write an object; `headers` may add `content-type`, `x-amz-meta-*` and the like. The
    /// response's headers (ETag, checksum, encryption) come back.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        headers: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, S3Error> {
        let mut headers = headers;
        let crc = crc32fast::hash(body).to_be_bytes();
        headers.push(("x-amz-checksum-crc32".into(), base64::engine::general_purpose::STANDARD.encode(crc)));
        headers.push(("x-amz-sdk-checksum-algorithm".into(), "CRC32".into()));
        Ok(self.send("PUT", self.url(Some(bucket), Some(key), &[]), headers, body)?.headers)
    }

    /// Write an object read from `body` as it is sent (`length` bytes).
    pub fn put_object_stream(
        &self,
        bucket: &str,
        key: &str,
        body: Box<dyn Read + Send + '_>,
        length: u64,
        content_type: Option<&str>,
    ) -> Result<Vec<(String, String)>, S3Error> {
        let mut headers = Vec::new();
        if let Some(t) = content_type {
            headers.push(("content-type".to_owned(), t.to_owned()));
        }
        let request = Request {
            method: "PUT",
            url: self.url(Some(bucket), Some(key), &[]),
            headers,
            body: Body::Stream { length },
            signing_name: "s3",
            region: self.region.clone(),
            s3: true,
            timeout: DEFAULT_TIMEOUT,
        };
        Ok(check(self.http.send(request, Some(body))?, false)?.headers)
    }

    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, S3Error> {
        Ok(self.send("DELETE", self.url(Some(bucket), Some(key), &[]), Vec::new(), &[])?.headers)
    }

    /// Copy `source_bucket/source_key` to `bucket/key`: the result's XML as JSON.
    pub fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Value, S3Error> {
        let source = format!("{}/{}", utf8_percent_encode(source_bucket, VALUE), utf8_percent_encode(source_key, KEY));
        let response =
            self.send("PUT", self.url(Some(bucket), Some(key), &[]), vec![("x-amz-copy-source".into(), source)], &[])?;
        let (_, _, body) = response.read_body(1024 * 1024)?;
        Ok(xml_to_json(&body, &[]))
    }

    pub fn list_objects_v2(&self, bucket: &str, options: &ListOptions<'_>) -> Result<ListPage, S3Error> {
        let value = self.list_objects_v2_json(bucket, options)?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let objects = value
            .get("Contents")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|o| ListedObject {
                        key: text(o, "Key").unwrap_or_default(),
                        size: o.get("Size").and_then(Value::as_u64).unwrap_or(0),
                        etag: text(o, "ETag"),
                        last_modified: text(o, "LastModified"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let common_prefixes = value
            .get("CommonPrefixes")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|p| text(p, "Prefix")).collect())
            .unwrap_or_default();
        Ok(ListPage {
            objects,
            common_prefixes,
            next_continuation_token: text(&value, "NextContinuationToken"),
            is_truncated: value.get("IsTruncated").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    fn list_objects_v2_json(&self, bucket: &str, options: &ListOptions<'_>) -> Result<Value, S3Error> {
        let max_keys = options.max_keys.map(|m| m.to_string());
        let mut query = vec![("list-type", "2")];
        let optional = [
            ("continuation-token", options.continuation_token),
            ("delimiter", options.delimiter),
            ("max-keys", max_keys.as_deref()),
            ("prefix", options.prefix),
            ("start-after", options.start_after),
        ];
        query.extend(optional.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        let response = self.send("GET", self.url(Some(bucket), None, &query), Vec::new(), &[])?;
        let (_, _, body) = response.read_body(64 * 1024 * 1024)?;
        Ok(xml_to_json(&body, &["Contents", "CommonPrefixes"]))
    }

    /// The buckets' names and creation dates.
    pub fn list_buckets(&self) -> Result<Vec<(String, Option<String>)>, S3Error> {
        let value = self.list_buckets_json()?;
        Ok(value
            .get("Buckets")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|b| {
                        let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
                        (text("Name").unwrap_or_default(), text("CreationDate"))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn list_buckets_json(&self) -> Result<Value, S3Error> {
        let response = self.send("GET", self.url(None, None, &[]), Vec::new(), &[])?;
        let (_, _, body) = response.read_body(16 * 1024 * 1024)?;
        let mut value = xml_to_json(&body, &["Bucket"]);
        // `<Buckets><Bucket>..</Bucket></Buckets>`: the list is the Bucket elements.
        if let Some(buckets) = value.get_mut("Buckets") {
            let list = buckets.get("Bucket").cloned().unwrap_or_else(|| json!([]));
            *buckets = list;
        }
        Ok(value)
    }

    pub fn create_bucket(&self, bucket: &str) -> Result<Vec<(String, String)>, S3Error> {
        // Outside us-east-1 AWS wants the region named in the body.
        let body = if self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
            .into_bytes()
        };
        Ok(self.send("PUT", self.url(Some(bucket), None, &[]), Vec::new(), &body)?.headers)
    }

    pub fn delete_bucket(&self, bucket: &str) -> Result<Vec<(String, String)>, S3Error> {
        Ok(self.send("DELETE", self.url(Some(bucket), None, &[]), Vec::new(), &[])?.headers)
    }

    /// Start a multipart upload: its upload id.
    pub fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<String, S3Error> {
        let headers = content_type.map(|t| vec![("content-type".to_owned(), t.to_owned())]).unwrap_or_default();
        let response = self.send("POST", self.url(Some(bucket), Some(key), &[("uploads", "")]), headers, &[])?;
        let (_, _, body) = response.read_body(1024 * 1024)?;
        let value = xml_to_json(&body, &[]);
        value.get("UploadId").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            S3Error::Send(SendError::Transport("CreateMultipartUpload answered without an UploadId".into()))
        })
    }

    /// Upload part `part_number` (from 1): its ETag.
    pub fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: &[u8],
    ) -> Result<String, S3Error> {
        let part = part_number.to_string();
        let url = self.url(Some(bucket), Some(key), &[("partNumber", &part), ("uploadId", upload_id)]);
        let response = self.send("PUT", url, Vec::new(), body)?;
        Ok(response.header("etag").unwrap_or_default().to_owned())
    }

    /// Finish a multipart upload from its parts (number, ETag): the result's XML as JSON.
    pub fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<Value, S3Error> {
        let mut xml = String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for (number, etag) in parts {
            xml.push_str(&format!("<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>", escape(etag)));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let url = self.url(Some(bucket), Some(key), &[("uploadId", upload_id)]);
        let response =
            self.send("POST", url, vec![("content-type".into(), "application/xml".into())], xml.as_bytes())?;
        let (_, _, body) = response.read_body(1024 * 1024)?;
        // S3 may answer 200 with an error document when the completion fails late.
        let value = xml_to_json(&body, &[]);
        if let Some(code) = value.get("Code").and_then(Value::as_str) {
            return Err(S3Error::Service(ServiceError {
                status: 200,
                code: code.to_owned(),
                message: value.get("Message").and_then(Value::as_str).unwrap_or_default().to_owned(),
                request_id: value.get("RequestId").and_then(Value::as_str).unwrap_or("null").to_owned(),
            }));
        }
        Ok(value)
    }

    pub fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), S3Error> {
        self.send("DELETE", self.url(Some(bucket), Some(key), &[("uploadId", upload_id)]), Vec::new(), &[])?;
        Ok(())
    }
}

impl Aws {
    pub(super) fn shared_client(&self) -> Arc<client::Client> {
        self.inner.client.clone()
    }
}

/// A response that is not 2xx becomes S3's error (from its XML, or, for HEAD, its status).
fn check(response: client::Response, head: bool) -> Result<client::Response, S3Error> {
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    let (status, headers, body) = response.read_body(1024 * 1024)?;
    let request_id = super::errors::request_id(&headers);
    let value = if head { Value::Null } else { xml_to_json(&body, &[]) };
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
    let code = text("Code").unwrap_or_else(|| match status {
        404 if head => "NoSuchKey".into(),
        404 => "NotFound".into(),
        403 => "Forbidden".into(),
        s => format!("Http{s}"),
    });
    let message = text("Message").unwrap_or_else(|| match status {
        404 => "Not Found".into(),
        s => format!("Status Code: {s}"),
    });
    Err(S3Error::Service(ServiceError { status, code, message, request_id: text("RequestId").unwrap_or(request_id) }))
}

fn object_info(headers: &[(String, String)]) -> ObjectInfo {
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    ObjectInfo {
        content_length: get("content-length").and_then(|v| v.parse().ok()),
        content_type: get("content-type"),
        etag: get("etag"),
        last_modified: get("last-modified"),
        metadata: headers
            .iter()
            .filter_map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                lower.strip_prefix("x-amz-meta-").map(|name| (name.to_owned(), v.clone()))
            })
            .collect(),
        headers: headers.to_vec(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An XML document as JSON: the root element's children as members, repeated elements and
/// those named in `lists` as arrays, numbers and booleans where the text is one.
pub fn xml_to_json(xml: &[u8], lists: &[&str]) -> Value {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    // A stack of (name, members, text).
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    let mut root = Value::Null;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                stack.push((String::from_utf8_lossy(e.local_name().as_ref()).into_owned(), Map::new(), String::new()))
            }
            Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some((_, members, _)) = stack.last_mut() {
                    add_member(members, name, Value::String(String::new()), lists);
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some((_, _, text)), Ok(t)) = (stack.last_mut(), t.unescape()) {
                    text.push_str(&t);
                }
            }
            Ok(Event::CData(t)) => {
                if let Some((_, _, text)) = stack.last_mut() {
                    text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(Event::End(_)) => {
                let Some((name, members, text)) = stack.pop() else { break };
                let value = if members.is_empty() { scalar(&text) } else { Value::Object(members) };
                match stack.last_mut() {
                    Some((_, parent, _)) => add_member(parent, name, value, lists),
                    None => {
                        root = value;
                        break;
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    match root {
        Value::Null => Value::Object(Map::new()),
        Value::String(s) if s.is_empty() => Value::Object(Map::new()),
        other => other,
    }
}

fn add_member(members: &mut Map<String, Value>, name: String, value: Value, lists: &[&str]) {
    match members.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None if lists.contains(&name.as_str()) => {
            members.insert(name, Value::Array(vec![value]));
        }
        None => {
            members.insert(name, value);
        }
    }
}

fn scalar(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        t if !t.is_empty()
            && t.len() < 16
            && t.bytes().all(|b| b.is_ascii_digit())
            && !(t.len() > 1 && t.starts_with('0')) =>
        {
            t.parse::<u64>().map_or_else(|_| Value::String(t.to_owned()), Value::from)
        }
        t => Value::String(t.to_owned()),
    }
}

/// Response headers as the AWS SDK for Java names them in results.
const RESULT_HEADERS: &[(&str, &str)] = &[
    ("accept-ranges", "AcceptRanges"),
    ("cache-control", "CacheControl"),
    ("content-disposition", "ContentDisposition"),
    ("content-encoding", "ContentEncoding"),
    ("content-language", "ContentLanguage"),
    ("content-length", "ContentLength"),
    ("content-range", "ContentRange"),
    ("content-type", "ContentType"),
    ("etag", "ETag"),
    ("expires", "Expires"),
    ("last-modified", "LastModified"),
    ("x-amz-checksum-crc32", "ChecksumCRC32"),
    ("x-amz-checksum-crc32c", "ChecksumCRC32C"),
    ("x-amz-checksum-sha1", "ChecksumSHA1"),
    ("x-amz-checksum-sha256", "ChecksumSHA256"),
    ("x-amz-checksum-type", "ChecksumType"),
    ("x-amz-delete-marker", "DeleteMarker"),
    ("x-amz-server-side-encryption", "ServerSideEncryption"),
    ("x-amz-storage-class", "StorageClass"),
    ("x-amz-version-id", "VersionId"),
    ("x-amz-website-redirect-location", "WebsiteRedirectLocation"),
];

/// The members of PutObject's result (the others describe an object read).
const PUT_MEMBERS: &[&str] = &[
    "ChecksumCRC32",
    "ChecksumCRC32C",
    "ChecksumSHA1",
    "ChecksumSHA256",
    "ChecksumType",
    "ETag",
    "ServerSideEncryption",
    "VersionId",
];
/// The members of DeleteObject's result.
const DELETE_MEMBERS: &[&str] = &["DeleteMarker", "VersionId"];

/// A result from response headers: every member [`RESULT_HEADERS`] names, or only `members`.
fn result_from_headers(headers: &[(String, String)], members: Option<&[&str]>) -> Map<String, Value> {
    let with_metadata = members.is_none();
    let mut out = Map::new();
    for (header, member) in RESULT_HEADERS.iter().filter(|(_, m)| members.is_none_or(|only| only.contains(m))) {
        if let Some((_, v)) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(header)) {
            let value = match *member {
                "ContentLength" => v.parse::<u64>().map_or_else(|_| Value::String(v.clone()), Value::from),
                "DeleteMarker" => Value::Bool(v == "true"),
                _ => Value::String(v.clone()),
            };
            out.insert((*member).to_owned(), value);
        }
    }
    if with_metadata {
        out.insert(
            "Metadata".into(),
            Value::Object(object_info(headers).metadata.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        );
    }
    out
}

/// The `aws-sdk:s3:<action>` Task.
pub fn task(aws: &Aws, action: &str, input: &Value, flavour: Flavour) -> TaskOutcome {
    let service = services::by_sdk_name("s3").unwrap_or_else(|| unreachable!("s3 is in the table"));
    let client = match aws.s3() {
        Ok(c) => c,
        Err(e) => return TaskOutcome::Failed { error: NOT_CONFIGURED.into(), cause: e.to_string() },
    };
    match run_task(&client, action, input) {
        Ok(Some(result)) => TaskOutcome::Succeeded(result),
        Ok(None) => TaskOutcome::Failed {
            error: crate::task::UNSUPPORTED_RESOURCE.into(),
            cause: format!(
                "Resource 'arn:aws:states:::aws-sdk:s3:{action}': Baton's S3 client makes getObject, putObject, headObject, deleteObject, copyObject, listObjectsV2, listBuckets, createBucket, deleteBucket, createMultipartUpload, uploadPart, completeMultipartUpload and abortMultipartUpload"
            ),
        },
        Err(S3Error::NotConfigured(e)) => TaskOutcome::Failed { error: NOT_CONFIGURED.into(), cause: e.to_string() },
        Err(S3Error::Send(SendError::Credentials(m))) => TaskOutcome::Failed { error: NOT_CONFIGURED.into(), cause: m },
        Err(S3Error::Send(SendError::Transport(m))) => {
            let (error, cause) = name_client_error(service, flavour, &m);
            TaskOutcome::Failed { error, cause }
        }
        Err(S3Error::Service(e)) => {
            let (error, cause) = name_service_error(service, flavour, &e);
            TaskOutcome::Failed { error, cause }
        }
    }
}

fn run_task(client: &Client, action: &str, input: &Value) -> Result<Option<Value>, S3Error> {
    let text = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or_default();
    let missing = |field: &str| {
        S3Error::Service(ServiceError {
            status: 400,
            code: "InvalidRequest".into(),
            message: format!("The parameter '{field}' is required"),
            request_id: "null".into(),
        })
    };
    let bucket = || input.get("Bucket").and_then(Value::as_str).ok_or_else(|| missing("Bucket"));
    let key = || input.get("Key").and_then(Value::as_str).ok_or_else(|| missing("Key"));
    let result = match action {
        "getObject" => {
            let range = input.get("Range").and_then(Value::as_str).and_then(parse_range);
            let object = client.get_object(bucket()?, key()?, range)?;
            let mut body = Vec::new();
            object
                .body
                .take(MAX_RESULT_BYTES as u64 + 1)
                .read_to_end(&mut body)
                .map_err(|e| SendError::Transport(format!("reading the object: {e}")))?;
            let mut result = result_from_headers(&object.info.headers, None);
            result.insert("Body".into(), Value::String(String::from_utf8_lossy(&body).into_owned()));
            Value::Object(result)
        }
        "headObject" => Value::Object(result_from_headers(&client.head_object(bucket()?, key()?)?.headers, None)),
        "putObject" => {
            let body = match input.get("Body") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => s.clone().into_bytes(),
                Some(other) => other.to_string().into_bytes(),
            };
            let mut headers = Vec::new();
            if let Some(t) = input.get("ContentType").and_then(Value::as_str) {
                headers.push(("content-type".to_owned(), t.to_owned()));
            }
            if let Some(Value::Object(meta)) = input.get("Metadata") {
                for (k, v) in meta {
                    headers.push((format!("x-amz-meta-{k}"), v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
                }
            }
            let headers = client.put_object(bucket()?, key()?, &body, headers)?;
            Value::Object(result_from_headers(&headers, Some(PUT_MEMBERS)))
        }
        "deleteObject" => {
            Value::Object(result_from_headers(&client.delete_object(bucket()?, key()?)?, Some(DELETE_MEMBERS)))
        }
        "copyObject" => {
            let source = input.get("CopySource").and_then(Value::as_str).ok_or_else(|| missing("CopySource"))?;
            let source =
                percent_encoding::percent_decode_str(source.trim_start_matches('/')).decode_utf8_lossy().into_owned();
            let (source_bucket, source_key) = source.split_once('/').ok_or_else(|| missing("CopySource"))?;
            let copied = client.copy_object(source_bucket, source_key, bucket()?, key()?)?;
            json!({"CopyObjectResult": copied})
        }
        "listObjectsV2" => {
            let max_keys = input.get("MaxKeys").and_then(Value::as_u64).map(|m| m.min(u32::MAX as u64) as u32);
            let opt = |k: &str| input.get(k).and_then(Value::as_str);
            let options = ListOptions {
                prefix: opt("Prefix"),
                delimiter: opt("Delimiter"),
                continuation_token: opt("ContinuationToken"),
                start_after: opt("StartAfter"),
                max_keys,
            };
            client.list_objects_v2_json(bucket()?, &options)?
        }
        "listBuckets" => client.list_buckets_json()?,
        "createBucket" => {
            let headers = client.create_bucket(bucket()?)?;
            let location = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone());
            location.map_or_else(|| json!({}), |l| json!({"Location": l}))
        }
        "deleteBucket" => {
            client.delete_bucket(bucket()?)?;
            json!({})
        }
        "createMultipartUpload" => {
            let content_type = input.get("ContentType").and_then(Value::as_str);
            let id = client.create_multipart_upload(bucket()?, key()?, content_type)?;
            json!({"Bucket": text("Bucket"), "Key": text("Key"), "UploadId": id})
        }
        "uploadPart" => {
            let number = input.get("PartNumber").and_then(Value::as_u64).ok_or_else(|| missing("PartNumber"))?;
            let upload = input.get("UploadId").and_then(Value::as_str).ok_or_else(|| missing("UploadId"))?;
            let body = match input.get("Body") {
                Some(Value::String(s)) => s.clone().into_bytes(),
                Some(other) => other.to_string().into_bytes(),
                None => Vec::new(),
            };
            let etag = client.upload_part(bucket()?, key()?, upload, number.min(u32::MAX as u64) as u32, &body)?;
            json!({"ETag": etag})
        }
        "completeMultipartUpload" => {
            let upload = input.get("UploadId").and_then(Value::as_str).ok_or_else(|| missing("UploadId"))?;
            let parts: Vec<(u32, String)> = input
                .pointer("/MultipartUpload/Parts")
                .and_then(Value::as_array)
                .map(|parts| {
                    parts
                        .iter()
                        .map(|p| {
                            let n =
                                p.get("PartNumber").and_then(Value::as_u64).unwrap_or(0).min(u32::MAX as u64) as u32;
                            (n, p.get("ETag").and_then(Value::as_str).unwrap_or_default().to_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            client.complete_multipart_upload(bucket()?, key()?, upload, &parts)?
        }
        "abortMultipartUpload" => {
            let upload = input.get("UploadId").and_then(Value::as_str).ok_or_else(|| missing("UploadId"))?;
            client.abort_multipart_upload(bucket()?, key()?, upload)?;
            json!({})
        }
        _ => return Ok(None),
    };
    Ok(Some(result))
}

/// `bytes=FIRST-[LAST]`.
fn parse_range(range: &str) -> Option<(u64, Option<u64>)> {
    let (first, last) = range.strip_prefix("bytes=")?.split_once('-')?;
    Some((first.parse().ok()?, if last.is_empty() { None } else { Some(last.parse().ok()?) }))
}

/// The MD5 ETag S3 gives an object written in one piece (for tests and checks).
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5::Md5::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_documents_become_json_with_lists_where_s3_has_them() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>
<Contents><Key>a &amp; b.csv</Key><Size>12</Size><ETag>&quot;x&quot;</ETag></Contents></ListBucketResult>"#;
        let v = xml_to_json(xml, &["Contents"]);
        assert_eq!(v["Contents"][0]["Key"], "a & b.csv");
        assert_eq!(v["Contents"][0]["Size"], 12);
        assert_eq!(v["Contents"][0]["ETag"], "\"x\"");
        assert_eq!(v["IsTruncated"], false);
        let err = xml_to_json(b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>", &[]);
        assert_eq!(err["Code"], "NoSuchKey");
    }

    #[test]
    fn urls_are_path_style_for_endpoints_and_encode_keys() {
        let c = Client::new(
            "http://127.0.0.1:9000/",
            "us-east-1",
            Credentials { access_key_id: "a".into(), secret_access_key: "b".into(), session_token: None },
        );
        assert_eq!(c.url(Some("b"), Some("dir/a b+c.csv"), &[]), "http://127.0.0.1:9000/b/dir/a%20b%2Bc.csv");
        assert_eq!(
            c.url(Some("b"), None, &[("list-type", "2"), ("prefix", "a/b")]),
            "http://127.0.0.1:9000/b?list-type=2&prefix=a%2Fb"
        );
        assert_eq!(c.url(Some("b"), Some("k"), &[("uploads", "")]), "http://127.0.0.1:9000/b/k?uploads");
        let aws = Client { path_style: false, endpoint: "https://s3.eu-west-1.amazonaws.com".into(), ..c };
        assert_eq!(aws.url(Some("b"), Some("k"), &[]), "https://b.s3.eu-west-1.amazonaws.com/k");
        assert_eq!(parse_range("bytes=0-99"), Some((0, Some(99))));
        assert_eq!(parse_range("bytes=100-"), Some((100, None)));
        assert_eq!(etag_of(b"false"), "\"68934a3e9455fa72420237eb05902327\"");
    }
}
