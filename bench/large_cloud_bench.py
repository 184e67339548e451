#!/usr/bin/env python3
"""Large point clouds: H1 of 100k, 300k and 1M points on a torus and in a cube (R^3).

The clouds are generated here (fixed seeds, cached in --workdir): a torus of radii
1 and 0.35 sampled uniformly by area, and the unit cube sampled uniformly. The
threshold is the one a user would pick to see the torus' two H1 classes: four times
the mean spacing sqrt(area / n) (the noise loops have all died by then, the two
classes of the torus are born around 1.2x the spacing and survive as [b, ) bars);
for the cube the same mean degree (~50 neighbours).

Each row runs the engine with the edge collapse forced off, forced on and as the
default (auto: what a job through the mesh gets; `rule=` is its decision), and
Debian ripser where it finishes within --ripser-timeout; `equal=` compares the
barcodes as per-dimension multisets: against ripser when it finished
(`equal=yes(ripser)`), else between the engine runs (`equal=yes(collapse)`).
Time is wall seconds; cpu = user + sys (the honest figure on a loaded machine);
rss = peak resident set. The floor line of a row is the engine's own edge stage
(grid + edge list) plus the sort of the edges, from --stats. The auto row also
prints the engine's time estimate (`predicted_s`, what EstimateJob answers as
`seconds`) and its ratio to the row's wall time.

  python3 bench/large_cloud_bench.py [--sizes 100000,300000,1000000] [--shapes torus,cube]
                                     [--threads 2] [--timeout 900] [--ripser-timeout 600]
                                     [--sparse EPS [--sparse-only] [--memory-limit 8G]]

--sparse EPS adds, per cloud, the rows without a threshold: the exact filtration asked with
--memory-limit (its estimate does not fit: refused before any work, the estimate printed) and
the sparse Rips filtration (an approximation within a factor 1 + EPS), with its time, memory,
edges and the two longest H1 bars (a torus' two classes). --sparse-only skips the other rows.
"""
import argparse
import math
import os
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.path.join(ROOT, "engine-cpp", "build", "tda-engine")
RIPSER = "/usr/bin/ripser"
R_BIG, R_SMALL = 1.0, 0.35
TORUS_AREA = 4 * math.pi ** 2 * R_BIG * R_SMALL


def generate(shape, n, path):
    rng = random.Random(1000003 * n + (1 if shape == "torus" else 2))
    with open(path, "w") as f:
        buf = []
        for _ in range(n):
            if shape == "torus":
                while True:  # uniform by area: accept the tube angle with probability ~ the local radius
                    u, v = rng.random() * 2 * math.pi, rng.random() * 2 * math.pi
                    if rng.random() * (R_BIG + R_SMALL) <= R_BIG + R_SMALL * math.cos(v):
                        break
                w = R_BIG + R_SMALL * math.cos(v)
                x, y, z = w * math.cos(u), w * math.sin(u), R_SMALL * math.sin(v)
            else:
                x, y, z = rng.random(), rng.random(), rng.random()
            buf.append("%.6f %.6f %.6f\n" % (x, y, z))
            if len(buf) >= 65536:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))


def threshold(shape, n):
    if shape == "torus":
        return 4 * math.sqrt(TORUS_AREA / n)
    return (50 / (4 / 3 * math.pi * n)) ** (1 / 3)  # mean degree ~50 in the unit cube


def parse_barcode(text):
    bars, dim = {}, None
    for line in text.splitlines():
        m = re.match(r"persistence intervals in dim (\d+):", line)
        if m:
            dim = int(m.group(1))
            bars[dim] = Counter()
        elif dim is not None and line.strip().startswith("["):
            bars[dim][line.strip()] += 1
    return bars


def timed(cmd, timeout):
    """(stdout, stderr, wall_s, rss_mb, cpu_s), or a string saying why not."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        try:
            p = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf.name] + cmd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout(>%.0fs)" % timeout
        if p.returncode != 0:
            return "failed(exit %d: %s)" % (p.returncode, p.stderr.strip().splitlines()[-1:] or "")
        secs, kb, user, sys_ = tf.read().split()[-4:]
        return p.stdout, p.stderr, float(secs), int(kb) / 1024.0, float(user) + float(sys_)


def stats_of(stderr):
    m = re.search(r"^stats: (.*)$", stderr, re.M)
    return dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}


def sparse_rows(a, shape, n, path):
    """No threshold: the exact filtration against --memory-limit, then the sparse one."""
    name = f"{shape}_{n}"
    exact = timed([ENGINE, "--format", "point-cloud", "--dim", str(a.dim), "--threads", str(a.threads),
                   "--memory-limit", a.memory_limit, path], a.timeout)
    if isinstance(exact, str):
        m = re.search(r"estimated memory (\d+) bytes", exact)
        why = f"refused: estimated {int(m.group(1)) / 2**30:.0f} GiB > --memory-limit {a.memory_limit}" if m else exact
        print(f"{name} no-threshold exact {why}", flush=True)
    else:
        print(f"{name} no-threshold exact engine_s={exact[2]:.2f} engine_rss_mb={exact[3]:.0f}", flush=True)
    r = timed([ENGINE, "--format", "point-cloud", "--dim", str(a.dim), "--threads", str(a.threads),
               "--sparse", str(a.sparse), "--stats", path], a.timeout)
    if isinstance(r, str):
        print(f"{name} sparse eps={a.sparse} engine {r}", flush=True)
        return
    st = {}
    for line in re.findall(r"^stats: (.*)$", r[1], re.M):
        st.update(dict(kv.split("=", 1) for kv in line.split()))
    bars = parse_barcode(r[0])
    h1 = []
    for t, c in bars.get(1, {}).items():
        b, e = t.strip()[1:-1].split(",")
        h1 += [(float(e) if e.strip() else math.inf) - float(b)] * c
    h1.sort(reverse=True)
    print(f"{name} no-threshold sparse eps={a.sparse} (approximation, factor {1 + a.sparse:g}) engine_s={r[2]:.2f} "
          f"engine_cpu_s={r[4]:.2f} engine_rss_mb={r[3]:.0f} edges={st.get('edges_below_threshold')} "
          f"permutation_s={st.get('permutation_s')} edges_s={st.get('edges_s')} reduction_s={st.get('reduction_s')} "
          f"h1_bars={len(h1)} longest_h1={','.join('%.4g' % x for x in h1[:3])}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--shapes", default="torus,cube")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900, help="per engine run")
    ap.add_argument("--ripser-timeout", type=float, default=600)
    ap.add_argument("--no-ripser", action="store_true")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tda-large-cloud"))
    ap.add_argument("--sparse", type=float, default=None, help="add the no-threshold exact (refused) and sparse rows")
    ap.add_argument("--sparse-only", action="store_true")
    ap.add_argument("--memory-limit", default="8G", help="for the no-threshold exact row")
    a = ap.parse_args()
    if not os.access(ENGINE, os.X_OK):
        print(f"engine binary missing: {ENGINE} (run `make build`)")
        return 2
    have_ripser = os.access(RIPSER, os.X_OK) and not a.no_ripser
    os.makedirs(a.workdir, exist_ok=True)
    print(f"# threads={a.threads} dim={a.dim} ripser={'yes' if have_ripser else 'no'} "
          f"ripser_timeout={a.ripser_timeout:.0f}s load={os.getloadavg()[0]:.1f}")
    all_equal = True
    for shape in a.shapes.split(","):
        for n in [int(s) for s in a.sizes.split(",")]:
            path = os.path.join(a.workdir, f"{shape}_{n}.txt")
            if not os.path.exists(path):
                generate(shape, n, path + ".tmp")
                os.replace(path + ".tmp", path)
            thr = threshold(shape, n)
            if a.sparse is not None:
                sparse_rows(a, shape, n, path)
                if a.sparse_only:
                    continue
            base = [ENGINE, "--format", "point-cloud", "--dim", str(a.dim), "--threshold", "%.6g" % thr,
                    "--threads", str(a.threads), "--stats"]
            runs = {}
            modes = ("off", "on", "auto")
            for mode in modes:
                runs[mode] = timed(base + ["--collapse", mode, path], a.timeout)
            name = f"{shape}_{n}"
            for mode in modes:
                r = runs[mode]
                if isinstance(r, str):
                    print(f"{name} collapse={mode} engine {r}", flush=True)
                    all_equal = False
                    continue
                st = stats_of(r[1])
                bars = parse_barcode(r[0])
                ess = sum(c for t, c in bars.get(1, {}).items() if t.endswith(", )"))
                rule = re.search(r"collapse=(\S+)", r[1])
                # the auto row (the job the mesh runs): the estimate's time (EstimateJob's `seconds`) over the wall time
                pred = re.search(r"^estimate: .*?seconds=(\S+)", r[1], re.M) if mode == "auto" else None
                pred_cell = (f" predicted_s={float(pred.group(1)):.3g} predicted_over_wall={float(pred.group(1)) / max(r[2], 0.01):.2f}"
                             if pred else "")
                print(f"{name} thr={thr:.5g} collapse={mode}{' rule=' + rule.group(1) if mode == 'auto' and rule else ''} engine_s={r[2]:.2f} engine_cpu_s={r[4]:.2f} "
                      f"engine_rss_mb={r[3]:.0f} edges={st.get('edges_below_threshold')} "
                      f"edges_reduced={st.get('edges_reduced')} h1_bars={sum(bars.get(1, {}).values())} "
                      f"h1_essential={ess} stages_s=edges:{st.get('edges_s')},sort:{st.get('sort_s')},"
                      f"collapse:{st.get('collapse_s')},reduction:{st.get('reduction_s')} "
                      f"stages_cpu_s=edges:{st.get('edges_cpu_s')},collapse:{st.get('collapse_cpu_s')},"
                      f"reduction:{st.get('reduction_cpu_s')}{pred_cell}", flush=True)
            done = [runs[m] for m in modes if not isinstance(runs[m], str)]
            ref = timed([RIPSER, "--format", "point-cloud", "--dim", str(a.dim), "--threshold", "%.6g" % thr, path],
                        a.ripser_timeout) if have_ripser else "not run"
            if not isinstance(ref, str):
                rb = parse_barcode(ref[0])
                eq = all(parse_barcode(r[0]) == rb for r in done) and len(done) == len(modes)
                best = min(r[2] for r in done) if done else float("nan")
                print(f"{name} ripser_s={ref[2]:.2f} ripser_cpu_s={ref[4]:.2f} ripser_rss_mb={ref[3]:.0f} "
                      f"ratio={best / max(ref[2], 0.01):.3f} equal={'yes(ripser)' if eq else 'no'}", flush=True)
            else:
                eq = len(done) == len(modes) and all(parse_barcode(r[0]) == parse_barcode(done[0][0]) for r in done)
                print(f"{name} ripser {ref} equal={'yes(collapse)' if eq else 'no'}", flush=True)
            all_equal &= eq
            if done:
                st = stats_of(done[0][1])
                try:
                    floor = float(st["edges_s"]) + float(st["sort_s"])
                    print(f"{name} floor_s={floor:.2f} (edges {st['edges_s']} + sort {st['sort_s']}, "
                          f"collapse off run)", flush=True)
                except (KeyError, ValueError):
                    pass
    return 0 if all_equal else 1


if __name__ == "__main__":
    sys.exit(main())
