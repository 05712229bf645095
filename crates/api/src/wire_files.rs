//! Wire shapes of files: attachments, their signed links, and the
//! workspace's settings.

use serde::{Deserialize, Serialize};
use switchboard_core::engine::files::{AttachmentAccess, Link};
use switchboard_core::files::model::Attachment;
use switchboard_core::files::policy::FilePolicy;
use switchboard_core::model::WorkspaceSettings;
use switchboard_core::retention::RetentionSettings;
use utoipa::ToSchema;

/// POST /conversations/{id}/attachments: what is about to be sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartUploadRequest {
    /// The file's name, with its extension (`receipt.pdf`).
    pub name: String,
    /// Its media type (`application/pdf`); checked against the name and,
    /// once they arrive, the bytes.
    pub content_type: String,
    /// Its size in bytes, exactly.
    pub size: u64,
    /// The file request this answers (`initFileTransfer`).
    pub request_id: Option<String>,
}

/// A signed URL and until when it works.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: String,
}

/// Where to send an upload's bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadTarget {
    /// Send the bytes as the body of a `PUT` to this URL (no credentials:
    /// the URL carries them).
    pub url: String,
    #[schema(example = "PUT")]
    pub method: &'static str,
    /// The bytes must be in, and the upload completed, by then.
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    #[schema(example = "att_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub conversation_id: String,
    /// The participant who sent it; none when sent with a workspace key.
    pub uploaded_by: Option<String>,
    pub name: String,
    /// The media type: as announced while uploading, as found in the bytes after.
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes, once they are in.
    pub sha256: Option<String>,
    /// `uploading`, `scanning`, `approved` or `rejected`.
    pub status: String,
    /// Why the scan hook rejected it.
    pub reason: Option<String>,
    /// The file request it answers.
    pub request_id: Option<String>,
    /// While uploading: the upload must be complete by then.
    pub upload_expires_at: Option<String>,
    /// A short-lived link to the file, when the caller may read it.
    pub download: Option<SignedUrl>,
    /// A short-lived link to a small PNG or JPEG preview of an image.
    pub thumbnail: Option<SignedUrl>,
    pub created_at: String,
    pub updated_at: String,
}

/// The base URL the server is reached at, for the links it hands out.
pub fn signed_url(base: &str, link: &Link) -> SignedUrl {
    SignedUrl { url: link_url(base, link), expires_at: link.expires.to_rfc3339() }
}

/// Where a link is used (see [`Link::url`]).
pub fn link_url(base: &str, link: &Link) -> String {
    link.url(base)
}

impl AttachmentView {
    pub fn new(base: &str, access: AttachmentAccess) -> Self {
        let a = access.attachment;
        let mut view = Self::bare(a);
        view.download = access.download.as_ref().map(|l| signed_url(base, l));
        view.thumbnail = access.thumbnail.as_ref().map(|l| signed_url(base, l));
        view
    }

    /// The attachment alone, without links.
    pub fn bare(a: Attachment) -> Self {
        let uploading = a.status == switchboard_core::files::model::AttachmentStatus::Uploading;
        let (content_type, size, sha256) = match &a.stored {
            Some(s) => (s.content_type.clone(), s.size, Some(s.sha256.clone())),
            None => (a.declared_type.clone(), a.declared_size, None),
        };
        Self {
            id: a.id.to_string(),
            conversation_id: a.conversation_id.to_string(),
            uploaded_by: a.uploaded_by.map(|p| p.to_string()),
            name: a.name,
            content_type,
            size,
            sha256,
            status: a.status.as_str().into(),
            reason: a.reason,
            request_id: a.request_id.map(|r| r.to_string()),
            upload_expires_at: uploading.then(|| a.upload_expires_at.to_rfc3339()),
            download: None,
            thumbnail: None,
            created_at: a.created_at.to_rfc3339(),
            updated_at: a.updated_at.to_rfc3339(),
        }
    }
}

/// An upload started: the attachment and where its bytes go.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadStarted {
    pub attachment: AttachmentView,
    pub upload: UploadTarget,
}

/// An upload completed: the attachment and the `attachment` event the
/// conversation received.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadCompleted {
    pub attachment: AttachmentView,
    #[schema(value_type = crate::wire::EventDoc)]
    pub event: switchboard_core::event::Event,
}

/// A workspace's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    #[serde(default)]
    pub files: FilePolicyView,
    #[serde(default)]
    pub retention: RetentionView,
    /// Saved answers for the agent console: `{id, title, text}`; `id` is
    /// what an agent types after `/`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub canned_responses: Vec<switchboard_core::engine::directory::CannedResponse>,
}

/// How long ended conversations are kept.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionView {
    /// Ended conversations (with their files) are erased this many days
    /// after they ended, 1 to 3650; null keeps them for ever (the default).
    pub ended_conversations_days: Option<u32>,
}

/// Which files the workspace accepts.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilePolicyView {
    /// The largest attachment, in bytes (default 20 MiB, at most 5 GiB).
    pub max_bytes: Option<u64>,
    /// The media types accepted (default: every type the server can check:
    /// PNG, JPEG, GIF, WebP, PDF, plain text, CSV and office documents).
    pub allowed_types: Option<Vec<String>>,
}

impl From<WorkspaceSettings> for SettingsView {
    fn from(s: WorkspaceSettings) -> Self {
        Self {
            files: FilePolicyView { max_bytes: Some(s.files.max_bytes), allowed_types: Some(s.files.allowed_types) },
            retention: RetentionView { ended_conversations_days: s.retention.ended_conversations_days },
            canned_responses: s.canned_responses,
        }
    }
}

impl From<SettingsView> for WorkspaceSettings {
    fn from(v: SettingsView) -> Self {
        let d = FilePolicy::default();
        WorkspaceSettings {
            files: FilePolicy {
                max_bytes: v.files.max_bytes.unwrap_or(d.max_bytes),
                allowed_types: v.files.allowed_types.unwrap_or(d.allowed_types),
            },
            retention: RetentionSettings { ended_conversations_days: v.retention.ended_conversations_days },
            canned_responses: v.canned_responses,
        }
    }
}
