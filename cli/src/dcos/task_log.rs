//! `dcos task log [--follow] [--lines=N] [<task>] [<file>]`: the end of a file in each
//! matching task's sandbox, read through its agent's `/files/read` (offset `-1` asks for
//! the size; reads are capped by the agent, so longer ranges take several), then, with
//! `--follow`, whatever is appended, polled every second as `tail -f` does.
//!
//! ```text
//!  /master/state ─tasks, agents─▶ agent /state ─executor directory─▶ SandboxFile
//!  SandboxFile ─/files/read?path&offset&length─▶ last N lines ─▶ (follow) appended bytes
//! ```
//! With several files, a `===> task:<id>:<file> <===` header precedes each file's output.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::mesos::{pid_address, MasterState, TaskFilter};
use super::{emit, fail, items, Client, DcosError};

/// A liberal estimate of a line's length, to size the first read of the last N lines.
const LINE_SIZE: u64 = 200;

/// How often `--follow` asks for new data.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub filter: TaskFilter,
    /// Keep printing what the tasks append.
    #[arg(long)]
    pub follow: bool,
    /// How many of the last lines to print.
    #[arg(long, default_value_t = 10)]
    pub lines: u64,
    /// The sandbox file.
    #[arg(default_value = "stdout")]
    pub file: String,
}

/// A file in a task's sandbox with a read position.
pub struct SandboxFile {
    agent: Client,
    path: String,
    /// `task:<id>:<file>`, as the DC/OS CLI names it in headers.
    pub name: String,
    cursor: u64,
}

impl SandboxFile {
    async fn read_at(&self, offset: i64, length: i64) -> Result<(String, u64), DcosError> {
        let query = [
            ("path", self.path.clone()),
            ("offset", offset.to_string()),
            ("length", length.to_string()),
        ];
        let answer = self
            .agent
            .send(reqwest::Method::GET, "/files/read", &query, None)
            .await?;
        match (answer["data"].as_str(), answer["offset"].as_u64()) {
            (Some(data), Some(offset)) => Ok((data.to_string(), offset)),
            _ => fail(format!("unexpected answer from /files/read: {answer}")),
        }
    }

    /// The file's size.
    async fn size(&self) -> Result<u64, DcosError> {
        Ok(self.read_at(-1, -1).await?.1)
    }

    /// Bytes `[from, to)`, in as many reads as the agent needs.
    async fn range(&self, from: u64, to: u64) -> Result<String, DcosError> {
        let mut data = String::new();
        let mut at = from;
        while at < to {
            let (chunk, _) = self.read_at(at as i64, (to - at) as i64).await?;
            if chunk.is_empty() {
                break;
            }
            at += chunk.len() as u64;
            data += &chunk;
        }
        Ok(data)
    }

    /// The last `lines` lines; moves the cursor to the end of the file.
    pub async fn last_lines(&mut self, lines: u64) -> Result<String, DcosError> {
        let size = self.size().await?;
        self.cursor = size;
        if lines == 0 {
            return Ok(String::new());
        }
        let window = LINE_SIZE * lines;
        let mut start = size;
        let mut data = String::new();
        loop {
            let from = start.saturating_sub(window);
            data = self.range(from, start).await? + &data;
            start = from;
            if let Some(tail) = last_lines_of(&data, lines as usize) {
                return Ok(tail.to_string());
            }
            if start == 0 {
                return Ok(data);
            }
        }
    }

    /// Everything after the cursor; moves it past what was read.
    pub async fn rest(&mut self) -> Result<String, DcosError> {
        let mut data = String::new();
        loop {
            let (chunk, _) = self.read_at(self.cursor as i64, -1).await?;
            if chunk.is_empty() {
                return Ok(data);
            }
            self.cursor += chunk.len() as u64;
            data += &chunk;
        }
    }
}

/// The last `n` lines of `data` if it holds more than `n` (a final newline ends the last
/// line rather than starting another).
pub fn last_lines_of(data: &str, n: usize) -> Option<&str> {
    let body = data.strip_suffix('\n').unwrap_or(data);
    body.rmatch_indices('\n')
        .nth(n.checked_sub(1)?)
        .map(|(at, _)| &data[at + 1..])
}

/// The executor directory of `task_id` in an agent's `/state`, and whether the executor
/// is Mesos's default (pod) executor, whose tasks have their own sandbox below it.
pub fn executor_directory(agent_state: &Value, task_id: &str) -> Option<(String, bool)> {
    let has_task = |executor: &Value| {
        ["tasks", "completed_tasks", "queued_tasks"]
            .iter()
            .any(|list| items(&executor[*list]).iter().any(|t| t["id"] == task_id))
    };
    ["frameworks", "completed_frameworks"]
        .iter()
        .flat_map(|list| items(&agent_state[*list]))
        .flat_map(|f| {
            ["executors", "completed_executors"]
                .iter()
                .flat_map(|list| items(&f[*list]))
                .collect::<Vec<_>>()
        })
        .find(|e| has_task(e))
        .and_then(|e| {
            let directory = e["directory"].as_str()?.trim_end_matches('/').to_string();
            Some((directory, e["type"] == "DEFAULT"))
        })
}

/// The message when no task matches, as the DC/OS CLI words it.
fn no_tasks(state: &MasterState, filter: &TaskFilter) -> DcosError {
    let Some(pattern) = &filter.task else {
        return DcosError("No tasks found. Exiting.".into());
    };
    if !filter.completed && !filter.all {
        let completed = state
            .tasks(&TaskFilter {
                completed: true,
                task: Some(pattern.clone()),
                ..Default::default()
            })
            .len();
        if completed > 0 {
            let there = if completed == 1 {
                "is 1 matching completed task".to_string()
            } else {
                format!("are {completed} matching completed tasks")
            };
            return DcosError(format!(
                "No running tasks match ID [{pattern}]; however, there {there}. \
                 Run with --completed to see these logs."
            ));
        }
    }
    DcosError("No matching tasks. Exiting.".into())
}

/// The sandbox files of the matching tasks; tasks whose agent or executor cannot be
/// found are left out, as the DC/OS CLI leaves out unreachable files.
async fn sandbox_files(
    master: &Client,
    state: &MasterState,
    tasks: &[Value],
    file: &str,
) -> Vec<SandboxFile> {
    let mut agent_states: BTreeMap<String, Option<(Client, Value)>> = BTreeMap::new();
    let mut files = vec![];
    for task in tasks {
        let Some(agent) = state.agent(&task["slave_id"]) else {
            continue;
        };
        let agent_id = agent["id"].as_str().unwrap_or_default().to_string();
        if !agent_states.contains_key(&agent_id) {
            let address = pid_address(agent["pid"].as_str().unwrap_or_default());
            let client = master.at(
                "the agent",
                format!("{}://{address}", mesos_common::tls::scheme()),
            );
            let fetched = client.get("/state").await.ok().map(|s| (client, s));
            agent_states.insert(agent_id.clone(), fetched);
        }
        let Some((client, agent_state)) = &agent_states[&agent_id] else {
            continue;
        };
        let task_id = task["id"].as_str().unwrap_or_default();
        let Some((directory, default_executor)) = executor_directory(agent_state, task_id) else {
            continue;
        };
        let path = if default_executor {
            format!("{directory}/tasks/{task_id}/{file}")
        } else {
            format!("{directory}/{file}")
        };
        files.push(SandboxFile {
            agent: client.clone(),
            path,
            name: format!("task:{task_id}:{file}"),
            cursor: 0,
        });
    }
    files
}

/// Prints what each file gave, with headers when there are several files.
struct Printer {
    headers: bool,
    current: Option<String>,
    at_line_start: bool,
}

impl Printer {
    fn print(&mut self, out: &mut dyn Write, name: &str, data: &str) -> Result<(), DcosError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        if self.headers && self.current.as_deref() != Some(name) {
            if !self.at_line_start {
                text.push('\n');
            }
            text += &format!("===> {name} <===\n");
            self.current = Some(name.to_string());
        }
        text += data;
        self.at_line_start = data.ends_with('\n');
        emit(out, &text)
    }
}

/// Reads each file with `read`, prints what it gave, and drops the files that fail.
async fn pass(
    files: &mut Vec<SandboxFile>,
    printer: &mut Printer,
    out: &mut dyn Write,
    lines: Option<u64>,
) -> Result<(), DcosError> {
    let mut kept = vec![];
    for mut file in files.drain(..) {
        let read = match lines {
            Some(n) => file.last_lines(n).await,
            None => file.rest().await,
        };
        if let Ok(data) = read {
            printer.print(out, &file.name, &data)?;
            kept.push(file);
        }
    }
    *files = kept;
    if files.is_empty() {
        return fail("No files exist. Exiting.");
    }
    Ok(())
}

pub async fn run(master: &Client, args: LogArgs, out: &mut dyn Write) -> Result<(), DcosError> {
    let state = MasterState::fetch(master).await?;
    let tasks = state.tasks(&args.filter);
    if tasks.is_empty() {
        return Err(no_tasks(&state, &args.filter));
    }
    let mut files = sandbox_files(master, &state, &tasks, &args.file).await;
    if files.is_empty() {
        return fail("No files exist. Exiting.");
    }
    let mut printer = Printer {
        headers: files.len() > 1,
        current: None,
        at_line_start: true,
    };
    pass(&mut files, &mut printer, out, Some(args.lines)).await?;
    if !args.follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(FOLLOW_INTERVAL).await;
        pass(&mut files, &mut printer, out, None).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_lines_of_a_window() {
        assert_eq!(last_lines_of("a\nb\nc\n", 2), Some("b\nc\n"));
        assert_eq!(last_lines_of("a\nb\nc", 2), Some("b\nc"));
        // Not more lines than asked for: the caller reads further back (or takes all).
        assert_eq!(last_lines_of("b\nc\n", 2), None);
        assert_eq!(last_lines_of("x\n\n\n", 1), Some("\n"));
        assert_eq!(last_lines_of("a\nb\n", 0), None);
    }

    #[test]
    fn finds_the_sandbox_of_live_and_completed_tasks() {
        let state = json!({
            "frameworks": [{"executors": [
                {"directory": "/w/e1/", "tasks": [{"id": "t1"}]},
                {"directory": "/w/pod", "type": "DEFAULT", "tasks": [{"id": "p1"}]}],
                "completed_executors": [{"directory": "/w/e0", "completed_tasks": [{"id": "t0"}]}]}],
            "completed_frameworks": [{"completed_executors": [
                {"directory": "/w/old", "completed_tasks": [{"id": "t9"}]}]}]
        });
        let dir = |t| executor_directory(&state, t);
        assert_eq!(dir("t1"), Some(("/w/e1".to_string(), false)));
        assert_eq!(dir("p1"), Some(("/w/pod".to_string(), true)));
        assert_eq!(dir("t0"), Some(("/w/e0".to_string(), false)));
        assert_eq!(dir("t9"), Some(("/w/old".to_string(), false)));
        assert_eq!(dir("nope"), None);
    }

    #[test]
    fn headers_only_with_several_files_and_on_their_own_line() {
        let mut out = Vec::new();
        let mut p = Printer {
            headers: true,
            current: None,
            at_line_start: true,
        };
        p.print(&mut out, "task:a:stdout", "one\npart").unwrap();
        p.print(&mut out, "task:b:stdout", "two\n").unwrap();
        p.print(&mut out, "task:b:stdout", "").unwrap();
        p.print(&mut out, "task:b:stdout", "three\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "===> task:a:stdout <===\none\npart\n===> task:b:stdout <===\ntwo\nthree\n"
        );
    }
}
