//! Buckets and objects on disk: an SQLite index (`index.db`) beside immutable content files
//! (`blobs/`). An object's bytes are written to a new file first and fsynced; the index row
//! that names the file is committed after, so a crash leaves either the old object or the new
//! one, never a torn one. A replaced or deleted object's file is removed after the commit (a
//! crash in between leaves an orphan file, swept at the next start).
//!
//! Keys are kept as BLOBs so SQLite compares them byte by byte: the order S3 lists them in
//! (UTF-8 binary order).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::io::AsyncWriteExt;

/// What the index knows of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub blob: String,
    pub size: u64,
    /// Quoted, as S3 sends it: `"<md5>"` or `"<md5 of part md5s>-<parts>"`.
    pub etag: String,
    pub last_modified_ms: i64,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`) as a JSON object of strings.
    pub metadata: String,
    pub parts: Option<u32>,
}

/// A multipart upload's part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    pub number: u32,
    pub blob: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
}

/// One entry of a listing: an object, or a common prefix that stands for several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    Object(ObjectMeta),
    Prefix(String),
}

/// A page of a listing.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Listed>,
    /// The entry to continue after, when the page is full and more follow.
    pub next_after: Option<Listed>,
}

/// Where a listing starts: after a key (StartAfter, a page that ended on an object), or after
/// every key under a common prefix (a page that ended on one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Key(String),
    Prefix(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("NoSuchBucket")]
    NoSuchBucket,
    #[error("NoSuchKey")]
    NoSuchKey,
    #[error("NoSuchUpload")]
    NoSuchUpload,
    #[error("BucketAlreadyOwnedByYou")]
    BucketExists,
    #[error("BucketNotEmpty")]
    BucketNotEmpty,
    #[error("InvalidPart: part {0}")]
    InvalidPart(u32),
    #[error("InvalidPartOrder")]
    InvalidPartOrder,
    #[error("the object index: {0}")]
    Index(#[from] rusqlite::Error),
    #[error("the object files: {0}")]
    Io(#[from] io::Error),
}

/// The buckets and objects under one folder.
pub struct Store {
    dir: PathBuf,
    index: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    parts INTEGER,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload TEXT NOT NULL,
    number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload, number)
) WITHOUT ROWID;
";

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn new_blob_name() -> String {
    let id: u128 = rand::random();
    format!("{id:032x}")
}

/// A content file being written: bytes go to a new file in `blobs/`, hashed on the way.
pub struct BlobWriter {
    name: String,
    path: PathBuf,
    file: tokio::fs::File,
    md5: Md5,
    size: u64,
}

impl BlobWriter {
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes).await?;
        self.md5.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Flush the file to disk; the blob's name, size and hex MD5.
    pub async fn finish(mut self) -> io::Result<(String, u64, String)> {
        self.file.flush().await?;
        self.file.sync_data().await?;
        Ok((self.name, self.size, hex::encode(self.md5.finalize())))
    }

    /// Give up: remove the file.
    pub async fn discard(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

impl Store {
    /// Open (or create) the store in `dir`, and sweep content files no index row names.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        let conn = Connection::open(dir.join("index.db"))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")?;
        conn.execute_batch(SCHEMA)?;
        let store = Self { dir: dir.to_owned(), index: Mutex::new(conn) };
        store.sweep_orphans()?;
        Ok(store)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn blob_path(&self, blob: &str) -> PathBuf {
        self.dir.join("blobs").join(blob)
    }

    fn remove_blobs(&self, blobs: impl IntoIterator<Item = String>) {
        for blob in blobs {
            if let Err(e) = std::fs::remove_file(self.blob_path(&blob)) {
                tracing::warn!(blob, error = %e, "could not remove a replaced object's file");
            }
        }
    }

    fn sweep_orphans(&self) -> Result<(), StoreError> {
        let known: HashSet<String> = {
            let conn = self.conn();
            let mut names = HashSet::new();
            for sql in ["SELECT blob FROM objects", "SELECT blob FROM parts"] {
                let mut stmt = conn.prepare(sql)?;
                for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
                    names.insert(row?);
                }
            }
            names
        };
        for entry in std::fs::read_dir(self.dir.join("blobs"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    pub async fn new_blob(&self) -> io::Result<BlobWriter> {
        let name = new_blob_name();
        let path = self.blob_path(&name);
        let file = tokio::fs::File::create(&path).await?;
        Ok(BlobWriter { name, path, file, md5: Md5::new(), size: 0 })
    }

    pub fn create_bucket(&self, name: &str) -> Result<(), StoreError> {
        let inserted = self
            .conn()
            .execute("INSERT OR IGNORE INTO buckets (name, created_ms) VALUES (?1, ?2)", params![name, now_ms()])?;
        if inserted == 0 {
            return Err(StoreError::BucketExists);
        }
        Ok(())
    }

    pub fn bucket_exists(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.conn().query_row("SELECT 1 FROM buckets WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some())
    }

    fn require_bucket(conn: &Connection, name: &str) -> Result<(), StoreError> {
        conn.query_row("SELECT 1 FROM buckets WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .ok_or(StoreError::NoSuchBucket)
    }

    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        Self::require_bucket(&conn, name)?;
        let has_objects =
            conn.query_row("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1", [name], |_| Ok(())).optional()?.is_some();
        if has_objects {
            return Err(StoreError::BucketNotEmpty);
        }
        conn.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
        Ok(())
    }

    /// Every bucket with its creation time, by name.
    pub fn buckets(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, created_ms FROM buckets ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn object_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectMeta> {
        let key: Vec<u8> = row.get(0)?;
        Ok(ObjectMeta {
            key: String::from_utf8_lossy(&key).into_owned(),
            blob: row.get(1)?,
            size: row.get::<_, i64>(2)? as u64,
            etag: row.get(3)?,
            last_modified_ms: row.get(4)?,
            content_type: row.get(5)?,
            metadata: row.get(6)?,
            parts: row.get::<_, Option<i64>>(7)?.map(|p| p as u32),
        })
    }

    const OBJECT_COLUMNS: &'static str = "key, blob, size, etag, modified_ms, content_type, metadata, parts";

    pub fn object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let sql = format!("SELECT {} FROM objects WHERE bucket = ?1 AND key = ?2", Self::OBJECT_COLUMNS);
        conn.query_row(&sql, params![bucket, key.as_bytes()], Self::object_from_row)
            .optional()?
            .ok_or(StoreError::NoSuchKey)
    }

    /// Record an object whose bytes are in `meta.blob`; the file of the object it replaces is
    /// removed.
    pub fn put_object(&self, bucket: &str, meta: &ObjectMeta) -> Result<(), StoreError> {
        let replaced = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            if let Err(e) = Self::require_bucket(&tx, bucket) {
                drop(tx);
                drop(conn);
                self.remove_blobs([meta.blob.clone()]);
                return Err(e);
            }
            let replaced: Option<String> = tx
                .query_row(
                    "SELECT blob FROM objects WHERE bucket = ?1 AND key = ?2",
                    params![bucket, meta.key.as_bytes()],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT OR REPLACE INTO objects (bucket, key, blob, size, etag, modified_ms, content_type, metadata, parts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    bucket,
                    meta.key.as_bytes(),
                    meta.blob,
                    meta.size as i64,
                    meta.etag,
                    meta.last_modified_ms,
                    meta.content_type,
                    meta.metadata,
                    meta.parts.map(i64::from)
                ],
            )?;
            tx.commit()?;
            replaced
        };
        self.remove_blobs(replaced);
        Ok(())
    }

    /// Delete an object; deleting one that does not exist is no error (as S3).
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let removed = {
            let conn = self.conn();
            Self::require_bucket(&conn, bucket)?;
            conn.query_row(
                "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING blob",
                params![bucket, key.as_bytes()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        };
        self.remove_blobs(removed);
        Ok(())
    }

    /// A page of the bucket's keys that start with `prefix`, after `after` (exclusive), with
    /// keys that hold `delimiter` after the prefix rolled up into common prefixes.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&After>,
        max: usize,
    ) -> Result<Listing, StoreError> {
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let upper = prefix_upper_bound(prefix.as_bytes());
        let sql = format!(
            "SELECT {} FROM objects WHERE bucket = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3)
             ORDER BY key LIMIT ?4",
            Self::OBJECT_COLUMNS
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut listing = Listing::default();
        // The smallest key the next query may return (inclusive).
        let after_bound = match after {
            None => None,
            Some(After::Key(key)) => Some(successor(key.as_bytes())),
            Some(After::Prefix(common)) => match prefix_upper_bound(common.as_bytes()) {
                Some(bound) => Some(bound),
                None => return Ok(listing),
            },
        };
        let mut lower: Vec<u8> = match after_bound {
            Some(bound) if bound.as_slice() > prefix.as_bytes() => bound,
            _ => prefix.as_bytes().to_vec(),
        };
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let batch = (max + 1).clamp(2, 1001);
        'pages: loop {
            let rows: Vec<ObjectMeta> = stmt
                .query_map(params![bucket, lower.as_slice(), upper.as_deref(), batch as i64], Self::object_from_row)?
                .collect::<Result<_, _>>()?;
            let exhausted = rows.len() < batch;
            for object in rows {
                if listing.entries.len() == max {
                    listing.next_after = listing.entries.last().cloned();
                    break 'pages;
                }
                let rolled_up = delimiter.and_then(|d| {
                    object.key[prefix.len()..].find(d).map(|at| object.key[..prefix.len() + at + d.len()].to_owned())
                });
                match rolled_up {
                    Some(common) => {
                        // Every other key under this common prefix is skipped at once.
                        let Some(next) = prefix_upper_bound(common.as_bytes()) else {
                            listing.entries.push(Listed::Prefix(common));
                            break 'pages;
                        };
                        lower = next;
                        listing.entries.push(Listed::Prefix(common));
                        continue 'pages;
                    }
                    None => {
                        lower = successor(object.key.as_bytes());
                        listing.entries.push(Listed::Object(object));
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(listing)
    }

    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        metadata: &str,
    ) -> Result<String, StoreError> {
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let id = new_blob_name();
        conn.execute(
            "INSERT INTO uploads (id, bucket, key, created_ms, content_type, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, bucket, key.as_bytes(), now_ms(), content_type, metadata],
        )?;
        Ok(id)
    }

    fn require_upload(
        conn: &Connection,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<(Option<String>, String), StoreError> {
        conn.query_row(
            "SELECT content_type, metadata FROM uploads WHERE id = ?1 AND bucket = ?2 AND key = ?3",
            params![id, bucket, key.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(StoreError::NoSuchUpload)
    }

    pub fn put_part(&self, bucket: &str, key: &str, id: &str, part: &PartMeta) -> Result<(), StoreError> {
        let replaced = {
            let conn = self.conn();
            if let Err(e) = Self::require_upload(&conn, bucket, key, id) {
                drop(conn);
                self.remove_blobs([part.blob.clone()]);
                return Err(e);
            }
            let replaced: Option<String> = conn
                .query_row("SELECT blob FROM parts WHERE upload = ?1 AND number = ?2", params![id, part.number], |r| {
                    r.get(0)
                })
                .optional()?;
            conn.execute(
                "INSERT OR REPLACE INTO parts (upload, number, blob, size, etag, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, part.number, part.blob, part.size as i64, part.etag, part.last_modified_ms],
            )?;
            replaced
        };
        self.remove_blobs(replaced);
        Ok(())
    }

    pub fn parts(&self, bucket: &str, key: &str, id: &str) -> Result<Vec<PartMeta>, StoreError> {
        let conn = self.conn();
        Self::require_upload(&conn, bucket, key, id)?;
        let mut stmt =
            conn.prepare("SELECT number, blob, size, etag, modified_ms FROM parts WHERE upload = ?1 ORDER BY number")?;
        let rows = stmt.query_map([id], |r| {
            Ok(PartMeta {
                number: r.get::<_, i64>(0)? as u32,
                blob: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                etag: r.get(3)?,
                last_modified_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The upload's content type and metadata.
    pub fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<(Option<String>, String), StoreError> {
        Self::require_upload(&self.conn(), bucket, key, id)
    }

    /// End an upload: its row and its parts' rows and files go.
    pub fn end_upload(&self, id: &str) -> Result<(), StoreError> {
        let blobs: Vec<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let blobs = {
                let mut stmt = tx.prepare("DELETE FROM parts WHERE upload = ?1 RETURNING blob")?;
                let rows = stmt.query_map([id], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            tx.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
            tx.commit()?;
            blobs
        };
        self.remove_blobs(blobs);
        Ok(())
    }
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// when there is none (empty prefix, or all 0xff).
fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < 0xff {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

/// The smallest byte string greater than `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &Store, bucket: &str, key: &str, body: &[u8]) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (blob, size, md5) = runtime.block_on(async {
            let mut w = store.new_blob().await.unwrap();
            w.write(body).await.unwrap();
            w.finish().await.unwrap()
        });
        let meta = ObjectMeta {
            key: key.into(),
            blob,
            size,
            etag: format!("\"{md5}\""),
            last_modified_ms: now_ms(),
            content_type: None,
            metadata: "{}".into(),
            parts: None,
        };
        store.put_object(bucket, &meta).unwrap();
    }

    fn names(listing: &Listing) -> Vec<String> {
        listing
            .entries
            .iter()
            .map(|e| match e {
                Listed::Object(o) => o.key.clone(),
                Listed::Prefix(p) => format!("{p}*"),
            })
            .collect()
    }

    #[test]
    fn listings_roll_up_common_prefixes_and_page_in_byte_order() {
        let dir = tempdir();
        let store = Store::open(&dir).unwrap();
        store.create_bucket("b").unwrap();
        for key in ["a.csv", "logs/1", "logs/2", "logs/x/3", "m", "ü", "z/1", "z/2"] {
            put(&store, "b", key, key.as_bytes());
        }
        let all = store.list("b", "", Some("/"), None, 1000).unwrap();
        assert_eq!(names(&all), ["a.csv", "logs/*", "m", "z/*", "ü"]);
        assert_eq!(all.next_after, None);

        let under = store.list("b", "logs/", Some("/"), None, 1000).unwrap();
        assert_eq!(names(&under), ["logs/1", "logs/2", "logs/x/*"]);

        let first = store.list("b", "", Some("/"), None, 2).unwrap();
        assert_eq!(names(&first), ["a.csv", "logs/*"]);
        let after = |l: &Listing| match l.next_after.clone() {
            Some(Listed::Object(o)) => Some(After::Key(o.key)),
            Some(Listed::Prefix(p)) => Some(After::Prefix(p)),
            None => None,
        };
        let next = store.list("b", "", Some("/"), after(&first).as_ref(), 2).unwrap();
        assert_eq!(names(&next), ["m", "z/*"]);
        let last = store.list("b", "", Some("/"), after(&next).as_ref(), 2).unwrap();
        assert_eq!(names(&last), ["ü"]);
        assert_eq!(last.next_after, None);

        let started = store.list("b", "", None, Some(&After::Key("logs/2".into())), 1000).unwrap();
        assert_eq!(names(&started), ["logs/x/3", "m", "z/1", "z/2", "ü"]);
        let flat = store.list("b", "z", None, None, 1000).unwrap();
        assert_eq!(names(&flat), ["z/1", "z/2"]);
    }

    #[test]
    fn replaced_and_deleted_objects_leave_no_files_behind() {
        let dir = tempdir();
        let store = Store::open(&dir).unwrap();
        store.create_bucket("b").unwrap();
        put(&store, "b", "k", b"one");
        put(&store, "b", "k", b"two");
        assert_eq!(std::fs::read_dir(dir.join("blobs")).unwrap().count(), 1);
        store.delete_object("b", "k").unwrap();
        assert_eq!(std::fs::read_dir(dir.join("blobs")).unwrap().count(), 0);
        assert!(matches!(store.object("b", "k"), Err(StoreError::NoSuchKey)));
        assert!(matches!(store.object("nope", "k"), Err(StoreError::NoSuchBucket)));
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("baton-s3-{}", new_blob_name()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
