//! The last hour of each queue's size and wait, for the supervisor's chart.
//!
//! Every node samples the queue statistics of every workspace every
//! [`SAMPLE_EVERY`] and keeps the last [`KEEP`] in memory. Any node can
//! answer (they read the same store); what a node has not seen since it
//! started is not there.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Caller, Engine};
use crate::access::Action;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ids::{QueueId, WorkspaceId};

/// How often the statistics are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// How long samples are kept.
pub const KEEP: Duration = Duration::from_secs(3600);

/// One queue at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSample {
    pub queue_id: QueueId,
    pub name: String,
    pub waiting: u32,
    pub longest_wait_secs: u64,
    pub average_wait_secs: u64,
}

/// Every queue of a workspace at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at: Timestamp,
    pub queues: Vec<QueueSample>,
}

/// The samples of each workspace, oldest first.
#[derive(Debug, Default)]
pub struct StatsHistory {
    samples: Mutex<HashMap<WorkspaceId, VecDeque<Sample>>>,
}

impl StatsHistory {
    fn push(&self, workspace: WorkspaceId, sample: Sample) {
        let oldest = sample.at.millis() - KEEP.as_millis() as i64;
        let mut all = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = all.entry(workspace).or_default();
        kept.push_back(sample);
        while kept.front().is_some_and(|s| s.at.millis() < oldest) {
            kept.pop_front();
        }
    }

    fn since(&self, workspace: WorkspaceId, from: i64) -> Vec<Sample> {
        let all = self.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.get(&workspace).map(|k| k.iter().filter(|s| s.at.millis() >= from).cloned().collect()).unwrap_or_default()
    }
}

impl Engine {
    /// Samples every workspace's queues now.
    pub async fn sample_stats(&self) -> Result<()> {
        for workspace in self.store.workspace_ids().await? {
            let stats = self.queue_stats(&Caller::Admin { workspace }).await?;
            let queues = stats
                .into_iter()
                .map(|s| QueueSample {
                    queue_id: s.queue.id,
                    name: s.queue.name,
                    waiting: s.waiting,
                    longest_wait_secs: s.longest_wait_secs,
                    average_wait_secs: s.average_wait_secs,
                })
                .collect();
            self.history.push(workspace, Sample { at: self.now(), queues });
        }
        Ok(())
    }

    /// Samples the statistics every [`SAMPLE_EVERY`] until `shutdown`.
    pub async fn run_stats_sampler(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = every.tick() => {}
            }
            if let Err(e) = self.sample_stats().await {
                tracing::warn!(error = %e, "could not sample the queue statistics");
            }
        }
    }

    /// The samples of the caller's workspace over the last `minutes` (1 to 60).
    pub async fn stats_history(&self, caller: &Caller, minutes: u32) -> Result<Vec<Sample>> {
        let workspace = self.permit(caller, Action::Supervise, None)?;
        if !(1..=60).contains(&minutes) {
            return Err(Error::invalid("minutes", "1 to 60"));
        }
        let from = self.now().millis() - i64::from(minutes) * 60_000;
        Ok(self.history.since(workspace, from))
    }
}
