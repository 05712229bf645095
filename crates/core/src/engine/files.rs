//! Attachments: starting an upload, taking its bytes as a stream (checked
//! while they arrive, never held whole), completing it into the log, the
//! signed links to read it, the scan hook, and the workspace's file rules.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::{Caller, Engine, admin_workspace};
use crate::clock::Timestamp;
use crate::command::{Author, Command};
use crate::error::{Error, ErrorCode, Result};
use crate::event::Event;
use crate::files::blobs::{BlobWriter, Blobs, ByteStream};
use crate::files::model::{Attachment, AttachmentStatus, StoredFile};
use crate::files::policy::{self, FileType};
use crate::files::scan::{ScanSubject, Scanner};
use crate::files::signing::{self, Grant};
use crate::files::thumbnail;
use crate::flows::records::{OutboxItem, OutboxState};
use crate::ids::{AttachmentId, ConversationId, FileRequestId, ParticipantId, WorkspaceId};
use crate::model::WorkspaceSettings;

/// Where files go and how long their links live.
#[derive(Clone)]
pub struct Files {
    pub blobs: Arc<dyn Blobs>,
    /// When set, every file waits for its verdict before others may read it.
    pub scanner: Option<Arc<dyn Scanner>>,
    /// How long an upload may take, from its start (15 minutes).
    pub upload_secs: u32,
    /// How long a download link works (5 minutes).
    pub download_secs: u32,
}

impl Files {
    pub fn new(blobs: Arc<dyn Blobs>) -> Self {
        Self { blobs, scanner: None, upload_secs: 15 * 60, download_secs: 5 * 60 }
    }
}

/// A blob store for an engine built without one: every file operation is
/// refused.
pub(super) struct NoBlobs;

#[async_trait::async_trait]
impl Blobs for NoBlobs {
    fn describe(&self) -> String {
        "no file storage".into()
    }
    async fn create(&self, _: &str) -> Result<Box<dyn BlobWriter>> {
        Err(Error::unavailable("this server has no file storage"))
    }
    async fn put(&self, _: &str, _: Bytes) -> Result<()> {
        Err(Error::unavailable("this server has no file storage"))
    }
    async fn read(&self, _: &str) -> Result<(u64, ByteStream)> {
        Err(Error::not_found("file"))
    }
    async fn list(&self, _: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn delete_prefix(&self, _: &str) -> Result<u64> {
        Ok(0)
    }
}

/// What an uploader announces.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// The file request this answers.
    pub request_id: Option<FileRequestId>,
}

/// A signed link: what it grants, until when, and its signature.
#[derive(Debug, Clone)]
pub struct Link {
    pub attachment: AttachmentId,
    pub grant: Grant,
    pub expires: Timestamp,
    pub signature: String,
}

impl Link {
    /// The link on the server at `base`: an upload is a `PUT` to
    /// `/api/v1/uploads/{id}`, a download or thumbnail a `GET` of
    /// `/api/v1/files/{id}` (the routes the server mounts for them).
    pub fn url(&self, base: &str) -> String {
        let (base, id, expires, sig) =
            (base.trim_end_matches('/'), self.attachment, self.expires.millis(), &self.signature);
        match self.grant {
            Grant::Upload => format!("{base}/api/v1/uploads/{id}?expires={expires}&sig={sig}"),
            g => format!("{base}/api/v1/files/{id}?grant={}&expires={expires}&sig={sig}", g.as_str()),
        }
    }
}

/// An attachment as a caller sees it, with the links it may use.
#[derive(Debug, Clone)]
pub struct AttachmentAccess {
    pub attachment: Attachment,
    pub download: Option<Link>,
    pub thumbnail: Option<Link>,
}

/// A file to send back.
pub struct Download {
    pub attachment: Attachment,
    pub content_type: String,
    pub size: u64,
    pub bytes: ByteStream,
}

fn more_than_announced(declared: u64) -> Error {
    Error::new(ErrorCode::PayloadTooLarge, format!("more than the {declared} bytes announced for this file"))
}

fn fewer_than_announced(got: u64, declared: u64) -> Error {
    Error::invalid("size", format!("{got} bytes sent; {declared} were announced for this file"))
}

fn link(a: &Attachment, grant: Grant, expires: Timestamp) -> Link {
    Link { attachment: a.id, grant, expires, signature: signing::sign(&a.url_key, a.id, grant, expires) }
}

impl Engine {
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// The settings of the caller's workspace (a workspace key).
    pub async fn settings(&self, caller: &Caller) -> Result<WorkspaceSettings> {
        self.workspace_settings(admin_workspace(caller)?).await
    }

    pub async fn put_settings(&self, caller: &Caller, settings: WorkspaceSettings) -> Result<WorkspaceSettings> {
        let workspace = admin_workspace(caller)?;
        settings.files.validate()?;
        settings.retention.validate()?;
        super::directory::check_canned(&settings.canned_responses)?;
        let json = serde_json::to_string(&settings).map_err(Error::internal)?;
        self.store.put_workspace_settings(workspace, &json, self.now()).await?;
        Ok(settings)
    }

    pub(crate) async fn workspace_settings(&self, workspace: WorkspaceId) -> Result<WorkspaceSettings> {
        match self.store.workspace_settings(workspace).await? {
            Some(json) => serde_json::from_str(&json).map_err(Error::internal),
            None => Ok(WorkspaceSettings::default()),
        }
    }

    /// Starts an upload into a conversation: checks the name, type and size
    /// against the workspace's rules and returns the attachment with a link
    /// to send its bytes to.
    pub async fn start_upload(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        upload: NewUpload,
    ) -> Result<(Attachment, Link)> {
        let c = self.conversation(caller, conversation).await?;
        let by = self.sender(caller, conversation, None).await?;
        let settings = self.workspace_settings(c.workspace_id).await?;
        let ft = settings.files.check_declared(&upload.name, &upload.content_type, upload.size)?;
        let now = self.now();
        let a = Attachment {
            id: AttachmentId::new(),
            workspace_id: c.workspace_id,
            conversation_id: conversation,
            uploaded_by: by.participant(),
            name: upload.name,
            declared_type: ft.mime.to_owned(),
            declared_size: upload.size,
            stored: None,
            status: AttachmentStatus::Uploading,
            request_id: upload.request_id,
            reason: None,
            url_key: signing::new_key(),
            upload_expires_at: now.plus_secs(self.files.upload_secs),
            created_at: now,
            updated_at: now,
        };
        self.store.apply(Command::StartUpload { attachment: Box::new(a.clone()), by }).await?;
        let upload = link(&a, Grant::Upload, a.upload_expires_at);
        Ok((a, upload))
    }

    /// Takes an upload's bytes through its signed link. The type is checked
    /// from the first bytes before any is stored, the size as they arrive
    /// (and first from `length`, the request's own count, when it has one);
    /// a refused or broken upload leaves nothing stored.
    pub async fn upload(
        &self,
        id: AttachmentId,
        expires: Timestamp,
        signature: &str,
        length: Option<u64>,
        body: ByteStream,
    ) -> Result<Attachment> {
        let a = self.store.attachment(id).await?.ok_or_else(|| Error::not_found("attachment"))?;
        signing::verify(&a.url_key, id, Grant::Upload, expires, signature, self.now())?;
        if a.status != AttachmentStatus::Uploading || a.stored.is_some() {
            return Err(Error::new(ErrorCode::Conflict, "the file's bytes are already in"));
        }
        match length {
            Some(n) if n > a.declared_size => return Err(more_than_announced(a.declared_size)),
            Some(n) if n < a.declared_size => return Err(fewer_than_announced(n, a.declared_size)),
            _ => {}
        }
        let ft = policy::known(&a.declared_type).ok_or_else(|| Error::internal("an attachment of an unknown type"))?;
        let key = format!("{}{}", a.prefix(), ulid::Ulid::new().to_string().to_ascii_lowercase());
        let mut writer = None;
        let measured = match self.receive(&a, ft, &key, body, &mut writer).await {
            Ok(m) => m,
            Err(e) => {
                if let Some(w) = writer {
                    w.abort().await;
                }
                return Err(e);
            }
        };
        let (size, sha256) = measured;
        let thumbnail_key = if ft.image { self.make_thumbnail(&key, ft, size).await } else { None };
        let stored = StoredFile { key: key.clone(), size, sha256, content_type: ft.mime.to_owned(), thumbnail_key };
        let command = Command::Uploaded { conversation: a.conversation_id, attachment: id, stored: stored.clone() };
        if let Err(e) = self.store.apply(command).await {
            // Another upload of the same attachment won: this one's objects go.
            if let Err(e) = self.files.blobs.delete_prefix(&key).await {
                tracing::warn!(error = %e, %key, "could not delete a refused upload's bytes");
            }
            return Err(e);
        }
        Ok(Attachment { stored: Some(stored), ..a })
    }

    /// Streams the body into a new object: the size against the declared
    /// one, the first bytes against the type, the digest of everything.
    async fn receive(
        &self,
        a: &Attachment,
        ft: &FileType,
        key: &str,
        mut body: ByteStream,
        writer: &mut Option<Box<dyn BlobWriter>>,
    ) -> Result<(u64, String)> {
        let mut head: Vec<u8> = Vec::new();
        let mut digest = Sha256::new();
        let mut total: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::malformed(format!("the upload broke off: {e}")))?;
            total += chunk.len() as u64;
            if total > a.declared_size {
                return Err(more_than_announced(a.declared_size));
            }
            digest.update(&chunk);
            match writer {
                Some(w) => w.write(chunk).await?,
                None => {
                    head.extend_from_slice(&chunk);
                    if head.len() >= policy::SNIFF_BYTES {
                        policy::check_bytes(ft, &head, false)?;
                        let mut w = self.files.blobs.create(key).await?;
                        w.write(Bytes::from(std::mem::take(&mut head))).await?;
                        *writer = Some(w);
                    }
                }
            }
        }
        if total != a.declared_size {
            return Err(fewer_than_announced(total, a.declared_size));
        }
        let w = match writer.take() {
            Some(w) => w,
            None => {
                policy::check_bytes(ft, &head, true)?;
                let mut w = self.files.blobs.create(key).await?;
                w.write(Bytes::from(head)).await?;
                w
            }
        };
        w.finish().await?;
        let sha: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((total, sha))
    }

    /// A thumbnail beside the image, if one can be made; failing to make
    /// one is not a failed upload.
    async fn make_thumbnail(&self, key: &str, ft: &FileType, size: u64) -> Option<String> {
        if size > thumbnail::SOURCE_MAX_BYTES {
            return None;
        }
        let bytes = match crate::files::blobs::read_small(self.files.blobs.as_ref(), key, size).await {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, %key, "could not read an image back for its thumbnail");
                return None;
            }
        };
        let mime = ft.mime;
        let (thumb, _) = tokio::task::spawn_blocking(move || thumbnail::make(&bytes, mime)).await.ok()??;
        let thumb_key = format!("{key}.thumb");
        match self.files.blobs.put(&thumb_key, Bytes::from(thumb)).await {
            Ok(()) => Some(thumb_key),
            Err(e) => {
                tracing::warn!(error = %e, %key, "could not store a thumbnail");
                None
            }
        }
    }

    /// The uploader is done: the file enters the log (`scanning` first when
    /// a scan hook is set).
    pub async fn complete_upload(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        id: AttachmentId,
    ) -> Result<Vec<Event>> {
        self.conversation(caller, conversation).await?;
        let by = self.sender(caller, conversation, None).await?;
        let scan = self.files.scanner.is_some();
        self.store.apply(Command::CompleteUpload { conversation, attachment: id, by, scan }).await
    }

    /// Who the caller is in the conversation, to tell an uploader.
    async fn caller_participant(&self, caller: &Caller, conversation: ConversationId) -> Option<ParticipantId> {
        match caller {
            Caller::Participant(p) => Some(p.id),
            Caller::Agent(a) => self.agent_participant(a, conversation).await.ok().map(|p| p.id),
            Caller::Admin { .. } => None,
        }
    }

    fn access(&self, a: Attachment, me: Option<ParticipantId>) -> Option<AttachmentAccess> {
        let mine = a.uploaded_by == me;
        let readable = match a.status {
            AttachmentStatus::Approved => true,
            AttachmentStatus::Scanning => mine,
            AttachmentStatus::Uploading | AttachmentStatus::Rejected => false,
        };
        if a.status == AttachmentStatus::Uploading && !mine {
            return None;
        }
        let expires = self.now().plus_secs(self.files.download_secs);
        let download = readable.then(|| link(&a, Grant::Download, expires));
        let has_thumb = a.stored.as_ref().is_some_and(|s| s.thumbnail_key.is_some());
        let thumbnail = (readable && has_thumb).then(|| link(&a, Grant::Thumbnail, expires));
        Some(AttachmentAccess { attachment: a, download, thumbnail })
    }

    /// One attachment of a conversation, with links the caller may use.
    pub async fn attachment(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        id: AttachmentId,
    ) -> Result<AttachmentAccess> {
        self.conversation(caller, conversation).await?;
        let a = self
            .store
            .attachment(id)
            .await?
            .filter(|a| a.conversation_id == conversation)
            .ok_or_else(|| Error::not_found("attachment"))?;
        let me = self.caller_participant(caller, conversation).await;
        self.access(a, me).ok_or_else(|| Error::not_found("attachment"))
    }

    /// A conversation's attachments (uploads in progress only to their uploader).
    pub async fn attachments(&self, caller: &Caller, conversation: ConversationId) -> Result<Vec<AttachmentAccess>> {
        self.conversation(caller, conversation).await?;
        let me = self.caller_participant(caller, conversation).await;
        let all = self.store.attachments(conversation).await?;
        Ok(all.into_iter().filter_map(|a| self.access(a, me)).collect())
    }

    /// Reads a file (or its thumbnail) through a signed link.
    pub async fn download(
        &self,
        id: AttachmentId,
        grant: Grant,
        expires: Timestamp,
        signature: &str,
    ) -> Result<Download> {
        if grant == Grant::Upload {
            return Err(Error::forbidden("an upload link does not read a file"));
        }
        let a = self.store.attachment(id).await?.ok_or_else(|| Error::not_found("attachment"))?;
        signing::verify(&a.url_key, id, grant, expires, signature, self.now())?;
        let gone = || Error::not_found("file");
        if !matches!(a.status, AttachmentStatus::Approved | AttachmentStatus::Scanning) {
            return Err(gone());
        }
        let stored = a.stored.clone().ok_or_else(gone)?;
        let (key, content_type) = match grant {
            Grant::Thumbnail => {
                let key = stored.thumbnail_key.clone().ok_or_else(gone)?;
                let ct = if stored.content_type == "image/jpeg" { "image/jpeg" } else { "image/png" };
                (key, ct.to_owned())
            }
            _ => (stored.key.clone(), stored.content_type.clone()),
        };
        let (size, bytes) = self.files.blobs.read(&key).await?;
        Ok(Download { attachment: a, content_type, size, bytes })
    }

    /// The customer will not send a file asked for.
    pub async fn decline_file_request(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        request: FileRequestId,
    ) -> Result<Event> {
        self.conversation(caller, conversation).await?;
        let by = match caller {
            Caller::Participant(p) if p.conversation_id == conversation => Author::Participant(p.id),
            Caller::Admin { .. } => Author::System,
            _ => return Err(Error::forbidden("only the customer declines a file request")),
        };
        let events = self.store.apply(Command::DeclineFileRequest { conversation, request, by }).await?;
        super::last(events)
    }

    /// Outbox: ask the scan hook about an attachment and record its verdict.
    pub(super) async fn scan(&self, item: &OutboxItem, id: AttachmentId) -> Result<()> {
        let done = |note: &str| Some(note.to_owned());
        let a = match self.store.attachment(id).await? {
            Some(a) if a.status == AttachmentStatus::Scanning => a,
            _ => return self.finish(item, OutboxState::Done, done("nothing to scan")).await,
        };
        let Some(scanner) = self.files.scanner.clone() else {
            return Err(Error::unavailable("no scan hook is configured; the file waits for one"));
        };
        let Some(stored) = a.stored.clone() else {
            return self.finish(item, OutboxState::Done, done("no bytes")).await;
        };
        let (_, bytes) = self.files.blobs.read(&stored.key).await?;
        let subject = ScanSubject {
            attachment: a.id,
            workspace: a.workspace_id,
            conversation: a.conversation_id,
            name: a.name.clone(),
            content_type: stored.content_type.clone(),
            size: stored.size,
            sha256: stored.sha256.clone(),
        };
        let verdict = scanner.scan(&subject, bytes).await.map_err(|why| Error::unavailable(format!("scan: {why}")))?;
        let command =
            Command::Scanned { conversation: a.conversation_id, attachment: id, verdict, outbox: Some(item.id) };
        self.store.apply(command).await.map(drop)
    }

    /// Outbox: delete a refused, swept or erased file's objects.
    pub(super) async fn delete_files(&self, item: &OutboxItem, prefix: &str) -> Result<()> {
        let n = self.files.blobs.delete_prefix(prefix).await?;
        tracing::debug!(prefix, n, "deleted stored files");
        self.finish(item, OutboxState::Done, None).await
    }
}
