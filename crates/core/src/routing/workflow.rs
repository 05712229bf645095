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
//!       - queue: billing
//! default:                              # optional: the step every route ends with
//!   queue: general
//! ```
//!
//! Expressions are CEL (see [`super::expr`]). At most 200 filters, and a
//! document of at most 256 KiB. Every error names the field at fault
//! (`filters[1].steps[0].timeout`) and, for YAML, starts with the line and
//! column, so that an operator can find it.
//!
//! YAML is read into a small tree of located nodes, and the tree is then
//! checked by hand rather than by derived `Deserialize` impls: that is what
//! lets every error carry both its field path and its line, and lets JSON
//! (the same tree, without lines) share the very same checks.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::budget::BudgetBreach;

use super::expr::Expr;
use crate::Error;

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
const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -1000..=1000;

/// The variable a filter's `if` may use.
const CHAT_VARS: &[&str] = &["chat"];
/// The variable a step's `agents` may use.
const AGENT_VARS: &[&str] = &["agent"];

const WORKFLOW_FIELDS: &[&str] = &["filters", "default"];
const FILTER_FIELDS: &[&str] = &["name", "if", "priority", "steps"];
const STEP_FIELDS: &[&str] = &["queue", "agents", "timeout", "skip_if_nobody_available"];

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
    if source.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid(
            "workflow",
            format!("the document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}", source.len()),
        ));
    }
    let root: Option<Node> = serde_saphyr::from_str_with_options(source, yaml_options()).map_err(yaml_error)?;
    match root {
        // An empty document, or `null`: a workflow that routes nothing.
        None => Ok(Workflow::default()),
        Some(root) => workflow(&root),
    }
}

/// The same document from JSON (the API also accepts JSON bodies): same validation and field paths, no lines.
pub fn from_json(value: &serde_json::Value) -> Result<Workflow, Error> {
    workflow(&Node::from_json(value, 0))
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
        let vars = [("chat", chat)];
        let matched = self.filters.iter().find(|f| f.condition.as_ref().is_none_or(|c| c.matches(&vars)));
        match matched {
            Some(filter) => Some(Route {
                filter: Some(filter.name.clone()),
                priority: filter.priority,
                steps: filter.steps.iter().chain(self.default.iter()).cloned().collect(),
            }),
            None => self.default.as_ref().map(|step| Route { filter: None, priority: 0, steps: vec![step.clone()] }),
        }
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

/// Where a node was written: line and column, both from 1. JSON has none.
type At = Option<(u64, u64)>;

/// A YAML or JSON value and where it was written.
#[derive(Debug)]
struct Node {
    value: Value,
    at: At,
}

#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; keys may be any node, checked later.
    Map(Vec<(Node, Node)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// Converts JSON. Nothing valid nests deeper than a few levels, so past
    /// `MAX_JSON_DEPTH` containers keep their kind (for error messages) but
    /// not their contents: no recursion without bound.
    fn from_json(value: &serde_json::Value, depth: usize) -> Node {
        const MAX_JSON_DEPTH: usize = 16;
        use serde_json::Value as J;
        let value = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Int(i.into()),
                (None, Some(u)) => Value::Int(u.into()),
                (None, None) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(_) if depth >= MAX_JSON_DEPTH => Value::Seq(Vec::new()),
            J::Object(_) if depth >= MAX_JSON_DEPTH => Value::Map(Vec::new()),
            J::Array(items) => Value::Seq(items.iter().map(|item| Node::from_json(item, depth + 1)).collect()),
            J::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| {
                        (Node { value: Value::Str(key.clone()), at: None }, Node::from_json(item, depth + 1))
                    })
                    .collect(),
            ),
        };
        Node { value, at: None }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Value>::deserialize(deserializer)?;
        let location = spanned.referenced;
        // Line 0 is serde-saphyr's "unknown".
        let at = (location.line() > 0).then(|| (location.line(), location.column()));
        Ok(Node { value: spanned.value, at })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }

            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
                Value::deserialize(deserializer)
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v.into()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Int(v.into()))
            }

            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
                Ok(Value::Int(v))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
                Ok(Value::Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }

            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
                Err(E::custom("binary values are not supported"))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(Value::Seq(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Node, Node>()? {
                    entries.push(entry);
                }
                Ok(Value::Map(entries))
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Modest budgets: a real workflow is a few thousand nodes, and the document
/// is at most 256 KiB, so only aliases (`*ref`, each a copy of what it refers
/// to) could make it much bigger. These stop alias "bombs" long before they
/// cost anything.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 200_000,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_depth: 24,
            flow_nesting_limit: 24,
            max_documents: 1,
            max_merge_keys: 1_000,
            max_recorded_anchor_events: 100_000,
            max_recorded_anchor_bytes: 1024 * 1024,
            max_total_scalar_bytes: 1024 * 1024,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
        // `no`, `off`, `y` stay strings, as YAML 1.2 has it.
        strict_booleans: true,
        // Plain messages: the location is put in front, the way every error here starts.
        with_snippet: false,
    }
}

fn yaml_error(error: serde_saphyr::Error) -> Error {
    let location = error.location().filter(|l| l.line() > 0);

    // Alias errors wrap the error met while replaying the alias; the outer
    // location (where the alias is used) is the one to show.
    let mut inner = error.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let mut message = match inner {
        serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => format!("duplicate field `{key}`"),
        serde_saphyr::Error::DuplicateMappingKey { key: None, .. } => "duplicate field".to_owned(),
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Documents { .. } => "a workflow is a single YAML document (found another `---`)".to_owned(),
            BudgetBreach::Depth { .. } => "the document nests too deeply".to_owned(),
            other => format!("the document is too large, or expands too many aliases ({other:?})"),
        },
        other => other.to_string(),
    };
    // The library ends its messages with a location; it goes in front instead.
    if let Some(start) = message.rfind(" at line ") {
        let tail = message.get(start + " at line ".len()..).unwrap_or_default();
        let is_location = tail.split_once(", column ").is_some_and(|(line, column)| {
            [line, column].iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        if is_location {
            message.truncate(start);
        }
    }
    invalid("workflow", location.map(|l| (l.line(), l.column())), format!("invalid YAML: {message}"))
}

fn invalid(field: &str, at: At, message: impl fmt::Display) -> Error {
    match at {
        Some((line, column)) => Error::invalid(field, format!("line {line}, column {column}: {message}")),
        None => Error::invalid(field, message.to_string()),
    }
}

fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") }
}

/// The entries of a mapping, checked against the fields it may have.
struct Fields<'a> {
    path: &'a str,
    at: At,
    entries: Vec<(&'a str, &'a Node)>,
}

impl<'a> Fields<'a> {
    /// `path` is the mapping's own path (empty for the document).
    fn of(node: &'a Node, path: &'a str, allowed: &[&str], what: &str) -> Result<Fields<'a>, Error> {
        let Value::Map(entries) = &node.value else {
            let field = if path.is_empty() { "workflow" } else { path };
            return Err(invalid(field, node.at, format!("expected {what}, got {}", node.value.kind())));
        };
        let mut fields = Fields { path, at: node.at, entries: Vec::with_capacity(entries.len()) };
        for (key, value) in entries {
            let Value::Str(name) = &key.value else {
                let field = if path.is_empty() { "workflow" } else { path };
                return Err(invalid(field, key.at, format!("field names must be strings, got {}", key.value.kind())));
            };
            if !allowed.contains(&name.as_str()) {
                let hint = closest(name, allowed).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
                return Err(invalid(
                    &child(path, name),
                    key.at,
                    format!("unknown field `{name}`; allowed fields: {}{hint}", allowed.join(", ")),
                ));
            }
            if fields.entries.iter().any(|(seen, _)| seen == name) {
                return Err(invalid(&child(path, name), key.at, format!("duplicate field `{name}`")));
            }
            fields.entries.push((name, value));
        }
        Ok(fields)
    }

    /// The field's value, unless absent or null (both mean "not given").
    fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(n, _)| *n == name).map(|(_, node)| *node).filter(|n| !matches!(n.value, Value::Null))
    }

    fn require(&self, name: &str) -> Result<&'a Node, Error> {
        self.get(name).ok_or_else(|| invalid(&child(self.path, name), self.at, format!("missing field `{name}`")))
    }
}

/// The allowed name nearest to a misspelt one, if it is near enough to be a typo.
fn closest<'n>(name: &str, allowed: &[&'n str]) -> Option<&'n str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row.first().copied().unwrap_or(0);
            if let Some(first) = row.first_mut() {
                *first = i + 1;
            }
            for (j, cb) in b.iter().enumerate() {
                let above = row.get(j + 1).copied().unwrap_or(0);
                let left = row.get(j).copied().unwrap_or(0);
                let best = (diagonal + usize::from(ca != *cb)).min(above + 1).min(left + 1);
                diagonal = above;
                if let Some(cell) = row.get_mut(j + 1) {
                    *cell = best;
                }
            }
        }
        row.last().copied().unwrap_or(0)
    }
    if name.chars().count() > 64 {
        return None;
    }
    allowed.iter().map(|a| (distance(name, a), *a)).filter(|(d, _)| *d <= 2).min_by_key(|(d, _)| *d).map(|(_, a)| a)
}

fn workflow(root: &Node) -> Result<Workflow, Error> {
    if matches!(root.value, Value::Null) {
        return Ok(Workflow::default());
    }
    let fields = Fields::of(root, "", WORKFLOW_FIELDS, "a mapping with `filters` and `default`")?;

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
                let at = Fields::of(item, &path, FILTER_FIELDS, "")?.get("name").and_then(|n| n.at);
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
    Ok(Workflow { filters, default })
}

fn filter(node: &Node, path: &str) -> Result<Filter, Error> {
    let fields = Fields::of(node, path, FILTER_FIELDS, "a filter (a mapping with `name` and `steps`)")?;
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
    let steps = items
        .iter()
        .enumerate()
        .map(|(i, item)| step(item, &format!("{steps_path}[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Filter { name, condition, priority, steps })
}

fn step(node: &Node, path: &str) -> Result<Step, Error> {
    let fields = Fields::of(node, path, STEP_FIELDS, "a step (a mapping with `queue`)")?;
    let queue = name(fields.require("queue")?, &child(path, "queue"), "queue name")?;
    let agents = fields.get("agents").map(|n| expr(n, &child(path, "agents"), AGENT_VARS)).transpose()?;
    let timeout_secs = fields.get("timeout").map(|n| timeout(n, &child(path, "timeout"))).transpose()?;
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
    Ok(Step { queue, agents, timeout_secs, skip_if_nobody_available })
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

fn expr(node: &Node, path: &str, vars: &[&str]) -> Result<Expr, Error> {
    let source = match &node.value {
        Value::Str(text) => text.as_str(),
        // `if: true` is YAML's boolean, and also a CEL expression.
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        other => {
            return Err(invalid(path, node.at, format!("expected an expression (a string), got {}", other.kind())));
        }
    };
    Expr::parse(path, source, vars).map_err(|mut e| {
        if let Some((line, column)) = node.at {
            e.message = format!("line {line}, column {column}: {}", e.message);
        }
        e
    })
}

fn integer(node: &Node, path: &str) -> Result<i64, Error> {
    match &node.value {
        Value::Int(i) => i64::try_from(*i).map_err(|_| invalid(path, node.at, format!("{i} is out of range"))),
        Value::Float(f) => Err(invalid(path, node.at, format!("expected a whole number, got {f}"))),
        other => Err(invalid(path, node.at, format!("expected a whole number, got {}", other.kind()))),
    }
}

/// Seconds, as a number or a string with units: `90`, `"90s"`, `"2m"`, `"1h30m"`.
fn timeout(node: &Node, path: &str) -> Result<u32, Error> {
    let seconds = match &node.value {
        Value::Int(i) => *i,
        Value::Float(f) => {
            return Err(invalid(path, node.at, format!("expected whole seconds, got {f}")));
        }
        Value::Str(text) => match parse_duration(text) {
            Some(seconds) => seconds.into(),
            None => {
                return Err(invalid(
                    path,
                    node.at,
                    format!(
                        "`{text}` is not a duration; write seconds (90) or use units s, m, h (\"90s\", \"2m\", \"1h\")"
                    ),
                ));
            }
        },
        other => {
            return Err(invalid(
                path,
                node.at,
                format!("expected seconds (a whole number) or a duration such as \"2m\", got {}", other.kind()),
            ));
        }
    };
    match u32::try_from(seconds) {
        Ok(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => Ok(s),
        _ => Err(invalid(
            path,
            node.at,
            format!("a timeout of {seconds} seconds is out of range; it must be from 1 to {MAX_TIMEOUT_SECS} (a day)"),
        )),
    }
}

/// `90`, `90s`, `2m`, `1h`, `1h30m`: the total in seconds, saturating.
fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(text.parse::<u64>().unwrap_or(u64::MAX));
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            number = Some(number.unwrap_or(0).saturating_mul(10).saturating_add(digit.into()));
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            _ => return None,
        };
        total = total.saturating_add(number.take()?.saturating_mul(unit));
    }
    // A number without its unit at the end ("1h30") is a mistake, not seconds.
    if number.is_some() || text.is_empty() { None } else { Some(total) }
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
