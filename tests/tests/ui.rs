//! The dashboards in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver) against the real mesos-master, mesos-agent and marathon.
//!
//! One cluster and one browser session for the file: the master's pages first, then
//! Marathon's. Every step names what it waits for, so a failure says which one broke.
//! With `UI_SCREENSHOTS=<dir>` (relative to the repository) the same run saves a picture
//! of each main page there (`scripts/screenshots.sh` refreshes docs/screenshots).

use mesos_tests::browser::{Browser, WAIT};
use mesos_tests::marathon::Marathon;
use mesos_tests::zookeeper::{HaCluster, HaOptions};
use mesos_tests::*;
use serde_json::json;

/// A task that writes a numbered line to stdout every 0.3 s; its name carries markup.
async fn start_writing_task(cluster: &Cluster) -> Proc {
    let task = json!({
        "name": "<script>window.injected=1</script><img src=x onerror=window.injected=2>",
        "task_id": {"value": "writer"},
        "agent_id": {"value": ""},
        "command": {"shell": true, "value": "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.3; done"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}
        ]
    });
    Proc::spawn(
        "mesos-execute",
        &binary("mesos-execute"),
        vec![
            format!("--master={}", cluster.master_addr()),
            format!("--task={task}"),
        ],
        cluster.root(),
    )
}

/// The highest `tick-N` in the log view.
async fn last_tick(b: &Browser) -> Option<u64> {
    let text = b.text("#log").await;
    text.lines()
        .filter_map(|l| l.strip_prefix("tick-")?.trim().parse().ok())
        .max()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_in_a_real_browser() {
    let cluster = Cluster::start().await;
    let browser = Browser::start(cluster.root()).await;
    let b = &browser;
    master_dashboard(b, &cluster).await;
    let marathon = Marathon::start(&cluster, &[]).await;
    marathon_dashboard(b, &marathon).await;
}

/// A standby master's dashboard says it is not the leader and links to the one that is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_master_links_to_the_leader() {
    let cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 2,
        agents: 0,
        ..HaOptions::default()
    })
    .await;
    let browser = Browser::start(cluster.root()).await;
    let b = &browser;
    b.open(&cluster.master_url(1, "/")).await;
    b.wait_for(
        "the standby banner",
        "const b = document.querySelector('#leader-link'); \
         return !!b && document.body.innerText.includes('standby, not the leader')",
    )
    .await;
    let href = b
        .js("return document.querySelector('#leader-link').href", vec![])
        .await;
    let leader = format!(":{}/", cluster.masters[0].port);
    assert!(
        href.as_str().is_some_and(|h| h.contains(&leader)),
        "the banner links to the leader (port {}), got {href}",
        cluster.masters[0].port
    );
    // Following the link reaches the leader's dashboard, which shows no banner.
    b.click("#leader-link").await;
    b.wait_for(
        "the leader's dashboard",
        "return document.querySelector('#leader').innerText.startsWith('leading')",
    )
    .await;
}

/// A master and a Marathon open beyond loopback without authentication show a warning
/// banner on their dashboards; on loopback they show none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_master_and_marathon_show_the_exposure_banner() {
    let open = Cluster::start_with(ClusterOptions {
        agents: 0,
        master_flags: vec!["--ip=0.0.0.0".into()],
        ..Default::default()
    })
    .await;
    let loopback = Cluster::master_only().await;
    let browser = Browser::start(open.root()).await;
    let b = &browser;
    let banner = "const w = document.querySelector('#exposure-warning'); \
         return document.body.dataset.exposure === 'open' && !!w && \
         w.innerText.includes('beyond loopback') && w.innerText.includes('--authenticate_frameworks')";
    let no_banner = "return document.body.dataset.exposure === 'closed' && \
         !document.querySelector('#exposure-warning')";

    b.open(&open.master_url("/")).await;
    b.wait_for("the open master's exposure banner", banner)
        .await;
    b.screenshot("master-exposure").await;
    b.open(&loopback.master_url("/")).await;
    b.wait_for(
        "the loopback master's dashboard without a banner",
        no_banner,
    )
    .await;

    let open_marathon = Marathon::start(&open, &["--http_address", "0.0.0.0"]).await;
    b.open(&open_marathon.url("/ui/")).await;
    b.wait_for(
        "the open Marathon's exposure banner",
        "const w = document.querySelector('#exposure-warning'); \
         return document.body.dataset.exposure === 'open' && !!w && \
         w.innerText.includes('--http_credentials')",
    )
    .await;
    let loopback_marathon = Marathon::start(&loopback, &[]).await;
    b.open(&loopback_marathon.url("/ui/")).await;
    b.wait_for(
        "the loopback Marathon's dashboard without a banner",
        no_banner,
    )
    .await;
}

async fn master_dashboard(b: &Browser, cluster: &Cluster) {
    let _task = start_writing_task(cluster).await;
    b.open(&cluster.master_url("/")).await;

    // Overview: the agent and the running task, its name shown as text.
    b.wait_for(
        "the agent in the overview",
        "return document.querySelector('#overview-agents').innerText.includes('127.0.0.1')",
    )
    .await;
    b.wait_for(
        "the running task in the overview",
        "const t = document.querySelector('#overview-tasks').innerText; \
         return t.includes('<script>window.injected=1</script>') && t.includes('running')",
    )
    .await;
    b.wait_for(
        "the running count by state",
        "return document.querySelector('#task-counts').innerText.includes('running')",
    )
    .await;
    b.assert_nothing_injected().await;
    b.screenshot("master-overview").await;

    // The task's page, then its stdout in the log view, growing while the task writes.
    b.click("#overview-tasks tbody a").await;
    b.wait_for(
        "the task page with a stdout link",
        "return !!document.querySelector('#open-stdout')",
    )
    .await;
    b.assert_nothing_injected().await;
    b.screenshot("master-task").await;
    b.click("#open-stdout").await;
    b.wait_for("task output in the log view", "return document.querySelector('#log') && document.querySelector('#log').textContent.includes('tick-')")
        .await;
    let first = last_tick(b).await.expect("a tick line");
    let marker = b.js("window.sameDocument = 1; return 1", vec![]).await;
    assert_eq!(marker, json!(1));
    eventually("newer output appended to the log view", WAIT, async || {
        (last_tick(b).await? >= first + 3).then_some(())
    })
    .await;
    assert_eq!(
        b.js("return window.sameDocument", vec![]).await,
        json!(1),
        "the log view followed the file without reloading the page"
    );
    b.screenshot("master-log").await;

    // An agent's page: deactivate and reactivate through the operator API, confirmed.
    b.click("#nav a[href='#/agents']").await;
    b.wait_for(
        "the agents list",
        "return document.querySelector('main tbody a')",
    )
    .await;
    b.screenshot("master-agents").await;
    b.click("main tbody a").await;
    b.wait_for(
        "the deactivate button",
        "return !!document.querySelector('#agent-deactivate_agent')",
    )
    .await;
    b.wait_for(
        "the writing task on its agent's page, read from the agent's /state",
        "return document.querySelector('main').innerText.includes('writer')",
    )
    .await;
    b.assert_nothing_injected().await;
    b.click("#agent-deactivate_agent").await;
    b.click("#dialog-confirm").await;
    b.wait_for(
        "the agent shown deactivated",
        "return document.querySelector('main .facts').innerText.includes('deactivated')",
    )
    .await;
    b.wait_for(
        "the reactivate button",
        "return !!document.querySelector('#agent-reactivate_agent')",
    )
    .await;
    b.click("#agent-reactivate_agent").await;
    b.click("#dialog-confirm").await;
    b.wait_for("the agent shown active again", "return document.querySelector('main .facts').innerText.includes('active') && !document.querySelector('main .facts').innerText.includes('deactivated')")
        .await;
}

async fn marathon_dashboard(b: &Browser, marathon: &Marathon) {
    // The form: values the API refuses show at their fields and stay as typed.
    b.open(&marathon.url("/ui/#/new")).await;
    b.wait_for(
        "the create form",
        "return !!document.querySelector('#app-id')",
    )
    .await;
    // An id with markup: the API refuses it and its message quotes it, as text.
    let bad_id = "/<img src=x onerror=window.injected=3>";
    b.type_into("#app-id", bad_id).await;
    b.type_into("#app-cmd", "sleep 1000").await;
    b.type_into("#app-cpus", "0").await;
    b.type_into("#app-mem", "32").await;
    b.click("#submit-app").await;
    let id_error = b
        .wait_for(
            "the API's message at the id field",
            "return document.querySelector('#error-id').textContent",
        )
        .await;
    assert!(id_error.as_str().unwrap().contains("<img"), "{id_error}");
    b.assert_nothing_injected().await;
    let cpus_error = b
        .wait_for(
            "the API's message at the cpus field",
            "return document.querySelector('#error-cpus').textContent",
        )
        .await;
    assert!(
        cpus_error.as_str().unwrap().contains("0.001"),
        "{cpus_error}"
    );
    assert_eq!(
        b.js("return document.querySelector('#app-id').value", vec![])
            .await,
        json!(bad_id),
        "what the user typed is kept"
    );
    b.screenshot("marathon-form-errors").await;

    // Created through the form, it starts.
    b.type_into("#app-id", "/dash/web").await;
    b.type_into("#app-cpus", "0.1").await;
    b.click("#submit-app").await;
    b.wait_for("the app page", "return location.hash === '#/app/dash/web'")
        .await;
    let running = |n: usize| {
        format!("return [...document.querySelectorAll('tr[data-task]')].filter(r => r.innerText.includes('running')).length === {n}")
    };
    b.wait_for("one running task on the app page", &running(1))
        .await;

    // Scaled to 2 through the dialog.
    b.click("#scale").await;
    b.type_into("#scale-to", "2").await;
    b.click("#dialog-confirm").await;
    b.wait_for("two running tasks", &running(2)).await;
    b.screenshot("marathon-app").await;

    // A task that dies disappears from the page without a reload (events or polling).
    let tasks = marathon.tasks("/dash/web").await;
    let victim = tasks[0]["id"].as_str().unwrap().to_string();
    b.js("window.sameDocument = 2", vec![]).await;
    let r = marathon
        .send("DELETE", &format!("/v2/apps/dash/web/tasks/{victim}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    b.wait_for(
        "the killed task gone from the page",
        &format!("return !document.querySelector('tr[data-task=\"{victim}\"]') && document.querySelectorAll('tr[data-task]').length > 0"),
    )
    .await;
    assert_eq!(
        b.js("return window.sameDocument", vec![]).await,
        json!(2),
        "updated without a reload"
    );

    // The apps tree shows the group and the app with its status word.
    b.click("#nav a[href='#/']").await;
    b.wait_for("the app in the tree", "return document.querySelector('tr[data-app=\"/dash/web\"]') && document.querySelector('tr.group').innerText.includes('/dash')").await;

    // An app that waits on UNIQUE says why; its markup-laden label and command are text.
    let r = marathon
        .send(
            "POST",
            "/v2/apps",
            Some(&json!({
                "id": "/dash/unique",
                "cmd": "echo '<script>window.injected=1</script>'; sleep 1000",
                "cpus": 0.1, "mem": 16, "instances": 2,
                "constraints": [["hostname", "UNIQUE"]],
                "labels": {"note": "<img src=x onerror=window.injected=2>"}
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    b.wait_for("the waiting app in the tree", "const r = document.querySelector('tr[data-app=\"/dash/unique\"]'); return r && r.innerText.includes('waiting')").await;
    b.screenshot("marathon-apps").await;
    b.click("tr[data-app='/dash/unique'] a").await;
    b.wait_for(
        "the UNIQUE constraint named as the reason",
        "const e = document.querySelector('.why-waiting .main-reason'); return e && e.textContent.includes('UnfulfilledConstraint')",
    )
    .await;
    assert!(b
        .text("main")
        .await
        .contains("<img src=x onerror=window.injected=2>"));
    b.assert_nothing_injected().await;
    b.screenshot("marathon-why-waiting").await;

    // Destroyed through the button and the confirmation.
    b.open(&marathon.url("/ui/#/app/dash/web")).await;
    b.wait_for(
        "the app page again",
        "return !!document.querySelector('#destroy')",
    )
    .await;
    b.click("#destroy").await;
    b.click("#dialog-confirm").await;
    b.wait_for(
        "the apps list after destroying",
        "return location.hash === '#/'",
    )
    .await;
    eventually("the app gone from the API", WAIT, async || {
        (marathon.get("/v2/apps/dash/web").await.status == 404).then_some(())
    })
    .await;
    b.wait_for("the app gone from the tree", "return document.querySelector('tr[data-app=\"/dash/unique\"]') && !document.querySelector('tr[data-app=\"/dash/web\"]')").await;
}
