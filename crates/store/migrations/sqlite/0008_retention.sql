-- Erasure and retention. An erased conversation leaves one audit row: who,
-- when, why, and how many rows of each kind went; never what they said.
-- The indexes find a conversation's custom events and outbox items (which
-- go with it) and the ended conversations a workspace's retention purges.

CREATE TABLE erasures (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    erased_at        INTEGER NOT NULL,
    erased_by        TEXT NOT NULL,  -- an API key id, `operator` or `retention`
    reason           TEXT,
    ended_at         INTEGER,
    events           INTEGER NOT NULL,
    participants     INTEGER NOT NULL,
    attachments      INTEGER NOT NULL,
    file_requests    INTEGER NOT NULL,
    tasks            INTEGER NOT NULL,
    flow_runs        INTEGER NOT NULL,
    forms            INTEGER NOT NULL,
    custom_events    INTEGER NOT NULL,
    webhooks         INTEGER NOT NULL,
    outbox_items     INTEGER NOT NULL
);
CREATE INDEX erasures_by_workspace ON erasures (workspace_id, id);
CREATE INDEX erasures_by_conversation ON erasures (conversation_id);

CREATE INDEX conversations_ended ON conversations (workspace_id, ended_at) WHERE state = 'ended';
CREATE INDEX custom_events_by_conversation ON custom_events (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX outbox_by_conversation ON outbox (conversation_id) WHERE conversation_id IS NOT NULL;
