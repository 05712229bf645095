//! Transcript export end to end: a customer–agent chat in every format (the
//! JSON's events are the transcript's, the text reads as lines, the HTML
//! escapes hostile names and messages), a continued chat's segments in
//! order, a log longer than one page, who may export (and who may not), the
//! refusals, and `switchboard transcript export` run beside the server over
//! a window of conversations.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_core::clock::{Clock as _, SystemClock, Timestamp};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp, json_body};
use crate::lock::binary;
use crate::routing::{agent, online, queue, take_chat};

/// A chat with a named customer and agent, added through the admin API.
struct Named {
    id: String,
    customer: String,
    agent: String,
}

async fn named_chat(app: &TestApp, customer: &str, agent: &str) -> Named {
    let c = app.admin(Method::POST, "/api/v1/conversations", Some(json!({"record_id": "500XY"}))).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let add = |role: &str, name: &str| {
        let body = json!({"role": role, "display_name": name});
        let path = format!("/api/v1/conversations/{id}/participants");
        async move { app.admin(Method::POST, &path, Some(body)).await["token"].as_str().unwrap().to_owned() }
    };
    let customer = add("customer", customer).await;
    let agent = add("agent", agent).await;
    Named { id, customer, agent }
}

/// An export's status, headers and body.
struct Download {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn download(app: &TestApp, chat: &str, bearer: &str, query: &str) -> Download {
    let url = app.url(&format!("/api/v1/conversations/{chat}/transcript/export?{query}"));
    let res = app.http.get(url).bearer_auth(bearer).send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    Download { status, headers, body: res.text().await.unwrap() }
}

impl Download {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    /// The body of a successful JSON export, parsed strictly.
    fn json(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        json_body(&self.body, "transcript export")
    }

    fn error_code(&self) -> Value {
        json_body(&self.body, "error")["error"]["code"].clone()
    }
}

async fn a_chat_exports_in_every_format(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = named_chat(&app, "Alice", "Sam").await;
    app.say(&chat.id, &chat.customer, "hello, my invoice is wrong", None).await;
    app.say(&chat.id, &chat.agent, "Let me check.\nOne moment.", None).await;
    app.say(&chat.id, &chat.customer, "thanks", None).await;

    let json = download(&app, &chat.id, &chat.customer, "format=json").await;
    assert_eq!(json.header("content-type"), "application/json");
    let name = format!("attachment; filename=\"transcript-{}.json\"", chat.id);
    assert_eq!(json.header("content-disposition"), name);
    assert_eq!(json.header("x-content-type-options"), "nosniff");
    let doc = json.json();
    assert_eq!(doc["export"]["format"], "switchboard.transcript");
    assert_eq!(doc["conversation"]["id"], chat.id.as_str());
    assert_eq!(doc["conversation"]["record_id"], "500XY");
    assert_eq!(doc["events"].as_array().unwrap(), &app.transcript(&chat.id).await, "the log, as the API reads it");
    let people: Vec<(&str, &str)> = doc["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["display_name"].as_str().unwrap(), p["role"].as_str().unwrap()))
        .collect();
    assert_eq!(people, [("Alice", "customer"), ("Sam", "agent")]);
    let by_default = download(&app, &chat.id, &chat.customer, "").await.json();
    assert_eq!(doc_without_time(&by_default), doc_without_time(&doc), "json unless told otherwise");

    let text = download(&app, &chat.id, &chat.agent, "format=text").await;
    assert_eq!(text.status, StatusCode::OK, "{}", text.body);
    assert_eq!(text.header("content-type"), "text/plain; charset=utf-8");
    assert!(text.header("content-disposition").ends_with(".txt\""));
    for line in [
        "Alice (customer) joined.",
        "] Alice (customer): hello, my invoice is wrong\n",
        "] Sam (agent): Let me check.\n    One moment.\n",
        "] Alice (customer): thanks\n",
    ] {
        assert!(text.body.contains(line), "missing {line:?} in\n{}", text.body);
    }

    let html = download(&app, &chat.id, ADMIN_KEY, "format=html").await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.body);
    assert_eq!(html.header("content-type"), "text/html; charset=utf-8");
    assert!(html.header("content-security-policy").starts_with("default-src 'none'"));
    assert!(html.body.starts_with("<!DOCTYPE html>") && html.body.trim_end().ends_with("</html>"));
    assert!(html.body.contains("<div class=\"text\">hello, my invoice is wrong</div>"), "{}", html.body);
}

/// A document as exported again later: only `exported_at` differs.
fn doc_without_time(doc: &Value) -> Value {
    let mut doc = doc.clone();
    doc["export"]["exported_at"] = Value::Null;
    doc
}

async fn hostile_names_and_messages_are_text_in_html(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = named_chat(&app, "<img src=x onerror=alert(1)>", "Sam \"the agent\"").await;
    app.say(&chat.id, &chat.customer, "<script>alert(1)</script>", None).await;
    app.say(&chat.id, &chat.agent, "</div><a href=\"javascript:alert(2)\">click</a>", None).await;

    let html = download(&app, &chat.id, &chat.customer, "format=html").await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.body);
    let page = &html.body;
    assert!(!page.contains("<script") && !page.contains("<img") && !page.contains("<a href=\"javascript"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
    assert!(page.contains("Sam &quot;the agent&quot;"), "{page}");
    assert_eq!(page.matches("<div class=\"text\">").count(), page.matches("</div>").count(), "no tag was closed early");
    assert!(page.contains("<meta http-equiv=\"Content-Security-Policy\""));
    // The JSON keeps the content as it was sent.
    let doc = download(&app, &chat.id, &chat.customer, "format=json").await.json();
    let contents: Vec<&str> = doc["events"].as_array().unwrap().iter().filter_map(|e| e["content"].as_str()).collect();
    assert_eq!(contents, ["<script>alert(1)</script>", "</div><a href=\"javascript:alert(2)\">click</a>"]);
}

/// Starts a chat through entry point `ep`: its id and customer token.
async fn start(app: &TestApp, ep: &str, body: Value, bearer: Option<&str>) -> (String, String) {
    let (status, started) =
        app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), bearer, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    (started["conversation"]["id"].as_str().unwrap().to_owned(), started["token"].as_str().unwrap().to_owned())
}

async fn a_continued_chat_exports_its_segments_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned();
    let (a, a_token) = start(&app, &ep, json!({"display_name": "Jane"}), None).await;
    app.say(&a, &a_token, "first chat", None).await;
    app.admin(Method::POST, &format!("/api/v1/conversations/{a}/end"), None).await;
    let continue_from = json!({"conversation_id": a, "rehydration": "entire_past_session"});
    let (b, b_token) = start(&app, &ep, json!({"continue_from": continue_from}), Some(&a_token)).await;
    app.say(&b, &b_token, "second chat", None).await;

    let doc = download(&app, &b, &b_token, "format=json").await.json();
    assert_eq!(doc["export"]["segments"], "all");
    let segments: Vec<&str> = doc["segments"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(segments, [a.as_str(), b.as_str()]);
    assert_eq!(doc["segments"][1]["previous_conversation_id"], a.as_str());
    let mut expected = app.transcript(&a).await;
    expected.extend(app.transcript(&b).await);
    assert_eq!(doc["events"].as_array().unwrap(), &expected, "oldest segment first, each event marked");
    let names: Vec<&str> =
        doc["participants"].as_array().unwrap().iter().map(|p| p["conversation_id"].as_str().unwrap()).collect();
    assert_eq!(names, [a.as_str(), b.as_str()], "the customer of each segment");

    let text = download(&app, &b, &b_token, "format=text").await.body;
    let (first, second) = (text.find("first chat").unwrap(), text.find("second chat").unwrap());
    let heading = text.find(&format!("== Conversation {b} (continues {a})")).unwrap();
    assert!(first < heading && heading < second, "{text}");

    let current = download(&app, &b, &b_token, "format=json&segments=current").await.json();
    assert_eq!(current["events"].as_array().unwrap(), &app.transcript(&b).await);
    // The old chat's token cannot read the new one's export.
    let old = download(&app, &b, &a_token, "").await;
    assert_eq!(old.status, StatusCode::FORBIDDEN, "{}", old.body);
}

async fn a_log_longer_than_a_page_is_exported_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = named_chat(&app, "Alice", "Sam").await;
    // 3 events so far; 600 more make two pages of 500 and a bit.
    for i in 0..600 {
        let who = if i % 2 == 0 { &chat.customer } else { &chat.agent };
        app.say(&chat.id, who, &format!("line {i}"), None).await;
    }
    let doc = download(&app, &chat.id, &chat.customer, "format=json").await.json();
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), 603);
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=603).collect::<Vec<_>>());
    let text = download(&app, &chat.id, &chat.customer, "format=text").await.body;
    assert_eq!(text.matches("): line ").count(), 600);
}

async fn only_readers_of_the_transcript_may_export(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let (ann, bob) = (agent(&app, "Ann", 1, json!({})).await, agent(&app, "Bob", 1, json!({})).await);
    let mut ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut ws, &q).await;
    let other = named_chat(&app, "Mallory", "Sam").await;

    for (who, token) in [("customer", &customer), ("assigned agent", &ann.token), ("workspace key", &ADMIN_KEY.into())]
    {
        let d = download(&app, &chat, token, "format=text").await;
        assert_eq!(d.status, StatusCode::OK, "{who}: {}", d.body);
    }
    let stranger = download(&app, &chat, &other.customer, "format=json").await;
    assert_eq!((stranger.status, stranger.error_code()), (StatusCode::FORBIDDEN, json!("forbidden")));
    let unassigned = download(&app, &chat, &bob.token, "format=json").await;
    assert_eq!(unassigned.status, StatusCode::FORBIDDEN, "{}", unassigned.body);
    let nobody = app.http.get(app.url(&format!("/api/v1/conversations/{chat}/transcript/export"))).send().await;
    assert_eq!(nobody.unwrap().status(), StatusCode::UNAUTHORIZED);
    let unknown = download(&app, "cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA", ADMIN_KEY, "").await;
    assert_eq!((unknown.status, unknown.error_code()), (StatusCode::NOT_FOUND, json!("not_found")));
}

async fn silent_monitors_are_left_out_as_in_the_transcript(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = named_chat(&app, "Alice", "Sam").await;
    let body = json!({"role": "monitor", "display_name": "Watcher"});
    app.admin(Method::POST, &format!("/api/v1/conversations/{}/participants", chat.id), Some(body)).await;
    app.say(&chat.id, &chat.customer, "hello", None).await;
    let names = |doc: &Value| -> Vec<String> {
        doc["participants"].as_array().unwrap().iter().map(|p| p["display_name"].as_str().unwrap().into()).collect()
    };
    let all = download(&app, &chat.id, ADMIN_KEY, "").await.json();
    assert_eq!(names(&all), ["Alice", "Sam", "Watcher"]);
    for token in [&chat.customer, &chat.agent] {
        let doc = download(&app, &chat.id, token, "").await.json();
        assert_eq!(names(&doc), ["Alice", "Sam"]);
        assert_eq!(doc["events"].as_array().unwrap().len(), all["events"].as_array().unwrap().len() - 1);
        let text = download(&app, &chat.id, token, "format=text").await.body;
        assert!(!text.contains("Watcher"), "{text}");
    }
}

async fn a_bad_format_is_refused_with_the_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = named_chat(&app, "Alice", "Sam").await;
    for (query, field) in [("format=pdf", "format"), ("format=", "format"), ("segments=some", "segments")] {
        let d = download(&app, &chat.id, &chat.customer, query).await;
        assert_eq!(d.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", d.body);
        let error = &json_body(&d.body, query)["error"];
        assert_eq!((error["code"].as_str(), error["field"].as_str()), (Some("invalid_field"), Some(field)), "{error}");
    }
    let unknown = download(&app, &chat.id, &chat.customer, "colour=blue").await;
    assert_eq!((unknown.status, unknown.error_code()), (StatusCode::BAD_REQUEST, json!("malformed_request")));
}

// The command line.

/// How long one command may take (a cold binary on a busy machine).
const PROMPTLY: Duration = Duration::from_secs(30);

/// `switchboard transcript export ARGS` on the app's database, beside the
/// running server.
async fn cli(app: &TestApp, args: &[&str]) -> Output {
    let mut all = vec!["transcript", "export"];
    all.extend_from_slice(args);
    let url = app.config.storage.database_url.clone();
    if let Some(url) = &url {
        all.extend(["--database-url", url.as_str()]);
    }
    let run = binary(&all, &app.config.storage.data_dir).output();
    tokio::time::timeout(PROMPTLY, run).await.expect("the command ended").expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An RFC 3339 time `days` from now.
fn days_from_now(days: i64) -> String {
    Timestamp(SystemClock.now().millis() + days * 86_400_000).to_rfc3339()
}

fn read_json(path: &Path) -> Value {
    json_body(&std::fs::read_to_string(path).unwrap(), &path.display().to_string())
}

async fn the_cli_exports_a_window_beside_the_running_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut chats = Vec::new();
    for n in 0..3 {
        let chat = named_chat(&app, &format!("Customer {n}"), "Sam").await;
        app.say(&chat.id, &chat.customer, &format!("hello from {n}"), None).await;
        chats.push(chat.id);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let (from, to) = (days_from_now(-1), days_from_now(1));
    let args = ["--from", &from, "--to", &to, "--out", out.to_str().unwrap()];
    let ran = cli(&app, &args).await;
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert!(String::from_utf8_lossy(&ran.stdout).contains("exported 3 conversations"));
    assert!(!stderr(&ran).contains("exporting"), "no progress bar off a terminal: {}", stderr(&ran));

    let index = read_json(&out.join("index.json"));
    assert_eq!(index["export"]["transcript_format"], "json");
    let listed: Vec<&str> =
        index["conversations"].as_array().unwrap().iter().map(|c| c["conversation_id"].as_str().unwrap()).collect();
    assert_eq!(listed, chats.iter().map(String::as_str).collect::<Vec<_>>(), "oldest first");
    for (entry, chat) in index["conversations"].as_array().unwrap().iter().zip(&chats) {
        let doc = read_json(&out.join(entry["file"].as_str().unwrap()));
        assert_eq!(doc["events"].as_array().unwrap(), &app.transcript(chat).await);
    }
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, 4, "three transcripts and the index; no partial file left");

    // Again: what is there is kept. With --force and as text: rewritten.
    let again = cli(&app, &args).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("exported 0 conversations (3 kept"), "{again:?}");
    let mut text_args = args.to_vec();
    text_args.extend(["--format", "text", "--force"]);
    let text = cli(&app, &text_args).await;
    assert!(text.status.success(), "{}", stderr(&text));
    let body = std::fs::read_to_string(out.join(format!("transcript-{}.txt", chats[1]))).unwrap();
    assert!(body.contains("] Customer 1 (customer): hello from 1"), "{body}");
}

async fn the_cli_exports_one_conversation_and_says_what_is_wrong(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = named_chat(&app, "Alice", "Sam").await;
    app.say(&chat.id, &chat.customer, "<b>hello</b>", None).await;

    let to_stdout = cli(&app, &["--conversation", &chat.id, "--out", "-"]).await;
    assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
    let doc = json_body(&String::from_utf8_lossy(&to_stdout.stdout), "standard output");
    assert_eq!(doc["events"].as_array().unwrap(), &app.transcript(&chat.id).await);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.html");
    let written = cli(&app, &["--conversation", &chat.id, "--format", "html", "--out", file.to_str().unwrap()]).await;
    assert!(written.status.success(), "{}", stderr(&written));
    assert!(std::fs::read_to_string(&file).unwrap().contains("&lt;b&gt;hello&lt;&#x2f;b&gt;"));
    let twice = cli(&app, &["--conversation", &chat.id, "--out", file.to_str().unwrap()]).await;
    assert!(!twice.status.success() && stderr(&twice).contains("already exists"), "{}", stderr(&twice));

    let out = dir.path().to_str().unwrap();
    let refusals: [(Vec<&str>, &str); 5] = [
        (vec!["--conversation", "cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA"], "not found"),
        (vec!["--conversation", "nope"], "is not a conversation id"),
        (vec!["--from", "yesterday", "--to", "2030-01-01", "--out", out], "--from \"yesterday\" is not a time"),
        (vec!["--from", "2030-01-02", "--to", "2030-01-01", "--out", out], "must be before --to"),
        (vec!["--from", "2001-01-01", "--to", "2001-01-02", "--out", out], "no conversations"),
    ];
    for (args, expected) in refusals {
        let ran = cli(&app, &args).await;
        assert!(!ran.status.success() && stderr(&ran).contains(expected), "{args:?}: {}", stderr(&ran));
    }
}

both_backends!(
    a_chat_exports_in_every_format,
    hostile_names_and_messages_are_text_in_html,
    a_continued_chat_exports_its_segments_in_order,
    a_log_longer_than_a_page_is_exported_whole,
    only_readers_of_the_transcript_may_export,
    silent_monitors_are_left_out_as_in_the_transcript,
    a_bad_format_is_refused_with_the_error_shape,
    the_cli_exports_a_window_beside_the_running_server,
    the_cli_exports_one_conversation_and_says_what_is_wrong,
);
