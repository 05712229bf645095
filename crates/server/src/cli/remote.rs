//! The admin commands sent through the API of a running server, for when
//! that server holds the SQLite database (see [`crate::lock`]): each command
//! becomes its `/api/v1` request, and the answer is printed as the direct
//! path prints it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use switchboard_core::engine::flows::LaunchTarget;
use switchboard_core::flows::{graph, parse};
use switchboard_core::ids::{AgentId, ConversationId, FlowRunId, QueueId};

use super::conversation::{ConversationCommand, ErasureRow, print_erasure};
use super::flow::{Checked, FlowOps, FlowRow, LogRow, Outcome, Refusal, RunFilter, RunRow, pick};
use super::task::{TaskCommand, print_explanation};
use super::{
    Admin, AgentCommand, AgentRow, NO_WORKFLOW, QueueCommand, QueueFields, QueueRow, WorkflowCommand, attributes,
    enabled, password_from_stdin, print_agent, print_agent_json, print_applied, print_queue_list_line, queue_row,
    read_workflow,
};
use crate::lock::Holder;

/// The API of the server that holds the database.
pub(super) struct Server {
    http: reqwest::Client,
    base: String,
    key: String,
    /// Who it is, for messages.
    who: String,
}

/// An error answer of the API: `{"error":{"code","message","field"}}`, and
/// `errors` when there are several (a flow file).
#[derive(Debug, Deserialize)]
struct ApiError {
    code: String,
    message: String,
    field: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorDetail>,
}

/// One of several problems: `{"field","message"}`.
#[derive(Debug, Deserialize)]
struct ErrorDetail {
    field: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: ApiError,
}

impl Server {
    pub(super) fn new<C: Subcommand>(
        admin: &Admin<C>,
        database: &std::path::Path,
        holder: &Holder,
        address: SocketAddr,
    ) -> anyhow::Result<Self> {
        let who = format!("the Switchboard server at {address} (pid {})", holder.pid);
        let key = match admin.admin_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => k.to_owned(),
            None => {
                let path = admin.storage.data_dir.join("admin-key");
                match std::fs::read_to_string(&path) {
                    Ok(k) if !k.trim().is_empty() => k.trim().to_owned(),
                    found => bail!(
                        "the database {} is in use by {who}, so this command goes through its API, which needs an \
                         admin API key: pass it with --admin-key KEY or SWITCHBOARD_ADMIN_KEY=KEY (none was given, \
                         and {}: {})",
                        database.display(),
                        path.display(),
                        match found {
                            Ok(_) => "is empty".to_owned(),
                            Err(e) => e.to_string(),
                        }
                    ),
                }
            }
        };
        tracing::info!(server = %address, pid = holder.pid, "a running server holds the database; using its API");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Self { http, base: format!("http://{address}"), key, who })
    }

    pub(super) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key)
    }

    /// Sends `req`; the answer's JSON, or the API's error.
    async fn send(&self, req: RequestBuilder) -> anyhow::Result<Result<Value, (StatusCode, ApiError)>> {
        match self.send_text(req).await? {
            Ok((status, text)) => serde_json::from_str(&text)
                .map(Ok)
                .with_context(|| format!("{} answered {status} with something that is not JSON", self.who)),
            Err(e) => Ok(Err(e)),
        }
    }

    /// Sends `req`; the answer's status and text, or the API's error.
    async fn send_text(
        &self,
        req: RequestBuilder,
    ) -> anyhow::Result<Result<(StatusCode, String), (StatusCode, ApiError)>> {
        let res = req.send().await.with_context(|| format!("cannot reach {}", self.who))?;
        let status = res.status();
        let text = res.text().await.with_context(|| format!("reading the answer of {}", self.who))?;
        if status.is_success() {
            return Ok(Ok((status, text)));
        }
        match serde_json::from_str::<ErrorResponse>(&text) {
            Ok(e) => Ok(Err((status, e.error))),
            Err(_) => bail!("{} answered {status}: {}", self.who, text.trim()),
        }
    }

    /// Sends `req`; the answer's JSON, or the API's error as a CLI error.
    pub(super) async fn call(&self, req: RequestBuilder) -> anyhow::Result<Value> {
        self.send(req).await?.map_err(|(status, e)| self.failed(status, e))
    }

    /// Sends `req`, which answers with no body (204), or the API's error as a CLI error.
    pub(super) async fn call_no_content(&self, req: RequestBuilder) -> anyhow::Result<()> {
        self.send_text(req).await?.map(drop).map_err(|(status, e)| self.failed(status, e))
    }

    /// The same message as the direct path gives (`field: message`), and a
    /// hint when the key was refused.
    fn failed(&self, status: StatusCode, e: ApiError) -> anyhow::Error {
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return anyhow::anyhow!(
                "{} refused the admin API key ({}: {}); pass a valid one with --admin-key KEY or \
                 SWITCHBOARD_ADMIN_KEY=KEY",
                self.who,
                e.code,
                e.message
            );
        }
        match &e.field {
            Some(f) => anyhow::anyhow!("{f}: {}", e.message),
            None => anyhow::anyhow!("{}", e.message),
        }
    }
}

/// A JSON object of the fields that are given.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect())
}

/// The agent commands through the API: `/api/v1/agents…`.
pub(super) async fn run_agent_api(server: &Server, cmd: AgentCommand) -> anyhow::Result<()> {
    match cmd {
        AgentCommand::Create { name, login, password_stdin, capacity, attributes: attrs } => {
            let password = if password_stdin { Some(password_from_stdin()?) } else { None };
            let body = object([
                ("name", Some(json!(name))),
                ("login", login.map(Value::from)),
                ("password", password.map(Value::from)),
                ("attributes", attributes(attrs.as_deref())?.map(Value::Object)),
                ("capacity", Some(json!(capacity))),
                ("enabled", Some(json!(true))),
            ]);
            print_agent_json(server.call(server.request(Method::POST, "/api/v1/agents").json(&body)).await?)?;
        }
        AgentCommand::List => {
            let list = server.call(server.request(Method::GET, "/api/v1/agents")).await?;
            for a in serde_json::from_value::<Vec<AgentRow>>(list).context("reading the server's answer")? {
                print_agent(a);
            }
        }
        AgentCommand::Update { id, name, capacity, attributes: attrs, enable, disable, password_stdin } => {
            let id = AgentId::parse(&id)?;
            let body = object([
                ("name", name.map(Value::from)),
                ("password", if password_stdin { Some(Value::from(password_from_stdin()?)) } else { None }),
                ("attributes", attributes(attrs.as_deref())?.map(Value::Object)),
                ("capacity", capacity.map(Value::from)),
                ("enabled", enabled(enable, disable).map(Value::from)),
            ]);
            let path = format!("/api/v1/agents/{id}");
            print_agent_json(server.call(server.request(Method::PATCH, &path).json(&body)).await?)?;
        }
        AgentCommand::Disable { id } => {
            let path = format!("/api/v1/agents/{}", AgentId::parse(&id)?);
            let body = json!({"enabled": false});
            print_agent_json(server.call(server.request(Method::PATCH, &path).json(&body)).await?)?;
        }
        AgentCommand::Token { id, name } => {
            let path = format!("/api/v1/agents/{}/tokens", AgentId::parse(&id)?);
            let body = object([("name", name.map(Value::from))]);
            let issued = server.call(server.request(Method::POST, &path).json(&body)).await?;
            match issued["token"].as_str() {
                Some(token) => println!("{token}"),
                None => bail!("the server's answer has no token: {issued}"),
            }
        }
    }
    Ok(())
}

/// A seconds flag as the API takes it: 0 (off) is `null`.
fn null_at_zero(secs: Option<i64>) -> Option<Value> {
    secs.map(|s| if s == 0 { Value::Null } else { Value::from(s) })
}

impl QueueFields {
    /// The fields that are given, as the API's `QueueRequest`.
    fn to_json(&self) -> Value {
        object([
            ("name", self.name.clone().map(Value::from)),
            ("expression", self.expression.clone().map(Value::from)),
            ("ordering", self.ordering.clone().map(Value::from)),
            ("offer_timeout_secs", self.offer_timeout_secs.map(Value::from)),
            ("wrap_up_secs", self.wrap_up_secs.map(Value::from)),
            ("prefer_previous_agent_secs", null_at_zero(self.prefer_previous_agent_secs)),
            ("first_reply_secs", null_at_zero(self.first_reply_secs)),
            ("reply_secs", null_at_zero(self.reply_secs)),
            ("on_reply_timeout", self.on_reply_timeout.clone().map(Value::from)),
            ("reply_timeout_queue", self.reply_timeout_queue.clone().map(Value::from)),
            ("schedule", self.schedule.clone().map(|s| if s.is_empty() { Value::Null } else { Value::from(s) })),
        ])
    }
}

/// The queue commands through the API: `/api/v1/queues…`.
pub(super) async fn run_queue_api(server: &Server, cmd: QueueCommand) -> anyhow::Result<()> {
    match cmd {
        QueueCommand::Create(fields) => {
            let req = server.request(Method::POST, "/api/v1/queues").json(&fields.to_json());
            let q = queue_row(server.call(req).await?)?;
            println!("{}  {}", q.id, q.name);
        }
        QueueCommand::List => {
            let list = server.call(server.request(Method::GET, "/api/v1/queues")).await?;
            for q in serde_json::from_value::<Vec<QueueRow>>(list).context("reading the server's answer")? {
                print_queue_list_line(&q);
            }
        }
        QueueCommand::Update { id, fields } => {
            let path = format!("/api/v1/queues/{}", QueueId::parse(&id)?);
            let q = queue_row(server.call(server.request(Method::PATCH, &path).json(&fields.to_json())).await?)?;
            println!("{}  {}", q.id, q.name);
        }
    }
    Ok(())
}

/// The workflow commands through the API: `/api/v1/workflow`.
pub(super) async fn run_workflow_api(server: &Server, cmd: WorkflowCommand) -> anyhow::Result<()> {
    match cmd {
        WorkflowCommand::Apply { file } => {
            let source = read_workflow(&file)?;
            let req = server
                .request(Method::PUT, "/api/v1/workflow")
                .header(reqwest::header::CONTENT_TYPE, "application/yaml")
                .body(source);
            let applied = server.call(req).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let version = applied["version"].as_i64().context("the server's answer has no workflow version")?;
            let filters = applied["workflow"]["filters"].as_array().map_or(0, Vec::len);
            print_applied(version, filters, !applied["workflow"]["default"].is_null());
        }
        WorkflowCommand::Show => match server.send(server.request(Method::GET, "/api/v1/workflow")).await? {
            Ok(w) => match (w["version"].as_i64(), w["source"].as_str()) {
                (Some(version), Some(source)) => print!("# version {version}\n{source}"),
                _ => bail!("the server's answer is not a workflow: {w}"),
            },
            Err((StatusCode::NOT_FOUND, _)) => println!("{NO_WORKFLOW}"),
            Err((status, e)) => return Err(server.failed(status, e)),
        },
    }
    Ok(())
}

/// `conversation erase` through the API: `DELETE /api/v1/conversations/{id}`.
pub(super) async fn run_conversation_api(server: &Server, cmd: ConversationCommand) -> anyhow::Result<()> {
    match cmd {
        ConversationCommand::Erase { id, reason, end } => {
            let path = format!("/api/v1/conversations/{}", ConversationId::parse(&id)?);
            let mut query = vec![("end", end.to_string())];
            query.extend(reason.map(|r| ("reason", r)));
            let erased = server.call(server.request(Method::DELETE, &path).query(&query)).await?;
            print_erasure(answer::<ErasureRow>(erased)?);
        }
    }
    Ok(())
}

/// `task explain` through the API: `GET /api/v1/conversations/{id}/task/explain`.
pub(super) async fn run_task_api(server: &Server, cmd: TaskCommand) -> anyhow::Result<()> {
    match cmd {
        TaskCommand::Explain { conversation, json } => {
            let path = format!("/api/v1/conversations/{}/task/explain", ConversationId::parse(&conversation)?);
            print_explanation(&server.call(server.request(Method::GET, &path)).await?, json)
        }
    }
}

/// A path under `/api/v1/`, each segment percent-encoded (flow names come
/// from the command line).
fn api_path(segments: &[&str]) -> String {
    let mut url = reqwest::Url::parse("http://localhost/api/v1").expect("a constant, valid URL");
    url.path_segments_mut().expect("an http URL has a path").extend(segments);
    url.path().to_owned()
}

/// The server's answer read as the rows the commands print.
fn answer<T: DeserializeOwned>(v: Value) -> anyhow::Result<T> {
    serde_json::from_value(v).context("reading the server's answer")
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        if e.errors.is_empty() {
            Self(vec![(e.field.unwrap_or_default(), e.message)])
        } else {
            Self(e.errors.into_iter().map(|d| (d.field, d.message)).collect())
        }
    }
}

impl Server {
    /// A flow file as the body of a POST to `path`, with the names of the
    /// flows given with it in `?with=`.
    fn flow_file(&self, path: &str, source: &str, also: &[String]) -> RequestBuilder {
        let kind = if source.trim_start().starts_with('{') { "application/json" } else { "application/yaml" };
        let req = self.request(Method::POST, path).header(reqwest::header::CONTENT_TYPE, kind).body(source.to_owned());
        if also.is_empty() { req } else { req.query(&[("with", also.join(","))]) }
    }

    /// The answer to a flow file: what it became, or its refusal when the
    /// API found the file wrong (400, 422); other errors stop the command.
    async fn flow_outcome<T: DeserializeOwned>(&self, req: RequestBuilder) -> Outcome<T> {
        match self.send(req).await? {
            Ok(v) => Ok(Ok(answer(v)?)),
            Err((StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST, e)) => Ok(Err(e.into())),
            Err((status, e)) => Err(self.failed(status, e)),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        answer(self.call(self.request(Method::GET, path)).await?)
    }
}

/// The flow commands through the API: `/api/v1/flows…` and `/api/v1/flow-runs…`.
impl FlowOps for Server {
    async fn validate(&self, source: &str, also: &[String]) -> Outcome<Checked> {
        self.flow_outcome(self.flow_file("/api/v1/flows/validate", source, also)).await
    }

    async fn deploy(&self, source: &str, also: &[String]) -> Outcome<FlowRow> {
        self.flow_outcome(self.flow_file("/api/v1/flows", source, also)).await
    }

    async fn flows(&self) -> anyhow::Result<Vec<FlowRow>> {
        self.get("/api/v1/flows").await
    }

    async fn versions(&self, name: &str) -> anyhow::Result<Vec<FlowRow>> {
        self.get(&api_path(&["flows", name])).await
    }

    /// The latest version as the server draws it; another version, which
    /// the API does not draw, from its file as stored, read here the way
    /// the server reads stored flows.
    async fn graph(&self, name: &str, version: Option<i64>) -> anyhow::Result<String> {
        let Some(wanted) = version else {
            let req = self.request(Method::GET, &api_path(&["flows", name, "graph"]));
            return match self.send_text(req).await? {
                Ok((_, text)) => Ok(text),
                Err((status, e)) => Err(self.failed(status, e)),
            };
        };
        let stored = pick(self.versions(name).await?, name, version, |f| f.version)?;
        let flow = parse::parse_stored(&stored.source).map_err(|errors| {
            let first = errors.first().map_or_else(String::new, |e| format!(": {e}"));
            anyhow::anyhow!("version {wanted} of flow {name} cannot be read{first}")
        })?;
        Ok(graph::mermaid(&flow))
    }

    async fn runs(&self, filter: &RunFilter) -> anyhow::Result<Vec<RunRow>> {
        let mut query = vec![("limit", filter.limit.to_string())];
        query.extend(filter.flow.clone().map(|f| ("flow", f)));
        query.extend(filter.conversation.map(|c| ("conversation_id", c.to_string())));
        query.extend(filter.state.map(|s| ("state", s.as_str().to_owned())));
        answer(self.call(self.request(Method::GET, "/api/v1/flow-runs").query(&query)).await?)
    }

    async fn run_log(&self, id: FlowRunId) -> anyhow::Result<Vec<LogRow>> {
        self.get(&format!("/api/v1/flow-runs/{id}/log")).await
    }

    async fn launch(&self, name: &str, target: LaunchTarget, params: Map<String, Value>) -> anyhow::Result<RunRow> {
        let body = match target {
            LaunchTarget::Conversation(c) => json!({"conversation_id": c.to_string(), "params": params}),
            LaunchTarget::Record(r) => json!({"record_id": r, "params": params}),
        };
        let req = self.request(Method::POST, &api_path(&["flows", name, "runs"])).json(&body);
        answer(self.call(req).await?)
    }

    async fn cancel(&self, id: FlowRunId) -> anyhow::Result<RunRow> {
        answer(self.call(self.request(Method::POST, &format!("/api/v1/flow-runs/{id}/cancel"))).await?)
    }
}
