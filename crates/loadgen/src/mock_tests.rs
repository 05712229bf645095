//! Tests of the REST side (`setup` and `verify`) against a small in-process
//! stand-in for the server's API: the real server lives in another crate, and
//! these tests pin down the request shapes, the transcript paging and what
//! counts as lost, duplicated or out of sequence.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{ACKED, NOT_SENT, REFUSED, SENT, client_token};
use crate::setup::{Api, create_conversations};
use crate::verify::{Expected, verify};

/// Each conversation's events, as the transcript would list them.
type Logs = Arc<Mutex<Vec<Vec<Value>>>>;

/// Small pages, so a handful of events already needs several requests.
const PAGE_MAX: usize = 3;

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer k")
}

fn index(id: &str) -> usize {
    id.trim_start_matches("cnv_").parse().unwrap()
}

fn push(log: &mut Vec<Value>, mut event: Value) {
    event["seq"] = json!(log.len() + 1);
    log.push(event);
}

async fn create(State(logs): State<Logs>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    assert!(authorized(&headers));
    assert_eq!(body, json!({}));
    let mut logs = logs.lock().unwrap();
    logs.push(Vec::new());
    let id = format!("cnv_{}", logs.len() - 1);
    push(logs.last_mut().unwrap(), json!({"type": "conversation.created"}));
    (StatusCode::CREATED, Json(json!({"id": id, "state": "open"})))
}

async fn add(
    State(logs): State<Logs>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    assert!(authorized(&headers));
    let role = body["role"].as_str().unwrap().to_owned();
    assert!(body["display_name"].as_str().unwrap().starts_with(&role[..1]));
    push(&mut logs.lock().unwrap()[index(&id)], json!({"type": "participant.joined"}));
    let token = format!("sbp_{id}_{role}+/");
    (StatusCode::CREATED, Json(json!({"participant": {"id": "prt_1", "role": role}, "token": token})))
}

#[derive(Deserialize)]
struct PageQuery {
    after_seq: u64,
    limit: usize,
}

/// Like the server: `next_after_seq` only when the page came back full.
async fn transcript(State(logs): State<Logs>, Path(id): Path<String>, Query(q): Query<PageQuery>) -> Json<Value> {
    let limit = q.limit.min(PAGE_MAX);
    let logs = logs.lock().unwrap();
    let events: Vec<Value> =
        logs[index(&id)].iter().filter(|e| e["seq"].as_u64().unwrap() > q.after_seq).take(limit).cloned().collect();
    let next = (events.len() == limit).then(|| events.last().map(|e| e["seq"].clone())).flatten();
    Json(json!({"events": events, "next_after_seq": next}))
}

async fn serve(logs: Logs) -> String {
    let app = Router::new()
        .route("/api/v1/conversations", post(create))
        .route("/api/v1/conversations/{id}/participants", post(add))
        .route("/api/v1/conversations/{id}/transcript", get(transcript))
        .with_state(logs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn message(token: &str) -> Value {
    json!({"type": "message", "content_type": "text/plain", "content": "x", "client_token": token})
}

#[tokio::test]
async fn setup_then_verify_counts_each_kind_of_fault() {
    let logs = Logs::default();
    let url = serve(logs.clone()).await;
    let api = Api::new(&url, "k", 4).unwrap();

    let conversations = create_conversations(&api, 4, 2).await.unwrap();
    let mut ids: Vec<String> = conversations.iter().map(|c| c.id.clone()).collect();
    let c2 = &conversations[2];
    assert_eq!(c2.tokens, [format!("sbp_{}_customer+/", c2.id), format!("sbp_{}_agent+/", c2.id)]);
    // Created concurrently, so the server's numbering need not follow the
    // run's; everything below goes through the run's index → id mapping.
    let at: Vec<usize> = ids.iter().map(|id| index(id)).collect();
    ids.sort();
    assert_eq!(ids, ["cnv_0", "cnv_1", "cnv_2", "cnv_3"]);

    let tag = "lgtest";
    let t = |conv, side, n| client_token(tag, conv, side, n);
    {
        let mut logs = logs.lock().unwrap();
        // 0: clean, spread over several pages.
        for m in [t(0, 0, 0), t(0, 1, 0), t(0, 0, 1), t(0, 1, 1)] {
            push(&mut logs[at[0]], message(&m));
        }
        // 1: (0,1) lost, (1,0) stored twice, (1,1) refused yet stored; another
        // run's token is not ours to judge.
        for m in [t(1, 0, 0), t(1, 1, 0), t(1, 1, 0), t(1, 1, 1), "lgother-1-0-1".to_owned()] {
            push(&mut logs[at[1]], message(&m));
        }
        // 2: a seq gap, and a message of conversation 3 stored here.
        push(&mut logs[at[2]], message(&t(2, 0, 0)));
        logs[at[2]].push(json!({"seq": 9, "type": "message", "client_token": t(3, 0, 0)}));
        // 3: its own message missing (it went to conversation 2).
    }
    let expected = vec![
        Expected { index: 0, id: conversations[0].id.clone(), status: [vec![ACKED, ACKED], vec![ACKED, ACKED]] },
        Expected { index: 1, id: conversations[1].id.clone(), status: [vec![ACKED, ACKED], vec![ACKED, REFUSED]] },
        Expected { index: 2, id: conversations[2].id.clone(), status: [vec![ACKED], vec![NOT_SENT]] },
        Expected { index: 3, id: conversations[3].id.clone(), status: [vec![SENT], vec![]] },
    ];
    let v = verify(&api, tag, expected, 2).await.unwrap();
    assert_eq!(v.conversations, 4);
    assert_eq!(v.events, 4 * 3 + 4 + 5 + 2);
    assert_eq!(v.messages_found, 4 + 4 + 1);
    assert_eq!((v.lost, v.duplicated, v.refused_but_stored), (1, 1, 1));
    assert_eq!((v.seq_faults, v.misrouted), (1, 1));
    assert!(!v.clean());
}

#[tokio::test]
async fn setup_reports_the_servers_refusal() {
    let app = Router::new().route(
        "/api/v1/conversations",
        post(|| async { (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "unauthenticated"}}))) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let api = Api::new(&url, "wrong", 1).unwrap();
    let err = format!("{:#}", create_conversations(&api, 1, 1).await.err().unwrap());
    assert!(err.contains("401") && err.contains("unauthenticated"), "{err}");
}
