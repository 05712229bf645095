//! The access table (docs/authorization.md) against the real server: every
//! routing and toolkit endpoint, called by each kind of caller on one
//! assigned chat, answers as the table says. A refused call changes nothing
//! and reaches nobody.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp};
use crate::routing::{agent, online, queue, take_chat};

type Request = (Method, String, Option<Value>);

async fn every_caller_gets_what_the_table_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let ann = agent(&app, "Ann", 2, json!({})).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let mut ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut ws, &q).await;
    let conv = format!("/api/v1/conversations/{chat}");
    let supervisor =
        app.admin(Method::POST, &format!("{conv}/participants"), Some(json!({"role": "supervisor"}))).await;
    let supervisor = supervisor["token"].as_str().unwrap().to_owned();
    let chat_agent = app.admin(Method::POST, &format!("{conv}/participants"), Some(json!({"role": "agent"}))).await;
    let chat_agent = chat_agent["token"].as_str().unwrap().to_owned();

    let input = |text: &str| Some(json!({"text": text}));
    let get = |path: &str| (Method::GET, format!("{conv}{path}"), None::<Value>);
    let post = |path: &str, body: Option<Value>| (Method::POST, format!("{conv}{path}"), body);
    // (caller, its token, the request, the status expected)
    let cases: Vec<(&str, &str, Request, StatusCode)> = vec![
        // The two holes: a customer prefilled the agent's composer and read the routing internals.
        ("customer", &customer, post("/agent-input", input("from the customer")), StatusCode::FORBIDDEN),
        ("customer", &customer, get("/task"), StatusCode::FORBIDDEN),
        // Allowed, but an assigned chat is no longer in line.
        ("customer", &customer, get("/queue-position"), StatusCode::NOT_FOUND),
        ("customer", &customer, get("/file-requests"), StatusCode::OK),
        ("customer", &customer, post("/file-requests", Some(json!({}))), StatusCode::FORBIDDEN),
        ("customer", &customer, post("/transfer", Some(json!({"queue": "general"}))), StatusCode::FORBIDDEN),
        ("customer", &customer, post("/route", Some(json!({"queue": "general"}))), StatusCode::FORBIDDEN),
        ("customer", &customer, (Method::GET, "/api/v1/offers".into(), None), StatusCode::FORBIDDEN),
        ("customer", &customer, (Method::GET, "/api/v1/supervisor/queues".into(), None), StatusCode::FORBIDDEN),
        ("customer", &customer, (Method::GET, "/api/v1/activities".into(), None), StatusCode::FORBIDDEN),
        ("customer", &customer, (Method::GET, format!("/api/v1/agents/{}", ann.id), None), StatusCode::FORBIDDEN),
        // An agent that does not hold the chat.
        ("bob", &bob.token, post("/agent-input", input("from Bob")), StatusCode::FORBIDDEN),
        ("bob", &bob.token, get("/task"), StatusCode::FORBIDDEN),
        ("bob", &bob.token, get("/file-requests"), StatusCode::FORBIDDEN),
        ("bob", &bob.token, (Method::GET, format!("/api/v1/agents/{}", ann.id), None), StatusCode::FORBIDDEN),
        ("bob", &bob.token, (Method::GET, "/api/v1/queues".into(), None), StatusCode::FORBIDDEN),
        ("bob", &bob.token, (Method::GET, "/api/v1/activities".into(), None), StatusCode::OK),
        // A participant token of role agent (added by a key to one conversation): no workspace-wide calls.
        ("chat agent", &chat_agent, (Method::GET, "/api/v1/activities".into(), None), StatusCode::FORBIDDEN),
        ("chat agent", &chat_agent, (Method::GET, "/api/v1/offers".into(), None), StatusCode::FORBIDDEN),
        ("chat agent", &chat_agent, (Method::GET, format!("/api/v1/agents/{}", ann.id), None), StatusCode::FORBIDDEN),
        ("chat agent", &chat_agent, get("/task"), StatusCode::OK),
        // A supervisor in the chat.
        ("supervisor", &supervisor, get("/task"), StatusCode::OK),
        ("supervisor", &supervisor, post("/agent-input", input("from the supervisor")), StatusCode::FORBIDDEN),
        ("supervisor", &supervisor, (Method::GET, "/api/v1/supervisor/queues".into(), None), StatusCode::FORBIDDEN),
        // The agent who holds it, and the key.
        ("ann", &ann.token, get("/task"), StatusCode::OK),
        ("ann", &ann.token, (Method::GET, format!("/api/v1/agents/{}", ann.id), None), StatusCode::OK),
        ("ann", &ann.token, (Method::GET, "/api/v1/supervisor/queues".into(), None), StatusCode::FORBIDDEN),
        ("customer", &customer, (Method::GET, "/api/v1/message-requests".into(), None), StatusCode::FORBIDDEN),
        ("supervisor", &supervisor, (Method::GET, "/api/v1/message-requests".into(), None), StatusCode::FORBIDDEN),
        ("chat agent", &chat_agent, (Method::GET, "/api/v1/message-requests".into(), None), StatusCode::FORBIDDEN),
        ("bob", &bob.token, (Method::GET, "/api/v1/message-requests".into(), None), StatusCode::OK),
        ("key", ADMIN_KEY, (Method::GET, "/api/v1/message-requests".into(), None), StatusCode::OK),
        // The console's directory: agents and keys of the workspace.
        ("customer", &customer, (Method::GET, "/api/v1/directory".into(), None), StatusCode::FORBIDDEN),
        ("supervisor", &supervisor, (Method::GET, "/api/v1/directory".into(), None), StatusCode::FORBIDDEN),
        ("bob", &bob.token, (Method::GET, "/api/v1/directory".into(), None), StatusCode::OK),
        ("key", ADMIN_KEY, (Method::GET, "/api/v1/directory".into(), None), StatusCode::OK),
        // Access keys: a workspace key's business only.
        ("customer", &customer, (Method::GET, "/api/v1/access-keys".into(), None), StatusCode::FORBIDDEN),
        ("ann", &ann.token, (Method::GET, "/api/v1/access-keys".into(), None), StatusCode::FORBIDDEN),
        (
            "supervisor",
            &supervisor,
            (Method::POST, "/api/v1/access-keys".into(), Some(json!({"name": "s"}))),
            StatusCode::FORBIDDEN,
        ),
        ("chat agent", &chat_agent, (Method::GET, "/api/v1/access-keys".into(), None), StatusCode::FORBIDDEN),
        (
            "bob",
            &bob.token,
            (Method::DELETE, "/api/v1/access-keys/SBAKAAAAAAAAAAAAAAAA".into(), None),
            StatusCode::FORBIDDEN,
        ),
        ("key", ADMIN_KEY, (Method::GET, "/api/v1/access-keys".into(), None), StatusCode::OK),
        ("key", ADMIN_KEY, get("/task"), StatusCode::OK),
        ("key", ADMIN_KEY, (Method::GET, "/api/v1/offers".into(), None), StatusCode::FORBIDDEN),
        ("key", ADMIN_KEY, post("/agent-input", input("from the key")), StatusCode::ACCEPTED),
        ("ann", &ann.token, post("/agent-input", input("from Ann")), StatusCode::ACCEPTED),
    ];
    for (who, token, (method, path, body), expected) in cases {
        let (status, answer) = app.call(method.clone(), &path, Some(token), body).await;
        assert_eq!(status, expected, "{who} {method} {path}: {answer}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
        }
    }
    // Only the allowed prefills reached Ann's console, in order: nothing
    // from the customer, Bob or the supervisor came before them.
    assert_eq!(ws.frame_of("agent_input").await["text"], "from the key");
    assert_eq!(ws.frame_of("agent_input").await["text"], "from Ann");
}

both_backends!(every_caller_gets_what_the_table_says);
