//! Erasure and retention on both backends: an erased chat leaves nothing
//! but its audit row (searched for in every text column of every table),
//! the row counts what went, and retention finds what is due and erases it
//! once, even with two writers purging at once (PostgreSQL).

use super::*;
use switchboard_core::files::model::{Attachment, AttachmentStatus};
use switchboard_core::flows::webhooks::{Hook, Target, Webhook};
use switchboard_core::ids::{AttachmentId, ErasureId, FileRequestId, QueueId, TaskId, WebhookId};
use switchboard_core::retention::{EraseRequest, ErasedBy, Reason};
use switchboard_core::routing::model::RouteStep;

fn erase_request(w: WorkspaceId, c: ConversationId, by: ErasedBy) -> EraseRequest {
    EraseRequest {
        id: ErasureId::new(),
        workspace: w,
        conversation: c,
        by,
        reason: Some(Reason::parse("asked").unwrap()),
    }
}

fn named(role: Role, name: &str, token: Option<&Secret>) -> NewParticipant {
    NewParticipant { display_name: name.into(), ..person(role, token) }
}

/// A chat with a row in every table a chat can have rows in; returns what
/// must not be found anywhere once it is erased.
async fn busy_chat(
    store: &dyn Store,
    w: WorkspaceId,
    now: Timestamp,
    tag: &str,
) -> (ConversationId, Vec<String>, Secret) {
    let token = Secret::generate(SecretKind::Participant);
    let idle = IdleSettings { idle_after_secs: Some(600), disconnect_after_secs: None };
    let c = new_conversation(w, idle);
    let (ann, dee) = (
        named(Role::Customer, &format!("Ann Lovelace {tag}"), Some(&token)),
        named(Role::Agent, &format!("Dee Hopper {tag}"), None),
    );
    let (cid, ann_id, dee_id) = (c.id, ann.id, dee.id);
    store.apply(Command::Create { conversation: c, participants: vec![ann, dee] }).await.unwrap();
    let hook = Webhook {
        id: WebhookId::new(),
        workspace_id: w,
        conversation_id: Some(cid),
        target: Target::Url("https://example.test/hook".into()),
        kinds: vec!["message".into()],
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    store.create_webhook(&hook).await.unwrap();
    let scoped = Hook { id: hook.id, kinds: hook.kinds.clone(), flow: false };
    store.apply(Command::Hook { conversation: cid, hook: scoped }).await.unwrap();
    store
        .apply(text(cid, ann_id, &format!("my card is 4111 secret words {tag}"), Some(&format!("tok-secret-{tag}"))))
        .await
        .unwrap();
    store.apply(text(cid, dee_id, "thanks, Ann", None)).await.unwrap();

    let queue_id = QueueId::new();
    let queue = Queue {
        id: queue_id,
        workspace_id: w,
        name: queue_id.to_string(),
        expression: None,
        ordering: QueueOrdering::LongestIdle,
        offer_timeout_secs: 30,
        wrap_up_secs: 0,
        prefer_previous_agent_secs: None,
        first_reply_secs: None,
        reply_secs: None,
        on_reply_timeout: Default::default(),
        schedule_id: None,
        created_at: now,
        updated_at: now,
    };
    store.create_queue(&queue).await.unwrap();
    let task = TaskId::new();
    let step = RouteStep::to_queue(queue.id);
    store.apply(Command::Enqueue { conversation: cid, task, route: vec![step], priority: 0 }).await.unwrap();
    let request = FileRequestId::new();
    let by = Author::Participant(dee_id);
    store
        .apply(Command::RequestFile { conversation: cid, request, by, record_id: Some("REC-9".into()) })
        .await
        .unwrap();
    let attachment = Attachment {
        id: AttachmentId::new(),
        workspace_id: w,
        conversation_id: cid,
        uploaded_by: Some(ann_id),
        name: format!("passport-scan-{tag}.png"),
        declared_type: "image/png".into(),
        declared_size: 10,
        stored: None,
        status: AttachmentStatus::Uploading,
        request_id: Some(request),
        reason: None,
        url_key: "00".repeat(16),
        upload_expires_at: now.plus_secs(900),
        created_at: now,
        updated_at: now,
    };
    let aid = attachment.id;
    store
        .apply(Command::StartUpload { attachment: Box::new(attachment), by: Author::Participant(ann_id) })
        .await
        .unwrap();
    let mut event = custom_event(w, "case", &format!("K-secret-{tag}"), now);
    event.conversation_id = Some(cid);
    publish(store, event).await;
    let needles = [
        cid.to_string(),
        ann_id.to_string(),
        dee_id.to_string(),
        task.to_string(),
        request.to_string(),
        aid.to_string(),
        hook.id.to_string(),
        format!("secret words {tag}"),
        format!("Ann Lovelace {tag}"),
        format!("Dee Hopper {tag}"),
        format!("tok-secret-{tag}"),
        format!("passport-scan-{tag}"),
        format!("K-secret-{tag}"),
        token.hash().as_str().to_owned(),
    ];
    (cid, needles.into(), token)
}

pub(super) async fn an_erased_chat_leaves_only_its_audit_row<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = s.store.as_ref();
    let (w, now) = (WorkspaceId::new(), SystemClock.now());
    let (c, needles, token) = busy_chat(store, w, now, "erased").await;
    let kept = busy_chat(store, w, now, "kept").await;
    let last_seq = store.conversation(c).await.unwrap().unwrap().last_seq;

    let open_chat = Command::Erase { request: Box::new(erase_request(w, c, ErasedBy::Operator)), end: false };
    assert_eq!(store.apply(open_chat).await.unwrap_err().code, ErrorCode::Conflict, "an open chat stays");
    let elsewhere = erase_request(WorkspaceId::new(), c, ErasedBy::Operator);
    let refused = store.apply(Command::Erase { request: Box::new(elsewhere), end: true }).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotFound, "another workspace cannot erase it");

    let key = ApiKeyId::new();
    let request = erase_request(w, c, ErasedBy::ApiKey(key));
    store.apply(Command::Erase { request: Box::new(request.clone()), end: true }).await.unwrap();

    let e = store.erasure_of(w, c).await.unwrap().expect("an audit row");
    assert_eq!(
        (e.id, e.conversation_id, e.by, e.reason.as_deref()),
        (request.id, c, ErasedBy::ApiKey(key), Some("asked"))
    );
    assert!(e.ended_at.is_some(), "it was ended, then erased");
    let d = e.deleted;
    assert_eq!(d.events, last_seq + 1, "every event, the end too");
    assert_eq!((d.participants, d.attachments, d.file_requests, d.tasks), (2, 1, 1, 1));
    assert_eq!((d.custom_events, d.webhooks), (1, 1));
    assert!(d.outbox_items >= 2, "deliveries and the event's dispatch: {d:?}");
    assert!(store.erasure_of(WorkspaceId::new(), c).await.unwrap().is_none(), "seen from its own workspace only");

    let url = &s.config.url;
    let left = testing::mentions(url, &needles.iter().map(String::as_str).collect::<Vec<_>>()).await.unwrap();
    let expected = [format!("erasures.conversation_id: {c}"), format!("outbox.work: {c}")];
    assert_eq!(left, expected, "only the audit row and its files' deletion name it; nothing else of it is left");
    assert!(store.conversation(c).await.unwrap().is_none());
    assert!(store.participant_by_token(&token.hash()).await.unwrap().is_none(), "its tokens no longer work");
    assert!(store.conversation(kept.0).await.unwrap().is_some(), "the other chat is untouched");
    assert_eq!(store.events(kept.0, EventRange::after(0, 100)).await.unwrap().len() as i64, last_seq);

    let again = Command::Erase { request: Box::new(erase_request(w, c, ErasedBy::Operator)), end: true };
    assert_eq!(store.apply(again).await.unwrap_err().code, ErrorCode::NotFound);
    let listed = store.erasures(w, &switchboard_core::store::ErasureQuery { before: None, limit: 10 }).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.conversation_id).collect::<Vec<_>>(), [c]);
}

/// After erasure, the next batch on the same writer sees the chat gone
/// (SQLite's writer keeps rows it wrote in memory), and the chat that
/// continued it starts at itself.
pub(super) async fn an_erased_chat_is_gone_for_the_writer_and_its_links<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = s.store.as_ref();
    let w = WorkspaceId::new();
    let first = new_conversation(w, IdleSettings::default());
    let (a, ann) = (first.id, person(Role::Customer, None));
    let ann_id = ann.id;
    store.apply(Command::Create { conversation: first, participants: vec![ann] }).await.unwrap();
    store.apply(text(a, ann_id, "hello", None)).await.unwrap();
    store.apply(Command::End { conversation: a, by: Author::System }).await.unwrap();
    let next = NewConversation {
        continues: Some((a, Rehydration::EntirePastSession)),
        ..new_conversation(w, IdleSettings::default())
    };
    let b = next.id;
    store.apply(Command::Create { conversation: next, participants: vec![] }).await.unwrap();

    store
        .apply(Command::Erase { request: Box::new(erase_request(w, a, ErasedBy::Operator)), end: false })
        .await
        .unwrap();
    let err = store.apply(text(a, ann_id, "still there?", None)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(store.events(a, EventRange::after(0, 10)).await.unwrap().is_empty());
    let left = testing::mentions(&s.config.url, &[&a.to_string()]).await.unwrap();
    assert_eq!(left, [format!("erasures.conversation_id: {a}")], "a chat without files queues no deletion of files");
    let b_row = store.conversation(b).await.unwrap().unwrap();
    assert_eq!((b_row.previous_conversation_id, b_row.rehydration), (None, None));
    // A write to the continuation keeps the link cleared.
    store.apply(Command::End { conversation: b, by: Author::System }).await.unwrap();
    assert_eq!(store.conversation(b).await.unwrap().unwrap().previous_conversation_id, None);
}

pub(super) async fn retention_finds_what_is_due_and_purges_it_once<F: Future<Output = Subject>>(open: Open<F>) {
    let clock = ManualClock::at(Timestamp(10 * 86_400_000));
    let s = open(Arc::new(clock.clone())).await;
    let store = s.store.clone();
    let w = WorkspaceId::new();
    let mut ended = Vec::new();
    for day in 0..6u32 {
        let conversation = new_conversation(w, IdleSettings::default());
        let id = conversation.id;
        store.apply(Command::Create { conversation, participants: vec![person(Role::Customer, None)] }).await.unwrap();
        store.apply(Command::End { conversation: id, by: Author::System }).await.unwrap();
        ended.push(id);
        if day < 5 {
            clock.advance_secs(86_400);
        }
    }
    let open_chat = new_conversation(w, IdleSettings::default());
    store.apply(Command::Create { conversation: open_chat, participants: vec![] }).await.unwrap();
    store.put_workspace_settings(w, r#"{"retention":{"ended_conversations_days":2}}"#, clock.now()).await.unwrap();
    let settings = store.all_workspace_settings().await.unwrap();
    assert!(settings.iter().any(|(x, json)| *x == w && json.contains("ended_conversations_days")));

    let before = Timestamp(clock.now().millis() - 2 * 86_400_000);
    let due = store.ended_before(w, before, 100).await.unwrap();
    assert_eq!(due.iter().map(|d| d.0).collect::<Vec<_>>(), ended[..3], "the longest ended first, none open");
    assert!(due.iter().all(|d| d.1 == 3), "with the length of their logs: {due:?}");
    assert_eq!(store.ended_before(w, before, 2).await.unwrap().len(), 2);

    // Two purgers at once (on PostgreSQL, two writers on one database): each
    // chat is erased once, with one audit row.
    let second = if store.backend() == "postgres" {
        switchboard_store::open(&s.config, s.bus.clone(), Arc::new(clock.clone())).await.unwrap()
    } else {
        store.clone()
    };
    let requests = |ids: &[ConversationId]| ids.iter().map(|c| erase_request(w, *c, ErasedBy::Retention)).collect();
    let ids: Vec<ConversationId> = ended[..4].to_vec();
    let (one, two) = tokio::join!(
        store.apply(Command::Purge { requests: requests(&ids), ended_before: before }),
        second.apply(Command::Purge { requests: requests(&ids), ended_before: before }),
    );
    one.unwrap();
    two.unwrap();
    let listed = store.erasures(w, &switchboard_core::store::ErasureQuery { before: None, limit: 100 }).await.unwrap();
    let mut erased: Vec<ConversationId> = listed.iter().map(|e| e.conversation_id).collect();
    erased.sort();
    let mut expected = ended[..3].to_vec();
    expected.sort();
    assert_eq!(erased, expected, "the fourth ended too recently; nobody erased anything twice");
    assert!(listed.iter().all(|e| e.by == ErasedBy::Retention));
    assert!(store.conversation(ended[3]).await.unwrap().is_some());
    assert!(store.ended_before(w, before, 100).await.unwrap().is_empty());
}
