//! AWS's error convention (restJson1): the exception's name in the
//! `x-amzn-errortype` header and in the body's `__type`, its text in
//! `message`, and the status each exception has in the service's schema.
//! The SDKs turn these into typed exceptions (`e.name`, `e.message`,
//! `e.$metadata.httpStatusCode`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use switchboard_core::{Error, ErrorCode};

/// Which AWS service's names an error speaks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `connectparticipant`: ChatJS and the Participant Service SDK.
    Participant,
    /// `connect`: the control plane (`StartChatContact`).
    Control,
}

impl Service {
    fn namespace(self) -> &'static str {
        match self {
            Self::Participant => "com.amazonaws.connectparticipant",
            Self::Control => "com.amazonaws.connect",
        }
    }
}

/// One failed request, as AWS would answer it.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub service: Service,
    /// The exception's name, e.g. `ValidationException`.
    pub kind: &'static str,
    pub status: StatusCode,
    pub message: String,
    /// `ResourceNotFoundException` names what was not found.
    pub resource_type: Option<&'static str>,
}

impl AwsError {
    pub fn new(service: Service, kind: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self { service, kind, status, message: message.into(), resource_type: None }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Service::Participant, "ValidationException", StatusCode::BAD_REQUEST, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(Service::Participant, "AccessDeniedException", StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(resource_type: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(Service::Participant, "ResourceNotFoundException", StatusCode::NOT_FOUND, message);
        e.resource_type = Some(resource_type);
        e
    }

    /// The same failure in the control plane's names, where they differ.
    pub fn in_control(mut self) -> Self {
        self.service = Service::Control;
        self.kind = match self.kind {
            "ValidationException" => "InvalidParameterException",
            "ServiceQuotaExceededException" => "LimitExceededException",
            "InternalServerException" => "InternalServiceException",
            "ConflictException" => "InvalidRequestException",
            other => other,
        };
        if self.kind == "InvalidRequestException" {
            self.status = StatusCode::BAD_REQUEST;
        }
        self
    }

    /// A domain error in the Participant Service's names. An ended chat or
    /// a participant who left is `AccessDeniedException`, as the service
    /// answers once a connection token no longer holds (ChatJS reads a 403
    /// on reconnect as "the chat ended meanwhile").
    pub fn from_core(e: &Error) -> Self {
        let (kind, status) = match e.code {
            ErrorCode::MalformedRequest
            | ErrorCode::InvalidField
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::MethodNotAllowed => ("ValidationException", StatusCode::BAD_REQUEST),
            ErrorCode::Unauthenticated
            | ErrorCode::Forbidden
            | ErrorCode::ConversationEnded
            | ErrorCode::ParticipantLeft => ("AccessDeniedException", StatusCode::FORBIDDEN),
            ErrorCode::NotFound => ("ResourceNotFoundException", StatusCode::NOT_FOUND),
            ErrorCode::Conflict => ("ConflictException", StatusCode::CONFLICT),
            ErrorCode::RateLimited | ErrorCode::Unavailable => ("ThrottlingException", StatusCode::TOO_MANY_REQUESTS),
            ErrorCode::Internal => ("InternalServerException", StatusCode::INTERNAL_SERVER_ERROR),
        };
        let message = match (e.code, &e.field) {
            (ErrorCode::Internal, _) => "internal error".to_owned(),
            (_, Some(field)) => format!("{field}: {}", e.message),
            (_, None) => e.message.clone(),
        };
        let mut out = Self::new(Service::Participant, kind, status, message);
        if e.code == ErrorCode::NotFound {
            out.resource_type = Some("CONTACT");
        }
        out
    }
}

impl From<Error> for AwsError {
    fn from(e: Error) -> Self {
        if e.code == ErrorCode::Internal {
            tracing::error!(error = %e, "connect dialect request failed");
        }
        Self::from_core(&e)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("__type".into(), Value::String(format!("{}#{}", self.service.namespace(), self.kind)));
        body.insert("message".into(), Value::String(self.message.clone()));
        if self.service == Service::Control {
            // The control plane's exceptions name the field `Message`.
            body.insert("Message".into(), Value::String(self.message));
        }
        if let Some(t) = self.resource_type {
            body.insert("ResourceType".into(), Value::String(t.into()));
        }
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        let errortype = format!("{}:http://internal.amazon.com/coral/{}/", self.kind, self.service.namespace());
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&errortype) {
            headers.insert("x-amzn-errortype", v);
        }
        headers.insert("x-amzn-requestid", crate::request_id());
        response
    }
}

pub type AwsResult<T> = Result<T, AwsError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_code_has_an_aws_exception_and_a_4xx_unless_internal() {
        for code in ErrorCode::ALL {
            let e = AwsError::from_core(&Error::new(code, "x"));
            assert!(e.kind.ends_with("Exception"), "{code:?}");
            assert_eq!(e.status.is_server_error(), code == ErrorCode::Internal, "{code:?}");
        }
    }

    #[test]
    fn the_control_plane_uses_its_own_names() {
        let e = AwsError::validation("bad").in_control();
        assert_eq!((e.kind, e.status), ("InvalidParameterException", StatusCode::BAD_REQUEST));
        let e = AwsError::from_core(&Error::new(ErrorCode::Conflict, "x")).in_control();
        assert_eq!((e.kind, e.status), ("InvalidRequestException", StatusCode::BAD_REQUEST));
    }
}
