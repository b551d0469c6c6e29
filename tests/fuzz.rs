//! Fuzzing of everything that parses outside input: the protocol framer and
//! parser (as the server drives them), and every trace reader.
//!
//! cargo-fuzz needs a nightly toolchain, `cargo install cargo-fuzz` and a
//! libFuzzer build on every fresh CI machine; this uses a mutation loop of
//! its own instead, seeded from the corpus kept in `tests/corpus/`:
//! byte flips, insertions of interesting bytes (`\r`, `\n`, spaces, digits,
//! 0xff), deletions, duplications, splices of two corpus entries and
//! truncations, plus pure random inputs. Every input must be handled without
//! a panic, and what is accepted must be consistent (framing never runs
//! past the buffer; readers return no more records than the bytes allow).
//!
//! `FUZZ_SECONDS` (default 2) bounds each target's time; `.ci/run` gives
//! each 45 s. A failure prints the seed, the iteration and the input in hex;
//! `FUZZ_SEED=<n>` changes the stream.

use hotset::protocol::{data_end, frame, parse, Frame};
use hotset::rng::SplitMix64;
use hotset::workload::trace;
use std::path::Path;
use std::time::{Duration, Instant};

/// A SplitMix64 stream with a `usize` range.
struct Rng(SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n.max(1) as u64) as usize
    }
}

fn corpus(dir: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let out: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!out.is_empty(), "empty corpus {}", path.display());
    out
}

const INTERESTING: &[u8] = b"\r\n \t0123456789-\xff\x00\x80 noreply";

fn mutate(r: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if r.below(10) == 0 {
        let n = r.below(300);
        return (0..n).map(|_| r.next() as u8).collect();
    }
    let mut b = seeds[r.below(seeds.len())].clone();
    for _ in 0..1 + r.below(6) {
        let len = b.len();
        match r.below(7) {
            0 if len > 0 => {
                let i = r.below(len);
                b[i] ^= 1 << r.below(8);
            }
            1 => {
                let i = r.below(len + 1);
                let c = INTERESTING[r.below(INTERESTING.len())];
                b.insert(i, c);
            }
            2 if len > 0 => {
                let i = r.below(len);
                let j = (i + 1 + r.below(16)).min(len);
                b.drain(i..j);
            }
            3 if len > 0 => {
                let i = r.below(len);
                let j = (i + 1 + r.below(32)).min(len);
                let piece = b[i..j].to_vec();
                let at = r.below(b.len() + 1);
                b.splice(at..at, piece);
            }
            4 => {
                let other = &seeds[r.below(seeds.len())];
                let cut = r.below(other.len() + 1);
                b.extend_from_slice(&other[cut..]);
            }
            5 if len > 0 => b.truncate(r.below(len)),
            _ => {
                // A big number where a digit was.
                if let Some(i) = b.iter().position(|c| c.is_ascii_digit()) {
                    let big = [
                        "4294967296",
                        "18446744073709551616",
                        "-1",
                        "99999999999999999999",
                    ];
                    b.splice(i..i + 1, big[r.below(big.len())].bytes());
                }
            }
        }
    }
    b
}

/// Runs `target` on mutated inputs until the time budget is spent.
fn fuzz(name: &str, dir: &str, target: impl Fn(&[u8])) {
    let secs: f64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let seeds = corpus(dir);
    for s in &seeds {
        target(s);
    }
    let mut r = Rng(SplitMix64::new(seed ^ name.len() as u64));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut n = 0u64;
    while Instant::now() < end {
        for _ in 0..256 {
            let input = mutate(&mut r, &seeds);
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
            if ok.is_err() {
                let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
                panic!("{name}: FUZZ_SEED={seed}, input {n} panicked; input (hex): {hex}");
            }
            n += 1;
        }
    }
    eprintln!("fuzz {name}: {n} inputs, no panic");
}

/// Drives the framer and parser over a buffer as the server does.
fn protocol_target(buf: &[u8]) {
    let mut pos = 0;
    while pos < buf.len() {
        let avail = &buf[pos..];
        match frame(avail) {
            Frame::Need | Frame::TooLong | Frame::Binary => return,
            Frame::Line { len, consumed } => {
                assert!(
                    len < consumed && consumed <= avail.len(),
                    "framing ran past the buffer"
                );
                if let Some(bytes) = parse(&avail[..len])
                    .ok()
                    .and_then(|r| r.block().map(|b| b.bytes))
                {
                    let rest = &avail[consumed..];
                    match data_end(rest, bytes as usize) {
                        Ok(Some(dc)) => {
                            assert!(dc <= rest.len() && dc >= bytes as usize);
                            pos += dc;
                        }
                        Ok(None) => return,
                        Err(()) => pos += bytes as usize,
                    }
                }
                pos += consumed;
            }
        }
    }
}

#[test]
fn fuzz_protocol() {
    fuzz("protocol", "protocol", protocol_target);
}

#[test]
fn fuzz_oracle_general_reader() {
    fuzz("oracleGeneral", "oracle", |b| {
        if let Ok(reqs) = trace::parse_oracle_general(b) {
            assert!(reqs.len() <= b.len() / 24);
        }
    });
}

#[test]
fn fuzz_lcs_and_vscsi_readers() {
    use hotset::workload::{lcs, vscsi};
    fuzz("lcs and vscsi", "block", |b| {
        let mut n = 0usize;
        if lcs::each_lcs(b, |_, _| {
            n += 1;
            Ok(())
        })
        .is_ok()
        {
            assert!(n <= b.len().saturating_sub(lcs::HEADER) / 24);
        }
        let mut n = 0usize;
        if vscsi::each_vscsi(b, |_, _| {
            n += 1;
            Ok(())
        })
        .is_ok()
        {
            assert!(n <= b.len() / 32);
        }
    });
}

#[test]
fn fuzz_native_reader() {
    fuzz("native", "native", |b| {
        if let Ok(recs) = trace::parse_native(b) {
            assert!(recs.len() <= b.len() / 18);
        }
    });
}

#[test]
fn fuzz_twitter_csv_reader() {
    fuzz("twitter", "twitter", |b| {
        if let Ok(reqs) = trace::parse_twitter_csv(b) {
            assert!(reqs.len() <= b.len() / 7 + 1);
        }
    });
}

#[test]
fn fuzz_delimited_reader() {
    use hotset::workload::text::{parse_delimited, Delimited};
    let layouts: Vec<Delimited> = [
        (",", "time=1,op=2,key=3,size=4,ttl=5", true),
        ("tab", "time=1,op=2,key=3,size=4,ttl=5", false),
        ("space", "key=1", false),
    ]
    .into_iter()
    .map(|(d, c, header)| Delimited {
        delimiter: d.parse().unwrap(),
        columns: c.parse().unwrap(),
        header,
        numeric_keys: false,
    })
    .collect();
    fuzz("delimited", "delimited", |b| {
        for l in &layouts {
            if let Ok(reqs) = parse_delimited(b, l) {
                // Each request needs a line with at least a key.
                assert!(reqs.len() <= b.len() / 2 + 1);
            }
        }
    });
}

#[test]
fn fuzz_key_per_line_reader() {
    use hotset::workload::text::parse_keys;
    fuzz("keys", "keys", |b| {
        for numeric in [false, true] {
            if let Ok(reqs) = parse_keys(b, numeric) {
                assert!(reqs.len() <= b.len() / 2 + 1);
                assert!(reqs.iter().all(|r| r.size == 1));
            }
        }
    });
}
