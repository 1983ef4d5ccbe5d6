//! The scale benchmark at a tiny size: every scenario of `mesos-sim bench` must run to the
//! end and report figures, so the harness cannot rot between full benchmark runs. No
//! threshold is checked here: debug builds on a shared machine say nothing about speed.

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
