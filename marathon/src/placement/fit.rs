//! Resource fit: what exactly one instance takes from what is left of an offer.
//!
//! Only resources whose role the run spec accepts count. Reserved resources are taken before
//! unreserved ones (in the order the roles are accepted), so an app uses what was set aside for
//! it and leaves the shared pool to others. Scalars may be split across roles
//! (`cpus(web):0.5;cpus:0.5`); dynamic host ports are the lowest free ones, so the same offer
//! gives the same ports on every run.

use mesos_common::resources::{Ranges, Resource, Resources, Scalar, Value, DEFAULT_ROLE};

use super::reason::Reason;
use super::RunSpecNeeds;

/// Which roles' resources a run spec may use, most preferred first: reserved roles in the
/// order accepted, unreserved (`*`) last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AcceptedRoles(Vec<String>);

impl AcceptedRoles {
    /// `accepted` is the run spec's `acceptedResourceRoles`; empty means Marathon's default,
    /// unreserved resources and those reserved to the framework's role.
    pub(crate) fn new(accepted: &[String], framework_role: &str) -> AcceptedRoles {
        let given: Vec<&str> = if accepted.is_empty() {
            vec![framework_role, DEFAULT_ROLE]
        } else {
            accepted.iter().map(String::as_str).collect()
        };
        let mut roles: Vec<String> = Vec::with_capacity(given.len());
        for role in given {
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_string());
            }
        }
        // Stable: reserved roles keep their order, `*` goes last.
        roles.sort_by_key(|r| r == DEFAULT_ROLE);
        AcceptedRoles(roles)
    }

    /// Only the one role a resident instance's reservation is in.
    pub(crate) fn only(role: &str) -> AcceptedRoles {
        AcceptedRoles(vec![role.to_string()])
    }

    fn rank(&self, role: &str) -> Option<usize> {
        self.0.iter().position(|r| r == role)
    }

    pub(crate) fn accepts(&self, role: &str) -> bool {
        self.rank(role).is_some()
    }

    /// The resources called `name` that may be used, most preferred first.
    fn candidates<'a>(&self, available: &'a Resources, name: &str) -> Vec<&'a Resource> {
        let mut found: Vec<(usize, &Resource)> = available
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| self.rank(&r.role).map(|rank| (rank, r)))
            .collect();
        found.sort_by_key(|(rank, _)| *rank);
        found.into_iter().map(|(_, r)| r).collect()
    }
}

/// What one instance takes: exactly these resources, and the host ports in declared order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fit {
    pub(crate) resources: Resources,
    pub(crate) host_ports: Vec<u16>,
}

/// Takes one instance's needs out of `available`, or says which resources fall short (in
/// funnel order).
pub(crate) fn fit(
    available: &Resources,
    needs: &RunSpecNeeds,
    roles: &AcceptedRoles,
) -> Result<Fit, Vec<Reason>> {
    let mut resources = Resources::new();
    let mut short = Vec::new();
    let scalars = [
        ("cpus", needs.cpus, Reason::InsufficientCpus),
        ("mem", needs.mem, Reason::InsufficientMemory),
        ("disk", needs.disk, Reason::InsufficientDisk),
        ("gpus", needs.gpus, Reason::InsufficientGpus),
    ];
    for (name, amount, reason) in scalars {
        match take_scalar(available, name, Scalar::new(amount), roles) {
            Some(taken) => resources.add(&taken),
            None => short.push(reason),
        }
    }
    let host_ports = match take_ports(available, needs, roles) {
        Some((taken, ports)) => {
            resources.add(&taken);
            ports
        }
        None => {
            short.push(Reason::InsufficientPorts);
            Vec::new()
        }
    };
    if short.is_empty() {
        Ok(Fit {
            resources,
            host_ports,
        })
    } else {
        Err(short)
    }
}

fn take_scalar(
    available: &Resources,
    name: &str,
    need: Scalar,
    roles: &AcceptedRoles,
) -> Option<Resources> {
    let mut left = need;
    let mut taken = Resources::new();
    for r in roles.candidates(available, name) {
        if !left.is_positive() {
            break;
        }
        if let Value::Scalar(have) = r.value {
            let amount = have.min(left);
            taken
                .add_resource(&Resource::new(name, Value::Scalar(amount)).reserved(r.role.clone()));
            left -= amount;
        }
    }
    (!left.is_positive()).then_some(taken)
}

/// One part of an instance's resources: a container of a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: f64,
    /// Host ports of this part (taken as placed).
    pub ports: Vec<u16>,
}

/// Splits what one instance took among `parts` (a pod's containers), each getting its
/// scalars (reserved roles first, as placement took them) and its host ports; the last
/// element is what is left (the default executor's share). Parts that ask for more than
/// is left get what there is.
pub fn split(taken: &Resources, parts: &[Part]) -> Vec<Resources> {
    let roles: Vec<String> = taken.iter().map(|r| r.role.to_string()).collect();
    let roles = AcceptedRoles::new(&roles, DEFAULT_ROLE);
    let mut left = taken.clone();
    let mut out = Vec::with_capacity(parts.len() + 1);
    for part in parts {
        let mut mine = Resources::new();
        for (name, amount) in [
            ("cpus", part.cpus),
            ("mem", part.mem),
            ("disk", part.disk),
            ("gpus", part.gpus),
        ] {
            let have = left.scalar(name).unwrap_or(0.0);
            let want = Scalar::new(amount.min(have));
            if let Some(t) = take_scalar(&left, name, want, &roles) {
                mine.add(&t);
            }
        }
        for &port in &part.ports {
            let found = left.iter().find_map(|r| match &r.value {
                Value::Ranges(ranges)
                    if r.name == "ports" && ranges.contains_value(u64::from(port)) =>
                {
                    Some(r.role.clone())
                }
                _ => None,
            });
            if let Some(role) = found {
                mine.add_resource(
                    &Resource::ranges("ports", [(u64::from(port), u64::from(port))]).reserved(role),
                );
            }
        }
        left = left.minus(&mine);
        out.push(mine);
    }
    out.push(left);
    out
}

/// Chooses the host ports: with `require_ports`, non-zero declared ports are taken as they
/// are; every other port is the lowest offered one not chosen yet and not wanted as a fixed
/// port.
fn take_ports(
    available: &Resources,
    needs: &RunSpecNeeds,
    roles: &AcceptedRoles,
) -> Option<(Resources, Vec<u16>)> {
    if needs.host_ports.is_empty() {
        return Some((Resources::new(), Vec::new()));
    }
    let offered: Vec<(&str, &Ranges)> = roles
        .candidates(available, "ports")
        .into_iter()
        .filter_map(|r| match &r.value {
            Value::Ranges(ranges) => Some((r.role.as_str(), ranges)),
            _ => None,
        })
        .collect();
    let is_fixed = |port: u16| needs.require_ports && port != 0;
    let fixed: Vec<u16> = needs
        .host_ports
        .iter()
        .copied()
        .filter(|&p| is_fixed(p))
        .collect();
    let mut chosen: Vec<(u16, &str)> = Vec::with_capacity(needs.host_ports.len());
    for &declared in &needs.host_ports {
        let free = |port: u16| !chosen.iter().any(|(p, _)| *p == port);
        let pick = if is_fixed(declared) {
            offered
                .iter()
                .find(|(_, ranges)| ranges.contains_value(u64::from(declared)))
                .filter(|_| free(declared))
                .map(|(role, _)| (declared, *role))
        } else {
            offered.iter().find_map(|(role, ranges)| {
                ranges.ranges().iter().find_map(|r| {
                    // Port 0 means "any" in a task's ports, so it is never handed out.
                    let begin = r.begin.max(1);
                    let end = r.end.min(u64::from(u16::MAX));
                    (begin..=end)
                        .filter_map(|p| u16::try_from(p).ok())
                        .find(|&p| free(p) && !fixed.contains(&p))
                        .map(|p| (p, *role))
                })
            })
        };
        chosen.push(pick?);
    }
    let taken = chosen
        .iter()
        .map(|(port, role)| {
            Resource::ranges("ports", [(u64::from(*port), u64::from(*port))]).reserved(*role)
        })
        .collect();
    Some((taken, chosen.into_iter().map(|(p, _)| p).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::testkit::{res, spec};

    fn roles(accepted: &[&str], framework: &str) -> AcceptedRoles {
        let accepted: Vec<String> = accepted.iter().map(|s| s.to_string()).collect();
        AcceptedRoles::new(&accepted, framework)
    }

    #[test]
    fn accepted_roles_default_to_framework_role_and_unreserved() {
        assert_eq!(roles(&[], "web").0, ["web", "*"]);
        assert_eq!(roles(&[], "*").0, ["*"]);
        assert_eq!(roles(&["*", "a", "b", "a"], "web").0, ["a", "b", "*"]);
        assert!(!roles(&["a"], "web").accepts("*"));
    }

    #[test]
    fn scalars_prefer_reserved_and_split_across_roles() {
        let cases = [
            // (offer, accepted roles, need cpus, taken or None)
            ("cpus:4", vec![], 1.0, Some("cpus:1")),
            (
                "cpus:4;cpus(web):0.5",
                vec![],
                1.0,
                Some("cpus(web):0.5;cpus:0.5"),
            ),
            ("cpus:4;cpus(web):2", vec![], 1.0, Some("cpus(web):1")),
            ("cpus:4;cpus(web):2", vec!["*"], 1.0, Some("cpus:1")),
            ("cpus:4;cpus(other):2", vec![], 5.0, None),
            ("cpus(other):8", vec![], 1.0, None),
            ("cpus(other):8", vec!["other"], 1.0, Some("cpus(other):1")),
            (
                "cpus:0.3;cpus(web):0.2",
                vec![],
                0.5,
                Some("cpus(web):0.2;cpus:0.3"),
            ),
            ("mem:64", vec![], 0.0, Some("")),
        ];
        for (offer, accepted, need, want) in cases {
            let got = take_scalar(
                &res(offer),
                "cpus",
                Scalar::new(need),
                &roles(&accepted, "web"),
            );
            assert_eq!(got, want.map(res), "{offer} {accepted:?} {need}");
        }
    }

    /// (offer, declared host ports, require_ports, chosen ports or None)
    type PortCase = (&'static str, &'static [u16], bool, Option<&'static [u16]>);

    #[test]
    fn ports_fixed_dynamic_and_required() {
        let cases: &[PortCase] = &[
            ("ports:[31000-31010]", &[0, 0], false, Some(&[31000, 31001])),
            // Without requirePorts a declared port is a service port: the host port is any.
            ("ports:[31000-31010]", &[80], false, Some(&[31000])),
            (
                "ports:[31000-31010]",
                &[31005, 0],
                true,
                Some(&[31005, 31000]),
            ),
            (
                "ports:[31000-31010]",
                &[0, 31000],
                true,
                Some(&[31001, 31000]),
            ),
            ("ports:[31000-31010]", &[80], true, None),
            ("ports:[31000-31001]", &[0, 0, 0], false, None),
            (
                "ports:[31000-31000,31005-31005]",
                &[0, 0],
                false,
                Some(&[31000, 31005]),
            ),
            ("ports:[31000-31010]", &[31003, 31003], true, None),
            ("cpus:1", &[0], false, None),
            ("cpus:1", &[], false, Some(&[])),
            ("ports:[0-1]", &[0], false, Some(&[1])),
        ];
        for (offer, declared, require, want) in cases {
            let needs = spec().host_ports(declared).require_ports(*require);
            let got = take_ports(&res(offer), &needs, &roles(&[], "*"));
            assert_eq!(
                got.as_ref().map(|(_, p)| p.as_slice()),
                *want,
                "{offer} {declared:?}"
            );
            if let Some((taken, ports)) = got {
                assert!(res(offer).contains(&taken), "{taken} from {offer}");
                assert_eq!(
                    taken.ports().map(|r| r.count()).unwrap_or(0),
                    ports.len() as u64
                );
            }
        }
    }

    #[test]
    fn ports_come_from_reserved_ranges_first_with_their_role() {
        let offer = res("ports:[31000-31010];ports(web):[40000-40001]");
        let needs = spec().host_ports(&[0, 0, 0]);
        let (taken, ports) = take_ports(&offer, &needs, &roles(&[], "web")).unwrap();
        assert_eq!(ports, [40000, 40001, 31000]);
        assert_eq!(taken, res("ports(web):[40000-40001];ports:[31000-31000]"));
    }

    #[test]
    fn fit_reports_every_shortfall_in_funnel_order() {
        let needs = spec()
            .cpus(2.0)
            .mem(256.0)
            .disk(10.0)
            .gpus(1.0)
            .host_ports(&[0]);
        let got = fit(&res("cpus:1;mem:128;disk:5"), &needs, &roles(&[], "*"));
        assert_eq!(
            got,
            Err(vec![
                Reason::InsufficientCpus,
                Reason::InsufficientMemory,
                Reason::InsufficientDisk,
                Reason::InsufficientGpus,
                Reason::InsufficientPorts,
            ])
        );
        let ok = fit(
            &res("cpus:4;mem:1024;disk:100;gpus:2;ports:[100-200]"),
            &needs,
            &roles(&[], "*"),
        )
        .unwrap();
        assert_eq!(
            ok.resources,
            res("cpus:2;mem:256;disk:10;gpus:1;ports:[100-100]")
        );
        assert_eq!(ok.host_ports, [100]);
    }
}
