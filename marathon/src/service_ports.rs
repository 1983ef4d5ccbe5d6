//! Service ports: `servicePort: 0` (and `portDefinitions[].port: 0`) get a port from
//! `--local_port_min..--local_port_max`, unique across all apps and kept across updates.

use std::collections::BTreeSet;
use std::ops::Range;

use crate::app::{AppDefinition, NetworkMode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no free service port left in {start}-{end} (--local_port_min/--local_port_max)")]
pub struct PortsExhausted {
    pub start: u32,
    pub end: u32,
}

/// Fills in the zero service ports of `app`: the port the previous version had at the
/// same index if there was one, else the lowest free port of `range`. `used` holds the
/// service ports of every other app and gets this app's ports added.
pub fn assign(
    app: &mut AppDefinition,
    previous: Option<&AppDefinition>,
    used: &mut BTreeSet<u32>,
    range: Range<u32>,
) -> Result<(), PortsExhausted> {
    let old: Vec<u32> = previous.map(|p| p.service_ports()).unwrap_or_default();
    let mut slots: Vec<&mut u32> = match app.network_mode() {
        NetworkMode::Host => app
            .port_definitions
            .iter_mut()
            .map(|p| &mut p.port)
            .collect(),
        _ => match app
            .container
            .as_mut()
            .and_then(|c| c.port_mappings.as_mut())
        {
            Some(m) => m.iter_mut().map(|m| &mut m.service_port).collect(),
            None => vec![],
        },
    };
    // Declared ports are taken first, so a reused port cannot collide with them.
    for slot in slots.iter() {
        if **slot != 0 {
            used.insert(**slot);
        }
    }
    let mut next = range.start;
    for (i, slot) in slots.iter_mut().enumerate() {
        if **slot != 0 {
            continue;
        }
        if let Some(&p) = old.get(i) {
            if p != 0 && used.insert(p) {
                **slot = p;
                continue;
            }
        }
        while next < range.end && used.contains(&next) {
            next += 1;
        }
        if next >= range.end {
            return Err(PortsExhausted {
                start: range.start,
                end: range.end,
            });
        }
        used.insert(next);
        **slot = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::update::AppUpdate;
    use crate::app::PathId;
    use serde_json::json;

    fn app(body: serde_json::Value) -> AppDefinition {
        let u = AppUpdate::from_value(body).unwrap();
        u.apply(
            AppDefinition::with_defaults(PathId::parse(u.id.as_deref().unwrap())),
            true,
        )
    }

    #[test]
    fn zeros_get_free_ports_and_keep_them_on_update() {
        let mut used = BTreeSet::from([10000]);
        let mut a =
            app(json!({"id": "a", "cmd": "x", "portDefinitions": [{"port": 0}, {"port": 0}]}));
        assign(&mut a, None, &mut used, 10000..20000).unwrap();
        assert_eq!(a.service_ports(), vec![10001, 10002]);
        // An update that says 0 again keeps the ports it had.
        let mut b =
            app(json!({"id": "a", "cmd": "y", "portDefinitions": [{"port": 0}, {"port": 0}]}));
        let mut used = BTreeSet::from([10000]);
        assign(&mut b, Some(&a), &mut used, 10000..20000).unwrap();
        assert_eq!(b.service_ports(), vec![10001, 10002]);
    }

    #[test]
    fn bridge_service_ports_and_exhaustion() {
        let mut used = BTreeSet::new();
        let mut a = app(
            json!({"id": "a", "container": {"docker": {"image": "i", "network": "BRIDGE",
            "portMappings": [{"containerPort": 80, "servicePort": 0}, {"containerPort": 81, "servicePort": 5}]}}}),
        );
        assign(&mut a, None, &mut used, 5..7).unwrap();
        assert_eq!(a.service_ports(), vec![6, 5]);
        let mut b = app(json!({"id": "b", "cmd": "x"}));
        assert!(assign(&mut b, None, &mut used, 5..7).is_err());
    }
}
