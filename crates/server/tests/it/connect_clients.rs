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
use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp};
use crate::routing::{agent, queue};

/// Long enough for every file, short enough that a hung client fails the run.
const NODE_TIMEOUT: Duration = Duration::from_secs(600);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dialect-connect/js")
}

/// The test files, in a stable order.
fn test_files(js: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(js.join("test"))
        .expect("crates/dialect-connect/js/test exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.js"))
        .map(|n| format!("test/{n}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.js in {}", js.join("test").display());
    files
}

/// Installs the pinned clients (`npm ci`) when they are not there yet, once
/// per test run, so that `cargo test --workspace` alone runs these tests.
/// Without npm or its registry the test fails, saying so.
fn install_clients(js: &Path) {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let installed = || {
        js.join("node_modules/amazon-connect-chatjs/package.json").is_file()
            && js.join("node_modules/@aws-sdk/client-connectparticipant/package.json").is_file()
            && js.join("node_modules/@aws-sdk/client-connect/package.json").is_file()
            && js.join("node_modules/ws/package.json").is_file()
    };
    if installed() {
        return;
    }
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(js)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the JavaScript clients are not installed and npm could not run ({e}): run `npm ci` in {}",
                js.display()
            )
        });
    assert!(
        out.status.success() && installed(),
        "`npm ci` in {} failed:\n{}{}",
        js.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn published_clients_pass(backend: Backend) {
    let js = js_dir();
    install_clients(&js);
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

    let mut node = tokio::process::Command::new("node");
    node.arg("--test")
        .arg("--test-reporter=spec")
        .arg("--test-concurrency=1")
        // A file whose test failed half way may leave a ChatJS session's
        // timers running; its results are in, so it must not hold the run.
        .arg("--test-force-exit")
        .args(test_files(&js))
        .current_dir(&js)
        .env("SB_URL", app.url(""))
        .env("SB_INSTANCE_ID", &workspace)
        .env("SB_CONTACT_FLOW_ID", &entry_point)
        .env("SB_ACCESS_KEY_ID", &key_id)
        .env("SB_ACCESS_KEY_SECRET", &secret)
        .env("SB_AGENT_TOKEN", &ann.token)
        .env("SB_ADMIN_KEY", ADMIN_KEY)
        .env("NO_COLOR", "1")
        .env("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout ends the test files' processes too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child =
        node.spawn().unwrap_or_else(|e| panic!("could not run `node` (Node 20 or later must be on PATH): {e}"));
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let status = match tokio::time::timeout(NODE_TIMEOUT, child.wait()).await {
        Ok(status) => Some(status.unwrap()),
        Err(_) => {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill").arg("-KILL").arg(format!("-{pid}")).status();
            }
            let _ = child.wait().await;
            None
        }
    };
    let output = |buf: &Output| String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    // What the pipes held when the run ended (they close with the processes).
    for task in [stdout.1, stderr.1] {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let (stdout, stderr) = (output(&stdout.0), output(&stderr.0));
    match status {
        Some(status) => assert!(
            status.success(),
            "the published clients failed against the server ({status}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ),
        None => panic!(
            "the JavaScript clients did not finish within {NODE_TIMEOUT:?}:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ),
    }
}

type Output = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// Reads a pipe to its end in the background, keeping what came so far.
fn collect(mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> (Output, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncReadExt;
    let buf = Output::default();
    let into = buf.clone();
    let task = tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (buf, task)
}

both_backends!(published_clients_pass);
