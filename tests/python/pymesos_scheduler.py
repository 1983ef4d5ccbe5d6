#!/usr/bin/env python3
"""An ordinary pymesos framework (PyPI `pymesos` 0.3.15, unmodified): it subscribes through
`MesosSchedulerDriver` with HTTP Basic credentials, launches one command task on the first
offer that fits, and stops when the task ends.

    pymesos_scheduler.py MASTER PRINCIPAL SECRET [COMMAND]

MASTER is host:port (pymesos speaks plain HTTP only). Exits 0 once the task reaches
TASK_FINISHED; otherwise exits 1 and prints why: another terminal state with its reason
and message, an ERROR event, or what the driver raised (a refused SUBSCRIBE, such as
`Failed with HTTP 401: ...`, surfaces here). Prints each status update as it comes.
"""

import getpass
import sys
import threading
import time
import uuid

from pymesos import MesosSchedulerDriver, Scheduler

# How long the whole run may take: far more than a task needs, so only a hang stops it.
DEADLINE_SECONDS = 120
TERMINAL = {
    "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
    "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR",
}
CPUS, MEM = 0.1, 32.0


def scalar(offer, name):
    return sum(r["scalar"]["value"] for r in offer.get("resources", [])
               if r["name"] == name and "scalar" in r)


class OneTask(Scheduler):
    def __init__(self, command):
        self.command = command
        self.task_id = "pymesos-" + uuid.uuid4().hex[:8]
        self.launched = False
        self.outcome = None  # (exit code, message) once decided
        self.done = threading.Event()

    def finish(self, code, message):
        if self.outcome is None:
            self.outcome = (code, message)
        self.done.set()

    def registered(self, driver, framework_id, master_info):
        print("registered as", framework_id["value"], flush=True)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            fits = scalar(offer, "cpus") >= CPUS and scalar(offer, "mem") >= MEM
            if self.launched or not fits:
                driver.declineOffer(offer["id"])
                continue
            self.launched = True
            task = {
                "name": "pymesos-task",
                "task_id": {"value": self.task_id},
                "agent_id": offer["agent_id"],
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": CPUS}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": MEM}},
                ],
                "command": {"value": self.command, "shell": True},
            }
            print("launching", self.task_id, "on", offer["agent_id"]["value"], flush=True)
            driver.launchTasks(offer["id"], [task])

    def statusUpdate(self, driver, update):
        state = update["state"]
        print("status", update["task_id"]["value"], state,
              update.get("reason", ""), update.get("message", ""), flush=True)
        if update["task_id"]["value"] != self.task_id or state not in TERMINAL:
            return
        if state == "TASK_FINISHED":
            self.finish(0, "TASK_FINISHED")
        else:
            self.finish(1, "%s reason=%s message=%s" % (
                state, update.get("reason"), update.get("message")))

    def error(self, driver, message):
        self.finish(1, "ERROR event: %s" % message)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    master, principal, secret = sys.argv[1:4]
    command = sys.argv[4] if len(sys.argv) == 5 else "echo hello from pymesos"

    scheduler = OneTask(command)
    framework = {
        "user": getpass.getuser(),
        "name": "pymesos-one-task",
        "hostname": "127.0.0.1",
        "principal": principal,
    }
    driver = MesosSchedulerDriver(scheduler, framework, master,
                                  principal=principal, secret=secret)
    try:
        driver.start()
        # The driver's I/O thread hands its failure (a refused SUBSCRIBE) to this thread as
        # an exception (through SIGINT); waiting in short sleeps lets it arrive.
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not scheduler.done.is_set():
            if time.monotonic() > deadline:
                scheduler.finish(1, "no terminal state in %ds" % DEADLINE_SECONDS)
            time.sleep(0.1)
    except Exception as e:  # what pymesos raised, as pymesos words it
        scheduler.finish(1, "pymesos raised %s: %s" % (type(e).__name__, e))
    finally:
        driver.stop()  # TEARDOWN, sent with the same credentials
        driver.join()

    code, message = scheduler.outcome
    print("outcome:", message, flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
