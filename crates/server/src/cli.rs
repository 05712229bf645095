//! Administration from the command line: agents, queues and the workflow.
//!
//! These commands take the same `--database-url` / `--data-dir` as `serve`
//! and go through the same engine operations as the API. On SQLite a command
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
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::engine::routing::{AgentSpec, QueueSpec};
use switchboard_core::engine::{Caller, Engine, Limits};
use switchboard_core::ids::{AgentId, QueueId};
use switchboard_core::routing::model::Agent;

use crate::config::StorageConfig;
use crate::lock::{self, Attempt, DataLock, Holder};

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
}

impl From<QueueFields> for QueueSpec {
    fn from(f: QueueFields) -> Self {
        QueueSpec {
            name: f.name,
            expression: f.expression.map(Some),
            ordering: f.ordering,
            offer_timeout_secs: f.offer_timeout_secs,
            wrap_up_secs: f.wrap_up_secs,
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

/// The API of the server that holds the database.
struct Server {
    http: reqwest::Client,
    base: String,
    key: String,
    /// Who it is, for messages.
    who: String,
}

/// An error answer of the API: `{"error":{"code","message","field"}}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: String,
    message: String,
    field: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: ApiError,
}

impl Server {
    fn new<C: Subcommand>(
        admin: &Admin<C>,
        database: &std::path::Path,
        holder: &Holder,
        address: SocketAddr,
    ) -> anyhow::Result<Self> {
        let who = format!("the Switchboard server at {address} (pid {})", holder.pid);
        let key = match admin.admin_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => k.to_owned(),
            None => {
                let path = admin.storage.data_dir.join("admin-key");
                match std::fs::read_to_string(&path) {
                    Ok(k) if !k.trim().is_empty() => k.trim().to_owned(),
                    found => bail!(
                        "the database {} is in use by {who}, so this command goes through its API, which needs an \
                         admin API key: pass it with --admin-key KEY or SWITCHBOARD_ADMIN_KEY=KEY (none was given, \
                         and {}: {})",
                        database.display(),
                        path.display(),
                        match found {
                            Ok(_) => "is empty".to_owned(),
                            Err(e) => e.to_string(),
                        }
                    ),
                }
            }
        };
        tracing::info!(server = %address, pid = holder.pid, "a running server holds the database; using its API");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Self { http, base: format!("http://{address}"), key, who })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key)
    }

    /// Sends `req`; the answer's JSON, or the API's error.
    async fn send(&self, req: RequestBuilder) -> anyhow::Result<Result<Value, (StatusCode, ApiError)>> {
        let res = req.send().await.with_context(|| format!("cannot reach {}", self.who))?;
        let status = res.status();
        let text = res.text().await.with_context(|| format!("reading the answer of {}", self.who))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map(Ok)
                .with_context(|| format!("{} answered {status} with something that is not JSON", self.who));
        }
        match serde_json::from_str::<ErrorResponse>(&text) {
            Ok(e) => Ok(Err((status, e.error))),
            Err(_) => bail!("{} answered {status}: {}", self.who, text.trim()),
        }
    }

    /// Sends `req`; the answer's JSON, or the API's error as a CLI error.
    async fn call(&self, req: RequestBuilder) -> anyhow::Result<Value> {
        self.send(req).await?.map_err(|(status, e)| self.failed(status, e))
    }

    /// The same message as the direct path gives (`field: message`), and a
    /// hint when the key was refused.
    fn failed(&self, status: StatusCode, e: ApiError) -> anyhow::Error {
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return anyhow::anyhow!(
                "{} refused the admin API key ({}: {}); pass a valid one with --admin-key KEY or \
                 SWITCHBOARD_ADMIN_KEY=KEY",
                self.who,
                e.code,
                e.message
            );
        }
        match &e.field {
            Some(f) => anyhow::anyhow!("{f}: {}", e.message),
            None => anyhow::anyhow!("{}", e.message),
        }
    }
}

/// A JSON object of the fields that are given.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect())
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

/// The agent commands through the API: `/api/v1/agents…`.
async fn run_agent_api(server: &Server, cmd: AgentCommand) -> anyhow::Result<()> {
    match cmd {
        AgentCommand::Create { name, login, password_stdin, capacity, attributes: attrs } => {
            let password = if password_stdin { Some(password_from_stdin()?) } else { None };
            let body = object([
                ("name", Some(json!(name))),
                ("login", login.map(Value::from)),
                ("password", password.map(Value::from)),
                ("attributes", attributes(attrs.as_deref())?.map(Value::Object)),
                ("capacity", Some(json!(capacity))),
                ("enabled", Some(json!(true))),
            ]);
            print_agent_json(server.call(server.request(Method::POST, "/api/v1/agents").json(&body)).await?)?;
        }
        AgentCommand::List => {
            let list = server.call(server.request(Method::GET, "/api/v1/agents")).await?;
            for a in serde_json::from_value::<Vec<AgentRow>>(list).context("reading the server's answer")? {
                print_agent(a);
            }
        }
        AgentCommand::Update { id, name, capacity, attributes: attrs, enable, disable, password_stdin } => {
            let id = AgentId::parse(&id)?;
            let body = object([
                ("name", name.map(Value::from)),
                ("password", if password_stdin { Some(Value::from(password_from_stdin()?)) } else { None }),
                ("attributes", attributes(attrs.as_deref())?.map(Value::Object)),
                ("capacity", capacity.map(Value::from)),
                ("enabled", enabled(enable, disable).map(Value::from)),
            ]);
            let path = format!("/api/v1/agents/{id}");
            print_agent_json(server.call(server.request(Method::PATCH, &path).json(&body)).await?)?;
        }
        AgentCommand::Disable { id } => {
            let path = format!("/api/v1/agents/{}", AgentId::parse(&id)?);
            let body = json!({"enabled": false});
            print_agent_json(server.call(server.request(Method::PATCH, &path).json(&body)).await?)?;
        }
        AgentCommand::Token { id, name } => {
            let path = format!("/api/v1/agents/{}/tokens", AgentId::parse(&id)?);
            let body = object([("name", name.map(Value::from))]);
            let issued = server.call(server.request(Method::POST, &path).json(&body)).await?;
            match issued["token"].as_str() {
                Some(token) => println!("{token}"),
                None => bail!("the server's answer has no token: {issued}"),
            }
        }
    }
    Ok(())
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

impl QueueFields {
    /// The fields that are given, as the API's `QueueRequest`.
    fn to_json(&self) -> Value {
        object([
            ("name", self.name.clone().map(Value::from)),
            ("expression", self.expression.clone().map(Value::from)),
            ("ordering", self.ordering.clone().map(Value::from)),
            ("offer_timeout_secs", self.offer_timeout_secs.map(Value::from)),
            ("wrap_up_secs", self.wrap_up_secs.map(Value::from)),
        ])
    }
}

/// The queue commands through the API: `/api/v1/queues…`.
async fn run_queue_api(server: &Server, cmd: QueueCommand) -> anyhow::Result<()> {
    match cmd {
        QueueCommand::Create(fields) => {
            let req = server.request(Method::POST, "/api/v1/queues").json(&fields.to_json());
            let q = queue_row(server.call(req).await?)?;
            println!("{}  {}", q.id, q.name);
        }
        QueueCommand::List => {
            let list = server.call(server.request(Method::GET, "/api/v1/queues")).await?;
            for q in serde_json::from_value::<Vec<QueueRow>>(list).context("reading the server's answer")? {
                print_queue_list_line(&q);
            }
        }
        QueueCommand::Update { id, fields } => {
            let path = format!("/api/v1/queues/{}", QueueId::parse(&id)?);
            let q = queue_row(server.call(server.request(Method::PATCH, &path).json(&fields.to_json())).await?)?;
            println!("{}  {}", q.id, q.name);
        }
    }
    Ok(())
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

/// The workflow commands through the API: `/api/v1/workflow`.
async fn run_workflow_api(server: &Server, cmd: WorkflowCommand) -> anyhow::Result<()> {
    match cmd {
        WorkflowCommand::Apply { file } => {
            let source = read_workflow(&file)?;
            let req = server
                .request(Method::PUT, "/api/v1/workflow")
                .header(reqwest::header::CONTENT_TYPE, "application/yaml")
                .body(source);
            let applied = server.call(req).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let version = applied["version"].as_i64().context("the server's answer has no workflow version")?;
            let filters = applied["workflow"]["filters"].as_array().map_or(0, Vec::len);
            print_applied(version, filters, !applied["workflow"]["default"].is_null());
        }
        WorkflowCommand::Show => match server.send(server.request(Method::GET, "/api/v1/workflow")).await? {
            Ok(w) => match (w["version"].as_i64(), w["source"].as_str()) {
                (Some(version), Some(source)) => print!("# version {version}\n{source}"),
                _ => bail!("the server's answer is not a workflow: {w}"),
            },
            Err((StatusCode::NOT_FOUND, _)) => println!("{NO_WORKFLOW}"),
            Err((status, e)) => return Err(server.failed(status, e)),
        },
    }
    Ok(())
}
