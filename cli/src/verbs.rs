//! The Mesos CLI's everyday verbs, run by `mesos` itself: `mesos agent list`,
//! `mesos framework list|inspect`, `mesos task list|inspect|exec`. Tables have the Mesos
//! CLI's columns and layout (each column as wide as its widest cell, plus two spaces);
//! `--json` prints the objects instead. Errors print as `Error: <message>.` and exit 1.
//!
//! ```text
//!  mesos task list ──GET /tasks?order=asc&limit=-1──▶ master ──▶ table
//!  mesos task exec ──▶ exec (agent operator API session) ──▶ remote exit code
//! ```

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::exec::{self, ExecRequest};
use crate::master::{config_path, configured_master, CliError, Master};

/// The verbs `mesos` runs itself, with what each is for (`mesos help` lists them).
pub const VERBS: &[(&str, &str)] = &[
    ("agent", "Interacts with the Mesos agents"),
    ("framework", "Interacts with the Mesos Frameworks"),
    (
        "task",
        "Interacts with the tasks running in a Mesos cluster",
    ),
];

/// How to reach the master (every verb takes it).
#[derive(Debug, Clone, clap::Args)]
struct MasterArgs {
    /// Master to ask (host:port or zk://...); else MESOS_MASTER, else the Mesos CLI's
    /// config file ($MESOS_CLI_CONFIG or ~/.mesos/config.toml, [master] address), else
    /// 127.0.0.1:5050.
    #[arg(long, global = true)]
    master: Option<String>,
}

/// A verb's command line: the master, then what to do.
#[derive(Debug, Parser)]
struct VerbCli<C: Subcommand> {
    #[command(flatten)]
    master: MasterArgs,
    #[command(subcommand)]
    command: C,
}

/// Parses `argv` as verb `verb`'s command line, named and described as `mesos help` lists it.
fn parse<C: Subcommand + std::fmt::Debug>(
    verb: &'static str,
    argv: impl IntoIterator<Item = String>,
) -> Result<VerbCli<C>, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let about = VERBS
        .iter()
        .find(|(name, _)| *name == verb)
        .map_or("", |(_, about)| *about);
    let matches = VerbCli::<C>::command()
        .bin_name(format!("mesos {verb}"))
        .about(about)
        .try_get_matches_from(argv)?;
    VerbCli::<C>::from_arg_matches(&matches)
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// List the Mesos agents.
    List {
        /// Print the agents as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum FrameworkCommand {
    /// List the Mesos frameworks.
    List {
        /// List also non active frameworks (disconnected and completed ones).
        #[arg(short, long)]
        all: bool,
        /// Print the frameworks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Return low-level information of the framework.
    Inspect { framework_id: String },
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// List all running tasks in a Mesos cluster.
    List {
        /// List all tasks, not only running ones.
        #[arg(short, long)]
        all: bool,
        /// Print the tasks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Return low-level information on the task.
    Inspect { task_id: String },
    /// Execute commands in a task's container.
    Exec {
        /// Attach stdin to the command.
        #[arg(short, long)]
        interactive: bool,
        /// Give the command a terminal (stdin must be one).
        #[arg(short, long)]
        tty: bool,
        task_id: String,
        command: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Runs verb `verb` with `args` (what follows it); the process's exit code.
pub fn run(verb: &str, args: &[String]) -> i32 {
    let argv = std::iter::once(format!("mesos {verb}")).chain(args.iter().cloned());
    let parsed = match verb {
        "agent" => parse("agent", argv).map(Verb::Agent),
        "framework" => parse("framework", argv).map(Verb::Framework),
        "task" => parse("task", argv).map(Verb::Task),
        other => {
            eprintln!("Error: '{other}' is not a verb of mesos.");
            return 1;
        }
    };
    let verb = match parsed {
        Ok(verb) => verb,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start: {e}.");
            return 1;
        }
    };
    let result = runtime.block_on(verb.run());
    // A read of stdin (`task exec -i`) may still block a thread; it is not waited for.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}.");
            1
        }
    }
}

enum Verb {
    Agent(VerbCli<AgentCommand>),
    Framework(VerbCli<FrameworkCommand>),
    Task(VerbCli<TaskCommand>),
}

impl Verb {
    fn master_flag(&self) -> Option<&str> {
        match self {
            Verb::Agent(cli) => cli.master.master.as_deref(),
            Verb::Framework(cli) => cli.master.master.as_deref(),
            Verb::Task(cli) => cli.master.master.as_deref(),
        }
    }

    async fn run(self) -> Result<i32, CliError> {
        let address = configured_master(
            self.master_flag(),
            std::env::var("MESOS_MASTER").ok(),
            config_path().as_deref(),
        )?;
        let master = Master::connect(&address).await?;
        match self {
            Verb::Agent(cli) => match cli.command {
                AgentCommand::List { json } => {
                    let agents = master.get_list("master/slaves", "slaves", &[]).await?;
                    print_list(
                        &agents,
                        json,
                        "The cluster does not have any agents.",
                        agent_table,
                    );
                }
            },
            Verb::Framework(cli) => match cli.command {
                FrameworkCommand::List { all, json } => {
                    let frameworks = frameworks(&master, all).await?;
                    print_list(&frameworks, json, "", framework_table);
                }
                FrameworkCommand::Inspect { framework_id } => {
                    let mut found = frameworks(&master, true)
                        .await?
                        .into_iter()
                        .find(|f| f["id"] == framework_id.as_str())
                        .ok_or_else(|| {
                            CliError::new(format!("Unable to find framework '{framework_id}'"))
                        })?;
                    if let Some(object) = found.as_object_mut() {
                        for noise in ["tasks", "unreachable_tasks", "completed_tasks"] {
                            object.remove(noise);
                        }
                    }
                    println!("{}", pretty(&found));
                }
            },
            Verb::Task(cli) => match cli.command {
                TaskCommand::List { all, json } => {
                    let tasks = tasks(&master, &[]).await?;
                    let shown: Vec<Value> = tasks
                        .into_iter()
                        .filter(|t| all || task_state(t) == "TASK_RUNNING")
                        .collect();
                    print_list(
                        &shown,
                        json,
                        "There are no tasks running in the cluster.",
                        task_table,
                    );
                }
                TaskCommand::Inspect { task_id } => {
                    let found = tasks(&master, &[("task_id", task_id.as_str())]).await?;
                    let found: Vec<&Value> = found
                        .iter()
                        .filter(|t| t["id"] == task_id.as_str())
                        .collect();
                    if found.is_empty() {
                        return Err(CliError::new(format!("Unable to find task '{task_id}'")));
                    }
                    for task in found {
                        println!("{}", pretty(task));
                    }
                }
                TaskCommand::Exec {
                    interactive,
                    tty,
                    task_id,
                    command,
                    args,
                } => {
                    let request = ExecRequest {
                        task_id,
                        command,
                        args,
                        interactive,
                        tty,
                    };
                    return exec::run(&master, request).await;
                }
            },
        }
        Ok(0)
    }
}

/// The frameworks of `/master/frameworks` (with `all`, completed ones too).
async fn frameworks(master: &Master, all: bool) -> Result<Vec<Value>, CliError> {
    let mut data = master.get_json("master/frameworks/", &[]).await?;
    let list = |data: &mut Value, key: &str| match data.get_mut(key).map(Value::take) {
        Some(Value::Array(list)) => Ok(list),
        _ => Err(CliError::new(format!(
            "Missing '{key}' key in data retrieved from master on '/master/frameworks/'"
        ))),
    };
    let mut frameworks = list(&mut data, "frameworks")?;
    if all {
        frameworks.extend(list(&mut data, "completed_frameworks").unwrap_or_default());
    } else {
        frameworks.retain(|f| f["active"].as_bool() == Some(true));
    }
    Ok(frameworks)
}

/// Every task the master knows (active, completed, unreachable), oldest first.
pub async fn tasks(master: &Master, filter: &[(&str, &str)]) -> Result<Vec<Value>, CliError> {
    let mut query = vec![("order", "asc"), ("limit", "-1")];
    query.extend_from_slice(filter);
    master.get_list("tasks", "tasks", &query).await
}

/// The task's latest state (`UNKNOWN` before its first status), as the Mesos CLI shows it.
pub fn task_state(task: &Value) -> &str {
    task["statuses"]
        .as_array()
        .and_then(|s| s.last())
        .and_then(|s| s["state"].as_str())
        .unwrap_or("UNKNOWN")
}

fn print_list(items: &[Value], json: bool, when_empty: &str, table: fn(&[Value]) -> Table) {
    if json {
        println!("{}", pretty(&Value::Array(items.to_vec())));
    } else if items.is_empty() && !when_empty.is_empty() {
        println!("{when_empty}");
    } else {
        println!("{}", table(items));
    }
}

/// JSON indented by four spaces, as the Mesos CLI prints it.
pub fn pretty(value: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    match value.serialize(&mut serializer) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => value.to_string(),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn agent_table(agents: &[Value]) -> Table {
    let mut table = Table::new(&["Agent ID", "Hostname", "Active"]);
    for agent in agents {
        table.add(
            [&agent["id"], &agent["hostname"], &agent["active"]]
                .map(text)
                .to_vec(),
        );
    }
    table
}

fn framework_table(frameworks: &[Value]) -> Table {
    let mut table = Table::new(&["ID", "Active", "Hostname", "Name"]);
    for framework in frameworks {
        let active = if framework["active"].as_bool() == Some(true) {
            "True"
        } else {
            "False"
        };
        table.add(vec![
            text(&framework["id"]),
            active.to_string(),
            text(&framework["hostname"]),
            text(&framework["name"]),
        ]);
    }
    table
}

fn task_table(tasks: &[Value]) -> Table {
    let mut table = Table::new(&["ID", "State", "Framework ID", "Executor ID"]);
    for task in tasks {
        table.add(vec![
            text(&task["id"]),
            task_state(task).to_string(),
            text(&task["framework_id"]),
            text(&task["executor_id"]),
        ]);
    }
    table
}

/// The Mesos CLI's table: every cell padded to its column's widest cell plus two spaces
/// (the last column too), rows on their own lines.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Table {
        Table {
            rows: vec![columns.iter().map(|c| c.to_string()).collect()],
        }
    }

    pub fn add(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns = self.rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (n, row) in self.rows.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            for (cell, width) in row.iter().zip(&widths) {
                write!(f, "{cell}{}", " ".repeat(width - cell.chars().count() + 2))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_are_laid_out_as_the_mesos_cli_lays_them_out() {
        let table = task_table(&[
            json!({"id": "web.1", "framework_id": "F-0000", "executor_id": "",
                   "statuses": [{"state": "TASK_STARTING"}, {"state": "TASK_RUNNING"}]}),
            json!({"id": "batch", "framework_id": "F-0001", "executor_id": "exec-1", "statuses": []}),
        ]);
        assert_eq!(
            table.to_string(),
            "ID     State         Framework ID  Executor ID  \n\
             web.1  TASK_RUNNING  F-0000                     \n\
             batch  UNKNOWN       F-0001        exec-1       "
        );
        let agents = agent_table(&[json!({"id": "M-S0", "hostname": "h1", "active": true})]);
        assert_eq!(
            agents.to_string(),
            "Agent ID  Hostname  Active  \nM-S0      h1        True    "
        );
    }

    #[test]
    fn exec_takes_the_remote_command_s_own_flags() {
        let argv = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cli = parse::<TaskCommand>(
            "task",
            argv(&[
                "mesos task",
                "exec",
                "-it",
                "web.1",
                "sh",
                "-c",
                "echo hi",
                "--x",
            ]),
        )
        .unwrap();
        match cli.command {
            TaskCommand::Exec {
                interactive,
                tty,
                task_id,
                command,
                args,
            } => {
                assert!(interactive && tty);
                assert_eq!((task_id.as_str(), command.as_str()), ("web.1", "sh"));
                assert_eq!(args, ["-c", "echo hi", "--x"]);
            }
            other => panic!("{other:?}"),
        }
        let cli = parse::<TaskCommand>(
            "task",
            argv(&["mesos task", "--master=m:1", "list", "--all"]),
        )
        .unwrap();
        assert_eq!(cli.master.master.as_deref(), Some("m:1"));
        assert!(matches!(
            cli.command,
            TaskCommand::List {
                all: true,
                json: false
            }
        ));
    }

    #[test]
    fn json_is_indented_by_four() {
        assert_eq!(
            pretty(&json!({"a": [1]})),
            "{\n    \"a\": [\n        1\n    ]\n}"
        );
    }
}
