use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.insert(*k, header::HeaderValue::from_static(v));
    }
    map
}

#[test]
fn streaming_is_chosen_as_mesos_chooses_it() {
    let media = |pairs| response_media(&headers(pairs), Encoding::Json);
    assert!(
        media(&[
            ("accept", "application/recordio"),
            ("message-accept", "application/json")
        ])
        .unwrap()
        .streaming
    );
    assert!(
        media(&[("accept", "application/recordio")])
            .unwrap()
            .streaming
    );
    assert!(
        !media(&[("accept", "application/json, application/recordio")])
            .unwrap()
            .streaming
    );
    assert!(!media(&[]).unwrap().streaming);
    assert_eq!(
        media(&[
            ("accept", "application/json"),
            ("message-accept", "application/json")
        ])
        .unwrap_err()
        .status,
        StatusCode::NOT_ACCEPTABLE
    );
    assert_eq!(
        media(&[("message-content-type", "application/json")])
            .unwrap_err()
            .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[test]
fn container_ids_follow_mesos_rules() {
    let id = |value: &str| ContainerId {
        value: value.into(),
        parent: None,
    };
    assert!(check_container_id(&id("abc-1")).is_ok());
    assert!(check_container_id(&id("")).is_err());
    assert!(check_container_id(&id("a.b"))
        .unwrap_err()
        .contains("invalid characters"));
    assert!(check_container_id(&id(&"x".repeat(243)))
        .unwrap_err()
        .contains("maximum length"));
    let nested = ContainerId {
        value: "ok".into(),
        parent: Some(Box::new(id("bad one"))),
    };
    assert!(check_container_id(&nested)
        .unwrap_err()
        .starts_with("'ContainerID.parent' is invalid"));
}

fn input_call(process_io: agent::ProcessIo) -> agent::Call {
    agent::Call {
        r#type: Some(call::Type::AttachContainerInput as i32),
        attach_container_input: Some(call::AttachContainerInput {
            r#type: Some(call::attach_container_input::Type::ProcessIo as i32),
            container_id: None,
            process_io: Some(process_io),
        }),
        ..Default::default()
    }
}

fn stdin(bytes: &[u8]) -> agent::ProcessIo {
    agent::ProcessIo {
        r#type: Some(process_io::Type::Data as i32),
        data: Some(process_io::Data {
            r#type: Some(process_io::data::Type::Stdin as i32),
            data: Some(bytes.to_vec()),
        }),
        control: None,
    }
}

#[test]
fn process_io_records_become_input() {
    assert_eq!(
        input_of(input_call(stdin(b"ls\n")), false).unwrap(),
        Some(Input::Data(Bytes::from_static(b"ls\n")))
    );
    assert_eq!(
        input_of(input_call(stdin(b"")), false).unwrap(),
        Some(Input::Eof)
    );
    assert_eq!(input_of(input_call(stdin(b"")), true).unwrap(), None);
    assert_eq!(
        input_of(input_call(heartbeat_record()), false).unwrap(),
        None
    );
    let resize = agent::ProcessIo {
        r#type: Some(process_io::Type::Control as i32),
        data: None,
        control: Some(process_io::Control {
            r#type: Some(process_io::control::Type::TtyInfo as i32),
            tty_info: Some(mesos_proto::v1::TtyInfo {
                window_size: Some(mesos_proto::v1::tty_info::WindowSize {
                    rows: 40,
                    columns: 120,
                }),
            }),
            heartbeat: None,
        }),
    };
    assert_eq!(
        input_of(input_call(resize), true).unwrap(),
        Some(Input::Resize {
            rows: 40,
            columns: 120
        })
    );
    let mut stdout = stdin(b"x");
    stdout.data.as_mut().unwrap().r#type = Some(process_io::data::Type::Stdout as i32);
    assert!(input_of(input_call(stdout), false)
        .unwrap_err()
        .message
        .contains("'STDIN'"));
}
