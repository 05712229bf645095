//! `StartChatContact` (`PUT /contact/chat`): a customer chat started by a
//! back end holding a workspace access key, signed with SigV4.

use axum::response::Response;

use crate::error::AwsError;

/// PUT /contact/chat
pub async fn start_chat_contact() -> Result<Response, AwsError> {
    Err(AwsError::access_denied("StartChatContact is not available yet").in_control())
}
