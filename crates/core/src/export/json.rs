//! The JSON format: one document, written as it goes.
//!
//! ```json
//! {"export":{"format":"switchboard.transcript","version":1,"exported_at":"…","segments":"all"},
//!  "conversation":{…},
//!  "segments":[{…},{…}],
//!  "participants":[{"id":"prt_…","conversation_id":"cnv_…","role":"customer","display_name":"Alice",…}],
//!  "events":[
//! {"conversation_id":"cnv_…","seq":1,"id":"evt_…","at":"…","participant_id":null,"type":"conversation.created",…},
//! …
//! ],
//!  "attachments":[{"id":"att_…","name":"…","sha256":"…","status":"approved","link":"https://…/attachments/att_…"}]}
//! ```
//!
//! Each event is in its wire form (as the transcript API returns it), one
//! per line, and says which segment it belongs to by its `conversation_id`.
//! The files come last: their verdicts are known only once the events have
//! gone by.

use serde::Serialize;

use super::{Context, Header, Layout, Summary};
use crate::clock::Timestamp;
use crate::event::Event;

/// What the `export` object says.
#[derive(Serialize)]
struct About {
    format: &'static str,
    version: u32,
    exported_at: Timestamp,
    segments: &'static str,
}

#[derive(Debug, Default)]
pub(super) struct Json {
    events: u64,
}

impl Layout for Json {
    fn start(&mut self, header: &Header, out: &mut String) {
        let about = About {
            format: "switchboard.transcript",
            version: 1,
            exported_at: header.exported_at,
            segments: header.segments_mode.as_str(),
        };
        out.push_str("{\"export\":");
        push(out, &about);
        out.push_str(",\n\"conversation\":");
        push(out, &header.conversation);
        out.push_str(",\n\"segments\":");
        push(out, &header.segments);
        out.push_str(",\n\"participants\":");
        push(out, &header.participants);
        out.push_str(",\n\"events\":[");
    }

    fn segment(&mut self, _segment: &Summary, _out: &mut String) {}

    fn event(&mut self, e: &Event, _ctx: &Context, out: &mut String) {
        out.push_str(if self.events == 0 { "\n" } else { ",\n" });
        push(out, e);
        self.events += 1;
    }

    fn finish(&mut self, ctx: &Context, out: &mut String) {
        out.push_str("\n],\n\"attachments\":");
        push(out, &ctx.files);
        out.push_str("}\n");
    }
}

/// Appends `value` as JSON. Our records always serialize (their map keys are
/// strings), so a failure cannot happen; were it to, `null` keeps the
/// document well formed.
fn push(out: &mut String, value: &impl Serialize) {
    match serde_json::to_string(value) {
        Ok(s) => out.push_str(&s),
        Err(_) => out.push_str("null"),
    }
}
