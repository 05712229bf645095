//! Running JavaScript test files with Node.js from a Rust test: installing
//! their pinned dependencies (`npm ci`) when they are missing, running
//! `node --test` in a process group of its own with a deadline, and failing
//! with everything the run printed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Installs a folder's pinned dependencies (`npm ci`) unless every `marker`
/// (a path under `node_modules`) is already there, one install at a time,
/// so that `cargo test --workspace` alone runs the JavaScript tests.
/// Without npm or its registry the test fails, saying so.
pub fn npm_ci(dir: &Path, markers: &[&str]) {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let installed = || markers.iter().all(|m| dir.join("node_modules").join(m).join("package.json").is_file());
    if installed() {
        return;
    }
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the JavaScript dependencies are not installed and npm could not run ({e}): run `npm ci` in {}",
                dir.display()
            )
        });
    assert!(
        out.status.success() && installed(),
        "`npm ci` in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `*.test.js` / `*.test.mjs` files of a folder, in a stable order, as
/// paths relative to `base`.
pub fn test_files(base: &Path, folder: &str) -> Vec<String> {
    let dir = base.join(folder);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.js") || n.ends_with(".test.mjs"))
        .map(|n| format!("{folder}/{n}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no test files in {}", dir.display());
    files
}

/// Runs `node` with `args` in `dir` and asserts it passed within `deadline`;
/// on failure the message holds everything it printed.
pub async fn run(what: &str, dir: &Path, args: &[String], env: &[(&str, String)], deadline: Duration) {
    let mut node = tokio::process::Command::new("node");
    node.args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NO_COLOR", "1")
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
    let status = match tokio::time::timeout(deadline, child.wait()).await {
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
        Some(status) => {
            assert!(status.success(), "{what} failed ({status}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
        }
        None => {
            panic!("{what} did not finish within {deadline:?}:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
        }
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
