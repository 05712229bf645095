-- Flows: deployed versions, runs and their log, forms, custom event types
-- and events, and the outbox of work done outside the writer.

ALTER TABLE conversations ADD COLUMN runs TEXT NOT NULL DEFAULT '[]';  -- JSON array of active run ids
CREATE INDEX conversations_by_record ON conversations (workspace_id, record_id) WHERE record_id IS NOT NULL;

CREATE TABLE flows (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    source        TEXT NOT NULL,   -- as deployed (YAML or JSON)
    trigger_kind  TEXT,            -- chat_started, message_added, event
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX flows_by_name ON flows (workspace_id, name, version);
CREATE INDEX flows_by_trigger ON flows (workspace_id, trigger_kind) WHERE trigger_kind IS NOT NULL;

CREATE TABLE flow_runs (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    flow_id          TEXT NOT NULL,
    flow_name        TEXT NOT NULL,
    state            TEXT NOT NULL,
    data             TEXT NOT NULL,  -- JSON: step, wait, variables, …
    wait_event_type  TEXT,           -- while waiting for a custom event
    wait_key         TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX flow_runs_by_conversation ON flow_runs (conversation_id);
CREATE INDEX flow_runs_by_workspace ON flow_runs (workspace_id, id);
CREATE INDEX flow_runs_by_flow ON flow_runs (workspace_id, flow_name, id);
CREATE INDEX flow_runs_waiting_for_event ON flow_runs (workspace_id, wait_event_type, wait_key)
    WHERE wait_event_type IS NOT NULL;

CREATE TABLE flow_run_log (
    n       INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL,
    at      INTEGER NOT NULL,
    step    TEXT NOT NULL,
    what    TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX flow_run_log_by_run ON flow_run_log (run_id, n);

CREATE TABLE forms (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    run_id           TEXT,
    addressed_to     TEXT NOT NULL,  -- customer, agent
    spec             TEXT NOT NULL,  -- JSON
    state            TEXT NOT NULL,
    submitted        TEXT,           -- JSON object of the checked values
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX forms_by_conversation ON forms (conversation_id);

CREATE TABLE event_types (
    workspace_id  TEXT NOT NULL,
    name          TEXT NOT NULL,
    definition    TEXT NOT NULL,  -- JSON
    retention_days INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE custom_events (
    replay_id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so resuming after one is safe
    id               TEXT NOT NULL UNIQUE,
    workspace_id     TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    event_key        TEXT NOT NULL,
    data             TEXT NOT NULL,
    conversation_id  TEXT,
    run_id           TEXT,
    published_at     INTEGER NOT NULL
);
CREATE INDEX custom_events_by_type ON custom_events (workspace_id, event_type, event_key, replay_id);
CREATE INDEX custom_events_by_time ON custom_events (published_at);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT,
    kind             TEXT NOT NULL,
    work             TEXT NOT NULL,  -- JSON
    state            TEXT NOT NULL,  -- pending, done, dead
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_by_workspace ON outbox (workspace_id, state, id);
