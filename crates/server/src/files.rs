//! Where attachments go (a directory or an S3 bucket) and the scan hook
//! (a command or an HTTP endpoint), from the configuration.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use switchboard_core::engine::files::Files;
use switchboard_core::files::blobs::{Blobs, ByteStream};
use switchboard_core::files::scan::{ScanSubject, Scanner, Verdict};
use switchboard_store::blobs::{ObjectBlobs, S3Config};
use tokio::io::AsyncWriteExt;

use crate::config::{FilesConfig, StorageConfig};

/// A scan that takes longer than this is abandoned and tried again later.
const SCAN_TIMEOUT: Duration = Duration::from_secs(120);

pub fn files(config: &FilesConfig, storage: &StorageConfig) -> anyhow::Result<Files> {
    let blobs: Arc<dyn Blobs> = match &config.s3_bucket {
        Some(bucket) => Arc::new(
            ObjectBlobs::s3(&S3Config {
                bucket: bucket.clone(),
                endpoint: config.s3_endpoint.clone(),
                region: config.s3_region.clone(),
                access_key_id: config.s3_access_key_id.clone().or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok()),
                secret_access_key: config
                    .s3_secret_access_key
                    .clone()
                    .or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok()),
            })
            .map_err(|e| anyhow::anyhow!("the S3 bucket: {e}"))?,
        ),
        None => {
            let dir = config.files_dir.clone().unwrap_or_else(|| storage.data_dir.join("files"));
            Arc::new(ObjectBlobs::local(&dir).map_err(|e| anyhow::anyhow!("the files directory: {e}"))?)
        }
    };
    let scanner: Option<Arc<dyn Scanner>> = match (&config.scan_command, &config.scan_url) {
        (Some(command), _) => Some(Arc::new(CommandScanner { command: command.clone() })),
        (None, Some(url)) => Some(Arc::new(HttpScanner { url: url.clone(), client: reqwest::Client::new() })),
        (None, None) => None,
    };
    let mut files = Files::new(blobs);
    files.scanner = scanner;
    files.upload_secs = config.upload_secs.max(1);
    files.download_secs = config.download_secs.max(1);
    Ok(files)
}

fn env(subject: &ScanSubject) -> [(&'static str, String); 6] {
    [
        ("SWITCHBOARD_ATTACHMENT_ID", subject.attachment.to_string()),
        ("SWITCHBOARD_CONVERSATION_ID", subject.conversation.to_string()),
        ("SWITCHBOARD_FILE_NAME", subject.name.clone()),
        ("SWITCHBOARD_CONTENT_TYPE", subject.content_type.clone()),
        ("SWITCHBOARD_FILE_SIZE", subject.size.to_string()),
        ("SWITCHBOARD_SHA256", subject.sha256.clone()),
    ]
}

/// `sh -c COMMAND` with the file on stdin: exit 0 approves, 1 rejects.
struct CommandScanner {
    command: String,
}

#[async_trait]
impl Scanner for CommandScanner {
    async fn scan(&self, subject: &ScanSubject, mut bytes: ByteStream) -> Result<Verdict, String> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .envs(env(subject))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start the scan command: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let feed = async move {
            while let Some(chunk) = bytes.next().await {
                let chunk = chunk.map_err(|e| e.to_string())?;
                // A scanner may stop reading once it has decided.
                if stdin.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            drop(stdin);
            Ok::<(), String>(())
        };
        let run = async {
            let (fed, out) = tokio::join!(feed, child.wait_with_output());
            fed?;
            out.map_err(|e| e.to_string())
        };
        let out = tokio::time::timeout(SCAN_TIMEOUT, run).await.map_err(|_| "the scan command timed out")??;
        let first_line = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_owned();
        match out.status.code() {
            Some(0) => Ok(Verdict::Approved),
            Some(1) => {
                Ok(Verdict::Rejected(if first_line.is_empty() { "rejected by the scan".into() } else { first_line }))
            }
            code => Err(format!("the scan command ended with {code:?}")),
        }
    }
}

/// POST the bytes; 200 with `{"approved": bool, "reason": "…"}`.
struct HttpScanner {
    url: String,
    client: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct HttpVerdict {
    approved: bool,
    #[serde(default)]
    reason: Option<String>,
}

#[async_trait]
impl Scanner for HttpScanner {
    async fn scan(&self, subject: &ScanSubject, bytes: ByteStream) -> Result<Verdict, String> {
        let mut req = self
            .client
            .post(&self.url)
            .timeout(SCAN_TIMEOUT)
            .header("content-type", &subject.content_type)
            .header("content-length", subject.size);
        for (k, v) in env(subject) {
            let name = k.trim_start_matches("SWITCHBOARD_").replace('_', "-").to_ascii_lowercase();
            if let Ok(v) = reqwest::header::HeaderValue::from_str(&v) {
                req = req.header(format!("x-switchboard-{name}"), v);
            }
        }
        let reply = req.body(reqwest::Body::wrap_stream(bytes)).send().await.map_err(|e| e.to_string())?;
        if reply.status() != reqwest::StatusCode::OK {
            return Err(format!("the scan endpoint answered {}", reply.status()));
        }
        let v: HttpVerdict = reply.json().await.map_err(|e| format!("the scan endpoint's answer: {e}"))?;
        Ok(if v.approved {
            Verdict::Approved
        } else {
            Verdict::Rejected(v.reason.unwrap_or_else(|| "rejected by the scan".into()))
        })
    }
}
