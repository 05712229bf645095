//! Erasure and retention: the records and the rules.
//!
//! Erasing a conversation deletes it with everything derived from it — its
//! log, participants and their tokens, timers, routing rows (task, offers,
//! task history), file requests, attachments (their bytes through the
//! outbox), flow runs with their logs and forms, the custom events published
//! from it, its scoped webhooks and its outbox items — and leaves one audit
//! row, an [`Erasure`]: when, by whom, why, and how many rows of each kind
//! went; nothing of what they said. A chat that continued an erased one loses
//! its link back (its history starts at itself), and the chat an erased one
//! continued may be continued again.
//!
//! Retention is the same erasure, run in the background on ended
//! conversations older than a workspace's [`RetentionSettings`], a few at a
//! time ([`PurgeBatch`]) so sends to other chats keep flowing.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ids::{ApiKeyId, ConversationId, ErasureId, WorkspaceId};

/// How long a workspace keeps ended conversations. Unset: for ever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Ended conversations are erased this many days after they ended.
    #[serde(default)]
    pub ended_conversations_days: Option<u32>,
}

impl RetentionSettings {
    /// The longest retention that can be set (about ten years).
    pub const MAX_DAYS: u32 = 3650;

    pub fn validate(&self) -> Result<()> {
        match self.ended_conversations_days {
            Some(d) if d == 0 || d > Self::MAX_DAYS => Err(Error::invalid(
                "retention.ended_conversations_days",
                format!("must be from 1 to {} days, or null to keep conversations for ever", Self::MAX_DAYS),
            )),
            _ => Ok(()),
        }
    }

    /// Conversations that ended before this time are due at `now`.
    pub fn ended_before(&self, now: Timestamp) -> Option<Timestamp> {
        let days = self.ended_conversations_days?;
        Some(Timestamp(now.millis() - i64::from(days) * 86_400_000))
    }
}

/// Who erased a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasedBy {
    /// A workspace API key, through the API.
    ApiKey(ApiKeyId),
    /// An operator on the server's command line.
    Operator,
    /// The workspace's retention setting.
    Retention,
}

impl ErasedBy {
    /// As stored: the key's id, `operator` or `retention`.
    pub fn to_stored(self) -> String {
        match self {
            Self::ApiKey(k) => k.to_string(),
            Self::Operator => "operator".into(),
            Self::Retention => "retention".into(),
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Self::Operator),
            "retention" => Some(Self::Retention),
            key => ApiKeyId::parse(key).ok().map(Self::ApiKey),
        }
    }
}

/// Why a conversation was erased, as the caller put it: at most
/// [`Reason::MAX_CHARS`] characters, no control characters. It is kept in
/// the audit row, so it should say why, not repeat what the chat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > Self::MAX_CHARS || s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "reason",
                format!("1 to {} characters, no control characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// What retention writes.
    pub fn retention() -> Self {
        Self("retention".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One conversation to erase, and the audit row's id and who and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraseRequest {
    pub id: ErasureId,
    pub workspace: WorkspaceId,
    pub conversation: ConversationId,
    pub by: ErasedBy,
    pub reason: Option<Reason>,
}

/// A conversation a batch erases: the request, when the chat ended (the
/// audit row keeps it; the row it came from is gone), and the outbox item
/// that deletes its files, written only if it has attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedErasure {
    pub request: EraseRequest,
    pub ended_at: Option<Timestamp>,
    pub files: crate::flows::records::OutboxItem,
}

/// How many rows of each kind an erasure deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureCounts {
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

/// The audit row of an erased conversation: no content, no names, no attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub id: ErasureId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub erased_at: Timestamp,
    pub by: ErasedBy,
    pub reason: Option<String>,
    /// When the conversation had ended (it may have been ended by the erasure).
    pub ended_at: Option<Timestamp>,
    pub deleted: ErasureCounts,
}

/// How much one retention command erases at most: this many conversations,
/// and no more events than this unless a single conversation has more; and
/// whether the purge rests between commands as long as each took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeBatch {
    pub conversations: usize,
    pub events: i64,
    pub rest: bool,
}

impl Default for PurgeBatch {
    fn default() -> Self {
        Self { conversations: 10, events: 1_000, rest: true }
    }
}

impl PurgeBatch {
    /// Cuts `due` (conversation, events in its log) into commands' worth.
    pub fn split<T: Copy>(&self, due: &[(T, i64)]) -> Vec<Vec<T>> {
        let mut out: Vec<Vec<T>> = Vec::new();
        let (mut current, mut events) = (Vec::new(), 0i64);
        for &(item, n) in due {
            let full = current.len() >= self.conversations.max(1) || events.saturating_add(n) > self.events;
            if full && !current.is_empty() {
                out.push(std::mem::take(&mut current));
                events = 0;
            }
            current.push(item);
            events = events.saturating_add(n);
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }
}

/// What a retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub conversations: u64,
    pub events: u64,
    /// Writer commands it took.
    pub commands: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_one_day_to_ten_years_or_unset() {
        for ok in [None, Some(1), Some(30), Some(RetentionSettings::MAX_DAYS)] {
            RetentionSettings { ended_conversations_days: ok }.validate().unwrap();
        }
        for bad in [Some(0), Some(RetentionSettings::MAX_DAYS + 1), Some(u32::MAX)] {
            let e = RetentionSettings { ended_conversations_days: bad }.validate().unwrap_err();
            assert_eq!(e.field.as_deref(), Some("retention.ended_conversations_days"));
        }
        let s = RetentionSettings { ended_conversations_days: Some(2) };
        assert_eq!(s.ended_before(Timestamp(3 * 86_400_000)), Some(Timestamp(86_400_000)));
        assert_eq!(RetentionSettings::default().ended_before(Timestamp(0)), None);
    }

    #[test]
    fn settings_read_unknown_fields_as_errors() {
        let s: RetentionSettings = serde_json::from_str(r#"{"ended_conversations_days": 7}"#).unwrap();
        assert_eq!(s.ended_conversations_days, Some(7));
        assert!(serde_json::from_str::<RetentionSettings>(r#"{"days": 7}"#).is_err());
    }

    #[test]
    fn reasons_are_short_plain_text() {
        assert_eq!(Reason::parse("  customer asked  ").unwrap().as_str(), "customer asked");
        for bad in ["", "   ", "a\nb", &"x".repeat(Reason::MAX_CHARS + 1)] {
            assert!(Reason::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Reason::parse(&"é".repeat(Reason::MAX_CHARS)).is_ok(), "characters, not bytes");
    }

    #[test]
    fn who_erased_round_trips_through_storage() {
        for by in [ErasedBy::ApiKey(ApiKeyId::new()), ErasedBy::Operator, ErasedBy::Retention] {
            assert_eq!(ErasedBy::from_stored(&by.to_stored()), Some(by));
        }
        assert_eq!(ErasedBy::from_stored("someone"), None);
    }

    #[test]
    fn batches_hold_few_conversations_and_few_events() {
        let batch = PurgeBatch { conversations: 3, events: 100, rest: false };
        let due: Vec<(u32, i64)> = vec![(1, 10), (2, 10), (3, 10), (4, 10), (5, 90), (6, 500), (7, 1)];
        assert_eq!(batch.split(&due), vec![vec![1, 2, 3], vec![4, 5], vec![6], vec![7]]);
        assert!(batch.split::<u32>(&[]).is_empty());
        let alone = PurgeBatch { conversations: 0, events: 0, rest: false };
        assert_eq!(alone.split(&[(1, 5), (2, 5)]), vec![vec![1], vec![2]], "at least one per command");
    }
}
