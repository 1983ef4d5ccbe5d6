//! Marathon deployments against the real binaries: a scale shows its plan until the tasks
//! run, a rolling restart stays within its upgradeStrategy bounds (sampled throughout), a
//! deployment stuck on UNIQUE says why and DELETE rolls it back, a new leader finishes
//! a roll after kill -9 of the old one, readiness checks included, and a group deploys its
//! apps in dependency order, each only once what it depends on is healthy, and a
//! health-checked BRIDGE Docker app keeps serving a client while it rolls.

use std::collections::BTreeSet;
use std::time::Duration;

use mesos_tests::cluster::{Cluster, ClusterOptions};
use mesos_tests::eventually;
use mesos_tests::marathon::{task_ids, Marathon};
use mesos_tests::zookeeper::{HaCluster, HaOptions};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The running deployment `id`, if listed.
async fn deployment(marathon: &Marathon, query: &str, id: &str) -> Option<Value> {
    let r = marathon.get(&format!("/v2/deployments{query}")).await;
    if r.status != 200 {
        return None;
    }
    r.json().as_array()?.iter().find(|d| d["id"] == id).cloned()
}

#[tokio::test]
async fn a_forced_scale_shows_its_deployment_until_the_tasks_run() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({"id": "demo", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    marathon.wait_running("/demo", 1, LONG).await;
    marathon.wait_deployments_done(LONG).await;

    let r = marathon
        .send(
            "PUT",
            "/v2/apps/demo?force=true",
            Some(&json!({"instances": 3})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    assert_eq!(r.header("Marathon-Deployment-Id"), Some(id.as_str()));

    let mut seen = None;
    eventually(
        "the scale finished with three running tasks",
        LONG,
        async || {
            let listed = deployment(&marathon, "", &id).await;
            let tasks = marathon.tasks("/demo").await;
            let running = tasks
                .iter()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .count();
            match listed {
                Some(d) => {
                    seen.get_or_insert(d);
                    None
                }
                None => {
                    // Gone from the list only once all three run (tasks read after the list).
                    assert_eq!(running, 3, "the deployment ended early: {tasks:?}");
                    Some(())
                }
            }
        },
    )
    .await;
    let d = seen.expect("the deployment was listed while the tasks started");
    // Marathon's shape, no key more (marathon-python refuses unknown keys).
    assert_eq!(
        keys(&d),
        set(&[
            "id",
            "version",
            "affectedApps",
            "affectedPods",
            "steps",
            "currentActions",
            "currentStep",
            "totalSteps"
        ])
    );
    assert_eq!(d["affectedApps"], json!(["/demo"]));
    assert_eq!(d["affectedPods"], json!([]));
    assert_eq!(
        d["steps"],
        json!([{"actions": [{"action": "ScaleApplication", "app": "/demo"}]}])
    );
    assert_eq!(d["currentStep"], 1);
    assert_eq!(d["totalSteps"], 1);
    assert_eq!(
        d["currentActions"],
        json!([{"action": "ScaleApplication", "app": "/demo", "readinessCheckResults": []}])
    );
    // A scale restarts nothing: the first task is still there.
    assert_eq!(marathon.wait_running("/demo", 3, LONG).await.len(), 3);
}

/// Samples the app's tasks until its deployments are done: (most alive, fewest running
/// and not being replaced, samples).
async fn sample_roll(marathon: &Marathon, app: &str, old: &[String]) -> (usize, usize, usize) {
    let (mut most_alive, mut fewest_running, mut samples) = (0, usize::MAX, 0);
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let r = marathon.get(&format!("/v2/apps{app}/tasks")).await;
        if r.status == 200 {
            let tasks = r.json()["tasks"].as_array().cloned().unwrap_or_default();
            let running = tasks
                .iter()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .count();
            most_alive = most_alive.max(tasks.len());
            fewest_running = fewest_running.min(running);
            samples += 1;
            let ids = task_ids(&tasks);
            let done = ids.len() == old.len()
                && running == ids.len()
                && ids.iter().all(|t| !old.contains(t));
            if done && marathon.get("/v2/deployments").await.json() == json!([]) {
                return (most_alive, fewest_running, samples);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the roll did not finish"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn a_rolling_restart_stays_within_its_bounds() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    // minHealthy = ceil(3 x 0.5) = 2, maxCapacity = floor(3 x 1.34) = 4.
    let app = json!({"id": "roll", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 3,
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.34}});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let old = task_ids(&marathon.wait_running("/roll", 3, LONG).await);
    marathon.wait_deployments_done(LONG).await;

    let r = marathon
        .send("PUT", "/v2/apps/roll", Some(&json!({"cmd": "sleep 1001"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Locked while it rolls: 409 naming the deployment.
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    let locked = marathon
        .send("PUT", "/v2/apps/roll", Some(&json!({"cmd": "sleep 1002"})))
        .await;
    if locked.status == 409 {
        assert_eq!(locked.json()["deployments"], json!([{"id": id}]));
    } else {
        // Only if the roll already finished.
        assert!(
            deployment(&marathon, "", &id).await.is_none(),
            "{}",
            locked.body
        );
    }
    let (most_alive, fewest_running, samples) = sample_roll(&marathon, "/roll", &old).await;
    eprintln!(
        "roll: {samples} samples, at most {most_alive} alive, at least {fewest_running} running"
    );
    assert!(
        most_alive <= 4,
        "{most_alive} tasks alive, above maxCapacity 4"
    );
    assert!(
        fewest_running >= 2,
        "{fewest_running} running, below minHealthy 2"
    );
    let got = marathon.get("/v2/apps/roll").await.json();
    assert_eq!(got["app"]["cmd"], "sleep 1001");

    // Bad upgrade strategies are refused with the failing paths.
    let r = marathon
        .send(
            "PUT",
            "/v2/apps/roll?force=true",
            Some(&json!({"upgradeStrategy": {"minimumHealthCapacity": 1.2, "maximumOverCapacity": -1}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let paths: Vec<String> = r.json()["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/upgradeStrategy/minimumHealthCapacity",
            "/upgradeStrategy/maximumOverCapacity"
        ]
    );
}

#[tokio::test]
async fn a_deployment_waiting_on_unique_says_why_and_delete_rolls_it_back() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({"id": "uniq", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1,
        "constraints": [["hostname", "UNIQUE"]]});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let first = task_ids(&marathon.wait_running("/uniq", 1, LONG).await);
    marathon.wait_deployments_done(LONG).await;

    let r = marathon
        .send("PUT", "/v2/apps/uniq", Some(&json!({"instances": 2})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    let why = eventually("the deployment says what it waits for", LONG, async || {
        let d = deployment(&marathon, "?embed=waitingFor", &id).await?;
        let waits = d["currentActions"][0]["waitingFor"].as_array()?.clone();
        waits
            .iter()
            .any(|w| {
                w.as_str()
                    .is_some_and(|w| w.contains("hostname:UNIQUE on 1 agent"))
            })
            .then_some(waits)
    })
    .await;
    eprintln!("waitingFor: {why:?}");
    // Only on request: the plain listing keeps Marathon's keys.
    let plain = deployment(&marathon, "", &id).await.unwrap();
    assert_eq!(
        keys(&plain["currentActions"][0]),
        set(&["action", "app", "readinessCheckResults"])
    );
    let queue = marathon.get("/v2/queue?embed=waitingFor").await.json();
    let item = &queue["queue"][0];
    assert!(
        item["waitingFor"][0]
            .as_str()
            .is_some_and(|w| w.contains("hostname:UNIQUE")),
        "{item}"
    );
    assert!(marathon.get("/v2/queue").await.json()["queue"][0]
        .get("waitingFor")
        .is_none());

    // Locked: 409 with the deployment; unknown deployments are 404.
    let r = marathon
        .send("PUT", "/v2/apps/uniq", Some(&json!({"instances": 3})))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["deployments"], json!([{"id": id}]));
    let r = marathon.send("DELETE", "/v2/deployments/nope", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "DeploymentPlan nope does not exist");

    // DELETE rolls back: a new deployment to one instance; the first task is kept.
    let r = marathon
        .send("DELETE", &format!("/v2/deployments/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rollback = r.json();
    assert_eq!(keys(&rollback), set(&["deploymentId", "version"]));
    assert_ne!(rollback["deploymentId"], id.as_str());
    marathon.wait_deployments_done(LONG).await;
    assert_eq!(
        marathon.get("/v2/apps/uniq").await.json()["app"]["instances"],
        1
    );
    assert_eq!(
        task_ids(&marathon.wait_running("/uniq", 1, LONG).await),
        first
    );

    // force=true only cancels: 202, the app keeps its new definition.
    let r = marathon
        .send("PUT", "/v2/apps/uniq", Some(&json!({"instances": 2})))
        .await;
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    let r = marathon
        .send("DELETE", &format!("/v2/deployments/{id}?force=true"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body, "");
    assert_eq!(marathon.get("/v2/deployments").await.json(), json!([]));
    assert_eq!(
        marathon.get("/v2/apps/uniq").await.json()["app"]["instances"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_finishes_a_rolling_restart_within_its_bounds() {
    let cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 1,
        agents: 1,
        ..HaOptions::default()
    })
    .await;
    let mut a = Marathon::start_ha(&cluster, 4000).await;
    let mut b = Marathon::start_ha(&cluster, 4000).await;
    // Each new instance serves HTTP only 2 s after it starts: its readiness check holds
    // the roll (one at a time: minHealthy 3, maxCapacity 4) long enough to fail over.
    let app = json!({"id": "ha-roll", "cpus": 0.1, "mem": 32, "instances": 3,
        "cmd": "sleep 2; exec /usr/bin/python3 -m http.server $PORT0",
        "portDefinitions": [{"port": 0, "name": "http"}],
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0},
        "readinessChecks": [{"portName": "http", "intervalSeconds": 2, "timeoutSeconds": 1}]});
    let r = a.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let shown = &r.json()["readinessChecks"][0];
    assert_eq!(shown["path"], "/", "defaults filled in: {shown}");
    assert_eq!(shown["httpStatusCodesForReady"], json!([200]));
    let old = task_ids(&a.wait_running("/ha-roll", 3, LONG).await);
    a.wait_deployments_done(LONG).await;

    let r = a
        .send(
            "PUT",
            "/v2/apps/ha-roll",
            Some(&json!({"env": {"ROUND": "2"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    // Mid-roll: a first new instance passed its readiness check.
    let d = eventually("a new instance ready", LONG, async || {
        let d = deployment(&a, "", &id).await?;
        let results = d["currentActions"][0]["readinessCheckResults"].as_array()?;
        results.iter().any(|r| r["ready"] == true).then_some(d)
    })
    .await;
    let result = &d["currentActions"][0]["readinessCheckResults"][0];
    assert_eq!(keys(result), set(&["name", "taskId", "ready"]), "{result}");
    assert_eq!(result["name"], "readinessCheck");

    let leader_port = a.get("/v2/leader").await.json()["leader"]
        .as_str()
        .unwrap()
        .to_string();
    let (lead, standby) = if leader_port.ends_with(&format!(":{}", a.port)) {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    lead.proc.kill9();
    let (most_alive, _, samples) = sample_roll(standby, "/ha-roll", &old).await;
    eprintln!("roll across a failover: {samples} samples, at most {most_alive} alive");
    assert!(most_alive <= 4, "{most_alive} alive, above maxCapacity 4");
    let env = &standby.get("/v2/apps/ha-roll").await.json()["app"]["env"];
    assert_eq!(env["ROUND"], "2");
}

/// The one task of `app`, once the deployments are done.
async fn only_task(marathon: &Marathon, app: &str) -> Value {
    let tasks = marathon.wait_running(app, 1, LONG).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks[0].clone()
}

/// `/shop/back/db` (healthy only once its HTTP server answers, 3 s in), `/shop/back/api`
/// depending on it, and `/shop/front/web` whose group depends on the group `/shop/back`:
/// the plan starts them all, then scales db, api and web one step each, and no task is
/// staged before what it depends on is healthy (db) or running (api, no checks).
#[tokio::test]
async fn a_group_deploys_its_apps_in_dependency_order() {
    let cluster = Cluster::start_with(ClusterOptions {
        agent_resources: "cpus:2;mem:1024;disk:1024;ports:[31350-31399]".into(),
        ..ClusterOptions::default()
    })
    .await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let group = json!({"id": "/shop", "groups": [
        {"id": "back", "apps": [
            {"id": "db", "cpus": 0.1, "mem": 32, "instances": 1,
             "cmd": "sleep 3 && exec python3 -m http.server --bind 127.0.0.1 $PORT0",
             "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
                 "gracePeriodSeconds": 60, "intervalSeconds": 1, "timeoutSeconds": 1}]},
            {"id": "api", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1,
             "dependencies": ["db"]},
        ]},
        {"id": "front", "dependencies": ["/shop/back"], "apps": [
            {"id": "web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1},
        ]},
    ]});
    let r = marathon.send("POST", "/v2/groups", Some(&group)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    let d = deployment(&marathon, "", &id)
        .await
        .expect("listed while db is not healthy yet");
    let action = |kind: &str, app: &str| json!({"action": kind, "app": app});
    assert_eq!(
        d["steps"],
        json!([
            {"actions": [
                action("StartApplication", "/shop/back/api"),
                action("StartApplication", "/shop/back/db"),
                action("StartApplication", "/shop/front/web"),
            ]},
            {"actions": [action("ScaleApplication", "/shop/back/db")]},
            {"actions": [action("ScaleApplication", "/shop/back/api")]},
            {"actions": [action("ScaleApplication", "/shop/front/web")]},
        ]),
        "{d}"
    );
    assert_eq!(d["totalSteps"], 4);
    marathon.wait_deployments_done(LONG).await;

    let db = only_task(&marathon, "/shop/back/db").await;
    let api = only_task(&marathon, "/shop/back/api").await;
    let web = only_task(&marathon, "/shop/front/web").await;
    let healthy_at = db["healthCheckResults"][0]["firstSuccess"]
        .as_str()
        .unwrap_or_else(|| panic!("db healthy: {db}"))
        .to_string();
    let at = |t: &Value, key: &str| t[key].as_str().unwrap_or_default().to_string();
    eprintln!(
        "db staged {} healthy {healthy_at}; api staged {} started {}; web staged {}",
        at(&db, "stagedAt"),
        at(&api, "stagedAt"),
        at(&api, "startedAt"),
        at(&web, "stagedAt")
    );
    // ISO-8601 in UTC with milliseconds: the text orders as the time does.
    assert!(
        at(&api, "stagedAt") >= healthy_at,
        "api staged before db was healthy: {api}"
    );
    assert!(
        at(&web, "stagedAt") >= at(&api, "startedAt"),
        "web staged before api ran: {web}"
    );

    // A dependency on nothing known is refused with its path, and nothing is written.
    let r = marathon
        .send(
            "POST",
            "/v2/apps",
            Some(&json!({"id": "/shop/front/cache", "cmd": "sleep 1", "dependencies": ["/nope"]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["details"][0]["path"],
        "/dependencies(0)",
        "{}",
        r.body
    );
    assert_eq!(marathon.get("/v2/apps/shop/front/cache").await.status, 404);
}

/// The host ports of the app's running tasks whose health checks all pass.
async fn healthy_ports(marathon: &Marathon, app: &str) -> Vec<u64> {
    marathon
        .tasks(app)
        .await
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter(|t| {
            t["healthCheckResults"]
                .as_array()
                .is_some_and(|r| !r.is_empty() && r.iter().all(|h| h["alive"] == true))
        })
        .filter_map(|t| t["ports"][0].as_u64())
        .collect()
}

/// The "done when": a rolling image change of a health-checked BRIDGE Docker app
/// under minimumHealthCapacity 1 never leaves a client without an answer. The client
/// calls every healthy task (as `/v2/apps/{id}/tasks` lists them) in rounds through the
/// roll; in every round at least two answer (three stay healthy; one of them may be
/// the old task being killed right then), and a round where none answers fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_docker_app_keeps_serving_while_it_rolls() {
    use mesos_tests::docker::{docker_cluster, ContainerCleanup, IMAGE};
    let cluster = docker_cluster().await;
    let _cleanup = ContainerCleanup::new(&cluster.agent_id(0).await);
    let marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({
        "id": "serve", "cpus": 0.2, "mem": 32, "instances": 3,
        "cmd": "mkdir -p /www && echo round-$ROUND > /www/index.html \
                && exec busybox httpd -f -p 8080 -h /www",
        "env": {"ROUND": "1"},
        "container": {"type": "DOCKER", "docker": {"image": IMAGE, "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}]}},
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
            "gracePeriodSeconds": 60, "intervalSeconds": 1, "timeoutSeconds": 1,
            "maxConsecutiveFailures": 3}],
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.34},
    });
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    marathon.wait_deployments_done(LONG).await;
    eventually("three healthy tasks", LONG, async || {
        (healthy_ports(&marathon, "/serve").await.len() == 3).then_some(())
    })
    .await;
    let old = task_ids(&marathon.tasks("/serve").await);

    let r = marathon
        .send(
            "PUT",
            "/v2/apps/serve",
            Some(&json!({"env": {"ROUND": "2"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let client = reqwest::Client::new();
    let (mut rounds, mut fewest, mut most_alive) = (0, usize::MAX, 0);
    let mut bodies = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let tasks = marathon.tasks("/serve").await;
        most_alive = most_alive.max(tasks.len());
        let ports = healthy_ports(&marathon, "/serve").await;
        let mut answered = 0;
        for port in &ports {
            let r = client
                .get(format!("http://127.0.0.1:{port}/"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(r) = r {
                if r.status() == 200 {
                    answered += 1;
                    bodies.insert(r.text().await.unwrap_or_default().trim().to_string());
                }
            }
        }
        assert!(
            answered > 0,
            "round {rounds}: no healthy task answered (ports {ports:?})"
        );
        fewest = fewest.min(answered);
        rounds += 1;
        let ids = task_ids(&tasks);
        let rolled = ids.len() == 3 && ids.iter().all(|t| !old.contains(t));
        if rolled && ports.len() == 3 && marathon.get("/v2/deployments").await.json() == json!([]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the roll did not finish: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("roll: {rounds} rounds, fewest answering {fewest}, at most {most_alive} alive, served {bodies:?}");
    assert!(fewest >= 2, "a round had only {fewest} answering task(s)");
    assert!(most_alive <= 4, "{most_alive} alive, above maxCapacity 4");
    assert_eq!(
        bodies,
        set(&["round-1", "round-2"]),
        "both versions served during the roll"
    );
}

/// A group as `/v2/groups` shows it, without versions: id, dependencies, app ids and
/// subgroups, recursively.
fn group_shape(g: &Value) -> Value {
    let ids = |list: &Value| -> Vec<Value> {
        let mut ids: Vec<Value> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["id"].clone())
            .collect();
        ids.sort_by_key(|v| v.to_string());
        ids
    };
    let mut groups: Vec<Value> = g["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(group_shape)
        .collect();
    groups.sort_by_key(|v| v["id"].to_string());
    json!({"id": g["id"], "dependencies": g["dependencies"], "apps": ids(&g["apps"]),
           "groups": groups})
}

/// DELETE of a group deployment (without force) takes the groups back as well as the apps,
/// as Marathon's DeploymentPlan.revert does: the group it created, with its dependencies
/// and subgroup, goes, and the rollback deployment finishes.
#[tokio::test]
async fn cancelling_a_group_deployment_restores_the_group_tree() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let idle =
        |id: &str| json!({"id": id, "cmd": "sleep 1000", "cpus": 0.01, "mem": 16, "instances": 0});
    let r = marathon
        .send(
            "POST",
            "/v2/groups",
            Some(&json!({"id": "/base", "apps": [idle("/base/idle")]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    marathon.wait_deployments_done(LONG).await;
    let before = group_shape(&marathon.get("/v2/groups").await.json());

    // A new group that depends on /base, with a subgroup whose app no agent can take.
    let big =
        json!({"id": "/top/sub/big", "cmd": "sleep 1000", "cpus": 1000, "mem": 16, "instances": 1});
    let r = marathon
        .send(
            "POST",
            "/v2/groups",
            Some(&json!({"id": "/top", "dependencies": ["/base"],
                         "groups": [{"id": "/top/sub", "apps": [big]}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["deploymentId"].as_str().unwrap().to_string();
    let during = group_shape(&marathon.get("/v2/groups").await.json());
    assert_ne!(during, before, "the deployment changed nothing: {during}");
    assert!(deployment(&marathon, "", &id).await.is_some());

    let r = marathon
        .send("DELETE", &format!("/v2/deployments/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.json()["deploymentId"], id.as_str());
    marathon.wait_deployments_done(LONG).await;
    let after = group_shape(&marathon.get("/v2/groups").await.json());
    assert_eq!(after, before);
    assert_eq!(marathon.get("/v2/groups/top").await.status, 404);
    assert_eq!(marathon.get("/v2/apps/top/sub/big").await.status, 404);
}
