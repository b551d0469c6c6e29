"""hotset through pymemcache's own API: the classic commands a Python
application uses. Run by tests/clients.rs against a fresh server:
    python pymemcache_check.py PORT
Exits non-zero, naming the check, at the first one that fails."""

import sys
import time

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError

port = int(sys.argv[1])
# noreply=False: every store waits for its reply, so failures surface.
c = Client(("127.0.0.1", port), default_noreply=False, connect_timeout=5, timeout=5)
checks = 0


def check(what, got, want):
    global checks
    if got != want:
        sys.exit(f"FAIL {what}: got {got!r}, want {want!r}")
    checks += 1


check("set", c.set("a", b"1"), True)
check("get", c.get("a"), b"1")
check("get of a missing key", c.get("nosuch"), None)
check("set with flags", c.set("f", b"x", flags=5), True)
check("get with flags", c.get("f", default=None), b"x")
check("raw flags", c.raw_command(b"get f", b"END\r\n").split(b"\r\n")[0], b"VALUE f 5 1")

# get_many: present and absent keys together.
c.set_many({"m1": b"one", "m2": b"two", "m3": b"three"})
check("get_many", c.get_many(["m1", "m2", "nosuch", "m3"]), {"m1": b"one", "m2": b"two", "m3": b"three"})

# gets / cas.
value, cas = c.gets("a")
check("gets value", value, b"1")
check("cas with the right unique", c.cas("a", b"2", cas), True)
check("cas with a stale unique", c.cas("a", b"3", cas), False)
check("cas of a missing key", c.cas("nosuch", b"3", cas), None)
check("value after cas", c.get("a"), b"2")

# add / replace.
check("add of a present key", c.add("a", b"x"), False)
check("add of a new key", c.add("new", b"x"), True)
check("replace of a missing key", c.replace("nosuch", b"x"), False)
check("replace of a present key", c.replace("new", b"y"), True)

# incr / decr.
c.set("n", b"10")
check("incr", c.incr("n", 5), 15)
check("decr", c.decr("n", 20), 0)
check("incr of a missing key", c.incr("nosuch", 1), None)
c.set("text", b"abc")
try:
    c.incr("text", 1)
    sys.exit("FAIL incr of a non-numeric value: no error")
except MemcacheClientError:
    checks += 1

# append / prepend.
c.set("s", b"mid")
check("append", c.append("s", b"-end"), True)
check("prepend", c.prepend("s", b"start-"), True)
check("value after append and prepend", c.get("s"), b"start-mid-end")
check("append to a missing key", c.append("nosuch", b"x"), False)

# touch: an expiring key made permanent, a permanent one made to expire.
c.set("t", b"v", expire=1)
check("touch", c.touch("t", expire=0), True)
check("touch of a missing key", c.touch("nosuch", expire=10), False)
c.set("gone", b"v")
c.touch("gone", expire=1)
time.sleep(2.1)
check("touched key still there", c.get("t"), b"v")
check("key touched to expire is gone", c.get("gone"), None)

# noreply: the stores are sent without waiting, then read back.
check("set noreply", c.set("q", b"quiet", noreply=True), True)
check("delete noreply", c.delete("new", noreply=True), True)
check("value after noreply set", c.get("q"), b"quiet")
check("key after noreply delete", c.get("new"), None)

# delete.
check("delete", c.delete("q", noreply=False), True)
check("delete of a missing key", c.delete("q", noreply=False), False)

# stats.
stats = c.stats()
check("stats has curr_items", b"curr_items" in stats, True)
check("stats get_hits counts", stats[b"get_hits"] > 0, True)
check("stats settings", b"maxbytes" in c.stats("settings"), True)

# flush_all.
check("flush_all", c.flush_all(noreply=False), True)
check("get after flush_all", c.get("a"), None)
check("get_many after flush_all", c.get_many(["m1", "m2"]), {})

# version.
check("version", len(c.version()) > 0, True)
c.close()
print(f"ok: {checks} checks")
