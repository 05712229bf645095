-- The conversation engine: tenants, credentials, entry points, conversations,
-- participants, the per-conversation event log and stored timers.
-- Times are milliseconds since the Unix epoch (UTC); ids are prefixed ULIDs.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE entry_points (
    id                     TEXT PRIMARY KEY,
    workspace_id           TEXT NOT NULL REFERENCES workspaces (id),
    name                   TEXT NOT NULL,
    allowed_origins        TEXT NOT NULL,  -- JSON array
    idle_after_secs        INTEGER,
    disconnect_after_secs  INTEGER,
    enabled                INTEGER NOT NULL,
    created_at             INTEGER NOT NULL
);
CREATE INDEX entry_points_by_workspace ON entry_points (workspace_id);

CREATE TABLE conversations (
    id                        TEXT PRIMARY KEY,
    workspace_id              TEXT NOT NULL,
    entry_point_id            TEXT,
    state                     TEXT NOT NULL,
    attributes                TEXT NOT NULL,  -- JSON object
    record_id                 TEXT,
    previous_conversation_id  TEXT,
    idle_after_secs           INTEGER,
    disconnect_after_secs     INTEGER,
    last_seq                  INTEGER NOT NULL,
    active_participants       INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    ended_at                  INTEGER
);
CREATE INDEX conversations_by_workspace ON conversations (workspace_id, id);

CREATE TABLE participants (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    role             TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    joined_at        INTEGER NOT NULL,
    left_at          INTEGER,
    idle             INTEGER NOT NULL
);
CREATE INDEX participants_by_conversation ON participants (conversation_id);

CREATE TABLE participant_tokens (
    token_hash      TEXT PRIMARY KEY,
    participant_id  TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX participant_tokens_by_participant ON participant_tokens (participant_id);

-- The log. `seq` is 1, 2, 3, … per conversation with no gaps.
CREATE TABLE events (
    conversation_id  TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    id               TEXT NOT NULL,
    kind             TEXT NOT NULL,
    participant_id   TEXT,
    payload          TEXT NOT NULL,  -- JSON object: the fields of `kind`
    client_token     TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_by_id ON events (id);
CREATE UNIQUE INDEX events_by_client_token ON events (conversation_id, client_token) WHERE client_token IS NOT NULL;

CREATE TABLE timers (
    conversation_id  TEXT NOT NULL,
    participant_id   TEXT NOT NULL,  -- '' when the timer is not about one participant
    kind             TEXT NOT NULL,
    due_at           INTEGER NOT NULL,
    data             TEXT NOT NULL,  -- JSON object
    PRIMARY KEY (conversation_id, participant_id, kind)
);
CREATE INDEX timers_by_due ON timers (due_at);
