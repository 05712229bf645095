//! Applying the access table ([`crate::access`]) to a call: the rule for
//! the caller's kind and the operation, then its condition checked against
//! the stored state. Every routing and toolkit operation starts here.

use super::{Caller, Engine};
use crate::access::{self, Action, Kind, Rule};
use crate::error::{Error, Result};
use crate::ids::{AgentId, WorkspaceId};
use crate::model::{Conversation, ConversationState};
use crate::routing::model::{Agent, TaskState};

impl Engine {
    /// May `caller` do `action` (one that is not about a conversation)?
    /// Returns the workspace it acts in. For [`Rule::Itself`], `target` is
    /// the agent acted on (None: the caller itself).
    pub(crate) fn permit(&self, caller: &Caller, action: Action, target: Option<AgentId>) -> Result<WorkspaceId> {
        let kind = Kind::of(caller);
        match (access::rule(kind, action), caller) {
            (Rule::Denied, _) => Err(access::refusal(kind, action)),
            (Rule::Workspace, Caller::Admin { workspace }) => Ok(*workspace),
            (Rule::Workspace, Caller::Agent(a)) => Ok(a.workspace_id),
            (Rule::Itself, Caller::Agent(a)) if target.is_none_or(|t| t == a.id) => Ok(a.workspace_id),
            (Rule::Itself, Caller::Agent(_)) => Err(Error::forbidden("an agent may act only on itself")),
            // A participant token of role `agent` belongs to one conversation, not to a workspace's agent.
            (Rule::Workspace | Rule::Itself, Caller::Participant(_)) => {
                Err(Error::forbidden(format!("only an agent token or a workspace key may {}", action.describe().0)))
            }
            (rule, _) => Err(Error::internal(format!("{action:?} has no workspace rule for {kind:?} ({rule:?})"))),
        }
    }

    /// May `caller` do `action` on conversation `id`? Returns the conversation.
    pub(crate) async fn permit_chat(
        &self,
        caller: &Caller,
        action: Action,
        id: crate::ids::ConversationId,
    ) -> Result<Conversation> {
        let kind = Kind::of(caller);
        let rule = access::rule(kind, action);
        if rule == Rule::Denied {
            return Err(access::refusal(kind, action));
        }
        // Membership: a key its workspace's chats, a participant token its
        // own, an agent token the chats routed to it.
        let c = self.conversation(caller, id).await?;
        match rule {
            Rule::Workspace | Rule::OwnConversation | Rule::AssignedChat => Ok(c),
            Rule::HeldChat => {
                // Nobody holds an ended chat; say it ended rather than "not yours".
                if c.state == ConversationState::Ended {
                    return Err(Error::conversation_ended());
                }
                self.holds(caller, &c).await?;
                Ok(c)
            }
            Rule::Itself | Rule::Denied => {
                Err(Error::internal(format!("{action:?} has no conversation rule for {kind:?}")))
            }
        }
    }

    /// Whether the caller holds the chat now: an agent token, the chat
    /// assigned to it and it still in it; a participant token, still in it.
    async fn holds(&self, caller: &Caller, c: &Conversation) -> Result<()> {
        let not_yours = || Error::forbidden("only the agent who has the chat now may do this");
        match caller {
            Caller::Agent(a) => {
                let task = match c.task_id {
                    Some(t) => self.store.task(t).await?,
                    None => None,
                };
                let assigned = task.is_some_and(|t| t.agent_id == Some(a.id) && t.state == TaskState::Assigned);
                if !assigned || !self.agent_participant(a, c.id).await?.is_active() {
                    return Err(not_yours());
                }
                Ok(())
            }
            Caller::Participant(p) => {
                let now = self.store.participant(p.id).await?;
                if !now.is_some_and(|p| p.is_active()) {
                    return Err(Error::forbidden("this participant has left the conversation"));
                }
                Ok(())
            }
            Caller::Admin { .. } => Ok(()),
        }
    }
}

/// The agent behind an agent token, for rules that need one.
pub(crate) fn agent_of(caller: &Caller) -> Result<&Agent> {
    match caller {
        Caller::Agent(a) => Ok(a),
        _ => Err(Error::forbidden("this needs an agent token")),
    }
}
