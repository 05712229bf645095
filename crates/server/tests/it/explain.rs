//! Routing explanations end to end: fifty agents in every state, the live
//! explanation of a waiting chat naming each one's real reason, the stored
//! reason of the offer the router then makes, who may ask, and the command
//! line. The server runs no router of its own (`router: false`): the test
//! runs each routing pass itself, so what it explains cannot change under it.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_core::routing::matcher::Eligibility;

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp, Ws};
use crate::persistent::{OTHER_KEY, with_second_workspace};
use crate::routing::{AgentClient, agent, offer_for, online, queue, waiting_chat};

/// One routing pass, as the router would run it; how many offers it made.
async fn pass(app: &TestApp) -> usize {
    app.engine.route_once(&mut Eligibility::default()).await.unwrap().offered
}

async fn explain(app: &TestApp, chat: &str) -> Value {
    app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task/explain"), None).await
}

async fn agent_view(app: &TestApp, id: &str) -> Value {
    app.admin(Method::GET, &format!("/api/v1/agents/{id}"), None).await
}

/// What the test expects of one agent: its reason and the details shown with it.
fn expect(reason: &str, details: Value) -> Value {
    let mut v = details;
    v["reason"] = json!(reason);
    v
}

/// Nearest to eligible first, as the answer lists the skipped.
fn nearness(reason: &str) -> usize {
    let order = [
        "declined_before",
        "at_capacity",
        "expression_false",
        "not_the_named_agent",
        "outside_hours",
        "not_present",
        "disabled",
    ];
    order.iter().position(|r| *r == reason).unwrap()
}

const WORKFLOW: &str = r#"
filters:
  - name: billing
    if: chat.attributes.topic == "billing"
    steps:
      - queue: billing
        agents: agent.level >= 2
"#;

async fn fifty_agents_each_with_its_real_reason(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.router = false).await;
    let billing = queue(&app, "billing", json!({"expression": r#""billing" in agent.skills"#})).await;
    let hold = queue(&app, "hold", json!({})).await;
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(WORKFLOW).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let fit = json!({"skills": ["billing"], "level": 3});
    let sales = json!({"skills": ["sales"], "level": 5});
    let junior = json!({"skills": ["billing"], "level": 1});
    // (how many, attributes, the reason expected): 0..6 never came online;
    // 6..10 away; 10..14 disabled; 14..20 lack the queue's skill; 20..24 fail
    // the step's level; 24..30 hold a chat each (capacity 1); 30 declines the
    // billing chat; 31..50 are eligible.
    let plan = [
        (6, &fit, expect("not_present", json!({"activity": "offline"}))),
        (4, &fit, expect("not_present", json!({"activity": "away"}))),
        (4, &fit, expect("disabled", json!({}))),
        (6, &sales, expect("expression_false", json!({"condition": "queue"}))),
        (4, &junior, expect("expression_false", json!({"condition": "step"}))),
        (6, &fit, expect("at_capacity", json!({"load": 1, "capacity": 1}))),
        (1, &fit, expect("declined_before", json!({}))),
        (19, &fit, expect("eligible", json!({}))),
    ];
    let mut agents: Vec<(AgentClient, Value)> = Vec::new();
    for (n, attributes, reason) in plan {
        for _ in 0..n {
            let a = agent(&app, &format!("agent-{:02}", agents.len()), 1, attributes.clone()).await;
            agents.push((a, reason.clone()));
        }
    }
    let mut sockets: Vec<Ws> = Vec::new();
    assert_eq!(agents.len(), 50);

    // The six busy ones take a chat each from another queue.
    for (a, _) in &agents[24..30] {
        sockets.push(online(&app, a).await);
    }
    let mut held = Vec::new();
    for _ in 24..30 {
        held.push(waiting_chat(&app, &hold).await.0);
    }
    assert_eq!(pass(&app).await, 6);
    for ws in &mut sockets {
        let f = ws.frame_of("offer").await;
        ws.send(json!({"type": "accept", "ref": "a", "offer_id": f["offer"]["id"]})).await;
        ws.frame_of("assigned").await;
    }
    // Agent 30 is the only one who can take the billing chat, and declines it.
    let mut decliner = online(&app, &agents[30].0).await;
    let chat =
        app.admin(Method::POST, "/api/v1/conversations", Some(json!({"attributes": {"topic": "billing"}}))).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    app.admin(Method::POST, &format!("/api/v1/conversations/{chat}/route"), Some(json!({}))).await;
    assert_eq!(pass(&app).await, 1);
    let offer = offer_for(&mut decliner, &chat).await;
    decliner.send(json!({"type": "decline", "ref": "d", "offer_id": offer})).await;
    assert_eq!(decliner.frame_of("ack").await["result"]["state"], "declined");
    // Everyone else takes their state.
    for (a, _) in &agents[6..10] {
        app.admin(Method::PUT, &format!("/api/v1/agents/{}/activity", a.id), Some(json!({"activity": "away"}))).await;
    }
    for (a, _) in &agents[10..14] {
        app.admin(Method::PATCH, &format!("/api/v1/agents/{}", a.id), Some(json!({"enabled": false}))).await;
    }
    for (a, _) in agents[14..24].iter().chain(&agents[31..50]) {
        sockets.push(online(&app, a).await);
    }

    // The live explanation names every agent's reason.
    let e = explain(&app, &chat).await;
    assert_eq!(e["task"]["state"], "waiting", "{e}");
    assert_eq!(e["task"]["passed"], json!([agents[30].0.id]));
    assert_eq!(e["queue"]["id"], billing);
    assert_eq!(e["task"]["route"][0]["agents"], "agent.level >= 2");
    let now = &e["now"];
    assert_eq!((now["agents"].as_u64(), now["position"].as_u64()), (Some(50), Some(1)));
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (_, r) in &agents {
        *counts.entry(r["reason"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(now["counts"], json!(counts), "{now}");
    assert_eq!(
        now["counts"],
        json!({"disabled": 4, "not_present": 10, "expression_false": 10, "at_capacity": 6, "declined_before": 1, "eligible": 19})
    );
    // The eligible, ranked longest idle first (ties by id): the five best.
    let mut eligible = Vec::new();
    for (a, _) in &agents[31..50] {
        let v = agent_view(&app, &a.id).await;
        eligible.push((v["idle_since"].as_str().unwrap().to_owned(), a.id.clone()));
    }
    eligible.sort();
    let top: Vec<&str> = now["eligible"].as_array().unwrap().iter().map(|x| x["agent_id"].as_str().unwrap()).collect();
    let best: Vec<&str> = eligible.iter().take(5).map(|(_, id)| id.as_str()).collect();
    assert_eq!(top, best, "{now}");
    for (n, x) in now["eligible"].as_array().unwrap().iter().enumerate() {
        assert_eq!((x["rank"].as_u64(), x["idle_since"].as_str()), (Some(n as u64 + 1), Some(eligible[n].0.as_str())));
    }
    assert_eq!(now["winner"], json!({"reason": "longest_idle", "since": eligible[0].0}));
    // The first ten skipped, nearest to eligible first, then by id; each with its reason.
    let mut skipped: Vec<(usize, &str, &Value)> = (agents.iter())
        .filter(|(_, r)| r["reason"] != "eligible")
        .map(|(a, r)| (nearness(r["reason"].as_str().unwrap()), a.id.as_str(), r))
        .collect();
    skipped.sort_by_key(|(n, id, _)| (*n, *id));
    let listed = now["skipped"].as_array().unwrap();
    assert_eq!(listed.len(), 10);
    for (shown, (_, id, reason)) in listed.iter().zip(&skipped) {
        let mut shown = shown.clone();
        assert_eq!(shown["agent_id"], *id, "{now}");
        let name = shown.as_object_mut().unwrap().remove("name").unwrap();
        assert!(name.as_str().unwrap().starts_with("agent-"));
        shown.as_object_mut().unwrap().remove("agent_id");
        assert_eq!(&shown, *reason, "{id}");
    }

    // The router's next pass offers it to the first, and the offer keeps why.
    assert_eq!(pass(&app).await, 1);
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    assert_eq!((task["state"].as_str(), task["agent_id"].as_str()), (Some("offered"), Some(best[0])), "{task}");
    let offered: Vec<&Value> = task["history"].as_array().unwrap().iter().filter(|h| h["what"] == "offered").collect();
    assert_eq!(offered.len(), 2, "{task}");
    assert_eq!(offered[0]["agent_id"], agents[30].0.id);
    assert_eq!(offered[0]["detail"]["won"], json!({"reason": "only_one_eligible"}), "{task}");
    let detail = &offered[1]["detail"];
    assert_eq!(detail["won"], json!({"reason": "longest_idle", "since": eligible[0].0}), "{task}");
    assert_eq!(detail["eligible"], 19);
    let next: Vec<&str> =
        detail["runners_up"].as_array().unwrap().iter().map(|r| r["agent_id"].as_str().unwrap()).collect();
    assert_eq!(next, best[1..4]);
    // The router reads only present agents with a free slot when that is enough:
    // the 30 of them here, skipped for what it could see.
    assert_eq!(detail["considered"], 30, "{detail}");
    assert_eq!(detail["skipped"], json!({"expression_false": 10, "declined_before": 1}));
    // Offered: the explanation is the history, with the same detail.
    let e = explain(&app, &chat).await;
    assert!(e.get("now").is_none(), "{e}");
    assert_eq!(e["history"], task["history"]);
    drop(sockets);
}

async fn only_workspace_keys_of_the_chat_may_ask(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.router = false).await;
    let q = queue(&app, "general", json!({})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let (chat, customer) = waiting_chat(&app, &q).await;
    let path = format!("/api/v1/conversations/{chat}/task/explain");
    for token in [ann.token.as_str(), customer.as_str()] {
        let (status, body) = app.call(Method::GET, &path, Some(token), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    }
    let supervisor = app
        .admin(Method::POST, &format!("/api/v1/conversations/{chat}/participants"), Some(json!({"role": "supervisor"})))
        .await;
    let (status, _) = app.call(Method::GET, &path, supervisor["token"].as_str(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a supervisor in one chat does not see the workspace's agents");
    // Another workspace's key: no such conversation.
    let app = with_second_workspace(app).await;
    let (status, body) = app.call(Method::GET, &path, Some(OTHER_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Bad ids are named; a chat never routed has no task.
    let (status, body) = app.call(Method::GET, "/api/v1/conversations/nope/task/explain", Some(ADMIN_KEY), None).await;
    assert!(status.is_client_error() && body["error"]["message"].as_str().unwrap().contains("nope"), "{body}");
    let fresh = app.admin(Method::POST, "/api/v1/conversations", Some(json!({}))).await;
    let fresh = format!("/api/v1/conversations/{}/task/explain", fresh["id"].as_str().unwrap());
    assert_eq!(app.call(Method::GET, &fresh, Some(ADMIN_KEY), None).await.0, StatusCode::NOT_FOUND);
    let e = explain(&app, &chat).await;
    assert_eq!(e["now"]["counts"], json!({"not_present": 1}), "Ann never came online");
    assert_eq!(
        e["now"]["skipped"][0],
        json!({"agent_id": ann.id, "name": "Ann", "reason": "not_present", "activity": "offline"})
    );
    assert_eq!(e["now"]["position"], 1);
    let (second, _) = waiting_chat(&app, &q).await;
    assert_eq!(explain(&app, &second).await["now"]["position"], 2, "behind the first chat in line");
}

/// Without the moment of reading and the time in line, which change between two runs.
fn steady(out: &str) -> String {
    let lines = out.lines().filter(|l| !l.starts_with("Now (")).map(|l| l.split(" · in line").next().unwrap_or(l));
    lines.collect::<Vec<_>>().join("\n")
}

/// `switchboard task explain` through a running server's API, then directly
/// on the database: the same explanation either way, and as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_explains_through_a_running_server_or_directly() {
    use crate::cli_flow::{Serve, cli, ok};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Serve::start(dir).await;
    server.admin(Method::POST, "/api/v1/queues", json!({"name": "general", "expression": "agent.level >= 2"})).await;
    let ann = server.admin(Method::POST, "/api/v1/agents", json!({"name": "Ann", "attributes": {"level": 3}})).await;
    let bob = server.admin(Method::POST, "/api/v1/agents", json!({"name": "Bob", "enabled": false})).await;
    let chat = server.admin(Method::POST, "/api/v1/conversations", json!({})).await["id"].as_str().unwrap().to_owned();
    let task =
        server.admin(Method::POST, &format!("/api/v1/conversations/{chat}/route"), json!({"queue": "general"})).await;
    assert_eq!(task["state"], "waiting", "nobody is present: {task}");

    let through_server = ok(dir, &["task", "explain", &chat]).await;
    let (ann, bob) = (ann["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    for line in [
        format!("{chat} · task "),
        " · waiting in queue general (longest idle)".into(),
        "  queue expression: agent.level >= 2".into(),
        ", of 2 agents: disabled 1, not present 1".into(),
        "  nobody is eligible: the chat waits".into(),
        format!("    Ann ({ann}): not present (offline)"),
        format!("    Bob ({bob}): disabled"),
        "History:".into(),
    ] {
        assert!(through_server.contains(&line), "{line:?} in:\n{through_server}");
    }
    let json = ok(dir, &["task", "explain", &chat, "--json"]).await;
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["now"]["counts"], json!({"disabled": 1, "not_present": 1}));
    assert_eq!(json["history"][0]["what"], "queued");
    server.stop().await;

    let direct = ok(dir, &["task", "explain", &chat]).await;
    assert_eq!(steady(&direct), steady(&through_server));
    let ran = cli(dir, &["task", "explain", "cnv_nope"]).await;
    assert!(!ran.ok && ran.err.contains("cnv_nope"), "{}", ran.err);
}

both_backends!(fifty_agents_each_with_its_real_reason, only_workspace_keys_of_the_chat_may_ask);
