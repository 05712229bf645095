//! Webhooks: HTTP endpoints (or flows) told about what happens, workspace-wide
//! or for one conversation, filtered by kind. Deliveries are outbox work
//! written in the transaction that committed what they report, so nothing
//! committed is missed and nothing uncommitted is told; they are signed,
//! retried with backoff, kept in order per endpoint, and carry a stable
//! event id so a receiver can drop a repeat.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::clock::Timestamp;
use crate::error::Error;
use crate::ids::{ConversationId, WebhookId, WorkspaceId};

/// The kinds a webhook may ask for. Custom events are `event:TYPE` (or
/// `event:*` for every type).
pub const KINDS: &[&str] = &[
    "conversation.created",
    "conversation.ended",
    "message",
    "participant.joined",
    "participant.left",
    "conversation.queued",
    "conversation.transferred",
    "task.sla_breached",
    "form",
    "form.submitted",
    "file.requested",
    "file.request_canceled",
    "file.request_declined",
    "file.received",
    "attachment",
    "attachment.scanned",
    "offer.created",
    "offer.accepted",
    "offer.declined",
    "offer.expired",
    "offer.revoked",
];

/// The most webhooks a workspace may have, and a conversation.
pub const MAX_PER_WORKSPACE: usize = 100;
pub const MAX_PER_CONVERSATION: usize = 5;
/// The header carrying the signature: `t=UNIX_SECONDS,v1=HEX`.
pub const SIGNATURE_HEADER: &str = "Switchboard-Signature";

/// Where deliveries go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// POSTed as JSON to this http(s) URL.
    Url(String),
    /// Starts this flow (its latest version) in the event's conversation,
    /// with the delivery as `trigger`.
    Flow(String),
}

/// A webhook as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    /// Set for a webhook scoped to one conversation.
    pub conversation_id: Option<ConversationId>,
    pub target: Target,
    pub kinds: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled (a receiver answered 410 Gone, an operator).
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the planner needs of a webhook to decide what it is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub id: WebhookId,
    pub kinds: Vec<String>,
    pub flow: bool,
}

impl Webhook {
    pub fn hook(&self) -> Hook {
        Hook { id: self.id, kinds: self.kinds.clone(), flow: matches!(self.target, Target::Flow(_)) }
    }
}

impl Hook {
    /// Whether an event of `kind` (a log event's type, or `event:TYPE`) goes to this hook.
    pub fn wants(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| k == kind || (k == "event:*" && kind.starts_with("event:")))
    }
}

/// Checks a webhook's kinds: each known, or `event:TYPE`; at least one.
pub fn check_kinds(kinds: &[String]) -> Result<(), Error> {
    if kinds.is_empty() {
        return Err(Error::invalid("events", "name at least one kind of event"));
    }
    for (i, k) in kinds.iter().enumerate() {
        let custom = k.strip_prefix("event:").is_some_and(|t| !t.is_empty() && t.len() <= 100);
        if !custom && !KINDS.contains(&k.as_str()) {
            return Err(Error::invalid(
                format!("events[{i}]"),
                format!("`{k}` is not a kind of event; use one of {} or `event:TYPE`", KINDS.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Checks a URL target: absolute http or https, at most 2,000 characters.
pub fn check_url(url: &str) -> Result<(), Error> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("http://") || lower.starts_with("https://");
    let host = url.split_once("://").map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or("")).unwrap_or("");
    if !scheme_ok || host.is_empty() || url.len() > 2_000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("url", "must be an absolute http:// or https:// URL"));
    }
    Ok(())
}

/// The signature of a delivery: HMAC-SHA256 with the workspace's webhook
/// secret over `TIMESTAMP.BODY`, as lowercase hex.
pub fn sign(secret: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// The header value: `t=TIMESTAMP,v1=SIGNATURE`.
pub fn signature_header(secret: &str, timestamp_secs: i64, body: &[u8]) -> String {
    format!("t={timestamp_secs},v1={}", sign(secret, timestamp_secs, body))
}

/// Checks a signature header as a receiver would (constant time), allowing
/// `tolerance_secs` of clock difference. For tests and the docs.
pub fn verify(secret: &str, header: &str, body: &[u8], now_secs: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (now_secs - t).abs() > tolerance_secs {
        return false;
    }
    let expected = sign(secret, t, body);
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), v1.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_body_or_old_timestamp_does_not() {
        let header = signature_header("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_test", &header, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, b"{\"a\":2}", 1_700_000_100, 300));
        assert!(!verify("other", &header, b"{\"a\":1}", 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, b"{\"a\":1}", 1_700_001_000, 300));
        assert!(!verify("whsec_test", "garbage", b"", 0, 300));
    }

    #[test]
    fn kinds_and_urls_are_checked() {
        assert!(check_kinds(&["message".into(), "event:use_of_funds".into()]).is_ok());
        assert_eq!(check_kinds(&["mesage".into()]).unwrap_err().field.as_deref(), Some("events[0]"));
        assert!(check_kinds(&[]).is_err());
        assert!(check_url("https://hooks.example.com/x?y=1").is_ok());
        for bad in ["ftp://x", "https://", "javascript:alert(1)", "http://a b", "/relative"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hooks_want_their_kinds() {
        let h = Hook { id: WebhookId::new(), kinds: vec!["message".into(), "event:*".into()], flow: false };
        assert!(h.wants("message") && h.wants("event:x") && !h.wants("conversation.ended"));
    }
}
