//! How fast the console's pages are with many executions in the store (a benchmark, not a
//! test). Fills a fresh store with one state machine and N executions (default 100,000; 90%
//! succeeded, 8% running, 2% failed), serves the router on loopback and times each page over
//! HTTP, reporting the median and 95th percentile.
//!
//! ```sh
//! cargo run --release -p server --example console_bench                         # SQLite
//! cargo run --release -p server --example console_bench -- --executions 20000  # another size
//! cargo run --release -p server --example console_bench -- \
//!     --store postgres://postgres@127.0.0.1:5432/test   # PostgreSQL
//! ```
//!
//! With PostgreSQL the benchmark makes a database of its own beside the one named
//! (`baton_console_bench`, dropped first and at the end), so it never touches that one's data.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use server::console::html::url;
use server::serve::{assemble, ServeOptions};
use store::{StateMachineRow, StateMachineType};

const RUNS: usize = 30;

/// The executions' rows, the same in both stores: (arn, name, status, output, start, stop).
fn rows(
    machine: &str,
    n: usize,
) -> impl Iterator<Item = (String, String, &'static str, Option<&'static str>, i64, Option<i64>)> + '_ {
    let base = 1_700_000_000_000i64;
    (0..n).map(move |i| {
        let name = format!("run-{i:07}");
        let arn = format!("{}:{name}", machine.replace(":stateMachine:", ":execution:"));
        let status = match i % 50 {
            0 => "FAILED",
            1..=4 => "RUNNING",
            _ => "SUCCEEDED",
        };
        let start = base + i as i64 * 1000;
        let (output, stop) = if status == "RUNNING" { (None, None) } else { (Some("{}"), Some(start + 500)) };
        (arn, name, status, output, start, stop)
    })
}

const INSERT: &str = "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, start, stop, \
                      definition, redrive_count, version)";

fn fill_sqlite(db: &std::path::Path, machine: &str, n: usize) -> rusqlite::Result<()> {
    let mut c = rusqlite::Connection::open(db)?;
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare(&format!("{INSERT} VALUES (?1, ?2, ?3, ?4, '{{}}', ?5, ?6, ?7, '{{}}', 0, 1)"))?;
        for (arn, name, status, output, start, stop) in rows(machine, n) {
            st.execute(rusqlite::params![arn, machine, name, status, output, start, stop])?;
        }
    }
    tx.commit()
}

async fn fill_postgres(url: &str, machine: &str, n: usize) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let st = client.prepare(&format!("{INSERT} VALUES ($1, $2, $3, $4, '{{}}', $5, $6, $7, '{{}}', 0, 1)")).await?;
    client.batch_execute("BEGIN").await?;
    for (arn, name, status, output, start, stop) in rows(machine, n) {
        client.execute(&st, &[&arn, &machine, &name, &status, &output, &start, &stop]).await?;
    }
    client.batch_execute("COMMIT; ANALYZE executions").await
}

/// Make a fresh database beside the one `url` names; the URL of the new one.
async fn fresh_database(url: &str, name: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("PostgreSQL reachable");
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await.expect("old bench database dropped");
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("bench database created");
    let (base, _) = url.split_once('?').unwrap_or((url, ""));
    let cut = base.rfind('/').filter(|&i| i > base.find("://").map_or(0, |s| s + 2)).unwrap_or(base.len());
    format!("{}/{name}", &base[..cut])
}

async fn drop_database(url: &str, name: &str) {
    if let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        tokio::spawn(connection);
        let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
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
    let mut n: usize = 100_000;
    let mut pg: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--executions" => n = args.next().and_then(|a| a.parse().ok()).expect("--executions N"),
            "--store" => pg = Some(args.next().expect("--store postgres://...")),
            other => panic!("unknown argument {other:?}: expected --executions N or --store postgres://..."),
        }
    }
    const BENCH_DB: &str = "baton_console_bench";
    let store = match &pg {
        Some(url) => Some(fresh_database(url, BENCH_DB).await),
        None => None,
    };
    let dir = std::env::temp_dir().join(format!("baton-console-bench-{}", std::process::id()));
    let opts = ServeOptions {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: dir.clone(),
        store: store.clone(),
        functions: Default::default(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        activity_poll_ms: 1000,
        public_url: None,
        connections: Default::default(),
        allow_open: false,
        durability: Default::default(),
    };
    let state = assemble(&opts).await.expect("the server assembles");
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:bench".to_owned();
    let definition = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let row = StateMachineRow {
        arn: machine.clone(),
        name: "bench".into(),
        definition: definition.into(),
        role_arn: "arn:aws:iam::123456789012:role/bench".into(),
        kind: StateMachineType::Standard,
        created: 0,
        updated: 0,
        revision_id: "r".into(),
        description: None,
        config: "{}".into(),
    };
    state.engine.store().insert_state_machine(&row).await.expect("machine stored");
    let filled = Instant::now();
    match &store {
        Some(url) => fill_postgres(url, &machine, n).await.expect("executions stored"),
        None => fill_sqlite(&dir.join("baton.db"), &machine, n).expect("executions stored"),
    }
    let kind = if store.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("stored {n} executions in {kind} in {:.1} s", filled.elapsed().as_secs_f64());

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
        ("executions, name search (exact)", format!("/executions?machine={m}&name=run-{:07}", n / 3)),
        ("executions, name prefix search", format!("/executions?machine={m}&name=run-00")),
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
    if let Some(url) = &pg {
        drop_database(url, BENCH_DB).await;
    }
}
