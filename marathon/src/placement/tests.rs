//! Tests of the whole pipeline: filters, fit, several launches per offer.

use super::testkit::{agent, config, offer, res, spec};
use super::*;
use mesos_common::resources::Scalar;
use proptest::prelude::*;
use proptest::strategy::Strategy as PropStrategy;

fn launches(result: &OfferMatch) -> &[Launch] {
    match result {
        OfferMatch::Used(launches) => launches,
        OfferMatch::Unused(rejection) => panic!("expected launches, got {rejection:?}"),
    }
}

fn rejection(result: &OfferMatch) -> &Rejection {
    match result {
        OfferMatch::Unused(rejection) => rejection,
        OfferMatch::Used(launches) => panic!("expected a rejection, got {launches:?}"),
    }
}

#[test]
fn one_instance_takes_exactly_what_it_needs() {
    let o = offer()
        .cpus(4.0)
        .mem(2048.0)
        .disk(100.0)
        .ports(31000, 31010);
    let needs = spec().cpus(1.5).mem(128.0).disk(10.0).host_ports(&[0, 0]);
    let result = place(&o, &needs, &[], 1, &config());
    assert_eq!(
        launches(&result),
        [Launch {
            resources: res("cpus:1.5;mem:128;disk:10;ports:[31000-31001]"),
            host_ports: vec![31000, 31001],
        }]
    );
}

#[test]
fn instances_per_offer() {
    let roomy = || offer().cpus(100.0).mem(100_000.0).ports(31000, 31100);
    let fixed_port = spec().host_ports(&[31005]).require_ports(true);
    // (offer, needs, wanted, max per offer, launches)
    let cases = [
        // wanted, max per offer or resources: the smallest wins
        (roomy(), spec().cpus(1.0), 2, 5, 2),
        (roomy(), spec().cpus(1.0), 10, 5, 5),
        (roomy(), spec().cpus(1.0), 10, 1, 1),
        (offer().cpus(4.0), spec().cpus(1.0), 10, 5, 4),
        (offer().cpus(1.0), spec().cpus(0.3), 10, 5, 3),
        (offer().ports(1, 5), spec().host_ports(&[0, 0]), 10, 5, 2),
        (roomy(), fixed_port, 10, 5, 1),
        // later launches count as instances on the offer's agent
        (
            roomy(),
            spec().constraint(&["hostname", "UNIQUE"]),
            10,
            5,
            1,
        ),
        (
            roomy(),
            spec().constraint(&["hostname", "MAX_PER", "2"]),
            10,
            5,
            2,
        ),
        (
            roomy(),
            spec().constraint(&["hostname", "GROUP_BY"]),
            10,
            5,
            5,
        ),
        (roomy(), spec().cpus(1.0), 0, 5, 0),
    ];
    for (o, needs, wanted, per_offer, want) in cases {
        let result = place(&o, &needs, &[], wanted, &config().per_offer(per_offer));
        assert_eq!(
            launches(&result).len(),
            want,
            "{needs:?} x{wanted} on {o:?}"
        );
    }
}

#[test]
fn later_launches_see_earlier_ones_as_taken_resources() {
    let o = offer().cpus(10.0).mem(1000.0).ports(31000, 31010);
    let needs = spec()
        .cpus(1.0)
        .mem(100.0)
        .host_ports(&[0, 31000, 0])
        .require_ports(true);
    let result = place(&o, &needs, &[], 3, &config());
    let ports: Vec<Vec<u16>> = launches(&result)
        .iter()
        .map(|l| l.host_ports.clone())
        .collect();
    // 31000 is fixed: only the first launch can have it, so the second finds no room.
    assert_eq!(ports, [vec![31001, 31000, 31002]]);

    let needs = spec().cpus(1.0).host_ports(&[0, 0]);
    let result = place(&o, &needs, &[], 3, &config());
    let ports: Vec<Vec<u16>> = launches(&result)
        .iter()
        .map(|l| l.host_ports.clone())
        .collect();
    assert_eq!(ports, [[31000, 31001], [31002, 31003], [31004, 31005]]);
}

#[test]
fn existing_instances_count_for_constraints() {
    let o = offer().on("a1").cpus(10.0);
    let max2 = spec().constraint(&["hostname", "MAX_PER", "2"]);
    let one_there = [agent("a1"), agent("a2")];
    assert_eq!(
        launches(&place(&o, &max2, &one_there, 5, &config())).len(),
        1
    );
    let two_there = [agent("a1"), agent("a1")];
    let rejected = place(&o, &max2, &two_there, 5, &config());
    assert_eq!(rejection(&rejected).reason(), Reason::UnfulfilledConstraint);
    assert_eq!(
        rejection(&rejected).unmet_constraints(),
        ["hostname:MAX_PER:2"]
    );
}

#[test]
fn roles_reserved_first_and_accepted_roles() {
    // (offer, accepted roles, framework role, taken for one cpu)
    let cases = [
        ("cpus:4", "", "*", "cpus:1"),
        ("cpus:4;cpus(web):2", "", "web", "cpus(web):1"),
        (
            "cpus:4;cpus(web):0.25",
            "",
            "web",
            "cpus(web):0.25;cpus:0.75",
        ),
        ("cpus:4;cpus(other):2", "", "web", "cpus:1"),
        ("cpus:4;cpus(web):2", "*", "web", "cpus:1"),
        ("cpus:4;cpus(web):2", "web", "web", "cpus(web):1"),
        ("cpus:4;cpus(other):2", "other *", "web", "cpus(other):1"),
        ("cpus:4;cpus(a):1;cpus(b):1", "* b a", "web", "cpus(b):1"),
    ];
    for (offered, accepted, role, taken) in cases {
        let accepted: Vec<&str> = accepted.split_whitespace().collect();
        let needs = spec().cpus(1.0).roles(&accepted);
        let result = place(&offer().res(offered), &needs, &[], 1, &config().role(role));
        let got = &launches(&result)[0].resources;
        assert_eq!(
            got,
            &res(taken),
            "{offered} accepting {accepted:?} in role {role}"
        );
    }
}

/// Each funnel reason alone, then overlapping ones: every reason is listed, in funnel order,
/// and the first is the one that counts.
#[test]
fn funnel_reasons() {
    let plenty = || {
        offer()
            .cpus(8.0)
            .mem(8192.0)
            .disk(1000.0)
            .ports(31000, 31010)
    };
    let needs = || spec().cpus(1.0).mem(128.0).disk(10.0).host_ports(&[0]);
    let reserved_web = plenty().res("cpus(web):2;mem(web):256;disk(web):10;ports(web):[80-80]");
    let all_wrong = offer().res("gpus:2").maintenance();
    let all_wrong_needs = needs().roles(&["web"]).constraint(&["hostname", "IS", "x"]);
    let everything = "UnfulfilledRole UnfulfilledConstraint AgentMaintenance InsufficientCpus \
        InsufficientMemory InsufficientDisk InsufficientPorts DeclinedScarceResources";
    let unlike_all = needs().constraint(&["hostname", "UNLIKE", ".*"]);
    let cluster_a = needs().constraint(&["rack", "CLUSTER", "a"]);
    let many_ports = needs().host_ports(&[0; 20]);
    let cases = [
        (offer().res("cpus(other):8"), spec().cpus(1.0), "UnfulfilledRole InsufficientCpus"),
        (
            plenty(),
            needs().roles(&["web"]),
            "UnfulfilledRole InsufficientCpus InsufficientMemory InsufficientDisk InsufficientPorts",
        ),
        (plenty().attr("rack", "b"), cluster_a, "UnfulfilledConstraint"),
        (plenty(), needs().constraint(&["rack", "LIKE", "a"]), "UnfulfilledConstraint"),
        (reserved_web, needs().resident("a9", "web"), "NoCorrespondingReservationFound"),
        (plenty().maintenance(), needs(), "AgentMaintenance"),
        (plenty(), needs().cpus(9.0), "InsufficientCpus"),
        (plenty(), needs().mem(9000.0), "InsufficientMemory"),
        (plenty(), needs().disk(1001.0), "InsufficientDisk"),
        (plenty(), needs().gpus(1.0), "InsufficientGpus"),
        (plenty(), needs().host_ports(&[80]).require_ports(true), "InsufficientPorts"),
        (plenty(), needs().host_ports(&[0; 12]), "InsufficientPorts"),
        (plenty().gpus(1.0), needs(), "DeclinedScarceResources"),
        (all_wrong, all_wrong_needs, everything),
        (plenty().maintenance(), unlike_all, "UnfulfilledConstraint AgentMaintenance"),
        (
            offer().res("mem:1").maintenance(),
            needs(),
            "AgentMaintenance InsufficientCpus InsufficientMemory InsufficientDisk InsufficientPorts",
        ),
        (plenty().gpus(1.0), many_ports, "InsufficientPorts DeclinedScarceResources"),
    ];
    for (o, needs, want) in cases {
        let result = place(&o, &needs, &[], 1, &config());
        let rejection = rejection(&result);
        let names: Vec<&str> = rejection.reasons().iter().map(|r| r.name()).collect();
        assert_eq!(
            names.join(" "),
            want.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(rejection.reason().name(), names[0]);
    }
}

#[test]
fn other_regions_only_for_run_specs_that_ask_for_them() {
    let local = PlacementConfig {
        local_region: Some("eu".to_string()),
        ..config()
    };
    let from = |region: &str| offer().agent(agent("a1").domain(region, "z")).cpus(4.0);
    let needs = spec().cpus(1.0);
    assert_eq!(
        launches(&place(&from("eu"), &needs, &[], 1, &local)).len(),
        1
    );
    assert_eq!(
        launches(&place(&offer().cpus(4.0), &needs, &[], 1, &local)).len(),
        1
    );
    let remote = place(&from("us"), &needs, &[], 1, &local);
    assert_eq!(
        rejection(&remote).reasons(),
        [Reason::UnfulfilledConstraint]
    );
    assert_eq!(rejection(&remote).unmet_constraints(), ["@region:IS:eu"]);
    let asks = spec().cpus(1.0).constraint(&["@region", "LIKE", "us|eu"]);
    assert_eq!(
        launches(&place(&from("us"), &asks, &[], 1, &local)).len(),
        1
    );
    assert_eq!(
        launches(&place(&from("us"), &needs, &[], 1, &config())).len(),
        1
    );
}

#[test]
fn existing_instances_can_be_borrowed_from_anything() {
    struct Instance {
        agent: Agent,
    }
    let instances = [Instance { agent: agent("a1") }];
    let o = offer().on("a1").cpus(4.0);
    let needs = spec().constraint(&["hostname", "UNIQUE"]);
    let result = place(&o, &needs, instances.iter().map(|i| &i.agent), 1, &config());
    assert_eq!(rejection(&result).reason(), Reason::UnfulfilledConstraint);
}

#[test]
fn unmet_constraints_are_named() {
    let o = offer().cpus(1.0).attr("rack", "b");
    let needs = spec()
        .constraint(&["hostname", "UNIQUE"])
        .constraint(&["rack", "CLUSTER", "a"])
        .constraint(&["@zone", "UNLIKE", "z1"])
        .constraint(&["rack", "IS", "c"]);
    let result = place(&o, &needs, &[agent("a1")], 1, &config());
    assert_eq!(
        rejection(&result).unmet_constraints(),
        ["hostname:UNIQUE", "rack:CLUSTER:a", "rack:IS:c"]
    );
}

#[test]
fn gpus_go_to_gpu_work_unless_unrestricted() {
    let o = offer().cpus(4.0).gpus(2.0);
    let no_gpu = spec().cpus(1.0);
    assert_eq!(
        rejection(&place(&o, &no_gpu, &[], 1, &config())).reason(),
        Reason::DeclinedScarceResources
    );
    assert_eq!(
        launches(&place(&o, &no_gpu, &[], 1, &unrestricted())).len(),
        1
    );
    let gpu = spec().cpus(1.0).gpus(1.0);
    let result = place(&o, &gpu, &[], 5, &config());
    assert_eq!(launches(&result).len(), 2);
    assert_eq!(launches(&result)[0].resources, res("cpus:1;gpus:1"));
}

#[test]
fn resident_instances_use_only_their_reservation() {
    let o = offer()
        .on("a1")
        .res("cpus:8;mem:1024;cpus(web):1;mem(web):128");
    let needs = spec().cpus(1.0).mem(128.0).resident("a1", "web");
    let result = place(&o, &needs, &[], 5, &config());
    assert_eq!(
        launches(&result).len(),
        1,
        "a reservation holds one instance"
    );
    assert_eq!(
        launches(&result)[0].resources,
        res("cpus(web):1;mem(web):128")
    );

    let too_big = spec().cpus(2.0).resident("a1", "web");
    assert_eq!(
        rejection(&place(&o, &too_big, &[], 1, &config())).reasons(),
        [Reason::InsufficientCpus]
    );
    let unreserved = offer().on("a1").res("cpus:8;mem:1024");
    assert_eq!(
        rejection(&place(&unreserved, &needs, &[], 1, &config())).reason(),
        Reason::UnfulfilledRole
    );
    assert!(rejection(&place(&unreserved, &needs, &[], 1, &config()))
        .reasons()
        .contains(&Reason::NoCorrespondingReservationFound));
}

#[test]
fn unique_zone_spreads_one_instance_per_offer_over_the_cluster() {
    let needs = spec().cpus(1.0).constraint(&["@zone", "UNIQUE"]);
    let mut existing: Vec<Agent> = Vec::new();
    let zones = ["z1", "z2", "z1", "z3", "z2"];
    let mut placed_in = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let a = agent(&format!("a{i}")).domain("r", zone);
        let o = offer().agent(a.clone()).cpus(8.0);
        if let OfferMatch::Used(l) = place(&o, &needs, &existing, 5, &config()) {
            existing.extend(std::iter::repeat_n(a, l.len()));
            placed_in.push((*zone, l.len()));
        }
    }
    assert_eq!(placed_in, [("z1", 1), ("z2", 1), ("z3", 1)]);
}

fn unrestricted() -> PlacementConfig {
    PlacementConfig {
        gpu_scheduling: GpuScheduling::Unrestricted,
        ..config()
    }
}

// --- properties ------------------------------------------------------------------------------

fn arb_offer() -> impl PropStrategy<Value = Offer> {
    (
        0u32..80,
        0u32..4096,
        0u32..20,
        (1000u64..1030, 0u64..12),
        proptest::option::of((1000u64..1030, 0u64..6)),
        prop::sample::select(vec!["a", "b", "c"]),
        0u32..3,
    )
        .prop_map(|(cpus, mem, web_cpus, (pb, pl), web_ports, rack, gpus)| {
            let mut o = offer()
                .cpus(f64::from(cpus) / 10.0)
                .mem(f64::from(mem))
                .ports(pb, pb + pl)
                .res(&format!("cpus(web):{}", f64::from(web_cpus) / 10.0))
                .gpus(f64::from(gpus))
                .attr("rack", rack);
            if let Some((b, l)) = web_ports {
                o = o.res(&format!("ports(web):[{}-{}]", b + 100, b + 100 + l));
            }
            o
        })
}

fn arb_needs() -> impl PropStrategy<Value = RunSpecNeeds> {
    (
        1u32..20,
        0u32..1024,
        prop::collection::vec(prop_oneof![Just(0u16), 1000u16..1040], 0..4),
        any::<bool>(),
        0u32..2,
    )
        .prop_map(|(cpus, mem, ports, require, gpus)| {
            spec()
                .cpus(f64::from(cpus) / 10.0)
                .mem(f64::from(mem))
                .gpus(f64::from(gpus))
                .host_ports(&ports)
                .require_ports(require)
        })
}

proptest! {
    #[test]
    fn never_takes_more_than_offered_nor_a_port_twice(
        o in arb_offer(),
        needs in arb_needs(),
        wanted in 0usize..10,
        per_offer in 1usize..6,
        role in prop::sample::select(vec!["*", "web"]),
    ) {
        let result = place(&o, &needs, &[], wanted, &config().role(role).per_offer(per_offer));
        if let OfferMatch::Unused(rejection) = &result {
            let reasons = rejection.reasons();
            prop_assert!(!reasons.is_empty() && reasons.windows(2).all(|w| w[0] < w[1]));
        }
        if let OfferMatch::Used(launches) = &result {
            prop_assert!(launches.len() <= wanted.min(per_offer));
            let mut taken = Resources::new();
            let mut ports = Vec::new();
            for l in launches {
                taken.add(&l.resources);
                prop_assert_eq!(l.host_ports.len(), needs.host_ports.len());
                ports.extend(l.host_ports.iter().copied());
                let declared = l.resources.ports().map(|r| r.count()).unwrap_or(0);
                prop_assert_eq!(declared, l.host_ports.len() as u64);
                // Exactly what one instance needs, only in the framework's role or unreserved.
                let exact = |name: &str, need: f64| {
                    let got = l.resources.scalar(name).unwrap_or(0.0);
                    Scalar::new(got) == Scalar::new(need)
                };
                prop_assert!(exact("cpus", needs.cpus) && exact("mem", needs.mem), "{}", l.resources);
                prop_assert!(exact("gpus", needs.gpus), "{}", l.resources);
                prop_assert!(l.resources.iter().all(|r| r.role == "*" || r.role == role));
            }
            prop_assert!(o.resources.contains(&taken), "took {} from {}", taken, o.resources);
            let mut distinct = ports.clone();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), ports.len(), "ports {:?}", ports);
        }
    }

    #[test]
    fn unique_never_places_two_on_one_value(
        offers in prop::collection::vec(arb_offer(), 1..12),
        field in prop::sample::select(vec!["rack", "hostname"]),
        wanted in 1usize..8,
    ) {
        let needs = spec().cpus(0.1).constraint(&[field, "UNIQUE"]);
        let mut existing: Vec<Agent> = Vec::new();
        for (i, o) in offers.into_iter().enumerate() {
            // Hostnames repeat across offers, as several offers come from one agent.
            let o = o.on(&format!("a{}", i % 4));
            if let OfferMatch::Used(l) = place(&o, &needs, &existing, wanted, &unrestricted()) {
                existing.extend(std::iter::repeat_n(o.agent.clone(), l.len()));
            }
        }
        let source = Field::parse(field);
        let mut values: Vec<String> =
            existing.iter().filter_map(|a| source.read(a).map(|v| v.into_owned())).collect();
        let n = values.len();
        values.sort();
        values.dedup();
        prop_assert_eq!(values.len(), n);
    }

    #[test]
    fn each_offer_is_counted_once(
        offers in prop::collection::vec((arb_offer(), 0usize..6), 1..20),
        needs in arb_needs(),
    ) {
        let mut stats = OfferStats::default();
        let mut used = 0u64;
        for (i, (o, agent)) in offers.iter().enumerate() {
            let o = o.clone().on(&format!("a{agent}"));
            let result = place(&o, &needs, &[], 1, &config());
            if matches!(result, OfferMatch::Used(_)) {
                used += 1;
            }
            stats.record(&o, &result, i as i64);
        }
        let summary = stats.summary();
        prop_assert_eq!(summary.processed_offers_count, offers.len() as u64);
        let attempt = &summary.reject_summary_launch_attempt;
        let declined: u64 = attempt.iter().map(|s| s.declined).sum();
        prop_assert_eq!(declined, summary.unused_offers_count);
        prop_assert_eq!(summary.processed_offers_count - declined, used);
        prop_assert_eq!(attempt[0].processed, summary.processed_offers_count);
        for pair in attempt.windows(2) {
            prop_assert_eq!(pair[1].processed, pair[0].processed - pair[0].declined);
        }
        let last = &summary.reject_summary_last_offers;
        let agents = offers.iter().map(|(_, a)| *a).collect::<std::collections::BTreeSet<_>>();
        prop_assert_eq!(last[0].processed, agents.len() as u64);
        for pair in last.windows(2) {
            prop_assert_eq!(pair[1].processed, pair[0].processed - pair[0].declined);
        }
    }
}
