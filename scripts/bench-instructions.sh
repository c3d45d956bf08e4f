#!/usr/bin/env bash
# bench-instructions.sh - instructions per operation of the buddy benchmark's workloads
# (benches/buddy.rs) for pivm, the bare buddy floor and buddy_system_allocator, counted by
# valgrind's callgrind: unlike the ns figures, they do not move with the machine's load.
# Only the measured stretches are counted (--toggle-collect on the bench's
# `pivm_bench_measured`), one profile dump after each; the bench prints what each stretch
# was, in the same order. Env: PIVM_MAX_ORDER (a build variant), FEATURES.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || { echo "bench-instructions.sh: valgrind missing (apt-get install valgrind)" >&2; exit 1; }

features=${FEATURES:+--features $FEATURES}
# The bench binary cargo builds (its path is the last "Executable" line).
bin=$(cargo bench --bench buddy $features --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bin" ] || { echo "bench-instructions.sh: could not build the buddy bench" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
PIVM_BENCH_INSTRUCTIONS=1 valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect=pivm_bench_measured --dump-after=pivm_bench_measured \
    --callgrind-out-file="$out/cg" "$bin" >"$out/labels" 2>"$out/valgrind.log" || {
    cat "$out/valgrind.log" >&2
    exit 1
}

python3 - "$out" <<'PY'
import glob, os, re, sys

out = sys.argv[1]
labels = [l.split() for l in open(os.path.join(out, "labels")) if l.startswith("measured ")]
# One dump per measured stretch, numbered from 1 in call order (the final dump at exit,
# with nothing collected, has no part number).
dumps = sorted((int(m.group(1)), p) for p in glob.glob(os.path.join(out, "cg.*"))
               if (m := re.search(r"\.(\d+)$", p)))
if len(dumps) < len(labels):
    sys.exit(f"bench-instructions.sh: {len(labels)} stretches but {len(dumps)} callgrind dumps")

def instructions(path):
    for line in open(path):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    sys.exit(f"bench-instructions.sh: no totals in {path}")

per_op = {}
rows = []
for (_, workload, pool, alloc, ops), (_, path) in zip(labels, dumps):
    per_op[(workload, pool, alloc)] = instructions(path) / int(ops)
    if (workload, pool) not in rows:
        rows.append((workload, pool))

print("instructions/op (callgrind): pivm, the bare buddy (floor), buddy_system_allocator (bsa)")
print(f"{'workload':<24} {'pool':>8} {'pivm':>8} {'floor':>8} {'bsa':>8} {'pivm/floor':>10} {'pivm/bsa':>9}")
for workload, pool in rows:
    p, f, b = (per_op[(workload, pool, a)] for a in ("pivm", "floor", "buddy_system_allocator"))
    print(f"{workload:<24} {pool:>8} {p:>8.1f} {f:>8.1f} {b:>8.1f} {p / f:>9.2f}x {p / b:>8.2f}x")
PY
