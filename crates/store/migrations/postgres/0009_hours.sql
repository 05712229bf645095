-- Hours of operation. A schedule is a time zone, weekly opening hours and
-- dated exceptions (holidays, special days); the hours are kept as the JSON
-- the API shows (`{"mon": [["09:00", "17:30"]]}`, `[{"date": …}]`) and are
-- checked again when read. Queues and entry points may follow one: a queue
-- whose schedule is closed offers nothing, an entry point's tells customers
-- whether it is open.

CREATE TABLE schedules (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    weekly       TEXT NOT NULL,
    exceptions   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedules_by_name ON schedules (workspace_id, name);

ALTER TABLE queues ADD COLUMN schedule_id TEXT;
ALTER TABLE entry_points ADD COLUMN schedule_id TEXT;
CREATE INDEX queues_by_schedule ON queues (schedule_id) WHERE schedule_id IS NOT NULL;
CREATE INDEX entry_points_by_schedule ON entry_points (schedule_id) WHERE schedule_id IS NOT NULL;
