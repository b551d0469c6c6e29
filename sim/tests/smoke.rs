//! The catalogue builds and the engine answers: a plain `cargo test` runs this;
//! the loom models compile to nothing without `--cfg hotset_loom`.
#![cfg(not(hotset_loom))]

#[test]
fn engine_answers() {
    let c = hotset::Cache::new(hotset::Config {
        memory: 2 << 20,
        sweep_hz: 0,
        ..Default::default()
    })
    .unwrap();
    c.set(b"k", b"v", 0, 0).unwrap();
    let mut out = Vec::new();
    assert!(c.get(b"k", &mut out).is_some());
    assert_eq!(out, b"v");
}
