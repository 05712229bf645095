//! The part of a backend that is the same for SQLite and PostgreSQL but for
//! its sqlx types: binding [`crate::sql::Stmt`]s, reading rows, committing a
//! batch, and the [`Store`] methods. One macro writes it for each backend so
//! that the two cannot drift apart.

/// Writes, in the calling module, the glue for one sqlx backend.
///
/// - `db`, `row`: the sqlx database and row types;
/// - `numbered`: whether placeholders are `$1, $2, …` (PostgreSQL);
/// - `lock`: whether a batch locks the conversations it touches (`FOR UPDATE`);
/// - `begin`: the statement that opens a write transaction.
macro_rules! sql_backend {
    (db: $db:ty, row: $row:ty, name: $name:literal, numbered: $numbered:expr, lock: $lock:expr, begin: $begin:literal) => {
        use async_trait::async_trait;
        use sqlx::{Connection as _, Row as _};
        use switchboard_core::Result;
        use switchboard_core::clock::Timestamp;
        use switchboard_core::command::{Command, Committed, Snapshot, SnapshotKeys};
        use switchboard_core::event::Event;
        use switchboard_core::ids::{ConversationId, EntryPointId, EventId, ParticipantId, WorkspaceId};
        use switchboard_core::model::{ApiKey, Conversation, EntryPoint, Participant, Workspace};
        use switchboard_core::store::{ConversationQuery, EventRange, Store};
        use switchboard_core::timer::Timer;
        use switchboard_core::token::SecretHash;

        use crate::db_error;
        use crate::sql::{self, Cols, Stmt, Val};
        use crate::writer::{BatchCommit, Writer};

        impl Cols for $row {
            fn text(&self, col: &str) -> Result<String> {
                self.try_get(col).map_err(db_error)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>> {
                self.try_get(col).map_err(db_error)
            }
            fn int(&self, col: &str) -> Result<i64> {
                self.try_get(col).map_err(db_error)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>> {
                self.try_get(col).map_err(db_error)
            }
            fn boolean(&self, col: &str) -> Result<bool> {
                self.try_get(col).map_err(db_error)
            }
        }

        fn sql_text(stmt: &Stmt) -> String {
            if $numbered { stmt.numbered() } else { stmt.sql.clone() }
        }

        fn query<'q>(
            sql: &'q str,
            stmt: &'q Stmt,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            let mut q = sqlx::query(sql).persistent(stmt.persistent);
            for v in &stmt.args {
                q = match v {
                    Val::Text(s) => q.bind(s.as_str()),
                    Val::OptText(s) => q.bind(s.as_deref()),
                    Val::Int(i) => q.bind(*i),
                    Val::OptInt(i) => q.bind(*i),
                    Val::Bool(b) => q.bind(*b),
                };
            }
            q
        }

        async fn fetch_all<'c, E: sqlx::Executor<'c, Database = $db>>(ex: E, stmt: &Stmt) -> Result<Vec<$row>> {
            let sql = sql_text(stmt);
            query(&sql, stmt).fetch_all(ex).await.map_err(db_error)
        }

        async fn fetch_optional<'c, E: sqlx::Executor<'c, Database = $db>>(ex: E, stmt: &Stmt) -> Result<Option<$row>> {
            let sql = sql_text(stmt);
            query(&sql, stmt).fetch_optional(ex).await.map_err(db_error)
        }

        async fn execute<'c, E: sqlx::Executor<'c, Database = $db>>(ex: E, stmt: &Stmt) -> Result<u64> {
            let sql = sql_text(stmt);
            Ok(query(&sql, stmt).execute(ex).await.map_err(db_error)?.rows_affected())
        }

        /// Commits batches on connections from a pool reserved for writing.
        struct PoolWriter {
            pool: sqlx::Pool<$db>,
            /// Only where this writer is the only one (see `RowCache`).
            cache: Option<crate::writer::RowCache>,
        }

        #[async_trait]
        impl BatchCommit for PoolWriter {
            async fn commit(
                &mut self,
                commands: &[Command],
                now: Timestamp,
            ) -> Result<(Vec<Event>, Vec<Result<Committed>>)> {
                let result = self.transact(commands, now).await;
                if let Some(cache) = &mut self.cache {
                    match &result {
                        Ok((plan, _)) => cache.remember(plan),
                        Err(_) => cache.forget(),
                    }
                }
                result.map(|(plan, outcomes)| (plan.events, outcomes))
            }
        }

        impl PoolWriter {
            async fn transact(
                &mut self,
                commands: &[Command],
                now: Timestamp,
            ) -> Result<(switchboard_core::command::Plan, Vec<Result<Committed>>)> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                let mut tx = conn.begin_with($begin).await.map_err(db_error)?;
                let mut keys = SnapshotKeys::of(commands);
                let mut snap = Snapshot::default();
                if let Some(cache) = &self.cache {
                    cache.fill(&mut keys, &mut snap);
                }
                let [conversations, participants, sent, timers] = sql::snapshot_reads(&keys, $lock);
                for stmt in conversations.into_iter().flatten() {
                    for row in fetch_all(&mut *tx, &stmt).await? {
                        let c = sql::conversation(&row)?;
                        snap.conversations.insert(c.id, c);
                    }
                }
                for stmt in participants.into_iter().flatten() {
                    for row in fetch_all(&mut *tx, &stmt).await? {
                        let p = sql::participant(&row)?;
                        snap.participants.insert(p.id, p);
                    }
                }
                for stmt in sent.into_iter().flatten() {
                    for row in fetch_all(&mut *tx, &stmt).await? {
                        let e = sql::event(&row)?;
                        if let Some(t) = e.client_token.clone() {
                            snap.sent.insert((e.conversation_id, t), e);
                        }
                    }
                }
                for stmt in timers.into_iter().flatten() {
                    for row in fetch_all(&mut *tx, &stmt).await? {
                        let t = sql::timer(&row)?;
                        snap.timers.insert(t.key(), t);
                    }
                }
                let (plan, outcomes) = switchboard_core::plan::plan(commands, snap, now);
                for stmt in sql::plan_writes(&plan, now) {
                    execute(&mut *tx, &stmt).await?;
                }
                tx.commit().await.map_err(db_error)?;
                Ok((plan, outcomes))
            }
        }

        /// The store: a pool for reads and rare writes, and the group-commit writer for conversation logs.
        pub struct BackendStore {
            pool: sqlx::Pool<$db>,
            writer: Writer,
        }

        impl std::fmt::Debug for BackendStore {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!($name, " store"))
            }
        }

        fn one<T>(row: Option<$row>, decode: fn(&$row) -> Result<T>) -> Result<Option<T>> {
            row.as_ref().map(decode).transpose()
        }

        fn all<T>(rows: Vec<$row>, decode: fn(&$row) -> Result<T>) -> Result<Vec<T>> {
            rows.iter().map(decode).collect()
        }

        #[async_trait]
        impl Store for BackendStore {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn apply(&self, command: Command) -> Result<Committed> {
                self.writer.apply(command).await
            }

            async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
                one(fetch_optional(&self.pool, &sql::conversation_by_id(id)).await?, sql::conversation)
            }

            async fn conversations(&self, w: WorkspaceId, q: &ConversationQuery) -> Result<Vec<Conversation>> {
                all(fetch_all(&self.pool, &sql::conversations_of(w, q)).await?, sql::conversation)
            }

            async fn participant(&self, id: ParticipantId) -> Result<Option<Participant>> {
                one(fetch_optional(&self.pool, &sql::participant_by_id(id)).await?, sql::participant)
            }

            async fn participants(&self, c: ConversationId) -> Result<Vec<Participant>> {
                all(fetch_all(&self.pool, &sql::participants_of(c)).await?, sql::participant)
            }

            async fn events(&self, c: ConversationId, range: EventRange) -> Result<Vec<Event>> {
                all(fetch_all(&self.pool, &sql::events_of(c, range)).await?, sql::event)
            }

            async fn event(&self, c: ConversationId, id: EventId) -> Result<Option<Event>> {
                one(fetch_optional(&self.pool, &sql::event_by_id(c, id)).await?, sql::event)
            }

            async fn participant_by_token(&self, token: &SecretHash) -> Result<Option<Participant>> {
                one(fetch_optional(&self.pool, &sql::participant_by_token(token.as_str())).await?, sql::participant)
            }

            async fn add_participant_token(&self, p: ParticipantId, token: &SecretHash, at: Timestamp) -> Result<()> {
                execute(&self.pool, &sql::insert_token(p, token.as_str(), at)).await.map(drop)
            }

            async fn revoke_participant_tokens(&self, p: ParticipantId, at: Timestamp) -> Result<u64> {
                execute(&self.pool, &sql::revoke_tokens(p, at)).await
            }

            async fn api_key_by_token(&self, token: &SecretHash) -> Result<Option<ApiKey>> {
                one(fetch_optional(&self.pool, &sql::api_key_by_token(token.as_str())).await?, sql::api_key)
            }

            async fn create_api_key(&self, key: &ApiKey, token: &SecretHash) -> Result<()> {
                execute(&self.pool, &sql::insert_api_key(key, token.as_str())).await.map(drop)
            }

            async fn create_workspace(&self, w: &Workspace) -> Result<()> {
                execute(&self.pool, &sql::insert_workspace(w)).await.map(drop)
            }

            async fn first_workspace(&self) -> Result<Option<Workspace>> {
                one(fetch_optional(&self.pool, &sql::first_workspace()).await?, sql::workspace)
            }

            async fn create_entry_point(&self, e: &EntryPoint) -> Result<()> {
                execute(&self.pool, &sql::insert_entry_point(e)).await.map(drop)
            }

            async fn update_entry_point(&self, e: &EntryPoint) -> Result<()> {
                execute(&self.pool, &sql::update_entry_point(e)).await.map(drop)
            }

            async fn entry_point(&self, id: EntryPointId) -> Result<Option<EntryPoint>> {
                one(fetch_optional(&self.pool, &sql::entry_point_by_id(id)).await?, sql::entry_point)
            }

            async fn entry_points(&self, w: WorkspaceId) -> Result<Vec<EntryPoint>> {
                all(fetch_all(&self.pool, &sql::entry_points_of(w)).await?, sql::entry_point)
            }

            async fn due_timers(&self, now: Timestamp, limit: u32) -> Result<Vec<Timer>> {
                all(fetch_all(&self.pool, &sql::due_timers(now, limit)).await?, sql::timer)
            }

            async fn next_timer_due(&self) -> Result<Option<Timestamp>> {
                let row = fetch_optional(&self.pool, &sql::next_timer_due()).await?;
                Ok(row.map(|r| r.opt_int("due_at")).transpose()?.flatten().map(Timestamp))
            }

            async fn ping(&self) -> Result<()> {
                execute(&self.pool, &Stmt::new("SELECT 1")).await.map(drop)
            }

            async fn close(&self) {
                self.writer.close().await;
                self.pool.close().await;
            }
        }
    };
}

pub(crate) use sql_backend;
