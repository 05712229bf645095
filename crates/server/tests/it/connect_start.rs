//! Amazon Connect's `StartChatContact` (`PUT /contact/chat`) against the
//! real server: requests signed with SigV4 by a workspace access key (made
//! through the native API), each bad field, each signature that does not
//! hold, a repeated `ClientToken` (also across a restart, while the first is
//! still running, and after a start that died), and a persistent chat.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_core::clock::Timestamp;
use switchboard_core::command::Command;
use switchboard_core::engine::Caller;
use switchboard_core::engine::start_tokens::StartClaim;
use switchboard_core::ids::{ConversationId, WorkspaceId};
use switchboard_core::timer::TimerKind;
use switchboard_dialect_connect::sigv4;

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp};

/// An access key: its id and secret.
struct Key {
    id: String,
    secret: String,
}

async fn access_key(app: &TestApp, name: &str) -> Key {
    let (status, made) =
        app.call(Method::POST, "/api/v1/access-keys", Some(ADMIN_KEY), Some(json!({"name": name}))).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    Key { id: made["id"].as_str().unwrap().to_owned(), secret: made["secret"].as_str().unwrap().to_owned() }
}

async fn workspace(app: &TestApp) -> WorkspaceId {
    app.engine.store().first_workspace().await.unwrap().unwrap().id
}

async fn entry_point(app: &TestApp) -> String {
    app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A `PUT /contact/chat` as a back end sends it: signed by `key` at `at`
/// (seconds), its body changed after signing by `tamper`.
struct Put<'a> {
    key: &'a Key,
    secret: Option<&'a str>,
    at: i64,
    body: Value,
    tamper: Option<Value>,
}

impl<'a> Put<'a> {
    fn new(key: &'a Key, body: Value) -> Self {
        Self { key, secret: None, at: now_secs(), body, tamper: None }
    }

    async fn send(self, app: &TestApp) -> (StatusCode, Value, HeaderMap) {
        let body = serde_json::to_vec(&self.body).unwrap();
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("host".to_owned(), app.addr.to_string()),
            ("x-amz-date".to_owned(), sigv4::format_amz_date(self.at)),
        ];
        let req = sigv4::Request { method: "PUT", path: "/contact/chat", query: "", headers: &headers, body: &body };
        let secret = self.secret.unwrap_or(&self.key.secret);
        let authorization = sigv4::sign(&req, &self.key.id, secret, "us-east-1", "connect").unwrap();
        let sent = match self.tamper {
            Some(v) => serde_json::to_vec(&v).unwrap(),
            None => body.clone(),
        };
        let mut http = app.http.put(app.url("/contact/chat")).header("authorization", authorization).body(sent);
        for (n, v) in &headers {
            http = http.header(n.as_str(), v.as_str());
        }
        let res = http.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
    }
}

fn start_body(workspace: WorkspaceId, ep: &str) -> Value {
    json!({"InstanceId": workspace.to_string(), "ContactFlowId": ep, "ParticipantDetails": {"DisplayName": "Jane"}})
}

/// The exception's name as the SDKs read it.
fn exception(headers: &HeaderMap) -> String {
    let t = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
    t.split(':').next().unwrap_or("").to_owned()
}

async fn conversation_count(app: &TestApp) -> usize {
    app.admin(Method::GET, "/api/v1/conversations?limit=500", None).await["conversations"].as_array().unwrap().len()
}

async fn a_signed_start_opens_a_chat_for_the_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "widget backend").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let mut body = start_body(w, &ep);
    body["Attributes"] = json!({"topic": "billing", "plan": "pro"});
    body["InitialMessage"] = json!({"ContentType": "text/plain", "Content": "my invoice is wrong"});
    body["SupportedMessagingContentTypes"] = json!(["text/plain", "text/markdown"]);
    body["ChatDurationInMinutes"] = json!(1500);
    body["SegmentAttributes"] = json!({"connect:Subtype": {"ValueString": "connect:Guide"}}); // unknown: ignored
    let (status, started, headers) = Put::new(&key, body).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert!(headers.contains_key("x-amzn-requestid"));
    let (contact, participant) = (started["ContactId"].as_str().unwrap(), started["ParticipantId"].as_str().unwrap());
    let token = started["ParticipantToken"].as_str().unwrap();
    assert!(token.starts_with("sbp_"), "{started}");
    assert!(started.get("ContinuedFromContactId").is_none(), "{started}");

    let c = app.admin(Method::GET, &format!("/api/v1/conversations/{contact}"), None).await;
    assert_eq!(c["attributes"], json!({"topic": "billing", "plan": "pro"}));
    // The token is the customer's own, and the first message is the customer's.
    let (status, me) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["participant"]["id"], participant, "{me}");
    assert_eq!(me["participant"]["display_name"], "Jane", "{me}");
    let messages: Vec<Value> = app.transcript(contact).await.into_iter().filter(|e| e["type"] == "message").collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        (&messages[0]["content"], &messages[0]["participant_id"]),
        (&json!("my invoice is wrong"), &json!(participant))
    );
}

async fn each_bad_field_is_refused_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "k").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let before = conversation_count(&app).await;
    let with = |field: &str, v: Value| {
        let mut b = start_body(w, &ep);
        b[field] = v;
        b
    };
    let without = |field: &str| {
        let mut b = start_body(w, &ep);
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (without("InstanceId"), "InstanceId"),
        (with("InstanceId", json!(7)), "InstanceId"),
        (without("ContactFlowId"), "ContactFlowId"),
        (without("ParticipantDetails"), "ParticipantDetails"),
        (with("ParticipantDetails", json!({})), "ParticipantDetails.DisplayName"),
        (with("ParticipantDetails", json!({"DisplayName": ""})), "ParticipantDetails.DisplayName"),
        (with("ParticipantDetails", json!({"DisplayName": "x".repeat(257)})), "ParticipantDetails.DisplayName"),
        (with("ParticipantDetails", json!({"DisplayName": "  "})), "ParticipantDetails.DisplayName"),
        // Within AWS's 256, beyond the server's own limit (128 by default): named all the same.
        (with("ParticipantDetails", json!({"DisplayName": "x".repeat(200)})), "ParticipantDetails.DisplayName"),
        (with("ParticipantDetails", json!({"DisplayName": "a\u{7}b"})), "ParticipantDetails.DisplayName"),
        (with("Attributes", json!(["a"])), "Attributes"),
        (with("Attributes", json!({"n": 1})), "Attributes.n"),
        (with("InitialMessage", json!({"Content": "hi"})), "InitialMessage.ContentType"),
        (with("InitialMessage", json!({"ContentType": "image/png", "Content": "x"})), "InitialMessage.ContentType"),
        (
            with("InitialMessage", json!({"ContentType": "application/json", "Content": "{no"})),
            "InitialMessage.Content",
        ),
        (with("InitialMessage", json!({"ContentType": "text/plain"})), "InitialMessage.Content"),
        (
            with("InitialMessage", json!({"ContentType": "text/plain", "Content": "x".repeat(1025)})),
            "InitialMessage.Content",
        ),
        (with("SupportedMessagingContentTypes", json!(["text/markdown"])), "SupportedMessagingContentTypes"),
        (with("SupportedMessagingContentTypes", json!(["text/plain", "image/png"])), "SupportedMessagingContentTypes"),
        (with("SupportedMessagingContentTypes", json!("text/plain")), "SupportedMessagingContentTypes"),
        (with("ChatDurationInMinutes", json!(59)), "ChatDurationInMinutes"),
        (with("ChatDurationInMinutes", json!(10081)), "ChatDurationInMinutes"),
        (with("ChatDurationInMinutes", json!("60")), "ChatDurationInMinutes"),
        (with("ClientToken", json!("")), "ClientToken"),
        (with("ClientToken", json!("x".repeat(501))), "ClientToken"),
        (with("PersistentChat", json!({"SourceContactId": "cnv_x"})), "PersistentChat.RehydrationType"),
        (
            with("PersistentChat", json!({"RehydrationType": "ALL", "SourceContactId": "x"})),
            "PersistentChat.RehydrationType",
        ),
        (with("PersistentChat", json!({"RehydrationType": "FROM_SEGMENT"})), "PersistentChat.SourceContactId"),
        (
            with("PersistentChat", json!({"RehydrationType": "FROM_SEGMENT", "SourceContactId": "nope"})),
            "PersistentChat.SourceContactId",
        ),
    ];
    for (body, field) in cases {
        let (status, answer, headers) = Put::new(&key, body.clone()).send(&app).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
        assert_eq!(exception(&headers), "InvalidParameterException", "{field}: {answer}");
        assert!(answer["Message"].as_str().unwrap().starts_with(&format!("{field}:")), "{field}: {answer}");
    }
    // Not JSON at all.
    let (status, answer, headers) = Put::new(&key, json!("just a string")).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::BAD_REQUEST, "InvalidRequestException"),
        "{answer}"
    );

    // Another instance, or a contact flow that is no entry point of it.
    let (status, answer, headers) =
        Put::new(&key, with("InstanceId", json!(WorkspaceId::new().to_string()))).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        "{answer}"
    );
    for flow in ["ept_01JDZ3Q5W7Y3J8M2V6X4T9R0PC", "main-flow"] {
        let (status, answer, headers) = Put::new(&key, with("ContactFlowId", json!(flow))).send(&app).await;
        assert_eq!(
            (status, exception(&headers).as_str()),
            (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            "{answer}"
        );
    }
    // A disabled entry point is no contact flow either.
    app.admin(Method::PATCH, &format!("/api/v1/entry-points/{ep}"), Some(json!({"enabled": false}))).await;
    let (status, answer, headers) = Put::new(&key, start_body(w, &ep)).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        "{answer}"
    );
    assert_eq!(answer["ResourceType"], "CONTACT_FLOW", "{answer}");
    assert_eq!(conversation_count(&app).await, before, "nothing was started");
}

async fn signatures_that_do_not_hold_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "k").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let body = start_body(w, &ep);
    let refused = |status: StatusCode, answer: &Value, headers: &HeaderMap, why: &str| {
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {answer}");
        assert_eq!(exception(headers), "AccessDeniedException", "{why}: {answer}");
        assert_eq!(answer["__type"], "com.amazonaws.connect#AccessDeniedException", "{why}: {answer}");
    };

    let (status, answer, headers) =
        Put { secret: Some("not the secret"), ..Put::new(&key, body.clone()) }.send(&app).await;
    refused(status, &answer, &headers, "a wrong secret");
    let stranger = Key { id: "SBAKAAAAAAAAAAAAAAAA".into(), secret: key.secret.clone() };
    let (status, answer, headers) = Put::new(&stranger, body.clone()).send(&app).await;
    refused(status, &answer, &headers, "an unknown key");
    let aws = Key { id: "AKIDEXAMPLE".into(), secret: key.secret.clone() };
    let (status, answer, headers) = Put::new(&aws, body.clone()).send(&app).await;
    refused(status, &answer, &headers, "a key id of another shape");
    let (status, answer, headers) = Put { at: now_secs() - 600, ..Put::new(&key, body.clone()) }.send(&app).await;
    refused(status, &answer, &headers, "a stale date");
    assert!(answer["Message"].as_str().unwrap().contains("Signature expired"), "{answer}");
    let mut other = body.clone();
    other["ParticipantDetails"]["DisplayName"] = json!("Mallory");
    let (status, answer, headers) = Put { tamper: Some(other), ..Put::new(&key, body.clone()) }.send(&app).await;
    refused(status, &answer, &headers, "a body changed after signing");
    let res = app.http.put(app.url("/contact/chat")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "unsigned");

    // The key works; revoked, it does not. The list never shows a secret.
    let (status, answer, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = app.call(Method::DELETE, &format!("/api/v1/access-keys/{}", key.id), Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer, headers) = Put::new(&key, body.clone()).send(&app).await;
    refused(status, &answer, &headers, "a revoked key");
    let listed = app.admin(Method::GET, "/api/v1/access-keys", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], key.id.as_str());
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(&key.secret), "the list shows no secret: {listed}");
    // Revoking again changes nothing; a key that does not exist is not found.
    let (status, _) = app.call(Method::DELETE, &format!("/api/v1/access-keys/{}", key.id), Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::DELETE, "/api/v1/access-keys/SBAKAAAAAAAAAAAAAAAA", Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_repeated_client_token_answers_the_same_contact_with_a_new_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "k").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let mut body = start_body(w, &ep);
    body["ClientToken"] = json!("9d6a0d3e-5d8e-4a8e-9d0b-2b6f2b1c0a11");
    body["InitialMessage"] = json!({"ContentType": "text/plain", "Content": "hello"});
    let before = conversation_count(&app).await;
    let (status, first, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!((&again["ContactId"], &again["ParticipantId"]), (&first["ContactId"], &first["ParticipantId"]));
    assert_ne!(again["ParticipantToken"], first["ParticipantToken"], "a fresh token");
    let contact = first["ContactId"].as_str().unwrap().to_owned();
    for token in [&first["ParticipantToken"], &again["ParticipantToken"]] {
        let (status, me) = app.call(Method::GET, "/api/v1/me", token.as_str(), None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["participant"]["id"], first["ParticipantId"]);
    }
    assert_eq!(conversation_count(&app).await, before + 1);
    let hellos = app.transcript(&contact).await.into_iter().filter(|e| e["type"] == "message").count();
    assert_eq!(hellos, 1, "the initial message is sent once");

    // Across a restart too; another token is another contact.
    let app = app.restart().await;
    let (status, after, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!((status, &after["ContactId"]), (StatusCode::OK, &first["ContactId"]), "{after}");
    body["ClientToken"] = json!("another");
    let (status, other, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_ne!(other["ContactId"], first["ContactId"]);

    // A token another request holds and is still starting: retry later.
    let caller = Caller::Admin { workspace: w };
    let StartClaim::Fresh(pending) = app.engine.claim_start_token(&caller, "in-flight").await.unwrap() else {
        panic!("a new token is fresh")
    };
    body["ClientToken"] = json!("in-flight");
    let (status, answer, headers) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
        "{answer}"
    );
    assert_eq!(conversation_count(&app).await, before + 2, "nothing started meanwhile");
    // Its chat starts: a repeat finds it.
    let start = switchboard_core::engine::StartChat { id: Some(pending), ..Default::default() };
    let ep_id = switchboard_core::ids::EntryPointId::parse(&ep).unwrap();
    app.engine.start_chat_for(&caller, ep_id, start).await.unwrap();
    let (status, answer, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!((status, &answer["ContactId"]), (StatusCode::OK, &json!(pending.to_string())), "{answer}");

    // A claim older than a minute whose chat never appeared is taken over, once.
    let dead = ConversationId::new();
    let long_ago = Timestamp(app.engine.now().millis() - 61_000);
    app.engine.store().claim_start_token(w, "died", dead, long_ago).await.unwrap();
    body["ClientToken"] = json!("died");
    let (status, taken, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_ne!(taken["ContactId"], json!(dead.to_string()));
    let (status, again, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!((status, &again["ContactId"]), (StatusCode::OK, &taken["ContactId"]), "{again}");
}

async fn a_persistent_chat_continues_an_ended_contact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "k").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let mut body = start_body(w, &ep);
    body["InitialMessage"] = json!({"ContentType": "text/plain", "Content": "first time"});
    let (status, first, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let source = first["ContactId"].as_str().unwrap().to_owned();
    let continued = json!({"RehydrationType": "ENTIRE_PAST_SESSION", "SourceContactId": source});
    let mut next = start_body(w, &ep);
    next["PersistentChat"] = continued.clone();

    // Not ended yet: refused, and nothing is made; the client token it
    // carried is given up, so the same token works once the chat has ended.
    let before = conversation_count(&app).await;
    next["ClientToken"] = json!("continue-once");
    let (status, answer, headers) = Put::new(&key, next.clone()).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::BAD_REQUEST, "InvalidRequestException"),
        "{answer}"
    );
    assert_eq!(conversation_count(&app).await, before);

    let token = first["ParticipantToken"].as_str().unwrap();
    let (status, ended) =
        app.call(Method::POST, &format!("/api/v1/conversations/{source}/end"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    let (status, second, _) = Put::new(&key, next.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["ContinuedFromContactId"], source.as_str(), "{second}");
    let c =
        app.admin(Method::GET, &format!("/api/v1/conversations/{}", second["ContactId"].as_str().unwrap()), None).await;
    assert_eq!(c["previous_conversation_id"], source.as_str(), "{c}");
    // The new customer reads the past session through the new contact.
    let (status, page) = app
        .call(
            Method::GET,
            &format!("/api/v1/conversations/{}/transcript?segments=all", second["ContactId"].as_str().unwrap()),
            second["ParticipantToken"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.to_string().contains("first time"), "{page}");

    // The same token again is the same contact; without it, continued
    // once only; a contact that does not exist is not found.
    let (status, again, _) = Put::new(&key, next.clone()).send(&app).await;
    assert_eq!((status, &again["ContactId"]), (StatusCode::OK, &second["ContactId"]), "{again}");
    assert_eq!(again["ContinuedFromContactId"], source.as_str(), "{again}");
    next.as_object_mut().unwrap().remove("ClientToken");
    let (status, answer, headers) = Put::new(&key, next.clone()).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::BAD_REQUEST, "InvalidRequestException"),
        "{answer}"
    );
    next["PersistentChat"]["SourceContactId"] = json!(ConversationId::new().to_string());
    let (status, answer, headers) = Put::new(&key, next).send(&app).await;
    assert_eq!(
        (status, exception(&headers).as_str()),
        (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
        "{answer}"
    );
}

/// `ChatDurationInMinutes` (or the service's 25 hours) is a stored
/// deadline; when it fires the chat ends as `expired`, and the Connect
/// socket tells ChatJS so.
async fn a_contact_ends_by_itself_at_its_chat_duration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "k").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let mut body = start_body(w, &ep);
    body["ChatDurationInMinutes"] = json!(60);
    let before = app.engine.now();
    let (status, started, _) = Put::new(&key, body).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let (_, plain, _) = Put::new(&key, start_body(w, &ep)).send(&app).await;
    let contact = ConversationId::parse(started["ContactId"].as_str().unwrap()).unwrap();
    let other = ConversationId::parse(plain["ContactId"].as_str().unwrap()).unwrap();
    // The deadlines, as stored: an hour, and the default 25 hours.
    let store = app.engine.store();
    let due = store.due_timers(before.plus_secs(26 * 3600), 100).await.unwrap();
    let deadline = |c| due.iter().find(|t| t.conversation_id == c && t.kind == TimerKind::ChatDeadline).cloned();
    let (mine, default) = (deadline(contact).unwrap(), deadline(other).unwrap());
    let hour = mine.due_at.millis() - before.millis();
    assert!((3_600_000..3_600_000 + 60_000).contains(&hour), "due {hour} ms after the start");
    let day = default.due_at.millis() - before.millis();
    assert!((90_000_000..90_000_000 + 60_000).contains(&day), "due {day} ms after the start");

    // The customer is on the Connect socket when it comes due (fired here
    // as the timer worker would, without waiting an hour).
    let token = started["ParticipantToken"].as_str().unwrap();
    let res = app
        .http
        .post(app.url("/participant/connection"))
        .header("x-amz-bearer", token)
        .body(json!({"Type": ["WEBSOCKET"]}).to_string())
        .send()
        .await
        .unwrap();
    let url = res.json::<Value>().await.unwrap()["Websocket"]["Url"].as_str().unwrap().to_owned();
    let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut ws = crate::harness::Ws { stream };
    ws.send(json!({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})).await;
    assert_eq!(ws.frame().await["content"]["status"], "success");
    store.apply(Command::Fire { timer: mine }).await.unwrap();
    let ended = loop {
        let f = ws.frame().await;
        let item: Value = serde_json::from_str(f["content"].as_str().unwrap_or("{}")).unwrap();
        if item["ContentType"] == "application/vnd.amazonaws.connect.event.chat.ended" {
            break item;
        }
    };
    assert_eq!(ended["Type"], "EVENT");
    let log = app.transcript(&contact.to_string()).await;
    let last = log.last().unwrap();
    assert_eq!((last["type"].as_str(), last["reason"].as_str()), (Some("conversation.ended"), Some("expired")));
    // The other contact is still open.
    let c = app.admin(Method::GET, &format!("/api/v1/conversations/{other}"), None).await;
    assert_eq!(c["state"], "open");
}

both_backends!(
    a_contact_ends_by_itself_at_its_chat_duration,
    a_signed_start_opens_a_chat_for_the_customer,
    each_bad_field_is_refused_by_name,
    signatures_that_do_not_hold_are_refused,
    a_repeated_client_token_answers_the_same_contact_with_a_new_token,
    a_persistent_chat_continues_an_ended_contact,
    an_erased_contact_takes_its_client_token_with_it,
);

/// Two servers on one PostgreSQL, twenty requests with one `ClientToken`
/// sent to both at once: one contact is made, every answer that is not a
/// retry names it, and a retry after them all finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
async fn one_client_token_is_one_contact_across_two_nodes() {
    let (one, two) = TestApp::two_on_one_postgres().await;
    let key = access_key(&one, "k").await;
    let (w, ep) = (workspace(&one).await, entry_point(&one).await);
    let mut body = start_body(w, &ep);
    body["ClientToken"] = json!("raced");
    let before = conversation_count(&one).await;
    let sends = (0..20).map(|i| Put::new(&key, body.clone()).send(if i % 2 == 0 { &one } else { &two }));
    let answers = futures_util::future::join_all(sends).await;
    let mut contacts = std::collections::BTreeSet::new();
    for (status, answer, headers) in &answers {
        match *status {
            StatusCode::OK => {
                contacts.insert(answer["ContactId"].as_str().unwrap().to_owned());
            }
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(exception(headers), "ThrottlingException", "{answer}"),
            other => panic!("{other}: {answer}"),
        }
    }
    assert!(contacts.len() <= 1, "{contacts:?}");
    let (status, last, _) = Put::new(&key, body.clone()).send(&two).await;
    assert_eq!(status, StatusCode::OK, "{last}");
    let contact = last["ContactId"].as_str().unwrap().to_owned();
    assert!(contacts.iter().all(|c| *c == contact), "{contacts:?} {contact}");
    assert_eq!(conversation_count(&one).await, before + 1, "one contact");
}

async fn an_erased_contact_takes_its_client_token_with_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = access_key(&app, "k").await;
    let (w, ep) = (workspace(&app).await, entry_point(&app).await);
    let mut body = start_body(w, &ep);
    body["ClientToken"] = json!("token-to-forget");
    let (status, first, _) = Put::new(&key, body.clone()).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let contact = first["ContactId"].as_str().unwrap().to_owned();
    app.admin(Method::DELETE, &format!("/api/v1/conversations/{contact}?end=true"), None).await;

    let url = app.config.storage.database_url();
    let left = switchboard_store::testing::mentions(&url, &[contact.as_str(), "token-to-forget"]).await.unwrap();
    assert_eq!(left, [format!("erasures.conversation_id: {contact}")]);
    // The token is free again: a repeat starts a new contact.
    let (status, again, _) = Put::new(&key, body).send(&app).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_ne!(again["ContactId"], first["ContactId"]);
}
