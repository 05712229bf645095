//! Administration from the command line: agents, queues and the workflow.
//!
//! These commands open the database directly (the same `--database-url` /
//! `--data-dir` as `serve`) and go through the same engine operations as the
//! API, so they work before the first start and while a server runs; a
//! running server picks the changes up on its next routing pass.

use std::io::Read as _;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::engine::routing::{AgentSpec, QueueSpec};
use switchboard_core::engine::{Caller, Engine, Limits};
use switchboard_core::ids::{AgentId, QueueId};
use switchboard_core::routing::model::Agent;

use crate::config::StorageConfig;

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
    #[command(subcommand)]
    pub command: C,
}

async fn engine(storage: &StorageConfig) -> anyhow::Result<(Arc<Engine>, Caller)> {
    let bus = Arc::new(LocalBus::default());
    let clock = Arc::new(SystemClock);
    let store = switchboard_store::open(&crate::store_config(storage, None), bus.clone(), clock.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("opening the database")?;
    let engine = Arc::new(Engine::new(store, bus, clock, Limits::default()));
    let workspace = crate::bootstrap(&engine, None, &storage.data_dir).await?;
    Ok((engine, Caller::Admin { workspace: workspace.id }))
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

fn print_agent(a: &Agent) {
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

fn failed(e: switchboard_core::Error) -> anyhow::Error {
    match &e.field {
        Some(f) => anyhow::anyhow!("{f}: {}", e.message),
        None => anyhow::anyhow!("{}", e.message),
    }
}

pub async fn agent(cmd: Admin<AgentCommand>) -> anyhow::Result<()> {
    let (engine, caller) = engine(&cmd.storage).await?;
    let result = run_agent(&engine, &caller, cmd.command).await;
    engine.store().close().await;
    result
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
            let a = engine.create_agent(caller, spec).await.map_err(failed)?;
            print_agent(&a);
        }
        AgentCommand::List => {
            for a in engine.agents(caller).await.map_err(failed)? {
                print_agent(&a);
            }
        }
        AgentCommand::Update { id, name, capacity, attributes: attrs, enable, disable, password_stdin } => {
            let spec = AgentSpec {
                name,
                login: None,
                password: if password_stdin { Some(password_from_stdin()?) } else { None },
                attributes: attributes(attrs.as_deref())?,
                capacity,
                enabled: if enable {
                    Some(true)
                } else if disable {
                    Some(false)
                } else {
                    None
                },
            };
            let a = engine.update_agent(caller, AgentId::parse(&id)?, spec).await.map_err(failed)?;
            print_agent(&a);
        }
        AgentCommand::Disable { id } => {
            let spec = AgentSpec { enabled: Some(false), ..AgentSpec::default() };
            let a = engine.update_agent(caller, AgentId::parse(&id)?, spec).await.map_err(failed)?;
            print_agent(&a);
        }
        AgentCommand::Token { id, name } => {
            let token = engine.issue_agent_token(caller, AgentId::parse(&id)?, name).await.map_err(failed)?;
            println!("{}", token.expose());
        }
    }
    Ok(())
}

pub async fn queue(cmd: Admin<QueueCommand>) -> anyhow::Result<()> {
    let (engine, caller) = engine(&cmd.storage).await?;
    let result = async {
        match cmd.command {
            QueueCommand::Create(fields) => {
                let q = engine.create_queue(&caller, fields.into()).await.map_err(failed)?;
                println!("{}  {}", q.id, q.name);
            }
            QueueCommand::List => {
                for q in engine.queues(&caller).await.map_err(failed)? {
                    println!("{}  {:<24} {}", q.id, q.name, q.expression.as_deref().unwrap_or("(every agent)"));
                }
            }
            QueueCommand::Update { id, fields } => {
                let q = engine.update_queue(&caller, QueueId::parse(&id)?, fields.into()).await.map_err(failed)?;
                println!("{}  {}", q.id, q.name);
            }
        }
        Ok(())
    }
    .await;
    engine.store().close().await;
    result
}

pub async fn workflow(cmd: Admin<WorkflowCommand>) -> anyhow::Result<()> {
    let (engine, caller) = engine(&cmd.storage).await?;
    let result = async {
        match cmd.command {
            WorkflowCommand::Apply { file } => {
                let source = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let applied = engine
                    .apply_workflow(&caller, &source)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), failed(e)))?;
                println!(
                    "workflow version {} applied: {} filter(s){}",
                    applied.version,
                    applied.workflow.filters.len(),
                    if applied.workflow.default.is_some() { " and a default" } else { "" }
                );
            }
            WorkflowCommand::Show => match engine.workflow(&caller).await.map_err(failed)? {
                Some(w) => print!("# version {}\n{}", w.version, w.source),
                None => println!("no workflow yet: chats are routed only through the API"),
            },
        }
        Ok(())
    }
    .await;
    engine.store().close().await;
    result
}
