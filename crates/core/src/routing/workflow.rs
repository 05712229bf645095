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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"filters:
  - name: vip-billing
    if: chat.attributes.topic == "billing" && chat.attributes.vip == true   # optional
    priority: 10
    steps:
      - queue: billing-tier2
        agents: agent.level >= 3
        timeout: 60
        skip_if_nobody_available: true
      - queue: billing
  - name: spanish
    if: chat.attributes.language == "es"
    steps:
      - queue: spanish
default:
  queue: general
"#;

    fn step(queue: &str) -> Step {
        Step { queue: queue.to_owned(), agents: None, timeout_secs: None, skip_if_nobody_available: false }
    }

    fn chat(attributes: serde_json::Value) -> serde_json::Value {
        json!({ "attributes": attributes })
    }

    fn yaml_err(source: &str) -> Error {
        parse_yaml(source).unwrap_err()
    }

    #[test]
    fn the_example_parses_to_the_expected_workflow() {
        let expected = Workflow {
            filters: vec![
                Filter {
                    name: "vip-billing".to_owned(),
                    condition: Some(
                        Expr::parse(
                            "if",
                            r#"chat.attributes.topic == "billing" && chat.attributes.vip == true"#,
                            &["chat"],
                        )
                        .unwrap(),
                    ),
                    priority: 10,
                    steps: vec![
                        Step {
                            queue: "billing-tier2".to_owned(),
                            agents: Some(Expr::parse("agents", "agent.level >= 3", &["agent"]).unwrap()),
                            timeout_secs: Some(60),
                            skip_if_nobody_available: true,
                        },
                        step("billing"),
                    ],
                },
                Filter {
                    name: "spanish".to_owned(),
                    condition: Some(Expr::parse("if", r#"chat.attributes.language == "es""#, &["chat"]).unwrap()),
                    priority: 0,
                    steps: vec![step("spanish")],
                },
            ],
            default: Some(step("general")),
        };
        assert_eq!(parse_yaml(EXAMPLE).unwrap(), expected);
        assert_eq!(parse_yaml(EXAMPLE).unwrap().queue_names(), ["billing-tier2", "billing", "spanish", "general"]);
    }

    #[test]
    fn route_takes_the_first_matching_filter_then_the_default() {
        let w = parse_yaml(EXAMPLE).unwrap();

        let vip = w.route(&chat(json!({"topic": "billing", "vip": true, "language": "es"}))).unwrap();
        assert_eq!(vip.filter.as_deref(), Some("vip-billing"));
        assert_eq!(vip.priority, 10);
        let queues: Vec<&str> = vip.steps.iter().map(|s| s.queue.as_str()).collect();
        assert_eq!(queues, ["billing-tier2", "billing", "general"]);

        // Not a VIP: the second filter, by order.
        let es = w.route(&chat(json!({"topic": "billing", "vip": false, "language": "es"}))).unwrap();
        assert_eq!(es.filter.as_deref(), Some("spanish"));
        assert_eq!(es.priority, 0);
        assert_eq!(es.steps, [step("spanish"), step("general")]);

        // Conditions that fail to evaluate (no such attribute) count as false.
        let other = w.route(&chat(json!({}))).unwrap();
        assert_eq!(other, Route { filter: None, priority: 0, steps: vec![step("general")] });
        assert_eq!(w.route(&json!(null)).unwrap().filter, None);
    }

    #[test]
    fn a_filter_without_if_matches_everything_and_no_default_means_none() {
        let w = parse_yaml("filters:\n  - name: all\n    steps: [{queue: q}]\n").unwrap();
        assert_eq!(w.route(&json!({})).unwrap().steps, [step("q")]);

        let w = parse_yaml("filters:\n  - name: es\n    if: chat.lang == 'es'\n    steps: [{queue: q}]\n").unwrap();
        assert_eq!(w.route(&json!({"lang": "en"})), None);
        assert_eq!(w.route(&json!({"lang": "es"})).unwrap().filter.as_deref(), Some("es"));

        for empty in ["", "# nothing yet\n", "null", "~", "filters: []", "filters:\n", "{}"] {
            let w = parse_yaml(empty).unwrap();
            assert_eq!(w, Workflow::default(), "{empty:?}");
            assert_eq!(w.route(&json!({})), None);
        }
    }

    #[test]
    fn timeouts_accept_units() {
        for (text, seconds) in
            [("60", 60), ("\"90s\"", 90), ("2m", 120), ("'1h'", 3_600), ("1h30m", 5_400), ("'45'", 45)]
        {
            let w = parse_yaml(&format!("default:\n  queue: q\n  timeout: {text}\n")).unwrap();
            assert_eq!(w.default.unwrap().timeout_secs, Some(seconds), "{text}");
        }
        for text in
            ["0", "0s", "86401", "25h", "-5", "1.5", "90x", "1h30", "s", "''", "99999999999999999999999h", "true"]
        {
            let e = yaml_err(&format!("default:\n  queue: q\n  timeout: {text}\n"));
            assert_eq!(e.field.as_deref(), Some("default.timeout"), "{text}");
            assert!(e.message.starts_with("line 3, column 12: "), "{text}: {}", e.message);
        }
    }

    #[test]
    fn a_misspelt_field_names_its_line_and_path() {
        let source = EXAMPLE.replace("        agents: agent.level >= 3\n        timeout: 60", "        timout: 60");
        assert_eq!(source.lines().nth(6), Some("        timout: 60"));
        let e = yaml_err(&source);
        assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].timout"));
        assert!(e.message.starts_with("line 7, column 9: unknown field `timout`"), "{}", e.message);
        assert!(e.message.contains("allowed fields: queue, agents, timeout, skip_if_nobody_available"));
        assert!(e.message.contains("did you mean `timeout`?"), "{}", e.message);

        let e = yaml_err("filters: []\ndefualt:\n  queue: q\n");
        assert_eq!(e.field.as_deref(), Some("defualt"));
        assert!(e.message.starts_with("line 2, column 1: "), "{}", e.message);
    }

    #[test]
    fn wrong_types_name_their_line_and_path() {
        let e = yaml_err("filters:\n  - name: a\n    priority: high\n    steps: [{queue: q}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].priority"));
        assert_eq!(e.message, "line 3, column 15: expected a whole number, got a string");

        let e = yaml_err("filters:\n  - name: a\n    steps:\n      - queue: q\n        skip_if_nobody_available: no\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].skip_if_nobody_available"));
        assert!(e.message.starts_with("line 5, column 35: expected true or false"), "{}", e.message);

        let e = yaml_err("filters:\n  name: a\n");
        assert_eq!(e.field.as_deref(), Some("filters"));
        assert!(e.message.starts_with("line 2, column 3: expected a list of filters, got a mapping"), "{}", e.message);

        let e = yaml_err("default:\n  queue: 42\n");
        assert_eq!(e.field.as_deref(), Some("default.queue"));
        assert!(e.message.contains("put it in quotes"), "{}", e.message);

        let e = yaml_err("- a\n- b\n");
        assert_eq!(e.field.as_deref(), Some("workflow"));
        assert!(e.message.starts_with("line 1, column 1: expected a mapping"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_and_duplicate_keys_name_their_line() {
        let e = yaml_err("filters:\n  - name: a\n    steps: [{queue: q}\n");
        assert_eq!(e.field.as_deref(), Some("workflow"));
        assert!(e.message.starts_with("line "), "{}", e.message);
        assert!(e.message.contains("invalid YAML"), "{}", e.message);

        let e = yaml_err("default:\n  queue: a\n  queue: b\n");
        assert_eq!(e.message, "line 3, column 3: invalid YAML: duplicate field `queue`");

        let e = yaml_err("filters: []\n---\nfilters: []\n");
        assert_eq!(
            e.message,
            "line 2, column 1: invalid YAML: a workflow is a single YAML document (found another `---`)"
        );
    }

    #[test]
    fn bad_expressions_are_reported_at_their_field() {
        let e = yaml_err("filters:\n  - name: a\n    if: chat.topic ==\n    steps: [{queue: q}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].if"));
        assert!(e.message.starts_with("line 3, column 9: syntax error at column 14"), "{}", e.message);

        // Conditions see `chat`, steps see `agent`.
        let e = yaml_err("filters:\n  - name: a\n    if: agent.level > 1\n    steps: [{queue: q}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].if"));
        assert!(e.message.ends_with("unknown variable `agent`; expressions may use chat"), "{}", e.message);
        let e = yaml_err("default:\n  queue: q\n  agents: chat.vip\n");
        assert_eq!(e.field.as_deref(), Some("default.agents"));

        let e = yaml_err("default:\n  queue: q\n  agents: agent.level + 1\n");
        assert!(e.message.contains("true or false"), "{}", e.message);

        // `if: true` is a YAML boolean, and a fine condition.
        let w = parse_yaml("filters:\n  - name: a\n    if: true\n    steps: [{queue: q}]\n").unwrap();
        assert_eq!(w.filters[0].condition.as_ref().map(Expr::source), Some("true"));
    }

    #[test]
    fn names_counts_and_ranges_are_checked() {
        let e = yaml_err(
            "filters:\n  - name: a\n    steps: [{queue: q}]\n  - name: b\n    steps: [{queue: q}]\n  - name: a\n    steps: [{queue: q}]\n",
        );
        assert_eq!(e.field.as_deref(), Some("filters[2].name"));
        assert_eq!(e.message, "line 6, column 11: duplicate filter name `a` (also filters[0])");

        let e = yaml_err("default:\n  timeout: 0\n  queue: q\n");
        assert_eq!(e.field.as_deref(), Some("default.timeout"));
        assert!(e.message.starts_with("line 2, column 12: a timeout of 0 seconds is out of range"), "{}", e.message);

        let e = yaml_err("filters:\n  - name: ''\n    steps: [{queue: q}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].name"));
        let e = yaml_err(&format!("default:\n  queue: {}\n", "q".repeat(101)));
        assert_eq!(e.field.as_deref(), Some("default.queue"));
        let e = yaml_err("filters:\n  - name: a\n    steps: []\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].steps"));
        let e = yaml_err("filters:\n  - name: a\n");
        assert_eq!(
            (e.field.as_deref(), e.message.as_str()),
            (Some("filters[0].steps"), "line 2, column 5: missing field `steps`")
        );
        let e = yaml_err("filters:\n  - steps: [{queue: q}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].name"));
        let e = yaml_err("filters:\n  - name: a\n    steps: [{agents: agent.x}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].queue"));
        let e = yaml_err("filters:\n  - name: a\n    priority: 1001\n    steps: [{queue: q}]\n");
        assert_eq!(e.field.as_deref(), Some("filters[0].priority"));
        parse_yaml("filters:\n  - name: a\n    priority: -1000\n    steps: [{queue: q}]\n").unwrap();

        let steps = vec!["{queue: q}"; MAX_STEPS + 1].join(", ");
        let e = yaml_err(&format!("filters:\n  - name: a\n    steps: [{steps}]\n"));
        assert_eq!(e.field.as_deref(), Some("filters[0].steps"));

        let filters: String =
            (0..=MAX_FILTERS).map(|i| format!("  - {{name: f{i}, steps: [{{queue: q}}]}}\n")).collect();
        let e = yaml_err(&format!("filters:\n{filters}"));
        assert_eq!(e.field.as_deref(), Some("filters"));
        let filters: String =
            (0..MAX_FILTERS).map(|i| format!("  - {{name: f{i}, steps: [{{queue: q}}]}}\n")).collect();
        assert_eq!(parse_yaml(&format!("filters:\n{filters}")).unwrap().filters.len(), MAX_FILTERS);
    }

    #[test]
    fn oversized_documents_and_alias_bombs_are_rejected() {
        let big = format!("# {}\nfilters: []\n", "x".repeat(MAX_DOCUMENT_BYTES));
        assert_eq!(yaml_err(&big).field.as_deref(), Some("workflow"));

        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in
            ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        bomb.push_str("filters: *i\n");
        let e = yaml_err(&bomb);
        assert_eq!(e.field.as_deref(), Some("workflow"));
        assert!(e.message.contains("too large, or expands too many aliases"), "{}", e.message);

        let deep = format!("default: {}{}\n", "[".repeat(1_000), "]".repeat(1_000));
        assert!(parse_yaml(&deep).is_err());
        let deep = format!("default:\n{}", (1..200).map(|i| format!("{}- \n", " ".repeat(i * 2))).collect::<String>());
        assert!(parse_yaml(&deep).is_err());
    }

    #[test]
    fn modest_aliases_are_fine() {
        let source = "x: &steps\n  - queue: a\n  - queue: b\nfilters:\n  - name: one\n    steps: *steps\n  - name: two\n    steps: *steps\n";
        // `x` is not a workflow field, so this fails — but on `x`, not on the aliases.
        assert_eq!(yaml_err(source).field.as_deref(), Some("x"));
        let source = "filters:\n  - name: one\n    steps: &steps\n      - queue: a\n  - name: two\n    steps: *steps\n";
        let w = parse_yaml(source).unwrap();
        assert_eq!(w.filters[1].steps, [step("a")]);
    }

    #[test]
    fn json_round_trips() {
        let w = parse_yaml(EXAMPLE).unwrap();
        let value = serde_json::to_value(&w).unwrap();
        assert_eq!(
            value["filters"][0]["if"],
            json!(r#"chat.attributes.topic == "billing" && chat.attributes.vip == true"#)
        );
        assert_eq!(value["filters"][0]["steps"][0]["timeout"], json!(60));
        assert_eq!(value["default"], json!({"queue": "general", "skip_if_nobody_available": false}));
        assert_eq!(from_json(&value).unwrap(), w);
        // Through serde as well, e.g. inside a stored record.
        let back: Workflow = serde_json::from_value(value).unwrap();
        assert_eq!(back, w);
        assert_eq!(from_json(&serde_json::to_value(Workflow::default()).unwrap()).unwrap(), Workflow::default());
    }

    #[test]
    fn json_gets_the_same_checks_without_lines() {
        let e = from_json(&json!({"filters": [{"name": "a", "steps": [{"queue": "q", "timeout": 0}]}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].timeout"));
        assert!(e.message.starts_with("a timeout of 0"), "{}", e.message);
        let e = from_json(&json!({"filters": [{"name": "a", "steps": [{"queue": "q", "timeout": 1.5}]}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].timeout"));
        let e = from_json(&json!({"filters": [], "extra": 1})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extra"));
        let e = from_json(&json!([1])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("workflow"));
        let e = from_json(&json!({"default": {"queue": "q", "agents": "agent."}})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("default.agents"));
        assert_eq!(from_json(&json!(null)).unwrap(), Workflow::default());
        assert!(
            serde_json::from_value::<Workflow>(json!({"default": {}}))
                .unwrap_err()
                .to_string()
                .contains("default.queue")
        );

        let mut deep = json!("q");
        for _ in 0..1_000 {
            deep = json!({ "queue": deep });
        }
        let e = from_json(&json!({ "default": deep })).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("default.queue"));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration(" 2m "), Some(120));
        assert_eq!(parse_duration("1h1m1s"), Some(3_661));
        assert_eq!(parse_duration("1h30"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("+5"), None);
        assert_eq!(parse_duration("99999999999999999999999"), Some(u64::MAX));
    }

    /// YAML-ish text: workflow keys, indentation, flow and anchor syntax.
    fn yaml_like() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "filters:",
            "default:",
            "name:",
            "if:",
            "priority:",
            "steps:",
            "queue:",
            "agents:",
            "timeout:",
            "skip_if_nobody_available:",
            "- ",
            "  ",
            "\n",
            "\n  ",
            "\n    ",
            "\n      ",
            "[",
            "]",
            "{",
            "}",
            ",",
            "&a ",
            "*a",
            "<<: ",
            "? ",
            ": ",
            "'",
            "\"",
            "#",
            "---",
            "...",
            "|",
            ">",
            "!!str ",
            "!!int ",
            "!!binary ",
            "!x ",
            "q",
            "a",
            "10",
            "-1",
            "1e9",
            "0x10",
            "true",
            "no",
            "~",
            "null",
            "2m",
            "chat.x == 1",
            "agent.level >= 2",
            "\t",
            "\u{feff}",
            "%YAML 1.2\n",
            "\\",
            "é",
        ]);
        prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
    }

    /// JSON values shaped roughly like workflows, valid or not.
    fn workflow_like() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            (-3i64..100_000).prop_map(|i| json!(i)),
            Just(json!(1.5)),
            prop::sample::select(vec![
                "",
                "q",
                "billing",
                "2m",
                "90s",
                "1h30",
                "chat.x == 1",
                "agent.level >= 2",
                "chat.",
                "agent.x + 1",
                "has(chat.vip) && chat.vip",
                "no",
                "é",
            ])
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "filters",
                        "default",
                        "name",
                        "if",
                        "priority",
                        "steps",
                        "queue",
                        "agents",
                        "timeout",
                        "skip_if_nobody_available",
                        "other",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..5,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An error without its line, to compare YAML errors with JSON ones.
    fn unlocated(e: Error) -> (Option<String>, String) {
        let message = match e.message.split_once(": ") {
            Some((at, rest)) if at.starts_with("line ") => rest.to_owned(),
            _ => e.message,
        };
        (e.field, message)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// JSON is YAML too: read both ways, a document gives the same workflow or the same error.
        #[test]
        fn yaml_and_json_agree(value in workflow_like()) {
            let text = serde_json::to_string(&value).unwrap();
            let from_yaml = parse_yaml(&text).map_err(unlocated);
            let from_json = from_json(&value).map_err(unlocated);
            prop_assert_eq!(from_yaml, from_json, "{}", text);
        }

        #[test]
        fn parse_yaml_never_panics_on_arbitrary_text(source in "\\PC{0,300}") {
            let _ = parse_yaml(&source);
        }

        #[test]
        fn parse_yaml_never_panics_on_yaml_like_text(source in yaml_like()) {
            if let Ok(w) = parse_yaml(&source) {
                // Whatever parses round-trips through JSON.
                let value = serde_json::to_value(&w).unwrap();
                prop_assert_eq!(from_json(&value).unwrap(), w);
            }
        }
    }
}
