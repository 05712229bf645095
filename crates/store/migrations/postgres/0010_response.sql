-- Response timers and "message us" requests. A queue may give the agent who accepts a chat a time for
-- its first message and a time to answer each customer message; what a
-- missed reply does is the queue's too (the next agent, another queue, or an
-- alert). The task remembers its agent's participant and when the reply
-- that is awaited is due (the stored timer fires then).

ALTER TABLE queues ADD COLUMN first_reply_secs BIGINT;
ALTER TABLE queues ADD COLUMN reply_secs BIGINT;
ALTER TABLE queues ADD COLUMN on_reply_timeout TEXT NOT NULL DEFAULT 'next_agent';  -- next_agent | queue | alert
ALTER TABLE queues ADD COLUMN reply_timeout_queue_id TEXT;                          -- with `queue`

ALTER TABLE tasks ADD COLUMN member_id TEXT;
ALTER TABLE tasks ADD COLUMN reply_due_at BIGINT;

-- A chat nobody could take becomes a "message us" request (a task in state
-- `message`) that agents pick up from a list, oldest first.
CREATE INDEX tasks_messages ON tasks (workspace_id, step_at) WHERE state = 'message';
