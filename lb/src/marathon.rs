//! Marathon over HTTP: the app listing and the event stream, from the first endpoint of
//! `--marathon` that answers (the last one that answered is tried first).

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::events::{self, Event, FrameReader};
use crate::model::App;
use crate::wire;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no Marathon answered: {0}")]
    Unreachable(String),
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {source}")]
    Body {
        url: String,
        source: wire::ListError,
    },
}

/// What the event stream reader reports.
#[derive(Debug)]
pub enum StreamNews {
    /// Connected (again): events may have been missed, fetch.
    Connected,
    Event(Event),
    /// `/v2/events` does not exist there (404): poll instead.
    NotFound,
    /// The stream broke or could not be opened; it is retried.
    Lost(String),
}

#[derive(Clone)]
pub struct Marathon {
    hosts: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
    resolved: Arc<Mutex<HashMap<String, Option<IpAddr>>>>,
    /// HTTP Basic (`--auth-credentials`) on every request.
    auth: Option<(String, String)>,
}

/// Host names resolved at most this many at a time before the cache starts over.
const RESOLVE_CACHE: usize = 10_000;
/// marathon-lb reconnects when the stream stays silent this long (Marathon sends a
/// heartbeat every 10 s).
const SILENCE: Duration = Duration::from_secs(300);
/// While /v2/events answers 404, look again this often.
const NOT_FOUND_RETRY: Duration = Duration::from_secs(30);

impl Marathon {
    pub fn new(hosts: Vec<String>, auth: Option<(String, String)>) -> Marathon {
        // https:// Marathons are checked against LIBPROCESS_SSL_CA_FILE.
        let client = mesos_common::tls::http_client()
            .connect_timeout(Duration::from_millis(3050))
            .user_agent("marathon-lb")
            .build()
            .expect("the HTTP client builds");
        Marathon {
            hosts: Arc::new(Mutex::new(
                hosts
                    .into_iter()
                    .map(|h| h.trim_end_matches('/').to_string())
                    .collect(),
            )),
            client,
            resolved: Arc::new(Mutex::new(HashMap::new())),
            auth,
        }
    }

    fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        let request = self.client.get(url);
        match &self.auth {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    fn hosts(&self) -> Vec<String> {
        self.hosts.lock().expect("hosts lock").clone()
    }

    /// Puts `host` first: it answered.
    fn prefer(&self, host: &str) {
        let mut hosts = self.hosts.lock().expect("hosts lock");
        if let Some(i) = hosts.iter().position(|h| h == host) {
            hosts.rotate_left(i);
        }
    }

    /// `GET /v2/apps?embed=apps.tasks&embed=apps.readiness`, converted; malformed apps are
    /// logged and left out.
    pub async fn apps(&self) -> Result<Vec<App>, FetchError> {
        let mut last = String::from("no --marathon endpoint");
        for host in self.hosts() {
            let url = format!("{host}/v2/apps?embed=apps.tasks&embed=apps.readiness");
            let response = self
                .get(&url)
                .header("Accept", "application/json")
                .timeout(Duration::from_secs(46))
                .send()
                .await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            let status = response.status().as_u16();
            if status != 200 {
                return Err(FetchError::Status { url, status });
            }
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            self.prefer(&host);
            let resolved = self.resolved.clone();
            let parsed = tokio::task::spawn_blocking(move || {
                let mut cache = resolved.lock().expect("resolve cache lock");
                if cache.len() > RESOLVE_CACHE {
                    cache.clear();
                }
                wire::apps(&body, &mut |h: &str| {
                    *cache.entry(h.to_string()).or_insert_with(|| resolve(h))
                })
            })
            .await
            .expect("the conversion does not panic");
            let (apps, bad) = parsed.map_err(|source| FetchError::Body { url, source })?;
            for e in bad {
                tracing::warn!("left out: {e}");
            }
            return Ok(apps);
        }
        Err(FetchError::Unreachable(last))
    }

    /// Reads `/v2/events` until `news` closes, reconnecting with a growing random pause.
    pub async fn follow_events(self, news: mpsc::Sender<StreamNews>) {
        let mut wait = Duration::from_secs(1);
        loop {
            let host = self.hosts()[0].clone();
            let opened = tokio::time::Instant::now();
            let outcome = self.stream_once(&host, &news).await;
            if news.is_closed() {
                return;
            }
            let pause = match outcome {
                Ok(()) => {
                    let _ = news.send(StreamNews::Lost("the stream ended".into())).await;
                    Duration::ZERO
                }
                Err(StreamError::NotFound) => {
                    let _ = news.send(StreamNews::NotFound).await;
                    NOT_FOUND_RETRY
                }
                Err(StreamError::Other(why)) => {
                    let _ = news.send(StreamNews::Lost(why)).await;
                    self.hosts.lock().expect("hosts lock").rotate_left(1);
                    if opened.elapsed() > Duration::from_secs(60) {
                        wait = Duration::from_secs(1);
                    }
                    let pause = wait.mul_f64(rand::random::<f64>());
                    wait = (wait.mul_f64(1.5)).min(Duration::from_secs(60));
                    pause
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    async fn stream_once(
        &self,
        host: &str,
        news: &mpsc::Sender<StreamNews>,
    ) -> Result<(), StreamError> {
        let mut url = reqwest::Url::parse(&format!("{host}/v2/events"))
            .map_err(|e| StreamError::Other(e.to_string()))?;
        url.query_pairs_mut().append_pair("plan-format", "light");
        for kind in events::SUBSCRIBED {
            url.query_pairs_mut().append_pair("event_type", kind);
        }
        let response = self
            .get(url.clone())
            .header("Accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| StreamError::Other(format!("{url}: {e}")))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Err(StreamError::NotFound),
            s => return Err(StreamError::Other(format!("{url} answered {s}"))),
        }
        if news.send(StreamNews::Connected).await.is_err() {
            return Ok(());
        }
        let mut body = response.bytes_stream();
        let mut reader = FrameReader::default();
        loop {
            let chunk = match tokio::time::timeout(SILENCE, body.next()).await {
                Err(_) => return Err(StreamError::Other(format!("no data for {SILENCE:?}"))),
                Ok(None) => return Ok(()),
                Ok(Some(Err(e))) => return Err(StreamError::Other(e.to_string())),
                Ok(Some(Ok(c))) => c,
            };
            for frame in reader.push(&chunk) {
                match events::parse(&frame) {
                    Some(event) => {
                        if news.send(StreamNews::Event(event)).await.is_err() {
                            return Ok(());
                        }
                    }
                    None => {
                        tracing::debug!(data = %frame.data, "event without a JSON object ignored")
                    }
                }
            }
        }
    }
}

enum StreamError {
    NotFound,
    Other(String),
}

/// An agent host name's address: literal addresses as they are, names through the resolver.
fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .ok()?
        .map(|a| a.ip())
        .find(IpAddr::is_ipv4)
}
