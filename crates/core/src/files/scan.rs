//! The scan hook port: an operator's command or HTTP endpoint that must
//! approve a file before anyone but its uploader may download it.

use async_trait::async_trait;

use super::blobs::ByteStream;
use crate::ids::{AttachmentId, ConversationId, WorkspaceId};

/// What the scanner is told about the file besides its bytes.
#[derive(Debug, Clone)]
pub struct ScanSubject {
    pub attachment: AttachmentId,
    pub workspace: WorkspaceId,
    pub conversation: ConversationId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

/// The scanner's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    /// Refused, with the scanner's reason.
    Rejected(String),
}

#[async_trait]
pub trait Scanner: Send + Sync + 'static {
    /// Scans the file; `Err` (with why) when no verdict came, to be tried again.
    async fn scan(&self, subject: &ScanSubject, bytes: ByteStream) -> Result<Verdict, String>;
}
