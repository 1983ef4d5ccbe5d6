//! Small builders for placement tests: `offer().cpus(4.0).mem(2048.0).ports(31000, 31010)`.

use std::collections::BTreeSet;

use mesos_common::resources::{Ranges, Resource, Resources, Scalar};

use super::{
    Agent, Attribute, AttributeValue, Constraint, FaultDomain, Offer, PlacementConfig, Reservation,
    RunSpecNeeds,
};

pub(crate) fn res(text: &str) -> Resources {
    Resources::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(crate) fn agent(id: &str) -> Agent {
    Agent::new(id, format!("{id}.example"))
}

impl Agent {
    pub(crate) fn host(mut self, hostname: &str) -> Agent {
        self.hostname = hostname.to_string();
        self
    }

    pub(crate) fn domain(mut self, region: &str, zone: &str) -> Agent {
        self.fault_domain = Some(FaultDomain {
            region: region.to_string(),
            zone: zone.to_string(),
        });
        self
    }

    fn with(mut self, name: &str, value: AttributeValue) -> Agent {
        self.attributes.push(Attribute {
            name: name.to_string(),
            value,
        });
        self
    }

    pub(crate) fn attr(self, name: &str, text: &str) -> Agent {
        self.with(name, AttributeValue::Text(text.to_string()))
    }

    pub(crate) fn scalar(self, name: &str, value: f64) -> Agent {
        self.with(name, AttributeValue::Scalar(Scalar::new(value)))
    }

    pub(crate) fn ranges(self, name: &str, pairs: &[(u64, u64)]) -> Agent {
        self.with(
            name,
            AttributeValue::Ranges(Ranges::new(pairs.iter().copied())),
        )
    }

    pub(crate) fn set(self, name: &str, items: &[&str]) -> Agent {
        let items: BTreeSet<String> = items.iter().map(|s| s.to_string()).collect();
        self.with(name, AttributeValue::Set(items))
    }
}

/// An empty offer `o1` from agent `a1` (`a1.example`).
pub(crate) fn offer() -> Offer {
    Offer::new("o1", agent("a1"), Resources::new())
}

impl Offer {
    pub(crate) fn id(mut self, id: &str) -> Offer {
        self.id = id.to_string();
        self
    }

    /// Comes from agent `id` with hostname `id.example`, keeping attributes.
    pub(crate) fn on(mut self, id: &str) -> Offer {
        self.agent.id = id.to_string();
        self.agent.hostname = format!("{id}.example");
        self
    }

    pub(crate) fn agent(mut self, agent: Agent) -> Offer {
        self.agent = agent;
        self
    }

    pub(crate) fn with(mut self, resource: Resource) -> Offer {
        self.resources.add_resource(&resource);
        self
    }

    /// Adds resources in Mesos's text form, `cpus(web):2;ports(web):[80-81]`.
    pub(crate) fn res(mut self, text: &str) -> Offer {
        self.resources.add(&res(text));
        self
    }

    pub(crate) fn cpus(self, value: f64) -> Offer {
        self.with(Resource::scalar("cpus", value))
    }

    pub(crate) fn mem(self, value: f64) -> Offer {
        self.with(Resource::scalar("mem", value))
    }

    pub(crate) fn disk(self, value: f64) -> Offer {
        self.with(Resource::scalar("disk", value))
    }

    pub(crate) fn gpus(self, value: f64) -> Offer {
        self.with(Resource::scalar("gpus", value))
    }

    pub(crate) fn ports(self, begin: u64, end: u64) -> Offer {
        self.with(Resource::ranges("ports", [(begin, end)]))
    }

    pub(crate) fn attr(mut self, name: &str, text: &str) -> Offer {
        self.agent = self.agent.attr(name, text);
        self
    }

    pub(crate) fn maintenance(mut self) -> Offer {
        self.maintenance = true;
        self
    }
}

/// A run spec needing nothing at all.
pub(crate) fn spec() -> RunSpecNeeds {
    RunSpecNeeds::default()
}

impl RunSpecNeeds {
    pub(crate) fn cpus(mut self, value: f64) -> RunSpecNeeds {
        self.cpus = value;
        self
    }

    pub(crate) fn mem(mut self, value: f64) -> RunSpecNeeds {
        self.mem = value;
        self
    }

    pub(crate) fn disk(mut self, value: f64) -> RunSpecNeeds {
        self.disk = value;
        self
    }

    pub(crate) fn gpus(mut self, value: f64) -> RunSpecNeeds {
        self.gpus = value;
        self
    }

    pub(crate) fn host_ports(mut self, ports: &[u16]) -> RunSpecNeeds {
        self.host_ports = ports.to_vec();
        self
    }

    pub(crate) fn require_ports(mut self, require: bool) -> RunSpecNeeds {
        self.require_ports = require;
        self
    }

    pub(crate) fn roles(mut self, roles: &[&str]) -> RunSpecNeeds {
        self.accepted_roles = roles.iter().map(|s| s.to_string()).collect();
        self
    }

    pub(crate) fn constraint(mut self, parts: &[&str]) -> RunSpecNeeds {
        let c = Constraint::parse(parts).unwrap_or_else(|e| panic!("{parts:?}: {e}"));
        self.constraints.push(c);
        self
    }

    pub(crate) fn resident(mut self, agent_id: &str, role: &str) -> RunSpecNeeds {
        self.reservation = Some(Reservation {
            agent_id: agent_id.to_string(),
            role: role.to_string(),
        });
        self
    }
}

pub(crate) fn config() -> PlacementConfig {
    PlacementConfig::default()
}

impl PlacementConfig {
    pub(crate) fn role(mut self, role: &str) -> PlacementConfig {
        self.framework_role = role.to_string();
        self
    }

    pub(crate) fn per_offer(mut self, max: usize) -> PlacementConfig {
        self.max_instances_per_offer = max;
        self
    }
}
