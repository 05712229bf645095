-- The log laid out for appends. A commit under load adds one message to
-- each of many conversations; keyed by (conversation text id, seq), every
-- message landed on its own conversation's page of the table and of each
-- index. Now the rows go to the end of a rowid table, found through a small
-- integer key per conversation (`log_key`); idempotency is a compact index
-- on a 64-bit hash of the client token, checked against the token itself.

CREATE TABLE conversations_new (
    log_key                   INTEGER PRIMARY KEY,
    id                        TEXT NOT NULL UNIQUE,
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
    ended_at                  INTEGER,
    task_id                   TEXT
);
INSERT INTO conversations_new (
    id, workspace_id, entry_point_id, state, attributes, record_id, previous_conversation_id,
    idle_after_secs, disconnect_after_secs, last_seq, active_participants, created_at, ended_at, task_id
)
SELECT id, workspace_id, entry_point_id, state, attributes, record_id, previous_conversation_id,
       idle_after_secs, disconnect_after_secs, last_seq, active_participants, created_at, ended_at, task_id
FROM conversations ORDER BY created_at, id;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_by_workspace ON conversations (workspace_id, id);

CREATE TABLE events_new (
    log_key         INTEGER NOT NULL,  -- conversations.log_key
    seq             INTEGER NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    participant_id  TEXT,
    payload         TEXT NOT NULL,     -- JSON object: the fields of `kind`
    client_token    TEXT,
    token_hash      INTEGER,           -- of client_token; filled by the store
    created_at      INTEGER NOT NULL
);
INSERT INTO events_new (log_key, seq, id, kind, participant_id, payload, client_token, token_hash, created_at)
SELECT c.log_key, e.seq, e.id, e.kind, e.participant_id, e.payload, e.client_token, NULL, e.created_at
FROM events e JOIN conversations c ON c.id = e.conversation_id
ORDER BY e.created_at, c.log_key, e.seq;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE UNIQUE INDEX events_by_seq ON events (log_key, seq);
CREATE UNIQUE INDEX events_by_id ON events (id);
CREATE INDEX events_by_client_token ON events (log_key, token_hash) WHERE token_hash IS NOT NULL;

-- Work the store finishes in code after a migration (hashing the client
-- tokens copied above); a row is removed when its work is done.
CREATE TABLE upgrades (name TEXT PRIMARY KEY);
INSERT INTO upgrades (name) SELECT 'event_token_hashes' WHERE EXISTS (SELECT 1 FROM events WHERE client_token IS NOT NULL);
