//! Small builders for placement tests: `agent("a1").attr("rack", "r1")`.

use std::collections::BTreeSet;

use mesos_common::resources::{Ranges, Scalar};

use super::{Agent, Attribute, AttributeValue, FaultDomain};

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
