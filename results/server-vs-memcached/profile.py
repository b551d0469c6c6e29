"""Writes profile.md from the raw outputs of profile.sh (runs/profile/)."""
import glob
import json
import os
import re
import subprocess
import sys

here, records = sys.argv[1], int(sys.argv[2])
raw = os.path.join(here, "runs", "profile")
SERVERS = ("memcached", "hotset")


def requests(run):
    return json.load(open(os.path.join(raw, run, "summary.json")))["rows"][0]["requests"]


def callgrind(server):
    """(total, [(self instructions, share %, function, object)]) of the dump
    taken after the prefill. The dump is uncompressed (profile.sh passes
    --compress-strings=no --compress-pos=no), so self costs are summed here:
    the cost line after each `calls=` is a callee's inclusive cost, not the
    caller's own."""
    dumps = sorted(glob.glob(os.path.join(raw, f"{server}.callgrind.*")))
    if not dumps:
        sys.exit(f"no callgrind dump for {server} in {raw}")
    own, total = {}, None
    fn, obj, skip = None, "", False
    for line in open(dumps[0]):
        if line.startswith("summary:"):
            total = int(line.split()[1])
        elif line.startswith("ob="):
            obj = os.path.basename(line[3:].strip())
        elif line.startswith("fn="):
            fn = (line[3:].strip(), obj)
        elif line.startswith("calls="):
            skip = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if skip:
                skip = False
                continue
            f = line.split()
            if fn is not None and len(f) >= 2:
                own[fn] = own.get(fn, 0) + int(f[1])
    if not total:
        sys.exit(f"no summary line in {dumps[0]}")
    funcs = sorted(((ir, 100 * ir / total, f, o) for (f, o), ir in own.items()), reverse=True)
    return total, funcs


def strace(server):
    calls = {}
    for line in open(os.path.join(raw, f"{server}.strace")):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            calls[f[-1]] = int(f[3])
    return calls


def cpu(server):
    u0, s0, c0, u1, s1, c1, tck = map(int, open(os.path.join(raw, f"{server}.cpu")).read().split())
    return (u1 - u0) / tck, (s1 - s0) / tck, c1 - c0


def dhat(server):
    text = open(os.path.join(raw, f"{server}.dhat.log")).read()
    m = re.search(r"Total:\s+([\d,]+) bytes in ([\d,]+) blocks", text)
    return (int(m[1].replace(",", "")), int(m[2].replace(",", ""))) if m else (None, None)


def short(fn, n=70):
    fn = re.sub(r"<[^<>]*>", "<…>", re.sub(r"<[^<>]*>", "<…>", fn))
    return fn if len(fn) <= n else fn[: n - 1] + "…"


commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
mcv = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
out = [
    "# Where a request's cost goes: hotset against memcached",
    "",
    "- command: `bash results/server-vs-memcached/profile.sh`",
    f"- commit: {commit}",
    f"- peers: {mcv} `-t 2 -m 64` against `hotset --memory 64MiB` (default threads: one per core)",
    f"- load: `workloads/server-90-10-100b.toml` (90/10 get/set, 16 B keys, 100 B values, Zipf 0.99 over 100,000 keys, prefilled), 50 connections, no pipelining; {records:,} requests played once for callgrind, strace and DHAT, a 5 s closed loop for CPU time",
    "- machine: 2 cores, shared with the load generator",
    "",
    "## Per request",
    "",
    "| | memcached | hotset | hotset / memcached |",
    "| --- | ---: | ---: | ---: |",
]
rows = {}
for s in SERVERS:
    total, funcs = callgrind(s)
    calls = strace(s)
    n_cg, n_st, n_cpu, n_dh = (requests(f"{s}-{k}") for k in ("callgrind", "strace", "cpu", "dhat"))
    u, sy, cs = cpu(s)
    _, blocks = dhat(s)
    sys_total = sum(calls.values())
    rows[s] = {
        "user-space instructions (callgrind)": total / n_cg,
        "syscalls (strace)": sys_total / n_st,
        "  reads (read, recvfrom)": (calls.get("read", 0) + calls.get("recvfrom", 0)) / n_st,
        "  writes (sendmsg, sendto, write)": (calls.get("sendmsg", 0) + calls.get("sendto", 0) + calls.get("write", 0)) / n_st,
        "  epoll_wait": calls.get("epoll_wait", 0) / n_st,
        "  futex (contended locks and wakeups)": calls.get("futex", 0) / n_st,
        "CPU µs, user": u * 1e6 / n_cpu,
        "CPU µs, system": sy * 1e6 / n_cpu,
        "context switches": cs / n_cpu,
        "heap allocations (DHAT, startup and prefill included)": blocks / (n_dh + 100_000) if blocks else float("nan"),
        "_funcs": funcs,
        "_ops": json.load(open(os.path.join(raw, f"{s}-cpu", "summary.json")))["rows"][0]["ops_per_sec"],
    }
for k in rows["hotset"]:
    if k.startswith("_"):
        continue
    m, h = rows["memcached"][k], rows["hotset"][k]
    ratio = f"{h / m:.2f}×" if m else "–"
    fmt = (lambda v: f"{v:,.0f}") if k.startswith("user-space") else (lambda v: f"{v:.3f}")
    out.append(f"| {k} | {fmt(m)} | {fmt(h)} | {ratio} |")
out += [
    "",
    f"Closed-loop throughput in the CPU run: memcached {rows['memcached']['_ops']:,.0f} ops/s, hotset {rows['hotset']['_ops']:,.0f} ops/s.",
    "",
]
for s in SERVERS:
    out += [
        f"## {s}: top functions by instructions (callgrind, self cost)",
        "",
        "| share | instructions per request | function | object |",
        "| ---: | ---: | --- | --- |",
    ]
    n_cg = requests(f"{s}-callgrind")
    for ir, pct, fn, obj in rows[s]["_funcs"][:15]:
        out.append(f"| {pct:.1f}% | {ir / n_cg:,.0f} | `{short(fn)}` | {obj} |")
    out.append("")
open(os.path.join(here, "profile.md"), "w").write("\n".join(out))
