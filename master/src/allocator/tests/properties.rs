//! Property tests (the invariants hold for any sequence of events) and the decline
//! benchmark.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

// ------------------------------------------------------------------------- properties

#[derive(Debug, Clone)]
enum Event {
    AddAgent(usize),
    RemoveAgent(usize),
    ActivateAgent(usize, bool),
    AddFramework(usize),
    RemoveFramework(usize),
    ActivateFramework(usize, bool),
    Suppress(usize, bool),
    Revive(usize),
    SetQuota(usize, u8),
    Allocate(u8),
    Recover {
        pick: usize,
        cpus_only: bool,
        refuse: Option<u8>,
    },
}

const AGENTS: usize = 5;
const FRAMEWORKS: usize = 4;
const ROLES: [&str; 3] = ["*", "web", "batch"];

fn agent_total(i: usize) -> Resources {
    let mut text = format!(
        "cpus:{};mem:{};ports:[31000-3100{}]",
        i + 1,
        256 * (i + 1),
        i
    );
    if i.is_multiple_of(2) {
        text.push_str(";cpus(web):1;mem(web):64");
    }
    res(&text)
}

fn framework_roles(i: usize) -> Vec<String> {
    let roles: &[&str] = match i {
        0 => &["*"],
        1 => &["web"],
        2 => &["*", "web"],
        _ => &["batch"],
    };
    roles.iter().map(|r| r.to_string()).collect()
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        2 => (0..AGENTS).prop_map(Event::AddAgent),
        1 => (0..AGENTS).prop_map(Event::RemoveAgent),
        1 => (0..AGENTS, any::<bool>()).prop_map(|(i, on)| Event::ActivateAgent(i, on)),
        2 => (0..FRAMEWORKS).prop_map(Event::AddFramework),
        1 => (0..FRAMEWORKS).prop_map(Event::RemoveFramework),
        1 => (0..FRAMEWORKS, any::<bool>()).prop_map(|(i, on)| Event::ActivateFramework(i, on)),
        1 => (0..FRAMEWORKS, any::<bool>()).prop_map(|(i, on)| Event::Suppress(i, on)),
        1 => (0..FRAMEWORKS).prop_map(Event::Revive),
        1 => (0..ROLES.len(), 0u8..4).prop_map(|(r, cpus)| Event::SetQuota(r, cpus)),
        4 => (0u8..4).prop_map(Event::Allocate),
        4 => (any::<usize>(), any::<bool>(), prop::option::of(0u8..4))
            .prop_map(|(pick, cpus_only, refuse)| Event::Recover { pick, cpus_only, refuse }),
    ]
}

/// What the test knows independently of the allocator.
#[derive(Default)]
struct Model {
    agents: BTreeMap<String, bool>,
    frameworks: BTreeMap<String, (bool, bool)>,
    held: BTreeMap<(String, String), Resources>,
    /// (framework, agent, refused, expiry in seconds).
    filters: Vec<(String, String, Resources, f64)>,
}

impl Model {
    fn drop_filters(&mut self, framework_id: Option<&str>, agent_id: Option<&str>) {
        self.filters.retain(|(f, a, _, _)| {
            framework_id.is_none_or(|x| x != f) && agent_id.is_none_or(|x| x != a)
        });
    }
}

fn check(a: &Allocator, model: &Model) -> Result<(), TestCaseError> {
    for (i, total) in (0..AGENTS).map(|i| (i, agent_total(i))) {
        let id = format!("a{i}");
        let Some(allocations) = a.agent_allocations(&id) else {
            prop_assert!(!model.agents.contains_key(&id));
            continue;
        };
        let mut sum = Resources::new();
        let mut per_framework: BTreeMap<String, Resources> = BTreeMap::new();
        for x in &allocations {
            prop_assert!(!x.resources.is_empty());
            sum.add(&x.resources);
            per_framework
                .entry(x.framework_id.clone())
                .or_default()
                .add(&x.resources);
        }
        prop_assert!(
            total.contains(&sum),
            "{id} over-committed: {sum} of {total}"
        );
        let available = a.agent_available(&id).unwrap();
        prop_assert_eq!(
            available.plus(&sum),
            total.clone(),
            "{}: available + allocated",
            id
        );
        let expected: BTreeMap<String, Resources> = model
            .held
            .iter()
            .filter(|((_, ag), _)| *ag == id)
            .map(|((f, _), r)| (f.clone(), r.clone()))
            .collect();
        prop_assert_eq!(
            per_framework,
            expected,
            "{}: allocations differ from the model",
            id
        );
    }
    Ok(())
}

/// Checks a cycle's allocations against the model and records them.
fn apply_allocations(
    got: Vec<Allocation>,
    model: &mut Model,
    now: f64,
) -> Result<(), TestCaseError> {
    for x in got {
        prop_assert_eq!(
            model.agents.get(&x.agent_id),
            Some(&true),
            "inactive agent offered"
        );
        prop_assert_eq!(
            model.frameworks.get(&x.framework_id),
            Some(&(true, false)),
            "inactive or suppressed framework offered"
        );
        let roles = framework_roles(x.framework_id[1..].parse().unwrap());
        prop_assert!(roles.contains(&x.role));
        prop_assert!(x.resources.iter().all(|r| r.is_allocatable_to(&x.role)));
        // A framework in one role has its filters in that role.
        if roles.len() == 1 {
            for (f, ag, refused, expires) in &model.filters {
                let filtered = *f == x.framework_id
                    && *ag == x.agent_id
                    && *expires > now
                    && refused.contains(&x.resources);
                prop_assert!(
                    !filtered,
                    "{} offered {} on {} at {}s despite refusing {} until {}s",
                    f,
                    x.resources,
                    ag,
                    now,
                    refused,
                    expires
                );
            }
        }
        model
            .held
            .entry((x.framework_id.clone(), x.agent_id.clone()))
            .or_default()
            .add(&x.resources);
    }
    Ok(())
}

fn run_events(events: &[Event]) -> Result<(), TestCaseError> {
    let mut a = Allocator::new(AllocatorConfig {
        min_allocatable_resources: Vec::new(),
        seed: 7,
        ..AllocatorConfig::default()
    });
    let mut model = Model::default();
    let mut now = 0.0;
    for e in events {
        match *e {
            Event::AddAgent(i) => {
                let id = format!("a{i}");
                let spec = AgentSpec {
                    hostname: id.clone(),
                    total: agent_total(i),
                };
                let added = a.add_agent(&id, spec, Vec::new()).is_ok();
                prop_assert_eq!(added, !model.agents.contains_key(&id));
                model.agents.insert(id, true);
            }
            Event::RemoveAgent(i) => {
                let id = format!("a{i}");
                if model.agents.remove(&id).is_some() {
                    a.remove_agent(&id).unwrap();
                    model.drop_filters(None, Some(&id));
                    model.held.retain(|(_, ag), _| *ag != id);
                }
            }
            Event::ActivateAgent(i, on) => {
                let id = format!("a{i}");
                if let Some(state) = model.agents.get_mut(&id) {
                    *state = on;
                    if on {
                        a.activate_agent(&id).unwrap();
                    } else {
                        a.deactivate_agent(&id).unwrap();
                    }
                }
            }
            Event::AddFramework(i) => {
                let id = format!("f{i}");
                if let std::collections::btree_map::Entry::Vacant(slot) = model.frameworks.entry(id)
                {
                    let spec = FrameworkSpec {
                        roles: framework_roles(i),
                        suppressed_roles: Vec::new(),
                    };
                    a.add_framework(slot.key(), spec, true).unwrap();
                    slot.insert((true, false));
                }
            }
            Event::RemoveFramework(i) => {
                let id = format!("f{i}");
                if model.frameworks.remove(&id).is_some() {
                    a.remove_framework(&id).unwrap();
                    model.drop_filters(Some(&id), None);
                    model.held.retain(|(f, _), _| *f != id);
                }
            }
            Event::ActivateFramework(i, on) => {
                let id = format!("f{i}");
                if let Some(state) = model.frameworks.get_mut(&id) {
                    state.0 = on;
                    if on {
                        a.activate_framework(&id).unwrap();
                    } else {
                        a.deactivate_framework(&id).unwrap();
                        model.drop_filters(Some(&id), None);
                    }
                }
            }
            Event::Suppress(i, on) => {
                let id = format!("f{i}");
                if let Some(state) = model.frameworks.get_mut(&id) {
                    if on {
                        state.1 = true;
                        a.suppress(&id, None).unwrap();
                    }
                }
            }
            Event::Revive(i) => {
                let id = format!("f{i}");
                if let Some(state) = model.frameworks.get_mut(&id) {
                    state.1 = false;
                    a.revive(&id, None).unwrap();
                    model.drop_filters(Some(&id), None);
                }
            }
            Event::SetQuota(r, cpus) => {
                let limits = if cpus == 0 {
                    ResourceQuantities::new()
                } else {
                    format!("cpus:{cpus}").parse().unwrap()
                };
                a.set_quota(ROLES[r], limits).unwrap();
            }
            Event::Allocate(dt) => {
                now += f64::from(dt);
                let got = a.allocate(secs(now));
                apply_allocations(got, &mut model, now)?;
            }
            Event::Recover {
                pick,
                cpus_only,
                refuse,
            } => {
                if model.held.is_empty() {
                    continue;
                }
                let key = model
                    .held
                    .keys()
                    .nth(pick % model.held.len())
                    .unwrap()
                    .clone();
                let held = &model.held[&key];
                // Part of what a framework holds in one role, so the allocator's pick of
                // the role cannot make it fail.
                let one_role = held.iter().next().unwrap().role.clone();
                let back = held.filter(|r| r.role == one_role && (!cpus_only || r.name == "cpus"));
                let back = if back.is_empty() { held.clone() } else { back };
                let result = a.recover_resources(
                    &key.0,
                    &key.1,
                    &back,
                    refuse.map(|s| secs(f64::from(s))),
                    secs(now),
                );
                if let Err(e) = result {
                    // Only possible when the held resources span roles in a way no single
                    // role allocation contains; give back all of it instead.
                    prop_assert!(matches!(e, AllocatorError::NotAllocated { .. }), "{}", e);
                    continue;
                }
                if let Some(refuse) = refuse.filter(|&s| s > 0) {
                    let expires = now + f64::from(refuse).max(1.0);
                    model
                        .filters
                        .push((key.0.clone(), key.1.clone(), back.clone(), expires));
                }
                let entry = model.held.get_mut(&key).unwrap();
                entry.subtract(&back).unwrap();
                if entry.is_empty() {
                    model.held.remove(&key);
                }
            }
        }
        check(&a, &model)?;
    }

    // Everything comes back and everyone may take it: nothing allocatable may remain.
    let held: Vec<((String, String), Resources)> = model
        .held
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for ((f, ag), _) in held {
        for x in a.agent_allocations(&ag).unwrap() {
            if x.framework_id == f {
                a.recover_resources(&f, &ag, &x.resources, None, secs(now))
                    .unwrap();
            }
        }
    }
    model.held.clear();
    for role in ROLES {
        a.set_quota(role, ResourceQuantities::new()).unwrap();
    }
    for (id, state) in model.frameworks.iter_mut() {
        *state = (true, false);
        a.activate_framework(id).unwrap();
        a.revive(id, None).unwrap();
    }
    for (id, on) in model.agents.iter_mut() {
        *on = true;
        a.activate_agent(id).unwrap();
    }
    model.filters.clear();
    let got = a.allocate(secs(now + 1.0));
    apply_allocations(got, &mut model, now + 1.0)?;
    check(&a, &model)?;
    let roles: BTreeSet<String> = model
        .frameworks
        .keys()
        .flat_map(|f| framework_roles(f[1..].parse().unwrap()))
        .collect();
    for id in model.agents.keys() {
        let available = a.agent_available(id).unwrap();
        for role in &roles {
            prop_assert!(
                !available.has_allocatable_to(role),
                "{} still has {} for role {}",
                id,
                available,
                role
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_event_sequences_keep_allocations_consistent(
        events in prop::collection::vec(event(), 0..60)
    ) {
        run_events(&events)?;
    }
}

// -------------------------------------------------------------------------- benchmark

/// CPU time of this thread, to time on a busy machine.
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stat.split_whitespace().next().and_then(|n| n.parse().ok());
    Duration::from_nanos(nanos.unwrap_or(0))
}

/// Mesos's `DeclineOffers` benchmark: every agent has a task of some framework, and every
/// framework declines every offer with a long filter. Run with
/// `cargo test --release -p mesos-master --lib decline_offers -- --ignored --nocapture`.
#[test]
#[ignore]
fn decline_offers_benchmark() {
    let (agents, frameworks) = (10_000usize, 1_000usize);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let mut a = allocator();
    for f in 0..frameworks {
        framework(&format!("framework-{f:04}")).add_to(&mut a);
    }
    for i in 0..agents {
        agent(&format!("agent-{i:05}"))
            .with("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
            .used_by(
                &format!("framework-{:04}", i % frameworks),
                "cpus:16;mem:2014;disk:1024",
            )
            .add_to(&mut a);
    }
    let mut now = 0.0;
    let mut offers = Vec::new();
    let (mut worst, mut total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        let declines = thread_cpu_time();
        let declined = offers.len();
        for x in offers.drain(..) {
            decline(&mut a, &x, Some(365.0 * 86400.0), now);
        }
        let declines = thread_cpu_time() - declines;
        now += 1.0;
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        offers = a.allocate(secs(now));
        let (wall, cpu) = (wall.elapsed(), thread_cpu_time() - cpu);
        worst = worst.max(cpu);
        total += cpu;
        println!(
            "round {round}: allocate {cpu:?} CPU ({wall:?} wall) for {} offers; {declined} declines {declines:?} CPU",
            offers.len(),
        );
    }
    println!(
        "allocate CPU time: mean {:?}, worst {worst:?}",
        total / rounds as u32
    );
}
