"""Plots and tabulates results/mrc/krr.sh's runs: for each trace, KRR's
curve (lines), the sampled-lru simulator at the same sizes (circles) and
the live engine at its item count (triangles), per K; and README.md with
the errors. Standard library only (the SVG is written by hand).

    python3 krr_plot.py OUT COMMIT
"""

import json
import math
import os
import re
import sys

W, H, PAD = 720, 440, 60
COLOURS = {1: "#d62728", 5: "#1f77b4", 16: "#2ca02c"}


def rows(path):
    with open(os.path.join(path, "summary.json")) as f:
        return json.load(f)["rows"]


def svg(name, series, out):
    xs = [x for s in series for x, _ in s["points"]]
    lo, hi = math.log10(max(1, min(xs))), math.log10(max(xs))
    sx = lambda x: PAD + (math.log10(max(x, 1)) - lo) / max(hi - lo, 1e-9) * (W - 2 * PAD)
    sy = lambda y: H - PAD - y * (H - 2 * PAD)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{name}: sampled LRU, KRR (lines) against the simulator (o) and the live engine (^)</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="black"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="black"/>',
        f'<text x="{W / 2}" y="{H - 15}" text-anchor="middle">cache size (objects), log scale</text>',
        f'<text x="15" y="{H / 2}" transform="rotate(-90 15 {H / 2})" text-anchor="middle">miss ratio</text>',
    ]
    for i in range(6):
        y = i / 5
        parts.append(f'<text x="{PAD - 8}" y="{sy(y) + 4}" text-anchor="end">{y:.1f}</text>')
        parts.append(f'<line x1="{PAD}" y1="{sy(y)}" x2="{W - PAD}" y2="{sy(y)}" stroke="#eee"/>')
    for e in range(int(math.floor(lo)), int(math.ceil(hi)) + 1):
        if lo <= e <= hi:
            parts.append(f'<text x="{sx(10 ** e)}" y="{H - PAD + 16}" text-anchor="middle">1e{e}</text>')
    for s in series:
        c = COLOURS[s["k"]]
        pts = sorted(s["points"])
        if s["style"] == "line":
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            parts.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        for x, y in pts:
            if s["style"] == "circle":
                parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="none" stroke="{c}"/>')
            elif s["style"] == "triangle":
                X, Y = sx(x), sy(y)
                parts.append(f'<path d="M{X:.1f},{Y - 5:.1f} L{X - 5:.1f},{Y + 4:.1f} L{X + 5:.1f},{Y + 4:.1f} Z" fill="{c}"/>')
    for i, k in enumerate(sorted(COLOURS)):
        y = PAD + 10 + 16 * i
        parts.append(f'<line x1="{W - PAD - 90}" y1="{y}" x2="{W - PAD - 70}" y2="{y}" stroke="{COLOURS[k]}" stroke-width="2"/>')
        parts.append(f'<text x="{W - PAD - 64}" y="{y + 4}">K = {k}</text>')
    parts.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")


def main(out, commit):
    md = [
        "# KRR: the one-pass curve of hotset's sampled LRU",
        "",
        f"Written by `bash results/mrc/krr.sh` at {commit}, objects mode. KRR's curve",
        "(`mrc --method krr --samples K`) against the `sampled-lru` simulator without",
        "a pool at the same 30 sizes (`--compare`), and the live engine",
        "(`replay --policies lru --samples K --evict-pool 0`, every value 100 bytes)",
        "against the simulator at the live cache's item count.",
        "",
    ]
    machine = ""
    for name in ["cloudphysics", "zipf-0.99"]:
        series = []
        md += [f"## {name}", "", f"![{name}]({name}.svg)", ""]
        md += ["| K | KRR MAE vs simulator | LRU MAE vs simulator | KRR time (s) |", "| ---: | ---: | ---: | ---: |"]
        live_md = [
            "",
            "| K | pool | memory | items | live miss ratio | simulator | live − simulator | relative |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for k in [1, 5, 16]:
            r = rows(os.path.join(out, name, f"krr-k{k}"))
            krr = {x["cache_size"]: x["miss_ratio"] for x in r if x["kind"] == "krr"}
            sim = {x["cache_size"]: x["miss_ratio"] for x in r if x["kind"] == "exact"}
            sizes = sorted(set(krr) & set(sim))
            mae = sum(abs(krr[s] - sim[s]) for s in sizes) / len(sizes)
            # LRU's exact curve at the same sizes, for scale.
            lru = {x["cache_size"]: x["miss_ratio"] for x in rows(os.path.join(out, name, "lru-exact"))}
            lru_mae = sum(abs(lru[s] - sim[s]) for s in sizes) / len(sizes)
            time_file = os.path.join(out, f"{name}-krr-k{k}.time")
            took = re.search(r": ([0-9.]+) s", open(time_file).read())
            series.append({"k": k, "style": "line", "points": [(s, krr[s]) for s in sizes]})
            series.append({"k": k, "style": "circle", "points": [(s, sim[s]) for s in sizes]})
            md.append(f"| {k} | {mae:.5f} | {lru_mae:.5f} | {took.group(1) if took else '-'} |")
            for pool, run in [(0, f"live-k{k}")] + ([(16, "live-k5-pool16")] if k == 5 else []):
                with open(os.path.join(out, name, run, "summary.json")) as f:
                    js = json.load(f)
                machine = js["machine"]
                lv = [x for x in js["rows"] if x["kind"] == "live"]
                ex = {x["cache_size"]: x for x in js["rows"] if x.get("kind") == "exact" and x["policy"] == "sampled-lru"}
                pts = []
                for x in lv:
                    e = ex.get(x["items"])
                    if e is None:
                        continue
                    diff = x["miss_ratio"] - e["miss_ratio"]
                    live_md.append(
                        f"| {k} | {pool} | {x['cache_size'] // (1 << 20)} MiB | {x['items']} | {x['miss_ratio']:.4f} | "
                        f"{e['miss_ratio']:.4f} | {diff:+.4f} | {100 * diff / e['miss_ratio']:+.2f}% |"
                    )
                    pts.append((x["items"], x["miss_ratio"]))
                if pool == 0:
                    series.append({"k": k, "style": "triangle", "points": pts})
        md += live_md + [""]
        svg(name, series, os.path.join(out, f"{name}.svg"))
    md += [f"Machine: {machine}.", ""]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
