//! The Participant Service: `/participant/*`, authenticated by `X-Amz-Bearer`.

use axum::response::Response;

use crate::error::AwsError;

macro_rules! not_yet {
    ($($name:ident),*) => {$(
        pub async fn $name() -> Result<Response, AwsError> {
            Err(AwsError::access_denied("not available yet"))
        }
    )*};
}

not_yet!(
    create_connection,
    send_message,
    send_event,
    disconnect,
    start_attachment_upload,
    complete_attachment_upload,
    get_attachment,
    describe_view
);
