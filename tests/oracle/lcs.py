"""Runs the libcachesim package (libCacheSim's C core) over one trace, as the
oracle for hotset's exact simulators.

    python lcs.py TRACE UNIT POLICY=SIZE[,SIZE...] [POLICY=...]
    python lcs.py --serve

TRACE is an oracleGeneral file, or `lcs:PATH` or `vscsi:PATH` for the
package's lcs and vscsi readers; UNIT is `objects` or `bytes`; POLICY is a
hotset policy name. Prints one line per run: `policy size misses miss_bytes`,
or `policy size crashed SIGNAL` where the package's C core crashes.
With `--serve` it reads such argument lines from standard input, one job per
line, and answers each with its lines and then `done` (one process, imported
once, for the many small jobs of shrinking a failure). With `--version` it
prints the package's version and exits.
"""

import os
import signal
import sys

import libcachesim as lcs

# hotset's name -> the package's class. Every one is deterministic, and each
# is built with the package's default parameters. hotset's `clockpro` is not
# here: the package's `ClockPro` never evicts (IMPLEMENTATION.md).
CLASSES = {
    "lru": lcs.LRU,
    "fifo": lcs.FIFO,
    "clock": lcs.Clock,
    "sieve": lcs.Sieve,
    "s3fifo": lcs.S3FIFO,
    "belady": lcs.Belady,
    "arc": lcs.ARC,
    "lfu": lcs.LFU,
    "lfuda": lcs.LFUDA,
    "gdsf": lcs.GDSF,
    "twoq": lcs.TwoQ,
    "slru": lcs.SLRU,
    "lirs": lcs.LIRS,
    "wtinylfu": lcs.WTinyLFU,
    "mq": lcs.MQ,
    "belady-size": lcs.BeladySize,
}


# Longest a single run may take: the test's traces take milliseconds. A run
# cut short is reported as a crash and left uncompared, never as a count,
# so a tight bound costs coverage on a slow machine, not correctness.
CHILD_SECONDS = 0.3


def main(argv):
    if argv[1:] == ["--version"]:
        print(lcs.__version__)
        return 0
    if argv[1:] == ["--serve"]:
        for line in sys.stdin:
            args = line.split()
            if len(args) < 3:
                print(f"a job needs TRACE UNIT POLICY=SIZES, not {line!r}", file=sys.stderr)
                return 2
            rc = job(args[0], args[1], args[2:])
            if rc != 0:
                return rc
            print("done", flush=True)
        return 0
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    return job(argv[1], argv[2], argv[3:])


def job(path, unit, runs):
    if unit not in ("objects", "bytes"):
        print(f"unit must be objects or bytes, not {unit!r}", file=sys.stderr)
        return 2
    params = lcs.ReaderInitParam(ignore_obj_size=(unit == "objects"))
    kind, _, rest = path.partition(":")
    types = {"lcs": lcs.TraceType.LCS_TRACE, "vscsi": lcs.TraceType.VSCSI_TRACE}
    if kind in types:
        reader = lcs.TraceReader(rest, types[kind], params)
    else:
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE, params)
    n = 0
    total_bytes = 0
    for req in reader:
        n += 1
        total_bytes += 1 if unit == "objects" else req.obj_size
    # The package's hash table starts at 2^hashpower slots (2^24 by default,
    # 128 MiB per cache) and grows; start it near the trace's size instead.
    hashpower = max(10, min(24, n.bit_length()))
    for run in runs:
        name, _, sizes = run.partition("=")
        if name not in CLASSES:
            print(f"no package class for policy {name!r}", file=sys.stderr)
            return 2
        for size in sizes.split(","):
            print(f"{name} {size} {simulate(reader, name, int(size), hashpower, n, total_bytes)}", flush=True)
    return 0


def simulate(reader, name, size, hashpower, n, total_bytes):
    """`misses miss_bytes`, or `crashed SIGNAL` when the package's C core
    dies on this input (some policies crash at tiny sizes) or runs past
    CHILD_SECONDS: each run is a forked child, so a crash costs only its
    own answer."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        # The package can also loop for ever on some inputs (LFUDA, where
        # its `min` is stale): SIGALRM ends such a run as a crash.
        signal.setitimer(signal.ITIMER_REAL, CHILD_SECONDS)
        # Its warnings (one per object too large to insert) are noise here.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            cache = CLASSES[name](cache_size=size, hashpower=hashpower)
            reader.reset()
            ratio, byte_ratio = cache.process_trace(reader)
            out = f"{round(ratio * n)} {round(byte_ratio * total_bytes)}"
        except Exception as e:  # a Python-level refusal, reported alike
            out = f"crashed {type(e).__name__}"
        os.write(wr, out.encode())
        os._exit(0)
    os.close(wr)
    chunks = []
    while True:
        b = os.read(rd, 4096)
        if not b:
            break
        chunks.append(b)
    os.close(rd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"crashed {signal.Signals(os.WTERMSIG(status)).name}"
    return b"".join(chunks).decode() or "crashed no-answer"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
