//! Documents read into a tree of located nodes, shared by the parsers of
//! operator-written files (workflows, flows).
//!
//! YAML is read into [`Node`]s that remember their line and column, and the
//! tree is then checked by hand rather than by derived `Deserialize` impls:
//! that is what lets every error carry both its field path and its line, and
//! lets JSON (the same tree, without lines) share the very same checks.
//!
//! Every error made here is `Error::invalid(path, message)` where the message
//! starts with `line L, column C: ` whenever a location is known.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::budget::BudgetBreach;

use crate::Error;
use crate::routing::expr::Expr;

/// Where a node was written: line and column, both from 1. JSON has none.
pub(crate) type At = Option<(u64, u64)>;

/// A YAML or JSON value and where it was written.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) at: At,
}

#[derive(Debug)]
pub(crate) enum Value {
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
    /// The kind, as error messages name it ("expected a list, got a string").
    pub(crate) fn kind(&self) -> &'static str {
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

/// What kind of document is read: names the document in errors that belong
/// to no field of it (`workflow`, `flow`), and bounds its size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Doc {
    /// The field path of the document itself, and its noun in messages.
    pub(crate) name: &'static str,
    /// The largest YAML source accepted, in bytes.
    pub(crate) max_bytes: usize,
}

impl Doc {
    /// Reads YAML into a located tree: `None` for an empty document (or `null`).
    /// Errors are syntax errors, duplicate keys and budget breaches, at the
    /// document's own path.
    pub(crate) fn read_yaml(&self, source: &str) -> Result<Option<Node>, Error> {
        if source.len() > self.max_bytes {
            return Err(Error::invalid(
                self.name,
                format!("the document is {} bytes, more than the limit of {}", source.len(), self.max_bytes),
            ));
        }
        serde_saphyr::from_str_with_options(source, yaml_options()).map_err(|e| self.yaml_error(e))
    }

    fn yaml_error(&self, error: serde_saphyr::Error) -> Error {
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
                BudgetBreach::Documents { .. } => {
                    format!("a {} is a single YAML document (found another `---`)", self.name)
                }
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
        invalid(self.name, location.map(|l| (l.line(), l.column())), format!("invalid YAML: {message}"))
    }
}

impl Node {
    /// Converts JSON. Past `max_depth` containers keep their kind (for error
    /// messages) but not their contents: no recursion without bound. Callers
    /// that must not lose data check [`json_depth`] first.
    pub(crate) fn from_json(value: &serde_json::Value, max_depth: usize) -> Node {
        Self::from_json_at(value, 0, max_depth)
    }

    fn from_json_at(value: &serde_json::Value, depth: usize, max_depth: usize) -> Node {
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
            J::Array(_) if depth >= max_depth => Value::Seq(Vec::new()),
            J::Object(_) if depth >= max_depth => Value::Map(Vec::new()),
            J::Array(items) => {
                Value::Seq(items.iter().map(|item| Node::from_json_at(item, depth + 1, max_depth)).collect())
            }
            J::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| {
                        let key = Node { value: Value::Str(key.clone()), at: None };
                        (key, Node::from_json_at(item, depth + 1, max_depth))
                    })
                    .collect(),
            ),
        };
        Node { value, at: None }
    }

    /// Back to JSON, for values taken as they are (event data, request
    /// bodies). Keys that are not strings are written as their YAML text
    /// would read; YAML keys are checked before this is called.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => i64::try_from(*i)
                .map(J::from)
                .or_else(|_| u64::try_from(*i).map(J::from))
                .unwrap_or_else(|_| J::from(*i as f64)),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                J::Object(entries.iter().map(|(key, value)| (key.value.scalar_text(), value.to_json())).collect())
            }
        }
    }

    /// How deeply the node nests containers, counting up to `limit` only.
    pub(crate) fn depth(&self, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let inner = match &self.value {
            Value::Seq(items) => items.iter().map(|n| n.depth(limit - 1)).max().unwrap_or(0),
            Value::Map(entries) => entries.iter().map(|(_, n)| n.depth(limit - 1)).max().unwrap_or(0),
            _ => return 0,
        };
        1 + inner
    }

    /// Whether the value is absent in effect: `null`, `~` or nothing.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }
}

impl Value {
    /// A scalar as text (`true`, `42`); containers as their kind.
    pub(crate) fn scalar_text(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
            other => other.kind().to_owned(),
        }
    }
}

/// How deeply a JSON value nests containers, counting up to `limit` only
/// (so that the walk itself is bounded).
pub(crate) fn json_depth(value: &serde_json::Value, limit: usize) -> usize {
    if limit == 0 {
        return 0;
    }
    let inner = match value {
        serde_json::Value::Array(items) => items.iter().map(|v| json_depth(v, limit - 1)).max().unwrap_or(0),
        serde_json::Value::Object(entries) => entries.values().map(|v| json_depth(v, limit - 1)).max().unwrap_or(0),
        _ => return 0,
    };
    1 + inner
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
        deserializer.deserialize_any(ValueVisitor::<Node>(PhantomData))
    }
}

/// A node read from a format without locations (JSON text): unlike a
/// `serde_json::Value` it keeps mappings in document order, which is what
/// decides a flow's first step.
struct Unlocated(Node);

impl<'de> Deserialize<'de> for Unlocated {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(ValueVisitor::<Unlocated>(PhantomData))?;
        Ok(Unlocated(Node { value, at: None }))
    }
}

impl From<Unlocated> for Node {
    fn from(node: Unlocated) -> Node {
        node.0
    }
}

/// Reads JSON text into a tree without lines, in document order. The JSON
/// reader bounds nesting itself (128 levels).
pub(crate) fn read_json(text: &str) -> Result<Node, serde_json::Error> {
    serde_json::from_str::<Unlocated>(text).map(Node::from)
}

/// Builds values whose items are `N`: located nodes for YAML, plain ones for JSON.
struct ValueVisitor<N>(PhantomData<N>);

impl<'de, N: Deserialize<'de> + Into<Node>> Visitor<'de> for ValueVisitor<N> {
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
        while let Some(item) = seq.next_element::<N>()? {
            items.push(item.into());
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<N, N>()? {
            entries.push((key.into(), value.into()));
        }
        Ok(Value::Map(entries))
    }
}

/// Modest budgets: a real document is a few thousand nodes, and it is at
/// most a few hundred KiB, so only aliases (`*ref`, each a copy of what it
/// refers to) could make it much bigger. These stop alias "bombs" long
/// before they cost anything.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
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

/// An invalid-field error, its message prefixed with the location when known.
pub(crate) fn invalid(field: &str, at: At, message: impl fmt::Display) -> Error {
    match at {
        Some((line, column)) => Error::invalid(field, format!("line {line}, column {column}: {message}")),
        None => Error::invalid(field, message.to_string()),
    }
}

/// The path of a field of `parent` (the empty path is the document).
pub(crate) fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") }
}

/// The path of an item of the list at `parent`.
pub(crate) fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The entries of a mapping, checked against the fields it may have.
pub(crate) struct Fields<'a> {
    path: &'a str,
    at: At,
    entries: Vec<(&'a str, &'a Node)>,
}

impl<'a> Fields<'a> {
    /// The first problem only: for parsers that stop at the first error.
    /// `doc` names the document when `path` (the mapping's own) is empty.
    pub(crate) fn of(
        node: &'a Node,
        doc: &str,
        path: &'a str,
        allowed: &[&str],
        what: &str,
    ) -> Result<Fields<'a>, Error> {
        let mut errors = Vec::new();
        let fields = Self::collect(node, doc, path, allowed, what, &mut errors);
        if let Some(first) = errors.into_iter().next() {
            return Err(first);
        }
        fields.ok_or_else(|| invalid(if path.is_empty() { doc } else { path }, node.at, format!("expected {what}")))
    }

    /// Every problem, each pushed onto `errors`: unknown fields (with the
    /// nearest allowed name), duplicates, keys that are not strings. The
    /// fields that could be read are kept, so that checking goes on. `None`
    /// when the node is not a mapping at all.
    pub(crate) fn collect(
        node: &'a Node,
        doc: &str,
        path: &'a str,
        allowed: &[&str],
        what: &str,
        errors: &mut Vec<Error>,
    ) -> Option<Fields<'a>> {
        let own = if path.is_empty() { doc } else { path };
        let Value::Map(entries) = &node.value else {
            errors.push(invalid(own, node.at, format!("expected {what}, got {}", node.value.kind())));
            return None;
        };
        let mut fields = Fields { path, at: node.at, entries: Vec::with_capacity(entries.len()) };
        for (key, value) in entries {
            let Value::Str(name) = &key.value else {
                errors.push(invalid(own, key.at, format!("field names must be strings, got {}", key.value.kind())));
                continue;
            };
            if !allowed.contains(&name.as_str()) {
                errors.push(invalid(&child(path, name), key.at, unknown_field(name, allowed)));
                continue;
            }
            if fields.entries.iter().any(|(seen, _)| seen == name) {
                errors.push(invalid(&child(path, name), key.at, format!("duplicate field `{name}`")));
                continue;
            }
            fields.entries.push((name, value));
        }
        Some(fields)
    }

    /// The field's value, unless absent or null (both mean "not given").
    pub(crate) fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(n, _)| *n == name).map(|(_, node)| *node).filter(|n| !n.is_null())
    }

    pub(crate) fn require(&self, name: &str) -> Result<&'a Node, Error> {
        self.get(name).ok_or_else(|| invalid(&child(self.path, name), self.at, format!("missing field `{name}`")))
    }

    /// Where the mapping itself was written.
    pub(crate) fn at(&self) -> At {
        self.at
    }
}

/// "unknown field `x`; allowed fields: …", with the nearest allowed name.
pub(crate) fn unknown_field(name: &str, allowed: &[&str]) -> String {
    format!("unknown field `{name}`; allowed fields: {}{}", allowed.join(", "), did_you_mean(name, allowed))
}

/// ` (did you mean `x`?)` when a near name exists, else nothing.
pub(crate) fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    closest(name, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

/// The allowed name nearest to a misspelt one, if it is near enough to be a typo.
pub(crate) fn closest<'n>(name: &str, allowed: &[&'n str]) -> Option<&'n str> {
    if name.chars().count() > 64 {
        return None;
    }
    allowed.iter().map(|a| (distance(name, a), *a)).filter(|(d, _)| *d <= 2).min_by_key(|(d, _)| *d).map(|(_, a)| a)
}

/// Levenshtein distance, one row at a time.
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

/// A CEL condition over `vars`, located. `if: true` is YAML's boolean, and
/// also a CEL expression.
pub(crate) fn expr(node: &Node, path: &str, vars: &[&str]) -> Result<Expr, Error> {
    let source = match &node.value {
        Value::Str(text) => text.as_str(),
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

pub(crate) fn integer(node: &Node, path: &str) -> Result<i64, Error> {
    match &node.value {
        Value::Int(i) => i64::try_from(*i).map_err(|_| invalid(path, node.at, format!("{i} is out of range"))),
        Value::Float(f) => Err(invalid(path, node.at, format!("expected a whole number, got {f}"))),
        other => Err(invalid(path, node.at, format!("expected a whole number, got {}", other.kind()))),
    }
}

pub(crate) fn boolean(node: &Node, path: &str) -> Result<bool, Error> {
    match &node.value {
        Value::Bool(b) => Ok(*b),
        other => Err(invalid(path, node.at, format!("expected true or false, got {}", other.kind()))),
    }
}

/// What durations a field accepts: the longest, and whether days (`2d`) may
/// be written (a workflow's timeouts are at most a day, so they never needed
/// them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durations {
    /// What the field is, in messages: "a timeout of 0 seconds is out of range".
    pub(crate) noun: &'static str,
    pub(crate) max_secs: u32,
    /// `max_secs` in words: "a day".
    pub(crate) max_words: &'static str,
    pub(crate) days: bool,
}

impl Durations {
    /// `90`, `90s`, `2m`, `1h`, `1h30m` (and `2d` when allowed): the total in
    /// seconds, saturating; `None` when it is not a duration.
    pub(crate) fn parse(&self, text: &str) -> Option<u64> {
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
                'd' if self.days => 86_400,
                _ => return None,
            };
            total = total.saturating_add(number.take()?.saturating_mul(unit));
        }
        // A number without its unit at the end ("1h30") is a mistake, not seconds.
        if number.is_some() || text.is_empty() { None } else { Some(total) }
    }

    /// Seconds, as a number or a string with units, from 1 to `max_secs`.
    pub(crate) fn read(&self, node: &Node, path: &str) -> Result<u32, Error> {
        let seconds = match &node.value {
            Value::Int(i) => *i,
            Value::Float(f) => {
                return Err(invalid(path, node.at, format!("expected whole seconds, got {f}")));
            }
            Value::Str(text) => match self.parse(text) {
                Some(seconds) => seconds.into(),
                None => return Err(invalid(path, node.at, self.not_a_duration(text))),
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
            Ok(s) if (1..=self.max_secs).contains(&s) => Ok(s),
            _ => Err(invalid(
                path,
                node.at,
                format!(
                    "{} of {seconds} seconds is out of range; it must be from 1 to {} ({})",
                    self.noun, self.max_secs, self.max_words
                ),
            )),
        }
    }

    fn not_a_duration(&self, text: &str) -> String {
        let units = if self.days {
            "s, m, h, d (\"90s\", \"2m\", \"1h\", \"2d\")"
        } else {
            "s, m, h (\"90s\", \"2m\", \"1h\")"
        };
        format!("`{text}` is not a duration; write seconds (90) or use units {units}")
    }
}
