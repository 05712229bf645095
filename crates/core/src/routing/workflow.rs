//! Workflows: how a chat is routed, written by operators as YAML (or sent as
//! JSON to the API) and checked here before anything is stored.
//!
//! A workflow is an ordered list of filters and an optional default step. The
//! first filter whose `if` is true for the chat decides the route: its steps,
//! in order, then the default step. A chat that matches no filter goes to the
//! default step alone.
//!
//! ```yaml
//! filters:
//!   - name: vip-billing                 # unique, at most 100 characters
//!     if: chat.attributes.topic == "billing" && chat.attributes.vip == true
//!                                       # optional CEL over `chat`; omitted = always
//!     priority: 10                      # optional, -1000..=1000, default 0
//!     steps:                            # 1 to 20 steps
//!       - queue: billing-tier2          # a queue name
//!         agents: agent.level >= 3      # optional CEL over `agent`
//!         timeout: 60                   # optional: seconds (1..=86400) or "90s", "2m", "1h";
//!                                       # then the task moves to the next step
//!         skip_if_nobody_available: true  # optional, default false
//!         ring: 3                       # optional, 1..=100: after this many agents passed
//!                                       # (declined, let it lapse, missed a reply), the next step
//!         when_closed: next             # optional: `wait` (default) or `next` while the
//!                                       # queue's schedule is closed
//!       - queue: billing
//! default:                              # optional: the step every route ends with
//!   queue: general
//! ```
//!
//! Expressions are CEL (see [`super::expr`]). A filter's `if` sees `chat`
//! (with `open`: whether its entry point's schedule is open now) and
//! `hours` (each schedule of the workspace by name → open now). At most 200 filters, and a
//! document of at most 256 KiB. Every error names the field at fault
//! (`filters[1].steps[0].timeout`) and, for YAML, starts with the line and
//! column, so that an operator can find it.
//!
//! YAML is read into a small tree of located nodes, and the tree is then
//! checked by hand rather than by derived `Deserialize` impls: that is what
//! lets every error carry both its field path and its line, and lets JSON
//! (the same tree, without lines) share the very same checks. The tree and
//! its helpers live in [`crate::located`], shared with the flow parser.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::expr::Expr;
use super::model::WhenClosed;
use crate::Error;
use crate::located::{Doc, Durations, Fields, Node, Value, child, expr, integer, invalid};

/// The largest YAML document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The most filters a workflow may have.
pub const MAX_FILTERS: usize = 200;
/// The most steps a filter may have.
pub const MAX_STEPS: usize = 20;
/// The longest filter or queue name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest step timeout, in seconds (a day).
pub const MAX_TIMEOUT_SECS: u32 = 86_400;
/// The document, for errors that belong to no field of it.
const DOC: Doc = Doc { name: "workflow", max_bytes: MAX_DOCUMENT_BYTES };
/// Step timeouts: at most a day, so no days as a unit.
const TIMEOUTS: Durations =
    Durations { noun: "a timeout", max_secs: MAX_TIMEOUT_SECS, max_words: "a day", days: false };
/// JSON nests no deeper than this in a valid workflow; deeper containers are read as empty.
const MAX_JSON_DEPTH: usize = 16;
const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -1000..=1000;

/// The variables a filter's `if` may use: the chat, and `hours["name"]`
/// (whether that schedule is open now).
const CHAT_VARS: &[&str] = &["chat", "hours"];
/// The variable a step's `agents` may use.
const AGENT_VARS: &[&str] = &["agent"];

const WORKFLOW_FIELDS: &[&str] = &["filters", "default"];
const FILTER_FIELDS: &[&str] = &["name", "if", "priority", "steps"];
const STEP_FIELDS: &[&str] =
    &["queue", "agents", "timeout", "skip_if_nobody_available", "ring", "message", "when_closed"];
/// What a message step tells the customer when it says only `message: true`.
pub const DEFAULT_MESSAGE: &str =
    "Nobody can answer right now. Leave us a message and your details, and we will get back to you.";
/// The longest text a message step may tell the customer, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// The most agents a ring policy may name.
pub const MAX_RING: i64 = 100;

/// A validated workflow. Serializes to the JSON form [`from_json`] reads back.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Workflow {
    pub filters: Vec<Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Step>,
}

/// Chats matching `condition` are routed along `steps`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    pub name: String,
    /// Over the variable `chat`; `None` matches every chat.
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Expr>,
    pub priority: i32,
    pub steps: Vec<Step>,
}

/// One queue a task waits in, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// A queue name.
    pub queue: String,
    /// Over the variable `agent`: which of the queue's agents may be offered the task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Expr>,
    /// After this long the task moves to the next step; `None` waits indefinitely.
    #[serde(rename = "timeout", skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
    /// Move on at once when no agent of the queue is available.
    pub skip_if_nobody_available: bool,
    /// The ring policy: after this many agents passed on the chat in this
    /// step, move on to the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring: Option<u32>,
    /// A message step: the chat becomes a "message us" request in `queue`
    /// and the customer is told this. The last step of its route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// While the queue's hours are closed: `wait` (the default) or `next`.
    #[serde(skip_serializing_if = "WhenClosed::is_wait")]
    pub when_closed: WhenClosed,
}

/// What a chat is routed along.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The filter that matched; `None` when the chat fell through to the default step.
    pub filter: Option<String>,
    pub priority: i32,
    pub steps: Vec<Step>,
}

/// Parses and validates YAML. Every error is `Error::invalid(field, message)` where `field` is the path of the
/// offending field (e.g. `filters[1].steps[0].timeout`, or `workflow` when no path is known) and the message starts
/// with `line L, column C: ` whenever a location is known (syntax errors, unknown fields, wrong types, bad values).
pub fn parse_yaml(source: &str) -> Result<Workflow, Error> {
    match DOC.read_yaml(source)? {
        // An empty document, or `null`: a workflow that routes nothing.
        None => Ok(Workflow::default()),
        Some(root) => workflow(&root),
    }
}

/// The same document from JSON (the API also accepts JSON bodies): same validation and field paths, no lines.
pub fn from_json(value: &serde_json::Value) -> Result<Workflow, Error> {
    workflow(&Node::from_json(value, MAX_JSON_DEPTH))
}

impl Workflow {
    /// Every queue name the workflow mentions, each once, in the order they first appear.
    pub fn queue_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let steps = self.filters.iter().flat_map(|f| f.steps.iter()).chain(self.default.iter());
        for step in steps {
            if !names.contains(&step.queue.as_str()) {
                names.push(&step.queue);
            }
        }
        names
    }

    /// The first filter (in order) whose condition is true for `chat` (bound as CEL variable `chat`; a condition
    /// that errors counts as false) → its steps followed by `default` (if any); no filter matches → `default` alone
    /// with filter `None`, priority 0; nothing → `None`.
    pub fn route(&self, chat: &serde_json::Value) -> Option<Route> {
        self.route_in(chat, &serde_json::json!({}))
    }

    /// As [`Workflow::route`], with `hours` bound too: each schedule's name → open now.
    pub fn route_in(&self, chat: &serde_json::Value, hours: &serde_json::Value) -> Option<Route> {
        let vars = [("chat", chat), ("hours", hours)];
        let matched = self.filters.iter().find(|f| f.condition.as_ref().is_none_or(|c| c.matches(&vars)));
        match matched {
            Some(filter) => {
                // Nothing comes after a message step, the default step neither.
                let ends = filter.steps.last().is_some_and(|s| s.message.is_some());
                let default = self.default.iter().filter(|_| !ends);
                Some(Route {
                    filter: Some(filter.name.clone()),
                    priority: filter.priority,
                    steps: filter.steps.iter().chain(default).cloned().collect(),
                })
            }
            None => self.default.as_ref().map(|step| Route { filter: None, priority: 0, steps: vec![step.clone()] }),
        }
    }
}

impl Workflow {
    /// Whether some filter's condition may look at hours (`chat.open` or `hours`).
    pub fn uses_hours(&self) -> bool {
        self.conditions().any(|(_, c)| c.contains("hours") || c.contains("open"))
    }

    /// The schedule names the conditions look up as `hours["name"]`, each
    /// with the field it is in (`filters[2].if`).
    pub fn schedule_names(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, source) in self.conditions() {
            let mut rest = source;
            while let Some(at) = rest.find("hours") {
                rest = &rest[at + "hours".len()..];
                let Some(open) = rest.trim_start().strip_prefix('[') else { continue };
                let open = open.trim_start();
                let Some(quote) = open.chars().next().filter(|q| *q == '"' || *q == '\'') else { continue };
                if let Some((name, _)) = open[1..].split_once(quote) {
                    out.push((format!("filters[{i}].if"), name.to_owned()));
                }
            }
        }
        out
    }

    fn conditions(&self) -> impl Iterator<Item = (usize, &str)> {
        self.filters.iter().enumerate().filter_map(|(i, f)| Some((i, f.condition.as_ref()?.source())))
    }
}

/// Reads the JSON form (as [`from_json`]), so that a workflow can sit inside
/// other serde types, such as a stored record.
impl<'de> Deserialize<'de> for Workflow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        from_json(&value).map_err(de::Error::custom)
    }
}

fn workflow(root: &Node) -> Result<Workflow, Error> {
    if matches!(root.value, Value::Null) {
        return Ok(Workflow::default());
    }
    let fields = Fields::of(root, DOC.name, "", WORKFLOW_FIELDS, "a mapping with `filters` and `default`")?;

    let mut filters = Vec::new();
    if let Some(node) = fields.get("filters") {
        let Value::Seq(items) = &node.value else {
            return Err(invalid("filters", node.at, format!("expected a list of filters, got {}", node.value.kind())));
        };
        if items.len() > MAX_FILTERS {
            return Err(invalid(
                "filters",
                node.at,
                format!("{} filters, more than the limit of {MAX_FILTERS}", items.len()),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let path = format!("filters[{i}]");
            let parsed = filter(item, &path)?;
            if let Some(j) = filters.iter().position(|f: &Filter| f.name == parsed.name) {
                let at = Fields::of(item, DOC.name, &path, FILTER_FIELDS, "")?.get("name").and_then(|n| n.at);
                return Err(invalid(
                    &child(&path, "name"),
                    at,
                    format!("duplicate filter name `{}` (also filters[{j}])", parsed.name),
                ));
            }
            filters.push(parsed);
        }
    }
    let default = fields.get("default").map(|node| step(node, "default")).transpose()?;
    if let Some(node) = fields.get("default")
        && default.as_ref().is_some_and(|d| d.ring.is_some())
    {
        return Err(ring_is_last(node, "default"));
    }
    if default.is_none()
        && let Some((i, f)) = filters.iter().enumerate().find(|(_, f)| f.steps.last().is_some_and(|s| s.ring.is_some()))
    {
        let path = format!("filters[{i}].steps[{}]", f.steps.len() - 1);
        let filter = match fields.get("filters").map(|n| &n.value) {
            Some(Value::Seq(items)) => items.get(i),
            _ => None,
        };
        let filter_fields = filter.and_then(|n| Fields::of(n, DOC.name, "", FILTER_FIELDS, "").ok());
        let last = match filter_fields.as_ref().and_then(|f| f.get("steps")).map(|n| &n.value) {
            Some(Value::Seq(items)) => items.last(),
            _ => None,
        };
        return Err(match last {
            Some(node) => ring_is_last(node, &path),
            None => invalid(&child(&path, "ring"), None, RING_IS_LAST),
        });
    }
    Ok(Workflow { filters, default })
}

const RING_IS_LAST: &str = "a ring policy moves the chat on to the next step, and this step is the last of its route \
     (add a step after it, or a `default`)";

/// The error for a ring policy on the last step of a route, at its line.
fn ring_is_last(step: &Node, path: &str) -> Error {
    let at = Fields::of(step, DOC.name, path, STEP_FIELDS, "").ok().and_then(|f| f.get("ring").and_then(|n| n.at));
    invalid(&child(path, "ring"), at, RING_IS_LAST)
}

fn filter(node: &Node, path: &str) -> Result<Filter, Error> {
    let fields = Fields::of(node, DOC.name, path, FILTER_FIELDS, "a filter (a mapping with `name` and `steps`)")?;
    let name = name(fields.require("name")?, &child(path, "name"), "filter name")?;
    let condition = fields.get("if").map(|n| expr(n, &child(path, "if"), CHAT_VARS)).transpose()?;
    let priority = match fields.get("priority") {
        None => 0,
        Some(node) => {
            let value = integer(node, &child(path, "priority"))?;
            if !PRIORITY_RANGE.contains(&value) {
                return Err(invalid(
                    &child(path, "priority"),
                    node.at,
                    format!("priority {value} is out of range; it must be from -1000 to 1000"),
                ));
            }
            i32::try_from(value).unwrap_or_default()
        }
    };

    let steps_path = child(path, "steps");
    let steps_node = fields.require("steps")?;
    let Value::Seq(items) = &steps_node.value else {
        return Err(invalid(
            &steps_path,
            steps_node.at,
            format!("expected a list of steps, got {}", steps_node.value.kind()),
        ));
    };
    if items.is_empty() {
        return Err(invalid(&steps_path, steps_node.at, "a filter needs at least one step"));
    }
    if items.len() > MAX_STEPS {
        return Err(invalid(
            &steps_path,
            steps_node.at,
            format!("{} steps, more than the limit of {MAX_STEPS}", items.len()),
        ));
    }
    let steps: Vec<Step> = items
        .iter()
        .enumerate()
        .map(|(i, item)| step(item, &format!("{steps_path}[{i}]")))
        .collect::<Result<_, _>>()?;
    if let Some(i) = steps.iter().rev().skip(1).position(|s| s.message.is_some()) {
        let i = steps.len() - 2 - i;
        let at = Fields::of(&items[i], DOC.name, "", STEP_FIELDS, "").ok().and_then(|f| f.get("message")?.at);
        return Err(invalid(
            &format!("{steps_path}[{i}].message"),
            at,
            "a message step ends the route: the steps after it would never be reached",
        ));
    }
    Ok(Filter { name, condition, priority, steps })
}

fn step(node: &Node, path: &str) -> Result<Step, Error> {
    let fields = Fields::of(node, DOC.name, path, STEP_FIELDS, "a step (a mapping with `queue`)")?;
    let queue = name(fields.require("queue")?, &child(path, "queue"), "queue name")?;
    let agents = fields.get("agents").map(|n| expr(n, &child(path, "agents"), AGENT_VARS)).transpose()?;
    let timeout_secs = fields.get("timeout").map(|n| TIMEOUTS.read(n, &child(path, "timeout"))).transpose()?;
    let skip_if_nobody_available = match fields.get("skip_if_nobody_available") {
        None => false,
        Some(Node { value: Value::Bool(b), .. }) => *b,
        Some(other) => {
            return Err(invalid(
                &child(path, "skip_if_nobody_available"),
                other.at,
                format!("expected true or false, got {}", other.value.kind()),
            ));
        }
    };
    let ring = match fields.get("ring") {
        None => None,
        Some(node) => {
            let n = integer(node, &child(path, "ring"))?;
            if !(1..=MAX_RING).contains(&n) {
                return Err(invalid(
                    &child(path, "ring"),
                    node.at,
                    format!("ring {n} is out of range; it must be from 1 to {MAX_RING} agents"),
                ));
            }
            u32::try_from(n).ok()
        }
    };
    let message = match fields.get("message") {
        None | Some(Node { value: Value::Bool(false), .. }) => None,
        Some(Node { value: Value::Bool(true), .. }) => Some(DEFAULT_MESSAGE.to_owned()),
        Some(node @ Node { value: Value::Str(text), .. }) => {
            let text = text.trim();
            if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
                return Err(invalid(
                    &child(path, "message"),
                    node.at,
                    format!("the text for the customer must be 1 to {MAX_MESSAGE_CHARS} characters"),
                ));
            }
            Some(text.to_owned())
        }
        Some(other) => {
            return Err(invalid(
                &child(path, "message"),
                other.at,
                format!("expected true or the text for the customer, got {}", other.value.kind()),
            ));
        }
    };
    let when_closed = match fields.get("when_closed") {
        None => WhenClosed::Wait,
        Some(node @ Node { value: Value::Str(text), .. }) => WhenClosed::parse(text).ok_or_else(|| {
            invalid(&child(path, "when_closed"), node.at, format!("`{text}` is not one of: wait, next"))
        })?,
        Some(other) => {
            return Err(invalid(
                &child(path, "when_closed"),
                other.at,
                format!("expected wait or next, got {}", other.value.kind()),
            ));
        }
    };
    // Stored workflows say `skip_if_nobody_available: false` on every step.
    let set = [
        ("agents", agents.is_some()),
        ("timeout", timeout_secs.is_some()),
        ("skip_if_nobody_available", skip_if_nobody_available),
        ("ring", ring.is_some()),
        ("when_closed", when_closed != WhenClosed::Wait),
    ];
    if message.is_some()
        && let Some((extra, _)) = set.iter().find(|(_, set)| *set)
    {
        return Err(invalid(
            &child(path, extra),
            fields.get(extra).and_then(|n| n.at),
            "a message step takes only `queue` (where the request is listed) and `message`",
        ));
    }
    Ok(Step { queue, agents, timeout_secs, skip_if_nobody_available, ring, message, when_closed })
}

/// A filter or queue name: a non-blank string of at most [`MAX_NAME_CHARS`].
fn name(node: &Node, path: &str, what: &str) -> Result<String, Error> {
    let Value::Str(text) = &node.value else {
        let hint = if matches!(node.value, Value::Int(_) | Value::Float(_) | Value::Bool(_)) {
            " (put it in quotes)"
        } else {
            ""
        };
        return Err(invalid(path, node.at, format!("expected a {what} (a string), got {}{hint}", node.value.kind())));
    };
    if text.trim().is_empty() {
        return Err(invalid(path, node.at, format!("the {what} must not be empty")));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(path, node.at, format!("the {what} is longer than {MAX_NAME_CHARS} characters")));
    }
    Ok(text.clone())
}

/// `90`, `2m`, `1h30m`: seconds (kept for the format's tests).
#[cfg(test)]
fn parse_duration(text: &str) -> Option<u64> {
    TIMEOUTS.parse(text)
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
