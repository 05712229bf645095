//! Workspace API keys as recently read, so that a REST call does not read
//! its key from the store every time. Only keys that were found are kept,
//! and for at most [`KEPT_FOR_SECS`]: a new key works at once, and a key
//! revoked in the database (keys have no revocation call) stops working
//! within that time on every node.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Result;
use crate::clock::Timestamp;
use crate::model::ApiKey;
use crate::token::SecretHash;

use super::Engine;

/// How long a key read from the store is trusted without reading it again.
pub const KEPT_FOR_SECS: u32 = 10;

/// Keys kept at most; past this the cache starts again empty.
const MAX_KEYS: usize = 4_096;

#[derive(Debug, Default)]
pub(super) struct KeyCache {
    keys: Mutex<HashMap<SecretHash, (ApiKey, Timestamp)>>,
}

impl KeyCache {
    fn get(&self, hash: &SecretHash, now: Timestamp) -> Option<ApiKey> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(hash).filter(|(_, until)| now < *until).map(|(k, _)| k.clone())
    }

    fn put(&self, hash: SecretHash, key: ApiKey, now: Timestamp) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(hash, (key, now.plus_secs(KEPT_FOR_SECS)));
    }
}

impl Engine {
    /// The unrevoked API key whose secret hashes to `hash`, from the cache
    /// when it was read less than [`KEPT_FOR_SECS`] ago.
    pub(super) async fn api_key(&self, hash: &SecretHash) -> Result<Option<ApiKey>> {
        let now = self.now();
        if let Some(key) = self.keys.get(hash, now) {
            return Ok(Some(key));
        }
        let key = self.store.api_key_by_token(hash).await?;
        if let Some(k) = &key {
            self.keys.put(hash.clone(), k.clone(), now);
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ApiKeyId, WorkspaceId};

    fn key() -> ApiKey {
        ApiKey {
            id: ApiKeyId::new(),
            workspace_id: WorkspaceId::new(),
            name: "k".into(),
            created_at: Timestamp(0),
            revoked_at: None,
        }
    }

    #[test]
    fn a_key_is_trusted_for_a_while_then_read_again() {
        let cache = KeyCache::default();
        let (hash, k) = (SecretHash::of("sbk_one"), key());
        let t = Timestamp(1_000_000);
        assert_eq!(cache.get(&hash, t), None, "nothing is known before a read");
        cache.put(hash.clone(), k.clone(), t);
        assert_eq!(cache.get(&hash, t.plus_secs(KEPT_FOR_SECS - 1)), Some(k));
        assert_eq!(cache.get(&hash, t.plus_secs(KEPT_FOR_SECS)), None, "stale: read from the store again");
        assert_eq!(cache.get(&SecretHash::of("sbk_other"), t), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = KeyCache::default();
        let t = Timestamp(0);
        for n in 0..MAX_KEYS + 10 {
            cache.put(SecretHash::of(&format!("sbk_{n}")), key(), t);
        }
        assert!(cache.keys.lock().unwrap().len() <= MAX_KEYS);
    }
}
