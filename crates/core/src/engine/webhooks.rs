//! Webhooks as operations: adding them (workspace-wide or for one
//! conversation), listing, switching off and on, removing, their deliveries,
//! and the workspace's signing secret.

use super::{Caller, Engine, admin_workspace};
use crate::command::Command;
use crate::error::{Error, ErrorCode, Result};
use crate::flows::records::OutboxItem;
use crate::flows::webhooks::{self, Target, Webhook};
use crate::ids::{ConversationId, WebhookId};
use crate::model::ConversationState;
use crate::store::OutboxQuery;

/// A webhook as asked for.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub target: Target,
    pub kinds: Vec<String>,
    /// Scoped to this conversation; else workspace-wide.
    pub conversation: Option<ConversationId>,
}

impl Engine {
    pub async fn create_webhook(&self, caller: &Caller, spec: WebhookSpec) -> Result<Webhook> {
        let workspace = admin_workspace(caller)?;
        webhooks::check_kinds(&spec.kinds)?;
        match &spec.target {
            Target::Url(url) => webhooks::check_url(url)?,
            Target::Flow(name) => {
                if self.store.flow_versions(workspace, name).await?.is_empty() {
                    return Err(Error::invalid("flow", format!("no flow `{name}` is deployed")));
                }
            }
        }
        let existing = self.store.webhooks(workspace).await?;
        if spec.conversation.is_none()
            && existing.iter().filter(|h| h.conversation_id.is_none()).count() >= webhooks::MAX_PER_WORKSPACE
        {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("a workspace may have {} webhooks", webhooks::MAX_PER_WORKSPACE),
            ));
        }
        if let Some(c) = spec.conversation {
            let conversation = self.conversation(caller, c).await?;
            if conversation.state == ConversationState::Ended {
                return Err(Error::conversation_ended());
            }
        }
        let now = self.now();
        let hook = Webhook {
            id: WebhookId::new(),
            workspace_id: workspace,
            conversation_id: spec.conversation,
            target: spec.target,
            kinds: spec.kinds,
            enabled: true,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        // The signing secret exists before the first delivery is made.
        self.webhook_secret_of(workspace).await?;
        self.store.create_webhook(&hook).await?;
        if let Some(c) = hook.conversation_id
            && let Err(e) = self.store.apply(Command::Hook { conversation: c, hook: hook.hook() }).await
        {
            self.store.delete_webhook(hook.id).await?;
            return Err(e);
        }
        Ok(hook)
    }

    pub async fn webhooks(&self, caller: &Caller) -> Result<Vec<Webhook>> {
        self.store.webhooks(admin_workspace(caller)?).await
    }

    pub async fn webhook(&self, caller: &Caller, id: WebhookId) -> Result<Webhook> {
        let workspace = admin_workspace(caller)?;
        self.store.webhook(id).await?.filter(|h| h.workspace_id == workspace).ok_or_else(|| Error::not_found("webhook"))
    }

    /// Switches a webhook off (deliveries queued meanwhile are dropped) or
    /// back on (a receiver that answered 410 has come back).
    pub async fn set_webhook_enabled(&self, caller: &Caller, id: WebhookId, enabled: bool) -> Result<Webhook> {
        self.webhook(caller, id).await?;
        let reason = (!enabled).then_some("disabled by an operator");
        self.store.set_webhook_enabled(id, enabled, reason, self.now()).await?;
        self.webhook(caller, id).await
    }

    pub async fn delete_webhook(&self, caller: &Caller, id: WebhookId) -> Result<()> {
        let hook = self.webhook(caller, id).await?;
        if let Some(c) = hook.conversation_id {
            self.store.apply(Command::Unhook { conversation: c, webhook: id }).await?;
        }
        self.store.delete_webhook(id).await?;
        Ok(())
    }

    /// A webhook's deliveries, newest first: pending, done and dead.
    pub async fn webhook_deliveries(
        &self,
        caller: &Caller,
        id: WebhookId,
        mut query: OutboxQuery,
    ) -> Result<Vec<OutboxItem>> {
        let hook = self.webhook(caller, id).await?;
        query.lane = Some(hook.id.to_string());
        query.limit = query.limit.clamp(1, self.limits.page_max);
        self.store.outbox(hook.workspace_id, &query).await
    }

    /// The secret deliveries are signed with (made on first use).
    pub async fn webhook_secret(&self, caller: &Caller) -> Result<String> {
        self.webhook_secret_of(admin_workspace(caller)?).await
    }

    /// A new signing secret; deliveries from now on are signed with it.
    pub async fn rotate_webhook_secret(&self, caller: &Caller) -> Result<String> {
        let workspace = admin_workspace(caller)?;
        let secret = super::outbox::new_webhook_secret();
        self.store.put_webhook_secret(workspace, &secret, self.now()).await?;
        Ok(secret)
    }
}
