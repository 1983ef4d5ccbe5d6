//! The ZooKeeper store against a real standalone ZooKeeper (Debian's package, started by
//! `scripts/zookeeper.sh`): the conformance suite, the layout, writes interrupted at each
//! step, session loss and ACLs.
//!
//! Without ZooKeeper these tests print a skip notice, except under CI (`CI` set), where
//! they fail.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use mesos_common::zk::{Session, ZkUrl};

use super::layout::{parse_blob_name, Header};
use super::*;
use crate::storage::conformance::{self, pattern};

const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// A standalone ZooKeeper on a free loopback port, killed on drop.
struct TestZooKeeper {
    dir: Option<tempfile::TempDir>,
    port: u16,
}

impl TestZooKeeper {
    /// Runs `scripts/zookeeper.sh` with `args` and this server's directory.
    async fn script(args: &[&str]) -> Result<(), String> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/zookeeper.sh");
        let out = tokio::process::Command::new("bash")
            .arg(script)
            .args(args)
            // The server keeps its last 500 transactions in memory (commitLogCount), and
            // these tests write many of about 1 MB: the script's default heap is too small.
            .env("ZK_HEAP", "768m")
            .output()
            .await
            .map_err(|e| format!("cannot run scripts/zookeeper.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/zookeeper.sh {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Starts a server of its own; None (after a skip notice) when it cannot be started
    /// outside CI.
    async fn start() -> Option<TestZooKeeper> {
        let started = async {
            let dir = tempfile::Builder::new()
                .prefix("marathon-storage-zk-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let path = dir.path().to_str().unwrap().to_string();
            Self::script(&["start", &path, &port.to_string()]).await?;
            Ok::<_, String>(TestZooKeeper {
                dir: Some(dir),
                port,
            })
        };
        match started.await {
            Ok(zk) => Some(zk),
            Err(why) if std::env::var_os("CI").is_some() => {
                panic!("ZooKeeper is needed for these tests under CI: {why}")
            }
            Err(why) => {
                eprintln!(
                    "skipped: cannot start ZooKeeper ({why}); \
                     run `bash scripts/zookeeper.sh install`"
                );
                None
            }
        }
    }

    fn dir(&self) -> String {
        let dir = self.dir.as_ref().expect("running");
        dir.path().to_str().unwrap().to_string()
    }

    /// kill -9.
    async fn stop(&self) {
        Self::script(&["stop", &self.dir()]).await.unwrap();
    }

    /// Starts the stopped server again on its data and port.
    async fn restart(&self) {
        Self::script(&["start-node", &self.dir(), "1"])
            .await
            .unwrap();
    }

    /// `zk://127.0.0.1:<port><path>`, optionally with credentials.
    fn url(&self, credentials: &str, path: &str) -> ZkUrl {
        ZkUrl::parse(&format!("zk://{credentials}127.0.0.1:{}{path}", self.port)).unwrap()
    }
}

impl Drop for TestZooKeeper {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/zookeeper.sh");
        let _ = std::process::Command::new("bash")
            .arg(script)
            .args(["stop", dir.path().to_str().unwrap()])
            .status();
        if std::thread::panicking() {
            eprintln!("kept ZooKeeper's files in {}", dir.keep().display());
        }
    }
}

/// The ZooKeeper the tests running now share (each under its own path), stopped when the
/// last of them is done.
async fn zookeeper() -> Option<Arc<TestZooKeeper>> {
    static SHARED: tokio::sync::Mutex<Weak<TestZooKeeper>> =
        tokio::sync::Mutex::const_new(Weak::new());
    let mut shared = SHARED.lock().await;
    if let Some(zk) = shared.upgrade() {
        return Some(zk);
    }
    let zk = Arc::new(TestZooKeeper::start().await?);
    *shared = Arc::downgrade(&zk);
    Some(zk)
}

/// A TCP forwarder to a local port. Frozen, it moves no bytes but keeps the connections
/// open: to the client behind it, ZooKeeper falls silent, as in a partition.
struct Proxy {
    port: u16,
    frozen: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (frozen, watch) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(client_read, server_write, watch.clone()));
                tokio::spawn(forward(server_read, client_write, watch.clone()));
            }
        });
        Proxy { port, frozen, task }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes read while frozen are held until the thaw (or dropped with the proxy).
        if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn session(url: &ZkUrl) -> Arc<Session> {
    let session = mesos_common::zk::open_until_connected(url, SESSION_TIMEOUT, || false)
        .await
        .expect("a ZooKeeper session");
    Arc::new(session)
}

async fn open(url: &ZkUrl, max_node_size: usize) -> ZkStore {
    ZkStore::open(url, SESSION_TIMEOUT, max_node_size)
        .await
        .expect("the store opens")
}

/// The children of a node, sorted.
async fn children(session: &Session, path: &str) -> Vec<String> {
    let mut children = session.children(path).await.unwrap();
    children.sort();
    children
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_store_conforms() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/conformance/marathon");
    let opened = Arc::new(std::sync::Mutex::new(Vec::<Arc<ZkStore>>::new()));
    let keep = opened.clone();
    conformance::run(move || {
        let url = url.clone();
        let keep = keep.clone();
        async move {
            // A new session each time: reopening is what a new leader does.
            let store = Arc::new(open(&url, DEFAULT_MAX_NODE_SIZE).await);
            keep.lock().unwrap().push(store.clone());
            store as Arc<dyn Store>
        }
    })
    .await;
    let stores: Vec<Arc<ZkStore>> = std::mem::take(&mut *opened.lock().unwrap());
    for store in stores {
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_layout_is_the_documented_one() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/layout/marathon");
    let store = open(&url, 1000).await;
    assert_eq!(store.root(), "/layout/marathon/state");
    let s = store.session().clone();
    let root = store.root().to_string();

    store.put("framework-id", b"fw".to_vec()).await.unwrap();
    store.put("apps/prod/web", pattern(2500, 1)).await.unwrap();
    store
        .put("apps/prod/web/api", b"api".to_vec())
        .await
        .unwrap();
    assert_eq!(children(&s, &root).await, vec!["blobs", "keys"]);
    assert_eq!(
        children(&s, &format!("{root}/keys")).await,
        vec!["=framework-id", "apps"]
    );
    assert_eq!(
        children(&s, &format!("{root}/keys/apps/prod")).await,
        vec!["=web", "web"]
    );
    assert_eq!(
        children(&s, &format!("{root}/keys/apps/prod/web")).await,
        vec!["=api"]
    );
    let (fw, _) = s
        .get(&format!("{root}/keys/=framework-id"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fw, b"vfw");
    // 2500 bytes in nodes of 1000: three chunks, named by the header.
    let (web, _) = s
        .get(&format!("{root}/keys/apps/prod/=web"))
        .await
        .unwrap()
        .unwrap();
    let Ok(Header::Chunked(chunks)) = Header::decode(web) else {
        panic!("the value node names chunks")
    };
    assert_eq!((chunks.chunks, chunks.len), (3, 2500));
    let blobs = children(&s, &format!("{root}/blobs")).await;
    assert_eq!(
        blobs,
        (0..3)
            .map(|i| format!("{}-{i}-apps%2Fprod%2Fweb", chunks.gen))
            .collect::<Vec<_>>()
    );
    // At most 999 bytes inline (one header byte), 1000 in chunks.
    store.put("apps/prod/web", pattern(999, 2)).await.unwrap();
    assert!(children(&s, &format!("{root}/blobs")).await.is_empty());
    store.put("edge", pattern(1000, 3)).await.unwrap();
    assert_eq!(children(&s, &format!("{root}/blobs")).await.len(), 1);
    assert_eq!(store.get("edge").await.unwrap(), Some(pattern(1000, 3)));
    store.delete("edge").await.unwrap();
    assert!(children(&s, &format!("{root}/blobs")).await.is_empty());
    // Deleting the last keys prunes their directories.
    store.delete("apps/prod/web/api").await.unwrap();
    store.delete("apps/prod/web").await.unwrap();
    assert_eq!(
        children(&s, &format!("{root}/keys")).await,
        vec!["=framework-id"]
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_put_interrupted_before_its_switch_keeps_the_old_value() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/crash-put/marathon");
    let store = open(&url, 1000).await;
    let blobs = format!("{}/blobs", store.root());
    let old = pattern(2500, 1);
    store.put("apps/web", old.clone()).await.unwrap();
    let old_chunks = children(store.session(), &blobs).await;
    assert_eq!(old_chunks.len(), 3);

    // The first step of a put of a new large value, then kill -9: the session ends
    // without another call.
    let staged = store.stage("apps/web", pattern(4200, 2)).await.unwrap();
    assert_eq!(staged.chunks().unwrap().chunks, 5);
    assert_eq!(children(store.session(), &blobs).await.len(), 8);
    store.close().await;

    // A new leader reads the old value, whole; the unnamed chunks are gone.
    let store = open(&url, 1000).await;
    assert_eq!(store.get("apps/web").await.unwrap(), Some(old.clone()));
    assert_eq!(children(store.session(), &blobs).await, old_chunks);

    // Killed after the switch, before the old chunks were deleted: the new value is read
    // and the stale chunks go at the next open.
    let staged = store.stage("apps/web", pattern(1500, 3)).await.unwrap();
    let path = store.value_path("apps/web");
    store
        .session()
        .set(&path, staged.encode(), None)
        .await
        .unwrap();
    assert_eq!(children(store.session(), &blobs).await.len(), 5);
    store.close().await;
    let store = open(&url, 1000).await;
    assert_eq!(store.get("apps/web").await.unwrap(), Some(pattern(1500, 3)));
    let left: Vec<String> = children(store.session(), &blobs).await;
    assert_eq!(left.len(), 2);
    assert!(left
        .iter()
        .all(|n| parse_blob_name(n).unwrap().0 == staged.chunks().unwrap().gen));

    // In this process: a put that failed part-way is cleaned up before the next write.
    store.stage("apps/web", pattern(3000, 4)).await.unwrap();
    store.dirty.store(true, Ordering::Release);
    store.put("other", b"x".to_vec()).await.unwrap();
    assert_eq!(children(store.session(), &blobs).await, left);
    store.close().await;
}

/// Stages the batch used by the interrupted-batch tests: large and small puts and deletes.
fn batch(store_keys: &mut BTreeMap<String, Option<Vec<u8>>>) {
    store_keys.insert("apps/prod/web".into(), Some(pattern(2500, 10)));
    store_keys.insert("versions/prod/web/2".into(), Some(b"v2".to_vec()));
    store_keys.insert("ports/10001".into(), Some(b"prod/web".to_vec()));
    store_keys.insert("instances/old".into(), None);
    store_keys.insert("big/old".into(), None);
}

async fn before_batch(store: &ZkStore) {
    store.put("apps/prod/web", pattern(1800, 1)).await.unwrap();
    store
        .put("instances/old", b"running".to_vec())
        .await
        .unwrap();
    store.put("big/old", pattern(3100, 2)).await.unwrap();
    store.put("untouched", b"u".to_vec()).await.unwrap();
}

async fn assert_before_batch(store: &ZkStore) {
    assert_eq!(
        store.list("").await.unwrap(),
        vec!["apps/prod/web", "big/old", "instances/old", "untouched"]
    );
    assert_eq!(
        store.get("apps/prod/web").await.unwrap(),
        Some(pattern(1800, 1))
    );
    assert_eq!(store.get("big/old").await.unwrap(), Some(pattern(3100, 2)));
}

async fn assert_after_batch(store: &ZkStore) {
    assert_eq!(
        store.list("").await.unwrap(),
        vec![
            "apps/prod/web",
            "ports/10001",
            "untouched",
            "versions/prod/web/2"
        ]
    );
    assert_eq!(
        store.get("apps/prod/web").await.unwrap(),
        Some(pattern(2500, 10))
    );
    assert_eq!(
        store.get("ports/10001").await.unwrap(),
        Some(b"prod/web".to_vec())
    );
}

/// What is left in ZooKeeper besides the values: no commit node, and only the chunks the
/// value nodes name.
async fn assert_no_leftovers(store: &ZkStore, chunks: usize) {
    let s = store.session();
    assert_eq!(children(s, store.root()).await, vec!["blobs", "keys"]);
    assert_eq!(
        children(s, &format!("{}/blobs", store.root())).await.len(),
        chunks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_apply_interrupted_at_any_step_lands_whole_or_not_at_all() {
    let Some(zk) = zookeeper().await else { return };
    // Each step at which the writer dies: 0 staged, 1 committed, 2 half rolled forward,
    // 3 rolled forward but the commit node not deleted.
    for step in 0..4 {
        let url = zk.url("", &format!("/crash-apply-{step}/marathon"));
        let store = open(&url, 1000).await;
        before_batch(&store).await;
        let mut last = BTreeMap::new();
        batch(&mut last);
        let entries = store.prepare(last).await.unwrap();
        if step >= 1 {
            store.commit(&entries).await.unwrap();
        }
        if step == 2 {
            store.roll_forward(&entries[..2]).await.unwrap();
        }
        if step == 3 {
            store.roll_forward(&entries).await.unwrap();
        }
        store.close().await;

        let store = open(&url, 1000).await;
        if step == 0 {
            assert_before_batch(&store).await;
            // apps/prod/web and big/old in chunks.
            assert_no_leftovers(&store, 2 + 4).await;
        } else {
            assert_after_batch(&store).await;
            assert_no_leftovers(&store, 3).await;
        }
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_large_batch_record_is_chunked_and_recovered() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/crash-large-record/marathon");
    let store = open(&url, 1000).await;
    // 100 small values of 100 bytes: a record of ~12 kB in nodes of 1000 bytes.
    let last: BTreeMap<String, Option<Vec<u8>>> = (0..100)
        .map(|i| (format!("instances/i{i:03}"), Some(pattern(100, i as u8))))
        .collect();
    let entries = store.prepare(last).await.unwrap();
    let commit = store.commit(&entries).await.unwrap();
    assert!(commit.chunks().unwrap().chunks > 10);
    store.close().await;
    let store = open(&url, 1000).await;
    let keys = store.list("instances").await.unwrap();
    assert_eq!(keys.len(), 100);
    assert_eq!(
        store.get("instances/i042").await.unwrap(),
        Some(pattern(100, 42))
    );
    assert_no_leftovers(&store, 0).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_failed_batch_is_finished_before_the_next_read() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/failed-batch/marathon");
    let store = open(&url, 1000).await;
    before_batch(&store).await;
    let mut last = BTreeMap::new();
    batch(&mut last);
    // As if the connection broke right after the commit point: the call failed, the
    // store is marked, and the next read finishes the batch first.
    let entries = store.prepare(last).await.unwrap();
    store.commit(&entries).await.unwrap();
    store.dirty.store(true, Ordering::Release);
    assert_after_batch(&store).await;
    assert_no_leftovers(&store, 3).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_lost_session_makes_the_store_unavailable() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/lost-session/marathon");
    let election = session(&url).await;
    let store = ZkStore::with_session(election.clone(), &ZkStore::root_for(&url), 1000)
        .await
        .unwrap();
    store.put("framework-id", b"fw-1".to_vec()).await.unwrap();
    // The store does not close a session it was lent.
    store.close().await;
    assert_eq!(
        store.get("framework-id").await.unwrap(),
        Some(b"fw-1".to_vec())
    );

    // The session ends (as when it expires): every call is Unavailable, at once.
    election.close_now().await;
    assert!(election.is_expired());
    let started = Instant::now();
    for result in [
        store.get("framework-id").await.map(|_| ()),
        store.put("framework-id", b"fw-2".to_vec()).await,
        store.delete("framework-id").await,
        store.list("").await.map(|_| ()),
        store
            .apply(vec![
                Op::put("a", b"1".to_vec()),
                Op::put("b", b"2".to_vec()),
            ])
            .await,
    ] {
        let error = result.unwrap_err();
        assert!(error.is_unavailable(), "{error}");
    }
    assert!(started.elapsed() < Duration::from_secs(1));

    // A new leader's store, on a new session, has the data.
    let store = open(&url, 1000).await;
    assert_eq!(
        store.get("framework-id").await.unwrap(),
        Some(b"fw-1".to_vec())
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_unreachable_server_is_unavailable() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = ZkUrl::parse(&format!("zk://127.0.0.1:{port}/marathon")).unwrap();
    let started = Instant::now();
    let opened = ZkStore::open(&url, Duration::from_secs(1), DEFAULT_MAX_NODE_SIZE).await;
    assert!(
        matches!(opened, Err(StoreError::Unavailable { .. })),
        "{opened:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_nodes_carry_the_urls_acl() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("marathon:secret@", "/acl/marathon");
    let store = open(&url, 1000).await;
    store.put("apps/web", b"app".to_vec()).await.unwrap();
    store.put("big", pattern(2000, 1)).await.unwrap();

    // Another client without the credentials reads, but cannot write.
    let anonymous = zk.url("", "/acl/marathon");
    let other = session(&anonymous).await;
    let value_node = store.value_path("apps/web");
    assert!(other.get(&value_node).await.unwrap().is_some());
    let refused = other.set(&value_node, b"vhacked".to_vec(), None).await;
    assert_eq!(
        refused.unwrap_err().code(),
        Some(zookeeper_async::ZkError::NoAuth)
    );
    let blobs = format!("{}/blobs", store.root());
    let chunk = children(&other, &blobs).await.remove(0);
    let refused = other.delete(&format!("{blobs}/{chunk}"), None).await;
    assert_eq!(
        refused.unwrap_err().code(),
        Some(zookeeper_async::ZkError::NoAuth)
    );
    other.close_now().await;
    assert_eq!(store.get("apps/web").await.unwrap(), Some(b"app".to_vec()));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_too_small_a_node_size_is_refused() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/small-node/marathon");
    let opened = ZkStore::open(&url, SESSION_TIMEOUT, 100).await;
    assert!(
        matches!(opened, Err(StoreError::Fatal { .. })),
        "{opened:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_expired_session_leaves_the_store_unavailable_for_good() {
    let Some(zk) = zookeeper().await else { return };
    let proxy = Proxy::start(zk.port).await;
    let path = "/expiry/marathon";
    let through_proxy = ZkUrl::parse(&format!("zk://127.0.0.1:{}{path}", proxy.port)).unwrap();
    let timeout = Duration::from_secs(2);
    let store = ZkStore::open(&through_proxy, timeout, 1000).await.unwrap();
    store.put("framework-id", b"fw-1".to_vec()).await.unwrap();

    // Partitioned: calls fail as Unavailable, within about the session timeout.
    proxy.freeze(true);
    let started = Instant::now();
    let error = store.get("framework-id").await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(started.elapsed() < timeout * 2, "{:?}", started.elapsed());
    // Long enough for the server to expire the session; then the partition heals.
    tokio::time::sleep(timeout * 2).await;
    proxy.freeze(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store.session().is_expired() {
        assert!(
            Instant::now() < deadline,
            "the client never learned of the expiry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Expiry is final: the leader steps down and a new store is opened.
    let error = store
        .put("framework-id", b"fw-2".to_vec())
        .await
        .unwrap_err();
    assert!(
        error.is_unavailable() && error.to_string().contains("expired"),
        "{error}"
    );
    let store = open(&zk.url("", path), 1000).await;
    assert_eq!(
        store.get("framework-id").await.unwrap(),
        Some(b"fw-1".to_vec())
    );
    store.close().await;
}

/// A value of 250,004 bytes (three chunks in nodes of 100,000) that starts with `n`.
fn big_value(n: u32) -> Vec<u8> {
    let mut value = n.to_be_bytes().to_vec();
    value.extend(pattern(250_000, n as u8));
    value
}

/// Batch `n` of the interrupted-writer tests: `a`, `b` and `big` say `n`, and the marker
/// moves from `n - 1` to `n`.
fn whole_batch(n: u32) -> Vec<Op> {
    vec![
        Op::put("a", n.to_be_bytes().to_vec()),
        Op::put("big", big_value(n)),
        Op::put(format!("marker/{n}"), Vec::new()),
        Op::delete(format!("marker/{}", n.wrapping_sub(1))),
        Op::put("b", n.to_be_bytes().to_vec()),
    ]
}

fn number(value: &[u8]) -> u32 {
    u32::from_be_bytes(value[..4].try_into().unwrap())
}

/// Checks that the store holds exactly one whole batch of [`whole_batch`], and nothing
/// left over; returns its number.
async fn assert_whole_batch(store: &ZkStore) -> u32 {
    let n = number(&store.get("a").await.unwrap().expect("a"));
    assert_eq!(number(&store.get("b").await.unwrap().expect("b")), n);
    assert!(
        store.get("big").await.unwrap() == Some(big_value(n)),
        "big is not batch {n}"
    );
    assert_eq!(
        store.list("marker").await.unwrap(),
        vec![format!("marker/{n}")]
    );
    assert_no_leftovers(store, 3).await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_batches_stay_whole_across_a_zookeeper_restart() {
    use std::sync::atomic::AtomicU32;
    // A server of its own, to kill.
    let Some(zk) = TestZooKeeper::start().await else {
        return;
    };
    let url = zk.url("", "/restart/marathon");
    // The session (10 s) outlives the outage, so the same store carries on.
    let store = Arc::new(open(&url, 100_000).await);
    store.apply(whole_batch(0)).await.unwrap();

    let written = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (store, written, done) = (store.clone(), written.clone(), done.clone());
        async move {
            let mut failures = 0;
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let deadline = Instant::now() + Duration::from_secs(60);
                // A failed batch may or may not have landed: the same batch again is safe.
                while let Err(e) = store.apply(whole_batch(n)).await {
                    assert!(e.is_unavailable() && Instant::now() < deadline, "{e}");
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                written.store(n, Ordering::Relaxed);
            }
            (n, failures)
        }
    });
    // kill -9 ZooKeeper while batches are in flight, and bring it back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    zk.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    zk.restart().await;
    let at_restart = written.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(60);
    while written.load(Ordering::Relaxed) < at_restart + 5 {
        assert!(Instant::now() < deadline, "no progress after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::Relaxed);
    let (last, failures) = writer.await.unwrap();
    assert!(failures > 0, "the outage interrupted no batch");

    assert_eq!(assert_whole_batch(&store).await, last);
    store.close().await;
}

/// Set by [`zk_writer_killed_with_sigkill_leaves_whole_batches`] for the child process it
/// starts (this test binary again, running [`zk_sigkill_child_writer`]): the store's URL.
const CHILD_URL: &str = "MARATHON_STORAGE_SIGKILL_CHILD_URL";

/// The child of [`zk_writer_killed_with_sigkill_leaves_whole_batches`]: writes batches
/// until it is killed. Run by itself it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_sigkill_child_writer() {
    let Some(url) = std::env::var_os(CHILD_URL) else {
        return;
    };
    let url = ZkUrl::parse(url.to_str().unwrap()).unwrap();
    let store = open(&url, 100_000).await;
    let mut n = match store.get("a").await.unwrap() {
        Some(value) => number(&value),
        None => 0,
    };
    loop {
        n += 1;
        store.apply(whole_batch(n)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_writer_killed_with_sigkill_leaves_whole_batches() {
    let Some(zk) = zookeeper().await else { return };
    let url = zk.url("", "/sigkill/marathon");
    let root = ZkStore::root_for(&url);
    // A plain session to watch the writer's progress: opening a store would recover
    // and sweep under the live writer, which only a new leader may do.
    let watcher = session(&url).await;
    let progress = || async {
        match watcher.get(&format!("{root}/keys/=a")).await.unwrap() {
            Some((data, _)) => number(&data[1..]),
            None => 0,
        }
    };
    let (mut last, mut interrupted, mut committed) = (0, 0, 0);
    let delays_ms = [0, 50, 100, 150, 200, 250, 300, 350];
    for delay_ms in delays_ms {
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "storage::zk::tests::zk_sigkill_child_writer",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD_URL, url.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while progress().await <= last {
            assert!(Instant::now() < deadline, "the writer made no progress");
            assert!(child.try_wait().unwrap().is_none(), "the writer died");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        assert!(child.try_wait().unwrap().is_none(), "the writer died");
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        // What the dead writer left: a commit node, chunks beyond the value's three.
        let commit = watcher
            .get(&format!("{root}/commit"))
            .await
            .unwrap()
            .is_some();
        let chunks = watcher
            .children(&format!("{root}/blobs"))
            .await
            .unwrap()
            .len();
        if commit || chunks != 3 {
            interrupted += 1;
        }
        if commit {
            committed += 1;
        }

        // The next leader: whole batches only, and nothing left over.
        let store = open(&url, 100_000).await;
        let n = assert_whole_batch(&store).await;
        assert!(n > last, "batch {n} after {last}");
        last = n;
        store.close().await;
    }
    watcher.close_now().await;
    eprintln!(
        "{interrupted} of {} kills left a write to recover, {committed} past its commit point",
        delays_ms.len()
    );
    // Each kill lands in a batch almost surely; a kill between two batches proves nothing.
    assert!(interrupted > 0, "no kill interrupted a write");
}
