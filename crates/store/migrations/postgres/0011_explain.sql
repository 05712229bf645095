-- Routing explanations. An `offered` line of a task's history keeps why the
-- router chose that agent: why it won, how many were eligible, the next few
-- in line and how many agents were skipped for each reason (JSON text,
-- bounded whatever the number of agents). Other lines have none.

ALTER TABLE task_history ADD COLUMN detail TEXT;
