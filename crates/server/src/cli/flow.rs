//! `switchboard flow …`: checking and deploying flow files, reading what is
//! deployed, and following, launching and cancelling runs.
//!
//! Every operation is a method of [`FlowOps`], implemented here on the
//! database opened by this process ([`Direct`]) and in `remote.rs` on the API
//! of the server that holds it. The commands are written once, against that
//! trait, and both sides answer with rows read from the API's wire views
//! (the direct side converts the engine's results to those views first), so
//! a command prints the same whichever way it went.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use switchboard_api::wire_flows::{FlowView, RunLogView, RunView, ValidatedFlow};
use switchboard_core::ErrorCode;
use switchboard_core::engine::flows::LaunchTarget;
use switchboard_core::flows::run::RunState;
use switchboard_core::flows::{graph, parse};
use switchboard_core::ids::{ConversationId, FlowRunId};
use switchboard_core::store::RunQuery;

use super::{Admin, Direct, Via, failed, via};

#[derive(Debug, Subcommand)]
pub enum FlowCommand {
    /// Checks flow files (YAML or JSON) as a deploy would, without deploying
    /// them. Files given together may refer to each other.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Deploys flow files, in the order given, each as the next version of
    /// its name; stops at the first one refused. Files given together may
    /// refer to each other.
    Deploy {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Lists the latest version of each flow.
    List,
    /// Prints a flow's file as deployed.
    Show {
        name: String,
        /// The version to show (default: the latest).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Prints a flow as a Mermaid diagram.
    Graph {
        name: String,
        /// The version to draw (default: the latest).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Lists flow runs, newest first.
    Runs {
        /// Only the runs of this flow.
        #[arg(long)]
        flow: Option<String>,
        /// Only the runs in this conversation.
        #[arg(long, value_name = "ID")]
        conversation: Option<String>,
        #[arg(long, value_parser = ["waiting", "completed", "failed", "cancelled"])]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Prints the steps a run took.
    RunLog { run_id: String },
    /// Launches the latest version of a flow in a conversation, as the workspace.
    Launch {
        name: String,
        /// The conversation to run in.
        #[arg(long, value_name = "ID", required_unless_present = "record_id", conflicts_with = "record_id")]
        conversation: Option<String>,
        /// Run in the open conversation linked to this record id.
        #[arg(long, value_name = "R")]
        record_id: Option<String>,
        /// A parameter, as text; repeat for more. Overrides `--params`.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        param: Vec<String>,
        /// Parameters as a JSON object, for values that are not text.
        #[arg(long, value_name = "JSON")]
        params: Option<String>,
    },
    /// Cancels a waiting run.
    Cancel { run_id: String },
}

impl FlowCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Validate { .. } => "flow validate",
            Self::Deploy { .. } => "flow deploy",
            Self::List => "flow list",
            Self::Show { .. } => "flow show",
            Self::Graph { .. } => "flow graph",
            Self::Runs { .. } => "flow runs",
            Self::RunLog { .. } => "flow run-log",
            Self::Launch { .. } => "flow launch",
            Self::Cancel { .. } => "flow cancel",
        }
    }
}

/// Why a flow file was refused: every problem found, each as the field at
/// fault (empty when none is) and what is wrong with it.
#[derive(Debug)]
pub(super) struct Refusal(pub(super) Vec<(String, String)>);

impl From<switchboard_core::Error> for Refusal {
    fn from(e: switchboard_core::Error) -> Self {
        if e.details.is_empty() { Self(vec![(e.field.unwrap_or_default(), e.message)]) } else { Self(e.details) }
    }
}

/// What checking or deploying one file came to: the answer, or the file's
/// refusal; an `Err` is a failure that stops the command (no database, a
/// refused key), not a problem with the file.
pub(super) type Outcome<T> = anyhow::Result<Result<T, Refusal>>;

/// What is printed of a checked flow ([`ValidatedFlow`]).
#[derive(Debug, serde::Deserialize)]
pub(super) struct Checked {
    name: String,
    steps: usize,
}

/// What is printed of a deployed version ([`FlowView`]).
#[derive(Debug, serde::Deserialize)]
pub(super) struct FlowRow {
    id: String,
    name: String,
    pub(super) version: i64,
    side: String,
    trigger: Option<Value>,
    pub(super) source: String,
    created_at: String,
}

/// What is printed of a run ([`RunView`]).
#[derive(Debug, serde::Deserialize)]
pub(super) struct RunRow {
    id: String,
    flow: String,
    flow_version: i64,
    conversation_id: String,
    state: String,
    step: String,
    error: Option<String>,
}

/// What is printed of a run's log entry ([`RunLogView`]).
#[derive(Debug, serde::Deserialize)]
pub(super) struct LogRow {
    at: String,
    step: String,
    what: String,
    detail: Option<String>,
}

/// Which runs `flow runs` lists.
#[derive(Debug)]
pub(super) struct RunFilter {
    pub(super) flow: Option<String>,
    pub(super) conversation: Option<ConversationId>,
    pub(super) state: Option<RunState>,
    pub(super) limit: u32,
}

/// The flow operations, the same on the database and through the API.
pub(super) trait FlowOps {
    /// Checks a flow file; `also` names the flows given with it.
    async fn validate(&self, source: &str, also: &[String]) -> Outcome<Checked>;
    /// Deploys a flow file; `also` names the flows given with it.
    async fn deploy(&self, source: &str, also: &[String]) -> Outcome<FlowRow>;
    /// The latest version of each flow.
    async fn flows(&self) -> anyhow::Result<Vec<FlowRow>>;
    /// Every version of a flow, newest first.
    async fn versions(&self, name: &str) -> anyhow::Result<Vec<FlowRow>>;
    /// A version of a flow (default: the latest) as a Mermaid diagram.
    async fn graph(&self, name: &str, version: Option<i64>) -> anyhow::Result<String>;
    async fn runs(&self, filter: &RunFilter) -> anyhow::Result<Vec<RunRow>>;
    async fn run_log(&self, id: FlowRunId) -> anyhow::Result<Vec<LogRow>>;
    async fn launch(&self, name: &str, target: LaunchTarget, params: Map<String, Value>) -> anyhow::Result<RunRow>;
    async fn cancel(&self, id: FlowRunId) -> anyhow::Result<RunRow>;
}

/// A wire view read back as the row printed of it: the direct path goes
/// through the same JSON as the API's answers, so both print the same.
fn row<T: DeserializeOwned>(view: impl Serialize) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::to_value(view)?).context("reading the engine's answer as the API shows it")
}

fn rows<T: DeserializeOwned, V: Serialize>(views: impl IntoIterator<Item = V>) -> anyhow::Result<Vec<T>> {
    views.into_iter().map(row).collect()
}

/// An engine error on a flow file: the file's problems when it is the file
/// that is wrong, else a failure of the command.
fn refused<T>(e: switchboard_core::Error) -> Outcome<T> {
    match e.code {
        ErrorCode::InvalidField | ErrorCode::MalformedRequest => Ok(Err(e.into())),
        _ => Err(failed(e)),
    }
}

impl FlowOps for Direct {
    async fn validate(&self, source: &str, also: &[String]) -> Outcome<Checked> {
        match self.engine.validate_flow(&self.caller, source, also).await {
            Ok(flow) => {
                let view =
                    ValidatedFlow { name: flow.name.clone(), steps: flow.steps.len(), graph: graph::mermaid(&flow) };
                Ok(Ok(row(view)?))
            }
            Err(e) => refused(e),
        }
    }

    async fn deploy(&self, source: &str, also: &[String]) -> Outcome<FlowRow> {
        match self.engine.deploy_flow(&self.caller, source, also).await {
            Ok(deployed) => Ok(Ok(row(FlowView::from(deployed))?)),
            Err(e) => refused(e),
        }
    }

    async fn flows(&self) -> anyhow::Result<Vec<FlowRow>> {
        rows(self.engine.flows(&self.caller).await.map_err(failed)?.into_iter().map(FlowView::from))
    }

    async fn versions(&self, name: &str) -> anyhow::Result<Vec<FlowRow>> {
        rows(self.engine.flow_versions(&self.caller, name).await.map_err(failed)?.into_iter().map(FlowView::from))
    }

    async fn graph(&self, name: &str, version: Option<i64>) -> anyhow::Result<String> {
        let versions = self.engine.flow_versions(&self.caller, name).await.map_err(failed)?;
        let deployed = pick(versions, name, version, |f| f.version)?;
        Ok(graph::mermaid(&deployed.flow))
    }

    async fn runs(&self, filter: &RunFilter) -> anyhow::Result<Vec<RunRow>> {
        let query = RunQuery {
            flow: filter.flow.clone(),
            conversation: filter.conversation,
            state: filter.state,
            before: None,
            limit: filter.limit,
        };
        rows(self.engine.runs(&self.caller, query).await.map_err(failed)?.into_iter().map(RunView::from))
    }

    async fn run_log(&self, id: FlowRunId) -> anyhow::Result<Vec<LogRow>> {
        rows(self.engine.run_log(&self.caller, id).await.map_err(failed)?.into_iter().map(RunLogView::from))
    }

    async fn launch(&self, name: &str, target: LaunchTarget, params: Map<String, Value>) -> anyhow::Result<RunRow> {
        row(RunView::from(self.engine.launch_flow(&self.caller, name, target, params).await.map_err(failed)?))
    }

    async fn cancel(&self, id: FlowRunId) -> anyhow::Result<RunRow> {
        row(RunView::from(self.engine.cancel_run(&self.caller, id).await.map_err(failed)?))
    }
}

/// The given version of a flow, or its latest; `versions` is newest first.
pub(super) fn pick<T>(
    versions: Vec<T>,
    name: &str,
    version: Option<i64>,
    number: impl Fn(&T) -> i64,
) -> anyhow::Result<T> {
    let latest = versions.first().map(&number);
    let found = match version {
        None => versions.into_iter().next(),
        Some(wanted) => versions.into_iter().find(|v| number(v) == wanted),
    };
    match (found, version, latest) {
        (Some(v), _, _) => Ok(v),
        (None, Some(wanted), Some(latest)) => {
            bail!("flow {name} has no version {wanted} (the latest is {latest})")
        }
        (None, _, _) => bail!("flow not found"),
    }
}

pub async fn flow(cmd: Admin<FlowCommand>) -> anyhow::Result<()> {
    match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => {
            let result = run(&db, cmd.command).await;
            db.close().await;
            result
        }
        Via::Server(server) => run(&server, cmd.command).await,
    }
}

async fn run(ops: &impl FlowOps, cmd: FlowCommand) -> anyhow::Result<()> {
    match cmd {
        FlowCommand::Validate { files } => validate(ops, &read_files(&files)?).await?,
        FlowCommand::Deploy { files } => deploy(ops, &read_files(&files)?).await?,
        FlowCommand::List => ops.flows().await?.iter().for_each(print_flow),
        FlowCommand::Show { name, version } => {
            print_source(&pick(ops.versions(&name).await?, &name, version, |f| f.version)?)
        }
        FlowCommand::Graph { name, version } => print_text(&ops.graph(&name, version).await?),
        FlowCommand::Runs { flow, conversation, state, limit } => {
            let filter = RunFilter {
                flow,
                conversation: conversation.as_deref().map(ConversationId::parse).transpose()?,
                // clap accepts only the states' names.
                state: state.as_deref().and_then(RunState::parse),
                limit,
            };
            ops.runs(&filter).await?.iter().for_each(print_run);
        }
        FlowCommand::RunLog { run_id } => {
            ops.run_log(FlowRunId::parse(&run_id)?).await?.iter().for_each(print_log_entry)
        }
        FlowCommand::Launch { name, conversation, record_id, param, params } => {
            let target = launch_target(conversation, record_id)?;
            print_run(&ops.launch(&name, target, launch_params(params.as_deref(), &param)?).await?);
        }
        FlowCommand::Cancel { run_id } => print_run(&ops.cancel(FlowRunId::parse(&run_id)?).await?),
    }
    Ok(())
}

/// A flow file named on the command line.
struct FlowFile {
    path: PathBuf,
    source: String,
    /// The flow's name, as the other files given with it may refer to it.
    name: String,
}

/// Reads every file before anything is checked or deployed, so that a
/// mistyped path does not leave a set half deployed.
fn read_files(paths: &[PathBuf]) -> anyhow::Result<Vec<FlowFile>> {
    paths
        .iter()
        .map(|path| {
            let source = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(FlowFile { name: flow_name(&source, path), path: path.clone(), source })
        })
        .collect()
}

/// The `name:` of a flow file, from a parse that checks nothing outside it;
/// when the file cannot be read that far, its stem (the file's own errors
/// are reported when it is checked).
fn flow_name(source: &str, path: &Path) -> String {
    match parse::parse_stored(source) {
        Ok(flow) => flow.name,
        Err(_) => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    }
}

/// The names of the files given with the `i`th, which it may refer to.
fn others(files: &[FlowFile], i: usize) -> Vec<String> {
    files.iter().enumerate().filter(|(j, f)| *j != i && f.name != files[i].name).map(|(_, f)| f.name.clone()).collect()
}

/// Checks every file, reporting each; fails if any is refused.
async fn validate(ops: &impl FlowOps, files: &[FlowFile]) -> anyhow::Result<()> {
    let mut refused = 0;
    for (i, file) in files.iter().enumerate() {
        match ops.validate(&file.source, &others(files, i)).await.with_context(|| file_context("checking", file))? {
            Ok(c) => println!("{}: ok (flow {}, {})", file.path.display(), c.name, count(c.steps, "step")),
            Err(r) => {
                print_refusal(&file.path, &r);
                refused += 1;
            }
        }
    }
    if refused > 0 {
        bail!("{refused} of {} flow file(s) have errors", files.len());
    }
    Ok(())
}

/// Deploys the files in order, stopping at the first refused: the ones
/// after it may depend on it.
async fn deploy(ops: &impl FlowOps, files: &[FlowFile]) -> anyhow::Result<()> {
    for (i, file) in files.iter().enumerate() {
        match ops.deploy(&file.source, &others(files, i)).await.with_context(|| file_context("deploying", file))? {
            Ok(f) => println!("deployed {} version {} ({})", f.name, f.version, f.id),
            Err(r) => {
                print_refusal(&file.path, &r);
                bail!(
                    "deploy stopped at {}: {i} of {} file(s) deployed, those before it",
                    file.path.display(),
                    files.len()
                );
            }
        }
    }
    Ok(())
}

fn file_context(doing: &str, file: &FlowFile) -> String {
    format!("{doing} {}", file.path.display())
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Every problem of a refused file, one line each: `FILE: FIELD: MESSAGE`.
fn print_refusal(path: &Path, refusal: &Refusal) {
    for (field, message) in &refusal.0 {
        match field.as_str() {
            "" => eprintln!("{}: {message}", path.display()),
            field => eprintln!("{}: {field}: {message}", path.display()),
        }
    }
}

fn print_flow(f: &FlowRow) {
    let trigger = f.trigger.as_ref().filter(|t| !t.is_null()).map_or_else(|| "-".to_owned(), Value::to_string);
    println!("{:<32}  v{:<3}  {:<8}  {:<32}  {}", f.name, f.version, f.side, trigger, f.created_at);
}

fn print_source(f: &FlowRow) {
    println!("# {} version {}, deployed {}", f.name, f.version, f.created_at);
    print_text(&f.source);
}

/// Prints text as is, ending its last line.
fn print_text(text: &str) {
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
}

fn print_run(r: &RunRow) {
    let line = format!(
        "{}  {}@{}  {:<9}  {:<24}  {}{}",
        r.id,
        r.flow,
        r.flow_version,
        r.state,
        r.step,
        r.conversation_id,
        r.error.as_ref().map(|e| format!("  error: {e}")).unwrap_or_default()
    );
    println!("{}", line.trim_end());
}

fn print_log_entry(e: &LogRow) {
    let line = format!("{}  {:<24}  {:<10}  {}", e.at, e.step, e.what, e.detail.as_deref().unwrap_or(""));
    println!("{}", line.trim_end());
}

fn launch_target(conversation: Option<String>, record_id: Option<String>) -> anyhow::Result<LaunchTarget> {
    match (conversation, record_id) {
        (Some(c), None) => Ok(LaunchTarget::Conversation(ConversationId::parse(&c)?)),
        (None, Some(r)) => Ok(LaunchTarget::Record(r)),
        _ => bail!("give one of --conversation and --record-id"),
    }
}

/// The launch's parameters: `--params` as the base, each `--param` set on it.
fn launch_params(json: Option<&str>, pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut params = match json.map(serde_json::from_str::<Value>) {
        None => Map::new(),
        Some(Ok(Value::Object(m))) => m,
        Some(Ok(_)) => bail!("--params must be a JSON object"),
        Some(Err(e)) => bail!("--params is not JSON: {e}"),
    };
    for pair in pairs {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                params.insert(key.trim().to_owned(), Value::String(value.to_owned()));
            }
            _ => bail!("--param takes KEY=VALUE, not `{pair}`"),
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_from_json_and_pairs() {
        let p = launch_params(Some(r#"{"n": 2, "k": "a"}"#), &["k=b=c".to_owned()]).unwrap();
        assert_eq!(Value::Object(p), serde_json::json!({"n": 2, "k": "b=c"}));
        assert!(launch_params(Some("[1]"), &[]).is_err());
        assert!(launch_params(None, &["novalue".to_owned()]).unwrap_err().to_string().contains("KEY=VALUE"));
        assert!(launch_params(None, &["=x".to_owned()]).is_err());
    }

    #[test]
    fn picks_the_latest_or_the_given_version() {
        let versions = vec![3, 2, 1];
        assert_eq!(pick(versions.clone(), "f", None, |v| *v).unwrap(), 3);
        assert_eq!(pick(versions.clone(), "f", Some(2), |v| *v).unwrap(), 2);
        let err = pick(versions, "f", Some(9), |v| *v).unwrap_err().to_string();
        assert!(err.contains("no version 9") && err.contains("latest is 3"), "{err}");
    }

    #[test]
    fn files_given_together_know_each_others_names() {
        let file = |name: &str| FlowFile {
            path: PathBuf::from(format!("{name}.yaml")),
            source: String::new(),
            name: name.into(),
        };
        let files = [file("a"), file("b"), file("a"), file("c")];
        assert_eq!(others(&files, 0), ["b", "c"]);
        assert_eq!(others(&files, 1), ["a", "a", "c"]);
    }

    #[test]
    fn a_files_name_falls_back_to_its_stem() {
        assert_eq!(flow_name("name: [", Path::new("dir/broken.yaml")), "broken");
    }
}
