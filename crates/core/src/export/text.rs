//! The plain-text format: a short header, then one line per event,
//! `[2026-12-04 10:15:02Z] Alice (customer): hello`, each segment under a
//! heading of its own. Lines of a multi-line message are indented under it.
//! Control characters (and the ones that reorder text) are shown as escapes,
//! so a transcript printed in a terminal cannot move the cursor, change
//! colours, or hide what it says.

use std::fmt::Write as _;

use super::lines::{Line, line};
use super::{Context, Header, Layout, SharedFile, Summary, size, when};
use crate::event::Event;

#[derive(Debug, Default)]
pub(super) struct Text;

impl Layout for Text {
    fn start(&mut self, header: &Header, out: &mut String) {
        let c = &header.conversation;
        let _ = writeln!(out, "Transcript of conversation {}", c.id);
        let _ = writeln!(out, "Exported {} (times are UTC).", when(header.exported_at));
        if let Some(r) = &c.record_id {
            let _ = writeln!(out, "Record: {}", plain(r));
        }
        if header.segments.len() > 1 {
            let _ = writeln!(out, "It continues earlier chats: {} segments, oldest first.", header.segments.len());
        }
        out.push_str("Participants:\n");
        for p in &header.participants {
            let _ = writeln!(out, "  {} ({}) in {}", plain(&p.display_name), p.role.as_str(), p.conversation_id);
        }
    }

    fn segment(&mut self, s: &Summary, out: &mut String) {
        let _ = write!(out, "\n== Conversation {}", s.id);
        if let Some(previous) = s.previous_conversation_id {
            let _ = write!(out, " (continues {previous})");
        }
        let _ = write!(out, ", started {}", when(s.created_at));
        if let Some(ended) = s.ended_at {
            let _ = write!(out, ", ended {}", when(ended));
        }
        out.push_str(" ==\n");
    }

    fn event(&mut self, e: &Event, ctx: &Context, out: &mut String) {
        let stamp = when(e.at);
        match line(e, ctx) {
            Line::Skipped => {}
            Line::Said { who, content } => {
                let _ = writeln!(out, "[{stamp}] {}: {}", plain(&who.label()), indented(&plain(content)));
            }
            Line::Note { text, file: None } => {
                let _ = writeln!(out, "[{stamp}] {}", plain(&text));
            }
            Line::Note { text, file: Some(f) } => {
                let _ = writeln!(out, "[{stamp}] {} {}", plain(&text), file(&f));
            }
        }
    }

    fn finish(&mut self, _ctx: &Context, _out: &mut String) {}
}

/// `report.pdf (application/pdf, 12.1 KiB, sha256 ab12…, approved) <link>`.
fn file(f: &SharedFile) -> String {
    format!(
        "{} ({}, {}, sha256 {}, {}) <{}>",
        plain(&f.name),
        plain(&f.content_type),
        size(f.size),
        plain(&f.sha256),
        f.status.as_str(),
        f.link
    )
}

/// Continuation lines of a message, indented under its first line.
fn indented(s: &str) -> String {
    s.replace('\n', "\n    ")
}

/// `s` with control characters other than newline and tab, and the
/// characters that reorder text (bidirectional overrides and isolates),
/// written as `\u{…}` escapes (a CR before a LF is dropped: it ends the line too).
pub(crate) fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // Windows line ends are line ends.
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if risky(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn risky(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
