//! Erasure and retention against the real server, on both backends: who may
//! erase, what is left afterwards (searched for in every table), the audit
//! row, live sockets, files deleted through the outbox, and retention
//! purging only what is due, in batches, while chat traffic goes on.

use std::path::Path;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_core::engine::Caller;
use switchboard_core::engine::files::NewUpload;
use switchboard_core::ids::WorkspaceId;
use switchboard_core::model::WorkspaceSettings;
use switchboard_core::retention::{PurgeBatch, RetentionSettings};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, PROMPTLY, TestApp};
use crate::persistent::{OTHER_KEY, with_second_workspace};

both_backends!(
    erasure_leaves_nothing_but_a_content_free_audit_row,
    only_a_workspace_key_of_the_chat_may_erase_it,
    retention_purges_only_what_is_due_in_batches_while_chats_go_on,
);

const DAY_MS: i64 = 86_400_000;

fn database_url(app: &TestApp) -> String {
    app.config.storage.database_url()
}

async fn workspace_of(app: &TestApp, key: &str) -> WorkspaceId {
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(key), None).await;
    WorkspaceId::parse(me["workspace_id"].as_str().unwrap()).unwrap()
}

/// Uploads a small text file into the chat as its customer, through the
/// engine (the files API is not this test's subject); returns its id.
async fn upload(app: &TestApp, chat: &str, customer: &str, name: &str, body: &'static str) -> String {
    let caller = app.engine.authenticate(customer).await.unwrap();
    let conversation = chat.parse().unwrap();
    let announced =
        NewUpload { name: name.into(), content_type: "text/plain".into(), size: body.len() as u64, request_id: None };
    let (a, link) = app.engine.start_upload(&caller, conversation, announced).await.unwrap();
    let bytes = futures_util::stream::once(async move { Ok(Bytes::from_static(body.as_bytes())) }).boxed();
    app.engine.upload(a.id, link.expires, &link.signature, None, bytes).await.unwrap();
    app.engine.complete_upload(&caller, conversation, a.id).await.unwrap();
    a.id.to_string()
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
    }
    out
}

/// Waits until the outbox item that deletes `chat`'s files is done.
async fn files_deleted(app: &TestApp, chat: &str) -> Value {
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let items = app.admin(Method::GET, "/api/v1/outbox?limit=500", None).await;
        let item =
            items.as_array().unwrap().iter().find(|o| {
                o["kind"] == "delete_files" && o["work"]["prefix"].as_str().is_some_and(|p| p.contains(chat))
            });
        if let Some(item) = item.filter(|i| i["state"] == "done") {
            return item.clone();
        }
        assert!(Instant::now() < deadline, "the files' deletion was not done: {item:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const FORM_FLOW: &str = r#"
name: erase-form
steps:
  form:
    type: show_form
    form:
      name: reason
      title: Why?
      fields:
        - name: reason
          type: text
          required: true
    into: answer
    next: end
"#;

async fn erasure_leaves_nothing_but_a_content_free_audit_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, created) = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            Some(ADMIN_KEY),
            Some(json!({"attributes": {"plan": "gold-secret"}})),
        )
        .await;
    let chat = created["id"].as_str().unwrap().to_owned();
    let add = |role: &'static str, name: &'static str| {
        let path = format!("/api/v1/conversations/{chat}/participants");
        let app = &app;
        async move { app.admin(Method::POST, &path, Some(json!({"role": role, "display_name": name}))).await }
    };
    let (ann, dee) = (add("customer", "Ann Erasable").await, add("agent", "Dee Erasable").await);
    let ann_token = ann["token"].as_str().unwrap().to_owned();
    let dee_token = dee["token"].as_str().unwrap().to_owned();
    let other = app.chat().await;
    app.say(&chat, &ann_token, "my secret account number 99-1234", Some("ct-erase-1")).await;
    app.say(&chat, &dee_token, "noted, Ann", None).await;
    app.say(&other.id, &other.customer, "a chat that stays", None).await;
    let attachment = upload(&app, &chat, &ann_token, "statement-secret.txt", "balance: 1234\n").await;
    upload(&app, &other.id, &other.customer, "kept.txt", "kept\n").await;
    crate::flow_steps::deploy(&app, FORM_FLOW).await;
    let body = json!({"conversation_id": chat, "params": {}});
    let (status, run) = app.call(Method::POST, "/api/v1/flows/erase-form/runs", Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let files = app.config.storage.data_dir.join("files");
    let ws = workspace_of(&app, ADMIN_KEY).await;
    let chat_dir = files.join(ws.to_string()).join(&chat);
    assert_eq!(files_under(&chat_dir).len(), 1, "the file is stored");
    let mut ws_socket = app.ws(&ann_token, None).await;

    let path = format!("/api/v1/conversations/{chat}");
    let (status, body) = app.call(Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "an open chat is not erased unless asked to end it: {body}");
    let long = "x".repeat(201);
    let (status, body) =
        app.call(Method::DELETE, &format!("{path}?end=true&reason={long}"), Some(ADMIN_KEY), None).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));

    let (status, audit) =
        app.call(Method::DELETE, &format!("{path}?end=true&reason=customer%20request"), Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["conversation_id"], chat.as_str());
    assert_eq!((audit["erased_by"].as_str(), audit["reason"].as_str()), (Some("api_key"), Some("customer request")));
    assert!(audit["api_key_id"].as_str().unwrap().starts_with("key_"), "{audit}");
    assert!(audit["ended_at"].is_string(), "{audit}");
    let d = &audit["deleted"];
    assert_eq!(
        (d["participants"].as_i64(), d["attachments"].as_i64(), d["flow_runs"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(d["forms"], 1);
    assert!(d["events"].as_i64().unwrap() >= 7, "{audit}");
    let text = audit.to_string();
    for secret in ["secret", "Ann", "Dee", "gold", "99-1234", "statement", "ct-erase"] {
        assert!(!text.contains(secret), "the audit row holds no content: {secret} in {text}");
    }

    // The open socket hears the chat end, then is closed: it cannot send.
    let mut ended = false;
    let reason = loop {
        let msg = tokio::time::timeout(PROMPTLY, ws_socket.stream.next()).await.expect("a close").expect("open");
        match msg.expect("no socket error") {
            Message::Text(t) => ended |= t.contains("conversation.ended"),
            Message::Close(frame) => break frame.map(|f| (u16::from(f.code), f.reason.to_string())),
            _ => {}
        }
    };
    assert!(ended, "it heard the end");
    // Closed once it heard the end, or at the erasure if it missed it.
    let (code, why) = reason.expect("a close frame");
    assert!(code == 1000 && ["conversation ended", "conversation erased"].contains(&why.as_str()), "{code} {why}");

    // Gone for everyone; its tokens open nothing; asking again returns the same row.
    let (status, _) = app.call(Method::GET, &format!("{path}/transcript"), Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for token in [&ann_token, &dee_token] {
        let (status, _) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let send = json!({"content": "hello?"});
        let (status, _) = app.call(Method::POST, &format!("{path}/messages"), Some(token), Some(send)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, again) = app.call(Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &audit["id"]), "idempotent: {again}");
    let listed = app.admin(Method::GET, "/api/v1/erasures", None).await;
    assert_eq!(listed["erasures"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["erasures"][0]["id"], audit["id"]);

    // Its files go through the outbox; the other chat's stay.
    files_deleted(&app, &chat).await;
    assert!(files_under(&chat_dir).is_empty(), "{:?}", files_under(&chat_dir));
    assert_eq!(files_under(&files.join(ws.to_string()).join(&other.id)).len(), 1);

    // Nothing names it any more but its audit row and the done deletion of its files.
    let needles = [
        chat.as_str(),
        ann["participant"]["id"].as_str().unwrap(),
        dee["participant"]["id"].as_str().unwrap(),
        run["id"].as_str().unwrap(),
        attachment.as_str(),
        "Ann Erasable",
        "Dee Erasable",
        "99-1234",
        "gold-secret",
        "ct-erase-1",
        "statement-secret",
    ];
    let left = switchboard_store::testing::mentions(&database_url(&app), &needles).await.unwrap();
    assert_eq!(left, [format!("erasures.conversation_id: {chat}"), format!("outbox.work: {chat}")]);
    assert_eq!(app.transcript(&other.id).await.len(), 5, "the other chat is whole: joins, message, file");
}

async fn only_a_workspace_key_of_the_chat_may_erase_it(backend: Backend) {
    let app = with_second_workspace(TestApp::spawn(backend).await).await;
    let chat = app.chat().await;
    let path = format!("/api/v1/conversations/{}?end=true", chat.id);
    for token in [&chat.customer, &chat.agent] {
        let (status, body) = app.call(Method::DELETE, &path, Some(token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = app.call(Method::GET, "/api/v1/erasures", Some(token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app.call(Method::DELETE, &path, Some(OTHER_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another workspace's chat is not found");
    let (status, _) = app.call(Method::DELETE, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call(Method::DELETE, "/api/v1/conversations/cnv_nope?end=true", Some(ADMIN_KEY), None).await;
    assert!(status.is_client_error());
    let unknown = format!("/api/v1/conversations/{}", switchboard_core::ids::ConversationId::new());
    let (status, _) = app.call(Method::DELETE, &unknown, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.transcript(&chat.id).await.len(), 3, "nothing was erased");

    let (status, _) = app.call(Method::DELETE, &path, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::DELETE, &path, Some(OTHER_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor is its audit row shown to another workspace");
    let theirs = app.call(Method::GET, "/api/v1/erasures", Some(OTHER_KEY), None).await.1;
    assert_eq!(theirs["erasures"], json!([]));
}

/// Creates `n` chats in the workspace of `key`, each with a customer who
/// says something, and ends them.
async fn ended_chats(app: &TestApp, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (_, c) = app.call(Method::POST, "/api/v1/conversations", Some(key), Some(json!({}))).await;
        let id = c["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/conversations/{id}");
        let (_, p) =
            app.call(Method::POST, &format!("{path}/participants"), Some(key), Some(json!({"role": "customer"}))).await;
        app.say(&id, p["token"].as_str().unwrap(), &format!("old chat {i}"), None).await;
        let (status, _) = app.call(Method::POST, &format!("{path}/end"), Some(key), None).await;
        assert_eq!(status, StatusCode::OK);
        ids.push(id);
    }
    ids
}

async fn retention_purges_only_what_is_due_in_batches_while_chats_go_on(backend: Backend) {
    let app = with_second_workspace(TestApp::spawn(backend).await).await;
    let ws = workspace_of(&app, ADMIN_KEY).await;
    let old = ended_chats(&app, ADMIN_KEY, 120).await;
    let theirs = ended_chats(&app, OTHER_KEY, 3).await;
    let live = app.chat().await;
    let settings = WorkspaceSettings {
        retention: RetentionSettings { ended_conversations_days: Some(1) },
        ..WorkspaceSettings::default()
    };
    app.engine.put_settings(&Caller::Admin { workspace: ws }, settings).await.unwrap();
    let zero =
        WorkspaceSettings { retention: RetentionSettings { ended_conversations_days: Some(0) }, ..Default::default() };
    let refused = app.engine.put_settings(&Caller::Admin { workspace: ws }, zero).await.unwrap_err();
    assert_eq!(refused.field.as_deref(), Some("retention.ended_conversations_days"));

    // A minute short of a day after they ended, nothing is due.
    let now = app.engine.now();
    let almost = switchboard_core::clock::Timestamp(now.millis() + DAY_MS - 60_000);
    let nothing = app.engine.purge_expired(almost, PurgeBatch::default()).await.unwrap();
    assert_eq!((nothing.conversations, nothing.commands), (0, 0));
    // Two days on they are: purged a few per command while the live chat
    // keeps talking, its sends acknowledged in between.
    let later = switchboard_core::clock::Timestamp(now.millis() + 2 * DAY_MS);
    let batch = PurgeBatch { conversations: 4, ..PurgeBatch::default() };
    let purge = {
        let engine = app.engine.clone();
        tokio::spawn(async move { engine.purge_expired(later, batch).await })
    };
    let store = app.engine.store().clone();
    let mut midway = 0;
    let mut sent = 0;
    while !purge.is_finished() {
        app.say(&live.id, &live.customer, &format!("still here {sent}"), None).await;
        sent += 1;
        let erased = store.erasures(ws, &switchboard_core::store::ErasureQuery { before: None, limit: 500 }).await;
        let erased = erased.unwrap().len();
        if erased > 0 && erased < old.len() {
            midway += 1;
        }
    }
    let report = purge.await.unwrap().unwrap();
    assert!(midway > 0, "a send was acknowledged while the purge was half done ({sent} sent)");
    assert_eq!(report.conversations as usize, old.len(), "{report:?}");
    assert!(report.commands >= (old.len() / 4) as u64, "a few per command: {report:?}");
    assert_eq!(report.events as usize, old.len() * 4, "each chat's 4 events");

    let listed = app.admin(Method::GET, "/api/v1/erasures?limit=500", None).await;
    let rows = listed["erasures"].as_array().unwrap();
    assert_eq!(rows.len(), old.len());
    assert!(rows.iter().all(|r| r["erased_by"] == "retention" && r["reason"] == "retention"), "{}", rows[0]);
    for id in old.iter().take(3) {
        let (status, _) = app.call(Method::GET, &format!("/api/v1/conversations/{id}"), Some(ADMIN_KEY), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    for id in &theirs {
        let (status, _) = app.call(Method::GET, &format!("/api/v1/conversations/{id}"), Some(OTHER_KEY), None).await;
        assert_eq!(status, StatusCode::OK, "a workspace without retention keeps its chats");
    }
    assert_eq!(app.transcript(&live.id).await.len(), 3 + sent, "the open chat is whole, every send in it");
    let again = app.engine.purge_expired(later, batch).await.unwrap();
    assert_eq!(again.conversations, 0, "nothing twice");
}

/// `switchboard conversation erase` through a running server's API, then
/// directly on the database: the same audit line either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_erases_through_a_running_server_or_directly() {
    use crate::cli_flow::{Serve, cli, ok};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Serve::start(dir).await;
    let first = server.admin(Method::POST, "/api/v1/conversations", json!({})).await;
    let second = server.admin(Method::POST, "/api/v1/conversations", json!({})).await;
    let (first, second) = (first["id"].as_str().unwrap().to_owned(), second["id"].as_str().unwrap().to_owned());

    let ran = cli(dir, &["conversation", "erase", &first]).await;
    assert!(!ran.ok && ran.err.contains("still open"), "{}", ran.err);
    let out = ok(dir, &["conversation", "erase", &first, "--end", "--reason", "customer asked"]).await;
    assert!(out.starts_with("ers_") && out.contains(&format!("erased {first}: 2 events, 0 participants")), "{out}");
    let listed = server.admin(Method::GET, "/api/v1/erasures", Value::Null).await;
    assert_eq!(listed["erasures"][0]["reason"], "customer asked");
    assert_eq!(listed["erasures"][0]["erased_by"], "api_key", "through the server, with its admin key");
    server.stop().await;

    let out = ok(dir, &["conversation", "erase", &second, "--end"]).await;
    assert!(out.contains(&format!("erased {second}")), "{out}");
    assert_eq!(ok(dir, &["conversation", "erase", &second]).await, out, "asked again: the same row");
    let ran = cli(dir, &["conversation", "erase", "cnv_nope"]).await;
    assert!(!ran.ok, "{}", ran.out);
}
