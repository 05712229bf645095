-- Persistent chat: a chat started from an ended one links back to it
-- (`previous_conversation_id`, there since the first schema), records how much
-- of the past it carries, and the source records which chat continues it. A
-- chat is continued at most once; the unique index makes a second link
-- impossible even if a bug tried. Queues may prefer the agent who had the
-- earlier chat, for a number of seconds.

ALTER TABLE conversations ADD COLUMN rehydration TEXT;           -- entire_past_session | from_segment
ALTER TABLE conversations ADD COLUMN next_conversation_id TEXT;  -- the chat that continues this one
CREATE UNIQUE INDEX conversations_by_previous ON conversations (previous_conversation_id)
    WHERE previous_conversation_id IS NOT NULL;

ALTER TABLE queues ADD COLUMN prefer_previous_agent_secs INTEGER;
