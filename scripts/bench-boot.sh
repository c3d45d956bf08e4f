#!/usr/bin/env bash
# bench-boot.sh - boot-time benchmark: median wall time from starting QEMU raspi2b to the first
# `pivm# ` prompt of build/2G/kernel7.img, against the floor (scripts/floor.S: one UART line, exit),
# plus the kernel's size. Env: RUNS (default 10), KERNEL (image), TIMEOUT (seconds per run, default 30),
# ARCH=arm64: the 64-bit kernel (build/arm64-48/kernel8.img) on qemu-system-aarch64 raspi3b against
# scripts/floor-arm64.S, the same floor in A64.
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${RUNS:-10}
timeout=${TIMEOUT:-30}
if [ "${ARCH:-arm}" = arm64 ]; then
    kernel=${KERNEL:-build/arm64-48/kernel8.img}
    elf=$(dirname "$kernel")/kernel8.elf
    qemu=qemu-system-aarch64 machine=raspi3b cross=aarch64-linux-gnu- floor=scripts/floor-arm64.S
    load=0x80000 # where QEMU puts a raw AArch64 image (AARCH64_FACTS.md 1a)
else
    kernel=${KERNEL:-build/2G/kernel7.img}
    elf=$(dirname "$kernel")/kernel.elf
    qemu=qemu-system-arm machine=raspi2b cross=arm-none-eabi- floor=scripts/floor.S load=0x10000
fi

if [ ! -f "$kernel" ]; then
    echo "bench-boot.sh: $kernel not found: run \`make kernel\` (VMSPLIT=2G, or ARCH=arm64) first" >&2
    exit 1
fi
for t in "$qemu" "${cross}as" "${cross}ld" "${cross}objcopy" python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "bench-boot.sh: $t missing: run scripts/setup.sh" >&2; exit 1; }
done

# The floor image: assembled fresh each time (it is tiny).
out=build/bench
mkdir -p "$out"
fimg=$out/$(basename "$floor" .S).img
"${cross}as" -o "$out/floor.o" "$floor"
"${cross}ld" -Ttext=$load -o "$out/floor.elf" "$out/floor.o"
"${cross}objcopy" -O binary "$out/floor.elf" "$fimg"

python3 - "$runs" "$timeout" "$kernel" "$fimg" "$qemu" "$machine" <<'PY'
import os, select, statistics, subprocess, sys, time

runs, limit, kernel, floor = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
QEMU = [sys.argv[5], "-M", sys.argv[6], "-display", "none", "-monitor", "none",
        "-serial", "stdio", "-semihosting", "-kernel"]

def one(image, needle, then):
    """Seconds from spawning QEMU until `needle` shows on the console; `then` is typed afterwards."""
    start = time.monotonic()
    p = subprocess.Popen(QEMU + [image], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    seen, elapsed = b"", None
    try:
        while elapsed is None:
            left = start + limit - time.monotonic()
            if left <= 0:
                raise SystemExit(f"bench-boot.sh: {image}: no {needle!r} within {limit:.0f} s; "
                                 f"console: {seen[-500:].decode(errors='replace')!r}")
            ready, _, _ = select.select([p.stdout], [], [], left)
            if ready:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    raise SystemExit(f"bench-boot.sh: {image}: QEMU exited ({p.wait()}) before {needle!r}; "
                                     f"console: {seen[-500:].decode(errors='replace')!r}")
                seen += chunk
                if needle in seen:
                    elapsed = time.monotonic() - start
        if then:
            p.stdin.write(then)
            p.stdin.flush()
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        print(f"bench-boot.sh: warning: {image} did not exit after the run; killed", file=sys.stderr)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return elapsed

kern = [one(kernel, b"pivm# ", b"poweroff\n") for _ in range(runs)]
base = [one(floor, b"floor: hello", None) for _ in range(runs)]
mk, mf = statistics.median(kern), statistics.median(base)
print(f"runs                  : {runs}")
print(f"kernel to prompt      : median {mk * 1000:8.1f} ms  (min {min(kern) * 1000:.1f}, max {max(kern) * 1000:.1f})  {kernel}")
print(f"floor to first line   : median {mf * 1000:8.1f} ms  (min {min(base) * 1000:.1f}, max {max(base) * 1000:.1f})  {floor}")
print(f"ratio kernel / floor  : {mk / mf:.2f}")
PY

printf '%-22s: %s bytes\n' "$(basename "$kernel") size" "$(stat -c %s "$kernel")"
if [ -f "$elf" ] && command -v "${cross}size" >/dev/null 2>&1; then
    "${cross}size" "$elf" | awk -v n="$(basename "$elf") sections" 'NR == 2 { printf "%-22s: text %d  data %d  bss %d  (bytes)\n", n, $1, $2, $3 }'
fi
