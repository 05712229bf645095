//! What a WebSocket does with a client's frames before any reaches the
//! engine: the socket's rate limits, its flood guard, and a worker that
//! queues the frames that need the store for commit (pipelined: the next is
//! queued before the last is durable) and answers them in arrival order.
//!
//! The rule every socket loop keeps: **it waits on nothing but its own
//! socket.** A loop that both reads the client and collects the worker's
//! answers must never block on either, or a burst of frames fills one queue
//! while the other waits for it, and the socket stops reading, answering pings
//! and noticing that its peer is gone. So the loop hands frames to the worker
//! only while fewer than [`IN_FLIGHT`] are unanswered (a frame over that is
//! refused at once, not queued), and the worker does its work inside the
//! loop's `select!`, where it never makes the loop wait.
//!
//! Limits, with R the workspace's sends per second per participant (20 by
//! default; 0 turns all of them off) and a socket's `scale` (1 for a
//! participant, the agent's capacity for an agent):
//! - frames that make the server work (sends, receipts, typing, offers,
//!   activity, deep heartbeats): R·scale a second, burst 2R·scale;
//! - every text frame, pings and junk included: 4R·scale a second, burst 32R·scale;
//! - refused or unreadable frames (strikes): R·scale a second, burst 32R·scale.
//!   A client over that keeps flooding after being told, and is closed with
//!   1008.

use std::collections::VecDeque;
use std::future::Future;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::FuturesOrdered;
use serde_json::Value;
use switchboard_core::Error;
use switchboard_core::clock::Timestamp;
use switchboard_core::rate::Gcra;

/// Frames handed to a socket's worker and not yet answered, at most.
pub(crate) const IN_FLIGHT: usize = 64;

/// What one frame costs a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// Answered from memory (ping).
    Light,
    /// Makes the server work: the engine, the store or the bus.
    Work,
}

/// A frame a client sends, as the intake sees it.
pub(crate) trait Command {
    /// The client's `ref`, echoed in the answer.
    fn reference(&self) -> Option<Value>;
    /// Answered from memory (a ping) rather than by work.
    fn is_ping(&self) -> bool;
}

/// A socket's limits.
#[derive(Debug)]
pub(crate) struct Intake {
    work: Gcra,
    frames: Gcra,
    strikes: Gcra,
}

/// The client keeps flooding after being refused: close the socket.
#[derive(Debug)]
pub(crate) struct Flooding;

pub(crate) const FLOODING_REASON: &str = "rate limit exceeded: too many frames";

impl Intake {
    pub(crate) fn new(per_second: u32, scale: u32) -> Self {
        let r = per_second.saturating_mul(scale.max(1));
        Self {
            work: Gcra::new(r, r.saturating_mul(2)),
            frames: Gcra::new(r.saturating_mul(4), r.saturating_mul(32)),
            strikes: Gcra::new(r, r.saturating_mul(32)),
        }
    }

    /// Lets a frame of `cost` through, or says why not (a `rate_limited`
    /// error for the client).
    pub(crate) fn admit(&mut self, now: Timestamp, cost: Cost) -> Result<(), Error> {
        self.frames.check(now).map_err(Error::rate_limited)?;
        if cost == Cost::Work {
            self.work.check(now).map_err(Error::rate_limited)?;
        }
        Ok(())
    }

    /// Counts a refused or unreadable frame.
    pub(crate) fn strike(&mut self, now: Timestamp) -> Result<(), Flooding> {
        self.strikes.check(now).map_err(|_| Flooding)
    }

    /// Lets a parsed frame through, or answers it here: unreadable, or over
    /// the limits (counted as a strike).
    pub(crate) fn screen<F: Command>(
        &mut self,
        now: Timestamp,
        parsed: Result<F, Error>,
    ) -> Result<Result<F, Message>, Flooding> {
        let frame = match parsed {
            Ok(f) => f,
            Err(e) => return self.refuse(now, None, &e).map(Err),
        };
        let cost = if frame.is_ping() { Cost::Light } else { Cost::Work };
        match self.admit(now, cost) {
            Ok(()) => Ok(Ok(frame)),
            Err(e) => self.refuse(now, frame.reference(), &e).map(Err),
        }
    }

    /// Hands a frame to the worker without waiting; while too many are in
    /// flight it is refused (and counted) instead.
    pub(crate) fn hand_over<F: Command + Send + 'static>(
        &mut self,
        now: Timestamp,
        worker: &mut Worker<F>,
        frame: F,
    ) -> Result<Option<Message>, Flooding> {
        let reference = frame.reference();
        match worker.submit(frame) {
            Ok(()) => Ok(None),
            Err(e) => self.refuse(now, reference, &e).map(Some),
        }
    }

    /// Answers a refused or unreadable frame with its error, counting a strike.
    pub(crate) fn refuse(&mut self, now: Timestamp, reference: Option<Value>, e: &Error) -> Result<Message, Flooding> {
        self.strike(now)?;
        Ok(crate::stream::error_frame(reference, e))
    }
}

/// What a worker makes of one frame: its answer, ready now or once a commit
/// is durable.
pub(crate) struct Answer(BoxFuture<'static, Message>);

impl Answer {
    /// An answer that comes when `later` completes.
    pub(crate) fn later(later: impl Future<Output = Message> + Send + 'static) -> Self {
        Self(Box::pin(later))
    }
}

/// An answer that needs no waiting.
pub(crate) fn answered(m: Message) -> Answer {
    Answer(Box::pin(std::future::ready(m)))
}

/// Submits a socket's frames in arrival order and answers them in that
/// order. A frame's commit is queued before the previous one is durable
/// (pipelined), so one socket's sends share group commits; the writer keeps
/// the order they were queued in.
///
/// It runs inside the socket's own task, driven by [`Worker::answer`] in the
/// socket's `select!`: a frame is queued (its checks, then its place in the
/// writer's queue) while the loop waits for anything else, and never holds
/// the loop up. One frame is being queued at a time, so they are queued in
/// order. A commit then wakes the socket once, for its events and its
/// answers together, and both go out in one write ([`Worker::ready`]).
pub(crate) struct Worker<F> {
    submit: Submit<F>,
    /// Frames handed over and not yet being queued, oldest first.
    handed: VecDeque<F>,
    /// The frame being queued now.
    queuing: Option<BoxFuture<'static, Answer>>,
    /// The answers to come, in the order the frames were handed over.
    waiting: FuturesOrdered<BoxFuture<'static, Message>>,
    in_flight: usize,
    /// Takes no more frames ([`Worker::finish`]).
    closed: bool,
}

type Submit<F> = Box<dyn Fn(F) -> BoxFuture<'static, Answer> + Send>;

impl<F: Send + 'static> Worker<F> {
    /// A worker that queues each frame with `submit`, one after another.
    pub(crate) fn new<C, Fut>(submit: C) -> Self
    where
        C: Fn(F) -> Fut + Send + 'static,
        Fut: Future<Output = Answer> + Send + 'static,
    {
        Self {
            submit: Box::new(move |f| Box::pin(submit(f))),
            handed: VecDeque::new(),
            queuing: None,
            waiting: FuturesOrdered::new(),
            in_flight: 0,
            closed: false,
        }
    }

    /// Hands a frame over without waiting; refuses it while [`IN_FLIGHT`]
    /// frames are unanswered.
    pub(crate) fn submit(&mut self, frame: F) -> Result<(), Error> {
        if self.in_flight >= IN_FLIGHT || self.closed {
            return Err(Error::rate_limited(1));
        }
        self.handed.push_back(frame);
        self.in_flight += 1;
        Ok(())
    }

    /// Queues what was handed over, then gives the next answer, in the order
    /// the frames were handed over; `None` once finished and every answer is out.
    pub(crate) async fn answer(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| self.poll_answer(cx)).await
    }

    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        loop {
            if self.queuing.is_none() {
                self.queuing = self.handed.pop_front().map(&self.submit);
            }
            let Some(queuing) = self.queuing.as_mut() else { break };
            match queuing.poll_unpin(cx) {
                Poll::Ready(answer) => {
                    self.waiting.push_back(answer.0);
                    self.queuing = None;
                }
                Poll::Pending => break,
            }
        }
        match self.waiting.poll_next_unpin(cx) {
            Poll::Ready(Some(m)) => {
                self.in_flight -= 1;
                Poll::Ready(Some(m))
            }
            Poll::Ready(None) if self.closed && self.queuing.is_none() => Poll::Ready(None),
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }

    /// Appends to `out` the answers that are ready now, in order, without
    /// waiting: they share the write of what the socket sends next.
    pub(crate) fn ready(&mut self, out: &mut Vec<Message>) {
        while let Some(Some(m)) = self.answer().now_or_never() {
            out.push(m);
        }
    }

    /// Takes no more frames and waits for the answers to those taken.
    pub(crate) async fn finish(mut self) -> Vec<Message> {
        self.closed = true;
        let mut out = Vec::with_capacity(self.in_flight);
        while let Some(a) = self.answer().await {
            out.push(a);
        }
        out
    }
}

/// `out` followed by the answers of an optional worker that are ready now.
pub(crate) fn ready_answers<F: Send + 'static>(worker: &mut Option<Worker<F>>, mut out: Vec<Message>) -> Vec<Message> {
    if let Some(w) = worker {
        w.ready(&mut out);
    }
    out
}

/// The next answer of an optional worker (a participant's starts with its first send).
pub(crate) async fn next_answer<F: Send + 'static>(worker: &mut Option<Worker<F>>) -> Option<Message> {
    match worker {
        Some(w) => w.answer().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_work_past_its_burst_but_lets_pings_through() {
        let mut i = Intake::new(20, 1);
        let t = Timestamp(1_000_000);
        for n in 0..40 {
            assert!(i.admit(t, Cost::Work).is_ok(), "frame {n} is within the burst");
        }
        assert!(i.admit(t, Cost::Work).is_err());
        assert!(i.admit(t, Cost::Light).is_ok(), "a ping is not work");
    }

    #[test]
    fn a_burst_is_refused_but_only_a_sustained_flood_is_closed() {
        let mut i = Intake::new(20, 1);
        let t = Timestamp(1_000_000);
        let refused = (0..400).filter(|_| i.admit(t, Cost::Work).is_err()).count();
        assert_eq!(refused, 360);
        for _ in 0..refused {
            assert!(i.strike(t).is_ok());
        }
        let closed_after = (0..1000).take_while(|_| i.strike(t).is_ok()).count();
        assert_eq!(closed_after, 640 - 360);
    }

    #[test]
    fn scales_with_the_sockets_capacity_and_turns_off_at_zero() {
        let mut agent = Intake::new(20, 3);
        let t = Timestamp(0);
        assert_eq!((0..200).filter(|_| agent.admit(t, Cost::Work).is_ok()).count(), 120);
        let mut off = Intake::new(0, 1);
        assert!((0..10_000).all(|_| off.admit(t, Cost::Work).is_ok() && off.strike(t).is_ok()));
    }

    #[tokio::test]
    async fn frames_are_queued_one_after_another_in_the_order_handed_over() {
        let (gate, opened) = tokio::sync::watch::channel(false);
        let queued = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = queued.clone();
        let mut w = Worker::new(move |n: usize| {
            let (mut opened, log) = (opened.clone(), log.clone());
            async move {
                // The first frame's checks are slow; nothing may overtake it.
                if n == 0 {
                    let _ = opened.wait_for(|o| *o).await;
                }
                log.lock().unwrap().push(n);
                answered(Message::Text(n.to_string().into()))
            }
        });
        for n in 0..5 {
            w.submit(n).unwrap();
        }
        assert_eq!(w.answer().now_or_never(), None, "the first frame is still being queued");
        assert!(queued.lock().unwrap().is_empty(), "no frame overtook the first");
        gate.send(true).unwrap();
        for n in 0..5 {
            assert_eq!(w.answer().await, Some(Message::Text(n.to_string().into())));
        }
        assert_eq!(*queued.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_worker_never_holds_more_than_its_bound_and_answers_in_order() {
        let (gate, opened) = tokio::sync::watch::channel(false);
        let mut w = Worker::new(move |n: usize| {
            let mut opened = opened.clone();
            std::future::ready(Answer::later(async move {
                let _ = opened.wait_for(|o| *o).await;
                Message::Text(n.to_string().into())
            }))
        });
        for n in 0..IN_FLIGHT {
            w.submit(n).unwrap();
        }
        assert!(w.submit(IN_FLIGHT).is_err(), "the bound refuses, it does not wait");
        gate.send(true).unwrap();
        for n in 0..IN_FLIGHT {
            assert_eq!(w.answer().await, Some(Message::Text(n.to_string().into())));
        }
        w.submit(7).unwrap();
        assert_eq!(w.finish().await, vec![Message::Text("7".into())]);
    }
}
