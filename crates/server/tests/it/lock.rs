//! One process per SQLite database: a second server on the same data dir is
//! refused with the first's pid and address, the admin CLI sends its commands
//! through the running server's API instead of opening the database, and the
//! lock of a killed server does not block the next one.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{ADMIN_KEY, Backend, PROMPTLY, TestApp};

fn lock_file(data_dir: &Path) -> PathBuf {
    data_dir.join("switchboard.db.lock")
}

/// What the lock file says of its holder (`Null` when it is empty).
fn holder(data_dir: &Path) -> Value {
    let text = std::fs::read_to_string(lock_file(data_dir)).expect("the lock file exists");
    if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
}

/// The real binary with `args` on `data_dir`, with no settings from the environment.
pub(crate) fn binary(args: &[&str], data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .env_remove("SWITCHBOARD_ADMIN_KEY")
        .env_remove("SWITCHBOARD_DATA_DIR")
        .env("SWITCHBOARD_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs an admin CLI command to its end.
async fn cli(data_dir: &Path, args: &[&str]) -> Output {
    let run = binary(args, data_dir).output();
    tokio::time::timeout(PROMPTLY, run).await.expect("the command ended").expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How many `method route` requests the server answered with `status`, by its own metrics.
async fn served(app: &TestApp, method: &str, route: &str, status: u16) -> u64 {
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let labels = [format!("method=\"{method}\""), format!("route=\"{route}\""), format!("status=\"{status}\"")];
    metrics
        .lines()
        .filter(|l| l.starts_with("switchboard_http_request_seconds_count{"))
        .filter(|l| labels.iter().all(|label| l.contains(label.as_str())))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = &app.config.storage.data_dir;
    let held = holder(dir);
    assert_eq!(held["pid"], std::process::id(), "{held}");
    assert_eq!(held["address"], app.addr.to_string(), "{held}");
    assert_eq!(held["command"], "serve", "{held}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = switchboard::serve(listener, app.config.clone(), std::future::pending());
    let refused = tokio::time::timeout(PROMPTLY, second)
        .await
        .expect("a second server started on the data dir of a running one")
        .expect_err("a second server on the same data dir is refused");
    let message = format!("{refused:#}");
    assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
    assert!(message.contains(&format!("serving on {}", app.addr)), "{message}");
    assert!(message.contains("switchboard.db is in use by another Switchboard process"), "{message}");

    // The first keeps serving, and keeps the lock.
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    app.admin(Method::POST, "/api/v1/agents", Some(json!({"name": "Ann"}))).await;
    assert_eq!(holder(dir)["pid"], std::process::id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_servers_data_dir_can_be_served_again() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    app.admin(Method::POST, "/api/v1/agents", Some(json!({"name": "Ann"}))).await;
    app.stop().await;
    // Released, and the holder cleared.
    assert_eq!(holder(&app.config.storage.data_dir), Value::Null);

    let app = app.restart().await; // a new server on the stopped one's dir
    let app = app.restart().await; // stop and start again
    let agents = app.admin(Method::GET, "/api/v1/agents", None).await;
    assert_eq!(agents[0]["name"], "Ann", "{agents}");
    assert_eq!(holder(&app.config.storage.data_dir)["address"], app.addr.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_go_through_the_running_servers_api() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = app.config.storage.data_dir.clone();
    let key = ["--admin-key", ADMIN_KEY];

    let out =
        cli(&dir, &[&["agent", "create", "--name", "Through the API", "--capacity", "2"][..], &key].concat()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let id = line.split_whitespace().next().unwrap().to_owned();
    assert!(id.starts_with("agt_"), "{line}");
    assert!(line.contains("Through the API") && line.contains("load 0/2"), "{line}");
    // The server made it (the CLI did not write the database the server holds)…
    assert_eq!(served(&app, "POST", "/api/v1/agents", 201).await, 1);
    // …and shows it.
    let agents = app.admin(Method::GET, "/api/v1/agents", None).await;
    assert!(agents.as_array().unwrap().iter().any(|a| a["id"] == id.as_str()), "{agents}");

    let out = cli(&dir, &[&["agent", "token", id.as_str()][..], &key].concat()).await;
    assert!(out.status.success() && text(&out.stdout).starts_with("sba_"), "{}", text(&out.stderr));
    assert_eq!(served(&app, "POST", "/api/v1/agents/{id}/tokens", 201).await, 1);

    let out =
        cli(&dir, &[&["queue", "create", "--name", "general", "--expression", "agent.level >= 1"][..], &key].concat())
            .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let queue = text(&out.stdout).split_whitespace().next().unwrap().to_owned();
    let out = cli(&dir, &[&["queue", "update", queue.as_str(), "--wrap-up-secs", "5"][..], &key].concat()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(served(&app, "PATCH", "/api/v1/queues/{id}", 200).await, 1);
    let out = cli(&dir, &[&["queue", "list"][..], &key].concat()).await;
    assert_eq!(text(&out.stdout).trim_end(), format!("{queue}  {:<24} agent.level >= 1", "general"));

    let workflow = dir.join("routing.yaml");
    std::fs::write(&workflow, "default:\n  queue: general\n").unwrap();
    let out = cli(&dir, &[&["workflow", "apply", workflow.to_str().unwrap()][..], &key].concat()).await;
    assert_eq!(text(&out.stdout), "workflow version 1 applied: 0 filter(s) and a default\n", "{}", text(&out.stderr));
    let out = cli(&dir, &[&["workflow", "show"][..], &key].concat()).await;
    assert_eq!(text(&out.stdout), "# version 1\ndefault:\n  queue: general\n");
    assert_eq!(served(&app, "PUT", "/api/v1/workflow", 200).await, 1);

    // The API's errors come out as the direct path's do: the file, the field, the line.
    std::fs::write(&workflow, "default:\n  queue: general\n  timout: 5s\n").unwrap();
    let out = cli(&dir, &[&["workflow", "apply", workflow.to_str().unwrap()][..], &key].concat()).await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("routing.yaml") && err.contains("timout") && err.contains("line 3"), "{err}");

    // A refused key, and none at all, say how to pass one.
    let out = cli(&dir, &["agent", "list", "--admin-key", "sbk_wrong"]).await;
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("refused the admin API key") && err.contains("--admin-key"), "{err}");
    let out = cli(&dir, &["agent", "list"]).await;
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("pid {}", std::process::id())) && err.contains("--admin-key"), "{err}");

    // The key a server saved in DATA_DIR/admin-key is found there.
    std::fs::write(dir.join("admin-key"), format!("{ADMIN_KEY}\n")).unwrap();
    let out = cli(&dir, &["agent", "list"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&id), "{}", text(&out.stdout));
    assert_eq!(holder(&dir)["pid"], std::process::id(), "the server still holds the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_open_the_database_when_no_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["agent", "create", "--name", "Before the first start"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // It held the lock and let go.
    assert_eq!(holder(dir.path()), Value::Null);

    let data_dir = dir.path().to_path_buf();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.storage.data_dir = data_dir).await;
    let agents = app.admin(Method::GET, "/api/v1/agents", None).await;
    assert_eq!(agents[0]["name"], "Before the first start", "{agents}");
    assert_eq!(served(&app, "POST", "/api/v1/agents", 201).await, 0);
}

/// `switchboard serve` as a process, on a port of its choosing.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    /// Starts it and waits until it listens (its log says where) and is ready.
    async fn start(data_dir: &Path) -> Self {
        let mut cmd = binary(&["serve", "--listen", "127.0.0.1:0"], data_dir);
        cmd.env("SWITCHBOARD_LOG", "info,sqlx=warn")
            .env("SWITCHBOARD_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start the server binary");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = tokio::time::timeout(PROMPTLY, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Ok(log) = serde_json::from_str::<Value>(&line)
                    && log["fields"]["message"] == "listening"
                {
                    return log["fields"]["address"].as_str().unwrap().to_owned();
                }
            }
            panic!("the server ended before listening");
        })
        .await
        .expect("the server did not say where it listens");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + PROMPTLY;
        loop {
            if let Ok(r) = http.get(format!("http://{addr}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the server did not become ready");
            tokio::task::yield_now().await;
        }
        Self { child, addr }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_process_is_refused_and_a_killed_ones_lock_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Serve::start(dir.path()).await;
    let pid = first.child.id().unwrap();
    assert_eq!(holder(dir.path())["pid"], pid);

    let second = binary(&["serve", "--listen", "127.0.0.1:0"], dir.path()).output();
    let second = tokio::time::timeout(PROMPTLY, second)
        .await
        .expect("a second server started on the data dir of a running one")
        .unwrap();
    let err = text(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains(&format!("pid {pid}, serving on {}", first.addr)), "{err}");

    let migrate = cli(dir.path(), &["migrate"]).await;
    let err = text(&migrate.stderr);
    assert!(!migrate.status.success() && err.contains(&format!("pid {pid}")), "{err}");

    // The CLI finds the server, and the key it generated in DATA_DIR/admin-key.
    let out = cli(dir.path(), &["agent", "create", "--name", "Kim"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    first.child.kill().await.unwrap(); // SIGKILL: no clean-up
    assert_eq!(holder(dir.path())["pid"], pid, "the dead server's lock file is left behind");

    let mut third = Serve::start(dir.path()).await;
    assert_eq!(holder(dir.path())["pid"], third.child.id().unwrap());
    let out = cli(dir.path(), &["agent", "list"]).await;
    assert!(text(&out.stdout).contains("Kim"), "{}", text(&out.stderr));
    third.child.kill().await.unwrap();
}
