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
        use switchboard_core::ids::{
            AgentId, ConversationId, EntryPointId, EventId, OfferId, ParticipantId, QueueId, TaskId, WorkspaceId,
        };
        use switchboard_core::model::{ApiKey, Conversation, EntryPoint, Participant, Workspace};
        use switchboard_core::store::{ConversationQuery, EventRange, Pending, Store};
        use switchboard_core::timer::Timer;
        use switchboard_core::token::SecretHash;

        use crate::db_error;
        use crate::sql::{self, Cols, Stmt, Val};
        use crate::sql_flows as fl;
        use crate::sql_hours as hr;
        use crate::sql_routing as r;
        use crate::writer::{BatchCommit, Writer};
        use switchboard_core::flows::events::EventType;
        use switchboard_core::flows::records::{CustomEvent, DeployedFlow, FormRecord, OutboxItem, RunLogEntry};
        use switchboard_core::flows::run::Run;
        use switchboard_core::flows::webhooks::Webhook;
        use switchboard_core::ids::ScheduleId;
        use switchboard_core::ids::{CustomEventId, FlowId, FlowRunId, FormId, OutboxId, WebhookId};
        use switchboard_core::routing::hours::Schedule;

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

        pub(crate) async fn fetch_all<'c, E: sqlx::Executor<'c, Database = $db>>(
            ex: E,
            stmt: &Stmt,
        ) -> Result<Vec<$row>> {
            let sql = sql_text(stmt);
            query(&sql, stmt).fetch_all(ex).await.map_err(db_error)
        }

        async fn fetch_optional<'c, E: sqlx::Executor<'c, Database = $db>>(ex: E, stmt: &Stmt) -> Result<Option<$row>> {
            let sql = sql_text(stmt);
            query(&sql, stmt).fetch_optional(ex).await.map_err(db_error)
        }

        pub(crate) async fn execute<'c, E: sqlx::Executor<'c, Database = $db>>(ex: E, stmt: &Stmt) -> Result<u64> {
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
            async fn commit(&mut self, commands: &[Command], now: Timestamp) -> Result<crate::writer::Batch> {
                let result = self.transact(commands, now).await;
                if let Some(cache) = &mut self.cache {
                    match &result {
                        Ok((plan, _)) => cache.remember(plan),
                        Err(_) => cache.forget(),
                    }
                }
                result.map(|(plan, outcomes)| (plan.events, plan.notices, outcomes))
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
                // Rows point to rows (a conversation to its task, a task to its
                // agent and offer): load what the commands name, then what the
                // loaded rows name, until nothing new turns up.
                for _round in 0..3 {
                    for (loads, stmt) in sql::snapshot_reads(&keys, $lock) {
                        for row in fetch_all(&mut *tx, &stmt).await? {
                            load_row(&mut snap, loads, &row)?;
                        }
                    }
                    // A workspace with no webhooks is loaded too: it has none.
                    for w in &keys.hook_workspaces {
                        snap.workspace_hooks.entry(*w).or_default();
                    }
                    keys = SnapshotKeys::derived(commands, &snap);
                    if let Some(cache) = &self.cache {
                        cache.fill(&mut keys, &mut snap);
                    }
                    if keys.is_empty() {
                        break;
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

        /// Checks, for a store opened to read only, that `ours` are all applied.
        pub(crate) async fn check_schema(pool: &sqlx::Pool<$db>, ours: &sqlx::migrate::Migrator) -> Result<()> {
            let rows = fetch_all(pool, &sql::applied_migrations()).await.map_err(|_| {
                switchboard_core::Error::unavailable(
                    "this is not a Switchboard database, or it was never set up: start the server on it once",
                )
            })?;
            let applied = rows.iter().map(|r| r.int("version")).collect::<Result<Vec<_>>>()?;
            crate::check_schema(&applied, ours)
        }

        /// Finishes the work a migration left to code, named in the
        /// `upgrades` table, and removes its row. Safe to run on several
        /// nodes at once: every step can be repeated.
        pub(crate) async fn finish_upgrades(pool: &sqlx::Pool<$db>) -> Result<()> {
            for row in fetch_all(pool, &sql::pending_upgrades()).await? {
                let name = row.text("name")?;
                match name.as_str() {
                    sql::TOKEN_HASHES => hash_client_tokens(pool).await?,
                    other => return Err(switchboard_core::Error::internal(format!("unknown upgrade {other:?}"))),
                }
                execute(pool, &sql::upgrade_done(&name)).await?;
            }
            Ok(())
        }

        /// Fills the token hash of events copied by migration 0003, a range
        /// of conversations per transaction.
        async fn hash_client_tokens(pool: &sqlx::Pool<$db>) -> Result<()> {
            const KEYS_PER_STEP: i64 = 500;
            let last = fetch_optional(pool, &sql::last_log_key()).await?;
            let last = match last {
                Some(row) => row.opt_int("last")?.unwrap_or(0),
                None => 0,
            };
            tracing::info!(conversations = last, "hashing the client tokens of stored events (one-time upgrade)");
            let mut from = 0;
            while from < last {
                let rows = fetch_all(pool, &sql::unhashed_tokens(from, from + KEYS_PER_STEP)).await?;
                let mut tx = pool.begin().await.map_err(db_error)?;
                for row in rows {
                    let stmt = sql::set_token_hash(row.int("log_key")?, row.int("seq")?, &row.text("client_token")?);
                    execute(&mut *tx, &stmt).await?;
                }
                tx.commit().await.map_err(db_error)?;
                from += KEYS_PER_STEP;
            }
            Ok(())
        }

        fn load_row(snap: &mut Snapshot, loads: sql::Loads, row: &$row) -> Result<()> {
            use crate::sql_routing as r;
            match loads {
                sql::Loads::Conversations => {
                    let c = sql::conversation(row)?;
                    snap.conversations.insert(c.id, c);
                }
                sql::Loads::Participants => {
                    let p = sql::participant(row)?;
                    snap.participants.insert(p.id, p);
                }
                sql::Loads::Sent => {
                    let e = sql::event(row)?;
                    if let Some(t) = e.client_token.clone() {
                        snap.sent.insert((e.conversation_id, t), e);
                    }
                }
                sql::Loads::Timers => {
                    let t = sql::timer(row)?;
                    snap.timers.insert(t.key(), t);
                }
                sql::Loads::Tasks => {
                    let t = r::task(row)?;
                    snap.tasks.insert(t.id, t);
                }
                sql::Loads::Offers => {
                    let o = r::offer(row)?;
                    snap.offers.insert(o.id, o);
                }
                sql::Loads::Agents => {
                    let a = r::agent(row)?;
                    snap.agents.insert(a.id, a);
                }
                sql::Loads::Queues => {
                    let q = r::queue(row)?;
                    snap.queues.insert(q.id, q);
                }
                sql::Loads::FileRequests => {
                    let f = r::file_request(row)?;
                    snap.file_requests.insert(f.id, f);
                }
                sql::Loads::Attachments => {
                    let a = crate::sql_files::attachment(row)?;
                    snap.attachments.insert(a.id, a);
                }
                sql::Loads::Runs => {
                    let x = crate::sql_flows::run(row)?;
                    snap.runs.insert(x.id, x);
                }
                sql::Loads::Flows => {
                    let x = crate::sql_flows::deployed_flow(row)?;
                    snap.flows.insert(x.id, x);
                }
                sql::Loads::Forms => {
                    let x = crate::sql_flows::form(row)?;
                    snap.forms.insert(x.id, x);
                }
                sql::Loads::Hooks => {
                    let x = crate::sql_flows::webhook(row)?;
                    snap.workspace_hooks.entry(x.workspace_id).or_default().push(x.hook());
                }
            }
            Ok(())
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

            async fn submit(&self, command: Command) -> Result<Pending> {
                self.writer.submit(command).await
            }

            async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
                one(fetch_optional(&self.pool, &sql::conversation_by_id(id)).await?, sql::conversation)
            }

            async fn conversations(&self, w: WorkspaceId, q: &ConversationQuery) -> Result<Vec<Conversation>> {
                all(fetch_all(&self.pool, &sql::conversations_of(w, q)).await?, sql::conversation)
            }

            async fn conversations_by_record(&self, w: WorkspaceId, record: &str) -> Result<Vec<Conversation>> {
                all(fetch_all(&self.pool, &sql::conversations_by_record(w, record)).await?, sql::conversation)
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

            async fn participant_with_tokens(
                &self,
                p: ParticipantId,
            ) -> Result<Option<(Participant, Vec<SecretHash>)>> {
                let rows = fetch_all(&self.pool, &sql::participant_with_tokens(p)).await?;
                let Some(first) = rows.first() else { return Ok(None) };
                let hashes =
                    rows.iter().map(|r| Ok(SecretHash::from_stored(r.text("token_hash")?))).collect::<Result<_>>()?;
                Ok(Some((sql::participant(first)?, hashes)))
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

            async fn create_access_key(&self, key: &switchboard_core::model::AccessKey, secret: &str) -> Result<()> {
                execute(&self.pool, &crate::sql_keys::insert_access_key(key, secret)).await.map(drop)
            }

            async fn access_keys(&self, w: WorkspaceId) -> Result<Vec<switchboard_core::model::AccessKey>> {
                all(fetch_all(&self.pool, &crate::sql_keys::access_keys_of(w)).await?, crate::sql_keys::access_key)
            }

            async fn revoke_access_key(
                &self,
                w: WorkspaceId,
                id: &switchboard_core::ids::AccessKeyId,
                at: Timestamp,
            ) -> Result<bool> {
                Ok(execute(&self.pool, &crate::sql_keys::revoke_access_key(w, id, at)).await? > 0)
            }

            async fn access_key_secret(
                &self,
                id: &switchboard_core::ids::AccessKeyId,
            ) -> Result<Option<(switchboard_core::model::AccessKey, String)>> {
                let row = fetch_optional(&self.pool, &crate::sql_keys::access_key_with_secret(id)).await?;
                row.map(|r| Ok((crate::sql_keys::access_key(&r)?, r.text("secret")?))).transpose()
            }

            async fn claim_start_token(
                &self,
                w: WorkspaceId,
                token: &str,
                c: ConversationId,
                at: Timestamp,
            ) -> Result<switchboard_core::store::StartToken> {
                execute(&self.pool, &crate::sql_keys::claim_start_token(w, token, c, at)).await?;
                let row = fetch_optional(&self.pool, &crate::sql_keys::start_token(w, token)).await?;
                // A claim is given up only by its own request, so one is there.
                match row {
                    Some(r) => crate::sql_keys::start_token_row(&r),
                    None => Err(switchboard_core::Error::unavailable("the start token was released meanwhile; retry")),
                }
            }

            async fn take_over_start_token(
                &self,
                w: WorkspaceId,
                token: &str,
                stale: &switchboard_core::store::StartToken,
                c: ConversationId,
                at: Timestamp,
            ) -> Result<bool> {
                Ok(execute(&self.pool, &crate::sql_keys::take_over_start_token(w, token, stale, c, at)).await? > 0)
            }

            async fn release_start_token(&self, w: WorkspaceId, token: &str, c: ConversationId) -> Result<()> {
                execute(&self.pool, &crate::sql_keys::release_start_token(w, token, c)).await.map(drop)
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

            async fn create_agent(
                &self,
                a: &switchboard_core::routing::model::Agent,
                hash: Option<&str>,
            ) -> Result<()> {
                execute(&self.pool, &r::insert_agent(a, hash)).await.map(drop)
            }

            async fn agent(&self, id: AgentId) -> Result<Option<switchboard_core::routing::model::Agent>> {
                one(fetch_optional(&self.pool, &r::agent_by_id(id)).await?, r::agent)
            }

            async fn agents(&self, w: WorkspaceId) -> Result<Vec<switchboard_core::routing::model::Agent>> {
                all(fetch_all(&self.pool, &r::agents_of(w)).await?, r::agent)
            }

            async fn agent_by_login(
                &self,
                w: WorkspaceId,
                login: &str,
            ) -> Result<Option<(switchboard_core::routing::model::Agent, Option<String>)>> {
                match fetch_optional(&self.pool, &r::agent_by_login(w, login)).await? {
                    Some(row) => Ok(Some((r::agent(&row)?, row.opt_text("password_hash")?))),
                    None => Ok(None),
                }
            }

            async fn set_agent_password(&self, a: AgentId, hash: Option<&str>) -> Result<()> {
                execute(&self.pool, &r::set_agent_password(a, hash)).await.map(drop)
            }

            async fn add_agent_token(&self, a: AgentId, token: &SecretHash, name: &str, at: Timestamp) -> Result<()> {
                execute(&self.pool, &r::insert_agent_token(a, token.as_str(), name, at)).await.map(drop)
            }

            async fn agent_by_token(
                &self,
                token: &SecretHash,
            ) -> Result<Option<switchboard_core::routing::model::Agent>> {
                one(fetch_optional(&self.pool, &r::agent_by_token(token.as_str())).await?, r::agent)
            }

            async fn revoke_agent_tokens(&self, a: AgentId, at: Timestamp) -> Result<u64> {
                execute(&self.pool, &r::revoke_agent_tokens(a, at)).await
            }

            async fn activities(&self, w: WorkspaceId) -> Result<Vec<switchboard_core::routing::model::Activity>> {
                all(fetch_all(&self.pool, &r::activities_of(w)).await?, r::activity)
            }

            async fn create_activity(
                &self,
                w: WorkspaceId,
                a: &switchboard_core::routing::model::Activity,
                at: Timestamp,
            ) -> Result<()> {
                execute(&self.pool, &r::insert_activity(w, a, at)).await.map(drop)
            }

            async fn delete_activity(&self, w: WorkspaceId, name: &str) -> Result<bool> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let used = match fetch_optional(&mut *tx, &r::agents_in_activity(w, name)).await? {
                    Some(row) => row.int("n")?,
                    None => 0,
                };
                if used > 0 {
                    return Err(switchboard_core::Error::new(
                        switchboard_core::ErrorCode::Conflict,
                        format!("{used} agent(s) are in this activity; move them first"),
                    ));
                }
                let n = execute(&mut *tx, &r::delete_activity(w, name)).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(n > 0)
            }

            async fn create_queue(&self, q: &switchboard_core::routing::model::Queue) -> Result<()> {
                execute(&self.pool, &r::insert_queue(q)).await.map(drop)
            }

            async fn update_queue(&self, q: &switchboard_core::routing::model::Queue) -> Result<()> {
                execute(&self.pool, &r::update_queue(q)).await.map(drop)
            }

            async fn queue(&self, id: QueueId) -> Result<Option<switchboard_core::routing::model::Queue>> {
                one(fetch_optional(&self.pool, &r::queue_by_id(id)).await?, r::queue)
            }

            async fn queues(&self, w: WorkspaceId) -> Result<Vec<switchboard_core::routing::model::Queue>> {
                all(fetch_all(&self.pool, &r::queues_of(w)).await?, r::queue)
            }

            async fn all_queues(&self) -> Result<Vec<switchboard_core::routing::model::Queue>> {
                all(fetch_all(&self.pool, &r::all_queues()).await?, r::queue)
            }

            async fn create_schedule(&self, s: &Schedule) -> Result<()> {
                execute(&self.pool, &hr::insert_schedule(s)).await.map(drop)
            }

            async fn update_schedule(&self, s: &Schedule) -> Result<()> {
                execute(&self.pool, &hr::update_schedule(s)).await.map(drop)
            }

            async fn schedule(&self, id: ScheduleId) -> Result<Option<Schedule>> {
                one(fetch_optional(&self.pool, &hr::schedule_by_id(id)).await?, hr::schedule)
            }

            async fn schedules(&self, w: WorkspaceId) -> Result<Vec<Schedule>> {
                all(fetch_all(&self.pool, &hr::schedules_of(w)).await?, hr::schedule)
            }

            async fn schedules_by_ids(&self, ids: &[ScheduleId]) -> Result<Vec<Schedule>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                all(fetch_all(&self.pool, &hr::schedules_by_ids(ids)).await?, hr::schedule)
            }

            async fn delete_schedule(&self, id: ScheduleId) -> Result<bool> {
                let users = fetch_all(&self.pool, &hr::schedule_users(id)).await?;
                if users.is_empty() && execute(&self.pool, &hr::delete_schedule(id)).await? > 0 {
                    return Ok(true);
                }
                // Something follows it (or began to, in between): name them.
                let users = fetch_all(&self.pool, &hr::schedule_users(id)).await?;
                let names: Vec<String> = users
                    .iter()
                    .map(|row| Ok(format!("{} `{}`", row.text("kind")?, row.text("name")?)))
                    .collect::<Result<_>>()?;
                if names.is_empty() {
                    return Ok(false);
                }
                Err(switchboard_core::Error::new(
                    switchboard_core::ErrorCode::Conflict,
                    format!("the schedule is in use by {}; take it off them first", names.join(", ")),
                ))
            }

            async fn workflow(&self, w: WorkspaceId) -> Result<Option<switchboard_core::store::StoredWorkflow>> {
                let row = fetch_optional(&self.pool, &r::workflow_of(w)).await?;
                row.map(|row| {
                    Ok(switchboard_core::store::StoredWorkflow {
                        source: row.text("source")?,
                        document: row.text("document")?,
                        version: row.int("version")?,
                        updated_at: Timestamp(row.int("updated_at")?),
                    })
                })
                .transpose()
            }

            async fn put_workflow(&self, w: WorkspaceId, source: &str, document: &str, at: Timestamp) -> Result<i64> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                execute(&mut *tx, &r::put_workflow(w, source, document, at)).await?;
                let version = match fetch_optional(&mut *tx, &r::workflow_of(w)).await? {
                    Some(row) => row.int("version")?,
                    None => 0,
                };
                tx.commit().await.map_err(db_error)?;
                Ok(version)
            }

            async fn task(&self, id: TaskId) -> Result<Option<switchboard_core::routing::model::Task>> {
                one(fetch_optional(&self.pool, &r::task_by_id(id)).await?, r::task)
            }

            async fn task_history(&self, id: TaskId) -> Result<Vec<switchboard_core::routing::model::TaskHistory>> {
                all(fetch_all(&self.pool, &r::history_of(id)).await?, r::history)
            }

            async fn waiting_tasks(&self, limit: u32) -> Result<Vec<switchboard_core::routing::model::Task>> {
                all(fetch_all(&self.pool, &r::waiting_tasks(limit)).await?, r::task)
            }

            async fn live_tasks(&self, w: WorkspaceId) -> Result<Vec<switchboard_core::routing::model::Task>> {
                all(fetch_all(&self.pool, &r::live_tasks_of(w)).await?, r::task)
            }

            async fn message_tasks(
                &self,
                w: WorkspaceId,
                limit: u32,
            ) -> Result<Vec<switchboard_core::routing::model::Task>> {
                all(fetch_all(&self.pool, &r::message_tasks_of(w, limit)).await?, r::task)
            }

            async fn agent_tasks(&self, a: AgentId) -> Result<Vec<switchboard_core::routing::model::Task>> {
                all(fetch_all(&self.pool, &r::tasks_of_agent(a)).await?, r::task)
            }

            async fn present_agents(
                &self,
                free_only: Option<u32>,
            ) -> Result<Vec<switchboard_core::routing::model::Agent>> {
                all(fetch_all(&self.pool, &r::present_agents(free_only)).await?, r::agent)
            }

            async fn unseen_agents(&self, before: Timestamp) -> Result<Vec<switchboard_core::routing::model::Agent>> {
                all(fetch_all(&self.pool, &r::unseen_agents(before)).await?, r::agent)
            }

            async fn offer(&self, id: OfferId) -> Result<Option<switchboard_core::routing::model::Offer>> {
                one(fetch_optional(&self.pool, &r::offer_by_id(id)).await?, r::offer)
            }

            async fn pending_offers(&self, a: AgentId) -> Result<Vec<switchboard_core::routing::model::Offer>> {
                all(fetch_all(&self.pool, &r::pending_offers_of_agent(a)).await?, r::offer)
            }

            async fn file_requests(&self, c: ConversationId) -> Result<Vec<switchboard_core::model::FileRequest>> {
                all(fetch_all(&self.pool, &r::file_requests_of(c)).await?, r::file_request)
            }

            async fn attachment(
                &self,
                a: switchboard_core::ids::AttachmentId,
            ) -> Result<Option<switchboard_core::files::model::Attachment>> {
                let row = fetch_optional(&self.pool, &crate::sql_files::attachment_by_id(a)).await?;
                row.as_ref().map(crate::sql_files::attachment).transpose()
            }

            async fn attachments(&self, c: ConversationId) -> Result<Vec<switchboard_core::files::model::Attachment>> {
                all(fetch_all(&self.pool, &crate::sql_files::attachments_of(c)).await?, crate::sql_files::attachment)
            }

            async fn workspace_settings(&self, w: WorkspaceId) -> Result<Option<String>> {
                let row = fetch_optional(&self.pool, &crate::sql_files::settings_of(w)).await?;
                row.as_ref().map(|r| r.text("settings")).transpose()
            }

            async fn put_workspace_settings(&self, w: WorkspaceId, settings: &str, at: Timestamp) -> Result<()> {
                execute(&self.pool, &crate::sql_files::put_settings(w, settings, at)).await.map(drop)
            }

            async fn deploy_flow(&self, f: &DeployedFlow) -> Result<DeployedFlow> {
                execute(&self.pool, &fl::insert_flow(f)).await?;
                let row = fetch_optional(&self.pool, &fl::flow_by_id(f.id)).await?;
                one(row, fl::deployed_flow)?.ok_or_else(|| switchboard_core::Error::internal("deployed flow not found"))
            }

            async fn flow(&self, id: FlowId) -> Result<Option<DeployedFlow>> {
                one(fetch_optional(&self.pool, &fl::flow_by_id(id)).await?, fl::deployed_flow)
            }

            async fn flow_versions(&self, w: WorkspaceId, name: &str) -> Result<Vec<DeployedFlow>> {
                all(fetch_all(&self.pool, &fl::flow_versions(w, name)).await?, fl::deployed_flow)
            }

            async fn flows(&self, w: WorkspaceId) -> Result<Vec<DeployedFlow>> {
                all(fetch_all(&self.pool, &fl::latest_flows(w)).await?, fl::deployed_flow)
            }

            async fn triggered_flows(&self, w: WorkspaceId) -> Result<Vec<DeployedFlow>> {
                all(fetch_all(&self.pool, &fl::triggered_flows(w)).await?, fl::deployed_flow)
            }

            async fn run(&self, id: FlowRunId) -> Result<Option<Run>> {
                one(fetch_optional(&self.pool, &fl::run_by_id(id)).await?, fl::run)
            }

            async fn runs(&self, w: WorkspaceId, q: &switchboard_core::store::RunQuery) -> Result<Vec<Run>> {
                all(fetch_all(&self.pool, &fl::runs_of(w, q)).await?, fl::run)
            }

            async fn run_log(&self, id: FlowRunId) -> Result<Vec<RunLogEntry>> {
                all(fetch_all(&self.pool, &fl::run_log_of(id)).await?, fl::run_log_entry)
            }

            async fn runs_waiting_for(&self, w: WorkspaceId, event_type: &str, key: &str) -> Result<Vec<Run>> {
                all(fetch_all(&self.pool, &fl::runs_waiting_for(w, event_type, key)).await?, fl::run)
            }

            async fn form(&self, id: FormId) -> Result<Option<FormRecord>> {
                one(fetch_optional(&self.pool, &fl::form_by_id(id)).await?, fl::form)
            }

            async fn put_event_type(&self, w: WorkspaceId, t: &EventType, at: Timestamp) -> Result<()> {
                execute(&self.pool, &fl::put_event_type(w, t, at)).await.map(drop)
            }

            async fn event_types(&self, w: WorkspaceId) -> Result<Vec<EventType>> {
                all(fetch_all(&self.pool, &fl::event_types_of(w)).await?, fl::event_type)
            }

            async fn custom_event(&self, id: CustomEventId) -> Result<Option<CustomEvent>> {
                one(fetch_optional(&self.pool, &fl::custom_event_by_id(id)).await?, fl::custom_event)
            }

            async fn custom_events(
                &self,
                w: WorkspaceId,
                after: i64,
                event_type: Option<&str>,
                key: Option<&str>,
                limit: u32,
            ) -> Result<Vec<CustomEvent>> {
                let stmt = fl::custom_events_after(w, after, event_type, key, limit);
                all(fetch_all(&self.pool, &stmt).await?, fl::custom_event)
            }

            async fn claim_outbox(
                &self,
                now: Timestamp,
                lease_until: Timestamp,
                limit: u32,
            ) -> Result<Vec<OutboxItem>> {
                all(fetch_all(&self.pool, &fl::claim_outbox(now, lease_until, limit)).await?, fl::outbox_item)
            }

            async fn claim_next_in_lane(
                &self,
                lane: &str,
                now: Timestamp,
                lease_until: Timestamp,
            ) -> Result<Option<OutboxItem>> {
                one(fetch_optional(&self.pool, &fl::claim_next_in_lane(lane, now, lease_until)).await?, fl::outbox_item)
            }

            async fn next_outbox_due(&self) -> Result<Option<Timestamp>> {
                let row = fetch_optional(&self.pool, &fl::next_outbox_due()).await?;
                Ok(row.map(|r| fl::opt_due(&r)).transpose()?.flatten())
            }

            async fn retry_outbox(
                &self,
                id: OutboxId,
                attempts: u32,
                next: Timestamp,
                error: &str,
                dead: bool,
                now: Timestamp,
            ) -> Result<()> {
                execute(&self.pool, &fl::retry_outbox(id, attempts, next, error, dead, now)).await.map(drop)
            }

            async fn outbox(
                &self,
                w: WorkspaceId,
                q: &switchboard_core::store::OutboxQuery,
            ) -> Result<Vec<OutboxItem>> {
                all(fetch_all(&self.pool, &fl::outbox_of(w, q)).await?, fl::outbox_item)
            }

            async fn replay_outbox(&self, w: WorkspaceId, id: OutboxId, now: Timestamp) -> Result<bool> {
                Ok(execute(&self.pool, &fl::replay_outbox(w, id, now)).await? > 0)
            }

            async fn sweep_flows(&self, now: Timestamp, outbox_before: Timestamp) -> Result<()> {
                execute(&self.pool, &fl::delete_expired_events(now)).await?;
                execute(&self.pool, &fl::delete_finished_outbox(outbox_before)).await.map(drop)
            }

            async fn create_webhook(&self, h: &Webhook) -> Result<()> {
                execute(&self.pool, &fl::insert_webhook(h)).await.map(drop)
            }

            async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>> {
                one(fetch_optional(&self.pool, &fl::webhook_by_id(id)).await?, fl::webhook)
            }

            async fn webhooks(&self, w: WorkspaceId) -> Result<Vec<Webhook>> {
                all(fetch_all(&self.pool, &fl::webhooks_of(w)).await?, fl::webhook)
            }

            async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
                Ok(execute(&self.pool, &fl::delete_webhook(id)).await? > 0)
            }

            async fn set_webhook_enabled(
                &self,
                id: WebhookId,
                enabled: bool,
                reason: Option<&str>,
                at: Timestamp,
            ) -> Result<()> {
                execute(&self.pool, &fl::set_webhook_enabled(id, enabled, reason, at)).await.map(drop)
            }

            async fn webhook_secret(&self, w: WorkspaceId) -> Result<Option<String>> {
                let row = fetch_optional(&self.pool, &fl::webhook_secret_of(w)).await?;
                row.map(|r| r.text("secret")).transpose()
            }

            async fn put_webhook_secret(&self, w: WorkspaceId, secret: &str, at: Timestamp) -> Result<()> {
                execute(&self.pool, &fl::put_webhook_secret(w, secret, at)).await.map(drop)
            }

            async fn erasure_of(
                &self,
                w: WorkspaceId,
                c: ConversationId,
            ) -> Result<Option<switchboard_core::retention::Erasure>> {
                one(
                    fetch_optional(&self.pool, &crate::sql_retention::erasure_of(w, c)).await?,
                    crate::sql_retention::erasure,
                )
            }

            async fn erasures(
                &self,
                w: WorkspaceId,
                q: &switchboard_core::store::ErasureQuery,
            ) -> Result<Vec<switchboard_core::retention::Erasure>> {
                all(
                    fetch_all(&self.pool, &crate::sql_retention::erasures_of(w, q)).await?,
                    crate::sql_retention::erasure,
                )
            }

            async fn erasures_by_ids(
                &self,
                ids: &[switchboard_core::ids::ErasureId],
            ) -> Result<Vec<switchboard_core::retention::Erasure>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(sql::CHUNK) {
                    let rows = fetch_all(&self.pool, &crate::sql_retention::erasures_by_ids(chunk)).await?;
                    out.extend(all(rows, crate::sql_retention::erasure)?);
                }
                Ok(out)
            }

            async fn ended_before(
                &self,
                w: WorkspaceId,
                before: Timestamp,
                limit: u32,
            ) -> Result<Vec<(ConversationId, i64)>> {
                let stmt = crate::sql_retention::ended_before(w, before, limit);
                all(fetch_all(&self.pool, &stmt).await?, crate::sql_retention::ended_row)
            }

            async fn workspace_ids(&self) -> Result<Vec<WorkspaceId>> {
                all(fetch_all(&self.pool, &sql::workspace_ids()).await?, |r| sql::id(r, "id", WorkspaceId::parse))
            }

            async fn all_workspace_settings(&self) -> Result<Vec<(WorkspaceId, String)>> {
                all(
                    fetch_all(&self.pool, &crate::sql_retention::all_settings()).await?,
                    crate::sql_retention::settings_row,
                )
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
