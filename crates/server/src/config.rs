//! The server's configuration: one struct, every field a flag with a
//! `SWITCHBOARD_*` environment fallback and a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use switchboard_api::ApiConfig;
use switchboard_core::engine::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// fsync at every commit: an acknowledged message survives a power cut.
    Full,
    /// fsync at checkpoints: survives a crash of the process, not of the machine.
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct StorageConfig {
    /// Directory for the embedded database, the generated admin key and files.
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// `sqlite://PATH` or `postgres://USER@HOST/DB`; the backend follows the
    /// scheme. Default: `sqlite://DATA_DIR/switchboard.db`.
    #[arg(long, global = true, env = "SWITCHBOARD_DATABASE_URL")]
    pub database_url: Option<String>,

    /// SQLite durability.
    #[arg(long, global = true, env = "SWITCHBOARD_SQLITE_SYNC", value_enum, default_value = "full")]
    pub sqlite_sync: Durability,

    /// Database connections for reads.
    #[arg(long, global = true, env = "SWITCHBOARD_DB_POOL_SIZE", default_value_t = 4)]
    pub db_pool_size: u32,

    /// Most commands one group-commit transaction takes.
    #[arg(long, global = true, env = "SWITCHBOARD_MAX_BATCH", default_value_t = 1024)]
    pub max_batch: usize,
}

impl StorageConfig {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("switchboard.db").display()))
    }
}

/// Where attachments are stored, and the scan hook.
#[derive(Debug, Clone, Args)]
pub struct FilesConfig {
    /// Directory for attachments. Default: DATA_DIR/files. Ignored with `--s3-bucket`.
    #[arg(long, env = "SWITCHBOARD_FILES_DIR")]
    pub files_dir: Option<PathBuf>,

    /// Store attachments in this S3 (or S3-compatible) bucket instead.
    #[arg(long, env = "SWITCHBOARD_S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// The S3-compatible service's URL (MinIO, Ceph, …); default: AWS.
    #[arg(long, env = "SWITCHBOARD_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    #[arg(long, env = "SWITCHBOARD_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// Default: AWS_ACCESS_KEY_ID.
    #[arg(long, env = "SWITCHBOARD_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// Default: AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "SWITCHBOARD_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// A command that must approve each file: it reads the file on stdin and
    /// exits 0 to approve, 1 to reject (its first output line is the reason);
    /// anything else is tried again later. Run with `sh -c`.
    #[arg(long, env = "SWITCHBOARD_SCAN_COMMAND", conflicts_with = "scan_url")]
    pub scan_command: Option<String>,

    /// An HTTP endpoint that must approve each file: it is POSTed the bytes
    /// and answers 200 with `{"approved": true|false, "reason": "…"}`.
    #[arg(long, env = "SWITCHBOARD_SCAN_URL")]
    pub scan_url: Option<String>,

    /// How long an upload link works, in seconds.
    #[arg(long, env = "SWITCHBOARD_UPLOAD_SECS", default_value_t = 900)]
    pub upload_secs: u32,

    /// How long a download link works, in seconds.
    #[arg(long, env = "SWITCHBOARD_DOWNLOAD_SECS", default_value_t = 300)]
    pub download_secs: u32,
}

/// `switchboard serve`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The base URL clients reach this server at, used in URLs it hands out.
    /// Default: `http://LISTEN`.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    #[command(flatten)]
    pub storage: StorageConfig,

    /// Admin API key to register. Without it a fresh install generates one,
    /// prints it once and writes it to DATA_DIR/admin-key (mode 0600).
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// Largest message body, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// Largest HTTP request body, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Largest WebSocket message, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Messages and receipts per second per participant (0: no limit).
    #[arg(long, env = "SWITCHBOARD_SENDS_PER_SECOND", default_value_t = 20)]
    pub sends_per_second: u32,

    /// Attempts at outbox work (a webhook delivery, a flow's action) before it
    /// is given up and listed as dead; between attempts the wait doubles from
    /// `--outbox-backoff-ms`, up to 10 minutes, with jitter.
    #[arg(long, env = "SWITCHBOARD_OUTBOX_ATTEMPTS", default_value_t = 12)]
    pub outbox_attempts: u32,

    /// The first wait before retrying outbox work, in milliseconds.
    #[arg(long, env = "SWITCHBOARD_OUTBOX_BACKOFF_MS", default_value_t = 2000)]
    pub outbox_backoff_ms: u64,

    /// How long a node holds outbox work it took before another node (or
    /// this one, restarted) may take it again, in seconds. Longer than the
    /// slowest HTTP call a flow makes (60 s).
    #[arg(long, env = "SWITCHBOARD_OUTBOX_LEASE_SECS", default_value_t = 90)]
    pub outbox_lease_secs: u32,

    #[command(flatten)]
    pub files: FilesConfig,

    /// WebSocket heartbeat interval, in seconds.
    #[arg(long, env = "SWITCHBOARD_HEARTBEAT_SECS", default_value_t = 20)]
    pub heartbeat_secs: u64,

    /// NATS server joining this node to others on the same database
    /// (`nats://HOST:4222`). Without it, notices stay in this process: one node.
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    pub nats_url: Option<String>,

    /// The NATS subject the nodes of one installation share.
    #[arg(long, env = "SWITCHBOARD_NATS_SUBJECT", default_value = "switchboard.notices")]
    pub nats_subject: String,

    /// Seconds after an available agent's last socket closed before it is
    /// set offline (its chats stay its own).
    #[arg(long, env = "SWITCHBOARD_PRESENCE_GRACE_SECS", default_value_t = 60)]
    pub presence_grace_secs: u64,

    /// Whether this node runs a router, which offers waiting chats to agents.
    /// Off: it serves the API and sockets and other nodes on the same
    /// database route (a node with none routes nothing).
    #[arg(long, env = "SWITCHBOARD_ROUTER", default_value_t = true, action = clap::ArgAction::Set)]
    pub router: bool,

    /// How often, in seconds, each node looks for ended conversations past
    /// their workspace's retention and erases them (0: never).
    #[arg(long, env = "SWITCHBOARD_RETENTION_INTERVAL_SECS", default_value_t = 300)]
    pub retention_interval_secs: u64,

    /// Most conversations erased per writer command by retention.
    #[arg(long, env = "SWITCHBOARD_RETENTION_BATCH", default_value_t = 10)]
    pub retention_batch: usize,

    /// Most events erased per writer command by retention (a conversation
    /// with more is erased alone).
    #[arg(long, env = "SWITCHBOARD_RETENTION_BATCH_EVENTS", default_value_t = 1000)]
    pub retention_batch_events: i64,

    /// Whether retention rests between its commands as long as each took
    /// (at most about half of the writer); off: as fast as it can.
    #[arg(long, env = "SWITCHBOARD_RETENTION_REST", default_value_t = true, action = clap::ArgAction::Set)]
    pub retention_rest: bool,

    /// Log format.
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl Config {
    /// The configuration with every default, for `listen` (tests, embedding).
    pub fn with_defaults(listen: SocketAddr, data_dir: PathBuf) -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        let mut c = <Only as clap::Parser>::parse_from(["switchboard"]).config;
        c.listen = listen;
        c.storage.data_dir = data_dir;
        c
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn limits(&self) -> Limits {
        Limits {
            message_bytes: self.max_message_bytes,
            sends_per_second: self.sends_per_second,
            outbox: switchboard_core::engine::OutboxSettings {
                attempts: self.outbox_attempts.max(1),
                backoff: Duration::from_millis(self.outbox_backoff_ms.max(1)),
                lease_secs: self.outbox_lease_secs.max(1),
            },
            ..Limits::default()
        }
    }

    /// How much one retention command erases at most.
    pub fn retention_batch(&self) -> switchboard_core::retention::PurgeBatch {
        switchboard_core::retention::PurgeBatch {
            conversations: self.retention_batch.max(1),
            events: self.retention_batch_events.max(1),
            rest: self.retention_rest,
        }
    }

    pub fn api(&self) -> ApiConfig {
        ApiConfig {
            public_url: self.public_url(),
            max_body_bytes: self.max_body_bytes,
            max_frame_bytes: self.max_frame_bytes,
            heartbeat: Duration::from_secs(self.heartbeat_secs.max(1)),
            ..ApiConfig::default()
        }
    }
}
