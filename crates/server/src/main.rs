//! `switchboard`: the command line.

use clap::{Parser, Subcommand};
use switchboard::config::{Config, LogFormat, StorageConfig};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "A self-hosted contact-center chat engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (embedded SQLite under ./data unless told otherwise).
    Serve(Box<Config>),
    /// Brings the database schema up to date and exits.
    Migrate(StorageConfig),
    /// Agents: create, list, update, disable, issue tokens.
    Agent(switchboard::cli::Admin<switchboard::cli::AgentCommand>),
    /// Queues: create, list, update.
    Queue(switchboard::cli::Admin<switchboard::cli::QueueCommand>),
    /// The routing workflow: apply a YAML file, show the one in force.
    Workflow(switchboard::cli::Admin<switchboard::cli::WorkflowCommand>),
    /// Hours of operation: apply a schedule from a YAML file, list them.
    Schedule(switchboard::cli::Admin<switchboard::cli::ScheduleCommand>),
    /// Flows: validate and deploy files, list, show, graph; runs: list, log, launch, cancel.
    Flow(switchboard::cli::Admin<switchboard::cli::FlowCommand>),
    /// Conversations: erase one with everything derived from it.
    Conversation(switchboard::cli::Admin<switchboard::cli::ConversationCommand>),
    /// Routing tasks: explain why a chat is, or is not, offered to each agent.
    Task(switchboard::cli::Admin<switchboard::cli::TaskCommand>),
    /// Access keys (SigV4 key id and secret for server-to-server calls): create, list, revoke.
    AccessKey(switchboard::cli::Admin<switchboard::cli::AccessKeyCommand>),
    /// Copies the SQLite database to FILE, also while a server runs.
    Backup(switchboard::cli::BackupArgs),
    /// Replaces the SQLite database with a backup (no server may be running).
    Restore(switchboard::cli::RestoreArgs),
    /// Transcripts: export one conversation, or those created in a window, as JSON, text or HTML.
    #[command(subcommand)]
    Transcript(switchboard::cli::TranscriptCommand),
    /// Seeds a demo workspace (widget, two agents, queues, flows), serves it and prints the URLs to open.
    Demo(switchboard::demo::DemoArgs),
    /// Prints the version and the schema version.
    Version,
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(config) => {
            init_logs(config.log_format);
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
            switchboard::serve(listener, *config, switchboard::shutdown_signal()).await
        }
        Command::Demo(args) => {
            init_logs(LogFormat::Text);
            switchboard::demo::run(args).await
        }
        Command::Migrate(storage) => {
            init_logs(LogFormat::Text);
            let url = storage.database_url();
            let _lock = switchboard::lock::lock(&storage, &switchboard::lock::Holder::this_process("migrate", None))?;
            switchboard_store::migrate(&switchboard::store_config(&storage, None))
                .await
                .map_err(|e| anyhow::anyhow!("migrating {}: {e}", redact(&url)))?;
            println!("schema is at version {}", switchboard_store::latest_version());
            Ok(())
        }
        Command::Agent(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::agent(cmd).await
        }
        Command::Queue(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::queue(cmd).await
        }
        Command::Workflow(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::workflow(cmd).await
        }
        Command::Schedule(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::schedule(cmd).await
        }
        Command::Flow(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::flow(cmd).await
        }
        Command::Conversation(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::conversation(cmd).await
        }
        Command::Task(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::task(cmd).await
        }
        Command::AccessKey(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::access_key(cmd).await
        }
        Command::Backup(args) => {
            init_logs(LogFormat::Text);
            switchboard::cli::backup(args).await
        }
        Command::Restore(args) => {
            init_logs(LogFormat::Text);
            switchboard::cli::restore(args).await
        }
        Command::Transcript(cmd) => {
            init_logs(LogFormat::Text);
            switchboard::cli::transcript(cmd).await
        }
        Command::Version => {
            println!("switchboard {} (schema {})", env!("CARGO_PKG_VERSION"), switchboard_store::latest_version());
            Ok(())
        }
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
