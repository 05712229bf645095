//! What the agent console lists: the queues and agents a chat can be
//! transferred to, the flows an agent can launch into a chat, and the
//! workspace's canned responses.

use serde::{Deserialize, Serialize};

use super::{Caller, Engine};
use crate::access::Action;
use crate::error::{Error, Result};
use crate::flows::records::DeployedFlow;
use crate::routing::model::{Agent, Queue};

/// A saved answer an agent can put in the composer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    /// Short, unique in the workspace: what an agent types after `/`.
    pub id: String,
    pub title: String,
    pub text: String,
}

const MAX_CANNED: usize = 500;

/// Checks a workspace's canned responses before they are stored.
pub fn check_canned(list: &[CannedResponse]) -> Result<()> {
    if list.len() > MAX_CANNED {
        return Err(Error::invalid("canned_responses", format!("at most {MAX_CANNED}")));
    }
    for (i, c) in list.iter().enumerate() {
        let at = |f: &str| format!("canned_responses[{i}].{f}");
        let id_ok = !c.id.is_empty()
            && c.id.len() <= 64
            && c.id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !id_ok {
            return Err(Error::invalid(at("id"), "letters, digits, - and _, 1 to 64"));
        }
        if list[..i].iter().any(|d| d.id == c.id) {
            return Err(Error::invalid(at("id"), format!("`{}` is used twice", c.id)));
        }
        if c.title.trim().is_empty() || c.title.chars().count() > 200 || c.title.chars().any(char::is_control) {
            return Err(Error::invalid(at("title"), "1 to 200 characters, no control characters"));
        }
        if c.text.trim().is_empty() || c.text.chars().count() > 4000 {
            return Err(Error::invalid(at("text"), "1 to 4000 characters"));
        }
    }
    Ok(())
}

/// The workspace as the agent console lists it.
#[derive(Debug, Clone)]
pub struct Directory {
    pub queues: Vec<Queue>,
    pub agents: Vec<Agent>,
    /// The latest version of each flow.
    pub flows: Vec<DeployedFlow>,
    pub canned_responses: Vec<CannedResponse>,
}

impl Engine {
    /// Queues, enabled agents, flows and canned responses of the caller's
    /// workspace (an agent token or a workspace key).
    pub async fn directory(&self, caller: &Caller) -> Result<Directory> {
        let workspace = self.permit(caller, Action::ReadDirectory, None)?;
        let (queues, agents, flows, settings) = tokio::try_join!(
            self.store.queues(workspace),
            self.store.agents(workspace),
            self.store.flows(workspace),
            self.workspace_settings(workspace),
        )?;
        Ok(Directory {
            queues,
            agents: agents.into_iter().filter(|a| a.enabled).collect(),
            flows,
            canned_responses: settings.canned_responses,
        })
    }
}
