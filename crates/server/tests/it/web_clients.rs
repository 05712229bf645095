//! The JavaScript that runs against the server, from `cargo test`: the
//! client SDK's tests in Node (`sdk/js/test`), and the browser tests of the
//! widget, the agent console, the supervisor view and the admin pages in
//! Debian's Chromium through playwright-core (`web/tests`). Both start this
//! package's `switchboard` binary themselves (`SWITCHBOARD_BIN`), each test
//! on a fresh data dir, so what they test is the binary as shipped, with its
//! embedded pages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::node;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn binary() -> (&'static str, String) {
    ("SWITCHBOARD_BIN", env!("CARGO_BIN_EXE_switchboard").to_owned())
}

fn node_args(dir: &Path, folder: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    args.extend(["--test", "--test-reporter=spec", "--test-concurrency=1"].map(String::from));
    args.extend(node::test_files(dir, folder));
    args
}

#[tokio::test]
async fn the_client_sdk_passes_its_tests_against_the_server() {
    let sdk = repo().join("sdk/js");
    // Node 20 has a WebSocket client behind this flag (Node 22 by default).
    let args = node_args(&sdk, "test", &["--experimental-websocket"]);
    node::run("the client SDK's tests", &sdk, &args, &[binary()], Duration::from_secs(600)).await;
}

#[tokio::test]
async fn the_pages_pass_their_browser_tests() {
    let tests = repo().join("web/tests");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "the browser tests need Chromium at {chromium} (Debian: `apt-get install chromium`, or set CHROMIUM_PATH)"
    );
    node::npm_ci(&tests, &["playwright-core", "axe-core"]);
    let args = node_args(&tests, ".", &[]);
    let env = [binary(), ("CHROMIUM_PATH", chromium)];
    node::run("the browser tests", &tests, &args, &env, Duration::from_secs(1800)).await;
}
