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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn agent_expr(source: &str) -> Expr {
        Expr::parse("agents", source, &["agent"]).unwrap()
    }

    fn rejected(source: &str) -> Error {
        Expr::parse("filters[0].if", source, &["agent"]).unwrap_err()
    }

    #[test]
    fn the_example_is_true_or_false_by_the_agent() {
        let e = agent_expr(r#""billing" in agent.skills && agent.level >= 2"#);
        let senior = json!({"skills": ["billing", "sales"], "level": 3});
        let junior = json!({"skills": ["billing"], "level": 1});
        let other = json!({"skills": ["sales"], "level": 5});
        assert_eq!(e.eval(&[("agent", &senior)]), Ok(true));
        assert_eq!(e.eval(&[("agent", &junior)]), Ok(false));
        assert_eq!(e.eval(&[("agent", &other)]), Ok(false));
        assert!(e.matches(&[("agent", &senior)]));
        assert!(!e.matches(&[("agent", &junior)]));
    }

    #[test]
    fn in_works_on_lists_and_maps() {
        let agent = json!({"skills": ["billing"], "langs": {"es": 3}});
        assert!(agent_expr(r#""billing" in agent.skills"#).matches(&[("agent", &agent)]));
        assert!(!agent_expr(r#""sales" in agent.skills"#).matches(&[("agent", &agent)]));
        assert!(agent_expr(r#""es" in agent.langs"#).matches(&[("agent", &agent)]));
        assert!(agent_expr(r#"agent.skills.exists(s, s.startsWith("bill"))"#).matches(&[("agent", &agent)]));
    }

    #[test]
    fn nested_attributes_are_reachable() {
        let chat = json!({"attributes": {"customer": {"tier": "gold", "spend": 1250.5}}});
        let e = Expr::parse(
            "if",
            r#"chat.attributes.customer.tier == "gold" && chat.attributes.customer.spend > 1000.0"#,
            &["chat"],
        )
        .unwrap();
        assert_eq!(e.eval(&[("chat", &chat)]), Ok(true));
    }

    #[test]
    fn numbers_are_ints_when_integral() {
        let agent = json!({"level": 2.0, "score": 2.5, "big": u64::MAX});
        assert!(agent_expr("agent.level == 2").matches(&[("agent", &agent)]));
        assert!(agent_expr("agent.score > 2.0").matches(&[("agent", &agent)]));
        assert!(agent_expr("agent.big > 0u").matches(&[("agent", &agent)]));
    }

    #[test]
    fn a_missing_key_is_an_error_and_so_false() {
        let e = agent_expr("agent.level >= 2");
        let agent = json!({"skills": []});
        assert!(matches!(e.eval(&[("agent", &agent)]), Err(ExprError::Eval(_))));
        assert!(!e.matches(&[("agent", &agent)]));
        // An unbound variable too.
        assert!(!e.matches(&[]));

        let guarded = agent_expr("has(agent.level) && agent.level >= 2");
        assert_eq!(guarded.eval(&[("agent", &agent)]), Ok(false));
        assert_eq!(guarded.eval(&[("agent", &json!({"level": 2}))]), Ok(true));
    }

    #[test]
    fn non_boolean_expressions_are_rejected_when_parsed() {
        for source in [
            "agent.level + 1",
            r#""x""#,
            "1",
            "[1]",
            "{}",
            "null",
            "-agent.level",
            "size(agent.skills)",
            "agent.skills.map(s, s)",
            "agent.vip ? 1 : 2",
        ] {
            let e = rejected(source);
            assert_eq!(e.field.as_deref(), Some("filters[0].if"), "{source}");
            assert!(e.message.contains("true or false"), "{source}: {}", e.message);
        }
        // Those that may be boolean are fine.
        for source in ["agent.vip", "agent.flags[0]", "true", "agent.skills.all(s, s != '')", "!agent.away"] {
            agent_expr(source);
        }
    }

    #[test]
    fn a_non_boolean_result_is_reported_when_evaluated() {
        let e = agent_expr("agent.x");
        assert_eq!(e.eval(&[("agent", &json!({"x": "yes"}))]), Err(ExprError::NotBoolean("string".to_owned())));
        assert_eq!(e.eval(&[("agent", &json!({"x": 1.5}))]), Err(ExprError::NotBoolean("double".to_owned())));
        assert!(!e.matches(&[("agent", &json!({"x": "yes"}))]));
        assert_eq!(e.eval(&[("agent", &json!({"x": true}))]), Ok(true));
    }

    #[test]
    fn type_mismatches_are_evaluation_errors() {
        let e = agent_expr("agent.level >= 2");
        assert!(matches!(e.eval(&[("agent", &json!({"level": "two"}))]), Err(ExprError::Eval(_))));
    }

    #[test]
    fn syntax_errors_name_the_field_and_position() {
        let e = rejected("agent.level >= ");
        assert_eq!(e.field.as_deref(), Some("filters[0].if"));
        assert!(e.message.contains("syntax error at column 16"), "{}", e.message);
        let e = rejected("agent.level\n&& &&");
        assert!(e.message.contains("line 2, column 4"), "{}", e.message);
        assert!(rejected("has(agent)").message.contains("has()"));
    }

    #[test]
    fn unknown_variables_are_rejected() {
        let e = rejected("foo.level > 1");
        assert_eq!(e.field.as_deref(), Some("filters[0].if"));
        assert_eq!(e.message, "unknown variable `foo`; expressions may use agent");
        let e = Expr::parse("if", "agent.vip", &["chat"]).unwrap_err();
        assert_eq!(e.message, "unknown variable `agent`; expressions may use chat");
        // Comprehension variables are in scope only inside their comprehension.
        agent_expr("agent.skills.exists(s, s == 'x')");
        assert!(rejected("agent.skills.exists(s, s == 'x') && s == 'y'").message.contains("`s`"));
        // Type names are not variables.
        agent_expr("type(agent.level) == int");
    }

    #[test]
    fn empty_and_oversized_sources_are_rejected() {
        assert!(rejected("").message.contains("empty"));
        assert!(rejected("  \n ").message.contains("empty"));
        let long = format!("agent.a == '{}'", "x".repeat(MAX_SOURCE_CHARS));
        assert!(rejected(&long).message.contains("longer than 2000"));
    }

    #[test]
    fn pathological_nesting_is_rejected_before_parsing() {
        for source in [
            "(".repeat(2_000),
            format!("{}true{}", "(".repeat(60), ")".repeat(60)),
            format!("{}1{} == 1", "[".repeat(40), "]".repeat(40)),
            vec!["1"; 999].join("+"),
            format!("agent{}", ".a".repeat(990)),
            format!("agent{}", "[0]".repeat(600)),
            format!("{} == 1", vec!["1"; 200].join("+")),
            "[1].all(a, [1].all(b, [1].all(c, true)))".to_owned(),
        ] {
            let e = Expr::parse("if", &source, &["agent"]).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("if"));
            assert!(e.message.contains("more than") || e.message.contains("at most"), "{}", e.message);
        }
        // Long runs the parser folds as it goes are fine.
        agent_expr(&format!("{}true", "!".repeat(1_990)));
        agent_expr(&vec!["agent.a"; 150].join(" && "));
        // Brackets inside strings do not count.
        agent_expr(&format!("agent.name == '{}'", "(".repeat(100)));
        agent_expr(&format!("agent.name == r\"\\{}\"", "(".repeat(100)));
        agent_expr(&format!("agent.name == '''{}'''", "(\"".repeat(40)));
    }

    #[test]
    fn equality_debug_and_serialization_use_the_source() {
        let a = agent_expr("agent.vip");
        assert_eq!(a, agent_expr("agent.vip"));
        assert_ne!(a, agent_expr("agent.vip == true"));
        assert_eq!(format!("{a:?}"), r#"Expr("agent.vip")"#);
        assert_eq!(serde_json::to_value(&a).unwrap(), json!("agent.vip"));
    }

    #[test]
    fn expressions_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Expr>();
    }

    /// Text that looks like CEL: identifiers, literals, operators, brackets.
    fn expression_like() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("agent".to_owned()),
            Just("chat".to_owned()),
            Just(".".to_owned()),
            Just("level".to_owned()),
            Just("skills".to_owned()),
            "[a-z]{1,3}",
            "-?[0-9]{1,20}(\\.[0-9]{0,3})?(e[0-9]{1,3})?u?",
            "\"[a-z\\\\\"']{0,4}\"",
            "'[a-z\\\\\"']{0,4}'",
            Just("\"\"\"".to_owned()),
            Just("b'\\xff'".to_owned()),
            Just("r'\\'".to_owned()),
            prop::sample::select(vec![
                "&&",
                "||",
                "!",
                "==",
                "!=",
                "<",
                "<=",
                ">",
                ">=",
                "+",
                "-",
                "*",
                "/",
                "%",
                "in",
                "?",
                ":",
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                ",",
                ".?",
                "has(",
                "size(",
                "int(",
                "uint(",
                "double(",
                "string(",
                "bytes(",
                "type(",
                "dyn(",
                ".all(x,",
                ".exists(x,",
                ".exists_one(x,",
                ".map(x,",
                ".filter(x,",
                "x",
                "true",
                "false",
                "null",
                "optional.of(",
                ".orValue(",
                "[?",
                "`",
                "\\",
                "\u{0}",
                "é",
                "9223372036854775807",
                "-9223372036854775808",
                "18446744073709551615u",
                "1e308",
                "0x",
                "0xFFu",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.join(" ").chars().take(200).collect())
    }

    fn values() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            any::<f64>().prop_map(|f| json!(f)),
            "[a-z]{0,4}".prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec!["level", "skills", "x", "attributes", "a"]).prop_map(str::to_owned),
                    inner,
                    0..4
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn parsing_arbitrary_text_never_panics(source in "\\PC{0,200}") {
            let _ = Expr::parse("if", &source, &["agent", "chat"]);
        }

        #[test]
        fn parsing_and_evaluating_expression_like_text_never_panics(
            source in expression_like(),
            agent in values(),
            chat in values(),
        ) {
            if let Ok(e) = Expr::parse("if", &source, &["agent", "chat", "x"]) {
                let x = json!([1, "a", true]);
                let _ = e.eval(&[("agent", &agent), ("chat", &chat), ("x", &x)]);
                let _ = e.matches(&[("agent", &agent)]);
            }
        }
    }
}
