//! Message and value templates: `{{ … }}` placeholders rendered by minijinja
//! over a run's variables.
//!
//! Templates are written by operators but rendered on every step a run
//! takes, so rendering is bounded the way routing expressions are: the
//! source length, the instructions run (fuel), recursion, and the output
//! (16 KiB). Jinja can also build values far larger than any output: `"x" *
//! 10**8`, or a `{% set a = a ~ a %}` doubled thirty times, or a `{% set %}`
//! block capturing its own output. Those cannot be stopped while rendering
//! (the engine has no hook for the size of a value), so they are refused
//! when the template is compiled: the `*` and `**` operators, every tag but
//! `if`, `for` and `set` (no macros, calls, filter blocks, block `set`s,
//! recursive loops or includes), and a `set` or `for` that combines names
//! the template itself assigned (it may only look into them). The filters
//! that could grow a value (`join`, `replace`, `string`) are replaced by
//! ones that stop at the output limit, and those that take a size (`indent`,
//! `batch`, `format` …) are left out. What remains grows no faster than the
//! template's length times the size of the variables it is given.
//!
//! Undefined lookups (`vars.missing.field`) render as nothing rather than
//! failing a customer's conversation; escaping is off, since these are chat
//! messages and not HTML.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use minijinja::machinery::{Token, WhitespaceConfig, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::tests as is;
use minijinja::value::{Rest, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, filters};

use super::model::{Template, ValueTemplate};

/// The variables a template or expression may use.
pub const VARS: &[&str] = &["params", "vars", "chat", "trigger"];
/// The longest template source, in characters.
pub const MAX_SOURCE_CHARS: usize = 10_000;
/// The longest rendered text, in bytes; also the most a filter may build.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024;
/// Instructions one render may run: far more than a message needs, far less
/// than a loop could spin.
const FUEL: u64 = 100_000;
/// How deeply rendering may recurse (nested loops over nested data).
const RECURSION_LIMIT: usize = 16;
/// The most numbers `range()` may give.
const MAX_RANGE: i64 = 1_000;
/// How deeply a value template (`body`, `data`) may nest.
const MAX_VALUE_DEPTH: usize = 64;
/// Functions a template may call, besides filters and tests.
const GLOBALS: &[&str] = &["range"];
/// The filters [`environment`] registers, so that a misspelt one is caught
/// when the flow is parsed rather than when a customer is waiting.
const FILTERS: &[&str] = &[
    "lower",
    "upper",
    "title",
    "capitalize",
    "trim",
    "length",
    "count",
    "default",
    "d",
    "first",
    "last",
    "min",
    "max",
    "abs",
    "int",
    "float",
    "round",
    "bool",
    "attr",
    "items",
    "dictsort",
    "reverse",
    "sort",
    "unique",
    "list",
    "split",
    "lines",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "join",
    "replace",
    "string",
];
/// The tests [`environment`] registers (`x is defined`).
const TESTS: &[&str] = &[
    "defined",
    "undefined",
    "none",
    "boolean",
    "true",
    "false",
    "number",
    "integer",
    "float",
    "string",
    "sequence",
    "mapping",
    "iterable",
    "odd",
    "even",
    "divisibleby",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "in",
    "eq",
    "equalto",
    "ne",
    "lt",
    "lessthan",
    "le",
    "gt",
    "greaterthan",
    "ge",
];
/// Statements a template may use; anything else (macros, calls, includes,
/// filter blocks) is refused.
const TAGS: &[&str] = &["if", "elif", "else", "endif", "for", "endfor", "set", "autoescape", "endautoescape"];

/// One environment for every template: built-in filters and tests that are
/// bounded, no loader, no auto-escaping, lenient undefined values.
static ENV: LazyLock<Environment<'static>> = LazyLock::new(environment);

fn environment() -> Environment<'static> {
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // A missing value (`null` in the data, like a chat with no record id)
    // renders as nothing, as an undefined one does.
    env.set_formatter(
        |out, state, value| {
            if value.is_none() { Ok(()) } else { minijinja::escape_formatter(out, state, value) }
        },
    );
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    add_filters(&mut env);
    add_tests(&mut env);
    env.add_function("range", range);
    env
}

fn add_filters(env: &mut Environment<'static>) {
    env.add_filter("lower", filters::lower);
    env.add_filter("upper", filters::upper);
    env.add_filter("title", filters::title);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("trim", filters::trim);
    env.add_filter("length", filters::length);
    env.add_filter("count", filters::length);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("min", filters::min);
    env.add_filter("max", filters::max);
    env.add_filter("abs", filters::abs);
    env.add_filter("int", filters::int);
    env.add_filter("float", filters::float);
    env.add_filter("round", filters::round);
    env.add_filter("bool", filters::bool);
    env.add_filter("attr", filters::attr);
    env.add_filter("items", filters::items);
    env.add_filter("dictsort", filters::dictsort);
    env.add_filter("reverse", filters::reverse);
    env.add_filter("sort", filters::sort);
    env.add_filter("unique", filters::unique);
    env.add_filter("list", filters::list);
    env.add_filter("split", filters::split);
    env.add_filter("lines", filters::lines);
    env.add_filter("select", filters::select);
    env.add_filter("reject", filters::reject);
    env.add_filter("selectattr", filters::selectattr);
    env.add_filter("rejectattr", filters::rejectattr);
    env.add_filter("map", filters::map);
    env.add_filter("groupby", filters::groupby);
    env.add_filter("join", join);
    env.add_filter("replace", replace);
    env.add_filter("string", string);
}

fn add_tests(env: &mut Environment<'static>) {
    env.add_test("defined", is::is_defined);
    env.add_test("undefined", is::is_undefined);
    env.add_test("none", is::is_none);
    env.add_test("boolean", is::is_boolean);
    env.add_test("true", is::is_true);
    env.add_test("false", is::is_false);
    env.add_test("number", is::is_number);
    env.add_test("integer", is::is_integer);
    env.add_test("float", is::is_float);
    env.add_test("string", is::is_string);
    env.add_test("sequence", is::is_sequence);
    env.add_test("mapping", is::is_mapping);
    env.add_test("iterable", is::is_iterable);
    env.add_test("odd", is::is_odd);
    env.add_test("even", is::is_even);
    env.add_test("divisibleby", is::is_divisibleby);
    env.add_test("startingwith", is::is_startingwith);
    env.add_test("endingwith", is::is_endingwith);
    env.add_test("lower", is::is_lower);
    env.add_test("upper", is::is_upper);
    env.add_test("in", is::is_in);
    for (names, test) in [
        (&["eq", "equalto", "=="][..], is::is_eq as fn(&Value, &Value) -> bool),
        (&["ne", "!="], is::is_ne),
        (&["lt", "lessthan", "<"], is::is_lt),
        (&["le", "<="], is::is_le),
        (&["gt", "greaterthan", ">"], is::is_gt),
        (&["ge", ">="], is::is_ge),
    ] {
        for name in names {
            env.add_test(*name, test);
        }
    }
}

/// Checks that `source` compiles, stays within the bounded subset described
/// above, and uses no variables but [`VARS`] (loop variables and `{% set %}`
/// names are its own). At most [`MAX_SOURCE_CHARS`] characters.
pub fn check(source: &str) -> Result<(), String> {
    variables(source).map(|_| ())
}

/// What a template reads: [`check`]ed, then every variable it looks up,
/// with the attributes that follow it (`vars.answer.reason`, `params`).
/// The flow parser uses it to find parameters and variables that nothing
/// declares.
pub(crate) fn variables(source: &str) -> Result<BTreeSet<String>, String> {
    let template = compile(source)?;
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| !VARS.contains(&name.as_str()) && !GLOBALS.contains(&name.as_str()))
        .collect();
    unknown.sort();
    if let Some(name) = unknown.first() {
        return Err(format!("unknown variable `{name}`; templates may use {}", VARS.join(", ")));
    }
    Ok(template.undeclared_variables(true).into_iter().collect())
}

/// Renders a template over `ctx` (an object with [`VARS`]).
pub fn render(template: &Template, ctx: &serde_json::Value) -> Result<String, String> {
    render_str(&template.0, ctx)
}

/// Renders every string in a value template; other values are kept, and so
/// are keys.
pub fn render_value(template: &ValueTemplate, ctx: &serde_json::Value) -> Result<serde_json::Value, String> {
    render_json(&template.0, ctx, 0)
}

fn render_json(value: &serde_json::Value, ctx: &serde_json::Value, depth: usize) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    if depth > MAX_VALUE_DEPTH {
        return Err(format!("the value nests more than {MAX_VALUE_DEPTH} levels"));
    }
    Ok(match value {
        J::String(source) => J::String(render_str(source, ctx)?),
        J::Array(items) => J::Array(items.iter().map(|v| render_json(v, ctx, depth + 1)).collect::<Result<_, _>>()?),
        J::Object(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, ctx, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn render_str(source: &str, ctx: &serde_json::Value) -> Result<String, String> {
    let template = compile(source)?;
    let mut out = Capped::default();
    // A bug in the engine fails this render, not the server.
    let rendered = catch_unwind(AssertUnwindSafe(|| template.render_captured_to(Value::from_serialize(ctx), &mut out)));
    match rendered {
        Ok(Ok(_)) => String::from_utf8(out.bytes).map_err(|_| "the template rendered invalid text".to_owned()),
        Ok(Err(_)) if out.overflowed => Err(too_long()),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("the template could not be rendered".to_owned()),
    }
}

fn too_long() -> String {
    format!("the rendered text is longer than {} KiB", MAX_OUTPUT_BYTES / 1024)
}

/// Compiles after the length and subset checks.
fn compile(source: &str) -> Result<minijinja::Template<'_, '_>, String> {
    if source.len() > MAX_SOURCE_CHARS && source.chars().count() > MAX_SOURCE_CHARS {
        return Err(format!("the template is longer than {MAX_SOURCE_CHARS} characters"));
    }
    let template = catch_unwind(AssertUnwindSafe(|| ENV.template_from_str(source)))
        .map_err(|_| "the template could not be compiled".to_owned())?
        .map_err(|e| describe(&e))?;
    check_subset(source)?;
    Ok(template)
}

/// A minijinja error as one line: what went wrong, and where.
fn describe(error: &minijinja::Error) -> String {
    let what = match (error.kind(), error.detail()) {
        (ErrorKind::SyntaxError, Some(detail)) => format!("syntax error: {detail}"),
        (ErrorKind::OutOfFuel, _) => "the template runs too long (too many loop iterations)".to_owned(),
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    match error.line() {
        Some(line) => format!("{what} (template line {line})"),
        None => what,
    }
}

/// The output, cut off (with an error) past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other(too_long()));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A string built by a filter, stopped (not truncated) past the limit.
#[derive(Default)]
struct Bounded(String);

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.len() + s.len() > MAX_OUTPUT_BYTES {
            return Err(fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

fn too_large(what: &str) -> minijinja::Error {
    minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("`{what}` would build more than {} KiB", MAX_OUTPUT_BYTES / 1024),
    )
}

/// `join`, writing item by item so that a huge list stops at the limit.
fn join(value: &Value, joiner: Option<&str>) -> Result<String, minijinja::Error> {
    let mut out = Bounded::default();
    if value.is_undefined() || value.is_none() {
        return Ok(String::new());
    }
    let items = value.try_iter()?;
    for (i, item) in items.enumerate() {
        let sep = if i > 0 { joiner.unwrap_or("") } else { "" };
        let written = match item.as_str() {
            Some(text) => write!(out, "{sep}{text}"),
            None => write!(out, "{sep}{item}"),
        };
        written.map_err(|_| too_large("join"))?;
    }
    Ok(out.0)
}

/// `replace`, refusing before it allocates when the result would be too large.
fn replace(value: &str, from: &str, to: &str) -> Result<String, minijinja::Error> {
    let occurrences = if from.is_empty() { value.chars().count() + 1 } else { value.matches(from).count() };
    let bound = occurrences.saturating_mul(to.len()).saturating_add(value.len());
    if bound > MAX_OUTPUT_BYTES && value.len() <= MAX_OUTPUT_BYTES.saturating_mul(4) {
        // The exact size decides: shorter replacements shrink the text.
        let exact = value.len().saturating_sub(occurrences.saturating_mul(from.len()));
        if exact.saturating_add(occurrences.saturating_mul(to.len())) > MAX_OUTPUT_BYTES {
            return Err(too_large("replace"));
        }
    } else if bound > MAX_OUTPUT_BYTES {
        return Err(too_large("replace"));
    }
    Ok(value.replace(from, to))
}

/// `string`, formatting into a bounded buffer (a nested list can print far
/// larger than it is).
fn string(value: &Value) -> Result<Value, minijinja::Error> {
    if value.as_str().is_some() {
        return Ok(value.clone());
    }
    let mut out = Bounded::default();
    write!(out, "{value}").map_err(|_| too_large("string"))?;
    Ok(Value::from(out.0))
}

/// `range(stop)`, `range(start, stop)`, `range(start, stop, step)`, with at
/// most [`MAX_RANGE`] numbers.
fn range(args: Rest<i64>) -> Result<Value, minijinja::Error> {
    let invalid = |message: &str| minijinja::Error::new(ErrorKind::InvalidOperation, message.to_owned());
    let (start, stop, step) = match args.as_slice() {
        [stop] => (0, *stop, 1),
        [start, stop] => (*start, *stop, 1),
        [start, stop, step] => (*start, *stop, *step),
        _ => return Err(invalid("range takes one to three numbers")),
    };
    if step == 0 {
        return Err(invalid("range step cannot be 0"));
    }
    let span = i128::from(stop) - i128::from(start);
    let count = if (span > 0) == (step > 0) && span != 0 {
        (span.abs() + i128::from(step).abs() - 1) / i128::from(step).abs()
    } else {
        0
    };
    if count > i128::from(MAX_RANGE) {
        return Err(invalid("range has more than 1000 numbers"));
    }
    let numbers: Vec<i64> =
        (0..count).filter_map(|i| i64::try_from(i128::from(start) + i * i128::from(step)).ok()).collect();
    Ok(Value::from(numbers))
}

/// The statements of a template, as tokens, for the subset checks.
struct Tag<'s> {
    tokens: Vec<Token<'s>>,
    line: u16,
}

/// Refuses what could build an unbounded value (see the module docs).
fn check_subset(source: &str) -> Result<(), String> {
    let mut tags: Vec<Tag<'_>> = Vec::new();
    let mut current: Option<Tag<'_>> = None;
    // What a name after this token would be: a filter, a test, or neither.
    let mut expects: Option<Expect> = None;
    // The syntax config is a unit struct unless minijinja's `custom_syntax` is on.
    #[allow(clippy::default_constructed_unit_structs)]
    let syntax = SyntaxConfig::default();
    for token in tokenize(source, false, syntax, WhitespaceConfig::default()) {
        let (token, span) = token.map_err(|e| describe(&e))?;
        let line = span.start_line;
        if matches!(token, Token::Mul | Token::Pow) {
            return Err(format!(
                "line {line}: the `*` and `**` operators are not allowed in templates (they can build huge strings)"
            ));
        }
        if let (Token::Ident(name), Some(expect)) = (&token, expects) {
            known_filter_or_test(expect, name).map_err(|e| format!("line {line}: {e}"))?;
        }
        expects = match (&token, expects) {
            (Token::Pipe, _) => Some(Expect::Filter),
            (Token::Ident("is"), _) => Some(Expect::Test),
            (Token::Ident("not"), Some(Expect::Test)) => Some(Expect::Test),
            _ => None,
        };
        match token {
            Token::BlockStart => current = Some(Tag { tokens: Vec::new(), line: span.start_line }),
            Token::BlockEnd => tags.extend(current.take()),
            other => {
                if let Some(tag) = current.as_mut() {
                    tag.tokens.push(other);
                }
            }
        }
    }
    let assigned = assigned_names(&tags)?;
    for tag in &tags {
        if let Some((what, expression)) = value_of(tag) {
            check_combination(what, expression, &assigned).map_err(|e| format!("line {}: {e}", tag.line))?;
        }
    }
    Ok(())
}

/// What the next name must be.
#[derive(Clone, Copy)]
enum Expect {
    Filter,
    Test,
}

/// A name after `|` must be a filter, and after `is` (or `is not`) a test.
fn known_filter_or_test(expect: Expect, name: &str) -> Result<(), String> {
    let (kind, known) = match expect {
        Expect::Filter => ("filter", FILTERS),
        Expect::Test if name == "not" => return Ok(()),
        Expect::Test => ("test", TESTS),
    };
    if known.contains(&name) {
        return Ok(());
    }
    let hint = crate::located::did_you_mean(name, known);
    Err(format!("unknown {kind} `{name}`{hint}; {kind}s: {}", known.join(", ")))
}

/// Every name a `set` or `for` assigns; refuses tags outside [`TAGS`],
/// block `set`s and recursive loops on the way.
fn assigned_names<'s>(tags: &[Tag<'s>]) -> Result<BTreeSet<&'s str>, String> {
    let mut names = BTreeSet::new();
    for tag in tags {
        let keyword = match tag.tokens.first() {
            Some(Token::Ident(keyword)) => *keyword,
            _ => "",
        };
        let at = format!("line {}", tag.line);
        if !TAGS.contains(&keyword) {
            return Err(format!("{at}: `{{% {keyword} %}}` is not allowed in templates; use if, for and set"));
        }
        let targets = match keyword {
            "set" => match top_level(&tag.tokens, |t| matches!(t, Token::Assign)) {
                Some(assign) => tag.tokens.get(1..assign).unwrap_or_default(),
                None => {
                    return Err(format!("{at}: a block `{{% set %}}` is not allowed; write `{{% set name = … %}}`"));
                }
            },
            "for" => {
                if top_level(&tag.tokens, |t| matches!(t, Token::Ident("recursive"))).is_some() {
                    return Err(format!("{at}: recursive loops are not allowed in templates"));
                }
                let end = top_level(&tag.tokens, |t| matches!(t, Token::Ident("in"))).unwrap_or(tag.tokens.len());
                tag.tokens.get(1..end).unwrap_or_default()
            }
            _ => &[],
        };
        names.extend(targets.iter().filter_map(|t| match t {
            Token::Ident(name) => Some(*name),
            _ => None,
        }));
    }
    Ok(names)
}

/// The expression whose value a `set` or `for` assigns, if the tag is one.
fn value_of<'a, 's>(tag: &'a Tag<'s>) -> Option<(&'static str, &'a [Token<'s>])> {
    match tag.tokens.first() {
        Some(Token::Ident("set")) => {
            let assign = top_level(&tag.tokens, |t| matches!(t, Token::Assign))?;
            Some(("set", tag.tokens.get(assign + 1..)?))
        }
        Some(Token::Ident("for")) => {
            let start = top_level(&tag.tokens, |t| matches!(t, Token::Ident("in")))? + 1;
            let rest = tag.tokens.get(start..)?;
            let end = top_level(rest, |t| matches!(t, Token::Ident("if"))).unwrap_or(rest.len());
            Some(("for", rest.get(..end)?))
        }
        _ => None,
    }
}

/// The index of the first token outside brackets that `is`.
fn top_level(tokens: &[Token<'_>], is: impl Fn(&Token<'_>) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
            Token::ParenClose | Token::BracketClose | Token::BraceClose => depth = depth.saturating_sub(1),
            t if depth == 0 && is(t) => return Some(i),
            _ => {}
        }
    }
    None
}

/// An expression that reads a name the template assigned may look into it
/// (`a.b`, `a["b"]`, `a|filter(…)`) but not combine it into something
/// larger: no `~`, `+`, lists, mappings, tuples or function calls. Without
/// this, `{% set a = a ~ a %}` (or the same through a loop) doubles a value
/// at each step.
fn check_combination(what: &str, tokens: &[Token<'_>], assigned: &BTreeSet<&str>) -> Result<(), String> {
    let reads = tokens.iter().enumerate().find_map(|(i, token)| match token {
        Token::Ident(name) if assigned.contains(name) && is_reference(tokens, i) => Some(*name),
        _ => None,
    });
    let Some(name) = reads else { return Ok(()) };
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let previous = i.checked_sub(1).and_then(|p| tokens.get(p));
        let combines = match token {
            Token::Tilde | Token::Plus | Token::BraceOpen => true,
            Token::Comma => depth == 0,
            Token::BracketOpen => !matches!(
                previous,
                Some(Token::Ident(_) | Token::BracketClose | Token::ParenClose | Token::Str(_) | Token::String(_))
            ),
            Token::ParenOpen => !is_filter_call(tokens, i),
            _ => false,
        };
        if combines {
            return Err(format!(
                "this `{what}` reads `{name}`, which the template assigns itself: it may look into it \
                 (`{name}.field`, `{name}|filter`) but not combine it with `~`, `+`, lists, mappings or calls"
            ));
        }
        match token {
            Token::ParenOpen | Token::BracketOpen => depth += 1,
            Token::ParenClose | Token::BracketClose => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Whether the identifier at `i` reads a variable: not an attribute
/// (`x.name`), a keyword argument (`name=…`), a filter or a test.
fn is_reference(tokens: &[Token<'_>], i: usize) -> bool {
    let previous = i.checked_sub(1).and_then(|p| tokens.get(p));
    let next = tokens.get(i + 1);
    !matches!(previous, Some(Token::Dot | Token::Pipe | Token::Ident("is" | "not")))
        && !matches!(next, Some(Token::Assign))
}

/// Whether the `(` at `i` opens the arguments of a filter or test (`|f(`, `is t(`).
fn is_filter_call(tokens: &[Token<'_>], i: usize) -> bool {
    let before = |n: usize| i.checked_sub(n).and_then(|p| tokens.get(p));
    matches!(before(1), Some(Token::Ident(_))) && matches!(before(2), Some(Token::Pipe | Token::Ident("is" | "not")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ctx() -> serde_json::Value {
        json!({
            "params": {"key": "K-1", "amount": 1200},
            "vars": {"answer": {"reason": "Purchase"}, "items": ["a", "b", "c"], "n": 3},
            "chat": {"attributes": {"name": "Ada"}},
            "trigger": {},
        })
    }

    fn render_text(source: &str) -> Result<String, String> {
        render(&Template(source.to_owned()), &ctx())
    }

    #[test]
    fn every_listed_filter_and_test_is_registered() {
        for filter in FILTERS {
            let e = render_text(&format!("{{{{ vars.items | {filter} }}}}")).err().unwrap_or_default();
            assert!(!e.contains("unknown filter"), "{filter}: {e}");
        }
        for test in TESTS {
            let e = render_text(&format!("{{{{ vars.n is {test} }}}}")).err().unwrap_or_default();
            assert!(!e.contains("unknown test"), "{test}: {e}");
        }
    }

    #[test]
    fn renders_placeholders_filters_and_loops() {
        assert_eq!(render_text("Hi {{ chat.attributes.name }}!").unwrap(), "Hi Ada!");
        assert_eq!(render_text("{{ vars.answer.reason | upper }}").unwrap(), "PURCHASE");
        assert_eq!(
            render_text("{% for i in vars.items %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}").unwrap(),
            "a,b,c"
        );
        assert_eq!(render_text("{{ vars.items | join(\", \") }}").unwrap(), "a, b, c");
        assert_eq!(render_text("{% set who = chat.attributes.name ~ \"!\" %}{{ who }}").unwrap(), "Ada!");
        assert_eq!(render_text("{{ params.amount + 1 }} {{ range(3) | join }}").unwrap(), "1201 012");
        // No escaping: these are chat messages.
        assert_eq!(render_text("{{ \"<b>&\" }}").unwrap(), "<b>&");
    }

    #[test]
    fn null_values_render_as_nothing() {
        let ctx = serde_json::json!({"chat": {"record_id": null}});
        assert_eq!(render(&Template("[{{ chat.record_id }}]".into()), &ctx).unwrap(), "[]");
    }

    #[test]
    fn undefined_values_render_as_nothing() {
        assert_eq!(render_text("[{{ vars.missing.deeper.still }}]").unwrap(), "[]");
        assert_eq!(render_text("[{{ params.nope }}]").unwrap(), "[]");
        assert_eq!(render_text("{{ vars.missing | default(\"none\") }}").unwrap(), "none");
    }

    #[test]
    fn render_value_renders_nested_strings_only() {
        let template =
            ValueTemplate(json!({"{{ x }}": ["{{ params.key }}", 3, {"r": "{{ vars.answer.reason }}"}], "b": true}));
        let value = render_value(&template, &ctx()).unwrap();
        assert_eq!(value, json!({"{{ x }}": ["K-1", 3, {"r": "Purchase"}], "b": true}));
        let bad = ValueTemplate(json!({"a": ["{{ oops"]}));
        assert!(render_value(&bad, &ctx()).is_err());
    }

    #[test]
    fn check_accepts_locals_and_refuses_unknown_variables() {
        check("{% for x in vars.items %}{{ x }}{% endfor %}{% set y = 1 %}{{ y }}").unwrap();
        check("plain text, no placeholders").unwrap();
        let e = check("{{ customer.name }}").unwrap_err();
        assert!(e.contains("unknown variable `customer`"), "{e}");
        let e = check("{{ vars.x ").unwrap_err();
        assert!(e.starts_with("syntax error"), "{e}");
        assert!(check(&"x".repeat(MAX_SOURCE_CHARS + 1)).is_err());
        let e = check("{{ vars | uper }}").unwrap_err();
        assert!(e.starts_with("line 1: unknown filter `uper` (did you mean `upper`?)"), "{e}");
        let e = check("{% if vars is not defind %}{% endif %}").unwrap_err();
        assert!(e.contains("unknown test `defind`"), "{e}");
        check("{% if vars is not defined and vars.x is odd %}{% endif %}").unwrap();
    }

    #[test]
    fn variables_lists_nested_lookups() {
        let names =
            variables("{{ vars.answer.reason }} {{ params.key }} {% for x in vars.items %}{{ x.y }}{% endfor %}")
                .unwrap();
        assert!(names.contains("vars.answer.reason"), "{names:?}");
        assert!(names.contains("params.key"), "{names:?}");
        assert!(names.contains("vars.items"), "{names:?}");
    }

    #[test]
    fn what_could_grow_without_bound_is_refused() {
        for source in [
            "{{ \"x\" * 100000000 }}",
            "{{ 10 ** 9 }}",
            "{% macro m() %}x{% endmacro %}",
            "{% set a %}{{ vars }}{% endset %}",
            "{% filter upper %}x{% endfilter %}",
            "{% include \"other\" %}",
            "{% for x in vars.items recursive %}{{ loop(x) }}{% endfor %}",
            "{% set a = vars.items %}{% set a = a ~ a %}",
            "{% set a = \"x\" %}{% set b = [a, a] %}",
            "{% set a = \"x\" %}{% set b = a, a %}",
            "{% for x in vars.items %}{% for y in [x ~ x] %}{% endfor %}{% endfor %}",
            "{% set a = vars.items %}{% set b = a|default(range(3)) %}",
        ] {
            assert!(check(source).is_err(), "{source}");
        }
        // Looking into what was assigned is fine.
        check(
            "{% for x in vars.orders %}{% for l in x.lines|sort(attribute=\"n\") %}{{ l.n }}{% endfor %}{% endfor %}",
        )
        .unwrap();
        check("{% set a = vars.answer %}{% set r = a.reason|upper %}{{ r ~ r }}").unwrap();
    }

    #[test]
    fn output_and_work_are_bounded() {
        let e = render_text("{% for i in range(1000) %}{{ vars.answer }}{{ vars.answer }}{% endfor %}").unwrap_err();
        assert!(e.contains("longer than 16 KiB"), "{e}");
        let e =
            render_text("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}").unwrap_err();
        assert!(e.contains("too long"), "{e}");
        assert!(render_text("{{ range(1001) }}").is_err());
        assert!(render_text("{{ \"abcdefgh\" | replace(\"\", range(1000)|join) }}").is_err());
        assert_eq!(render_text("{{ \"aXa\" | replace(\"X\", \"-\") }}").unwrap(), "a-a");
        assert_eq!(render_text("{{ range(10, 0, -3) | join(\",\") }}").unwrap(), "10,7,4,1");
        assert!(render_text("{{ range(1, 2, 0) }}").is_err());
    }

    #[test]
    fn deep_nesting_fails_cleanly() {
        for depth in [100, 149, 1_000] {
            let parens = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
            let _ = render_text(&parens);
            let lists = format!("{{{{ {}1{} }}}}", "[".repeat(depth), "]".repeat(depth));
            let _ = render_text(&lists);
            let ifs = format!("{}x{}", "{% if vars %}".repeat(depth), "{% endif %}".repeat(depth));
            let _ = render_text(&ifs);
            let fors = format!(
                "{}x{}",
                "{% for a in vars.items %}".repeat(depth.min(300)),
                "{% endfor %}".repeat(depth.min(300))
            );
            let _ = render_text(&fors);
            let filters = format!("{{{{ vars{} }}}}", "|upper".repeat(depth));
            let _ = render_text(&filters);
        }
    }

    /// Jinja-ish text: delimiters, keywords, operators, names.
    fn jinja_like() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "{{",
            "}}",
            "{%",
            "%}",
            "{#",
            "#}",
            "-",
            "+",
            " ",
            "\n",
            "set",
            "for",
            "in",
            "if",
            "else",
            "endif",
            "endfor",
            "endset",
            "raw",
            "endraw",
            "vars",
            "params",
            "chat",
            "trigger",
            ".",
            "x",
            "a",
            "=",
            "~",
            "|",
            "join",
            "upper",
            "default",
            "range(",
            ")",
            "(",
            "[",
            "]",
            "{",
            "}",
            ",",
            "'",
            "\"",
            "1",
            "1000",
            "loop",
            "is",
            "defined",
            "not",
            "and",
            "or",
            "*",
            "%",
            "\\",
            "é",
            "recursive",
        ]);
        prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }

    fn json_like() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            any::<i64>().prop_map(|i| json!(i)),
            any::<f64>().prop_map(|f| json!(f)),
            "\\PC{0,20}".prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec!["vars", "params", "chat", "trigger", "x", "a", "items"])
                        .prop_map(str::to_owned),
                    inner,
                    0..4,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn render_never_panics_on_arbitrary_text(source in "\\PC{0,200}", ctx in json_like()) {
            let _ = render(&Template(source.clone()), &ctx);
            let _ = check(&source);
        }

        #[test]
        fn render_never_panics_on_jinja_like_text(source in jinja_like(), ctx in json_like()) {
            if let Ok(text) = render(&Template(source.clone()), &ctx) {
                prop_assert!(text.len() <= MAX_OUTPUT_BYTES);
            }
            let _ = check(&source);
        }
    }
}
