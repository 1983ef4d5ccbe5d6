//! The chaos harness's short form: a few seeds with a few faults each against a real
//! HA cluster (three ZooKeeper servers, three masters, three Docker agents, two
//! Marathons). Any violated invariant fails the test with the seed's fault history and
//! the command that replays it. The long form is `chaos-bench` (see its header).
//!
//! `CHAOS_SEEDS=5,9 CHAOS_FAULTS=4` runs other seeds.

use mesos_tests::chaos::{run_seed, Options};

/// Seeds whose first three faults cover, between them, six kinds of fault: seed 11 a
/// SIGSTOP of the leading master, an abdication mid-deployment and a Docker socket cut;
/// seed 271 the loss of a ZooKeeper server, an agent restart and a kill -9 of a standby
/// master. Quorum loss and agents away past the ping timeout are left to the long form
/// until the bugs they find are fixed (see bench/results/chaos.md).
const SEEDS: [u64; 2] = [11, 271];
const FAULTS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_faults_lose_nothing_and_every_app_converges() {
    let seeds: Vec<u64> = match std::env::var("CHAOS_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse().expect("CHAOS_SEEDS: numbers"))
            .collect(),
        Err(_) => SEEDS.to_vec(),
    };
    let faults = std::env::var("CHAOS_FAULTS")
        .map(|f| f.parse().expect("CHAOS_FAULTS: a number"))
        .unwrap_or(FAULTS);
    let mut failures = Vec::new();
    for seed in seeds {
        let report = run_seed(&Options::new(seed, faults)).await;
        eprintln!(
            "chaos seed {seed}: {} fault(s) in {:.0}s, {} snapshots checked, {} violation(s)",
            report.faults.len(),
            report.wall.as_secs_f64(),
            report.snapshots,
            report.violations.len()
        );
        assert!(
            report.snapshots > 0,
            "the poller never saw a leading master"
        );
        if !report.violations.is_empty() {
            failures.push(report.failure());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
