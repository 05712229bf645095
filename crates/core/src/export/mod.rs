//! Transcript export: a conversation's log rendered as one file — a JSON
//! document, plain text, or a self-contained HTML page.
//!
//! Rendering is pure and incremental: a [`Renderer`] is given what is known
//! before the first event (a [`Header`]: the segments of the history and who
//! took part), then the events one by one, oldest first, each segment
//! announced before its events, and it hands back text to write as it goes.
//! Nothing here holds more than one event at a time, besides the names of the
//! participants and of the files shared, so an export of any length streams.
//! Reading the log page by page is the engine's part (`engine/export.rs`).
//!
//! What every format keeps: user content (messages, names, file names, form
//! values) is data, never markup — HTML escapes it, text shows control
//! characters as escapes so a transcript cannot drive a terminal — and a file
//! is linked by its stable API resource, never by a short-lived signed URL.

use std::collections::HashMap;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::event::Event;
use crate::files::model::AttachmentStatus;
use crate::ids::{AttachmentId, ConversationId, ParticipantId, WorkspaceId};
use crate::model::{Attributes, Conversation, ConversationState, Participant, Rehydration, Role};

mod html;
mod json;
mod lines;
mod text;

pub use html::content_security_policy;

/// The file formats a transcript is exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON document: the conversation, its segments, the participants,
    /// every event in its wire form, and the files shared.
    Json,
    /// Lines a person reads: `[2026-12-04 10:15:02Z] Alice (customer): hello`.
    Text,
    /// A self-contained HTML page, every piece of user content escaped.
    Html,
}

impl Format {
    pub const ALL: [Format; 3] = [Self::Json, Self::Text, Self::Html];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(Self::Json),
            "text" | "txt" => Some(Self::Text),
            "html" => Some(Self::Html),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
            Self::Html => "html",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "txt",
            Self::Html => "html",
        }
    }

    /// The media type, with its charset where it has one.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Text => "text/plain; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
        }
    }
}

/// Which part of a continued chat's history an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segments {
    /// The conversation's own log only.
    Current,
    /// Every segment of its history, oldest first (persistent chat).
    All,
}

impl Segments {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "current" => Some(Self::Current),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::All => "all",
        }
    }
}

/// Where the files of an export link to: the API resource of each
/// attachment, `{public_url}/api/v1/conversations/{id}/attachments/{id}`,
/// which hands out a fresh download link to whoever may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: String,
}

impl Links {
    /// Links under `public_url` (the server's base URL, as clients reach it).
    pub fn new(public_url: &str) -> Self {
        Self { base: public_url.trim_end_matches('/').to_owned() }
    }

    pub fn attachment(&self, conversation: ConversationId, attachment: AttachmentId) -> String {
        format!("{}/api/v1/conversations/{conversation}/attachments/{attachment}", self.base)
    }
}

/// A conversation of the history as the export shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub state: ConversationState,
    pub attributes: Attributes,
    pub record_id: Option<String>,
    pub previous_conversation_id: Option<ConversationId>,
    pub rehydration: Option<Rehydration>,
    pub next_conversation_id: Option<ConversationId>,
    pub created_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    /// The export holds the log up to this seq: where it stood when the
    /// export began.
    pub last_seq: i64,
}

impl From<&Conversation> for Summary {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace_id,
            state: c.state,
            attributes: c.attributes.clone(),
            record_id: c.record_id.clone(),
            previous_conversation_id: c.previous_conversation_id,
            rehydration: c.rehydration,
            next_conversation_id: c.next_conversation_id,
            created_at: c.created_at,
            ended_at: c.ended_at,
            last_seq: c.last_seq,
        }
    }
}

/// Someone who took part, in one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub id: ParticipantId,
    pub conversation_id: ConversationId,
    pub role: Role,
    pub display_name: String,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
}

impl From<&Participant> for Person {
    fn from(p: &Participant) -> Self {
        Self {
            id: p.id,
            conversation_id: p.conversation_id,
            role: p.role,
            display_name: p.display_name.clone(),
            joined_at: p.joined_at,
            left_at: p.left_at,
        }
    }
}

/// What an export knows before its first event.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The conversation asked about: the newest segment.
    pub conversation: Summary,
    /// The segments exported, oldest first; the conversation asked about last.
    pub segments: Vec<Summary>,
    /// Who took part in them, as the reader may see them (no silent monitors
    /// for customers and agents).
    pub participants: Vec<Person>,
    pub segments_mode: Segments,
    pub exported_at: Timestamp,
}

impl Header {
    /// The number of events the segments' logs hold (an upper bound on what
    /// is exported: the reader's screen may hide some).
    pub fn log_events(&self) -> u64 {
        self.segments.iter().map(|s| u64::try_from(s.last_seq).unwrap_or(0)).sum()
    }
}

/// A file shared in the conversation, as the export lists and links it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedFile {
    pub id: AttachmentId,
    pub conversation_id: ConversationId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub status: AttachmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The attachment's API resource (a fresh download link is had from it).
    pub link: String,
}

/// What the formats share while rendering: who is who, the files seen so
/// far, and where files link to.
#[derive(Debug)]
pub(crate) struct Context {
    cast: HashMap<ParticipantId, (String, Role)>,
    files: Vec<SharedFile>,
    file_index: HashMap<AttachmentId, usize>,
    links: Links,
}

impl Context {
    fn new(header: &Header, links: Links) -> Self {
        let cast = header.participants.iter().map(|p| (p.id, (p.display_name.clone(), p.role))).collect();
        Self { cast, files: Vec::new(), file_index: HashMap::new(), links }
    }

    /// The display name and role of a participant, when the export knows it.
    pub(crate) fn person(&self, id: ParticipantId) -> Option<(&str, Role)> {
        self.cast.get(&id).map(|(name, role)| (name.as_str(), *role))
    }

    pub(crate) fn file(&self, id: AttachmentId) -> Option<&SharedFile> {
        self.file_index.get(&id).map(|&i| &self.files[i])
    }

    /// Takes in what an event says about files, before it is rendered.
    fn learn(&mut self, e: &Event) {
        use crate::event::EventKind;
        match &e.kind {
            EventKind::Attachment { attachment_id, name, content_type, size, sha256, status, .. } => {
                let file = SharedFile {
                    id: *attachment_id,
                    conversation_id: e.conversation_id,
                    name: name.clone(),
                    content_type: content_type.clone(),
                    size: *size,
                    sha256: sha256.clone(),
                    status: *status,
                    reason: None,
                    link: self.links.attachment(e.conversation_id, *attachment_id),
                };
                match self.file_index.get(attachment_id) {
                    Some(&i) => self.files[i] = file,
                    None => {
                        self.file_index.insert(*attachment_id, self.files.len());
                        self.files.push(file);
                    }
                }
            }
            EventKind::AttachmentScanned { attachment_id, status, reason } => {
                if let Some(&i) = self.file_index.get(attachment_id) {
                    self.files[i].status = *status;
                    self.files[i].reason.clone_from(reason);
                }
            }
            _ => {}
        }
    }
}

/// One format's way of writing the parts of an export.
trait Layout: Send {
    fn start(&mut self, header: &Header, out: &mut String);
    fn segment(&mut self, segment: &Summary, out: &mut String);
    fn event(&mut self, e: &Event, ctx: &Context, out: &mut String);
    fn finish(&mut self, ctx: &Context, out: &mut String);
}

/// Renders one export, part by part: [`Renderer::start`], then for each
/// segment [`Renderer::segment`] and its events, then [`Renderer::finish`].
pub struct Renderer {
    layout: Box<dyn Layout>,
    ctx: Context,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

impl Renderer {
    pub fn new(format: Format, header: &Header, links: Links) -> Self {
        let layout: Box<dyn Layout> = match format {
            Format::Json => Box::new(json::Json::default()),
            Format::Text => Box::new(text::Text),
            Format::Html => Box::new(html::Html::default()),
        };
        Self { layout, ctx: Context::new(header, links) }
    }

    pub fn start(&mut self, header: &Header, out: &mut String) {
        self.layout.start(header, out);
    }

    /// Announces the segment whose events come next.
    pub fn segment(&mut self, segment: &Summary, out: &mut String) {
        self.layout.segment(segment, out);
    }

    pub fn event(&mut self, e: &Event, out: &mut String) {
        self.ctx.learn(e);
        self.layout.event(e, &self.ctx, out);
    }

    pub fn finish(&mut self, out: &mut String) {
        self.layout.finish(&self.ctx, out);
    }
}

/// `2026-12-04 10:15:02Z`: a time to the second, for people.
pub(crate) fn when(t: Timestamp) -> String {
    let full = t.to_rfc3339();
    match (full.get(..10), full.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time}Z"),
        _ => full,
    }
}

/// A size for people: `812 B`, `12.1 KiB`, `3.4 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Renders a whole export held in memory: for tests and small exports.
pub fn render_all(format: Format, header: &Header, links: Links, events: &[Event]) -> String {
    let mut out = String::new();
    let mut r = Renderer::new(format, header, links);
    r.start(header, &mut out);
    for segment in &header.segments {
        r.segment(segment, &mut out);
        for e in events.iter().filter(|e| e.conversation_id == segment.id) {
            r.event(e, &mut out);
        }
    }
    r.finish(&mut out);
    out
}

#[cfg(test)]
mod tests;
