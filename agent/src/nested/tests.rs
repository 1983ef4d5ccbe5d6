use super::*;

fn id(parent: &str, value: &str) -> ContainerId {
    ContainerId {
        value: value.into(),
        parent: Some(Box::new(ContainerId {
            value: parent.into(),
            parent: None,
        })),
    }
}

fn host(command: &str) -> Runtime {
    Runtime::Host {
        program: "/bin/sh".into(),
        argv: vec!["sh".into(), "-c".into(), command.into()],
        env: BTreeMap::from([
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("GREETING".into(), "hello".into()),
        ]),
        cwd: std::env::temp_dir(),
        user: None,
    }
}

async fn collect(mut output: mpsc::Receiver<Output>) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some((stream, data)) = output.recv().await {
        match stream {
            Stream::Stdout => out.extend_from_slice(&data),
            Stream::Stderr => err.extend_from_slice(&data),
        }
    }
    (
        String::from_utf8_lossy(&out).into(),
        String::from_utf8_lossy(&err).into(),
    )
}

/// Running (a zombie has ended; a container's init may be slow to reap it).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

#[test]
fn container_ids_print_dotted() {
    assert_eq!(dotted(&id("a", "b")), "a.b");
    assert_eq!(
        dotted(&ContainerId {
            value: "x".into(),
            parent: Some(Box::new(id("a", "b")))
        }),
        "a.b.x"
    );
}

#[test]
fn parent_pid_reads_past_odd_command_names() {
    let me = std::process::id() as i32;
    assert_eq!(parent_pid(me), Some(nix::unistd::getppid().as_raw()));
}

#[tokio::test]
async fn a_session_streams_output_and_records_the_exit() {
    let nested = NestedContainers::default();
    let launch = Launch {
        id: id("p", "s1"),
        runtime: host("echo $GREETING; echo oops >&2; exit 3"),
        tty: None,
    };
    let (output, _guard) = nested.launch_session(launch).await.unwrap();
    let (out, err) = collect(output).await;
    assert_eq!((out.as_str(), err.as_str()), ("hello\n", "oops\n"));
    let ended = nested.wait(&id("p", "s1")).await.unwrap();
    assert_eq!(ended.status, 3 << 8);
    assert!(nested.running_under("p").is_empty());
    let (output, _guard) = nested
        .launch_session(Launch {
            id: id("p", "s1"),
            runtime: host("sleep 5"),
            tty: None,
        })
        .await
        .unwrap();
    let again = Launch {
        id: id("p", "s1"),
        runtime: host("true"),
        tty: None,
    };
    assert_eq!(
        nested.launch_session(again).await.unwrap_err(),
        NestedError::Exists("p.s1".into())
    );
    drop(output);
}

#[tokio::test]
async fn input_reaches_the_process_and_eof_ends_it() {
    let nested = NestedContainers::default();
    let launch = Launch {
        id: id("p", "s2"),
        runtime: host("read line; echo got $line"),
        tty: None,
    };
    let (output, _guard) = nested.launch_session(launch).await.unwrap();
    let input = nested.attach_input(&id("p", "s2")).unwrap();
    assert_eq!(
        nested.attach_input(&id("p", "s2")).unwrap_err(),
        NestedError::InputBusy
    );
    assert!(input.send(Input::Data(Bytes::from_static(b"abc\n"))).await);
    assert!(input.send(Input::Eof).await);
    assert_eq!(collect(output).await.0, "got abc\n");
    assert_eq!(nested.wait(&id("p", "s2")).await.unwrap().status, 0);
}

#[tokio::test]
async fn a_tty_session_sees_a_terminal_of_the_given_size() {
    let nested = NestedContainers::default();
    let launch = Launch {
        id: id("p", "s3"),
        runtime: host("test -t 0 && stty size"),
        tty: Some(Some((33, 101))),
    };
    let (output, _guard) = nested.launch_session(launch).await.unwrap();
    assert_eq!(collect(output).await.0.trim(), "33 101");
    assert_eq!(nested.wait(&id("p", "s3")).await.unwrap().status, 0);
}

#[tokio::test]
async fn dropping_the_session_kills_the_process_and_its_children() {
    let nested = NestedContainers::default();
    let launch = Launch {
        id: id("p", "s4"),
        runtime: host("sleep 300 & echo $!; wait"),
        tty: None,
    };
    let (mut output, guard) = nested.launch_session(launch).await.unwrap();
    let (_, first) = output.recv().await.unwrap();
    let sleeper: i32 = String::from_utf8_lossy(&first).trim().parse().unwrap();
    assert!(alive(sleeper));
    drop(guard);
    drop(output);
    let ended = nested.wait(&id("p", "s4")).await.unwrap();
    assert_eq!(ended.status & 0x7f, libc::SIGKILL);
    let gone = tokio::time::timeout(Duration::from_secs(5), async {
        while alive(sleeper) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the background sleep survived its session");
}

#[tokio::test]
async fn unknown_containers_are_not_found() {
    let nested = NestedContainers::default();
    assert_eq!(
        nested.wait(&id("p", "x")).await.unwrap_err(),
        NestedError::NotFound("p.x".into())
    );
    assert!(nested.attach_output(&id("p", "x")).is_err());
    assert!(!nested.kill(&id("p", "x"), Signal::SIGTERM));
}
