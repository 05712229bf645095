//! Persistent chat: a chat started from an ended one carries its past.
//!
//! The new conversation links back (`previous_conversation_id`) with a
//! rehydration mode; the planner checks that the source has ended, is in the
//! same workspace and is continued only once. Here: who may continue a chat
//! through a public entry point (the customer of the source, proven by its
//! participant token), which segments a conversation's history holds, the
//! transcript across them, and the routing step that offers a continued chat
//! first to the agent who had the one it continues.

use std::fmt;

use super::{Caller, Engine};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::ids::{AgentId, ConversationId};
use crate::model::{Conversation, Participant, Rehydration, Role};
use crate::routing::matcher;
use crate::routing::model::{RouteStep, TaskState};
use crate::store::{EventRange, Order};

/// The most segments a history holds: the newest ones, the conversation
/// itself included. Older segments are left out of its transcript.
pub const MAX_SEGMENTS: usize = 100;

/// A chat to start as the continuation of an ended one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContinueFrom {
    pub conversation: ConversationId,
    pub rehydration: Rehydration,
}

/// A place in a history: a conversation of it and a seq in that
/// conversation's log. Written `cnv_…:SEQ`, as the agent socket's cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentCursor {
    pub conversation: ConversationId,
    pub seq: i64,
}

impl SegmentCursor {
    /// Reads `cnv_…:SEQ`; anything else is a malformed request naming `field`.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let bad =
            || Error::malformed(format!("{field} must be a conversation and a seq, like cnv_…:12")).with_field(field);
        let (c, n) = s.split_once(':').ok_or_else(bad)?;
        let seq: i64 = n.parse().map_err(|_| bad())?;
        if seq < 0 {
            return Err(bad());
        }
        Ok(Self { conversation: ConversationId::parse(c).map_err(|_| bad())?, seq })
    }
}

impl fmt::Display for SegmentCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.conversation, self.seq)
    }
}

/// A window of a history: events after `after` and before `before` in
/// history order (oldest segment first, then seq), the first `limit` in
/// `order`.
#[derive(Debug, Clone, Copy)]
pub struct SegmentRange {
    pub after: Option<SegmentCursor>,
    pub before: Option<SegmentCursor>,
    pub limit: u32,
    pub order: Order,
}

/// A page of a history's transcript.
#[derive(Debug)]
pub struct SegmentPage {
    /// The conversations of the history, oldest first; the one asked about last.
    pub segments: Vec<ConversationId>,
    /// The events the caller may see, each with its `conversation_id`.
    pub events: Vec<Event>,
    /// Where the next page starts, when this one was full (from the events
    /// as read, hidden ones included, so a cursor never goes back).
    pub next: Option<SegmentCursor>,
}

impl Engine {
    /// Checks that `caller` may start a chat through an entry point that
    /// continues `from`: it must hold the customer token of that chat (nobody
    /// else may carry someone's transcript into a chat of their own). Returns
    /// the source's customer.
    pub(crate) async fn vouch_continuation(&self, from: ContinueFrom, caller: Option<&Caller>) -> Result<Participant> {
        let field = "continue_from.conversation_id";
        let Some(caller) = caller else {
            return Err(Error::unauthenticated(
                "continuing a chat needs the customer token of the chat it continues (Authorization: Bearer sbp_…)",
            ));
        };
        match caller {
            Caller::Participant(p) if p.conversation_id == from.conversation && p.role == Role::Customer => {
                Ok(p.clone())
            }
            _ => Err(Error::forbidden(format!(
                "only the customer of conversation {}, with its token, may continue it here",
                from.conversation
            ))
            .with_field(field)),
        }
    }

    /// A workspace key vouches for continuing an ended chat of its own
    /// workspace (whether it ended is the planner's check). Returns the
    /// source's customer; a chat of another workspace is not found.
    pub(crate) async fn vouch_continuation_by_key(
        &self,
        from: ContinueFrom,
        workspace: crate::ids::WorkspaceId,
    ) -> Result<Participant> {
        let field = "continue_from.conversation_id";
        let source = self
            .store
            .conversation(from.conversation)
            .await?
            .filter(|c| c.workspace_id == workspace)
            .ok_or_else(|| Error::not_found("conversation").with_field(field))?;
        self.store
            .participants(source.id)
            .await?
            .into_iter()
            .find(|p| p.role == Role::Customer)
            .ok_or_else(|| Error::invalid(field, "the chat continued has no customer"))
    }

    /// The conversations whose events make `c`'s history, oldest first,
    /// ending with `c`. A conversation continued `from_segment` carries only
    /// the one it continues; `entire_past_session` carries that one's own
    /// history too. At most [`MAX_SEGMENTS`].
    pub(crate) async fn history(&self, c: &Conversation) -> Result<Vec<ConversationId>> {
        let mut out = vec![c.id];
        let mut at = c.clone();
        while out.len() < MAX_SEGMENTS {
            let (Some(previous), Some(mode)) = (at.previous_conversation_id, at.rehydration) else { break };
            let Some(p) = self.store.conversation(previous).await?.filter(|p| p.workspace_id == c.workspace_id) else {
                break;
            };
            out.push(p.id);
            if mode == Rehydration::FromSegment {
                break;
            }
            at = p;
        }
        out.reverse();
        Ok(out)
    }

    /// A page of a conversation's transcript across its history: the
    /// earlier segments are read through it, by whoever may read it, with
    /// the same screens (silent monitors, agent-side forms) in every segment.
    pub async fn transcript_segments(
        &self,
        caller: &Caller,
        id: ConversationId,
        range: SegmentRange,
    ) -> Result<SegmentPage> {
        let c = self.conversation(caller, id).await?;
        let segments = self.history(&c).await?;
        let place = |field: &str, cursor: Option<SegmentCursor>| -> Result<Option<(usize, i64)>> {
            let Some(cursor) = cursor else { return Ok(None) };
            match segments.iter().position(|s| *s == cursor.conversation) {
                Some(i) => Ok(Some((i, cursor.seq))),
                None => Err(Error::malformed(format!(
                    "{field}: conversation {} is not part of this conversation's history",
                    cursor.conversation
                ))
                .with_field(field)),
            }
        };
        let after = place("after", range.after)?;
        let before = place("before", range.before)?;
        let limit = range.limit.clamp(1, self.limits.page_max);
        let order: Vec<usize> = match range.order {
            Order::Ascending => (0..segments.len()).collect(),
            Order::Descending => (0..segments.len()).rev().collect(),
        };
        let mut read: Vec<Event> = Vec::new();
        for i in order {
            if after.is_some_and(|(a, _)| i < a) || before.is_some_and(|(b, _)| i > b) {
                continue;
            }
            let window = EventRange {
                after: after.filter(|(a, _)| *a == i).map(|(_, seq)| seq),
                before: before.filter(|(b, _)| *b == i).map(|(_, seq)| seq),
                limit: limit - read.len() as u32,
                order: range.order,
            };
            read.extend(self.store.events(segments[i], window).await?);
            if read.len() as u32 >= limit {
                break;
            }
        }
        let next = (read.len() as u32 >= limit)
            .then(|| read.last().map(|e| SegmentCursor { conversation: e.conversation_id, seq: e.seq }))
            .flatten();
        let mut events = Vec::with_capacity(read.len());
        let mut screen: Option<(ConversationId, crate::event::Screen)> = None;
        for e in read {
            if screen.as_ref().is_none_or(|(s, _)| *s != e.conversation_id) {
                screen = Some((e.conversation_id, self.screen_for(caller, e.conversation_id).await?));
            }
            if screen.as_mut().is_some_and(|(_, s)| s.admit(&e)) {
                events.push(e);
            }
        }
        Ok(SegmentPage { segments, events, next })
    }

    /// The agent who had the chat `c` continues: the one its task was last
    /// assigned to, else the last agent who joined it through routing.
    async fn previous_agent(&self, c: &Conversation) -> Result<Option<AgentId>> {
        let Some(previous) = c.previous_conversation_id else { return Ok(None) };
        let Some(source) = self.store.conversation(previous).await?.filter(|s| s.workspace_id == c.workspace_id) else {
            return Ok(None);
        };
        if let Some(t) = source.task_id
            && let Some(task) = self.store.task(t).await?
            && matches!(task.state, TaskState::Assigned | TaskState::WrapUp | TaskState::Completed)
            && task.agent_id.is_some()
        {
            return Ok(task.agent_id);
        }
        let agents = self.store.participants(previous).await?.into_iter().filter(|p| p.agent_id.is_some());
        Ok(agents.max_by_key(|p| p.joined_at).and_then(|p| p.agent_id))
    }

    /// Persistent chat's routing: when `c` continues a chat, the first step's
    /// queue prefers the previous agent, and that agent is present and serves
    /// the step, a step is put first that offers the chat only to that agent,
    /// for the queue's `prefer_previous_agent_secs`; then the route as it
    /// was. An agent not present: the route is left as it is.
    pub(crate) async fn prefer_previous_agent(&self, c: &Conversation, route: &mut Vec<RouteStep>) -> Result<()> {
        let Some(first) = route.first().filter(|s| s.agent.is_none() && !s.preferred) else { return Ok(()) };
        if c.previous_conversation_id.is_none() {
            return Ok(());
        }
        let Some(queue) = self.store.queue(first.queue).await?.filter(|q| q.workspace_id == c.workspace_id) else {
            return Ok(());
        };
        let Some(secs) = queue.prefer_previous_agent_secs.filter(|s| *s > 0) else { return Ok(()) };
        let Some(agent) = self.previous_agent(c).await? else { return Ok(()) };
        let Some(agent) = self.store.agent(agent).await?.filter(|a| a.workspace_id == c.workspace_id) else {
            return Ok(());
        };
        let present = agent.enabled && agent.available;
        if !present || !matcher::eligible(&agent, &queue, first.agents.as_deref()) {
            return Ok(());
        }
        let step = RouteStep {
            queue: first.queue,
            agents: first.agents.clone(),
            timeout_secs: Some(secs),
            // Gone before the router looks: normal routing at once.
            skip_if_nobody_available: true,
            agent: Some(agent.id),
            preferred: true,
            ring: None,
            message: None,
            // A closed queue: the step after it (the same queue) decides.
            when_closed: crate::routing::model::WhenClosed::Next,
        };
        route.insert(0, step);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn cursors_read_and_write_the_same_form() {
        let c = ConversationId::new();
        let cursor = SegmentCursor::parse("after", &format!("{c}:12")).unwrap();
        assert_eq!(cursor, SegmentCursor { conversation: c, seq: 12 });
        assert_eq!(SegmentCursor::parse("after", &cursor.to_string()).unwrap(), cursor);
        for bad in
            ["", "12", ":12", &format!("{c}"), &format!("{c}:"), &format!("{c}:-1"), &format!("{c}:x"), "prt_1:2"]
        {
            let e = SegmentCursor::parse("before", bad).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), (ErrorCode::MalformedRequest, Some("before")), "{bad}");
        }
    }
}
