//! Agents in the state views, and the JSON each keeps from one request to the next.

use std::sync::{Arc, Mutex};

use mesos_common::resources::Resources;
use mesos_common::wire::{self, ResourcesStateJson};
use mesos_proto::v1;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::json::{write, Object};
use crate::engine::{Agent, Engine};

/// Attributes as Mesos's state JSON writes them: `{"rack": "a", "slots": 4.0}`.
struct AttributesJson<'a>(&'a [v1::Attribute]);

impl Serialize for AttributesJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Sorted and, for a repeated name, the last one wins (a JSON object's rules).
        let mut m = Map::new();
        for a in self.0 {
            let v = match a.r#type() {
                v1::value::Type::Scalar => {
                    json!(a.scalar.as_ref().map(|s| s.value).unwrap_or(0.0))
                }
                v1::value::Type::Ranges => Value::String(wire::ranges_text(
                    a.ranges.as_ref().map(|r| r.range.as_slice()).unwrap_or(&[]),
                )),
                v1::value::Type::Set => Value::String(format!(
                    "{{{}}}",
                    a.set.as_ref().map(|s| s.item.join(",")).unwrap_or_default()
                )),
                v1::value::Type::Text => {
                    Value::String(a.text.as_ref().map(|t| t.value.clone()).unwrap_or_default())
                }
            };
            m.insert(a.name.clone(), v);
        }
        m.serialize(serializer)
    }
}

/// The members of an agent's JSON that stay as they are while it is registered,
/// without the braces.
fn agent_fragment(a: &Agent) -> String {
    let host = a
        .http_address
        .rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_else(|| a.info.hostname.clone());
    let port = a.info.port.unwrap_or(5051);
    let mut out = Vec::with_capacity(1024);
    let mut o = Object::open(&mut out);
    o.field("id", &a.id);
    o.field("pid", &format!("slave(1)@{host}:{port}"));
    o.field("hostname", &a.info.hostname);
    o.field("port", &port);
    o.field("registered_time", &a.registered_time);
    // Mesos writes it only for an agent that re-registered (never `null`).
    if let Some(t) = a.reregistered_time {
        o.field("reregistered_time", &t);
    }
    o.field("resources", &ResourcesStateJson(&a.total));
    o.field("reserved_resources", &wire::reserved_state_json(&a.total));
    o.field(
        "unreserved_resources",
        &ResourcesStateJson(&a.total.unreserved()),
    );
    o.field("attributes", &AttributesJson(&a.info.attributes));
    o.field("version", &a.version);
    o.field(
        "capabilities",
        &["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
    );
    o.close();
    let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
    text.pop();
    text.remove(0);
    text
}

/// What an agent's used and offered resources are computed from: the allocator's revision
/// of the agent (None: it does not know the agent) and the revision of its offers. Equal
/// keys mean equal usage, so a rendering stored under a key stays right for that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UsageKey {
    allocations: Option<u64>,
    pub(super) offers: u64,
}

impl UsageKey {
    fn of(e: &Engine, a: &Agent) -> Self {
        UsageKey {
            allocations: a
                .allocator_slot
                .and_then(|slot| e.allocator.agent_revision(slot, &a.id)),
            offers: a.offers_revision,
        }
    }
}

/// An agent's JSON members (no braces) except `active` and `deactivated`, which are read
/// at every request: the fragment that stays while it is registered, then its used and
/// offered resources as of `usage` (None: not rendered yet, only the fragment).
#[derive(Debug, Default)]
struct Rendered {
    usage: Option<UsageKey>,
    text: Arc<str>,
}

#[derive(Debug, Default)]
struct AgentJsonInner {
    /// The agent's id, to order the agents by.
    pub(super) id: Box<str>,
    /// `text[..fragment_len]` is the part that stays while it is registered.
    fragment_len: usize,
    pub(super) rendered: Mutex<Rendered>,
}

/// An agent's JSON in the state views, kept from one request to the next in the agent's
/// [`ViewSlot`](crate::engine::ViewSlot). Made by the first view after the agent (re-)registers (the engine gives
/// each registration a new slot, so it starts afresh); shared by the engine's agent and
/// the views' writers, which store back what they render.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentJson(Arc<AgentJsonInner>);

impl AgentJson {
    /// The agent's kept JSON, made now if no view has rendered it since it registered.
    pub(crate) fn of(a: &Agent) -> Self {
        AgentJson(a.views.get_or_init(|| {
            let fragment = agent_fragment(a);
            AgentJsonInner {
                id: a.id.as_str().into(),
                fragment_len: fragment.len(),
                rendered: Mutex::new(Rendered {
                    usage: None,
                    text: fragment.into(),
                }),
            }
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rendered> {
        // Whoever held it only swapped in a finished rendering.
        self.0.rendered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rendering for `usage`, if that is what is kept.
    fn current(&self, usage: UsageKey) -> Option<Arc<str>> {
        let kept = self.lock();
        (kept.usage == Some(usage)).then(|| kept.text.clone())
    }

    /// Renders the agent with `used` and `offered` and keeps that for `usage`.
    fn render(&self, usage: UsageKey, used: &Resources, offered: &Resources) -> Arc<str> {
        let kept = self.lock().text.clone();
        let fragment = &kept[..self.0.fragment_len];
        let mut out = Vec::with_capacity(fragment.len() + 256);
        out.extend_from_slice(fragment.as_bytes());
        out.push(b',');
        write(&mut out, "used_resources");
        out.push(b':');
        write(&mut out, &ResourcesStateJson(used));
        out.push(b',');
        write(&mut out, "offered_resources");
        out.push(b':');
        write(&mut out, &ResourcesStateJson(offered));
        let text: Arc<str> = String::from_utf8(out)
            .expect("serde_json writes UTF-8")
            .into();
        *self.lock() = Rendered {
            usage: Some(usage),
            text: text.clone(),
        };
        text
    }
}

/// An agent as the snapshot found it: its kept rendering if that was current, else the
/// usage to render it with.
pub(super) enum AgentRendering {
    Current(Arc<str>),
    /// What to render it with; the used resources are worked out by the writer, so that
    /// the actor only clones (all 50,000 agents are stale right after they were offered).
    Stale {
        usage: UsageKey,
        allocated: Resources,
        offered: Resources,
    },
}

pub(super) struct AgentSnapshot {
    pub(super) json: AgentJson,
    pub(super) rendering: AgentRendering,
    pub(super) active: bool,
    deactivated: bool,
}

impl AgentSnapshot {
    pub(super) fn take(e: &Engine, a: &Agent) -> Self {
        let usage = UsageKey::of(e, a);
        let json = AgentJson::of(a);
        let rendering = match json.current(usage) {
            Some(text) => AgentRendering::Current(text),
            None => {
                let (allocated, offered) = e.agent_allocated_and_offered(a);
                AgentRendering::Stale {
                    usage,
                    allocated,
                    offered,
                }
            }
        };
        AgentSnapshot {
            json,
            rendering,
            active: Engine::agent_connected_now(a),
            deactivated: crate::engine::admin::agent_status(e, &a.id).0,
        }
    }

    pub(super) fn id(&self) -> &str {
        &self.json.0.id
    }

    /// Renders it if the kept rendering was stale (keeping the new one for the next view).
    pub(super) fn render(&mut self) {
        if let AgentRendering::Stale {
            usage,
            allocated,
            offered,
        } = &self.rendering
        {
            let used = crate::engine::used_of(allocated, offered);
            self.rendering = AgentRendering::Current(self.json.render(*usage, &used, offered));
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        let AgentRendering::Current(text) = &self.rendering else {
            unreachable!("agents are rendered before they are written");
        };
        // Written as bytes: through serde, two booleans cost as much as copying the rest.
        out.push(b'{');
        if !text.is_empty() {
            out.extend_from_slice(text.as_bytes());
            out.push(b',');
        }
        out.extend_from_slice(if self.active {
            br#""active":true,"#
        } else {
            br#""active":false,"#
        });
        out.extend_from_slice(if self.deactivated {
            br#""deactivated":true}"#
        } else {
            br#""deactivated":false}"#
        });
    }
}

/// Orders agents by id. Ids share a long prefix (the master's id) and sit behind two
/// pointers each, so comparing them as strings was most of writing the summary; this
/// sorts by the eight bytes after the shared prefix and compares whole ids only where
/// those are equal. Padding with zero bytes keeps the order strings have.
pub(super) fn sort_by_id(agents: &mut Vec<AgentSnapshot>) {
    let Some(first) = agents.first().map(|a| a.json.0.id.clone()) else {
        return;
    };
    let shared = agents
        .iter()
        .map(|a| {
            let id = a.id().as_bytes();
            id.iter()
                .zip(first.as_bytes())
                .take_while(|(x, y)| x == y)
                .count()
        })
        .min()
        .unwrap_or(0);
    let key = |a: &AgentSnapshot| {
        let tail = &a.id().as_bytes()[shared..];
        let mut bytes = [0u8; 8];
        let n = tail.len().min(8);
        bytes[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(bytes)
    };
    let mut keyed: Vec<(u64, AgentSnapshot)> = agents.drain(..).map(|a| (key(&a), a)).collect();
    keyed.sort_unstable_by(|(ka, a), (kb, b)| ka.cmp(kb).then_with(|| a.id().cmp(b.id())));
    agents.extend(keyed.into_iter().map(|(_, a)| a));
}
