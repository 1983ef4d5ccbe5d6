use std::time::Duration;

use mesos_common::resources::{Resource, Scalar, DEFAULT_ROLE};

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

mod properties;
