//! The blob store port: where an attachment's bytes go. The store crate
//! implements it over `object_store` (a directory, or an S3-compatible
//! bucket); the engine streams through it and never holds a file whole.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::error::Result;

/// An object's bytes as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Where the objects are, for logs ("directory /srv/files", "s3 bucket x").
    fn describe(&self) -> String;

    /// Starts writing an object. Nothing is visible under `key` until
    /// [`BlobWriter::finish`]; a writer dropped unfinished leaves nothing.
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>>;

    /// Writes a small object in one go.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;

    /// An object's size and its bytes; not found when there is none.
    async fn read(&self, key: &str) -> Result<(u64, ByteStream)>;

    /// Every key under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Deletes every object under `prefix` (none is fine); how many went.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64>;
}

/// An object being written, chunk by chunk.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<()>;

    /// Makes the object visible under its key.
    async fn finish(self: Box<Self>) -> Result<()>;

    /// Gives the object up; nothing stays behind.
    async fn abort(self: Box<Self>);
}

/// Reads a whole object of at most `limit` bytes into memory (thumbnails
/// are made from images no larger than that); `None` when it is larger.
pub async fn read_small(blobs: &dyn Blobs, key: &str, limit: u64) -> Result<Option<Vec<u8>>> {
    use futures_util::StreamExt;
    let (size, mut stream) = blobs.read(key).await?;
    if size > limit {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(size as usize);
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.map_err(crate::Error::internal)?);
        if out.len() as u64 > limit {
            return Ok(None);
        }
    }
    Ok(Some(out))
}
