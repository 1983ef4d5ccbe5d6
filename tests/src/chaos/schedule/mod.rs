//! The fault schedule: a pure function of the seed. No clock, no I/O: the same seed and
//! fault count give the same faults, targets, durations and workload changes on every
//! machine, so a failing seed's history is replayed by running that seed again.
//!
//! Targets that only exist at run time (which master or Marathon leads) are named by
//! role: "the leading master" is resolved when the fault is injected.

use std::fmt;
use std::time::Duration;

/// Agents, ZooKeeper servers and masters of the chaos cluster (two Marathons).
pub const AGENTS: usize = 3;
pub const ZK_SERVERS: usize = 3;

/// SplitMix64: a tiny generator whose output is fixed by its definition, unlike library
/// generators whose streams may change between versions.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A leader or a standby, resolved when the fault is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Standby,
}

/// A process of the cluster that a kill or a pause hits (ZooKeeper servers have their own
/// faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Master(Role),
    Agent(usize),
    Marathon(Role),
}

/// One fault and how long it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9`, started again (same flags, ports and work dir) after `down`.
    Kill9 { target: Target, down: Duration },
    /// SIGSTOP, SIGCONT after `pause` (longer than every session and ping timeout).
    Pause { target: Target, pause: Duration },
    /// One ZooKeeper server killed, started again after `down` (the quorum holds).
    ZkServerLoss { server: usize, down: Duration },
    /// Two of three ZooKeeper servers killed: no quorum until they are back.
    ZkQuorumLoss { servers: [usize; 2], down: Duration },
    /// The agent's Docker socket refuses connections and cuts open ones for `down`.
    DockerSocketCut { agent: usize, down: Duration },
    /// The agent stopped with SIGTERM and started again on the same work dir.
    AgentRestart { agent: usize },
    /// `DELETE /v2/leader` while a rolling restart of the health-checked app runs.
    MarathonAbdication,
}

/// The kinds of [`Fault`], for coverage and for the benchmark's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    Kill9,
    Pause,
    ZkServerLoss,
    ZkQuorumLoss,
    DockerSocketCut,
    AgentRestart,
    MarathonAbdication,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Kill9,
        FaultKind::Pause,
        FaultKind::ZkServerLoss,
        FaultKind::ZkQuorumLoss,
        FaultKind::DockerSocketCut,
        FaultKind::AgentRestart,
        FaultKind::MarathonAbdication,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill9 => "kill -9",
            FaultKind::Pause => "SIGSTOP/SIGCONT",
            FaultKind::ZkServerLoss => "ZooKeeper server lost",
            FaultKind::ZkQuorumLoss => "ZooKeeper quorum lost",
            FaultKind::DockerSocketCut => "Docker socket cut",
            FaultKind::AgentRestart => "agent restart",
            FaultKind::MarathonAbdication => "Marathon abdication",
        }
    }
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Kill9 { .. } => FaultKind::Kill9,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::ZkServerLoss { .. } => FaultKind::ZkServerLoss,
            Fault::ZkQuorumLoss { .. } => FaultKind::ZkQuorumLoss,
            Fault::DockerSocketCut { .. } => FaultKind::DockerSocketCut,
            Fault::AgentRestart { .. } => FaultKind::AgentRestart,
            Fault::MarathonAbdication => FaultKind::MarathonAbdication,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = |r: &Role| match r {
            Role::Leader => "leading",
            Role::Standby => "standby",
        };
        match self {
            Target::Master(r) => write!(f, "the {} master", role(r)),
            Target::Agent(i) => write!(f, "agent{i}"),
            Target::Marathon(r) => write!(f, "the {} Marathon", role(r)),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |d: &Duration| format!("{:.1}s", d.as_secs_f64());
        match self {
            Fault::Kill9 { target, down } => {
                write!(f, "kill -9 {target}, restart after {}", s(down))
            }
            Fault::Pause { target, pause } => write!(f, "SIGSTOP {target} for {}", s(pause)),
            Fault::ZkServerLoss { server, down } => {
                write!(f, "kill ZooKeeper server {server} for {}", s(down))
            }
            Fault::ZkQuorumLoss { servers, down } => write!(
                f,
                "kill ZooKeeper servers {} and {} (no quorum) for {}",
                servers[0],
                servers[1],
                s(down)
            ),
            Fault::DockerSocketCut { agent, down } => {
                write!(f, "cut agent{agent}'s Docker socket for {}", s(down))
            }
            Fault::AgentRestart { agent } => write!(f, "restart agent{agent} on its work dir"),
            Fault::MarathonAbdication => {
                write!(f, "DELETE /v2/leader during a rolling restart")
            }
        }
    }
}

/// The apps the harness deploys (see [`crate::chaos::apps`]), by index.
pub const APPS: usize = 3;

/// A change to an app made just before a fault, so deployments run through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `PUT {"instances": n}`.
    Scale { app: usize, instances: u32 },
    /// `PUT {"env": {"ROUND": step}}`: a rolling restart.
    Restart { app: usize },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Scale { app, instances } => write!(f, "scale app {app} to {instances}"),
            Change::Restart { app } => write!(f, "restart app {app}"),
        }
    }
}

/// One step: an optional change, then a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub change: Option<Change>,
    pub fault: Fault,
}

/// How long faults last, bounded by the cluster's timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The longest ZooKeeper session timeout or agent ping timeout of the cluster: pauses
    /// last longer than this.
    pub session_timeout: Duration,
}

/// The faults of one seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub seed: u64,
    pub steps: Vec<Step>,
}

/// Instance counts a scale picks from, per app: the UNIQUE app (index 1) never asks for
/// more instances than agents minus one, so it can place them with one agent down.
fn scale_choices(app: usize) -> &'static [u32] {
    match app {
        1 => &[1, 2],
        _ => &[1, 2, 3],
    }
}

impl Schedule {
    /// The schedule of `seed` with `faults` faults. Kinds are dealt from seed-shuffled
    /// decks of all kinds, so any run of seven consecutive faults covers every kind.
    pub fn generate(seed: u64, faults: usize, timing: Timing) -> Schedule {
        let mut rng = SplitMix::new(seed);
        let session = timing.session_timeout.as_millis() as u64;
        let mut deck: Vec<FaultKind> = Vec::new();
        let mut steps = Vec::with_capacity(faults);
        for _ in 0..faults {
            if deck.is_empty() {
                deck = FaultKind::ALL.to_vec();
                rng.shuffle(&mut deck);
            }
            let kind = deck.pop().expect("refilled above");
            let role = |rng: &mut SplitMix| match rng.below(2) {
                0 => Role::Leader,
                _ => Role::Standby,
            };
            let target = |rng: &mut SplitMix| match rng.below(3) {
                0 => Target::Master(role(rng)),
                1 => Target::Agent(rng.below(AGENTS as u64) as usize),
                _ => Target::Marathon(role(rng)),
            };
            let fault = match kind {
                FaultKind::Kill9 => Fault::Kill9 {
                    target: target(&mut rng),
                    down: rng.millis(500, 2 * session),
                },
                FaultKind::Pause => Fault::Pause {
                    target: target(&mut rng),
                    pause: rng.millis(session * 3 / 2, session * 5 / 2),
                },
                FaultKind::ZkServerLoss => Fault::ZkServerLoss {
                    server: 1 + rng.below(ZK_SERVERS as u64) as usize,
                    down: rng.millis(session, 3 * session),
                },
                FaultKind::ZkQuorumLoss => {
                    let first = rng.below(ZK_SERVERS as u64) as usize;
                    let second = (first + 1 + rng.below(ZK_SERVERS as u64 - 1) as usize) % 3;
                    Fault::ZkQuorumLoss {
                        servers: [first + 1, second + 1],
                        down: rng.millis(session, 2 * session),
                    }
                }
                FaultKind::DockerSocketCut => Fault::DockerSocketCut {
                    agent: rng.below(AGENTS as u64) as usize,
                    down: rng.millis(session / 2, 2 * session),
                },
                FaultKind::AgentRestart => Fault::AgentRestart {
                    agent: rng.below(AGENTS as u64) as usize,
                },
                FaultKind::MarathonAbdication => Fault::MarathonAbdication,
            };
            let change = match &fault {
                // The abdication brings its own rolling restart of the health-checked app.
                Fault::MarathonAbdication => Some(Change::Restart { app: 0 }),
                _ => match rng.below(3) {
                    0 => None,
                    1 => Some(Change::Restart {
                        app: rng.below(APPS as u64) as usize,
                    }),
                    _ => {
                        let app = rng.below(APPS as u64) as usize;
                        let choices = scale_choices(app);
                        let instances = choices[rng.below(choices.len() as u64) as usize];
                        Some(Change::Scale { app, instances })
                    }
                },
            };
            steps.push(Step { change, fault });
        }
        Schedule { seed, steps }
    }

    /// One line per step, for failure messages and the replay.
    pub fn history(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            let change = match &step.change {
                Some(c) => format!("{c}; "),
                None => String::new(),
            };
            out.push_str(&format!("  {:>2}. {change}{}\n", i + 1, step.fault));
        }
        out
    }
}

#[cfg(test)]
mod tests;
