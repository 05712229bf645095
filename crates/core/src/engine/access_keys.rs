//! Workspace access keys: an AWS-style key id and secret with which a back
//! end signs server-to-server requests (Signature V4, the Amazon Connect
//! dialect's control plane). Made, listed and revoked by a workspace key;
//! the secret is shown once, when the key is made, and read back only by
//! the verifier ([`Engine::signing_key`]). SigV4 derives its HMAC key from
//! the secret itself, so it is stored as is, like the webhook secret.

use base64::Engine as _;
use rand::RngCore;

use super::{Caller, Engine};
use crate::access::Action;
use crate::error::{Error, Result};
use crate::ids::{AccessKeyId, WorkspaceId};
use crate::model::AccessKey;

/// Longest key name.
const MAX_NAME: usize = 200;

/// A secret as AWS shapes them: 40 characters (30 random bytes, base64).
fn new_secret() -> String {
    let mut bytes = [0u8; 30];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Engine {
    /// Makes an access key; returns it with its secret, which is not shown again.
    pub async fn create_access_key(&self, caller: &Caller, name: &str) -> Result<(AccessKey, String)> {
        let workspace = self.permit(caller, Action::ManageAccessKeys, None)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(Error::invalid("name", format!("1 to {MAX_NAME} characters, no control characters")));
        }
        let key = AccessKey {
            id: AccessKeyId::generate(),
            workspace_id: workspace,
            name: name.to_owned(),
            created_at: self.now(),
            revoked_at: None,
        };
        let secret = new_secret();
        self.store.create_access_key(&key, &secret).await?;
        Ok((key, secret))
    }

    /// The workspace's access keys, revoked ones too, oldest first; never their secrets.
    pub async fn access_keys(&self, caller: &Caller) -> Result<Vec<AccessKey>> {
        let workspace = self.permit(caller, Action::ManageAccessKeys, None)?;
        self.store.access_keys(workspace).await
    }

    /// Revokes an access key: it signs nothing from now on. Revoking one
    /// already revoked changes nothing; a key of another workspace is not found.
    pub async fn revoke_access_key(&self, caller: &Caller, id: &AccessKeyId) -> Result<AccessKey> {
        let workspace = self.permit(caller, Action::ManageAccessKeys, None)?;
        let found = || Error::not_found("access key");
        let (key, _) =
            self.store.access_key_secret(id).await?.filter(|(k, _)| k.workspace_id == workspace).ok_or_else(found)?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        self.store.revoke_access_key(workspace, id, self.now()).await?;
        let (key, _) = self.store.access_key_secret(id).await?.ok_or_else(found)?;
        Ok(key)
    }

    /// The workspace and secret of a live (unrevoked) key, for verifying a
    /// signature it made. None for an unknown or revoked key.
    pub async fn signing_key(&self, id: &AccessKeyId) -> Result<Option<(WorkspaceId, String)>> {
        Ok(self
            .store
            .access_key_secret(id)
            .await?
            .filter(|(k, _)| k.revoked_at.is_none())
            .map(|(k, secret)| (k.workspace_id, secret)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_forty_characters_and_differ() {
        let (a, b) = (super::new_secret(), super::new_secret());
        assert_eq!((a.len(), b.len()), (40, 40));
        assert_ne!(a, b);
    }
}
