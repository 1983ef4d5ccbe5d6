//! The agent's total resources and attributes: `--resources` merged with what the machine
//! has, and conversions between the domain types of `mesos_common::resources` and the v1
//! protobufs the master link and `/state` use.

use std::path::Path;

use mesos_common::resources::{AttributeValue, Attributes, Resource, Resources};
use mesos_proto::v1;
use serde_json::{json, Map};

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// What the machine has, as far as default resources are concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Machine {
    pub cpus: f64,
    pub mem_bytes: u64,
    pub disk_bytes: u64,
}

impl Machine {
    /// Cores online, physical memory, and the size of the filesystem holding `work_dir`.
    pub fn detect(work_dir: &Path) -> std::io::Result<Machine> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let meminfo = std::fs::read_to_string("/proc/meminfo")?;
        let mem_kb: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("no MemTotal in /proc/meminfo"))?;
        let fs = nix::sys::statvfs::statvfs(work_dir).map_err(std::io::Error::from)?;
        Ok(Machine {
            cpus,
            mem_bytes: mem_kb * 1024,
            disk_bytes: fs.blocks() as u64 * fs.fragment_size() as u64,
        })
    }
}

/// Parses `--resources` (text or JSON); `None` means nothing given.
pub fn parse_flag(text: Option<&str>, default_role: &str) -> Result<Resources, String> {
    match text {
        None => Ok(Resources::new()),
        Some(text) => {
            Resources::parse_with_default_role(text, default_role).map_err(|e| e.to_string())
        }
    }
}

pub fn parse_attributes(text: Option<&str>) -> Result<Attributes, String> {
    text.map_or_else(
        || Ok(Attributes::default()),
        |t| Attributes::parse(t).map_err(|e| e.to_string()),
    )
}

pub fn valid_role(role: &str) -> bool {
    mesos_common::resources::validate_role(role).is_ok()
}

/// Adds the kinds `given` lacks, as Mesos does: cpus = cores; mem = total - 1GB (half when
/// under 2GB); disk = filesystem size - 5GB (half when under 10GB); ports [31000-32000].
/// New resources go to `default_role`.
pub fn with_defaults(given: Resources, machine: Machine, default_role: &str) -> Resources {
    let has = |name: &str| given.iter().any(|r| r.name == name);
    let leave = |total: u64, reserve: u64, threshold: u64| {
        let bytes = if total >= threshold {
            total - reserve
        } else {
            total / 2
        };
        (bytes / MB) as f64
    };
    let mut out = given.clone();
    let mut add = |resource: Resource| out.add_resource(&resource.reserved(default_role));
    if !has("cpus") {
        add(Resource::scalar("cpus", machine.cpus));
    }
    if !has("mem") {
        add(Resource::scalar(
            "mem",
            leave(machine.mem_bytes, GB, 2 * GB),
        ));
    }
    if !has("disk") {
        add(Resource::scalar(
            "disk",
            leave(machine.disk_bytes, 5 * GB, 10 * GB),
        ));
    }
    if !has("ports") {
        add(Resource::ranges("ports", [(31000, 32000)]));
    }
    out
}

/// The flat object `/state` shows for attributes.
pub fn attributes_state_json(attributes: &Attributes) -> serde_json::Value {
    let object: Map<String, serde_json::Value> = attributes
        .iter()
        .map(|a| {
            let value = match &a.value {
                AttributeValue::Text(t) => json!(t),
                AttributeValue::Scalar(s) => json!(s.value()),
                AttributeValue::Ranges(r) => json!(r.to_string()),
            };
            (a.name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(object)
}

/// The ports a task holds, in the order its resources list them.
pub fn task_ports(resources: &[v1::Resource]) -> Vec<u64> {
    resources
        .iter()
        .filter(|r| r.name == "ports")
        .filter_map(|r| r.ranges.as_ref())
        .flat_map(|ranges| ranges.range.iter())
        .flat_map(|range| range.begin..=range.end.min(range.begin.saturating_add(65_535)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: Machine = Machine {
        cpus: 8.0,
        mem_bytes: 16 * GB,
        disk_bytes: 100 * GB,
    };

    fn res(text: &str) -> Resources {
        Resources::parse(text).unwrap()
    }

    #[test]
    fn missing_kinds_are_detected() {
        let cases = [
            (
                "",
                MACHINE,
                "cpus:8;disk:97280;mem:15360;ports:[31000-32000]",
            ),
            (
                "cpus:2;ports:[5000-5001]",
                MACHINE,
                "cpus:2;disk:97280;mem:15360;ports:[5000-5001]",
            ),
            (
                "",
                Machine {
                    cpus: 1.0,
                    mem_bytes: GB,
                    disk_bytes: 8 * GB,
                },
                "cpus:1;disk:4096;mem:512;ports:[31000-32000]",
            ),
            (
                "cpus(web):1;mem:10;disk:20;ports:[1-2]",
                MACHINE,
                "cpus(web):1;disk:20;mem:10;ports:[1-2]",
            ),
        ];
        for (given, machine, want) in cases {
            assert_eq!(
                with_defaults(res(given), machine, "*").to_string(),
                want,
                "{given}"
            );
        }
        assert_eq!(
            with_defaults(res("mem:1;disk:1;ports:[1-1]"), MACHINE, "web").to_string(),
            "cpus(web):8;disk:1;mem:1;ports:[1-1]"
        );
    }

    #[test]
    fn protos_round_trip() {
        let resources = res("cpus:2;mem:512;ports:[31000-31005];cpus(web):1;foo:{a,b}");
        let protos = mesos_common::wire::resources_to_proto(&resources, None);
        assert_eq!(protos.len(), 5);
        let ports = protos.iter().find(|r| r.name == "ports").unwrap();
        assert_eq!(ports.r#type, v1::value::Type::Ranges as i32);
        assert_eq!(
            mesos_common::wire::resources_from_proto(&protos).unwrap(),
            resources
        );
    }

    #[test]
    fn state_json_is_flat() {
        let resources = res("cpus:2;cpus(web):1;mem:512;ports:[31000-31005]");
        assert_eq!(
            mesos_common::wire::resources_state_json(&resources),
            json!({"cpus": 3.0, "mem": 512.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31005]"})
        );
        let attributes = Attributes::parse("rack:r1;level:3;slots:[1-4]").unwrap();
        assert_eq!(
            attributes_state_json(&attributes),
            json!({"rack": "r1", "level": 3.0, "slots": "[1-4]"})
        );
        let protos = mesos_common::wire::attributes_to_proto(&attributes);
        assert_eq!(protos[0].text.as_ref().unwrap().value, "r1");
        assert_eq!(protos[1].scalar.as_ref().unwrap().value, 3.0);
    }

    #[test]
    fn ports_of_a_task() {
        let protos = mesos_common::wire::resources_to_proto(
            &res("cpus:1;ports:[31000-31002,31010-31010]"),
            None,
        );
        assert_eq!(task_ports(&protos), [31000, 31001, 31002, 31010]);
        assert!(task_ports(&mesos_common::wire::resources_to_proto(
            &res("cpus:1"),
            None
        ))
        .is_empty());
    }

    #[test]
    fn machine_detection_reads_this_host() {
        let machine = Machine::detect(Path::new("/")).unwrap();
        assert!(machine.cpus >= 1.0);
        assert!(machine.mem_bytes > 0);
        assert!(machine.disk_bytes > 0);
    }
}
