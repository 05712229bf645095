//! The REST side: long-poll, transcript paging, access control, every error
//! status from a real request, CORS and the public chat start.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, Backend, PROMPTLY, TestApp};

crate::both_backends!(
    long_poll_answers_204_then_wakes_at_once,
    transcript_pages_forwards_and_backwards,
    a_customer_token_cannot_touch_another_conversation,
    every_error_status_from_a_real_request,
    starting_a_chat_honours_allowed_origins,
    attributes_update_and_record_id,
    participants_join_leave_and_tokens_revoke,
);

async fn long_poll_answers_204_then_wakes_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let path = format!("/api/v1/conversations/{}/poll?after_seq=3&wait=1", chat.id);
    let (status, body) = app.call(Method::GET, &path, Some(&chat.customer), None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));

    // A 60 s poll must come back as soon as a message is committed.
    let poll = {
        let (http, url, token) = (
            app.http.clone(),
            app.url(&format!("/api/v1/conversations/{}/poll?after_seq=3&wait=60", chat.id)),
            chat.customer.clone(),
        );
        tokio::spawn(async move { http.get(url).bearer_auth(token).send().await.unwrap() })
    };
    // Make sure the poll is waiting: it has not answered yet.
    let mut poll = poll;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut poll).await.is_err(),
        "poll answered before any message"
    );
    let sent = app.say(&chat.id, &chat.agent, "wake up", None).await;
    let res = tokio::time::timeout(PROMPTLY, poll).await.expect("poll woke up").unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = crate::harness::json_body(&res.text().await.unwrap(), "response");
    assert_eq!(body["events"][0]["id"], sent["id"]);
    assert_eq!(body["last_seq"], 4);

    // Events already there are returned at once.
    let path = format!("/api/v1/conversations/{}/poll?after_seq=0&wait=60", chat.id);
    let (status, body) = app.call(Method::GET, &path, Some(&chat.customer), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events"].as_array().unwrap().len(), 4);
    let path = format!("/api/v1/conversations/{}/poll?after_seq=0&wait=61", chat.id);
    assert_eq!(app.call(Method::GET, &path, Some(&chat.customer), None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn transcript_pages_forwards_and_backwards(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    for i in 0..12 {
        app.say(&chat.id, &chat.customer, &format!("m{i}"), None).await;
    }
    let page = |q: &str| {
        let path = format!("/api/v1/conversations/{}/transcript?{q}", chat.id);
        let token = chat.customer.clone();
        let app = &app;
        async move { app.call(Method::GET, &path, Some(&token), None).await.1 }
    };
    let seqs =
        |v: &Value| v["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect::<Vec<_>>();
    let p1 = page("limit=5").await;
    assert_eq!(seqs(&p1), [1, 2, 3, 4, 5]);
    let p2 = page(&format!("limit=5&after_seq={}", p1["next_after_seq"])).await;
    assert_eq!(seqs(&p2), [6, 7, 8, 9, 10]);
    let p3 = page(&format!("limit=5&after_seq={}", p2["next_after_seq"])).await;
    assert_eq!(seqs(&p3), [11, 12, 13, 14, 15]);
    let p4 = page(&format!("limit=5&after_seq={}", p3["next_after_seq"])).await;
    assert_eq!((seqs(&p4), p4["next_after_seq"].clone()), (vec![], Value::Null));

    let b1 = page("order=desc&limit=6").await;
    assert_eq!(seqs(&b1), [15, 14, 13, 12, 11, 10]);
    let b2 = page(&format!("order=desc&limit=6&before_seq={}", b1["next_before_seq"])).await;
    assert_eq!(seqs(&b2), [9, 8, 7, 6, 5, 4]);
    let b3 = page(&format!("order=desc&limit=6&before_seq={}", b2["next_before_seq"])).await;
    assert_eq!((seqs(&b3), b3["next_before_seq"].clone()), (vec![3, 2, 1], Value::Null));
    assert_eq!(page("order=sideways").await["error"]["field"], "order");
}

async fn a_customer_token_cannot_touch_another_conversation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mine = app.chat().await;
    let theirs = app.chat().await;
    app.say(&theirs.id, &theirs.customer, "private", None).await;
    let t = Some(mine.customer.as_str());
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/conversations/{}", theirs.id), None),
        (Method::GET, format!("/api/v1/conversations/{}/transcript", theirs.id), None),
        (Method::GET, format!("/api/v1/conversations/{}/poll?after_seq=0&wait=0", theirs.id), None),
        (Method::GET, format!("/api/v1/conversations/{}/participants", theirs.id), None),
        (Method::POST, format!("/api/v1/conversations/{}/messages", theirs.id), Some(json!({"content": "hi"}))),
        (Method::POST, format!("/api/v1/conversations/{}/events", theirs.id), Some(json!({"type": "typing"}))),
        (Method::POST, format!("/api/v1/conversations/{}/end", theirs.id), None),
        (Method::DELETE, format!("/api/v1/conversations/{}/participants/{}", theirs.id, theirs.customer_id), None),
    ] {
        let (status, body) = app.call(method.clone(), &path, t, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // Admin-only operations are refused to participants.
    let (status, _) = app.call(Method::GET, "/api/v1/conversations", t, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let path = format!("/api/v1/conversations/{}/participants", mine.id);
    let (status, _) = app.call(Method::POST, &path, t, Some(json!({"role": "agent"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.transcript(&theirs.id).await.len(), 4, "nothing was written");
}

async fn every_error_status_from_a_real_request(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.sends_per_second = 2).await;
    let chat = app.chat().await;
    let msgs = format!("/api/v1/conversations/{}/messages", chat.id);
    let raw = |body: &'static str, ct: &'static str| {
        let req = app.http.post(app.url(&msgs)).bearer_auth(&chat.customer).header("content-type", ct).body(body);
        async move {
            let res = req.send().await.unwrap();
            (res.status(), crate::harness::json_body(&res.text().await.unwrap(), "response"))
        }
    };
    let check = |(status, body): (StatusCode, Value), want: u16, code: &str| {
        assert_eq!(status.as_u16(), want, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    check(raw("{not json", "application/json").await, 400, "malformed_request");
    check(raw(r#"{"content":"x"}"#, "text/plain").await, 415, "unsupported_media_type");
    let (status, body) = raw(r#"{"content":42}"#, "application/json").await;
    check((status, body.clone()), 422, "invalid_field");
    assert_eq!(body["error"]["field"], "content");
    check(
        app.call(Method::POST, &msgs, Some(&chat.customer), Some(json!({"content": "x", "content_type": "image/png"})))
            .await,
        415,
        "unsupported_media_type",
    );
    check(
        app.call(Method::POST, &msgs, Some(&chat.customer), Some(json!({"content": ""}))).await,
        422,
        "invalid_field",
    );
    check(
        app.call(Method::POST, &msgs, Some(&chat.customer), Some(json!({"content": "x".repeat(16 * 1024 + 1)}))).await,
        413,
        "payload_too_large",
    );
    check(
        app.call(Method::POST, &msgs, Some(&chat.customer), Some(json!({"content": "x".repeat(70 * 1024)}))).await,
        413,
        "payload_too_large",
    );
    check(app.call(Method::POST, &msgs, None, Some(json!({"content": "x"}))).await, 401, "unauthenticated");
    check(
        app.call(Method::POST, &msgs, Some("sbp_forged"), Some(json!({"content": "x"}))).await,
        401,
        "unauthenticated",
    );
    check(
        app.call(Method::GET, "/api/v1/conversations/cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA", Some(ADMIN_KEY), None).await,
        404,
        "not_found",
    );
    check(app.call(Method::GET, "/api/v1/conversations/garbage", Some(ADMIN_KEY), None).await, 404, "not_found");
    check(app.call(Method::GET, "/api/v1/nowhere", None, None).await, 404, "not_found");
    check(app.call(Method::PUT, &msgs, Some(&chat.customer), None).await, 405, "method_not_allowed");
    check(
        app.call(Method::GET, "/api/v1/conversations?limit=many", Some(ADMIN_KEY), None).await,
        400,
        "malformed_request",
    );

    // 429 with Retry-After: two per second, a burst of four.
    let mut limited = None;
    for i in 0..10 {
        let res = app
            .http
            .post(app.url(&msgs))
            .bearer_auth(&chat.customer)
            .json(&json!({"content": format!("n{i}")}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the rate limit answered 429");
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(crate::harness::json_body(&res.text().await.unwrap(), "response")["error"]["code"], "rate_limited");

    // 409: the conversation has ended.
    app.admin(Method::POST, &format!("/api/v1/conversations/{}/end", chat.id), None).await;
    let ended = app.call(Method::POST, &msgs, Some(&chat.agent), Some(json!({"content": "late"}))).await;
    check(ended, 409, "conversation_ended");
    check(
        app.call(Method::POST, &format!("/api/v1/conversations/{}/end", chat.id), Some(ADMIN_KEY), None).await,
        409,
        "conversation_ended",
    );
}

async fn starting_a_chat_honours_allowed_origins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = app
        .admin(
            Method::POST,
            "/api/v1/entry-points",
            Some(json!({"name": "Shop", "allowed_origins": ["https://shop.example"]})),
        )
        .await;
    let start = format!("/api/v1/entry-points/{}/chats", ep["id"].as_str().unwrap());
    let post = |origin: Option<&'static str>| {
        let mut req =
            app.http.post(app.url(&start)).json(&json!({"display_name": "Jane", "attributes": {"plan": "gold"}}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status(), crate::harness::json_body(&res.text().await.unwrap(), "response"))
        }
    };
    let (status, body) = post(Some("https://evil.example")).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::FORBIDDEN, json!("forbidden")));
    let (status, body) = post(Some("https://shop.example")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["participant"]["display_name"], "Jane");
    assert_eq!(body["conversation"]["attributes"]["plan"], "gold");
    assert!(body["stream_url"].as_str().unwrap().starts_with("ws://"));
    let token = body["token"].as_str().unwrap();
    let me = app.call(Method::GET, "/api/v1/me", Some(token), None).await.1;
    assert_eq!(me["participant"]["conversation_id"], body["conversation"]["id"]);
    // Server-side callers send no Origin.
    assert_eq!(post(None).await.0, StatusCode::CREATED);

    // The browser's preflight is answered.
    let pre = app
        .http
        .request(Method::OPTIONS, app.url(&start))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert!(pre.headers().contains_key("access-control-allow-origin"));

    // A disabled or unknown entry point is not found.
    app.admin(
        Method::PATCH,
        &format!("/api/v1/entry-points/{}", ep["id"].as_str().unwrap()),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(post(Some("https://shop.example")).await.0, StatusCode::NOT_FOUND);
    let bad = app
        .call(
            Method::POST,
            "/api/v1/entry-points",
            Some(ADMIN_KEY),
            Some(json!({"name": "x", "allowed_origins": ["shop.example"]})),
        )
        .await;
    assert_eq!((bad.0, bad.1["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("allowed_origins")));
    let bad = app
        .call(
            Method::POST,
            "/api/v1/entry-points",
            Some(ADMIN_KEY),
            Some(json!({"name": "x", "idle": {"idle_after_secs": 60, "disconnect_after_secs": 30}})),
        )
        .await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn attributes_update_and_record_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let path = format!("/api/v1/conversations/{}", chat.id);
    let e = app
        .admin(Method::PATCH, &path, Some(json!({"attributes": {"a": 1, "b": "x"}, "record_id": "500Dn00000"})))
        .await;
    assert_eq!(e["type"], "conversation.updated");
    let e = app.admin(Method::PATCH, &path, Some(json!({"attributes": {"a": null, "c": true}}))).await;
    assert_eq!(e["attributes"], json!({"b": "x", "c": true}));
    assert_eq!(e["record_id"], "500Dn00000");
    let c = app.admin(Method::PATCH, &path, Some(json!({"record_id": null}))).await;
    assert_eq!(c["record_id"], Value::Null);
    let c = app.admin(Method::GET, &path, None).await;
    assert_eq!((c["attributes"].clone(), c["record_id"].clone()), (json!({"b": "x", "c": true}), Value::Null));
    let huge = json!({"attributes": {"k": "v".repeat(20 * 1024)}});
    assert_eq!(app.call(Method::PATCH, &path, Some(ADMIN_KEY), Some(huge)).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        app.call(Method::PATCH, &path, Some(&chat.customer), Some(json!({"attributes": {}}))).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn participants_join_leave_and_tokens_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let base = format!("/api/v1/conversations/{}/participants", chat.id);
    // A second token for the customer; then revoke them all.
    let t2 = app.admin(Method::POST, &format!("{base}/{}/tokens", chat.customer_id), None).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&t2), None).await.0, StatusCode::OK);
    let revoked = app.admin(Method::DELETE, &format!("{base}/{}/tokens", chat.customer_id), None).await;
    assert_eq!(revoked["revoked"], 2);
    for t in [&t2, &chat.customer] {
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(t), None).await.0, StatusCode::UNAUTHORIZED);
    }
    // The agent leaves on its own; then cannot send.
    let left = app.call(Method::DELETE, &format!("{base}/{}", chat.agent_id), Some(&chat.agent), None).await;
    assert_eq!(left.0, StatusCode::OK);
    assert_eq!(left.1[0]["type"], "participant.left");
    let late = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{}/messages", chat.id),
            Some(&chat.agent),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!((late.0, late.1["error"]["code"].clone()), (StatusCode::CONFLICT, json!("participant_left")));
    // Removing the last one ends the conversation.
    let out = app.admin(Method::DELETE, &format!("{base}/{}", chat.customer_id), None).await;
    let kinds: Vec<_> = out.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["participant.left", "conversation.ended"]);
    let list = app.admin(Method::GET, &base, None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0]["left_at"].is_string());
    let bad = app.call(Method::POST, &base, Some(ADMIN_KEY), Some(json!({"role": "wizard"}))).await;
    assert_eq!((bad.0, bad.1["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("role")));
    let late = app.call(Method::POST, &base, Some(ADMIN_KEY), Some(json!({"role": "agent"}))).await;
    assert_eq!((late.0, late.1["error"]["code"].clone()), (StatusCode::CONFLICT, json!("conversation_ended")));
}
