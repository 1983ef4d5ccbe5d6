//! Resource usage of the agent's containers, read from `/proc`: `/monitor/statistics`,
//! `/containers` and the operator API's GET_CONTAINERS.
//!
//! A command task's container is its supervisor's process tree plus the task's process
//! group (which keeps processes that were re-parented away from the supervisor). The
//! supervisor itself is the agent's, not the task's, and is not counted.
//!
//! The tasks of a task group run in containers nested in their executor's; as in Mesos,
//! the endpoints show the executor's container with the usage of all of them
//! ([`top_level`]), and GET_CONTAINERS shows the nested ones too when asked (`show_nested`).
//!
//! ```text
//!  core ──containers()──▶ ContainerView ──▶ process tree in /proc ──▶ ResourceStatistics
//!                                              nested ones summed into their executor's ─┘
//! ```

use std::collections::{BTreeMap, BTreeSet};

use mesos_proto::v1::{self, ContainerId, ContainerStatus, ResourceStatistics};
use serde_json::{json, Value};

use crate::agent::views::ContainerView;
use crate::launcher;

/// Clock ticks per second in `/proc/<pid>/stat`: Linux fixes USER_HZ at 100 for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// One process, as `/proc/<pid>/stat` and `/proc/<pid>/status` describe it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Process {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    user_ticks: u64,
    system_ticks: u64,
    threads: u32,
    rss_bytes: u64,
}

/// Parses `/proc/<pid>/stat`. The command name may hold spaces and parentheses, so the
/// fields are counted from its closing parenthesis.
fn parse_stat(pid: i32, stat: &str) -> Option<Process> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 of proc(5) (state).
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
    Some(Process {
        pid,
        ppid: field(4)? as i32,
        pgrp: field(5)? as i32,
        user_ticks: field(14)?.max(0) as u64,
        system_ticks: field(15)?.max(0) as u64,
        threads: field(20)?.max(0) as u32,
        rss_bytes: 0,
    })
}

/// `VmRSS` of `/proc/<pid>/status`, in bytes (0 for kernel threads and zombies).
fn parse_rss(status: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_default()
}

fn all_processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let mut process = parse_stat(pid, &stat)?;
            process.rss_bytes = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .map(|s| parse_rss(&s))
                .unwrap_or_default();
            Some(process)
        })
        .collect()
}

/// The descendants of `root` (not `root` itself) and the members of process group `group`.
fn container_processes(
    processes: &[Process],
    root: Option<i32>,
    group: Option<i32>,
) -> Vec<&Process> {
    let mut children: BTreeMap<i32, Vec<&Process>> = BTreeMap::new();
    for p in processes {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut chosen: BTreeSet<i32> = BTreeSet::new();
    let mut queue: Vec<i32> = root.into_iter().collect();
    while let Some(pid) = queue.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            if chosen.insert(child.pid) {
                queue.push(child.pid);
            }
        }
    }
    if let Some(group) = group {
        chosen.extend(processes.iter().filter(|p| p.pgrp == group).map(|p| p.pid));
    }
    processes
        .iter()
        .filter(|p| chosen.contains(&p.pid))
        .collect()
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The supervisor's pid, if it is still this run's supervisor.
fn supervisor_pid(view: &ContainerView) -> Option<i32> {
    let pid: u32 = std::fs::read_to_string(view.run.forked_pid())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    launcher::supervisor_alive(pid, &view.run).then_some(pid as i32)
}

/// A container's usage and limits, measured now.
#[derive(Debug, Clone)]
pub struct Measured {
    pub view: ContainerView,
    pub executor_pid: Option<i32>,
    pub statistics: ResourceStatistics,
}

/// Measures every container from one scan of `/proc`. Blocking: call off the async threads.
pub fn measure(views: Vec<ContainerView>) -> Vec<Measured> {
    let processes = all_processes();
    let timestamp = now_secs();
    views
        .into_iter()
        .map(|view| {
            let mut statistics = ResourceStatistics {
                timestamp,
                cpus_limit: view.cpus_limit,
                mem_limit_bytes: view.mem_limit_bytes,
                ..Default::default()
            };
            let executor_pid = (!view.docker).then(|| supervisor_pid(&view)).flatten();
            if !view.docker {
                let group = launcher::task_pid(&view.run);
                let members = container_processes(&processes, executor_pid, group);
                let ticks = |f: fn(&Process) -> u64| members.iter().map(|p| f(p)).sum::<u64>();
                statistics.cpus_user_time_secs =
                    Some(ticks(|p| p.user_ticks) as f64 / TICKS_PER_SECOND);
                statistics.cpus_system_time_secs =
                    Some(ticks(|p| p.system_ticks) as f64 / TICKS_PER_SECOND);
                statistics.mem_rss_bytes = Some(ticks(|p| p.rss_bytes));
                statistics.mem_total_bytes = statistics.mem_rss_bytes;
                statistics.processes = Some(members.len() as u32);
                statistics.threads = Some(members.iter().map(|p| p.threads).sum());
            }
            Measured {
                view,
                executor_pid,
                statistics,
            }
        })
        .collect()
}

/// The executor containers that nested containers run in, each with the summed usage and
/// limits of its nested ones, followed by the containers that are not nested; with
/// `keep_nested`, the nested ones come last.
pub fn top_level(measured: Vec<Measured>, keep_nested: bool) -> Vec<Measured> {
    let mut parents: BTreeMap<String, Measured> = BTreeMap::new();
    let mut top = Vec::new();
    let mut nested = Vec::new();
    for m in measured {
        let Some(parent) = m.view.parent_container_id.clone() else {
            top.push(m);
            continue;
        };
        match parents.get_mut(&parent) {
            Some(sum) => add_usage(sum, &m),
            None => {
                let mut view = m.view.clone();
                view.container_id = parent.clone();
                view.parent_container_id = None;
                view.source = view.executor_id.clone();
                parents.insert(
                    parent,
                    Measured {
                        view,
                        executor_pid: None,
                        statistics: m.statistics.clone(),
                    },
                );
            }
        }
        if keep_nested {
            nested.push(m);
        }
    }
    let mut out: Vec<Measured> = parents.into_values().collect();
    out.extend(top);
    out.extend(nested);
    out
}

fn add_usage(sum: &mut Measured, m: &Measured) {
    fn add<T: std::ops::Add<Output = T> + Copy>(a: &mut Option<T>, b: Option<T>) {
        if let Some(b) = b {
            *a = Some(a.map_or(b, |a| a + b));
        }
    }
    let (s, n) = (&mut sum.statistics, &m.statistics);
    add(&mut s.cpus_limit, n.cpus_limit);
    add(&mut s.mem_limit_bytes, n.mem_limit_bytes);
    add(&mut s.cpus_user_time_secs, n.cpus_user_time_secs);
    add(&mut s.cpus_system_time_secs, n.cpus_system_time_secs);
    add(&mut s.mem_rss_bytes, n.mem_rss_bytes);
    add(&mut s.mem_total_bytes, n.mem_total_bytes);
    add(&mut s.processes, n.processes);
    add(&mut s.threads, n.threads);
    add(&mut sum.view.cpus_limit, m.view.cpus_limit);
    add(&mut sum.view.mem_limit_bytes, m.view.mem_limit_bytes);
}

impl Measured {
    fn container_id(&self) -> ContainerId {
        ContainerId {
            value: self.view.container_id.clone(),
            parent: self.view.parent_container_id.as_ref().map(|p| {
                Box::new(ContainerId {
                    value: p.clone(),
                    parent: None,
                })
            }),
        }
    }

    pub fn container_status(&self) -> ContainerStatus {
        ContainerStatus {
            container_id: Some(self.container_id()),
            executor_pid: self.executor_pid.map(|p| p as u32),
            ..Default::default()
        }
    }

    /// An entry of `/monitor/statistics`.
    pub fn statistics_json(&self) -> Value {
        json!({
            "executor_id": self.view.executor_id,
            "executor_name": self.view.executor_name,
            "framework_id": self.view.framework_id,
            "source": self.view.source,
            "statistics": mesos_proto::json::to_json_value(&self.statistics),
        })
    }

    /// An entry of `/containers`.
    pub fn container_json(&self) -> Value {
        let mut value = self.statistics_json();
        value["container_id"] = json!(self.view.container_id);
        value["status"] = mesos_proto::json::to_json_value(&self.container_status());
        value
    }

    /// An entry of the operator API's GET_CONTAINERS.
    pub fn container_proto(&self) -> mesos_proto::v1::agent::response::get_containers::Container {
        mesos_proto::v1::agent::response::get_containers::Container {
            framework_id: Some(v1::FrameworkId {
                value: self.view.framework_id.clone(),
            }),
            executor_id: Some(v1::ExecutorId {
                value: self.view.executor_id.clone(),
            }),
            executor_name: Some(self.view.executor_name.clone()),
            container_id: self.container_id(),
            container_status: Some(self.container_status()),
            resource_statistics: Some(self.statistics.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    fn measured(container: &str, parent: Option<&str>, rss: u64, cpus: f64) -> Measured {
        Measured {
            view: ContainerView {
                framework_id: "f".to_string(),
                executor_id: "e".to_string(),
                executor_name: String::new(),
                source: container.to_string(),
                container_id: container.to_string(),
                cpus_limit: Some(cpus),
                mem_limit_bytes: Some(1 << 20),
                run: crate::paths::RunPaths {
                    meta: "/nonexistent/meta".into(),
                    sandbox: "/nonexistent/sandbox".into(),
                },
                docker: false,
                parent_container_id: parent.map(str::to_string),
            },
            executor_pid: None,
            statistics: ResourceStatistics {
                cpus_limit: Some(cpus),
                mem_limit_bytes: Some(1 << 20),
                mem_rss_bytes: Some(rss),
                processes: Some(1),
                ..Default::default()
            },
        }
    }

    #[test]
    fn nested_containers_are_summed_into_their_executors() {
        let list = vec![
            measured("a", Some("exec"), 100, 0.5),
            measured("plain", None, 7, 1.0),
            measured("b", Some("exec"), 20, 0.25),
        ];
        let top = top_level(list.clone(), false);
        let ids: Vec<&str> = top.iter().map(|m| m.view.container_id.as_str()).collect();
        assert_eq!(ids, ["exec", "plain"]);
        let exec = &top[0];
        assert_eq!(exec.statistics.mem_rss_bytes, Some(120));
        assert_eq!(exec.statistics.processes, Some(2));
        assert_eq!(exec.statistics.cpus_limit, Some(0.75));
        assert_eq!(exec.statistics.mem_limit_bytes, Some(2 << 20));
        assert_eq!(exec.view.parent_container_id, None);
        assert_eq!(exec.container_proto().container_id.parent, None);

        let all = top_level(list, true);
        assert_eq!(all.len(), 4);
        let nested = all[2].container_proto().container_id;
        assert_eq!(nested.value, "a");
        assert_eq!(nested.parent.map(|p| p.value), Some("exec".to_string()));
    }

    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let stat = "4242 (my (odd) name) S 10 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 3 0 12345 1000000 200 18446744073709551615";
        let p = parse_stat(4242, stat).unwrap();
        assert_eq!(p.ppid, 10);
        assert_eq!(p.pgrp, 4242);
        assert_eq!(p.user_ticks, 250);
        assert_eq!(p.system_ticks, 75);
        assert_eq!(p.threads, 3);
        assert!(parse_stat(1, "garbage").is_none());
    }

    #[test]
    fn rss_from_status() {
        assert_eq!(parse_rss("Name:\tsh\nVmRSS:\t    1024 kB\n"), 1024 * 1024);
        assert_eq!(parse_rss("Name:\tkthreadd\n"), 0);
    }

    #[test]
    fn container_is_the_tree_under_the_supervisor_and_the_task_group() {
        let p = |pid, ppid, pgrp| Process {
            pid,
            ppid,
            pgrp,
            ..Default::default()
        };
        let processes = vec![
            p(1, 0, 1),
            p(10, 1, 10),  // supervisor
            p(11, 10, 11), // task, its own group
            p(12, 11, 11), // task's child
            p(13, 12, 13), // grandchild in a new group
            p(14, 1, 11),  // re-parented to init, still in the task's group
            p(20, 1, 20),  // unrelated
        ];
        let mut pids: Vec<i32> = container_processes(&processes, Some(10), Some(11))
            .iter()
            .map(|p| p.pid)
            .collect();
        pids.sort();
        assert_eq!(pids, [11, 12, 13, 14]);
        assert!(container_processes(&processes, None, None).is_empty());
    }

    #[test]
    fn measures_this_process_tree() {
        let me = std::process::id() as i32;
        let processes = all_processes();
        let own = processes
            .iter()
            .find(|p| p.pid == me)
            .expect("self in /proc");
        assert!(own.rss_bytes > 0);
        assert!(own.threads >= 1);
    }
}
