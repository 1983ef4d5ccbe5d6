//! Mesos wire messages to Marathon's domain values: offers for placement, status updates
//! for the tracker. The one place the scheduler API's protobufs are read.

use std::collections::BTreeSet;

use mesos_common::resources::{Ranges, Scalar};
use mesos_common::wire::{resources_from_proto, WireError};
use mesos_proto::v1;

use crate::placement::{Agent, Attribute, AttributeValue, FaultDomain, Offer};
use crate::tracker::StatusUpdate;

pub fn offer_from_proto(offer: &v1::Offer) -> Result<Offer, WireError> {
    let mut agent = Agent::new(&offer.agent_id.value, &offer.hostname);
    agent.attributes = offer
        .attributes
        .iter()
        .filter_map(attribute_from_proto)
        .collect();
    agent.fault_domain = offer
        .domain
        .as_ref()
        .and_then(|d| d.fault_domain.as_ref())
        .map(|fd| FaultDomain {
            region: fd.region.name.clone(),
            zone: fd.zone.name.clone(),
        });
    let mut out = Offer::new(
        &offer.id.value,
        agent,
        resources_from_proto(&offer.resources)?,
    );
    // An offer carrying an unavailability window comes from an agent in maintenance.
    out.maintenance = offer.unavailability.is_some();
    Ok(out)
}

fn attribute_from_proto(a: &v1::Attribute) -> Option<Attribute> {
    let value = match a.r#type() {
        v1::value::Type::Text => AttributeValue::Text(a.text.as_ref()?.value.clone()),
        v1::value::Type::Scalar => AttributeValue::Scalar(Scalar::new(a.scalar.as_ref()?.value)),
        v1::value::Type::Ranges => AttributeValue::Ranges(Ranges::new(
            a.ranges.as_ref()?.range.iter().map(|r| (r.begin, r.end)),
        )),
        v1::value::Type::Set => AttributeValue::Set(
            a.set
                .as_ref()?
                .item
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>(),
        ),
    };
    Some(Attribute {
        name: a.name.clone(),
        value,
    })
}

pub fn status_from_proto(s: &v1::TaskStatus, now_ms: u64) -> StatusUpdate {
    let ip_addresses = s
        .container_status
        .as_ref()
        .map(|c| {
            c.network_infos
                .iter()
                .flat_map(|n| n.ip_addresses.iter())
                .filter_map(|ip| ip.ip_address.clone())
                .collect()
        })
        .unwrap_or_default();
    StatusUpdate {
        task_id: s.task_id.value.clone(),
        agent_id: s.agent_id.as_ref().map(|a| a.value.clone()),
        state: s.state().as_str_name().to_string(),
        message: s.message.clone(),
        healthy: s.healthy,
        ip_addresses,
        timestamp_ms: s.timestamp.map(|t| (t * 1000.0) as u64).unwrap_or(now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_becomes_a_placement_offer() {
        let offer = v1::Offer {
            id: v1::OfferId { value: "o1".into() },
            agent_id: v1::AgentId { value: "a1".into() },
            hostname: "h1".into(),
            attributes: vec![v1::Attribute {
                name: "rack".into(),
                r#type: v1::value::Type::Text as i32,
                text: Some(v1::value::Text { value: "r1".into() }),
                ..Default::default()
            }],
            resources: mesos_common::wire::resources_to_proto(
                &mesos_common::resources::Resources::parse("cpus:2;mem:64;ports:[1-3]").unwrap(),
                None,
            ),
            ..Default::default()
        };
        let o = offer_from_proto(&offer).unwrap();
        assert_eq!(o.agent.hostname, "h1");
        assert_eq!(o.agent.attribute("rack").unwrap().to_string(), "r1");
        assert!(!o.maintenance);
    }

    #[test]
    fn a_status_keeps_state_health_and_addresses() {
        let mut s = v1::TaskStatus {
            task_id: v1::TaskId { value: "t".into() },
            healthy: Some(true),
            timestamp: Some(12.5),
            container_status: Some(Box::new(v1::ContainerStatus {
                network_infos: vec![v1::NetworkInfo {
                    ip_addresses: vec![v1::network_info::IpAddress {
                        ip_address: Some("172.17.0.2".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        };
        s.set_state(v1::TaskState::TaskRunning);
        let u = status_from_proto(&s, 0);
        assert_eq!(u.state, "TASK_RUNNING");
        assert_eq!(u.healthy, Some(true));
        assert_eq!(u.timestamp_ms, 12500);
        assert_eq!(u.ip_addresses, vec!["172.17.0.2".to_string()]);
    }
}
