//! The attachment record.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{AttachmentId, ConversationId, FileRequestId, ParticipantId, WorkspaceId};

/// Where an attachment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// Started; the bytes may be sent until the upload URL expires.
    Uploading,
    /// Complete, waiting for the scan hook's verdict; only the uploader may
    /// download it meanwhile.
    Scanning,
    /// Anyone in the conversation may download it.
    Approved,
    /// The scan hook refused it; its bytes are deleted.
    Rejected,
}

impl AttachmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Scanning => "scanning",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Uploading, Self::Scanning, Self::Approved, Self::Rejected].into_iter().find(|x| x.as_str() == s)
    }
}

/// The bytes of an upload as they were stored, measured on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// The object's key in the blob store.
    pub key: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The type the bytes were found to be (checked against the declared one).
    pub content_type: String,
    /// A small preview of an image, when one could be made.
    pub thumbnail_key: Option<String>,
}

/// A file in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    /// Who uploads it; none for the API (a workspace key).
    pub uploaded_by: Option<ParticipantId>,
    pub name: String,
    /// The type and size the uploader announced.
    pub declared_type: String,
    pub declared_size: u64,
    /// Set once the bytes are in.
    pub stored: Option<StoredFile>,
    pub status: AttachmentStatus,
    /// The file request this answers (`initFileTransfer`).
    pub request_id: Option<FileRequestId>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The secret its upload and download URLs are signed with (hex).
    pub url_key: String,
    /// The bytes must be in and the upload complete by then, or it is swept.
    pub upload_expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Attachment {
    /// Everything stored for it lives under this prefix.
    pub fn prefix(&self) -> String {
        super::attachment_prefix(self.workspace_id, self.conversation_id, self.id)
    }
}
