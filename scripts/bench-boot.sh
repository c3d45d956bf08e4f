#!/usr/bin/env bash
# bench-boot.sh - boot-time benchmark: median wall time from starting QEMU raspi2b to the first
# `pivm# ` prompt of build/2G/kernel7.img, against the floor (scripts/floor.S: one UART line, exit),
# plus the kernel's size. Env: RUNS (default 10), KERNEL (image), TIMEOUT (seconds per run, default 30).
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${RUNS:-10}
kernel=${KERNEL:-build/2G/kernel7.img}
elf=$(dirname "$kernel")/kernel.elf
timeout=${TIMEOUT:-30}

if [ ! -f "$kernel" ]; then
    echo "bench-boot.sh: $kernel not found: run \`make kernel VMSPLIT=2G\` first" >&2
    exit 1
fi
for t in qemu-system-arm arm-none-eabi-as arm-none-eabi-ld arm-none-eabi-objcopy python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "bench-boot.sh: $t missing: run scripts/setup.sh" >&2; exit 1; }
done

# The floor image: assembled fresh each time (it is tiny).
out=build/bench
mkdir -p "$out"
arm-none-eabi-as -o "$out/floor.o" scripts/floor.S
arm-none-eabi-ld -Ttext=0x10000 -o "$out/floor.elf" "$out/floor.o"
arm-none-eabi-objcopy -O binary "$out/floor.elf" "$out/floor.img"

python3 - "$runs" "$timeout" "$kernel" "$out/floor.img" <<'PY'
import os, select, statistics, subprocess, sys, time

runs, limit, kernel, floor = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
QEMU = ["qemu-system-arm", "-M", "raspi2b", "-display", "none", "-monitor", "none",
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

echo "kernel7.img size      : $(stat -c %s "$kernel") bytes"
if [ -f "$elf" ] && command -v arm-none-eabi-size >/dev/null 2>&1; then
    arm-none-eabi-size "$elf" | awk 'NR == 2 { printf "kernel.elf sections   : text %d  data %d  bss %d  (bytes)\n", $1, $2, $3 }'
fi
