//! Files in chat: attachments, the rules their bytes must pass, and the
//! ports through which they are stored and scanned.
//!
//! An attachment goes uploading → (scanning →) approved or rejected. Its
//! row is planned like every other conversation row; its bytes live in a
//! blob store under `workspace/conversation/attachment/`, so one prefix
//! holds everything of an attachment and one prefix everything of a chat.

pub mod blobs;
pub mod model;
pub mod policy;
pub mod scan;
pub mod signing;
pub mod thumbnail;

use crate::ids::{AttachmentId, ConversationId, WorkspaceId};

/// Where all of a conversation's files live.
pub fn conversation_prefix(workspace: WorkspaceId, conversation: ConversationId) -> String {
    format!("{workspace}/{conversation}/")
}

/// Where all of one attachment's objects live (its bytes, its thumbnail).
pub fn attachment_prefix(workspace: WorkspaceId, conversation: ConversationId, attachment: AttachmentId) -> String {
    format!("{workspace}/{conversation}/{attachment}/")
}
