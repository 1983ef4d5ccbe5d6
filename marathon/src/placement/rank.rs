//! Ranking: in which order to try the offers that may take a run spec's next instance
//! (Swarm's strategies).
//!
//! Filters say which agents can run an instance; a ranking says which of them should:
//! - `spread`: the agent with the fewest instances of the run spec, then the fewest
//!   instances of all run specs, then the most room on offer;
//! - `binpack`: the agent with the least room on offer (cpus, then memory) that still fits,
//!   i.e. the most allocated one, so whole agents stay free for large tasks;
//! - `random`: a shuffle seeded by the caller (from the run spec's id and version and the
//!   instance's ordinal, never the clock).
//!
//! Deterministic: ties fall back to the agent id, then the offer id, and the random ranking
//! hashes the seed with the agent id, so the same offers and seed give the same order
//! whatever order the offers come in.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::offer::Offer;

/// The app label choosing a strategy for one app (over `--placement_strategy`).
pub const STRATEGY_LABEL: &str = "MARATHON_PLACEMENT_STRATEGY";

/// A placement strategy, as the flag and the label name it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    Spread,
    /// The default: it fills an offer before the next, as Marathon did before strategies.
    #[default]
    Binpack,
    Random,
}

impl Strategy {
    pub const NAMES: [&'static str; 3] = ["spread", "binpack", "random"];

    /// The ranking for one instance; `seed` is used by `random` only.
    pub fn ranking(self, seed: u64) -> Ranking {
        match self {
            Strategy::Spread => Ranking::Spread,
            Strategy::Binpack => Ranking::Binpack,
            Strategy::Random => Ranking::Random { seed },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown placement strategy '{0}': must be one of spread, binpack, random")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Strategy, UnknownStrategy> {
        match s.to_ascii_lowercase().as_str() {
            "spread" => Ok(Strategy::Spread),
            "binpack" => Ok(Strategy::Binpack),
            "random" => Ok(Strategy::Random),
            _ => Err(UnknownStrategy(s.to_string())),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Spread => "spread",
            Strategy::Binpack => "binpack",
            Strategy::Random => "random",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    Spread,
    Binpack,
    /// A shuffle that is the same for the same seed and agents.
    Random {
        seed: u64,
    },
}

/// Instances per agent id: of the run spec being placed, and of all run specs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentLoad {
    of_run_spec: HashMap<String, usize>,
    of_all: HashMap<String, usize>,
}

impl AgentLoad {
    /// One more instance on `agent_id`; `of_run_spec` when it is the placed run spec's.
    pub fn add(&mut self, agent_id: &str, of_run_spec: bool) {
        if of_run_spec {
            *self.of_run_spec.entry(agent_id.to_string()).or_default() += 1;
        }
        *self.of_all.entry(agent_id.to_string()).or_default() += 1;
    }

    pub fn of_run_spec(&self, agent_id: &str) -> usize {
        self.of_run_spec.get(agent_id).copied().unwrap_or(0)
    }

    pub fn of_all(&self, agent_id: &str) -> usize {
        self.of_all.get(agent_id).copied().unwrap_or(0)
    }
}

/// `offers` best first for `ranking`.
pub fn rank<'o>(offers: &[&'o Offer], load: &AgentLoad, ranking: Ranking) -> Vec<&'o Offer> {
    let mut ranked = offers.to_vec();
    let tie = |a: &&Offer, b: &&Offer| a.agent.id.cmp(&b.agent.id).then(a.id.cmp(&b.id));
    match ranking {
        Ranking::Spread => ranked.sort_by(|a, b| {
            let own = |o: &Offer| load.of_run_spec(&o.agent.id);
            let all = |o: &Offer| load.of_all(&o.agent.id);
            own(a)
                .cmp(&own(b))
                .then_with(|| all(a).cmp(&all(b)))
                .then_with(|| room(b, a))
                .then_with(|| tie(a, b))
        }),
        Ranking::Binpack => ranked.sort_by(|a, b| room(a, b).then_with(|| tie(a, b))),
        Ranking::Random { seed } => ranked.sort_by(|a, b| {
            let key = |o: &Offer| mix(seed ^ fnv1a(o.agent.id.as_bytes()));
            key(a).cmp(&key(b)).then_with(|| tie(a, b))
        }),
    }
    ranked
}

/// A seed for the random ranking of one instance: the run spec's id and version and the
/// instance's ordinal among the run spec's instances.
pub fn seed(run_spec: &str, version: &str, ordinal: usize) -> u64 {
    let text = format!("{run_spec}\0{version}\0{ordinal}");
    mix(fnv1a(text.as_bytes()))
}

/// Compares how much two offers hold, cpus first, then memory (less first).
fn room(a: &Offer, b: &Offer) -> Ordering {
    let size = |o: &Offer| {
        (
            o.resources.cpus().unwrap_or(0.0),
            o.resources.mem().unwrap_or(0.0),
        )
    };
    size(a).partial_cmp(&size(b)).unwrap_or(Ordering::Equal)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: spreads nearby inputs over the whole range.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::testkit::offer;
    use proptest::prelude::{any, prop_assert_eq, proptest};

    fn ids(ranked: &[&Offer]) -> Vec<String> {
        ranked.iter().map(|o| o.id.clone()).collect()
    }

    fn load(own: &[&str], others: &[&str]) -> AgentLoad {
        let mut load = AgentLoad::default();
        own.iter().for_each(|a| load.add(a, true));
        others.iter().for_each(|a| load.add(a, false));
        load
    }

    #[test]
    fn strategies_by_name() {
        for name in Strategy::NAMES {
            assert_eq!(name.parse::<Strategy>().unwrap().to_string(), name);
        }
        assert_eq!("Spread".parse(), Ok(Strategy::Spread));
        let e = "fill".parse::<Strategy>().unwrap_err();
        assert!(e.to_string().contains("spread, binpack, random"), "{e}");
    }

    #[test]
    fn each_strategy_orders_offers() {
        let offers = [
            offer().id("busy").on("a1").cpus(8.0),
            offer().id("small").on("a2").cpus(1.0),
            offer().id("big").on("a3").cpus(4.0).mem(100.0),
            offer().id("big-less-mem").on("a4").cpus(4.0),
            offer().id("crowded").on("a5").cpus(4.0).mem(100.0),
        ];
        let refs: Vec<&Offer> = offers.iter().collect();
        // a1 runs two of the app's instances, a2 one; a5 none of it but others' instances.
        let busy = load(&["a1", "a1", "a2"], &["a5", "a5"]);
        let cases: [(&str, Ranking, &AgentLoad, [&str; 5]); 4] = [
            (
                "spread: fewest of the app, then fewest of all, then most room",
                Ranking::Spread,
                &busy,
                ["big", "big-less-mem", "crowded", "small", "busy"],
            ),
            (
                "spread without instances: most room first",
                Ranking::Spread,
                &AgentLoad::default(),
                ["busy", "big", "crowded", "big-less-mem", "small"],
            ),
            (
                "binpack: least room first, instances do not count",
                Ranking::Binpack,
                &busy,
                ["small", "big-less-mem", "big", "crowded", "busy"],
            ),
            (
                "binpack ties: the agent id",
                Ranking::Binpack,
                &AgentLoad::default(),
                ["small", "big-less-mem", "big", "crowded", "busy"],
            ),
        ];
        for (what, ranking, load, want) in cases {
            assert_eq!(ids(&rank(&refs, load, ranking)), want, "{what}");
        }
    }

    #[test]
    fn random_is_a_seeded_shuffle() {
        let offers: Vec<Offer> = (0..20)
            .map(|i| offer().id(&format!("o{i}")).on(&format!("a{i}")))
            .collect();
        let refs: Vec<&Offer> = offers.iter().collect();
        let none = AgentLoad::default();
        let first = ids(&rank(&refs, &none, Ranking::Random { seed: 7 }));
        assert_ne!(first, ids(&rank(&refs, &none, Ranking::Random { seed: 8 })));
        assert_ne!(first, ids(&refs), "a shuffle of 20 keeps their order");
        // Other instances of the same app get other seeds, hence other first choices.
        let firsts: std::collections::BTreeSet<String> = (0..10)
            .map(|n| {
                let ranking = Ranking::Random {
                    seed: seed("/web", "v1", n),
                };
                rank(&refs, &none, ranking)[0].id.clone()
            })
            .collect();
        assert!(firsts.len() > 3, "{firsts:?}");
    }

    proptest! {
        /// Same offers, same seed: same order, whatever order the offers come in; and the
        /// ranking is a permutation of the offers.
        #[test]
        fn the_same_offers_and_seed_give_the_same_choice(
            agents in proptest::collection::vec((0u8..12, 0u8..8, 0u16..4096), 1..12),
            own in proptest::collection::vec(0u8..12, 0..10),
            seed in any::<u64>(),
            rotate in 0usize..12,
            strategy in 0usize..3,
        ) {
            let offers: Vec<Offer> = agents
                .iter()
                .enumerate()
                .map(|(i, (a, cpus, mem))| {
                    offer()
                        .id(&format!("o{i}"))
                        .on(&format!("a{a}"))
                        .cpus(f64::from(*cpus))
                        .mem(f64::from(*mem))
                })
                .collect();
            let mut load = AgentLoad::default();
            for a in &own {
                load.add(&format!("a{a}"), a % 2 == 0);
            }
            let ranking = Strategy::NAMES[strategy]
                .parse::<Strategy>()
                .unwrap()
                .ranking(seed);
            let refs: Vec<&Offer> = offers.iter().collect();
            let mut rotated = refs.clone();
            rotated.rotate_left(rotate % refs.len());
            let once = ids(&rank(&refs, &load, ranking));
            prop_assert_eq!(&once, &ids(&rank(&rotated, &load, ranking)));
            prop_assert_eq!(&once, &ids(&rank(&refs, &load.clone(), ranking)));
            let mut sorted = once.clone();
            sorted.sort();
            let mut all = ids(&refs);
            all.sort();
            prop_assert_eq!(sorted, all);
        }
    }
}
