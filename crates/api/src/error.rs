//! The one place where domain errors become HTTP responses.
//!
//! Body: `{"error":{"code":"…","message":"…","field":…}}`. The status comes
//! from [`status`], the table of every code; 5xx bodies say nothing of the
//! cause, which is logged instead.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_core::{Error, ErrorCode};

/// The HTTP status of each error code.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidField => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::ConversationEnded | ErrorCode::ParticipantLeft | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error object of the JSON body (also used in WebSocket error frames).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code from the table in the API docs, e.g. `conversation_ended`.
    pub code: &'static str,
    /// What went wrong, for humans.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
    /// For `rate_limited` and `unavailable`: when to try again (REST also
    /// sends it as `Retry-After`; a WebSocket error frame has only this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u32>,
    /// Every problem, when there are several (a flow file with errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorDetail>,
}

/// One of several problems.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

impl ErrorBody {
    pub fn of(e: &Error) -> Self {
        if e.code == ErrorCode::Internal {
            tracing::error!(error = %e, "internal error");
            return Self {
                code: e.code.as_str(),
                message: "internal error".into(),
                field: None,
                retry_after_secs: None,
                errors: Vec::new(),
            };
        }
        Self {
            code: e.code.as_str(),
            message: e.message.clone(),
            field: e.field.clone(),
            retry_after_secs: e.retry_after_secs,
            errors: e
                .details
                .iter()
                .map(|(field, message)| ErrorDetail { field: field.clone(), message: message.clone() })
                .collect(),
        }
    }
}

/// A domain error on its way out as HTTP.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<switchboard_core::ids::IdError> for ApiError {
    fn from(e: switchboard_core::ids::IdError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse { error: ErrorBody::of(&self.0) };
        let mut res = (status(self.0.code), axum::Json(body)).into_response();
        if let Some(secs) = self.0.retry_after_secs {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError(Error::new(ErrorCode::NotFound, "no such endpoint"))
}

/// Known paths with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError(Error::new(ErrorCode::MethodNotAllowed, "method not allowed on this endpoint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_client_or_server_status() {
        for code in ErrorCode::ALL {
            let s = status(code);
            assert!(s.is_client_error() || s.is_server_error(), "{code:?}");
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let body = ErrorBody::of(&Error::internal("disk on fire at /var/lib/x"));
        assert_eq!(body.message, "internal error");
    }
}
