//! `switchboard task explain CONVERSATION`: why a chat is, or is not,
//! offered to each agent, directly on the database or through the running
//! server's API (see the module above for which). Both paths print the
//! API's answer, so they print the same; `--json` prints it as it is.

use anyhow::Context;
use clap::Subcommand;
use serde_json::Value;
use switchboard_api::wire_explain::ExplainView;
use switchboard_core::ids::ConversationId;

use super::remote::run_task_api;
use super::{Admin, Via, failed, via};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Explains a chat's routing: for a waiting chat, who could take it now
    /// (best first) and why every other agent cannot; for an offered,
    /// assigned or ended one, why each offer went to its agent.
    Explain {
        /// The conversation.
        conversation: String,
        /// Print the API's JSON answer instead.
        #[arg(long)]
        json: bool,
    },
}

impl TaskCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Explain { .. } => "task explain",
        }
    }
}

pub async fn task(cmd: Admin<TaskCommand>) -> anyhow::Result<()> {
    let db = match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => db,
        Via::Server(server) => return run_task_api(&server, cmd.command).await,
    };
    let result = async {
        match cmd.command {
            TaskCommand::Explain { conversation, json } => {
                let id = ConversationId::parse(&conversation)?;
                let explained = db.engine.explain_task(&db.caller, id).await.map_err(failed)?;
                let answer = serde_json::to_value(ExplainView::new(explained)).context("writing the answer")?;
                print_explanation(&answer, json)
            }
        }
    }
    .await;
    db.close().await;
    result
}

/// Prints an explanation (the API's answer) as text, or as JSON.
pub(super) fn print_explanation(v: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    print!("{}", render(v));
    Ok(())
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// A reason as words: `at_capacity` → `at capacity`.
fn words(reason: &str) -> String {
    reason.replace('_', " ")
}

/// Why an agent wins, as a phrase.
fn win(w: &Value) -> String {
    match s(&w["reason"]) {
        "longest_idle" => format!("longest idle, since {}", s(&w["since"])),
        "least_busy" => format!("least busy, {} of {} chats", w["load"], w["capacity"]),
        other => words(other),
    }
}

/// The details a skipped agent's reason rests on.
fn because(a: &Value) -> String {
    match s(&a["reason"]) {
        "not_present" => format!("not present ({})", s(&a["activity"])),
        "expression_false" => format!("expression false (the {}'s)", s(&a["condition"])),
        "at_capacity" => format!("at capacity, {} of {}", a["load"], a["capacity"]),
        other => words(other),
    }
}

fn counts(c: &Value) -> String {
    let all = c.as_object().map(|m| m.iter().map(|(k, n)| format!("{} {n}", words(k))).collect::<Vec<_>>());
    all.map_or_else(String::new, |v| v.join(", "))
}

fn render(v: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (t, q) = (&v["task"], &v["queue"]);
    let _ = write!(out, "{} · task {} · {}", s(&t["conversation_id"]), s(&t["id"]), s(&t["state"]));
    if !q.is_null() {
        let _ = write!(out, " in queue {} ({})", s(&q["name"]), words(s(&q["ordering"])));
    }
    if let Some(w) = t["waiting_secs"].as_u64() {
        let _ = write!(out, " · in line {w}s");
    }
    let _ = writeln!(out, " · priority {}", t["priority"]);
    if let Some(e) = q["expression"].as_str() {
        let _ = writeln!(out, "  queue expression: {e}");
    }
    let step = t["step"].as_u64().unwrap_or(0) as usize;
    let route = t["route"].as_array().map_or(0, Vec::len);
    let _ = write!(out, "  step {} of {route}", step + 1);
    if let Some(e) = t["route"][step]["agents"].as_str() {
        let _ = write!(out, ", step condition: {e}");
    }
    if let Some(a) = t["route"][step]["agent_id"].as_str() {
        let _ = write!(out, ", only for agent {a}");
    }
    out.push('\n');
    if let Some(p) = t["passed"].as_array().filter(|p| !p.is_empty()) {
        let ids: Vec<&str> = p.iter().map(s).collect();
        let _ = writeln!(out, "  passed on it: {}", ids.join(", "));
    }
    let now = &v["now"];
    if !now.is_null() {
        let _ = writeln!(out, "\nNow ({}), of {} agents: {}", s(&now["at"]), now["agents"], counts(&now["counts"]));
        if let Some(p) = now["position"].as_u64().filter(|p| *p > 1) {
            let _ = writeln!(out, "  {} chat(s) ahead of it in line are offered first", p - 1);
        }
        let eligible = now["eligible"].as_array().cloned().unwrap_or_default();
        if eligible.is_empty() {
            let _ = writeln!(out, "  nobody is eligible: the chat waits");
        }
        for e in &eligible {
            let _ = write!(
                out,
                "  {}. {} ({})  idle since {}, {} of {} chats",
                e["rank"],
                s(&e["name"]),
                s(&e["agent_id"]),
                s(&e["idle_since"]),
                e["load"],
                e["capacity"]
            );
            if e["rank"] == 1 && !now["winner"].is_null() {
                let _ = write!(out, "  <- next: {}", win(&now["winner"]));
            }
            out.push('\n');
        }
        let skipped = now["skipped"].as_array().cloned().unwrap_or_default();
        if !skipped.is_empty() {
            let _ = writeln!(out, "  skipped (nearest to eligible first):");
        }
        for a in &skipped {
            let _ = writeln!(out, "    {} ({}): {}", s(&a["name"]), s(&a["agent_id"]), because(a));
        }
    }
    let _ = writeln!(out, "\nHistory:");
    for h in v["history"].as_array().cloned().unwrap_or_default() {
        let _ = write!(out, "  {}  {}", s(&h["at"]), s(&h["what"]));
        if let Some(a) = h["agent_id"].as_str() {
            let _ = write!(out, " {a}");
        }
        let d = &h["detail"];
        if !d.is_null() {
            let _ = write!(out, ": {}; {} eligible", win(&d["won"]), d["eligible"]);
            let next: Vec<&str> =
                d["runners_up"].as_array().map_or(Vec::new(), |r| r.iter().map(|x| s(&x["agent_id"])).collect());
            if !next.is_empty() {
                let _ = write!(out, "; next: {}", next.join(", "));
            }
            let skipped = counts(&d["skipped"]);
            if !skipped.is_empty() {
                let _ = write!(out, "; skipped of {} read: {skipped}", d["considered"]);
            }
        }
        out.push('\n');
    }
    out
}
