//! The benchmarks of `mesos-sim bench` at a tiny size: every scenario (a to e, and f, the
//! failover through ZooKeeper) must run to the end and report figures, so the harness
//! cannot rot between full benchmark runs. No threshold is checked here: debug builds on a
//! shared machine say nothing about speed.

use std::time::Duration;

use mesos_tests::process::{bin_dir, binary, run_command};

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_runs_at_a_tiny_scale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("results");
    let args: Vec<String> = [
        "bench",
        "--scale=0.001",
        "--probes=3",
        "--churn-secs=1",
        "--real-task-secs=1",
        "--alloc-cycles=3",
        "--master-log-level=warn",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--out={}", out.display()),
        format!("--work-dir={}", dir.path().join("work").display()),
        format!("--bin-dir={}", bin_dir().display()),
    ])
    .collect();
    let output = run_command(&binary("mesos-sim"), &args, &[], Duration::from_secs(240)).await;
    assert!(
        output.success(),
        "mesos-sim bench failed\n{}",
        output.combined()
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scale.json")).expect("scale.json written"))
            .expect("scale.json is JSON");
    assert!(report["machine"]["cores"].as_u64().unwrap_or(0) >= 1);
    assert!(report["date"].is_string() && report["git_sha"].is_string());
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let ids: Vec<&str> = scenarios.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    for s in scenarios {
        assert!(
            s["error"].is_null(),
            "scenario {} failed: {}",
            s["id"],
            s["error"]
        );
        let rows = s["rows"].as_array().expect("rows");
        assert!(!rows.is_empty(), "scenario {} reported nothing", s["id"]);
        for r in rows {
            assert!(
                r["value"].as_f64().is_some_and(f64::is_finite),
                "scenario {}: {} is not a number",
                s["id"],
                r["metric"]
            );
        }
    }
    let table = std::fs::read_to_string(out.join("scale.md")).expect("scale.md written");
    assert!(table.contains("| scenario | metric | value | target |"));
}

/// Scenario f (master failover through ZooKeeper) at ten agents: ZooKeeper, three masters,
/// a kill -9 and a SIGTERM of the leader, and every figure reported.
#[tokio::test(flavor = "multi_thread")]
async fn failover_scenario_runs_at_a_tiny_scale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("results");
    let args: Vec<String> = [
        "bench",
        "--only=f",
        "--scale=0.001",
        "--name=failover",
        "--failover-session-timeout-ms=2000",
        "--master-log-level=warn",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--out={}", out.display()),
        format!("--work-dir={}", dir.path().join("work").display()),
        format!("--bin-dir={}", bin_dir().display()),
        format!(
            "--zookeeper-script={}",
            mesos_tests::zookeeper::script().display()
        ),
    ])
    .collect();
    let output = run_command(&binary("mesos-sim"), &args, &[], Duration::from_secs(240)).await;
    assert!(
        output.success(),
        "mesos-sim bench --only=f failed\n{}",
        output.combined()
    );

    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("failover.json")).expect("failover.json written"),
    )
    .expect("failover.json is JSON");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let [f] = &scenarios[..] else {
        panic!("one scenario expected: {scenarios:?}");
    };
    assert_eq!(f["id"], "f");
    assert!(f["error"].is_null(), "scenario f failed: {}", f["error"]);
    let rows = f["rows"].as_array().expect("rows");
    for round in ["kill -9", "SIGTERM"] {
        let ours: Vec<&serde_json::Value> = rows
            .iter()
            .filter(|r| r["metric"].as_str().is_some_and(|m| m.starts_with(round)))
            .collect();
        assert_eq!(ours.len(), 7, "{round}: {ours:?}");
        for r in ours {
            assert!(
                r["value"].as_f64().is_some_and(f64::is_finite),
                "{} is not a number",
                r["metric"]
            );
        }
    }
}

/// `mesos-sim marathon` at a hundredth of its size: a real marathon on a real master with
/// simulated agents (one app, ten apps of ten), and two marathons through ZooKeeper with
/// a kill -9 of the leader; every scenario must end and report figures.
#[tokio::test(flavor = "multi_thread")]
async fn marathon_scenarios_run_at_a_tiny_scale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("results");
    let args: Vec<String> = [
        "marathon",
        "--scale=0.01",
        "--gets=1",
        "--session-timeout-ms=2000",
        "--master-log-level=warn",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--out={}", out.display()),
        format!("--work-dir={}", dir.path().join("work").display()),
        format!("--bin-dir={}", bin_dir().display()),
        format!(
            "--zookeeper-script={}",
            mesos_tests::zookeeper::script().display()
        ),
    ])
    .collect();
    let output = run_command(&binary("mesos-sim"), &args, &[], Duration::from_secs(240)).await;
    assert!(
        output.success(),
        "mesos-sim marathon failed\n{}",
        output.combined()
    );

    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("marathon.json")).expect("marathon.json written"),
    )
    .expect("marathon.json is JSON");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let ids: Vec<&str> = scenarios.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["one", "many", "ha"]);
    for s in scenarios {
        assert!(
            s["error"].is_null(),
            "scenario {} failed: {}",
            s["id"],
            s["error"]
        );
        let rows = s["rows"].as_array().expect("rows");
        assert!(!rows.is_empty(), "scenario {} reported nothing", s["id"]);
    }
}
