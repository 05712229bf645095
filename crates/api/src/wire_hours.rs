//! Wire shapes of hours of operation: schedules and an entry point's availability.

use serde::Serialize;
use serde_json::Value;
use switchboard_core::engine::hours::Availability;
use switchboard_core::routing::hours::Schedule;
use utoipa::ToSchema;

/// A schedule: a time zone, weekly opening hours and dated exceptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    #[schema(example = "sch_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub name: String,
    /// An IANA time zone, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// Local opening hours per weekday (`mon` … `sun`): `[["09:00", "17:30"]]`.
    #[schema(value_type = Object)]
    pub weekly: Value,
    /// Dated local days: `{"date": "2026-12-25", "closed": true, "name": "Christmas"}`
    /// or `{"date": "2026-12-24", "hours": [["09:00", "12:00"]]}`.
    #[schema(value_type = Vec<Object>)]
    pub exceptions: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Schedule> for ScheduleView {
    fn from(s: Schedule) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name,
            weekly: s.hours.weekly_json(),
            exceptions: s.hours.exceptions_json(),
            time_zone: s.hours.time_zone,
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

/// A schedule to create or replace (documentation only: the body is read as
/// written, so unknown and repeated fields are refused with their path).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ScheduleRequest)]
pub struct ScheduleRequestDoc {
    /// Unique in the workspace, 1 to 100 characters.
    pub name: String,
    /// An IANA time zone, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// Per weekday (`mon` … `sun`), local `HH:MM` intervals in order, not
    /// overlapping; `24:00` may end one. A day left out is closed.
    #[schema(value_type = Object, example = json!({"mon": [["09:00", "17:30"]], "tue": [["09:00", "12:00"], ["13:00", "17:30"]]}))]
    pub weekly: Option<Value>,
    /// Local dates, each once, each `"closed": true` or with its own `hours`;
    /// `name` is optional.
    #[schema(value_type = Vec<Object>, example = json!([{"date": "2026-12-25", "closed": true, "name": "Christmas"}]))]
    pub exceptions: Option<Value>,
}

/// Whether an entry point answers now. Times are RFC 3339, UTC.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityView {
    /// `open`; `closed` (its schedule is closed); `no_agent_available` (open,
    /// but no agent who could be offered a new chat from it now).
    #[schema(example = "closed")]
    pub state: String,
    /// When closed: the next opening within a year, else null.
    pub next_open_at: Option<String>,
    /// When open: when its schedule closes next (within a year), else null.
    pub closes_at: Option<String>,
}

impl From<Availability> for AvailabilityView {
    fn from(a: Availability) -> Self {
        let state = serde_json::to_value(a.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Self {
            state,
            next_open_at: a.next_open_at.map(|t| t.to_rfc3339()),
            closes_at: a.closes_at.map(|t| t.to_rfc3339()),
        }
    }
}
