//! The store conformance suite: every test runs against SQLite and against
//! PostgreSQL (when `SWITCHBOARD_TEST_POSTGRES_URL` is set at build time;
//! otherwise the PostgreSQL copies are reported as ignored).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_core::ErrorCode;
use switchboard_core::bus::{Bus, LocalBus, Notice};
use switchboard_core::clock::{Clock, ManualClock, SystemClock, Timestamp};
use switchboard_core::command::{Author, ClientToken, Command, NewConversation, NewParticipant};
use switchboard_core::event::{ContentType, EventKind, LeaveReason};
use switchboard_core::flows::events::EventType;
use switchboard_core::flows::records::{CustomEvent, OutboxState};
use switchboard_core::ids::CustomEventId;
use switchboard_core::ids::{ApiKeyId, ConversationId, EntryPointId, ParticipantId, ScheduleId, WorkspaceId};
use switchboard_core::model::{
    ApiKey, Attributes, ConversationState, EntryPoint, IdleSettings, Rehydration, Role, Workspace,
};
use switchboard_core::routing::hours::{self, Schedule};
use switchboard_core::routing::model::{Ordering as QueueOrdering, Queue};
use switchboard_core::store::{CommitObserver, ConversationQuery, EventRange, Order, OutboxQuery, Store};
use switchboard_core::timer::TimerKind;
use switchboard_core::token::{Secret, SecretKind};
use switchboard_store::{StoreConfig, open, open_reader, testing};

/// A store under test, with what it was opened with.
struct Subject {
    store: Arc<dyn Store>,
    bus: Arc<LocalBus>,
    config: StoreConfig,
    batches: Arc<Batches>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Default)]
struct Batches {
    largest: AtomicUsize,
    count: AtomicUsize,
}

impl CommitObserver for Batches {
    fn batch_committed(&self, commands: usize, _events: usize, _micros: u64) {
        self.largest.fetch_max(commands, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

async fn subject(url: String, dir: Option<tempfile::TempDir>, clock: Arc<dyn Clock>) -> Subject {
    let batches = Arc::new(Batches::default());
    let mut config = StoreConfig::new(url);
    config.observer = Some(batches.clone());
    let bus = Arc::new(LocalBus::default());
    let store = open(&config, bus.clone(), clock).await.expect("open store");
    Subject { store, bus, config, batches, _dir: dir }
}

async fn sqlite(clock: Arc<dyn Clock>) -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    subject(url, Some(dir), clock).await
}

async fn postgres(clock: Arc<dyn Clock>) -> Subject {
    subject(testing::fresh_postgres_url().await, None, clock).await
}

/// Writes each test twice: `sqlite::name` and `postgres::name`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::sqlite).await }
            )*
        }
        mod postgres_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
            async fn $name() { super::$name(super::postgres).await }
            )*
        }
    };
}

conformance!(
    workspaces_keys_and_entry_points,
    log_is_ordered_and_pages_both_ways,
    concurrent_appends_are_gapless_and_group_committed,
    client_tokens_store_once,
    rules_are_enforced_in_the_transaction,
    participant_tokens_resolve_and_revoke,
    committed_events_are_published_in_order,
    inactivity_timers_are_stored_and_fire,
    everything_survives_reopening,
    conversations_list_newest_first_in_pages,
    conversations_list_by_creation_window,
    a_reader_reads_beside_the_writer_and_writes_nothing,
    custom_events_replay_in_order_and_expire,
    outbox_items_are_leased_retried_given_up_and_replayed,
    continued_chats_link_once_and_read_back,
    an_erased_chat_leaves_only_its_audit_row,
    an_erased_chat_is_gone_for_the_writer_and_its_links,
    retention_finds_what_is_due_and_purges_it_once,
    access_keys_keep_their_secret_and_revoke,
    start_tokens_are_claimed_once_and_taken_over_by_compare_and_set,
);

#[path = "conformance/keys.rs"]
mod keys;
use keys::{access_keys_keep_their_secret_and_revoke, start_tokens_are_claimed_once_and_taken_over_by_compare_and_set};

#[path = "conformance/retention.rs"]
mod retention;
use retention::{
    an_erased_chat_is_gone_for_the_writer_and_its_links, an_erased_chat_leaves_only_its_audit_row,
    retention_finds_what_is_due_and_purges_it_once,
};

type Open<F> = fn(Arc<dyn Clock>) -> F;

fn new_conversation(workspace: WorkspaceId, idle: IdleSettings) -> NewConversation {
    NewConversation {
        id: ConversationId::new(),
        workspace_id: workspace,
        entry_point_id: None,
        attributes: Attributes::new(),
        record_id: None,
        continues: None,
        idle,
        ends_at: None,
    }
}

fn person(role: Role, token: Option<&Secret>) -> NewParticipant {
    NewParticipant {
        id: ParticipantId::new(),
        role,
        display_name: role.as_str().into(),
        token: token.map(Secret::hash),
        agent_id: None,
    }
}

/// A conversation with a customer and an agent.
async fn chat(store: &dyn Store, idle: IdleSettings) -> (ConversationId, ParticipantId, ParticipantId) {
    let c = new_conversation(WorkspaceId::new(), idle);
    let (customer, agent) = (person(Role::Customer, None), person(Role::Agent, None));
    let ids = (c.id, customer.id, agent.id);
    store.apply(Command::Create { conversation: c, participants: vec![customer, agent] }).await.unwrap();
    ids
}

fn text(c: ConversationId, p: ParticipantId, body: &str, token: Option<&str>) -> Command {
    Command::Append {
        conversation: c,
        author: Author::Participant(p),
        kind: EventKind::Message { content_type: ContentType::TextPlain, content: body.into() },
        client_token: token.map(|t| ClientToken::parse(t).unwrap()),
    }
}

async fn workspaces_keys_and_entry_points<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    assert!(store.first_workspace().await.unwrap().is_none());
    let w = Workspace { id: WorkspaceId::new(), name: "Acme".into(), created_at: Timestamp(1) };
    store.create_workspace(&w).await.unwrap();
    assert_eq!(store.first_workspace().await.unwrap(), Some(w.clone()));

    let secret = Secret::generate(SecretKind::ApiKey);
    let key = ApiKey {
        id: ApiKeyId::new(),
        workspace_id: w.id,
        name: "ci".into(),
        created_at: Timestamp(2),
        revoked_at: None,
    };
    store.create_api_key(&key, &secret.hash()).await.unwrap();
    assert_eq!(store.api_key_by_token(&secret.hash()).await.unwrap(), Some(key.clone()));
    let other = Secret::generate(SecretKind::ApiKey);
    assert_eq!(store.api_key_by_token(&other.hash()).await.unwrap(), None);
    let dup = store.create_api_key(&ApiKey { id: ApiKeyId::new(), ..key }, &secret.hash()).await.unwrap_err();
    assert_eq!(dup.code, ErrorCode::Conflict);

    let mut ep = EntryPoint {
        id: EntryPointId::new(),
        workspace_id: w.id,
        name: "Web".into(),
        allowed_origins: vec!["https://shop.example".into()],
        idle: IdleSettings { idle_after_secs: Some(60), disconnect_after_secs: None },
        enabled: true,
        schedule_id: None,
        widget: Default::default(),
        created_at: Timestamp(3),
    };
    store.create_entry_point(&ep).await.unwrap();
    ep.enabled = false;
    ep.widget = serde_json::from_value(serde_json::json!({
        "title": "Help", "prechat": [{"name": "email", "label": "Email", "kind": "email", "required": true}]
    }))
    .unwrap();
    ep.allowed_origins.push("*".into());
    store.update_entry_point(&ep).await.unwrap();
    assert_eq!(store.entry_point(ep.id).await.unwrap(), Some(ep.clone()));
    assert_eq!(store.entry_points(w.id).await.unwrap(), vec![ep.clone()]);
    assert!(store.entry_points(WorkspaceId::new()).await.unwrap().is_empty());

    // Schedules: stored whole, unique by name, not deleted while followed.
    let doc = hours::from_json(&serde_json::json!({
        "name": "support", "time_zone": "Europe/Paris",
        "weekly": {"mon": [["09:00", "17:30"]]},
        "exceptions": [{"date": "2026-12-25", "closed": true, "name": "Christmas"}],
    }))
    .unwrap();
    let mut schedule = Schedule {
        id: ScheduleId::new(),
        workspace_id: w.id,
        name: doc.name,
        hours: doc.hours,
        created_at: Timestamp(4),
        updated_at: Timestamp(4),
    };
    store.create_schedule(&schedule).await.unwrap();
    let dup = Schedule { id: ScheduleId::new(), ..schedule.clone() };
    assert_eq!(store.create_schedule(&dup).await.unwrap_err().code, ErrorCode::Conflict);
    schedule.hours = hours::from_json(&serde_json::json!({"name": "x", "time_zone": "UTC"})).unwrap().hours;
    schedule.updated_at = Timestamp(5);
    store.update_schedule(&schedule).await.unwrap();
    assert_eq!(store.schedule(schedule.id).await.unwrap(), Some(schedule.clone()));
    assert_eq!(store.schedules(w.id).await.unwrap(), vec![schedule.clone()]);
    assert_eq!(store.schedules_by_ids(&[schedule.id]).await.unwrap(), vec![schedule.clone()]);
    let ep = EntryPoint { schedule_id: Some(schedule.id), ..ep };
    store.update_entry_point(&ep).await.unwrap();
    assert_eq!(store.entry_point(ep.id).await.unwrap().unwrap().schedule_id, Some(schedule.id));
    let used = store.delete_schedule(schedule.id).await.unwrap_err();
    assert!(used.code == ErrorCode::Conflict && used.message.contains("entry point `Web`"), "{used}");
    store.update_entry_point(&EntryPoint { schedule_id: None, ..ep }).await.unwrap();
    assert!(store.delete_schedule(schedule.id).await.unwrap());
    assert!(!store.delete_schedule(schedule.id).await.unwrap());
    assert!(store.schedules(w.id).await.unwrap().is_empty());
}

async fn log_is_ordered_and_pages_both_ways<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    let (c, customer, agent) = chat(store.as_ref(), IdleSettings::default()).await;
    for i in 0..20 {
        let who = if i % 2 == 0 { customer } else { agent };
        store.apply(text(c, who, &format!("m{i}"), None)).await.unwrap();
    }
    // created + 2 joined + 20 messages
    let all = store.events(c, EventRange::after(0, 100)).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=23).collect::<Vec<_>>());
    assert_eq!(all[3].kind, EventKind::Message { content_type: ContentType::TextPlain, content: "m0".into() });

    let page = store
        .events(c, EventRange { after: Some(5), before: Some(11), limit: 3, order: Order::Ascending })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 7, 8]);
    let back = store
        .events(c, EventRange { after: None, before: Some(11), limit: 4, order: Order::Descending })
        .await
        .unwrap();
    assert_eq!(back.iter().map(|e| e.seq).collect::<Vec<_>>(), [10, 9, 8, 7]);
    let newest =
        store.events(c, EventRange { after: None, before: None, limit: 2, order: Order::Descending }).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [23, 22]);
    assert!(store.events(c, EventRange::after(23, 10)).await.unwrap().is_empty());

    let one = store.event(c, all[10].id).await.unwrap().unwrap();
    assert_eq!(one, all[10]);
    assert!(store.event(ConversationId::new(), all[10].id).await.unwrap().is_none());
    assert_eq!(store.conversation(c).await.unwrap().unwrap().last_seq, 23);
}

async fn concurrent_appends_are_gapless_and_group_committed<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let mut chats = Vec::new();
    for _ in 0..8 {
        chats.push(chat(s.store.as_ref(), IdleSettings::default()).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (c, customer, agent)) in chats.iter().copied().enumerate() {
        for who in [customer, agent] {
            let store = s.store.clone();
            tasks.spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..40 {
                    let e = store.apply(text(c, who, &format!("{i}-{n}"), None)).await.unwrap();
                    seqs.push(e[0].seq);
                }
                seqs
            });
        }
    }
    while let Some(seqs) = tasks.join_next().await {
        let seqs = seqs.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one sender's acks rise: {seqs:?}");
    }
    for (c, ..) in chats {
        let log = s.store.events(c, EventRange::after(0, 500)).await.unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=83).collect::<Vec<_>>());
    }
    assert!(s.batches.largest.load(Ordering::Relaxed) > 1, "16 concurrent senders should share transactions");
}

async fn client_tokens_store_once<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let (c, customer, _) = chat(s.store.as_ref(), IdleSettings::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = s.store.clone();
        tasks.spawn(async move { store.apply(text(c, customer, "once", Some("retry-me"))).await.unwrap() });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.push(r.unwrap()[0].id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answered with the first event");
    let again = s.store.apply(text(c, customer, "changed body", Some("retry-me"))).await.unwrap();
    assert_eq!(again[0].id, ids[0]);
    // The same token in another conversation is another message.
    let (c2, customer2, _) = chat(s.store.as_ref(), IdleSettings::default()).await;
    let other = s.store.apply(text(c2, customer2, "once", Some("retry-me"))).await.unwrap();
    assert_ne!(other[0].id, ids[0]);
    let log = s.store.events(c, EventRange::after(0, 100)).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.client_token.as_deref() == Some("retry-me")).count(), 1);
    assert_eq!(log.len(), 4);
}

async fn rules_are_enforced_in_the_transaction<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    let (c, customer, agent) = chat(store.as_ref(), IdleSettings::default()).await;
    let (other, stranger, _) = chat(store.as_ref(), IdleSettings::default()).await;
    let err = store.apply(text(c, stranger, "hi", None)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    store.apply(Command::Leave { conversation: c, participant: agent, reason: LeaveReason::Left }).await.unwrap();
    assert_eq!(store.apply(text(c, agent, "hi", None)).await.unwrap_err().code, ErrorCode::ParticipantLeft);
    store.apply(Command::End { conversation: c, by: Author::Participant(customer) }).await.unwrap();
    assert_eq!(store.apply(text(c, customer, "hi", None)).await.unwrap_err().code, ErrorCode::ConversationEnded);
    let conv = store.conversation(c).await.unwrap().unwrap();
    assert_eq!(conv.state, ConversationState::Ended);
    assert!(conv.ended_at.is_some());
    assert!(store.participant(agent).await.unwrap().unwrap().left_at.is_some());
    assert_eq!(
        store.apply(text(ConversationId::new(), customer, "x", None)).await.unwrap_err().code,
        ErrorCode::NotFound
    );
    // The other conversation is untouched.
    assert_eq!(store.conversation(other).await.unwrap().unwrap().last_seq, 3);
}

async fn participant_tokens_resolve_and_revoke<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    let token = Secret::generate(SecretKind::Participant);
    let c = new_conversation(WorkspaceId::new(), IdleSettings::default());
    let customer = person(Role::Customer, Some(&token));
    let (cid, pid) = (c.id, customer.id);
    store.apply(Command::Create { conversation: c, participants: vec![customer] }).await.unwrap();
    let p = store.participant_by_token(&token.hash()).await.unwrap().unwrap();
    assert_eq!((p.id, p.conversation_id, p.role), (pid, cid, Role::Customer));

    let second = Secret::generate(SecretKind::Participant);
    store.add_participant_token(pid, &second.hash(), Timestamp(5)).await.unwrap();
    assert!(store.participant_by_token(&second.hash()).await.unwrap().is_some());
    let (p, hashes) = store.participant_with_tokens(pid).await.unwrap().unwrap();
    assert_eq!(p.id, pid);
    let mut digests: Vec<&str> = hashes.iter().map(|h| h.as_str()).collect();
    let mut expected = vec![token.hash().as_str().to_owned(), second.hash().as_str().to_owned()];
    digests.sort_unstable();
    expected.sort_unstable();
    assert_eq!(digests, expected, "both live digests");
    assert_eq!(store.revoke_participant_tokens(pid, Timestamp(6)).await.unwrap(), 2);
    assert!(store.participant_by_token(&token.hash()).await.unwrap().is_none());
    assert!(store.participant_by_token(&second.hash()).await.unwrap().is_none());
    assert!(store.participant_with_tokens(pid).await.unwrap().is_none(), "no live token, nothing");
    assert_eq!(store.participants(cid).await.unwrap().len(), 1);
}

async fn committed_events_are_published_in_order<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let (c, customer, _) = chat(s.store.as_ref(), IdleSettings::default()).await;
    let mut sub = s.bus.subscribe(switchboard_core::bus::Topic::Conversation(c));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..30 {
        let store = s.store.clone();
        tasks.spawn(async move { store.apply(text(c, customer, &n.to_string(), None)).await.unwrap() });
    }
    tasks.join_all().await;
    let mut seen = Vec::new();
    while seen.len() < 30 {
        match sub.recv().await.unwrap() {
            Notice::Committed { events, last_seq, .. } => {
                assert_eq!(events.last().unwrap().seq, last_seq);
                seen.extend(events.iter().map(|e| e.seq));
            }
            other => panic!("a conversation topic carried {other:?}"),
        }
    }
    assert_eq!(seen, (4..=33).collect::<Vec<_>>(), "notices arrive in commit order with no gap");
}

async fn inactivity_timers_are_stored_and_fire<F: Future<Output = Subject>>(open: Open<F>) {
    let clock = ManualClock::at(Timestamp(1_000_000));
    let s = open(Arc::new(clock.clone())).await;
    let store = &s.store;
    let idle = IdleSettings { idle_after_secs: Some(30), disconnect_after_secs: Some(90) };
    let (c, customer, _) = chat(store.as_ref(), idle).await;
    assert_eq!(store.next_timer_due().await.unwrap(), Some(Timestamp(1_030_000)));
    assert!(store.due_timers(Timestamp(1_029_999), 10).await.unwrap().is_empty());
    let due = store.due_timers(Timestamp(1_030_000), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].participant_id, Some(customer));
    assert!(matches!(due[0].kind, TimerKind::Inactivity { .. }));

    clock.advance_secs(30);
    let fired = store.apply(Command::Fire { timer: due[0].clone() }).await.unwrap();
    assert_eq!(fired[0].kind, EventKind::ParticipantIdle { member_id: customer });
    assert!(store.participant(customer).await.unwrap().unwrap().idle);
    assert_eq!(store.next_timer_due().await.unwrap(), Some(Timestamp(1_090_000)));
    // A second firing of the same (now moved) timer does nothing.
    assert!(store.apply(Command::Fire { timer: due[0].clone() }).await.unwrap().is_empty());

    clock.advance_secs(60);
    let due = store.due_timers(clock.now(), 10).await.unwrap();
    let fired = store.apply(Command::Fire { timer: due[0].clone() }).await.unwrap();
    assert_eq!(fired[0].kind, EventKind::ParticipantAutoDisconnected { member_id: customer });
    assert!(store.next_timer_due().await.unwrap().is_none());
    assert_eq!(store.conversation(c).await.unwrap().unwrap().active_participants, 1);
}

async fn everything_survives_reopening<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let idle = IdleSettings { idle_after_secs: Some(3600), disconnect_after_secs: None };
    let (c, customer, _) = chat(s.store.as_ref(), idle).await;
    for n in 0..10 {
        s.store.apply(text(c, customer, &n.to_string(), Some(&format!("t{n}")))).await.unwrap();
    }
    s.store.close().await;
    assert_eq!(s.store.apply(text(c, customer, "late", None)).await.unwrap_err().code, ErrorCode::Unavailable);
    let again = switchboard_store::open(&s.config, s.bus.clone(), Arc::new(SystemClock)).await.unwrap();
    let log = again.events(c, EventRange::after(0, 100)).await.unwrap();
    assert_eq!(log.len(), 13);
    assert!(again.next_timer_due().await.unwrap().is_some(), "the idle timer is still stored");
    let retry = again.apply(text(c, customer, "3", Some("t3"))).await.unwrap();
    assert_eq!(retry[0].seq, log[6].seq, "client tokens are remembered across restarts");
    let next = again.apply(text(c, customer, "after", None)).await.unwrap();
    assert_eq!(next[0].seq, 14);
}

async fn conversations_list_newest_first_in_pages<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let w = WorkspaceId::new();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let c = new_conversation(w, IdleSettings::default());
        ids.push(c.id);
        s.store.apply(Command::Create { conversation: c, participants: vec![] }).await.unwrap();
    }
    // Ids order by creation time to the millisecond; within one, by their
    // random part. Newest first means descending id.
    ids.sort();
    s.store.apply(Command::End { conversation: ids[1], by: Author::System }).await.unwrap();
    let q = |before, limit, state| ConversationQuery { state, before, limit, ..ConversationQuery::default() };
    let page1 = s.store.conversations(w, &q(None, 2, None)).await.unwrap();
    assert_eq!(page1.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[4], ids[3]]);
    let page2 = s.store.conversations(w, &q(Some(ids[3]), 10, None)).await.unwrap();
    assert_eq!(page2.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[2], ids[1], ids[0]]);
    let ended = s.store.conversations(w, &q(None, 10, Some(ConversationState::Ended))).await.unwrap();
    assert_eq!(ended.iter().map(|c| c.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(s.store.conversations(WorkspaceId::new(), &q(None, 10, None)).await.unwrap().is_empty());
}

async fn conversations_list_by_creation_window<F: Future<Output = Subject>>(open: Open<F>) {
    let clock = ManualClock::at(Timestamp(1_000_000));
    let s = open(Arc::new(clock.clone())).await;
    let w = WorkspaceId::new();
    // Created at 1,000 s, 1,060 s, … (the ids do not know the clock).
    let mut ids = Vec::new();
    for _ in 0..6 {
        let c = new_conversation(w, IdleSettings::default());
        ids.push(c.id);
        s.store.apply(Command::Create { conversation: c, participants: vec![] }).await.unwrap();
        clock.advance_secs(60);
    }
    let window = |from: i64, to: i64, before, limit| ConversationQuery {
        created_from: Some(Timestamp(from * 1000)),
        created_before: Some(Timestamp(to * 1000)),
        before,
        limit,
        ..ConversationQuery::default()
    };
    let listed = |page: Vec<switchboard_core::model::Conversation>| page.into_iter().map(|c| c.id).collect::<Vec<_>>();
    // [1,060 s, 1,240 s): the second to the fourth, the end excluded.
    let all = listed(s.store.conversations(w, &window(1060, 1240, None, 10)).await.unwrap());
    assert_eq!(all, [ids[3], ids[2], ids[1]]);
    let first = listed(s.store.conversations(w, &window(1060, 1240, None, 2)).await.unwrap());
    assert_eq!(first, [ids[3], ids[2]]);
    let rest = listed(s.store.conversations(w, &window(1060, 1240, Some(ids[2]), 2)).await.unwrap());
    assert_eq!(rest, [ids[1]]);
    assert!(s.store.conversations(w, &window(2000, 3000, None, 10)).await.unwrap().is_empty());
    let open_ended = ConversationQuery { created_from: Some(Timestamp(1_300_000)), limit: 10, ..Default::default() };
    assert_eq!(listed(s.store.conversations(w, &open_ended).await.unwrap()), [ids[5]]);
}

async fn a_reader_reads_beside_the_writer_and_writes_nothing<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let (c, customer, _) = chat(s.store.as_ref(), IdleSettings::default()).await;
    s.store.apply(text(c, customer, "before", None)).await.unwrap();
    let reader = open_reader(&s.config).await.expect("open a reader beside the writer");
    assert_eq!(reader.conversation(c).await.unwrap().unwrap().last_seq, 4);
    // The writer goes on; the reader sees each commit.
    s.store.apply(text(c, customer, "after", None)).await.unwrap();
    let log = reader.events(c, EventRange::after(0, 100)).await.unwrap();
    assert_eq!(log, s.store.events(c, EventRange::after(0, 100)).await.unwrap());
    assert_eq!(log.len(), 5);
    let refused = reader.apply(text(c, customer, "from the reader", None)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Internal, "{refused:?}");
    assert_eq!(s.store.conversation(c).await.unwrap().unwrap().last_seq, 5, "the reader wrote nothing");
    reader.close().await;
    s.store.apply(text(c, customer, "still writing", None)).await.unwrap();
}

fn custom_event(w: WorkspaceId, event_type: &str, key: &str, at: Timestamp) -> CustomEvent {
    CustomEvent {
        id: CustomEventId::new(),
        workspace_id: w,
        event_type: event_type.into(),
        key: key.into(),
        data: serde_json::json!({"reason": key}).as_object().cloned().unwrap_or_default(),
        conversation_id: None,
        run_id: None,
        replay_id: 0,
        published_at: at,
    }
}

async fn publish(store: &dyn Store, e: CustomEvent) {
    store.apply(Command::Publish { event: Box::new(e) }).await.unwrap();
}

async fn custom_events_replay_in_order_and_expire<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = s.store.as_ref();
    let (w, other) = (WorkspaceId::new(), WorkspaceId::new());
    let now = SystemClock.now();
    publish(store, custom_event(w, "use_of_funds", "a", now)).await;
    publish(store, custom_event(w, "use_of_funds", "b", now)).await;
    publish(store, custom_event(w, "other", "a", now)).await;
    publish(store, custom_event(other, "use_of_funds", "a", now)).await;
    let all = store.custom_events(w, 0, None, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["a", "b", "a"]);
    assert!(all.windows(2).all(|p| p[0].replay_id < p[1].replay_id), "replay ids increase: {all:?}");
    let after = store.custom_events(w, all[0].replay_id, Some("use_of_funds"), None, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].key, "b");
    let keyed = store.custom_events(w, 0, Some("use_of_funds"), Some("a"), 10).await.unwrap();
    assert_eq!(keyed.len(), 1);
    assert_eq!(keyed[0].data["reason"], "a");
    // Undeclared types are kept the default 3 days; a declared one its own.
    let kept_a_week = EventType { name: "other".into(), description: None, fields: Vec::new(), retention_days: 7 };
    store.put_event_type(w, &kept_a_week, now).await.unwrap();
    store.sweep_flows(Timestamp(now.millis() + 4 * 86_400_000), now).await.unwrap();
    let left = store.custom_events(w, 0, None, None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), ["other"]);
    // A new event after a sweep still gets a larger replay id.
    publish(store, custom_event(w, "other", "c", now)).await;
    let newest = store.custom_events(w, left[0].replay_id, None, None, 10).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert!(newest[0].replay_id > all[2].replay_id);
}

async fn outbox_items_are_leased_retried_given_up_and_replayed<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = s.store.as_ref();
    let w = WorkspaceId::new();
    let now = SystemClock.now();
    publish(store, custom_event(w, "t", "a", now)).await;
    publish(store, custom_event(w, "t", "b", now)).await;
    // Each published event queued one dispatch item, due when it was committed.
    let now = now.plus_secs(1);
    let lease = now.plus_secs(60);
    let claimed = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert!(claimed.iter().all(|o| o.state == OutboxState::Pending && o.work.kind() == "dispatch"));
    assert!(store.claim_outbox(now, lease, 10).await.unwrap().is_empty(), "leased items are not taken twice");
    // A lapsed lease makes them due again.
    assert_eq!(store.claim_outbox(lease, lease.plus_secs(60), 10).await.unwrap().len(), 2);

    let (first, second) = (claimed[0].id, claimed[1].id);
    store.retry_outbox(first, 1, now, "busy", false, now).await.unwrap();
    let again = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(again.iter().map(|o| o.id).collect::<Vec<_>>(), [first], "a retried item is due at its next attempt");
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("busy"));

    store.retry_outbox(first, 10, now, "gave up", true, now).await.unwrap();
    let dead = store
        .outbox(w, &OutboxQuery { state: Some(OutboxState::Dead), lane: None, before: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(dead.iter().map(|o| o.id).collect::<Vec<_>>(), [first]);
    assert!(!store.replay_outbox(WorkspaceId::new(), first, now).await.unwrap(), "another workspace's item");
    assert!(store.replay_outbox(w, first, now).await.unwrap());
    assert!(!store.replay_outbox(w, first, now).await.unwrap(), "only dead items replay");
    let replayed = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(replayed.iter().map(|o| (o.id, o.attempts)).collect::<Vec<_>>(), [(first, 0)]);

    store.apply(Command::FinishOutbox { id: second, state: OutboxState::Done, error: None }).await.unwrap();
    let done = store
        .outbox(w, &OutboxQuery { state: Some(OutboxState::Done), lane: None, before: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(done.iter().map(|o| o.id).collect::<Vec<_>>(), [second]);
    store.sweep_flows(now, Timestamp(now.millis() + 1)).await.unwrap();
    let all = store.outbox(w, &OutboxQuery { state: None, lane: None, before: None, limit: 10 }).await.unwrap();
    assert_eq!(all.iter().map(|o| o.id).collect::<Vec<_>>(), [first], "finished items are swept");
}

/// Persistent chat: of many chats started at once from one ended chat,
/// exactly one continues it; the links, the rehydration mode and a queue's
/// preference for the previous agent read back, also after reopening.
async fn continued_chats_link_once_and_read_back<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    let w = WorkspaceId::new();
    let source = new_conversation(w, IdleSettings::default());
    let (sid, customer) = (source.id, person(Role::Customer, None));
    let cid = customer.id;
    store.apply(Command::Create { conversation: source, participants: vec![customer] }).await.unwrap();
    let continuing =
        |mode| NewConversation { continues: Some((sid, mode)), ..new_conversation(w, IdleSettings::default()) };
    let early =
        store.apply(Command::Create { conversation: continuing(Rehydration::FromSegment), participants: vec![] });
    assert_eq!(early.await.unwrap_err().code, ErrorCode::Conflict, "an open chat is not continued");
    store.apply(Command::End { conversation: sid, by: Author::Participant(cid) }).await.unwrap();

    let attempts: Vec<NewConversation> = (0..8).map(|_| continuing(Rehydration::EntirePastSession)).collect();
    let ids: Vec<ConversationId> = attempts.iter().map(|c| c.id).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in attempts.into_iter().enumerate() {
        let store = store.clone();
        tasks.spawn(async move { (i, store.apply(Command::Create { conversation: c, participants: vec![] }).await) });
    }
    let mut outcomes: Vec<_> = tasks.join_all().await;
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<_> = outcomes.into_iter().map(|(_, o)| o).collect();
    let won: Vec<ConversationId> = outcomes.iter().zip(&ids).filter(|(o, _)| o.is_ok()).map(|(_, id)| *id).collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| e.code == ErrorCode::Conflict));
    let next = won[0];
    for id in ids.iter().filter(|id| **id != next) {
        assert!(store.conversation(*id).await.unwrap().is_none(), "a refused chat is not stored");
    }

    let now = Timestamp(1);
    let q = Queue {
        id: switchboard_core::ids::QueueId::new(),
        workspace_id: w,
        name: "general".into(),
        expression: None,
        ordering: QueueOrdering::LongestIdle,
        offer_timeout_secs: 30,
        wrap_up_secs: 0,
        prefer_previous_agent_secs: Some(45),
        first_reply_secs: None,
        reply_secs: None,
        on_reply_timeout: Default::default(),
        schedule_id: None,
        created_at: now,
        updated_at: now,
    };
    store.create_queue(&q).await.unwrap();
    assert_eq!(store.queue(q.id).await.unwrap().unwrap().prefer_previous_agent_secs, Some(45));
    s.store.close().await;

    let again = switchboard_store::open(&s.config, s.bus.clone(), Arc::new(SystemClock)).await.unwrap();
    let src = again.conversation(sid).await.unwrap().unwrap();
    assert_eq!((src.state, src.next_conversation_id, src.rehydration), (ConversationState::Ended, Some(next), None));
    let c = again.conversation(next).await.unwrap().unwrap();
    assert_eq!((c.previous_conversation_id, c.rehydration), (Some(sid), Some(Rehydration::EntirePastSession)));
    assert_eq!(c.next_conversation_id, None);
    let late =
        again.apply(Command::Create { conversation: continuing(Rehydration::FromSegment), participants: vec![] });
    let err = late.await.unwrap_err();
    assert!(err.code == ErrorCode::Conflict && err.message.contains(&next.to_string()), "{err}");
    again.update_queue(&Queue { prefer_previous_agent_secs: None, ..q.clone() }).await.unwrap();
    assert_eq!(again.queue(q.id).await.unwrap().unwrap().prefer_previous_agent_secs, None);
}
