//! Ranking: in which order to try the offers that may take a run spec's instances.
//!
//! Filters say which agents can run an instance; a ranking says which of them should. The
//! ranking is deterministic: ties fall back to the offer id, and the random ranking is a
//! hash of a seed (e.g. derived from the run spec's id) and the offer id, so a run can be
//! replayed.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::offer::{Agent, Offer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// Agents with the fewest of the run spec's instances first, then the emptiest.
    Spread,
    /// The fullest agents first (least cpus, then memory, on offer), keeping others free for
    /// big tasks.
    Binpack,
    /// A shuffle that is the same for the same seed and offers.
    Random { seed: u64 },
}

/// `offers` best first for `ranking`. `existing` gives the agent of every instance the run
/// spec already has, as for [`place`](super::place).
pub fn rank<'o, 'a>(
    offers: &[&'o Offer],
    existing: impl IntoIterator<Item = &'a Agent>,
    ranking: Ranking,
) -> Vec<&'o Offer> {
    let mut ranked = offers.to_vec();
    let by_id = |a: &&Offer, b: &&Offer| a.id.cmp(&b.id);
    match ranking {
        Ranking::Spread => {
            let mut instances: HashMap<&str, usize> = HashMap::new();
            for agent in existing {
                *instances.entry(agent.id.as_str()).or_default() += 1;
            }
            let on = |o: &Offer| instances.get(o.agent.id.as_str()).copied().unwrap_or(0);
            ranked.sort_by(|a, b| {
                on(a)
                    .cmp(&on(b))
                    .then_with(|| size(b).partial_cmp(&size(a)).unwrap_or(Ordering::Equal))
                    .then_with(|| by_id(a, b))
            });
        }
        Ranking::Binpack => ranked.sort_by(|a, b| {
            size(a)
                .partial_cmp(&size(b))
                .unwrap_or(Ordering::Equal)
                .then_with(|| by_id(a, b))
        }),
        Ranking::Random { seed } => {
            ranked.sort_by_key(|o| (mix(seed ^ fnv1a(o.id.as_bytes())), o.id.clone()));
        }
    }
    ranked
}

/// How much an offer holds, compared cpus first, then memory.
fn size(offer: &Offer) -> (f64, f64) {
    (
        offer.resources.cpus().unwrap_or(0.0),
        offer.resources.mem().unwrap_or(0.0),
    )
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
    use crate::placement::testkit::{agent, offer};

    fn ids(ranked: &[&Offer]) -> Vec<String> {
        ranked.iter().map(|o| o.id.clone()).collect()
    }

    #[test]
    fn spread_prefers_agents_with_fewer_instances_then_room() {
        let offers = [
            offer().id("busy").on("a1").cpus(8.0),
            offer().id("small").on("a2").cpus(1.0),
            offer().id("big").on("a3").cpus(4.0).mem(100.0),
            offer().id("big-less-mem").on("a4").cpus(4.0),
        ];
        let refs: Vec<&Offer> = offers.iter().collect();
        let existing = [agent("a1"), agent("a1"), agent("a2")];
        let ranked = rank(&refs, &existing, Ranking::Spread);
        assert_eq!(ids(&ranked), ["big", "big-less-mem", "small", "busy"]);
    }

    #[test]
    fn binpack_prefers_the_fullest_agents() {
        let offers = [
            offer().id("o1").cpus(8.0),
            offer().id("o2").cpus(1.0).mem(512.0),
            offer().id("o3").cpus(1.0).mem(256.0),
            offer().id("o0").cpus(1.0).mem(256.0),
        ];
        let refs: Vec<&Offer> = offers.iter().collect();
        let ranked = rank(&refs, &[], Ranking::Binpack);
        assert_eq!(ids(&ranked), ["o0", "o3", "o2", "o1"]);
    }

    #[test]
    fn random_is_a_seeded_shuffle() {
        let offers: Vec<Offer> = (0..20).map(|i| offer().id(&format!("o{i}"))).collect();
        let refs: Vec<&Offer> = offers.iter().collect();
        let first = ids(&rank(&refs, &[], Ranking::Random { seed: 7 }));
        assert_eq!(first, ids(&rank(&refs, &[], Ranking::Random { seed: 7 })));
        assert_ne!(first, ids(&rank(&refs, &[], Ranking::Random { seed: 8 })));
        assert_ne!(
            first,
            ids(&refs),
            "a shuffle of 20 offers keeps their order"
        );
        let mut sorted = first.clone();
        sorted.sort();
        let mut all = ids(&refs);
        all.sort();
        assert_eq!(sorted, all);
        // The order does not depend on the order offers come in.
        let reversed: Vec<&Offer> = refs.iter().rev().copied().collect();
        assert_eq!(
            first,
            ids(&rank(&reversed, &[], Ranking::Random { seed: 7 }))
        );
    }
}
