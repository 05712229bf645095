//! `switchboard-loadgen`: drives load against a Switchboard server (or against the
//! bare relay baseline this binary also contains) and reports throughput, latency
//! and the server's memory and CPU cost.
//!
//! This file only parses the command line and dispatches; `chat`, `idle`,
//! `relay` and `routing` hold the four modes, `bench` the comparison that runs
//! `relay` and `chat` beside the storage baseline and the real server, `files`
//! attachments beside a bare HTTP-to-disk baseline, `seed`
//! and `pages` the growth runs, `connect` the Amazon Connect dialect beside the native API (history written into a store, transcript
//! pages read from it), `setup`/`verify` the REST calls,
//! `client` the per-socket driver (`agent` the agent socket's, for `routing`)
//! and `report` the figures and output.

mod agent;
mod bench;
mod chat;
mod client;
mod connect;
mod files;
mod flows;
mod idle;
#[cfg(test)]
mod mock_tests;
mod pages;
mod relay;
mod report;
mod routing;
mod seed;
mod setup;
mod verify;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Shown under `chat --help`, `idle --help` and `routing --help`: every socket costs a file
/// descriptor on both ends, and raising the limit from inside the process would
/// need libc calls this crate does not make.
const FD_NOTE: &str = "Each WebSocket uses one file descriptor here and one in the server. For thousands of \
                       sockets raise the limit in both shells first, e.g. `ulimit -n 65536`.";

/// Exit statuses, so scripts can tell a bad result from a broken run.
const EXIT_NOTE: &str = "Exit status: 0 clean run; 3 the run finished but found lost, duplicated, refused or \
                         undelivered messages (or dropped sockets), or chats assigned twice, to the wrong agent \
                         or over an agent's capacity; 1 error or timeout; 2 bad arguments.";

#[derive(Parser)]
#[command(
    name = "switchboard-loadgen",
    version,
    about = "Load generator for Switchboard, with a bare WebSocket relay as the transport baseline",
    after_help = EXIT_NOTE
)]
struct Cli {
    /// Abort the whole run (setup, load and verification) if it takes longer than this.
    /// Does not apply to `relay`, which runs until stopped; `bench` applies it to each phase.
    #[arg(long, global = true, default_value_t = 300, env = "LOADGEN_TIMEOUT_SECS")]
    timeout_secs: u64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Conversations where a customer and an agent exchange messages over the stream;
    /// measures send→receive latency and delivered throughput, then checks the transcripts.
    #[command(after_help = FD_NOTE)]
    Chat(chat::ChatArgs),
    /// Open many idle sockets and measure the server's memory per connection.
    #[command(after_help = FD_NOTE)]
    Idle(idle::IdleArgs),
    /// Agents online on their sockets and chats routed to them at a fixed rate; measures
    /// chat created → offer on the agent's socket and assignments/s, then checks the tasks.
    #[command(after_help = FD_NOTE)]
    Routing(routing::RoutingArgs),
    /// Flow steps per second, the server's memory with many runs waiting, and webhook
    /// deliveries per second to a local receiver (start the server with `--sends-per-second 0`).
    Flows(flows::FlowsArgs),
    /// Upload and download throughput through the attachment API, beside a bare HTTP-to-disk
    /// baseline in the same run; every file read back is checked.
    Files(files::FilesArgs),
    /// Run the bare WebSocket relay (baseline B0: same protocol subset, no storage).
    Relay(relay::RelayArgs),
    /// Run B0 (the relay), B1 (raw batched inserts) and the real server under the same chat
    /// load back to back, and print one table with the ratios between them.
    #[command(after_help = bench::BENCH_NOTE)]
    Bench(bench::BenchArgs),
    /// Fill a store with ended conversations (10 million events by default) for the growth
    /// runs, straight into the database, with a progress bar. Stop the server first.
    Seed(seed::SeedArgs),
    /// Read random transcript pages of the workspace's conversations (after `seed`) and
    /// report the latency.
    Pages(pages::PagesArgs),
    /// The Amazon Connect dialect beside the native API in one run: send → delivered latency,
    /// messages/s and CPU per message for each, then checks the logs.
    Connect(connect::ConnectArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let limit = Duration::from_secs(cli.timeout_secs);
    let outcome = match cli.command {
        Command::Relay(args) => relay::run(args).await.map(|()| true),
        Command::Chat(args) => bounded(limit, chat::run(args)).await,
        Command::Idle(args) => bounded(limit, idle::run(args)).await,
        Command::Routing(args) => bounded(limit, routing::run(args)).await,
        Command::Flows(args) => bounded(limit, flows::run(args)).await,
        Command::Files(args) => bounded(limit, files::run(args)).await,
        Command::Bench(args) => bench::run(args, limit).await,
        // A long seed is expected to take long: its progress bar shows how far it is.
        Command::Seed(args) => seed::run(args).await,
        Command::Pages(args) => bounded(limit, pages::run(args)).await,
        Command::Connect(args) => bounded(limit, connect::run(args)).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        // The run finished but found problems; the report already said which.
        // Not 2, which clap uses for bad arguments.
        Ok(false) => ExitCode::from(3),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a mode under the global deadline. The mode's own progress lines on
/// stderr show how far it got, so the error only needs to say why it stopped.
async fn bounded<T>(limit: Duration, run: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, run).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!(
            "the run did not finish within --timeout-secs {} (raise it, or lower the load)",
            limit.as_secs()
        ),
    }
}
