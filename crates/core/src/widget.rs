//! How an entry point's chat widget looks and what it asks before a chat:
//! its title, accent colour, logo and greeting, and the pre-chat form whose
//! answers become the chat's attributes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// An entry point's widget: its look and its pre-chat form. Every field is
/// optional; the widget has defaults for each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetSettings {
    /// The panel's heading (default: the entry point's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `#rrggbb`: the launcher, the header and the customer's messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    /// An `https://` image URL, or a path on this server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// Shown above the pre-chat form, before the chat starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// Asked before a chat starts, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prechat: Vec<PrechatField>,
}

/// One question of the pre-chat form. Its answer is the chat attribute of
/// the same name; a field named `display_name` is the customer's name instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrechatField {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub kind: PrechatKind,
    #[serde(default)]
    pub required: bool,
    /// The choices of a `select`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrechatKind {
    #[default]
    Text,
    Email,
    Tel,
    Textarea,
    Select,
}

/// The name of the pre-chat field that is the customer's display name.
pub const DISPLAY_NAME_FIELD: &str = "display_name";

const MAX_FIELDS: usize = 20;
const MAX_TEXT: usize = 500;
const MAX_ANSWER: usize = 2000;

impl WidgetSettings {
    /// Checks settings before they are stored; errors name the field.
    pub fn check(&self) -> Result<()> {
        let short = |field: &str, value: &Option<String>, max: usize| match value {
            Some(v) if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) => {
                Err(Error::invalid(field, format!("1 to {max} characters, no control characters")))
            }
            _ => Ok(()),
        };
        short("widget.title", &self.title, 100)?;
        short("widget.greeting", &self.greeting.as_ref().map(|g| g.replace('\n', " ")), MAX_TEXT)?;
        if let Some(color) = &self.accent_color {
            let hex = color.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
            if hex.is_none() {
                return Err(Error::invalid("widget.accent_color", "a colour like #1a73e8"));
            }
        }
        if let Some(url) = &self.logo_url {
            let safe = url.len() <= 2000
                && (url.starts_with("https://") || (url.starts_with('/') && !url.starts_with("//")))
                && !url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'');
            if !safe {
                return Err(Error::invalid("widget.logo_url", "an https:// URL or a path on this server"));
            }
        }
        if self.prechat.len() > MAX_FIELDS {
            return Err(Error::invalid("widget.prechat", format!("at most {MAX_FIELDS} fields")));
        }
        for (i, f) in self.prechat.iter().enumerate() {
            let at = |what: &str| format!("widget.prechat[{i}].{what}");
            let name_ok = !f.name.is_empty()
                && f.name.len() <= 64
                && f.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !f.name.starts_with(|c: char| c.is_ascii_digit());
            if !name_ok {
                return Err(Error::invalid(at("name"), "letters, digits and _, 1 to 64, not starting with a digit"));
            }
            if self.prechat[..i].iter().any(|g| g.name == f.name) {
                return Err(Error::invalid(at("name"), format!("`{}` is asked twice", f.name)));
            }
            short(&at("label"), &Some(f.label.clone()), 200)?;
            match (f.kind, f.options.is_empty()) {
                (PrechatKind::Select, true) => return Err(Error::invalid(at("options"), "a select needs options")),
                (PrechatKind::Select, false) => {
                    if f.options.len() > 50 {
                        return Err(Error::invalid(at("options"), "at most 50 options"));
                    }
                    for o in &f.options {
                        short(&at("options"), &Some(o.clone()), 200)?;
                    }
                }
                (_, false) => return Err(Error::invalid(at("options"), "only a select has options")),
                (_, true) => {}
            }
        }
        Ok(())
    }

    /// Checks a public chat start against the pre-chat form: every required
    /// field answered, every answer of its kind. Errors name the attribute.
    pub fn check_answers(&self, display_name: Option<&str>, attributes: &Map<String, Value>) -> Result<()> {
        for f in &self.prechat {
            let answer = if f.name == DISPLAY_NAME_FIELD {
                display_name.map(str::to_owned)
            } else {
                match attributes.get(&f.name) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err(Error::invalid(field_path(&f.name), "must be text")),
                }
            };
            let answer = answer.filter(|a| !a.trim().is_empty());
            let Some(answer) = answer else {
                if f.required {
                    return Err(Error::invalid(field_path(&f.name), format!("{} is required", f.label)));
                }
                continue;
            };
            if answer.chars().count() > MAX_ANSWER {
                return Err(Error::invalid(field_path(&f.name), format!("at most {MAX_ANSWER} characters")));
            }
            let fits = match f.kind {
                PrechatKind::Email => looks_like_email(&answer),
                PrechatKind::Tel => {
                    answer.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
                        && answer.chars().filter(char::is_ascii_digit).count() >= 3
                }
                PrechatKind::Select => f.options.contains(&answer),
                PrechatKind::Text | PrechatKind::Textarea => true,
            };
            if !fits {
                let what = match f.kind {
                    PrechatKind::Email => "an email address",
                    PrechatKind::Tel => "a phone number",
                    _ => "one of the options",
                };
                return Err(Error::invalid(field_path(&f.name), format!("{} must be {what}", f.label)));
            }
        }
        Ok(())
    }
}

fn field_path(name: &str) -> String {
    if name == DISPLAY_NAME_FIELD { name.to_owned() } else { format!("attributes.{name}") }
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> WidgetSettings {
        serde_json::from_value(json!({
            "title": "Help", "accent_color": "#1A73e8", "logo_url": "https://cdn.example/logo.png",
            "prechat": [
                {"name": "display_name", "label": "Your name", "required": true},
                {"name": "email", "label": "Email", "kind": "email", "required": true},
                {"name": "topic", "label": "Topic", "kind": "select", "options": ["Billing", "Orders"]},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn good_settings_pass_and_bad_ones_name_their_field() {
        form().check().unwrap();
        let bad = [
            (json!({"accent_color": "blue"}), "widget.accent_color"),
            (json!({"logo_url": "javascript:alert(1)"}), "widget.logo_url"),
            (json!({"logo_url": "//evil.example/x.png"}), "widget.logo_url"),
            (json!({"title": " "}), "widget.title"),
            (json!({"prechat": [{"name": "1x", "label": "X"}]}), "widget.prechat[0].name"),
            (json!({"prechat": [{"name": "a", "label": "A"}, {"name": "a", "label": "B"}]}), "widget.prechat[1].name"),
            (json!({"prechat": [{"name": "a", "label": "A", "kind": "select"}]}), "widget.prechat[0].options"),
            (json!({"prechat": [{"name": "a", "label": "A", "options": ["x"]}]}), "widget.prechat[0].options"),
        ];
        for (settings, field) in bad {
            let settings: WidgetSettings = serde_json::from_value(settings).unwrap();
            let err = settings.check().unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{:?}", err.message);
        }
        assert!(serde_json::from_value::<WidgetSettings>(json!({"colour": "#000000"})).is_err());
    }

    #[test]
    fn answers_are_checked_against_the_form() {
        let f = form();
        let attrs = |v: Value| v.as_object().unwrap().clone();
        f.check_answers(Some("Jane"), &attrs(json!({"email": "jane@example.com", "topic": "Billing"}))).unwrap();
        f.check_answers(Some("Jane"), &attrs(json!({"email": "jane@example.com"}))).unwrap();
        let cases = [
            (None, json!({"email": "jane@example.com"}), "display_name"),
            (Some("Jane"), json!({}), "attributes.email"),
            (Some("Jane"), json!({"email": "jane"}), "attributes.email"),
            (Some("Jane"), json!({"email": 5}), "attributes.email"),
            (Some("Jane"), json!({"email": "jane@example.com", "topic": "Other"}), "attributes.topic"),
        ];
        for (name, a, field) in cases {
            let err = f.check_answers(name, &attrs(a)).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{:?}", err.message);
        }
        WidgetSettings::default().check_answers(None, &Map::new()).unwrap();
    }
}
