//! Real client libraries against hotset, each through its own API (no raw
//! sockets): `pymemcache` for the classic commands
//! (`tests/clients/pymemcache_check.py`), and `meta-memcache` for the
//! meta protocol, its leases and its stale-while-revalidate
//! (`tests/clients/metamemcache_check.py`). memcached 1.6.18 passes both
//! scripts. The libraries come from the venv `.ci/run` builds at
//! `target/pyenv` (or `HOTSET_PYTHON`, a Python that has them); without
//! them the tests skip loudly, unless `CI=true`.

mod common;

use common::{python_with, Server};
use std::path::PathBuf;

/// The pinned versions `.ci/run` installs.
const PYMEMCACHE: &str = "4.0.0";
const META_MEMCACHE: &str = "4.3.0";

/// Runs `tests/clients/<script>` against a fresh server.
fn run_script(python: PathBuf, script: &str) {
    let srv = Server::start(&[]);
    common::run_client_script(&python, script, &[&srv.port.to_string()]);
}

#[test]
fn pymemcache_classic_commands() {
    if let Some(python) = python_with("pymemcache", PYMEMCACHE, "pymemcache_classic_commands") {
        run_script(python, "pymemcache_check.py");
    }
}

#[test]
fn meta_memcache_meta_protocol() {
    if let Some(python) = python_with(
        "meta_memcache",
        META_MEMCACHE,
        "meta_memcache_meta_protocol",
    ) {
        run_script(python, "metamemcache_check.py");
    }
}
