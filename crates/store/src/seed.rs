//! Filling a store with history, fast, for the growth benchmarks: many
//! ended conversations of a customer and an agent, written straight into the
//! tables through the store's own insert statements (one transaction per
//! slice of conversations), not through the engine.
//!
//! The server must not be running on the database meanwhile (the load
//! generator's `seed` takes the SQLite lock the server takes).

use std::time::{Duration, Instant};

use switchboard_core::clock::{Clock as _, SystemClock, Timestamp};
use switchboard_core::event::{ContentType, EndReason, Event, EventKind};
use switchboard_core::ids::{ConversationId, EventId, ParticipantId, WorkspaceId};
use switchboard_core::model::{Attributes, Conversation, ConversationState, IdleSettings, Participant, Role};
use switchboard_core::{Error, Result};

use crate::StoreConfig;
use crate::direct::Direct;
use crate::sql::{self, Stmt};

/// The fewest events a seeded conversation has: created, two joins, one
/// message, ended.
pub const MIN_EVENTS_PER_CONVERSATION: u32 = 5;

/// What to write.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Where the conversations go; `None`: the store's first workspace (the
    /// one a fresh install creates and the admin key belongs to).
    pub workspace: Option<WorkspaceId>,
    pub conversations: u64,
    /// Each conversation's events, at least [`MIN_EVENTS_PER_CONVERSATION`].
    pub events_per_conversation: u32,
    /// Conversations written per transaction.
    pub per_transaction: u64,
}

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct SeedReport {
    pub workspace: WorkspaceId,
    pub conversations: u64,
    pub events: u64,
    pub elapsed: Duration,
}

/// Writes `plan` into the store at `url` (migrating it first), calling
/// `progress` with the number of events written so far after each
/// transaction.
pub async fn seed(url: &str, plan: &SeedPlan, mut progress: impl FnMut(u64)) -> Result<SeedReport> {
    if plan.events_per_conversation < MIN_EVENTS_PER_CONVERSATION {
        return Err(Error::invalid(
            "events_per_conversation",
            format!("must be at least {MIN_EVENTS_PER_CONVERSATION}"),
        ));
    }
    crate::migrate(&StoreConfig::new(url)).await?;
    let mut conn = Direct::connect(url).await?;
    let workspace = match plan.workspace {
        Some(w) => w,
        None => first_workspace(&mut conn).await?,
    };
    let started = Instant::now();
    let now = SystemClock.now();
    let mut written = 0;
    let mut events = 0;
    while written < plan.conversations {
        let n = plan.per_transaction.max(1).min(plan.conversations - written);
        let slice = Slice::new(workspace, plan, written, n, now);
        conn.transaction(&slice.statements()).await?;
        written += n;
        events += slice.events.len() as u64;
        progress(events);
    }
    Ok(SeedReport { workspace, conversations: written, events, elapsed: started.elapsed() })
}

async fn first_workspace(conn: &mut Direct) -> Result<WorkspaceId> {
    let ids = conn.texts(&sql::first_workspace(), "id").await?;
    match ids.first() {
        Some(id) => WorkspaceId::parse(id).map_err(Error::internal),
        None => Err(Error::invalid("workspace", "the store has no workspace yet: start the server on it once")),
    }
}

/// The rows of one transaction's conversations.
struct Slice {
    conversations: Vec<Conversation>,
    participants: Vec<Participant>,
    events: Vec<Event>,
}

/// About 70 bytes of text, as a chat message is.
const LINES: [&str; 4] = [
    "Hello, I have a question about my last invoice from March, can you help?",
    "Of course. Could you tell me the invoice number printed at the top right?",
    "It is INV-2026-0412. The total looks higher than the month before it.",
    "Thanks, I see it. A one-off setup fee was added; let me explain the line.",
];

impl Slice {
    /// Conversations `first .. first + n` of the plan: spaced a minute
    /// apart, the last one ending a minute before `now`, each event a
    /// second after the one before.
    fn new(workspace: WorkspaceId, plan: &SeedPlan, first: u64, n: u64, now: Timestamp) -> Self {
        let per = i64::from(plan.events_per_conversation);
        let mut slice = Self { conversations: Vec::new(), participants: Vec::new(), events: Vec::new() };
        for i in first..first + n {
            let back = i64::try_from(plan.conversations - i).unwrap_or(i64::MAX / 2);
            let start = Timestamp(now.millis() - back.saturating_mul(60_000) - per * 1000);
            slice.conversation(workspace, start, per);
        }
        slice
    }

    fn conversation(&mut self, workspace: WorkspaceId, start: Timestamp, per: i64) {
        let id = ConversationId::new();
        let at = |seq: i64| Timestamp(start.millis() + seq * 1000);
        let ended = at(per);
        let people = [(ParticipantId::new(), Role::Customer, "Customer"), (ParticipantId::new(), Role::Agent, "Agent")];
        let event = |seq: i64, by: Option<ParticipantId>, kind: EventKind, token: Option<String>| Event {
            conversation_id: id,
            seq,
            id: EventId::new(),
            at: at(seq),
            participant_id: by,
            kind,
            client_token: token,
        };
        let mut log = vec![event(1, None, EventKind::ConversationCreated { attributes: Attributes::new() }, None)];
        for (seq, (who, role, name)) in (2..).zip(people) {
            let kind = EventKind::ParticipantJoined { member_id: who, role, display_name: name.into() };
            log.push(event(seq, Some(who), kind, None));
        }
        for seq in 4..per {
            let (who, _, _) = people[(seq % 2) as usize];
            let content = LINES[(seq % 4) as usize].to_owned();
            let kind = EventKind::Message { content_type: ContentType::TextPlain, content };
            log.push(event(seq, Some(who), kind, Some(EventId::new().to_string())));
        }
        log.push(event(per, None, EventKind::ConversationEnded { reason: EndReason::Ended }, None));
        self.participants.extend(people.iter().map(|&(who, role, name)| Participant {
            id: who,
            conversation_id: id,
            role,
            display_name: name.into(),
            joined_at: at(2),
            left_at: Some(ended),
            idle: false,
            agent_id: None,
        }));
        self.conversations.push(Conversation {
            id,
            workspace_id: workspace,
            entry_point_id: None,
            state: ConversationState::Ended,
            attributes: Attributes::new(),
            record_id: None,
            previous_conversation_id: None,
            rehydration: None,
            next_conversation_id: None,
            idle: IdleSettings::default(),
            last_seq: per,
            active_participants: 0,
            task_id: None,
            runs: Vec::new(),
            hooks: Vec::new(),
            created_at: start,
            ended_at: Some(ended),
        });
        self.events.extend(log);
    }

    fn statements(&self) -> Vec<Stmt> {
        let c = self.conversations.chunks(sql::CHUNK).map(sql::insert_conversations);
        let p = self.participants.chunks(sql::CHUNK).map(sql::insert_participants);
        let e = self.events.chunks(sql::CHUNK).map(sql::insert_events);
        c.chain(p).chain(e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_holds_whole_gapless_conversations() {
        let plan = SeedPlan { workspace: None, conversations: 10, events_per_conversation: 7, per_transaction: 4 };
        let slice = Slice::new(WorkspaceId::new(), &plan, 4, 4, Timestamp(1_000_000_000));
        assert_eq!(slice.conversations.len(), 4);
        assert_eq!(slice.participants.len(), 8);
        assert_eq!(slice.events.len(), 28);
        for c in &slice.conversations {
            let seqs: Vec<i64> = slice.events.iter().filter(|e| e.conversation_id == c.id).map(|e| e.seq).collect();
            assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
            assert_eq!(c.last_seq, 7);
            assert!(c.created_at < c.ended_at.unwrap());
        }
        assert!(slice.conversations[0].created_at < slice.conversations[3].created_at, "older first");
    }
}
