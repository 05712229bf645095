//! Custom event types ("platform events"): declared with typed fields, each
//! published event carries a correlation key and is checked against its type.

use serde::{Deserialize, Serialize};

use super::form::{Field, Values, check_values};
use crate::error::Error;

/// How long published events are kept by default, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 3;
/// The longest retention, in days.
pub const MAX_RETENTION_DAYS: u32 = 90;
/// The longest correlation key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// A declared event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventType {
    /// `[a-z0-9][a-z0-9_.-]*`, at most 100 characters (`use_of_funds`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The fields of an event's `data`; no others are accepted.
    pub fields: Vec<Field>,
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

impl EventType {
    /// Checks an event's data against the type; errors name `data.FIELD`.
    pub fn check(&self, data: &Values) -> Result<Values, Error> {
        check_values(&self.fields, data, "data")
    }
}

/// Checks a correlation key: 1 to 255 bytes, no control characters.
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) {
        return Err(Error::invalid("key", "1 to 255 bytes, no control characters"));
    }
    Ok(())
}
