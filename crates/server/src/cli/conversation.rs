//! `switchboard conversation erase ID`: the right to erasure from the
//! command line, directly on the database or through the running server's
//! API (see the module above for which), printing the audit row.

use clap::Subcommand;
use serde::Deserialize;
use switchboard_core::engine::retention::EraseConversation;
use switchboard_core::ids::ConversationId;
use switchboard_core::retention::Erasure;

use super::remote::run_conversation_api;
use super::{Admin, Via, failed, via};

#[derive(Debug, Subcommand)]
pub enum ConversationCommand {
    /// Erases a conversation with its events, participants, files and every
    /// row derived from it; prints the content-free audit row.
    Erase {
        id: String,
        /// Why (kept in the audit row; at most 200 characters).
        #[arg(long)]
        reason: Option<String>,
        /// End the conversation first if it is still open.
        #[arg(long)]
        end: bool,
    },
}

impl ConversationCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Erase { .. } => "conversation erase",
        }
    }
}

/// What is printed of an audit row, from the engine or the API.
#[derive(Debug, Deserialize)]
pub(super) struct ErasureRow {
    id: String,
    conversation_id: String,
    deleted: Deleted,
}

#[derive(Debug, Deserialize)]
struct Deleted {
    events: i64,
    participants: i64,
    attachments: i64,
}

impl From<Erasure> for ErasureRow {
    fn from(e: Erasure) -> Self {
        let d = e.deleted;
        Self {
            id: e.id.to_string(),
            conversation_id: e.conversation_id.to_string(),
            deleted: Deleted { events: d.events, participants: d.participants, attachments: d.attachments },
        }
    }
}

pub(super) fn print_erasure(e: impl Into<ErasureRow>) {
    let e = e.into();
    let d = e.deleted;
    println!(
        "{}  erased {}: {} events, {} participants, {} files",
        e.id, e.conversation_id, d.events, d.participants, d.attachments
    );
}

pub async fn conversation(cmd: Admin<ConversationCommand>) -> anyhow::Result<()> {
    let db = match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => db,
        Via::Server(server) => return run_conversation_api(&server, cmd.command).await,
    };
    let result = async {
        match cmd.command {
            ConversationCommand::Erase { id, reason, end } => {
                let req = EraseConversation { reason, end, key: None };
                let erased = db.engine.erase_conversation(&db.caller, ConversationId::parse(&id)?, req).await;
                print_erasure(erased.map_err(failed)?);
            }
        }
        Ok(())
    }
    .await;
    db.close().await;
    result
}
