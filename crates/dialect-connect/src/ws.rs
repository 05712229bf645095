//! The WebSocket ChatJS speaks.

use axum::response::Response;

use crate::error::AwsError;

pub async fn socket() -> Result<Response, AwsError> {
    Err(AwsError::access_denied("not available yet"))
}
