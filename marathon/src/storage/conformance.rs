//! The behaviour every [`Store`] must have, as one suite run against each store (the
//! in-memory one, redb in a temp dir, a real ZooKeeper server).
//!
//! Each case works under its own first key segment, so cases do not see each other's keys;
//! the store given must start empty.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use super::{Op, Store, StoreError};

/// Runs every case. `open` returns the store (a fresh handle each call); the suite calls it
/// again after dropping its handle, to check that the data survives a reopen.
pub(crate) async fn run<F, Fut>(mut open: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let store = open().await;
    let s = &*store;
    put_get_overwrite_delete(s).await;
    missing_keys(s).await;
    invalid_keys(s).await;
    nested_keys_and_list(s).await;
    unusual_characters(s).await;
    empty_values(s).await;
    large_values(s).await;
    apply_writes_all_or_nothing(s).await;
    apply_is_atomic_to_readers(store.clone()).await;
    many_keys(s).await;
    concurrent_puts_all_land(store.clone()).await;

    let before = reopen_fixture(s).await;
    drop(store);
    let store = open().await;
    reopen_check(&*store, before).await;
}

/// A value whose bytes depend on `seed` and position, so that misordered or mixed-up chunks
/// show.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

fn v(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

async fn put_get_overwrite_delete(s: &dyn Store) {
    s.put("basic/one", v("1")).await.unwrap();
    assert_eq!(s.get("basic/one").await.unwrap(), Some(v("1")));
    s.put("basic/one", v("2")).await.unwrap();
    assert_eq!(s.get("basic/one").await.unwrap(), Some(v("2")));
    s.put("basic/two", v("x")).await.unwrap();
    assert_eq!(
        s.list("basic").await.unwrap(),
        vec!["basic/one", "basic/two"]
    );
    s.delete("basic/one").await.unwrap();
    assert_eq!(s.get("basic/one").await.unwrap(), None);
    assert_eq!(s.get("basic/two").await.unwrap(), Some(v("x")));
    assert_eq!(s.list("basic").await.unwrap(), vec!["basic/two"]);
    s.delete("basic/two").await.unwrap();
    assert!(s.list("basic").await.unwrap().is_empty());
    // A single-segment key, like the framework id.
    s.put("framework-id", v("fw-1")).await.unwrap();
    assert_eq!(s.get("framework-id").await.unwrap(), Some(v("fw-1")));
    assert!(s
        .list("")
        .await
        .unwrap()
        .contains(&"framework-id".to_string()));
}

async fn missing_keys(s: &dyn Store) {
    assert_eq!(s.get("missing/key").await.unwrap(), None);
    assert_eq!(s.get("missing").await.unwrap(), None);
    s.delete("missing/key").await.unwrap();
    s.apply(vec![Op::delete("missing/other")]).await.unwrap();
    assert!(s.list("missing").await.unwrap().is_empty());
    assert!(s.list("missing/deeper/still").await.unwrap().is_empty());
    s.apply(Vec::new()).await.unwrap();
}

async fn invalid_keys(s: &dyn Store) {
    fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
        assert!(
            matches!(result, Err(StoreError::InvalidKey { .. })),
            "{what}: {result:?}"
        );
    }
    refused("get ''", s.get("").await);
    refused("get '/a'", s.get("/a").await);
    refused("put 'a/'", s.put("a/", v("x")).await);
    refused("put 'a//b'", s.put("a//b", v("x")).await);
    refused("delete '..'", s.delete("..").await);
    refused("list 'a/./b'", s.list("a/./b").await);
    refused("list 'bad/'", s.list("bad/").await);
    // A batch with one bad key writes nothing.
    refused(
        "apply",
        s.apply(vec![
            Op::put("invalid/good", v("x")),
            Op::put("invalid/", v("y")),
        ])
        .await,
    );
    assert_eq!(s.get("invalid/good").await.unwrap(), None);
}

async fn nested_keys_and_list(s: &dyn Store) {
    for (key, value) in [
        ("tree/a", "1"),
        ("tree/a/b", "2"),
        ("tree/a/b/c", "3"),
        ("tree/ab", "4"),
        ("tree/a=b", "5"),
        ("tree/z/y/x/w/v", "6"),
    ] {
        s.put(key, v(value)).await.unwrap();
    }
    assert_eq!(
        s.list("tree").await.unwrap(),
        vec![
            "tree/a",
            "tree/a/b",
            "tree/a/b/c",
            "tree/a=b",
            "tree/ab",
            "tree/z/y/x/w/v"
        ]
    );
    // Under a prefix means below its segment, not sharing its first letters.
    assert_eq!(
        s.list("tree/a").await.unwrap(),
        vec!["tree/a/b", "tree/a/b/c"]
    );
    assert!(s.list("tree/a/b/c").await.unwrap().is_empty());
    assert_eq!(s.list("tree/z/y").await.unwrap(), vec!["tree/z/y/x/w/v"]);
    // A key that is also a prefix: deleting it leaves the keys under it.
    s.delete("tree/a").await.unwrap();
    assert_eq!(s.get("tree/a").await.unwrap(), None);
    assert_eq!(s.get("tree/a/b").await.unwrap(), Some(v("2")));
    assert_eq!(
        s.list("tree/a").await.unwrap(),
        vec!["tree/a/b", "tree/a/b/c"]
    );
    // And the other way round.
    s.delete("tree/a/b/c").await.unwrap();
    assert!(s.list("tree/a/b").await.unwrap().is_empty());
    assert_eq!(s.get("tree/a/b").await.unwrap(), Some(v("2")));
    s.delete("tree/z/y/x/w/v").await.unwrap();
    assert!(s.list("tree/z").await.unwrap().is_empty());
    // A deep key again where the empty levels were.
    s.put("tree/z/y/x/w/v", v("7")).await.unwrap();
    assert_eq!(s.get("tree/z/y/x/w/v").await.unwrap(), Some(v("7")));
    // Deep keys.
    let deep = (0..80).fold("tree/deep".to_string(), |key, i| format!("{key}/{i}"));
    s.put(&deep, v("deep")).await.unwrap();
    assert_eq!(s.get(&deep).await.unwrap(), Some(v("deep")));
    assert_eq!(s.list("tree/deep/0/1/2").await.unwrap(), vec![deep.clone()]);
    s.delete(&deep).await.unwrap();
    assert!(s.list("tree/deep").await.unwrap().is_empty());
    s.apply(
        ["tree/a/b", "tree/ab", "tree/a=b", "tree/z/y/x/w/v"]
            .into_iter()
            .map(Op::delete)
            .collect(),
    )
    .await
    .unwrap();
    assert!(s.list("tree").await.unwrap().is_empty());
}

async fn unusual_characters(s: &dyn Store) {
    let keys = [
        "odd/%41/=x/ü/with space/a:b/2026-12-02T05:00:00.000Z",
        "odd/control\u{1}\u{7f}\u{85}",
        "odd/private\u{e000}and\u{fff5}",
        "odd/.hidden/...",
        "odd/zookeeper",
        "odd/%2F",
    ];
    for (i, key) in keys.iter().enumerate() {
        s.put(key, vec![i as u8]).await.unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(s.get(key).await.unwrap(), Some(vec![i as u8]), "{key}");
    }
    let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(s.list("odd").await.unwrap(), sorted);
    assert_eq!(
        s.list("odd/%41/=x").await.unwrap(),
        vec![keys[0].to_string()]
    );
    s.apply(keys.iter().map(|k| Op::delete(*k)).collect())
        .await
        .unwrap();
    assert!(s.list("odd").await.unwrap().is_empty());
}

async fn empty_values(s: &dyn Store) {
    s.put("empty/put", Vec::new()).await.unwrap();
    s.apply(vec![Op::put("empty/applied", Vec::new())])
        .await
        .unwrap();
    assert_eq!(s.get("empty/put").await.unwrap(), Some(Vec::new()));
    assert_eq!(s.get("empty/applied").await.unwrap(), Some(Vec::new()));
    assert_eq!(
        s.list("empty").await.unwrap(),
        vec!["empty/applied", "empty/put"]
    );
    s.delete("empty/put").await.unwrap();
    assert_eq!(s.get("empty/put").await.unwrap(), None);
}

async fn large_values(s: &dyn Store) {
    // Around ZooKeeper's default node size, and well above it.
    let sizes = [
        1_023_998, 1_023_999, 1_024_000, 1_024_001, 2_048_000, 3_000_000,
    ];
    for (i, len) in sizes.iter().enumerate() {
        let key = format!("large/v{i}");
        let value = pattern(*len, i as u8);
        s.put(&key, value.clone()).await.unwrap();
        let read = s.get(&key).await.unwrap().expect("large value");
        assert_eq!(read.len(), *len);
        assert!(read == value, "{len} bytes came back changed");
    }
    // Large over large, small over large, large over small.
    s.put("large/v0", pattern(3_000_000, 9)).await.unwrap();
    assert!(s.get("large/v0").await.unwrap() == Some(pattern(3_000_000, 9)));
    s.put("large/v1", v("small now")).await.unwrap();
    assert_eq!(s.get("large/v1").await.unwrap(), Some(v("small now")));
    s.put("large/v1", pattern(2_500_000, 3)).await.unwrap();
    assert!(s.get("large/v1").await.unwrap() == Some(pattern(2_500_000, 3)));
    // In a batch, next to small values.
    s.apply(vec![
        Op::put("large/batch/big", pattern(3_000_000, 4)),
        Op::put("large/batch/small", v("s")),
        Op::delete("large/v5"),
    ])
    .await
    .unwrap();
    assert!(s.get("large/batch/big").await.unwrap() == Some(pattern(3_000_000, 4)));
    assert_eq!(s.get("large/v5").await.unwrap(), None);
    let keys = s.list("large").await.unwrap();
    assert_eq!(keys.len(), sizes.len() - 1 + 2, "{keys:?}");
    s.apply(keys.into_iter().map(Op::delete).collect())
        .await
        .unwrap();
    assert!(s.list("large").await.unwrap().is_empty());
}

async fn apply_writes_all_or_nothing(s: &dyn Store) {
    s.put("batch/old", v("old")).await.unwrap();
    s.apply(vec![
        Op::put("batch/app/prod/web", v("app")),
        Op::put(
            "batch/versions/prod/web/2026-12-02T05:00:00.000Z",
            v("version"),
        ),
        Op::put("batch/ports/10000", v("prod/web")),
        Op::delete("batch/old"),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.list("batch").await.unwrap(),
        vec![
            "batch/app/prod/web",
            "batch/ports/10000",
            "batch/versions/prod/web/2026-12-02T05:00:00.000Z"
        ]
    );
    assert_eq!(s.get("batch/old").await.unwrap(), None);
    assert_eq!(
        s.get("batch/ports/10000").await.unwrap(),
        Some(v("prod/web"))
    );
    // Later ops on a key win.
    s.apply(vec![
        Op::put("batch/k", v("1")),
        Op::delete("batch/k"),
        Op::put("batch/k", v("3")),
        Op::put("batch/gone", v("1")),
        Op::delete("batch/gone"),
    ])
    .await
    .unwrap();
    assert_eq!(s.get("batch/k").await.unwrap(), Some(v("3")));
    assert_eq!(s.get("batch/gone").await.unwrap(), None);
    let keys = s.list("batch").await.unwrap();
    s.apply(keys.into_iter().map(Op::delete).collect())
        .await
        .unwrap();
    assert!(s.list("batch").await.unwrap().is_empty());
}

/// While batches set `a` and `b` (and a large value) to the same number and move a marker
/// key along, readers must never see a batch in part: `b` read after `a` is never older,
/// and the list of markers always has exactly one key.
async fn apply_is_atomic_to_readers(store: Arc<dyn Store>) {
    const BATCHES: u32 = 20;
    let big = |n: u32| {
        let mut value = n.to_be_bytes().to_vec();
        value.extend(pattern(1_100_000, n as u8));
        value
    };
    let number = |value: Option<Vec<u8>>| -> u32 {
        let value = value.expect("value present");
        u32::from_be_bytes(value[..4].try_into().unwrap())
    };
    store
        .apply(vec![
            Op::put("atomic/a", 0u32.to_be_bytes().to_vec()),
            Op::put("atomic/b", 0u32.to_be_bytes().to_vec()),
            Op::put("atomic/big", big(0)),
            Op::put("atomic/marker/0", Vec::new()),
        ])
        .await
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for order in 0..3 {
        let store = store.clone();
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while !done.load(Ordering::Relaxed) || reads < 3 {
                match order {
                    0 => {
                        let a = number(store.get("atomic/a").await.unwrap());
                        let b = number(store.get("atomic/b").await.unwrap());
                        let big = store.get("atomic/big").await.unwrap().unwrap();
                        let n = number(Some(big.clone()));
                        assert!(b >= a, "read a={a}, then b={b}");
                        assert!(n >= b, "read b={b}, then big={n}");
                        assert!(big[4..] == pattern(1_100_000, n as u8)[..]);
                    }
                    1 => {
                        let big = number(store.get("atomic/big").await.unwrap());
                        let b = number(store.get("atomic/b").await.unwrap());
                        let a = number(store.get("atomic/a").await.unwrap());
                        assert!(b >= big, "read big={big}, then b={b}");
                        assert!(a >= b, "read b={b}, then a={a}");
                    }
                    _ => {
                        let markers = store.list("atomic/marker").await.unwrap();
                        assert_eq!(markers.len(), 1, "{markers:?}");
                    }
                }
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    for n in 1..=BATCHES {
        let mut ops = vec![
            Op::put("atomic/marker/".to_string() + &n.to_string(), Vec::new()),
            Op::put("atomic/b", n.to_be_bytes().to_vec()),
            Op::delete("atomic/marker/".to_string() + &(n - 1).to_string()),
            Op::put("atomic/big", big(n)),
            Op::put("atomic/a", n.to_be_bytes().to_vec()),
        ];
        if n % 2 == 0 {
            ops.reverse();
        }
        store.apply(ops).await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        let reads = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("reader finishes")
            .expect("reader saw only whole batches");
        assert!(reads >= 3);
    }
    assert_eq!(number(store.get("atomic/a").await.unwrap()), BATCHES);
    let keys = store.list("atomic").await.unwrap();
    store
        .apply(keys.into_iter().map(Op::delete).collect())
        .await
        .unwrap();
}

async fn many_keys(s: &dyn Store) {
    const KEYS: usize = 1000;
    let key = |i: usize| format!("many/{:02}/instance-{i:04}", i % 7);
    for batch in (0..KEYS).collect::<Vec<_>>().chunks(100) {
        s.apply(
            batch
                .iter()
                .map(|&i| Op::put(key(i), format!("value {i}").into_bytes()))
                .collect(),
        )
        .await
        .unwrap();
    }
    let mut expected: Vec<String> = (0..KEYS).map(key).collect();
    expected.sort();
    assert_eq!(s.list("many").await.unwrap(), expected);
    assert_eq!(
        s.list("many/03").await.unwrap().len(),
        (0..KEYS).filter(|i| i % 7 == 3).count()
    );
    for i in (0..KEYS).step_by(37) {
        assert_eq!(
            s.get(&key(i)).await.unwrap(),
            Some(format!("value {i}").into_bytes())
        );
    }
    s.apply(expected.iter().map(|k| Op::delete(k.clone())).collect())
        .await
        .unwrap();
    assert!(s.list("many").await.unwrap().is_empty());
}

async fn concurrent_puts_all_land(store: Arc<dyn Store>) {
    const TASKS: usize = 32;
    const PUTS: usize = 8;
    let writers: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for p in 0..PUTS {
                    let value = if t == 0 && p == 0 {
                        pattern(1_500_000, 1)
                    } else {
                        format!("{t}-{p}").into_bytes()
                    };
                    store
                        .put(&format!("parallel/t{t:02}/p{p}"), value)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let keys = store.list("parallel").await.unwrap();
    assert_eq!(keys.len(), TASKS * PUTS);
    let reads: Vec<(String, Option<Vec<u8>>)> = futures::stream::iter(keys)
        .map(|key| {
            let store = store.clone();
            async move {
                let value = store.get(&key).await?;
                Ok::<_, StoreError>((key, value))
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await
        .unwrap();
    for (key, value) in reads {
        let (t, p) = key
            .strip_prefix("parallel/t")
            .and_then(|rest| rest.split_once("/p"))
            .unwrap();
        let expected = if t == "00" && p == "0" {
            pattern(1_500_000, 1)
        } else {
            format!("{}-{p}", t.parse::<usize>().unwrap()).into_bytes()
        };
        assert!(value == Some(expected), "{key}");
    }
    // Parallel deletes too.
    let deletes: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for p in 0..PUTS {
                    store
                        .delete(&format!("parallel/t{t:02}/p{p}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for delete in deletes {
        delete.await.unwrap();
    }
    assert!(store.list("parallel").await.unwrap().is_empty());
}

/// What the suite leaves before reopening: every key with its value.
async fn reopen_fixture(s: &dyn Store) -> Vec<(String, Vec<u8>)> {
    s.put("reopen/small", v("small")).await.unwrap();
    s.put("reopen/large", pattern(3_000_000, 7)).await.unwrap();
    s.apply(vec![
        Op::put("reopen/nested/a/b", v("ab")),
        Op::put("reopen/empty", Vec::new()),
    ])
    .await
    .unwrap();
    let mut all = Vec::new();
    for key in s.list("").await.unwrap() {
        let value = s.get(&key).await.unwrap().expect("listed key has a value");
        all.push((key, value));
    }
    assert!(
        all.len() >= 5,
        "{:?}",
        all.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    all
}

async fn reopen_check(s: &dyn Store, before: Vec<(String, Vec<u8>)>) {
    let keys: Vec<String> = before.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(s.list("").await.unwrap(), keys);
    for (key, value) in before {
        assert!(s.get(&key).await.unwrap() == Some(value), "{key}");
    }
    assert!(s.get("reopen/large").await.unwrap() == Some(pattern(3_000_000, 7)));
    // And it is writable again.
    s.put("reopen/small", v("again")).await.unwrap();
    assert_eq!(s.get("reopen/small").await.unwrap(), Some(v("again")));
}
