"""Does the libcachesim package (0.3.5) expire objects at their TTL? It
cannot be hotset's oracle for `simulate --use-ttl` unless it does.

    target/pyenv/bin/python results/simulate/ttl-package.py

One object with a 5-second TTL, requested at 0, 4, 5, 6 and 7 seconds,
through the package's LRU with the default TTL off: with TTLs honoured
(libCacheSim's rule: expired when expiry < now) the requests at 6 and 7
miss. Prints the package's hits.
"""

import libcachesim as lcs

cache = lcs.LRU(cache_size=10, default_ttl=0)
hits = []
for t in [0, 4, 5, 6, 7]:
    r = lcs.Request()
    r.obj_id, r.obj_size, r.clock_time, r.ttl, r.next_access_vtime = 1, 1, t, 5, -1
    hits.append(cache.get(r))
print("package", lcs.__version__, "hits at 0, 4, 5, 6, 7 s:", hits)
print("honours TTLs" if hits == [False, True, True, False, True] else "ignores TTLs (built without SUPPORT_TTL)")
