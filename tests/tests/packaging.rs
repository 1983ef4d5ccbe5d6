//! The RPMs on a real systemd: `packaging/build-rpms.sh` packs this workspace's binaries, the
//! packages go into a Debian container whose PID 1 is systemd (`scripts/systemd-image.sh`,
//! built once per machine), are configured the Mesosphere way and started with
//! `service ... start`; then a Marathon app runs, survives `service mesos-slave restart`,
//! bad configuration files fail their units with one journal line naming them, and
//! `rpm -e` stops everything and leaves the administrator's files.
//!
//! The container shares the host's network (systemd runs fine there): ZooKeeper runs on the
//! host's loopback, and every port comes from the configuration files, picked free, so no
//! other test's 5050 or 8080 is touched. The packages are built from the debug binaries the
//! suite already has (`--bin-dir`): a release build here would cost minutes. With
//! `PACKAGING_RPMS=<dir>` the test installs the packages in that directory instead.
//!
//! Without Docker the test prints why and passes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesos_tests::http;
use mesos_tests::process::{bin_dir, free_port, run_command, CommandOutput};
use mesos_tests::zookeeper::ZooKeeper;
use mesos_tests::{eventually, TIMEOUT};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

const IMAGE: &str = "local/debian-systemd:1";
const IMAGE_SCRIPT: &str = "../scripts/systemd-image.sh";
const BUILD_SCRIPT: &str = "../packaging/build-rpms.sh";
const UNITS: &str = "/usr/lib/systemd/system/mesos-master.service \
                     /usr/lib/systemd/system/mesos-slave.service \
                     /usr/lib/systemd/system/marathon.service";

/// Runs a script of this workspace, which must succeed; returns its stdout.
async fn workspace_script(relative: &str, args: &[&str], timeout: Duration) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .canonicalize()
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    let out = run(path.to_str().unwrap(), args, timeout).await;
    assert!(out.success(), "{relative} failed:\n{}", out.combined());
    out.stdout
}

async fn run(program: &str, args: &[&str], timeout: Duration) -> CommandOutput {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_command(Path::new(program), &args, &[], timeout).await
}

/// A systemd container, removed on drop.
struct Container {
    name: String,
}

impl Container {
    /// Starts the systemd image on `network` (`host`, or `bridge` for a namespace of its
    /// own), waits for systemd to boot, and installs the packages as on RHEL (the image's
    /// rpm database is empty, hence `--nodeps`).
    async fn with_packages(rpms: &Path, network: &str) -> Container {
        let name = format!("mesos-packaging-{network}-{}", std::process::id());
        let volume = format!("{}:/rpms:ro", rpms.display());
        let out = run(
            "docker",
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                network,
                "--cap-add",
                "SYS_ADMIN",
                "--cgroupns=host",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/run/lock",
                "--tmpfs",
                "/tmp",
                "--stop-signal",
                "SIGRTMIN+3",
                "-v",
                &volume,
                IMAGE,
            ],
            Duration::from_secs(60),
        )
        .await;
        assert!(out.success(), "docker run failed:\n{}", out.combined());
        let container = Container { name };
        eventually("systemd to boot", TIMEOUT, async || {
            let state = container.sh("systemctl is-system-running").await;
            matches!(state.stdout.trim(), "running" | "degraded").then_some(())
        })
        .await;
        container
            .ok("rpm -i --nodeps /rpms/mesos-*.rpm /rpms/marathon-*.rpm")
            .await;
        container
    }

    /// Runs a shell script inside the container.
    async fn sh(&self, script: &str) -> CommandOutput {
        run(
            "docker",
            &["exec", &self.name, "sh", "-c", script],
            Duration::from_secs(120),
        )
        .await
    }

    /// Runs a script that must succeed; returns its stdout.
    async fn ok(&self, script: &str) -> String {
        let out = self.sh(script).await;
        assert!(out.success(), "`{script}` failed:\n{}", out.combined());
        out.stdout
    }

    async fn journal(&self, unit: &str) -> String {
        self.sh(&format!("journalctl -u {unit} -o cat --no-pager"))
            .await
            .stdout
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for unit in ["mesos-master", "mesos-slave", "marathon"] {
                let out = std::process::Command::new("docker")
                    .args(["exec", &self.name, "journalctl", "-u", unit, "-n", "30"])
                    .args(["--no-pager", "-o", "cat"])
                    .output();
                if let Ok(out) = out {
                    eprintln!(
                        "--- journal of {unit}:\n{}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                }
            }
        }
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

async fn json_at(url: &str) -> Option<Value> {
    let response = http::send(http::client().get(url)).await.ok()?;
    (response.status == 200).then(|| response.json())
}

/// The agents the master lists as active, by id.
async fn active_agents(master: &str) -> Option<Vec<String>> {
    let state = json_at(&format!("{master}/master/state")).await?;
    Some(
        state["slaves"]
            .as_array()?
            .iter()
            .filter(|a| a["active"] == true)
            .filter_map(|a| a["id"].as_str().map(String::from))
            .collect(),
    )
}

async fn running_task_ids(marathon: &str, app: &str) -> Option<Vec<String>> {
    let tasks = json_at(&format!("{marathon}/v2/apps/{app}/tasks")).await?;
    let ids: Vec<String> = tasks["tasks"]
        .as_array()?
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter_map(|t| t["id"].as_str().map(String::from))
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// Waits until `unit` has failed, then returns `systemctl status` and its journal.
async fn failed_unit(container: &Container, unit: &str) -> (String, String) {
    eventually(&format!("{unit} to fail"), TIMEOUT, async || {
        let state = container.sh(&format!("systemctl is-failed {unit}")).await;
        (state.stdout.trim() == "failed").then_some(())
    })
    .await;
    let status = container
        .sh(&format!("systemctl status {unit} --no-pager -n 20"))
        .await
        .stdout;
    (status, container.journal(unit).await)
}

/// Exactly one journal line of the wrapper, naming `file` and `flag`.
fn assert_one_line_naming(status: &str, journal: &str, file: &str, flag: &str) {
    let lines: Vec<&str> = journal
        .lines()
        .filter(|l| l.starts_with("mesos-init-wrapper:"))
        .collect();
    assert_eq!(lines.len(), 1, "one wrapper line expected:\n{journal}");
    assert!(
        lines[0].contains(file) && lines[0].contains(flag),
        "the line names neither {file} nor {flag}: {}",
        lines[0]
    );
    assert!(
        status.contains(lines[0]),
        "systemctl status lacks it:\n{status}"
    );
    assert!(status.contains("status=78/CONFIG"), "{status}");
}

/// The image and the packages, made once for all tests of this file (the packages under
/// `target/tmp`, replaced by each run); `None` (after printing why) when no Docker daemon
/// answers.
async fn packages(test: &str) -> Option<&'static Path> {
    static PACKAGES: OnceCell<Option<PathBuf>> = OnceCell::const_new();
    let dir = PACKAGES
        .get_or_init(async || {
            let docker = run(
                "docker",
                &["info", "--format", "{{.ServerVersion}}"],
                TIMEOUT,
            )
            .await;
            if !docker.success() {
                eprintln!(
                    "no Docker daemon answers (`docker info`: {})",
                    docker.combined().trim()
                );
                return None;
            }
            workspace_script(IMAGE_SCRIPT, &[], Duration::from_secs(600)).await;
            // PACKAGING_RPMS=<dir> tests packages built beforehand, such as the release ones
            // the README's `packaging/build-rpms.sh` writes to target/packages.
            if let Some(prebuilt) = std::env::var_os("PACKAGING_RPMS") {
                let dir = std::fs::canonicalize(&prebuilt).expect("PACKAGING_RPMS is a directory");
                eprintln!("testing the packages in {}", dir.display());
                return Some(dir);
            }
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging-rpms");
            let _ = std::fs::remove_dir_all(&dir);
            let bins = bin_dir();
            let args = [
                "--bin-dir",
                bins.to_str().unwrap(),
                "--out",
                dir.to_str().unwrap(),
            ];
            let built = workspace_script(BUILD_SCRIPT, &args, Duration::from_secs(300)).await;
            assert_eq!(built.lines().count(), 2, "{built}");
            Some(dir)
        })
        .await;
    if dir.is_none() {
        eprintln!("SKIPPED {test}: it needs Docker");
    }
    dir.as_deref()
}

#[tokio::test(flavor = "multi_thread")]
async fn rpms_install_configure_run_and_remove_under_systemd() {
    let Some(rpms) = packages("rpms_install_configure_run_and_remove_under_systemd").await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let zk = ZooKeeper::start(&tmp.path().join("zk"), 1).await;
    let container = Container::with_packages(rpms, "host").await;
    let installed = container
        .ok("rpm -q mesos marathon; rpm -qc mesos marathon")
        .await;
    for wanted in [
        "mesos-0.",
        "marathon-0.",
        "/etc/default/mesos-master",
        "/etc/mesos-slave/work_dir",
    ] {
        assert!(installed.contains(wanted), "{wanted} missing:\n{installed}");
    }
    // Installing starts nothing.
    let idle = container
        .sh("systemctl is-active mesos-master mesos-slave marathon")
        .await;
    assert_eq!(
        idle.stdout.split_whitespace().collect::<Vec<_>>(),
        ["inactive"; 3]
    );
    container
        .ok(&format!("systemd-analyze verify {UNITS}"))
        .await;
    // The alias answers without `systemctl enable`.
    let alias = container
        .ok("systemctl show -p Id mesos-agent.service")
        .await;
    assert_eq!(alias.trim(), "Id=mesos-slave.service");

    let (master_port, agent_port, marathon_port) = (free_port(), free_port(), free_port());
    container
        .ok(&format!(
            "echo {zk_url} > /etc/mesos/zk
             echo 127.0.0.1 > /etc/mesos-master/ip; echo {master_port} > /etc/mesos-master/port
             echo 127.0.0.1 > /etc/mesos-slave/ip; echo {agent_port} > /etc/mesos-slave/port
             echo mesos > /etc/mesos-slave/containerizers
             echo 127.0.0.1 > /etc/marathon/conf/http_address
             echo {marathon_port} > /etc/marathon/conf/http_port",
            zk_url = zk.url("/mesos")
        ))
        .await;
    container
        .ok("service mesos-master start && service mesos-slave start && service marathon start")
        .await;

    let master = format!("http://127.0.0.1:{master_port}");
    let marathon = format!("http://127.0.0.1:{marathon_port}");
    let agent_id = eventually("the agent to register", TIMEOUT, async || {
        let agents = active_agents(&master).await?;
        (agents.len() == 1).then(|| agents[0].clone())
    })
    .await;
    let info = eventually("Marathon to answer", TIMEOUT, async || {
        json_at(&format!("{marathon}/v2/info")).await
    })
    .await;
    assert_eq!(
        info["marathon_config"]["master"],
        zk.url("/mesos"),
        "{info}"
    );
    assert_eq!(
        info["zookeeper_config"]["zk"],
        zk.url("/marathon"),
        "{info}"
    );

    let app = json!({"id": "/sleepy", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});
    // Marathon answers 503 until it has won its election.
    eventually("Marathon to create the app", TIMEOUT, async || {
        let post = http::client()
            .post(format!("{marathon}/v2/apps"))
            .json(&app);
        let created = http::send(post).await.ok()?;
        assert!(matches!(created.status, 201 | 503), "{}", created.body);
        (created.status == 201).then_some(())
    })
    .await;
    let tasks = eventually(
        "the app's task to run",
        Duration::from_secs(60),
        async || running_task_ids(&marathon, "sleepy").await,
    )
    .await;

    // The DC/OS CLI's view of it, from inside (the marathon package ships `dcos`).
    let listed = container
        .ok(&format!(
            "DCOS_MARATHON_URL={marathon} dcos marathon app list"
        ))
        .await;
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("/sleepy ") && l.contains(" 1/1 ")),
        "{listed}"
    );

    // The book's one-off task: the master found through /etc/mesos/zk, as operators do.
    let executed = container
        .ok(
            "mesos-execute --master=$(mesos-resolve $(cat /etc/mesos/zk)) \
             --name=cluster-test --command='sleep 1'",
        )
        .await;
    assert!(
        executed.contains("Received status update TASK_FINISHED for task 'cluster-test'"),
        "{executed}"
    );

    // Agent recovery: a restarted agent keeps the task, and so do the master and Marathon.
    let pid = |text: String| text.trim().trim_start_matches("MainPID=").to_string();
    let before = pid(container.ok("systemctl show -p MainPID mesos-slave").await);
    container.ok("service mesos-slave restart").await;
    let after = pid(container.ok("systemctl show -p MainPID mesos-slave").await);
    assert_ne!(before, after, "the agent did not restart");
    eventually("the restarted agent to re-register", TIMEOUT, async || {
        let agents = active_agents(&master).await?;
        (agents == [agent_id.clone()]).then_some(())
    })
    .await;
    let state = eventually("the master to see the task again", TIMEOUT, async || {
        let state = json_at(&format!("{master}/master/state")).await?;
        let running = state["frameworks"][0]["tasks"]
            .as_array()?
            .iter()
            .any(|t| t["id"] == tasks[0].as_str() && t["state"] == "TASK_RUNNING");
        running.then_some(state)
    })
    .await;
    assert!(
        state["frameworks"][0]["completed_tasks"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{state}"
    );
    assert_eq!(
        running_task_ids(&marathon, "sleepy").await,
        Some(tasks.clone())
    );

    // Bad configuration fails the unit at once (no restart loop), with one line naming it.
    container
        .ok("echo abc > /etc/mesos-master/port; systemctl restart mesos-master")
        .await;
    let (status, journal) = failed_unit(&container, "mesos-master").await;
    assert_one_line_naming(&status, &journal, "/etc/mesos-master/port", "--port");
    container
        .ok("echo x > /etc/marathon/conf/no_such_flag; systemctl restart marathon")
        .await;
    let (status, journal) = failed_unit(&container, "marathon").await;
    assert_one_line_naming(
        &status,
        &journal,
        "/etc/marathon/conf/no_such_flag",
        "--no_such_flag",
    );
    container
        .ok(&format!(
            "echo zk://{} > /etc/mesos/zk; systemctl restart mesos-slave",
            zk.servers()
        ))
        .await;
    let (status, journal) = failed_unit(&container, "mesos-slave").await;
    assert_one_line_naming(&status, &journal, "/etc/mesos/zk", "--master");

    // Repaired, everything runs again; then removing the packages stops it all.
    container
        .ok(&format!(
            "echo {master_port} > /etc/mesos-master/port; rm /etc/marathon/conf/no_such_flag
             echo {} > /etc/mesos/zk
             echo MESOS_CLUSTER=kept >> /etc/default/mesos-master
             systemctl start mesos-master mesos-slave marathon",
            zk.url("/mesos")
        ))
        .await;
    eventually("the cluster to serve again", TIMEOUT, async || {
        let agents = active_agents(&master).await?;
        json_at(&format!("{marathon}/v2/info")).await?;
        let state = json_at(&format!("{master}/master/state")).await?;
        (agents == [agent_id.clone()] && state["cluster"] == "kept").then_some(())
    })
    .await;
    // Process names: the agent's task supervisors are mesos-agent processes too.
    let ours = "ps -eo comm= | grep -xE 'mesos-master|mesos-agent|marathon|sleep' | sort -u";
    let before = container.sh(ours).await.stdout;
    assert_eq!(
        before.split_whitespace().collect::<Vec<_>>(),
        ["marathon", "mesos-agent", "mesos-master", "sleep"]
    );
    container.ok("rpm -e marathon mesos").await;
    let stopped = container
        .sh("systemctl is-active mesos-master mesos-slave marathon")
        .await;
    assert_eq!(
        stopped.stdout.split_whitespace().collect::<Vec<_>>(),
        ["inactive"; 3]
    );
    let leftovers = container.sh(ours).await.stdout;
    assert!(leftovers.trim().is_empty(), "still running:\n{leftovers}");
    let kept = container
        .ok(
            "ls /etc/mesos/zk /etc/mesos-slave/containerizers /etc/marathon/conf/http_port \
             /etc/default/mesos-master.rpmsave && cat /etc/default/mesos-master.rpmsave",
        )
        .await;
    assert!(kept.contains("MESOS_CLUSTER=kept"), "{kept}");
    let gone = container
        .sh("ls /usr/sbin/mesos-master /usr/bin/marathon")
        .await;
    assert!(!gone.success(), "binaries left behind:\n{}", gone.stdout);
}

/// Installed and started with no configuration at all, the packages make a working
/// single-host cluster: no ZooKeeper, the agent and Marathon find the master on this host,
/// Marathon keeps its state in a file. In a network namespace of its own, so the default
/// ports 5050, 5051 and 8080 are free; requests go through `docker exec curl`.
#[tokio::test(flavor = "multi_thread")]
async fn package_defaults_run_a_single_host_cluster() {
    let Some(rpms) = packages("package_defaults_run_a_single_host_cluster").await else {
        return;
    };
    let container = Container::with_packages(rpms, "bridge").await;
    let marathon = container.ok("mesos-init-wrapper --dry-run marathon").await;
    assert_eq!(
        marathon.trim(),
        "/usr/bin/marathon --master=127.0.0.1:5050 --internal_store_backend=embedded \
         --store_path=/var/lib/marathon/state.redb --disable_ha"
    );
    container
        .ok("systemctl start mesos-master mesos-slave marathon")
        .await;
    let curl = |path: &str| format!("curl -sf http://127.0.0.1:{path}");
    eventually("the agent to register", TIMEOUT, async || {
        let state = container.sh(&curl("5050/master/state")).await;
        let state: Value = serde_json::from_str(&state.stdout).ok()?;
        (state["activated_slaves"] == 1).then_some(())
    })
    .await;
    let app = r#"{"id": "/solo", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}"#;
    let post = format!(
        "curl -s -o /dev/null -w '%{{http_code}}' -X POST -H 'Content-Type: application/json' \
         -d '{app}' http://127.0.0.1:8080/v2/apps"
    );
    eventually("Marathon to create the app", TIMEOUT, async || {
        let code = container.sh(&post).await.stdout;
        assert!(
            matches!(code.as_str(), "201" | "503" | "000"),
            "POST /v2/apps: {code}"
        );
        (code == "201").then_some(())
    })
    .await;
    eventually(
        "the app's task to run",
        Duration::from_secs(60),
        async || {
            let tasks = container.sh(&curl("8080/v2/apps/solo/tasks")).await;
            let tasks: Value = serde_json::from_str(&tasks.stdout).ok()?;
            (tasks["tasks"][0]["state"] == "TASK_RUNNING").then_some(())
        },
    )
    .await;
}
