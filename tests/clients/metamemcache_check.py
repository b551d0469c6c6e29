"""hotset through meta-memcache's own API (memcached's meta protocol):
get/set/delete/touch, CAS, counters, and its lease and stale-while-
revalidate flows. Run by tests/clients.rs against a fresh server:
    python metamemcache_check.py PORT
Exits non-zero, naming the check, at the first one that fails."""

import sys

from meta_memcache import (
    CacheClient,
    LeasePolicy,
    RecachePolicy,
    ServerAddress,
    SetMode,
    StalePolicy,
    connection_pool_factory_builder,
)

port = int(sys.argv[1])
c = CacheClient.cache_client_from_servers(
    servers=[ServerAddress(host="127.0.0.1", port=port)],
    connection_pool_factory_fn=connection_pool_factory_builder(),
)
checks = 0


def check(what, got, want):
    global checks
    if got != want:
        sys.exit(f"FAIL {what}: got {got!r}, want {want!r}")
    checks += 1


# get / set / delete / touch.
check("set", c.set("a", "one", ttl=60), True)
check("get", c.get("a"), "one")
check("get of a missing key", c.get("nosuch"), None)
check("set of bytes", c.set("b", b"\x00\x01", ttl=0), True)
check("get of bytes", c.get("b"), b"\x00\x01")
check("set of an object", c.set("o", {"x": [1, 2]}, ttl=0), True)
check("get of an object", c.get("o"), {"x": [1, 2]})
check("touch", c.touch("a", ttl=120), True)
check("touch of a missing key", c.touch("nosuch", ttl=120), False)
check("get with a touch", c.get("a", touch_ttl=300), "one")
check("delete", c.delete("a"), True)
check("get after delete", c.get("a"), None)
got = {k.key: v for k, v in c.multi_get(["b", "nosuch", "o"]).items()}
check("multi_get", got, {"b": b"\x00\x01", "nosuch": None, "o": {"x": [1, 2]}})

# Storage modes.
check("add of a present key", c.set("b", "x", ttl=0, set_mode=SetMode.ADD), False)
check("add of a new key", c.set("n", "x", ttl=0, set_mode=SetMode.ADD), True)
check("replace of a missing key", c.set("nosuch", "x", ttl=0, set_mode=SetMode.REPLACE), False)

# CAS.
value, cas = c.get_cas("n")
check("get_cas value", value, "x")
check("set with the right CAS", c.set("n", "y", ttl=0, cas_token=cas), True)
check("set with a stale CAS", c.set("n", "z", ttl=0, cas_token=cas), False)
check("value after the CAS sets", c.get("n"), "y")
new_cas = c.set_cas("n", "w", ttl=0)
check("set_cas returns a CAS", isinstance(new_cas, int) and new_cas > 0, True)
check("get_cas after set_cas", c.get_cas("n"), ("w", new_cas))

# Counters.
check("delta of a missing key", c.delta("cnt", 1), False)
check("delta_initialize_and_get", c.delta_initialize_and_get("cnt", 5, initial_value=10, initial_ttl=0), 10)
check("delta_and_get", c.delta_and_get("cnt", 5), 15)
check("delta_and_get, decrement", c.delta_and_get("cnt", -20), 0)
check("delta", c.delta("cnt", 3), True)
check("the counter after delta", c.delta_and_get("cnt", 0), 3)

# Lease on a miss: this client wins the lease (a miss) and fills the key.
lease = LeasePolicy(ttl=30, miss_retries=1, miss_retry_wait=0.05)
check("get_or_lease of a missing key wins", c.get_or_lease("lease", lease_policy=lease), None)
check("refill after the lease", c.set("lease", "filled", ttl=60), True)
check("get_or_lease after the refill", c.get_or_lease("lease", lease_policy=lease), "filled")

# Stale-while-revalidate: invalidation marks the item stale; the first
# reader wins the recache (a miss), the next reads the stale value.
stale = StalePolicy(mark_stale_on_deletion_ttl=30)
c.set("s", "v1", ttl=60)
check("invalidate", c.invalidate("s", stale_policy=stale), True)
check("first read of a stale item wins the recache", c.get("s"), None)
check("second read gets the stale value", c.get("s"), "v1")
check("recache", c.set("s", "v2", ttl=60), True)
check("read after the recache", c.get("s"), "v2")

# Recache before expiry: within the recache window one client wins.
c.set("r", "old", ttl=10)
recache = RecachePolicy(ttl=30)
check("first read inside the recache window wins", c.get("r", recache_policy=recache), None)
check("second read keeps the value", c.get("r", recache_policy=recache), "old")

print(f"ok: {checks} checks")
