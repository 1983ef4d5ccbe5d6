//! Scenario a: the allocator alone, in process, in the shape of Mesos's `DeclineOffers`
//! benchmark. Every agent (`cpus:24;mem:4096;disk:4096;ports:[31000-32000]`) already runs
//! a task of one framework (round robin), and every framework declines every offer it gets
//! with a year-long filter, so each cycle offers each agent to the next framework that has
//! not refused it yet.

use std::time::{Duration, Instant};

use mesos_common::resources::Resources;
use mesos_master::allocator::{AgentSpec, Allocation, Allocator, AllocatorConfig, FrameworkSpec};

pub const AGENT_RESOURCES: &str = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]";
/// What each agent's existing task holds (as in Mesos's benchmark).
const USED: &str = "cpus:16;mem:2014;disk:1024";
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Per-cycle times of one size, in milliseconds of CPU time of the allocating thread
/// (what the allocator costs, whatever else the machine runs), and wall time.
#[derive(Debug, Clone)]
pub struct CycleTimes {
    pub agents: usize,
    pub frameworks: usize,
    pub setup_ms: f64,
    pub first_ms: f64,
    /// Median of the cycles after the first.
    pub steady_ms: f64,
    pub worst_ms: f64,
    pub worst_wall_ms: f64,
    /// Offers made by the steady cycles, on average.
    pub offers_per_cycle: f64,
    /// CPU time of declining one cycle's offers, on average.
    pub declines_ms: f64,
    pub cycles: usize,
}

/// CPU time of this thread.
fn thread_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Runs `cycles` allocation cycles (at least 2) at one size.
pub fn decline_offers(agents: usize, frameworks: usize, cycles: usize, seed: u64) -> CycleTimes {
    let cycles = cycles.max(2);
    let total = Resources::parse(AGENT_RESOURCES).expect("valid agent resources");
    let used = Resources::parse(USED).expect("valid used resources");
    let setup = thread_cpu_time();
    let mut allocator = Allocator::new(AllocatorConfig {
        seed,
        ..Default::default()
    });
    let framework_id = |f: usize| format!("framework-{f:05}");
    for f in 0..frameworks {
        allocator
            .add_framework(
                &framework_id(f),
                FrameworkSpec {
                    roles: vec!["*".to_string()],
                    suppressed_roles: Vec::new(),
                },
                true,
            )
            .expect("new framework");
    }
    for a in 0..agents {
        allocator
            .add_agent(
                &format!("agent-{a:06}"),
                AgentSpec {
                    hostname: format!("agent-{a:06}"),
                    total: total.clone(),
                },
                [(framework_id(a % frameworks.max(1)), used.clone())],
            )
            .expect("new agent");
    }
    let setup_ms = ms(thread_cpu_time() - setup);

    let mut now = Duration::ZERO;
    let mut offers: Vec<Allocation> = Vec::new();
    let (mut times, mut declines, mut made) = (Vec::new(), Vec::new(), Vec::new());
    let mut worst_wall = Duration::ZERO;
    for _ in 0..cycles {
        let started = thread_cpu_time();
        let declined = !offers.is_empty();
        for x in offers.drain(..) {
            allocator
                .recover_resources(&x.framework_id, &x.agent_id, &x.resources, Some(YEAR), now)
                .expect("declined resources were offered");
        }
        if declined {
            declines.push(ms(thread_cpu_time() - started));
        }
        now += Duration::from_secs(1);
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        offers = allocator.allocate(now);
        times.push(ms(thread_cpu_time() - cpu));
        worst_wall = worst_wall.max(wall.elapsed());
        made.push(offers.len() as f64);
    }
    let first_ms = times[0];
    let worst_ms = times.iter().copied().fold(0.0, f64::max);
    let steady_offers = made[1..].iter().sum::<f64>() / (made.len() - 1) as f64;
    CycleTimes {
        agents,
        frameworks,
        setup_ms,
        first_ms,
        steady_ms: median(&mut times[1..].to_vec()),
        worst_ms,
        worst_wall_ms: ms(worst_wall),
        offers_per_cycle: steady_offers,
        declines_ms: declines.iter().sum::<f64>() / declines.len().max(1) as f64,
        cycles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cycle_offers_every_agent_to_a_new_framework() {
        let t = decline_offers(20, 5, 4, 1);
        assert_eq!(t.cycles, 4);
        // Each cycle offers all 20 agents: no framework has refused all of them yet.
        assert_eq!(t.offers_per_cycle, 20.0);
        let t = decline_offers(10, 2, 4, 1);
        // Two frameworks: after two cycles everything is refused by both.
        assert!(t.offers_per_cycle < 10.0);
    }
}
