//! What the web pages stand on, from the server's side: the pages and their
//! policy headers, the widget's public settings and pre-chat form, markdown
//! as safe HTML, the customer's typing preview on agent sockets, the agent
//! console's directory and canned responses, and `switchboard demo`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::header::{CONTENT_SECURITY_POLICY, ETAG, IF_NONE_MATCH, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp};
use crate::routing::{agent, online, queue, take_chat};

async fn entry_point(app: &TestApp) -> String {
    app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned()
}

fn csp(res: &reqwest::Response) -> String {
    res.headers().get(CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

async fn pages_carry_a_strict_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for page in ["/console/", "/demo/"] {
        let res = app.http.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let policy = csp(&res);
        for part in ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(policy.contains(part), "{page}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{page}: {policy}");
        assert!(res.text().await.unwrap().contains("<script type=\"module\""), "{page}");
    }
    // `/console` leads to the page; `/` to the console.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/console/");

    // The widget's script, with an ETag that saves the download next time.
    let res = app.http.get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let etag = res.headers()[ETAG].clone();
    let again = app.http.get(app.url("/widget.js")).header(IF_NONE_MATCH, etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let zipped = app.http.get(app.url("/widget.js")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip", "scripts travel compressed");

    // The SDK and the pages' modules; nothing else under /assets.
    for (path, status) in [
        ("/assets/sdk/index.js", StatusCode::OK),
        ("/assets/demo/demo.js", StatusCode::OK),
        ("/assets/demo/index.html", StatusCode::NOT_FOUND),
        ("/assets/sdk/../../Cargo.toml", StatusCode::NOT_FOUND),
        ("/assets/nothing-here.js", StatusCode::NOT_FOUND),
    ] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
    }

    // The chat frame may be framed by the entry point's allowed origins only.
    let ep = entry_point(&app).await;
    let frame = |ep: String| {
        let app = &app;
        async move { app.http.get(app.url(&format!("/widget/frame?entry_point={ep}"))).send().await.unwrap() }
    };
    assert!(csp(&frame(ep.clone()).await).ends_with("frame-ancestors *"), "the bootstrap entry point allows any");
    app.admin(
        Method::PATCH,
        &format!("/api/v1/entry-points/{ep}"),
        Some(json!({"allowed_origins": ["https://shop.example", "http://localhost:3000"]})),
    )
    .await;
    let res = frame(ep.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(csp(&res).ends_with("frame-ancestors 'self' https://shop.example http://localhost:3000"), "{}", csp(&res));
    for bad in ["ept_01JDZ3Q5W7Y3J8M2V6X4T9R0PC".to_owned(), "nonsense".to_owned()] {
        let res = frame(bad).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(csp(&res).contains("frame-ancestors 'none'"));
    }
    app.admin(Method::PATCH, &format!("/api/v1/entry-points/{ep}"), Some(json!({"enabled": false}))).await;
    assert_eq!(frame(ep).await.status(), StatusCode::NOT_FOUND, "a disabled entry point shows no chat");
}

async fn the_widget_asks_what_its_entry_point_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = entry_point(&app).await;
    let (status, plain) = app.call(Method::GET, &format!("/api/v1/entry-points/{ep}/widget"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain["style"]["title"], "Website", "the title defaults to the entry point's name: {plain}");
    assert_eq!(plain["prechat"]["fields"], json!([]));

    let widget = json!({
        "title": "Acme support", "accent_color": "#2f5bd3", "logo_url": "https://cdn.example/logo.png",
        "greeting": "Hello!",
        "prechat": [
            {"name": "display_name", "label": "Your name", "required": true},
            {"name": "email", "label": "Email", "kind": "email", "required": true},
            {"name": "topic", "label": "Topic", "kind": "select", "options": ["Billing", "Orders"]},
        ]
    });
    let path = format!("/api/v1/entry-points/{ep}");
    let (status, updated) = app
        .call(
            Method::PATCH,
            &path,
            Some(ADMIN_KEY),
            Some(json!({"allowed_origins": ["https://shop.example"], "widget": widget})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["widget"]["prechat"][1]["kind"], "email");
    let (_, public) = app.call(Method::GET, &format!("{path}/widget"), None, None).await;
    assert_eq!(
        public["style"],
        json!({"title": "Acme support", "accent_color": "#2f5bd3",
        "logo_url": "https://cdn.example/logo.png", "greeting": "Hello!"})
    );
    assert_eq!(public["prechat"]["fields"][2]["options"], json!(["Billing", "Orders"]));

    // Bad settings name their field and change nothing.
    for (bad, field) in [
        (json!({"accent_color": "red"}), "widget.accent_color"),
        (json!({"logo_url": "javascript:alert(1)"}), "widget.logo_url"),
        (json!({"prechat": [{"name": "x", "label": "X", "kind": "select"}]}), "widget.prechat[0].options"),
    ] {
        let (status, err) = app.call(Method::PATCH, &path, Some(ADMIN_KEY), Some(json!({"widget": bad}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let (status, err) =
        app.call(Method::PATCH, &path, Some(ADMIN_KEY), Some(json!({"widget": {"colour": "#000000"}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown setting is refused: {err}");
    assert_eq!(err["error"]["field"], "widget.colour", "{err}");
    let (_, still) = app.call(Method::GET, &format!("{path}/widget"), None, None).await;
    assert_eq!(still, public);

    // A public start is checked against the form, from a page of an allowed site.
    let start = |body: Value, origin: &'static str| {
        let app = &app;
        let url = app.url(&format!("{path}/chats"));
        async move {
            let res = app.http.post(url).header(ORIGIN, origin).json(&body).send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let shop = "https://shop.example";
    for (body, field) in [
        (json!({"attributes": {"email": "jane@example.com"}}), "display_name"),
        (json!({"display_name": "Jane"}), "attributes.email"),
        (json!({"display_name": "Jane", "attributes": {"email": "not an address"}}), "attributes.email"),
        (
            json!({"display_name": "Jane", "attributes": {"email": "j@example.com", "topic": "Pets"}}),
            "attributes.topic",
        ),
    ] {
        let (status, err) = start(body, shop).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let answered = json!({"display_name": "Jane", "attributes": {"email": "jane@example.com", "topic": "Billing"}});
    let (status, chat) = start(answered.clone(), shop).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(chat["conversation"]["attributes"]["topic"], "Billing");
    assert_eq!(chat["participant"]["display_name"], "Jane");

    // Another site may not start chats here; the server's own chat frame may.
    let (status, err) = start(answered.clone(), "https://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let own = format!("http://{}", app.addr);
    let own: &'static str = Box::leak(own.into_boxed_str());
    let (status, chat) = start(answered, own).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
}

async fn markdown_arrives_as_safe_html_and_agents_see_the_draft(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let ann = agent(&app, "Ann", 2, json!({})).await;
    let mut agent_ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut agent_ws, &q).await;
    let mut customer_ws = app.ws(&customer, None).await;

    let attack = "**bold** [x](javascript:alert(1)) <img src=x onerror=alert(1)>";
    customer_ws.send(json!({"type": "send", "ref": "1", "content_type": "text/markdown", "content": attack})).await;
    let seen = loop {
        let e = agent_ws.event().await;
        if e["type"] == "message" {
            break e;
        }
    };
    assert_eq!(seen["content"], attack, "the source is kept as sent");
    let html = seen["html"].as_str().expect("a markdown message carries html");
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(!html.contains("javascript:") && !html.contains("<img"), "{html}");
    let from_transcript = app.transcript(&chat).await.into_iter().find(|e| e["content"] == attack).unwrap();
    assert_eq!(from_transcript["html"], html, "the transcript has the same html");
    let plain = app.say(&chat, &customer, "<b>plain</b>", None).await;
    let plain = app.transcript(&chat).await.into_iter().find(|e| e["id"] == plain["id"]).unwrap();
    assert!(plain.get("html").is_none(), "plain text carries no html: {plain}");

    // The customer's draft reaches the agent, cut to 200 characters; the
    // customer is told that the agent types, never what.
    customer_ws.send(json!({"type": "typing", "text": format!("I want to {}", "a".repeat(300))})).await;
    let typing = agent_ws.frame_of("typing").await;
    assert_eq!(typing["conversation_id"], chat.as_str());
    let text = typing["text"].as_str().expect("the draft");
    assert!(text.starts_with("I want to ") && text.chars().count() == 200, "{text}");
    agent_ws.send(json!({"type": "typing", "conversation_id": chat})).await;
    let typing = customer_ws.frame_of("typing").await;
    assert!(typing.get("text").is_none(), "{typing}");
    // Over REST as well.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{chat}/events"),
            Some(&customer),
            Some(json!({"type": "typing", "text": "by REST"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(agent_ws.frame_of("typing").await["text"], "by REST");
}

async fn the_console_directory_lists_the_workspace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "billing", json!({})).await;
    let ann = agent(&app, "Ann", 3, json!({})).await;
    let off = agent(&app, "Off", 1, json!({})).await;
    app.admin(Method::PATCH, &format!("/api/v1/agents/{}", off.id), Some(json!({"enabled": false}))).await;
    let mut settings = app.admin(Method::GET, "/api/v1/settings", None).await;
    settings["canned_responses"] = json!([{"id": "hello", "title": "Greeting", "text": "Hi! How can I help?"}]);
    app.admin(Method::PUT, "/api/v1/settings", Some(settings.clone())).await;

    let (status, dir) = app.call(Method::GET, "/api/v1/directory", Some(&ann.token), None).await;
    assert_eq!(status, StatusCode::OK, "{dir}");
    assert_eq!(dir["queues"], json!([{"id": q, "name": "billing"}]));
    let names: Vec<&str> = dir["agents"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ann"], "disabled agents are left out");
    assert_eq!(dir["agents"][0]["capacity"], 3);
    assert_eq!(dir["canned_responses"][0]["id"], "hello");

    for (bad, field) in [
        (json!([{"id": "a b", "title": "T", "text": "x"}]), "canned_responses[0].id"),
        (
            json!([{"id": "a", "title": "T", "text": "x"}, {"id": "a", "title": "U", "text": "y"}]),
            "canned_responses[1].id",
        ),
        (json!([{"id": "a", "title": "", "text": "x"}]), "canned_responses[0].title"),
    ] {
        settings["canned_responses"] = bad;
        let (status, err) = app.call(Method::PUT, "/api/v1/settings", Some(ADMIN_KEY), Some(settings.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let (_, dir) = app.call(Method::GET, "/api/v1/directory", Some(ADMIN_KEY), None).await;
    assert_eq!(dir["canned_responses"].as_array().unwrap().len(), 1, "a refused change keeps the old list");
}

async fn the_supervisor_chart_has_the_last_hour(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "billing", json!({})).await;
    let (_, customer) = crate::routing::waiting_chat(&app, &q).await;
    app.engine.sample_stats().await.unwrap();
    let (status, history) = app.call(Method::GET, "/api/v1/supervisor/history?minutes=5", Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["step_secs"], 10);
    let billing = &history["queues"][0];
    assert_eq!(billing["queue_id"], q.as_str(), "{history}");
    assert_eq!(billing["name"], "billing");
    let last = billing["samples"].as_array().unwrap().last().cloned().expect("a sample");
    assert_eq!(last["waiting"], 1, "{history}");

    for (token, path, status) in [
        (ADMIN_KEY, "/api/v1/supervisor/history?minutes=0", StatusCode::UNPROCESSABLE_ENTITY),
        (ADMIN_KEY, "/api/v1/supervisor/history?minutes=61", StatusCode::UNPROCESSABLE_ENTITY),
        (customer.as_str(), "/api/v1/supervisor/history", StatusCode::FORBIDDEN),
    ] {
        let (got, body) = app.call(Method::GET, path, Some(token), None).await;
        assert_eq!(got, status, "{path}: {body}");
    }
}

both_backends!(
    the_supervisor_chart_has_the_last_hour,
    pages_carry_a_strict_policy,
    the_widget_asks_what_its_entry_point_says,
    markdown_arrives_as_safe_html_and_agents_see_the_draft,
    the_console_directory_lists_the_workspace,
);

/// `switchboard demo` as a new user runs it: it prints where to go, the
/// agents can log in, the widget is styled, the workspace is filled; run
/// again on the same data, it seeds nothing twice.
#[tokio::test]
async fn the_demo_seeds_a_workspace_and_prints_where_to_go() {
    let dir = tempfile::tempdir().unwrap();
    for run in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("SWITCHBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut customer_url = None;
        let mut console_url = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_owned);
            if line.contains("Customer") {
                customer_url = url;
            } else if line.contains("Agent console") {
                console_url = url;
            } else if line.contains("Stop with Ctrl-C") {
                break;
            }
        }
        let customer_url = customer_url.expect("the demo prints the customer page");
        let console_url = console_url.expect("the demo prints the console");
        let http = reqwest::Client::new();
        assert_eq!(http.get(&console_url).send().await.unwrap().status(), StatusCode::OK);
        assert_eq!(http.get(&customer_url).send().await.unwrap().status(), StatusCode::OK);
        let base = console_url.trim_end_matches("/console/");
        let entry = customer_url.split("entry_point=").nth(1).expect("the page names the entry point");
        let widget: Value =
            http.get(format!("{base}/api/v1/entry-points/{entry}/widget")).send().await.unwrap().json().await.unwrap();
        assert_eq!(widget["style"]["title"], "Acme support");
        let login: Value = http
            .post(format!("{base}/api/v1/agents/login"))
            .json(&json!({"login": "ann", "password": "switchboard"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().expect("ann logs in");
        let dir: Value =
            http.get(format!("{base}/api/v1/directory")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        assert_eq!(dir["agents"].as_array().unwrap().len(), 2, "run {run}: {dir}");
        assert_eq!(dir["queues"].as_array().unwrap().len(), 2, "run {run}: {dir}");
        assert_eq!(dir["flows"].as_array().unwrap().len(), 3, "run {run}: {dir}");
        assert!(!dir["canned_responses"].as_array().unwrap().is_empty(), "run {run}: {dir}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
