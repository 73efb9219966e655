//! Durability through power loss. The embedded store runs on a VFS that wraps SQLite's own
//! and keeps, for every file, what it held at its last sync: losing power leaves exactly
//! that on the disk. At the moment each answer arrives, the power fails: every write the
//! store answered must then be in the image. With `synchronous=NORMAL` and nothing more (the
//! store before group commit), the answers come before the sync and the image lacks them.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rusqlite::ffi;
use store::sqlite::{SqliteOptions, SqliteStore};
use store::{
    Commit, Durability, ExecutionRow, Executions, MessageRow, QueueRow, Queues, TaskKind, TaskRow, TaskStatus, Tasks,
};

// ----- the power-loss VFS ----------------------------------------------------------------

/// What each file held at its last sync, by full path.
fn synced_images() -> &'static Mutex<BTreeMap<String, Vec<u8>>> {
    static IMAGES: OnceLock<Mutex<BTreeMap<String, Vec<u8>>>> = OnceLock::new();
    IMAGES.get_or_init(Default::default)
}

/// A file of the power-loss VFS: SQLite's own file inside.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    inner_words: usize,
    path: Option<String>,
}

const VFS: &str = "powerloss";

/// Register the VFS (once) and return its name.
fn power_loss_vfs() -> &'static str {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        // SAFETY: the default VFS is SQLite's and lives for the process; ours is a copy
        // with its own xOpen, leaked so it lives as long.
        unsafe {
            let inner = ffi::sqlite3_vfs_find(std::ptr::null());
            assert!(!inner.is_null(), "SQLite has a default VFS");
            let mut vfs = *inner;
            vfs.szOsFile = std::mem::size_of::<File>() as c_int;
            vfs.zName = c"powerloss".as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.pAppData = inner.cast();
            vfs.xOpen = Some(open);
            vfs.xDelete = Some(delete);
            let vfs = Box::leak(Box::new(vfs));
            assert_eq!(ffi::sqlite3_vfs_register(vfs, 0), ffi::SQLITE_OK);
        }
    });
    VFS
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let inner_vfs: *mut ffi::sqlite3_vfs = (*vfs).pAppData.cast();
    let words = usize::try_from((*inner_vfs).szOsFile).expect("a size").div_ceil(8).max(1);
    let inner: *mut ffi::sqlite3_file = Box::into_raw(vec![0u64; words].into_boxed_slice()).cast();
    let open = (*inner_vfs).xOpen.expect("the default VFS opens files");
    let rc = open(inner_vfs, name, inner, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        if let Some(close) = (*inner).pMethods.as_ref().and_then(|m| m.xClose) {
            close(inner);
        }
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(inner.cast::<u64>(), words)));
        (*file).pMethods = std::ptr::null();
        return rc;
    }
    let path = (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned());
    std::ptr::write(
        file.cast::<File>(),
        File { base: ffi::sqlite3_file { pMethods: &METHODS }, inner, inner_words: words, path },
    );
    rc
}

/// A deleted file is gone from the disk too (its folder's entry is taken as synced).
unsafe extern "C" fn delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    let inner_vfs: *mut ffi::sqlite3_vfs = (*vfs).pAppData.cast();
    let rc = (*inner_vfs).xDelete.expect("the default VFS deletes files")(inner_vfs, name, sync_dir);
    if rc == ffi::SQLITE_OK && !name.is_null() {
        synced_images().lock().expect("images").remove(CStr::from_ptr(name).to_string_lossy().as_ref());
    }
    rc
}

unsafe fn inner(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let inner = (*file.cast::<File>()).inner;
    (inner, &*(*inner).pMethods)
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let (i, m) = inner(file);
    let rc = m.xClose.expect("close")(i);
    let f = std::ptr::read(file.cast::<File>());
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(f.inner.cast::<u64>(), f.inner_words)));
    rc
}

/// The one method that does more than pass the call on: after a sync, keep the file's image.
unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let (i, m) = inner(file);
    let rc = m.xSync.expect("sync")(i, flags);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    if let Some(path) = &(*file.cast::<File>()).path {
        let mut size: ffi::sqlite3_int64 = 0;
        m.xFileSize.expect("size")(i, &mut size);
        let mut image = vec![0u8; usize::try_from(size).unwrap_or(0)];
        if !image.is_empty() {
            m.xRead.expect("read")(i, image.as_mut_ptr().cast(), image.len() as c_int, 0);
        }
        synced_images().lock().expect("images").insert(path.clone(), image);
    }
    rc
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, buf: *mut c_void, n: c_int, at: i64) -> c_int {
    let (i, m) = inner(file);
    m.xRead.expect("read")(i, buf, n, at)
}
unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, n: c_int, at: i64) -> c_int {
    let (i, m) = inner(file);
    m.xWrite.expect("write")(i, buf, n, at)
}
unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let (i, m) = inner(file);
    m.xTruncate.expect("truncate")(i, size)
}
unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    let (i, m) = inner(file);
    m.xFileSize.expect("size")(i, size)
}
unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (i, m) = inner(file);
    m.xLock.expect("lock")(i, level)
}
unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (i, m) = inner(file);
    m.xUnlock.expect("unlock")(i, level)
}
unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (i, m) = inner(file);
    m.xCheckReservedLock.expect("check lock")(i, out)
}
unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    let (i, m) = inner(file);
    m.xFileControl.expect("file control")(i, op, arg)
}
unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (i, m) = inner(file);
    m.xSectorSize.expect("sector size")(i)
}
unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (i, m) = inner(file);
    m.xDeviceCharacteristics.expect("device")(i)
}
unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    pg: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (i, m) = inner(file);
    m.xShmMap.expect("shm map")(i, pg, size, extend, out)
}
unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let (i, m) = inner(file);
    m.xShmLock.expect("shm lock")(i, offset, n, flags)
}
unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let (i, m) = inner(file);
    m.xShmBarrier.expect("shm barrier")(i)
}
unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (i, m) = inner(file);
    m.xShmUnmap.expect("shm unmap")(i, delete)
}
unsafe extern "C" fn fetch(file: *mut ffi::sqlite3_file, at: i64, n: c_int, out: *mut *mut c_void) -> c_int {
    let (i, m) = inner(file);
    match m.xFetch {
        Some(f) => f(i, at, n, out),
        None => {
            *out = std::ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}
unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, at: i64, p: *mut c_void) -> c_int {
    let (i, m) = inner(file);
    match m.xUnfetch {
        Some(f) => f(i, at, p),
        None => ffi::SQLITE_OK,
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// The disk of `dir` after a power failure now, written out to `to`: each file as it was at
/// its last sync (the shared-memory index is rebuilt from the WAL, so it is left out).
fn after_power_loss(dir: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder for the image");
    let images = synced_images().lock().expect("images");
    for (path, image) in images.iter() {
        let path = Path::new(path);
        if path.parent() == Some(dir) && !path.to_string_lossy().ends_with("-shm") {
            std::fs::write(to.join(path.file_name().expect("a file name")), image).expect("write the image");
        }
    }
}

// ----- the writes ------------------------------------------------------------------------

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-power-loss-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.canonicalize().expect("an absolute path")
}

fn execution(arn: &str) -> ExecutionRow {
    ExecutionRow {
        arn: arn.into(),
        state_machine_arn: "sm".into(),
        name: arn.into(),
        status: "RUNNING".into(),
        input: "{}".into(),
        output: None,
        error: None,
        cause: None,
        start: 1,
        stop: None,
        version_arn: None,
        alias_arn: None,
        definition: "{}".into(),
        redrive_count: 0,
        redrive_date: None,
        parent: None,
        started_by: None,
        mock_test_case: None,
        version: 0,
    }
}

/// An execution's first commit: its start event and a task waiting for the token `token`.
fn started_with_task(arn: &str, token: &[u8]) -> Commit {
    Commit {
        execution_arn: arn.into(),
        status: "RUNNING".into(),
        state: Some("waiting".into()),
        events: vec![(1, "ExecutionStarted".into())],
        tasks_added: vec![TaskRow {
            execution_arn: arn.into(),
            task_id: 1,
            kind: TaskKind::Invoke,
            resource: "arn:aws:states:::lambda:invoke.waitForTaskToken".into(),
            state_name: "Wait".into(),
            request: "{}".into(),
            token_hash: Some(token.to_vec()),
            status: TaskStatus::Submitted,
            worker: None,
            created: 1,
            lease_until: None,
            message: None,
            deadline: None,
        }],
        ..Commit::default()
    }
}

fn message(id: &str) -> MessageRow {
    MessageRow {
        queue: "q".into(),
        id: id.into(),
        body: format!("body of {id}"),
        attributes: "{}".into(),
        sent: 1,
        visible_at: 1,
        receive_count: 0,
        first_received: None,
    }
}

/// What the store has answered so far, checked against an image of the disk.
#[derive(Default)]
struct Answered {
    executions: Vec<String>,
    answers: Vec<String>,
    messages: Vec<String>,
}

impl Answered {
    /// Everything answered that the store opened on `image` lacks.
    async fn missing_from(&self, image: &Path) -> Vec<String> {
        let store = SqliteStore::open_with(&image.join("baton.db"), &SqliteOptions::default())
            .expect("the image opens as a store");
        let mut missing = Vec::new();
        for arn in &self.executions {
            if store.get_execution(arn).await.expect("get").is_none() {
                missing.push(format!("StartExecution {arn}"));
            }
        }
        for arn in &self.answers {
            let events = store.pending_events(arn).await.expect("events");
            if !events.iter().any(|(_, e)| e == &format!("answer to {arn}")) {
                missing.push(format!("SendTaskSuccess for {arn}"));
            }
        }
        let kept: Vec<String> = store.peek_messages("q", 1000).await.expect("peek").into_iter().map(|m| m.id).collect();
        for id in &self.messages {
            if !kept.contains(id) {
                missing.push(format!("SendMessage {id}"));
            }
        }
        missing
    }
}

/// Starts, answers to tasks and queue messages, the power failing as each answer arrives.
async fn writes_survive_power_loss(durability: Durability, tag: &str) -> Vec<String> {
    let dir = temp_dir(tag);
    let options = SqliteOptions { durability, vfs: Some(power_loss_vfs().into()) };
    let store = SqliteStore::open_with(&dir.join("baton.db"), &options).expect("the store opens on the VFS");
    store.create_queue(&QueueRow { name: "q".into(), attributes: "{}".into(), created: 1 }).await.expect("queue");
    let mut answered = Answered::default();
    let mut lost = Vec::new();
    for i in 0..12 {
        let arn = format!("e{i}");
        let token = format!("token-{i}").into_bytes();
        store.insert_execution(&execution(&arn), &started_with_task(&arn, &token)).await.expect("start");
        answered.executions.push(arn.clone());
        let image = dir.join(format!("image-{i}-started"));
        after_power_loss(&dir, &image);
        lost.extend(answered.missing_from(&image).await);

        let answer = format!("answer to {arn}");
        let task = store.answer_task(&token, Box::new(move |_| answer)).await.expect("answer");
        assert!(task.is_some(), "the task is open");
        answered.answers.push(arn.clone());
        let image = dir.join(format!("image-{i}-answered"));
        after_power_loss(&dir, &image);
        lost.extend(answered.missing_from(&image).await);

        store.send_message(&message(&format!("m{i}"))).await.expect("send");
        answered.messages.push(format!("m{i}"));
        let image = dir.join(format!("image-{i}-sent"));
        after_power_loss(&dir, &image);
        lost.extend(answered.missing_from(&image).await);
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    lost.sort();
    lost.dedup();
    lost
}

#[tokio::test(flavor = "multi_thread")]
async fn with_full_durability_every_answered_write_survives_power_loss() {
    let lost = writes_survive_power_loss(Durability::Full, "full").await;
    assert!(lost.is_empty(), "answered, then lost with the power: {lost:?}");
}
