-- Workspace access keys: an AWS-style key id and secret that sign
-- server-to-server requests with Signature V4 (the Amazon Connect dialect's
-- StartChatContact). Verifying SigV4 derives an HMAC key from the secret
-- itself, so the secret is kept as is, like the webhook signing secret; a
-- revoked key stays listed with `revoked_at` and signs nothing.

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,       -- the key id: "SBAK" + 16 upper-case base32 characters
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    secret        TEXT NOT NULL,          -- kept as is (it must be used, not checked)
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX access_keys_of_workspace ON access_keys (workspace_id);

-- A client's idempotency token for starting a chat, claimed before the chat
-- is made with the conversation id chosen for it; a repeat finds the claim.
-- Shared by every node, and kept across restarts.
CREATE TABLE start_tokens (
    workspace_id     TEXT NOT NULL,
    token            TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, token)
);
CREATE INDEX start_tokens_of_conversation ON start_tokens (conversation_id);
