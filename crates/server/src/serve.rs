//! Assemble and run a server: the store, the engine with its integrations, the HTTP router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use engine::config::{Config, FunctionHost};
use engine::integrations::Integrations;
use engine::links::LinkSigner;
use engine::mail::Mailer;
use engine::mocks::{MockConfig, Mocks};
use engine::queues::{Queues, SendMessageTask};
use engine::service::{Engine, EngineConfig};
use engine::topics::{PublishTask, Topics};
use store::postgres::PostgresStore;
use store::sqlite::{SqliteOptions, SqliteStore};
pub use store::Durability;
use store::Store;

use crate::nested::Nested;
use crate::{router, AppState};
use engine::arn::Arns;

pub struct ServeOptions {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// `postgres://...` to share a PostgreSQL database with other nodes; `None` for the
    /// embedded store in `data_dir`.
    pub store: Option<String>,
    pub functions: Config,
    pub region: String,
    pub account: String,
    pub activity_poll_ms: u64,
    /// The URL functions reach this server at (`AWS_ENDPOINT_URL`); by default
    /// `http://HOST:PORT`, with a wildcard host read as loopback.
    pub public_url: Option<String>,
    /// How the listener treats connections.
    pub connections: ConnectionLimits,
    /// Serve on an address other machines reach although nobody signs in (no console users,
    /// no API credentials): an explicit choice, never a default.
    pub allow_open: bool,
    /// When a write is answered: once on disk (`Full`), or once handed to the OS.
    pub durability: Durability,
}

/// What one client may hold of the server: connections beyond `max_connections` wait in the
/// system's accept queue until one closes; a connection that takes longer than
/// `idle_timeout` to send a request's headers, or sits that long between requests, is
/// closed. Requests themselves (a long poll, a slow function) may take as long as they take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout: std::time::Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { max_connections: 1024, idle_timeout: std::time::Duration::from_secs(30) }
    }
}

/// This server's URL as seen from the same machine.
fn local_url(host: &str, port: u16) -> String {
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "[::1]",
        h if h.contains(':') && !h.starts_with('[') => return format!("http://[{h}]:{port}"),
        h => h,
    };
    format!("http://{host}:{port}")
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot use the data folder {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot open the store at {path}: {source}")]
    Store { path: String, source: store::StoreError },
    #[error("unsupported store {0}: use postgres://... or leave it out for the embedded store")]
    StoreUrl(String),
    #[error("invalid listen address {0}")]
    Address(String),
    #[error("{0} is reachable from other machines, and with no [console.users] and no [credentials] in baton.toml anyone who reaches it may run, read and answer everything. Configure users or credentials, listen on 127.0.0.1, or pass --allow-open (BATON_ALLOW_OPEN=true) to serve openly anyway")]
    OpenOnNetwork(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Trigger(#[from] crate::triggers::TriggerError),
    #[error("cannot create the queues of baton.toml: {0}")]
    Queues(engine::queues::QueueError),
    #[error("topics or [smtp] in baton.toml: {0}")]
    Topics(String),
    #[error("AWS settings: {0}")]
    Aws(engine::aws::AwsConfigError),
    #[error("cannot open the built-in S3 at {path}: {message}")]
    S3 { path: String, message: String },
    #[error("[credentials.{0}] in baton.toml: {1}")]
    Credentials(String, String),
    #[error("mock configuration file: {0}")]
    Mocks(engine::mocks::MockConfigError),
}

/// This node's identity in leases: kept in the data folder so a restarted node takes its
/// own leases back at once.
fn node_id(data_dir: &std::path::Path) -> Result<String, ServeError> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_owned());
        }
    }
    let id = engine::random::OsRandomness::new_execution_name();
    write_synced(&path, &id).map_err(|source| ServeError::DataDir { path: path.display().to_string(), source })?;
    Ok(id)
}

/// Write a file that is made once and relied on ever after (links signed with a key lost to
/// a power failure would stop working): it and its folder entry are on disk before use.
fn write_synced(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    std::fs::File::open(path)?.sync_all()?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir };
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The key that signs task links: made once, kept in the data folder (readable by its owner
/// only). `BATON_LINK_KEY` (hex) overrides it, so the nodes of a cluster can share one.
fn link_key(data_dir: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    let from_hex = |text: &str| -> Option<Vec<u8>> {
        let text = text.trim();
        (text.len() >= 32 && text.len().is_multiple_of(2))
            .then(|| (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect())
            .flatten()
    };
    if let Some(key) = std::env::var("BATON_LINK_KEY").ok().as_deref().and_then(from_hex) {
        return Ok(key);
    }
    let path = data_dir.join("link-key");
    if let Some(key) = std::fs::read_to_string(&path).ok().as_deref().and_then(from_hex) {
        return Ok(key);
    }
    let key: [u8; 32] = rand::random();
    let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let error = |source| ServeError::DataDir { path: path.display().to_string(), source };
    write_synced(&path, &text).map_err(error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(error)?;
    }
    Ok(key.to_vec())
}

/// Baton's own AWS client, from `[aws]` and the environment Baton was started in (not the
/// one it gives functions). An endpoint at this very server is dropped: a shell that exports
/// `AWS_ENDPOINT_URL` for the aws CLI to reach Baton must not make Baton call itself.
fn aws_client(functions: &Config, opts: &ServeOptions) -> Result<engine::aws::Aws, ServeError> {
    let env = engine::aws::Environment::process();
    let mut settings =
        engine::aws::config::Resolved::new(functions.aws.as_ref(), &env, &opts.region).map_err(ServeError::Aws)?;
    let own = [Some(local_url(&opts.host, opts.port)), opts.public_url.clone()];
    for url in own.iter().flatten() {
        for dropped in settings.without_endpoints_at(url) {
            tracing::warn!(endpoint = %dropped.url, from = %dropped.from, "this endpoint is this server; Tasks do not call AWS services there");
        }
    }
    Ok(engine::aws::Aws::from_settings(settings))
}

/// The built-in S3, unless S3 calls are configured to go elsewhere; S3 Tasks are pointed at
/// it. With `[credentials]` it checks every signature against them, and Baton's own calls
/// sign with a key made at start that only this process knows; without, nothing is checked.
fn builtin_s3(functions: &mut Config, opts: &ServeOptions) -> Result<Option<s3::Endpoint>, ServeError> {
    if functions.aws_client.reaches("s3") {
        return Ok(None);
    }
    let own = engine::aws::config::Credentials {
        access_key_id: format!("BATON{:016X}", rand::random::<u64>()),
        secret_access_key: (0..40).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect(),
        session_token: None,
    };
    let mut keys: std::collections::HashMap<String, String> =
        functions.credentials.values().map(|c| (c.access_key_id.clone(), c.secret_access_key.clone())).collect();
    if !keys.is_empty() {
        keys.insert(own.access_key_id.clone(), own.secret_access_key.clone());
    }
    let dir = opts.data_dir.join("s3");
    let endpoint = s3::Endpoint::open(&dir, &opts.region, keys)
        .map_err(|e| ServeError::S3 { path: dir.display().to_string(), message: e.to_string() })?;
    functions.aws_client = functions.aws_client.clone().with_builtin_s3(local_url(&opts.host, opts.port), own);
    Ok(Some(endpoint))
}

/// Open the store named by the options.
async fn open_store(opts: &ServeOptions) -> Result<Arc<dyn Store>, ServeError> {
    match &opts.store {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresStore::connect_durable(url, opts.durability)
                .await
                .map_err(|source| ServeError::Store { path: redact(url), source })?;
            Ok(Arc::new(store))
        }
        Some(other) => Err(ServeError::StoreUrl(redact(other))),
        None => {
            let db = opts.data_dir.join("baton.db");
            let options = SqliteOptions { durability: opts.durability, vfs: None };
            let store = SqliteStore::open_with(&db, &options)
                .map_err(|source| ServeError::Store { path: db.display().to_string(), source })?;
            Ok(Arc::new(store))
        }
    }
}

/// A store URL without its password, for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Each API key is named once, has a secret, and maps to a configured user if any.
fn check_credentials(functions: &Config) -> Result<(), ServeError> {
    let mut seen = std::collections::HashSet::new();
    for (name, c) in &functions.credentials {
        let problem = |text: String| Err(ServeError::Credentials(name.clone(), text));
        if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
            return problem("access_key_id and secret_access_key must not be empty".into());
        }
        if !seen.insert(c.access_key_id.as_str()) {
            return problem(format!("the access key id {} is listed twice", c.access_key_id));
        }
        if let Some(user) = &c.user {
            if !functions.console.users.contains_key(user) {
                return problem(format!("user = {user:?} is not under [console.users]"));
            }
        }
    }
    Ok(())
}

/// Open the store, start the engine and its integrations, and build the server's state.
pub async fn assemble(opts: &ServeOptions) -> Result<Arc<AppState>, ServeError> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(|source| ServeError::DataDir { path: opts.data_dir.display().to_string(), source })?;
    check_credentials(&opts.functions)?;
    crate::triggers::check(&opts.functions.triggers)?;
    let store = open_store(opts).await?;
    // Functions call back into this server (SDK calls inside a handler): tell them where.
    let mut functions = opts.functions.clone();
    functions.host = FunctionHost {
        endpoint_url: Some(opts.public_url.clone().unwrap_or_else(|| local_url(&opts.host, opts.port))),
        region: opts.region.clone(),
        account: opts.account.clone(),
    };
    functions.aws_client = aws_client(&functions, opts)?;
    let s3 = builtin_s3(&mut functions, opts)?;
    let link_key = link_key(&opts.data_dir)?;
    let nested = Arc::new(Nested::default());
    // Receipt handles are signed with the link key, which the nodes of a cluster share.
    let queues = Queues::new(store.clone()).with_handle_secret(&link_key);
    let links = LinkSigner::new(link_key, functions.host.endpoint_url.as_deref().unwrap_or_default());
    queues.declare(&functions.queues).await.map_err(ServeError::Queues)?;
    queues.start_consumers(&functions).map_err(ServeError::Queues)?;
    let mut integrations = Integrations::with_functions(functions.clone());
    integrations.route("arn:aws:states:::states:startExecution", nested.clone());
    if !functions.aws_client.has_own_endpoint("sqs") {
        integrations.route(engine::queues::SEND_MESSAGE, Arc::new(SendMessageTask(queues.clone())));
    }
    let mailer = match &functions.smtp {
        Some(smtp) => Some(Mailer::new(smtp).map_err(|e| ServeError::Topics(e.to_string()))?),
        None => None,
    };
    let topics = Topics::new(functions.topics.clone(), queues.clone(), mailer, &opts.region, &opts.account);
    topics.check().map_err(ServeError::Topics)?;
    topics.start().await.map_err(|e| ServeError::Topics(e.to_string()))?;
    integrations.route(engine::topics::PUBLISH, Arc::new(PublishTask(topics.clone())));
    if let Some(path) = &functions.mock_config {
        let mocks = MockConfig::load(path).map_err(ServeError::Mocks)?;
        tracing::info!(file = %path.display(), machines = mocks.machines().count(), "mocked service integrations loaded");
        integrations.set_mocks(Arc::new(Mocks::new(mocks)));
    }
    let config = EngineConfig {
        region: opts.region.clone(),
        account: opts.account.clone(),
        node_id: node_id(&opts.data_dir)?,
        integrations,
        functions,
        links: Some(links),
        reminders: true,
    };
    let engine = Engine::start(store, config);
    engine::reminder_sender::Reminders::start(engine.clone(), queues.clone(), topics.clone())
        .await
        .map_err(|e| ServeError::Topics(e.to_string()))?;
    let state = Arc::new(AppState {
        engine,
        arns: Arns { region: opts.region.clone(), account: opts.account.clone() },
        metrics: Default::default(),
        activity_poll_ms: opts.activity_poll_ms,
        queues,
        topics,
        s3,
        sign_ins: Default::default(),
    });
    nested.attach(Arc::downgrade(&state));
    Ok(state)
}

/// Whether only this machine reaches `addr`.
fn loopback_only(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// What the server checks of its callers, for the decision to serve on the network.
struct Exposure {
    users: bool,
    credentials: bool,
}

fn exposure(functions: &Config) -> Exposure {
    Exposure { users: !functions.console.users.is_empty(), credentials: !functions.credentials.is_empty() }
}

/// Refuse to serve openly on an address other machines reach, unless asked to; warn about
/// what stays open when serving there.
fn check_exposure(addr: &SocketAddr, opts: &ServeOptions) -> Result<(), ServeError> {
    if loopback_only(addr) {
        return Ok(());
    }
    let Exposure { users, credentials } = exposure(&opts.functions);
    match (users, credentials) {
        (false, false) if !opts.allow_open => Err(ServeError::OpenOnNetwork(addr.to_string())),
        (false, false) => {
            tracing::warn!(%addr, "serving openly on an address other machines reach (--allow-open): anyone who reaches it may run, read and answer everything");
            eprintln!("baton: warning: serving openly on {addr} (--allow-open): no console users, no API credentials");
            Ok(())
        }
        (true, false) => {
            tracing::warn!(%addr, "the API accepts any caller on an address other machines reach: configure [credentials] to require signed calls");
            Ok(())
        }
        (false, true) => {
            tracing::warn!(%addr, "the console is open on an address other machines reach: configure [console.users] to require sign-in");
            Ok(())
        }
        (true, true) => Ok(()),
    }
}

/// Serve until Ctrl-C.
pub async fn serve(mut opts: ServeOptions) -> Result<(), ServeError> {
    // A configuration the router cannot take is refused before anything listens.
    crate::triggers::check(&opts.functions.triggers)?;
    let host = if opts.host == "localhost" { "127.0.0.1" } else { opts.host.as_str() };
    let addr: SocketAddr = format!("{host}:{}", opts.port)
        .parse()
        .or_else(|_| format!("[{host}]:{}", opts.port).parse())
        .map_err(|_| ServeError::Address(format!("{}:{}", opts.host, opts.port)))?;
    check_exposure(&addr, &opts)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Listen { addr, source })?;
    // With --port 0 the system picks the port; functions must be told the real one.
    let addr = listener.local_addr().map_err(|source| ServeError::Listen { addr, source })?;
    opts.port = addr.port();
    let state = assemble(&opts).await?;
    let app = router(state);
    let shown = opts.store.as_deref().map_or_else(|| opts.data_dir.join("baton.db").display().to_string(), redact);
    tracing::info!(%addr, store = %shown, durability = %opts.durability, "serving the Step Functions API");
    eprintln!("baton: listening on http://{addr} (store: {shown}, durability: {})", opts.durability);
    accept_loop(listener, app, opts.connections, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}

/// Serve HTTP/1.1 connections from `listener` with `limits` until `shutdown`, then let the
/// requests in flight finish (up to 30 s).
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // The header-read timer runs from the moment a connection waits for a request's head, so
    // it also closes keep-alive connections idle that long.
    http.timer(TokioTimer::new()).header_read_timeout(limits.idle_timeout);
    tokio::pin!(shutdown);
    loop {
        // A slot first: past the cap, new connections wait in the accept queue.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // With the peer's address, so answers to tasks record where they came from.
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running 30 s after shutdown began; leaving them");
    }
}
