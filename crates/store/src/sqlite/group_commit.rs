//! Group commit: an answer leaves only once its commit is on disk, and one sync of the
//! write-ahead log covers every commit made since the previous sync.
//!
//! SQLite runs at `synchronous=NORMAL` in WAL mode, so a commit is written to the WAL
//! without a sync. The writer thread counts the jobs that changed something
//! ([`GroupCommit::after_job`]); a job whose caller needs durability leaves its answer here,
//! and the syncer thread syncs the WAL and then releases every answer that sync covers.
//! Meanwhile the writer goes on with the next jobs, whose commits the next sync covers: under
//! load one sync serves many callers, and the writer never waits for the disk. Two syncer
//! threads take turns: a write that arrives while a sync runs (one that began before its
//! commit, so cannot cover it) starts the next sync at once rather than after the one in
//! flight, which matters when few callers wait, each in turn. Work that no
//! client is answered about (claims, leases, an execution's own steps, which a restart
//! derives again from what is on disk) leaves no answer here and causes no sync.
//!
//! The WAL is synced through the VFS the database was opened with, on a file handle of its
//! own: SQLite itself, and any VFS a user or a test puts beneath it, see an ordinary sync of
//! the WAL. Checkpoints need nothing from here: at `NORMAL` SQLite syncs the WAL before it
//! copies it into the database, and the database before the WAL starts over.
//!
//! Must not touch: the database's content (this module syncs a file, nothing else).

use std::collections::VecDeque;
use std::ffi::{c_int, c_void, CStr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rusqlite::{ffi, Connection};

use crate::{Result, StoreError};

/// Called with the outcome of the sync that covers a caller's commit.
pub(super) type Release = Box<dyn FnOnce(Result<()>) + Send>;

#[derive(Default)]
struct Progress {
    /// Jobs of the writer that changed something, so far.
    written: u64,
    /// How many of them are known to be on disk.
    synced: u64,
    /// How many of them the syncs begun so far cover.
    sync_begun: u64,
    /// The writer connection's `total_changes()` after its last job.
    changes: u64,
    /// Answers waiting for a sync, each with the count of writes that sync must cover.
    waiting: VecDeque<(u64, Release)>,
    /// The writer thread has ended: sync what waits, then end too.
    writer_gone: bool,
}

/// Syncer threads: one more than the single sync in flight, so a write never waits for a sync
/// that began before it.
const SYNCERS: usize = 2;

/// The writer's side of group commit; the syncer threads hold the other references.
pub(super) struct GroupCommit {
    progress: Mutex<Progress>,
    wake: Condvar,
}

impl GroupCommit {
    /// Start the syncer threads for the database the writer connection `conn` has open (each
    /// opens the WAL at its first sync).
    pub(super) fn start(conn: &Connection) -> Result<Arc<GroupCommit>> {
        let group = Arc::new(GroupCommit {
            progress: Mutex::new(Progress { changes: conn.total_changes(), ..Progress::default() }),
            wake: Condvar::new(),
        });
        for i in 0..SYNCERS {
            let (syncer, wal) = (group.clone(), WalFile::of(conn)?);
            std::thread::Builder::new()
                .name(format!("sqlite-sync-{i}"))
                .spawn(move || syncer.run(wal))
                .map_err(|e| StoreError::Backend(format!("starting a syncer thread: {e}")))?;
        }
        Ok(group)
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        // The lock guards counters only, which stay consistent whatever panicked.
        self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// On the writer thread, after each job: count its write if it made one, and hand
    /// `release` (if any) to the sync that covers every write so far.
    pub(super) fn after_job(&self, conn: &Connection, release: Option<Release>) {
        let changes = conn.total_changes();
        let mut progress = self.lock();
        if changes != progress.changes {
            progress.changes = changes;
            progress.written += 1;
        }
        let Some(release) = release else { return };
        if progress.synced >= progress.written {
            drop(progress);
            release(Ok(()));
            return;
        }
        let covering = progress.written;
        progress.waiting.push_back((covering, release));
        drop(progress);
        self.wake.notify_one();
    }

    /// The writer thread has ended: no more answers will come.
    pub(super) fn writer_stopped(&self) {
        self.lock().writer_gone = true;
        self.wake.notify_all();
    }

    /// A syncer thread: sync whenever an answer waits for a write no begun sync covers, then
    /// release the answers the sync covers.
    fn run(&self, mut wal: WalFile) {
        loop {
            let target = {
                let mut progress = self.lock();
                // Answers wait in the order of their writes: the last one needs the most.
                while progress.waiting.back().is_none_or(|(covering, _)| *covering <= progress.sync_begun) {
                    if progress.writer_gone {
                        return;
                    }
                    progress = self.wake.wait(progress).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                // Every write counted so far is in the WAL file: the writer counts a job
                // after its commit returned.
                progress.sync_begun = progress.written;
                progress.written
            };
            let outcome = wal.sync();
            if let Err(e) = &outcome {
                tracing::error!(error = %e, "syncing the write-ahead log failed; the waiting calls fail");
            }
            let released: Vec<Release> = {
                let mut progress = self.lock();
                if outcome.is_ok() {
                    progress.synced = progress.synced.max(target);
                }
                let mut released = Vec::new();
                while progress.waiting.front().is_some_and(|(covering, _)| *covering <= target) {
                    if let Some((_, release)) = progress.waiting.pop_front() {
                        released.push(release);
                    }
                }
                released
            };
            for release in released {
                release(outcome.clone().map_err(StoreError::Backend));
            }
        }
    }
}

/// The database's WAL, opened a second time through the database's own VFS, to sync it.
struct WalFile {
    vfs: *mut ffi::sqlite3_vfs,
    /// `<database>-wal`, with the extra NULs SQLite's VFSes expect after a file name.
    name: Vec<u8>,
    /// An `sqlite3_file` of the VFS's size (8-byte aligned), once opened.
    file: Option<Vec<u64>>,
}

// SAFETY: the VFS object is registered for the life of the process and thread-safe (SQLite
// calls it from every connection's thread); the file handle is used by one thread at a time.
unsafe impl Send for WalFile {}

impl WalFile {
    fn of(conn: &Connection) -> Result<WalFile> {
        let fail = |what: &str| StoreError::Backend(format!("cannot sync the write-ahead log: {what}"));
        // SAFETY: the handle is the open connection's; the file control and the file name
        // functions only read from it, and the name is copied before the connection moves on.
        unsafe {
            let db = conn.handle();
            let mut vfs: *mut ffi::sqlite3_vfs = std::ptr::null_mut();
            let rc = ffi::sqlite3_file_control(
                db,
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_VFS_POINTER,
                (&mut vfs as *mut *mut ffi::sqlite3_vfs).cast::<c_void>(),
            );
            if rc != ffi::SQLITE_OK || vfs.is_null() {
                return Err(fail("the database's VFS is unknown"));
            }
            let db_name = ffi::sqlite3_db_filename(db, c"main".as_ptr());
            if db_name.is_null() || *db_name == 0 {
                return Err(fail("the database has no file"));
            }
            let wal = ffi::sqlite3_filename_wal(db_name);
            if wal.is_null() || *wal == 0 {
                return Err(fail("the database has no WAL file"));
            }
            let mut name = CStr::from_ptr(wal).to_bytes_with_nul().to_vec();
            name.extend_from_slice(&[0, 0, 0]);
            Ok(WalFile { vfs, name, file: None })
        }
    }

    fn handle(&mut self) -> std::result::Result<*mut ffi::sqlite3_file, String> {
        if let Some(file) = &mut self.file {
            return Ok(file.as_mut_ptr().cast());
        }
        // SAFETY: `vfs` is a registered VFS; the buffer is zeroed, as large as the VFS asks
        // and aligned for it; `name` outlives the open file (it is dropped after `close`).
        unsafe {
            let size = usize::try_from((*self.vfs).szOsFile).unwrap_or(0).max(std::mem::size_of::<ffi::sqlite3_file>());
            let mut file = vec![0u64; size.div_ceil(8)];
            let ptr: *mut ffi::sqlite3_file = file.as_mut_ptr().cast();
            let open = (*self.vfs).xOpen.ok_or("the VFS cannot open files")?;
            let mut out_flags: c_int = 0;
            // CREATE makes the VFS sync the folder too at the first sync, so the WAL's own
            // directory entry is durable.
            let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_WAL;
            let rc = open(self.vfs, self.name.as_ptr().cast(), ptr, flags, &mut out_flags);
            if rc != ffi::SQLITE_OK {
                close(ptr);
                return Err(format!("opening the write-ahead log failed (SQLite error {rc})"));
            }
            self.file = Some(file);
            Ok(ptr)
        }
    }

    fn sync(&mut self) -> std::result::Result<(), String> {
        let file = self.handle()?;
        // SAFETY: `file` was opened by the VFS and stays open until `self` is dropped.
        let rc = unsafe {
            match (*file).pMethods.as_ref().and_then(|m| m.xSync) {
                Some(sync) => sync(file, ffi::SQLITE_SYNC_NORMAL),
                None => return Err("the VFS cannot sync files".into()),
            }
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(format!("syncing the write-ahead log failed (SQLite error {rc})"))
        }
    }
}

/// Close a file the VFS opened (or tried to: `pMethods` says whether there is anything to close).
///
/// # Safety
/// `file` points to an `sqlite3_file` filled in by a VFS's `xOpen`.
unsafe fn close(file: *mut ffi::sqlite3_file) {
    if let Some(close) = (*file).pMethods.as_ref().and_then(|m| m.xClose) {
        close(file);
    }
}

impl Drop for WalFile {
    fn drop(&mut self) {
        if let Some(file) = &mut self.file {
            // SAFETY: opened by `handle`, closed once, here.
            unsafe { close(file.as_mut_ptr().cast()) }
        }
    }
}
