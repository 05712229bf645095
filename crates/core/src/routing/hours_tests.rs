use super::*;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn hours(yaml: &str) -> Hours {
    parse_yaml(yaml).unwrap().hours
}

fn open_until(h: &Hours, now: &str, until: Option<&str>) {
    assert!(h.is_open(at(now)), "open at {now}");
    assert_eq!(h.status(at(now)), Status::Open { closes_at: until.map(at) }, "at {now}");
}

fn closed_until(h: &Hours, now: &str, next: Option<&str>) {
    assert!(!h.is_open(at(now)), "closed at {now}");
    assert_eq!(h.status(at(now)), Status::Closed { next_open_at: next.map(at) }, "at {now}");
}

/// Weekdays 09:00–17:30 in Paris, Christmas closed, Christmas Eve mornings only.
const OFFICE: &str = r#"
name: support
time_zone: Europe/Paris
weekly:
  mon: [["09:00", "17:30"]]
  tue: [["09:00", "12:00"], ["13:00", "17:30"]]
  wed: [["09:00", "17:30"]]
  thu: [["09:00", "17:30"]]
  fri: [["09:00", "17:30"]]
exceptions:
  - {date: "2026-12-25", closed: true, name: Christmas}
  - {date: "2026-12-24", hours: [["09:00", "12:00"]]}
  - {date: "2026-01-07", closed: true}
"#;

#[test]
fn weekly_hours_open_and_close_in_local_time() {
    let h = hours(OFFICE);
    // 2026-01-05 is a Monday; Paris is UTC+1 in winter.
    closed_until(&h, "2026-01-05T07:59:00Z", Some("2026-01-05T08:00:00Z"));
    open_until(&h, "2026-01-05T08:00:00Z", Some("2026-01-05T16:30:00Z"));
    closed_until(&h, "2026-01-05T16:30:00Z", Some("2026-01-06T08:00:00Z"));
    // Tuesday's lunch break.
    open_until(&h, "2026-01-06T10:00:00Z", Some("2026-01-06T11:00:00Z"));
    closed_until(&h, "2026-01-06T11:30:00Z", Some("2026-01-06T12:00:00Z"));
    // Summer: UTC+2.
    open_until(&h, "2026-07-06T07:00:00Z", Some("2026-07-06T15:30:00Z"));
    closed_until(&h, "2026-07-06T06:59:59Z", Some("2026-07-06T07:00:00Z"));
}

#[test]
fn next_open_across_a_weekend_and_a_holiday() {
    let h = hours(OFFICE);
    // Friday evening → Monday morning.
    closed_until(&h, "2026-01-09T17:00:00Z", Some("2026-01-12T08:00:00Z"));
    // Christmas Eve afternoon (mornings only), Christmas (Friday) closed → Monday the 28th.
    closed_until(&h, "2026-12-24T12:00:00Z", Some("2026-12-28T08:00:00Z"));
    closed_until(&h, "2026-12-25T10:00:00Z", Some("2026-12-28T08:00:00Z"));
}

#[test]
fn an_exception_closes_a_weekday() {
    let h = hours(OFFICE);
    // Wednesday 2026-01-07 is closed; Thursday opens.
    closed_until(&h, "2026-01-07T10:00:00Z", Some("2026-01-08T08:00:00Z"));
    // A Wednesday without an exception is open.
    open_until(&h, "2026-01-14T10:00:00Z", Some("2026-01-14T16:30:00Z"));
}

#[test]
fn an_exception_with_its_own_hours() {
    let h = hours(OFFICE);
    // Christmas Eve (Thursday) closes at noon instead of 17:30.
    open_until(&h, "2026-12-24T08:30:00Z", Some("2026-12-24T11:00:00Z"));
    // Special hours on a weekend day open it.
    let h = hours(
        r#"{"name": "s", "time_zone": "UTC", "exceptions": [{"date": "2026-01-10", "hours": [["10:00", "11:00"]]}]}"#,
    );
    closed_until(&h, "2026-01-09T12:00:00Z", Some("2026-01-10T10:00:00Z"));
    open_until(&h, "2026-01-10T10:30:00Z", Some("2026-01-10T11:00:00Z"));
    closed_until(&h, "2026-01-10T11:00:00Z", None);
}

#[test]
fn an_interval_reaching_midnight_runs_into_the_next_day() {
    let h = hours(
        r#"
name: late
time_zone: America/New_York
weekly:
  fri: [["22:00", "24:00"]]
  sat: [["00:00", "02:00"], ["20:00", "24:00"]]
"#,
    );
    // Friday 2026-01-09 23:00 EST (04:00Z Saturday): open until Saturday 02:00 EST.
    open_until(&h, "2026-01-10T04:00:00Z", Some("2026-01-10T07:00:00Z"));
    // Saturday 23:59 EST: closes at midnight (Sunday has no hours).
    open_until(&h, "2026-01-11T04:59:00Z", Some("2026-01-11T05:00:00Z"));
    closed_until(&h, "2026-01-11T05:00:00Z", Some("2026-01-17T03:00:00Z"));
}

#[test]
fn always_open_and_never_open() {
    let all: Vec<String> = WEEKDAYS.iter().map(|d| format!("{d}: [[\"00:00\", \"24:00\"]]")).collect();
    let h = hours(&format!("name: all\ntime_zone: Asia/Tokyo\nweekly:\n  {}\n", all.join("\n  ")));
    open_until(&h, "2026-05-01T00:00:00Z", None);
    let h = hours("name: never\ntime_zone: Asia/Tokyo\n");
    closed_until(&h, "2026-05-01T00:00:00Z", None);
}

/// Every day open 01:00–04:00 and 02:30–05:00 on alternate fields, to see
/// where the missing and the repeated hour fall.
fn every_day(zone: &str, from: &str, to: &str) -> Hours {
    let days: Vec<String> = WEEKDAYS.iter().map(|d| format!("{d}: [[\"{from}\", \"{to}\"]]")).collect();
    hours(&format!("name: dst\ntime_zone: {zone}\nweekly:\n  {}\n", days.join("\n  ")))
}

#[test]
fn spring_forward_in_paris() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    let h = every_day("Europe/Paris", "02:30", "05:00");
    // 02:30 does not exist: the day opens at the first real instant after, 03:00 CEST.
    closed_until(&h, "2026-03-29T00:59:59Z", Some("2026-03-29T01:00:00Z"));
    open_until(&h, "2026-03-29T01:00:00Z", Some("2026-03-29T03:00:00Z"));
    // The day before, still CET.
    open_until(&h, "2026-03-28T01:30:00Z", Some("2026-03-28T04:00:00Z"));
    // 01:00–04:00 that day lasts two real hours.
    let h = every_day("Europe/Paris", "01:00", "04:00");
    open_until(&h, "2026-03-29T00:00:00Z", Some("2026-03-29T02:00:00Z"));
    // An interval inside the gap never opens that day.
    let h = every_day("Europe/Paris", "02:00", "02:45");
    closed_until(&h, "2026-03-28T23:00:00Z", Some("2026-03-30T00:00:00Z"));
}

#[test]
fn fall_back_in_paris() {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z); 02:00–03:00 happens twice.
    let h = every_day("Europe/Paris", "02:30", "03:30");
    // Opens at the first 02:30 (CEST, 00:30Z), closes at 03:30 CET (02:30Z): two real hours.
    closed_until(&h, "2026-10-25T00:29:00Z", Some("2026-10-25T00:30:00Z"));
    open_until(&h, "2026-10-25T00:30:00Z", Some("2026-10-25T02:30:00Z"));
    open_until(&h, "2026-10-25T01:45:00Z", Some("2026-10-25T02:30:00Z"));
    // The next day, CET.
    closed_until(&h, "2026-10-25T02:30:00Z", Some("2026-10-26T01:30:00Z"));
    // Closing at a repeated time closes at its first occurrence.
    let h = every_day("Europe/Paris", "00:00", "02:30");
    open_until(&h, "2026-10-24T23:00:00Z", Some("2026-10-25T00:30:00Z"));
}

#[test]
fn spring_forward_in_new_york() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let h = every_day("America/New_York", "02:30", "05:00");
    closed_until(&h, "2026-03-08T06:59:00Z", Some("2026-03-08T07:00:00Z"));
    open_until(&h, "2026-03-08T07:00:00Z", Some("2026-03-08T09:00:00Z"));
    // After the change, 02:30 EDT is 06:30Z.
    closed_until(&h, "2026-03-08T09:00:00Z", Some("2026-03-09T06:30:00Z"));
}

#[test]
fn fall_back_in_new_york() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z); 01:00–02:00 happens twice.
    let h = every_day("America/New_York", "01:30", "03:00");
    // The first 01:30 (EDT) is 05:30Z; 03:00 EST is 08:00Z.
    closed_until(&h, "2026-11-01T05:00:00Z", Some("2026-11-01T05:30:00Z"));
    open_until(&h, "2026-11-01T05:30:00Z", Some("2026-11-01T08:00:00Z"));
    // The second 01:30 (EST, 06:30Z) is inside the same opening.
    open_until(&h, "2026-11-01T06:30:00Z", Some("2026-11-01T08:00:00Z"));
    // The day after: 01:30 EST is 06:30Z.
    closed_until(&h, "2026-11-01T08:00:00Z", Some("2026-11-02T06:30:00Z"));
}

#[test]
fn the_stored_parts_read_back_the_same() {
    let doc = parse_yaml(OFFICE).unwrap();
    let h = &doc.hours;
    let back = Hours::from_parts(&h.time_zone, &h.weekly_json(), &h.exceptions_json()).unwrap();
    assert_eq!(&back, h);
    let json = serde_json::to_value(h).unwrap();
    assert_eq!(json["weekly"]["tue"], serde_json::json!([["09:00", "12:00"], ["13:00", "17:30"]]));
    assert_eq!(json["exceptions"][0], serde_json::json!({"date": "2026-01-07", "closed": true}));
    assert_eq!(json["exceptions"][2], serde_json::json!({"date": "2026-12-25", "closed": true, "name": "Christmas"}));
}

fn rejected(yaml: &str) -> (String, String) {
    let e = parse_yaml(yaml).unwrap_err();
    assert_eq!(e.code, crate::error::ErrorCode::InvalidField, "{}", e.message);
    (e.field.unwrap_or_default(), e.message)
}

#[test]
fn bad_input_is_refused_with_the_field_and_line() {
    let (field, message) = rejected("name: s\ntime_zone: Europe/Pariss\n");
    assert_eq!(field, "time_zone");
    assert!(message.starts_with("line 2, column 12: unknown time zone `Europe/Pariss`"), "{message}");

    let (field, message) = rejected("name: s\ntime_zone: UTC\nweekly:\n  mon: [[\"09:00\", \"25:00\"]]\n");
    assert_eq!(field, "weekly.mon[0][1]");
    assert!(message.starts_with("line 4"), "{message}");
    let (field, _) = rejected("name: s\ntime_zone: UTC\nweekly:\n  mon: [[\"9h\", \"10:00\"]]\n");
    assert_eq!(field, "weekly.mon[0][0]");
    let (field, _) = rejected("name: s\ntime_zone: UTC\nweekly:\n  mon: [[\"24:00\", \"24:00\"]]\n");
    assert_eq!(field, "weekly.mon[0][0]");
    let (field, message) = rejected("name: s\ntime_zone: UTC\nweekly:\n  mon: [[\"12:00\", \"09:00\"]]\n");
    assert_eq!(field, "weekly.mon[0]");
    assert!(message.contains("the start 12:00 must be before the end 09:00"), "{message}");

    let (field, message) =
        rejected("name: s\ntime_zone: UTC\nweekly:\n  mon: [[\"09:00\", \"12:00\"], [\"11:00\", \"13:00\"]]\n");
    assert_eq!(field, "weekly.mon[1]");
    assert!(message.contains("11:00–13:00 overlaps 09:00–12:00"), "{message}");

    let (field, message) = rejected(
        "name: s\ntime_zone: UTC\nexceptions:\n  - {date: \"2026-12-25\", closed: true}\n  - {date: \"2026-12-25\", closed: true}\n",
    );
    assert_eq!(field, "exceptions[1].date");
    assert!(message.starts_with("line 5") && message.contains("duplicate date 2026-12-25"), "{message}");

    let (field, message) = rejected("name: s\ntime_zone: UTC\nweekly:\n  monday: []\n");
    assert_eq!(field, "weekly.monday");
    assert!(message.contains("unknown field `monday`"), "{message}");
    let (field, _) = rejected("name: s\ntime_zone: UTC\nholidays: []\n");
    assert_eq!(field, "holidays");
    let (field, _) = rejected("name: s\ntime_zone: UTC\nexceptions:\n  - {date: \"2026-02-30\", closed: true}\n");
    assert_eq!(field, "exceptions[0].date");
    let (field, _) = rejected("name: s\ntime_zone: UTC\nexceptions:\n  - {date: \"2026-02-03\"}\n");
    assert_eq!(field, "exceptions[0]");
    let (field, _) =
        rejected("name: s\ntime_zone: UTC\nexceptions:\n  - {date: \"2026-02-03\", closed: true, hours: []}\n");
    assert_eq!(field, "exceptions[0].hours");
    let (field, _) = rejected("time_zone: UTC\n");
    assert_eq!(field, "name");
    let (field, _) = rejected("name: s\ntime_zone: UTC\nweekly:\n  mon: [[0900, 1000]]\n");
    assert_eq!(field, "weekly.mon[0][0]");
    let (field, _) = rejected("[1, 2]");
    assert_eq!(field, "schedule");
}

#[test]
fn unquoted_times_read_as_times() {
    let h = hours("name: s\ntime_zone: UTC\nweekly:\n  mon: [[09:00, 17:30]]\n  tue:\n    - [8:00, 24:00]\n");
    assert_eq!(h.weekly[0], [Interval { start: 9 * 60, end: 17 * 60 + 30 }]);
    assert_eq!(h.weekly[1], [Interval { start: 8 * 60, end: 24 * 60 }]);
}

#[test]
fn the_zone_is_kept_as_the_database_spells_it() {
    assert_eq!(hours("name: s\ntime_zone: europe/paris\n").time_zone, "Europe/Paris");
    assert_eq!(hours("name: s\ntime_zone: UTC\n").time_zone, "UTC");
}
