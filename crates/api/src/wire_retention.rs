//! The JSON shapes of erasure: the audit row of an erased conversation, as
//! clients see it. It holds no content, names or attributes of the chat.

use serde::Serialize;
use switchboard_core::retention::{ErasedBy, Erasure, ErasureCounts};
use utoipa::ToSchema;

/// How many rows of each kind an erasure deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedCounts {
    pub events: i64,
    pub participants: i64,
    pub attachments: i64,
    pub file_requests: i64,
    pub tasks: i64,
    pub flow_runs: i64,
    pub forms: i64,
    pub custom_events: i64,
    pub webhooks: i64,
    pub outbox_items: i64,
}

impl From<ErasureCounts> for DeletedCounts {
    fn from(c: ErasureCounts) -> Self {
        Self {
            events: c.events,
            participants: c.participants,
            attachments: c.attachments,
            file_requests: c.file_requests,
            tasks: c.tasks,
            flow_runs: c.flow_runs,
            forms: c.forms,
            custom_events: c.custom_events,
            webhooks: c.webhooks,
            outbox_items: c.outbox_items,
        }
    }
}

/// The audit row of an erased conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureView {
    #[schema(example = "ers_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub workspace_id: String,
    pub conversation_id: String,
    pub erased_at: String,
    /// `api_key` (then `api_key_id` says which), `operator` (the command
    /// line) or `retention` (the workspace's retention setting).
    pub erased_by: String,
    pub api_key_id: Option<String>,
    pub reason: Option<String>,
    /// When the conversation had ended (maybe by the erasure itself).
    pub ended_at: Option<String>,
    pub deleted: DeletedCounts,
}

impl From<Erasure> for ErasureView {
    fn from(e: Erasure) -> Self {
        let (erased_by, api_key_id) = match e.by {
            ErasedBy::ApiKey(k) => ("api_key", Some(k.to_string())),
            ErasedBy::Operator => ("operator", None),
            ErasedBy::Retention => ("retention", None),
        };
        Self {
            id: e.id.to_string(),
            workspace_id: e.workspace_id.to_string(),
            conversation_id: e.conversation_id.to_string(),
            erased_at: e.erased_at.to_rfc3339(),
            erased_by: erased_by.into(),
            api_key_id,
            reason: e.reason,
            ended_at: e.ended_at.map(|t| t.to_rfc3339()),
            deleted: e.deleted.into(),
        }
    }
}

/// A page of erasures, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureList {
    pub erasures: Vec<ErasureView>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<String>,
}
