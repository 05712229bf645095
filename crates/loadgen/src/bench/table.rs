//! The figures `bench` gathers and the one table (and JSON) it prints: rows,
//! the ratios between them, and the machine facts printed beside them.

use serde::Serialize;
use switchboard_store::Backend;
use switchboard_store::baseline::InsertRun;

use super::Sizes;
use crate::report::{ChatSummary, round};

/// Facts about the machine printed with the figures, which mean little without them.
#[derive(Debug, Serialize)]
pub(super) struct Machine {
    pub(super) cores: usize,
    pub(super) cpu: Option<String>,
    pub(super) memory_gib: Option<f64>,
    /// The 1-minute load average when the run started: on a shared machine,
    /// a busy neighbour shows here.
    pub(super) load_average: Option<f64>,
}

impl Machine {
    pub(super) fn read() -> Self {
        let file = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = file("/proc/cpuinfo");
        let meminfo = file("/proc/meminfo");
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_owned()),
            memory_gib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
                .map(|kib| round(kib / 1024.0 / 1024.0, 1)),
            load_average: file("/proc/loadavg").split_whitespace().next().and_then(|l| l.parse().ok()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Kind {
    /// B0.
    Relay,
    /// B1.
    Inserts,
    /// The server, storing every message.
    Durable,
}

/// One line of the table.
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub(super) run: String,
    pub(super) kind: Kind,
    pub(super) backend: Option<&'static str>,
    /// Delivered msgs/s, or rows/s for B1.
    pub(super) per_sec: f64,
    /// Server CPU per delivered message; none for B1 (it runs in this process).
    pub(super) cpu_us_per_msg: Option<f64>,
    pub(super) p50_ms: Option<f64>,
    pub(super) p99_ms: Option<f64>,
    pub(super) p999_ms: Option<f64>,
    /// Durable runs: `per_sec` over min(B0, the B1 of the same backend).
    pub(super) vs_min_baselines: Option<f64>,
    /// Durable runs: `cpu_us_per_msg` over B0's.
    pub(super) cpu_vs_b0: Option<f64>,
    /// What the load found wrong; none for B1, which checks nothing.
    pub(super) check: Option<Check>,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct Check {
    pub(super) ok: bool,
    /// Whether the transcripts were read back (the server); the relay keeps none.
    pub(super) transcripts: bool,
    pub(super) lost: u64,
    pub(super) duplicated: u64,
    pub(super) seq_faults: u64,
    pub(super) stream_seq_gaps: u64,
    pub(super) stream_seq_dups: u64,
    pub(super) undelivered: u64,
    pub(super) refused: u64,
    pub(super) first_error: Option<String>,
    pub(super) hint: Option<String>,
}

impl Row {
    pub(super) fn chat(run: &str, kind: Kind, backend: Option<Backend>, s: ChatSummary) -> Self {
        let latency = (s.latency.samples > 0).then_some(s.latency);
        let v = s.verify.unwrap_or_default();
        Self {
            run: run.to_owned(),
            kind,
            backend: backend.map(Backend::name),
            per_sec: s.throughput_msgs_per_sec,
            cpu_us_per_msg: s.server.and_then(|c| c.cpu_secs_per_1k_msgs).map(|c| round(c * 1000.0, 1)),
            p50_ms: latency.map(|l| l.p50_ms),
            p99_ms: latency.map(|l| l.p99_ms),
            p999_ms: latency.map(|l| l.p999_ms),
            vs_min_baselines: None,
            cpu_vs_b0: None,
            check: Some(Check {
                ok: s.ok,
                transcripts: s.verify.is_some(),
                lost: v.lost,
                duplicated: v.duplicated,
                seq_faults: v.seq_faults,
                stream_seq_gaps: s.stream_seq_gaps,
                stream_seq_dups: s.stream_seq_dups,
                undelivered: s.undelivered,
                refused: s.refused,
                first_error: s.first_error,
                hint: s.hint,
            }),
        }
    }

    pub(super) fn inserts(run: &str, backend: Backend, r: InsertRun) -> Self {
        Self {
            run: run.to_owned(),
            kind: Kind::Inserts,
            backend: Some(backend.name()),
            per_sec: round(r.rows_per_sec(), 1),
            cpu_us_per_msg: None,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
            vs_min_baselines: None,
            cpu_vs_b0: None,
            check: None,
        }
    }
}

/// Sets each durable row's ratios against B0 and the B1 of its backend.
pub(super) fn fill_ratios(rows: &mut [Row]) {
    let b0 = rows.iter().find(|r| r.kind == Kind::Relay).map(|r| (r.per_sec, r.cpu_us_per_msg));
    let b1: Vec<(Option<&str>, f64)> =
        rows.iter().filter(|r| r.kind == Kind::Inserts).map(|r| (r.backend, r.per_sec)).collect();
    for row in rows.iter_mut().filter(|r| r.kind == Kind::Durable) {
        let b1 = b1.iter().find(|(backend, _)| *backend == row.backend).map(|(_, per_sec)| *per_sec);
        let floor = match (b0.map(|(per_sec, _)| per_sec), b1) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        row.vs_min_baselines = floor.filter(|f| *f > 0.0).map(|f| round(row.per_sec / f, 4));
        row.cpu_vs_b0 = match (row.cpu_us_per_msg, b0.and_then(|(_, cpu)| cpu)) {
            (Some(cpu), Some(base)) if base > 0.0 => Some(round(cpu / base, 2)),
            _ => None,
        };
    }
}

/// Everything the table shows; also the `--json` document.
#[derive(Debug, Serialize)]
pub(super) struct BenchReport {
    pub(super) mode: &'static str,
    pub(super) ok: bool,
    pub(super) machine: Machine,
    pub(super) sizes: Sizes,
    pub(super) pinning: String,
    pub(super) server_bin: String,
    pub(super) wall_secs: f64,
    pub(super) rows: Vec<Row>,
}

impl BenchReport {
    pub(super) fn lines(&self) -> Vec<String> {
        let m = &self.machine;
        let s = &self.sizes;
        let mut machine = format!("{} cores", m.cores);
        if let Some(cpu) = &m.cpu {
            machine += &format!(" ({cpu})");
        }
        if let Some(gib) = m.memory_gib {
            machine += &format!(", {gib:.1} GiB");
        }
        if let Some(load) = m.load_average {
            machine += &format!(", load average {load:.2} at start");
        }
        let mut out = vec![
            format!("machine       {machine}"),
            format!(
                "load          {} conversations ({} sockets) x {} messages per side, closed loop, window {}, \
                 {} B payload",
                thousands(f64::from(s.conversations)),
                thousands(f64::from(s.conversations) * 2.0),
                s.messages_per_side,
                s.window,
                s.payload_bytes
            ),
            format!(
                "B1            {} rows, {} per commit (one per conversation)",
                thousands(s.b1_rows as f64),
                thousands(s.b1_per_commit as f64)
            ),
            format!("pinning       {}", self.pinning),
            format!("server        {}", self.server_bin),
            String::new(),
        ];
        out.extend(table(&self.rows));
        out.push(String::new());
        out.push(
            "ratios        durable/min(B0,B1): msgs/s over the lower of B0 and the B1 of the same backend \
             (target >= 40 %); CPU/B0: server CPU per message over B0's (target <= 2.5x)"
                .to_owned(),
        );
        if self.rows.iter().any(|r| r.backend == Some("postgres") && r.kind == Kind::Durable) {
            out.push("              PostgreSQL CPU is the server process's alone, not the database's".to_owned());
        }
        for row in &self.rows {
            if let Some(c) = row.check.as_ref().filter(|c| !c.ok) {
                let mut note =
                    format!("failed        {}: undelivered {}, refused {}", row.run, c.undelivered, c.refused);
                if let Some(e) = &c.first_error {
                    note += &format!("; first error: {e}");
                }
                if let Some(h) = &c.hint {
                    note += &format!("; hint: {h}");
                }
                out.push(note);
            }
        }
        out.push(format!("wall time     {:.1} s", self.wall_secs));
        out.push(format!("verdict       {}", if self.ok { "OK" } else { "FAILED" }));
        out
    }
}

/// The table itself: a header and one line per row; `-` where a figure does
/// not apply.
pub(super) fn table(rows: &[Row]) -> Vec<String> {
    let dash = || "-".to_owned();
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(dash, f);
    let mut out = vec![format!(
        "{:<24}{:>10}{:>12}{:>9}{:>9}{:>20}{:>8}  {}",
        "run", "msgs/s", "CPU µs/msg", "p50 ms", "p99 ms", "durable/min(B0,B1)", "CPU/B0", "check"
    )];
    for r in rows {
        out.push(format!(
            "{:<24}{:>10}{:>12}{:>9}{:>9}{:>20}{:>8}  {}",
            r.run,
            thousands(r.per_sec),
            opt(r.cpu_us_per_msg, |v| format!("{v:.1}")),
            opt(r.p50_ms, |v| format!("{v:.1}")),
            opt(r.p99_ms, |v| format!("{v:.1}")),
            opt(r.vs_min_baselines, |v| format!("{:.1} %", v * 100.0)),
            opt(r.cpu_vs_b0, |v| format!("{v:.1}x")),
            r.check.as_ref().map_or_else(dash, check_cell),
        ));
    }
    out
}

pub(super) fn check_cell(c: &Check) -> String {
    let mut parts = if c.transcripts {
        vec![format!("lost {}, dup {}, seq faults {}", c.lost, c.duplicated, c.seq_faults)]
    } else {
        vec![format!("stream gaps {}, dups {}", c.stream_seq_gaps, c.stream_seq_dups)]
    };
    if c.undelivered > 0 {
        parts.push(format!("undelivered {}", c.undelivered));
    }
    if c.refused > 0 {
        parts.push(format!("refused {}", c.refused));
    }
    format!("{} ({})", if c.ok { "OK" } else { "FAILED" }, parts.join(", "))
}

/// `12345.6` → `12,346`.
pub(super) fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    if x < 0.0 && digits != "0" { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn chat_row(run: &str, kind: Kind, backend: Option<&'static str>, per_sec: f64, cpu: f64, p99: f64) -> Row {
        Row {
            run: run.to_owned(),
            kind,
            backend,
            per_sec,
            cpu_us_per_msg: Some(cpu),
            p50_ms: Some(p99 / 2.0),
            p99_ms: Some(p99),
            p999_ms: Some(p99),
            vs_min_baselines: None,
            cpu_vs_b0: None,
            check: Some(Check { ok: true, transcripts: kind == Kind::Durable, ..Check::default() }),
        }
    }

    fn b1_row(run: &str, backend: Backend, per_sec: f64) -> Row {
        Row::inserts(run, backend, InsertRun { rows: per_sec as u64, elapsed: Duration::from_secs(1) })
    }

    fn rows() -> Vec<Row> {
        let mut rows = vec![
            chat_row("B0 bare relay", Kind::Relay, None, 77_132.0, 12.5, 481.0),
            b1_row("B1 SQLite (rows/s)", Backend::Sqlite, 196_430.0),
            b1_row("B1 PostgreSQL (rows/s)", Backend::Postgres, 20_000.0),
            chat_row("chat SQLite", Kind::Durable, Some("sqlite"), 9_744.0, 97.0, 287.0),
            chat_row("chat PostgreSQL", Kind::Durable, Some("postgres"), 8_000.0, 71.0, 312.0),
        ];
        fill_ratios(&mut rows);
        rows
    }

    #[test]
    fn ratios_use_the_lower_baseline_of_the_same_backend() {
        let rows = rows();
        // SQLite: B0 (77,132) is below B1 SQLite.
        assert_eq!(rows[3].vs_min_baselines, Some(round(9_744.0 / 77_132.0, 4)));
        assert_eq!(rows[3].cpu_vs_b0, Some(7.76));
        // PostgreSQL: its own B1 (20,000) is the lower one, not B1 SQLite.
        assert_eq!(rows[4].vs_min_baselines, Some(0.4));
        assert_eq!(rows[4].cpu_vs_b0, Some(5.68));
        // Baselines get no ratios.
        assert!(rows[..3].iter().all(|r| r.vs_min_baselines.is_none() && r.cpu_vs_b0.is_none()));
    }

    #[test]
    fn no_ratio_without_a_baseline_figure() {
        let mut rows = vec![
            chat_row("B0 bare relay", Kind::Relay, None, 0.0, 0.0, 1.0),
            chat_row("chat SQLite", Kind::Durable, Some("sqlite"), 9_744.0, 97.0, 287.0),
        ];
        fill_ratios(&mut rows);
        assert_eq!(rows[1].vs_min_baselines, None);
        assert_eq!(rows[1].cpu_vs_b0, None);
    }

    #[test]
    fn table_lines() {
        let lines = table(&rows());
        assert_eq!(
            lines,
            [
                "run                         msgs/s  CPU µs/msg   p50 ms   p99 ms  durable/min(B0,B1)  CPU/B0  check",
                "B0 bare relay               77,132        12.5    240.5    481.0                   -       -  \
                 OK (stream gaps 0, dups 0)",
                "B1 SQLite (rows/s)         196,430           -        -        -                   -       -  -",
                "B1 PostgreSQL (rows/s)      20,000           -        -        -                   -       -  -",
                "chat SQLite                  9,744        97.0    143.5    287.0              12.6 %    7.8x  \
                 OK (lost 0, dup 0, seq faults 0)",
                "chat PostgreSQL              8,000        71.0    156.0    312.0              40.0 %    5.7x  \
                 OK (lost 0, dup 0, seq faults 0)",
            ]
        );
    }

    #[test]
    fn failed_checks_say_what_went_wrong() {
        let c = Check { ok: false, transcripts: true, lost: 2, undelivered: 3, ..Check::default() };
        assert_eq!(check_cell(&c), "FAILED (lost 2, dup 0, seq faults 0, undelivered 3)");
        let c = Check { ok: false, stream_seq_dups: 1, refused: 4, ..Check::default() };
        assert_eq!(check_cell(&c), "FAILED (stream gaps 0, dups 1, refused 4)");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(196_430.2), "196,430");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-1_234.0), "-1,234");
    }
}
