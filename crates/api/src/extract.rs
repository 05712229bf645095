//! Extractors that turn every bad request into the API's own error shape:
//! JSON bodies, query strings, path ids and bearer credentials.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use switchboard_core::engine::Caller;
use switchboard_core::{Error, ErrorCode};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. Wrong content type: 415; unreadable JSON: 400; JSON of the
/// wrong shape: 422; too large: 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(r) => Err(ApiError(json_rejection(r))),
        }
    }
}

/// A JSON body that may be left out: no body and no content type read as
/// the default; anything else as [`Json`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOrEmpty<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
        let headers = req.headers();
        let empty = headers.get(CONTENT_TYPE).is_none() && headers.get(CONTENT_LENGTH).is_none_or(|n| n == "0");
        if empty {
            return Ok(Self(T::default()));
        }
        Json::from_request(req, state).await.map(|Json(v)| Self(v))
    }
}

fn json_rejection(r: JsonRejection) -> Error {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            Error::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json")
        }
        JsonRejection::JsonSyntaxError(e) => Error::malformed(format!("the body is not valid JSON: {}", e.body_text())),
        JsonRejection::JsonDataError(e) => data_error(&e.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        other => Error::malformed(other.body_text()),
    }
}

/// A JSON body of the wrong shape: name the field when serde named it
/// (`field.sub: invalid type …`).
fn data_error(text: &str) -> Error {
    let detail = text.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(text);
    let mut e = Error::new(ErrorCode::InvalidField, detail.to_owned());
    if let Some((path, _)) = detail.split_once(": ")
        && !path.is_empty()
        && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
    {
        e.field = Some(path.to_owned());
    }
    e
}

/// A query string; anything unreadable is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError(Error::malformed(e.body_text()))),
            Err(e) => Err(ApiError(Error::malformed(e.body_text()))),
        }
    }
}

/// The caller, from `Authorization: Bearer …`.
#[derive(Debug, Clone)]
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(&parts.headers)
            .ok_or_else(|| Error::unauthenticated("send credentials as `Authorization: Bearer <token or API key>`"))?;
        Ok(Self(state.engine.authenticate(secret).await?))
    }
}

/// Who opens a socket: the secret from `?token=` (browsers cannot set
/// headers on a WebSocket) or the bearer header. `what` says which
/// credentials the socket takes, for the error when there are none.
pub(crate) async fn socket_caller(
    s: &AppState,
    token: Option<&str>,
    headers: &axum::http::HeaderMap,
    what: &str,
) -> Result<switchboard_core::engine::Caller, ApiError> {
    let secret = token
        .or_else(|| bearer(headers))
        .ok_or_else(|| Error::unauthenticated(format!("pass {what} as ?token= or `Authorization: Bearer`")))?;
    Ok(s.engine.authenticate(secret).await?)
}

/// The bearer secret of a request, if it has one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim()).filter(|s| !s.is_empty() && s.len() <= 256)
}

/// The `Origin` of a browser request from another site, which an entry
/// point's allowed origins must then list. A request from this server's own
/// pages (the widget's chat frame), whose origin names the host it was sent
/// to, is not checked: the frame itself may only be embedded by the allowed
/// origins.
pub fn foreign_origin(headers: &axum::http::HeaderMap) -> Option<&str> {
    let origin = headers.get(axum::http::header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match (authority, host) {
        (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => None,
        _ => Some(origin),
    }
}
