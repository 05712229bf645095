//! Typed identifiers.
//!
//! Every id is a ULID (sortable by creation time) behind a short prefix that
//! names its kind, so `cnv_01J…` can never be passed where a participant id is
//! expected, neither in Rust nor on the wire. Ids are parsed at the edge and
//! stored as their full text form in both backends.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// The input was not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind} id (expected `{prefix}_` followed by 26 characters)")]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub input: String,
}

/// The next ULID, later than every one this process made before. A plain
/// `Ulid::new` orders ids only to the millisecond: two conversations made
/// in the same millisecond would list in random order.
fn next_ulid() -> Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; a fresh random one then.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id, unique and ordered by creation time (within this
            /// process also among ids made in the same millisecond).
            pub fn new() -> Self {
                Self(next_ulid())
            }

            /// Parses `prefix_ULID`; anything else is an [`IdError`].
            pub fn parse(input: &str) -> Result<Self, IdError> {
                let err = || IdError { kind: $kind, prefix: $prefix, input: truncate(input) };
                let rest = input
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or_else(err)?;
                // 26 Crockford digits; a first digit above 7 would overflow 128 bits.
                if rest.len() != 26 || rest.as_bytes()[0] > b'7' {
                    return Err(err());
                }
                Ulid::from_string(rest).map(Self).map_err(|_| err())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn truncate(input: &str) -> String {
    input.chars().take(64).collect()
}

typed_id!(
    /// A tenant.
    WorkspaceId, "wsp", "workspace"
);
typed_id!(
    /// A workspace API key (the key's id, not its secret).
    ApiKeyId, "key", "API key"
);
typed_id!(
    /// A public way into chat.
    EntryPointId, "ept", "entry point"
);
typed_id!(
    /// One chat.
    ConversationId, "cnv", "conversation"
);
typed_id!(
    /// A member of one conversation.
    ParticipantId, "prt", "participant"
);
typed_id!(
    /// One entry of a conversation's log.
    EventId, "evt", "event"
);
typed_id!(
    /// A person who answers chats.
    AgentId, "agt", "agent"
);
typed_id!(
    /// Where waiting chats wait for an agent.
    QueueId, "que", "queue"
);
typed_id!(
    /// Named hours of operation.
    ScheduleId, "sch", "schedule"
);
typed_id!(
    /// A chat that needs an agent.
    TaskId, "tsk", "task"
);
typed_id!(
    /// An offer of a task to one agent.
    OfferId, "ofr", "offer"
);
typed_id!(
    /// A request to the customer for a file.
    FileRequestId, "frq", "file request"
);

typed_id!(
    /// One deployed version of a flow.
    FlowId, "flw", "flow"
);

typed_id!(
    /// One run of a flow in one conversation.
    FlowRunId, "run", "flow run"
);

typed_id!(
    /// A form sent into a conversation.
    FormId, "frm", "form"
);

typed_id!(
    /// A published custom event.
    CustomEventId, "cev", "custom event"
);

typed_id!(
    /// Work for outside the writer: an HTTP call, a delivery, a launch.
    OutboxId, "obx", "outbox item"
);

typed_id!(
    /// An endpoint (or flow) told about events.
    WebhookId, "whk", "webhook"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_json() {
        let id = ConversationId::new();
        assert_eq!(ConversationId::parse(&id.to_string()).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
    }

    #[test]
    fn ids_made_one_after_another_sort_in_that_order() {
        // Thousands fall in one millisecond: their order must not be left to chance.
        let ids: Vec<ConversationId> = (0..5_000).map(|_| ConversationId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.windows(2).all(|w| w[0].to_string() < w[1].to_string()), "and as stored text");
    }

    #[test]
    fn rejects_the_wrong_kind_and_garbage() {
        let p = ParticipantId::new().to_string();
        assert!(ConversationId::parse(&p).is_err());
        for bad in [
            "",
            "cnv",
            "cnv_",
            "cnv_123",
            "cnv_ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "cnv_0UUUUUUUUUUUUUUUUUUUUUUUUU",
            "cnv-01J0000000000000000000000",
        ] {
            assert!(ConversationId::parse(bad).is_err(), "{bad}");
        }
        let e = ConversationId::parse(&"x".repeat(10_000)).unwrap_err();
        assert!(e.input.len() <= 64);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = EventId::parse(&s);
        }
    }
}

typed_id!(
    /// A file in a conversation.
    AttachmentId, "att", "attachment"
);

typed_id!(
    /// The audit record of one erased conversation.
    ErasureId, "ers", "erasure"
);

/// A workspace access key's id, shaped like an AWS access key id: `SBAK`
/// and 16 upper-case base32 characters (`A`–`Z`, `2`–`7`), 80 random bits.
/// Not a ULID: SDKs and tools expect this shape, and it is public (it is
/// sent in every signed request's `Credential`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub const PREFIX: &'static str = "SBAK";

    /// A fresh random id.
    pub fn generate() -> Self {
        use rand::RngCore;
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut bytes = [0u8; 10];
        rand::rng().fill_bytes(&mut bytes);
        // 80 bits, five at a time.
        let bits = bytes.iter().fold(0u128, |acc, b| acc << 8 | u128::from(*b));
        let mut out = String::from(Self::PREFIX);
        for i in (0..16).rev() {
            out.push(char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]));
        }
        Self(out)
    }

    /// Parses `SBAK` + 16 base32 characters; anything else is an [`IdError`].
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let ok = input.strip_prefix(Self::PREFIX).is_some_and(|rest| {
            rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        });
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(IdError { kind: "access key", prefix: Self::PREFIX, input: truncate(input) })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AccessKeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccessKeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod access_key_id_tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let (a, b) = (AccessKeyId::generate(), AccessKeyId::generate());
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(AccessKeyId::parse(a.as_str()).unwrap(), a);
        assert_ne!(a, b);
        for bad in ["", "SBAK", "SBAKAAAAAAAAAAAAAAA", "SBAKAAAAAAAAAAAAAAA1", "sbakAAAAAAAAAAAAAAAA", "AKIDEXAMPLE"] {
            assert!(AccessKeyId::parse(bad).is_err(), "{bad}");
        }
    }
}
