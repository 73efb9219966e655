//! `baton serve`: the Step Functions API on the embedded SQLite store or a shared PostgreSQL
//! database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use engine::config::Config;
use engine::service::ACTIVITY_POLL_MS;
use server::serve::{serve, Durability, ServeOptions};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BATON_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (8083 is the port Step Functions Local uses).
    #[arg(long, env = "BATON_PORT", default_value_t = 8083)]
    port: u16,
    /// The data folder: the embedded SQLite store (baton.db), the link key and the node's id
    /// (with --store, only the last two).
    #[arg(long, env = "BATON_DATA_DIR", default_value = "./baton-data")]
    data_dir: PathBuf,
    /// The store: without it the embedded SQLite store in --data-dir; a PostgreSQL URL
    /// (postgres://user:password@host/db) shares one database between several nodes.
    #[arg(long, env = "BATON_STORE")]
    store: Option<String>,
    /// baton.toml: functions Tasks can call, triggers, HTTP Task settings.
    #[arg(long, env = "BATON_CONFIG")]
    config: Option<PathBuf>,
    /// Region in the ARNs this server hands out.
    #[arg(long, env = "BATON_REGION", default_value = "us-east-1")]
    region: String,
    /// Account in the ARNs this server hands out.
    #[arg(long, env = "BATON_ACCOUNT", default_value = "123456789012")]
    account: String,
    /// How long GetActivityTask waits for work, in milliseconds.
    #[arg(long, env = "BATON_ACTIVITY_POLL_MS", default_value_t = ACTIVITY_POLL_MS)]
    activity_poll_ms: u64,
    /// The URL functions use to reach this server (their AWS_ENDPOINT_URL); default
    /// http://HOST:PORT.
    #[arg(long, env = "BATON_PUBLIC_URL")]
    public_url: Option<String>,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "BATON_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed.
    #[arg(long, env = "BATON_IDLE_TIMEOUT_SECONDS", default_value_t = 30)]
    idle_timeout_seconds: u64,
    /// Serve on an address other machines reach although nobody signs in (no
    /// [console.users], no [credentials]). Refused without it.
    #[arg(long, env = "BATON_ALLOW_OPEN")]
    allow_open: bool,
    /// When a write is answered: `full` (the default) once it is on disk, so it survives
    /// power loss; `relaxed` once the operating system has it, so it survives Baton
    /// crashing but power loss may take the last moments of writes. Default from `[store]
    /// durability` in baton.toml.
    #[arg(long, env = "BATON_DURABILITY")]
    durability: Option<Durability>,
    /// Step Functions Local's MockConfigFile.json: executions started on
    /// `stateMachineArn#TestCase` get its mocked responses. Default from `mock_config` in
    /// baton.toml.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    mock_config: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let functions = match &args.config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    let mut functions = functions;
    if let Some(path) = args.mock_config {
        functions.mock_config = Some(path);
    }
    let durability = args.durability.or(functions.store.durability).unwrap_or_default();
    let opts = ServeOptions {
        host: args.host,
        port: args.port,
        data_dir: args.data_dir,
        store: args.store,
        functions,
        region: args.region,
        account: args.account,
        activity_poll_ms: args.activity_poll_ms,
        public_url: args.public_url,
        connections: server::serve::ConnectionLimits {
            max_connections: args.max_connections,
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout_seconds.max(1)),
        },
        allow_open: args.allow_open,
        durability,
    };
    return_freed_memory();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// How often freed heap memory is handed back to the system.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// glibc's allocator keeps a heap per busy thread (the runtime's workers, each SQLite
/// connection's thread) and holds on to what each ever needed at its busiest, so a server's
/// memory would creep up with the work it has done rather than stay with what it keeps.
/// Nothing of a paused execution is kept in memory; `malloc_trim` every two seconds returns
/// the free pages of every heap, keeping memory flat however many executions wait.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // At most two heaps besides the main one: fewer half-empty heaps to begin with.
        // SAFETY: mallopt only sets an allocator parameter; it is called before other threads start.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        let spawned = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| loop {
            std::thread::sleep(TRIM_EVERY);
            // SAFETY: malloc_trim only releases free memory; it takes the allocator's own locks.
            unsafe {
                libc::malloc_trim(0);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start returning freed memory to the system");
        }
    }
}
