use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn res(text: &str) -> Resources {
    Resources::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

struct AgentBuilder {
    id: String,
    total: Resources,
    used: Vec<(String, Resources)>,
}

fn agent(id: &str) -> AgentBuilder {
    AgentBuilder {
        id: id.to_string(),
        total: Resources::new(),
        used: Vec::new(),
    }
}

impl AgentBuilder {
    fn cpus(mut self, v: f64) -> Self {
        self.total.add_resource(&Resource::scalar("cpus", v));
        self
    }

    fn mem(mut self, v: f64) -> Self {
        self.total.add_resource(&Resource::scalar("mem", v));
        self
    }

    fn ports(mut self, begin: u64, end: u64) -> Self {
        self.total
            .add_resource(&Resource::ranges("ports", [(begin, end)]));
        self
    }

    /// Adds resources in text syntax, e.g. `cpus(web):2`.
    fn with(mut self, text: &str) -> Self {
        self.total.add(&res(text));
        self
    }

    fn used_by(mut self, framework_id: &str, text: &str) -> Self {
        self.used.push((framework_id.to_string(), res(text)));
        self
    }

    fn add_to(self, a: &mut Allocator) {
        let spec = AgentSpec {
            hostname: format!("{}.example.com", self.id),
            total: self.total,
        };
        a.add_agent(&self.id, spec, self.used).unwrap();
    }
}

struct FrameworkBuilder {
    id: String,
    spec: FrameworkSpec,
    active: bool,
}

fn framework(id: &str) -> FrameworkBuilder {
    FrameworkBuilder {
        id: id.to_string(),
        spec: FrameworkSpec {
            roles: vec![DEFAULT_ROLE.to_string()],
            suppressed_roles: Vec::new(),
        },
        active: true,
    }
}

impl FrameworkBuilder {
    fn roles(mut self, roles: &[&str]) -> Self {
        self.spec.roles = roles.iter().map(|r| r.to_string()).collect();
        self
    }

    fn suppressed(mut self, roles: &[&str]) -> Self {
        self.spec.suppressed_roles = roles.iter().map(|r| r.to_string()).collect();
        self
    }

    fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    fn add_to(self, a: &mut Allocator) {
        a.add_framework(&self.id, self.spec, self.active).unwrap();
    }
}

fn allocator() -> Allocator {
    Allocator::new(AllocatorConfig::default())
}

/// `framework@agent(role) resources`, sorted, so a whole cycle is one comparison.
fn summary(allocations: &[Allocation]) -> Vec<String> {
    let mut out: Vec<String> = allocations
        .iter()
        .map(|x| {
            format!(
                "{}@{}({}) {}",
                x.framework_id, x.agent_id, x.role, x.resources
            )
        })
        .collect();
    out.sort();
    out
}

fn decline(a: &mut Allocator, x: &Allocation, refuse: Option<f64>, now: f64) {
    a.recover_resources(
        &x.framework_id,
        &x.agent_id,
        &x.resources,
        refuse.map(secs),
        secs(now),
    )
    .unwrap();
}

#[test]
fn offers_everything_once() {
    let mut a = allocator();
    agent("a1")
        .cpus(4.0)
        .mem(2048.0)
        .ports(31000, 32000)
        .add_to(&mut a);
    agent("a2").cpus(2.0).mem(1024.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    assert_eq!(
        summary(&a.allocate(secs(0.0))),
        [
            "f1@a1(*) cpus:4;mem:2048;ports:[31000-32000]",
            "f1@a2(*) cpus:2;mem:1024",
        ]
    );
    assert!(
        a.allocate(secs(1.0)).is_empty(),
        "allocated resources are not offered twice"
    );
    assert_eq!(a.agent_available("a1"), Some(&Resources::new()));
    assert_eq!(a.allocated().get("cpus"), Scalar::new(6.0));
    assert_eq!(a.total().get("mem"), Scalar::new(3072.0));
}

#[test]
fn drf_orders_roles_by_share_over_weight() {
    let mut a = allocator();
    for i in 0..6 {
        agent(&format!("a{i}")).cpus(1.0).mem(100.0).add_to(&mut a);
    }
    framework("fa").roles(&["a"]).add_to(&mut a);
    framework("fb").roles(&["b"]).add_to(&mut a);
    a.set_weights(vec![("a".into(), 2.0)]).unwrap();
    let allocations = a.allocate(secs(0.0));
    let per_role = |role: &str| allocations.iter().filter(|x| x.role == role).count();
    assert_eq!((per_role("a"), per_role("b")), (4, 2));
    assert_eq!(a.weights(), HashMap::from([("a".to_string(), 2.0)]));
}

#[test]
fn drf_orders_frameworks_within_a_role_by_share() {
    let mut a = allocator();
    // f1 already runs a task (reported after a failover), so f2 comes first, even though
    // f1 sorts first by name.
    agent("a0")
        .cpus(4.0)
        .mem(1024.0)
        .used_by("f1", "cpus:1;mem:128")
        .add_to(&mut a);
    framework("f1").add_to(&mut a);
    framework("f2").add_to(&mut a);
    let first = a.allocate(secs(0.0));
    assert_eq!(summary(&first), ["f2@a0(*) cpus:3;mem:896"]);
    // With equal shares the name decides.
    let mut a = allocator();
    agent("a0").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f2").add_to(&mut a);
    framework("f1").add_to(&mut a);
    assert_eq!(summary(&a.allocate(secs(0.0))), ["f1@a0(*) cpus:1;mem:128"]);
}

#[test]
fn filter_holds_until_it_expires() {
    let mut a = allocator();
    agent("a1").cpus(4.0).mem(1024.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    let offer = a.allocate(secs(0.0)).remove(0);
    decline(&mut a, &offer, Some(5.0), 0.0);
    assert_eq!(a.active_filters(), 1);
    assert_eq!(a.next_filter_expiry(), Some(secs(5.0)));
    for t in [1.0, 2.0, 4.999] {
        assert!(a.allocate(secs(t)).is_empty(), "filtered at {t}s");
    }
    assert_eq!(
        summary(&a.allocate(secs(5.0))),
        ["f1@a1(*) cpus:4;mem:1024"]
    );
    assert_eq!(a.active_filters(), 0);
}

#[test]
fn filter_lasts_at_least_an_allocation_interval() {
    let mut a = Allocator::new(AllocatorConfig {
        allocation_interval: secs(2.0),
        ..AllocatorConfig::default()
    });
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    let offer = a.allocate(secs(0.0)).remove(0);
    decline(&mut a, &offer, Some(0.5), 0.0);
    assert!(a.allocate(secs(1.0)).is_empty());
    assert_eq!(a.allocate(secs(2.0)).len(), 1);
    // A zero refusal installs no filter.
    let offer = a.allocate(secs(2.0));
    assert!(offer.is_empty());
}

#[test]
fn filtered_framework_is_skipped_for_the_next_one() {
    let mut a = allocator();
    agent("a1").cpus(4.0).mem(1024.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    framework("f2").add_to(&mut a);
    let offer = a.allocate(secs(0.0)).remove(0);
    assert_eq!(offer.framework_id, "f1");
    decline(&mut a, &offer, Some(10.0), 0.0);
    assert_eq!(
        summary(&a.allocate(secs(1.0))),
        ["f2@a1(*) cpus:4;mem:1024"]
    );
}

#[test]
fn filter_stops_applying_when_the_agent_has_more_than_was_refused() {
    let mut a = allocator();
    agent("a1")
        .cpus(4.0)
        .mem(1024.0)
        .used_by("f2", "cpus:1;mem:128")
        .add_to(&mut a);
    framework("f1").add_to(&mut a);
    framework("f2").suppressed(&["*"]).add_to(&mut a);
    let offer = a.allocate(secs(0.0)).remove(0);
    assert_eq!(offer.resources, res("cpus:3;mem:896"));
    decline(&mut a, &offer, Some(100.0), 0.0);
    assert!(a.allocate(secs(1.0)).is_empty());
    // f2's task ends: the agent now has more than f1 refused.
    a.recover_resources("f2", "a1", &res("cpus:1;mem:128"), None, secs(2.0))
        .unwrap();
    assert_eq!(
        summary(&a.allocate(secs(2.0))),
        ["f1@a1(*) cpus:4;mem:1024"]
    );
}

#[test]
fn revive_clears_filters() {
    let mut a = allocator();
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    let offer = a.allocate(secs(0.0)).remove(0);
    decline(&mut a, &offer, Some(3600.0), 0.0);
    assert!(a.allocate(secs(1.0)).is_empty());
    a.revive("f1", None).unwrap();
    assert_eq!(a.active_filters(), 0);
    assert_eq!(summary(&a.allocate(secs(2.0))), ["f1@a1(*) cpus:1;mem:128"]);
}

#[test]
fn suppress_stops_offers_until_revive() {
    let mut a = allocator();
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    agent("a2")
        .cpus(1.0)
        .mem(128.0)
        .with("cpus(web):1;mem(web):64")
        .add_to(&mut a);
    framework("f1").roles(&["*", "web"]).add_to(&mut a);
    a.suppress("f1", None).unwrap();
    assert!(a.allocate(secs(0.0)).is_empty());
    a.revive("f1", Some(vec!["web".into()])).unwrap();
    let got = a.allocate(secs(1.0));
    assert!(got.iter().all(|x| x.role == "web"), "{:?}", summary(&got));
    assert_eq!(got.len(), 2, "web may use unreserved resources too");
    a.suppress("f1", Some(vec!["web".into()])).unwrap();
    a.revive("f1", Some(vec!["*".into()])).unwrap();
    a.recover_resources("f1", "a2", &res("cpus:1;mem:128"), None, secs(2.0))
        .unwrap();
    assert_eq!(summary(&a.allocate(secs(2.0))), ["f1@a2(*) cpus:1;mem:128"]);
}

#[test]
fn reserved_resources_go_only_to_their_role() {
    let mut a = allocator();
    agent("a1")
        .cpus(2.0)
        .mem(256.0)
        .with("cpus(web):2;mem(web):256")
        .add_to(&mut a);
    framework("any").add_to(&mut a);
    assert_eq!(
        summary(&a.allocate(secs(0.0))),
        ["any@a1(*) cpus:2;mem:256"]
    );
    assert_eq!(
        a.agent_available("a1"),
        Some(&res("cpus(web):2;mem(web):256")),
        "no framework in role web"
    );
    framework("w").roles(&["web"]).add_to(&mut a);
    assert_eq!(
        summary(&a.allocate(secs(1.0))),
        ["w@a1(web) cpus(web):2;mem(web):256"]
    );
    // A subrole may use its parent's reservations.
    let mut a = allocator();
    agent("a1").with("cpus(web):2;mem(web):256").add_to(&mut a);
    framework("api").roles(&["web/api"]).add_to(&mut a);
    assert_eq!(
        summary(&a.allocate(secs(0.0))),
        ["api@a1(web/api) cpus(web):2;mem(web):256"]
    );
}

#[test]
fn quota_limit_is_respected() {
    let mut a = allocator();
    for i in 0..3 {
        agent(&format!("a{i}")).cpus(2.0).mem(100.0).add_to(&mut a);
    }
    framework("q1").roles(&["q"]).add_to(&mut a);
    a.set_quota("q", "cpus:3".parse().unwrap()).unwrap();
    let got = a.allocate(secs(0.0));
    let cpus: f64 = got.iter().filter_map(|x| x.resources.cpus()).sum();
    assert_eq!(cpus, 3.0, "{:?}", summary(&got));
    assert_eq!(got.len(), 3, "the mem of the third agent is not limited");
    // Another role takes the cpus that q may not.
    framework("other").roles(&["z"]).add_to(&mut a);
    let more = a.allocate(secs(1.0));
    let cpus: f64 = more.iter().filter_map(|x| x.resources.cpus()).sum();
    assert_eq!(cpus, 3.0, "{:?}", summary(&more));
    assert!(more.iter().all(|x| x.role == "z"));
    // Freed quota headroom can be used again.
    let back = got
        .iter()
        .find(|x| x.resources.cpus() == Some(2.0))
        .unwrap();
    a.recover_resources("q1", &back.agent_id, &res("cpus:2"), None, secs(2.0))
        .unwrap();
    a.suppress("other", None).unwrap();
    let again = a.allocate(secs(2.0));
    assert_eq!(summary(&again), [format!("q1@{}(q) cpus:2", back.agent_id)]);
    let shares = a.role_shares();
    let q = shares.iter().find(|r| r.role == "q").unwrap();
    assert_eq!(q.quota, Some("cpus:3".parse().unwrap()));
    assert_eq!(q.allocated.get("cpus"), Scalar::new(3.0));
}

#[test]
fn offers_below_min_allocatable_are_not_made() {
    let cases = [
        ("cpus:0.005;mem:16", "", false),
        ("cpus:0.01", "", true),
        ("mem:32", "", true),
        ("cpus:0.005;mem:16", "cpus:0.005", true),
        ("mem:512", "cpus:1;mem:256|disk:10", false),
        ("cpus:1;mem:256", "cpus:1;mem:256|disk:10", true),
        ("ports:[1-10]", "ports:10", true),
        ("ports:[1-9]", "ports:10", false),
    ];
    for (total, min, offered) in cases {
        let mut config = AllocatorConfig::default();
        if !min.is_empty() {
            config.min_allocatable_resources = parse_min_allocatable(min).unwrap();
        }
        let mut a = Allocator::new(config);
        agent("a1").with(total).add_to(&mut a);
        framework("f1").add_to(&mut a);
        assert_eq!(
            !a.allocate(secs(0.0)).is_empty(),
            offered,
            "{total} with minimum {min:?}"
        );
    }
}

#[test]
fn removed_framework_resources_come_back() {
    let mut a = allocator();
    agent("a1").cpus(2.0).mem(512.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    framework("f2").add_to(&mut a);
    assert_eq!(summary(&a.allocate(secs(0.0))), ["f1@a1(*) cpus:2;mem:512"]);
    a.remove_framework("f1").unwrap();
    assert_eq!(a.framework_allocations("f1"), None);
    assert_eq!(summary(&a.allocate(secs(1.0))), ["f2@a1(*) cpus:2;mem:512"]);
}

#[test]
fn partial_recovery_is_offered_again() {
    let mut a = allocator();
    agent("a1").cpus(4.0).mem(1024.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    framework("f2").add_to(&mut a);
    a.allocate(secs(0.0));
    // f1 launched a task with part of the offer; the rest comes back.
    a.recover_resources("f1", "a1", &res("cpus:3;mem:512"), None, secs(0.0))
        .unwrap();
    assert_eq!(summary(&a.allocate(secs(1.0))), ["f2@a1(*) cpus:3;mem:512"]);
    assert_eq!(
        summary(&a.agent_allocations("a1").unwrap()),
        ["f1@a1(*) cpus:1;mem:512", "f2@a1(*) cpus:3;mem:512"]
    );
}

#[test]
fn inactive_frameworks_and_agents_get_no_offers() {
    let mut a = allocator();
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    agent("a2").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f1").inactive().add_to(&mut a);
    a.deactivate_agent("a2").unwrap();
    assert!(a.allocate(secs(0.0)).is_empty());
    a.activate_framework("f1").unwrap();
    assert_eq!(summary(&a.allocate(secs(1.0))), ["f1@a1(*) cpus:1;mem:128"]);
    a.deactivate_framework("f1").unwrap();
    a.activate_agent("a2").unwrap();
    assert!(a.allocate(secs(2.0)).is_empty());
    assert_eq!(
        summary(&a.framework_allocations("f1").unwrap()),
        ["f1@a1(*) cpus:1;mem:128"],
        "a disconnected framework keeps what it holds"
    );
    a.activate_framework("f1").unwrap();
    assert_eq!(summary(&a.allocate(secs(3.0))), ["f1@a2(*) cpus:1;mem:128"]);
}

#[test]
fn failover_resources_are_counted_once() {
    let mut a = allocator();
    // The agent reports a task of f9 before f9 subscribes again.
    agent("a1")
        .cpus(4.0)
        .mem(1024.0)
        .used_by("f9", "cpus:1;mem:256")
        .add_to(&mut a);
    framework("f1").add_to(&mut a);
    assert_eq!(summary(&a.allocate(secs(0.0))), ["f1@a1(*) cpus:3;mem:768"]);
    framework("f9").add_to(&mut a);
    assert_eq!(
        summary(&a.framework_allocations("f9").unwrap()),
        ["f9@a1(*) cpus:1;mem:256"]
    );
    a.recover_resources("f9", "a1", &res("cpus:1;mem:256"), None, secs(1.0))
        .unwrap();
    assert_eq!(summary(&a.allocate(secs(1.0))), ["f9@a1(*) cpus:1;mem:256"]);
    // Used resources reserved to a role of the framework are charged to that role.
    let mut a = allocator();
    framework("w")
        .roles(&["*", "web"])
        .inactive()
        .add_to(&mut a);
    agent("a1")
        .cpus(2.0)
        .with("cpus(web):2")
        .used_by("w", "cpus:1;cpus(web):1")
        .add_to(&mut a);
    assert_eq!(
        summary(&a.framework_allocations("w").unwrap()),
        ["w@a1(*) cpus:1", "w@a1(web) cpus(web):1"]
    );
}

#[test]
fn removing_an_agent_forgets_its_allocations() {
    let mut a = allocator();
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    agent("a2").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    let got = a.allocate(secs(0.0));
    decline(&mut a, &got[0], Some(60.0), 0.0);
    a.remove_agent("a1").unwrap();
    a.remove_agent("a2").unwrap();
    assert_eq!(a.framework_allocations("f1"), Some(Vec::new()));
    assert_eq!(a.active_filters(), 0);
    assert!(a.total().is_empty());
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    assert_eq!(summary(&a.allocate(secs(1.0))), ["f1@a1(*) cpus:1;mem:128"]);
}

#[test]
fn expiry_queue_forgets_removed_filters() {
    let year = 365.0 * 86400.0;
    let mut a = allocator();
    agent("keep").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    let offer = a.allocate(secs(0.0)).remove(0);
    decline(&mut a, &offer, Some(year), 0.0);
    for i in 0..3000 {
        let id = format!("tmp{i}");
        agent(&id).cpus(1.0).mem(128.0).add_to(&mut a);
        let offer = a.allocate(secs(1.0)).remove(0);
        assert_eq!(offer.agent_id, id);
        decline(&mut a, &offer, Some(year), 1.0);
        a.remove_agent(&id).unwrap();
    }
    assert_eq!(a.active_filters(), 1);
    assert!(a.expiries.len() <= 1025, "{} queued", a.expiries.len());
    assert!(
        a.allocate(secs(2.0)).is_empty(),
        "the filter on `keep` survived"
    );
    a.revive("f1", None).unwrap();
    assert_eq!(a.allocate(secs(3.0)).len(), 1);
}

#[test]
fn update_framework_changes_roles() {
    let mut a = allocator();
    agent("a1").cpus(2.0).mem(256.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    a.allocate(secs(0.0));
    let spec = FrameworkSpec {
        roles: vec!["web".into()],
        suppressed_roles: Vec::new(),
    };
    a.update_framework("f1", spec).unwrap();
    // Still holds resources in `*`, so it is still listed there.
    let shares = a.role_shares();
    let names: Vec<&str> = shares.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(names, ["*", "web"]);
    a.recover_resources(
        "f1",
        "a1",
        &res("cpus:2;mem:256"),
        Some(secs(60.0)),
        secs(0.0),
    )
    .unwrap();
    assert_eq!(
        a.active_filters(),
        0,
        "no filter for a role the framework left"
    );
    assert_eq!(
        summary(&a.allocate(secs(1.0))),
        ["f1@a1(web) cpus:2;mem:256"]
    );
    let shares = a.role_shares();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].frameworks, ["f1"]);
    assert_eq!(shares[0].dominant_share, 1.0);
}

#[test]
fn calls_that_do_not_fit_are_errors() {
    let mut a = allocator();
    agent("a1").cpus(1.0).mem(128.0).add_to(&mut a);
    framework("f1").add_to(&mut a);
    let spec = || FrameworkSpec::default();
    let total = || AgentSpec {
        hostname: "h".into(),
        total: res("cpus:1"),
    };
    let no_use = Vec::<(String, Resources)>::new;
    let cases: Vec<(Result<(), AllocatorError>, &str)> = vec![
        (a.add_framework("f1", spec(), true), "already added"),
        (a.remove_framework("nope"), "unknown framework nope"),
        (
            a.add_agent("a1", total(), no_use()),
            "agent a1 was already added",
        ),
        (a.remove_agent("nope"), "unknown agent nope"),
        (
            a.recover_resources("f1", "a1", &res("cpus:1"), None, secs(0.0)),
            "not allocated",
        ),
        (
            a.add_agent("a2", total(), vec![("f1".into(), res("cpus:2"))]),
            "more than its total",
        ),
        (
            a.add_framework(
                "f2",
                FrameworkSpec {
                    roles: vec!["a b".into()],
                    ..spec()
                },
                true,
            ),
            "invalid role 'a b'",
        ),
        (
            a.set_weights(vec![("r".into(), 0.0)]),
            "not a positive number",
        ),
        (a.set_quota("/x", ResourceQuantities::new()), "invalid role"),
        (a.suppress("nope", None), "unknown framework"),
    ];
    for (result, want) in cases {
        let err = result.expect_err(want).to_string();
        assert!(err.contains(want), "'{err}' should mention '{want}'");
    }
    assert_eq!(a.agent_hostname("a2"), None, "a failed add changes nothing");
}

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
