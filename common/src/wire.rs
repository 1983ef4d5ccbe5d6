//! Conversions between the domain types of [`crate::resources`] and Mesos's v1 protobuf
//! messages, plus the JSON forms Mesos's state endpoints use. The one place where
//! `Resource` protos become `Resources` and back.

use mesos_proto::v1;
use serde_json::Value as Json;

use crate::resources::{
    Attribute, AttributeValue, Attributes, Ranges, Resource, Resources, Scalar, Value,
};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    #[error("resource '{name}' of type {kind} has no {kind} value")]
    MissingValue { name: String, kind: String },
    #[error("resource '{name}' has an invalid value: {reason}")]
    InvalidValue { name: String, reason: String },
    #[error("resource has an empty name")]
    EmptyName,
}

/// The role a resource is reserved for (`*` when unreserved), from either the
/// post-refinement `reservations` stack or the legacy `role` field.
#[allow(deprecated)] // old frameworks still send the pre-refinement `role` field
fn reservation_role(r: &v1::Resource) -> String {
    if let Some(last) = r.reservations.last() {
        return last.role.clone().unwrap_or_else(|| "*".to_string());
    }
    r.role.clone().unwrap_or_else(|| "*".to_string())
}

pub fn resource_from_proto(r: &v1::Resource) -> Result<Resource, WireError> {
    if r.name.is_empty() {
        return Err(WireError::EmptyName);
    }
    let missing = |kind: &str| WireError::MissingValue {
        name: r.name.clone(),
        kind: kind.to_string(),
    };
    let value = match r.r#type() {
        v1::value::Type::Scalar => {
            let v = r.scalar.as_ref().ok_or_else(|| missing("SCALAR"))?.value;
            if !v.is_finite() || v < 0.0 {
                return Err(WireError::InvalidValue {
                    name: r.name.clone(),
                    reason: format!("{v} is not a non-negative number"),
                });
            }
            Value::Scalar(Scalar::new(v))
        }
        v1::value::Type::Ranges => {
            let ranges = r.ranges.as_ref().ok_or_else(|| missing("RANGES"))?;
            for range in &ranges.range {
                if range.begin > range.end {
                    return Err(WireError::InvalidValue {
                        name: r.name.clone(),
                        reason: format!(
                            "range [{}-{}] ends before it begins",
                            range.begin, range.end
                        ),
                    });
                }
            }
            Value::Ranges(Ranges::new(ranges.range.iter().map(|x| (x.begin, x.end))))
        }
        v1::value::Type::Set => {
            let set = r.set.as_ref().ok_or_else(|| missing("SET"))?;
            Value::Set(set.item.iter().cloned().collect())
        }
        v1::value::Type::Text => {
            return Err(WireError::InvalidValue {
                name: r.name.clone(),
                reason: "TEXT is not a resource type".to_string(),
            })
        }
    };
    let mut out = Resource::new(r.name.clone(), value);
    let role = reservation_role(r);
    if role != "*" {
        out = out.reserved(role);
    }
    Ok(out)
}

/// Converts protobuf resources into the domain type, summing duplicates.
pub fn resources_from_proto(list: &[v1::Resource]) -> Result<Resources, WireError> {
    let mut out = Resources::new();
    for r in list {
        out.add_resource(&resource_from_proto(r)?);
    }
    Ok(out)
}

/// Converts resources to protobuf; with `allocation_role`, each carries the
/// `allocation_info` Mesos puts on offered and allocated resources.
pub fn resources_to_proto(
    resources: &Resources,
    allocation_role: Option<&str>,
) -> Vec<v1::Resource> {
    resources
        .iter()
        .map(|r| {
            let mut p = v1::Resource {
                name: r.name.to_string(),
                ..Default::default()
            };
            match &r.value {
                Value::Scalar(s) => {
                    p.set_type(v1::value::Type::Scalar);
                    p.scalar = Some(v1::value::Scalar { value: s.value() });
                }
                Value::Ranges(ranges) => {
                    p.set_type(v1::value::Type::Ranges);
                    p.ranges = Some(ranges_to_proto(ranges));
                }
                Value::Set(items) => {
                    p.set_type(v1::value::Type::Set);
                    p.set = Some(v1::value::Set {
                        item: items.iter().cloned().collect(),
                    });
                }
            }
            if r.role != "*" {
                let mut reservation = v1::resource::ReservationInfo {
                    role: Some(r.role.to_string()),
                    ..Default::default()
                };
                reservation.set_type(v1::resource::reservation_info::Type::Static);
                p.reservations.push(reservation);
            }
            if let Some(role) = allocation_role {
                p.allocation_info = Some(v1::resource::AllocationInfo {
                    role: Some(role.to_string()),
                });
            }
            p
        })
        .collect()
}

pub fn ranges_to_proto(ranges: &Ranges) -> v1::value::Ranges {
    v1::value::Ranges {
        range: ranges
            .ranges()
            .iter()
            .map(|r| v1::value::Range {
                begin: r.begin,
                end: r.end,
            })
            .collect(),
    }
}

pub fn attributes_to_proto(attributes: &Attributes) -> Vec<v1::Attribute> {
    attributes
        .iter()
        .map(|a: &Attribute| {
            let mut p = v1::Attribute {
                name: a.name.clone(),
                ..Default::default()
            };
            match &a.value {
                AttributeValue::Text(t) => {
                    p.set_type(v1::value::Type::Text);
                    p.text = Some(v1::value::Text { value: t.clone() });
                }
                AttributeValue::Scalar(s) => {
                    p.set_type(v1::value::Type::Scalar);
                    p.scalar = Some(v1::value::Scalar { value: s.value() });
                }
                AttributeValue::Ranges(r) => {
                    p.set_type(v1::value::Type::Ranges);
                    p.ranges = Some(ranges_to_proto(r));
                }
            }
            p
        })
        .collect()
}

/// `[31000-32000, 33000-33001]` as Mesos prints ranges in its state JSON.
pub fn ranges_text(ranges: &[v1::value::Range]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|r| format!("{}-{}", r.begin, r.end))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Resources in the state endpoints' form: `{"cpus": 2.0, "mem": 1024.0, "disk": 0.0,
/// "gpus": 0.0, "ports": "[31000-32000]"}`. cpus, gpus, mem and disk are always present.
pub fn resources_state_json(resources: &Resources) -> Json {
    serde_json::to_value(ResourcesStateJson(resources))
        .expect("resources always serialize to a JSON object")
}

/// [`resources_state_json`] as a [`serde::Serialize`] value, for writing straight into a
/// byte buffer: the master writes it for every agent and framework of `/master/state`.
/// Resources of every role are added up by name; keys are sorted.
#[derive(Debug, Clone, Copy)]
pub struct ResourcesStateJson<'a>(pub &'a Resources);

impl serde::Serialize for ResourcesStateJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        enum Entry<'r> {
            Scalar(Scalar),
            Other(&'r Value),
        }
        // Scalars add up across roles without help; ranges and sets are merged by
        // `flatten`, which allocates, so only when there are any.
        let flat;
        let resources = if self.0.iter().all(|r| matches!(r.value, Value::Scalar(_))) {
            self.0
        } else {
            flat = self.0.flatten();
            &flat
        };
        let mut entries: Vec<(&str, Entry<'_>)> = Vec::with_capacity(resources.len() + 4);
        for name in ["cpus", "gpus", "mem", "disk"] {
            entries.push((name, Entry::Scalar(Scalar::ZERO)));
        }
        for r in resources.iter() {
            let slot = entries.iter_mut().find(|(name, _)| *name == r.name);
            match (&r.value, slot) {
                (Value::Scalar(v), Some((_, Entry::Scalar(sum)))) => *sum += *v,
                (Value::Scalar(v), Some((_, entry))) => *entry = Entry::Scalar(*v),
                (Value::Scalar(v), None) => entries.push((&r.name, Entry::Scalar(*v))),
                (value, Some((_, entry))) => *entry = Entry::Other(value),
                (value, None) => entries.push((&r.name, Entry::Other(value))),
            }
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (name, entry) in &entries {
            match entry {
                Entry::Scalar(s) | Entry::Other(Value::Scalar(s)) => {
                    map.serialize_entry(name, &s.value())?
                }
                Entry::Other(Value::Ranges(ranges)) => {
                    map.serialize_entry(name, &ranges.to_string())?
                }
                Entry::Other(Value::Set(items)) => map.serialize_entry(
                    name,
                    &format!(
                        "{{{}}}",
                        items
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                )?,
            }
        }
        map.end()
    }
}

/// Reserved resources keyed by role: `{"web": {"cpus": 2.0, ...}}`.
pub fn reserved_state_json(resources: &Resources) -> Json {
    let mut by_role: std::collections::BTreeMap<String, Resources> = Default::default();
    for r in resources.reserved().iter() {
        by_role
            .entry(r.role.to_string())
            .or_default()
            .add_resource(r);
    }
    Json::Object(
        by_role
            .into_iter()
            .map(|(role, r)| (role, resources_state_json(&r)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_proto() {
        let r = Resources::parse("cpus:2;mem:1024;ports:[31000-31005,31010-31010];cpus(web):1")
            .unwrap();
        let proto = resources_to_proto(&r, Some("*"));
        assert!(proto.iter().all(|p| p.allocation_info.is_some()));
        let back = resources_from_proto(&proto).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn state_json_shape() {
        let r = Resources::parse("cpus:2;mem:1024;ports:[31000-32000]").unwrap();
        let j = resources_state_json(&r);
        assert_eq!(j["cpus"], 2.0);
        assert_eq!(j["mem"], 1024.0);
        assert_eq!(j["disk"], 0.0);
        assert_eq!(j["gpus"], 0.0);
        assert_eq!(j["ports"], "[31000-32000]");
    }

    #[test]
    fn state_json_adds_up_roles_and_writes_sorted_keys() {
        let r = Resources::parse(
            "cpus:2;cpus(web):1.5;mem:1024;ports:[31000-31005];ports(web):[32000-32000];\
             zones:{a,b};custom:3",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&ResourcesStateJson(&r)).unwrap(),
            r#"{"cpus":3.5,"custom":3.0,"disk":0.0,"gpus":0.0,"mem":1024.0,"#.to_string()
                + r#""ports":"[31000-31005, 32000-32000]","zones":"{a,b}"}"#
        );
        assert_eq!(
            serde_json::to_string(&ResourcesStateJson(&Resources::default())).unwrap(),
            r#"{"cpus":0.0,"disk":0.0,"gpus":0.0,"mem":0.0}"#
        );
    }

    #[test]
    fn bad_protos_are_errors() {
        let mut p = v1::Resource {
            name: "cpus".into(),
            ..Default::default()
        };
        p.set_type(v1::value::Type::Scalar);
        assert!(resources_from_proto(&[p.clone()]).is_err());
        p.scalar = Some(v1::value::Scalar { value: -1.0 });
        assert!(resources_from_proto(&[p.clone()]).is_err());
        p.scalar = Some(v1::value::Scalar { value: f64::NAN });
        assert!(resources_from_proto(&[p]).is_err());
    }
}
