//! `GetTranscript`.

use axum::response::Response;

use crate::error::AwsError;

pub async fn get_transcript() -> Result<Response, AwsError> {
    Err(AwsError::access_denied("not available yet"))
}
