//! The SQL of files: attachments and workspace settings. Written once for
//! both backends.

use switchboard_core::Result;
use switchboard_core::clock::Timestamp;
use switchboard_core::files::model::{Attachment, AttachmentStatus, StoredFile};
use switchboard_core::ids::{AttachmentId, ConversationId, FileRequestId, ParticipantId, WorkspaceId};

use crate::sql::{Cols, Stmt, corrupt, id, in_list, opt_id, ts};

const ATTACHMENT_COLS: &str = "id, workspace_id, conversation_id, uploaded_by, name, declared_type, declared_size, \
     stored, status, request_id, reason, url_key, upload_expires_at, created_at, updated_at";

pub(crate) fn attachment(r: &impl Cols) -> Result<Attachment> {
    let status = r.text("status")?;
    let stored = match r.opt_text("stored")? {
        Some(s) => Some(serde_json::from_str::<StoredFile>(&s).map_err(|e| corrupt("attachment", e))?),
        None => None,
    };
    Ok(Attachment {
        id: id(r, "id", AttachmentId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        uploaded_by: opt_id(r, "uploaded_by", ParticipantId::parse)?,
        name: r.text("name")?,
        declared_type: r.text("declared_type")?,
        declared_size: r.int("declared_size")? as u64,
        stored,
        status: AttachmentStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        request_id: opt_id(r, "request_id", FileRequestId::parse)?,
        reason: r.opt_text("reason")?,
        url_key: r.text("url_key")?,
        upload_expires_at: ts(r, "upload_expires_at")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn upsert_attachments(rows: &[Attachment]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO attachments ({ATTACHMENT_COLS}) VALUES "));
    s.tuples(rows, 15, |s, a| {
        s.arg(a.id.to_string())
            .arg(a.workspace_id.to_string())
            .arg(a.conversation_id.to_string())
            .arg(a.uploaded_by.map(|p| p.to_string()))
            .arg(a.name.clone())
            .arg(a.declared_type.clone())
            .arg(a.declared_size as i64)
            .arg(a.stored.as_ref().map(|f| serde_json::to_string(f).unwrap_or_default()))
            .arg(a.status.as_str())
            .arg(a.request_id.map(|r| r.to_string()))
            .arg(a.reason.clone())
            .arg(a.url_key.clone())
            .arg(a.upload_expires_at)
            .arg(a.created_at)
            .arg(a.updated_at);
    });
    s.push(
        " ON CONFLICT (id) DO UPDATE SET stored = excluded.stored, status = excluded.status, \
         reason = excluded.reason, updated_at = excluded.updated_at",
    );
    s
}

pub(crate) fn delete_attachments(ids: &[AttachmentId]) -> Stmt {
    let mut s = Stmt::new("DELETE FROM attachments WHERE id IN ");
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s
}

pub(crate) fn attachments_by_ids(ids: &[AttachmentId], lock: bool) -> Stmt {
    crate::sql_routing::by_ids(ATTACHMENT_COLS, "attachments", ids.iter().map(ToString::to_string), lock)
}

pub(crate) fn attachment_by_id(a: AttachmentId) -> Stmt {
    Stmt::new(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = ?")).bind(a.to_string())
}

pub(crate) fn attachments_of(c: ConversationId) -> Stmt {
    Stmt::new(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE conversation_id = ? ORDER BY id"))
        .bind(c.to_string())
}

// Workspace settings.

pub(crate) fn settings_of(w: WorkspaceId) -> Stmt {
    Stmt::new("SELECT settings FROM workspace_settings WHERE workspace_id = ?").bind(w.to_string())
}

pub(crate) fn put_settings(w: WorkspaceId, settings: &str, at: Timestamp) -> Stmt {
    Stmt::new(
        "INSERT INTO workspace_settings (workspace_id, settings, updated_at) VALUES (?, ?, ?) \
         ON CONFLICT (workspace_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(w.to_string())
    .bind(settings)
    .bind(at)
}
