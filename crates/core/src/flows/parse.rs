//! Reading and checking flow files (YAML, or the same structure as JSON).
//!
//! The document is read into the located tree of [`crate::located`] and
//! checked by hand, so that every error names its field path
//! (`steps.ask_topic.timeout`, `steps.pick.cases[1].if`) and, for YAML, starts
//! with `line L, column C: `. Unlike the workflow parser this one does not
//! stop at the first error: an operator fixing a flow wants every problem at
//! once, so each step is checked on its own and the checks that span the
//! whole flow (dangling transitions, unreachable steps, variables nothing
//! sets) run over whatever could be read. They are skipped when what they
//! need could not be read, rather than report errors that are only echoes
//! of others.
//!
//! The serialized form of a [`Flow`] (lists of steps and parameters,
//! `timeout_secs`, `target`, header pairs) is read as well, so that a stored
//! flow reads back as it was.

use std::collections::{BTreeSet, VecDeque};
use std::ops::RangeInclusive;

use super::events::EventType;
use super::form::{self, Field, FieldKind, FormSpec};
use super::model::{
    Action, Case, END, Flow, Format, MAX_NAME_CHARS, MAX_STEPS, MAX_WAIT_SECS, Method, Param, RouteTarget, Sender,
    Side, Step, Template, Trigger, ValueTemplate,
};
use super::template;
use crate::Error;
use crate::located::{self, At, Doc, Durations, Fields, Node, Value, child, did_you_mean, invalid, item};

/// What a flow may refer to outside itself, for the checks made at deploy.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Declared custom event types. `None`: not checked (reading a stored flow).
    pub event_types: Option<Vec<EventType>>,
    /// Flow names that `launch_flow` and `subflow` may name. `None`: not checked.
    pub flows: Option<Vec<String>>,
    /// Queue names `route` and `transfer` may name. `None`: not checked.
    pub queues: Option<Vec<String>>,
}

/// The largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The most errors reported for one document; past these, more would be noise.
pub const MAX_ERRORS: usize = 50;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// The most choices an `ask` may offer.
pub const MAX_CHOICES: usize = 50;
/// How many times an `ask` may ask again.
const RETRIES: RangeInclusive<i64> = 0..=10;
const DEFAULT_RETRIES: u32 = 2;
const PRIORITY_RANGE: RangeInclusive<i64> = -1000..=1000;
const DEFAULT_HTTP_TIMEOUT_SECS: u32 = 10;
/// Titles, labels, choices, entry point names, attribute keys: short texts.
const MAX_LABEL_CHARS: usize = 200;
/// JSON nests no deeper than YAML may (its budget is 24 levels).
const MAX_JSON_DEPTH: usize = 24;

const DOC: Doc = Doc { name: "flow", max_bytes: MAX_DOCUMENT_BYTES };
const WAITS: Durations = Durations { noun: "a timeout", max_secs: MAX_WAIT_SECS, max_words: "30 days", days: true };
const PAUSES: Durations = Durations { noun: "a wait", ..WAITS };
const HTTP_TIMEOUTS: Durations = Durations { noun: "a timeout", max_secs: 60, max_words: "a minute", days: true };

const FLOW_FIELDS: &[&str] = &["name", "description", "side", "trigger", "params", "start", "steps"];
const TRIGGER_FIELDS: &[&str] = &["chat_started", "message_added", "event"];
const PARAM_FIELDS: &[&str] = &["required", "default"];
const LISTED_PARAM_FIELDS: &[&str] = &["name", "required", "default"];
const TRANSITIONS: &[&str] = &["next", "on_timeout", "on_error"];
const CASE_FIELDS: &[&str] = &["if", "next"];
const FORM_FIELDS: &[&str] = &["name", "title", "description", "fields"];
const FIELD_FIELDS: &[&str] = &["name", "label", "type", "required", "pattern", "min", "max", "choices"];
const TARGETS: &[&str] = &["queue", "agent", "workflow"];

/// The fields of each step type, besides `type` and the transitions.
fn step_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "send_message" => &["text", "format", "as"],
        "ask" => &["text", "choices", "pattern", "retries", "into", "timeout", "timeout_secs"],
        "show_form" => &["form", "into", "timeout", "timeout_secs"],
        "set_attributes" => &["attributes", "record_id"],
        "set_vars" => &["vars"],
        "branch" => &["cases", "default"],
        "http_request" => &["method", "url", "headers", "body", "timeout", "timeout_secs", "into"],
        "publish_event" => &["event", "key", "data"],
        "wait_for_event" => &["event", "key", "into", "timeout", "timeout_secs"],
        "route" => &["queue", "agent", "workflow", "target", "priority"],
        "transfer" => &["queue", "agent", "workflow", "target"],
        "set_agent_input" => &["text"],
        "request_file" => &["record_id", "into", "timeout", "timeout_secs"],
        "launch_flow" => &["flow", "params"],
        "subflow" => &["flow", "params", "into"],
        "wait" => &["for", "secs"],
        _ => &[],
    }
}

/// Parses and checks a YAML flow. Every error found is returned (up to
/// [`MAX_ERRORS`]), each `Error::invalid(path, "line L, column C: …")`.
pub fn parse_yaml(source: &str, catalog: &Catalog) -> Result<Flow, Vec<Error>> {
    let root = DOC.read_yaml(source).map_err(|e| vec![e])?;
    Parser::new(catalog).flow(root.as_ref())
}

/// The same document as JSON: the same checks and paths, without lines.
/// A `serde_json::Value` keeps no key order (the workspace does not enable
/// `preserve_order`), so a flow sent this way should name its `start`, or
/// list its steps (`steps: [{name, type, …}]`).
pub fn from_json(value: &serde_json::Value, catalog: &Catalog) -> Result<Flow, Vec<Error>> {
    if located::json_depth(value, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH {
        return Err(vec![invalid(DOC.name, None, "the document nests too deeply")]);
    }
    Parser::new(catalog).flow(Some(&Node::from_json(value, MAX_JSON_DEPTH + 1)))
}

/// Reads a stored definition: JSON when it starts with `{`, else YAML, with
/// nothing outside the flow checked (what it refers to may have changed
/// since it was deployed; the run finds out). JSON text is read in document
/// order, so that its first step is the one written first, as in YAML.
pub fn parse_stored(source: &str) -> Result<Flow, Vec<Error>> {
    parse_text(source, &Catalog::default())
}

/// A flow file as sent: JSON when it starts with `{` (read keeping its key
/// order, so the first step written is the start), YAML otherwise.
pub fn parse_text(source: &str, catalog: &Catalog) -> Result<Flow, Vec<Error>> {
    if !source.trim_start().starts_with('{') {
        return parse_yaml(source, catalog);
    }
    if source.len() > MAX_DOCUMENT_BYTES {
        return Err(vec![Error::invalid(
            DOC.name,
            format!("the document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}", source.len()),
        )]);
    }
    let root = located::read_json(source).map_err(|e| vec![Error::invalid(DOC.name, format!("invalid JSON: {e}"))])?;
    if root.depth(MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH {
        return Err(vec![invalid(DOC.name, None, "the document nests too deeply")]);
    }
    Parser::new(catalog).flow(Some(&root))
}

/// A transition as written: where it leads, and where it was written.
struct Edge {
    path: String,
    at: At,
    target: String,
}

/// A step as read: the step itself when it had no error, and its
/// transitions whether or not it had.
struct StepOut {
    name: String,
    path: String,
    at: At,
    step: Option<Step>,
    edges: Vec<Edge>,
}

/// The variables a template reads, for the check that something sets them.
struct Read {
    path: String,
    at: At,
    names: BTreeSet<String>,
}

/// The state of one parse: the errors so far, and what the checks that span
/// steps need to know.
struct Parser<'c> {
    catalog: &'c Catalog,
    errors: Vec<Error>,
    /// The flow's own name, once read: a flow may not launch itself.
    flow_name: Option<String>,
    /// Form names seen, each with the step that has it.
    forms: Vec<(String, String)>,
    /// Variable names steps set (`into`, `set_vars`).
    sets: BTreeSet<String>,
    /// Whether `sets` and the transitions are all known: false once a step
    /// could not be read, so that the flow-wide checks do not guess.
    sets_known: bool,
    graph_known: bool,
    params_known: bool,
    reads: Vec<Read>,
}

impl<'c> Parser<'c> {
    fn new(catalog: &'c Catalog) -> Self {
        Parser {
            catalog,
            errors: Vec::new(),
            flow_name: None,
            forms: Vec::new(),
            sets: BTreeSet::new(),
            sets_known: true,
            graph_known: true,
            params_known: true,
            reads: Vec::new(),
        }
    }

    /// Keeps the value, or the error.
    fn report<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        result.map_err(|e| self.errors.push(e)).ok()
    }

    fn error(&mut self, path: &str, at: At, message: impl std::fmt::Display) {
        self.errors.push(invalid(path, at, message));
    }

    fn flow(mut self, root: Option<&Node>) -> Result<Flow, Vec<Error>> {
        let Some(root) = root.filter(|r| !r.is_null()) else {
            return Err(vec![invalid(DOC.name, None, "the document is empty; a flow needs `name` and `steps`")]);
        };
        let what = "a flow (a mapping with `name` and `steps`)";
        let Some(fields) = Fields::collect(root, DOC.name, "", FLOW_FIELDS, what, &mut self.errors) else {
            return Err(self.errors);
        };
        let name = self.report(fields.require("name")).and_then(|n| self.name(n, "name", NameKind::Flow));
        self.flow_name = name.clone();
        let description = fields.get("description").and_then(|n| self.text(n, "description", MAX_DESCRIPTION_CHARS));
        let side = match fields.get("side") {
            None => Some(Side::Customer),
            Some(n) => self.one_of(n, "side", &[("customer", Side::Customer), ("agent", Side::Agent)]),
        };
        let trigger = fields.get("trigger").map(|n| self.trigger(n));
        let params = fields.get("params").map_or(Some(Vec::new()), |n| self.params(n));
        self.params_known &= params.is_some();

        let steps = self.report(fields.require("steps")).map(|n| self.steps(n)).unwrap_or_default();
        let start = self.start(fields.get("start"), &steps);
        if let Some(start) = &start {
            self.check_graph(&steps, start);
        }
        self.check_reads(params.as_deref().unwrap_or_default());

        let steps: Option<Vec<Step>> = steps.into_iter().map(|s| s.step).collect();
        if !self.errors.is_empty() {
            self.errors.truncate(MAX_ERRORS);
            return Err(self.errors);
        }
        match (name, side, params, start, steps) {
            (Some(name), Some(side), Some(params), Some(start), Some(steps)) => {
                Ok(Flow { name, description, side, trigger: trigger.flatten(), params, start, steps })
            }
            // Every part that failed reported why; this is only a guard.
            _ => Err(vec![invalid(DOC.name, None, "the flow could not be read")]),
        }
    }

    // --- The document's own fields -------------------------------------------------------------

    fn trigger(&mut self, node: &Node) -> Option<Trigger> {
        let what = "a trigger (a mapping with one of `chat_started`, `message_added` or `event`)";
        let fields = Fields::collect(node, DOC.name, "trigger", TRIGGER_FIELDS, what, &mut self.errors)?;
        let given: Vec<&str> = TRIGGER_FIELDS.iter().copied().filter(|f| fields.get(f).is_some()).collect();
        let [kind] = given.as_slice() else {
            let found = if given.is_empty() { "none".to_owned() } else { given.join(" and ") };
            let message =
                format!("a trigger needs exactly one of `chat_started`, `message_added` or `event`, not {found}");
            self.error("trigger", node.at, message);
            return None;
        };
        let value = fields.get(kind)?;
        let path = child("trigger", kind);
        match *kind {
            "event" => self.event_type(value, &path).map(|t| Trigger::Event(t.to_owned())),
            "chat_started" => self.entry_points(value, &path).map(Trigger::ChatStarted),
            _ => self.entry_points(value, &path).map(Trigger::MessageAdded),
        }
    }

    fn entry_points(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let names = self.string_list(node, path, "entry point names", MAX_LABEL_CHARS)?;
        if names.is_empty() {
            self.error(path, node.at, "name at least one entry point");
            return None;
        }
        Some(names)
    }

    /// `NAME: {required, default}` (or `NAME:` alone); the stored form is a
    /// list of `{name, required, default}`.
    fn params(&mut self, node: &Node) -> Option<Vec<Param>> {
        let mut params: Vec<Param> = Vec::new();
        let mut ok = true;
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let param = self.key_name(key, "params").and_then(|name| self.param(name, value));
                    ok &= param.is_some();
                    params.extend(param);
                }
            }
            Value::Seq(items) => {
                for (i, value) in items.iter().enumerate() {
                    let param = self.listed_param(value, &item("params", i));
                    ok &= param.is_some();
                    if let Some(param) = param {
                        if params.iter().any(|p| p.name == param.name) {
                            self.error(&item("params", i), value.at, format!("duplicate parameter `{}`", param.name));
                            ok = false;
                        }
                        params.push(param);
                    }
                }
            }
            other => {
                let message = format!("expected a mapping of parameter names to their settings, got {}", other.kind());
                self.error("params", node.at, message);
                return None;
            }
        }
        ok.then_some(params)
    }

    fn listed_param(&mut self, node: &Node, path: &str) -> Option<Param> {
        let fields = Fields::collect(node, DOC.name, path, LISTED_PARAM_FIELDS, "a parameter", &mut self.errors)?;
        let name_node = self.report(fields.require("name"))?;
        let name = self.name(name_node, &child(path, "name"), NameKind::Variable)?;
        self.param_settings(name, &fields, path)
    }

    fn param(&mut self, name: (String, At), value: &Node) -> Option<Param> {
        let (name, at) = name;
        let path = child("params", &name);
        if !is_identifier(&name) {
            self.error(&path, at, NameKind::Variable.explain(&name));
            return None;
        }
        if value.is_null() {
            return Some(Param { name, required: false, default: None });
        }
        let what = "the parameter's settings (a mapping with `required` and `default`)";
        let fields = Fields::collect(value, DOC.name, &path, PARAM_FIELDS, what, &mut self.errors)?;
        self.param_settings(name, &fields, &path)
    }

    fn param_settings(&mut self, name: String, fields: &Fields<'_>, path: &str) -> Option<Param> {
        let required = match fields.get("required") {
            None => false,
            Some(n) => self.report(located::boolean(n, &child(path, "required")))?,
        };
        let default = fields.get("default").map(Node::to_json);
        if required && default.is_some() {
            let at = fields.get("default").and_then(|n| n.at);
            self.error(&child(path, "default"), at, "a required parameter has no use for a default");
            return None;
        }
        Some(Param { name, required, default })
    }

    fn start(&mut self, node: Option<&Node>, steps: &[StepOut]) -> Option<String> {
        let Some(node) = node else {
            return steps.first().map(|s| s.name.clone());
        };
        let name = self.string(node, "start", "step name")?;
        if !steps.is_empty() && !steps.iter().any(|s| s.name == name) {
            let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
            let hint = did_you_mean(&name, &names);
            self.error("start", node.at, format!("there is no step `{name}` to start with{hint}"));
            return None;
        }
        Some(name)
    }

    // --- Steps ---------------------------------------------------------------------------------

    /// `NAME: {type, …}` in document order; the stored form is a list of
    /// `{name, type, …}`.
    fn steps(&mut self, node: &Node) -> Vec<StepOut> {
        let entries: Vec<(String, At, &Node, bool)> = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(key, value)| self.key_name(key, "steps").map(|(name, at)| (name, at, value, false)))
                .collect(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, value)| self.listed_step_name(value, i).map(|(name, at)| (name, at, value, true)))
                .collect(),
            other => {
                let message = format!("expected a mapping of step names to steps, got {}", other.kind());
                self.error("steps", node.at, message);
                return Vec::new();
            }
        };
        let count = match &node.value {
            Value::Map(e) => e.len(),
            Value::Seq(e) => e.len(),
            _ => 0,
        };
        if count == 0 || count > MAX_STEPS {
            let message = if count == 0 {
                "a flow needs at least one step".to_owned()
            } else {
                format!("{count} steps, more than the limit of {MAX_STEPS}")
            };
            self.error("steps", node.at, message);
            return Vec::new();
        }
        self.graph_known &= entries.len() == count;
        let mut out: Vec<StepOut> = Vec::with_capacity(entries.len());
        for (name, at, value, listed) in entries {
            let path = child("steps", &name);
            self.check_step_name(&name, &path, at, &out);
            out.push(self.step(name, path, at, value, listed));
        }
        out
    }

    fn listed_step_name(&mut self, node: &Node, index: usize) -> Option<(String, At)> {
        let path = item("steps", index);
        let name = match &node.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "name")),
            _ => None,
        };
        let Some((_, name)) = name else {
            self.error(&path, node.at, "expected a step with a `name`");
            return None;
        };
        self.string(name, &child(&path, "name"), "step name").map(|n| (n, name.at))
    }

    fn check_step_name(&mut self, name: &str, path: &str, at: At, before: &[StepOut]) {
        if name == END {
            self.error(path, at, "`end` is where a flow finishes; it cannot name a step");
        } else if !is_step_name(name) {
            self.error(path, at, NameKind::Step.explain(name));
        } else if before.iter().any(|s| s.name == name) {
            self.error(path, at, format!("duplicate step `{name}`"));
        }
    }

    fn step(&mut self, name: String, path: String, at: At, node: &Node, listed: bool) -> StepOut {
        let mut out = StepOut { name, path, at, step: None, edges: Vec::new() };
        let Some(kind) = self.step_type(node, &out.path) else {
            self.graph_known = false;
            self.sets_known = false;
            return out;
        };
        let mut allowed: Vec<&str> = vec!["type"];
        allowed.extend(listed.then_some("name"));
        allowed.extend(step_fields(kind));
        allowed.extend(TRANSITIONS.iter().copied().filter(|t| kind != "branch" || *t != "next"));
        let what = "a step";
        let Some(fields) = Fields::collect(node, DOC.name, &out.path, &allowed, what, &mut self.errors) else {
            return out;
        };
        let action = self.action(kind, &fields, &out.path, &mut out.edges);
        let transitions = self.transitions(kind, &fields, &out.path, action.as_ref(), &mut out.edges);
        if let (Some(action), Some((next, on_timeout, on_error))) = (action, transitions) {
            out.step = Some(Step { name: out.name.clone(), action, next, on_timeout, on_error });
        }
        out
    }

    /// The step's `type`, read before its other fields since it says which
    /// fields it may have.
    fn step_type(&mut self, node: &Node, path: &str) -> Option<&'static str> {
        let Value::Map(entries) = &node.value else {
            let message = format!("expected a step (a mapping with `type`), got {}", node.value.kind());
            self.error(path, node.at, message);
            return None;
        };
        let path = child(path, "type");
        let Some((_, value)) = entries.iter().find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "type")) else {
            self.error(&path, node.at, format!("missing field `type`; one of: {}", Action::TYPES.join(", ")));
            return None;
        };
        let kind = self.string(value, &path, "step type")?;
        let found = Action::TYPES.iter().copied().find(|t| *t == kind);
        if found.is_none() {
            let hint = did_you_mean(&kind, Action::TYPES);
            let message = format!("unknown step type `{kind}`{hint}; types: {}", Action::TYPES.join(", "));
            self.error(&path, value.at, message);
        }
        found
    }

    /// `next`, `on_timeout`, `on_error`. Every step but `branch` and
    /// `end_chat` needs a `next`, so that where a flow goes is never implicit.
    fn transitions(
        &mut self,
        kind: &str,
        fields: &Fields<'_>,
        path: &str,
        action: Option<&Action>,
        edges: &mut Vec<Edge>,
    ) -> Option<(Option<String>, Option<String>, Option<String>)> {
        let next = match (kind, fields.get("next")) {
            ("branch", _) => Some(None),
            ("end_chat", None) => Some(Some(END.to_owned())),
            (_, Some(node)) => self.transition(node, &child(path, "next"), edges).map(Some),
            (_, None) => {
                let message = "missing transition `next`; use `next: end` to finish the flow";
                self.error(&child(path, "next"), fields.at(), message);
                // Where it was meant to go is unknown: what follows would look unreachable.
                self.graph_known = false;
                None
            }
        };
        let on_timeout = match fields.get("on_timeout") {
            None => Some(None),
            Some(node) => {
                let target = self.transition(node, &child(path, "on_timeout"), edges);
                if action.is_some_and(|a| !a.can_time_out()) {
                    let message = "`on_timeout` is only for steps that can time out: ask, show_form and \
                                   wait_for_event with a `timeout`, and http_request";
                    self.error(&child(path, "on_timeout"), node.at, message);
                    None
                } else {
                    target.map(Some)
                }
            }
        };
        let on_error = match fields.get("on_error") {
            None => Some(None),
            Some(node) => self.transition(node, &child(path, "on_error"), edges).map(Some),
        };
        Some((next?, on_timeout?, on_error?))
    }

    /// A transition target, kept as an edge for the flow-wide checks.
    fn transition(&mut self, node: &Node, path: &str, edges: &mut Vec<Edge>) -> Option<String> {
        let Some(target) = self.string(node, path, "step name (or `end`)") else {
            self.graph_known = false;
            return None;
        };
        edges.push(Edge { path: path.to_owned(), at: node.at, target: target.clone() });
        Some(target)
    }

    fn action(&mut self, kind: &str, f: &Fields<'_>, path: &str, edges: &mut Vec<Edge>) -> Option<Action> {
        match kind {
            "send_message" => self.send_message(f, path),
            "ask" => self.ask(f, path),
            "show_form" => self.show_form(f, path),
            "set_attributes" => self.set_attributes(f, path),
            "set_vars" => self.set_vars(f, path),
            "branch" => self.branch(f, path, edges),
            "http_request" => self.http_request(f, path),
            "publish_event" => self.publish_event(f, path),
            "wait_for_event" => self.wait_for_event(f, path),
            "route" => {
                let target = self.route_target(f, path);
                let priority = self.priority(f, path);
                Some(Action::Route { target: target?, priority: priority? })
            }
            "transfer" => self.route_target(f, path).map(|target| Action::Transfer { target }),
            "set_agent_input" => self.required_template(f, path, "text").map(|text| Action::SetAgentInput { text }),
            "request_file" => self.request_file(f, path),
            "end_chat" => Some(Action::EndChat),
            "launch_flow" => {
                let flow = self.flow_ref(f, path);
                let params = self.object(f, path, "params");
                Some(Action::LaunchFlow { flow: flow?, params: params? })
            }
            "subflow" => {
                let flow = self.flow_ref(f, path);
                let params = self.object(f, path, "params");
                let into = self.into(f, path, false);
                Some(Action::Subflow { flow: flow?, params: params?, into: into? })
            }
            _ => self.wait(f, path),
        }
    }

    fn send_message(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let text = self.required_template(f, path, "text");
        let format = match f.get("format") {
            None => Some(Format::Plain),
            Some(n) => {
                self.one_of(n, &child(path, "format"), &[("plain", Format::Plain), ("markdown", Format::Markdown)])
            }
        };
        let sender = match f.get("as") {
            None => Some(Sender::System),
            Some(n) => self.one_of(n, &child(path, "as"), &[("system", Sender::System), ("agent", Sender::Agent)]),
        };
        Some(Action::SendMessage { text: text?, format: format?, sender: sender? })
    }

    fn ask(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let text = self.optional_template(f, path, "text");
        let choices = match f.get("choices") {
            None => Some(Vec::new()),
            Some(n) => self.choices(n, &child(path, "choices")),
        };
        let pattern = f.get("pattern").map(|n| self.pattern(n, &child(path, "pattern"))).unwrap_or(Some(None));
        let retries = match f.get("retries") {
            None => Some(DEFAULT_RETRIES),
            Some(n) => self.ranged(n, &child(path, "retries"), RETRIES).and_then(|r| u32::try_from(r).ok()),
        };
        let into = self.into(f, path, true);
        let timeout_secs = self.timeout(f, path, &WAITS, None);
        Some(Action::Ask {
            text: text?,
            choices: choices?,
            pattern: pattern?,
            retries: retries?,
            into: into??,
            timeout_secs: timeout_secs?,
        })
    }

    fn show_form(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let form = self.report(f.require("form")).and_then(|n| self.form(n, &child(path, "form"), path));
        let into = self.into(f, path, true);
        let timeout_secs = self.timeout(f, path, &WAITS, None);
        Some(Action::ShowForm { form: form?, into: into??, timeout_secs: timeout_secs? })
    }

    fn set_attributes(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let attributes = match f.get("attributes") {
            None => Some(serde_json::Map::new()),
            Some(n) => self.mapping_values(n, &child(path, "attributes"), NameKind::Attribute),
        };
        let record_id = self.optional_template(f, path, "record_id");
        if f.get("attributes").is_none() && f.get("record_id").is_none() {
            self.error(path, f.at(), "set_attributes needs `attributes`, `record_id` or both");
            return None;
        }
        Some(Action::SetAttributes { attributes: attributes?, record_id: record_id? })
    }

    fn set_vars(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let node = self.report(f.require("vars"));
        let Some(vars) = node.and_then(|n| self.mapping_values(n, &child(path, "vars"), NameKind::Variable)) else {
            self.sets_known = false;
            return None;
        };
        if vars.is_empty() {
            self.error(&child(path, "vars"), node.and_then(|n| n.at), "set at least one variable");
            return None;
        }
        self.sets.extend(vars.keys().cloned());
        Some(Action::SetVars { vars })
    }

    fn branch(&mut self, f: &Fields<'_>, path: &str, edges: &mut Vec<Edge>) -> Option<Action> {
        let cases_path = child(path, "cases");
        let cases = match self.report(f.require("cases")).map(|n| (n, &n.value)) {
            Some((node, Value::Seq(items))) if items.is_empty() => {
                self.error(&cases_path, node.at, "a branch needs at least one case");
                None
            }
            Some((_, Value::Seq(items))) => {
                let cases: Vec<Option<Case>> =
                    items.iter().enumerate().map(|(i, n)| self.case(n, &item(&cases_path, i), edges)).collect();
                cases.into_iter().collect::<Option<Vec<Case>>>()
            }
            Some((node, other)) => {
                let message = format!("expected a list of cases, got {}", other.kind());
                self.error(&cases_path, node.at, message);
                self.graph_known = false;
                None
            }
            None => None,
        };
        let default =
            self.report(f.require("default")).and_then(|n| self.transition(n, &child(path, "default"), edges));
        Some(Action::Branch { cases: cases?, default: default? })
    }

    fn case(&mut self, node: &Node, path: &str, edges: &mut Vec<Edge>) -> Option<Case> {
        let what = "a case (a mapping with `if` and `next`)";
        let Some(fields) = Fields::collect(node, DOC.name, path, CASE_FIELDS, what, &mut self.errors) else {
            self.graph_known = false;
            return None;
        };
        let condition = self
            .report(fields.require("if"))
            .and_then(|n| self.report(located::expr(n, &child(path, "if"), template::VARS)));
        let next = self.report(fields.require("next")).and_then(|n| self.transition(n, &child(path, "next"), edges));
        Some(Case { condition: condition?, next: next? })
    }

    fn http_request(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let method = match f.get("method") {
            None => Some(Method::Get),
            Some(n) => self.method(n, &child(path, "method")),
        };
        let url = self.report(f.require("url")).and_then(|n| self.url(n, &child(path, "url")));
        let headers = f.get("headers").map_or(Some(Vec::new()), |n| self.headers(n, &child(path, "headers")));
        let body = match f.get("body") {
            None => Some(None),
            Some(n) if method == Some(Method::Get) => {
                self.error(&child(path, "body"), n.at, "a GET request has no body; use POST, PUT, PATCH or DELETE");
                None
            }
            Some(n) => self.value_template(n, &child(path, "body")).map(|v| Some(ValueTemplate(v))),
        };
        let timeout_secs = self.timeout(f, path, &HTTP_TIMEOUTS, Some(DEFAULT_HTTP_TIMEOUT_SECS));
        let into = self.into(f, path, false);
        Some(Action::HttpRequest {
            method: method?,
            url: url?,
            headers: headers?,
            body: body?,
            timeout_secs: timeout_secs??,
            into: into?,
        })
    }

    fn publish_event(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let event_node = self.report(f.require("event"));
        let event = event_node.and_then(|n| self.event_type(n, &child(path, "event")));
        let key = self.required_template(f, path, "key");
        let data_path = child(path, "data");
        let data = match f.get("data") {
            None => Some(serde_json::Value::Object(serde_json::Map::new())),
            Some(n @ Node { value: Value::Map(_), .. }) => self.value_template(n, &data_path),
            Some(n) => {
                self.error(
                    &data_path,
                    n.at,
                    format!("expected a mapping of field names to values, got {}", n.value.kind()),
                );
                None
            }
        };
        if let (Some(event), Some(serde_json::Value::Object(values))) = (event, &data) {
            let at = f.get("data").and_then(|n| n.at).or(f.at());
            self.check_event_data(event, values, &data_path, f.get("data"), at);
        }
        Some(Action::PublishEvent { event: event?.to_owned(), key: key?, data: ValueTemplate(data?) })
    }

    fn wait_for_event(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let event = self.report(f.require("event")).and_then(|n| self.event_type(n, &child(path, "event")));
        let key = self.required_template(f, path, "key");
        let into = self.into(f, path, false);
        let timeout_secs = self.timeout(f, path, &WAITS, None);
        Some(Action::WaitForEvent { event: event?.to_owned(), key: key?, into: into?, timeout_secs: timeout_secs? })
    }

    fn request_file(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let record_id = self.optional_template(f, path, "record_id");
        let into = self.into(f, path, false);
        let timeout_secs = self.timeout(f, path, &WAITS, None);
        if let (Some(None), Some(Some(_))) = (&into, &timeout_secs) {
            let at = f.get("timeout").or(f.get("timeout_secs")).and_then(|n| n.at).or(f.at());
            self.error(&child(path, "timeout"), at, "only a step that waits for the file (with `into`) can time out");
            return None;
        }
        Some(Action::RequestFile { record_id: record_id?, into: into?, timeout_secs: timeout_secs? })
    }

    fn wait(&mut self, f: &Fields<'_>, path: &str) -> Option<Action> {
        let secs = match (f.get("for"), f.get("secs")) {
            (Some(n), None) => self.report(PAUSES.read(n, &child(path, "for"))),
            (None, Some(n)) => self.report(PAUSES.read(n, &child(path, "secs"))),
            (Some(_), Some(n)) => {
                self.error(&child(path, "secs"), n.at, "give `for` or `secs`, not both");
                None
            }
            (None, None) => {
                self.error(&child(path, "for"), f.at(), "missing field `for` (how long to wait: 30, \"5m\", \"2d\")");
                None
            }
        };
        secs.map(|secs| Action::Wait { secs })
    }

    // --- Parts of steps ------------------------------------------------------------------------

    /// The form of a `show_form`, with names unique within the flow.
    fn form(&mut self, node: &Node, path: &str, step: &str) -> Option<FormSpec> {
        let what = "a form (a mapping with `name`, `title` and `fields`)";
        let fields = Fields::collect(node, DOC.name, path, FORM_FIELDS, what, &mut self.errors)?;
        let name_node = self.report(fields.require("name"));
        let name = name_node.and_then(|n| self.name(n, &child(path, "name"), NameKind::Variable));
        if let (Some(name), Some(name_node)) = (&name, name_node) {
            if let Some((_, other)) = self.forms.iter().find(|(n, _)| n == name) {
                let message = format!("duplicate form name `{name}` (also in {other})");
                self.error(&child(path, "name"), name_node.at, message);
            }
            self.forms.push((name.clone(), step.to_owned()));
        }
        let title =
            self.report(fields.require("title")).and_then(|n| self.text(n, &child(path, "title"), MAX_LABEL_CHARS));
        let description = match fields.get("description") {
            None => Some(None),
            Some(n) => self.text(n, &child(path, "description"), MAX_DESCRIPTION_CHARS).map(Some),
        };
        let form_fields =
            self.report(fields.require("fields")).and_then(|n| self.form_fields(n, &child(path, "fields")));
        Some(FormSpec { name: name?, title: title?, description: description?, fields: form_fields? })
    }

    fn form_fields(&mut self, node: &Node, path: &str) -> Option<Vec<Field>> {
        let Value::Seq(items) = &node.value else {
            self.error(path, node.at, format!("expected a list of fields, got {}", node.value.kind()));
            return None;
        };
        if items.is_empty() || items.len() > form::MAX_FIELDS {
            let message = format!("a form has 1 to {} fields, not {}", form::MAX_FIELDS, items.len());
            self.error(path, node.at, message);
            return None;
        }
        let mut fields: Vec<Field> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, node) in items.iter().enumerate() {
            let field = self.form_field(node, &item(path, i));
            if let Some(field) = &field
                && fields.iter().any(|f| f.name == field.name)
            {
                self.error(&child(&item(path, i), "name"), node.at, format!("duplicate field `{}`", field.name));
                ok = false;
            }
            ok &= field.is_some();
            fields.extend(field);
        }
        ok.then_some(fields)
    }

    fn form_field(&mut self, node: &Node, path: &str) -> Option<Field> {
        let what = "a field (a mapping with `name` and `type`)";
        let fields = Fields::collect(node, DOC.name, path, FIELD_FIELDS, what, &mut self.errors)?;
        let name =
            self.report(fields.require("name")).and_then(|n| self.name(n, &child(path, "name"), NameKind::Variable));
        let label = match fields.get("label") {
            None => name.clone(),
            Some(n) => self.text(n, &child(path, "label"), MAX_LABEL_CHARS),
        };
        let required = match fields.get("required") {
            None => Some(false),
            Some(n) => self.report(located::boolean(n, &child(path, "required"))),
        };
        let kind = self.field_kind(&fields, path);
        Some(Field { name: name?, label: label?, kind: kind?, required: required? })
    }

    /// The field's type and the settings that only some types have.
    fn field_kind(&mut self, fields: &Fields<'_>, path: &str) -> Option<FieldKind> {
        let type_path = child(path, "type");
        let type_node = self.report(fields.require("type"))?;
        let kind = self.string(type_node, &type_path, "field type")?;
        let misplaced: &[(&str, &str)] =
            &[("pattern", "text"), ("min", "number"), ("max", "number"), ("choices", "choice")];
        let mut ok = true;
        for (setting, only) in misplaced {
            if let Some(n) = fields.get(setting).filter(|_| kind != *only && FieldKind::TYPES.contains(&kind.as_str()))
            {
                self.error(&child(path, setting), n.at, format!("`{setting}` is only for {only} fields"));
                ok = false;
            }
        }
        let kind = match kind.as_str() {
            "text" => {
                let pattern = fields.get("pattern").map_or(Some(None), |n| self.pattern(n, &child(path, "pattern")));
                pattern.map(|pattern| FieldKind::Text { pattern })
            }
            "number" => self.number_bounds(fields, path),
            "choice" => {
                let node = self.report(fields.require("choices"));
                let choices = node.and_then(|n| self.choices(n, &child(path, "choices")));
                match (choices, node) {
                    (Some(c), Some(n)) if c.is_empty() => {
                        self.error(&child(path, "choices"), n.at, "a choice field needs at least one choice");
                        None
                    }
                    (choices, _) => choices.map(|choices| FieldKind::Choice { choices }),
                }
            }
            "date" => Some(FieldKind::Date),
            "email" => Some(FieldKind::Email),
            "boolean" => Some(FieldKind::Boolean),
            other => {
                let hint = did_you_mean(other, FieldKind::TYPES);
                let message = format!("unknown field type `{other}`{hint}; types: {}", FieldKind::TYPES.join(", "));
                self.error(&type_path, type_node.at, message);
                None
            }
        };
        if ok { kind } else { None }
    }

    fn number_bounds(&mut self, fields: &Fields<'_>, path: &str) -> Option<FieldKind> {
        let min = fields.get("min").map_or(Some(None), |n| self.number(n, &child(path, "min")).map(Some));
        let max = fields.get("max").map_or(Some(None), |n| self.number(n, &child(path, "max")).map(Some));
        if let (Some(Some(lo)), Some(Some(hi))) = (min, max)
            && lo > hi
        {
            let at = fields.get("max").and_then(|n| n.at);
            self.error(&child(path, "max"), at, format!("`max` ({hi}) is less than `min` ({lo})"));
            return None;
        }
        Some(FieldKind::Number { min: min?, max: max? })
    }

    fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        let value = match &node.value {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            other => {
                self.error(path, node.at, format!("expected a number, got {}", other.kind()));
                return None;
            }
        };
        if !value.is_finite() {
            self.error(path, node.at, "expected a finite number");
            return None;
        }
        Some(value)
    }

    /// `choices` of an `ask` or a choice field: non-empty strings.
    fn choices(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let choices = self.string_list(node, path, "choices", MAX_LABEL_CHARS)?;
        if choices.len() > MAX_CHOICES {
            self.error(path, node.at, format!("{} choices, more than the limit of {MAX_CHOICES}", choices.len()));
            return None;
        }
        Some(choices)
    }

    fn pattern(&mut self, node: &Node, path: &str) -> Option<Option<String>> {
        let pattern = self.string(node, path, "regular expression")?;
        match form::compile_pattern(&pattern) {
            Ok(_) => Some(Some(pattern)),
            Err(message) => {
                self.error(path, node.at, message);
                None
            }
        }
    }

    /// `into`: where a step puts what it got. Outer `None`: an error; inner:
    /// not given.
    fn into(&mut self, f: &Fields<'_>, path: &str, required: bool) -> Option<Option<String>> {
        let into_path = child(path, "into");
        let node = match f.get("into") {
            Some(node) => node,
            None if required => {
                self.error(&into_path, f.at(), "missing field `into` (the variable the answer goes into)");
                self.sets_known = false;
                return None;
            }
            None => return Some(None),
        };
        let Some(name) = self.name(node, &into_path, NameKind::Variable) else {
            self.sets_known = false;
            return None;
        };
        self.sets.insert(name.clone());
        Some(Some(name))
    }

    /// `timeout` (or the stored `timeout_secs`). Outer `None`: an error.
    fn timeout(&mut self, f: &Fields<'_>, path: &str, rule: &Durations, default: Option<u32>) -> Option<Option<u32>> {
        match (f.get("timeout"), f.get("timeout_secs")) {
            (None, None) => Some(default),
            (Some(n), None) => self.report(rule.read(n, &child(path, "timeout"))).map(Some),
            (None, Some(n)) => self.report(rule.read(n, &child(path, "timeout_secs"))).map(Some),
            (Some(_), Some(n)) => {
                self.error(&child(path, "timeout_secs"), n.at, "give `timeout` or `timeout_secs`, not both");
                None
            }
        }
    }

    fn priority(&mut self, f: &Fields<'_>, path: &str) -> Option<i32> {
        match f.get("priority") {
            None => Some(0),
            Some(n) => self.ranged(n, &child(path, "priority"), PRIORITY_RANGE).and_then(|p| i32::try_from(p).ok()),
        }
    }

    /// Exactly one of `queue: NAME`, `agent: LOGIN` or `workflow: true`
    /// (or the stored `target`).
    fn route_target(&mut self, f: &Fields<'_>, path: &str) -> Option<RouteTarget> {
        let given: Vec<&str> =
            TARGETS.iter().chain(["target"].iter()).copied().filter(|t| f.get(t).is_some()).collect();
        let [which] = given.as_slice() else {
            let message = match given.as_slice() {
                [] => "missing target: give one of `queue: NAME`, `agent: LOGIN` or `workflow: true`".to_owned(),
                several => format!("give only one of `queue`, `agent` or `workflow`, not {}", several.join(" and ")),
            };
            let at = given.get(1).and_then(|g| f.get(g)).and_then(|n| n.at).or(f.at());
            let field = given.get(1).map_or_else(|| path.to_owned(), |g| child(path, g));
            self.error(&field, at, message);
            return None;
        };
        let node = f.get(which)?;
        let field = child(path, which);
        match *which {
            "queue" => self.queue(node, &field).map(RouteTarget::Queue),
            "agent" => self.text(node, &field, MAX_NAME_CHARS).map(RouteTarget::Agent),
            "workflow" => match &node.value {
                Value::Bool(true) => Some(RouteTarget::Workflow),
                _ => {
                    self.error(&field, node.at, "`workflow` can only be `true` (route by the workspace's workflow)");
                    None
                }
            },
            _ => self.stored_target(node, &field),
        }
    }

    /// The serialized form: `"workflow"`, `{"queue": NAME}` or `{"agent": LOGIN}`.
    fn stored_target(&mut self, node: &Node, path: &str) -> Option<RouteTarget> {
        if matches!(&node.value, Value::Str(s) if s == "workflow") {
            return Some(RouteTarget::Workflow);
        }
        let what = "a target (`workflow`, or a mapping with `queue` or `agent`)";
        let fields = Fields::collect(node, DOC.name, path, &["queue", "agent"], what, &mut self.errors)?;
        match (fields.get("queue"), fields.get("agent")) {
            (Some(q), None) => self.queue(q, &child(path, "queue")).map(RouteTarget::Queue),
            (None, Some(a)) => self.text(a, &child(path, "agent"), MAX_NAME_CHARS).map(RouteTarget::Agent),
            _ => {
                self.error(path, node.at, "a target names one `queue` or one `agent`");
                None
            }
        }
    }

    fn queue(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.text(node, path, MAX_NAME_CHARS)?;
        let catalog = self.catalog;
        let known: Option<Vec<&str>> = catalog.queues.as_ref().map(|q| q.iter().map(String::as_str).collect());
        if let Some(known) = known.filter(|k| !k.contains(&name.as_str())) {
            let hint = did_you_mean(&name, &known);
            self.error(path, node.at, format!("there is no queue `{name}`{hint}"));
            return None;
        }
        Some(name)
    }

    /// A flow that `launch_flow` or `subflow` runs: another one, known when
    /// the catalog lists flows.
    fn flow_ref(&mut self, f: &Fields<'_>, path: &str) -> Option<String> {
        let node = self.report(f.require("flow"))?;
        let path = child(path, "flow");
        let name = self.name(node, &path, NameKind::Flow)?;
        if self.flow_name.as_deref() == Some(name.as_str()) {
            self.error(&path, node.at, "a flow cannot run itself");
            return None;
        }
        let catalog = self.catalog;
        let known: Option<Vec<&str>> = catalog.flows.as_ref().map(|q| q.iter().map(String::as_str).collect());
        if let Some(known) = known.filter(|k| !k.contains(&name.as_str())) {
            let hint = did_you_mean(&name, &known);
            self.error(&path, node.at, format!("there is no flow `{name}`{hint}"));
            return None;
        }
        Some(name)
    }

    /// An event type name, checked against the declared types when known.
    /// Returns the type's name as the catalog has it, or as written.
    fn event_type<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n str> {
        let Value::Str(name) = &node.value else {
            self.string(node, path, "event type name");
            return None;
        };
        if !is_event_type_name(name) {
            self.error(path, node.at, NameKind::EventType.explain(name));
            return None;
        }
        let catalog = self.catalog;
        if let Some(types) = &catalog.event_types
            && !types.iter().any(|t| t.name == *name)
        {
            let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
            let hint = did_you_mean(name, &names);
            self.error(path, node.at, format!("there is no event type `{name}`{hint}; declare it first"));
            return None;
        }
        Some(name)
    }

    /// Event data must fit the declared type: its fields only, the required
    /// ones all there. Values are templates, so only keys are checked here.
    fn check_event_data(
        &mut self,
        event: &str,
        values: &serde_json::Map<String, serde_json::Value>,
        path: &str,
        node: Option<&Node>,
        at: At,
    ) {
        let catalog = self.catalog;
        let Some(types) = &catalog.event_types else { return };
        let Some(event_type) = types.iter().find(|t| t.name == event) else { return };
        let names: Vec<&str> = event_type.fields.iter().map(|f| f.name.as_str()).collect();
        let mut problems: Vec<(String, At, String)> = Vec::new();
        for key in values.keys().filter(|k| !names.contains(&k.as_str())) {
            let key_at = node.and_then(|n| key_location(n, key)).or(at);
            let message = format!("event type `{event}` has no field `{key}`{}", did_you_mean(key, &names));
            problems.push((child(path, key), key_at, message));
        }
        for field in event_type.fields.iter().filter(|f| f.required && !values.contains_key(&f.name)) {
            let message = format!("event type `{event}` requires the field `{}`", field.name);
            problems.push((path.to_owned(), at, message));
        }
        for (path, at, message) in problems {
            self.error(&path, at, message);
        }
    }

    fn method(&mut self, node: &Node, path: &str) -> Option<Method> {
        let text = self.string(node, path, "HTTP method")?;
        let methods = [
            ("GET", Method::Get),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("PATCH", Method::Patch),
            ("DELETE", Method::Delete),
        ];
        let upper = text.to_ascii_uppercase();
        if let Some((_, method)) = methods.iter().find(|(name, _)| *name == upper) {
            return Some(*method);
        }
        self.error(path, node.at, format!("unknown HTTP method `{text}`; methods: GET, POST, PUT, PATCH, DELETE"));
        None
    }

    /// A URL template. Written out in full it must be an http(s) URL; with
    /// placeholders, whatever scheme it spells out must be.
    fn url(&mut self, node: &Node, path: &str) -> Option<Template> {
        let url = self.template(node, path)?;
        let literal_end = url.0.find("{{").into_iter().chain(url.0.find("{%")).min();
        let problem = match literal_end {
            None => check_url(url.0.trim()).err(),
            Some(end) => {
                let prefix = url.0.get(..end).unwrap_or_default();
                let bad_scheme = prefix.contains("://") && check_scheme(prefix.trim_start()).is_err();
                bad_scheme.then(|| format!("`{}` is not an http:// or https:// URL", url.0))
            }
        };
        if let Some(problem) = problem {
            self.error(path, node.at, problem);
            return None;
        }
        Some(url)
    }

    /// `Name: template` mapping, or the stored list of `[name, value]` pairs.
    fn headers(&mut self, node: &Node, path: &str) -> Option<Vec<(String, Template)>> {
        let pairs: Vec<(&Node, &Node)> = match &node.value {
            Value::Map(entries) => entries.iter().map(|(k, v)| (k, v)).collect(),
            Value::Seq(items) => {
                let mut pairs = Vec::with_capacity(items.len());
                for (i, pair) in items.iter().enumerate() {
                    match &pair.value {
                        Value::Seq(kv) if kv.len() == 2 => pairs.extend(kv.first().zip(kv.get(1))),
                        _ => {
                            self.error(&item(path, i), pair.at, "expected a `[name, value]` pair");
                            return None;
                        }
                    }
                }
                pairs
            }
            other => {
                self.error(
                    path,
                    node.at,
                    format!("expected a mapping of header names to values, got {}", other.kind()),
                );
                return None;
            }
        };
        let mut headers: Vec<(String, Template)> = Vec::with_capacity(pairs.len());
        let mut ok = true;
        for (key, value) in pairs {
            let header = self.header(key, value, path, &headers);
            ok &= header.is_some();
            headers.extend(header);
        }
        ok.then_some(headers)
    }

    fn header(
        &mut self,
        key: &Node,
        value: &Node,
        path: &str,
        before: &[(String, Template)],
    ) -> Option<(String, Template)> {
        let name = self.string(key, path, "header name")?;
        let header_path = child(path, &name);
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            self.error(&header_path, key.at, format!("`{name}` is not a valid HTTP header name"));
            return None;
        }
        if before.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            self.error(&header_path, key.at, format!("duplicate header `{name}`"));
            return None;
        }
        let value = self.template(value, &header_path)?;
        Some((name, value))
    }

    // --- Values --------------------------------------------------------------------------------

    fn required_template(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<Template> {
        let node = self.report(f.require(name))?;
        self.template(node, &child(path, name))
    }

    /// Outer `None`: an error; inner: not given.
    fn optional_template(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<Option<Template>> {
        match f.get(name) {
            None => Some(None),
            Some(node) => self.template(node, &child(path, name)).map(Some),
        }
    }

    /// A template: compiled, and what it reads kept for the flow-wide check.
    fn template(&mut self, node: &Node, path: &str) -> Option<Template> {
        let source = self.string(node, path, "text")?;
        self.check_template(&source, path, node.at)?;
        Some(Template(source))
    }

    fn check_template(&mut self, source: &str, path: &str, at: At) -> Option<()> {
        match template::variables(source) {
            Ok(names) => {
                self.reads.push(Read { path: path.to_owned(), at, names });
                Some(())
            }
            Err(message) => {
                self.error(path, at, message);
                None
            }
        }
    }

    /// Any value, every string in it a template (request bodies, event data).
    fn value_template(&mut self, node: &Node, path: &str) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        match &node.value {
            Value::Str(source) => {
                self.check_template(source, path, node.at)?;
                Some(J::String(source.clone()))
            }
            Value::Seq(items) => {
                let values: Vec<Option<J>> =
                    items.iter().enumerate().map(|(i, n)| self.value_template(n, &item(path, i))).collect();
                values.into_iter().collect::<Option<Vec<J>>>().map(J::Array)
            }
            Value::Map(entries) => {
                let mut values = serde_json::Map::new();
                let mut ok = true;
                for (key, value) in entries {
                    let Some((key, _)) = self.key_name(key, path) else {
                        ok = false;
                        continue;
                    };
                    let value = self.value_template(value, &child(path, &key));
                    ok &= value.is_some();
                    values.extend(value.map(|v| (key, v)));
                }
                ok.then_some(J::Object(values))
            }
            Value::Float(f) if !f.is_finite() => {
                self.error(path, node.at, "expected a finite number");
                None
            }
            _ => Some(node.to_json()),
        }
    }

    /// A mapping of names to values (`vars`, `attributes`): names of `kind`,
    /// values templates.
    fn mapping_values(
        &mut self,
        node: &Node,
        path: &str,
        kind: NameKind,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let Value::Map(entries) = &node.value else {
            self.error(path, node.at, format!("expected a mapping of names to values, got {}", node.value.kind()));
            return None;
        };
        let mut ok = true;
        // Keys that are not strings are reported by `value_template`.
        for (key, _) in entries {
            if let Value::Str(name) = &key.value
                && !kind.accepts(name)
            {
                self.error(&child(path, name), key.at, kind.explain(name));
                ok = false;
            }
        }
        match self.value_template(node, path)? {
            serde_json::Value::Object(values) if ok => Some(values),
            _ => None,
        }
    }

    /// `params` of `launch_flow` and `subflow`: a mapping, empty by default.
    fn object(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        match f.get(name) {
            None => Some(serde_json::Map::new()),
            Some(node) => self.mapping_values(node, &child(path, name), NameKind::Variable),
        }
    }

    /// A mapping key: a string, with where it was written.
    fn key_name(&mut self, key: &Node, path: &str) -> Option<(String, At)> {
        match &key.value {
            Value::Str(name) => Some((name.clone(), key.at)),
            other => {
                let message = format!("names must be strings, got {} (put it in quotes)", other.kind());
                self.error(path, key.at, message);
                None
            }
        }
    }

    fn string(&mut self, node: &Node, path: &str, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(text) => Some(text.clone()),
            other => {
                let hint = match other {
                    Value::Int(_) | Value::Float(_) | Value::Bool(_) => " (put it in quotes)",
                    _ => "",
                };
                self.error(path, node.at, format!("expected a {what} (a string), got {}{hint}", other.kind()));
                None
            }
        }
    }

    /// A non-blank string of at most `max` characters.
    fn text(&mut self, node: &Node, path: &str, max: usize) -> Option<String> {
        let text = self.string(node, path, "text")?;
        if text.trim().is_empty() {
            self.error(path, node.at, "must not be empty");
            return None;
        }
        if text.chars().count() > max {
            self.error(path, node.at, format!("longer than {max} characters"));
            return None;
        }
        Some(text)
    }

    fn string_list(&mut self, node: &Node, path: &str, what: &str, max: usize) -> Option<Vec<String>> {
        let Value::Seq(items) = &node.value else {
            self.error(path, node.at, format!("expected a list of {what}, got {}", node.value.kind()));
            return None;
        };
        let texts: Vec<Option<String>> =
            items.iter().enumerate().map(|(i, n)| self.text(n, &item(path, i), max)).collect();
        texts.into_iter().collect()
    }

    fn name(&mut self, node: &Node, path: &str, kind: NameKind) -> Option<String> {
        let name = self.string(node, path, kind.what())?;
        if !kind.accepts(&name) {
            self.error(path, node.at, kind.explain(&name));
            return None;
        }
        Some(name)
    }

    fn one_of<T: Copy>(&mut self, node: &Node, path: &str, options: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let text = self.string(node, path, "name")?;
        if let Some((_, value)) = options.iter().find(|(n, _)| *n == text) {
            return Some(*value);
        }
        let hint = did_you_mean(&text, &names);
        self.error(path, node.at, format!("expected one of: {}; got `{text}`{hint}", names.join(", ")));
        None
    }

    fn ranged(&mut self, node: &Node, path: &str, range: RangeInclusive<i64>) -> Option<i64> {
        let value = self.report(located::integer(node, path))?;
        if !range.contains(&value) {
            let message = format!("{value} is out of range; it must be from {} to {}", range.start(), range.end());
            self.error(path, node.at, message);
            return None;
        }
        Some(value)
    }

    // --- Checks across steps -------------------------------------------------------------------

    /// Every transition leads to a step (or `end`), and every step can be
    /// reached from the start.
    fn check_graph(&mut self, steps: &[StepOut], start: &str) {
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        let mut dangling = false;
        for edge in steps.iter().flat_map(|s| &s.edges) {
            if edge.target != END && !names.contains(&edge.target.as_str()) {
                let hint = did_you_mean(&edge.target, &names);
                let message =
                    format!("dangling transition: there is no step `{}`{hint}; name a step or `end`", edge.target);
                self.error(&edge.path, edge.at, message);
                dangling = true;
            }
        }
        if !self.graph_known || dangling {
            return;
        }
        let mut reached: BTreeSet<&str> = BTreeSet::from([start]);
        let mut queue: VecDeque<&str> = VecDeque::from([start]);
        while let Some(name) = queue.pop_front() {
            let Some(step) = steps.iter().find(|s| s.name == name) else { continue };
            for edge in &step.edges {
                if reached.insert(edge.target.as_str()) {
                    queue.push_back(edge.target.as_str());
                }
            }
        }
        for step in steps.iter().filter(|s| !reached.contains(s.name.as_str())) {
            let message =
                format!("unreachable step: no transition leads to `{}` from the start (`{start}`)", step.name);
            self.error(&step.path, step.at, message);
        }
    }

    /// Templates read `params.NAME` and `vars.NAME`: the parameter must be
    /// declared and the variable set by some step, or the template would
    /// quietly render nothing.
    fn check_reads(&mut self, params: &[Param]) {
        let declared: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let mut sets: Vec<String> = self.sets.iter().cloned().collect();
        // An error caught by `on_error` is `vars.error` (`{step, message}`).
        sets.push("error".to_owned());
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let mut problems: Vec<(String, At, String)> = Vec::new();
        for read in &self.reads {
            let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
            for name in &read.names {
                let mut parts = name.split('.');
                let (Some(root), Some(field)) = (parts.next(), parts.next()) else { continue };
                if !seen.insert((root, field)) {
                    continue;
                }
                let message = match root {
                    "params" if self.params_known && !declared.contains(&field) => {
                        format!("`params.{field}` is not a declared parameter{}", did_you_mean(field, &declared))
                    }
                    "vars" if self.sets_known && !sets.contains(&field) => format!(
                        "`vars.{field}` is not set by any step (`into` or `set_vars`){}",
                        did_you_mean(field, &sets)
                    ),
                    _ => continue,
                };
                problems.push((read.path.clone(), read.at, message));
            }
        }
        for (path, at, message) in problems {
            self.error(&path, at, message);
        }
    }
}

/// Where a key of a mapping node was written.
fn key_location(node: &Node, key: &str) -> At {
    match &node.value {
        Value::Map(entries) => {
            entries.iter().find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key)).and_then(|(k, _)| k.at)
        }
        _ => None,
    }
}

/// The kinds of names a flow uses, each with its own spelling.
#[derive(Debug, Clone, Copy)]
enum NameKind {
    /// `[a-z0-9][a-z0-9_-]*`: flows.
    Flow,
    /// `[a-z0-9_-]+`: steps.
    Step,
    /// `[a-z_][a-z0-9_]*`: what templates and expressions read as `vars.x`,
    /// `params.x`, form fields.
    Variable,
    /// `[a-z0-9][a-z0-9_.-]*`: event types.
    EventType,
    /// Any short non-blank string: attribute keys.
    Attribute,
}

impl NameKind {
    fn what(self) -> &'static str {
        match self {
            Self::Flow => "flow name",
            Self::Step => "step name",
            Self::Variable => "name",
            Self::EventType => "event type name",
            Self::Attribute => "attribute name",
        }
    }

    fn accepts(self, name: &str) -> bool {
        match self {
            Self::Flow => is_flow_name(name),
            Self::Step => is_step_name(name),
            Self::Variable => is_identifier(name),
            Self::EventType => is_event_type_name(name),
            Self::Attribute => !name.trim().is_empty() && name.chars().count() <= MAX_LABEL_CHARS,
        }
    }

    fn explain(self, name: &str) -> String {
        let rule = match self {
            Self::Flow => "lowercase letters, digits, `_` and `-`, starting with a letter or digit",
            Self::Step => "lowercase letters, digits, `_` and `-`",
            Self::Variable => "lowercase letters, digits and `_`, not starting with a digit",
            Self::EventType => "lowercase letters, digits, `_`, `.` and `-`, starting with a letter or digit",
            Self::Attribute => "a non-empty name",
        };
        let limit = match self {
            Self::Attribute => MAX_LABEL_CHARS,
            _ => MAX_NAME_CHARS,
        };
        format!("`{name}` is not a valid {}: use {rule}, at most {limit} characters", self.what())
    }
}

fn within_limit(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_CHARS
}

fn is_flow_name(name: &str) -> bool {
    within_limit(name)
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_step_name(name: &str) -> bool {
    within_limit(name) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_identifier(name: &str) -> bool {
    within_limit(name)
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_event_type_name(name: &str) -> bool {
    within_limit(name)
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
}

/// RFC 9110 token characters, which header names are made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A literal URL: http or https, a host, no spaces.
fn check_url(url: &str) -> Result<(), String> {
    let rest = check_scheme(url)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("`{url}` has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{url}` contains spaces or control characters"));
    }
    Ok(())
}

/// What follows `http://` or `https://`.
fn check_scheme(url: &str) -> Result<&str, String> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    for scheme in ["https://", "http://"] {
        if lower.starts_with(scheme) {
            return Ok(url.get(scheme.len()..).unwrap_or_default());
        }
    }
    Err(format!("`{url}` is not an http:// or https:// URL"))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
