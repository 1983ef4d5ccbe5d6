//! One decision of a rolling restart (Marathon's `upgradeStrategy`): given the old and new
//! instances as they are now, which old ones to kill and how many new ones to launch.
//!
//! - `minHealthy = ceil(instances × minimumHealthCapacity)`: healthy (and ready)
//!   instances, old and new together, never drop below it because of a kill;
//! - `maxCapacity = floor(instances × (1 + maximumOverCapacity))`: old and new alive
//!   together never exceed it (an instance being killed is alive until its task ended);
//!   when it equals `minHealthy` there would be no room to move, so one instance over is
//!   allowed (as the reference says Marathon does).
//!
//! Unhealthy old instances can always go: they count for nothing. Called again after every
//! change (an instance became healthy, one died); a restart is done when no old instance is
//! left and `instances` new ones are healthy and ready.

use crate::app::{KillSelection, UpgradeStrategy};

/// An old instance (of an earlier config), alive, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Old<'a> {
    pub id: &'a str,
    pub healthy: bool,
    /// Already asked to die: still counts as alive, never as healthy.
    pub killing: bool,
    /// For `killSelection`: when it was staged.
    pub staged_at: u64,
}

/// The new instances (of the target version), counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct New {
    /// Launched and not ended (staged, running, healthy or not, being killed).
    pub alive: usize,
    /// Of `alive`, those already asked to die (a launch timeout, a scale down).
    pub leaving: usize,
    /// Healthy and ready.
    pub ready: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub kill: Vec<String>,
    pub launch: usize,
    /// New instances the app may have (not counting those leaving) once the launches
    /// are made: the cap the tracker's demand is held to.
    pub new_cap: usize,
}

/// The bounds of a restart of `instances` under `strategy`: (minHealthy, maxCapacity).
pub fn bounds(instances: usize, strategy: &UpgradeStrategy) -> (usize, usize) {
    let n = instances as f64;
    let min_healthy = (n * strategy.minimum_health_capacity - 1e-9)
        .ceil()
        .max(0.0) as usize;
    let mut max_capacity = (n * (1.0 + strategy.maximum_over_capacity) + 1e-9).floor() as usize;
    if max_capacity <= min_healthy {
        max_capacity = min_healthy + 1;
    }
    (min_healthy.min(instances), max_capacity.max(instances))
}

pub fn decide(
    instances: usize,
    strategy: &UpgradeStrategy,
    selection: KillSelection,
    old: &[Old],
    new: New,
) -> Decision {
    let (min_healthy, max_capacity) = bounds(instances, strategy);
    let candidates = old.iter().filter(|o| !o.killing);
    let mut kill: Vec<String> = candidates
        .clone()
        .filter(|o| !o.healthy)
        .map(|o| o.id.to_string())
        .collect();
    let mut healthy_old: Vec<&Old> = candidates.filter(|o| o.healthy).collect();
    match selection {
        KillSelection::YoungestFirst => healthy_old.sort_by_key(|o| std::cmp::Reverse(o.staged_at)),
        KillSelection::OldestFirst => healthy_old.sort_by_key(|o| o.staged_at),
    }
    // Healthy capacity above the minimum may go; so may any old instance once enough new
    // ones are ready to replace all of them.
    let healthy_total = healthy_old.len() + new.ready;
    let spare = healthy_total.saturating_sub(min_healthy);
    let surplus = (healthy_old.len() + new.ready.min(instances)).saturating_sub(instances);
    let killable = spare.max(surplus).min(healthy_old.len());
    kill.extend(healthy_old.iter().take(killable).map(|o| o.id.to_string()));
    // An instance being killed is alive until its task ended: the ones killed now
    // still count against the capacity bound.
    let room = max_capacity.saturating_sub(old.len() + new.alive);
    let staying = new.alive.saturating_sub(new.leaving);
    let launch = instances.saturating_sub(staying).min(room);
    Decision {
        kill,
        launch,
        new_cap: staying + launch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strategy(min: f64, over: f64) -> UpgradeStrategy {
        UpgradeStrategy {
            minimum_health_capacity: min,
            maximum_over_capacity: over,
        }
    }

    const IDS: [&str; 3] = ["old0", "old1", "old2"];

    fn olds(n: usize) -> Vec<Old<'static>> {
        (0..n)
            .map(|i| Old {
                id: IDS[i],
                healthy: true,
                killing: false,
                staged_at: i as u64,
            })
            .collect()
    }

    #[test]
    fn bounds_follow_the_reference() {
        assert_eq!(bounds(3, &strategy(1.0, 1.0)), (3, 6));
        assert_eq!(bounds(3, &strategy(0.5, 0.0)), (2, 3));
        assert_eq!(
            bounds(3, &strategy(1.0, 0.0)),
            (3, 4),
            "one over when equal"
        );
        assert_eq!(bounds(10, &strategy(0.0, 0.0)), (0, 10));
        assert_eq!(bounds(0, &strategy(1.0, 1.0)), (0, 1));
    }

    #[test]
    fn unhealthy_old_instances_go_at_once_and_new_wait_for_health() {
        let mut old = olds(3);
        old[1].healthy = false;
        let d = decide(
            3,
            &strategy(1.0, 0.0),
            KillSelection::OldestFirst,
            &old,
            New::default(),
        );
        assert_eq!(d.kill, vec!["old1".to_string()]);
        // It is alive until its task ended: room for one new under the bound of 4.
        assert_eq!(d.launch, 1);
        // New ones alive but not ready: no healthy old instance may go.
        let old = olds(3);
        let d = decide(
            3,
            &strategy(1.0, 0.0),
            KillSelection::OldestFirst,
            &old,
            New {
                alive: 1,
                leaving: 0,
                ready: 0,
            },
        );
        assert!(d.kill.is_empty());
        assert_eq!(d.launch, 0);
    }

    proptest! {
        /// Whatever happens to health, a decision never kills below the healthy minimum
        /// and never launches above the capacity bound.
        #[test]
        fn capacity_stays_within_its_bounds(
            n in 0usize..20,
            min in 0.0f64..=1.0,
            over in 0.0f64..=1.0,
            old_state in proptest::collection::vec((any::<bool>(), any::<bool>()), 0..25),
            new_alive in 0usize..25,
            new_leaving_frac in 0.0f64..=1.0,
            new_ready_frac in 0.0f64..=1.0,
        ) {
            let s = strategy(min, over);
            let (min_healthy, max_capacity) = bounds(n, &s);
            let ids: Vec<String> = (0..old_state.len()).map(|i| format!("o{i}")).collect();
            let old: Vec<Old> = old_state.iter().enumerate().map(|(i, &(h, k))| Old {
                id: &ids[i], healthy: h && !k, killing: k, staged_at: i as u64 }).collect();
            let leaving = ((new_alive as f64) * new_leaving_frac) as usize;
            let ready = (((new_alive - leaving) as f64) * new_ready_frac) as usize;
            let new = New { alive: new_alive, leaving, ready };
            let d = decide(n, &s, KillSelection::YoungestFirst, &old, new);
            let healthy_before = old.iter().filter(|o| o.healthy).count() + new.ready;
            let killed = |o: &Old| d.kill.iter().any(|k| k == o.id);
            let healthy_killed = old.iter().filter(|o| o.healthy && killed(o)).count();
            let healthy_after = healthy_before - healthy_killed;
            // Nothing already being killed is killed again.
            prop_assert!(old.iter().all(|o| !o.killing || !killed(o)));
            // A kill never takes healthy capacity below the minimum (unless it already was).
            prop_assert!(healthy_killed == 0 || healthy_after >= min_healthy.min(healthy_before)
                || healthy_after >= n, "healthy {healthy_before} -> {healthy_after}, min {min_healthy}");
            // A launch never takes the total above the bound.
            let alive_after = old.len() + new.alive + d.launch;
            prop_assert!(d.launch == 0 || alive_after <= max_capacity,
                "alive {alive_after} > {max_capacity}");
            prop_assert_eq!(d.new_cap, new_alive - leaving + d.launch);
        }
    }
}
