//! Hours of operation end to end: schedules built around the real current
//! time (in UTC), an entry point's schedule steering the workflow through
//! `!chat.open`, a closed queue holding its chats until it opens (or moving
//! them on with `when_closed: next`), the availability answer, and bad
//! input refused without changing anything.

use jiff::civil::Date;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp};
use crate::routing::{agent, offer_for, online, queue, waiting_chat};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn today() -> Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

fn plus(d: Date, n: i64) -> Date {
    d.checked_add(jiff::Span::new().days(n)).unwrap()
}

fn day_key(d: Date) -> &'static str {
    DAYS[d.weekday().to_monday_zero_offset().unsigned_abs() as usize]
}

/// Midnight UTC starting `d`, as the API writes times.
fn midnight(d: Date) -> String {
    format!("{d}T00:00:00.000Z")
}

fn schedule(name: &str, weekly: Value, exceptions: Value) -> Value {
    json!({"name": name, "time_zone": "UTC", "weekly": weekly, "exceptions": exceptions})
}

fn whole_days(days: &[&str]) -> Value {
    days.iter().map(|d| ((*d).to_owned(), json!([["00:00", "24:00"]]))).collect::<serde_json::Map<_, _>>().into()
}

/// Open all day, every day.
fn open_now(name: &str) -> Value {
    schedule(name, whole_days(&DAYS), json!([]))
}

/// Open every day, but today and tomorrow are holidays: closed now.
fn holiday(name: &str) -> Value {
    let closed = |d: Date| json!({"date": d.to_string(), "closed": true, "name": "Holiday"});
    schedule(name, whole_days(&DAYS), json!([closed(today()), closed(plus(today(), 1))]))
}

/// Open only on the weekday three days from now: closed now.
fn later_in_week(name: &str) -> Value {
    schedule(name, whole_days(&[day_key(plus(today(), 3))]), json!([]))
}

async fn create_schedule(app: &TestApp, body: Value) -> String {
    app.admin(Method::POST, "/api/v1/schedules", Some(body)).await["id"].as_str().unwrap().to_owned()
}

async fn put_schedule(app: &TestApp, id: &str, body: Value) {
    app.admin(Method::PUT, &format!("/api/v1/schedules/{id}"), Some(body)).await;
}

async fn put_workflow(app: &TestApp, yaml: &str) -> (StatusCode, Value) {
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(yaml.to_owned()).send().await;
    let res = res.unwrap();
    (res.status(), res.json().await.unwrap())
}

/// The workspace's entry point.
async fn entry_point(app: &TestApp) -> String {
    app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned()
}

/// Starts a chat through the entry point; returns the queue it was put in.
async fn start_in(app: &TestApp, ep: &str) -> String {
    let (status, started) =
        app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let chat = started["conversation"]["id"].as_str().unwrap();
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    task["queue_id"].as_str().unwrap().to_owned()
}

const AFTER_HOURS: &str = r#"filters:
  - name: after-hours
    if: "!chat.open"
    steps:
      - queue: night
default:
  queue: day
"#;

async fn a_chat_outside_hours_follows_the_closed_branch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let day = queue(&app, "day", json!({})).await;
    let night = queue(&app, "night", json!({})).await;
    let office = create_schedule(&app, later_in_week("office")).await;
    let ep = entry_point(&app).await;
    let view =
        app.admin(Method::PATCH, &format!("/api/v1/entry-points/{ep}"), Some(json!({"schedule": "office"}))).await;
    assert_eq!(view["schedule"], "office");
    let (status, body) = put_workflow(&app, AFTER_HOURS).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Outside its weekly hours: the after-hours branch.
    assert_eq!(start_in(&app, &ep).await, night);
    // Open now: the normal branch.
    put_schedule(&app, &office, open_now("office")).await;
    assert_eq!(start_in(&app, &ep).await, day);
    // A holiday closes a day that would be open.
    put_schedule(&app, &office, holiday("office")).await;
    assert_eq!(start_in(&app, &ep).await, night);
    // Without a schedule the entry point is always open.
    app.admin(Method::PATCH, &format!("/api/v1/entry-points/{ep}"), Some(json!({"schedule": null}))).await;
    assert_eq!(start_in(&app, &ep).await, day);

    // A condition can ask after any schedule by name.
    let by_name = "filters:\n  - name: desk-open\n    if: hours[\"office\"]\n    steps:\n      - queue: day\ndefault:\n  queue: night\n";
    let (status, body) = put_workflow(&app, by_name).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(start_in(&app, &ep).await, night, "the office is on holiday");
    put_schedule(&app, &office, open_now("office")).await;
    assert_eq!(start_in(&app, &ep).await, day);
}

/// A conversation put in line along the workflow.
async fn routed_by_workflow(app: &TestApp) -> String {
    let chat = app.admin(Method::POST, "/api/v1/conversations", Some(json!({}))).await;
    let id = chat["id"].as_str().unwrap().to_owned();
    app.admin(Method::POST, &format!("/api/v1/conversations/{id}/participants"), Some(json!({"role": "customer"})))
        .await;
    app.admin(Method::POST, &format!("/api/v1/conversations/{id}/route"), Some(json!({}))).await;
    id
}

async fn a_closed_queue_offers_nothing_until_it_opens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let desk = create_schedule(&app, holiday("desk")).await;
    let support = queue(&app, "support", json!({"schedule": "desk"})).await;
    assert_eq!(app.admin(Method::GET, &format!("/api/v1/queues/{support}"), None).await["schedule"], "desk");
    let other = queue(&app, "other", json!({})).await;
    let ann = agent(&app, "Ann", 3, json!({})).await;
    let mut ws = online(&app, &ann).await;

    // The first chat waits in the closed queue; the second, in an open one,
    // is offered first although it came later.
    let (first, _) = waiting_chat(&app, "support").await;
    let (second, _) = waiting_chat(&app, "other").await;
    offer_for(&mut ws, &second).await;
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{first}/task"), None).await;
    assert_eq!((task["state"].as_str(), task["queue_id"].as_str()), (Some("waiting"), Some(support.as_str())));
    // Asked why, the explanation names the hours: Ann is present but the queue is closed.
    let why = app.admin(Method::GET, &format!("/api/v1/conversations/{first}/task/explain"), None).await;
    assert_eq!(why["now"]["counts"], json!({"outside_hours": 1}), "{why}");
    assert_eq!(
        (why["now"]["skipped"][0]["name"].as_str(), why["now"]["skipped"][0]["reason"].as_str()),
        (Some("Ann"), Some("outside_hours"))
    );
    assert_eq!(why["now"]["winner"], Value::Null);
    // The schedule is replaced by one open now: the chat is offered.
    put_schedule(&app, &desk, open_now("desk")).await;
    offer_for(&mut ws, &first).await;

    // `when_closed: next` moves the chat on at once.
    put_schedule(&app, &desk, holiday("desk")).await;
    let yaml = "filters:\n  - name: all\n    steps:\n      - queue: support\n        when_closed: next\n      - queue: other\n";
    let (status, body) = put_workflow(&app, yaml).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["workflow"]["filters"][0]["steps"][0]["when_closed"], "next");
    let third = routed_by_workflow(&app).await;
    offer_for(&mut ws, &third).await;
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{third}/task"), None).await;
    assert_eq!(task["queue_id"], other.as_str());
    assert_eq!(task["route"][0]["when_closed"], "next");
    let history: Vec<&str> = task["history"].as_array().unwrap().iter().map(|h| h["what"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "step", "offered"]);
}

/// The router opens a queue by the clock alone: a pass as of the moment its
/// hours begin offers the chat that waited while it was closed.
async fn a_queue_opens_when_its_hours_begin(backend: Backend) {
    use std::sync::Arc;
    use switchboard_core::bus::LocalBus;
    use switchboard_core::clock::ManualClock;
    use switchboard_core::engine::{Engine, Limits};
    use switchboard_core::routing::matcher::Eligibility;

    let app = TestApp::spawn(backend).await;
    create_schedule(&app, later_in_week("desk")).await;
    queue(&app, "support", json!({"schedule": "desk"})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut ws = online(&app, &ann).await;
    let (chat, _) = waiting_chat(&app, "support").await;
    // A router on a clock the test moves, beside the server's own (which
    // keeps seeing the queue closed).
    let opens = jiff::civil::DateTime::from(plus(today(), 3)).to_zoned(jiff::tz::TimeZone::UTC).unwrap();
    let opens = opens.timestamp().as_millisecond();
    let secs = (opens - app.engine.now().millis()) / 1000;
    // Now (to the second below), then a whole number of seconds to the opening.
    let clock = ManualClock::at(switchboard_core::clock::Timestamp(opens - secs * 1000));
    let store = app.engine.store().clone();
    let router = Engine::new(store, Arc::new(LocalBus::default()), Arc::new(clock.clone()), Limits::default());
    let mut eligibility = Eligibility::default();
    assert_eq!(router.route_once(&mut eligibility).await.unwrap().offered, 0);
    clock.advance_secs(u32::try_from(secs - 1).unwrap());
    assert_eq!(router.route_once(&mut eligibility).await.unwrap().offered, 0, "a second before it opens");
    clock.advance_secs(1);
    assert_eq!(router.route_once(&mut eligibility).await.unwrap().offered, 1, "open");
    offer_for(&mut ws, &chat).await;
}

/// The days the clocks change in Paris, end to end: on 2026-03-29 local
/// 02:30 does not exist (02:00 CET is 03:00 CEST), so a desk opening at
/// 02:30 opens at the first real instant after, 01:00 UTC; on 2026-10-25
/// 02:30 happens twice, and the desk opens at the first, 00:30 UTC.
async fn daylight_saving_days_open_at_the_real_instant(backend: Backend) {
    use std::sync::Arc;
    use switchboard_core::bus::LocalBus;
    use switchboard_core::clock::{ManualClock, Timestamp};
    use switchboard_core::engine::{Engine, Limits};
    use switchboard_core::routing::matcher::Eligibility;

    let app = TestApp::spawn(backend).await;
    let ann = agent(&app, "Ann", 2, json!({})).await;
    let mut ws = online(&app, &ann).await;
    for (date, opens_utc) in [("2026-03-29", "2026-03-29T01:00:00Z"), ("2026-10-25", "2026-10-25T00:30:00Z")] {
        let name = format!("paris-{date}");
        let desk = json!({"name": name, "time_zone": "Europe/Paris", "weekly": {},
            "exceptions": [{"date": date, "hours": [["02:30", "05:00"]]}]});
        create_schedule(&app, desk).await;
        queue(&app, &name, json!({"schedule": name})).await;
        let (chat, _) = waiting_chat(&app, &name).await;
        let opens: jiff::Timestamp = opens_utc.parse().unwrap();
        let clock = ManualClock::at(Timestamp(opens.as_millisecond() - 1_000));
        let store = app.engine.store().clone();
        let router = Engine::new(store, Arc::new(LocalBus::default()), Arc::new(clock.clone()), Limits::default());
        let mut eligibility = Eligibility::default();
        assert_eq!(router.route_once(&mut eligibility).await.unwrap().offered, 0, "{date}: a second before");
        clock.advance_secs(1);
        assert_eq!(router.route_once(&mut eligibility).await.unwrap().offered, 1, "{date}: open at {opens_utc}");
        offer_for(&mut ws, &chat).await;
    }
}

async fn availability(app: &TestApp, ep: &str) -> Value {
    let (status, body) = app.call(Method::GET, &format!("/api/v1/entry-points/{ep}/availability"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn availability_tells_closed_no_agent_available_and_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = entry_point(&app).await;
    queue(&app, "support", json!({})).await;
    let (status, body) = put_workflow(&app, "default:\n  queue: support\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No schedule, nobody there.
    let nobody = json!({"state": "no_agent_available", "next_open_at": null, "closes_at": null});
    assert_eq!(availability(&app, &ep).await, nobody);

    // Closed until the weekday it opens on.
    let web = create_schedule(&app, later_in_week("web")).await;
    app.admin(Method::PATCH, &format!("/api/v1/entry-points/{ep}"), Some(json!({"schedule": "web"}))).await;
    let closed = json!({"state": "closed", "next_open_at": midnight(plus(today(), 3)), "closes_at": null});
    assert_eq!(availability(&app, &ep).await, closed);

    // Open today only, and an agent is there.
    put_schedule(&app, &web, schedule("web", whole_days(&[day_key(today())]), json!([]))).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut ws = online(&app, &ann).await;
    let open = json!({"state": "open", "next_open_at": null, "closes_at": midnight(plus(today(), 1))});
    assert_eq!(availability(&app, &ep).await, open);
    // A first step whose queue is closed moves on (`when_closed: next`) to one Ann serves.
    create_schedule(&app, holiday("shut")).await;
    queue(&app, "shut", json!({"schedule": "shut"})).await;
    let yaml =
        "filters:\n  - name: all\n    steps:\n      - queue: shut\n        when_closed: next\n      - queue: support\n";
    assert_eq!(put_workflow(&app, yaml).await.0, StatusCode::OK);
    assert_eq!(availability(&app, &ep).await, open);
    // Without `when_closed: next` the chat would wait in the closed queue.
    let yaml = "filters:\n  - name: all\n    steps:\n      - queue: shut\n      - queue: support\n";
    assert_eq!(put_workflow(&app, yaml).await.0, StatusCode::OK);
    let waits = json!({"state": "no_agent_available", "next_open_at": null, "closes_at": midnight(plus(today(), 1))});
    assert_eq!(availability(&app, &ep).await, waits);
    assert_eq!(put_workflow(&app, "default:\n  queue: support\n").await.0, StatusCode::OK);
    // The agent steps away: open, but nobody to answer.
    ws.send(json!({"type": "activity", "ref": "away", "activity": "away"})).await;
    assert_eq!(ws.frame_of("ack").await["result"]["available"], false);
    let away = json!({"state": "no_agent_available", "next_open_at": null, "closes_at": midnight(plus(today(), 1))});
    assert_eq!(availability(&app, &ep).await, away);

    // Public like starting a chat: a browser origin the entry point does not allow is refused.
    let origins = json!({"allowed_origins": ["https://shop.example"]});
    app.admin(Method::PATCH, &format!("/api/v1/entry-points/{ep}"), Some(origins)).await;
    let url = app.url(&format!("/api/v1/entry-points/{ep}/availability"));
    let res = app.http.get(&url).header("Origin", "https://elsewhere.example").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.http.get(&url).header("Origin", "https://shop.example").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) =
        app.call(Method::GET, "/api/v1/entry-points/ept_01M90G3EDSD5NAEED66BKQXNPK/availability", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Sends `body` and expects a 4xx naming `field`; returns the message.
async fn refused(app: &TestApp, method: Method, path: &str, body: Value, code: StatusCode, field: &str) -> String {
    let (status, err) = app.call(method, path, Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(status, code, "{path}: {err}");
    assert_eq!(err["error"]["field"], field, "{err}");
    err["error"]["message"].as_str().unwrap().to_owned()
}

async fn bad_hours_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let desk = create_schedule(&app, open_now("desk")).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let x = |extra: Value| {
        let mut body = json!({"name": "x", "time_zone": "UTC"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (json!({"name": "x", "time_zone": "Mars/Olympus"}), "time_zone"),
        (x(json!({"weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}})), "weekly.mon[1]"),
        (x(json!({"weekly": {"mon": [["9", "12:00"]]}})), "weekly.mon[0][0]"),
        (x(json!({"weekly": {"monday": []}})), "weekly.monday"),
        (
            x(json!({"exceptions": [{"date": "2026-12-25", "closed": true}, {"date": "2026-12-25", "closed": true}]})),
            "exceptions[1].date",
        ),
        (x(json!({"holidays": []})), "holidays"),
    ];
    for (body, field) in cases {
        let message = refused(&app, Method::POST, "/api/v1/schedules", body, unprocessable, field).await;
        assert!(!message.is_empty());
    }
    let message = refused(
        &app,
        Method::POST,
        "/api/v1/schedules",
        json!({"name": "x", "time_zone": "Mars/Olympus"}),
        unprocessable,
        "time_zone",
    )
    .await;
    assert!(message.contains("unknown time zone `Mars/Olympus`"), "{message}");
    // A field given twice is refused, not silently the last one.
    let res = app
        .http
        .post(app.url("/api/v1/schedules"))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .body(r#"{"name": "x", "time_zone": "UTC", "name": "y"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), unprocessable);
    let (status, _) = app.call(Method::POST, "/api/v1/schedules", Some(ADMIN_KEY), Some(open_now("desk"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "the name is taken");
    let path = format!("/api/v1/schedules/{desk}");
    refused(&app, Method::PUT, &path, json!({"name": "desk", "time_zone": "Nowhere"}), unprocessable, "time_zone")
        .await;
    let list = app.admin(Method::GET, "/api/v1/schedules", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["time_zone"], "UTC");
    assert_eq!(list[0]["weekly"]["sun"], json!([["00:00", "24:00"]]));

    // Unknown schedules on queues and entry points.
    let unknown = json!({"name": "support", "schedule": "nope"});
    let message = refused(&app, Method::POST, "/api/v1/queues", unknown, unprocessable, "schedule").await;
    assert!(message.contains("no schedule named `nope`"), "{message}");
    assert!(app.admin(Method::GET, "/api/v1/queues", None).await.as_array().unwrap().is_empty());
    let support = queue(&app, "support", json!({"schedule": "desk"})).await;
    let q = format!("/api/v1/queues/{support}");
    refused(&app, Method::PATCH, &q, json!({"schedule": "nope", "wrap_up_secs": 5}), unprocessable, "schedule").await;
    let view = app.admin(Method::GET, &q, None).await;
    assert_eq!((view["schedule"].as_str(), view["wrap_up_secs"].as_u64()), (Some("desk"), Some(0)));
    let ep = entry_point(&app).await;
    refused(
        &app,
        Method::PATCH,
        &format!("/api/v1/entry-points/{ep}"),
        json!({"schedule": "nope"}),
        unprocessable,
        "schedule",
    )
    .await;
    assert_eq!(app.admin(Method::GET, &format!("/api/v1/entry-points/{ep}"), None).await["schedule"], Value::Null);

    // A workflow naming an unknown schedule, at its line.
    let yaml = "filters:\n  - name: f\n    if: 'hours[\"nope\"]'\n    steps:\n      - queue: support\n";
    let (status, err) = put_workflow(&app, yaml).await;
    assert_eq!(status, unprocessable, "{err}");
    assert_eq!(err["error"]["field"], "filters[0].if");
    assert!(err["error"]["message"].as_str().unwrap().starts_with("line 3, "), "{err}");
    let (status, _) = app.call(Method::GET, "/api/v1/workflow", Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no workflow was stored");

    // Deleting a schedule in use names its users.
    let (status, err) = app.call(Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("queue `support`"), "{err}");
    assert_eq!(app.admin(Method::GET, &path, None).await["name"], "desk");
    // Taken off the queue, it is still in the workflow's conditions: it may
    // be neither deleted nor renamed, which would make them quietly false.
    assert_eq!(app.admin(Method::PATCH, &q, Some(json!({"schedule": null}))).await["schedule"], Value::Null);
    let uses = "filters:\n  - name: f\n    if: 'hours[\"desk\"]'\n    steps:\n      - queue: support\n";
    assert_eq!(put_workflow(&app, uses).await.0, StatusCode::OK);
    let (status, err) = app.call(Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("filters[0].if"), "{err}");
    let (status, err) = app.call(Method::PUT, &path, Some(ADMIN_KEY), Some(open_now("front-desk"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(app.admin(Method::GET, &path, None).await["name"], "desk");
    assert_eq!(put_workflow(&app, "default:\n  queue: support\n").await.0, StatusCode::OK);
    let (status, _) = app.call(Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::GET, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

both_backends!(
    daylight_saving_days_open_at_the_real_instant,
    a_chat_outside_hours_follows_the_closed_branch,
    a_closed_queue_offers_nothing_until_it_opens,
    a_queue_opens_when_its_hours_begin,
    availability_tells_closed_no_agent_available_and_open,
    bad_hours_input_is_refused_and_changes_nothing,
);

/// `switchboard schedule apply|list`: on a database no server holds, then
/// through a running server's API; the same output either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_commands_apply_and_list_directly_and_through_a_running_server() {
    use crate::cli_flow::{Serve, cli, ok};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("support.yaml");
    let path = file.to_str().unwrap();
    let yaml = "name: support\ntime_zone: Europe/Paris\nweekly:\n  mon: [[\"09:00\", \"17:30\"]]\nexceptions:\n  \
                - {date: \"2026-12-25\", closed: true, name: Christmas}\n";
    std::fs::write(&file, yaml).unwrap();
    let created = ok(dir, &["schedule", "apply", path]).await;
    assert!(
        created.contains("support") && created.contains("Europe/Paris") && created.ends_with("(created)\n"),
        "{created}"
    );
    let replaced = ok(dir, &["schedule", "apply", path]).await;
    assert!(replaced.ends_with("(replaced)\n"), "{replaced}");
    let listed = ok(dir, &["schedule", "list"]).await;
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let queue = ok(dir, &["queue", "create", "--name", "support", "--schedule", "support"]).await;
    let queue = queue.split_whitespace().next().unwrap().to_owned();
    let ran = cli(dir, &["queue", "create", "--name", "other", "--schedule", "nope"]).await;
    assert!(!ran.ok && ran.err.contains("schedule: no schedule named `nope`"), "{}", ran.err);

    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "name: late\ntime_zone: Europe/Paris\nweekly:\n  mon: [[\"18:00\", \"09:00\"]]\n").unwrap();
    let ran = cli(dir, &["schedule", "apply", broken.to_str().unwrap()]).await;
    assert!(!ran.ok, "{}", ran.out);
    assert!(ran.err.contains("broken.yaml: weekly.mon[0]: line 4"), "{}", ran.err);

    let server = Serve::start(dir).await;
    let through = ok(dir, &["schedule", "apply", path]).await;
    assert_eq!(through, replaced);
    let ran = cli(dir, &["schedule", "apply", broken.to_str().unwrap()]).await;
    assert!(!ran.ok && ran.err.contains("weekly.mon[0]: line 4"), "{}", ran.err);
    assert_eq!(ok(dir, &["schedule", "list"]).await, listed);
    let on_server = server.admin(Method::GET, "/api/v1/schedules", Value::Null).await;
    assert_eq!(on_server[0]["exceptions"][0]["name"], "Christmas", "{on_server}");
    let path = format!("/api/v1/queues/{queue}");
    assert_eq!(server.admin(Method::GET, &path, Value::Null).await["schedule"], "support");
    ok(dir, &["queue", "update", &queue, "--schedule", ""]).await;
    assert_eq!(server.admin(Method::GET, &path, Value::Null).await["schedule"], Value::Null);
    server.stop().await;
}
