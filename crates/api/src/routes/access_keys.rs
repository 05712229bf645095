//! Workspace access keys: the key id and secret a back end signs
//! server-to-server requests with (AWS Signature V4, as the Amazon Connect
//! dialect's `StartChatContact` expects). A workspace key manages them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_core::Error;
use switchboard_core::ids::AccessKeyId;
use switchboard_core::model::AccessKey;
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyRequest {
    /// What the key is for (1 to 200 characters).
    pub name: String,
}

/// An access key as listed: never its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessKeyView {
    #[schema(example = "SBAKJ5Q2XK7M4D3P6W2A")]
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// Set once the key is revoked; it signs nothing from then on.
    pub revoked_at: Option<String>,
}

impl From<AccessKey> for AccessKeyView {
    fn from(k: AccessKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            created_at: k.created_at.to_rfc3339(),
            revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A key just made, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewAccessKey {
    #[schema(example = "SBAKJ5Q2XK7M4D3P6W2A")]
    pub id: String,
    pub name: String,
    /// The secret access key (40 characters). It is not shown again.
    pub secret: String,
    pub created_at: String,
}

fn key_id(id: &str) -> Result<AccessKeyId, Error> {
    AccessKeyId::parse(id).map_err(|_| Error::not_found("access key"))
}

/// POST /api/v1/access-keys — makes an access key; the answer holds its
/// secret, shown this once.
#[utoipa::path(post, path = "/api/v1/access-keys", tag = "access keys", security(("bearer" = [])),
    request_body = AccessKeyRequest,
    responses((status = 201, body = NewAccessKey), (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<AccessKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<NewAccessKey>)> {
    let (key, secret) = s.engine.create_access_key(&caller, &req.name).await?;
    let body = NewAccessKey { id: key.id.to_string(), name: key.name, secret, created_at: key.created_at.to_rfc3339() };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// GET /api/v1/access-keys — the workspace's access keys, revoked ones too,
/// oldest first; never their secrets.
#[utoipa::path(get, path = "/api/v1/access-keys", tag = "access keys", security(("bearer" = [])),
    responses((status = 200, body = Vec<AccessKeyView>), (status = 403, body = ErrorResponse)))]
pub async fn list(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<AccessKeyView>>> {
    Ok(axum::Json(s.engine.access_keys(&caller).await?.into_iter().map(Into::into).collect()))
}

/// DELETE /api/v1/access-keys/{id} — revokes the key: it signs nothing from
/// now on, and stays listed with `revoked_at`. Revoking it again changes nothing.
#[utoipa::path(delete, path = "/api/v1/access-keys/{id}", tag = "access keys", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn revoke(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.engine.revoke_access_key(&caller, &key_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
