//! The `mesos` command's own verbs against a real cluster, as an operator uses them:
//! `mesos agent list`, `mesos framework list [--all]|inspect`, `mesos task list [--all]|
//! inspect|exec [-i] [-t]`, and `mesos help`. Tables are checked column by column against
//! the Mesos CLI's headers; `task exec` is driven with a pipe and through a pseudo-terminal.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use mesos_tests::*;
use serde_json::Value;

const RUN_LIMIT: Duration = Duration::from_secs(60);
const LAUNCH: Duration = Duration::from_secs(30);

async fn mesos(args: &[&str], env: &[(&str, &str)]) -> CommandOutput {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    run_command(&binary("mesos"), &args, &env, RUN_LIMIT).await
}

/// `mesos <args> --master=<cluster>`, expected to succeed.
async fn mesos_ok(cluster: &Cluster, args: &[&str]) -> String {
    let master = format!("--master={}", cluster.master_addr());
    let mut all = args.to_vec();
    all.push(&master);
    let output = mesos(&all, &[]).await;
    assert!(output.success(), "mesos {args:?} failed\n{output}");
    output.stdout
}

/// The table's cells, cut where the header's columns start (cells may be empty).
fn table(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let mut starts = vec![0];
    let bytes = header.as_bytes();
    for i in 2..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    std::iter::once(header)
        .chain(lines)
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(n, &start)| {
                    let end = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    line.get(start.min(end)..end)
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}

fn row_of<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row for {first} in {rows:?}"))
}

/// A framework with one running task (`sleep 600`) and one finished task.
async fn cluster_with_tasks() -> (Cluster, Scheduler, String, String) {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("cli-verbs").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let running = unique_id("cli-running");
    let finished = unique_id("cli-finished");
    sched
        .launch(
            &offer,
            vec![
                command_task(&running, &agent_id, "sleep 600", 0.1, 32.0),
                command_task(&finished, &agent_id, "true", 0.1, 32.0),
            ],
        )
        .await;
    sched
        .await_state_within(&running, "TASK_RUNNING", LAUNCH)
        .await;
    let done = sched
        .await_state_within(&finished, "TASK_FINISHED", LAUNCH)
        .await;
    sched.acknowledge(&done).await;
    (cluster, sched, running, finished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbs_list_and_inspect_agents_frameworks_and_tasks() {
    let (cluster, sched, running, finished) = cluster_with_tasks().await;
    let agent_id = cluster.agent_id(0).await;

    let agents = table(&mesos_ok(&cluster, &["agent", "list"]).await);
    assert_eq!(agents[0], ["Agent ID", "Hostname", "Active"]);
    assert_eq!(row_of(&agents, &agent_id)[2], "True");

    let frameworks = table(&mesos_ok(&cluster, &["framework", "list"]).await);
    assert_eq!(frameworks[0], ["ID", "Active", "Hostname", "Name"]);
    let row = row_of(&frameworks, &sched.framework_id);
    assert_eq!((row[1].as_str(), row[3].as_str()), ("True", "cli-verbs"));

    let inspected: Value = serde_json::from_str(
        &mesos_ok(&cluster, &["framework", "inspect", &sched.framework_id]).await,
    )
    .expect("framework inspect prints JSON");
    assert_eq!(inspected["id"], sched.framework_id.as_str());
    assert!(
        inspected.get("tasks").is_none(),
        "tasks are left out: {inspected}"
    );

    // Running tasks only, unless --all; the master is found through the environment too.
    let output = mesos(
        &["task", "list"],
        &[("MESOS_MASTER", &cluster.master_addr())],
    )
    .await;
    assert!(output.success(), "{output}");
    let tasks = table(&output.stdout);
    assert_eq!(tasks[0], ["ID", "State", "Framework ID", "Executor ID"]);
    assert_eq!(
        row_of(&tasks, &running)[1..3],
        ["TASK_RUNNING", sched.framework_id.as_str()]
    );
    assert!(!output.stdout.contains(&finished), "{output}");
    let all = table(&mesos_ok(&cluster, &["task", "list", "--all"]).await);
    assert_eq!(row_of(&all, &finished)[1], "TASK_FINISHED");

    // And through the Mesos CLI's config file.
    let config = cluster.root().join("mesos-cli.toml");
    std::fs::write(
        &config,
        format!("[master]\naddress = \"{}\"\n", cluster.master_addr()),
    )
    .unwrap();
    let listed = mesos(
        &["task", "list", "--json"],
        &[("MESOS_CLI_CONFIG", config.to_str().unwrap())],
    )
    .await;
    assert!(listed.success(), "{listed}");
    let listed: Value = serde_json::from_str(&listed.stdout).expect("--json prints JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], running.as_str());

    let task: Value =
        serde_json::from_str(&mesos_ok(&cluster, &["task", "inspect", &finished]).await)
            .expect("task inspect prints JSON");
    assert_eq!(task["state"], "TASK_FINISHED");
    let missing = mesos(
        &[
            "task",
            "inspect",
            "no-such-task",
            &format!("--master={}", cluster.master_addr()),
        ],
        &[],
    )
    .await;
    assert!(!missing.success());
    assert!(
        missing
            .stderr
            .contains("Error: Unable to find task 'no-such-task'."),
        "{missing}"
    );

    // A torn-down framework is listed with --all only, inactive.
    let framework_id = sched.framework_id.clone();
    sched.teardown().await;
    eventually("the framework completed", TIMEOUT, async || {
        let listed = mesos_ok(&cluster, &["framework", "list"]).await;
        (!listed.contains(&framework_id)).then_some(())
    })
    .await;
    let all = table(&mesos_ok(&cluster, &["framework", "list", "--all"]).await);
    assert_eq!(row_of(&all, &framework_id)[1], "False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_exec_runs_commands_in_a_task() {
    let (cluster, _sched, running, _) = cluster_with_tasks().await;
    let master = format!("--master={}", cluster.master_addr());

    // Not interactive: output and exit code come back.
    let output = mesos(
        &[
            "task",
            "exec",
            &master,
            &running,
            "sh",
            "-c",
            "echo hi; echo oops >&2; exit 3",
        ],
        &[],
    )
    .await;
    assert_eq!(output.stdout, "hi\n", "{output}");
    assert!(output.stderr.contains("oops"), "{output}");
    assert_eq!(output.status.and_then(|s| s.code()), Some(3), "{output}");

    // Interactive through a pipe: stdin reaches the command, its end ends it.
    let mut child = tokio::process::Command::new(binary("mesos"))
        .args(["task", "exec", "-i", &master, &running, "sh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"echo \"hi from $MESOS_TASK_ID\"\n")
            .await
            .unwrap();
    }
    let done = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("exec -i ends at EOF")
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        format!("hi from {running}\n")
    );
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    // Unknown task.
    let unknown = mesos(&["task", "exec", &master, "no-such-task", "true"], &[]).await;
    assert!(!unknown.success());
    assert!(
        unknown
            .stderr
            .contains("Unable to find running task 'no-such-task'"),
        "{unknown}"
    );

    // -t without a terminal is refused, as by the Mesos CLI.
    let no_tty = mesos(&["task", "exec", "-t", &master, &running, "true"], &[]).await;
    assert!(
        no_tty.stderr.contains("Must be running in a tty"),
        "{no_tty}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_exec_it_gives_an_interactive_shell_on_a_terminal() {
    let (cluster, _sched, running, _) = cluster_with_tasks().await;
    let master = format!("--master={}", cluster.master_addr());
    let size = nix::pty::Winsize {
        ws_row: 30,
        ws_col: 90,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).expect("a pseudo-terminal");
    let slave = |pty: &nix::pty::OpenptyResult| Stdio::from(pty.slave.try_clone().unwrap());
    let mut child = std::process::Command::new(binary("mesos"))
        .args(["task", "exec", "-it", &master, &running, "sh"])
        .stdin(slave(&pty))
        .stdout(slave(&pty))
        .stderr(slave(&pty))
        .spawn()
        .unwrap();
    let nix::pty::OpenptyResult {
        master: terminal,
        slave: ours,
    } = pty;
    drop(ours);
    let mut terminal = std::fs::File::from(terminal);
    let mut reader = terminal.try_clone().unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = screen.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
            seen.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let screen_has = |text: &'static str| {
        let screen = screen.clone();
        async move {
            eventually(text, TIMEOUT, async || {
                screen.lock().unwrap().contains(text).then_some(())
            })
            .await
        }
    };
    // Typed keys go through raw mode to the remote terminal, which has our window size.
    terminal.write_all(b"test -t 0 && stty size\r").unwrap();
    screen_has("30 90").await;
    terminal.write_all(b"echo h''i-there; exit 4\r").unwrap();
    screen_has("hi-there").await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(4), "{}", screen.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_help_lists_every_command() {
    let help = mesos(&["help"], &[]).await;
    assert!(help.success(), "{help}");
    for command in [
        "agent",
        "framework",
        "task",
        "execute",
        "ps",
        "resolve",
        "local",
        "help",
    ] {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "`mesos help` does not list {command}\n{help}"
        );
    }
    assert_eq!(mesos(&["--help"], &[]).await.stdout, help.stdout);
    for args in [&["task", "--help"][..], &["help", "task"][..]] {
        let task = mesos(args, &[]).await;
        assert!(task.success(), "{task}");
        for verb in ["list", "inspect", "exec"] {
            assert!(
                task.stdout.contains(verb),
                "mesos {args:?} lacks {verb}\n{task}"
            );
        }
    }
    let exec = mesos(&["task", "exec", "--help"], &[]).await;
    assert!(
        exec.stdout.contains("--interactive") && exec.stdout.contains("--tty"),
        "{exec}"
    );
    let ps = mesos(&["ps", "--help"], &[]).await;
    assert!(ps.success() && ps.stdout.contains("--master"), "{ps}");
    let unknown = mesos(&["nonsense"], &[]).await;
    assert!(!unknown.success());
    assert!(
        unknown.stderr.contains("'nonsense' is not a valid command"),
        "{unknown}"
    );
}
