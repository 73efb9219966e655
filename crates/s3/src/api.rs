//! The S3 operations the built-in S3 answers, on [`Store`]: buckets, objects (ranges,
//! metadata, ETags), listings (v1 and v2), copies, multipart uploads. Anything else answers
//! s3s's `NotImplemented`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::store::{After, Listed, ObjectMeta, PartMeta, Store, StoreError};

/// The built-in S3.
#[derive(Clone)]
pub struct BuiltinS3 {
    store: Arc<Store>,
    region: String,
}

impl BuiltinS3 {
    pub fn new(store: Arc<Store>, region: impl Into<String>) -> Self {
        Self { store, region: region.into() }
    }

    /// Run index work off the async workers.
    async fn index<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> S3Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| s3_error!(InternalError, "the object index task failed: {e}"))?
            .map_err(to_s3)
    }

    /// Write a body to a new content file; its name, size and hex MD5.
    async fn write_body(&self, body: Option<StreamingBlob>) -> S3Result<(String, u64, String)> {
        let mut writer = self.store.new_blob().await.map_err(internal)?;
        if let Some(mut body) = body {
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        writer.discard().await;
                        return Err(s3_error!(IncompleteBody, "the request body could not be read: {e}"));
                    }
                };
                if let Err(e) = writer.write(&chunk).await {
                    writer.discard().await;
                    return Err(internal(e));
                }
            }
        }
        writer.finish().await.map_err(internal)
    }
}

fn internal(e: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "{e}")
}

fn to_s3(e: StoreError) -> S3Error {
    match e {
        StoreError::NoSuchBucket => s3_error!(NoSuchBucket, "The specified bucket does not exist"),
        StoreError::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
        StoreError::NoSuchUpload => s3_error!(
            NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        ),
        StoreError::BucketExists => {
            s3_error!(BucketAlreadyOwnedByYou, "Your previous request to create the named bucket succeeded and you already own it.")
        }
        StoreError::BucketNotEmpty => s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"),
        StoreError::InvalidPart(n) => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {n})"
        ),
        StoreError::InvalidPartOrder => {
            s3_error!(InvalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.")
        }
        other => internal(other),
    }
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn etag(quoted: &str) -> ETag {
    ETag::Strong(quoted.trim_matches('"').to_owned())
}

fn metadata_json(metadata: Option<&Metadata>) -> String {
    let map: std::collections::BTreeMap<&String, &String> = metadata.map(|m| m.iter().collect()).unwrap_or_default();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

fn metadata_of(json: &str) -> Option<Metadata> {
    let map: HashMap<String, String> = serde_json::from_str(json).ok()?;
    (!map.is_empty()).then_some(map)
}

/// S3 names: 3 to 63 characters of lower-case letters, digits, dots and hyphens, starting and
/// ending with a letter or digit.
fn check_bucket_name(name: &str) -> S3Result<()> {
    let valid = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if valid {
        Ok(())
    } else {
        Err(s3_error!(InvalidBucketName, "The specified bucket is not valid."))
    }
}

/// A listing's continuation token: which kind of entry the page ended on, and its name.
fn encode_token(after: &Listed) -> String {
    let (kind, name) = match after {
        Listed::Object(o) => ('k', o.key.as_str()),
        Listed::Prefix(p) => ('p', p.as_str()),
    };
    format!("{kind}{}", hex::encode(name))
}

fn decode_token(token: &str) -> S3Result<After> {
    let invalid = || s3_error!(InvalidArgument, "The continuation token provided is incorrect");
    let (kind, rest) = token.split_at_checked(1).ok_or_else(invalid)?;
    let name = String::from_utf8(hex::decode(rest).map_err(|_| invalid())?).map_err(|_| invalid())?;
    match kind {
        "k" => Ok(After::Key(name)),
        "p" => Ok(After::Prefix(name)),
        _ => Err(invalid()),
    }
}

fn object_entry(o: &ObjectMeta) -> Object {
    Object {
        key: Some(o.key.clone()),
        size: Some(o.size as i64),
        e_tag: Some(etag(&o.etag)),
        last_modified: Some(timestamp(o.last_modified_ms)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        ..Default::default()
    }
}

/// Split a listing into S3's contents and common prefixes.
fn split_listing(entries: Vec<Listed>) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for entry in entries {
        match entry {
            Listed::Object(o) => contents.push(object_entry(&o)),
            Listed::Prefix(p) => prefixes.push(CommonPrefix { prefix: Some(p) }),
        }
    }
    (contents, prefixes)
}

fn max_keys(requested: Option<i32>) -> usize {
    requested.map(|m| m.clamp(0, 1000) as usize).unwrap_or(1000)
}

#[async_trait::async_trait]
impl S3 for BuiltinS3 {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        check_bucket_name(&bucket)?;
        let name = bucket.clone();
        self.index(move |s| s.create_bucket(&name)).await?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{bucket}")) }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let bucket = req.input.bucket;
        if !self.index(move |s| s.bucket_exists(&bucket)).await? {
            return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist"));
        }
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(self.region.clone()), ..Default::default() }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let bucket = req.input.bucket;
        if !self.index(move |s| s.bucket_exists(&bucket)).await? {
            return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist"));
        }
        // us-east-1 is the empty constraint, as S3 answers it.
        let constraint = (self.region != "us-east-1").then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint: constraint }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket;
        self.index(move |s| s.delete_bucket(&bucket)).await?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn list_buckets(&self, _req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.index(|s| s.buckets()).await?;
        let buckets = buckets
            .into_iter()
            .map(|(name, created)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(created)),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner { display_name: Some("baton".into()), id: Some("baton".into()) }),
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let (blob, size, md5) = self.write_body(input.body).await?;
        let meta = ObjectMeta {
            key: input.key,
            blob,
            size,
            etag: format!("\"{md5}\""),
            last_modified_ms: crate::store::now_ms(),
            content_type: input.content_type,
            metadata: metadata_json(input.metadata.as_ref()),
            parts: None,
        };
        let e_tag = etag(&meta.etag);
        let bucket = input.bucket;
        self.index(move |s| s.put_object(&bucket, &meta)).await?;
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(e_tag), size: Some(size as i64), ..Default::default() }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let (bucket, key) = (input.bucket.clone(), input.key.clone());
        let meta = self.index(move |s| s.object(&bucket, &key)).await?;
        check_preconditions(&meta, input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let range = match input.range {
            Some(range) => Some(
                range
                    .check(meta.size)
                    .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?,
            ),
            None => None,
        };
        let (start, end) = range.clone().map(|r| (r.start, r.end)).unwrap_or((0, meta.size));
        let mut file = tokio::fs::File::open(self.store.blob_path(&meta.blob)).await.map_err(internal)?;
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start)).await.map_err(internal)?;
        }
        let body = read_stream(file, end - start);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some((end - start) as i64),
            content_range: range.map(|_| format!("bytes {start}-{}/{}", end.saturating_sub(1), meta.size)),
            accept_ranges: Some("bytes".into()),
            content_type: meta.content_type.clone(),
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_ms)),
            metadata: metadata_of(&meta.metadata),
            parts_count: meta.parts.map(|p| p as i32),
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let (bucket, key) = (input.bucket.clone(), input.key.clone());
        let meta = self.index(move |s| s.object(&bucket, &key)).await?;
        check_preconditions(&meta, input.if_match.as_ref(), input.if_none_match.as_ref())?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(meta.size as i64),
            accept_ranges: Some("bytes".into()),
            content_type: meta.content_type.clone(),
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_ms)),
            metadata: metadata_of(&meta.metadata),
            parts_count: meta.parts.map(|p| p as i32),
            ..Default::default()
        }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket, req.input.key);
        self.index(move |s| s.delete_object(&bucket, &key)).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket;
        let quiet = req.input.delete.quiet.unwrap_or(false);
        let keys: Vec<String> = req.input.delete.objects.into_iter().map(|o| o.key).collect();
        let deleted_keys = keys.clone();
        self.index(move |s| keys.iter().try_for_each(|k| s.delete_object(&bucket, k))).await?;
        let deleted = (!quiet).then(|| {
            deleted_keys.into_iter().map(|key| DeletedObject { key: Some(key), ..Default::default() }).collect()
        });
        Ok(S3Response::new(DeleteObjectsOutput { deleted, ..Default::default() }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let CopySource::Bucket { bucket: src_bucket, key: src_key, .. } = &input.copy_source else {
            return Err(s3_error!(NotImplemented, "Copies from access points and outposts are not supported"));
        };
        let (src_bucket, src_key) = (src_bucket.to_string(), src_key.to_string());
        let source = self.index(move |s| s.object(&src_bucket, &src_key)).await?;
        let mut writer = self.store.new_blob().await.map_err(internal)?;
        let mut file = tokio::fs::File::open(self.store.blob_path(&source.blob)).await.map_err(internal)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(internal)?;
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]).await.map_err(internal)?;
        }
        let (blob, size, _) = writer.finish().await.map_err(internal)?;
        let replace = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let meta = ObjectMeta {
            key: input.key,
            blob,
            size,
            etag: source.etag.clone(),
            last_modified_ms: crate::store::now_ms(),
            content_type: if replace { input.content_type.map(|c| c.to_string()) } else { source.content_type },
            metadata: if replace { metadata_json(input.metadata.as_ref()) } else { source.metadata },
            parts: source.parts,
        };
        let result = CopyObjectResult {
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_ms)),
            ..Default::default()
        };
        let bucket = input.bucket;
        self.index(move |s| s.put_object(&bucket, &meta)).await?;
        Ok(S3Response::new(CopyObjectOutput { copy_object_result: Some(result), ..Default::default() }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(token), _) => Some(decode_token(token)?),
            (None, Some(start)) => Some(After::Key(start.clone())),
            (None, None) => None,
        };
        let max = max_keys(input.max_keys);
        let (bucket, prefix, delimiter) =
            (input.bucket.clone(), input.prefix.clone().unwrap_or_default(), input.delimiter.clone());
        let listing = self.index(move |s| s.list(&bucket, &prefix, delimiter.as_deref(), after.as_ref(), max)).await?;
        let next = listing.next_after.as_ref().map(encode_token);
        let (contents, prefixes) = split_listing(listing.entries);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(input.prefix.unwrap_or_default()),
            max_keys: Some(max as i32),
            key_count: Some((contents.len() + prefixes.len()) as i32),
            continuation_token: input.continuation_token,
            is_truncated: Some(next.is_some()),
            next_continuation_token: next,
            contents: Some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let after = input.marker.clone().filter(|m| !m.is_empty()).map(After::Key);
        let max = max_keys(input.max_keys);
        let (bucket, prefix, delimiter) =
            (input.bucket.clone(), input.prefix.clone().unwrap_or_default(), input.delimiter.clone());
        let listing = self.index(move |s| s.list(&bucket, &prefix, delimiter.as_deref(), after.as_ref(), max)).await?;
        let next_marker = listing.next_after.as_ref().map(|e| match e {
            Listed::Object(o) => o.key.clone(),
            Listed::Prefix(p) => p.clone(),
        });
        let (contents, prefixes) = split_listing(listing.entries);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(input.prefix.unwrap_or_default()),
            marker: input.marker,
            max_keys: Some(max as i32),
            is_truncated: Some(next_marker.is_some()),
            contents: Some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            next_marker: next_marker.filter(|_| input.delimiter.is_some()),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let (bucket, key) = (input.bucket.clone(), input.key.clone());
        let content_type = input.content_type.map(|c| c.to_string());
        let metadata = metadata_json(input.metadata.as_ref());
        let id = self.index(move |s| s.create_upload(&bucket, &key, content_type.as_deref(), &metadata)).await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        if !(1..=10_000).contains(&input.part_number) {
            return Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"));
        }
        let (bucket, key, id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
        self.index(move |s| s.upload(&bucket, &key, &id).map(|_| ())).await?;
        let (blob, size, md5) = self.write_body(input.body).await?;
        let part = PartMeta {
            number: input.part_number as u32,
            blob,
            size,
            etag: format!("\"{md5}\""),
            last_modified_ms: crate::store::now_ms(),
        };
        let e_tag = etag(&part.etag);
        let (bucket, key, id) = (input.bucket, input.key, input.upload_id);
        self.index(move |s| s.put_part(&bucket, &key, &id, &part)).await?;
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(e_tag), ..Default::default() }))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let (bucket, key, id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
        let parts = self.index(move |s| s.parts(&bucket, &key, &id)).await?;
        let marker = input.part_number_marker.unwrap_or(0);
        let parts: Vec<Part> = parts
            .into_iter()
            .filter(|p| p.number as i32 > marker)
            .map(|p| Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(timestamp(p.last_modified_ms)),
                part_number: Some(p.number as i32),
                size: Some(p.size as i64),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            is_truncated: Some(false),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let (bucket, key, id) = (input.bucket, input.key, input.upload_id);
        self.index(move |s| {
            s.upload(&bucket, &key, &id)?;
            s.end_upload(&id)
        })
        .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let (bucket, key, id) = (input.bucket.clone(), input.key.clone(), input.upload_id.clone());
        let (uploaded, (content_type, metadata)) =
            self.index(move |s| Ok((s.parts(&bucket, &key, &id)?, s.upload(&bucket, &key, &id)?))).await?;
        let requested = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(MalformedXML, "You must specify at least one part"));
        }
        // The parts named, in order, each matching an uploaded part and its ETag.
        let mut chosen = Vec::with_capacity(requested.len());
        let mut previous = 0;
        for part in &requested {
            let number = part.part_number.unwrap_or(0);
            if number <= previous {
                return Err(to_s3(StoreError::InvalidPartOrder));
            }
            previous = number;
            let found = uploaded.iter().find(|p| p.number as i32 == number);
            let matches = found.is_some_and(|p| {
                part.e_tag.as_ref().is_none_or(|e| e.value().trim_matches('"') == p.etag.trim_matches('"'))
            });
            match found {
                Some(p) if matches => chosen.push(p.clone()),
                _ => return Err(to_s3(StoreError::InvalidPart(number as u32))),
            }
        }
        let mut writer = self.store.new_blob().await.map_err(internal)?;
        let mut md5s = Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        for part in &chosen {
            md5s.update(hex::decode(part.etag.trim_matches('"')).unwrap_or_default());
            let mut file = tokio::fs::File::open(self.store.blob_path(&part.blob)).await.map_err(internal)?;
            loop {
                let n = file.read(&mut buf).await.map_err(internal)?;
                if n == 0 {
                    break;
                }
                writer.write(&buf[..n]).await.map_err(internal)?;
            }
        }
        let (blob, size, _) = writer.finish().await.map_err(internal)?;
        let meta = ObjectMeta {
            key: input.key.clone(),
            blob,
            size,
            etag: format!("\"{}-{}\"", hex::encode(md5s.finalize()), chosen.len()),
            last_modified_ms: crate::store::now_ms(),
            content_type,
            metadata,
            parts: Some(chosen.len() as u32),
        };
        let e_tag = etag(&meta.etag);
        let (bucket, id) = (input.bucket.clone(), input.upload_id.clone());
        self.index(move |s| {
            s.put_object(&bucket, &meta)?;
            s.end_upload(&id)
        })
        .await?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(e_tag),
            ..Default::default()
        }))
    }
}

/// If-Match / If-None-Match on reads, as S3 answers them.
fn check_preconditions(
    meta: &ObjectMeta,
    if_match: Option<&IfMatch>,
    if_none_match: Option<&IfNoneMatch>,
) -> S3Result<()> {
    let current = meta.etag.trim_matches('"');
    if let Some(m) = if_match {
        if !etag_condition_matches(m, current) {
            return Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"));
        }
    }
    if let Some(m) = if_none_match {
        if etag_condition_matches(m, current) {
            return Err(s3_error!(NotModified));
        }
    }
    Ok(())
}

fn etag_condition_matches(condition: &ETagCondition, current: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == current,
    }
}

/// `len` bytes of `file` from where it stands, as a stream of chunks.
fn read_stream(
    file: tokio::fs::File,
    len: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures_util::stream::unfold((file, len), |(mut file, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let mut buf = vec![0u8; remaining.min(256 * 1024) as usize];
        match file.read(&mut buf).await {
            Ok(0) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the object's file is shorter than its size",
                )),
                (file, 0),
            )),
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    })
}
