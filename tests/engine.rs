//! memcached semantics of the engine, on a manual clock.

use hotset::{Cache, Config, Error, ManualClock, Policy, ReclaimKind, SlabClasses, Stored};
use std::sync::Arc;

fn cache_with(reclaim: ReclaimKind, memory: usize) -> (Cache, ManualClock) {
    let clock = ManualClock::new();
    let cfg = Config {
        memory,
        sweep_hz: 0,
        clock: Some(Arc::new(clock.clone())),
        reclaim,
        ..Config::default()
    };
    (Cache::new(cfg).unwrap(), clock)
}

fn both(f: impl Fn(Cache, ManualClock)) {
    for r in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
        let (c, clk) = cache_with(r, 4 << 20);
        f(c, clk);
    }
}

fn get(c: &Cache, k: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    c.get(k, &mut v).map(|_| v)
}

#[test]
fn set_get_delete() {
    both(|c, _| {
        assert_eq!(c.set(b"k", b"v1", 7, 0), Ok(Stored::Stored));
        let mut out = b"prefix:".to_vec();
        let hit = c.get(b"k", &mut out).unwrap();
        assert_eq!(out, b"prefix:v1");
        assert_eq!(hit.flags, 7);
        assert!(hit.cas > 0);
        assert_eq!(c.set(b"k", b"v2", 0, 0), Ok(Stored::Stored));
        assert_eq!(get(&c, b"k").unwrap(), b"v2");
        assert!(c.delete(b"k"));
        assert!(!c.delete(b"k"));
        assert_eq!(get(&c, b"k"), None);
        let s = c.stats();
        assert_eq!(s.curr_items, 0);
        assert_eq!((s.delete_hits, s.delete_misses), (1, 1));
        assert_eq!(s.bytes, 0);
    });
}

#[test]
fn add_replace_append_prepend() {
    both(|c, _| {
        assert_eq!(c.add(b"a", b"1", 0, 0), Ok(Stored::Stored));
        assert_eq!(c.add(b"a", b"2", 0, 0), Ok(Stored::NotStored));
        assert_eq!(c.replace(b"b", b"x", 0, 0), Ok(Stored::NotStored));
        assert_eq!(c.replace(b"a", b"3", 5, 0), Ok(Stored::Stored));
        assert_eq!(c.append(b"a", b"45"), Ok(Stored::Stored));
        assert_eq!(c.prepend(b"a", b"_"), Ok(Stored::Stored));
        let mut v = Vec::new();
        assert_eq!(c.get(b"a", &mut v).unwrap().flags, 5, "append keeps flags");
        assert_eq!(v, b"_345");
        assert_eq!(c.append(b"zz", b"1"), Ok(Stored::NotStored));
        assert_eq!(c.prepend(b"zz", b"1"), Ok(Stored::NotStored));
    });
}

#[test]
fn cas_semantics() {
    both(|c, _| {
        assert_eq!(c.cas(b"k", b"v", 0, 0, 1), Ok(Stored::NotFound));
        c.set(b"k", b"v", 0, 0).unwrap();
        let cas = c.get(b"k", &mut Vec::new()).unwrap().cas;
        assert_eq!(c.cas(b"k", b"w", 0, 0, cas + 1000), Ok(Stored::Exists));
        assert_eq!(c.cas(b"k", b"w", 0, 0, cas), Ok(Stored::Stored));
        assert_eq!(c.cas(b"k", b"x", 0, 0, cas), Ok(Stored::Exists));
        assert_eq!(get(&c, b"k").unwrap(), b"w");
        let s = c.stats();
        assert_eq!((s.cas_hits, s.cas_badval, s.cas_misses), (1, 2, 1));
    });
}

#[test]
fn incr_decr_rules() {
    both(|c, _| {
        assert_eq!(c.incr(b"n", 1), Ok(None));
        c.set(b"n", b"10", 3, 0).unwrap();
        assert_eq!(c.incr(b"n", 5), Ok(Some(15)));
        assert_eq!(c.decr(b"n", 100), Ok(Some(0)), "decr floors at 0");
        c.set(b"n", b"18446744073709551615", 0, 0).unwrap();
        assert_eq!(c.incr(b"n", 2), Ok(Some(1)), "incr wraps at 2^64");
        assert_eq!(get(&c, b"n").unwrap(), b"1");
        c.set(b"s", b"abc", 0, 0).unwrap();
        assert_eq!(c.incr(b"s", 1), Err(Error::NonNumeric));
        assert_eq!(c.decr(b"s", 1), Err(Error::NonNumeric));
        assert_eq!(
            get(&c, b"s").unwrap(),
            b"abc",
            "a failed incr keeps the value"
        );
        c.set(b"big", b"123456789012345678901", 0, 0).unwrap();
        assert_eq!(c.incr(b"big", 1), Err(Error::NonNumeric));
        c.set(b"f", b"7", 9, 0).unwrap();
        c.incr(b"f", 1).unwrap();
        assert_eq!(
            c.get(b"f", &mut Vec::new()).unwrap().flags,
            9,
            "incr keeps flags"
        );
    });
}

#[test]
fn ttl_rules_on_manual_clock() {
    both(|c, clk| {
        c.set(b"rel", b"v", 0, 10).unwrap();
        c.set(b"never", b"v", 0, 0).unwrap();
        c.set(b"neg", b"v", 0, -1).unwrap();
        let abs = ManualClock::DEFAULT_ORIGIN_UNIX as i64 + 20;
        c.set(b"abs", b"v", 0, abs).unwrap();
        c.set(
            b"past",
            b"v",
            0,
            ManualClock::DEFAULT_ORIGIN_UNIX as i64 - 5,
        )
        .unwrap();
        assert!(
            get(&c, b"neg").is_none(),
            "negative exptime is already expired"
        );
        assert!(
            get(&c, b"past").is_none(),
            "an absolute time in the past is expired"
        );
        clk.advance_secs(9);
        assert!(get(&c, b"rel").is_some());
        clk.advance_secs(1);
        assert!(
            get(&c, b"rel").is_none(),
            "relative exptime 10 expires at 10 s"
        );
        assert!(get(&c, b"abs").is_some());
        clk.advance_secs(10);
        assert!(get(&c, b"abs").is_none());
        assert!(get(&c, b"never").is_some());
        assert!(c.stats().get_expired >= 3);
    });
}

#[test]
fn touch_and_gat() {
    both(|c, clk| {
        c.set(b"k", b"v", 0, 5).unwrap();
        assert!(c.touch(b"k", 100));
        assert!(!c.touch(b"missing", 100));
        clk.advance_secs(50);
        let mut v = Vec::new();
        assert!(c.get_and_touch(b"k", 10, &mut v).is_some());
        assert_eq!(v, b"v");
        clk.advance_secs(11);
        assert!(get(&c, b"k").is_none());
        let s = c.stats();
        assert_eq!((s.touch_hits, s.touch_misses), (2, 1));
    });
}

#[test]
fn flush_all_now_and_delayed() {
    both(|c, clk| {
        for i in 0..100 {
            c.set(format!("k{i}").as_bytes(), b"v", 0, 0).unwrap();
        }
        c.flush_all(0);
        assert!((0..100).all(|i| get(&c, format!("k{i}").as_bytes()).is_none()));
        assert_eq!(c.stats().curr_items, 0);
        c.set(b"a", b"v", 0, 0).unwrap();
        c.flush_all(5);
        clk.advance_secs(4);
        assert!(get(&c, b"a").is_some());
        clk.advance_secs(1);
        assert!(
            get(&c, b"a").is_none(),
            "delayed flush takes effect at its time"
        );
        c.set(b"b", b"v", 0, 0).unwrap();
        assert!(
            get(&c, b"b").is_some(),
            "items stored after the flush survive"
        );
    });
}

#[test]
fn bad_keys_and_sizes() {
    both(|c, _| {
        assert_eq!(c.set(b"", b"v", 0, 0), Err(Error::BadKey));
        assert_eq!(c.set(&[b'k'; 251], b"v", 0, 0), Err(Error::BadKey));
        assert_eq!(c.set(&[b'k'; 250], b"v", 0, 0), Ok(Stored::Stored));
        c.set(b"big", b"small", 0, 0).unwrap();
        let huge = vec![0u8; c.max_item_size()];
        assert_eq!(c.set(b"big", &huge, 0, 0), Err(Error::TooLarge));
        assert!(
            get(&c, b"big").is_none(),
            "a refused set removes the old value"
        );
        let fits = vec![1u8; c.max_item_size() - 24 - 3];
        assert_eq!(c.set(b"big", &fits, 0, 0), Ok(Stored::Stored));
        assert_eq!(get(&c, b"big").unwrap().len(), fits.len());
    });
}

#[test]
fn seed_slab_classes_work() {
    let cfg = Config {
        memory: 4 << 20,
        classes: SlabClasses::List(vec![64, 128, 256, 1024, 4096]),
        sweep_hz: 0,
        ..Config::default()
    };
    let c = Cache::new(cfg).unwrap();
    assert_eq!(c.class_sizes(), vec![64, 128, 256, 1024, 4096]);
    assert_eq!(c.max_item_size(), 4096);
    for n in [1, 40, 100, 200, 1000, 4000] {
        let v = vec![b'x'; n];
        assert_eq!(
            c.set(format!("k{n}").as_bytes(), &v, 0, 0),
            Ok(Stored::Stored),
            "{n}"
        );
        assert_eq!(get(&c, format!("k{n}").as_bytes()).unwrap(), v);
    }
    assert_eq!(c.set(b"too", &[0u8; 4096], 0, 0), Err(Error::TooLarge));
}

#[test]
fn bad_configs_are_refused() {
    let bad = [
        Config {
            memory: 100,
            ..Config::default()
        },
        Config {
            samples: 0,
            ..Config::default()
        },
        Config {
            classes: SlabClasses::Growth(0.9),
            ..Config::default()
        },
        Config {
            classes: SlabClasses::List(vec![128, 64]),
            ..Config::default()
        },
        Config {
            max_item_size: 2 << 20,
            ..Config::default()
        },
    ];
    for cfg in bad {
        let e = Cache::new(cfg).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}

/// A 16-byte key and a 100-byte value take 136 bytes (a 20-byte header),
/// so a class of exactly that size holds them with no rounding, and the
/// item reads back whole, flags included.
#[test]
fn a_16_plus_100_byte_item_fits_a_136_byte_chunk() {
    assert_eq!(hotset::footprint(16, 100, 0), 136);
    assert_eq!(hotset::footprint(16, 100, 7), 140, "flags take 4 bytes");
    let c = Cache::new(Config {
        classes: SlabClasses::List(vec![64, 128, 136, 144, 1 << 20]),
        sweep_hz: 0,
        ..Config::with_memory(8 << 20)
    })
    .unwrap();
    assert_eq!(c.chunk_size_for(16, 100, 0), Some(136));
    let value: Vec<u8> = (0..100u8).collect();
    c.set(b"0123456789abcdef", &value, 0, 0).unwrap();
    c.set(b"0123456789abcdeg", &value, 7, 0).unwrap();
    let mut out = Vec::new();
    assert_eq!(c.get(b"0123456789abcdef", &mut out).unwrap().flags, 0);
    assert_eq!(out, value);
    out.clear();
    assert_eq!(c.get(b"0123456789abcdeg", &mut out).unwrap().flags, 7);
    assert_eq!(out, value);
    let s = c.stats();
    let used: Vec<(u64, u64)> = s
        .classes
        .iter()
        .filter(|k| k.items > 0)
        .map(|k| (k.chunk_size, k.items))
        .collect();
    assert_eq!(used, vec![(136, 1), (144, 1)]);
}

#[test]
fn out_of_memory_is_reported_and_loses_nothing() {
    // One page, and it goes to the smallest class: a large item has no page
    // and no class can give one up (the only page is its class's last, and
    // its items are not older on a frozen clock).
    let clock = ManualClock::new();
    let c = Cache::new(Config {
        memory: 1 << 20,
        classes: SlabClasses::List(vec![64, 128, 256, 1024, 4096]),
        sweep_hz: 0,
        clock: Some(Arc::new(clock.clone())),
        ..Config::default()
    })
    .unwrap();
    for i in 0..100 {
        c.set(format!("k{i}").as_bytes(), b"small", 0, 0).unwrap();
    }
    assert_eq!(c.set(b"big", &[0u8; 3000], 0, 0), Err(Error::OutOfMemory));
    assert_eq!(c.stats().out_of_memory, 1);
    for i in 0..100 {
        assert_eq!(
            get(&c, format!("k{i}").as_bytes()).unwrap(),
            b"small",
            "k{i} lost"
        );
    }
}

#[test]
fn without_evictions_a_full_cache_refuses_and_keeps_every_item() {
    for policy in [Policy::Lru, Policy::S3Fifo, Policy::Sieve] {
        let clock = ManualClock::new();
        let c = Cache::new(Config {
            memory: 2 << 20,
            evictions: false,
            policy,
            sweep_hz: 0,
            clock: Some(Arc::new(clock.clone())),
            ..Config::default()
        })
        .unwrap();
        let v = [7u8; 1000];
        let fill = |from: usize, exptime: i64| -> usize {
            let mut i = from;
            loop {
                match c.set(format!("k{i}").as_bytes(), &v, 0, exptime) {
                    Ok(_) => i += 1,
                    Err(Error::OutOfMemory) => return i,
                    Err(e) => panic!("{policy}: {e}"),
                }
                assert!(i < from + 100_000, "{policy}: never full");
            }
        };
        // Full of items that expire in 10 s.
        let n = fill(0, 10);
        assert!(n > 1000, "{policy}: only {n} items fit 2 MiB");
        for i in 0..n {
            assert!(
                get(&c, format!("k{i}").as_bytes()).is_some(),
                "{policy}: k{i} lost"
            );
        }
        let s = c.stats();
        assert_eq!(s.evictions, 0, "{policy}");
        assert!(s.out_of_memory >= 1, "{policy}");
        // Live: nothing goes, nothing more stores.
        assert_eq!(fill(n, 10), n, "{policy}: stored into a full cache");
        // Expired, they make room: most of a fill's worth stores again.
        clock.advance_secs(11);
        let m = fill(n, 0) - n;
        assert!(m > n / 2, "{policy}: {m} stored after {n} expired");
        for i in n..n + m {
            assert!(
                get(&c, format!("k{i}").as_bytes()).is_some(),
                "{policy}: k{i} lost"
            );
        }
        assert_eq!(c.stats().evictions, 0, "{policy}");
        // Flushed items make room too.
        c.flush_all(0);
        let f = fill(n + m, 0) - (n + m);
        assert!(f > n / 2, "{policy}: {f} stored after flush_all");
        assert_eq!(c.stats().evictions, 0, "{policy}");
    }
}

/// Without evictions a class still takes a page from a class that holds
/// none of its items (draining it evicts nothing).
#[test]
fn without_evictions_an_emptied_class_gives_up_its_pages() {
    let clock = ManualClock::new();
    let c = Cache::new(Config {
        memory: 4 << 20,
        evictions: false,
        sweep_hz: 0,
        clock: Some(Arc::new(clock.clone())),
        ..Config::default()
    })
    .unwrap();
    let mut small = 0;
    while c
        .set(format!("s{small}").as_bytes(), &[1u8; 100], 0, 0)
        .is_ok()
    {
        small += 1;
    }
    assert!(small > 10_000, "{small}");
    assert_eq!(
        c.set(b"big0", &[2u8; 10_000], 0, 0),
        Err(Error::OutOfMemory)
    );
    c.flush_all(0);
    let mut big = 0;
    while big < 200
        && c.set(format!("big{big}").as_bytes(), &[2u8; 10_000], 0, 0)
            .is_ok()
    {
        big += 1;
    }
    assert!(
        big >= 100,
        "only {big} 10 KB items after the small ones were flushed"
    );
    assert_eq!(c.stats().evictions, 0);
}

#[test]
fn calls_from_inside_a_get_callback_work() {
    both(|c, _| {
        c.set(b"a", b"1", 0, 0).unwrap();
        c.set(b"b", b"2", 0, 0).unwrap();
        let inner = c.get_with(b"a", |r| {
            // Re-entrant: the same cache, from inside the callback.
            c.set(b"copy", r.value, 0, 0).unwrap();
            c.get(b"b", &mut Vec::new()).is_some()
        });
        assert_eq!(inner, Some(true));
        assert_eq!(get(&c, b"copy").unwrap(), b"1");
    });
}

/// A cache of one 160-byte class (16 B keys, 100 B values) with room for
/// about `items` of them, under `policy`. With `roomy`, the index has eight
/// slots per item, so that full buckets, which evict by their own choice,
/// do not blur what the policy does; otherwise it is sized from the budget.
fn queue_cache(
    policy: Policy,
    reclaim: ReclaimKind,
    items: usize,
    roomy: bool,
) -> (Cache, ManualClock) {
    let clock = ManualClock::new();
    let page = 64 << 10;
    let c = Cache::new(Config {
        memory: (items * 160).next_multiple_of(page),
        page_size: page,
        classes: SlabClasses::List(vec![160]),
        max_item_size: 160,
        sweep_hz: 0,
        clock: Some(Arc::new(clock.clone())),
        reclaim,
        policy,
        seed: Some(3),
        index_slots: roomy.then_some(items * 8),
        ..Config::default()
    })
    .unwrap();
    (c, clock)
}

fn key16(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

#[test]
fn queue_policies_are_memcached_under_churn() {
    for policy in [Policy::S3Fifo, Policy::Sieve, Policy::Clock] {
        for reclaim in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
            let (c, clock) = queue_cache(policy, reclaim, 4000, false);
            let mut r = hotset::rng::SplitMix64::new(7);
            let v = [b'v'; 100];
            let mut hits = 0;
            for n in 0..200_000u64 {
                let k = key16(r.below(20_000));
                match r.below(10) {
                    0..=5 => {
                        if let Some(got) = get(&c, &k) {
                            assert_eq!(got, v, "{policy}: a wrong value");
                            hits += 1;
                        } else {
                            c.set(&k, &v, 0, 0).unwrap();
                        }
                    }
                    6..=7 => assert_eq!(c.set(&k, &v, 0, 2), Ok(Stored::Stored)),
                    8 => {
                        c.delete(&k);
                    }
                    _ => {
                        let _ = c.touch(&k, 0);
                    }
                }
                if n % 10_000 == 0 {
                    clock.advance_secs(1);
                }
            }
            let s = c.stats();
            assert!(s.evictions > 0, "{policy}: the cache must evict");
            assert!(hits > 0, "{policy}: no hit");
            assert!(s.queue_entries > 0, "{policy}: nothing queued");
            let items = c
                .check_consistency()
                .unwrap_or_else(|e| panic!("{policy} {reclaim:?}: {e}"));
            assert!(
                items > 3000,
                "{policy}: only {items} items in a cache for 4000"
            );
            c.flush_all(0);
            assert_eq!(
                c.check_consistency(),
                Ok(0),
                "{policy}: flush_all empties the queues' items"
            );
        }
    }
}

/// A key read again and again survives a scan of one-hit keys larger than
/// the cache under S3-FIFO and SIEVE (scan resistance), but not under FIFO.
#[test]
fn queue_policies_keep_hot_keys_through_a_scan() {
    for (policy, keeps) in [
        (Policy::S3Fifo, true),
        (Policy::Sieve, true),
        (Policy::Clock, true),
        (Policy::Fifo, false),
    ] {
        let (c, _clock) = queue_cache(policy, ReclaimKind::Crossbeam, 2000, true);
        let v = [b'v'; 100];
        let hot: Vec<Vec<u8>> = (0..50).map(|i| key16(1_000_000 + i)).collect();
        for k in &hot {
            c.set(k, &v, 0, 0).unwrap();
        }
        let mut kept = 0;
        for i in 0..20_000u64 {
            c.set(&key16(i), &v, 0, 0).unwrap();
            if i % 50 == 0 {
                kept = hot.iter().filter(|k| get(&c, k).is_some()).count();
            }
        }
        assert_eq!(
            kept == hot.len(),
            keeps,
            "{policy}: {kept} of {} hot keys survived the scan",
            hot.len()
        );
    }
}

#[test]
fn s3fifo_promotes_and_ghosts() {
    let (c, _clock) = queue_cache(Policy::S3Fifo, ReclaimKind::Seize, 2000, true);
    let v = [b'v'; 100];
    // One-hit keys enter the small queue (which may fill the cache while
    // main is empty) and leave it for the ghost, which remembers the last
    // 0.9 × 2045 of them; a key that comes back while remembered goes
    // straight to main and stays there through more one-hit traffic.
    for i in 0..6000u64 {
        c.set(&key16(i), &v, 0, 0).unwrap();
    }
    assert!(
        get(&c, &key16(5990)).is_some(),
        "a recent key is still in small"
    );
    let gone = key16(3500);
    assert!(get(&c, &gone).is_none(), "an older one-hit key was evicted");
    c.set(&gone, &v, 0, 0).unwrap(); // a ghost hit: straight to main
    get(&c, &gone);
    for i in 10_000..14_000u64 {
        c.set(&key16(i), &v, 0, 0).unwrap();
    }
    assert!(
        get(&c, &gone).is_some(),
        "a key readmitted from the ghost stays in main"
    );
    c.check_consistency().unwrap();
}

/// The sweeper thread only unlinks; what it counts out of the queues must
/// reach the shared counts (found by review: S3-FIFO's counts drifted by
/// every item the sweeper expired).
#[test]
fn the_sweeper_keeps_queue_counts_exact() {
    for policy in [Policy::S3Fifo, Policy::Sieve] {
        let clock = ManualClock::new();
        let c = Cache::new(Config {
            memory: 1 << 20,
            page_size: 64 << 10,
            classes: SlabClasses::List(vec![160]),
            max_item_size: 160,
            sweep_hz: 100,
            clock: Some(Arc::new(clock.clone())),
            policy,
            ..Config::default()
        })
        .unwrap();
        let v = [b'v'; 100];
        for i in 0..1010u64 {
            let ttl = if i < 1000 { 2 } else { 0 };
            c.set(&key16(i), &v, 0, ttl).unwrap();
        }
        clock.advance_secs(10);
        // The sweeper ticks every 10 ms of real time; wait for its pass.
        for _ in 0..1000 {
            if c.stats().sweep_reclaimed >= 1000 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(c.stats().sweep_reclaimed, 1000, "{policy}: the sweeper ran");
        assert_eq!(c.check_consistency(), Ok(10), "{policy}");
    }
}

#[test]
fn a_run_of_appends_never_evicts_its_own_key() {
    // memcached's chunked-items.t: a full cache of large items, then one key
    // grown by thousands of small appends. Each append retires the old
    // chunk, so a class with one page soon has most of its chunks waiting
    // for reclamation; evicting then would take the key being appended to.
    for r in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
        let (c, _) = cache_with(r, 64 << 20);
        let big = vec![b'x'; 600 << 10];
        for i in 0..150 {
            let _ = c.set(format!("big{i}").as_bytes(), &big, 0, 0);
        }
        let mut want = b"seed".to_vec();
        assert_eq!(c.set(b"appender", &want, 0, 0), Ok(Stored::Stored));
        for i in 0..3000 {
            let part = format!("{i}xxxxxxxxxx");
            assert_eq!(
                c.append(b"appender", part.as_bytes()),
                Ok(Stored::Stored),
                "append {i} at {} bytes",
                want.len()
            );
            want.extend_from_slice(part.as_bytes());
        }
        assert_eq!(get(&c, b"appender").as_deref(), Some(&want[..]));
    }
}

#[test]
fn exactly_one_client_wins_a_recache() {
    use hotset::GetOpts;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for r in [ReclaimKind::Crossbeam, ReclaimKind::Seize] {
        let (c, _) = cache_with(r, 4 << 20);
        let c = Arc::new(c);
        for round in 0..20 {
            // A missing key vivified by many at once (`mg … N`), then the
            // same key marked stale (`md … I`) and fetched by many.
            let key = format!("k{round}");
            for phase in 0..2 {
                if phase == 1 {
                    assert_eq!(c.invalidate(key.as_bytes(), None, None), Stored::Stored);
                }
                let won = Arc::new(AtomicUsize::new(0));
                let seen = Arc::new(AtomicUsize::new(0));
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        let (c, key, won, seen) =
                            (c.clone(), key.clone(), won.clone(), seen.clone());
                        std::thread::spawn(move || {
                            let opts = GetOpts {
                                bump: true,
                                vivify: Some(0),
                                ..GetOpts::default()
                            };
                            let h = c.meta_get_with(key.as_bytes(), opts, |h| {
                                (h.won, h.token_taken, h.stale)
                            });
                            let (w, z, x) = h.expect("vivified or present");
                            assert_eq!(x, phase == 1, "stale only after the invalidation");
                            assert!(w != z, "each client either wins or is told another did");
                            won.fetch_add(w as usize, Ordering::Relaxed);
                            seen.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                assert_eq!(seen.load(Ordering::Relaxed), 4);
                assert_eq!(
                    won.load(Ordering::Relaxed),
                    1,
                    "round {round} phase {phase}: one winner"
                );
            }
        }
    }
}

/// A key lives in its home bucket or one of its alternates: in an index
/// of two buckets every key may use all 14 slots, so 14 keys fit without
/// growing whatever their hashes. (With the home alone, 14 random keys
/// overflow one of two buckets of seven almost always.) A 15th finds its
/// candidates full and grows the index rather than evict. Every key stays
/// readable, and the audit agrees.
#[test]
fn keys_overflow_into_their_alternate_bucket_then_grow_the_index() {
    for policy in [Policy::Lru, Policy::S3Fifo] {
        let c = Cache::new(Config {
            memory: 4 << 20,
            sweep_hz: 0,
            clock: Some(Arc::new(ManualClock::new())),
            policy,
            seed: Some(3),
            index_slots: Some(14),
            ..Config::default()
        })
        .unwrap();
        let v = [b'v'; 100];
        for i in 0..14 {
            assert_eq!(c.set(&key16(i), &v, 0, 0), Ok(Stored::Stored));
        }
        let s = c.stats();
        assert_eq!((s.curr_items, s.index_evictions), (14, 0), "{policy}");
        assert_eq!(s.index_slots, 14, "{policy}: no growth yet");
        for i in 0..14 {
            assert_eq!(
                get(&c, &key16(i)).as_deref(),
                Some(&v[..]),
                "{policy}: key {i}"
            );
        }
        assert_eq!(c.check_consistency(), Ok(14), "{policy}");
        assert_eq!(c.set(&key16(14), &v, 0, 0), Ok(Stored::Stored));
        let s = c.stats();
        assert_eq!((s.curr_items, s.index_evictions), (15, 0), "{policy}");
        for i in 0..15 {
            assert_eq!(
                get(&c, &key16(i)).as_deref(),
                Some(&v[..]),
                "{policy}: key {i}"
            );
        }
        // The audit finishes the growth (an insert moves only the homes it
        // needs, and its share of the rest).
        assert_eq!(c.check_consistency(), Ok(15), "{policy}");
        assert_eq!(c.stats().index_slots, 21, "{policy}: grown by half");
        for i in (0..14).step_by(2) {
            c.delete(&key16(i));
        }
        assert_eq!(c.check_consistency(), Ok(c.stats().curr_items as usize));
    }
}
