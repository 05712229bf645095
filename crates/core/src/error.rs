//! The one error type of the domain, with the stable codes clients see.
//!
//! Every failure carries an [`ErrorCode`]; the API crate maps codes to HTTP
//! statuses in one table and WebSocket error frames reuse the same codes.
//! Internal errors keep their source for the log and show clients nothing.

use std::fmt;

/// Stable, documented error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request could not be read (bad JSON, wrong type, bad query).
    MalformedRequest,
    /// A field was read but its value is not acceptable.
    InvalidField,
    /// No credentials, or credentials that are unknown or revoked.
    Unauthenticated,
    /// The credentials do not grant access to this resource.
    Forbidden,
    NotFound,
    /// The conversation has ended; nothing more can be written to it.
    ConversationEnded,
    /// The participant has left the conversation.
    ParticipantLeft,
    /// The request conflicts with the current state.
    Conflict,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    /// The server is shutting down or overloaded; retry later.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::InvalidField => "invalid_field",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::ConversationEnded => "conversation_ended",
            Self::ParticipantLeft => "participant_left",
            Self::Conflict => "conflict",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub const ALL: [ErrorCode; 14] = [
        Self::MalformedRequest,
        Self::InvalidField,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::ConversationEnded,
        Self::ParticipantLeft,
        Self::Conflict,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
    ];
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of a domain operation.
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
    /// For `RateLimited` and `Unavailable`: when to try again.
    pub retry_after_secs: Option<u32>,
    /// Every problem found, when there are several (a flow file): field and message.
    pub details: Vec<(String, String)>,
    source: Option<Source>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, retry_after_secs: None, details: Vec::new(), source: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// One error standing for several: the first's code, field and message,
    /// and every one in `details`.
    pub fn several(errors: Vec<Error>) -> Self {
        let details = errors.iter().map(|e| (e.field.clone().unwrap_or_default(), e.message.clone())).collect();
        let Some(first) = errors.into_iter().next() else {
            return Self::internal("no error given");
        };
        let mut e = Self::new(first.code, first.message);
        e.field = first.field;
        e.details = details;
        e
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, message).with_field(field)
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn too_large(field: impl Into<String>, limit: usize) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, format!("larger than the limit of {limit} bytes")).with_field(field)
    }

    pub fn rate_limited(retry_after_secs: u32) -> Self {
        let mut e = Self::new(ErrorCode::RateLimited, "too many requests; slow down");
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::Unavailable, message);
        e.retry_after_secs = Some(1);
        e
    }

    pub fn conversation_ended() -> Self {
        Self::new(ErrorCode::ConversationEnded, "the conversation has ended")
    }

    /// An unexpected failure; the source is logged, never shown.
    pub fn internal(source: impl Into<Source>) -> Self {
        let mut e = Self::new(ErrorCode::Internal, "internal error");
        e.source = Some(source.into());
        e
    }

    pub fn internal_source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// A copy for handing the same failure to several waiters; the source is
    /// kept as text.
    pub fn duplicate(&self) -> Self {
        Self {
            code: self.code,
            message: self.message.clone(),
            field: self.field.clone(),
            retry_after_secs: self.retry_after_secs,
            details: self.details.clone(),
            source: self.source.as_ref().map(|s| Source::from(s.to_string())),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("code", &self.code).field("message", &self.message);
        if let Some(field) = &self.field {
            d.field("field", field);
        }
        if let Some(source) = &self.source {
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.field, &self.source) {
            (_, Some(source)) => write!(f, "{}: {source}", self.message),
            (Some(field), None) => write!(f, "{field}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::ids::IdError> for Error {
    fn from(e: crate::ids::IdError) -> Self {
        Self::new(ErrorCode::NotFound, e.to_string())
    }
}
