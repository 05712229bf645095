//! Hours of operation: named schedules (a time zone, weekly opening hours
//! and dated exceptions such as holidays), and the pure answer to "is it
//! open at this instant, and when does that change?".
//!
//! ```yaml
//! name: support                  # unique in the workspace
//! time_zone: Europe/Paris        # an IANA name
//! weekly:                        # local times; a day not listed is closed
//!   mon: [["09:00", "17:30"]]
//!   tue: [["09:00", "12:00"], ["13:00", "17:30"]]
//!   fri: [["22:00", "24:00"]]    # `24:00` ends an interval at midnight
//! exceptions:                    # local dates
//!   - {date: "2026-12-25", closed: true, name: Christmas}
//!   - {date: "2026-12-24", hours: [["09:00", "12:00"]]}
//! ```
//!
//! Local times are turned into instants with the zone's rules (the time
//! zone database is bundled, so a machine without one answers the same):
//! a local time that does not exist (the clocks spring forward) means the
//! first real instant after it, and one that occurs twice (the clocks fall
//! back) means the first occurrence. Documents are read like workflows,
//! into located nodes, so every error names the field and, for YAML, the line.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Serialize, Serializer};

use crate::Error;
use crate::clock::Timestamp;
use crate::ids::{ScheduleId, WorkspaceId};
use crate::located::{Doc, Fields, Node, Value, boolean, child, invalid, item, read_json};

/// The weekday keys of `weekly`, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// The longest schedule name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The most intervals one day may have.
pub const MAX_INTERVALS: usize = 24;
/// The most dated exceptions a schedule may have.
pub const MAX_EXCEPTIONS: usize = 1000;
/// How far ahead the next opening (or closing) is looked for, in days.
pub const SEARCH_DAYS: i64 = 366;
/// Midnight at the end of a day, `24:00`, in minutes.
const END_OF_DAY: u16 = 24 * 60;
/// Exceptions may be dated in these years.
const YEARS: std::ops::RangeInclusive<i16> = 2000..=2200;

const DOC: Doc = Doc { name: "schedule", max_bytes: 256 * 1024 };
const MAX_JSON_DEPTH: usize = 8;
const SCHEDULE_FIELDS: &[&str] = &["name", "time_zone", "weekly", "exceptions"];
const EXCEPTION_FIELDS: &[&str] = &["date", "closed", "hours", "name"];

/// One opening, from `start` to `end` local time, in minutes after midnight
/// (`end` may be 1440, `24:00`). Written `["09:00", "17:30"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: u16,
    pub end: u16,
}

/// A dated exception: the day is closed (`hours` is `None`) or open only
/// during `hours`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub date: Date,
    pub name: Option<String>,
    pub hours: Option<Vec<Interval>>,
}

/// When a schedule is open: checked, and ready to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    /// The IANA name, as the time zone database spells it.
    pub time_zone: String,
    zone: TimeZone,
    /// Monday first.
    pub weekly: [Vec<Interval>; 7],
    /// In date order, one per date.
    pub exceptions: Vec<Exception>,
}

/// A schedule as operators write it: a name and its hours.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleDoc {
    pub name: String,
    pub hours: Hours,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: ScheduleId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub hours: Hours,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Open or closed at one instant, and when that changes (`None`: not
/// within [`SEARCH_DAYS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open { closes_at: Option<Timestamp> },
    Closed { next_open_at: Option<Timestamp> },
}

impl Status {
    pub fn is_open(self) -> bool {
        matches!(self, Status::Open { .. })
    }
}

/// Parses and checks a YAML schedule. Errors are `Error::invalid(field, …)`
/// with the field's path (`weekly.mon[1]`) and, where known, its line.
pub fn parse_yaml(source: &str) -> Result<ScheduleDoc, Error> {
    match DOC.read_yaml(source)? {
        None => Err(invalid(DOC.name, None, "the document is empty")),
        Some(root) => schedule(&root),
    }
}

/// The same document from JSON.
pub fn from_json(value: &serde_json::Value) -> Result<ScheduleDoc, Error> {
    schedule(&Node::from_json(value, MAX_JSON_DEPTH))
}

/// The same document from JSON text (an API body): a key given twice is
/// refused like an unknown one, with its field.
pub fn from_json_text(text: &str) -> Result<ScheduleDoc, Error> {
    if text.len() > DOC.max_bytes {
        return Err(Error::too_large(DOC.name, DOC.max_bytes));
    }
    let node = read_json(text).map_err(|e| Error::malformed(format!("the body is not valid JSON: {e}")))?;
    schedule(&node)
}

impl Hours {
    /// Hours from their stored parts (checked again: a row is read as a document).
    pub fn from_parts(
        time_zone: &str,
        weekly: &serde_json::Value,
        exceptions: &serde_json::Value,
    ) -> Result<Self, Error> {
        let zone = zone(&Node { value: Value::Str(time_zone.to_owned()), at: None }, "time_zone")?;
        let weekly = week(&Node::from_json(weekly, MAX_JSON_DEPTH), "weekly")?;
        let exceptions = dated(&Node::from_json(exceptions, MAX_JSON_DEPTH), "exceptions")?;
        Ok(Self::new(zone, weekly, exceptions))
    }

    fn new(zone: TimeZone, weekly: [Vec<Interval>; 7], exceptions: Vec<Exception>) -> Self {
        let time_zone = zone.iana_name().unwrap_or("UTC").to_owned();
        Self { time_zone, zone, weekly, exceptions }
    }

    /// `weekly` as JSON: `{"mon": [["09:00", "17:30"]], …}`, open days only.
    pub fn weekly_json(&self) -> serde_json::Value {
        let days = WEEKDAYS.iter().zip(&self.weekly).filter(|(_, day)| !day.is_empty());
        serde_json::Value::Object(days.map(|(name, day)| ((*name).to_owned(), intervals_json(day))).collect())
    }

    /// `exceptions` as JSON, in date order.
    pub fn exceptions_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.exceptions.iter().map(exception_json).collect())
    }

    /// Whether it is open at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let Some(today) = self.local_date(at) else { return false };
        let days = [today.yesterday().ok(), Some(today), today.tomorrow().ok()];
        days.into_iter().flatten().flat_map(|d| self.spans(d)).any(|(start, end)| start <= at.0 && at.0 < end)
    }

    /// Open or closed at `at`, and the next change within [`SEARCH_DAYS`].
    pub fn status(&self, at: Timestamp) -> Status {
        let Some(today) = self.local_date(at) else { return Status::Closed { next_open_at: None } };
        let Ok(first) = today.yesterday() else { return Status::Closed { next_open_at: None } };
        let mut spans = (0..=SEARCH_DAYS + 1)
            .map_while(|n| first.checked_add(jiff::Span::new().days(n)).ok())
            .flat_map(|d| self.spans(d))
            .skip_while(|&(_, end)| end <= at.0);
        let Some((start, mut end)) = spans.next() else { return Status::Closed { next_open_at: None } };
        if start > at.0 {
            return Status::Closed { next_open_at: Some(Timestamp(start)) };
        }
        // Open: follow the openings that touch, across midnight and days.
        for (next_start, next_end) in spans {
            if next_start > end {
                return Status::Open { closes_at: Some(Timestamp(end)) };
            }
            end = end.max(next_end);
        }
        // Still open where the search ends: it does not close within it.
        let horizon = at.0.saturating_add(SEARCH_DAYS * 86_400_000);
        Status::Open { closes_at: (end < horizon).then_some(Timestamp(end)) }
    }

    /// The openings of one local date, as instants (milliseconds), in order.
    fn spans(&self, date: Date) -> Vec<(i64, i64)> {
        let hours = match self.exceptions.binary_search_by_key(&date, |e| e.date) {
            Ok(i) => self.exceptions[i].hours.as_deref().unwrap_or_default(),
            Err(_) => &self.weekly[usize::from(date.weekday().to_monday_zero_offset().unsigned_abs())],
        };
        hours
            .iter()
            .filter_map(|i| Some((self.instant(date, i.start)?, self.instant(date, i.end)?)))
            .filter(|(start, end)| start < end)
            .collect()
    }

    /// The instant of a local date and time: a skipped local time is the
    /// first instant after the gap, a repeated one its first occurrence.
    fn instant(&self, date: Date, minute: u16) -> Option<i64> {
        let (date, minute) = if minute >= END_OF_DAY { (date.tomorrow().ok()?, 0) } else { (date, minute) };
        let local =
            DateTime::new(date.year(), date.month(), date.day(), (minute / 60) as i8, (minute % 60) as i8, 0, 0)
                .ok()?;
        let ts = match self.zone.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok()?,
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok()?,
            AmbiguousOffset::Gap { after, .. } => {
                // Read with the later offset, the time falls before the gap;
                // the transition that follows is where the day resumes.
                let before_gap = after.to_timestamp(local).ok()?;
                self.zone.following(before_gap).next()?.timestamp()
            }
        };
        Some(ts.as_millisecond())
    }

    fn local_date(&self, at: Timestamp) -> Option<Date> {
        let ts = jiff::Timestamp::from_millisecond(at.0).ok()?;
        Some(self.zone.to_datetime(ts).date())
    }
}

/// `{"time_zone", "weekly", "exceptions"}`: the shape the API writes.
impl Serialize for Hours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "time_zone": self.time_zone,
            "weekly": self.weekly_json(),
            "exceptions": self.exceptions_json(),
        })
        .serialize(s)
    }
}

fn intervals_json(day: &[Interval]) -> serde_json::Value {
    day.iter().map(|i| serde_json::json!([clock(i.start), clock(i.end)])).collect()
}

fn exception_json(e: &Exception) -> serde_json::Value {
    let mut out = serde_json::json!({"date": e.date.to_string()});
    match &e.hours {
        None => out["closed"] = true.into(),
        Some(hours) => out["hours"] = intervals_json(hours),
    }
    if let Some(name) = &e.name {
        out["name"] = name.clone().into();
    }
    out
}

/// Minutes after midnight as `HH:MM`.
fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn schedule(root: &Node) -> Result<ScheduleDoc, Error> {
    let what = "a schedule (a mapping with `name`, `time_zone`, `weekly` and `exceptions`)";
    let fields = Fields::of(root, DOC.name, "", SCHEDULE_FIELDS, what)?;
    let name = text(fields.require("name")?, "name", "schedule name", MAX_NAME_CHARS)?;
    let zone = zone(fields.require("time_zone")?, "time_zone")?;
    let weekly = match fields.get("weekly") {
        Some(node) => week(node, "weekly")?,
        None => Default::default(),
    };
    let exceptions = match fields.get("exceptions") {
        Some(node) => dated(node, "exceptions")?,
        None => Vec::new(),
    };
    Ok(ScheduleDoc { name, hours: Hours::new(zone, weekly, exceptions) })
}

/// A non-blank string of at most `max` characters, no control characters, trimmed.
fn text(node: &Node, path: &str, what: &str, max: usize) -> Result<String, Error> {
    let Value::Str(text) = &node.value else {
        return Err(invalid(path, node.at, format!("expected a {what} (a string), got {}", node.value.kind())));
    };
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(invalid(path, node.at, format!("the {what} must be 1 to {max} characters, no control characters")));
    }
    Ok(text.to_owned())
}

fn zone(node: &Node, path: &str) -> Result<TimeZone, Error> {
    let name = text(node, path, "time zone", 64)?;
    TimeZone::get(&name).map_err(|_| {
        invalid(path, node.at, format!("unknown time zone `{name}`; use an IANA name such as `Europe/Paris`"))
    })
}

fn week(node: &Node, path: &str) -> Result<[Vec<Interval>; 7], Error> {
    let fields = Fields::of(node, DOC.name, path, &WEEKDAYS, "a mapping of weekdays (`mon` … `sun`) to hours")?;
    let mut weekly: [Vec<Interval>; 7] = Default::default();
    for (day, name) in weekly.iter_mut().zip(WEEKDAYS) {
        if let Some(node) = fields.get(name) {
            *day = intervals(node, &child(path, name))?;
        }
    }
    Ok(weekly)
}

/// `[["09:00", "12:00"], ["13:00", "17:30"]]`: in order, not overlapping.
fn intervals(node: &Node, path: &str) -> Result<Vec<Interval>, Error> {
    let Value::Seq(items) = &node.value else {
        return Err(invalid(
            path,
            node.at,
            format!("expected a list of [start, end] pairs, got {}", node.value.kind()),
        ));
    };
    if items.len() > MAX_INTERVALS {
        return Err(invalid(
            path,
            node.at,
            format!("{} intervals, more than the limit of {MAX_INTERVALS}", items.len()),
        ));
    }
    let mut out: Vec<(Interval, &Node)> = Vec::with_capacity(items.len());
    for (i, pair) in items.iter().enumerate() {
        let path = item(path, i);
        let parsed = interval(pair, &path)?;
        out.push((parsed, pair));
    }
    out.sort_by_key(|(i, _)| i.start);
    for w in out.windows(2) {
        let [(a, _), (b, node)] = w else { continue };
        if b.start < a.end {
            let index = items.iter().position(|n| std::ptr::eq(n, *node)).unwrap_or_default();
            return Err(invalid(
                &item(path, index),
                node.at,
                format!(
                    "{}–{} overlaps {}–{}; intervals of a day must not overlap",
                    clock(b.start),
                    clock(b.end),
                    clock(a.start),
                    clock(a.end)
                ),
            ));
        }
    }
    Ok(out.into_iter().map(|(i, _)| i).collect())
}

fn interval(node: &Node, path: &str) -> Result<Interval, Error> {
    let pair = match &node.value {
        Value::Seq(pair) if pair.len() == 2 => pair,
        other => {
            return Err(invalid(
                path,
                node.at,
                format!("expected a [start, end] pair such as [\"09:00\", \"17:30\"], got {}", other.kind()),
            ));
        }
    };
    let start = time_of_day(&pair[0], &item(path, 0))?;
    let end = time_of_day(&pair[1], &item(path, 1))?;
    if start == END_OF_DAY {
        return Err(invalid(&item(path, 0), pair[0].at, "24:00 may only end an interval"));
    }
    if start >= end {
        return Err(invalid(
            path,
            node.at,
            format!("the start {} must be before the end {}", clock(start), clock(end)),
        ));
    }
    Ok(Interval { start, end })
}

/// `HH:MM` from `00:00` to `24:00`, in minutes.
fn time_of_day(node: &Node, path: &str) -> Result<u16, Error> {
    let bad = |got: &str| {
        invalid(path, node.at, format!("expected a time of day such as \"09:30\" (00:00 to 24:00), got {got}"))
    };
    let Value::Str(text) = &node.value else {
        return Err(bad(&format!("{} (put it in quotes)", node.value.kind())));
    };
    let quoted = format!("`{}`", text.chars().take(20).collect::<String>());
    let (h, m) = text.split_once(':').ok_or_else(|| bad(&quoted))?;
    let digits =
        |s: &str, n: std::ops::RangeInclusive<usize>| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return Err(bad(&quoted));
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad(&quoted))?, m.parse().map_err(|_| bad(&quoted))?);
    if m > 59 || h > 24 || (h == 24 && m > 0) {
        return Err(bad(&quoted));
    }
    Ok(h * 60 + m)
}

fn dated(node: &Node, path: &str) -> Result<Vec<Exception>, Error> {
    let Value::Seq(items) = &node.value else {
        return Err(invalid(path, node.at, format!("expected a list of dated exceptions, got {}", node.value.kind())));
    };
    if items.len() > MAX_EXCEPTIONS {
        return Err(invalid(
            path,
            node.at,
            format!("{} exceptions, more than the limit of {MAX_EXCEPTIONS}", items.len()),
        ));
    }
    let mut out: Vec<Exception> = Vec::with_capacity(items.len());
    for (i, node) in items.iter().enumerate() {
        let path = item(path, i);
        let e = exception(node, &path)?;
        if let Some(j) = out.iter().position(|o| o.date == e.date) {
            return Err(invalid(
                &child(&path, "date"),
                node.at,
                format!("duplicate date {} (also exceptions[{j}])", e.date),
            ));
        }
        out.push(e);
    }
    out.sort_by_key(|e| e.date);
    Ok(out)
}

fn exception(node: &Node, path: &str) -> Result<Exception, Error> {
    let what = "an exception (a mapping with `date` and `closed: true` or `hours`)";
    let fields = Fields::of(node, DOC.name, path, EXCEPTION_FIELDS, what)?;
    let date_path = child(path, "date");
    let date_node = fields.require("date")?;
    let date = match &date_node.value {
        Value::Str(text) if text.len() == 10 => text.parse::<Date>().ok(),
        _ => None,
    }
    .filter(|d| YEARS.contains(&d.year()))
    .ok_or_else(|| invalid(&date_path, date_node.at, "expected a date such as \"2026-12-25\" (years 2000 to 2200)"))?;
    let name = fields.get("name").map(|n| text(n, &child(path, "name"), "name", MAX_NAME_CHARS)).transpose()?;
    let closed = fields.get("closed").map(|n| boolean(n, &child(path, "closed"))).transpose()?.unwrap_or(false);
    let hours = fields.get("hours").map(|n| intervals(n, &child(path, "hours"))).transpose()?;
    let hours = match (closed, hours) {
        (true, None) => None,
        (false, Some(hours)) => Some(hours),
        (true, Some(_)) => {
            let at = fields.get("hours").and_then(|n| n.at);
            return Err(invalid(
                &child(path, "hours"),
                at,
                "a closed day has no hours: give `closed: true` or `hours`",
            ));
        }
        (false, None) => {
            return Err(invalid(path, fields.at(), "give `closed: true` (a holiday) or the day's `hours`"));
        }
    };
    Ok(Exception { date, name, hours })
}

#[cfg(test)]
#[path = "hours_tests.rs"]
mod tests;
