//! The published Amazon Connect clients, unmodified, against the server:
//! ChatJS 5.0.0 and the AWS SDKs for JavaScript (`@aws-sdk/client-connect`,
//! `@aws-sdk/client-connectparticipant`), driven by the `node --test` files
//! in `crates/dialect-connect/js/test`. This test makes what they need
//! through the native API (a queue and a workflow so chats route, an agent
//! with a token, a workspace access key), hands it to them in environment
//! variables, and asserts they all passed.
//!
//! The JavaScript dependencies are pinned in that folder's
//! `package-lock.json`; the test installs them with `npm ci` there when
//! they are missing (`.ci/run` does it first).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp};
use crate::node;
use crate::routing::{agent, queue};

/// Long enough for every file, short enough that a hung client fails the run.
const NODE_TIMEOUT: Duration = Duration::from_secs(600);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dialect-connect/js")
}

async fn published_clients_pass(backend: Backend) {
    let js = js_dir();
    node::npm_ci(
        &js,
        &["amazon-connect-chatjs", "@aws-sdk/client-connectparticipant", "@aws-sdk/client-connect", "ws"],
    );
    let app = TestApp::spawn(backend).await;

    // Chats started through the entry point route to `connect`, where Ann works.
    queue(&app, "connect", json!({})).await;
    let res = app
        .http
        .put(app.url("/api/v1/workflow"))
        .bearer_auth(ADMIN_KEY)
        .body("default:\n  queue: connect\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let ann = agent(&app, "Ann", 100, json!({})).await;
    let entry_point = app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned();
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(ADMIN_KEY), None).await;
    let workspace = me["workspace_id"].as_str().expect("/api/v1/me names the workspace").to_owned();
    let (status, key) =
        app.call(Method::POST, "/api/v1/access-keys", Some(ADMIN_KEY), Some(json!({"name": "widget back end"}))).await;
    assert_eq!(status, StatusCode::CREATED, "POST /api/v1/access-keys: {key}");
    let key_id = key["id"].as_str().expect("the access key's id").to_owned();
    let secret = key["secret"].as_str().expect("the access key's secret").to_owned();

    let mut args: Vec<String> = [
        "--test",
        "--test-reporter=spec",
        "--test-concurrency=1",
        // A file whose test failed half way may leave a ChatJS session's
        // timers running; its results are in, so it must not hold the run.
        "--test-force-exit",
    ]
    .map(String::from)
    .to_vec();
    args.extend(node::test_files(&js, "test"));
    let env = [
        ("SB_URL", app.url("")),
        ("SB_INSTANCE_ID", workspace),
        ("SB_CONTACT_FLOW_ID", entry_point),
        ("SB_ACCESS_KEY_ID", key_id),
        ("SB_ACCESS_KEY_SECRET", secret),
        ("SB_AGENT_TOKEN", ann.token.clone()),
        ("SB_ADMIN_KEY", ADMIN_KEY.to_owned()),
        ("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true".to_owned()),
    ];
    node::run("the published clients against the server", &js, &args, &env, NODE_TIMEOUT).await;
}

both_backends!(published_clients_pass);
