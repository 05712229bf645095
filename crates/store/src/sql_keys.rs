//! The SQL of workspace access keys (SigV4 key ids and their secrets) and
//! of start tokens (a client's idempotency token for starting a chat).
//! Written once for both backends.

use switchboard_core::Result;
use switchboard_core::clock::Timestamp;
use switchboard_core::ids::{AccessKeyId, ConversationId, WorkspaceId};
use switchboard_core::model::AccessKey;
use switchboard_core::store::StartToken;

use crate::sql::{Cols, Stmt, id, opt_ts, ts};

const ACCESS_KEY_COLS: &str = "id, workspace_id, name, created_at, revoked_at";

pub(crate) fn insert_access_key(k: &AccessKey, secret: &str) -> Stmt {
    Stmt::new(format!("INSERT INTO access_keys ({ACCESS_KEY_COLS}, secret) VALUES (?, ?, ?, ?, ?, ?)"))
        .bind(k.id.to_string())
        .bind(k.workspace_id.to_string())
        .bind(k.name.as_str())
        .bind(k.created_at)
        .bind(k.revoked_at)
        .bind(secret)
}

pub(crate) fn access_keys_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!("SELECT {ACCESS_KEY_COLS} FROM access_keys WHERE workspace_id = ? ORDER BY created_at, id"))
        .bind(w.to_string())
}

pub(crate) fn access_key_with_secret(k: &AccessKeyId) -> Stmt {
    Stmt::new(format!("SELECT {ACCESS_KEY_COLS}, secret FROM access_keys WHERE id = ?")).bind(k.to_string())
}

pub(crate) fn revoke_access_key(w: WorkspaceId, k: &AccessKeyId, at: Timestamp) -> Stmt {
    Stmt::new("UPDATE access_keys SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL")
        .bind(at)
        .bind(k.to_string())
        .bind(w.to_string())
}

pub(crate) fn access_key(r: &impl Cols) -> Result<AccessKey> {
    Ok(AccessKey {
        id: id(r, "id", AccessKeyId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        created_at: ts(r, "created_at")?,
        revoked_at: opt_ts(r, "revoked_at")?,
    })
}

pub(crate) fn claim_start_token(w: WorkspaceId, token: &str, c: ConversationId, at: Timestamp) -> Stmt {
    Stmt::new(
        "INSERT INTO start_tokens (workspace_id, token, conversation_id, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (workspace_id, token) DO NOTHING",
    )
    .bind(w.to_string())
    .bind(token)
    .bind(c.to_string())
    .bind(at)
}

pub(crate) fn start_token(w: WorkspaceId, token: &str) -> Stmt {
    Stmt::new("SELECT conversation_id, created_at FROM start_tokens WHERE workspace_id = ? AND token = ?")
        .bind(w.to_string())
        .bind(token)
}

pub(crate) fn take_over_start_token(
    w: WorkspaceId,
    token: &str,
    stale: &StartToken,
    c: ConversationId,
    at: Timestamp,
) -> Stmt {
    Stmt::new(
        "UPDATE start_tokens SET conversation_id = ?, created_at = ? \
         WHERE workspace_id = ? AND token = ? AND conversation_id = ? AND created_at = ?",
    )
    .bind(c.to_string())
    .bind(at)
    .bind(w.to_string())
    .bind(token)
    .bind(stale.conversation.to_string())
    .bind(stale.created_at)
}

pub(crate) fn release_start_token(w: WorkspaceId, token: &str, c: ConversationId) -> Stmt {
    Stmt::new("DELETE FROM start_tokens WHERE workspace_id = ? AND token = ? AND conversation_id = ?")
        .bind(w.to_string())
        .bind(token)
        .bind(c.to_string())
}

pub(crate) fn start_token_row(r: &impl Cols) -> Result<StartToken> {
    Ok(StartToken { conversation: id(r, "conversation_id", ConversationId::parse)?, created_at: ts(r, "created_at")? })
}
