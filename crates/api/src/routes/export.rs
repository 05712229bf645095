//! A conversation's transcript as one file to download: JSON, plain text or
//! HTML, streamed as the log is read.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::TryStreamExt as _;
use serde::Deserialize;
use switchboard_core::Error;
use switchboard_core::engine::export::ExportRequest;
use switchboard_core::export::{Format, Links, Segments, content_security_policy};
use switchboard_core::ids::ConversationId;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Query};
use crate::state::AppState;
use crate::wire::TranscriptExportDoc;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default), `text` or `html`.
    format: Option<String>,
    /// `all` (default): every segment of a continued chat, oldest first.
    /// `current`: this conversation's log only.
    segments: Option<String>,
}

/// GET /api/v1/conversations/{id}/transcript/export — the whole transcript
/// as a file: one JSON document, plain text, or a self-contained HTML page
/// (user content escaped, no scripts, a strict Content-Security-Policy).
/// Files link to their attachment resource, never to a short-lived download
/// link. Whoever may read the transcript may export it; the body is
/// streamed, and holds the log as it stood when the export began.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/transcript/export", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path), ExportQuery),
    responses((status = 200, description = "the transcript file, sent as an attachment",
            content((TranscriptExportDoc = "application/json"), (String = "text/plain"), (String = "text/html"))),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, description = "an unknown format or segments value", body = ErrorResponse)))]
pub async fn export(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f).ok_or_else(|| Error::invalid("format", "must be json, text or html"))?,
    };
    let segments = match q.segments.as_deref() {
        None => Segments::All,
        Some(v) => Segments::parse(v).ok_or_else(|| Error::invalid("segments", "must be all or current"))?,
    };
    let id = ConversationId::parse(&id)?;
    let request = ExportRequest { format, segments, links: Links::new(&s.config.public_url) };
    let export = s.engine.export(&caller, id, request).await?;
    let body = export.into_stream().inspect_err(move |e| {
        // The response has begun: the client sees the body cut short.
        tracing::warn!(conversation = %id, error = %e, "transcript export failed part way");
    });
    let mut res = Response::new(Body::from_stream(body));
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let disposition = format!("attachment; filename=\"transcript-{id}.{}\"", format.extension());
    headers.insert(header::CONTENT_DISPOSITION, header_value(&disposition)?);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == Format::Html {
        let policy = format!("{}; sandbox", content_security_policy());
        headers.insert(header::CONTENT_SECURITY_POLICY, header_value(&policy)?);
    }
    Ok(res)
}

/// A header value made of our own text (ids, names of formats).
fn header_value(s: &str) -> ApiResult<HeaderValue> {
    Ok(HeaderValue::from_str(s).map_err(Error::internal)?)
}
