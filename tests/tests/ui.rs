//! The dashboards in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver) against the real mesos-master, mesos-agent and marathon.
//!
//! One cluster and one browser session for the file: the master's pages first, then
//! Marathon's. Every step names what it waits for, so a failure says which one broke.
//! With `UI_SCREENSHOTS=<dir>` (relative to the repository) the same run saves a picture
//! of each main page there (`scripts/screenshots.sh` refreshes docs/screenshots).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesos_tests::marathon::Marathon;
use mesos_tests::*;
use serde_json::{json, Value};
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(30);

/// ChromeDriver with one headless Chromium session; both stop on drop.
struct Browser {
    driver: Option<WebDriver>,
    _chromedriver: Proc,
    screenshots: Option<PathBuf>,
}

impl Browser {
    async fn start(log_dir: &Path) -> Browser {
        let chromedriver = Path::new("/usr/bin/chromedriver");
        assert!(
            chromedriver.exists() && Path::new("/usr/bin/chromium").exists(),
            "the browser tests need Debian's chromium and chromium-driver: \
             apt-get install -y chromium chromium-driver (scripts/test.sh does it)"
        );
        let port = free_port();
        let proc = Proc::spawn(
            "chromedriver",
            chromedriver,
            vec![format!("--port={port}")],
            log_dir,
        );
        let url = format!("http://127.0.0.1:{port}");
        eventually("chromedriver answering", TIMEOUT, async || {
            (reqwest::get(format!("{url}/status")).await.ok()?.status() == 200).then_some(())
        })
        .await;
        let mut caps = DesiredCapabilities::chrome();
        let profile = log_dir.join("chromium-profile");
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg).expect("chrome argument");
        }
        let driver = WebDriver::new(&url, caps)
            .await
            .unwrap_or_else(|e| panic!("no Chromium session: {e}\n{}", proc.log_tail(30)));
        let screenshots = std::env::var_os("UI_SCREENSHOTS").map(|dir| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
            std::fs::create_dir_all(&dir).expect("screenshot dir");
            dir
        });
        Browser {
            driver: Some(driver),
            _chromedriver: proc,
            screenshots,
        }
    }

    fn d(&self) -> &WebDriver {
        self.driver.as_ref().expect("driver")
    }

    async fn open(&self, url: &str) {
        self.d().goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.d()
            .execute(script, args)
            .await
            .map(|r| r.json().clone())
            .unwrap_or(Value::Null)
    }

    /// Polls `script` until it returns something other than null/false/""; panics with
    /// `what` and the page's text after WAIT.
    async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.js(script, vec![]).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                let page = self
                    .js("return location.href + '\\n' + document.body.innerText", vec![])
                    .await;
                panic!("waited {WAIT:?} for {what}; the page shows:\n{}", page.as_str().unwrap_or(""));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Clicks the first element `css` selects; tries again when a refresh replaced it
    /// between finding and clicking.
    async fn click(&self, css: &str) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let el = self.d().find(By::Css(css)).await?;
                el.scroll_into_view().await?;
                el.click().await
            }
            .await;
            match result {
                Ok(()) => return,
                Err(e) if attempt < 5 => {
                    eprintln!("click {css}: {e}; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.d().find(By::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    async fn screenshot(&self, name: &str) {
        if let Some(dir) = &self.screenshots {
            // Let charts and bars settle after the last refresh.
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.d()
                .screenshot(&dir.join(format!("{name}.png")))
                .await
                .expect("screenshot");
        }
    }

    /// Text of the element `css` (empty when absent).
    async fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    /// No markup from data was turned into elements: the marker a `<script>` or an
    /// `onerror` handler in a name would set is unset, and no such element exists.
    async fn assert_nothing_injected(&self) {
        let injected = self
            .js(
                "return [window.injected === undefined, document.querySelectorAll('main script, main img').length]",
                vec![],
            )
            .await;
        assert_eq!(injected, json!([true, 0]), "markup from data was rendered as HTML");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            // Ends the session (Chromium exits); chromedriver is killed by its Proc.
            let _ = futures::executor::block_on(tokio::time::timeout(Duration::from_secs(5), driver.quit()));
        }
    }
}

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
    b.wait_for("the task page with a stdout link", "return !!document.querySelector('#open-stdout')")
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
    b.wait_for("the agents list", "return document.querySelector('main tbody a')").await;
    b.screenshot("master-agents").await;
    b.click("main tbody a").await;
    b.wait_for("the deactivate button", "return !!document.querySelector('#agent-deactivate_agent')").await;
    b.click("#agent-deactivate_agent").await;
    b.click("#dialog-confirm").await;
    b.wait_for("the agent shown deactivated", "return document.querySelector('main .facts').innerText.includes('deactivated')")
        .await;
    b.wait_for("the reactivate button", "return !!document.querySelector('#agent-reactivate_agent')").await;
    b.click("#agent-reactivate_agent").await;
    b.click("#dialog-confirm").await;
    b.wait_for("the agent shown active again", "return document.querySelector('main .facts').innerText.includes('active') && !document.querySelector('main .facts').innerText.includes('deactivated')")
        .await;
}

async fn marathon_dashboard(b: &Browser, marathon: &Marathon) {
    // The form: values the API refuses show at their fields and stay as typed.
    b.open(&marathon.url("/ui/#/new")).await;
    b.wait_for("the create form", "return !!document.querySelector('#app-id')").await;
    b.type_into("#app-id", "/Bad_Id").await;
    b.type_into("#app-cmd", "sleep 1000").await;
    b.type_into("#app-cpus", "0").await;
    b.type_into("#app-mem", "32").await;
    b.click("#submit-app").await;
    b.wait_for("the API's message at the id field", "return document.querySelector('#error-id').textContent").await;
    let cpus_error = b.wait_for("the API's message at the cpus field", "return document.querySelector('#error-cpus').textContent").await;
    assert!(cpus_error.as_str().unwrap().contains("0.001"), "{cpus_error}");
    assert_eq!(
        b.js("return document.querySelector('#app-id').value", vec![]).await,
        json!("/Bad_Id"),
        "what the user typed is kept"
    );
    b.screenshot("marathon-form-errors").await;

    // Created through the form, it starts.
    b.type_into("#app-id", "/dash/web").await;
    b.type_into("#app-cpus", "0.1").await;
    b.click("#submit-app").await;
    b.wait_for("the app page", "return location.hash === '#/app/dash/web'").await;
    let running = |n: usize| {
        format!("return [...document.querySelectorAll('tr[data-task]')].filter(r => r.innerText.includes('running')).length === {n}")
    };
    b.wait_for("one running task on the app page", &running(1)).await;

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
    let r = marathon.send("DELETE", &format!("/v2/apps/dash/web/tasks/{victim}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    b.wait_for(
        "the killed task gone from the page",
        &format!("return !document.querySelector('tr[data-task=\"{victim}\"]') && document.querySelectorAll('tr[data-task]').length > 0"),
    )
    .await;
    assert_eq!(b.js("return window.sameDocument", vec![]).await, json!(2), "updated without a reload");

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
    assert!(b.text("main").await.contains("<img src=x onerror=window.injected=2>"));
    b.assert_nothing_injected().await;
    b.screenshot("marathon-why-waiting").await;

    // Destroyed through the button and the confirmation.
    b.open(&marathon.url("/ui/#/app/dash/web")).await;
    b.wait_for("the app page again", "return !!document.querySelector('#destroy')").await;
    b.click("#destroy").await;
    b.click("#dialog-confirm").await;
    b.wait_for("the apps list after destroying", "return location.hash === '#/'").await;
    eventually("the app gone from the API", WAIT, async || {
        (marathon.get("/v2/apps/dash/web").await.status == 404).then_some(())
    })
    .await;
    b.wait_for("the app gone from the tree", "return document.querySelector('tr[data-app=\"/dash/unique\"]') && !document.querySelector('tr[data-app=\"/dash/web\"]')").await;
}
