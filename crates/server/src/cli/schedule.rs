//! `switchboard schedule`: hours of operation from YAML files, directly on
//! the database or through a running server's API, like the other commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::routing::hours::{self, Schedule};

use super::remote::Server;
use super::{Admin, Via, failed, via};

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Creates the schedule in FILE (YAML), or replaces the one of the same
    /// name; errors name the line and field.
    Apply { file: PathBuf },
    /// Lists the schedules.
    List,
}

impl ScheduleCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Apply { .. } => "schedule apply",
            Self::List => "schedule list",
        }
    }
}

/// What the commands print of a schedule, from the engine or the API.
#[derive(Debug, Deserialize)]
struct ScheduleRow {
    id: String,
    name: String,
    time_zone: String,
}

impl From<Schedule> for ScheduleRow {
    fn from(s: Schedule) -> Self {
        Self { id: s.id.to_string(), name: s.name, time_zone: s.hours.time_zone }
    }
}

fn print_schedule(s: ScheduleRow, created: Option<bool>) {
    let what = match created {
        Some(true) => "  (created)",
        Some(false) => "  (replaced)",
        None => "",
    };
    println!("{}  {:<24} {}{what}", s.id, s.name, s.time_zone);
}

fn read(file: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

pub async fn schedule(cmd: Admin<ScheduleCommand>) -> anyhow::Result<()> {
    let db = match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => db,
        Via::Server(server) => return run_api(&server, cmd.command).await,
    };
    let (engine, caller) = (&db.engine, &db.caller);
    let result = async {
        match cmd.command {
            ScheduleCommand::Apply { file } => {
                let source = read(&file)?;
                let (s, created) = engine
                    .apply_schedule(caller, &source)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), failed(e)))?;
                print_schedule(s.into(), Some(created));
            }
            ScheduleCommand::List => {
                for s in engine.schedules(caller).await.map_err(failed)? {
                    print_schedule(s.into(), None);
                }
            }
        }
        Ok(())
    }
    .await;
    db.close().await;
    result
}

/// The same through the API: the file is checked here first (for its name
/// and to report its errors with their lines), then created or replaced.
async fn run_api(server: &Server, cmd: ScheduleCommand) -> anyhow::Result<()> {
    let rows = |v: Value| -> anyhow::Result<Vec<ScheduleRow>> {
        serde_json::from_value(v).context("reading the server's answer")
    };
    match cmd {
        ScheduleCommand::Apply { file } => {
            let source = read(&file)?;
            let doc = hours::parse_yaml(&source).map_err(|e| anyhow::anyhow!("{}: {}", file.display(), failed(e)))?;
            let existing = rows(server.call(server.request(Method::GET, "/api/v1/schedules")).await?)?
                .into_iter()
                .find(|s| s.name == doc.name);
            let req = match &existing {
                Some(s) => server.request(Method::PUT, &format!("/api/v1/schedules/{}", s.id)),
                None => server.request(Method::POST, "/api/v1/schedules"),
            };
            let req = req.header(reqwest::header::CONTENT_TYPE, "application/yaml").body(source);
            let saved = server.call(req).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let row = serde_json::from_value(saved).context("reading the server's answer")?;
            print_schedule(row, Some(existing.is_none()));
        }
        ScheduleCommand::List => {
            for s in rows(server.call(server.request(Method::GET, "/api/v1/schedules")).await?)? {
                print_schedule(s, None);
            }
        }
    }
    Ok(())
}
