//! `dcos node`, `dcos service` and `dcos task`: the cluster as the leading master's
//! `/master/state` describes it, in the DC/OS CLI's tables.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::table::{pretty, python_bool, table, text, text_or_empty, EMPTY};
use super::task_log::LogArgs;
use super::{emit, items, Client, DcosError};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Print the last lines of a file in the sandbox of the matching tasks (`stdout`
    /// without one); `--follow` keeps printing what is appended, as `tail -f`.
    Log(LogArgs),
}

/// Which tasks: running ones by default, `--completed` only finished ones, `--all`
/// both; `<task>` is part of the task's id or a shell pattern (`web*`) matching it.
#[derive(Debug, Args, Default)]
pub struct TaskFilter {
    #[arg(long, conflicts_with = "completed")]
    pub all: bool,
    #[arg(long)]
    pub completed: bool,
    pub task: Option<String>,
}

/// The states in which a task is over (the DC/OS CLI's list).
const COMPLETED_STATES: &[&str] = &[
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_FAILED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_DROPPED",
    "TASK_UNREACHABLE",
    "TASK_UNKNOWN",
];

/// Shell-style matching of a whole string: `*`, `?` and `[...]` (with `!` negation and
/// ranges), as Python's `fnmatch.fnmatchcase`.
pub fn fnmatch(text: &str, pattern: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p[0] == '['; returns (matched, length of the class in p)
        let mut i = 1;
        let negate = p.get(i) == Some(&'!');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() && (first || p[i] != ']') {
            first = false;
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                matched |= p[i] <= c && c <= p[i + 2];
                i += 3;
            } else {
                matched |= p[i] == c;
                i += 1;
            }
        }
        (i < p.len()).then_some((matched != negate, i + 1))
    }
    fn go(t: &[char], p: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|skip| go(&t[skip..], &p[1..])),
            Some('?') => !t.is_empty() && go(&t[1..], &p[1..]),
            Some('[') => match (t.first(), class(p, t.first().copied().unwrap_or('\0'))) {
                (Some(_), Some((true, len))) => go(&t[1..], &p[len..]),
                (_, Some((false, _))) | (None, Some(_)) => false,
                // An unclosed `[` is a literal.
                (first, None) => first == Some(&'[') && go(&t[1..], &p[1..]),
            },
            Some(c) => t.first() == Some(c) && go(&t[1..], &p[1..]),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

/// The master's state document with the lookups the tables need.
pub struct MasterState(pub Value);

impl MasterState {
    pub async fn fetch(master: &Client) -> Result<MasterState, DcosError> {
        master.get("/master/state").await.map(MasterState)
    }

    /// Completed frameworks, then the active ones, then (when asked) the inactive ones.
    fn frameworks(&self, inactive: bool, completed: bool) -> Vec<Value> {
        let mut out = vec![];
        if completed {
            out.extend(items(&self.0["completed_frameworks"]));
        }
        out.extend(
            items(&self.0["frameworks"])
                .into_iter()
                .filter(|f| f["active"] == true || inactive),
        );
        out
    }

    pub fn agent(&self, id: &Value) -> Option<Value> {
        items(&self.0["slaves"])
            .into_iter()
            .find(|a| a["id"] == *id)
    }

    fn framework(&self, id: &Value) -> Option<Value> {
        self.frameworks(true, true)
            .into_iter()
            .find(|f| f["id"] == *id)
    }

    /// The tasks `filter` selects, sorted by name.
    pub fn tasks(&self, filter: &TaskFilter) -> Vec<Value> {
        let mut lists = vec!["tasks"];
        if filter.completed || filter.all {
            lists.push("completed_tasks");
        }
        let mut tasks: Vec<Value> = self
            .frameworks(true, true)
            .iter()
            .flat_map(|f| lists.iter().flat_map(|l| items(&f[*l])))
            .filter(|t| {
                !filter.completed
                    || COMPLETED_STATES.contains(&t["state"].as_str().unwrap_or_default())
            })
            .filter(|t| {
                let id = t["id"].as_str().unwrap_or_default();
                filter
                    .task
                    .as_ref()
                    .is_none_or(|f| id.contains(f.as_str()) || fnmatch(id, f))
            })
            .collect();
        tasks.sort_by(|a, b| text(&a["name"]).cmp(&text(&b["name"])));
        tasks
    }
}

/// `(region, zone)` of a master or agent's fault domain.
fn fault_domain(node: &Value) -> (Value, Value) {
    let domain = &node["domain"]["fault_domain"];
    (
        domain["region"]["name"].clone(),
        domain["zone"]["name"].clone(),
    )
}

/// The `ip:port` in a libprocess pid (`slave(1)@10.0.0.1:5051`).
pub fn pid_address(pid: &str) -> &str {
    pid.rsplit_once('@').map_or(pid, |(_, a)| a)
}

/// The IP in a libprocess pid.
pub fn pid_ip(pid: &str) -> &str {
    let address = pid_address(pid);
    address.rsplit_once(':').map_or(address, |(ip, _)| ip)
}

/// The nodes `dcos node` shows: the leading master (`master (leader)`) and the agents,
/// each with `type`, `region` and `zone` added.
pub fn nodes(state: &MasterState) -> Vec<Value> {
    let s = &state.0;
    let (region, zone) = fault_domain(s);
    let mut nodes = vec![json!({
        "host": s["hostname"],
        "ip": pid_ip(s["pid"].as_str().unwrap_or_default()),
        "id": s["id"],
        "pid": s["pid"],
        "version": s["version"],
        "type": "master (leader)",
        "region": region,
        "zone": zone,
    })];
    for mut agent in items(&s["slaves"]) {
        let (region, zone) = fault_domain(&agent);
        agent["type"] = json!("agent");
        agent["region"] = region;
        agent["zone"] = zone;
        nodes.push(agent);
    }
    nodes
}

/// `dcos node`: HOSTNAME IP ID TYPE REGION ZONE.
pub fn node_table(nodes: &[Value]) -> String {
    let rows = nodes
        .iter()
        .map(|n| {
            let host = if n["host"].is_null() {
                &n["hostname"]
            } else {
                &n["host"]
            };
            let ip = match &n["ip"] {
                Value::String(ip) => ip.clone(),
                _ => pid_ip(n["pid"].as_str().unwrap_or_default()).to_string(),
            };
            vec![
                text(host),
                ip,
                text(&n["id"]),
                text(&n["type"]),
                text(&n["region"]),
                text(&n["zone"]),
            ]
        })
        .collect();
    table(&["HOSTNAME", "IP", "ID", "TYPE", "REGION", "ZONE"], rows)
}

/// `dcos service`: NAME HOST ACTIVE TASKS CPU MEM DISK ID.
pub fn service_table(frameworks: &[Value]) -> String {
    let rows = frameworks
        .iter()
        .map(|f| {
            vec![
                text(&f["name"]),
                text(&f["hostname"]),
                python_bool(f["active"] == true),
                items(&f["tasks"]).len().to_string(),
                text(&f["resources"]["cpus"]),
                text(&f["resources"]["mem"]),
                text(&f["resources"]["disk"]),
                text(&f["id"]),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "HOST", "ACTIVE", "TASKS", "CPU", "MEM", "DISK", "ID",
        ],
        rows,
    )
}

/// The last word of a task state's first letter: `R` for `TASK_RUNNING`.
fn state_letter(state: &str) -> String {
    state
        .rsplit('_')
        .next()
        .and_then(|w| w.chars().next())
        .map(String::from)
        .unwrap_or_else(|| EMPTY.to_string())
}

/// `dcos task`: NAME HOST USER STATE ID MESOS ID REGION ZONE.
pub fn task_table(state: &MasterState, tasks: &[Value]) -> String {
    let rows = tasks
        .iter()
        .map(|t| {
            let agent = state.agent(&t["slave_id"]);
            let (region, zone) = agent.as_ref().map(fault_domain).unwrap_or_default();
            let user = state
                .framework(&t["framework_id"])
                .map(|f| text_or_empty(&f["user"]))
                .unwrap_or_else(|| EMPTY.to_string());
            vec![
                text(&t["name"]),
                agent.map_or(EMPTY.to_string(), |a| text(&a["hostname"])),
                user,
                state_letter(t["state"].as_str().unwrap_or_default()),
                text(&t["id"]),
                text(&t["slave_id"]),
                text(&region),
                text(&zone),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "HOST", "USER", "STATE", "ID", "MESOS ID", "REGION", "ZONE",
        ],
        rows,
    )
}

pub async fn node(master: &Client, json: bool, out: &mut dyn Write) -> Result<(), DcosError> {
    let nodes = nodes(&MasterState::fetch(master).await?);
    if json {
        return emit(out, &pretty(&Value::Array(nodes)));
    }
    emit(out, &node_table(&nodes))
}

pub async fn service(
    master: &Client,
    inactive: bool,
    completed: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    let frameworks = MasterState::fetch(master)
        .await?
        .frameworks(inactive, completed);
    if json {
        return emit(out, &pretty(&Value::Array(frameworks)));
    }
    emit(out, &service_table(&frameworks))
}

pub async fn task(
    master: &Client,
    filter: &TaskFilter,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    let state = MasterState::fetch(master).await?;
    let tasks = state.tasks(filter);
    if json {
        return emit(out, &pretty(&Value::Array(tasks)));
    }
    emit(out, &task_table(&state, &tasks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> MasterState {
        MasterState(json!({
            "id": "m1", "pid": "master@127.0.0.1:5050", "hostname": "master-host",
            "version": "1.11.0",
            "slaves": [{"id": "a1", "pid": "slave(1)@127.0.0.2:5051", "hostname": "agent-host",
                        "domain": {"fault_domain": {"region": {"name": "eu"},
                                                    "zone": {"name": "eu-1"}}}}],
            "frameworks": [
                {"id": "f1", "name": "marathon", "user": "root", "hostname": "mh",
                 "active": true, "resources": {"cpus": 0.2, "mem": 32.0, "disk": 0.0},
                 "tasks": [{"id": "web.1", "name": "web", "state": "TASK_RUNNING",
                            "slave_id": "a1", "framework_id": "f1"}],
                 "completed_tasks": [{"id": "web.0", "name": "web", "state": "TASK_KILLED",
                                      "slave_id": "a1", "framework_id": "f1"}]},
                {"id": "f2", "name": "idle", "user": "", "hostname": "ih", "active": false,
                 "resources": {"cpus": 0.0, "mem": 0.0, "disk": 0.0}, "tasks": [],
                 "completed_tasks": []}],
            "completed_frameworks": [
                {"id": "f0", "name": "done", "user": "u", "hostname": "dh", "active": false,
                 "resources": {"cpus": 0.0, "mem": 0.0, "disk": 0.0}, "tasks": [],
                 "completed_tasks": [{"id": "job.1", "name": "job", "state": "TASK_FINISHED",
                                      "slave_id": "gone", "framework_id": "f0"}]}]
        }))
    }

    #[test]
    fn shell_patterns() {
        for (text, pattern, want) in [
            ("web.1", "web*", true),
            ("web.1", "*.?", true),
            ("web.12", "*.?", false),
            ("web.1", "w[a-f]b.[0-9]", true),
            ("web.1", "w[!e]b*", false),
            ("a[b", "a[b", true),
            ("", "*", true),
        ] {
            assert_eq!(fnmatch(text, pattern), want, "{text} ~ {pattern}");
        }
    }

    #[test]
    fn tasks_by_filter() {
        let s = state();
        let ids =
            |f: TaskFilter| -> Vec<String> { s.tasks(&f).iter().map(|t| text(&t["id"])).collect() };
        assert_eq!(ids(TaskFilter::default()), ["web.1"]);
        let completed = TaskFilter {
            completed: true,
            ..Default::default()
        };
        assert_eq!(ids(completed), ["job.1", "web.0"]);
        let all_web = TaskFilter {
            all: true,
            task: Some("web*".into()),
            ..Default::default()
        };
        assert_eq!(ids(all_web), ["web.1", "web.0"]);
        let part = TaskFilter {
            task: Some("eb.".into()),
            ..Default::default()
        };
        assert_eq!(ids(part), ["web.1"]);
    }

    #[test]
    fn task_table_has_the_dcos_columns() {
        let s = state();
        let tasks = s.tasks(&TaskFilter {
            completed: true,
            ..Default::default()
        });
        assert_eq!(
            task_table(&s, &tasks),
            "NAME  HOST        USER  STATE  ID     MESOS ID  REGION  ZONE\n\
             job   ---         u     F      job.1  gone      ---     ---\n\
             web   agent-host  root  K      web.0  a1        eu      eu-1\n"
        );
    }

    #[test]
    fn node_table_lists_the_leader_and_the_agents() {
        assert_eq!(
            node_table(&nodes(&state())),
            "HOSTNAME     IP         ID  TYPE             REGION  ZONE\n\
             agent-host   127.0.0.2  a1  agent            eu      eu-1\n\
             master-host  127.0.0.1  m1  master (leader)  ---     ---\n"
        );
    }

    #[test]
    fn service_table_by_activity() {
        let s = state();
        assert_eq!(
            service_table(&s.frameworks(false, false)),
            "NAME      HOST  ACTIVE  TASKS  CPU  MEM   DISK  ID\n\
             marathon  mh    True    1      0.2  32.0  0.0   f1\n"
        );
        let names: Vec<String> = s
            .frameworks(true, true)
            .iter()
            .map(|f| text(&f["name"]))
            .collect();
        assert_eq!(names, ["done", "marathon", "idle"]);
    }
}
