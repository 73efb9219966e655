//! Inputs of the HTTP fuzz target (`crates/server/fuzz`), replayed through the very check the
//! fuzzer runs (one request through the real router: no panic, no 5xx), so a fixed finding
//! stays fixed without a fuzzing toolchain: the seeds the fuzzer starts from and every input
//! saved in `fuzz/regressions/`.

#[path = "../fuzz/src/lib.rs"]
mod harness;

fn replay_folder(folder: &str) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut entries: Vec<_> = std::fs::read_dir(&dir).expect("the folder exists").flatten().collect();
    entries.sort_by_key(|e| e.path());
    let mut replayed = 0;
    for entry in entries.iter().filter(|e| e.file_name() != ".keep") {
        harness::http(&std::fs::read(entry.path()).expect("an input file"));
        replayed += 1;
    }
    replayed
}

#[test]
fn seeds_and_saved_findings_pass_through_the_router() {
    assert!(replay_folder("fuzz/seeds") >= 5);
    replay_folder("fuzz/regressions");
}

/// A sign-in whose `next` holds non-ASCII text made the redirect panic before `next` was
/// limited to visible ASCII.
#[test]
fn sign_in_with_non_ascii_next_answers() {
    let request = "POST /login\nhost: h\ncontent-type: application/x-www-form-urlencoded\n\n\
                   user=ana&password=fuzz&next=/caf\u{e9}";
    harness::http(request.as_bytes());
}
