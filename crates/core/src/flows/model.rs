//! What a flow definition says, once parsed and validated.
//!
//! A flow is a named program of steps run inside one conversation. It is
//! written as YAML (or JSON) and read by [`super::parse`]; the types here are
//! what the interpreter ([`super::run`]) walks. A flow that parsed is sound:
//! every transition names a step that exists (or `end`), every step can be
//! reached from the start, every expression and template compiled, every
//! variable a step reads was declared by a parameter or set by a step.
//!
//! ```yaml
//! name: greeter                      # [a-z0-9][a-z0-9_-]*, at most 100 characters
//! description: Greets and routes     # optional
//! side: customer                     # who `ask` and `show_form` talk to: customer (default) or agent
//! trigger:                           # optional: a flow can always be launched by an agent or the API
//!   chat_started: [website]          # entry point names; or `message_added: [...]`, or `event: use_of_funds`
//! params:                            # optional: what a launch passes in, read as `params.NAME`
//!   case_id: { required: true }
//! start: hello                       # optional: the first step listed
//! steps:
//!   hello:
//!     type: send_message
//!     text: "Hi {{ chat.attributes.name }}!"
//!     next: topic
//!   topic:
//!     type: ask
//!     text: What is it about?
//!     choices: [Billing, Technical]
//!     into: topic                    # the answer, as `vars.topic`
//!     timeout: 5m
//!     on_timeout: human
//!     next: pick
//!   pick:
//!     type: branch
//!     cases:
//!       - if: vars.topic == "Billing"
//!         next: billing
//!     default: human
//!   billing: { type: route, queue: billing, next: end }
//!   human: { type: route, workflow: true, next: end }
//! ```

use serde::{Deserialize, Serialize};

use crate::routing::expr::Expr;

/// The longest flow, step, parameter, variable or field name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The most steps a flow may have.
pub const MAX_STEPS: usize = 200;
/// The longest a step may wait (`timeout`, `wait`), in seconds: 30 days.
pub const MAX_WAIT_SECS: u32 = 30 * 24 * 3600;
/// The target that finishes the run.
pub const END: &str = "end";

/// A validated flow definition. Serializes to the JSON form the parser reads
/// back (stored beside the source it came from).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub side: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// Declared inputs, in document order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    /// The first step's name.
    pub start: String,
    /// In document order; names are unique.
    pub steps: Vec<Step>,
}

/// Who a flow talks to: the customer in the chat, or the agent working it
/// (an agent-side flow is the agent's own; its forms go to the agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Customer,
    Agent,
}

/// What starts a run besides a launch by an agent or the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A chat started on one of these entry points (by name): a pre-chat bot.
    ChatStarted(Vec<String>),
    /// A customer message in a chat on one of these entry points, when no run
    /// of this flow is active in that chat.
    MessageAdded(Vec<String>),
    /// A custom event of this type. The run is in the conversation the event
    /// was published from, else in the open conversation whose record id is
    /// the event's key; with neither, nothing starts.
    Event(String),
}

/// A declared input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    pub name: String,
    pub required: bool,
    /// Used when a launch does not pass the parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// One step: what it does and where each of its outcomes leads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    /// Where the step goes when it succeeds (`end` finishes the run). A
    /// `branch` has no `next`: its cases and default say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Where a timeout goes (steps that wait). Without it a timeout is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<String>,
    /// Where an error goes. Without it the run fails, and the chat is handed
    /// to a human by the workflow (a customer is never left with a stuck bot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

/// A string with `{{ … }}` placeholders, rendered by minijinja over the
/// run's variables (`params`, `vars`, `chat`, `trigger`). Checked to compile
/// when the flow is parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Template(pub String);

/// A JSON value whose strings are templates (request bodies, event data, attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValueTemplate(pub serde_json::Value);

/// Who a message appears to come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// The system (a bot): the default.
    System,
    /// The agent who launched the run; an error if no agent did.
    Agent,
}

/// Message formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Plain,
    Markdown,
}

/// Where `route` and `transfer` send the chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    /// By the workspace's workflow.
    Workflow,
    /// A queue, by name.
    Queue(String),
    /// An agent, by login (or name when it has no login).
    Agent(String),
}

/// One branch case: the first whose `if` holds decides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// CEL over `params`, `vars`, `chat`, `trigger`.
    #[serde(rename = "if")]
    pub condition: Expr,
    pub next: String,
}

/// The HTTP methods `http_request` may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    SendMessage {
        text: Template,
        format: Format,
        #[serde(rename = "as")]
        sender: Sender,
    },
    /// Asks the customer (or, on the agent side, the agent) and waits for the next message.
    Ask {
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<Template>,
        /// The answer must be one of these (compared without case); a
        /// different answer is asked again, up to `retries` times.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        choices: Vec<String>,
        /// The answer must match this regular expression (whole answer).
        #[serde(skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        /// How many wrong answers are asked again before the step errs.
        retries: u32,
        into: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u32>,
    },
    /// Sends a form and waits for it to be submitted; the values go into `into`.
    ShowForm {
        form: crate::flows::form::FormSpec,
        into: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u32>,
    },
    SetAttributes {
        /// Keys to set (a `null` removes one); string values are templates.
        attributes: serde_json::Map<String, serde_json::Value>,
        /// Sets the conversation's record id (a template).
        #[serde(skip_serializing_if = "Option::is_none")]
        record_id: Option<Template>,
    },
    /// Sets run variables from templates.
    SetVars {
        vars: serde_json::Map<String, serde_json::Value>,
    },
    Branch {
        cases: Vec<Case>,
        default: String,
    },
    HttpRequest {
        method: Method,
        url: Template,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, Template)>,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<ValueTemplate>,
        timeout_secs: u32,
        /// `{status, body}` of the response goes here.
        #[serde(skip_serializing_if = "Option::is_none")]
        into: Option<String>,
    },
    PublishEvent {
        event: String,
        key: Template,
        data: ValueTemplate,
    },
    WaitForEvent {
        event: String,
        key: Template,
        /// The event's data goes here.
        #[serde(skip_serializing_if = "Option::is_none")]
        into: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u32>,
    },
    Route {
        target: RouteTarget,
        priority: i32,
    },
    Transfer {
        target: RouteTarget,
    },
    SetAgentInput {
        text: Template,
    },
    RequestFile {
        #[serde(skip_serializing_if = "Option::is_none")]
        record_id: Option<Template>,
        /// With `into`, the step waits for the file and its details go here;
        /// without, it goes on at once.
        #[serde(skip_serializing_if = "Option::is_none")]
        into: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u32>,
    },
    EndChat,
    /// Starts another flow in this conversation (usually on the other side),
    /// passing parameters; does not wait for it.
    LaunchFlow {
        flow: String,
        params: serde_json::Map<String, serde_json::Value>,
    },
    /// Runs another flow and waits for it; its variables go into `into`.
    Subflow {
        flow: String,
        params: serde_json::Map<String, serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        into: Option<String>,
    },
    Wait {
        secs: u32,
    },
}

impl Action {
    /// The step type as written in a flow file.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::SendMessage { .. } => "send_message",
            Self::Ask { .. } => "ask",
            Self::ShowForm { .. } => "show_form",
            Self::SetAttributes { .. } => "set_attributes",
            Self::SetVars { .. } => "set_vars",
            Self::Branch { .. } => "branch",
            Self::HttpRequest { .. } => "http_request",
            Self::PublishEvent { .. } => "publish_event",
            Self::WaitForEvent { .. } => "wait_for_event",
            Self::Route { .. } => "route",
            Self::Transfer { .. } => "transfer",
            Self::SetAgentInput { .. } => "set_agent_input",
            Self::RequestFile { .. } => "request_file",
            Self::EndChat => "end_chat",
            Self::LaunchFlow { .. } => "launch_flow",
            Self::Subflow { .. } => "subflow",
            Self::Wait { .. } => "wait",
        }
    }

    /// Every step type, as written.
    pub const TYPES: &'static [&'static str] = &[
        "send_message",
        "ask",
        "show_form",
        "set_attributes",
        "set_vars",
        "branch",
        "http_request",
        "publish_event",
        "wait_for_event",
        "route",
        "transfer",
        "set_agent_input",
        "request_file",
        "end_chat",
        "launch_flow",
        "subflow",
        "wait",
    ];

    /// Whether the step can time out (and so may have `on_timeout`).
    pub fn can_time_out(&self) -> bool {
        match self {
            Self::Ask { timeout_secs, .. }
            | Self::ShowForm { timeout_secs, .. }
            | Self::WaitForEvent { timeout_secs, .. }
            | Self::RequestFile { timeout_secs, .. } => timeout_secs.is_some(),
            Self::HttpRequest { .. } => true,
            _ => false,
        }
    }
}

impl Flow {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every transition of a step, with the outcome it is for.
    pub fn transitions(step: &Step) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Action::Branch { cases, default } = &step.action {
            out.extend(cases.iter().map(|c| ("case", c.next.as_str())));
            out.push(("default", default.as_str()));
        }
        out.extend(step.next.as_deref().map(|n| ("next", n)));
        out.extend(step.on_timeout.as_deref().map(|n| ("timeout", n)));
        out.extend(step.on_error.as_deref().map(|n| ("error", n)));
        out
    }
}
