//! Attachments end to end, on a directory and on an S3-compatible bucket:
//! start, the bytes to the signed URL, complete, the `attachment` event,
//! downloads and thumbnails through short-lived links; every refusal (size
//! announced or streamed, type by name and by bytes, links forged, reused or
//! of the wrong kind, callers from elsewhere) leaving nothing stored; the
//! scan hook as a command and as an HTTP endpoint; the sweep of abandoned
//! uploads; `initFileTransfer` from request to `file.received`, and the
//! customer declining.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard::Config;
use switchboard_core::files::blobs::Blobs;
use switchboard_store::blobs::{ObjectBlobs, S3Config};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, Chat, PROMPTLY, TestApp};
use crate::routing::{agent, online, queue, take_chat};
use crate::webhooks::Receiver;

/// A PNG of `w`×`h` pixels.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn attachments_path(chat: &str) -> String {
    format!("/api/v1/conversations/{chat}/attachments")
}

/// Announces a file; the status and the answer.
async fn start(app: &TestApp, chat: &str, token: &str, name: &str, ct: &str, size: usize) -> (StatusCode, Value) {
    let body = json!({"name": name, "content_type": ct, "size": size});
    app.call(Method::POST, &attachments_path(chat), Some(token), Some(body)).await
}

/// Announces a file that must be accepted: its id and upload URL.
async fn started(app: &TestApp, chat: &str, token: &str, name: &str, ct: &str, size: usize) -> (String, String) {
    let (status, body) = start(app, chat, token, name, ct, size).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["attachment"]["status"], "uploading");
    assert_eq!(body["upload"]["method"], "PUT");
    (body["attachment"]["id"].as_str().unwrap().to_owned(), body["upload"]["url"].as_str().unwrap().to_owned())
}

/// Sends a body to a URL with PUT; the status and answer.
async fn put(app: &TestApp, url: &str, body: reqwest::Body) -> (StatusCode, Value) {
    let res = app.http.put(url).body(body).send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A body sent in chunks, without a Content-Length.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

async fn complete(app: &TestApp, chat: &str, token: &str, att: &str) -> (StatusCode, Value) {
    app.call(Method::POST, &format!("{}/{att}/complete", attachments_path(chat)), Some(token), None).await
}

/// Uploads `bytes` as `name` and completes it: the completion's answer.
async fn share(app: &TestApp, chat: &str, token: &str, name: &str, ct: &str, bytes: &[u8]) -> Value {
    let (att, url) = started(app, chat, token, name, ct, bytes.len()).await;
    let (status, body) = put(app, &url, bytes.to_vec().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = complete(app, chat, token, &att).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The customer answers file request `request` with `bytes` as `name`.
pub(crate) async fn answer_request(
    app: &TestApp,
    chat: &str,
    customer: &str,
    request: &str,
    (name, ct, bytes): (&str, &str, &[u8]),
) -> Value {
    let body = json!({"name": name, "content_type": ct, "size": bytes.len(), "request_id": request});
    let (status, body) = app.call(Method::POST, &attachments_path(chat), Some(customer), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let att = body["attachment"]["id"].as_str().unwrap().to_owned();
    let (status, b) = put(app, body["upload"]["url"].as_str().unwrap(), bytes.to_vec().into()).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let (status, b) = complete(app, chat, customer, &att).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b
}

pub(crate) const PDF: &[u8] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";

async fn get(app: &TestApp, url: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let res = app.http.get(url).send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.unwrap().to_vec())
}

/// The attachment as `token` sees it.
async fn view(app: &TestApp, chat: &str, token: &str, att: &str) -> (StatusCode, Value) {
    app.call(Method::GET, &format!("{}/{att}", attachments_path(chat)), Some(token), None).await
}

/// Where the server under test keeps its files, to look behind its back.
fn blobs_of(config: &Config) -> ObjectBlobs {
    match &config.files.s3_bucket {
        Some(bucket) => ObjectBlobs::s3(&S3Config {
            bucket: bucket.clone(),
            endpoint: config.files.s3_endpoint.clone(),
            region: config.files.s3_region.clone(),
            access_key_id: config.files.s3_access_key_id.clone(),
            secret_access_key: config.files.s3_secret_access_key.clone(),
        })
        .unwrap(),
        None => ObjectBlobs::local(&config.storage.data_dir.join("files")).unwrap(),
    }
}

/// Every object stored for a conversation.
async fn stored(app: &TestApp, workspace_chat_prefix: &str) -> Vec<String> {
    blobs_of(&app.config).list(workspace_chat_prefix).await.unwrap()
}

/// The conversation's own prefix in the blob store.
async fn prefix_of(app: &TestApp, chat: &str) -> String {
    let c = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}"), None).await;
    let workspace = switchboard_core::ids::WorkspaceId::parse(c["workspace_id"].as_str().unwrap()).unwrap();
    let conversation = switchboard_core::ids::ConversationId::parse(chat).unwrap();
    switchboard_core::files::conversation_prefix(workspace, conversation)
}

// ---------------------------------------------------------------------------
// The round trip and the refusals, for any storage.
// ---------------------------------------------------------------------------

/// A customer shares an image; the agent sees the event, reads the file and
/// its thumbnail through the links; headers keep browsers from running it.
async fn round_trip(app: &TestApp) {
    let chat = app.chat().await;
    let mut agent_ws = app.ws(&chat.agent, None).await;
    let image = png(640, 480);
    let done = share(app, &chat.id, &chat.customer, "receipt photo.png", "image/png", &image).await;
    let att = done["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(done["event"]["type"], "attachment");
    assert_eq!(done["attachment"]["status"], "approved");
    assert_eq!(done["attachment"]["sha256"], sha256_hex(&image));
    assert_eq!(done["attachment"]["size"], image.len());
    let event = loop {
        let e = agent_ws.event().await;
        if e["type"] == "attachment" {
            break e;
        }
    };
    assert_eq!(event["attachment_id"], att.as_str());
    assert_eq!(event["name"], "receipt photo.png");

    let (status, seen) = view(app, &chat.id, &chat.agent, &att).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let (status, headers, bytes) = get(app, seen["download"]["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, image, "the file comes back byte for byte");
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.contains("receipt%20photo.png"), "{disposition}");

    let (status, headers, thumb) = get(app, seen["thumbnail"]["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    let small = image::load_from_memory(&thumb).unwrap();
    assert!(small.width() <= 256 && small.height() <= 256, "{}x{}", small.width(), small.height());

    // The list shows it to both sides; the transcript has the event.
    let (_, list) = app.call(Method::GET, &attachments_path(&chat.id), Some(&chat.customer), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(app.transcript(&chat.id).await.iter().any(|e| e["type"] == "attachment" && e["attachment_id"] == *att));
    // A text file has no thumbnail.
    let done = share(app, &chat.id, &chat.agent, "notes.txt", "text/plain", b"line one\nline two\n").await;
    assert!(done["attachment"]["thumbnail"].is_null(), "{done}");
    let (_, headers, _) = get(app, done["attachment"]["download"]["url"].as_str().unwrap()).await;
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
}

/// Each wrong announcement, body, link or caller gets its own clear error,
/// and a refused upload leaves nothing stored.
async fn refusals(app: &TestApp) {
    let chat = app.chat().await;
    let (c, t) = (chat.id.as_str(), chat.customer.as_str());
    let expect = |status: StatusCode, body: &Value, want: StatusCode, code: &str, what: &str| {
        assert_eq!(status, want, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
    };
    // The announcement.
    let (s, b) = start(app, c, t, "page.html", "text/html", 10).await;
    expect(s, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "a type not accepted");
    let (s, b) = start(app, c, t, "photo.pdf", "image/png", 10).await;
    expect(s, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "a name that is not a PNG's");
    let (s, b) = start(app, c, t, "big.png", "image/png", 21 << 20).await;
    expect(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "over the 20 MiB default");
    let (s, b) = start(app, c, t, "../../etc/a.png", "image/png", 10).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")), "a path: {b}");
    let (s, b) = start(app, c, t, "empty.png", "image/png", 0).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "an empty file: {b}");
    let (s, b) = app
        .call(Method::POST, &attachments_path(c), Some(t), Some(json!({"name": "a.png", "content_type": "image/png"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no size: {b}");
    let other = app.chat().await;
    let (s, b) = start(app, c, &other.customer, "a.png", "image/png", 10).await;
    assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "another chat's customer: {s} {b}");

    let image = png(32, 32);
    let (att, url) = started(app, c, t, "a.png", "image/png", image.len()).await;
    let prefix = prefix_of(app, c).await;
    // Bytes that are not a PNG: refused before anything is stored.
    let mut fake = b"MZ\x90\x00 this is not an image at all ".to_vec();
    fake.resize(image.len(), b'x');
    let (s, b) = put(app, &url, fake.clone().into()).await;
    expect(s, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "bytes that are not a PNG");
    // More than announced: at once from the Content-Length, while streaming without one.
    let mut longer = image.clone();
    longer.extend_from_slice(&[0; 1000]);
    let (s, b) = put(app, &url, longer.clone().into()).await;
    expect(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "a Content-Length over the announced size");
    let (s, b) = put(app, &url, chunked(longer)).await;
    expect(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "streamed past the announced size");
    let (s, b) = put(app, &url, chunked(image[..image.len() - 1].to_vec())).await;
    expect(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "fewer bytes than announced");
    assert_eq!(stored(app, &prefix).await, Vec::<String>::new(), "refused uploads leave nothing");
    // Links that are not this one.
    let forged = url.replace("sig=", "sig=AAAA");
    let (s, b) = put(app, &forged, image.clone().into()).await;
    expect(s, &b, StatusCode::UNAUTHORIZED, "unauthenticated", "a forged signature");
    let later = {
        let (head, tail) = url.split_once("expires=").unwrap();
        let (millis, rest) = tail.split_once('&').unwrap();
        format!("{head}expires={}&{rest}", millis.parse::<i64>().unwrap() + 3_600_000)
    };
    let (s, b) = put(app, &later, image.clone().into()).await;
    expect(s, &b, StatusCode::UNAUTHORIZED, "unauthenticated", "a link whose expiry was pushed back");
    let (other_att, _) = started(app, c, t, "b.png", "image/png", image.len()).await;
    let (s, b) = put(app, &url.replace(&att, &other_att), image.clone().into()).await;
    expect(s, &b, StatusCode::UNAUTHORIZED, "unauthenticated", "one file's link used for another");
    let (s, b) = put(app, &url.replace("?", "?x=1&"), image.clone().into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "an unknown query field: {b}");
    // Completing before the bytes are in.
    let (s, b) = complete(app, c, t, &att).await;
    expect(s, &b, StatusCode::CONFLICT, "conflict", "completing with no bytes");
    // The right bytes, once.
    let (s, b) = put(app, &url, image.clone().into()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = put(app, &url, image.clone().into()).await;
    expect(s, &b, StatusCode::CONFLICT, "conflict", "the bytes sent twice");
    // Only the uploader sees an upload in progress, and only it completes it.
    let (s, _) = view(app, c, &chat.agent, &att).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the agent does not see an upload in progress");
    let (s, b) = complete(app, c, &chat.agent, &att).await;
    assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "someone else completing: {s} {b}");
    let (s, done) = complete(app, c, t, &att).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let (s, b) = complete(app, c, t, &att).await;
    expect(s, &b, StatusCode::CONFLICT, "conflict", "completed twice");
    // Download links: the upload link does not read; the grant is checked; another chat cannot see it.
    let download = done["attachment"]["download"]["url"].as_str().unwrap().to_owned();
    let upload_as_download = url.replace("/uploads/", "/files/").replace("?expires", "?grant=download&expires");
    let (s, _, _) = get(app, &upload_as_download).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "an upload link's signature does not download");
    let (s, _, _) = get(app, &download.replace("grant=download", "grant=thumbnail")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a download signature does not read the thumbnail");
    let (s, _, _) = get(app, &download.replace("grant=download", "grant=everything")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = view(app, c, &other.customer, &att).await;
    assert!(matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "another chat's customer: {s} {b}");
    let (s, b) = view(app, &other.id, &other.customer, &att).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not an attachment of that chat: {b}");
    let (s, _, bytes) = get(app, &download).await;
    assert_eq!((s, bytes), (StatusCode::OK, image));
    // After the chat ends nothing new is shared, but its files stay readable.
    app.admin(Method::POST, &format!("/api/v1/conversations/{c}/end"), Some(json!({}))).await;
    let (s, b) = start(app, c, t, "b.png", "image/png", 10).await;
    expect(s, &b, StatusCode::CONFLICT, "conversation_ended", "a file into an ended chat");
    let (s, b) = view(app, c, t, &att).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// The workspace's rules: read, changed, refused when wrong, and applied.
async fn settings(app: &TestApp) {
    let s = app.admin(Method::GET, "/api/v1/settings", None).await;
    assert_eq!(s["files"]["max_bytes"], 20 << 20);
    assert!(s["files"]["allowed_types"].as_array().unwrap().iter().any(|t| t == "application/pdf"));
    let chat = app.chat().await;
    let (status, body) = app.call(Method::GET, "/api/v1/settings", Some(&chat.customer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/settings",
            Some(ADMIN_KEY),
            Some(json!({"files": {"allowed_types": ["text/html"]}})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("files.allowed_types[0]"))
    );
    let (status, body) =
        app.call(Method::PUT, "/api/v1/settings", Some(ADMIN_KEY), Some(json!({"files": {"max_bytes": 0}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/settings",
            Some(ADMIN_KEY),
            Some(json!({"retention": {"ended_conversations_days": 0}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        app.call(Method::PUT, "/api/v1/settings", Some(ADMIN_KEY), Some(json!({"files": {"max_size": 1}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown field: {body}");
    let put = json!({
        "files": {"max_bytes": 1000, "allowed_types": ["text/plain"]},
        "retention": {"ended_conversations_days": 30},
        "canned_responses": [{"id": "hi", "title": "Greeting", "text": "Hello!"}],
    });
    assert_eq!(app.admin(Method::PUT, "/api/v1/settings", Some(put.clone())).await, put);
    assert_eq!(app.admin(Method::GET, "/api/v1/settings", None).await, put);
    let (status, _) = start(app, &chat.id, &chat.customer, "a.png", "image/png", 10).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "PNG is no longer allowed");
    let (status, _) = start(app, &chat.id, &chat.customer, "a.txt", "text/plain", 1001).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = start(app, &chat.id, &chat.customer, "a.txt", "text/plain", 1000).await;
    assert_eq!(status, StatusCode::CREATED);
    // Back to the defaults: every field left out.
    let defaults = app.admin(Method::PUT, "/api/v1/settings", Some(json!({}))).await;
    assert_eq!(defaults["files"]["max_bytes"], 20 << 20);
}

async fn local_round_trip(backend: Backend) {
    round_trip(&TestApp::spawn(backend).await).await;
}

async fn local_refusals(backend: Backend) {
    refusals(&TestApp::spawn(backend).await).await;
}

async fn workspace_file_settings(backend: Backend) {
    settings(&TestApp::spawn(backend).await).await;
}

// ---------------------------------------------------------------------------
// initFileTransfer.
// ---------------------------------------------------------------------------

/// An agent asks for a file for a record; the customer sends it; the request
/// is fulfilled and `file.received` reaches the agent's socket and a webhook
/// with the record id. A second request is declined by the customer.
async fn file_request_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut crm = Receiver::start(200).await;
    let body = json!({"url": crm.url, "events": ["attachment", "file.received", "file.request_declined"]});
    let (status, hook) = app.call(Method::POST, "/api/v1/webhooks", Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let q = queue(&app, "general", json!({})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut ws, &q).await;
    let requests = format!("/api/v1/conversations/{chat}/file-requests");
    let (status, created) =
        app.call(Method::POST, &requests, Some(&ann.token), Some(json!({"record_id": "500Kx0001"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let request = created["request"]["id"].as_str().unwrap().to_owned();

    // The agent cannot answer its own request; the customer can, once.
    let body = json!({"name": "id.pdf", "content_type": "application/pdf", "size": 20, "request_id": request});
    let (status, _) = app.call(Method::POST, &attachments_path(&chat), Some(&ann.token), Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the customer answers a file request");
    let pdf = PDF.to_vec();
    let done = answer_request(&app, &chat, &customer, &request, ("id.pdf", "application/pdf", &pdf)).await;
    let att = done["attachment"]["id"].as_str().unwrap().to_owned();

    let received = loop {
        let f = ws.frame_of("event").await;
        if f["event"]["type"] == "file.received" {
            break f["event"].clone();
        }
    };
    assert_eq!(
        (received["request_id"].as_str(), received["attachment_id"].as_str(), received["record_id"].as_str()),
        (Some(request.as_str()), Some(att.as_str()), Some("500Kx0001"))
    );
    let (_, list) = app.call(Method::GET, &requests, Some(&ann.token), None).await;
    assert_eq!(list[0]["state"], "fulfilled", "{list}");
    // The webhook is told, in the order committed.
    let told: Vec<Value> = [crm.next().await.json(), crm.next().await.json()].into();
    assert_eq!((told[0]["type"].as_str(), told[1]["type"].as_str()), (Some("attachment"), Some("file.received")));
    assert_eq!(told[1]["data"]["record_id"], "500Kx0001", "{}", told[1]);
    let (_, seen) = view(&app, &chat, &ann.token, &att).await;
    assert_eq!(seen["request_id"], request.as_str());
    let (_, _, bytes) = get(&app, seen["download"]["url"].as_str().unwrap()).await;
    assert_eq!(bytes, pdf);
    // A fulfilled request takes no second file.
    let body = json!({"name": "b.pdf", "content_type": "application/pdf", "size": 20, "request_id": request});
    let (status, b) = app.call(Method::POST, &attachments_path(&chat), Some(&customer), Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");

    // Declined: by the customer only, once.
    let (_, created) =
        app.call(Method::POST, &requests, Some(&ann.token), Some(json!({"record_id": "500Kx0002"}))).await;
    let second = created["request"]["id"].as_str().unwrap().to_owned();
    let decline = format!("{requests}/{second}/decline");
    let (status, _) = app.call(Method::POST, &decline, Some(&ann.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the agent does not decline for the customer");
    let (status, event) = app.call(Method::POST, &decline, Some(&customer), None).await;
    assert_eq!((status, event["type"].as_str()), (StatusCode::OK, Some("file.request_declined")), "{event}");
    let declined = loop {
        let e = ws.event().await;
        if e["type"] == "file.request_declined" {
            break e;
        }
    };
    assert_eq!(declined["request_id"], second.as_str());
    assert_eq!(crm.next().await.json()["type"], "file.request_declined");
    let (status, _) = app.call(Method::POST, &decline, Some(&customer), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "declined already");
    let (_, list) = app.call(Method::GET, &requests, Some(&ann.token), None).await;
    let states: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert!(states.contains(&"declined") && states.contains(&"fulfilled"), "{states:?}");
}

// ---------------------------------------------------------------------------
// The scan hook and the sweep.
// ---------------------------------------------------------------------------

/// A file waits for the hook's verdict: meanwhile only its uploader reads it;
/// approved, everyone may; rejected, its bytes are deleted.
async fn scanned(app: &TestApp, chat: &Chat) {
    let mut agent_ws = app.ws(&chat.agent, None).await;
    let clean = share(app, &chat.id, &chat.customer, "ok.txt", "text/plain", b"all good\n").await;
    assert_eq!(clean["attachment"]["status"], "scanning");
    assert!(clean["attachment"]["download"]["url"].is_string(), "the uploader reads its own file: {clean}");
    let clean_id = clean["attachment"]["id"].as_str().unwrap().to_owned();
    let verdict = scanned_event(&mut agent_ws, &clean_id).await;
    assert_eq!(verdict["status"], "approved", "{verdict}");
    let (_, seen) = view(app, &chat.id, &chat.agent, &clean_id).await;
    assert_eq!(seen["status"], "approved");
    let (status, _, bytes) = get(app, seen["download"]["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"all good\n"[..]));

    let bad = share(app, &chat.id, &chat.customer, "bad.txt", "text/plain", b"EICAR-TEST-SIGNATURE\n").await;
    let bad_id = bad["attachment"]["id"].as_str().unwrap().to_owned();
    let (_, seen) = view(app, &chat.id, &chat.agent, &bad_id).await;
    assert!(seen["download"].is_null(), "the agent waits for the verdict: {seen}");
    let verdict = scanned_event(&mut agent_ws, &bad_id).await;
    assert_eq!((verdict["status"].as_str(), verdict["reason"].as_str()), (Some("rejected"), Some("infected")));
    let (_, seen) = view(app, &chat.id, &chat.customer, &bad_id).await;
    assert!(seen["download"].is_null(), "nobody reads a rejected file: {seen}");
    let (status, _, _) = get(app, bad["attachment"]["download"]["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the uploader's old link is dead too");
    // Its bytes go (through the outbox, after the verdict's commit); the clean file's stay.
    let prefix = prefix_of(app, &chat.id).await;
    eventually(|| async { stored(app, &prefix).await.iter().all(|k| !k.contains(&bad_id)) }).await;
    assert!(stored(app, &prefix).await.iter().any(|k| k.contains(&clean_id)));
}

async fn scanned_event(ws: &mut crate::harness::Ws, att: &str) -> Value {
    loop {
        let e = ws.event().await;
        if e["type"] == "attachment.scanned" && e["attachment_id"] == att {
            return e;
        }
    }
}

/// Waits until `check` holds, looking again every few milliseconds, for up
/// to [`PROMPTLY`].
async fn eventually<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "the condition did not come true in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn scan_hook_command(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.files.scan_command = Some("if grep -q EICAR; then echo infected; exit 1; fi".into());
    })
    .await;
    let chat = app.chat().await;
    scanned(&app, &chat).await;
}

/// A scan endpoint that rejects bodies containing "EICAR" and checks the
/// headers it is sent.
async fn scan_endpoint() -> SocketAddr {
    use axum::routing::post;
    async fn verdict(headers: axum::http::HeaderMap, body: axum::body::Bytes) -> axum::Json<Value> {
        let sha: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(headers["x-switchboard-sha256"].to_str().unwrap(), sha, "the hook is told the digest");
        let infected = body.windows(5).any(|w| w == b"EICAR");
        axum::Json(if infected { json!({"approved": false, "reason": "infected"}) } else { json!({"approved": true}) })
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().route("/scan", post(verdict))).await });
    addr
}

async fn scan_hook_http(backend: Backend) {
    let hook = scan_endpoint().await;
    let app = TestApp::spawn_with(backend, |c| c.files.scan_url = Some(format!("http://{hook}/scan"))).await;
    let chat = app.chat().await;
    scanned(&app, &chat).await;
}

/// An upload never completed is swept when its link expires: its row and
/// its bytes go, and its link no longer takes bytes.
async fn abandoned_uploads_are_swept(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.files.upload_secs = 1).await;
    let chat = app.chat().await;
    let image = png(16, 16);
    let (att, url) = started(&app, &chat.id, &chat.customer, "a.png", "image/png", image.len()).await;
    let (status, b) = put(&app, &url, image.clone().into()).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let prefix = prefix_of(&app, &chat.id).await;
    assert!(!stored(&app, &prefix).await.is_empty(), "the bytes are in");
    // The sweep is a stored timer: wait for its effect.
    eventually(|| async { view(&app, &chat.id, &chat.customer, &att).await.0 == StatusCode::NOT_FOUND }).await;
    eventually(|| async { stored(&app, &prefix).await.is_empty() }).await;
    let (status, b) = complete(&app, &chat.id, &chat.customer, &att).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{b}");
    assert!(!app.transcript(&chat.id).await.iter().any(|e| e["type"] == "attachment"), "nothing entered the log");
}

/// A 200 MiB file streams through: the process's resident memory grows by a
/// few MiB, not by the file (`switchboard-loadgen files` measures the server
/// process alone).
async fn large_upload_streams(backend: Backend) {
    const SIZE: usize = 200 << 20;
    let app = TestApp::spawn(backend).await;
    app.admin(Method::PUT, "/api/v1/settings", Some(json!({"files": {"max_bytes": SIZE}}))).await;
    let chat = app.chat().await;
    let (att, url) = started(&app, &chat.id, &chat.customer, "big.csv", "text/csv", SIZE).await;
    let before = rss_bytes();
    let chunk = "id,amount\n".repeat(6_554).into_bytes(); // 65,540 bytes
    let chunks = (0..SIZE.div_ceil(chunk.len())).map(move |i| {
        let end = ((i + 1) * 65_540).min(SIZE) - i * 65_540;
        Ok::<_, std::io::Error>(chunk[..end].to_vec())
    });
    let (status, b) = put(&app, &url, reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    // The server and this client share the process: together they grow by
    // a few MiB (buffers, the allocator's caches), not by the file.
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 24 << 20, "resident memory grew by {} KiB for a {SIZE}-byte upload", grown >> 10);
    let (status, b) = complete(&app, &chat.id, &chat.customer, &att).await;
    assert_eq!((status, b["attachment"]["size"].as_u64()), (StatusCode::OK, Some(SIZE as u64)), "{b}");
    // And back out, counted without keeping it.
    let res = app.http.get(b["attachment"]["download"]["url"].as_str().unwrap()).send().await.unwrap();
    let mut body = res.bytes_stream();
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, SIZE);
}

/// This process's resident memory (the server under test runs in it).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

both_backends!(
    local_round_trip,
    local_refusals,
    workspace_file_settings,
    file_request_end_to_end,
    scan_hook_command,
    scan_hook_http,
    abandoned_uploads_are_swept,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_through() {
    large_upload_streams(Backend::Sqlite).await;
}

// ---------------------------------------------------------------------------
// The same on an S3-compatible bucket (moto's server, started here).
// ---------------------------------------------------------------------------

/// A local S3-compatible server (`moto_server`, from PyPI's `moto[server]`),
/// with a fresh bucket; stopped when dropped.
pub struct S3Server {
    child: std::process::Child,
    pub endpoint: String,
    pub bucket: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    pub async fn start() -> Arc<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server runs (pip install \"moto[server]\"; .ci/run installs it)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = Self { child, endpoint, bucket: format!("sb-{}", std::process::id()) };
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            // Creating the bucket is also the readiness check.
            if let Ok(r) = http.put(format!("{}/{}", server.endpoint, server.bucket)).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Arc::new(server)
    }

    pub fn configure(&self, c: &mut Config) {
        c.files.s3_bucket = Some(self.bucket.clone());
        c.files.s3_endpoint = Some(self.endpoint.clone());
        c.files.s3_access_key_id = Some("test".into());
        c.files.s3_secret_access_key = Some("test".into());
    }
}

async fn s3_app(s3: &S3Server) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| s3.configure(c)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_round_trip_and_refusals() {
    let s3 = S3Server::start().await;
    let app = s3_app(&s3).await;
    round_trip(&app).await;
    refusals(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_scan_and_sweep() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        s3.configure(c);
        c.files.scan_command = Some("if grep -q EICAR; then echo infected; exit 1; fi".into());
    })
    .await;
    let chat = app.chat().await;
    scanned(&app, &chat).await;
}

/// Erasing a conversation deletes its files from the bucket too (through the
/// outbox, after the erasure commits); another chat's files stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_erasure_empties_the_conversations_prefix() {
    let s3 = S3Server::start().await;
    let app = s3_app(&s3).await;
    let (gone, kept) = (app.chat().await, app.chat().await);
    for chat in [&gone, &kept] {
        share(&app, &chat.id, &chat.customer, "a.png", "image/png", &png(64, 64)).await;
        share(&app, &chat.id, &chat.agent, "b.txt", "text/plain", b"notes\n").await;
    }
    let (gone_prefix, kept_prefix) = (prefix_of(&app, &gone.id).await, prefix_of(&app, &kept.id).await);
    assert_eq!(stored(&app, &gone_prefix).await.len(), 3, "two files and a thumbnail");
    let (status, body) =
        app.call(Method::DELETE, &format!("/api/v1/conversations/{}?end=true", gone.id), Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually(|| async { stored(&app, &gone_prefix).await.is_empty() }).await;
    assert_eq!(stored(&app, &kept_prefix).await.len(), 3, "the other chat's files stay");
}
