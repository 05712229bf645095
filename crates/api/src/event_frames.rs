//! How a committed event goes out on a socket: its `event` frame, made once
//! per notice for every socket that delivers it (a participant's and an
//! agent's frames are the same bytes), and shared as `Utf8Bytes` clones.

use axum::extract::ws::{Message, Utf8Bytes};
use switchboard_core::bus::CommittedEvents;
use switchboard_core::event::Event;

use crate::stream::ServerFrame;

/// The `event` frame of each event of a notice, made once for every socket
/// that delivers the notice (a participant's and an agent's are the same).
struct EventFrames(Vec<Utf8Bytes>);

/// The `event` frames of a notice's events, one per event, made by the
/// first socket that asks.
pub(crate) fn encoded(events: &CommittedEvents) -> Option<&[Utf8Bytes]> {
    let made = events.encoded(|list| EventFrames(list.iter().map(event_text).collect()));
    made.map(|f| f.0.as_slice())
}

fn event_text(e: &Event) -> Utf8Bytes {
    let frame = ServerFrame::Event { event: crate::markdown::WireEvent(e) };
    Utf8Bytes::from(serde_json::to_string(&frame).unwrap_or_default())
}

/// An event's frame: `made` if it was encoded already.
pub(crate) fn event_frame(e: &Event, made: Option<&Utf8Bytes>) -> Message {
    Message::Text(made.cloned().unwrap_or_else(|| event_text(e)))
}
