//! Upgrading a store that an earlier release wrote: the data migrations
//! move is all there afterwards and behaves as before (read in order,
//! retried sends still recognised), on both backends.

use std::sync::Arc;

use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::command::{Author, ClientToken, Command};
use switchboard_core::event::{ContentType, EventKind};
use switchboard_core::ids::{ConversationId, ParticipantId};
use switchboard_core::store::EventRange;
use switchboard_store::{StoreConfig, open, testing};

const CONVERSATION: &str = "cnv_01JDQ3ZK8W4V6T2R9Y5X7B3N1M";
const CUSTOMER: &str = "prt_01JDQ3ZK8W4V6T2R9Y5X7B3N1P";

/// Schema 2: one conversation of three events, the second sent with a
/// client token, beside another conversation created later.
fn version_2_rows() -> String {
    let other = ConversationId::new();
    format!(
        "INSERT INTO conversations (id, workspace_id, entry_point_id, state, attributes, record_id, \
           previous_conversation_id, idle_after_secs, disconnect_after_secs, last_seq, active_participants, \
           created_at, ended_at, task_id) VALUES \
           ('{CONVERSATION}', 'wsp_01JDQ3ZK8W4V6T2R9Y5X7B3N1Q', NULL, 'open', '{{}}', NULL, NULL, NULL, NULL, 3, 1, 1000, NULL, NULL), \
           ('{other}', 'wsp_01JDQ3ZK8W4V6T2R9Y5X7B3N1Q', NULL, 'open', '{{}}', NULL, NULL, NULL, NULL, 0, 0, 2000, NULL, NULL);
         INSERT INTO participants (id, conversation_id, role, display_name, joined_at, left_at, idle, agent_id) VALUES \
           ('{CUSTOMER}', '{CONVERSATION}', 'customer', 'Ada', 1000, NULL, FALSE, NULL);
         INSERT INTO events (conversation_id, seq, id, kind, participant_id, payload, client_token, created_at) VALUES \
           ('{CONVERSATION}', 1, 'evt_01JDQ3ZK8W4V6T2R9Y5X7B3N11', 'conversation.created', NULL, '{{\"attributes\":{{}}}}', NULL, 1000), \
           ('{CONVERSATION}', 2, 'evt_01JDQ3ZK8W4V6T2R9Y5X7B3N12', 'message', '{CUSTOMER}', \
              '{{\"content_type\":\"text/plain\",\"content\":\"hello\"}}', 'send-1', 1001), \
           ('{CONVERSATION}', 3, 'evt_01JDQ3ZK8W4V6T2R9Y5X7B3N13', 'message', '{CUSTOMER}', \
              '{{\"content_type\":\"text/plain\",\"content\":\"anyone?\"}}', NULL, 1002);"
    )
}

async fn upgrade_keeps_the_log(url: String) {
    testing::old_store(&url, 2, &version_2_rows()).await.expect("a store at schema 2");
    let config = StoreConfig::new(url);
    let store = open(&config, Arc::new(LocalBus::default()), Arc::new(SystemClock)).await.expect("upgrade on open");
    let c = ConversationId::parse(CONVERSATION).unwrap();
    let customer = ParticipantId::parse(CUSTOMER).unwrap();

    let log = store.events(c, EventRange::after(0, 10)).await.unwrap();
    let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(log[1].client_token.as_deref(), Some("send-1"));
    assert_eq!(log[1].id.to_string(), "evt_01JDQ3ZK8W4V6T2R9Y5X7B3N12");
    let found = store.event(c, log[2].id).await.unwrap().expect("found by id");
    assert_eq!(found.seq, 3);

    let send = |body: &str, token: &str| Command::Append {
        conversation: c,
        author: Author::Participant(customer),
        kind: EventKind::Message { content_type: ContentType::TextPlain, content: body.into() },
        client_token: Some(ClientToken::parse(token).unwrap()),
    };
    // A retry of the send stored before the upgrade is answered with it.
    let retried = store.apply(send("hello", "send-1")).await.unwrap();
    assert_eq!(retried[0].seq, 2);
    assert_eq!(retried[0].id, log[1].id);
    // A new send continues the log where it was.
    let next = store.apply(send("still there?", "send-2")).await.unwrap();
    assert_eq!(next[0].seq, 4);
    let again = store.apply(send("still there?", "send-2")).await.unwrap();
    assert_eq!(again[0].id, next[0].id);
    assert_eq!(store.events(c, EventRange::after(0, 10)).await.unwrap().len(), 4);
    store.close().await;

    // Opening again finds nothing left to upgrade and the same log.
    let store = open(&config, Arc::new(LocalBus::default()), Arc::new(SystemClock)).await.expect("reopen");
    assert_eq!(store.events(c, EventRange::after(0, 10)).await.unwrap().len(), 4);
    store.close().await;
}

#[tokio::test]
async fn sqlite_store_of_schema_2_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_keeps_the_log(format!("sqlite://{}", dir.path().join("old.db").display())).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
async fn postgres_store_of_schema_2_upgrades() {
    upgrade_keeps_the_log(testing::fresh_postgres_url().await).await;
}

/// A seeded store (the growth benchmarks' history) opens and reads like any
/// other: whole logs, listed conversations, retries of seeded sends known.
async fn seeded_store_reads_back(url: String) {
    use switchboard_core::model::Workspace;
    use switchboard_store::seed::{SeedPlan, seed};
    let config = StoreConfig::new(url.clone());
    let store = open(&config, Arc::new(LocalBus::default()), Arc::new(SystemClock)).await.unwrap();
    let workspace = switchboard_core::ids::WorkspaceId::new();
    let w = Workspace { id: workspace, name: "w".into(), created_at: switchboard_core::clock::Timestamp(1) };
    store.create_workspace(&w).await.unwrap();
    store.close().await;

    let plan = SeedPlan { workspace: None, conversations: 30, events_per_conversation: 12, per_transaction: 7 };
    let mut seen = Vec::new();
    let report = seed(&url, &plan, |n| seen.push(n)).await.unwrap();
    assert_eq!((report.conversations, report.events, report.workspace), (30, 360, workspace));
    assert_eq!(seen, [84, 168, 252, 336, 360]);

    let store = open(&config, Arc::new(LocalBus::default()), Arc::new(SystemClock)).await.unwrap();
    let q = switchboard_core::store::ConversationQuery { limit: 100, ..Default::default() };
    let listed = store.conversations(workspace, &q).await.unwrap();
    assert_eq!(listed.len(), 30);
    for c in &listed {
        let log = store.events(c.id, EventRange::after(0, 100)).await.unwrap();
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
    }
    store.close().await;
}

#[tokio::test]
async fn sqlite_seeded_store_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    seeded_store_reads_back(format!("sqlite://{}", dir.path().join("seeded.db").display())).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
async fn postgres_seeded_store_reads_back() {
    seeded_store_reads_back(testing::fresh_postgres_url().await).await;
}

/// Seeding refuses, with a reason, what it cannot do: a store with no
/// workspace yet, or conversations too short to hold a chat.
#[tokio::test]
async fn seeding_explains_what_it_cannot_do() {
    use switchboard_core::ErrorCode;
    use switchboard_store::seed::{SeedPlan, seed};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("empty.db").display());
    let plan = SeedPlan { workspace: None, conversations: 1, events_per_conversation: 5, per_transaction: 1 };
    let e = seed(&url, &plan, |_| {}).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidField);
    assert!(e.message.contains("no workspace"), "{}", e.message);
    let short = SeedPlan { events_per_conversation: 4, ..plan };
    let e = seed(&url, &short, |_| {}).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidField);
}
