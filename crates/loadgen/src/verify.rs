//! After a run against the server: reads every conversation's transcript back
//! over REST and checks it against what the sockets sent — seqs are exactly
//! 1..n, every acknowledged send (found by its client token) is there exactly
//! once, nothing refused was stored, nothing landed in the wrong conversation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::client::{ACKED, NOT_SENT, REFUSED};
use crate::report::{Progress, VerifySummary};
use crate::setup::Api;

const PAGE: u32 = 500;

/// What one conversation should contain: per side, each message's status.
pub struct Expected {
    pub index: u32,
    pub id: String,
    pub status: [Vec<u8>; 2],
}

pub async fn verify(api: &Api, tag: &str, expected: Vec<Expected>, concurrency: usize) -> Result<VerifySummary> {
    let count = expected.len() as u64;
    let done = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn("verify transcripts", done.clone(), count);
    let parts: Vec<VerifySummary> = stream::iter(expected)
        .map(|exp| {
            let done = done.clone();
            async move {
                let part = check(api, tag, &exp).await.with_context(|| format!("verifying conversation {}", exp.id))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(part)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut total = VerifySummary { conversations: count, ..VerifySummary::default() };
    for p in parts {
        total.events += p.events;
        total.messages_found += p.messages_found;
        total.lost += p.lost;
        total.duplicated += p.duplicated;
        total.seq_faults += p.seq_faults;
        total.refused_but_stored += p.refused_but_stored;
        total.misrouted += p.misrouted;
    }
    Ok(total)
}

async fn check(api: &Api, tag: &str, exp: &Expected) -> Result<VerifySummary> {
    let mut sum = VerifySummary::default();
    // How often each (side, index) token appears in the transcript.
    let mut seen: [Vec<u32>; 2] = [vec![0; exp.status[0].len()], vec![0; exp.status[1].len()]];
    let own_prefix = format!("{tag}-{}-", exp.index);
    let run_prefix = format!("{tag}-");
    let mut after = 0u64;
    let mut want_seq = 1u64;
    loop {
        let page = api.transcript_page(&exp.id, after, PAGE).await?;
        let Some(last) = page.events.last().map(|e| e.seq) else { break };
        for event in &page.events {
            if event.seq != want_seq {
                sum.seq_faults += 1;
            }
            want_seq = event.seq + 1;
            sum.events += 1;
            if event.kind != "message" {
                continue;
            }
            let Some(token) = event.client_token.as_deref() else { continue };
            if let Some((side, n)) = token.strip_prefix(&own_prefix).and_then(parse_side_index) {
                match seen.get_mut(side).and_then(|s| s.get_mut(n)) {
                    Some(count) => {
                        *count += 1;
                        sum.messages_found += 1;
                    }
                    None => sum.misrouted += 1,
                }
            } else if token.starts_with(&run_prefix) {
                sum.misrouted += 1;
            }
        }
        let next = page.next_after_seq.unwrap_or(last).max(last);
        if next <= after {
            bail!("transcript paging did not advance past after_seq={after}");
        }
        after = next;
    }
    for (side, counts) in seen.iter().enumerate() {
        for (n, &count) in counts.iter().enumerate() {
            match (exp.status[side][n], count) {
                (ACKED, 0) => sum.lost += 1,
                (REFUSED, c) if c > 0 => sum.refused_but_stored += 1,
                // Never written to the socket, yet stored under this token.
                (NOT_SENT, c) if c > 0 => sum.misrouted += 1,
                _ => {}
            }
            sum.duplicated += u64::from(count.saturating_sub(1));
        }
    }
    Ok(sum)
}

/// `{side}-{n}` → (side, n).
fn parse_side_index(rest: &str) -> Option<(usize, usize)> {
    let (side, n) = rest.split_once('-')?;
    Some((side.parse().ok()?, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::client_token;

    #[test]
    fn token_parses_back() {
        let token = client_token("lgabc", 12, 1, 34);
        assert_eq!(token.strip_prefix("lgabc-12-").and_then(parse_side_index), Some((1, 34)));
        // Conversation 1's prefix must not match conversation 12's tokens.
        assert_eq!(token.strip_prefix("lgabc-1-").and_then(parse_side_index), None);
    }
}
