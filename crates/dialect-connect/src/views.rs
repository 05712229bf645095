//! Flow forms as Connect views.
//!
//! A form sent to the customer reaches a Connect client as an interactive
//! message (`application/vnd.amazonaws.connect.message.interactive`, template
//! type `ViewResource`) carrying a view token, which is the form's id.
//! `DescribeView` answers the view: its `InputSchema` is a JSON Schema of the
//! form's fields and its `Template` the form itself as Switchboard describes
//! it (title, description, fields with labels and rules). The answer is sent
//! back with `SendMessage` as an interactive response naming the view token,
//! the action and the values; it is checked like any form submission.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_core::flows::form::{FieldKind, FormSpec, Values};
use switchboard_core::flows::model::Side;
use switchboard_core::ids::FormId;
use switchboard_core::model::Role;

use crate::error::{AwsError, AwsResult};

pub const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";
pub const INTERACTIVE_RESPONSE: &str = "application/vnd.amazonaws.connect.message.interactive.response";
/// The one action a form view has.
pub const SUBMIT: &str = "Submit";

/// The side of the chat a participant of `role` answers forms for.
pub fn side_of(role: Role) -> Side {
    if role == Role::Customer { Side::Customer } else { Side::Agent }
}

/// The interactive message that announces a form.
pub fn announcement(form: FormId, spec: &FormSpec) -> String {
    json!({
        "templateType": "ViewResource",
        "version": "1.0",
        "data": {"content": {"viewToken": form.to_string(), "title": spec.title}},
    })
    .to_string()
}

/// The interactive response a submitted form is shown as.
pub fn response(form: FormId, values: &Values) -> String {
    json!({"viewToken": form.to_string(), "action": SUBMIT, "values": values}).to_string()
}

/// A JSON Schema of the form's fields.
pub fn input_schema(spec: &FormSpec) -> Value {
    let mut properties = Map::new();
    for f in &spec.fields {
        let mut p = Map::new();
        p.insert("title".into(), json!(if f.label.is_empty() { &f.name } else { &f.label }));
        match &f.kind {
            FieldKind::Text { pattern } => {
                p.insert("type".into(), json!("string"));
                if let Some(pattern) = pattern {
                    p.insert("pattern".into(), json!(format!("^(?:{pattern})$")));
                }
            }
            FieldKind::Number { min, max } => {
                p.insert("type".into(), json!("number"));
                if let Some(min) = min {
                    p.insert("minimum".into(), json!(min));
                }
                if let Some(max) = max {
                    p.insert("maximum".into(), json!(max));
                }
            }
            FieldKind::Choice { choices } => {
                p.insert("type".into(), json!("string"));
                p.insert("enum".into(), json!(choices));
            }
            FieldKind::Date => {
                p.insert("type".into(), json!("string"));
                p.insert("format".into(), json!("date"));
            }
            FieldKind::Email => {
                p.insert("type".into(), json!("string"));
                p.insert("format".into(), json!("email"));
            }
            FieldKind::Boolean => {
                p.insert("type".into(), json!("boolean"));
            }
        }
        properties.insert(f.name.clone(), Value::Object(p));
    }
    let required: Vec<&str> = spec.fields.iter().filter(|f| f.required).map(|f| f.name.as_str()).collect();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// `DescribeView`'s `View` for a form.
pub fn view(form: FormId, spec: &FormSpec) -> Value {
    json!({
        "Id": form.to_string(),
        "Arn": format!("arn:switchboard:connect:::view/{form}"),
        "Name": spec.title,
        "Version": 1,
        "Content": {
            "InputSchema": input_schema(spec).to_string(),
            "Template": serde_json::to_string(spec).unwrap_or_default(),
            "Actions": [SUBMIT],
        },
    })
}

/// An interactive response, read: the form it answers and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub form: FormId,
    pub values: Values,
}

/// Reads `SendMessage`'s `Content` for an interactive response. Never panics.
pub fn read_answer(content: &str) -> AwsResult<Answer> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        view_token: String,
        action: Option<String>,
        #[serde(default)]
        values: Values,
    }
    let raw: Raw = serde_json::from_str(content).map_err(|_| {
        AwsError::validation(
            "Content of an interactive response must be {\"viewToken\": …, \"action\": \"Submit\", \"values\": {…}}",
        )
    })?;
    if raw.action.as_deref().is_some_and(|a| a != SUBMIT) {
        return Err(AwsError::validation(format!("action must be `{SUBMIT}`")));
    }
    let form = FormId::parse(&raw.view_token)
        .map_err(|_| AwsError::validation(format!("viewToken `{}` names no view of this chat", raw.view_token)))?;
    Ok(Answer { form, values: raw.values })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn answers_are_read_and_checked() {
        let form = FormId::new();
        let ok = read_answer(&response(form, &Values::new())).unwrap();
        assert_eq!(ok.form, form);
        assert!(read_answer(&format!(r#"{{"viewToken":"{form}","action":"Cancel"}}"#)).is_err());
        assert!(read_answer(r#"{"viewToken":"nope"}"#).is_err());
        assert!(read_answer("[]").is_err());
    }

    proptest! {
        #[test]
        fn no_content_panics_the_reader(text in ".{0,200}") {
            let _ = read_answer(&text);
        }
    }
}
