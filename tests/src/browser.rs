//! A headless Chromium driven through ChromeDriver (WebDriver), for the dashboard tests
//! and the dashboard benchmark. Needs Debian's `chromium` and `chromium-driver`
//! (`scripts/browser.sh` installs them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

use crate::process::{free_port, Proc};
use crate::{eventually, TIMEOUT};

/// How long a page may take to show what a step waits for.
pub const WAIT: Duration = Duration::from_secs(30);

/// ChromeDriver with one headless Chromium session; both stop on drop.
pub struct Browser {
    driver: Option<WebDriver>,
    _chromedriver: Proc,
    screenshots: Option<PathBuf>,
}

impl Browser {
    pub async fn start(log_dir: &Path) -> Browser {
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
        ] {
            caps.add_arg(arg).expect("chrome argument");
        }
        // On a loaded machine Chromium sometimes starts too slowly for ChromeDriver
        // ("Could not read in devtools port number"): try again before giving up.
        let mut attempt = 0;
        let driver = loop {
            attempt += 1;
            // A fresh profile each time: a Chromium that started late still holds the last.
            // ChromeDriver cannot read Chromium's DevToolsActivePort under a path holding
            // `..` (it fails after a minute with "Could not read in devtools port number").
            let profile = log_dir
                .canonicalize()
                .expect("browser log dir")
                .join(format!("chromium-profile-{attempt}"));
            let mut caps = caps.clone();
            caps.add_arg(&format!("--user-data-dir={}", profile.display()))
                .expect("chrome argument");
            match WebDriver::new(&url, caps).await {
                Ok(driver) => break driver,
                Err(e) if attempt < 3 => eprintln!("no Chromium session yet ({e}); trying again"),
                Err(e) => panic!("no Chromium session: {e}\n{}", proc.log_tail(30)),
            }
        };
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

    pub fn d(&self) -> &WebDriver {
        self.driver.as_ref().expect("driver")
    }

    pub async fn open(&self, url: &str) {
        self.d().goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.d()
            .execute(script, args)
            .await
            .map(|r| r.json().clone())
            .unwrap_or(Value::Null)
    }

    /// Polls `script` until it returns something other than null/false/""; panics with
    /// `what` and the page's text after WAIT.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.js(script, vec![]).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                let page = self
                    .js(
                        "return location.href + '\\n' + document.body.innerText",
                        vec![],
                    )
                    .await;
                panic!(
                    "waited {WAIT:?} for {what}; the page shows:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Clicks the first element `css` selects; tries again when a refresh replaced it
    /// between finding and clicking.
    /// Milliseconds from the start of the page's navigation until `condition` (a
    /// JavaScript expression) first holds, checked in the page every 5 ms; None when it
    /// does not hold within 20 s.
    pub async fn ready_time(&self, condition: &str) -> Option<f64> {
        let script = format!(
            "const done = arguments[arguments.length - 1]; const until = performance.now() + 20000; \
             const check = () => {{ let ok = false; try {{ ok = !!({condition}); }} catch (e) {{}} \
             if (ok) done(performance.now()); else if (performance.now() > until) done(null); \
             else setTimeout(check, 5); }}; check();"
        );
        let r = self.d().execute_async(script, vec![]).await.ok()?;
        r.json().as_f64()
    }

    pub async fn click(&self, css: &str) {
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

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self
            .d()
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    pub async fn screenshot(&self, name: &str) {
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
    pub async fn text(&self, css: &str) -> String {
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
    pub async fn assert_nothing_injected(&self) {
        let injected = self
            .js(
                "return [window.injected === undefined, document.querySelectorAll('main script, main img').length]",
                vec![],
            )
            .await;
        assert_eq!(
            injected,
            json!([true, 0]),
            "markup from data was rendered as HTML"
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            // Ends the session (Chromium exits); chromedriver is killed by its Proc.
            let _ = futures::executor::block_on(tokio::time::timeout(
                Duration::from_secs(5),
                driver.quit(),
            ));
        }
    }
}
