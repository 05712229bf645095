//! Forms: typed fields sent into a conversation as a `form` event and
//! answered by a `form.submitted` event whose values the server checks here.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The most fields a form may have.
pub const MAX_FIELDS: usize = 50;
/// The longest text value a field accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// A form as written in a flow (`show_form.form`) and carried by the `form` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormSpec {
    /// A name for the form, unique within its flow (`use_of_funds`).
    pub name: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    /// What the person filling it in sees (defaults to the name).
    #[serde(default)]
    pub label: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
}

/// What a field holds. `pattern` is a regular expression the whole value
/// must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
    },
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    Choice {
        choices: Vec<String>,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    Email,
    Boolean,
}

impl FieldKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Number { .. } => "number",
            Self::Choice { .. } => "choice",
            Self::Date => "date",
            Self::Email => "email",
            Self::Boolean => "boolean",
        }
    }

    pub const TYPES: &'static [&'static str] = &["text", "number", "choice", "date", "email", "boolean"];
}

/// Compiles a field pattern, anchored to the whole value, with a size limit
/// (a pattern is operator input, never a way to exhaust the server).
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(256 * 1024)
        .nest_limit(50)
        .build()
        .map_err(|e| format!("not a valid regular expression: {e}"))
}

impl FormSpec {
    /// Checks submitted values against the form and returns them as stored:
    /// only the form's fields, numbers as numbers, choices as written in the
    /// form. Errors are 422s naming the field (`values.amount`).
    pub fn check(&self, values: &Values) -> Result<Values, Error> {
        check_values(&self.fields, values, "values")
    }
}

/// Field values by field name.
pub type Values = serde_json::Map<String, serde_json::Value>;

/// Checks `values` against `fields`: no unknown keys, required ones present,
/// each of its type. Errors name `{prefix}.{field}`.
pub fn check_values(fields: &[Field], values: &Values, prefix: &str) -> Result<Values, Error> {
    let bad = |field: &str, message: String| Error::invalid(format!("{prefix}.{field}"), message);
    if let Some(unknown) = values.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        return Err(bad(unknown, format!("there is no field `{unknown}`")));
    }
    let mut out = Values::new();
    for field in fields {
        let value = values.get(&field.name).filter(|v| !v.is_null() && v.as_str() != Some(""));
        let Some(value) = value else {
            if field.required {
                return Err(bad(&field.name, format!("`{}` is required", field.label)));
            }
            continue;
        };
        let checked = field.kind.check(value).map_err(|m| bad(&field.name, m))?;
        out.insert(field.name.clone(), checked);
    }
    Ok(out)
}

impl FieldKind {
    fn check(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        let text = || match value {
            J::String(s) if s.chars().count() <= MAX_TEXT_CHARS => Ok(s.as_str()),
            J::String(_) => Err(format!("at most {MAX_TEXT_CHARS} characters")),
            other => Err(format!("expected a string, got {}", json_kind(other))),
        };
        match self {
            Self::Text { pattern } => {
                let s = text()?;
                if let Some(p) = pattern {
                    let re = compile_pattern(p)?;
                    if !re.is_match(s) {
                        return Err(format!("does not match the pattern {p}"));
                    }
                }
                Ok(J::String(s.to_owned()))
            }
            Self::Number { min, max } => {
                let n = match value {
                    J::Number(n) => n.as_f64(),
                    J::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                    _ => None,
                }
                .ok_or_else(|| format!("expected a number, got {}", json_kind(value)))?;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(format!(
                        "must be {}",
                        match (min, max) {
                            (Some(a), Some(b)) => format!("from {a} to {b}"),
                            (Some(a), None) => format!("at least {a}"),
                            (None, Some(b)) => format!("at most {b}"),
                            (None, None) => String::new(),
                        }
                    ));
                }
                Ok(serde_json::Number::from_f64(n).map_or(J::Null, |num| {
                    if n.fract() == 0.0 && n.abs() < 9.0e15 { J::from(n as i64) } else { J::Number(num) }
                }))
            }
            Self::Choice { choices } => {
                let s = text()?;
                choices
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(s.trim()))
                    .map(|c| J::String(c.clone()))
                    .ok_or_else(|| format!("must be one of: {}", choices.join(", ")))
            }
            Self::Date => {
                let s = text()?;
                let format = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(s, format).map_err(|_| "expected a date as YYYY-MM-DD".to_owned())?;
                Ok(J::String(s.to_owned()))
            }
            Self::Email => {
                let s = text()?.trim();
                let ok = s.len() <= 254
                    && s.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                            && !domain.contains('@')
                    });
                if !ok {
                    return Err("expected an email address".to_owned());
                }
                Ok(J::String(s.to_owned()))
            }
            Self::Boolean => match value {
                J::Bool(b) => Ok(J::Bool(*b)),
                J::String(s) if s.eq_ignore_ascii_case("true") => Ok(J::Bool(true)),
                J::String(s) if s.eq_ignore_ascii_case("false") => Ok(J::Bool(false)),
                other => Err(format!("expected true or false, got {}", json_kind(other))),
            },
        }
    }
}

pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}
