//! Who may do what on the routing and toolkit surface: one rule per
//! operation and caller kind, written once, here — one function per kind,
//! each a `match` over every [`Action`], so a new operation cannot be added
//! without deciding it for every caller. The engine asks [`rule`] before it
//! acts and checks the rule's condition against the stored state
//! (`Engine::permit`); `docs/authorization.md` is this table, and a test
//! keeps the two equal.
//!
//! The conversation log itself (reading, sending, receipts, typing, ending)
//! follows the membership rules of `Engine::conversation` and is not
//! repeated here.

use crate::engine::Caller;
use crate::model::Role;

/// Who is calling, as far as access goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A participant token of a customer: its own conversation only.
    Customer,
    /// An agent token; also a participant token of role `agent` or `system`
    /// (a person or bot the workspace added to one conversation).
    Agent,
    /// A participant token of role `supervisor` or `monitor`: one conversation.
    Supervisor,
    /// A workspace API key (the back office, flows, the CLI).
    Key,
}

impl Kind {
    pub fn of(caller: &Caller) -> Self {
        match caller {
            Caller::Admin { .. } => Self::Key,
            Caller::Agent(_) => Self::Agent,
            Caller::Participant(p) => match p.role {
                Role::Customer => Self::Customer,
                Role::Agent | Role::System => Self::Agent,
                Role::Supervisor | Role::Monitor => Self::Supervisor,
            },
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Customer => "a customer",
            Self::Agent => "an agent",
            Self::Supervisor => "a supervisor in a chat",
            Self::Key => "a workspace key",
        }
    }
}

/// The routing and toolkit operations, as the access table names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create, change, list agents; issue and revoke their tokens.
    ManageAgents,
    /// Read one agent.
    ReadAgent,
    /// Set an agent's activity (presence).
    SetActivity,
    /// List the workspace's activities.
    ListActivities,
    /// Create and delete activities.
    ManageActivities,
    /// Create, change, list queues.
    ManageQueues,
    /// Read and replace the workflow.
    ManageWorkflow,
    /// Put a chat in line (`POST …/route`).
    Route,
    /// Read a chat's routing task: queue, agent, offers, history.
    ReadTask,
    /// Why the chat is (or is not) offered to each agent: every agent's
    /// presence, load and reason, so a workspace key only.
    ExplainTask,
    /// Read a waiting chat's place in line and wait estimate.
    QueuePosition,
    /// Move a chat to another queue or agent.
    Transfer,
    /// Prefill the assigned agent's composer (`setAgentInput`).
    SetAgentInput,
    /// Ask the customer for a file (`initFileTransfer`).
    RequestFile,
    /// Withdraw a pending file request.
    CancelFileRequest,
    /// List a chat's file requests.
    ListFileRequests,
    /// List, accept and decline offers.
    AnswerOffers,
    /// Queue statistics, live chats, the supervisor stream.
    Supervise,
    /// List and pick up "message us" requests.
    MessageRequests,
    /// Create, list and revoke the workspace's access keys (SigV4).
    ManageAccessKeys,
    /// List the queues, agents and flows a chat can be handed to, and the
    /// canned responses (the agent console).
    ReadDirectory,
}

impl Action {
    /// Every action, in the table's order.
    pub const ALL: [Action; 21] = [
        Self::ManageAgents,
        Self::ReadAgent,
        Self::SetActivity,
        Self::ListActivities,
        Self::ManageActivities,
        Self::ManageQueues,
        Self::ManageWorkflow,
        Self::Route,
        Self::ReadTask,
        Self::ExplainTask,
        Self::QueuePosition,
        Self::Transfer,
        Self::SetAgentInput,
        Self::RequestFile,
        Self::CancelFileRequest,
        Self::ListFileRequests,
        Self::AnswerOffers,
        Self::Supervise,
        Self::MessageRequests,
        Self::ManageAccessKeys,
        Self::ReadDirectory,
    ];

    /// What it is and where, for the table and for refusals.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::ManageAgents => ("manage agents and their tokens", "`POST/GET/PATCH /agents…`, `…/tokens`"),
            Self::ReadAgent => ("read an agent", "`GET /agents/{id}`"),
            Self::SetActivity => ("set an agent's activity", "`PUT /agents/{id}/activity`, socket `activity`"),
            Self::ListActivities => ("list activities", "`GET /activities`"),
            Self::ManageActivities => ("create and delete activities", "`POST/DELETE /activities…`"),
            Self::ManageQueues => ("manage queues", "`POST/GET/PATCH /queues…`"),
            Self::ManageWorkflow => ("read and replace the workflow", "`GET/PUT /workflow`"),
            Self::Route => ("route a chat", "`POST /conversations/{id}/route`"),
            Self::ReadTask => ("read a chat's routing task", "`GET /conversations/{id}/task`"),
            Self::ExplainTask => ("explain a chat's routing", "`GET /conversations/{id}/task/explain`"),
            Self::QueuePosition => ("read a chat's place in line", "`GET /conversations/{id}/queue-position`"),
            Self::Transfer => ("transfer a chat", "`POST /conversations/{id}/transfer`"),
            Self::SetAgentInput => ("set the agent's input", "`POST /conversations/{id}/agent-input`"),
            Self::RequestFile => ("ask for a file", "`POST /conversations/{id}/file-requests`"),
            Self::CancelFileRequest => {
                ("cancel a file request", "`POST /conversations/{id}/file-requests/{request_id}/cancel`")
            }
            Self::ListFileRequests => ("list file requests", "`GET /conversations/{id}/file-requests`"),
            Self::AnswerOffers => ("list, accept and decline offers", "`GET /offers`, `POST /offers/{id}/…`, socket"),
            Self::Supervise => ("see queue statistics and live chats", "`GET /supervisor/…`, supervisor stream"),
            Self::MessageRequests => {
                ("list and pick up message requests", "`GET /message-requests`, `POST /message-requests/{id}/pick-up`")
            }
            Self::ManageAccessKeys => ("manage access keys", "`GET/POST /access-keys`, `DELETE /access-keys/{id}`"),
            Self::ReadDirectory => {
                ("list queues, agents, flows and canned responses for the console", "`GET /directory`")
            }
        }
    }
}

/// The condition under which a caller may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// On anything of the caller's workspace.
    Workspace,
    /// On the one conversation the participant token belongs to.
    OwnConversation,
    /// On a chat routed to this agent, even after it left (read only).
    AssignedChat,
    /// On a chat this agent holds now: assigned to it, and it still in it.
    /// (A participant token of role `agent`: while it is in its conversation.)
    HeldChat,
    /// On the agent itself: its record, its presence, the offers made to it.
    Itself,
    Denied,
}

impl Rule {
    fn cell(self) -> &'static str {
        match self {
            Self::Workspace => "its workspace",
            Self::OwnConversation => "its own conversation",
            Self::AssignedChat => "chats routed to it",
            Self::HeldChat => "chats it holds now",
            Self::Itself => "itself",
            Self::Denied => "—",
        }
    }
}

/// What a customer may do: see where it stands, and the files it is asked for.
pub fn customer(a: Action) -> Rule {
    use Action::*;
    match a {
        QueuePosition | ListFileRequests => Rule::OwnConversation,
        ManageAgents | ReadAgent | SetActivity | ListActivities | ManageActivities | ManageQueues | ManageWorkflow
        | Route | ReadTask | ExplainTask | Transfer | SetAgentInput | RequestFile | CancelFileRequest
        | AnswerOffers | Supervise | MessageRequests | ManageAccessKeys | ReadDirectory => Rule::Denied,
    }
}

/// What an agent may do: answer its offers, set its presence, and work the
/// chats it holds.
pub fn agent(a: Action) -> Rule {
    use Action::*;
    match a {
        ReadAgent | SetActivity | AnswerOffers | MessageRequests => Rule::Itself,
        ListActivities | ReadDirectory => Rule::Workspace,
        ReadTask | QueuePosition | ListFileRequests => Rule::AssignedChat,
        Transfer | SetAgentInput | RequestFile | CancelFileRequest => Rule::HeldChat,
        ManageAgents | ManageActivities | ManageQueues | ManageWorkflow | Route | ExplainTask | Supervise
        | ManageAccessKeys => Rule::Denied,
    }
}

/// What a supervisor in a chat (barged in, or monitoring) may do there.
pub fn supervisor(a: Action) -> Rule {
    use Action::*;
    match a {
        ReadTask | QueuePosition | RequestFile | CancelFileRequest | ListFileRequests => Rule::OwnConversation,
        ManageAgents | ReadAgent | SetActivity | ListActivities | ManageActivities | ManageQueues | ManageWorkflow
        | Route | ExplainTask | Transfer | SetAgentInput | AnswerOffers | Supervise | MessageRequests
        | ManageAccessKeys | ReadDirectory => Rule::Denied,
    }
}

/// What a workspace key may do: everything in its workspace but answer an
/// agent's offers for it.
pub fn key(a: Action) -> Rule {
    use Action::*;
    match a {
        AnswerOffers => Rule::Denied,
        ManageAgents | ReadAgent | SetActivity | ListActivities | ManageActivities | ManageQueues | ManageWorkflow
        | Route | ReadTask | ExplainTask | QueuePosition | Transfer | SetAgentInput | RequestFile
        | CancelFileRequest | ListFileRequests | Supervise | MessageRequests | ManageAccessKeys | ReadDirectory => {
            Rule::Workspace
        }
    }
}

pub fn rule(kind: Kind, a: Action) -> Rule {
    match kind {
        Kind::Customer => customer(a),
        Kind::Agent => agent(a),
        Kind::Supervisor => supervisor(a),
        Kind::Key => key(a),
    }
}

/// The refusal for a denied action.
pub fn refusal(kind: Kind, a: Action) -> crate::Error {
    crate::Error::forbidden(format!("{} may not {}", kind.noun(), a.describe().0))
}

/// The table as markdown, as `docs/authorization.md` shows it.
pub fn table() -> String {
    let mut out = String::from(
        "| operation | endpoints | customer | agent | supervisor in a chat | workspace key |\n|---|---|---|---|---|---|\n",
    );
    for a in Action::ALL {
        let (what, where_) = a.describe();
        out.push_str(&format!(
            "| {what} | {where_} | {} | {} | {} | {} |\n",
            customer(a).cell(),
            agent(a).cell(),
            supervisor(a).cell(),
            key(a).cell()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_show_this_table() {
        let doc = include_str!("../../../docs/authorization.md");
        assert!(doc.contains(&table()), "docs/authorization.md is out of date; its table must read:\n\n{}", table());
    }

    #[test]
    fn customers_reach_no_agent_tool_and_no_routing_internals() {
        for a in [Action::SetAgentInput, Action::ReadTask, Action::Transfer, Action::RequestFile, Action::AnswerOffers]
        {
            assert_eq!(customer(a), Rule::Denied, "{a:?}");
        }
    }
}
