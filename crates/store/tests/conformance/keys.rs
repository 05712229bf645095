//! Access keys (their secrets, revocation) and start tokens (one claim per
//! workspace and token, even when claimed at once; taken over only by
//! compare-and-set), on both backends.

use std::sync::Arc;

use switchboard_core::clock::{Clock, SystemClock, Timestamp};
use switchboard_core::ids::{AccessKeyId, ConversationId, WorkspaceId};
use switchboard_core::model::{AccessKey, Workspace};
use switchboard_core::store::StartToken;

use super::{Open, Subject};

pub(crate) async fn access_keys_keep_their_secret_and_revoke<F: Future<Output = Subject>>(open: Open<F>) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    let w = Workspace { id: WorkspaceId::new(), name: "Acme".into(), created_at: Timestamp(1) };
    store.create_workspace(&w).await.unwrap();
    let key = |name: &str, at: i64| AccessKey {
        id: AccessKeyId::generate(),
        workspace_id: w.id,
        name: name.into(),
        created_at: Timestamp(at),
        revoked_at: None,
    };
    let (a, b) = (key("backend", 2), key("batch", 3));
    store.create_access_key(&a, "secret-a").await.unwrap();
    store.create_access_key(&b, "secret-b").await.unwrap();
    assert_eq!(store.access_keys(w.id).await.unwrap(), vec![a.clone(), b.clone()], "oldest first");
    assert!(store.access_keys(WorkspaceId::new()).await.unwrap().is_empty());
    assert_eq!(store.access_key_secret(&a.id).await.unwrap(), Some((a.clone(), "secret-a".to_owned())));
    assert_eq!(store.access_key_secret(&AccessKeyId::generate()).await.unwrap(), None);

    // Only its own workspace revokes a key, and only once.
    assert!(!store.revoke_access_key(WorkspaceId::new(), &a.id, Timestamp(5)).await.unwrap());
    assert!(store.revoke_access_key(w.id, &a.id, Timestamp(5)).await.unwrap());
    assert!(!store.revoke_access_key(w.id, &a.id, Timestamp(6)).await.unwrap());
    let (revoked, secret) = store.access_key_secret(&a.id).await.unwrap().unwrap();
    assert_eq!((revoked.revoked_at, secret.as_str()), (Some(Timestamp(5)), "secret-a"));
    assert_eq!(store.access_keys(w.id).await.unwrap()[1], b, "the other key is untouched");
}

pub(crate) async fn start_tokens_are_claimed_once_and_taken_over_by_compare_and_set<F: Future<Output = Subject>>(
    open: Open<F>,
) {
    let s = open(Arc::new(SystemClock)).await;
    let store = &s.store;
    let (w, other) = (WorkspaceId::new(), WorkspaceId::new());
    let now = SystemClock.now();

    // Sixteen claims at once: one wins, and every one of them is told so.
    let ids: Vec<ConversationId> = (0..16).map(|_| ConversationId::new()).collect();
    let claims = futures_util::future::join_all(ids.iter().map(|c| store.claim_start_token(w, "t", *c, now))).await;
    let claims: Vec<StartToken> = claims.into_iter().map(Result::unwrap).collect();
    assert!(ids.contains(&claims[0].conversation));
    assert!(claims.iter().all(|c| *c == claims[0]), "{claims:?}");
    let held = claims[0];
    // The same token of another workspace is another claim.
    let elsewhere = ConversationId::new();
    assert_eq!(store.claim_start_token(other, "t", elsewhere, now).await.unwrap().conversation, elsewhere);

    // A take-over must name the claim as it is; the second of two loses.
    let (one, two) = (ConversationId::new(), ConversationId::new());
    let later = Timestamp(now.millis() + 61_000);
    let stale_copy = StartToken { conversation: held.conversation, created_at: Timestamp(now.millis() - 1) };
    assert!(!store.take_over_start_token(w, "t", &stale_copy, one, later).await.unwrap());
    assert!(store.take_over_start_token(w, "t", &held, one, later).await.unwrap());
    assert!(!store.take_over_start_token(w, "t", &held, two, later).await.unwrap());
    let now_held = store.claim_start_token(w, "t", ConversationId::new(), later).await.unwrap();
    assert_eq!(now_held, StartToken { conversation: one, created_at: later });

    // Released only by the claim that holds it; then it is free again.
    store.release_start_token(w, "t", held.conversation).await.unwrap();
    assert_eq!(store.claim_start_token(w, "t", ConversationId::new(), later).await.unwrap().conversation, one);
    store.release_start_token(w, "t", one).await.unwrap();
    let fresh = ConversationId::new();
    assert_eq!(store.claim_start_token(w, "t", fresh, later).await.unwrap().conversation, fresh);
}
