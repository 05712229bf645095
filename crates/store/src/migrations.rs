//! The schema migrations of each backend, compiled into the binary.
//!
//! Each backend has its own folder (`migrations/sqlite`, `migrations/postgres`);
//! a migration is added to both, with the same version, in the same change.
//! Versions need not be consecutive: work done side by side takes numbers
//! of its own, and the migrator applies whichever a database lacks.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (1, "conversations", include_str!("../migrations/sqlite/0001_conversations.sql")),
    (2, "routing", include_str!("../migrations/sqlite/0002_routing.sql")),
    (3, "events layout", include_str!("../migrations/sqlite/0003_events_layout.sql")),
    (4, "flows", include_str!("../migrations/sqlite/0004_flows.sql")),
    (5, "webhooks", include_str!("../migrations/sqlite/0005_webhooks.sql")),
    (6, "files", include_str!("../migrations/sqlite/0006_files.sql")),
    (7, "persistent chat", include_str!("../migrations/sqlite/0007_persistent.sql")),
    (8, "retention", include_str!("../migrations/sqlite/0008_retention.sql")),
    (9, "hours of operation", include_str!("../migrations/sqlite/0009_hours.sql")),
    (10, "reply timers and message requests", include_str!("../migrations/sqlite/0010_response.sql")),
    (11, "explain", include_str!("../migrations/sqlite/0011_explain.sql")),
    (12, "access keys and start tokens", include_str!("../migrations/sqlite/0012_access_keys.sql")),
    (13, "entry point widgets", include_str!("../migrations/sqlite/0013_widgets.sql")),
];
const POSTGRES: &[Source] = &[
    (1, "conversations", include_str!("../migrations/postgres/0001_conversations.sql")),
    (2, "routing", include_str!("../migrations/postgres/0002_routing.sql")),
    (3, "events layout", include_str!("../migrations/postgres/0003_events_layout.sql")),
    (4, "flows", include_str!("../migrations/postgres/0004_flows.sql")),
    (5, "webhooks", include_str!("../migrations/postgres/0005_webhooks.sql")),
    (6, "files", include_str!("../migrations/postgres/0006_files.sql")),
    (7, "persistent chat", include_str!("../migrations/postgres/0007_persistent.sql")),
    (8, "retention", include_str!("../migrations/postgres/0008_retention.sql")),
    (9, "hours of operation", include_str!("../migrations/postgres/0009_hours.sql")),
    (10, "reply timers and message requests", include_str!("../migrations/postgres/0010_response.sql")),
    (11, "explain", include_str!("../migrations/postgres/0011_explain.sql")),
    (12, "access keys and start tokens", include_str!("../migrations/postgres/0012_access_keys.sql")),
    (13, "entry point widgets", include_str!("../migrations/postgres/0013_widgets.sql")),
];

fn migrator(sources: &[Source]) -> Migrator {
    let migrations = sources
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(*version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false)
        })
        .collect::<Vec<_>>();
    Migrator { migrations: Cow::Owned(migrations), ignore_missing: false, locking: true, no_tx: false }
}

/// The migrations of a backend up to `version` only: for tests that build a
/// store as an earlier release left it.
pub(crate) fn up_to(backend: crate::Backend, version: i64) -> Migrator {
    let sources = match backend {
        crate::Backend::Sqlite => SQLITE,
        crate::Backend::Postgres => POSTGRES,
    };
    let upto = sources.iter().take_while(|m| m.0 <= version).count();
    migrator(&sources[..upto])
}

pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    SQLITE.last().map_or(0, |m| m.0).max(POSTGRES.last().map_or(0, |m| m.0))
}
