-- Erasure and retention. An erased conversation leaves one audit row: who,
-- when, why, and how many rows of each kind went; never what they said.
-- The indexes find a conversation's custom events and outbox items (which
-- go with it) and the ended conversations a workspace's retention purges.

CREATE TABLE erasures (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    erased_at        BIGINT NOT NULL,
    erased_by        TEXT NOT NULL,  -- an API key id, `operator` or `retention`
    reason           TEXT,
    ended_at         BIGINT,
    events           BIGINT NOT NULL,
    participants     BIGINT NOT NULL,
    attachments      BIGINT NOT NULL,
    file_requests    BIGINT NOT NULL,
    tasks            BIGINT NOT NULL,
    flow_runs        BIGINT NOT NULL,
    forms            BIGINT NOT NULL,
    custom_events    BIGINT NOT NULL,
    webhooks         BIGINT NOT NULL,
    outbox_items     BIGINT NOT NULL
);
CREATE INDEX erasures_by_workspace ON erasures (workspace_id, id);
CREATE INDEX erasures_by_conversation ON erasures (conversation_id);

CREATE INDEX conversations_ended ON conversations (workspace_id, ended_at) WHERE state = 'ended';
CREATE INDEX custom_events_by_conversation ON custom_events (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX outbox_by_conversation ON outbox (conversation_id) WHERE conversation_id IS NOT NULL;
