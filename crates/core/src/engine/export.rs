//! Transcript export: who may export a conversation (whoever may read its
//! transcript), what the export holds (the conversation's log, or every
//! segment of its history, each as the reader may see it), and reading it
//! page by page into the renderer of `crate::export`, so an export of any
//! length is streamed in chunks of one page.
//!
//! An export is the conversation as it stood when the export began: each
//! segment's log is read up to its `last_seq` at that moment, so the
//! participants listed and the events written agree even while the chat
//! goes on.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use super::{Caller, Engine};
use crate::error::{Error, Result};
use crate::event::Screen;
use crate::export::{Format, Header, Links, Person, Renderer, Segments, Summary};
use crate::ids::ConversationId;
use crate::model::Conversation;
use crate::store::{EventRange, Store};

/// What to export, and how.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub format: Format,
    pub segments: Segments,
    /// Where files link to.
    pub links: Links,
}

/// One segment to read: its conversation, how far, and what the reader may see of it.
struct Part {
    conversation: ConversationId,
    last_seq: i64,
    screen: Screen,
}

/// Where the reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    /// Segment `part` is announced; its events after `after` come next.
    Reading {
        part: usize,
        after: i64,
    },
    /// The next segment (or the end) comes next.
    Next {
        part: usize,
    },
    Done,
}

/// An export whose access was checked: its header is known, its events are
/// read a page at a time by [`Export::next_chunk`].
pub struct Export {
    store: Arc<dyn Store>,
    header: Header,
    parts: Vec<Part>,
    renderer: Renderer,
    page: u32,
    step: Step,
    events: u64,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export").field("header", &self.header).field("step", &self.step).finish_non_exhaustive()
    }
}

impl Engine {
    /// Prepares the export of a conversation's transcript, for whoever may
    /// read the transcript: its participants, the agents it was routed to, a
    /// workspace key of its workspace. With [`Segments::All`] the earlier
    /// segments of a continued chat are exported through it, with the same
    /// screens as the transcript across segments.
    pub async fn export(&self, caller: &Caller, id: ConversationId, request: ExportRequest) -> Result<Export> {
        let asked = self.conversation(caller, id).await?;
        let ids = match request.segments {
            Segments::All => self.history(&asked).await?,
            Segments::Current => vec![asked.id],
        };
        let mut segments = Vec::with_capacity(ids.len());
        let mut participants = Vec::new();
        let mut parts = Vec::with_capacity(ids.len());
        for sid in ids {
            let c = if sid == asked.id { asked.clone() } else { self.segment(sid).await? };
            let screen = self.screen_for(caller, sid).await?;
            let people = self.store.participants(sid).await?;
            participants.extend(people.iter().filter(|p| !screen.hides(p.id)).map(Person::from));
            parts.push(Part { conversation: sid, last_seq: c.last_seq, screen });
            segments.push(Summary::from(&c));
        }
        let header = Header {
            conversation: Summary::from(&asked),
            segments,
            participants,
            segments_mode: request.segments,
            exported_at: self.now(),
        };
        let renderer = Renderer::new(request.format, &header, request.links);
        Ok(Export {
            store: self.store.clone(),
            header,
            parts,
            renderer,
            page: self.limits.page_max,
            step: Step::Start,
            events: 0,
        })
    }

    /// An earlier segment of a history being exported.
    async fn segment(&self, id: ConversationId) -> Result<Conversation> {
        self.store.conversation(id).await?.ok_or_else(|| Error::internal(format!("segment {id} of a history is gone")))
    }
}

impl Export {
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The next piece of the file: the header, then a page of events at a
    /// time, then the end; `None` once it is all written. After an error
    /// the export is over.
    pub async fn next_chunk(&mut self) -> Result<Option<String>> {
        let mut out = String::new();
        while out.is_empty() && self.step != Step::Done {
            match self.advance(&mut out).await {
                Ok(step) => self.step = step,
                Err(e) => {
                    self.step = Step::Done;
                    return Err(e);
                }
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Takes one step, writing what it produces into `out`.
    async fn advance(&mut self, out: &mut String) -> Result<Step> {
        Ok(match self.step {
            Step::Start => {
                self.renderer.start(&self.header, out);
                Step::Next { part: 0 }
            }
            Step::Next { part } if part < self.parts.len() => {
                self.renderer.segment(&self.header.segments[part], out);
                Step::Reading { part, after: 0 }
            }
            Step::Next { .. } => {
                self.renderer.finish(out);
                Step::Done
            }
            Step::Reading { part, after } => self.read_page(part, after, out).await?,
            Step::Done => Step::Done,
        })
    }

    /// Renders the page of segment `part` after seq `after`.
    async fn read_page(&mut self, index: usize, after: i64, out: &mut String) -> Result<Step> {
        let part = &mut self.parts[index];
        if after >= part.last_seq {
            return Ok(Step::Next { part: index + 1 });
        }
        let range = EventRange {
            after: Some(after),
            before: Some(part.last_seq + 1),
            limit: self.page,
            order: crate::store::Order::Ascending,
        };
        let page = self.store.events(part.conversation, range).await?;
        let Some(last) = page.last().map(|e| e.seq) else {
            return Ok(Step::Next { part: index + 1 });
        };
        for e in &page {
            if part.screen.admit(e) {
                self.renderer.event(e, out);
                self.events += 1;
            }
        }
        Ok(Step::Reading { part: index, after: last })
    }

    /// The whole file as a stream of chunks, for a response body.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        futures_util::stream::try_unfold(self, |mut export| async move {
            Ok(export.next_chunk().await?.map(|chunk| (Bytes::from(chunk), export)))
        })
    }
}
