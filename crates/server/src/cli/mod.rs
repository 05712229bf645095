//! Administration from the command line: agents, queues, the workflow,
//! schedules, flows, erasing a conversation, explaining a chat's routing,
//! access keys, backups and transcript exports.
//!
//! These commands take the same `--database-url` / `--data-dir` as `serve`
//! and go through the same engine operations as the API. Commands that only
//! read (`backup`, `transcript export`) take no lock and open the database
//! read-only, beside a running server or not: in WAL mode a reader never
//! blocks SQLite's one writer. On SQLite a command that writes
//! first tries the database's lock (see [`crate::lock`]): if it is free, the
//! command holds it while it opens the database and works directly, so it
//! works before the first start; if a running server holds it, the command
//! is sent through that server's API instead (its address is in the lock
//! file; the admin key comes from `--admin-key` / `SWITCHBOARD_ADMIN_KEY` or
//! DATA_DIR/admin-key) and prints the same. Nothing but the server writes to
//! a database the server has open. On PostgreSQL, which many servers share,
//! the commands open the database directly, running server or not; a running
//! server picks the changes up on its next routing pass.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{Map, Value};
use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::engine::routing::{AgentSpec, QueueSpec};
use switchboard_core::engine::{Caller, Engine, Limits};
use switchboard_core::ids::{AgentId, QueueId};
use switchboard_core::routing::model::Agent;

use crate::config::StorageConfig;

mod access_key;
mod backup;
mod conversation;
mod flow;
mod remote;
mod schedule;
mod task;
mod transcript;
use crate::lock::{self, Attempt, DataLock, Holder};
pub use access_key::{AccessKeyCommand, access_key};
pub use backup::{BackupArgs, RestoreArgs, backup, restore};
pub use conversation::{ConversationCommand, conversation};
pub use flow::{FlowCommand, flow};
use remote::{Server, run_agent_api, run_queue_api, run_workflow_api};
pub use schedule::{ScheduleCommand, schedule};
pub use task::{TaskCommand, task};
pub use transcript::{TranscriptCommand, transcript};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Creates an agent (offline until it connects and says otherwise).
    Create {
        #[arg(long)]
        name: String,
        /// Console login, unique in the workspace.
        #[arg(long)]
        login: Option<String>,
        /// Reads the console password from standard input (one line).
        #[arg(long, requires = "login")]
        password_stdin: bool,
        /// Concurrent chats.
        #[arg(long, default_value_t = 1)]
        capacity: i64,
        /// Attributes as a JSON object, e.g. '{"skills":["billing"],"level":2}'.
        #[arg(long)]
        attributes: Option<String>,
    },
    /// Lists agents with their presence and load.
    List,
    /// Changes an agent.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        capacity: Option<i64>,
        #[arg(long)]
        attributes: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// Reads a new console password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disables an agent: no more chats, tokens revoked.
    Disable { id: String },
    /// Issues an agent API token (printed once).
    Token {
        id: String,
        #[arg(long)]
        name: Option<String>,
    },
}

/// A queue's settings, for `create` (name required) and `update`.
#[derive(Debug, Args)]
pub struct QueueFields {
    #[arg(long)]
    name: Option<String>,
    /// Which agents serve it, e.g. '"billing" in agent.skills && agent.level >= 2'.
    #[arg(long)]
    expression: Option<String>,
    /// longest_idle or least_busy.
    #[arg(long)]
    ordering: Option<String>,
    #[arg(long)]
    offer_timeout_secs: Option<i64>,
    #[arg(long)]
    wrap_up_secs: Option<i64>,
    /// Offer a chat that continues an earlier one first to the agent who had
    /// the earlier one, for this many seconds (0: no preference).
    #[arg(long)]
    prefer_previous_agent_secs: Option<i64>,
    /// The time an agent who accepts a chat has to send a first message (0: no limit).
    #[arg(long)]
    first_reply_secs: Option<i64>,
    /// The time the assigned agent has to answer a customer message (0: no limit).
    #[arg(long)]
    reply_secs: Option<i64>,
    /// What a missed reply does: next_agent, queue (with --reply-timeout-queue) or alert.
    #[arg(long)]
    on_reply_timeout: Option<String>,
    /// The queue (name or id) a missed reply moves the chat to.
    #[arg(long)]
    reply_timeout_queue: Option<String>,
    /// The schedule (by name) whose hours the queue keeps ("": none).
    #[arg(long)]
    schedule: Option<String>,
}

/// A seconds flag where 0 turns the setting off.
fn off_at_zero(secs: Option<i64>) -> Option<Option<i64>> {
    secs.map(|s| (s != 0).then_some(s))
}

impl From<QueueFields> for QueueSpec {
    fn from(f: QueueFields) -> Self {
        QueueSpec {
            name: f.name,
            expression: f.expression.map(Some),
            ordering: f.ordering,
            offer_timeout_secs: f.offer_timeout_secs,
            wrap_up_secs: f.wrap_up_secs,
            prefer_previous_agent_secs: off_at_zero(f.prefer_previous_agent_secs),
            first_reply_secs: off_at_zero(f.first_reply_secs),
            reply_secs: off_at_zero(f.reply_secs),
            on_reply_timeout: f.on_reply_timeout,
            reply_timeout_queue: f.reply_timeout_queue,
            schedule: f.schedule.map(|s| (!s.is_empty()).then_some(s)),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Creates a queue (`--name` required).
    Create(QueueFields),
    /// Lists queues.
    List,
    /// Changes a queue.
    Update {
        id: String,
        #[command(flatten)]
        fields: QueueFields,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Replaces the workflow with FILE (YAML); errors name the line and field.
    Apply { file: std::path::PathBuf },
    /// Prints the workflow in force.
    Show,
}

/// The storage flags and one admin command.
#[derive(Debug, Args)]
pub struct Admin<C: Subcommand> {
    #[command(flatten)]
    pub storage: StorageConfig,
    /// An admin API key, used when the command has to go through the API of
    /// a running server. Default: the key the server saved in DATA_DIR/admin-key.
    #[arg(long, global = true, env = "SWITCHBOARD_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    #[command(subcommand)]
    pub command: C,
}

/// Where a command runs.
enum Via {
    /// The database, opened by this process.
    Database(Direct),
    /// The API of the running server that holds the database.
    Server(Server),
}

/// The database opened here, with its lock on SQLite.
struct Direct {
    engine: Arc<Engine>,
    caller: Caller,
    lock: Option<DataLock>,
}

impl Direct {
    async fn open(storage: &StorageConfig, lock: Option<DataLock>) -> anyhow::Result<Self> {
        let bus = Arc::new(LocalBus::default());
        let clock = Arc::new(SystemClock);
        let store = switchboard_store::open(&crate::store_config(storage, None), bus.clone(), clock.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("opening the database")?;
        let engine = Arc::new(Engine::new(store, bus, clock, Limits::default()));
        let workspace = match crate::bootstrap(&engine, None, &storage.data_dir).await {
            Ok(w) => w,
            Err(e) => {
                engine.store().close().await;
                return Err(e);
            }
        };
        Ok(Self { engine, caller: Caller::Admin { workspace: workspace.id }, lock })
    }

    /// Closes the database, then lets go of the lock.
    async fn close(self) {
        self.engine.store().close().await;
        drop(self.lock);
    }
}

/// How long a command waits for a process that holds the lock to write who it
/// is into the lock file (it does so right after taking it).
const HOLDER_WAIT: Duration = Duration::from_secs(2);

/// Takes the database's lock and opens it, or finds the server to send the
/// command to. `command` names it in the lock file (`agent create`, …).
async fn via<C: Subcommand>(admin: &Admin<C>, command: &str) -> anyhow::Result<Via> {
    let me = Holder::this_process(command, None);
    let deadline = tokio::time::Instant::now() + HOLDER_WAIT;
    loop {
        let busy = match lock::try_lock(&admin.storage, &me)? {
            None => return Ok(Via::Database(Direct::open(&admin.storage, None).await?)),
            Some(Attempt::Taken(l)) => return Ok(Via::Database(Direct::open(&admin.storage, Some(l)).await?)),
            Some(Attempt::Busy(busy)) => busy,
        };
        match &busy.holder {
            Some(h) => match h.api_address() {
                Some(address) => return Ok(Via::Server(Server::new(admin, &busy.database, h, address)?)),
                None => bail!(
                    "the database {} is in use by another Switchboard command ({h}); try again when it has finished",
                    busy.database.display()
                ),
            },
            None if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => return Err(busy.into()),
        }
    }
}

fn attributes(raw: Option<&str>) -> anyhow::Result<Option<Map<String, Value>>> {
    raw.map(|s| match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => bail!("--attributes must be a JSON object"),
        Err(e) => bail!("--attributes is not JSON: {e}"),
    })
    .transpose()
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().take(4096).read_to_string(&mut line).context("reading the password from standard input")?;
    Ok(line.lines().next().unwrap_or("").to_owned())
}

/// What the commands print of an agent, from the engine or the API.
#[derive(Debug, Deserialize)]
struct AgentRow {
    id: String,
    name: String,
    activity: String,
    load: u32,
    capacity: u32,
    enabled: bool,
}

impl From<Agent> for AgentRow {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name,
            activity: a.activity,
            load: a.load,
            capacity: a.capacity,
            enabled: a.enabled,
        }
    }
}

fn print_agent(a: impl Into<AgentRow>) {
    let a = a.into();
    println!(
        "{}  {:<24} {:<10} load {}/{}{}",
        a.id,
        a.name,
        a.activity,
        a.load,
        a.capacity,
        if a.enabled { "" } else { "  (disabled)" }
    );
}

fn print_agent_json(v: Value) -> anyhow::Result<()> {
    print_agent(serde_json::from_value::<AgentRow>(v).context("reading the server's answer")?);
    Ok(())
}

/// What the commands print of a queue, from the engine or the API.
#[derive(Debug, Deserialize)]
struct QueueRow {
    id: String,
    name: String,
    expression: Option<String>,
}

fn queue_row(v: Value) -> anyhow::Result<QueueRow> {
    serde_json::from_value(v).context("reading the server's answer")
}

fn print_queue_list_line(q: &QueueRow) {
    println!("{}  {:<24} {}", q.id, q.name, q.expression.as_deref().unwrap_or("(every agent)"));
}

fn failed(e: switchboard_core::Error) -> anyhow::Error {
    match &e.field {
        Some(f) => anyhow::anyhow!("{f}: {}", e.message),
        None => anyhow::anyhow!("{}", e.message),
    }
}

impl AgentCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "agent create",
            Self::List => "agent list",
            Self::Update { .. } => "agent update",
            Self::Disable { .. } => "agent disable",
            Self::Token { .. } => "agent token",
        }
    }
}

impl QueueCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Create(_) => "queue create",
            Self::List => "queue list",
            Self::Update { .. } => "queue update",
        }
    }
}

impl WorkflowCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Apply { .. } => "workflow apply",
            Self::Show => "workflow show",
        }
    }
}

pub async fn agent(cmd: Admin<AgentCommand>) -> anyhow::Result<()> {
    match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => {
            let result = run_agent(&db.engine, &db.caller, cmd.command).await;
            db.close().await;
            result
        }
        Via::Server(server) => run_agent_api(&server, cmd.command).await,
    }
}

async fn run_agent(engine: &Engine, caller: &Caller, cmd: AgentCommand) -> anyhow::Result<()> {
    match cmd {
        AgentCommand::Create { name, login, password_stdin, capacity, attributes: attrs } => {
            let password = if password_stdin { Some(password_from_stdin()?) } else { None };
            let spec = AgentSpec {
                name: Some(name),
                login,
                password,
                attributes: attributes(attrs.as_deref())?,
                capacity: Some(capacity),
                enabled: Some(true),
            };
            print_agent(engine.create_agent(caller, spec).await.map_err(failed)?);
        }
        AgentCommand::List => {
            for a in engine.agents(caller).await.map_err(failed)? {
                print_agent(a);
            }
        }
        AgentCommand::Update { id, name, capacity, attributes: attrs, enable, disable, password_stdin } => {
            let spec = AgentSpec {
                name,
                login: None,
                password: if password_stdin { Some(password_from_stdin()?) } else { None },
                attributes: attributes(attrs.as_deref())?,
                capacity,
                enabled: enabled(enable, disable),
            };
            print_agent(engine.update_agent(caller, AgentId::parse(&id)?, spec).await.map_err(failed)?);
        }
        AgentCommand::Disable { id } => {
            let spec = AgentSpec { enabled: Some(false), ..AgentSpec::default() };
            print_agent(engine.update_agent(caller, AgentId::parse(&id)?, spec).await.map_err(failed)?);
        }
        AgentCommand::Token { id, name } => {
            let token = engine.issue_agent_token(caller, AgentId::parse(&id)?, name).await.map_err(failed)?;
            println!("{}", token.expose());
        }
    }
    Ok(())
}

fn enabled(enable: bool, disable: bool) -> Option<bool> {
    if enable {
        Some(true)
    } else if disable {
        Some(false)
    } else {
        None
    }
}

pub async fn queue(cmd: Admin<QueueCommand>) -> anyhow::Result<()> {
    let db = match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => db,
        Via::Server(server) => return run_queue_api(&server, cmd.command).await,
    };
    let (engine, caller) = (&db.engine, &db.caller);
    let result = async {
        match cmd.command {
            QueueCommand::Create(fields) => {
                let q = engine.create_queue(caller, fields.into()).await.map_err(failed)?;
                println!("{}  {}", q.id, q.name);
            }
            QueueCommand::List => {
                for q in engine.queues(caller).await.map_err(failed)? {
                    print_queue_list_line(&QueueRow { id: q.id.to_string(), name: q.name, expression: q.expression });
                }
            }
            QueueCommand::Update { id, fields } => {
                let q = engine.update_queue(caller, QueueId::parse(&id)?, fields.into()).await.map_err(failed)?;
                println!("{}  {}", q.id, q.name);
            }
        }
        Ok(())
    }
    .await;
    db.close().await;
    result
}

fn print_applied(version: i64, filters: usize, default: bool) {
    println!("workflow version {version} applied: {filters} filter(s){}", if default { " and a default" } else { "" });
}

const NO_WORKFLOW: &str = "no workflow yet: chats are routed only through the API";

pub async fn workflow(cmd: Admin<WorkflowCommand>) -> anyhow::Result<()> {
    let db = match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => db,
        Via::Server(server) => return run_workflow_api(&server, cmd.command).await,
    };
    let (engine, caller) = (&db.engine, &db.caller);
    let result = async {
        match cmd.command {
            WorkflowCommand::Apply { file } => {
                let source = read_workflow(&file)?;
                let applied = engine
                    .apply_workflow(caller, &source)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), failed(e)))?;
                print_applied(applied.version, applied.workflow.filters.len(), applied.workflow.default.is_some());
            }
            WorkflowCommand::Show => match engine.workflow(caller).await.map_err(failed)? {
                Some(w) => print!("# version {}\n{}", w.version, w.source),
                None => println!("{NO_WORKFLOW}"),
            },
        }
        Ok(())
    }
    .await;
    db.close().await;
    result
}

fn read_workflow(file: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}
