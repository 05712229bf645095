-- Webhooks: endpoints (or flows) told about events, workspace-wide or for one
-- conversation; their deliveries are outbox items kept in order per webhook.

ALTER TABLE conversations ADD COLUMN hooks TEXT NOT NULL DEFAULT '[]';  -- JSON: the webhooks scoped to it

CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT,           -- set when scoped to one conversation
    target           TEXT NOT NULL,  -- JSON: {"url": …} or {"flow": …}
    kinds            TEXT NOT NULL,  -- JSON array
    enabled          INTEGER NOT NULL DEFAULT 1,
    disabled_reason  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhooks_of_workspace ON webhooks (workspace_id) WHERE conversation_id IS NULL;
CREATE INDEX webhooks_of_conversation ON webhooks (conversation_id) WHERE conversation_id IS NOT NULL;

CREATE TABLE webhook_secrets (
    workspace_id  TEXT PRIMARY KEY,
    secret        TEXT NOT NULL,  -- signs deliveries; kept as is (it must be used, not checked)
    created_at    INTEGER NOT NULL
);

ALTER TABLE outbox ADD COLUMN lane TEXT;                       -- one at a time, in order
ALTER TABLE outbox ADD COLUMN ord INTEGER NOT NULL DEFAULT 0;  -- order within a lane
CREATE INDEX outbox_lanes ON outbox (lane, ord) WHERE lane IS NOT NULL AND state = 'pending';
