//! Where each waiting chat stands in its queue, and a wait estimate.
//!
//! Positions are derived, not stored: the router computes them from the
//! waiting tasks it reads on every pass and publishes only the ones that
//! changed (as `Notice::QueuePosition`, not logged — a chat waiting behind a
//! thousand others would otherwise log a line every time one is taken). The
//! estimate divides the position by the rate at which chats have left the
//! queue in the last ten minutes; with fewer than two departures seen there
//! is no estimate.

use std::collections::{HashMap, VecDeque};

use crate::clock::Timestamp;
use crate::ids::{ConversationId, QueueId, TaskId};
use crate::routing::model::Task;

/// How far back departures count for the estimate.
const WINDOW_MS: i64 = 10 * 60 * 1000;
/// Departures remembered per queue.
const KEEP: usize = 1024;

/// One chat's place in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePosition {
    pub conversation: ConversationId,
    pub task: TaskId,
    pub queue: QueueId,
    /// 1: next to be offered.
    pub position: u32,
    pub estimated_wait_secs: Option<u32>,
}

/// Positions of `tasks` (waiting ones, best first) in their current queues.
pub fn positions(tasks: &[Task]) -> Vec<(TaskId, ConversationId, QueueId, u32)> {
    let mut next: HashMap<QueueId, u32> = HashMap::new();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        let Some(q) = t.queue() else { continue };
        let n = next.entry(q).or_insert(0);
        *n += 1;
        out.push((t.id, t.conversation_id, q, *n));
    }
    out
}

/// What was last published, and when chats left each queue.
#[derive(Debug, Default)]
pub struct PositionBook {
    published: HashMap<TaskId, (QueueId, u32)>,
    departures: HashMap<QueueId, VecDeque<Timestamp>>,
}

impl PositionBook {
    /// Takes in the waiting tasks of a pass; returns the positions that changed.
    pub fn update(&mut self, tasks: &[Task], now: Timestamp) -> Vec<QueuePosition> {
        let current = positions(tasks);
        let still: std::collections::HashSet<TaskId> = current.iter().map(|p| p.0).collect();
        let gone: Vec<(TaskId, QueueId)> =
            self.published.iter().filter(|(t, _)| !still.contains(t)).map(|(t, (q, _))| (*t, *q)).collect();
        for (t, q) in gone {
            self.published.remove(&t);
            let d = self.departures.entry(q).or_default();
            d.push_back(now);
            if d.len() > KEEP {
                d.pop_front();
            }
        }
        let mut changed = Vec::new();
        for (task, conversation, queue, position) in current {
            if self.published.get(&task) != Some(&(queue, position)) {
                self.published.insert(task, (queue, position));
                let estimated_wait_secs = self.estimate(queue, position, now);
                changed.push(QueuePosition { conversation, task, queue, position, estimated_wait_secs });
            }
        }
        changed
    }

    /// Seconds until a chat at `position` is likely offered, from the
    /// queue's recent departures.
    pub fn estimate(&self, queue: QueueId, position: u32, now: Timestamp) -> Option<u32> {
        let d = self.departures.get(&queue)?;
        let recent: Vec<&Timestamp> = d.iter().filter(|t| now.millis() - t.millis() <= WINDOW_MS).collect();
        if recent.len() < 2 {
            return None;
        }
        let span_ms = (now.millis() - recent[0].millis()).max(1000);
        let per_sec = recent.len() as f64 * 1000.0 / span_ms as f64;
        Some((f64::from(position) / per_sec).ceil() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkspaceId;
    use crate::routing::model::RouteStep;

    fn task(queue: QueueId) -> Task {
        let step = RouteStep::to_queue(queue);
        Task::waiting(TaskId::new(), WorkspaceId::new(), ConversationId::new(), vec![step], 0, Timestamp(0))
    }

    #[test]
    fn positions_count_per_queue_and_move_up_as_chats_ahead_are_taken() {
        let (q1, q2) = (QueueId::new(), QueueId::new());
        let ts = [task(q1), task(q2), task(q1), task(q1)];
        let mut book = PositionBook::default();
        let first = book.update(&ts, Timestamp(0));
        let pos: Vec<u32> = first.iter().map(|p| p.position).collect();
        assert_eq!(pos, [1, 1, 2, 3]);
        assert!(book.update(&ts, Timestamp(1)).is_empty(), "nothing changed, nothing published");
        // The first chat of q1 is taken: the two behind it move up; q2 is unchanged.
        let moved = book.update(&[ts[1].clone(), ts[2].clone(), ts[3].clone()], Timestamp(2_000));
        let moved: Vec<(TaskId, u32)> = moved.iter().map(|p| (p.task, p.position)).collect();
        assert_eq!(moved, [(ts[2].id, 1), (ts[3].id, 2)]);
    }

    #[test]
    fn the_estimate_follows_the_rate_chats_leave_the_queue() {
        let q = QueueId::new();
        let ts: Vec<Task> = (0..5).map(|_| task(q)).collect();
        let mut book = PositionBook::default();
        book.update(&ts, Timestamp(0));
        assert_eq!(book.estimate(q, 3, Timestamp(0)), None, "no departures yet");
        book.update(&ts[1..], Timestamp(10_000));
        let changed = book.update(&ts[2..], Timestamp(20_000));
        // Two departures in 10 s: 0.2 chats/s, so position 1 waits about 5 s.
        assert_eq!(changed[0].estimated_wait_secs, Some(5));
        assert_eq!(book.estimate(q, 3, Timestamp(20_000)), Some(15));
    }
}
