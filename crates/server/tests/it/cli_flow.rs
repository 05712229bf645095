//! `switchboard flow …` as an operator runs it: the real binary, first on a
//! database no server holds (the command opens it), then through the API of
//! a `switchboard serve` process that holds it, then directly again; the
//! same commands print the same either way.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::Child;

use crate::lock::binary;

/// How long one command, or a server's start, may take (longer than the
/// harness's: a cold binary on a busy machine).
const PROMPTLY: Duration = Duration::from_secs(30);

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(path)
}

/// A finished command: its exit, standard output and standard error.
pub(crate) struct Ran {
    pub ok: bool,
    pub out: String,
    pub err: String,
}

pub(crate) async fn cli(data_dir: &Path, args: &[&str]) -> Ran {
    let run = binary(args, data_dir).output();
    let Output { status, stdout, stderr } =
        tokio::time::timeout(PROMPTLY, run).await.expect("the command ended").expect("the binary runs");
    Ran {
        ok: status.success(),
        out: String::from_utf8_lossy(&stdout).into_owned(),
        err: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs a command that must succeed; its standard output.
pub(crate) async fn ok(data_dir: &Path, args: &[&str]) -> String {
    let ran = cli(data_dir, args).await;
    assert!(ran.ok, "{args:?} failed: {}", ran.err);
    ran.out
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `switchboard serve` as a process holding the database.
pub(crate) struct Serve {
    child: Child,
    base: String,
    key: String,
}

impl Serve {
    /// Starts it and waits until the lock file names it and it is ready.
    pub(crate) async fn start(data_dir: &Path) -> Self {
        let mut child = binary(&["serve", "--listen", "127.0.0.1:0"], data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let pid = child.id().expect("a running child");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + PROMPTLY;
        loop {
            if let Some(address) = lock_holder(data_dir).filter(|h| h["pid"] == pid).and_then(|h| address(&h))
                && let Ok(r) = http.get(format!("http://{address}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                let key = std::fs::read_to_string(data_dir.join("admin-key")).expect("the generated admin key");
                return Self { child, base: format!("http://{address}"), key: key.trim().to_owned() };
            }
            assert!(child.try_wait().unwrap().is_none(), "the server ended before it was ready");
            assert!(tokio::time::Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An admin request with a JSON body; the answer's JSON.
    pub(crate) async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// Where it listens, `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

fn lock_holder(data_dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(data_dir.join("switchboard.db.lock")).ok()?).ok()
}

fn address(holder: &Value) -> Option<String> {
    holder["address"].as_str().map(str::to_owned)
}

/// What the read-only commands print, to compare the two paths.
async fn readings(dir: &Path, run: &str) -> Vec<String> {
    let mut out = Vec::new();
    for args in [
        &["flow", "list"][..],
        &["flow", "show", "use-of-funds-agent"],
        &["flow", "graph", "use-of-funds-agent"],
        &["flow", "graph", "use-of-funds-customer", "--version", "1"],
        &["flow", "runs"],
        &["flow", "runs", "--flow", "use-of-funds-customer", "--state", "waiting", "--limit", "5"],
        &["flow", "run-log", run],
    ] {
        out.push(ok(dir, args).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_commands_print_the_same_directly_and_through_a_running_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (agent, customer) = (example("use-of-funds/agent.yaml"), example("use-of-funds/customer.yaml"));
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "name: broken\nsteps:\n  a:\n    type: send_message\n    text: hi\n    nxt: end\n")
        .unwrap();

    // No server yet: the command opens the database. Every problem of every
    // file, each with its file, field and line, and a failed exit.
    let ran = cli(dir, &["flow", "validate", arg(&broken), arg(&customer)]).await;
    assert!(!ran.ok, "{}", ran.out);
    assert!(ran.err.contains("broken.yaml: steps.a.nxt: line 6, column 5: unknown field `nxt`"), "{}", ran.err);
    assert!(ran.err.contains("broken.yaml: steps.a.next: line 4"), "{}", ran.err);
    // The event type is not declared yet.
    assert!(ran.err.contains("customer.yaml: steps.publish.event: line 26"), "{}", ran.err);
    assert!(ran.err.contains("2 of 2 flow file(s) have errors"), "{}", ran.err);
    assert!(!ran.out.contains(": ok"), "{}", ran.out);

    let server = Serve::start(dir).await;
    let event_type: Value =
        serde_json::from_str(&std::fs::read_to_string(example("use-of-funds/event-type.json")).unwrap()).unwrap();
    server.admin(reqwest::Method::PUT, "/api/v1/event-types/use_of_funds", event_type).await;

    // Through the server's API now (it holds the lock). The agent's side
    // launches the customer's: alone it is refused, given with it it passes.
    let ran = cli(dir, &["flow", "validate", arg(&agent)]).await;
    assert!(!ran.ok);
    assert!(
        ran.err.contains("agent.yaml: steps.launch.flow: line 13, column 11: there is no flow `use-of-funds-customer`"),
        "{}",
        ran.err
    );
    let out = ok(dir, &["flow", "validate", arg(&agent), arg(&customer)]).await;
    assert_eq!(
        out,
        format!(
            "{}: ok (flow use-of-funds-agent, 5 steps)\n{}: ok (flow use-of-funds-customer, 2 steps)\n",
            agent.display(),
            customer.display()
        )
    );

    // A refused file stops a deploy; the files before it are deployed.
    let ran = cli(dir, &["flow", "deploy", arg(&broken), arg(&agent)]).await;
    assert!(!ran.ok && ran.out.is_empty(), "{}", ran.out);
    assert!(ran.err.contains("broken.yaml: steps.a.nxt: line 6"), "{}", ran.err);
    assert!(ran.err.contains("deploy stopped at") && ran.err.contains("0 of 2 file(s) deployed"), "{}", ran.err);

    let out = ok(dir, &["flow", "deploy", arg(&agent), arg(&customer)]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("deployed use-of-funds-agent version 1 (flw_"), "{out}");
    assert!(lines[1].starts_with("deployed use-of-funds-customer version 1 (flw_"), "{out}");
    // The server deployed them.
    let flows = server.admin(reqwest::Method::GET, "/api/v1/flows", Value::Null).await;
    assert_eq!(flows.as_array().map(Vec::len), Some(2), "{flows}");

    let list = ok(dir, &["flow", "list"]).await;
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(rows[0][..4], ["use-of-funds-agent", "v1", "agent", "-"], "{list}");
    assert_eq!(rows[1][..4], ["use-of-funds-customer", "v1", "customer", "-"], "{list}");

    let show = ok(dir, &["flow", "show", "use-of-funds-customer"]).await;
    let (header, source) = show.split_once('\n').unwrap();
    assert!(header.starts_with("# use-of-funds-customer version 1, deployed 20"), "{header}");
    assert_eq!(source, std::fs::read_to_string(&customer).unwrap());

    let graph = ok(dir, &["flow", "graph", "use-of-funds-agent"]).await;
    assert!(graph.starts_with("flowchart TD\n"), "{graph}");
    assert!(graph.contains("launch<br/>launch_flow"), "{graph}");
    let ran = cli(dir, &["flow", "graph", "use-of-funds-agent", "--version", "7"]).await;
    assert!(!ran.ok && ran.err.contains("flow use-of-funds-agent has no version 7 (the latest is 1)"), "{}", ran.err);
    let ran = cli(dir, &["flow", "show", "no-such-flow"]).await;
    assert!(!ran.ok && ran.err.contains("flow not found"), "{}", ran.err);

    // A run, launched by record id as the workspace.
    server.admin(reqwest::Method::POST, "/api/v1/conversations", serde_json::json!({"record_id": "case-7"})).await;
    let launched =
        ok(dir, &["flow", "launch", "use-of-funds-customer", "--record-id", "case-7", "--param", "key=case-7"]).await;
    let run = launched.split_whitespace().next().unwrap().to_owned();
    assert!(run.starts_with("run_") && launched.contains("use-of-funds-customer@1  waiting"), "{launched}");
    let ran = cli(dir, &["flow", "launch", "use-of-funds-customer", "--record-id", "no-such-case"]).await;
    assert!(!ran.ok && ran.err.contains("record_id: no open conversation"), "{}", ran.err);

    let through_the_api = readings(dir, &run).await;
    assert!(through_the_api[4].starts_with(&run), "{}", through_the_api[4]);
    assert!(through_the_api[6].contains("started"), "{}", through_the_api[6]);
    server.stop().await;

    // Directly again: the same output.
    let direct = readings(dir, &run).await;
    assert_eq!(direct, through_the_api);

    let out = ok(dir, &["flow", "deploy", arg(&customer)]).await;
    assert!(out.starts_with("deployed use-of-funds-customer version 2 (flw_"), "{out}");
    let header = ok(dir, &["flow", "show", "use-of-funds-customer", "--version", "1"]).await;
    assert!(header.starts_with("# use-of-funds-customer version 1,"), "{header}");
    let cancelled = ok(dir, &["flow", "cancel", &run]).await;
    assert!(cancelled.contains("cancelled") && cancelled.starts_with(&run), "{cancelled}");
    let ran = cli(dir, &["flow", "cancel", &run]).await;
    assert!(!ran.ok && ran.err.contains("the run is cancelled"), "{}", ran.err);
}
