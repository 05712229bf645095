-- Files in chat: attachments (their bytes live in the blob store under
-- workspace/conversation/attachment/), and per-workspace settings.

CREATE TABLE attachments (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    uploaded_by      TEXT,             -- a participant; NULL for a workspace key
    name             TEXT NOT NULL,
    declared_type    TEXT NOT NULL,
    declared_size    BIGINT NOT NULL,
    stored           TEXT,             -- JSON: key, size, sha256, content_type, thumbnail_key
    status           TEXT NOT NULL,    -- uploading | scanning | approved | rejected
    request_id       TEXT,             -- the file request it answers
    reason           TEXT,             -- why it was rejected
    url_key          TEXT NOT NULL,    -- signs its links
    upload_expires_at BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX attachments_of_conversation ON attachments (conversation_id);

ALTER TABLE file_requests ADD COLUMN attachment_id TEXT;  -- the file that fulfilled it

CREATE TABLE workspace_settings (
    workspace_id  TEXT PRIMARY KEY,
    settings      TEXT NOT NULL,  -- JSON
    updated_at    BIGINT NOT NULL
);
