//! Erasure and retention: erasing a conversation on request, listing the
//! audit rows, and the background pass that purges ended conversations a
//! workspace keeps no longer. Every erasure is a writer command, so it is
//! serialized with the chat's other writes; retention sends a few
//! conversations per command and waits for each to commit before the next,
//! so sends to other chats commit between them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{Caller, Engine, admin_workspace};
use crate::clock::Timestamp;
use crate::command::Command;
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{ApiKeyId, ConversationId, ErasureId, WorkspaceId};
use crate::model::WorkspaceSettings;
use crate::retention::{EraseRequest, ErasedBy, Erasure, PurgeBatch, PurgeReport, Reason};
use crate::store::ErasureQuery;

/// Conversations read per look for what is due (cut into commands after).
const DUE_PAGE: u32 = 200;

/// What an erasure on request is asked.
#[derive(Debug, Clone)]
pub struct EraseConversation {
    /// Why, for the audit row.
    pub reason: Option<String>,
    /// End the conversation first if it is still open (else that is a conflict).
    pub end: bool,
    /// The API key that asked, if it was one (the operator's command line otherwise).
    pub key: Option<ApiKeyId>,
}

impl Engine {
    /// Erases a conversation of the caller's workspace (a workspace key)
    /// with everything derived from it, and returns the audit row. Asking
    /// again for a conversation already erased returns the same row.
    pub async fn erase_conversation(
        &self,
        caller: &Caller,
        id: ConversationId,
        req: EraseConversation,
    ) -> Result<Erasure> {
        let workspace = admin_workspace(caller)?;
        let reason = req.reason.as_deref().map(Reason::parse).transpose()?;
        let present = self.store.conversation(id).await?.is_some_and(|c| c.workspace_id == workspace);
        if present {
            let by = req.key.map_or(ErasedBy::Operator, ErasedBy::ApiKey);
            let request = EraseRequest { id: ErasureId::new(), workspace, conversation: id, by, reason };
            match self.store.apply(Command::Erase { request: Box::new(request), end: req.end }).await {
                Ok(_) => {}
                // Another request erased it first: its row answers.
                Err(e) if e.code == ErrorCode::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.store.erasure_of(workspace, id).await?.ok_or_else(|| Error::not_found("conversation"))
    }

    /// The caller's workspace's erasures, newest first.
    pub async fn erasures(&self, caller: &Caller, mut query: ErasureQuery) -> Result<Vec<Erasure>> {
        let workspace = admin_workspace(caller)?;
        query.limit = query.limit.clamp(1, self.limits.page_max);
        self.store.erasures(workspace, &query).await
    }

    /// Erases, in every workspace that keeps ended conversations for a
    /// limited time, those that ended before that time as of `now`, at most
    /// `batch` per writer command.
    pub async fn purge_expired(&self, now: Timestamp, batch: PurgeBatch) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        for (workspace, settings) in self.store.all_workspace_settings().await? {
            let settings: WorkspaceSettings = match serde_json::from_str(&settings) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%workspace, error = %e, "unreadable workspace settings; retention skipped");
                    continue;
                }
            };
            if let Some(before) = settings.retention.ended_before(now) {
                self.purge_workspace(workspace, before, batch, &mut report).await?;
            }
        }
        Ok(report)
    }

    /// Erases a workspace's chats that ended before `before`, a batch per
    /// command, until none is left.
    async fn purge_workspace(
        &self,
        workspace: WorkspaceId,
        before: Timestamp,
        batch: PurgeBatch,
        report: &mut PurgeReport,
    ) -> Result<()> {
        loop {
            let due = self.store.ended_before(workspace, before, DUE_PAGE).await?;
            let mut erased = 0;
            for conversations in batch.split(&due) {
                let started = std::time::Instant::now();
                erased += self.purge_batch(workspace, before, conversations, report).await?;
                // Rest as long as the command took: the purge then has at
                // most about half of the writer (and of the core), and sends
                // queued meanwhile commit on their own.
                match batch.rest {
                    true => tokio::time::sleep(started.elapsed()).await,
                    false => tokio::task::yield_now().await,
                }
            }
            // A page that erased nothing would be read again: stop instead.
            if due.len() < DUE_PAGE as usize || erased == 0 {
                return Ok(());
            }
        }
    }

    /// One command's worth; returns how many conversations it erased (none
    /// that another node erased first).
    async fn purge_batch(
        &self,
        workspace: WorkspaceId,
        ended_before: Timestamp,
        conversations: Vec<ConversationId>,
        report: &mut PurgeReport,
    ) -> Result<u64> {
        let requests: Vec<EraseRequest> = conversations
            .into_iter()
            .map(|conversation| EraseRequest {
                id: ErasureId::new(),
                workspace,
                conversation,
                by: ErasedBy::Retention,
                reason: Some(Reason::retention()),
            })
            .collect();
        let ids: Vec<ErasureId> = requests.iter().map(|r| r.id).collect();
        self.store.apply(Command::Purge { requests, ended_before }).await?;
        let done = self.store.erasures_by_ids(&ids).await?;
        report.commands += 1;
        report.conversations += done.len() as u64;
        report.events += done.iter().map(|e| e.deleted.events.max(0) as u64).sum::<u64>();
        Ok(done.len() as u64)
    }

    /// Runs a retention pass every `every` (with a little jitter, so nodes
    /// sharing a database do not all look at once) until `shutdown`.
    pub async fn run_retention(
        self: Arc<Self>,
        every: Duration,
        batch: PurgeBatch,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let jitter = rand::random_range(0..=every.as_millis() as u64 / 10);
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every + Duration::from_millis(jitter)) => {}
            }
            // A pass stopped by shutdown stops between commands: each one is whole.
            let started = std::time::Instant::now();
            tokio::select! {
                () = &mut shutdown => return,
                outcome = self.purge_expired(self.now(), batch) => match outcome {
                    Ok(r) if r.conversations > 0 => tracing::info!(
                        conversations = r.conversations, events = r.events, commands = r.commands,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "retention erased ended conversations"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention pass failed; trying again next time"),
                },
            }
        }
    }
}
