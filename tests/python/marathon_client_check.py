#!/usr/bin/env python3
"""Drives a Marathon through marathon-python (PyPI `marathon`, 0.13.0): its real client and
its models, which build every response object as `cls(**snake_case_keys)`. A key the model
does not know, a required key that is missing or a timestamp in another format raises, so a
clean run means every shape below parses the way that client expects.

    marathon_client_check.py http://127.0.0.1:8080

Prints one line per step; exits 1 with the failed steps (and their tracebacks) otherwise.
The Marathon is expected to be fresh and to have at least one agent able to run
`sleep` commands with 0.1 cpus and 16 MB.

The event stream (/v2/events) is read for the whole run by the client's own
`event_stream()`, which builds every event through `marathon.models.events.EventFactory`
(an unknown type, or a deployment plan without `original`/`target`/`steps`, raises).

Not covered: event subscriptions (HTTP callbacks), and delete_leader (it would end a
non-HA Marathon's leadership).
"""

import collections
import collections.abc
import datetime
import sys
import threading
import time
import traceback

# marathon-python 0.13.0 encodes request bodies with `collections.Iterable`, an alias Python
# 3.10 removed; put it back so the client can send nested models (constraints, containers).
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable

import marathon  # noqa: E402
from marathon import MarathonClient  # noqa: E402
from marathon.models import (  # noqa: E402
    MarathonApp,
    MarathonConstraint,
    MarathonDeployment,
    MarathonHealthCheck,
    MarathonInfo,
    MarathonQueueItem,
    MarathonTask,
)
from marathon.models.app import (  # noqa: E402
    MarathonAppVersionInfo,
    MarathonTaskFailure,
    MarathonUnreachableStrategy,
    MarathonUpgradeStrategy,
    PortDefinition,
)
from marathon.models.container import (  # noqa: E402
    MarathonContainer,
    MarathonContainerPortMapping,
    MarathonContainerVolume,
    MarathonDockerContainer,
)
from marathon.models.deployment import (  # noqa: E402
    MarathonDeploymentAction,
    MarathonDeploymentPlan,
    MarathonDeploymentStep,
)
from marathon.models.endpoint import MarathonEndpoint  # noqa: E402
from marathon.models.events import EventFactory, MarathonEvent  # noqa: E402
from marathon.models.group import MarathonGroup  # noqa: E402

WAIT_SECONDS = 60

CMD_APP = "/clients/cmd"
DOCKER_APP = "/clients/docker-bridge"
CRASH_APP = "/clients/crash"


class CheckFailed(Exception):
    pass


def expect(condition, what):
    if not condition:
        raise CheckFailed(what)


def expect_type(value, cls, what):
    expect(isinstance(value, cls), f"{what}: expected {cls.__name__}, got {value!r}")


def expect_time(value, what):
    expect_type(value, datetime.datetime, what)


def wait_for(what, probe, timeout=WAIT_SECONDS):
    """Calls probe() until it returns something truthy; the last error or None fails."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = None
        except (TypeError, ValueError, KeyError, AttributeError, marathon.InvalidChoiceError):
            raise  # a model rejected a shape: waiting will not change that
        except Exception as e:  # the client's HTTP errors, kept for the message
            last = e
        if time.monotonic() > deadline:
            reason = f" (last error: {last!r})" if last else ""
            raise CheckFailed(f"timed out after {timeout}s waiting for {what}{reason}")
        time.sleep(0.5)


class Run:
    def __init__(self, client):
        self.client = client
        self.failures = []
        self.steps = 0

    def step(self, name, fn):
        """Runs one step; a failure is recorded and the run goes on with the next step."""
        self.steps += 1
        try:
            result = fn()
        except Exception as e:
            self.failures.append((name, e, traceback.format_exc()))
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            return None
        print(f"ok   {name}", flush=True)
        return result


def command_app():
    return MarathonApp(
        cmd="sleep 1000",
        cpus=0.1,
        mem=16,
        instances=2,
        labels={"team": "clients", "HAPROXY_GROUP": "external"},
        env={"GREETING": "hello"},
        constraints=[MarathonConstraint("hostname", "MAX_PER", "5")],
        health_checks=[
            MarathonHealthCheck(
                protocol="COMMAND",
                command="true",
                grace_period_seconds=30,
                interval_seconds=10,
                timeout_seconds=5,
                max_consecutive_failures=3,
                # Checked at once: a deployment waits for its new tasks to be healthy.
                delay_seconds=0,
            )
        ],
        upgrade_strategy=MarathonUpgradeStrategy(
            minimum_health_capacity=0.5, maximum_over_capacity=0.5
        ),
        port_definitions=[PortDefinition(port=0, protocol="tcp", name="http", labels={})],
        backoff_seconds=1,
        backoff_factor=1.15,
        max_launch_delay_seconds=300,
        kill_selection="YOUNGEST_FIRST",
        unreachable_strategy=MarathonUnreachableStrategy(
            inactive_after_seconds=60, expunge_after_seconds=120
        ),
        task_kill_grace_period_seconds=2,
        accepted_resource_roles=["*"],
    )


def docker_bridge_app():
    # The hostname constraint matches no agent: the app stays waiting, so the queue and
    # the deployment list have something to show for as long as the run needs.
    return MarathonApp(
        cmd="httpd -f -p 80",
        cpus=0.1,
        mem=16,
        instances=1,
        container=MarathonContainer(
            type="DOCKER",
            docker=MarathonDockerContainer(
                image="mesos-test/busybox:latest",
                network="BRIDGE",
                port_mappings=[
                    MarathonContainerPortMapping(
                        name="web",
                        container_port=80,
                        host_port=0,
                        service_port=0,
                        protocol="tcp",
                        labels={"VIP_0": "/web:80"},
                    )
                ],
                parameters=[{"key": "hostname", "value": "web"}],
                privileged=False,
                force_pull_image=False,
            ),
            volumes=[MarathonContainerVolume(container_path="/data", host_path="/tmp", mode="RO")],
        ),
        labels={"team": "clients"},
        env={"MODE": "bridge"},
        constraints=[
            MarathonConstraint("hostname", "LIKE", "no-such-host"),
            MarathonConstraint("hostname", "UNIQUE"),
        ],
        health_checks=[],
        upgrade_strategy=MarathonUpgradeStrategy(
            minimum_health_capacity=1.0, maximum_over_capacity=0.0
        ),
    )


def crash_app():
    return MarathonApp(cmd="exit 3", cpus=0.1, mem=16, instances=1, backoff_seconds=5)


def check_app(app, app_id, what):
    expect_type(app, MarathonApp, what)
    expect(app.id == app_id, f"{what}: id {app.id!r} != {app_id!r}")
    expect(app.version, f"{what}: no version")
    expect_type(app.version_info, MarathonAppVersionInfo, f"{what}: versionInfo")
    expect_time(app.version_info.last_config_change_at, f"{what}: lastConfigChangeAt")
    expect_time(app.version_info.last_scaling_at, f"{what}: lastScalingAt")
    expect_type(app.upgrade_strategy, MarathonUpgradeStrategy, f"{what}: upgradeStrategy")
    for c in app.constraints:
        expect_type(c, MarathonConstraint, f"{what}: constraint")
    for t in app.tasks:
        check_task(t, f"{what}: task")
    for d in app.deployments:
        expect_type(d, MarathonDeployment, f"{what}: deployment")
        expect(d.id, f"{what}: a deployment without id")


def check_task(task, what):
    expect_type(task, MarathonTask, what)
    expect(task.id and task.app_id and task.host and task.slave_id, f"{what}: {task}")
    expect(task.state and task.state.startswith("TASK_"), f"{what}: state {task.state!r}")
    expect_time(task.staged_at, f"{what}: stagedAt")
    if task.state == "TASK_RUNNING":
        expect_time(task.started_at, f"{what}: startedAt")
    expect(isinstance(task.ports, list), f"{what}: ports {task.ports!r}")


def check_deployment(d, what):
    expect_type(d, MarathonDeployment, what)
    expect(d.id and d.version, f"{what}: {d}")
    expect(isinstance(d.affected_apps, list), f"{what}: affectedApps {d.affected_apps!r}")
    expect(isinstance(d.affected_pods, list), f"{what}: affectedPods {d.affected_pods!r}")
    expect(d.total_steps == len(d.steps), f"{what}: totalSteps {d.total_steps} != steps")
    expect(0 <= d.current_step <= d.total_steps, f"{what}: currentStep {d.current_step}")
    for s in d.steps:
        expect_type(s, MarathonDeploymentStep, f"{what}: step")
        for a in s.actions:
            expect_type(a, MarathonDeploymentAction, f"{what}: action")
            expect(a.action and a.app, f"{what}: action {a}")
    for a in d.current_actions:
        expect_type(a, MarathonDeploymentAction, f"{what}: current action")
        expect(a.readiness_check_results == [], f"{what}: readinessCheckResults {a}")


class EventWatcher:
    """Reads `client.event_stream()` (parsed by EventFactory) in a thread."""

    def __init__(self, client):
        self.events = []
        self.error = None
        self.thread = threading.Thread(target=self.read, args=(client,), daemon=True)
        self.thread.start()

    def read(self, client):
        try:
            for event in client.event_stream():
                self.events.append(event)
        except Exception as e:  # noqa: BLE001 - reported by the steps that look
            self.error = (e, traceback.format_exc())

    def of_type(self, event_type):
        if self.error:
            raise CheckFailed(f"the event stream failed: {self.error[0]!r}\n{self.error[1]}")
        cls = EventFactory.event_to_class[event_type]
        return [e for e in self.events if type(e) is cls]


GROUP = "/clients-group"


def group_app(name, instances):
    return MarathonApp(id=f"{GROUP}/{name}", cmd="sleep 1000", cpus=0.1, mem=16,
                       instances=instances)


def running_tasks(client, app_id, n, without=()):
    """The app's tasks when exactly n, all running and none of the ids `without`."""
    tasks = client.list_tasks(app_id)
    running = [t for t in tasks if t.state == "TASK_RUNNING" and t.id not in without]
    return running if len(running) == n and len(tasks) == n else None


def run(url):
    client = MarathonClient(url, timeout=15)
    r = Run(client)
    c = client
    watcher = EventWatcher(client)
    wait_for("the event stream attached", lambda: watcher.of_type("event_stream_attached"))

    # --- creating ------------------------------------------------------------------------
    def create_cmd():
        app = c.create_app(CMD_APP, command_app())
        check_app(app, CMD_APP, "create_app (command)")
        expect(app.instances == 2, f"instances {app.instances}")
        expect(app.labels.get("team") == "clients", f"labels {app.labels}")
        expect(app.env == {"GREETING": "hello"}, f"env {app.env}")
        expect(len(app.deployments) == 1, f"deployments {app.deployments}")
        expect(app.tasks_running == 0, f"tasksRunning {app.tasks_running}")
        expect(
            [(x.field, x.operator, x.value) for x in app.constraints]
            == [("hostname", "MAX_PER", "5")],
            f"constraints {app.constraints}",
        )
        expect(len(app.health_checks) == 1, f"healthChecks {app.health_checks}")
        hc = app.health_checks[0]
        expect(hc.protocol == "COMMAND", f"health check {hc}")
        expect(app.port_definitions and app.port_definitions[0].name == "http",
               f"portDefinitions {app.port_definitions}")
        expect_type(app.unreachable_strategy, MarathonUnreachableStrategy, "unreachableStrategy")
        expect(app.unreachable_strategy.expunge_after_seconds == 120,
               f"unreachableStrategy {app.unreachable_strategy}")
        expect(app.task_kill_grace_period_seconds == 2, "taskKillGracePeriodSeconds")
        expect(app.accepted_resource_roles == ["*"], "acceptedResourceRoles")
        return app

    def create_docker():
        app = c.create_app(DOCKER_APP, docker_bridge_app())
        check_app(app, DOCKER_APP, "create_app (docker bridge)")
        expect_type(app.container, MarathonContainer, "container")
        expect(app.container.type == "DOCKER", f"container {app.container}")
        docker = app.container.docker
        expect_type(docker, MarathonDockerContainer, "container.docker")
        expect(docker.image == "mesos-test/busybox:latest", f"image {docker.image!r}")
        # Marathon 1.5+ keeps port mappings on the container; 1.4 inside docker.
        mappings = getattr(app.container, "port_mappings", None) or docker.port_mappings
        expect(mappings and mappings[0].container_port == 80, f"portMappings {mappings}")
        expect(mappings[0].name == "web", f"portMappings {mappings}")
        expect(len(app.constraints) == 2, f"constraints {app.constraints}")
        volumes = app.container.volumes
        expect(len(volumes) == 1 and isinstance(volumes[0], MarathonContainerVolume)
               and volumes[0].mode == "RO", f"volumes {volumes}")
        expect(app.upgrade_strategy.maximum_over_capacity == 0.0,
               f"upgradeStrategy {app.upgrade_strategy}")
        return app

    r.step("create_app: command app with labels, env, constraints, health check", create_cmd)
    r.step("create_app: Docker BRIDGE app with portMappings", create_docker)
    r.step("create_app: an app whose command fails",
           lambda: check_app(c.create_app(CRASH_APP, crash_app()), CRASH_APP, "create_app"))

    # --- reading apps and tasks ----------------------------------------------------------
    r.step("list_tasks(app): two running tasks",
           lambda: [check_task(t, "task") for t in wait_for(
               "two running tasks of " + CMD_APP, lambda: running_tasks(c, CMD_APP, 2))])

    def list_apps_embedded():
        apps = c.list_apps(embed_tasks=True, embed_counts=True, embed_deployments=True,
                           embed_readiness=True, embed_last_task_failure=True,
                           embed_failures=True, embed_task_stats=True)
        by_id = {a.id: a for a in apps}
        expect(set(by_id) == {CMD_APP, DOCKER_APP, CRASH_APP}, f"apps {sorted(by_id)}")
        for a in apps:
            check_app(a, a.id, "list_apps")
        expect(len(by_id[CMD_APP].tasks) == 2, f"tasks {by_id[CMD_APP].tasks}")
        expect(by_id[CMD_APP].tasks_running == 2, "tasksRunning")

    r.step("list_apps(embed everything)", list_apps_embedded)
    r.step("list_apps(no embed)",
           lambda: expect(len(c.list_apps()) == 3, "three apps"))
    r.step("list_apps(cmd=, app_id=, label=)", lambda: (
        expect([a.id for a in c.list_apps(cmd="httpd")] == [DOCKER_APP], "cmd filter"),
        expect([a.id for a in c.list_apps(app_id="crash")] == [CRASH_APP], "id filter"),
        expect(sorted(a.id for a in c.list_apps(label="team==clients"))
               == sorted([CMD_APP, DOCKER_APP]), "label filter"),
    ))

    def get_app_all():
        app = c.get_app(CMD_APP, embed_tasks=True, embed_counts=True,
                        embed_last_task_failure=True)
        check_app(app, CMD_APP, "get_app")
        expect(len(app.tasks) == 2, f"tasks {app.tasks}")
        expect(app.tasks_running == 2 and app.tasks_staged == 0, "counts")
        return app

    r.step("get_app (leading slash: /v2/apps//clients/cmd)", get_app_all)

    def last_failure():
        f = wait_for("a lastTaskFailure of " + CRASH_APP, lambda: c.get_app(
            CRASH_APP, embed_last_task_failure=True).last_task_failure)
        expect_type(f, MarathonTaskFailure, "lastTaskFailure")
        expect(f.app_id == CRASH_APP, f"lastTaskFailure appId {f.app_id!r}")
        expect(f.state == "TASK_FAILED", f"lastTaskFailure state {f.state!r}")
        expect_time(f.timestamp, "lastTaskFailure timestamp")
        expect(f.task_id and f.slave_id and f.version, f"lastTaskFailure {f}")

    r.step("get_app: lastTaskFailure of a failing app", last_failure)

    def all_tasks():
        tasks = c.list_tasks()
        for t in tasks:
            check_task(t, "list_tasks")
        expect(len([t for t in tasks if t.app_id == CMD_APP]) == 2, f"tasks {tasks}")

    r.step("list_tasks()", all_tasks)
    r.step("list_endpoints", lambda: [
        expect_type(e, MarathonEndpoint, "endpoint") for e in c.list_endpoints()])

    # --- queue and deployments (the Docker app waits for an agent it never gets) ---------
    def queue():
        def waiting():
            items = c.list_queue()
            return next((i for i in items if i.app.id == DOCKER_APP
                         and i.processed_offers_summary
                         and i.processed_offers_summary["processedOffersCount"] > 0), None)
        item = wait_for("the Docker app in the queue with processed offers", waiting)
        expect_type(item, MarathonQueueItem, "queue item")
        check_app(item.app, DOCKER_APP, "queue item app")
        expect(item.count == 1, f"count {item.count}")
        expect(item.delay.overdue is True, f"delay {item.delay}")
        expect(item.since, "since")
        with_offers = c.list_queue(embed_last_unused_offers=True)
        item = next(i for i in with_offers if i.app.id == DOCKER_APP)
        expect(isinstance(item.last_unused_offers, list) and item.last_unused_offers,
               f"lastUnusedOffers {item.last_unused_offers!r}")

    r.step("list_queue (with and without lastUnusedOffers)", queue)

    def deployments():
        ds = c.list_deployments()
        for d in ds:
            check_deployment(d, "list_deployments")
        mine = [d for d in ds if DOCKER_APP in d.affected_apps]
        expect(len(mine) == 1, f"one deployment of the Docker app: {ds}")

    r.step("list_deployments", deployments)

    def reset_delay():
        wait_for("the crashing app backed off in the queue", lambda: next(
            (i for i in c.list_queue() if i.app.id == CRASH_APP and not i.delay.overdue), None))
        c.reset_delay(CRASH_APP)
        wait_for("the crashing app's delay reset", lambda: next(
            (True for i in c.list_queue() if i.app.id == CRASH_APP and i.delay.overdue), None)
            or not any(i.app.id == CRASH_APP for i in c.list_queue()))

    r.step("reset_delay (DELETE /v2/queue//clients/crash/delay)", reset_delay)

    # --- info, leader, ping, metrics -----------------------------------------------------
    def info():
        i = c.get_info()
        expect_type(i, MarathonInfo, "info")
        expect(i.name == "marathon" and i.version, f"info {i}")
        expect(i.elected is True, f"elected {i.elected!r}")
        expect(i.framework_id, f"frameworkId {i.framework_id!r}")
        expect(i.leader, f"leader {i.leader!r}")
        # (0.13.0's MarathonConfig takes framework_name but does not keep it.)
        expect(i.marathon_config.master and i.marathon_config.hostname, "marathon_config")
        expect(i.http_config.http_port, "http_config")
        expect(i.zookeeper_config.zk_max_versions, "zookeeper_config")

    r.step("get_info", info)
    r.step("get_leader", lambda: expect("leader" in c.get_leader(), "leader"))
    r.step("ping", lambda: expect(c.ping().strip() == b"pong", "pong"))
    r.step("get_metrics", lambda: expect("gauges" in c.get_metrics(), "gauges"))

    # --- changing apps -------------------------------------------------------------------
    def wait_deployed(app_id):
        wait_for(f"no deployment of {app_id}",
                 lambda: not any(app_id in d.affected_apps for d in c.list_deployments()))

    def update():
        # Its start waits for the health check: the app is locked until then.
        wait_deployed(CMD_APP)
        app = c.get_app(CMD_APP)
        app.env["GREETING"] = "bonjour"
        app.instances = 2
        result = c.update_app(CMD_APP, app)
        expect(result.get("deploymentId") and result.get("version"), f"update_app {result}")
        wait_deployed(CMD_APP)
        got = c.get_app(CMD_APP)
        expect(got.env.get("GREETING") == "bonjour", f"env {got.env}")
        wait_for("two running tasks after the update", lambda: running_tasks(c, CMD_APP, 2))

    r.step("update_app (a read app written back, read-only fields and all)", update)

    def versions():
        vs = c.list_versions(CMD_APP)
        expect(len(vs) >= 2, f"versions {vs}")
        for v in vs:
            app = c.get_version(CMD_APP, v)
            check_app(app, CMD_APP, f"get_version {v}")
        return vs

    vs = r.step("list_versions / get_version", versions)

    def scale():
        wait_deployed(CMD_APP)
        result = c.scale_app(CMD_APP, instances=3)
        expect(result.get("deploymentId"), f"scale_app {result}")
        wait_for("three running tasks", lambda: running_tasks(c, CMD_APP, 3))
        wait_deployed(CMD_APP)
        result = c.scale_app(CMD_APP, delta=-1)
        expect(result.get("deploymentId"), f"scale_app delta {result}")
        wait_for("two running tasks", lambda: running_tasks(c, CMD_APP, 2))

    r.step("scale_app (instances, then delta)", scale)

    def kill_one():
        before = wait_for("two running tasks", lambda: running_tasks(c, CMD_APP, 2))
        killed = c.kill_task(CMD_APP, before[0].id, scale=False)
        check_task(killed, "kill_task")
        expect(killed.id == before[0].id, f"killed {killed.id} not {before[0].id}")
        wait_for("a replacement task",
                 lambda: running_tasks(c, CMD_APP, 2, without={before[0].id}))

    r.step("kill_task(scale=False) is replaced", kill_one)

    def kill_one_scaling():
        before = wait_for("two running tasks", lambda: running_tasks(c, CMD_APP, 2))
        wait_deployed(CMD_APP)
        result = c.kill_task(CMD_APP, before[0].id, scale=True)
        expect(isinstance(result, dict) and result.get("deploymentId"), f"kill_task {result}")
        wait_for("one running task", lambda: running_tasks(c, CMD_APP, 1))
        expect(c.get_app(CMD_APP).instances == 1, "instances after a scaling kill")

    r.step("kill_task(scale=True)", kill_one_scaling)

    def kill_all():
        wait_deployed(CMD_APP)
        c.scale_app(CMD_APP, instances=2)
        before = wait_for("two running tasks", lambda: running_tasks(c, CMD_APP, 2))
        killed = c.kill_tasks(CMD_APP, scale=False)
        expect(isinstance(killed, list) and len(killed) == 2, f"kill_tasks {killed}")
        for t in killed:
            check_task(t, "kill_tasks")
        old = {t.id for t in before}
        wait_for("two replacement tasks", lambda: running_tasks(c, CMD_APP, 2, without=old))

    r.step("kill_tasks(scale=False)", kill_all)

    def kill_given():
        tasks = wait_for("two running tasks", lambda: running_tasks(c, CMD_APP, 2))
        expect(c.kill_given_tasks([tasks[0].id], scale=True) is True, "kill_given_tasks")
        wait_for("one running task", lambda: running_tasks(c, CMD_APP, 1))

    r.step("kill_given_tasks(scale=True)", kill_given)

    def restart():
        before = {t.id for t in wait_for("one running task",
                                         lambda: running_tasks(c, CMD_APP, 1))}
        wait_deployed(CMD_APP)
        result = c.restart_app(CMD_APP)
        expect(result.get("deploymentId") and result.get("version"), f"restart {result}")
        wait_for("a restarted task", lambda: running_tasks(c, CMD_APP, 1, without=before))

    r.step("restart_app", restart)

    def rollback():
        first = (vs or c.list_versions(CMD_APP))[-1]
        result = c.rollback_app(CMD_APP, first, force=True)
        expect(result.get("deploymentId"), f"rollback_app {result}")
        wait_deployed(CMD_APP)
        got = c.get_app(CMD_APP)
        expect(got.env.get("GREETING") == "hello", f"env after rollback {got.env}")

    r.step("rollback_app to the first version", rollback)

    def kill_all_scaling():
        wait_for("two running tasks", lambda: running_tasks(c, CMD_APP, 2))
        result = c.kill_tasks(CMD_APP, scale=True)
        expect(isinstance(result, dict) and result.get("deploymentId"), f"kill_tasks {result}")
        wait_for("no tasks", lambda: c.list_tasks(CMD_APP) == [])
        expect(c.get_app(CMD_APP).instances == 0, "instances after a scaling kill of all")

    r.step("kill_tasks(scale=True)", kill_all_scaling)

    def update_many():
        docker = c.get_app(DOCKER_APP)
        docker.labels["updated"] = "yes"
        result = c.update_apps([docker], force=True)
        expect(result.get("deploymentId"), f"update_apps {result}")
        got = c.get_app(DOCKER_APP)
        expect(got.labels.get("updated") == "yes", f"labels {got.labels}")

    r.step("update_apps (PUT /v2/apps, force)", update_many)

    def cancel_deployment():
        d = wait_for("a deployment of the Docker app", lambda: next(
            (d for d in c.list_deployments() if DOCKER_APP in d.affected_apps), None))
        check_deployment(d, "deployment")
        expect(c.delete_deployment(d.id, force=True) == {}, "delete_deployment(force)")
        wait_for("the deployment gone", lambda: all(
            x.id != d.id for x in c.list_deployments()))

    r.step("delete_deployment(force=True)", cancel_deployment)

    # --- groups --------------------------------------------------------------------------
    def wait_group_deployed():
        wait_for(f"no deployment in {GROUP}", lambda: not any(
            a.startswith(GROUP) for d in c.list_deployments() for a in d.affected_apps))

    def create_group():
        group = MarathonGroup(id=GROUP, apps=[group_app("db", 1)], groups=[
            MarathonGroup(id=f"{GROUP}/web", dependencies=[f"{GROUP}/db"],
                          apps=[group_app("web/fe", 1)])])
        result = c.create_group(group)
        expect(result.get("deploymentId") and result.get("version"), f"create_group {result}")
        wait_group_deployed()
        got = c.get_group(GROUP)
        expect_type(got, MarathonGroup, "get_group")
        expect([a.id for a in got.apps] == [f"{GROUP}/db"], f"apps {got.apps}")
        for a in got.apps:
            check_app(a, a.id, "group app")
        expect(got.groups[0].id == f"{GROUP}/web", f"groups {got.groups}")
        expect(got.groups[0].dependencies == [f"{GROUP}/db"], f"deps {got.groups[0]}")
        expect(got.version, "version")
        listed = c.list_groups()
        # The other apps of this run live in /clients, an implicit group.
        expect(sorted(g.id for g in listed) == ["/clients", GROUP], f"list_groups {listed}")

    r.step("create_group / get_group / list_groups (nested, with dependencies)",
           create_group)

    def scale_group():
        result = c.scale_group(GROUP, 2)
        expect(result.get("deploymentId"), f"scale_group {result}")
        wait_group_deployed()
        expect(c.get_app(f"{GROUP}/web/fe").instances == 2, "scaled by 2")

    r.step("scale_group", scale_group)

    def update_group():
        group = c.get_group(GROUP)
        group.apps = [group_app("db", 1), group_app("cache", 1)]
        result = c.update_group(GROUP, group, force=True)
        expect(result.get("deploymentId"), f"update_group {result}")
        got = c.get_group(GROUP)
        expect(sorted(a.id for a in got.apps) == [f"{GROUP}/cache", f"{GROUP}/db"],
               f"apps {got.apps}")
        expect([g.id for g in got.groups] == [f"{GROUP}/web"], f"groups {got.groups}")
        expect(got.groups[0].apps[0].instances == 2, "the subgroup's app as it was")
        wait_group_deployed()

    r.step("update_group (a read group written back with one more app)", update_group)

    def delete_group():
        result = c.delete_group(GROUP, force=True)
        expect(result.get("deploymentId") and result.get("version"), f"delete_group {result}")
        try:
            c.get_group(GROUP)
        except marathon.NotFoundError:
            pass
        else:
            raise CheckFailed("a deleted group is still found")
        wait_for("the group's apps gone", lambda: not any(
            a.id.startswith(GROUP) for a in c.list_apps()))

    r.step("delete_group", delete_group)

    # --- deleting ------------------------------------------------------------------------
    def delete_all():
        for app_id in (CMD_APP, DOCKER_APP, CRASH_APP):
            result = c.delete_app(app_id, force=True)
            expect(result.get("deploymentId"), f"delete_app {app_id}: {result}")
        wait_for("no apps", lambda: c.list_apps() == [])
        try:
            c.get_app(CMD_APP)
        except marathon.NotFoundError:
            pass
        else:
            raise CheckFailed("a deleted app is still found")

    r.step("delete_app", delete_all)

    # --- the event stream, as EventFactory built it ---------------------------------------
    def events():
        for t in ("api_post_event", "deployment_info", "deployment_step_success",
                  "deployment_success", "status_update_event", "instance_changed_event",
                  "group_change_success"):
            wait_for(f"a {t}", lambda t=t: watcher.of_type(t))
        wait_for("an app_terminated_event", lambda: watcher.of_type("app_terminated_event"))
        for e in watcher.events:
            expect(isinstance(e, MarathonEvent), f"event {e!r}")
            datetime.datetime.strptime(e.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        info = watcher.of_type("deployment_info")[0]
        expect_type(info.plan, MarathonDeploymentPlan, "deployment_info.plan")
        expect(info.plan.steps and info.plan.original is not None
               and info.plan.target is not None, f"plan {info.plan}")
        expect(info.current_step and info.current_step["actions"], "currentStep")
        update = watcher.of_type("status_update_event")[0]
        expect(update.task_id and update.app_id and update.task_status, f"status {update}")
        posts = watcher.of_type("api_post_event")
        expect(any(p.app_definition["id"] == CMD_APP for p in posts), "api_post_event of cmd")
        groups = watcher.of_type("group_change_success")
        expect(any(g.group_id == GROUP for g in groups), f"group_change_success {groups}")

    r.step("event_stream: every event built by EventFactory", events)

    if r.failures:
        print(f"\n{len(r.failures)} of {r.steps} steps failed against {url} "
              f"(marathon-python {marathon_version()}):", flush=True)
        for name, e, tb in r.failures:
            print(f"\n--- {name}: {type(e).__name__}: {e}\n{tb}", flush=True)
        return 1
    print(f"\nall {r.steps} steps passed (marathon-python {marathon_version()})")
    return 0


def marathon_version():
    try:
        from importlib.metadata import version
        return version("marathon")
    except Exception:
        return "unknown version"


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
