//! The files mode: upload and download throughput through the server's
//! attachment API, beside two baselines measured in the same run: a plain
//! copy of a file of the same size on the disk of `--dir`, and the same bytes
//! `PUT` to and read back from a minimal HTTP server inside this process that
//! streams them to and from files in `--dir` (HTTP and the disk, nothing
//! else). Every file read back is checked against the SHA-256 of what was
//! sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use clap::Args;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::report::{ProcSample, Progress, clock_ticks, mib, round};
use crate::setup::{Api, Conversation, create_conversations};

#[derive(Args)]
pub struct FilesArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "SWITCHBOARD_URL")]
    pub url: String,
    /// Admin API key (sent as a bearer token).
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    pub admin_key: String,
    /// Server process to sample for CPU time.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Size of each file, in MiB.
    #[arg(long, default_value_t = 20)]
    pub size_mib: u64,
    /// Files to upload (and download) in each phase.
    #[arg(long, default_value_t = 40)]
    pub count: u32,
    /// Transfers in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Where the baseline keeps its files: put it on the disk the server
    /// stores files on (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One direction of one path: how fast, and what it cost the server.
#[derive(Debug, Serialize)]
struct Rate {
    mib_per_sec: f64,
    secs: f64,
    /// Server CPU-seconds per GiB moved (the server's phases, with `--server-pid`).
    cpu_secs_per_gib: Option<f64>,
    /// The server's resident memory before and after the phase, and its peak
    /// so far (MiB; with `--server-pid`).
    rss_mib: Option<[f64; 3]>,
}

#[derive(Debug, Serialize)]
struct Summary {
    files: u32,
    size_mib: u64,
    concurrency: usize,
    /// `cp` of one file to another, same size, same concurrency.
    plain_copy: Rate,
    baseline_upload: Rate,
    baseline_download: Rate,
    server_upload: Rate,
    server_download: Rate,
    /// Files whose bytes came back different (must be 0).
    corrupt: u64,
}

pub async fn run(args: FilesArgs) -> Result<bool> {
    if args.size_mib == 0 || args.count == 0 || args.concurrency == 0 {
        bail!("--size-mib, --count and --concurrency must be at least 1");
    }
    let size = args.size_mib << 20;
    let payload = csv_payload(size);
    let digest = hex(&Sha256::digest(&payload));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let corrupt = Arc::new(AtomicU64::new(0));

    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir).join(format!("sb-files-{}", std::process::id()));
    tokio::fs::create_dir_all(&dir).await.with_context(|| format!("creating {}", dir.display()))?;
    let source = dir.join("source");
    tokio::fs::write(&source, &payload).await.with_context(|| format!("writing {}", source.display()))?;
    let plain_copy = phase("plain copy", &args, None, |i| {
        let (from, to) = (source.clone(), dir.join(format!("copy-{i}")));
        async move { Ok(tokio::fs::copy(&from, &to).await.map(drop)?) }
    })
    .await?;
    let bare = bare_server(dir.clone()).await?;
    let check = Check { expected: digest.clone(), corrupt: corrupt.clone() };
    let baseline_upload = phase("bare upload", &args, None, |i| {
        let req = http.put(format!("{bare}/b/{i}")).body(payload.clone());
        async move { expect_ok(req.send().await?).await.map(drop) }
    })
    .await?;
    let baseline_download = phase("bare download", &args, None, |i| {
        let (req, check) = (http.get(format!("{bare}/b/{i}")), check.clone());
        async move { check.read(expect_ok(req.send().await?).await?).await }
    })
    .await?;
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        eprintln!("warning: could not remove {}: {e}", dir.display());
    }

    let api = Api::new(&args.url, &args.admin_key, args.concurrency)?;
    let before: Value = api.get("/settings").await.context("reading the workspace settings")?;
    let mut wider = before.clone();
    wider["files"]["max_bytes"] = json!(size.max(before["files"]["max_bytes"].as_u64().unwrap_or(0)));
    api.put::<Value>("/settings", wider).await.context("raising the workspace's file size limit")?;
    let outcome = server_phases(&args, &api, &http, &payload, &check).await;
    api.put::<Value>("/settings", before).await.context("putting the workspace settings back")?;
    let (server_upload, server_download) = outcome?;

    let summary = Summary {
        files: args.count,
        size_mib: args.size_mib,
        concurrency: args.concurrency,
        plain_copy,
        baseline_upload,
        baseline_download,
        server_upload,
        server_download,
        corrupt: corrupt.load(Ordering::Relaxed),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print(&summary);
    }
    Ok(summary.corrupt == 0)
}

/// Start, PUT and complete each file through the API; then read each back
/// through its download link.
async fn server_phases(
    args: &FilesArgs,
    api: &Api,
    http: &reqwest::Client,
    payload: &Bytes,
    check: &Check,
) -> Result<(Rate, Rate)> {
    let conversations = create_conversations(api, args.concurrency as u32, args.concurrency).await?;
    let links: Arc<std::sync::Mutex<Vec<Option<String>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; args.count as usize]));
    let upload = phase("server upload", args, args.server_pid, |i| {
        let c = &conversations[i as usize % conversations.len()];
        let links = links.clone();
        async move {
            let link = share(api, http, c, i, payload.clone()).await?;
            links.lock().unwrap()[i as usize] = Some(link);
            Ok(())
        }
    })
    .await?;
    let links: Vec<String> = links.lock().unwrap().iter().map(|l| l.clone().unwrap_or_default()).collect();
    let download = phase("server download", args, args.server_pid, |i| {
        let (req, check) = (http.get(&links[i as usize]), check.clone());
        async move { check.read(expect_ok(req.send().await?).await?).await }
    })
    .await?;
    Ok((upload, download))
}

/// One file through the attachment API as the conversation's customer: its download link.
async fn share(api: &Api, http: &reqwest::Client, c: &Conversation, i: u32, bytes: Bytes) -> Result<String> {
    let customer = &c.tokens[0];
    let announce = json!({"name": format!("{i}.csv"), "content_type": "text/csv", "size": bytes.len()});
    let started: Value = api.post_as(customer, &format!("/conversations/{}/attachments", c.id), announce).await?;
    let (att, url) = (started["attachment"]["id"].as_str(), started["upload"]["url"].as_str());
    let (Some(att), Some(url)) = (att, url) else { bail!("starting an upload answered {started}") };
    expect_ok(http.put(url).body(bytes).send().await?).await?;
    let done: Value =
        api.post_as(customer, &format!("/conversations/{}/attachments/{att}/complete", c.id), json!({})).await?;
    done["attachment"]["download"]["url"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no download link: {done}"))
}

/// Runs `count` transfers of one direction, `concurrency` at a time.
async fn phase<F, Fut>(label: &'static str, args: &FilesArgs, pid: Option<u32>, each: F) -> Result<Rate>
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let done = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn(label, done.clone(), u64::from(args.count));
    let before = ProcSample::maybe(pid)?;
    let started = Instant::now();
    stream::iter(0..args.count)
        .map(|i| {
            let done = done.clone();
            let f = each(i);
            async move {
                f.await.with_context(|| format!("{label}: file {i}"))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let secs = started.elapsed().as_secs_f64();
    let gib = (args.count as f64 * args.size_mib as f64) / 1024.0;
    let after = ProcSample::maybe(pid)?;
    let (cpu, rss) = match (before, after) {
        (Some(b), Some(a)) => (
            Some(a.cpu_ticks.saturating_sub(b.cpu_ticks) as f64 / clock_ticks()),
            Some([mib(b.rss_kib), mib(a.rss_kib), mib(a.hwm_kib)]),
        ),
        _ => (None, None),
    };
    Ok(Rate {
        mib_per_sec: round(gib * 1024.0 / secs, 1),
        secs: round(secs, 2),
        cpu_secs_per_gib: cpu.map(|c| round(c / gib, 2)),
        rss_mib: rss,
    })
}

/// Counts what comes back against the digest of what was sent.
#[derive(Clone)]
struct Check {
    expected: String,
    corrupt: Arc<AtomicU64>,
}

impl Check {
    async fn read(&self, res: reqwest::Response) -> Result<()> {
        let mut digest = Sha256::new();
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            digest.update(chunk?);
        }
        if hex(&digest.finalize()) != self.expected {
            self.corrupt.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

async fn expect_ok(res: reqwest::Response) -> Result<reqwest::Response> {
    if !res.status().is_success() {
        let status = res.status();
        bail!("{status}: {}", res.text().await.unwrap_or_default());
    }
    Ok(res)
}

/// `size` bytes of CSV (the server checks text files are UTF-8).
fn csv_payload(size: u64) -> Bytes {
    let row = b"2026-12-04,order,1234.50,EUR\n";
    let mut out = Vec::with_capacity(size as usize);
    while out.len() < size as usize {
        let take = row.len().min(size as usize - out.len());
        out.extend_from_slice(&row[..take]);
    }
    Bytes::from(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The baseline: `PUT /b/{n}` streams the body into `DIR/n`, `GET /b/{n}`
/// streams it back. Returns its base URL.
async fn bare_server(dir: PathBuf) -> Result<String> {
    async fn put(State(dir): State<Arc<PathBuf>>, UrlPath(n): UrlPath<u32>, body: Body) -> StatusCode {
        match write(&dir.join(n.to_string()), body).await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    async fn get(State(dir): State<Arc<PathBuf>>, UrlPath(n): UrlPath<u32>) -> Result<Body, StatusCode> {
        let file = tokio::fs::File::open(dir.join(n.to_string())).await.map_err(|_| StatusCode::NOT_FOUND)?;
        Ok(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)))
    }
    let app = axum::Router::new().route("/b/{n}", axum::routing::put(put).get(get)).with_state(Arc::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

async fn write(path: &Path, body: Body) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk.map_err(std::io::Error::other)?).await?;
    }
    file.flush().await
}

fn print(s: &Summary) {
    let ratio = |server: &Rate, bare: &Rate| round(100.0 * server.mib_per_sec / bare.mib_per_sec, 0);
    println!("files: {} × {} MiB, {} at a time", s.files, s.size_mib, s.concurrency);
    println!("{:<24} {:>14} {:>16}", "", "upload MiB/s", "download MiB/s");
    println!("{:<24} {:>14} {:>16}", "plain file copy", s.plain_copy.mib_per_sec, s.plain_copy.mib_per_sec);
    println!(
        "{:<24} {:>14} {:>16}",
        "bare HTTP + disk", s.baseline_upload.mib_per_sec, s.baseline_download.mib_per_sec
    );
    println!("{:<24} {:>14} {:>16}", "server", s.server_upload.mib_per_sec, s.server_download.mib_per_sec);
    println!(
        "{:<24} {:>13}% {:>15}%",
        "server / bare HTTP",
        ratio(&s.server_upload, &s.baseline_upload),
        ratio(&s.server_download, &s.baseline_download)
    );
    println!(
        "{:<24} {:>13}% {:>15}%",
        "server / plain copy",
        ratio(&s.server_upload, &s.plain_copy),
        ratio(&s.server_download, &s.plain_copy)
    );
    if let (Some(up), Some(down)) = (s.server_upload.cpu_secs_per_gib, s.server_download.cpu_secs_per_gib) {
        println!("server CPU per GiB: upload {up} s, download {down} s");
    }
    for (what, rate) in [("upload", &s.server_upload), ("download", &s.server_download)] {
        if let Some([before, after, peak]) = rate.rss_mib {
            println!("server RSS over the {what}: {before} → {after} MiB (peak so far {peak})");
        }
    }
    println!("corrupt files: {}", s.corrupt);
}
