//! The outbox loop: work a transaction asked for but that must happen
//! outside the writer (HTTP calls, routing, launching flows, handing custom
//! events to waiting runs). Items are leased, done, and their outcome is
//! committed as a command; a node that dies mid-item leaves it to be taken
//! again when the lease lapses, so work is done at least once and recorded
//! once (a run's wait takes one outcome).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::routing::Target;
use super::{Caller, Engine};
use crate::bus::Topic;
use crate::command::{Command, NewRun};
use crate::error::{Error, Result};
use crate::flows::model::{RouteTarget, Trigger};
use crate::flows::outside::{HttpCall, HttpClient, HttpFailure};
use crate::flows::records::{OutboxItem, OutboxState, Work};
use crate::flows::run::{ActionRequest, Input, Wait};
use crate::flows::webhooks::{self, Target as HookTarget};
use crate::model::ConversationState;

/// The most items taken at once.
/// The most items done at once by one node.
const IN_FLIGHT: u32 = 256;
/// How often the loop looks at the least.
const POLL: Duration = Duration::from_secs(1);
/// How long a webhook receiver has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

impl Engine {
    /// Runs outbox items until `shutdown` completes. Items are done as tasks
    /// of their own, up to `IN_FLIGHT` at once, and more are taken as soon as
    /// any finishes: a slow receiver or HTTP call holds up only itself.
    pub async fn run_outbox(self: Arc<Self>, http: Arc<dyn HttpClient>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut woken = self.bus.subscribe(Topic::Work);
        let mut running = tokio::task::JoinSet::new();
        loop {
            let room = IN_FLIGHT.saturating_sub(running.len() as u32);
            let wait = match self.take_outbox(&http, &mut running, room).await {
                // Full: the next task to finish wakes the loop.
                Ok(_) if room == 0 => POLL,
                Ok(n) if n == room => Duration::ZERO,
                Ok(_) => match self.store.next_outbox_due().await {
                    Ok(Some(due)) => {
                        Duration::from_millis((due.millis() - self.now().millis()).max(0) as u64).min(POLL)
                    }
                    _ => POLL,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the outbox");
                    POLL
                }
            };
            tokio::select! {
                () = &mut shutdown => {
                    // Work in flight is leased: another node, or this one
                    // restarted, takes it again when the lease lapses.
                    running.abort_all();
                    return;
                }
                () = tokio::time::sleep(wait) => {}
                _ = woken.recv() => {}
                Some(res) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = res {
                        tracing::error!(error = %e, "outbox task failed");
                    }
                }
            }
        }
    }

    /// Takes up to `room` due items and starts each as a task; returns how
    /// many were taken.
    async fn take_outbox(
        self: &Arc<Self>,
        http: &Arc<dyn HttpClient>,
        running: &mut tokio::task::JoinSet<()>,
        room: u32,
    ) -> Result<u32> {
        if room == 0 {
            return Ok(0);
        }
        let now = self.now();
        let lease = now.plus_secs(self.limits.outbox.lease_secs);
        let items = self.store.claim_outbox(now, lease, room).await?;
        let n = items.len() as u32;
        for item in items {
            let (engine, http) = (Arc::clone(self), Arc::clone(http));
            running.spawn(async move { engine.work_lane(item, &http).await });
        }
        Ok(n)
    }

    /// Does an item, then, while its lane has a next item due, that one:
    /// a webhook's deliveries follow each other without waiting for the
    /// loop's next look at the whole outbox.
    async fn work_lane(self: &Arc<Self>, first: OutboxItem, http: &Arc<dyn HttpClient>) {
        let mut item = first;
        loop {
            let done = match self.work(&item, http).await {
                Ok(()) => true,
                Err(e) => {
                    self.failed(&item, &e).await;
                    false
                }
            };
            let Some(lane) = item.lane.as_deref().filter(|_| done) else { return };
            let now = self.now();
            let lease = now.plus_secs(self.limits.outbox.lease_secs);
            match self.store.claim_next_in_lane(lane, now, lease).await {
                Ok(Some(next)) => item = next,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not take the next item of a lane");
                    return;
                }
            }
        }
    }

    /// A failure of the machinery (not of the action): try again later,
    /// with backoff and jitter, or give the item up.
    async fn failed(&self, item: &OutboxItem, e: &Error) {
        let settings = self.limits.outbox;
        let attempts = item.attempts + 1;
        let dead = attempts >= settings.attempts;
        let base = settings.backoff.as_millis().min(600_000) as i64;
        let backoff = base.saturating_mul(1 << (attempts - 1).min(20)).min(600_000);
        let jitter = rand::random_range(0..=backoff / 2);
        let next = crate::clock::Timestamp(self.now().millis() + backoff + jitter);
        tracing::warn!(item = %item.id, attempts, dead, error = %e, "outbox item failed");
        if let Err(e) = self.store.retry_outbox(item.id, attempts, next, &e.message, dead, self.now()).await {
            tracing::warn!(item = %item.id, error = %e, "could not record an outbox failure");
        }
    }

    async fn work(&self, item: &OutboxItem, http: &Arc<dyn HttpClient>) -> Result<()> {
        match &item.work {
            Work::Action { run_id, wait_seq, request } => {
                let Some(conversation) = item.conversation_id else {
                    return self.finish(item, OutboxState::Done, Some("no conversation".into())).await;
                };
                let input = match self.act(item, *run_id, *wait_seq, request, http).await? {
                    Some(input) => input,
                    // A subflow: its end answers the wait.
                    None => return self.finish(item, OutboxState::Done, None).await,
                };
                let resume =
                    Command::Resume { conversation, run: *run_id, wait_seq: *wait_seq, input, outbox: Some(item.id) };
                match self.store.apply(resume).await {
                    Ok(_) => Ok(()),
                    // The conversation is gone: nothing waits any more.
                    Err(e) if e.code == crate::ErrorCode::NotFound => {
                        self.finish(item, OutboxState::Done, Some(e.message)).await
                    }
                    Err(e) => Err(e),
                }
            }
            Work::Dispatch { event_id } => {
                self.dispatch(*event_id).await?;
                self.finish(item, OutboxState::Done, None).await
            }
            Work::Launch { by, flow, run_id, params } => {
                let note = match item.conversation_id {
                    Some(c) => self.launch_child(item, c, *by, flow, *run_id, params, None).await?,
                    None => Some("no conversation".to_owned()),
                };
                self.finish(item, OutboxState::Done, note).await
            }
            Work::Deliver { webhook, event_id, kind, payload, run_id } => {
                let note = self.deliver(item, *webhook, event_id, kind, payload, *run_id, http).await?;
                self.finish(item, OutboxState::Done, note).await
            }
            Work::Scan { attachment } => self.scan(item, *attachment).await,
            Work::DeleteFiles { prefix } => self.delete_files(item, prefix).await,
            Work::Handoff { .. } => {
                let outcome = match item.conversation_id {
                    Some(c) => self.hand_to_workflow(item.workspace_id, c).await,
                    None => Ok(()),
                };
                let note = outcome.err().map(|e| e.message);
                self.finish(item, OutboxState::Done, note).await
            }
        }
    }

    pub(super) async fn finish(&self, item: &OutboxItem, state: OutboxState, error: Option<String>) -> Result<()> {
        self.store.apply(Command::FinishOutbox { id: item.id, state, error }).await.map(drop)
    }

    /// Does an action; its outcome as the run's input (`None` for a
    /// subflow, which answers when it ends). `Err` only when the machinery
    /// failed and the item should be tried again.
    async fn act(
        &self,
        item: &OutboxItem,
        run_id: crate::ids::FlowRunId,
        wait_seq: u32,
        request: &ActionRequest,
        http: &Arc<dyn HttpClient>,
    ) -> Result<Option<Input>> {
        let caller = Caller::Admin { workspace: item.workspace_id };
        let conversation = item.conversation_id.ok_or_else(|| Error::internal("action without a conversation"))?;
        let outcome = match request {
            ActionRequest::Http { method, url, headers, body, timeout_secs } => {
                let mut headers = headers.clone();
                let body = body.as_ref().map(|b| serde_json::to_vec(b).unwrap_or_default());
                if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                let call = HttpCall {
                    method: *method,
                    url: url.clone(),
                    headers,
                    body,
                    timeout: Duration::from_secs(u64::from(*timeout_secs)),
                };
                return Ok(Some(match http.send(call).await {
                    Ok(reply) if (200..300).contains(&reply.status) => {
                        Input::Done { result: serde_json::json!({ "status": reply.status, "body": reply.body }) }
                    }
                    Ok(reply) => Input::Failed { error: format!("the server answered HTTP {}", reply.status) },
                    Err(HttpFailure::TimedOut) => Input::Timeout,
                    Err(HttpFailure::Failed(e)) => Input::Failed { error: e },
                }));
            }
            ActionRequest::Route { target, priority } => {
                let target = self.flow_target(item.workspace_id, target).await;
                match target {
                    Ok(t) => {
                        self.route_conversation(&caller, conversation, t, Some(i64::from(*priority))).await.map(drop)
                    }
                    Err(e) => Err(e),
                }
            }
            ActionRequest::Transfer { target } => match self.flow_target(item.workspace_id, target).await {
                Ok(t) => self.transfer(&caller, conversation, t).await.map(drop),
                Err(e) => Err(e),
            },
            ActionRequest::Launch { flow, run_id: child, params, wait } => {
                let parent = wait.then_some((run_id, wait_seq));
                return Ok(match self.launch_child(item, conversation, run_id, flow, *child, params, parent).await? {
                    None if *wait => None,
                    None => Some(Input::Done { result: serde_json::Value::Null }),
                    Some(error) => Some(Input::Failed { error }),
                });
            }
        };
        Ok(Some(match outcome {
            Ok(()) => Input::Done { result: serde_json::Value::Null },
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => Input::Failed { error: e.message },
        }))
    }

    /// Delivers an event to a webhook. `Ok(note)`: done (a note when there
    /// was nothing to do, or the receiver said it is gone); `Err`: try again.
    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        item: &OutboxItem,
        id: crate::ids::WebhookId,
        event_id: &str,
        kind: &str,
        payload: &serde_json::Value,
        run_id: Option<crate::ids::FlowRunId>,
        http: &Arc<dyn HttpClient>,
    ) -> Result<Option<String>> {
        let Some(hook) = self.store.webhook(id).await?.filter(|h| h.enabled) else {
            return Ok(Some("the webhook was deleted or disabled".into()));
        };
        match &hook.target {
            HookTarget::Flow(flow) => self.deliver_to_flow(item, flow, payload, run_id).await,
            HookTarget::Url(url) => {
                let body = serde_json::to_vec(payload).unwrap_or_default();
                let secret = self.webhook_secret_of(item.workspace_id).await?;
                let now = self.now().millis() / 1000;
                let headers = vec![
                    ("content-type".to_owned(), "application/json".to_owned()),
                    (webhooks::SIGNATURE_HEADER.to_owned(), webhooks::signature_header(&secret, now, &body)),
                    ("Switchboard-Event-Id".to_owned(), event_id.to_owned()),
                    ("Switchboard-Event-Type".to_owned(), kind.to_owned()),
                    ("Switchboard-Webhook-Id".to_owned(), id.to_string()),
                    ("Switchboard-Delivery-Attempt".to_owned(), (item.attempts + 1).to_string()),
                ];
                let call = HttpCall {
                    method: crate::flows::model::Method::Post,
                    url: url.clone(),
                    headers,
                    body: Some(body),
                    timeout: DELIVERY_TIMEOUT,
                };
                match http.send(call).await {
                    Ok(reply) if (200..300).contains(&reply.status) => Ok(None),
                    Ok(reply) if reply.status == 410 => {
                        let reason = "the receiver answered 410 Gone";
                        self.store.set_webhook_enabled(id, false, Some(reason), self.now()).await?;
                        Ok(Some(format!("{reason}; the webhook is disabled")))
                    }
                    Ok(reply) => Err(Error::unavailable(format!("the receiver answered HTTP {}", reply.status))),
                    Err(e) => Err(Error::unavailable(e.to_string())),
                }
            }
        }
    }

    /// A webhook whose target is a flow: the event starts it in the event's
    /// conversation, unless a run of it is already going there (it hears the
    /// conversation itself).
    async fn deliver_to_flow(
        &self,
        item: &OutboxItem,
        flow: &str,
        payload: &serde_json::Value,
        run_id: Option<crate::ids::FlowRunId>,
    ) -> Result<Option<String>> {
        let (Some(conversation), Some(run_id)) = (item.conversation_id, run_id) else {
            return Ok(Some("the event has no conversation to run a flow in".into()));
        };
        let query = crate::store::RunQuery {
            flow: Some(flow.to_owned()),
            conversation: Some(conversation),
            state: Some(crate::flows::run::RunState::Waiting),
            before: None,
            limit: 1,
        };
        if self.store.runs(item.workspace_id, &query).await?.iter().any(|r| r.id != run_id) {
            return Ok(Some(format!("a run of `{flow}` is already going in the conversation")));
        }
        let Some(deployed) = self.store.flow_versions(item.workspace_id, flow).await?.into_iter().next() else {
            return Ok(Some(format!("no flow `{flow}` is deployed")));
        };
        let run = NewRun {
            id: run_id,
            conversation,
            flow: deployed.id,
            params: Default::default(),
            trigger: payload.clone(),
            launcher: None,
            parent: None,
        };
        match self.store.apply(Command::StartRun { run: Box::new(run) }).await {
            Ok(_) => Ok(None),
            Err(e) if is_transient(&e) => Err(e),
            Err(e) => Ok(Some(e.message)),
        }
    }

    /// The workspace's signing secret, made on first use.
    pub(crate) async fn webhook_secret_of(&self, workspace: crate::ids::WorkspaceId) -> Result<String> {
        if let Some(s) = self.store.webhook_secret(workspace).await? {
            return Ok(s);
        }
        let secret = new_webhook_secret();
        self.store.put_webhook_secret(workspace, &secret, self.now()).await?;
        // Two nodes may make one at once: the stored one wins.
        Ok(self.store.webhook_secret(workspace).await?.unwrap_or(secret))
    }

    /// Starts a flow launched by run `by`; a refusal (no such flow, too many
    /// runs) comes back as its message, `Err` only for the machinery.
    #[allow(clippy::too_many_arguments)]
    async fn launch_child(
        &self,
        item: &OutboxItem,
        conversation: crate::ids::ConversationId,
        by: crate::ids::FlowRunId,
        flow: &str,
        child: crate::ids::FlowRunId,
        params: &crate::flows::form::Values,
        parent: Option<(crate::ids::FlowRunId, u32)>,
    ) -> Result<Option<String>> {
        let Some(deployed) = self.store.flow_versions(item.workspace_id, flow).await?.into_iter().next() else {
            return Ok(Some(format!("no flow `{flow}` is deployed")));
        };
        let launcher = self.store.run(by).await?.and_then(|r| r.launcher);
        let run = NewRun {
            id: child,
            conversation,
            flow: deployed.id,
            params: params.clone(),
            trigger: serde_json::json!({ "launched_by_run": by.to_string() }),
            launcher,
            parent,
        };
        match self.store.apply(Command::StartRun { run: Box::new(run) }).await {
            Ok(_) => Ok(None),
            Err(e) if is_transient(&e) => Err(e),
            Err(e) => Ok(Some(e.message)),
        }
    }

    async fn flow_target(&self, workspace: crate::ids::WorkspaceId, target: &RouteTarget) -> Result<Target> {
        Ok(match target {
            RouteTarget::Workflow => Target { queue: None, agent: None },
            RouteTarget::Queue(q) => Target { queue: Some(q.clone()), agent: None },
            RouteTarget::Agent(login) => {
                let agent = match self.store.agent_by_login(workspace, login).await? {
                    Some((a, _)) => a,
                    None => self
                        .store
                        .agents(workspace)
                        .await?
                        .into_iter()
                        .find(|a| a.name == *login)
                        .ok_or_else(|| Error::invalid("agent", format!("no agent `{login}`")))?,
                };
                Target { queue: None, agent: Some(agent.id) }
            }
        })
    }

    /// A failed customer-side flow: the workflow finds the chat a human.
    async fn hand_to_workflow(&self, workspace: crate::ids::WorkspaceId, id: crate::ids::ConversationId) -> Result<()> {
        let Some(c) = self.store.conversation(id).await? else { return Ok(()) };
        if c.state == ConversationState::Ended {
            return Ok(());
        }
        let caller = Caller::Admin { workspace };
        self.route_conversation(&caller, id, Target { queue: None, agent: None }, None).await.map(drop)
    }

    /// Hands a custom event to the runs waiting for it and starts the flows
    /// it triggers.
    async fn dispatch(&self, id: crate::ids::CustomEventId) -> Result<()> {
        let Some(event) = self.store.custom_event(id).await? else { return Ok(()) };
        for run in self.store.runs_waiting_for(event.workspace_id, &event.event_type, &event.key).await? {
            let fits = matches!(&run.wait, Some(Wait::Event { since, .. }) if *since <= event.published_at);
            if !fits || !run.state.is_active() {
                continue;
            }
            let input = Input::Event { data: serde_json::Value::Object(event.data.clone()) };
            let resume = Command::Resume {
                conversation: run.conversation_id,
                run: run.id,
                wait_seq: run.wait_seq,
                input,
                outbox: None,
            };
            if let Err(e) = self.store.apply(resume).await {
                tracing::warn!(run = %run.id, error = %e, "could not hand an event to a waiting run");
            }
        }
        for flow in self.store.triggered_flows(event.workspace_id).await? {
            if !matches!(&flow.flow.trigger, Some(Trigger::Event(t)) if *t == event.event_type) {
                continue;
            }
            let conversation = match event.conversation_id {
                Some(c) => self.store.conversation(c).await?,
                None => self.store.conversations_by_record(event.workspace_id, &event.key).await?.into_iter().next(),
            };
            let Some(c) = conversation.filter(|c| c.state == ConversationState::Open) else { continue };
            let trigger = serde_json::json!({
                "event": { "type": event.event_type, "key": event.key, "data": event.data, "replay_id": event.replay_id }
            });
            if let Err(e) = self.start_run(&c, &flow, Default::default(), trigger, None).await {
                tracing::warn!(flow = %flow.name, error = %e, "could not start an event-triggered flow");
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Deletes custom events past their retention and finished outbox items
    /// older than a week, once an hour, until `shutdown` completes.
    pub async fn run_flow_sweeps(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now = self.now();
            let week_ago = crate::clock::Timestamp(now.millis() - 7 * 24 * 3600 * 1000);
            if let Err(e) = self.store.sweep_flows(now, week_ago).await {
                tracing::warn!(error = %e, "could not sweep old custom events and outbox items");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    }
}

/// A new signing secret: `whsec_` and 32 random bytes, base64url.
pub(crate) fn new_webhook_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Errors worth trying again (the store or the server was busy), as
/// opposed to refusals, which are the action's outcome.
fn is_transient(e: &Error) -> bool {
    matches!(e.code, crate::ErrorCode::Unavailable | crate::ErrorCode::Internal)
}
