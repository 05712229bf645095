//! The agent console's directory: where a chat can go, which flows an agent
//! can launch, and the canned responses.

use axum::extract::State;
use serde::Serialize;
use switchboard_core::engine::directory::{CannedResponse, Directory};
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::Auth;
use crate::state::AppState;

/// The workspace as the agent console lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryView {
    pub queues: Vec<DirectoryQueue>,
    /// Enabled agents, with their presence and load.
    pub agents: Vec<DirectoryAgent>,
    /// The latest version of each deployed flow.
    pub flows: Vec<DirectoryFlow>,
    /// `{id, title, text}`, as the workspace settings hold them.
    #[schema(value_type = Vec<Object>)]
    pub canned_responses: Vec<CannedResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryQueue {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryAgent {
    pub id: String,
    pub name: String,
    pub activity: String,
    /// Whether its activity receives chats.
    pub available: bool,
    pub load: u32,
    pub capacity: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryFlow {
    pub name: String,
    pub version: i64,
    pub description: Option<String>,
    /// `customer` or `agent`: whom its forms address.
    pub side: String,
    /// `{name, required, default}` of each declared input.
    #[schema(value_type = Vec<Object>)]
    pub params: Vec<serde_json::Value>,
}

impl From<Directory> for DirectoryView {
    fn from(d: Directory) -> Self {
        Self {
            queues: d.queues.into_iter().map(|q| DirectoryQueue { id: q.id.to_string(), name: q.name }).collect(),
            agents: d
                .agents
                .into_iter()
                .map(|a| DirectoryAgent {
                    id: a.id.to_string(),
                    name: a.name,
                    activity: a.activity,
                    available: a.available,
                    load: a.load,
                    capacity: a.capacity,
                })
                .collect(),
            flows: d
                .flows
                .into_iter()
                .map(|f| DirectoryFlow {
                    name: f.name,
                    version: f.version,
                    description: f.flow.description.clone(),
                    side: serde_json::to_value(f.flow.side)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    params: f.flow.params.iter().filter_map(|p| serde_json::to_value(p).ok()).collect(),
                })
                .collect(),
            canned_responses: d.canned_responses,
        }
    }
}

/// GET /api/v1/directory — queues, agents and flows to hand a chat to, and
/// the canned responses (an agent token or a workspace key).
#[utoipa::path(get, path = "/api/v1/directory", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = DirectoryView), (status = 403, body = ErrorResponse)))]
pub async fn directory(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<DirectoryView>> {
    Ok(axum::Json(s.engine.directory(&caller).await?.into()))
}
