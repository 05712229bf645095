//! Bearer secrets: participant tokens and workspace API keys.
//!
//! A secret is 32 random bytes, shown to its owner once as `prefix_base64url`
//! and stored only as its SHA-256 digest. The secrets are high-entropy, so a
//! plain digest (not a password hash) is enough and lets a lookup be one index
//! probe; comparisons of digests are constant-time.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a secret grants; its prefix says so to humans and to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// Scoped to one participant of one conversation.
    Participant,
    /// A workspace API key (server to server, admin).
    ApiKey,
    /// An agent's API or console session token.
    Agent,
}

impl SecretKind {
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::Participant => "sbp",
            SecretKind::ApiKey => "sbk",
            SecretKind::Agent => "sba",
        }
    }

    /// Which kind a presented secret claims to be, from its prefix.
    pub fn of(secret: &str) -> Option<Self> {
        if secret.starts_with("sbp_") {
            Some(SecretKind::Participant)
        } else if secret.starts_with("sbk_") {
            Some(SecretKind::ApiKey)
        } else if secret.starts_with("sba_") {
            Some(SecretKind::Agent)
        } else {
            None
        }
    }
}

/// A secret in plain text, as handed to its owner once. Not `Debug`-printable.
pub struct Secret(String);

impl Secret {
    pub fn generate(kind: SecretKind) -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{}_{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a secret chosen by the operator (e.g. `SWITCHBOARD_ADMIN_KEY`).
    pub fn from_operator(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The stored form of a secret: lowercase hex SHA-256.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        Self(hex)
    }

    /// Wraps a digest read back from storage.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.0[..8.min(self.0.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_unique_and_hash_stably() {
        let a = Secret::generate(SecretKind::Participant);
        let b = Secret::generate(SecretKind::Participant);
        assert!(a.expose().starts_with("sbp_"));
        assert_ne!(a.expose(), b.expose());
        assert!(a.hash().matches(&SecretHash::of(a.expose())));
        assert!(!a.hash().matches(&b.hash()));
        assert_eq!(SecretKind::of(a.expose()), Some(SecretKind::Participant));
        assert_eq!(format!("{a:?}"), "Secret(…)");
    }
}
