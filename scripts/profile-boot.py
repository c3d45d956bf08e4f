#!/usr/bin/env python3
"""profile-boot.py [VA_BITS] - where the 64-bit kernel's boot instructions go, by phase and by
symbol, from QEMU's start to the first `pivm# ` prompt.

Boots build/arm64-VA_BITS/kernel8.img (48 by default; KERNEL overrides) on qemu-system-aarch64
raspi3b with `-d in_asm,exec,nochain` (no single-stepping: each executed translation block is
weighted by its instruction count, taken from its `in_asm` listing), powers it off at the
prompt, and attributes every instruction CPU 0 ran to the ELF's symbols. A phase starts at the
first entry of the `start_kernel` step named in PHASES. Env: KERNEL, TOP (symbol rows, 25).
The log (hundreds of MB) is written to a temporary directory and removed.
"""
import bisect
import collections
import os
import select
import subprocess
import sys
import tempfile
import time

from qemutrace import PROMPT, symbols

PHASES = [
    "pivm::start_kernel", "pivm::kernel::setup::paging_init", "pivm::kernel::mem::mem_init",
    "pivm::kernel::mem::kmem_cache_init", "pivm::kernel::vmalloc::vmalloc_init",
    "pivm::board::raspi::irq::init_irq", "pivm::kernel::cma::cma_init_reserved_areas",
    "pivm::kernel::process::init", "pivm::drivers::mmc::block::probe",
    "pivm::kernel::setup::run_console",
]


def boot(image, log):
    """Runs QEMU to the prompt with the exec log on, then powers the kernel off."""
    p = subprocess.Popen(["qemu-system-aarch64", "-M", "raspi3b", "-display", "none", "-monitor",
                          "none", "-serial", "stdio", "-semihosting", "-d", "in_asm,exec,nochain",
                          "-D", log, "-kernel", image],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen, deadline = b"", time.monotonic() + 600
    try:
        while PROMPT not in seen:
            ready, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.monotonic()))
            chunk = os.read(p.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                raise SystemExit(f"profile-boot.py: no prompt; console: {seen[-500:]!r}")
            seen += chunk
        p.stdin.write(b"poweroff\n")
        p.stdin.flush()
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def tally(log, addrs, names):
    """Instructions per phase and per symbol (CPU 0 only)."""
    marks = {a: n.rsplit("::h", 1)[0] for a, n in zip(addrs, names)
             if n.rsplit("::h", 1)[0] in PHASES}
    size, start, count = {}, None, 0
    by_pc, phase, seen = collections.Counter(), "entry (head.rs, boot.rs)", set()
    phases = collections.Counter()
    with open(log, "rb") as f:
        for line in f:
            if line.startswith(b"Trace 0:"):
                lb = line.find(b"[")
                pc = int(line[lb + 18:lb + 34], 16)
                if pc in marks and marks[pc] not in seen:
                    seen.add(marks[pc])
                    phase = marks[pc]
                n = size.get(pc, 1)
                by_pc[pc] += n
                phases[phase] += n
            elif line.startswith(b"IN:"):
                start, count = None, 0
            elif line.startswith(b"0x"):
                if start is None:
                    start = int(line.split(b":")[0], 16)
                count += 1
                size[start] = count
            elif not line.strip():
                start = None
    by_sym = collections.Counter()
    for pc, n in by_pc.items():
        i = bisect.bisect_right(addrs, pc) - 1
        by_sym[names[i] if i >= 0 else hex(pc)] += n
    return phases, by_sym


def main():
    va = sys.argv[1] if len(sys.argv) > 1 else "48"
    image = os.environ.get("KERNEL", f"build/arm64-{va}/kernel8.img")
    elf = os.path.join(os.path.dirname(image), "kernel8.elf")
    addrs, names = symbols(elf, "aarch64-linux-gnu-nm")
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "exec.log")
        boot(image, log)
        phases, by_sym = tally(log, addrs, names)
    total = sum(phases.values())
    print(f"instructions to the prompt (CPU 0): {total}  {image}")
    for p, n in phases.items():
        print(f"{n:12d} {100 * n / total:5.1f}%  {p}")
    print()
    for s, n in by_sym.most_common(int(os.environ.get("TOP", "25"))):
        print(f"{n:12d} {100 * n / total:5.1f}%  {s[:120]}")


if __name__ == "__main__":
    main()
