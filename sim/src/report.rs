//! Benchmark results: rows with targets, printed as a table and written as JSON and
//! markdown together with the machine they were measured on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub(crate) fn wall_clock_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Which way a target points.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    AtMost,
    AtLeast,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub bound: Bound,
    pub value: f64,
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub value: f64,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Whether the target is met; absent without a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

impl Row {
    pub fn new(metric: impl Into<String>, value: f64, unit: &str) -> Row {
        Row {
            metric: metric.into(),
            value,
            unit: unit.to_string(),
            target: None,
            met: None,
        }
    }

    pub fn at_most(mut self, limit: f64) -> Row {
        self.met = Some(self.value <= limit);
        self.target = Some(Target {
            bound: Bound::AtMost,
            value: limit,
        });
        self
    }

    pub fn at_least(mut self, limit: f64) -> Row {
        self.met = Some(self.value >= limit);
        self.target = Some(Target {
            bound: Bound::AtLeast,
            value: limit,
        });
        self
    }

    fn target_text(&self) -> String {
        match &self.target {
            None => String::new(),
            Some(t) => {
                let sign = match t.bound {
                    Bound::AtMost => "<=",
                    Bound::AtLeast => ">=",
                };
                format!("{sign} {} {}", number(t.value), self.unit)
            }
        }
    }

    fn status(&self) -> &'static str {
        match self.met {
            None => "",
            Some(true) => "met",
            Some(false) => "MISSED",
        }
    }
}

/// One scenario's figures and what they mean.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    /// The sizes actually run (after `--scale`).
    pub setup: String,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

impl Scenario {
    pub fn new(id: &str, title: &str) -> Scenario {
        Scenario {
            id: id.to_string(),
            title: title.to_string(),
            setup: String::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            error: None,
            seconds: 0.0,
        }
    }

    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: u64,
    pub cpu_model: String,
    pub kernel: String,
    pub open_files_limit: u64,
    /// `/proc/loadavg` (1, 5 and 15 minutes) when the report is made: the machine is
    /// shared, and other work running alongside shows here.
    pub load_average: String,
}

impl Machine {
    pub fn detect(open_files_limit: u64) -> Machine {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_string())
            .unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_bytes,
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            open_files_limit,
            load_average: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Heading of the markdown (default: from the scenarios).
    #[serde(skip)]
    pub title: Option<String>,
    /// Paragraph under the machine (default: what simulated agents are).
    #[serde(skip)]
    pub intro: Option<String>,
    pub command: String,
    pub date: String,
    pub git_sha: String,
    pub machine: Machine,
    pub scale: f64,
    pub seed: u64,
    pub scenarios: Vec<Scenario>,
}

/// `git rev-parse HEAD` of the working directory, with `-dirty` when it has changes.
pub fn git_sha() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(sha) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        None => "unknown".to_string(),
    }
}

/// A number with a sensible number of digits.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        // Thousands separators make 100000 readable at a glance.
        let (sign, digits) = s.split_at(if s.starts_with('-') { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

impl Report {
    /// The plain-text table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut lines = vec![[
            "scenario".to_string(),
            "metric".to_string(),
            "value".to_string(),
            "target".to_string(),
            "".to_string(),
        ]];
        for s in &self.scenarios {
            if let Some(e) = &s.error {
                lines.push([
                    s.id.clone(),
                    format!("FAILED: {e}"),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            for r in &s.rows {
                lines.push([
                    s.id.clone(),
                    r.metric.clone(),
                    format!("{} {}", number(r.value), r.unit),
                    r.target_text(),
                    r.status().to_string(),
                ]);
            }
        }
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (n, l) in lines.iter().enumerate() {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 2 {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
            if n == 0 {
                let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 8));
            }
        }
        out
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        match (&self.title, &self.scenarios[..]) {
            (Some(title), _) => writeln!(out, "# {title}\n"),
            (None, [only]) => writeln!(out, "# Benchmark results: {}\n", only.title),
            (None, _) => writeln!(out, "# Scale benchmark results\n"),
        }
        .ok();
        let _ = writeln!(out, "- command: `{}`", self.command);
        let _ = writeln!(out, "- date: {}", self.date);
        let _ = writeln!(out, "- git: `{}`", self.git_sha);
        let _ = writeln!(
            out,
            "- machine: {} cores ({}), {} memory, Linux {}, open-file limit {}, load average \
             at the end {}",
            m.cores,
            m.cpu_model,
            gib(m.memory_bytes),
            m.kernel,
            m.open_files_limit,
            m.load_average
        );
        let _ = writeln!(out, "- scale: {}, seed: {}", self.scale, self.seed);
        let intro = self.intro.as_deref().unwrap_or(
            "Simulated agents are in-process fakes that speak the real agent protocol: their \
             tasks are *scheduled* (placed, reported RUNNING, acknowledged), not running in \
             containers. Scenario e uses the real agent with real processes.",
        );
        let _ = writeln!(out, "\n{intro}\n");
        let _ = writeln!(out, "| scenario | metric | value | target | |");
        let _ = writeln!(out, "|---|---|---:|---|---|");
        for s in &self.scenarios {
            if let Some(e) = &s.error {
                let _ = writeln!(out, "| {} | FAILED: {} | | | |", s.id, e.replace('|', "/"));
            }
            for r in &s.rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} {} | {} | {} |",
                    s.id,
                    r.metric,
                    number(r.value),
                    r.unit,
                    r.target_text(),
                    r.status()
                );
            }
        }
        for s in &self.scenarios {
            let _ = writeln!(out, "\n## {}. {}\n", s.id, s.title);
            if !s.setup.is_empty() {
                let _ = writeln!(out, "Setup: {}\n", s.setup);
            }
            let _ = writeln!(out, "Took {:.0} s.\n", s.seconds);
            for n in &s.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// Writes `<stem>.json` and `<stem>.md` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join(format!("{stem}.json"));
        let md = dir.join(format!("{stem}.md"));
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&json, text + "\n")?;
        std::fs::write(&md, self.markdown())?;
        Ok((json, md))
    }
}

/// The `p`-th percentile (0..=100) of `values`, by nearest rank.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_percentiles() {
        assert_eq!(number(123456.0), "123,456");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.5), "0.50");
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert!(Row::new("x", 5.0, "ms").at_most(10.0).met.unwrap());
        assert!(!Row::new("x", 5.0, "ms").at_least(10.0).met.unwrap());
    }
}
