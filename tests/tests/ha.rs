//! High availability through ZooKeeper, against real ZooKeeper servers: leader election in
//! Mesos's layout, failover after kill -9, ZooKeeper losing servers or its quorum, masters
//! cut off from ZooKeeper, and leader detection by agents, frameworks, `mesos-resolve` and
//! a third-party-style reader of the election.

use std::time::{Duration, Instant};

use mesos_tests::cluster::find_executor;
use mesos_tests::zookeeper::{
    log_level, third_party_leader, HaCluster, HaOptions, SESSION_TIMEOUT_SECS,
};
use mesos_tests::*;
use serde_json::{json, Value};

const SESSION: Duration = Duration::from_secs(SESSION_TIMEOUT_SECS);

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// POSTs a SUBSCRIBE to master `i` without following redirects: (status, Location).
async fn subscribe_status(cluster: &HaCluster, i: usize) -> (u16, Option<String>) {
    let call =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info("probe")}});
    let response = no_redirects()
        .post(cluster.master_url(i, "/api/v1/scheduler"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(call.to_string())
        .send()
        .await
        .expect("SUBSCRIBE answered");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (response.status().as_u16(), location)
}

/// Starts `mesos-execute` against the cluster's ZooKeeper URL with a long-running task.
fn start_execute(cluster: &HaCluster, name: &str) -> Proc {
    Proc::spawn_with_env(
        name,
        &binary("mesos-execute"),
        vec![
            format!("--master={}", cluster.zk_url()),
            format!("--name={name}"),
            "--command=sleep 1000".to_string(),
            "--resources=cpus:0.1;mem:32".to_string(),
        ],
        log_level(),
        cluster.root(),
    )
}

/// The framework running the task named `name` at master `i`: (framework id, active, the
/// task's state).
async fn framework_at(cluster: &HaCluster, i: usize, name: &str) -> Option<(String, bool, String)> {
    let state = cluster.master_state(i).await?;
    let framework = state["frameworks"]
        .as_array()?
        .iter()
        .find(|f| f["tasks"][0]["name"] == name)?
        .clone();
    let task = framework["tasks"][0].clone();
    Some((
        framework["id"].as_str()?.to_string(),
        framework["active"] == true,
        task["state"].as_str()?.to_string(),
    ))
}

/// The container of `task_id` on agent 0 while it runs there.
async fn running_container(cluster: &HaCluster, task_id: &str) -> Option<Value> {
    let state = cluster.agent_state(0).await;
    match find_executor(&state, task_id) {
        Some((executor, true)) => Some(executor["container"].clone()),
        _ => None,
    }
}

fn assert_nothing_lost(output: &str, who: &str) {
    for bad in [
        "TASK_LOST",
        "TASK_UNREACHABLE",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_GONE",
    ] {
        assert!(!output.contains(bad), "{who} was told {bad}:\n{output}");
    }
}

fn signal(proc: &Proc, signal: nix::sys::signal::Signal) {
    let pid = proc.pid().expect("process is running");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).expect("signal sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_after_kill_9_keeps_tasks_and_frameworks() {
    let mut cluster = HaCluster::start(HaOptions::default()).await;
    let leader = cluster.wait_for_leader().await;
    let leader_port = cluster.masters[leader].port;

    // Standbys send schedulers to the leader and say they do not lead.
    let state = cluster.master_state(leader).await.expect("leader state");
    let leader_host = state["leader_info"]["address"]["hostname"]
        .as_str()
        .expect("leader_info.address.hostname")
        .to_string();
    assert_eq!(state["leader_info"]["port"], leader_port);
    for i in (0..3).filter(|i| *i != leader) {
        let (status, location) = subscribe_status(&cluster, i).await;
        assert_eq!(status, 307, "standby {i} answers SUBSCRIBE with a redirect");
        assert_eq!(
            location.as_deref(),
            Some(format!("//{leader_host}:{leader_port}/api/v1/scheduler").as_str())
        );
        let redirect = no_redirects()
            .get(cluster.master_url(i, "/master/redirect"))
            .send()
            .await
            .expect("redirect answered");
        assert_eq!(redirect.status().as_u16(), 307);
        assert_eq!(
            redirect.headers()["location"].to_str().unwrap(),
            format!("//{leader_host}:{leader_port}")
        );
        assert_eq!(cluster.elected(i).await, Some(false));
    }

    // The election reads as third parties read it, and as mesos-resolve prints it.
    assert_eq!(
        third_party_leader(&cluster.zk.servers(), &cluster.path).await,
        Some(("127.0.0.1".to_string(), leader_port))
    );
    let (ok, out, err) = cluster.resolve().await;
    assert!(ok, "mesos-resolve failed: {err}");
    assert_eq!(out, format!("127.0.0.1:{leader_port}"));

    // Two frameworks with running tasks: mesos-execute following ZooKeeper by itself, and
    // a plain HTTP scheduler that the test moves to the new leader.
    let mut execute = start_execute(&cluster, "ha-execute");
    let (execute_id, _, _) = eventually("mesos-execute's task running", TIMEOUT, async || {
        framework_at(&cluster, leader, "ha-execute")
            .await
            .filter(|(_, _, state)| state == "TASK_RUNNING")
    })
    .await;
    let mut info = framework_info("ha-http");
    info["failover_timeout"] = json!(300.0);
    let mut sched = Scheduler::subscribe(&cluster.master_addr(leader), info.clone()).await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("ha-task");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 1000", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    let container = running_container(&cluster, &task_id)
        .await
        .expect("task runs");
    let execute_task = cluster.agent_state(0).await;
    let execute_task_id = execute_task["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == execute_id.as_str())
        .and_then(|f| f["executors"][0]["tasks"][0]["id"].as_str())
        .expect("mesos-execute's task at the agent")
        .to_string();
    let execute_container = running_container(&cluster, &execute_task_id).await.unwrap();

    // Give the leader a moment to write the agent into the registry, then hold the agent
    // still so that the new leader has to wait for it, and kill the leader.
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&cluster.agents[0].proc, nix::sys::signal::Signal::SIGSTOP);
    cluster.masters[leader].proc.kill9();
    let killed = Instant::now();

    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, leader);
    eprintln!("new leader after {:?}", killed.elapsed());
    for _ in 0..5 {
        assert_eq!(
            cluster.leaders().await,
            vec![new_leader],
            "exactly one leader"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_port = cluster.masters[new_leader].port;
    assert_eq!(
        third_party_leader(&cluster.zk.servers(), &cluster.path).await,
        Some(("127.0.0.1".to_string(), new_port))
    );

    // The HTTP framework fails over to the new leader with its id. Its task's agent is not
    // back yet: the new leader must not call the task lost; it holds the answer.
    info["id"] = json!({ "value": sched.framework_id });
    let old_id = sched.framework_id.clone();
    drop(sched);
    let mut sched = Scheduler::subscribe(&cluster.master_addr(new_leader), info).await;
    assert_eq!(sched.framework_id, old_id);
    sched.reconcile(&[(&task_id, Some(&agent_id))]).await;
    sched.reconcile(&[(&task_id, None)]).await;
    sched
        .expect_none(
            "an update for a task whose agent has not re-registered yet",
            Duration::from_secs(2),
            |e| event_type(e) == "UPDATE",
        )
        .await;

    // The agent comes back on its own and brings its tasks.
    signal(&cluster.agents[0].proc, nix::sys::signal::Signal::SIGCONT);
    cluster.wait_for_agents(1).await;
    sched.reconcile(&[(&task_id, Some(&agent_id))]).await;
    sched
        .wait_for_update(&task_id, "TASK_RUNNING by reconciliation", TIMEOUT, |s| {
            state_of(s) == "TASK_RUNNING"
        })
        .await;

    // mesos-execute found the new leader by itself and kept its framework and task.
    eventually(
        "mesos-execute's framework active at the new leader",
        TIMEOUT * 2,
        async || {
            framework_at(&cluster, new_leader, "ha-execute")
                .await
                .filter(|(id, active, state)| {
                    *id == execute_id && *active && state == "TASK_RUNNING"
                })
        },
    )
    .await;

    // The tasks were never touched, and nobody was told otherwise.
    assert_eq!(running_container(&cluster, &task_id).await, Some(container));
    assert_eq!(
        running_container(&cluster, &execute_task_id).await,
        Some(execute_container)
    );
    sched
        .expect_none("a terminal update", Duration::from_secs(1), |e| {
            event_type(e) == "UPDATE" && is_terminal(state_of(&e["update"]["status"]))
        })
        .await;
    assert!(execute.is_running(), "mesos-execute still runs");
    assert_nothing_lost(&execute.stdout(), "mesos-execute");

    let (ok, out, err) = cluster.resolve().await;
    assert!(ok, "mesos-resolve failed: {err}");
    assert_eq!(out, format!("127.0.0.1:{new_port}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_losing_one_server_changes_nothing_and_losing_its_quorum_stops_the_leader() {
    let cluster = HaCluster::start(HaOptions {
        masters: 2,
        ..HaOptions::default()
    })
    .await;
    let leader = cluster.wait_for_leader().await;
    let leader_id = cluster.master_state(leader).await.unwrap()["id"].clone();
    let mut execute = start_execute(&cluster, "zk-outage");
    let (framework_id, _, _) = eventually("mesos-execute's task running", TIMEOUT, async || {
        framework_at(&cluster, leader, "zk-outage")
            .await
            .filter(|(_, _, state)| state == "TASK_RUNNING")
    })
    .await;
    let task_id = {
        let state = cluster.agent_state(0).await;
        state["frameworks"][0]["executors"][0]["tasks"][0]["id"]
            .as_str()
            .expect("the task at the agent")
            .to_string()
    };
    let container = running_container(&cluster, &task_id).await.unwrap();

    // One server of three down: the same master keeps leading in the same term, and
    // nothing reconnects.
    cluster.zk.stop(1).await;
    let watch_until = Instant::now() + SESSION * 2;
    while Instant::now() < watch_until {
        assert_eq!(
            cluster.leaders().await,
            vec![leader],
            "leadership must not move"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state = cluster.master_state(leader).await.unwrap();
    assert_eq!(
        state["id"], leader_id,
        "the leader did not start a new term"
    );
    assert_eq!(state["slaves"][0]["active"], true);
    assert_eq!(
        framework_at(&cluster, leader, "zk-outage").await,
        Some((framework_id.clone(), true, "TASK_RUNNING".to_string()))
    );

    // Two of three down: no quorum. The leader stops leading within its lease and refuses
    // to change anything; the task keeps running on the agent.
    cluster.zk.stop(2).await;
    let lost_quorum = Instant::now();
    eventually("the leader to stop leading", SESSION * 2, async || {
        cluster.leaders().await.is_empty().then_some(())
    })
    .await;
    eprintln!(
        "leader stepped down {:?} after the quorum was lost",
        lost_quorum.elapsed()
    );
    let (status, _) = subscribe_status(&cluster, leader).await;
    assert_eq!(
        status, 503,
        "a master without ZooKeeper accepts no SUBSCRIBE"
    );
    let teardown = http::send(
        http::client()
            .post(cluster.master_url(leader, "/master/teardown"))
            .body(format!("frameworkId={framework_id}")),
    )
    .await
    .unwrap();
    assert_eq!(teardown.status, 503, "no teardown without leadership");
    for _ in 0..10 {
        assert!(
            cluster.leaders().await.is_empty(),
            "nobody leads without a quorum"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        running_container(&cluster, &task_id).await,
        Some(container.clone())
    );

    // Quorum back: a leader is elected, the agent and the framework find it by themselves.
    let elected_before = elections(&cluster);
    cluster.zk.restart(1).await;
    cluster.zk.restart(2).await;
    let leader = cluster.wait_for_leader().await;
    cluster.wait_for_agents(1).await;
    eventually(
        "the framework back at the leader",
        TIMEOUT * 3,
        async || {
            framework_at(&cluster, leader, "zk-outage")
                .await
                .filter(|(id, active, state)| {
                    *id == framework_id && *active && state == "TASK_RUNNING"
                })
        },
    )
    .await;
    assert_eq!(running_container(&cluster, &task_id).await, Some(container));
    assert!(execute.is_running(), "mesos-execute still runs");
    assert_nothing_lost(&execute.stdout(), "mesos-execute");
    // One election, maybe two if a session expired meanwhile; masters that stepped down at
    // every registry write in doubt took turns hundreds of times.
    assert_eq!(cluster.leaders().await, vec![leader], "{}", cluster.logs());
    let elected = elections(&cluster) - elected_before;
    assert!(
        elected <= 2,
        "{elected} elections after the quorum came back\n{}",
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masters_cut_off_from_zookeeper_never_lead() {
    // Masters 0 and 1 reach ZooKeeper through proxies that can go silent; master 2 does not.
    let cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 3,
        agents: 0,
        proxied_masters: vec![0, 1],
        ..HaOptions::default()
    })
    .await;
    assert_eq!(cluster.wait_for_leader().await, 0);

    // A path nobody contends under has no leader.
    let empty = mesos_tests::process::run_command(
        &binary("mesos-resolve"),
        &[
            cluster.zk.url("/nobody-here"),
            "--timeout=1secs".to_string(),
        ],
        &[],
        Duration::from_secs(20),
    )
    .await;
    assert!(!empty.success());
    assert!(
        empty.stderr.contains("no master is elected"),
        "{}",
        empty.stderr
    );

    // Cut off the leader and a standby whose znode is older than master 2's.
    for m in &cluster.masters[..2] {
        m.proxy.as_ref().unwrap().freeze();
    }
    let cut = Instant::now();
    let mut stepped_down = None;
    let mut elected = None;
    while elected.is_none() {
        assert!(
            cut.elapsed() < SESSION * 5,
            "master 2 was never elected\n{}",
            cluster.logs()
        );
        let (a, b, c) = tokio::join!(cluster.elected(0), cluster.elected(1), cluster.elected(2));
        let flags = [a == Some(true), b == Some(true), c == Some(true)];
        assert!(
            flags.iter().filter(|f| **f).count() <= 1,
            "two masters lead at once after {:?}: {flags:?}",
            cut.elapsed()
        );
        assert!(!flags[1], "the cut-off standby claimed leadership");
        if !flags[0] && stepped_down.is_none() {
            stepped_down = Some(cut.elapsed());
        }
        if flags[2] {
            elected = Some(cut.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (stepped_down, elected) = (stepped_down.unwrap(), elected.unwrap());
    eprintln!(
        "cut-off leader stepped down after {stepped_down:?}; master 2 elected after {elected:?}"
    );
    assert!(stepped_down < elected);
    assert!(
        stepped_down <= SESSION,
        "the cut-off leader kept leading for {stepped_down:?}"
    );
    let (status, _) = subscribe_status(&cluster, 1).await;
    assert!(
        matches!(status, 307 | 503),
        "the cut-off standby answered {status}"
    );

    // Back in touch: both follow master 2 and stay standbys.
    for m in &cluster.masters[..2] {
        m.proxy.as_ref().unwrap().thaw();
    }
    assert_eq!(cluster.wait_for_leader().await, 2);
    for _ in 0..10 {
        assert_eq!(cluster.leaders().await, vec![2]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        third_party_leader(&cluster.zk.servers(), &cluster.path).await,
        Some(("127.0.0.1".to_string(), cluster.masters[2].port))
    );
}

/// What the operator decided is in the registry: the next leader still keeps a
/// deactivated agent out of offers, knows a drained agent is drained, refuses an agent
/// marked gone, and answers GET_QUOTA as the old leader did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_decisions_survive_a_change_of_leader() {
    let mut cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 2,
        agents: 3,
        ..HaOptions::default()
    })
    .await;
    let leader = cluster.wait_for_leader().await;
    cluster.wait_for_agents(3).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let state = cluster.agent_state(i).await;
        ids.push(state["id"].as_str().expect("agent id").to_string());
    }
    let (deactivated, drained, gone) = (&ids[0], &ids[1], &ids[2]);
    let agent_call = |kind: &str, agent_id: &str| {
        let mut body = json!({ "type": kind });
        body[kind.to_ascii_lowercase()] = json!({ "agent_id": { "value": agent_id } });
        body
    };
    let api = cluster.master_url(leader, "/api/v1");
    http::operator_act(&api, &agent_call("DEACTIVATE_AGENT", deactivated)).await;
    http::operator_act(&api, &agent_call("DRAIN_AGENT", drained)).await;
    http::operator_act(&api, &agent_call("MARK_AGENT_GONE", gone)).await;
    let quota = json!({
        "type": "UPDATE_QUOTA",
        "update_quota": { "quota_configs": [{
            "role": "ha-ops",
            "guarantees": { "cpus": { "value": 0.5 } },
            "limits": { "cpus": { "value": 1.0 } }
        }]}
    });
    http::operator_act(&api, &quota).await;
    assert!(
        cluster.agents[2].proc.wait_exit(TIMEOUT).await.is_some(),
        "the gone agent stops"
    );

    // Give the registry a moment to reach ZooKeeper, then kill the leader.
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.masters[leader].proc.kill9();
    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, leader);
    cluster.wait_for_agents(2).await;
    let api = cluster.master_url(new_leader, "/api/v1");

    // The gone agent comes back with its old id and is refused again.
    cluster.agents[2].proc.restart();
    assert!(
        cluster.agents[2].proc.wait_exit(TIMEOUT).await.is_some(),
        "the new leader refused the gone agent\n{}",
        cluster.agents[2].proc.log_tail(20)
    );

    let agents = http::operator_get(&api, "GET_AGENTS").await;
    let entry = |id: &str| {
        agents["agents"].as_array().and_then(|list| {
            list.iter()
                .find(|a| a["agent_info"]["id"]["value"] == id)
                .cloned()
        })
    };
    let first = entry(deactivated).expect("deactivated agent listed");
    assert_eq!(first["deactivated"], true, "{first}");
    let second = entry(drained).expect("drained agent listed");
    assert_eq!(second["deactivated"], true, "{second}");
    assert_eq!(second["drain_info"]["state"], "DRAINED", "{second}");
    assert!(entry(gone).is_none(), "{agents}");

    let quota = http::operator_get(&api, "GET_QUOTA").await;
    let configs = quota["status"]["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 1, "{quota}");
    assert_eq!(configs[0]["role"], "ha-ops");
    assert_eq!(configs[0]["guarantees"]["cpus"]["value"], 0.5, "{quota}");
    assert_eq!(configs[0]["limits"]["cpus"]["value"], 1.0, "{quota}");

    // No offer comes from the deactivated or the drained agent: there is nothing to offer.
    let mut sched = Scheduler::subscribe(
        &cluster.master_addr(new_leader),
        framework_info("ha-ops-probe"),
    )
    .await;
    sched
        .expect_none(
            "an offer from a deactivated or drained agent",
            Duration::from_secs(2),
            |e| event_type(e) == "OFFERS",
        )
        .await;
}

#[tokio::test]
async fn mesos_resolve_without_zookeeper_fails_within_its_timeout() {
    let port = free_port();
    let started = Instant::now();
    let out = mesos_tests::process::run_command(
        &binary("mesos-resolve"),
        &[
            format!("zk://127.0.0.1:{port}/mesos"),
            "--timeout=1secs".to_string(),
        ],
        &[],
        Duration::from_secs(20),
    )
    .await;
    assert!(!out.success(), "mesos-resolve succeeded without ZooKeeper");
    assert!(out.stdout.trim().is_empty());
    assert!(
        out.stderr.contains("Failed to detect a master"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let out = mesos_tests::process::run_command(
        &binary("mesos-resolve"),
        &["zk://bad:port/x".to_string()],
        &[],
        Duration::from_secs(20),
    )
    .await;
    assert!(!out.success());
    assert!(
        out.stderr.contains("invalid ZooKeeper URL"),
        "{}",
        out.stderr
    );
}

/// Every "elected as the leading master" line the masters logged so far.
fn elections(cluster: &HaCluster) -> usize {
    cluster
        .masters
        .iter()
        .map(|m| {
            let text = m.proc.stdout() + m.proc.stderr().as_str();
            text.matches("elected as the leading master").count()
        })
        .sum()
}

/// The registry node as ZooKeeper holds it: (JSON, version).
async fn registry_node(zk: &zookeeper_async::ZooKeeper, path: &str) -> Option<(Value, i32)> {
    let (data, stat) = zk.get_data(&format!("{path}/registry"), false).await.ok()?;
    Some((serde_json::from_slice(&data).ok()?, stat.version))
}

/// A registry write that lands without its writer knowing (the answer lost with a
/// connection, or a deposed master's write arriving late) moves the node's version under
/// the leader. The leader's next write is refused; that must not depose it while its znode
/// is still the lowest. After a quorum loss every write is in doubt, and masters that took
/// each refusal for another master's write stepped down in turn, hundreds of times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_write_landing_behind_the_leaders_back_does_not_depose_it() {
    let cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 2,
        agents: 0,
        ..HaOptions::default()
    })
    .await;
    let leader = cluster.wait_for_leader().await;
    let leader_id = cluster.master_state(leader).await.unwrap()["id"].clone();
    let api = cluster.master_url(leader, "/api/v1");
    let zk = zookeeper_async::ZooKeeper::connect(&cluster.zk.servers(), SESSION, |_| {})
        .await
        .expect("a ZooKeeper client");

    for round in 1..=3 {
        // The leader's next write starts from a version the node no longer has.
        let (registry, version) = eventually("the registry in ZooKeeper", TIMEOUT, async || {
            registry_node(&zk, &cluster.path).await
        })
        .await;
        zk.set_data(
            &format!("{}/registry", cluster.path),
            registry.to_string().into_bytes(),
            Some(version),
        )
        .await
        .expect("a write behind the leader's back");

        let weight = f64::from(round) + 0.5;
        let update = json!({
            "type": "UPDATE_WEIGHTS",
            "update_weights": { "weight_infos": [ { "role": "late-write", "weight": weight } ] }
        });
        http::operator_act(&api, &update).await;
        eventually("the leader's write over it", TIMEOUT, async || {
            let (registry, _) = registry_node(&zk, &cluster.path).await?;
            (registry["weights"]["late-write"] == weight).then_some(())
        })
        .await;
        assert_eq!(cluster.leaders().await, vec![leader], "{}", cluster.logs());
        assert_eq!(
            cluster.master_state(leader).await.unwrap()["id"],
            leader_id,
            "the leader started a new term\n{}",
            cluster.logs()
        );
    }
    assert_eq!(elections(&cluster), 1, "{}", cluster.logs());
    let _ = zk.close().await;
}
