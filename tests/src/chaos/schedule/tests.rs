use std::collections::BTreeSet;
use std::time::Duration;

use super::*;

const TIMING: Timing = Timing {
    session_timeout: Duration::from_secs(5),
};

#[test]
fn the_same_seed_gives_the_same_schedule() {
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(
            Schedule::generate(seed, 20, TIMING),
            Schedule::generate(seed, 20, TIMING)
        );
    }
    assert_ne!(
        Schedule::generate(1, 20, TIMING),
        Schedule::generate(2, 20, TIMING)
    );
}

#[test]
fn a_longer_schedule_starts_with_the_shorter_one() {
    let short = Schedule::generate(7, 5, TIMING);
    let long = Schedule::generate(7, 12, TIMING);
    assert_eq!(short.steps[..], long.steps[..5]);
}

#[test]
fn the_generator_stream_is_fixed_by_its_definition() {
    // SplitMix64's published first outputs for seed 0: a changed generator would replay
    // different faults for the seeds in reports.
    let mut rng = SplitMix::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[test]
fn every_seven_faults_cover_every_kind() {
    for seed in 0..50 {
        let s = Schedule::generate(seed, 14, TIMING);
        for deck in s.steps.chunks(7) {
            let kinds: BTreeSet<FaultKind> = deck.iter().map(|s| s.fault.kind()).collect();
            assert_eq!(kinds.len(), 7, "seed {seed}:\n{}", s.history());
        }
    }
}

#[test]
fn faults_stay_within_the_cluster_and_its_timeouts() {
    let session = TIMING.session_timeout;
    for seed in 0..200 {
        for step in Schedule::generate(seed, 14, TIMING).steps {
            match step.fault {
                Fault::Pause { target, pause } => {
                    assert!(pause > session, "a pause outlives the sessions");
                    if let Target::Agent(a) = target {
                        assert!(a < AGENTS);
                    }
                }
                Fault::Kill9 { target, down } => {
                    assert!(down <= 2 * session);
                    if let Target::Agent(a) = target {
                        assert!(a < AGENTS);
                    }
                }
                Fault::ZkServerLoss { server, .. } => assert!((1..=ZK_SERVERS).contains(&server)),
                Fault::ZkQuorumLoss { servers, .. } => {
                    assert_ne!(servers[0], servers[1], "two different servers");
                    assert!(servers.iter().all(|s| (1..=ZK_SERVERS).contains(s)));
                }
                Fault::DockerSocketCut { agent, .. } | Fault::AgentRestart { agent } => {
                    assert!(agent < AGENTS)
                }
                Fault::MarathonAbdication => {
                    assert_eq!(step.change, Some(Change::Restart { app: 0 }))
                }
            }
            if let Some(Change::Scale { app, instances }) = step.change {
                assert!(app < APPS && instances >= 1);
                if app == 1 {
                    assert!(
                        (instances as usize) < AGENTS,
                        "UNIQUE fits with an agent down"
                    );
                }
            }
        }
    }
}

#[test]
fn the_history_names_every_step() {
    let s = Schedule::generate(3, 7, TIMING);
    let history = s.history();
    assert_eq!(history.lines().count(), 7, "{history}");
    assert!(history.contains("DELETE /v2/leader"), "{history}");
    assert!(history.contains("no quorum"), "{history}");
}
