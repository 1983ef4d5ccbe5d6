//! What placement sees of an offer and of the agents a run spec's instances already run on.
//!
//! These are domain values, not wire types: the scheduler converts Mesos's protobuf offers
//! into them at the edge.

use std::collections::BTreeSet;
use std::fmt;

use mesos_common::resources::{self, Ranges, Resources, Scalar};

/// An agent attribute's value. Mesos agents declare text, scalars and ranges; sets are kept
/// because Marathon's constraints know how to print them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Text(String),
    Scalar(Scalar),
    Ranges(Ranges),
    Set(BTreeSet<String>),
}

impl From<&resources::AttributeValue> for AttributeValue {
    fn from(value: &resources::AttributeValue) -> AttributeValue {
        match value {
            resources::AttributeValue::Text(t) => AttributeValue::Text(t.clone()),
            resources::AttributeValue::Scalar(s) => AttributeValue::Scalar(*s),
            resources::AttributeValue::Ranges(r) => AttributeValue::Ranges(r.clone()),
        }
    }
}

/// The text constraints compare, as Marathon prints attribute values: scalars with at most
/// three decimals and no trailing zeros (`1.5`, `2`), ranges as `[1-2,5-9]`, sets as
/// `{a,b}` sorted, text as is.
impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Text(t) => f.write_str(t),
            AttributeValue::Scalar(s) => s.fmt(f),
            AttributeValue::Ranges(ranges) => {
                f.write_str("[")?;
                for (i, r) in ranges.ranges().iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}-{}", r.begin, r.end)?;
                }
                f.write_str("]")
            }
            AttributeValue::Set(items) => {
                f.write_str("{")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(item)?;
                }
                f.write_str("}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: AttributeValue,
}

/// An agent's fault domain, as Mesos reports it in offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultDomain {
    pub region: String,
    pub zone: String,
}

/// The agent an offer comes from, or an instance runs on: everything a constraint can read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    pub hostname: String,
    pub attributes: Vec<Attribute>,
    pub fault_domain: Option<FaultDomain>,
}

impl Agent {
    pub fn new(id: impl Into<String>, hostname: impl Into<String>) -> Agent {
        Agent {
            id: id.into(),
            hostname: hostname.into(),
            ..Agent::default()
        }
    }

    /// Adds the agent's attributes as `mesos_common` parses them (`--attributes`).
    pub fn with_attributes(mut self, attributes: &resources::Attributes) -> Agent {
        self.attributes.extend(attributes.iter().map(|a| Attribute {
            name: a.name.clone(),
            value: AttributeValue::from(&a.value),
        }));
        self
    }

    /// The first attribute called `name`, as Mesos and Marathon look attributes up.
    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }

    pub fn region(&self) -> Option<&str> {
        self.fault_domain.as_ref().map(|d| d.region.as_str())
    }

    pub fn zone(&self) -> Option<&str> {
        self.fault_domain.as_ref().map(|d| d.zone.as_str())
    }
}

/// One offer from one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    pub agent: Agent,
    /// Everything offered, each resource with its role (`*` = unreserved).
    pub resources: Resources,
    /// The agent is scheduled for maintenance or draining: nothing new goes there.
    pub maintenance: bool,
}

impl Offer {
    pub fn new(id: impl Into<String>, agent: Agent, resources: Resources) -> Offer {
        Offer {
            id: id.into(),
            agent,
            resources,
            maintenance: false,
        }
    }
}
