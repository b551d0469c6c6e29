//! Trace generation from a [`Spec`], in parallel and deterministic.
//!
//! The ops are cut into fixed chunks of [`CHUNK`]; chunk `c` draws from its
//! own generator seeded by `(seed, c)`. Which thread runs a chunk therefore
//! cannot change a byte of the output: 1 thread or 16 give the same file.

use super::spec::{Distribution, Sizes, Spec};
use super::trace::{Op, Record, NATIVE_MAGIC};
use super::{fnv64, ScrambledZipf, Zipf};
use rayon::prelude::*;
use std::io::{self, Write};

/// Ops per independently seeded chunk.
pub const CHUNK: u64 = 1 << 16;

use crate::rng::SplitMix64 as Rng;

enum Keys {
    Uniform,
    Zipf(Zipf),
    Scrambled(ScrambledZipf),
    Hotspot { hot: u64, p: f64 },
    Shifting { hot: u64, every: u64, p: f64 },
}

fn pick_weighted<T: Copy>(rows: &[(T, f64)], r: &mut Rng) -> T {
    let total: f64 = rows.iter().map(|x| x.1).sum();
    let mut u = r.unit() * total;
    for &(v, w) in rows {
        if u < w {
            return v;
        }
        u -= w;
    }
    rows[rows.len() - 1].0
}

fn draw_size(s: &Sizes, r: &mut Rng) -> u32 {
    match s {
        Sizes::Fixed { value } => *value,
        Sizes::Uniform { min, max } => min + r.below((max - min) as u64 + 1) as u32,
        Sizes::Histogram { table } => pick_weighted(table, r),
    }
}

/// Generates the records of a spec on the current rayon pool.
pub fn generate(spec: &Spec) -> Vec<Record> {
    let mut out = Vec::new();
    let _ = generate_chunks(spec, 0..spec.ops.div_ceil(CHUNK), &mut out);
    out
}

/// Chunks generated at a time when streaming: bounds memory to about
/// `STREAM_CHUNKS * CHUNK` records (~150 MiB) whatever the spec's size.
const STREAM_CHUNKS: u64 = 96;

/// Generates a spec's trace straight into `out` in the native format,
/// holding at most [`STREAM_CHUNKS`] chunks in memory. The bytes are the
/// same as [`write_native`] of [`generate`], on any thread count.
pub fn generate_to(
    spec: &Spec,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> io::Result<u64> {
    out.write_all(NATIVE_MAGIC)?;
    let chunks = spec.ops.div_ceil(CHUNK);
    let mut buf = Vec::new();
    let mut written = 0;
    let mut c = 0;
    while c < chunks {
        let end = (c + STREAM_CHUNKS).min(chunks);
        buf.clear();
        generate_chunks(spec, c..end, &mut buf)?;
        for r in &buf {
            out.write_all(&r.encode())?;
        }
        written += buf.len() as u64;
        progress(buf.len() as u64);
        c = end;
    }
    out.flush()?;
    Ok(written)
}

/// Generates chunks `range` (in order) into `out`.
fn generate_chunks(
    spec: &Spec,
    range: std::ops::Range<u64>,
    out: &mut Vec<Record>,
) -> io::Result<()> {
    let n = spec.keys;
    let keys = match &spec.distribution {
        Distribution::Uniform => Keys::Uniform,
        Distribution::Zipf {
            theta,
            scrambled: true,
        } => Keys::Scrambled(ScrambledZipf::new(n, *theta)),
        Distribution::Zipf {
            theta,
            scrambled: false,
        } => Keys::Zipf(Zipf::new(n, *theta)),
        Distribution::Hotspot {
            hot_fraction,
            hot_ops,
        } => Keys::Hotspot {
            hot: ((n as f64 * hot_fraction) as u64).clamp(1, n),
            p: *hot_ops,
        },
        Distribution::Shifting {
            hot_keys,
            shift_every,
            hot_ops,
        } => Keys::Shifting {
            hot: *hot_keys,
            every: *shift_every,
            p: *hot_ops,
        },
    };
    let mix = [
        (Op::Get, spec.mix.get),
        (Op::Set, spec.mix.set),
        (Op::Delete, spec.mix.delete),
    ];
    let chunks: Vec<Vec<Record>> = range
        .into_par_iter()
        .map(|c| -> Vec<Record> {
            let mut r = Rng::with_stream(spec.seed, c);
            let start = c * CHUNK;
            let end = (start + CHUNK).min(spec.ops);
            let keys = &keys;
            let mix = &mix;
            (start..end)
                .map(move |i| {
                    let key = match keys {
                        Keys::Uniform => r.below(n),
                        Keys::Zipf(z) => z.sample(r.unit()),
                        Keys::Scrambled(z) => z.sample(r.unit()),
                        Keys::Hotspot { hot, p } => {
                            if r.unit() < *p {
                                r.below(*hot)
                            } else {
                                r.below(n)
                            }
                        }
                        Keys::Shifting { hot, every, p } => {
                            if r.unit() < *p {
                                let base = (i / every).wrapping_mul(*hot) % n;
                                (base + r.below(*hot)) % n
                            } else {
                                r.below(n)
                            }
                        }
                    };
                    let frac = i as f64 / spec.ops as f64;
                    let vsizes = spec
                        .value_phase
                        .iter()
                        .rev()
                        .find(|p| frac >= p.from)
                        .map_or(&spec.value_size, |p| &p.value_size);
                    // A key's size is a function of the key alone.
                    let key_size = draw_size(
                        &spec.key_size,
                        &mut Rng::with_stream(fnv64(key), 0x6b65_7973),
                    ) as u8;
                    Record {
                        key,
                        key_size,
                        value_size: draw_size(vsizes, &mut r),
                        ttl: pick_weighted(&spec.ttl, &mut r),
                        op: pick_weighted(mix, &mut r),
                    }
                })
                .collect()
        })
        .collect();
    for c in chunks {
        out.extend(c);
    }
    Ok(())
}

/// Writes records in the native format.
pub fn write_native(out: &mut impl Write, records: &[Record]) -> io::Result<()> {
    out.write_all(NATIVE_MAGIC)?;
    for r in records {
        out.write_all(&r.encode())?;
    }
    out.flush()
}
