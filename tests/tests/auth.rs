//! Authentication and authorization as Mesos does them, against the real binaries:
//! HTTP Basic by realm on the master (401 with the realm's challenge, open endpoints
//! open), a framework's principal checked against its credentials, agents refused on
//! the agent stream without the right `--credential`, executors' tokens checked by the
//! agent, and `--acls` refusing a framework, a task, a teardown and `/flags`, and
//! filtering what `/state` and the operator API show.

use std::time::Duration;

use mesos_tests::credentials::{basic, credential_file, credentials_file};
use mesos_tests::recordio::RecordIoDecoder;
use mesos_tests::*;
use serde_json::{json, Value};

async fn get_as(url: &str, auth: Option<&str>) -> http::Response {
    let mut request = http::client().get(url);
    if let Some(a) = auth {
        request = request.header("Authorization", a);
    }
    http::send(request).await.expect("GET")
}

async fn post_json(url: &str, body: &Value, auth: Option<&str>) -> http::Response {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    http::post(url, body.to_string(), &headers).await
}

fn assert_challenge(response: &http::Response, realm: &str) {
    assert_eq!(response.status, 401, "{}", response.body);
    assert_eq!(response.body, "401 Unauthorized.");
    assert_eq!(
        response.header("www-authenticate"),
        Some(format!("Basic realm=\"{realm}\"").as_str()),
    );
}

/// Waits until the master (read with `auth`) lists `count` active agents.
async fn wait_for_agents(cluster: &Cluster, count: usize, auth: Option<&str>) {
    let url = cluster.master_url("/master/state");
    eventually("agents to register", TIMEOUT, async || {
        let r = get_as(&url, auth).await;
        let n = r.json()["slaves"].as_array().map_or(0, Vec::len);
        (r.status == 200 && n >= count).then_some(())
    })
    .await;
}

/// A SUBSCRIBE whose answer is read to its end: (status, events).
async fn subscribe_raw(master: &str, info: Value, auth: Option<&str>) -> (u16, Vec<Value>, String) {
    let call = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}});
    let mut request = http::client()
        .post(scheduler::scheduler_url(master))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(call.to_string());
    if let Some(a) = auth {
        request = request.header("Authorization", a);
    }
    let response = tokio::time::timeout(TIMEOUT, request.send())
        .await
        .expect("an answer")
        .expect("SUBSCRIBE");
    let status = response.status().as_u16();
    let bytes = tokio::time::timeout(TIMEOUT, response.bytes())
        .await
        .expect("a refused stream ends")
        .unwrap_or_default();
    let mut decoder = RecordIoDecoder::new();
    let events = decoder
        .feed(&bytes)
        .map(|records| {
            records
                .iter()
                .filter_map(|r| serde_json::from_slice(r).ok())
                .collect()
        })
        .unwrap_or_default();
    (status, events, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_guards_the_master_by_realm() {
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials_file(
        dir.path(),
        "credentials",
        &[("fw", "fw-secret"), ("ops", "ops-secret")],
    );
    let mut cluster = Cluster::start_with(ClusterOptions {
        agents: 0,
        master_flags: vec![
            format!("--credentials=file://{creds}"),
            "--authenticate_frameworks".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
        ],
        ..Default::default()
    })
    .await;
    cluster.add_agent().await;
    let ops = basic("ops", "ops-secret");
    let fw = basic("fw", "fw-secret");
    wait_for_agents(&cluster, 1, Some(&ops)).await;

    // Read-only endpoints: 401 with the realm unless the credentials are right.
    for path in [
        "/master/state",
        "/state.json",
        "/master/tasks",
        "/flags",
        "/metrics/snapshot",
    ] {
        let url = cluster.master_url(path);
        assert_challenge(&get_as(&url, None).await, "mesos-master-readonly");
        assert_challenge(
            &get_as(&url, Some(&basic("ops", "wrong"))).await,
            "mesos-master-readonly",
        );
        assert_eq!(get_as(&url, Some(&ops)).await.status, 200, "{path}");
    }
    // A ':' in the secret never authenticates (libprocess splits on it), nor does a
    // scheme spelled otherwise.
    let url = cluster.master_url("/master/state");
    assert_eq!(
        get_as(&url, Some(&basic("ops", "ops:secret"))).await.status,
        401
    );
    assert_eq!(
        get_as(&url, Some(&ops.replace("Basic", "basic")))
            .await
            .status,
        401
    );
    // Open endpoints stay open.
    for path in ["/health", "/master/health", "/version"] {
        assert_eq!(
            get_as(&cluster.master_url(path), None).await.status,
            200,
            "{path}"
        );
    }
    assert_eq!(get_as(&cluster.master_url("/"), None).await.status, 200);
    // /flags shows the credentials' path, never their secrets.
    let flags = get_as(&cluster.master_url("/master/flags"), Some(&ops)).await;
    assert_eq!(
        flags.json()["flags"]["credentials"],
        creds.as_str(),
        "{}",
        flags.body
    );
    assert!(!flags.body.contains("ops-secret"), "{}", flags.body);

    // The operator API is read-write.
    let api = cluster.master_url("/api/v1");
    let health = json!({"type": "GET_HEALTH"});
    assert_challenge(
        &post_json(&api, &health, None).await,
        "mesos-master-readwrite",
    );
    assert_eq!(post_json(&api, &health, Some(&ops)).await.status, 200);

    // Frameworks: no or wrong credentials get 401 with the scheduler realm.
    let scheduler_url = scheduler::scheduler_url(&cluster.master_addr());
    let subscribe = json!({"type": "SUBSCRIBE",
        "subscribe": {"framework_info": framework_info("authn")}});
    assert_challenge(
        &post_json(&scheduler_url, &subscribe, None).await,
        "mesos-master-scheduler",
    );
    assert_challenge(
        &post_json(&scheduler_url, &subscribe, Some(&basic("fw", "nope"))).await,
        "mesos-master-scheduler",
    );
    // A principal in FrameworkInfo other than the authenticated one: 400.
    let mut other = framework_info("authn");
    other["principal"] = json!("someone-else");
    let (status, _, body) = subscribe_raw(&cluster.master_addr(), other, Some(&fw)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains(
            "Authenticated principal 'fw' does not match principal 'someone-else' set in `FrameworkInfo`"
        ),
        "{body}"
    );

    // The right credentials without a principal: the master fills it in, and the
    // framework runs a task with every call authenticated.
    let call =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info("authn")}});
    let mut sched =
        Scheduler::try_subscribe(&cluster.master_addr(), call, &[("Authorization", &fw)])
            .await
            .unwrap_or_else(|r| panic!("{} {}", r.status, r.body));
    let offer = sched.next_offer().await;
    let task_id = unique_id("authn");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "true",
                0.1,
                32.0,
            )],
        )
        .await;
    sched.await_state(&task_id, "TASK_FINISHED").await;
    let frameworks = get_as(&cluster.master_url("/master/frameworks"), Some(&ops)).await;
    assert_eq!(frameworks.json()["frameworks"][0]["principal"], "fw");

    // A call authenticated as another principal is refused.
    let revive = json!({"type": "REVIVE", "framework_id": {"value": sched.framework_id}});
    let refused = http::post(
        &scheduler_url,
        revive.to_string(),
        &[
            ("Content-Type", "application/json"),
            ("Mesos-Stream-Id", &sched.stream_id),
            ("Authorization", &ops),
        ],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Authenticated principal 'ops' does not match principal 'fw'"),
        "{}",
        refused.body
    );

    // Re-subscribing the framework under another principal is refused on the stream.
    let mut info = framework_info("authn");
    info["id"] = json!({"value": sched.framework_id});
    info["principal"] = json!("ops");
    let (status, events, body) = subscribe_raw(&cluster.master_addr(), info, Some(&ops)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(
        events[0]["error"]["message"],
        "Changing framework's principal is not allowed."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_refuse_frameworks_tasks_and_hide_what_may_not_be_seen() {
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials_file(
        dir.path(),
        "credentials",
        &[("ops", "ops-secret"), ("viewer", "viewer-secret")],
    );
    let acls = json!({
        "register_frameworks": [
            {"principals": {"values": ["intruder"]}, "roles": {"type": "NONE"}}
        ],
        "run_tasks": [
            {"principals": {"type": "NONE"}, "users": {"values": ["forbidden-user"]}}
        ],
        "view_frameworks": [
            {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ],
        "view_flags": [
            {"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}
        ],
        "teardown_frameworks": [
            {"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}
        ]
    });
    let acls_path = dir.path().join("acls.json");
    std::fs::write(&acls_path, acls.to_string()).unwrap();
    let mut cluster = Cluster::start_with(ClusterOptions {
        agents: 0,
        master_flags: vec![
            format!("--credentials={creds}"),
            "--authenticate_http_readonly".into(),
            format!("--acls=file://{}", acls_path.display()),
        ],
        ..Default::default()
    })
    .await;
    cluster.add_agent().await;
    let ops = basic("ops", "ops-secret");
    let viewer = basic("viewer", "viewer-secret");
    wait_for_agents(&cluster, 1, Some(&ops)).await;

    // A framework whose principal may not register its role: an ERROR, then the end.
    let mut intruder = framework_info("intruder");
    intruder["principal"] = json!("intruder");
    let (status, events, body) = subscribe_raw(&cluster.master_addr(), intruder, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(
        events[0]["error"]["message"],
        "Not authorized to register framework  with roles { * }"
    );

    // A task under a user nobody may run tasks as: TASK_ERROR from the master.
    let mut info = framework_info("acl");
    info["principal"] = json!("fw");
    let mut sched = cluster.subscribe_with(info).await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let denied = unique_id("denied");
    let mut task = command_task(&denied, &agent_id, "true", 0.1, 32.0);
    task["command"]["user"] = json!("forbidden-user");
    let allowed = unique_id("allowed");
    let linger = command_task(&allowed, &agent_id, "sleep 60", 0.1, 32.0);
    sched.launch(&offer, vec![task, linger]).await;
    let error = sched.await_state(&denied, "TASK_ERROR").await;
    assert_eq!(error["source"], "SOURCE_MASTER", "{error}");
    assert_eq!(error["reason"], "REASON_TASK_UNAUTHORIZED", "{error}");
    assert_eq!(
        error["message"],
        format!(
            "Not authorized to launch task {denied} of framework {} under user 'forbidden-user'",
            sched.framework_id
        )
        .as_str()
    );
    sched.await_state(&allowed, "TASK_RUNNING").await;

    // Views: ops sees the framework and its task, viewer sees none, and neither does
    // an unauthenticated operator call.
    let frameworks_of = |state: &Value| state["frameworks"].as_array().map_or(0, Vec::len);
    let state = get_as(&cluster.master_url("/master/state"), Some(&ops))
        .await
        .json();
    assert_eq!(frameworks_of(&state), 1, "{state}");
    let state = get_as(&cluster.master_url("/master/state"), Some(&viewer))
        .await
        .json();
    assert_eq!(frameworks_of(&state), 0, "{state}");
    assert_eq!(
        state["slaves"].as_array().map_or(0, Vec::len),
        1,
        "agents stay visible"
    );
    let listed = get_as(&cluster.master_url("/master/frameworks"), Some(&viewer))
        .await
        .json();
    assert_eq!(frameworks_of(&listed), 0, "{listed}");
    let tasks = get_as(&cluster.master_url("/master/tasks"), Some(&ops))
        .await
        .json();
    assert!(tasks["tasks"].to_string().contains(&allowed), "{tasks}");
    let api = cluster.master_url("/api/v1");
    let answer = post_json(&api, &json!({"type": "GET_FRAMEWORKS"}), None)
        .await
        .json();
    assert_eq!(
        answer["get_frameworks"]["frameworks"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "{answer}"
    );

    // /flags: ops only; everyone else 403.
    assert_eq!(
        get_as(&cluster.master_url("/flags"), Some(&ops))
            .await
            .status,
        200
    );
    let forbidden = get_as(&cluster.master_url("/flags"), Some(&viewer)).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.body, "403 Forbidden.");
    let flags = post_json(&api, &json!({"type": "GET_FLAGS"}), None).await;
    assert_eq!(flags.status, 403, "{}", flags.body);

    // Nobody may tear frameworks down through the operator endpoints.
    let teardown = http::post(
        &cluster.master_url("/master/teardown"),
        format!("frameworkId={}", sched.framework_id),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(teardown.status, 403, "{}", teardown.body);
    let teardown = post_json(
        &api,
        &json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": sched.framework_id}}}),
        None,
    )
    .await;
    assert_eq!(teardown.status, 403, "{}", teardown.body);
    sched.kill(&allowed, &agent_id).await;
    sched.await_state(&allowed, "TASK_KILLED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_without_the_right_credential_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials_file(dir.path(), "credentials", &[("agent", "agent-secret")]);
    let credential = |name: &str, secret: &str| {
        let path = credential_file(dir.path(), name, "agent", secret);
        format!("--credential={path}")
    };
    let good = credential("good", "agent-secret");
    let bad = credential("bad", "guessed");
    let cluster = Cluster::start_with(ClusterOptions {
        agents: 1,
        master_flags: vec![
            format!("--credentials={creds}"),
            "--authenticate_agents".into(),
        ],
        agent_flags: vec![good],
        ..Default::default()
    })
    .await;
    for (name, flags) in [("wrong", vec![bad]), ("none", vec![])] {
        let work_dir = cluster.root().join(format!("agent-{name}"));
        let mut args = vec![
            format!("--master={}", cluster.master_addr()),
            "--ip=127.0.0.1".to_string(),
            format!("--port={}", free_port()),
            format!("--work_dir={}", work_dir.display()),
            format!("--resources={}", cluster::DEFAULT_AGENT_RESOURCES),
        ];
        args.extend(flags);
        let mut agent = Proc::spawn(
            &format!("agent-{name}"),
            &binary("mesos-agent"),
            args,
            cluster.root(),
        );
        let status = agent.wait_exit(TIMEOUT).await.unwrap_or_else(|| {
            panic!(
                "agent with {name} credential still runs\n{}",
                agent.log_tail(20)
            )
        });
        assert!(!status.success(), "{status}");
        assert!(agent.both().contains("refused"), "{}", agent.log_tail(20));
    }
    // Only the agent with the right credential is known; each refusal is one log line.
    let state = cluster.master_state().await;
    assert_eq!(state["slaves"].as_array().map_or(0, Vec::len), 1, "{state}");
    let log = cluster.master.both();
    assert_eq!(
        log.matches("refusing registration of agent").count(),
        2,
        "{log}"
    );
    assert!(
        !log.contains("guessed"),
        "a presented secret must not be logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executors_must_present_their_own_token() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("jwt-key");
    std::fs::write(&key, "executor-signing-key").unwrap();
    let creds = credentials_file(dir.path(), "http", &[("ops", "ops-secret")]);
    let cluster = Cluster::start_with(ClusterOptions {
        agent_flags: vec![
            "--authenticate_http_executors".into(),
            format!("--jwt_secret_key={}", key.display()),
            format!("--http_credentials={creds}"),
            "--authenticate_http_readonly".into(),
        ],
        ..Default::default()
    })
    .await;
    // The agent's read-only endpoints need credentials; /health does not.
    let ops = basic("ops", "ops-secret");
    for path in ["/state", "/slave(1)/flags", "/files/browse?path=/"] {
        let url = cluster.agent_url(0, path);
        assert_challenge(&get_as(&url, None).await, "mesos-agent-readonly");
    }
    assert_eq!(
        get_as(&cluster.agent_url(0, "/health"), None).await.status,
        200
    );
    let flags = get_as(&cluster.agent_url(0, "/flags"), Some(&ops)).await;
    assert_eq!(flags.status, 200);
    assert_eq!(flags.json()["flags"]["http_credentials"], creds.as_str());
    assert!(
        !flags.body.contains("executor-signing-key"),
        "{}",
        flags.body
    );
    let mut sched = cluster.subscribe("jwt").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor = |task_id: &str, executor_id: &str| {
        json!({
            "name": "linger", "task_id": {"value": task_id}, "agent_id": {"value": agent_id},
            "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)],
            "executor": {
                "executor_id": {"value": executor_id}, "type": "CUSTOM",
                "command": {"shell": false, "value": binary("test-executor").display().to_string()},
                "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)]
            }
        })
    };
    let (task_a, exec_a) = (unique_id("jwt-a"), unique_id("exec-a"));
    let (task_b, exec_b) = (unique_id("jwt-b"), unique_id("exec-b"));
    // Executors with the tokens the agent gave them subscribe and run their tasks.
    sched
        .launch(
            &offer,
            vec![executor(&task_a, &exec_a), executor(&task_b, &exec_b)],
        )
        .await;
    sched.await_state(&task_a, "TASK_RUNNING").await;
    sched.await_state(&task_b, "TASK_RUNNING").await;

    let url = cluster.agent_url(0, "/api/v1/executor");
    let call = |executor_id: &str| {
        json!({"type": "MESSAGE", "framework_id": {"value": sched.framework_id},
               "executor_id": {"value": executor_id}, "message": {"data": ""}})
    };
    // Without a token: 401 with the executor realm's Bearer challenge.
    let r = post_json(&url, &call(&exec_a), None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"mesos-agent-executor\"")
    );
    // A forged token is refused as invalid.
    let r = post_json(&url, &call(&exec_a), Some("Bearer a.b.c")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // Executor A's own token, read from its environment, speaks for A but not for B.
    let token = executor_token(&exec_a).expect("executor A's token in its environment");
    let bearer = format!("Bearer {token}");
    let r = post_json(&url, &call(&exec_a), Some(&bearer)).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = post_json(&url, &call(&exec_b), Some(&bearer)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("'eid' claim"), "{}", r.body);
    sched.kill(&task_a, &agent_id).await;
    sched.kill(&task_b, &agent_id).await;
    sched.await_state(&task_a, "TASK_KILLED").await;
    sched.await_state(&task_b, "TASK_KILLED").await;
}

trait Output {
    fn both(&self) -> String;
}

impl Output for Proc {
    /// What the process wrote to stdout and stderr.
    fn both(&self) -> String {
        format!("{}\n{}", self.stdout(), self.stderr())
    }
}

/// `MESOS_EXECUTOR_AUTHENTICATION_TOKEN` of the running executor `executor_id`, read from
/// its process's environment.
fn executor_token(executor_id: &str) -> Option<String> {
    let marker = format!("MESOS_EXECUTOR_ID={executor_id}");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<String> = environ
            .split(|b| *b == 0)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        if vars.contains(&marker) {
            if let Some(token) = vars
                .iter()
                .find_map(|v| v.strip_prefix("MESOS_EXECUTOR_AUTHENTICATION_TOKEN="))
            {
                return Some(token.to_string());
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_acl_or_credentials_file_stops_the_master_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (flags, needle) in [
        (
            vec![r#"--acls={"run_tasks":[{"principals":{"type":"ANY"}}]}"#.to_string()],
            "run_tasks[0]",
        ),
        (
            vec!["--credentials=/no/such/file".to_string()],
            "--credentials",
        ),
        (
            vec!["--authenticate_http_readonly".to_string()],
            "--authenticate_http_readonly",
        ),
        (
            vec!["--authenticate_http_frameworks".to_string()],
            "http_framework_authenticators",
        ),
    ] {
        let mut args = vec![
            "--ip=127.0.0.1".to_string(),
            format!("--port={}", free_port()),
        ];
        args.extend(flags.clone());
        let mut master = Proc::spawn("bad-master", &binary("mesos-master"), args, dir.path());
        let status = master
            .wait_exit(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{flags:?}: the master did not stop"));
        assert!(!status.success());
        let output = master.both();
        assert!(output.contains(needle), "{flags:?}: {output}");
    }
}
