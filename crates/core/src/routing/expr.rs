//! Routing expressions: small boolean conditions in CEL (the Common Expression
//! Language), such as `"billing" in agent.skills && agent.level >= 2`.
//!
//! Workflows use them twice: a filter's `if` is a condition on the chat (the
//! variable `chat`), and a step's `agents` narrows the agents of a queue (the
//! variable `agent`). An [`Expr`] is checked once, when a workflow is saved:
//! syntax, that it can only be a condition, and that it names no variable it
//! will not be given. Evaluation then binds each variable to a JSON value.
//!
//! Expressions are written by operators but evaluated on every routing
//! decision, so everything here is bounded: the source length, how deeply it
//! nests (the CEL parser and evaluator recurse, and a stack overflow is an
//! abort that no `catch_unwind` can stop), and comprehension nesting (each
//! level multiplies the work). The CEL crate is also called under
//! `catch_unwind`, so that a bug in it fails one expression rather than the
//! server.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr as Node, LiteralValue, operators};
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt};
use cel::common::value::Val;
use cel::{Context, Env, IdedExpr, ParseErrors, Value};
use serde::{Serialize, Serializer};

use crate::Error;

/// The longest source accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 2_000;
/// How deeply brackets (`(`, `[`, `{`) may nest. The parser spends several
/// kilobytes of stack per level; at this depth it stays far from overflowing
/// a 2 MiB thread stack, even in a debug build.
const MAX_BRACKET_DEPTH: usize = 32;
/// How many operator tokens (`+`, `==`, `.`, `[`, `(` …) the source may hold.
/// The parser recurses once per operator of a left-leaning chain such as
/// `1 + 1 + … + 1`, before any check of the tree can run.
const MAX_OPERATORS: usize = 500;
/// How deep the parsed tree may be. The evaluator recurses along it.
const MAX_TREE_DEPTH: usize = 100;
/// How deeply comprehensions (`all`, `exists`, `map` …) may nest: each level
/// multiplies the work of evaluating.
const MAX_COMPREHENSION_NESTING: usize = 2;
/// The CEL parser's own limit on nested expressions; below its default (96),
/// in line with [`MAX_BRACKET_DEPTH`].
const PARSER_RECURSION_LIMIT: u16 = 48;
/// JSON values bound to variables are converted up to this depth; deeper
/// values fail evaluation rather than recurse without bound.
const MAX_VALUE_DEPTH: usize = 64;

/// The environment every expression is compiled and evaluated in: CEL's
/// standard functions and macros, built once.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Identifiers that name CEL's built-in types (as in `type(x) == string`):
/// they are not variables.
const TYPE_NAMES: &[&str] = &["bool", "bytes", "double", "int", "list", "map", "null_type", "string", "type", "uint"];

/// A compiled boolean CEL expression, e.g. `"billing" in agent.skills && agent.level >= 2`.
#[derive(Clone)]
pub struct Expr {
    inner: Arc<Compiled>,
}

struct Compiled {
    source: String,
    tree: IdedExpr,
}

/// Why an expression could not be evaluated to a boolean.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    /// The expression evaluated to a value of this CEL type, not a boolean.
    #[error("the expression evaluated to {0}, not true or false")]
    NotBoolean(String),
    /// Evaluation failed: a missing key, a type mismatch, an unknown function.
    #[error("{0}")]
    Eval(String),
}

impl Expr {
    /// Compiles `source`. Errors (all `Error::invalid(field, …)`): empty / longer than 2,000 chars; a syntax error
    /// (the message includes the position CEL reports); an expression that is statically not boolean (a literal
    /// that is not a bool, arithmetic, a string/list/map, `size()` …); variables other than `allowed_vars`
    /// (e.g. routing expressions may only use `agent`, workflow conditions only `chat`); and expressions nested
    /// too deeply to evaluate safely.
    pub fn parse(field: &str, source: &str, allowed_vars: &[&str]) -> Result<Expr, Error> {
        let invalid = |message: String| Error::invalid(field, message);
        if source.trim().is_empty() {
            return Err(invalid("the expression must not be empty".to_owned()));
        }
        if source.len() > MAX_SOURCE_CHARS && source.chars().count() > MAX_SOURCE_CHARS {
            return Err(invalid(format!("the expression is longer than {MAX_SOURCE_CHARS} characters")));
        }
        check_shape(source).map_err(invalid)?;

        let parser = ENV.parser().max_recursion_depth(PARSER_RECURSION_LIMIT).error_recovery_limit(10);
        let tree = match catch_unwind(AssertUnwindSafe(|| parser.parse(source))) {
            Ok(Ok(tree)) => tree,
            Ok(Err(errors)) => return Err(invalid(describe_parse_errors(&errors))),
            Err(_) => return Err(invalid("the expression could not be parsed".to_owned())),
        };

        let mut checker = Checker { allowed_vars, bound: Vec::new() };
        checker.walk(&tree, 1, 0).map_err(invalid)?;
        if let Shape::NotBool(what) = shape(&tree.expr) {
            return Err(invalid(format!("the expression must evaluate to true or false, but it is {what}")));
        }
        Ok(Expr { inner: Arc::new(Compiled { source: source.to_owned(), tree }) })
    }

    /// The source text, exactly as given to [`Expr::parse`].
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Evaluates with each variable bound to a JSON value (objects become CEL maps, arrays lists, numbers int
    /// when integral else double, etc.). A non-boolean result is `Err(ExprError::NotBoolean(type name))`; a
    /// runtime error (missing key, type mismatch) is `Err(ExprError::Eval(msg))`.
    pub fn eval(&self, vars: &[(&str, &serde_json::Value)]) -> Result<bool, ExprError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut context = Context::with_env(Arc::clone(&ENV));
            for (name, value) in vars {
                let value = to_val(value, 0)
                    .ok_or_else(|| ExprError::Eval(format!("`{name}` is nested more than {MAX_VALUE_DEPTH} levels")))?;
                context.add_variable_as_val(*name, value);
            }
            context.resolve(&self.inner.tree).map_err(|e| ExprError::Eval(e.to_string()))
        }));
        match outcome {
            Ok(Ok(Value::Bool(value))) => Ok(value),
            Ok(Ok(other)) => Err(ExprError::NotBoolean(type_name(&other))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ExprError::Eval("the expression evaluator failed".to_owned())),
        }
    }

    /// Convenience for routing: `eval` where any error counts as false.
    pub fn matches(&self, vars: &[(&str, &serde_json::Value)]) -> bool {
        self.eval(vars).unwrap_or(false)
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source()).finish()
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source())
    }
}

/// Two expressions are equal when their sources are: the source is what an
/// operator wrote and what is stored.
impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source() == other.source()
    }
}

impl Eq for Expr {}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.source())
    }
}

/// Checks bracket depth and operator count before parsing, since the parser
/// itself recurses on both (see the limits above). String literals are
/// skipped so that brackets inside them do not count.
fn check_shape(source: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut in_operator = false;
    let mut chars = source.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        let is_operator = "+-*/%=!<>&|?:.[({".contains(c);
        if is_operator && !in_operator {
            operators += 1;
        }
        in_operator = is_operator;
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Err(format!("the expression nests brackets more than {MAX_BRACKET_DEPTH} levels deep"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '"' | '\'' => {
                // A raw string (r"…") has no escapes.
                let raw = matches!(previous, 'r' | 'R');
                skip_string(&mut chars, c, raw);
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(format!("the expression has more than {MAX_OPERATORS} operators"));
        }
        previous = c;
    }
    Ok(())
}

/// Advances past a string literal whose opening `quote` was just read,
/// triple-quoted or not. An unterminated literal runs to the end, which the
/// parser then reports.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char, raw: bool) {
    let mut triple = false;
    if chars.peek() == Some(&quote) {
        chars.next();
        if chars.peek() == Some(&quote) {
            chars.next();
            triple = true;
        } else {
            return; // the empty string
        }
    }
    let mut run = 0;
    while let Some(c) = chars.next() {
        if c == '\\' && !raw {
            chars.next();
            run = 0;
        } else if c == quote {
            run += 1;
            if !triple || run == 3 {
                return;
            }
        } else {
            run = 0;
        }
    }
}

fn describe_parse_errors(errors: &ParseErrors) -> String {
    let Some(first) = errors.errors.first() else {
        return "syntax error".to_owned();
    };
    let message = first.msg.strip_prefix("Syntax error: ").unwrap_or(&first.msg);
    let (line, column) = first.pos;
    let at = if line > 1 {
        format!("line {line}, column {column} of the expression")
    } else {
        format!("column {column} of the expression")
    };
    let more = match errors.errors.len() {
        0 | 1 => String::new(),
        2 => " (and 1 more error)".to_owned(),
        n => format!(" (and {} more errors)", n - 1),
    };
    format!("syntax error at {at}: {message}{more}")
}

/// Walks the parsed tree for what the parser does not check: the variables
/// used, and how deep the tree and its comprehensions nest.
struct Checker<'a> {
    allowed_vars: &'a [&'a str],
    /// Names bound by the enclosing comprehensions (`x` in `l.all(x, …)`).
    bound: Vec<String>,
}

impl Checker<'_> {
    fn walk(&mut self, e: &IdedExpr, depth: usize, comprehensions: usize) -> Result<(), String> {
        if depth > MAX_TREE_DEPTH {
            return Err(format!("the expression is nested more than {MAX_TREE_DEPTH} levels deep"));
        }
        let next = depth + 1;
        match &e.expr {
            Node::Unspecified | Node::Literal(_) => Ok(()),
            Node::Ident(name) => self.check_variable(name),
            Node::Select(select) => self.walk(&select.operand, next, comprehensions),
            Node::Call(call) => {
                if let Some(target) = &call.target {
                    self.walk(target, next, comprehensions)?;
                }
                call.args.iter().try_for_each(|arg| self.walk(arg, next, comprehensions))
            }
            Node::List(list) => list.elements.iter().try_for_each(|item| self.walk(item, next, comprehensions)),
            Node::Map(map) => {
                map.entries.iter().try_for_each(|entry| self.walk_entry(&entry.expr, next, comprehensions))
            }
            Node::Struct(object) => {
                object.entries.iter().try_for_each(|entry| self.walk_entry(&entry.expr, next, comprehensions))
            }
            Node::Comprehension(c) => {
                if comprehensions >= MAX_COMPREHENSION_NESTING {
                    return Err(format!(
                        "comprehensions (all, exists, map, filter …) may nest at most {MAX_COMPREHENSION_NESTING} deep"
                    ));
                }
                self.walk(&c.iter_range, next, comprehensions)?;
                self.walk(&c.accu_init, next, comprehensions)?;
                let outer = self.bound.len();
                self.bound.push(c.iter_var.clone());
                self.bound.extend(c.iter_var2.iter().cloned());
                self.bound.push(c.accu_var.clone());
                let inner = [&c.loop_cond, &c.loop_step, &c.result]
                    .into_iter()
                    .try_for_each(|part| self.walk(part, next, comprehensions + 1));
                self.bound.truncate(outer);
                inner
            }
        }
    }

    fn walk_entry(
        &mut self,
        entry: &cel::common::ast::EntryExpr,
        depth: usize,
        comprehensions: usize,
    ) -> Result<(), String> {
        use cel::common::ast::EntryExpr;
        match entry {
            EntryExpr::MapEntry(m) => {
                self.walk(&m.key, depth, comprehensions)?;
                self.walk(&m.value, depth, comprehensions)
            }
            EntryExpr::StructField(f) => self.walk(&f.value, depth, comprehensions),
        }
    }

    fn check_variable(&self, name: &str) -> Result<(), String> {
        let known =
            self.bound.iter().any(|b| b == name) || self.allowed_vars.contains(&name) || TYPE_NAMES.contains(&name);
        if known {
            return Ok(());
        }
        let allowed =
            if self.allowed_vars.is_empty() { "no variables".to_owned() } else { self.allowed_vars.join(", ") };
        Err(format!("unknown variable `{name}`; expressions may use {allowed}"))
    }
}

/// What can be told of an expression's result type without evaluating it.
enum Shape {
    Bool,
    /// Certainly not a boolean; the text says what it is instead.
    NotBool(String),
    /// Depends on the variables' values (`agent.vip`, `agent.flags[0]`).
    Unknown,
}

fn shape(e: &Node) -> Shape {
    match e {
        Node::Literal(literal) => match literal {
            LiteralValue::Boolean(_) => Shape::Bool,
            LiteralValue::Int(_) => Shape::NotBool("an int".to_owned()),
            LiteralValue::UInt(_) => Shape::NotBool("a uint".to_owned()),
            LiteralValue::Double(_) => Shape::NotBool("a double".to_owned()),
            LiteralValue::String(_) => Shape::NotBool("a string".to_owned()),
            LiteralValue::Bytes(_) => Shape::NotBool("bytes".to_owned()),
            LiteralValue::Null => Shape::NotBool("null".to_owned()),
        },
        Node::List(_) => Shape::NotBool("a list".to_owned()),
        Node::Map(_) => Shape::NotBool("a map".to_owned()),
        Node::Struct(_) => Shape::NotBool("an object".to_owned()),
        Node::Select(select) if select.test => Shape::Bool,
        Node::Unspecified | Node::Ident(_) | Node::Select(_) => Shape::Unknown,
        Node::Comprehension(c) => match &c.result.expr {
            // `all`, `exists`, `map` and `filter` return their accumulator.
            Node::Ident(name) if *name == c.accu_var => shape(&c.accu_init.expr),
            other => shape(other),
        },
        Node::Call(call) => match call.func_name.as_str() {
            operators::LOGICAL_AND
            | operators::LOGICAL_OR
            | operators::LOGICAL_NOT
            | operators::NOT_STRICTLY_FALSE
            | operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS
            | operators::IN
            | "bool"
            | "contains"
            | "startsWith"
            | "endsWith"
            | "matches" => Shape::Bool,
            operators::ADD
            | operators::SUBSTRACT
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO
            | operators::NEGATE => Shape::NotBool(format!(
                "arithmetic (`{}`)",
                call.func_name.trim_start_matches('_').trim_end_matches('_')
            )),
            operators::CONDITIONAL => {
                let branches: Vec<Shape> = call.args.iter().skip(1).map(|arg| shape(&arg.expr)).collect();
                branches.into_iter().find(|s| matches!(s, Shape::NotBool(_))).unwrap_or(Shape::Unknown)
            }
            name @ ("size" | "int" | "uint" | "double" | "string" | "bytes" | "type") => {
                Shape::NotBool(format!("the result of `{name}()`"))
            }
            "dyn" => call.args.first().map_or(Shape::Unknown, |arg| shape(&arg.expr)),
            _ => Shape::Unknown,
        },
    }
}

/// Converts a JSON value to a CEL value, borrowing its strings. `None` when
/// it nests deeper than [`MAX_VALUE_DEPTH`].
fn to_val<'v>(value: &'v serde_json::Value, depth: usize) -> Option<Box<dyn Val + 'v>> {
    use serde_json::Value as J;
    if depth > MAX_VALUE_DEPTH {
        return None;
    }
    Some(match value {
        J::Null => Box::new(CelNull),
        J::Bool(b) => Box::new(CelBool::from(*b)),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // Integral numbers are ints, whatever their spelling (`2.0`).
                if f.fract() == 0.0 && f >= -(2f64.powi(53)) && f <= 2f64.powi(53) {
                    Box::new(CelInt::from(f as i64))
                } else {
                    Box::new(CelDouble::from(f))
                }
            }
        }
        J::String(s) => Box::new(CelString::from(s.as_str())),
        J::Array(items) => {
            let items = items.iter().map(|item| to_val(item, depth + 1)).collect::<Option<Vec<_>>>()?;
            Box::new(CelList::from(items))
        }
        J::Object(entries) => {
            let entries = entries
                .iter()
                .map(|(key, item)| Some((CelMapKey::from(key.as_str()), to_val(item, depth + 1)?)))
                .collect::<Option<std::collections::HashMap<_, _>>>()?;
            Box::new(CelMap::from(entries))
        }
    })
}

/// The CEL name of a value's type, as in `type(x)`.
fn type_name(value: &Value) -> String {
    match value {
        Value::Float(_) => "double".to_owned(),
        other => other.type_of().to_string(),
    }
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
