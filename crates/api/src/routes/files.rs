//! Files: starting an upload, sending its bytes to the signed URL,
//! completing it, listing and reading attachments, declining a file request,
//! and the workspace's file settings.
//!
//! The bytes travel on their own URLs (`/api/v1/uploads/{id}` and
//! `/api/v1/files/{id}`) that carry a short-lived signature instead of a
//! bearer token, so a browser can hand them to `<img>`, a download link or a
//! plain `fetch` without exposing credentials.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use switchboard_core::Error;
use switchboard_core::clock::Timestamp;
use switchboard_core::engine::files::{Download, NewUpload};
use switchboard_core::files::signing::Grant;
use switchboard_core::ids::{AttachmentId, ConversationId, FileRequestId};

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json, Query};
use crate::state::AppState;
use crate::wire::EventDoc;
use crate::wire_files::{
    AttachmentView, SettingsView, StartUploadRequest, UploadCompleted, UploadStarted, UploadTarget, link_url,
};

/// The upload route takes bodies far larger than the API's JSON limit; the
/// engine counts them against the attachment's announced size instead.
pub fn upload_body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::disable()
}

fn attachment_id(raw: &str) -> ApiResult<AttachmentId> {
    Ok(AttachmentId::parse(raw)?)
}

/// POST /api/v1/conversations/{id}/attachments — announces a file (name,
/// type, size, and the file request it answers) and returns the URL to
/// `PUT` its bytes to. The type and size are checked against the
/// workspace's rules here, and the bytes against the type as they arrive.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = StartUploadRequest,
    responses((status = 201, body = UploadStarted),
        (status = 403, description = "not in the conversation, or monitoring only", body = ErrorResponse),
        (status = 409, description = "the conversation ended, or the file request is no longer pending", body = ErrorResponse),
        (status = 413, description = "larger than the workspace allows", body = ErrorResponse),
        (status = 415, description = "a type the workspace does not accept, or a name not of that type", body = ErrorResponse),
        (status = 422, description = "an empty file, or a name with slashes or control characters", body = ErrorResponse)))]
pub async fn start(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<StartUploadRequest>,
) -> ApiResult<(StatusCode, axum::Json<UploadStarted>)> {
    let request_id = req
        .request_id
        .as_deref()
        .map(|r| FileRequestId::parse(r).map_err(|e| Error::invalid("request_id", e.to_string())))
        .transpose()?;
    let upload = NewUpload { name: req.name, content_type: req.content_type, size: req.size, request_id };
    let (a, link) = s.engine.start_upload(&caller, ConversationId::parse(&id)?, upload).await?;
    let base = &s.config.public_url;
    let upload = UploadTarget { url: link_url(base, &link), method: "PUT", expires_at: link.expires.to_rfc3339() };
    Ok((StatusCode::CREATED, axum::Json(UploadStarted { attachment: AttachmentView::bare(a), upload })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// When the link expires (milliseconds since the epoch), as handed out.
    expires: i64,
    /// The link's signature, as handed out.
    sig: String,
}

/// PUT /api/v1/uploads/{attachment_id} — the file's bytes, as the body. The
/// URL (from starting the upload) is the credential. The body is streamed to
/// storage: more bytes than announced stop it with 413, bytes that are not
/// the announced type with 415 before anything is stored, fewer bytes than
/// announced with 422. Nothing of a refused upload is kept.
#[utoipa::path(put, path = "/api/v1/uploads/{attachment_id}", tag = "files",
    params(("attachment_id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = AttachmentView),
        (status = 401, description = "the link expired or is not valid", body = ErrorResponse),
        (status = 409, description = "the bytes are already in", body = ErrorResponse),
        (status = 413, body = ErrorResponse), (status = 415, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn upload(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<axum::Json<AttachmentView>> {
    let id = attachment_id(&id)?;
    let length = content_length(&headers)?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let a = s.engine.upload(id, Timestamp(q.expires), &q.sig, length, Box::pin(stream)).await?;
    Ok(axum::Json(AttachmentView::bare(a)))
}

fn content_length(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else { return Ok(None) };
    let n = v.to_str().ok().and_then(|v| v.parse().ok());
    Ok(Some(n.ok_or_else(|| Error::malformed("Content-Length is not a number"))?))
}

/// POST /api/v1/conversations/{id}/attachments/{attachment_id}/complete —
/// the uploader is done: the file enters the conversation as an
/// `attachment` event (status `scanning` while a scan hook decides,
/// `approved` otherwise).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments/{attachment_id}/complete", tag = "files",
    security(("bearer" = [])), params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, body = UploadCompleted),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "no bytes yet, or already complete", body = ErrorResponse)))]
pub async fn complete(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, att)): Path<(String, String)>,
) -> ApiResult<axum::Json<UploadCompleted>> {
    let (conversation, att) = (ConversationId::parse(&id)?, attachment_id(&att)?);
    let events = s.engine.complete_upload(&caller, conversation, att).await?;
    let event = events
        .into_iter()
        .find(|e| e.kind.type_name() == "attachment")
        .ok_or_else(|| Error::internal("completing an upload logged no attachment event"))?;
    let access = s.engine.attachment(&caller, conversation, att).await?;
    Ok(axum::Json(UploadCompleted { attachment: AttachmentView::new(&s.config.public_url, access), event }))
}

/// GET /api/v1/conversations/{id}/attachments — the conversation's files,
/// each with short-lived links the caller may use (uploads in progress are
/// shown only to their uploader).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/attachments", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<AttachmentView>), (status = 404, body = ErrorResponse)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<AttachmentView>>> {
    let all = s.engine.attachments(&caller, ConversationId::parse(&id)?).await?;
    let base = &s.config.public_url;
    Ok(axum::Json(all.into_iter().map(|a| AttachmentView::new(base, a)).collect()))
}

/// GET /api/v1/conversations/{id}/attachments/{attachment_id} — one file,
/// with fresh links (a stable address to put in exports and records).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/attachments/{attachment_id}", tag = "files",
    security(("bearer" = [])), params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, body = AttachmentView), (status = 404, body = ErrorResponse)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, att)): Path<(String, String)>,
) -> ApiResult<axum::Json<AttachmentView>> {
    let access = s.engine.attachment(&caller, ConversationId::parse(&id)?, attachment_id(&att)?).await?;
    Ok(axum::Json(AttachmentView::new(&s.config.public_url, access)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// `download` (the file) or `thumbnail` (an image's preview).
    grant: String,
    expires: i64,
    sig: String,
}

/// GET /api/v1/files/{attachment_id} — a file's bytes through a link from
/// the attachment (the link is the credential and expires in minutes).
#[utoipa::path(get, path = "/api/v1/files/{attachment_id}", tag = "files",
    params(("attachment_id" = String, Path), DownloadQuery),
    responses((status = 200, description = "the bytes", content_type = "application/octet-stream"),
        (status = 401, description = "the link expired or is not valid", body = ErrorResponse),
        (status = 404, description = "no such file, or not readable (rejected, deleted)", body = ErrorResponse)))]
pub async fn download(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> ApiResult<Response> {
    let grant = match q.grant.as_str() {
        "download" => Grant::Download,
        "thumbnail" => Grant::Thumbnail,
        _ => return Err(Error::invalid("grant", "must be `download` or `thumbnail`").into()),
    };
    let d = s.engine.download(attachment_id(&id)?, grant, Timestamp(q.expires), &q.sig).await?;
    let remaining = ((q.expires - s.engine.now().millis()) / 1000).max(0);
    Ok(file_response(d, grant, remaining))
}

/// The bytes with headers that keep a browser from treating them as a page:
/// the stored (checked) type, `nosniff`, a sandboxing CSP, and the original
/// name as a download.
fn file_response(d: Download, grant: Grant, cache_secs: i64) -> Response {
    let inline = grant == Grant::Thumbnail;
    let disposition = disposition(&d.attachment.name, inline);
    let content_type = if d.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", d.content_type)
    } else {
        d.content_type.clone()
    };
    let mut headers = HeaderMap::new();
    let mut set = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::CONTENT_LENGTH, d.size.to_string());
    set(header::CONTENT_DISPOSITION, disposition);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox".into());
    set(header::CACHE_CONTROL, format!("private, max-age={cache_secs}"));
    if let Some(stored) = d.attachment.stored.as_ref().filter(|_| !inline) {
        set(header::ETAG, format!("\"{}\"", stored.sha256));
    }
    (StatusCode::OK, headers, Body::from_stream(d.bytes)).into_response()
}

/// What RFC 5987 leaves unencoded in `filename*` (its `attr-char`).
const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII
/// fallback for old clients and the exact name, percent-encoded.
fn disposition(name: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// POST /api/v1/conversations/{id}/file-requests/{request_id}/decline — the
/// customer will not send the file asked for (`file.request_declined`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/file-requests/{request_id}/decline", tag = "files",
    security(("bearer" = [])), params(("id" = String, Path), ("request_id" = String, Path)),
    responses((status = 200, body = EventDoc),
        (status = 403, description = "only the customer declines", body = ErrorResponse),
        (status = 409, description = "the request is no longer pending", body = ErrorResponse)))]
pub async fn decline_request(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, request)): Path<(String, String)>,
) -> ApiResult<axum::Json<switchboard_core::event::Event>> {
    let request = FileRequestId::parse(&request)?;
    Ok(axum::Json(s.engine.decline_file_request(&caller, ConversationId::parse(&id)?, request).await?))
}

/// GET /api/v1/settings — the workspace's settings (a workspace key).
#[utoipa::path(get, path = "/api/v1/settings", tag = "files", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 403, body = ErrorResponse)))]
pub async fn settings(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<SettingsView>> {
    Ok(axum::Json(s.engine.settings(&caller).await?.into()))
}

/// PUT /api/v1/settings — replaces the workspace's settings; a field left
/// out takes its default.
#[utoipa::path(put, path = "/api/v1/settings", tag = "files", security(("bearer" = [])),
    request_body = SettingsView,
    responses((status = 200, body = SettingsView), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn put_settings(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<SettingsView>,
) -> ApiResult<axum::Json<SettingsView>> {
    Ok(axum::Json(s.engine.put_settings(&caller, req.into()).await?.into()))
}
