//! The Switchboard server: wiring the store, the bus, the engine and the API
//! together, start-up, and graceful shutdown.
//!
//! [`serve`] takes an already-bound listener and a shutdown future, so a test
//! binds port 0, spawns it, and stops it when it likes; two servers can run in
//! one process, though not on one SQLite database file (see [`lock`]).

#![forbid(unsafe_code)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use switchboard_api::metrics::Metrics;
use switchboard_api::{AppState, router};
use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::engine::Engine;
use switchboard_core::engine::router::PresenceSettings;
use switchboard_core::model::Workspace;
use switchboard_core::token::Secret;
use switchboard_store::StoreConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod cli;
pub mod config;
pub mod demo;
pub mod files;
pub mod lock;
pub mod nats;
pub mod outside;

pub use config::Config;

/// Notices a conversation's channel holds for a slow reader before the
/// reader falls back to reading the store.
const BUS_CAPACITY: usize = 32;

/// How long shutdown waits for WebSockets to send their close frames.
const SOCKET_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub fn store_config(c: &config::StorageConfig, metrics: Option<Arc<Metrics>>) -> StoreConfig {
    let mut s = StoreConfig::new(c.database_url());
    s.pool_size = c.db_pool_size;
    s.max_batch = c.max_batch;
    s.sqlite_synchronous_full = c.sqlite_sync == config::Durability::Full;
    s.observer = metrics.map(|m| m as Arc<dyn switchboard_core::store::CommitObserver>);
    s
}

/// Runs the server on `listener` until `shutdown` completes, then stops
/// taking requests, closes sockets with a close frame, lets in-flight
/// commits finish and returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, config, shutdown, |_| {}).await
}

/// [`serve`], handing the running engine to `started` once it is built:
/// tests use it to drive what the server's loops do on a clock (a retention
/// pass as of a later day, say) against the server's own writer.
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    started: impl FnOnce(Arc<Engine>) + Send,
) -> anyhow::Result<()> {
    // On SQLite, one process per database file: held until this returns.
    let _lock = lock::lock(&config.storage, &lock::Holder::this_process("serve", Some(listener.local_addr()?)))?;
    let metrics = Arc::new(Metrics::new());
    let local = Arc::new(LocalBus::new(BUS_CAPACITY));
    let bus: Arc<dyn switchboard_core::bus::Bus> = match &config.nats_url {
        Some(url) => nats::NatsBus::connect(url, &config.nats_subject, local).await?,
        None => local,
    };
    let clock = Arc::new(SystemClock);
    let store =
        switchboard_store::open(&store_config(&config.storage, Some(metrics.clone())), bus.clone(), clock.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("opening the database")?;
    let files = files::files(&config.files, &config.storage)?;
    tracing::info!(files = %files.blobs.describe(), scan = files.scanner.is_some(), "file storage");
    let engine = Arc::new(Engine::new(store.clone(), bus, clock, config.limits()).with_files(files));

    bootstrap(&engine, config.admin_key.clone(), &config.storage.data_dir).await?;
    started(engine.clone());

    let stop = CancellationToken::new();
    let timers = tokio::spawn(engine.clone().run_timers(stop.clone().cancelled_owned()));
    let router_loop = config.router.then(|| tokio::spawn(engine.clone().run_router(stop.clone().cancelled_owned())));
    let presence = PresenceSettings { grace: std::time::Duration::from_secs(config.presence_grace_secs.max(1)) };
    let presence_loop = tokio::spawn(engine.clone().run_presence(presence, stop.clone().cancelled_owned()));
    let http: Arc<dyn switchboard_core::flows::outside::HttpClient> = Arc::new(outside::Reqwest::new()?);
    let outbox_loop = tokio::spawn(engine.clone().run_outbox(http, stop.clone().cancelled_owned()));
    let sweep_loop = tokio::spawn(engine.clone().run_flow_sweeps(stop.clone().cancelled_owned()));
    let stats_loop = tokio::spawn(engine.clone().run_stats_sampler(stop.clone().cancelled_owned()));
    let retention_loop = (config.retention_interval_secs > 0).then(|| {
        let every = std::time::Duration::from_secs(config.retention_interval_secs);
        tokio::spawn(engine.clone().run_retention(every, config.retention_batch(), stop.clone().cancelled_owned()))
    });
    let tasks = TaskTracker::new();
    let mut api = config.api();
    if config.public_url.is_none() {
        // Listening on port 0: the URLs handed out name the port bound.
        api.public_url = format!("http://{}", listener.local_addr()?);
    }
    let connect = switchboard_dialect_connect::ConnectState {
        engine: engine.clone(),
        public_url: api.public_url.as_str().into(),
        max_body_bytes: api.max_body_bytes,
        shutdown: stop.clone(),
        tasks: tasks.clone(),
    };
    let state = AppState { engine, metrics, config: Arc::new(api), shutdown: stop.clone(), tasks: tasks.clone() };
    // The Amazon Connect dialect beside the native API (the native router
    // keeps the fallback for every other path); its requests are timed in
    // the same metrics, by route.
    let track = axum::middleware::from_fn_with_state(state.clone(), switchboard_api::metrics::track);
    let app = switchboard_dialect_connect::router(connect).layer(track).merge(router(state));
    tracing::info!(address = %listener.local_addr()?, store = store.backend(), "listening");

    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal.cancel();
    });
    let graceful = stop.clone();
    // Frames are small and answered at once (an ack right after an event):
    // Nagle's algorithm would hold each one back for the previous one's ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(async move { graceful.cancelled().await }).await?;
    tracing::info!("stopped taking requests; closing sockets and finishing commits");
    tasks.close();
    if tokio::time::timeout(SOCKET_CLOSE_GRACE, tasks.wait()).await.is_err() {
        tracing::warn!(open = tasks.len(), "some sockets did not close in time");
    }
    let _ = tokio::join!(timers, presence_loop, outbox_loop, sweep_loop, stats_loop);
    for handle in router_loop.into_iter().chain(retention_loop) {
        let _ = handle.await;
    }
    store.close().await;
    tracing::info!("shut down");
    Ok(())
}

/// Makes sure the workspace and an admin key exist; a generated key is
/// printed once and written to DATA_DIR/admin-key.
pub async fn bootstrap(engine: &Engine, admin_key: Option<String>, data_dir: &Path) -> anyhow::Result<Workspace> {
    let admin = admin_key.map(Secret::from_operator);
    let boot = engine.bootstrap(admin).await.map_err(|e| anyhow::anyhow!("{e}")).context("setting up the workspace")?;
    if let Some(ep) = &boot.entry_point {
        tracing::info!(entry_point = %ep.id, "created the default workspace and entry point");
    }
    if let Some(key) = &boot.generated_key {
        let path = data_dir.join("admin-key");
        write_secret(&path, key.expose()).with_context(|| format!("writing {}", path.display()))?;
        println!("Admin API key (shown once; also saved to {}):\n  {}", path.display(), key.expose());
    }
    Ok(boot.workspace)
}

/// Writes a secret readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received");
}
