//! What survives: a graceful restart, stored timers, and `kill -9` in the
//! middle of a load of sends. The crash test runs the real binary.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::harness::{ADMIN_KEY, Backend, PROMPTLY, TestApp, create_chat, read_transcript};

crate::both_backends!(
    everything_committed_survives_a_restart,
    pending_idle_timers_fire_after_a_restart,
    acknowledged_messages_survive_kill_9,
);

async fn everything_committed_survives_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    for i in 0..10 {
        app.say(
            &chat.id,
            if i % 2 == 0 { &chat.customer } else { &chat.agent },
            &format!("m{i}"),
            Some(&format!("t{i}")),
        )
        .await;
    }
    app.admin(Method::PATCH, &format!("/api/v1/conversations/{}", chat.id), Some(json!({"attributes": {"k": "v"}})))
        .await;
    let before = app.transcript(&chat.id).await;
    let app = app.restart().await;
    assert_eq!(app.transcript(&chat.id).await, before);
    // Tokens still work, client tokens are still remembered, seqs go on.
    let again = app.say(&chat.id, &chat.customer, "m0", Some("t0")).await;
    assert_eq!(again["seq"], before[3]["seq"]);
    let next = app.say(&chat.id, &chat.customer, "after", None).await;
    assert_eq!(next["seq"].as_i64().unwrap(), before.len() as i64 + 1);
    let c = app.admin(Method::GET, &format!("/api/v1/conversations/{}", chat.id), None).await;
    assert_eq!(c["attributes"]["k"], "v");
}

async fn pending_idle_timers_fire_after_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = app
        .admin(
            Method::POST,
            "/api/v1/entry-points",
            Some(json!({"name": "Idle", "allowed_origins": ["*"], "idle": {"idle_after_secs": 1, "disconnect_after_secs": 2}})),
        )
        .await;
    let (status, started) = app
        .call(
            Method::POST,
            &format!("/api/v1/entry-points/{}/chats", ep["id"].as_str().unwrap()),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = started["token"].as_str().unwrap().to_owned();
    let app = app.restart().await;
    let restarted_at = time_now();
    let mut ws = app.ws(&token, Some(0)).await;
    let mut kinds = Vec::new();
    let mut idle_at = None;
    while !kinds.iter().any(|k| k == "conversation.ended") {
        let e = ws.event().await;
        if e["type"] == "participant.idle" {
            idle_at = e["at"].as_str().map(str::to_owned);
        }
        kinds.push(e["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        kinds,
        [
            "conversation.created",
            "participant.joined",
            "participant.idle",
            "participant.autodisconnection",
            "conversation.ended"
        ]
    );
    assert!(idle_at.unwrap() >= restarted_at, "the idle timer fired after the restart");
}

/// RFC 3339 "now", comparable as text with event times.
fn time_now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    switchboard_core::clock::Timestamp(d.as_millis() as i64 - 1).to_rfc3339()
}

/// The server binary on a port of its own.
struct Process {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn launch(data_dir: &std::path::Path, database_url: Option<&str>) -> (Process, Duration) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SWITCHBOARD_DATA_DIR", data_dir)
        .env("SWITCHBOARD_ADMIN_KEY", ADMIN_KEY)
        .env("SWITCHBOARD_SENDS_PER_SECOND", "0")
        .env("SWITCHBOARD_LOG", "warn")
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(url) = database_url {
        cmd.env("SWITCHBOARD_DATABASE_URL", url);
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("start the server binary");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == StatusCode::OK
        {
            break;
        }
        assert!(started.elapsed() < PROMPTLY, "the binary did not become ready");
        tokio::task::yield_now().await;
    }
    (Process { child, base }, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_within_a_second_of_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, took) = launch(dir.path(), None).await;
    assert!(took < Duration::from_secs(1), "ready after {took:?}");
    p.child.kill().await.unwrap();
}

async fn acknowledged_messages_survive_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(switchboard_store::testing::fresh_postgres_url().await),
    };
    let (mut server, _) = launch(dir.path(), db.as_deref()).await;
    let http = reqwest::Client::new();
    let mut chats = Vec::new();
    for _ in 0..4 {
        chats.push(create_chat(&http, &server.base).await);
    }
    // Eight senders, each recording what the server acknowledged.
    let (acks_tx, mut acks_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String, i64)>();
    let mut senders = tokio::task::JoinSet::new();
    for (n, chat) in chats.iter().enumerate() {
        for (side, token) in [("c", chat.customer.clone()), ("a", chat.agent.clone())] {
            let (http, url, tx) =
                (http.clone(), format!("{}/api/v1/conversations/{}/messages", server.base, chat.id), acks_tx.clone());
            let chat_id = chat.id.clone();
            senders.spawn(async move {
                for i in 0.. {
                    let token_id = format!("{n}-{side}-{i}");
                    let body = json!({"content": format!("msg {token_id}"), "client_token": token_id});
                    let Ok(res) = http.post(&url).bearer_auth(&token).json(&body).send().await else { return };
                    if res.status() != StatusCode::CREATED {
                        return;
                    }
                    let Ok(text) = res.text().await else { return };
                    let Some(event) = crate::harness::parse_json(&text, "message") else { return };
                    let _ = tx.send((chat_id.clone(), token_id, event["seq"].as_i64().unwrap()));
                }
            });
        }
    }
    drop(acks_tx);
    let mut acked: HashMap<String, (String, i64)> = HashMap::new();
    while acked.len() < 400 {
        let (chat, token, seq) =
            tokio::time::timeout(PROMPTLY, acks_rx.recv()).await.expect("sends are acknowledged").unwrap();
        acked.insert(token, (chat, seq));
    }
    server.child.start_kill().unwrap(); // SIGKILL, mid-load
    server.child.wait().await.unwrap();
    while let Some((chat, token, seq)) = acks_rx.recv().await {
        acked.insert(token, (chat, seq));
    }
    senders.join_all().await;

    let (mut server, _) = launch(dir.path(), db.as_deref()).await;
    let mut stored = 0;
    for chat in &chats {
        let log = read_transcript(&http, &server.base, &chat.id).await;
        let seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "seqs 1..n with no gap");
        let mut by_token: HashMap<&str, Vec<i64>> = HashMap::new();
        for e in &log {
            if let Some(t) = e["client_token"].as_str() {
                by_token.entry(t).or_default().push(e["seq"].as_i64().unwrap());
            }
        }
        assert!(by_token.values().all(|v| v.len() == 1), "no message stored twice");
        for (token, (c, seq)) in &acked {
            if *c == chat.id {
                assert_eq!(
                    by_token.get(token.as_str()),
                    Some(&vec![*seq]),
                    "acknowledged {token} is stored once at its seq"
                );
            }
        }
        stored += by_token.len();
    }
    assert!(stored >= acked.len());
    server.child.kill().await.unwrap();
}
