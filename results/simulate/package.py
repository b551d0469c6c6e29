"""One run of the libcachesim package, for results/simulate/vs-package.sh:

    python package.py TRACE POLICY SIZE

TRACE is oracleGeneral, objects mode. Prints `misses seconds`, the seconds
being process_trace's alone (the caller times the whole process)."""

import sys
import time

import libcachesim as lcs

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/tests/oracle")
from lcs import CLASSES  # noqa: E402  (hotset's policy names -> classes)

path, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE, lcs.ReaderInitParam(ignore_obj_size=True))
cache = CLASSES[name](cache_size=size, hashpower=22)
start = time.perf_counter()
ratio, _ = cache.process_trace(reader)
took = time.perf_counter() - start
print(round(ratio * reader.get_num_of_req()), f"{took:.3f}")
