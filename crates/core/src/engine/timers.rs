//! Firing stored timers. The timers live in the store; this loop claims the
//! due ones and turns each into a `Fire` command, whose planning decides
//! whether it still applies (activity may have moved it since).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::command::Command;
use crate::error::Result;

/// How often the loop looks for due timers at the least; a timer fires at
/// most this late.
const POLL: Duration = Duration::from_millis(250);
const BATCH: u32 = 512;

impl Engine {
    /// Fires every timer due now; returns how many were due.
    pub async fn fire_due_timers(self: &Arc<Self>) -> Result<usize> {
        let due = self.store.due_timers(self.now(), BATCH).await?;
        let n = due.len();
        let mut set = tokio::task::JoinSet::new();
        for timer in due {
            let store = Arc::clone(&self.store);
            set.spawn(async move { store.apply(Command::Fire { timer }).await });
        }
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "timer did not fire"),
                Err(e) => tracing::error!(error = %e, "timer task failed"),
            }
        }
        Ok(n)
    }

    /// Fires timers until `shutdown` completes.
    pub async fn run_timers(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = match self.fire_due_timers().await {
                Ok(n) if n as u32 == BATCH => Duration::ZERO,
                Ok(_) => match self.store.next_timer_due().await {
                    Ok(Some(due)) => {
                        let ms = (due.millis() - self.now().millis()).max(0) as u64;
                        Duration::from_millis(ms).min(POLL)
                    }
                    _ => POLL,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "could not read due timers");
                    POLL
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
