//! Workload specs: TOML files in `workloads/` (schema in
//! `workloads/README.md`). Unknown fields are errors, and every value is
//! checked, so a typo never silently changes an experiment.

use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// A workload.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name used for report directories.
    pub name: String,
    /// Operations to generate.
    pub ops: u64,
    /// Seed: the same seed gives the same trace, whatever the thread count.
    pub seed: u64,
    /// Key space: keys are 0..keys.
    pub keys: u64,
    /// How keys are chosen.
    pub distribution: Distribution,
    /// The operation mix.
    pub mix: Mix,
    /// Key sizes (bytes), fixed per key.
    pub key_size: Sizes,
    /// Value sizes (bytes).
    pub value_size: Sizes,
    /// Later phases that replace `value_size` from a fraction of the ops on.
    #[serde(default)]
    pub value_phase: Vec<Phase>,
    /// TTLs: `[seconds, weight]` rows; 0 means no expiry.
    #[serde(default = "no_ttl")]
    pub ttl: Vec<(u32, f64)>,
    /// What a comparison runs.
    #[serde(default)]
    pub compare: Compare,
}

fn no_ttl() -> Vec<(u32, f64)> {
    vec![(0, 1.0)]
}

/// Key distributions.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Distribution {
    /// Every key equally likely.
    Uniform,
    /// Zipfian (Gray et al., as YCSB), scrambled over the key space or not.
    Zipf {
        /// Skew, 0 < θ < 1.
        theta: f64,
        /// Hash ranks onto the key space with FNV-64 (YCSB's scrambled Zipfian).
        #[serde(default = "yes")]
        scrambled: bool,
    },
    /// YCSB's hotspot: `hot_ops` of the accesses go to `hot_fraction` of the keys.
    Hotspot {
        /// Fraction of the keys that are hot.
        hot_fraction: f64,
        /// Fraction of the accesses that go to them.
        hot_ops: f64,
    },
    /// A hot set of `hot_keys` that moves by its own size every `shift_every`
    /// ops; `hot_ops` of the accesses go to it, uniformly.
    Shifting {
        /// Size of the hot set.
        hot_keys: u64,
        /// Ops between shifts.
        shift_every: u64,
        /// Fraction of the accesses that go to the hot set.
        hot_ops: f64,
    },
}

fn yes() -> bool {
    true
}

/// Operation mix (weights, normalized).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Weight of gets.
    pub get: f64,
    /// Weight of sets.
    pub set: f64,
    /// Weight of deletes.
    #[serde(default)]
    pub delete: f64,
    /// On replay, a get miss is followed by a set of the key.
    #[serde(default)]
    pub cache_aside: bool,
}

/// A size distribution.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Sizes {
    /// Always `value`.
    Fixed {
        /// The size.
        value: u32,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// `[size, weight]` rows.
    Histogram {
        /// The rows.
        table: Vec<(u32, f64)>,
    },
}

/// A value-size phase.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// From this fraction of the ops on (0..1).
    pub from: f64,
    /// The value sizes in this phase.
    pub value_size: Sizes,
}

/// What to compare when replaying or simulating.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    /// Memory sizes, e.g. "16MiB".
    #[serde(default)]
    pub memory: Vec<String>,
    /// Policy names.
    #[serde(default)]
    pub policies: Vec<String>,
}

/// A spec that cannot be used, and why.
#[derive(Debug)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

fn check_weights(what: &str, w: impl IntoIterator<Item = f64>) -> Result<(), SpecError> {
    let mut sum = 0.0;
    for x in w {
        if !(x.is_finite() && x >= 0.0) {
            return Err(SpecError(format!(
                "{what}: weights must be finite and non-negative, got {x}"
            )));
        }
        sum += x;
    }
    if sum <= 0.0 {
        return Err(SpecError(format!("{what}: weights must not all be zero")));
    }
    Ok(())
}

fn check_sizes(what: &str, s: &Sizes, max: u32) -> Result<(), SpecError> {
    let bad = |m: String| Err(SpecError(format!("{what}: {m}")));
    match s {
        Sizes::Fixed { value } if *value == 0 || *value > max => {
            bad(format!("size {value} must be in 1..={max}"))
        }
        Sizes::Uniform { min, max: hi } if *min == 0 || min > hi || *hi > max => bad(format!(
            "uniform [{min}, {hi}] must satisfy 1 <= min <= max <= {max}"
        )),
        Sizes::Histogram { table } => {
            if let Some((sz, _)) = table.iter().find(|(sz, _)| *sz == 0 || *sz > max) {
                return bad(format!("size {sz} must be in 1..={max}"));
            }
            check_weights(what, table.iter().map(|r| r.1))
        }
        _ => Ok(()),
    }
}

fn fraction(what: &str, x: f64) -> Result<(), SpecError> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(SpecError(format!("{what} must be in [0, 1], got {x}")))
    }
}

impl Spec {
    /// Parses and checks a spec.
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let s: Spec = toml::from_str(text).map_err(|e| SpecError(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SpecError(format!("{}: {e}", path.display())))?;
        Spec::parse(&text).map_err(|e| SpecError(format!("{}: {e}", path.display())))
    }

    fn check(&self) -> Result<(), SpecError> {
        if self.keys == 0 || self.ops == 0 {
            return Err(SpecError("keys and ops must be positive".into()));
        }
        if self.ops > 10_000_000_000 {
            return Err(SpecError(format!(
                "ops {} is over the 10^10 limit",
                self.ops
            )));
        }
        match &self.distribution {
            Distribution::Uniform => {}
            Distribution::Zipf { theta, .. } => {
                if !(*theta > 0.0 && *theta < 1.0) {
                    return Err(SpecError(format!(
                        "zipf theta must be in (0, 1), got {theta}"
                    )));
                }
                if self.keys > 100_000_000 {
                    return Err(SpecError("zipf key spaces are limited to 10^8 keys".into()));
                }
            }
            Distribution::Hotspot {
                hot_fraction,
                hot_ops,
            } => {
                fraction("hot_fraction", *hot_fraction)?;
                fraction("hot_ops", *hot_ops)?;
            }
            Distribution::Shifting {
                hot_keys,
                shift_every,
                hot_ops,
            } => {
                fraction("hot_ops", *hot_ops)?;
                if *hot_keys == 0 || *hot_keys > self.keys || *shift_every == 0 {
                    return Err(SpecError(
                        "shifting: need 0 < hot_keys <= keys and shift_every > 0".into(),
                    ));
                }
            }
        }
        check_weights("mix", [self.mix.get, self.mix.set, self.mix.delete])?;
        check_sizes("key_size", &self.key_size, crate::MAX_KEY_LEN as u32)?;
        check_sizes("value_size", &self.value_size, 64 << 20)?;
        let mut last = 0.0;
        for p in &self.value_phase {
            fraction("value_phase.from", p.from)?;
            if p.from < last {
                return Err(SpecError(
                    "value_phase entries must be in increasing order of `from`".into(),
                ));
            }
            last = p.from;
            check_sizes("value_phase.value_size", &p.value_size, 64 << 20)?;
        }
        check_weights("ttl", self.ttl.iter().map(|r| r.1))?;
        Ok(())
    }
}
