//! The blob store port over `object_store`: a directory on this machine
//! (the default, under the data dir) or an S3-compatible bucket.

use std::path::Path as FsPath;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use switchboard_core::files::blobs::{BlobWriter, Blobs, ByteStream};
use switchboard_core::{Error, Result};

/// Parts of a multipart upload are this large (S3's smallest is 5 MiB); an
/// upload holds at most two of them in memory.
const PART_BYTES: usize = 5 << 20;

/// Where an S3-compatible bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Another S3-compatible service than AWS (`http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    what: String,
}

fn failed(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::not_found("file"),
        e => Error::internal(e),
    }
}

fn path(key: &str) -> Result<Path> {
    Path::parse(key).map_err(|e| Error::internal(format!("a bad object key `{key}`: {e}")))
}

impl ObjectBlobs {
    /// Files under `dir` (created if missing).
    pub fn local(dir: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::internal)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(failed)?;
        Ok(Self { store: Arc::new(store), what: format!("directory {}", dir.display()) })
    }

    pub fn s3(config: &S3Config) -> Result<Self> {
        // object_store's HTTP client brings no TLS crypto of its own; use
        // ring, as the rest of the server does (a provider already set stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b =
            object_store::aws::AmazonS3Builder::new().with_bucket_name(&config.bucket).with_region(&config.region);
        if let Some(endpoint) = &config.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        let store = b.build().map_err(failed)?;
        let what = match &config.endpoint {
            Some(e) => format!("s3 bucket {} at {e}", config.bucket),
            None => format!("s3 bucket {}", config.bucket),
        };
        Ok(Self { store: Arc::new(store), what })
    }
}

#[async_trait]
impl Blobs for ObjectBlobs {
    fn describe(&self) -> String {
        self.what.clone()
    }

    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>> {
        let upload = self.store.put_multipart(&path(key)?).await.map_err(failed)?;
        Ok(Box::new(Writer(Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)))))
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store.put(&path(key)?, PutPayload::from_bytes(bytes)).await.map(drop).map_err(failed)
    }

    async fn read(&self, key: &str) -> Result<(u64, ByteStream)> {
        let got = self.store.get(&path(key)?).await.map_err(failed)?;
        let size = got.meta.size;
        let stream = got.into_stream().map_err(std::io::Error::other);
        Ok((size, Box::pin(stream)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // Object paths are split at `/`: list the folder, keep what starts
        // with the whole prefix.
        let folder = prefix.rsplit_once('/').map(|(f, _)| f).unwrap_or("");
        let folder = (!folder.is_empty()).then(|| path(folder)).transpose()?;
        let all: Vec<_> = self.store.list(folder.as_ref()).try_collect().await.map_err(failed)?;
        Ok(all.into_iter().map(|m| m.location.to_string()).filter(|k| k.starts_with(prefix)).collect())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let keys = self.list(prefix).await?;
        let n = keys.len() as u64;
        let locations = futures_util::stream::iter(keys.into_iter().filter_map(|k| path(&k).ok()).map(Ok)).boxed();
        let deleted: Vec<_> = self.store.delete_stream(locations).collect().await;
        for d in deleted {
            match d {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(n)
    }
}

/// A multipart upload; dropped unfinished, it is aborted in the background
/// (S3 keeps an unfinished upload's parts until it is).
struct Writer(Option<WriteMultipart>);

#[async_trait]
impl BlobWriter for Writer {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let w = self.0.as_mut().ok_or_else(|| Error::internal("write after finish"))?;
        w.wait_for_capacity(1).await.map_err(failed)?;
        w.put(chunk);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        let w = self.0.take().ok_or_else(|| Error::internal("finished twice"))?;
        w.finish().await.map(drop).map_err(failed)
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(w) = self.0.take()
            && let Err(e) = w.abort().await
        {
            tracing::warn!(error = %e, "could not abort an upload");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(w) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Err(e) = w.abort().await {
                    tracing::warn!(error = %e, "could not abort an abandoned upload");
                }
            });
        }
    }
}
