//! The Amazon Connect dialect's Participant Service and WebSocket, driven
//! as ChatJS drives them (paths, headers, bodies and frames from
//! docs/dialects/amazon-connect.md), beside a native agent in the same chat.
//! The published clients themselves run in `connect_clients.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, Chat, TestApp, Ws, json_body};

/// One Participant Service answer.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    errortype: Option<String>,
    json: Value,
}

impl Answer {
    /// The exception's name, as the SDK reads it from `x-amzn-errortype`.
    fn exception(&self) -> &str {
        let t = self.errortype.as_deref().unwrap_or("");
        t.split(':').next().unwrap_or("")
    }
}

async fn call(app: &TestApp, method: Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> Answer {
    let mut req = app.http.request(method, app.url(path)).header("content-type", "application/json");
    // The SDK signs with empty keys; the server must not care.
    req = req.header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=/20261204/us-west-2/execute-api/aws4_request, SignedHeaders=host, Signature=00",
    );
    if let Some(b) = bearer {
        req = req.header("x-amz-bearer", b);
    }
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let errortype = res.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_owned());
    assert!(res.headers().contains_key("x-amzn-requestid") || status.is_success(), "{path}: no request id");
    let text = res.text().await.unwrap();
    let json = if text.is_empty() { Value::Null } else { json_body(&text, path) };
    assert!(!status.is_server_error(), "{path}: {status} {json}");
    Answer { status, errortype, json }
}

async fn post(app: &TestApp, path: &str, bearer: &str, body: Value) -> Value {
    let a = call(app, Method::POST, path, Some(bearer), Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {a:?}");
    a.json
}

/// `CreateParticipantConnection` as ChatJS sends it: the socket URL and the connection token.
pub(crate) async fn connection(app: &TestApp, participant_token: &str) -> (String, String) {
    let body = json!({"Type": ["WEBSOCKET", "CONNECTION_CREDENTIALS"]});
    let c = post(app, "/participant/connection", participant_token, body).await;
    let url = c["Websocket"]["Url"].as_str().unwrap().to_owned();
    let token = c["ConnectionCredentials"]["ConnectionToken"].as_str().unwrap().to_owned();
    assert!(c["ConnectionCredentials"]["Expiry"].as_str().unwrap().ends_with('Z'), "{c}");
    (url, token)
}

/// A ChatJS-like socket: the harness's JSON socket speaking the `aws/*`
/// topics, keeping the chat frames that came before the replies it waited for.
pub(crate) struct Socket(pub(crate) Ws, std::collections::VecDeque<Value>);

impl Socket {
    /// Opens the URL and subscribes as ChatJS does (subscribe, ping, heartbeat).
    pub(crate) async fn open(url: &str) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("the socket opens");
        let mut s = Self(Ws { stream }, Default::default());
        s.send(json!({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})).await;
        s.send(json!({"topic": "aws/ping"})).await;
        s.send(json!({"topic": "aws/heartbeat"})).await;
        let subscribed = json!({"topic": "aws/subscribe", "content": {"status": "success", "topics": ["aws/chat"]}});
        assert_eq!(s.reply().await, subscribed);
        assert_eq!(s.reply().await, json!({"topic": "aws/ping", "statusCode": 200, "statusContent": "OK"}));
        assert_eq!(s.reply().await, json!({"topic": "aws/heartbeat"}));
        s
    }

    pub(crate) async fn send(&mut self, v: Value) {
        self.0.send(v).await;
    }

    /// The next frame that is not a chat item (those are kept for later).
    pub(crate) async fn reply(&mut self) -> Value {
        loop {
            let f = self.0.frame().await;
            if f["topic"] != "aws/chat" {
                return f;
            }
            self.1.push_back(f);
        }
    }

    async fn frame(&mut self) -> Value {
        match self.1.pop_front() {
            Some(f) => f,
            None => self.0.frame().await,
        }
    }

    /// The next `aws/chat` item (its `content` read as the JSON it holds).
    async fn item(&mut self) -> Value {
        loop {
            let f = self.frame().await;
            if f["topic"] == "aws/chat" {
                assert_eq!(f["contentType"], "application/json");
                return json_body(f["content"].as_str().expect("content is a JSON string"), "item");
            }
        }
    }

    /// The next item of `kind` (its `Type`), skipping others.
    async fn item_of(&mut self, kind: &str) -> Value {
        loop {
            let it = self.item().await;
            if it["Type"] == kind {
                return it;
            }
        }
    }

    /// The next item with this `ContentType`, skipping others.
    async fn item_with(&mut self, content_type: &str) -> Value {
        loop {
            let it = self.item().await;
            if it["ContentType"] == content_type {
                return it;
            }
        }
    }

    async fn closed(&mut self) -> Option<u16> {
        self.0.closed().await
    }
}

pub(crate) async fn native_say(app: &TestApp, chat: &Chat, token: &str, text: &str) -> Value {
    app.say(&chat.id, token, text, None).await
}

async fn a_customer_chats_through_the_participant_service_with_a_native_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (url, conn) = connection(&app, &chat.customer).await;
    assert!(url.starts_with(&format!("ws://127.0.0.1:{}/", app.addr.port())), "{url}");
    assert!(conn.starts_with("sbc_"), "{conn}");
    // ChatJS's connect() resolves before its socket is up: what is said meanwhile still arrives on it.
    let early = native_say(&app, &chat, &chat.agent, "Welcome!").await;
    let mut socket = Socket::open(&url).await;
    assert_eq!(socket.item_of("MESSAGE").await["Id"], early["id"]);

    // The agent (native) speaks; the customer's socket gets the item.
    let said = native_say(&app, &chat, &chat.agent, "Hello, how can I help?").await;
    let item = socket.item_of("MESSAGE").await;
    assert_eq!(item["Content"], "Hello, how can I help?");
    assert_eq!(item["ContentType"], "text/plain");
    assert_eq!(item["Id"], said["id"]);
    assert_eq!(item["ParticipantId"].as_str(), Some(chat.agent_id.as_str()));
    assert_eq!(item["ParticipantRole"], "AGENT");
    assert_eq!((item["ContactId"].as_str(), item["InitialContactId"].as_str()), (Some(&*chat.id), Some(&*chat.id)));
    assert!(item["AbsoluteTime"].as_str().unwrap().ends_with('Z'), "{item}");

    // The customer answers in each media type; the native log has them in order.
    let kinds = [("text/plain", "I lost my card"), ("text/markdown", "**urgent**"), ("application/json", r#"{"a":1}"#)];
    let mut ids = Vec::new();
    for (ct, text) in kinds {
        let body = json!({"ContentType": ct, "Content": text, "ClientToken": format!("tok-{ct}")});
        let sent = post(&app, "/participant/message", &conn, body).await;
        assert!(sent["AbsoluteTime"].as_str().is_some(), "{sent}");
        ids.push(sent["Id"].as_str().unwrap().to_owned());
        let echoed = socket.item_of("MESSAGE").await;
        assert_eq!(
            (echoed["Id"].as_str(), echoed["ParticipantRole"].as_str()),
            (Some(&*ids[ids.len() - 1]), Some("CUSTOMER"))
        );
    }
    // A retried send (same ClientToken) is stored once.
    let again = json!({"ContentType": "text/plain", "Content": "I lost my card", "ClientToken": "tok-text/plain"});
    assert_eq!(post(&app, "/participant/message", &conn, again).await["Id"].as_str(), Some(&*ids[0]));
    let log = app.transcript(&chat.id).await;
    let messages: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e["type"] == "message" && e["participant_id"] == chat.customer_id.as_str())
        .map(|e| (e["content_type"].as_str().unwrap(), e["content"].as_str().unwrap()))
        .collect();
    assert_eq!(messages, kinds);

    // Typing both ways; typing is not logged.
    let mut agent = app.ws(&chat.agent, None).await;
    agent.send(json!({"type": "typing"})).await;
    let typing = socket.item_with("application/vnd.amazonaws.connect.event.typing").await;
    assert_eq!(typing["Type"], "EVENT");
    assert_eq!(typing["ParticipantRole"], "AGENT");
    post(&app, "/participant/event", &conn, json!({"ContentType": "application/vnd.amazonaws.connect.event.typing"}))
        .await;
    let seen = agent.frame_of("typing").await;
    assert_eq!(seen["participant_id"].as_str(), Some(chat.customer_id.as_str()));

    // Delivered and read receipts for the agent's message.
    for ct in ["message.delivered", "message.read"] {
        let body = json!({
            "ContentType": format!("application/vnd.amazonaws.connect.event.{ct}"),
            "Content": json!({"messageId": said["id"]}).to_string(),
            "ClientToken": format!("receipt-{ct}"),
        });
        post(&app, "/participant/event", &conn, body).await;
        let receipt = agent.event().await;
        assert_eq!((receipt["type"].as_str(), receipt["message_id"].as_str()), (Some(ct), said["id"].as_str()));
        let meta = socket.item_of("MESSAGEMETADATA").await;
        assert_eq!(meta["MessageMetadata"]["MessageId"], said["id"]);
        let stamp = if ct == "message.read" { "ReadTimestamp" } else { "DeliveredTimestamp" };
        assert!(meta["MessageMetadata"]["Receipts"][0][stamp].is_string(), "{meta}");
    }

    // In the transcript the message carries both receipts; receipts are not items of their own there.
    let page =
        post(&app, "/participant/transcript", &conn, json!({"MaxResults": 100, "ScanDirection": "FORWARD"})).await;
    let items = page["Transcript"].as_array().unwrap();
    assert!(items.iter().all(|i| i["Type"] != "MESSAGEMETADATA"), "{page}");
    let agent_said = items.iter().find(|i| i["Id"] == said["id"]).unwrap();
    let receipts = &agent_said["MessageMetadata"]["Receipts"];
    assert_eq!(receipts.as_array().map(Vec::len), Some(1), "{agent_said}");
    assert_eq!(receipts[0]["RecipientParticipantId"].as_str(), Some(chat.customer_id.as_str()));
    assert!(receipts[0]["DeliveredTimestamp"].is_string() && receipts[0]["ReadTimestamp"].is_string(), "{receipts}");

    // ChatJS gives every read receipt the same ClientToken: each message's receipt still counts once.
    let second = native_say(&app, &chat, &chat.agent, "Anything else?").await;
    for message in [&said, &second, &second] {
        let body = json!({
            "ContentType": "application/vnd.amazonaws.connect.event.message.read",
            "Content": json!({"messageId": message["id"], "disableThrottle": true}).to_string(),
            "ClientToken": "INCOMING_READ_RECEIPT",
        });
        post(&app, "/participant/event", &conn, body).await;
    }
    let reads: Vec<String> = app
        .transcript(&chat.id)
        .await
        .iter()
        .filter(|e| e["type"] == "message.read")
        .map(|e| e["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reads, [said["id"].as_str().unwrap(), said["id"].as_str().unwrap(), second["id"].as_str().unwrap()]);

    // The customer leaves: participant.left, then chat.ended, and the socket closes.
    post(&app, "/participant/disconnect", &conn, json!({"ClientToken": "bye"})).await;
    let left = socket.item_with("application/vnd.amazonaws.connect.event.participant.left").await;
    assert_eq!(left["ParticipantId"].as_str(), Some(chat.customer_id.as_str()));
    let ended = socket.item().await;
    assert_eq!(ended["ContentType"], "application/vnd.amazonaws.connect.event.chat.ended", "{ended}");
    assert_eq!(socket.closed().await, Some(1000));
    // Saying it twice is not an error; the chat is over for every other call.
    post(&app, "/participant/disconnect", &conn, json!({})).await;
    let late = call(
        &app,
        Method::POST,
        "/participant/message",
        Some(&conn),
        Some(json!({"ContentType": "text/plain", "Content": "x"})),
    )
    .await;
    assert_eq!((late.status, late.exception()), (StatusCode::FORBIDDEN, "AccessDeniedException"));
    let reconnect =
        call(&app, Method::POST, "/participant/connection", Some(&chat.customer), Some(json!({"Type": ["WEBSOCKET"]})))
            .await;
    assert_eq!((reconnect.status, reconnect.exception()), (StatusCode::FORBIDDEN, "AccessDeniedException"));
}

/// Every item id of a GetTranscript answer, in the order given.
fn ids_of(page: &Value) -> Vec<String> {
    page["Transcript"].as_array().unwrap().iter().map(|i| i["Id"].as_str().unwrap().to_owned()).collect()
}

async fn transcript(app: &TestApp, conn: &str, body: Value) -> Value {
    let page = post(app, "/participant/transcript", conn, body).await;
    assert!(page["InitialContactId"].is_string(), "{page}");
    page
}

async fn get_transcript_scans_both_ways_from_every_start_position(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (_, conn) = connection(&app, &chat.customer).await;
    let mut sent = Vec::new();
    for i in 0..7 {
        let token = if i % 2 == 0 { &chat.customer } else { &chat.agent };
        sent.push(native_say(&app, &chat, token, &format!("m{i}")).await);
    }
    // The items: the two joins, then the seven messages.
    let all =
        transcript(&app, &conn, json!({"MaxResults": 100, "ScanDirection": "FORWARD", "StartPosition": {}})).await;
    let every = ids_of(&all);
    assert_eq!(every.len(), 9, "{all}");
    let kinds: Vec<&str> = all["Transcript"].as_array().unwrap().iter().map(|i| i["Type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["EVENT", "EVENT", "MESSAGE", "MESSAGE", "MESSAGE", "MESSAGE", "MESSAGE", "MESSAGE", "MESSAGE"]);
    assert!(all.get("NextToken").is_none(), "{all}");
    let message_ids: Vec<String> = sent.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(every[2..], message_ids[..]);

    // ChatJS's default: the most recent, backward, in ascending order.
    let recent = transcript(
        &app,
        &conn,
        json!({"MaxResults": 3, "ScanDirection": "BACKWARD", "SortOrder": "ASCENDING", "StartPosition": {}}),
    )
    .await;
    assert_eq!(ids_of(&recent), every[6..]);
    let descending = transcript(&app, &conn, json!({"MaxResults": 3, "SortOrder": "DESCENDING"})).await;
    assert_eq!(ids_of(&descending), every[6..].iter().rev().cloned().collect::<Vec<_>>());

    // Paging with NextToken, both ways, covers every item once.
    for (dir, size) in [("FORWARD", 2), ("BACKWARD", 4), ("FORWARD", 9), ("BACKWARD", 1)] {
        let (mut got, mut token) = (Vec::new(), None::<String>);
        loop {
            let mut body = json!({"MaxResults": size, "ScanDirection": dir, "SortOrder": "ASCENDING"});
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let page = transcript(&app, &conn, body).await;
            let mut ids = ids_of(&page);
            if dir == "BACKWARD" {
                ids.reverse();
            }
            got.extend(ids);
            match page["NextToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
            assert!(got.len() <= every.len(), "{dir} {size}: paging does not end");
        }
        if dir == "BACKWARD" {
            got.reverse();
        }
        assert_eq!(got, every, "{dir} by {size}");
    }
    // A token is for the scan that made it.
    let page = transcript(&app, &conn, json!({"MaxResults": 2, "ScanDirection": "FORWARD"})).await;
    let token = page["NextToken"].as_str().unwrap();
    let wrong = call(
        &app,
        Method::POST,
        "/participant/transcript",
        Some(&conn),
        Some(json!({"NextToken": token, "ScanDirection": "BACKWARD"})),
    )
    .await;
    assert_eq!((wrong.status, wrong.exception()), (StatusCode::BAD_REQUEST, "ValidationException"));

    // StartPosition by Id includes that item, in either direction.
    let from = json!({"Id": every[4]});
    let fwd =
        transcript(&app, &conn, json!({"MaxResults": 2, "ScanDirection": "FORWARD", "StartPosition": from})).await;
    assert_eq!(ids_of(&fwd), every[4..6]);
    let back =
        transcript(&app, &conn, json!({"MaxResults": 2, "ScanDirection": "BACKWARD", "StartPosition": from})).await;
    assert_eq!(ids_of(&back), every[3..5]);
    let unknown = call(
        &app,
        Method::POST,
        "/participant/transcript",
        Some(&conn),
        Some(json!({"StartPosition": {"Id": "evt_01JDZ3Q5W7Y3J8M2V6X4T9R0PA"}})),
    )
    .await;
    assert_eq!((unknown.status, unknown.exception()), (StatusCode::NOT_FOUND, "ResourceNotFoundException"));

    // MostRecent: 0 is the last item.
    let last = transcript(
        &app,
        &conn,
        json!({"MaxResults": 1, "ScanDirection": "FORWARD", "StartPosition": {"MostRecent": 0}}),
    )
    .await;
    assert_eq!(ids_of(&last), every[8..]);
    let third = transcript(
        &app,
        &conn,
        json!({"MaxResults": 9, "ScanDirection": "FORWARD", "StartPosition": {"MostRecent": 2}}),
    )
    .await;
    assert_eq!(ids_of(&third), every[6..]);

    // AbsoluteTime: forward from the first item at or after it; backward from the last at or before.
    let at = all["Transcript"][5]["AbsoluteTime"].as_str().unwrap();
    let from_time = transcript(
        &app,
        &conn,
        json!({"MaxResults": 100, "ScanDirection": "FORWARD", "StartPosition": {"AbsoluteTime": at}}),
    )
    .await;
    let first = every.iter().position(|id| *id == ids_of(&from_time)[0]).unwrap();
    assert!(first <= 5 && ids_of(&from_time) == every[first..], "{from_time}");
    let early = transcript(
        &app,
        &conn,
        json!({"ScanDirection": "BACKWARD", "StartPosition": {"AbsoluteTime": "2001-01-01T00:00:00Z"}}),
    )
    .await;
    assert_eq!(ids_of(&early), Vec::<String>::new());
    let zero = transcript(&app, &conn, json!({"MaxResults": 0})).await;
    assert_eq!(ids_of(&zero), Vec::<String>::new());
}

async fn a_reconnect_and_the_transcript_leave_no_hole_and_repeat_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (url, _) = connection(&app, &chat.customer).await;
    let mut first = Socket::open(&url).await;
    native_say(&app, &chat, &chat.agent, "one").await;
    let seen = first.item_of("MESSAGE").await;
    // ChatJS renews its connection: a second socket overlaps the first.
    let (url2, conn2) = connection(&app, &chat.customer).await;
    let mut second = Socket::open(&url2).await;
    native_say(&app, &chat, &chat.agent, "two").await;
    let a = first.item_of("MESSAGE").await;
    let b = second.item_of("MESSAGE").await;
    assert_eq!((a["Content"].as_str(), b["Content"].as_str()), (Some("two"), Some("two")));
    drop(first);
    drop(second);
    // Offline: three more.
    for text in ["three", "four", "five"] {
        native_say(&app, &chat, &chat.agent, text).await;
    }
    let (url3, conn3) = connection(&app, &chat.customer).await;
    let mut third = Socket::open(&url3).await;
    // What it missed is in the transcript after the last item it saw.
    let missed = transcript(
        &app,
        &conn3,
        json!({"ScanDirection": "FORWARD", "StartPosition": {"Id": b["Id"]}, "MaxResults": 100}),
    )
    .await;
    let contents: Vec<&str> =
        missed["Transcript"].as_array().unwrap().iter().filter_map(|i| i["Content"].as_str()).collect();
    assert_eq!(contents, ["two", "three", "four", "five"]);
    assert_ne!(seen["Id"], b["Id"]);
    // The new socket carries only what comes next.
    native_say(&app, &chat, &chat.agent, "six").await;
    assert_eq!(third.item_of("MESSAGE").await["Content"], "six");
    // Older connection tokens still hold (they last a day).
    post(&app, "/participant/message", &conn2, json!({"ContentType": "text/plain", "Content": "still here"})).await;
}

async fn silent_monitors_stay_hidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (url, conn) = connection(&app, &chat.customer).await;
    let mut socket = Socket::open(&url).await;
    let body = json!({"role": "monitor", "display_name": "Watcher"});
    app.admin(Method::POST, &format!("/api/v1/conversations/{}/participants", chat.id), Some(body)).await;
    native_say(&app, &chat, &chat.agent, "after the monitor").await;
    // The first item after the monitor joined is the agent's message.
    assert_eq!(socket.item().await["Content"], "after the monitor");
    let all = transcript(&app, &conn, json!({"MaxResults": 100})).await;
    let text = all.to_string();
    assert!(!text.contains("Watcher") && !text.contains("SUPERVISOR"), "{text}");
}

async fn files_go_up_and_come_down_through_the_dialect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (url, conn) = connection(&app, &chat.customer).await;
    let mut socket = Socket::open(&url).await;
    let bytes = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n".to_vec();
    let body = json!({"ContentType": "application/pdf", "AttachmentSizeInBytes": bytes.len(), "AttachmentName": "statement.pdf", "ClientToken": "up-1"});
    let started = post(&app, "/participant/start-attachment-upload", &conn, body).await;
    let id = started["AttachmentId"].as_str().unwrap().to_owned();
    let upload = &started["UploadMetadata"];
    let mut put = app.http.put(upload["Url"].as_str().unwrap());
    for (k, v) in upload["HeadersToInclude"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let res = put.body(bytes.clone()).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    post(&app, "/participant/complete-attachment-upload", &conn, json!({"AttachmentIds": [id], "ClientToken": "up-2"}))
        .await;
    let item = socket.item_of("ATTACHMENT").await;
    assert_eq!(item["Attachments"][0]["AttachmentId"].as_str(), Some(id.as_str()));
    assert_eq!(item["Attachments"][0]["AttachmentName"], "statement.pdf");
    assert_eq!(item["Attachments"][0]["Status"], "APPROVED");
    let got = post(&app, "/participant/attachment", &conn, json!({"AttachmentId": id, "UrlExpiryInSeconds": 60})).await;
    assert_eq!(got["AttachmentSizeInBytes"].as_u64(), Some(bytes.len() as u64));
    let down = app.http.get(got["Url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(down.status(), StatusCode::OK);
    assert_eq!(down.bytes().await.unwrap().to_vec(), bytes);
    // The transcript shows the file too.
    let all = transcript(&app, &conn, json!({"MaxResults": 100})).await;
    assert!(all["Transcript"].as_array().unwrap().iter().any(|i| i["Type"] == "ATTACHMENT"), "{all}");
    let refused = call(&app, Method::POST, "/participant/start-attachment-upload", Some(&conn), Some(json!({"ContentType": "application/x-msdownload", "AttachmentSizeInBytes": 10, "AttachmentName": "run.exe"}))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
}

async fn bad_and_unauthenticated_requests_get_the_aws_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (url, conn) = connection(&app, &chat.customer).await;
    let text = json!({"ContentType": "text/plain", "Content": "hi"});
    let cases: Vec<(&str, Option<&str>, Value, StatusCode, &str)> = vec![
        ("/participant/message", None, text.clone(), StatusCode::FORBIDDEN, "AccessDeniedException"),
        ("/participant/message", Some("sbc_nonsense"), text.clone(), StatusCode::FORBIDDEN, "AccessDeniedException"),
        ("/participant/message", Some(&chat.customer), text.clone(), StatusCode::FORBIDDEN, "AccessDeniedException"),
        ("/participant/message", Some(ADMIN_KEY), text.clone(), StatusCode::FORBIDDEN, "AccessDeniedException"),
        (
            "/participant/connection",
            Some(&conn),
            json!({"Type": ["WEBSOCKET"]}),
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
        ),
        (
            "/participant/connection",
            Some(&chat.customer),
            json!({"Type": ["PIGEON"]}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/connection",
            Some(&chat.customer),
            json!({"Type": "WEBSOCKET"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/message",
            Some(&conn),
            json!({"ContentType": "text/html", "Content": "<b>"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/message",
            Some(&conn),
            json!({"ContentType": "text/plain"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/message",
            Some(&conn),
            json!({"ContentType": "application/json", "Content": "{nope"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/message",
            Some(&conn),
            json!({"ContentType": "text/plain", "Content": "x".repeat(20_000)}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/message",
            Some(&conn),
            json!({"ContentType": "text/plain", "Content": "x", "ClientToken": ""}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/event",
            Some(&conn),
            json!({"ContentType": "application/vnd.amazonaws.connect.event.chat.ended"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/event",
            Some(&conn),
            json!({"ContentType": "application/vnd.amazonaws.connect.event.message.read", "Content": "{}"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/event",
            Some(&conn),
            json!({"ContentType": "application/vnd.amazonaws.connect.event.message.read", "Content": "{\"messageId\":\"evt_01JDZ3Q5W7Y3J8M2V6X4T9R0PA\"}"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/transcript",
            Some(&conn),
            json!({"MaxResults": "ten"}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
        (
            "/participant/attachment",
            Some(&conn),
            json!({"AttachmentId": "att_01JDZ3Q5W7Y3J8M2V6X4T9R0PA"}),
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
        ),
        (
            "/participant/complete-attachment-upload",
            Some(&conn),
            json!({"AttachmentIds": []}),
            StatusCode::BAD_REQUEST,
            "ValidationException",
        ),
    ];
    for (path, bearer, body, status, exception) in cases {
        let a = call(&app, Method::POST, path, bearer, Some(body.clone())).await;
        assert_eq!((a.status, a.exception()), (status, exception), "{path} {body}: {a:?}");
        assert!(a.json["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {a:?}");
        assert!(a.json["__type"].as_str().unwrap().ends_with(exception), "{a:?}");
    }
    // A body that is not JSON at all.
    let res =
        app.http.post(app.url("/participant/message")).header("x-amz-bearer", &conn).body("{{{").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers()["x-amzn-errortype"].to_str().unwrap().starts_with("ValidationException"));
    // A bad or missing ticket never opens a socket.
    for bad in [url.replace("t=sbw_", "t=sbw_x"), url.split('?').next().unwrap().to_owned()] {
        let e = tokio_tungstenite::connect_async(bad.as_str()).await.expect_err("refused");
        let tokio_tungstenite::tungstenite::Error::Http(res) = e else { panic!("{e}") };
        assert_eq!(res.status(), 403);
    }
    // A socket ignores nothing silently: a bad frame gets the failure frame, and the socket lives on.
    let mut socket = Socket::open(&url).await;
    socket.send(json!({"topic": "aws/nope"})).await;
    let failure = socket.reply().await;
    assert_eq!(failure["message"], "Forbidden", "{failure}");
    socket.send(json!({"topic": "aws/heartbeat"})).await;
    assert_eq!(socket.reply().await, json!({"topic": "aws/heartbeat"}));
    // Revoking the customer's tokens revokes its connection tokens too.
    let path = format!("/api/v1/conversations/{}/participants/{}/tokens", chat.id, chat.customer_id);
    app.admin(Method::DELETE, &path, None).await;
    let a = call(&app, Method::POST, "/participant/message", Some(&conn), Some(text)).await;
    assert_eq!((a.status, a.exception()), (StatusCode::FORBIDDEN, "AccessDeniedException"));
    // The dialect's requests are in the server's metrics, by route.
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for route in ["/participant/message", "/participant/connection", "/participant/transcript"] {
        assert!(metrics.contains(&format!("route=\"{route}\"")), "{route} is not in /metrics");
    }
    // Browsers may call: the preflight names the SDK's headers and exposes the error headers.
    let pre = app
        .http
        .request(Method::OPTIONS, app.url("/participant/message"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-amz-bearer,content-type,x-amz-user-agent,amz-sdk-invocation-id")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    let allowed = pre.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("x-amz-bearer") && allowed.contains("amz-sdk-invocation-id"), "{allowed}");
}

/// A flow's form for the customer arrives as an interactive message with a
/// view token; DescribeView describes it, and the interactive response
/// answers it, checked like any form.
async fn a_flow_form_is_a_view_answered_by_an_interactive_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let flow = "name: survey\nside: customer\nsteps:\n  ask:\n    type: show_form\n    form:\n      name: survey\n      \
                title: How did we do?\n      fields:\n        - { name: score, label: Score, type: number, min: 1, max: 5, required: true }\n        \
                - { name: channel, type: choice, choices: [Email, Phone] }\n    into: answers\n    next: end\n";
    crate::flow_steps::deploy(&app, flow).await;
    let chat = app.chat().await;
    let (url, conn) = connection(&app, &chat.customer).await;
    let mut socket = Socket::open(&url).await;
    app.admin(Method::POST, "/api/v1/flows/survey/runs", Some(json!({"conversation_id": chat.id}))).await;
    let shown = socket.item_with("application/vnd.amazonaws.connect.message.interactive").await;
    assert_eq!(shown["Type"], "MESSAGE");
    let content: Value = serde_json::from_str(shown["Content"].as_str().unwrap()).unwrap();
    assert_eq!(content["templateType"], "ViewResource", "{content}");
    let token = content["data"]["content"]["viewToken"].as_str().unwrap().to_owned();

    let view = call(&app, Method::GET, &format!("/participant/views/{token}"), Some(&conn), None).await;
    assert_eq!(view.status, StatusCode::OK, "{view:?}");
    let v = &view.json["View"];
    assert_eq!(
        (v["Id"].as_str(), v["Name"].as_str(), v["Version"].as_i64()),
        (Some(token.as_str()), Some("How did we do?"), Some(1))
    );
    let schema: Value = serde_json::from_str(v["Content"]["InputSchema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["required"], json!(["score"]));
    assert_eq!(
        schema["properties"]["score"],
        json!({"type": "number", "title": "Score", "minimum": 1.0, "maximum": 5.0})
    );
    assert_eq!(schema["properties"]["channel"]["enum"], json!(["Email", "Phone"]));
    assert_eq!(v["Content"]["Actions"], json!(["Submit"]));

    let answer = |values: Value| {
        json!({
            "ContentType": "application/vnd.amazonaws.connect.message.interactive.response",
            "Content": json!({"viewToken": token, "action": "Submit", "values": values}).to_string(),
        })
    };
    let bad = call(&app, Method::POST, "/participant/message", Some(&conn), Some(answer(json!({"score": 9})))).await;
    assert_eq!((bad.status, bad.exception()), (StatusCode::BAD_REQUEST, "ValidationException"), "{bad:?}");
    assert!(bad.json["message"].as_str().unwrap().contains("values.score"), "{bad:?}");
    post(&app, "/participant/message", &conn, answer(json!({"score": 4, "channel": "Email"}))).await;
    let echoed = socket.item_with("application/vnd.amazonaws.connect.message.interactive.response").await;
    let echoed: Value = serde_json::from_str(echoed["Content"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["values"], json!({"score": 4, "channel": "Email"}));
    let twice = call(&app, Method::POST, "/participant/message", Some(&conn), Some(answer(json!({"score": 3})))).await;
    assert_eq!((twice.status, twice.exception()), (StatusCode::CONFLICT, "ConflictException"), "{twice:?}");
    // Another chat's participant cannot see the view.
    let other = app.chat().await;
    let (_, other_conn) = connection(&app, &other.customer).await;
    let hidden = call(&app, Method::GET, &format!("/participant/views/{token}"), Some(&other_conn), None).await;
    assert_eq!((hidden.status, hidden.exception()), (StatusCode::NOT_FOUND, "ResourceNotFoundException"));
    let nonsense = call(&app, Method::GET, "/participant/views/view%20tok%2F1", Some(&conn), None).await;
    assert_eq!((nonsense.status, nonsense.exception()), (StatusCode::NOT_FOUND, "ResourceNotFoundException"));
}

/// Tokens are not stored: a connection token and a socket URL issued
/// before a restart hold after it, and what was said meanwhile is read back.
async fn connection_tokens_and_socket_urls_survive_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let (url, conn) = connection(&app, &chat.customer).await;
    let said = native_say(&app, &chat, &chat.agent, "before the restart").await;
    let app = app.restart().await;
    // The server may listen elsewhere now: the same ticket on its new address.
    let ticket = url.split("?t=").nth(1).unwrap();
    let mut socket = Socket::open(&format!("ws://{}/connect/ws?t={ticket}", app.addr)).await;
    assert_eq!(socket.item_of("MESSAGE").await["Id"], said["id"]);
    post(&app, "/participant/message", &conn, json!({"ContentType": "text/plain", "Content": "after"})).await;
    assert_eq!(socket.item_of("MESSAGE").await["Content"], "after");
}

/// Two servers on one PostgreSQL: the connection is made on one, the socket
/// opened on the other, and items said on either reach it once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
async fn a_socket_on_one_node_hears_what_is_said_on_the_other() {
    let (one, two) = TestApp::two_on_one_postgres().await;
    let chat = one.chat().await;
    let (url, conn) = connection(&one, &chat.customer).await;
    let ticket = url.split("?t=").nth(1).unwrap();
    let mut socket = Socket::open(&format!("ws://{}/connect/ws?t={ticket}", two.addr)).await;
    native_say(&one, &chat, &chat.agent, "from one").await;
    post(&two, "/participant/message", &conn, json!({"ContentType": "text/plain", "Content": "to two"})).await;
    native_say(&two, &chat, &chat.agent, "from two").await;
    let mut heard = Vec::new();
    while heard.len() < 3 {
        heard.push(socket.item_of("MESSAGE").await["Content"].as_str().unwrap().to_owned());
    }
    assert_eq!(heard, ["from one", "to two", "from two"]);
}

both_backends!(
    a_customer_chats_through_the_participant_service_with_a_native_agent,
    get_transcript_scans_both_ways_from_every_start_position,
    a_reconnect_and_the_transcript_leave_no_hole_and_repeat_nothing,
    silent_monitors_stay_hidden,
    files_go_up_and_come_down_through_the_dialect,
    bad_and_unauthenticated_requests_get_the_aws_error_shape,
    connection_tokens_and_socket_urls_survive_a_restart,
    a_flow_form_is_a_view_answered_by_an_interactive_response,
);
