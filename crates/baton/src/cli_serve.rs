//! `baton serve`: the Step Functions API on the embedded store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use engine::functions::Config;
use engine::integrations::Integrations;
use engine::service::{Engine, EngineConfig, ACTIVITY_POLL_MS};
use server::arn::Arns;
use server::{router, AppState};
use store::sqlite::SqliteStore;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BATON_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (8083 is the port Step Functions Local uses).
    #[arg(long, env = "BATON_PORT", default_value_t = 8083)]
    port: u16,
    /// Where the embedded store keeps its data.
    #[arg(long, env = "BATON_DATA_DIR", default_value = "./baton-data")]
    data_dir: PathBuf,
    /// baton.toml: functions Tasks can call.
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
}

/// This node's identity in leases: kept in the data folder so a restarted node takes its
/// own leases back at once.
fn node_id(data_dir: &std::path::Path) -> Result<String> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_owned());
        }
    }
    let id = engine::random::OsRandomness::new_execution_name();
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

async fn serve(args: ServeArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data folder {}", args.data_dir.display()))?;
    let functions = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let db = args.data_dir.join("baton.db");
    let store = SqliteStore::open(&db).with_context(|| format!("cannot open the store at {}", db.display()))?;
    let config = EngineConfig {
        region: args.region.clone(),
        account: args.account.clone(),
        node_id: node_id(&args.data_dir)?,
        integrations: Integrations::with_functions(functions.clone()),
        functions,
    };
    let engine = Engine::start(Arc::new(store), config);
    let state = Arc::new(AppState {
        engine,
        arns: Arns { region: args.region.clone(), account: args.account.clone() },
        metrics: Default::default(),
        activity_poll_ms: args.activity_poll_ms,
    });
    let addr: SocketAddr = format!("{}:{}", args.host, args.port).parse().context("invalid --host/--port")?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, store = %db.display(), "baton serving the Step Functions API");
    eprintln!("baton: listening on http://{addr} (store: {})", db.display());
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("server failed")?;
    Ok(())
}

pub fn run(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
