//! Who is calling the Participant Service, and the tokens it hands out.
//!
//! - The **participant token** (`ParticipantToken`, from `StartChatContact`)
//!   is the customer's own participant secret (`sbp_…`). It is accepted by
//!   `CreateParticipantConnection` only, as in the service.
//! - The **connection token** (`sbc_…`) is what every other call carries.
//! - The **WebSocket ticket** (`sbw_…`) rides in the WebSocket URL (the
//!   upgrade carries no headers) and lives two minutes.
//!
//! Connection tokens and tickets are not stored: each names its participant
//! and expiry and carries an HMAC-SHA256 keyed by the stored digest of the
//! participant token it was made from. So any node can check one with the
//! participant's token rows, nothing grows per connection, and revoking the
//! participant's tokens (or erasing the chat) revokes every connection token
//! and ticket made from them at once.
//!
//! `Authorization`, `X-Amz-Date` and `X-Amz-Content-Sha256` are ignored:
//! the SDK signs participant calls with empty keys.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;
use switchboard_core::clock::Timestamp;
use switchboard_core::engine::Caller;
use switchboard_core::ids::ParticipantId;
use switchboard_core::model::Participant;
use switchboard_core::token::{SecretHash, SecretKind};

use crate::ConnectState;
use crate::error::{AwsError, AwsResult};

/// How long a connection token holds (the service's connection credentials
/// last a day as well).
pub const CONNECTION_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a WebSocket URL may wait before it is opened. ChatJS refetches
/// the URL when it is older than 85 s.
pub const TICKET_TTL_MS: i64 = 120 * 1000;

/// What a derived token is for; part of what its HMAC covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Connection,
    WebSocket,
}

impl Purpose {
    fn prefix(self) -> &'static str {
        match self {
            Self::Connection => "sbc_",
            Self::WebSocket => "sbw_",
        }
    }
}

fn mac(key: &SecretHash, purpose: Purpose, participant: ParticipantId, expires: i64, from: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_str().as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{}\n{participant}\n{expires}\n{from}", purpose.prefix()).as_bytes());
    mac
}

/// A token for `purpose`, made from the participant token whose digest is
/// `key`. A WebSocket ticket carries `from`, the log's last seq when it was
/// issued: the socket delivers everything after it (connection tokens: 0).
pub fn derive(key: &SecretHash, purpose: Purpose, participant: ParticipantId, expires: Timestamp, from: i64) -> String {
    let tag = mac(key, purpose, participant, expires.millis(), from).finalize().into_bytes();
    format!("{}{participant}.{}.{from}.{}", purpose.prefix(), expires.millis(), URL_SAFE_NO_PAD.encode(tag))
}

/// The parts of a derived token, read without trusting them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub participant: ParticipantId,
    pub expires: i64,
    pub from: i64,
    pub tag: Vec<u8>,
}

/// Reads a derived token of `purpose`; `None` if it is not one. Never panics.
pub fn parse(token: &str, purpose: Purpose) -> Option<Derived> {
    let rest = token.strip_prefix(purpose.prefix())?;
    let mut parts = rest.splitn(4, '.');
    let participant = ParticipantId::parse(parts.next()?).ok()?;
    let expires = parts.next()?.parse::<i64>().ok()?;
    let from = parts.next()?.parse::<i64>().ok().filter(|n| *n >= 0)?;
    let tag = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    Some(Derived { participant, expires, from, tag })
}

/// Checks a derived token against the digests of its participant's live
/// tokens and the clock: the participant it names, or why not.
pub fn check(d: &Derived, purpose: Purpose, keys: &[SecretHash], now: Timestamp) -> Result<(), &'static str> {
    let genuine = keys.iter().any(|k| mac(k, purpose, d.participant, d.expires, d.from).verify_slice(&d.tag).is_ok());
    if !genuine {
        return Err("the token is not valid (revoked, or not issued by this service)");
    }
    if now.millis() > d.expires {
        return Err("the token has expired; create a new participant connection");
    }
    Ok(())
}

/// The `X-Amz-Bearer` header.
pub fn bearer(headers: &HeaderMap) -> AwsResult<&str> {
    headers
        .get("x-amz-bearer")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AwsError::access_denied("X-Amz-Bearer is missing"))
}

/// The caller of `CreateParticipantConnection`: a participant token (`sbp_…`).
pub async fn participant_token(s: &ConnectState, headers: &HeaderMap) -> AwsResult<(Participant, SecretHash)> {
    let token = bearer(headers)?;
    if SecretKind::of(token) != Some(SecretKind::Participant) {
        return Err(AwsError::access_denied("CreateParticipantConnection takes the ParticipantToken"));
    }
    match s.engine.authenticate(token).await {
        Ok(Caller::Participant(p)) => Ok((p, SecretHash::of(token))),
        Ok(_) => Err(AwsError::access_denied("not a participant token")),
        Err(e) => Err(AwsError::access_denied(e.message)),
    }
}

/// The participant a derived token of `purpose` names, if it still holds,
/// and the token's `from`.
pub async fn derived(s: &ConnectState, token: &str, purpose: Purpose) -> AwsResult<(Participant, i64)> {
    let what = match purpose {
        Purpose::Connection => "the ConnectionToken",
        Purpose::WebSocket => "the WebSocket URL",
    };
    let d = parse(token, purpose).ok_or_else(|| AwsError::access_denied(format!("{what} is not valid")))?;
    // One read: the participant and its live token digests (none: revoked or erased).
    let found = s.engine.store().participant_with_tokens(d.participant).await?;
    let Some((p, keys)) = found else {
        return Err(AwsError::access_denied(format!("{what} is not valid (revoked, or not issued by this service)")));
    };
    check(&d, purpose, &keys, s.engine.now()).map_err(AwsError::access_denied)?;
    Ok((p, d.from))
}

/// Who calls the Participant Service with a connection token.
#[derive(Debug, Clone)]
pub struct Me {
    pub participant: Participant,
    /// The same participant, as the engine takes callers.
    pub caller: Caller,
}

impl Me {
    pub fn conversation(&self) -> switchboard_core::ids::ConversationId {
        self.participant.conversation_id
    }
}

/// The caller of every other Participant Service call: a connection token.
pub async fn connection(s: &ConnectState, headers: &HeaderMap) -> AwsResult<Me> {
    let token = bearer(headers)?;
    let (participant, _) = derived(s, token, Purpose::Connection).await?;
    Ok(Me { caller: Caller::Participant(participant.clone()), participant })
}

/// A restJson1 body: any JSON object, unknown members ignored (newer SDKs
/// add them), an empty body read as `{}`. Unreadable bodies are
/// `ValidationException`s naming what was wrong.
#[derive(Debug)]
pub struct AwsJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AwsJson<T> {
    type Rejection = AwsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| AwsError::validation(format!("the request body could not be read: {}", e.body_text())))?;
        parse_body(&bytes).map(AwsJson)
    }
}

/// Reads a request body as `T` (see [`AwsJson`]). Never panics.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> AwsResult<T> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { bytes };
    serde_json::from_slice(text).map_err(|e| AwsError::validation(format!("the request body is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_derived_token_holds_for_its_purpose_key_and_time_only() {
        let (key, other) = (SecretHash::of("sbp_a"), SecretHash::of("sbp_b"));
        let p = ParticipantId::new();
        let token = derive(&key, Purpose::Connection, p, Timestamp(10_000), 0);
        let d = parse(&token, Purpose::Connection).unwrap();
        assert_eq!(d.participant, p);
        assert!(check(&d, Purpose::Connection, std::slice::from_ref(&key), Timestamp(9_000)).is_ok());
        assert!(check(&d, Purpose::Connection, &[other.clone(), key.clone()], Timestamp(9_000)).is_ok());
        assert!(check(&d, Purpose::Connection, std::slice::from_ref(&key), Timestamp(10_001)).is_err());
        assert!(check(&d, Purpose::Connection, &[other], Timestamp(9_000)).is_err());
        assert!(check(&d, Purpose::Connection, &[], Timestamp(9_000)).is_err());
        assert!(parse(&token, Purpose::WebSocket).is_none());
        let as_ticket = Derived { ..d };
        assert!(check(&as_ticket, Purpose::WebSocket, &[key], Timestamp(9_000)).is_err());
    }

    #[test]
    fn a_changed_expiry_or_participant_breaks_the_token() {
        let key = SecretHash::of("sbp_a");
        let p = ParticipantId::new();
        let token = derive(&key, Purpose::WebSocket, p, Timestamp(10_000), 7);
        let earlier = token.replace(".7.", ".0.");
        let d = parse(&earlier, Purpose::WebSocket).unwrap();
        assert!(check(&d, Purpose::WebSocket, std::slice::from_ref(&key), Timestamp(1)).is_err());
        let later = token.replace(".10000.", ".99999.");
        let d = parse(&later, Purpose::WebSocket).unwrap();
        assert!(check(&d, Purpose::WebSocket, std::slice::from_ref(&key), Timestamp(1)).is_err());
        let other = token.replace(&p.to_string(), &ParticipantId::new().to_string());
        let d = parse(&other, Purpose::WebSocket).unwrap();
        assert!(check(&d, Purpose::WebSocket, &[key], Timestamp(1)).is_err());
    }

    proptest! {
        #[test]
        fn no_token_text_panics_the_parser(s in ".{0,200}") {
            for purpose in [Purpose::Connection, Purpose::WebSocket] {
                let _ = parse(&s, purpose);
                let _ = parse(&format!("{}{s}", purpose.prefix()), purpose);
            }
        }

        #[test]
        fn no_body_panics_the_body_parser(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_body::<serde_json::Value>(&bytes);
            let _ = parse_body::<crate::participant::SendMessageRequest>(&bytes);
        }
    }
}
