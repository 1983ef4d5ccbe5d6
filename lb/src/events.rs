//! Marathon's event stream, read: server-sent-event frames (`event: <type>` /
//! `data: <json>` / blank line, with `\n` or `\r\n` line ends) cut from arbitrary chunks,
//! and the few events that change what marathon-lb serves.

use serde_json::Value;

/// One frame of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Cuts frames out of the bytes as they arrive.
#[derive(Debug, Default)]
pub struct FrameReader {
    line: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl FrameReader {
    /// The frames completed by `chunk`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Frame> {
        let mut frames = vec![];
        for &b in chunk {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.line.clear();
            if line.is_empty() {
                if !self.data.is_empty() {
                    frames.push(Frame {
                        event: self.event.take(),
                        data: self.data.join("\n"),
                    });
                }
                self.event = None;
                self.data.clear();
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => self.event = Some(value.to_string()),
                "data" => self.data.push(value.to_string()),
                _ => {} // comments (":..."), id, retry
            }
        }
        frames
    }
}

/// The events marathon-lb acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `status_update_event`: a task's new Mesos state.
    Status {
        task_id: String,
        app_id: String,
        state: String,
    },
    /// `health_status_changed_event`: a Marathon health check of a task turned alive or
    /// not. `instance` is Marathon's instance id (`instanceId`), or the task id (`taskId`)
    /// of Marathons before instances.
    Health {
        instance: String,
        app_id: String,
        alive: bool,
    },
    /// An event after which the apps must be fetched again (app changes, health).
    Changed(String),
    /// Everything else.
    Other(String),
}

/// The event types marathon-lb subscribes to (`event_type` on `/v2/events`).
pub const SUBSCRIBED: &[&str] = &[
    "api_post_event",
    "status_update_event",
    "health_status_changed_event",
    "instance_health_changed_event",
    "app_terminated_event",
];

/// The event in a frame; `None` when its data is not a JSON object.
pub fn parse(frame: &Frame) -> Option<Event> {
    let data: Value = serde_json::from_str(frame.data.trim()).ok()?;
    let kind = data["eventType"]
        .as_str()
        .map(str::to_string)
        .or_else(|| frame.event.clone())?;
    let text = |k: &str| data[k].as_str().unwrap_or_default().to_string();
    Some(match kind.as_str() {
        "status_update_event" => Event::Status {
            task_id: text("taskId"),
            app_id: text("appId"),
            state: text("taskStatus"),
        },
        "health_status_changed_event" if data["alive"].is_boolean() => Event::Health {
            instance: data["instanceId"]
                .as_str()
                .or_else(|| data["taskId"].as_str())
                .unwrap_or_default()
                .to_string(),
            app_id: text("appId"),
            alive: data["alive"] == true,
        },
        k if SUBSCRIBED.contains(&k) => Event::Changed(kind),
        _ => Event::Other(kind),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_across_chunks_and_line_ends() {
        let stream = b"event: event_stream_attached\r\ndata: {\"eventType\":\"event_stream_attached\"}\r\n\r\n\r\nevent: status_update_event\ndata: {\"eventType\":\"status_update_event\",\"taskId\":\"t1\",\"appId\":\"/web\",\"taskStatus\":\"TASK_KILLING\"}\n\n: comment\n\n";
        for split in [1, 3, 7, stream.len()] {
            let mut r = FrameReader::default();
            let frames: Vec<Frame> = stream.chunks(split).flat_map(|c| r.push(c)).collect();
            assert_eq!(frames.len(), 2, "split {split}");
            assert_eq!(frames[0].event.as_deref(), Some("event_stream_attached"));
            assert_eq!(
                parse(&frames[0]),
                Some(Event::Other("event_stream_attached".into()))
            );
            assert_eq!(
                parse(&frames[1]),
                Some(Event::Status {
                    task_id: "t1".into(),
                    app_id: "/web".into(),
                    state: "TASK_KILLING".into()
                })
            );
        }
    }

    #[test]
    fn data_lines_join_and_the_type_falls_back_to_the_event_line() {
        let mut r = FrameReader::default();
        let frames = r.push(b"event: api_post_event\ndata: {\"clientIp\":\ndata: \"1.2.3.4\"}\n\n");
        assert_eq!(frames[0].data, "{\"clientIp\":\n\"1.2.3.4\"}");
        assert_eq!(
            parse(&frames[0]),
            Some(Event::Changed("api_post_event".into()))
        );
        let health = |data: &str| {
            parse(&Frame {
                event: None,
                data: data.into(),
            })
        };
        assert_eq!(
            health(
                r#"{"eventType":"health_status_changed_event","appId":"/web","instanceId":"web.instance-1","alive":false}"#
            ),
            Some(Event::Health {
                instance: "web.instance-1".into(),
                app_id: "/web".into(),
                alive: false
            })
        );
        assert_eq!(
            health(
                r#"{"eventType":"health_status_changed_event","appId":"/web","taskId":"web.1","alive":true}"#
            ),
            Some(Event::Health {
                instance: "web.1".into(),
                app_id: "/web".into(),
                alive: true
            })
        );
        assert_eq!(
            health(r#"{"eventType":"health_status_changed_event","appId":"/web"}"#),
            Some(Event::Changed("health_status_changed_event".into()))
        );
        let junk = Frame {
            event: Some("x".into()),
            data: "not json".into(),
        };
        assert_eq!(parse(&junk), None);
    }
}
