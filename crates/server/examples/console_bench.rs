//! How fast the console's pages are with many executions in the store (a benchmark, not a
//! test). Fills a fresh SQLite store with one state machine and N executions (default
//! 100,000; 90% succeeded, 8% running, 2% failed), serves the router on loopback and times
//! each page over HTTP, reporting the median and 95th percentile.
//!
//! ```sh
//! cargo run -p server --example console_bench            # 100,000 executions
//! cargo run -p server --example console_bench -- 20000   # another size
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use server::console::html::url;
use server::serve::{assemble, ServeOptions};
use store::StateMachineRow;

const RUNS: usize = 30;

fn fill(db: &std::path::Path, machine: &str, n: usize) -> rusqlite::Result<()> {
    let mut c = rusqlite::Connection::open(db)?;
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, start, stop, definition, \
             redrive_count, version) VALUES (?1, ?2, ?3, ?4, '{}', ?5, ?6, ?7, '{}', 0, 1)",
        )?;
        let base = 1_700_000_000_000i64;
        for i in 0..n {
            let name = format!("run-{i:07}");
            let arn = format!("{}:{name}", machine.replace(":stateMachine:", ":execution:"));
            let status = match i % 50 {
                0 => "FAILED",
                1..=4 => "RUNNING",
                _ => "SUCCEEDED",
            };
            let start = base + i as i64 * 1000;
            let (output, stop) = if status == "RUNNING" { (None, None) } else { (Some("{}"), Some(start + 500)) };
            st.execute(rusqlite::params![arn, machine, name, status, output, start, stop])?;
        }
    }
    tx.commit()
}

fn get(addr: &str, path: &str) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).expect("the server listens");
    write!(s, "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").expect("request written");
    let mut body = Vec::new();
    s.read_to_end(&mut body).expect("response read");
    let took = started.elapsed();
    assert!(body.starts_with(b"HTTP/1.1 200"), "{path}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]));
    took
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("baton-console-bench-{}", std::process::id()));
    let opts = ServeOptions {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: dir.clone(),
        store: None,
        functions: Default::default(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        activity_poll_ms: 1000,
        public_url: None,
    };
    let state = assemble(&opts).await.expect("the server assembles");
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:bench".to_owned();
    let definition = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let row = StateMachineRow {
        arn: machine.clone(),
        name: "bench".into(),
        definition: definition.into(),
        role_arn: "arn:aws:iam::123456789012:role/bench".into(),
        kind: "STANDARD".into(),
        created: 0,
        updated: 0,
        revision_id: "r".into(),
        description: None,
        config: "{}".into(),
    };
    state.engine.store().insert_state_machine(&row).await.expect("machine stored");
    let filled = Instant::now();
    fill(&dir.join("baton.db"), &machine, n).expect("executions stored");
    println!("stored {n} executions in {:.1} s", filled.elapsed().as_secs_f64());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move { axum::serve(listener, server::router(state)).await });

    let m = url(&machine);
    let middle = format!("{}:run-{:07}", machine.replace(":stateMachine:", ":execution:"), n / 2);
    let pages = [
        ("state machines", "/".to_owned()),
        ("executions, first page", format!("/executions?machine={m}")),
        ("executions, page in the middle", format!("/executions?machine={m}&after={}", url(&middle))),
        ("executions, status RUNNING", format!("/executions?machine={m}&status=RUNNING")),
        ("executions, status FAILED", format!("/executions?machine={m}&status=FAILED")),
        ("executions, status ABORTED (none)", format!("/executions?machine={m}&status=ABORTED")),
        ("executions, name search", format!("/executions?machine={m}&name=run-{:07}", n / 3)),
        ("machine (graph, recent)", format!("/machine?arn={m}")),
        ("inbox", "/inbox".to_owned()),
    ];
    println!("{:<36} {:>10} {:>10}", "page", "median ms", "p95 ms");
    for (label, path) in pages {
        let addr = addr.clone();
        let times = tokio::task::spawn_blocking(move || {
            for _ in 0..3 {
                get(&addr, &path);
            }
            let mut t: Vec<Duration> = (0..RUNS).map(|_| get(&addr, &path)).collect();
            t.sort();
            t
        })
        .await
        .expect("timing thread");
        println!("{label:<36} {:>10.2} {:>10.2}", ms(times[RUNS / 2]), ms(times[RUNS * 95 / 100]));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
