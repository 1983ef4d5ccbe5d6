//! `mesos-ps`: a table of the cluster's active tasks from the master's `/master/state`,
//! laid out like Mesos's own `mesos-ps` (its columns and minimum widths), except that a
//! column grows to fit its longest value instead of cutting names: a task you cannot
//! read in full is a task you cannot find.

use std::time::Duration;

use clap::Parser;
use mesos_proto::v1::TaskState;
use serde_json::Value;

use crate::scheduler::{detector_for, DetectorError, MasterAddress};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "mesos-ps",
    version,
    about = "Lists the active tasks of a Mesos cluster"
)]
pub struct Flags {
    /// Master to ask (host:port).
    #[arg(long, env = "MESOS_MASTER")]
    pub master: String,

    /// Seconds to wait for the master.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PsError {
    #[error("Failed to get the master: {0}")]
    Detect(#[from] DetectorError),
    #[error("Failed to get the master state: {0}")]
    Fetch(String),
}

/// A column: its title and the spaces after it; values get the same total width.
struct Column {
    title: &'static str,
    padding: usize,
}

const COLUMNS: [Column; 7] = [
    Column {
        title: "USER",
        padding: 4,
    },
    Column {
        title: "FRAMEWORK",
        padding: 4,
    },
    Column {
        title: "TASK",
        padding: 6,
    },
    Column {
        title: "SLAVE",
        padding: 14,
    },
    Column {
        title: "MEM",
        padding: 16,
    },
    Column {
        title: "TIME",
        padding: 14,
    },
    // The last column needs no padding.
    Column {
        title: "CPU (allocated)",
        padding: 0,
    },
];

impl Column {
    /// Mesos's fixed width: the title and its padding.
    fn min_width(&self) -> usize {
        self.title.chars().count() + self.padding
    }
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

/// `128.0 MB`, `2.0 GB`: a byte count with one decimal in the largest fitting unit.
pub fn data_size(bytes: f64) -> String {
    const KB: f64 = 1024.0;
    let (value, unit) = if bytes < KB {
        (bytes, "B")
    } else if bytes < KB * KB {
        (bytes / KB, "KB")
    } else if bytes < KB * KB * KB {
        (bytes / (KB * KB), "MB")
    } else {
        (bytes / (KB * KB * KB), "GB")
    };
    format!("{value:.1} {unit}")
}

/// `H:MM:SS`.
pub fn elapsed(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
}

/// The table for a `/master/state` document; `now` is seconds since the epoch.
pub fn format_table(state: &Value, now: f64) -> String {
    let mut rows: Vec<[String; 7]> = Vec::new();
    let empty = Vec::new();
    let slaves = state["slaves"].as_array().unwrap_or(&empty);
    let hostname = |slave_id: &str| {
        slaves
            .iter()
            .find(|s| s["id"].as_str() == Some(slave_id))
            .and_then(|s| s["hostname"].as_str())
            .map(str::to_string)
    };
    for framework in state["frameworks"].as_array().unwrap_or(&empty) {
        for task in framework["tasks"].as_array().unwrap_or(&empty) {
            let active = task["state"]
                .as_str()
                .and_then(TaskState::from_str_name)
                .is_some_and(|s| !s.is_terminal());
            if !active {
                continue;
            }
            let resources = &task["resources"];
            let mem = resources["mem"]
                .as_f64()
                .map(|mb| data_size(mb * 1024.0 * 1024.0));
            let started = task["statuses"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .find(|s| s["state"].as_str() == Some("TASK_RUNNING"))
                .and_then(|s| s["timestamp"].as_f64());
            let time = started.map(|t| elapsed(now - t));
            // `{:?}` prints floats as Python's str() does: 1.0, 0.5.
            let cpus = resources["cpus"].as_f64().map(|c| format!("{c:?}"));
            let cells = [
                framework["user"].as_str().map(str::to_string),
                framework["name"].as_str().map(str::to_string),
                task["name"].as_str().map(str::to_string),
                task["slave_id"].as_str().and_then(hostname),
                mem,
                time,
                cpus,
            ];
            rows.push(cells.map(Option::unwrap_or_default));
        }
    }
    // Each column is at least Mesos's width and two spaces wider than its longest value.
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let longest = rows
                .iter()
                .map(|r| r[i].chars().count() + 2)
                .max()
                .unwrap_or(0);
            c.min_width().max(longest)
        })
        .collect();
    let last = COLUMNS.len() - 1;
    let mut out: String = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == last {
                c.title.to_string()
            } else {
                pad(c.title, widths[i])
            }
        })
        .collect();
    for row in rows {
        out.push('\n');
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&pad(cell, widths[i]));
            }
        }
    }
    out.push('\n');
    out
}

/// Fetches `/master/state` from the master a `--master` value names.
pub async fn fetch_state(master: &str, timeout: Duration) -> Result<Value, PsError> {
    let address: MasterAddress = detector_for(master)?.detect().await?;
    let url = format!("{}/master/state", address.url());
    let fetch = async {
        let response = crate::master::client()
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        response.json::<Value>().await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| PsError::Fetch(format!("timed out waiting for {url}")))?
        .map_err(PsError::Fetch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample_state() -> Value {
        json!({
            "frameworks": [
                {
                    "id": "M-0000",
                    "name": "marathon",
                    "user": "root",
                    "tasks": [
                        {
                            "id": "web.1", "name": "web", "slave_id": "M-S0",
                            "state": "TASK_RUNNING",
                            "resources": {"cpus": 0.5, "mem": 128.0, "disk": 0.0, "ports": "[31000-31000]"},
                            "statuses": [
                                {"state": "TASK_STARTING", "timestamp": 900.0},
                                {"state": "TASK_RUNNING", "timestamp": 1000.0}
                            ]
                        },
                        {
                            "id": "db", "name": "a-task-name-much-longer-than-its-column",
                            "slave_id": "M-S1", "state": "TASK_STAGING",
                            "resources": {"cpus": 2.0, "mem": 4096.0, "disk": 0.0},
                            "statuses": []
                        },
                        {
                            "id": "done", "name": "done", "slave_id": "M-S0",
                            "state": "TASK_FINISHED",
                            "resources": {"cpus": 1.0, "mem": 32.0},
                            "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.0}]
                        }
                    ]
                },
                {"id": "M-0001", "name": "idle", "user": "bob", "tasks": []}
            ],
            "slaves": [
                {"id": "M-S0", "hostname": "agent-0.example"},
                {"id": "M-S1", "hostname": "a-very-long-agent-hostname.example.com"}
            ]
        })
    }

    #[test]
    fn formats_active_tasks_like_mesos_ps() {
        let table = format_table(&sample_state(), 1000.0 + 3725.0);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        // Mesos's column widths, widened where a value is longer: nothing is cut.
        assert_eq!(
            lines[0],
            "USER    FRAMEWORK    TASK                                     SLAVE                                   MEM                TIME              CPU (allocated)"
        );
        assert_eq!(
            lines[1],
            "root    marathon     web                                      agent-0.example                         128.0 MB           1:02:05           0.5"
        );
        assert_eq!(
            lines[2],
            "root    marathon     a-task-name-much-longer-than-its-column  a-very-long-agent-hostname.example.com  4.0 GB                               2.0"
        );
        assert!(table.ends_with('\n'));
    }

    #[test]
    fn empty_cluster_prints_the_header() {
        let table = format_table(&json!({"frameworks": [], "slaves": []}), 0.0);
        assert_eq!(table.lines().count(), 1);
        assert!(table.starts_with("USER    FRAMEWORK"));
    }

    #[test]
    fn helpers() {
        assert_eq!(data_size(512.0), "512.0 B");
        assert_eq!(data_size(2048.0), "2.0 KB");
        assert_eq!(data_size(128.0 * 1024.0 * 1024.0), "128.0 MB");
        assert_eq!(elapsed(0.0), "0:00:00");
        assert_eq!(elapsed(59.9), "0:00:59");
        assert_eq!(elapsed(36_000.0 + 61.0), "10:01:01");
        assert_eq!(elapsed(-5.0), "0:00:00");
    }
}
