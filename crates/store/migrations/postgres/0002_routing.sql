-- Routing: agents and their presence, queues, the workflow, tasks, offers,
-- the history of each task, and the toolkit's file requests. An agent's
-- `load` counts pending offers, assigned chats and chats in wrap-up; the
-- writer changes it in the same transaction as the task or offer it belongs to.

ALTER TABLE conversations ADD COLUMN task_id TEXT;
ALTER TABLE participants ADD COLUMN agent_id TEXT;
CREATE INDEX participants_by_agent ON participants (agent_id, conversation_id) WHERE agent_id IS NOT NULL;

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL,
    name           TEXT NOT NULL,
    login          TEXT,
    password_hash  TEXT,           -- argon2 PHC string
    attributes     TEXT NOT NULL,  -- JSON object
    capacity       BIGINT NOT NULL,
    enabled        BOOLEAN NOT NULL,
    activity       TEXT NOT NULL,
    available      BOOLEAN NOT NULL,
    activity_at    BIGINT NOT NULL,
    load           BIGINT NOT NULL,
    offers         TEXT NOT NULL,  -- JSON array of pending offers
    idle_since     BIGINT NOT NULL,
    last_seen_at   BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX agents_by_login ON agents (workspace_id, login);
CREATE INDEX agents_present ON agents (workspace_id) WHERE available AND enabled;

CREATE TABLE agent_tokens (
    token_hash  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX agent_tokens_by_agent ON agent_tokens (agent_id);

CREATE TABLE activities (
    workspace_id  TEXT NOT NULL,
    name          TEXT NOT NULL,
    available     BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE queues (
    id                  TEXT PRIMARY KEY,
    workspace_id        TEXT NOT NULL,
    name                TEXT NOT NULL,
    expression          TEXT,
    ordering            TEXT NOT NULL,
    offer_timeout_secs  BIGINT NOT NULL,
    wrap_up_secs        BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX queues_by_name ON queues (workspace_id, name);

-- One workflow per workspace: the YAML as written and its parsed form.
CREATE TABLE workflows (
    workspace_id  TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    document      TEXT NOT NULL,  -- JSON
    version       BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    state            TEXT NOT NULL,
    route            TEXT NOT NULL,  -- JSON array of steps
    step             BIGINT NOT NULL,
    priority         BIGINT NOT NULL,
    enqueued_at      BIGINT NOT NULL,
    step_at          BIGINT NOT NULL,
    agent_id         TEXT,
    offer_id         TEXT,
    passed           TEXT NOT NULL,  -- JSON array of agent ids
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX tasks_waiting ON tasks (priority, enqueued_at) WHERE state = 'waiting';
CREATE INDEX tasks_by_agent ON tasks (agent_id, state);
CREATE INDEX tasks_by_conversation ON tasks (conversation_id);

CREATE TABLE offers (
    id               TEXT PRIMARY KEY,
    task_id          TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    agent_id         TEXT NOT NULL,
    queue_id         TEXT NOT NULL,
    state            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    decided_at       BIGINT
);
CREATE INDEX offers_by_task ON offers (task_id);
CREATE INDEX offers_pending_by_agent ON offers (agent_id) WHERE state = 'pending';

CREATE TABLE task_history (
    task_id   TEXT NOT NULL,
    at        BIGINT NOT NULL,
    what      TEXT NOT NULL,
    agent_id  TEXT,
    queue_id  TEXT
);
CREATE INDEX task_history_by_task ON task_history (task_id, at);

-- The toolkit's requests to the customer for a file.
CREATE TABLE file_requests (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    requested_by     TEXT,
    record_id        TEXT,
    state            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX file_requests_by_conversation ON file_requests (conversation_id);
