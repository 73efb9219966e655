//! The HTTP fuzz target's checks: any bytes become one HTTP request (method, path, headers,
//! body) sent to Baton's real router in-process (`tower::ServiceExt::oneshot`), on a server
//! assembled once with an embedded SQLite store in a temporary folder and `[credentials]`,
//! `[console.users]` configured so the signature, sign-in and access paths run too. A finding
//! is a panic or a 5xx answer (the server's own failure, never the client's).
//!
//! Input format, so the fuzzer can reach every part: the first line is `METHOD PATH`; the
//! lines after it up to an empty line are `name: value` headers; the rest is the body.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
}

/// Ana's password is `fuzz` (10 iterations keep sign-in cheap), so a sign-in can succeed and
/// its redirect run.
const USERS: &str = r#"
[console.users.ana]
password = "pbkdf2-sha256$10$0011$bbcd89545c5824f8b0b2d75130c08f96a58a029eecdce364eb90f148e09f9f2d"
email = "ana@example.com"

[credentials.ci]
access_key_id = "AKIAFUZZ"
secret_access_key = "fuzz-secret"
user = "ana"
"#;

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for the fuzz target");
        let dir = std::env::temp_dir().join(format!("baton-http-fuzz-{}", std::process::id()));
        let config_path = dir.join("baton.toml");
        std::fs::create_dir_all(&dir).expect("the fuzz target's data folder");
        std::fs::write(&config_path, USERS).expect("the fuzz target's baton.toml");
        let functions = engine::config::Config::load(&config_path).expect("the fuzz target's config loads");
        let opts = server::serve::ServeOptions {
            host: "127.0.0.1".into(),
            port: 8083,
            data_dir: dir,
            store: None,
            functions,
            region: "us-east-1".into(),
            account: "123456789012".into(),
            activity_poll_ms: 10,
            public_url: None,
            connections: Default::default(),
            durability: Default::default(),
            allow_open: false,
        };
        let state: Arc<server::AppState> =
            runtime.block_on(server::serve::assemble(&opts)).expect("the server assembles");
        Harness { app: server::router(state), runtime }
    })
}

/// One request from `data`, through the router: no panic, no 5xx.
pub fn http(data: &[u8]) {
    let Some(request) = request_from(data) else { return };
    let h = harness();
    let app = h.app.clone();
    let response = h.runtime.block_on(async move {
        tokio::time::timeout(std::time::Duration::from_secs(30), tower::ServiceExt::oneshot(app, request)).await
    });
    let Ok(Ok(response)) = response else { return };
    let status = response.status();
    assert!(!status.is_server_error(), "the server failed on its own: {status}");
}

/// `METHOD PATH\nname: value\n...\n\nbody`; `None` when the head is not a valid request
/// (the HTTP layer in front would refuse it before the router sees it).
pub fn request_from(data: &[u8]) -> Option<Request<Body>> {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (method, path) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder().method(method).uri(path);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder.body(Body::from(body.to_vec())).ok()
}
