#!/usr/bin/env python3
"""profile-proc.py OP N [SPLIT] - where the instructions of `vmbench loop OP N` go.

Boots pivm under qemu-system-arm -icount shift=0, waits for the console prompt, switches
single-stepping (one translation block per instruction) and QEMU's `-d exec,nochain` log on from
the monitor, runs `/bin/vmbench loop OP N`, switches it off at the next prompt, and attributes every
instruction CPU 0 executed to the kernel's symbols (user addresses as "[user]"). The same is
done for `vmbench loop OP 0`, and the difference divided by N is printed per symbol: the cost of
one operation, without the program's start and exit. Env: KERNEL, INITRD, TOP (rows, 40),
PROCS (sleeping children of vmbench alive during both runs, default 0: `vmbench loop OP N P`),
VMAS (extra one-page VMAs mapped in both runs, default 0: `vmbench loop OP N P V`),
ARCH=arm64 (the 64-bit kernel: SPLIT is then VA_BITS, 48 or 39; build/arm64-VA_BITS/kernel8.img
with build/arm64/initramfs.cpio on qemu-system-aarch64 raspi3b, -icount shift=0,sleep=off).
The compiler's memory helpers (`memcpy`, `__aeabi_memclr8`...) appear once more per caller,
indented, as "HELPER <- CALLER" (the function they were entered from), as they are out of line.
"""
import collections
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

from qemutrace import PROMPT, monitor, symbol_of, symbols, traced_pcs



# (QEMU, board, -icount, the kernel's image and ELF, initramfs, nm) by architecture; {0} is
# SPLIT (arm) or VA_BITS (arm64).
ARCHES = {
    "arm": ("qemu-system-arm", "raspi2b", "shift=0", "build/{0}/kernel7.img", "kernel.elf",
            "build/initramfs.cpio", "arm-none-eabi-nm"),
    "arm64": ("qemu-system-aarch64", "raspi3b", "shift=0,sleep=off", "build/arm64-{0}/kernel8.img",
              "kernel8.elf", "build/arm64/initramfs.cpio", "aarch64-linux-gnu-nm"),
}
ARCH = os.environ.get("ARCH", "arm")
if ARCH not in ARCHES:
    raise SystemExit(f"profile-proc: ARCH={ARCH}: expected arm or arm64")
QEMU, MACHINE, ICOUNT, IMAGE, ELF_NAME, INITRD, NM = ARCHES[ARCH]


def run(img, initrd, cmd, log):
    sock = tempfile.mktemp(prefix="pivm-mon-")
    qemu = subprocess.Popen(
        [QEMU, "-M", MACHINE, "-display", "none", "-serial", "stdio",
         "-monitor", f"unix:{sock},server,nowait", "-semihosting", "-icount", ICOUNT,
         "-D", log, "-kernel", img, "-initrd", initrd],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    buf = b""

    def wait_prompt(limit):
        nonlocal buf
        end = time.time() + limit
        while time.time() < end:
            chunk = os.read(qemu.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if buf.endswith(PROMPT) or buf.rstrip(b" ").endswith(b"pivm#"):
                return
        raise SystemExit(f"profile-proc: no prompt; console said:\n{buf[-2000:].decode(errors='replace')}")

    try:
        wait_prompt(120)
        monitor(sock, "singlestep on")
        monitor(sock, "log exec,nochain")
        buf = b""
        qemu.stdin.write(cmd.encode() + b"\n")
        qemu.stdin.flush()
        wait_prompt(600)
        monitor(sock, "log none")
        qemu.stdin.write(b"poweroff\n")
        qemu.stdin.flush()
        qemu.wait(30)
    finally:
        if qemu.poll() is None:
            qemu.kill()
        if os.path.exists(sock):
            os.unlink(sock)
    return buf.decode(errors="replace")


def is_mem_helper(name):
    """The compiler's memory helpers (`memcpy`, `memset`, `__aeabi_memclr8`...), whose
    instructions are also charged to the function that called them."""
    return name.startswith(("__aeabi_mem", "compiler_builtins::mem::", "memcpy", "memset",
                            "memmove"))


def histogram(log, addrs, names):
    """Instructions by symbol, and the memory helpers' instructions by helper and caller
    ("HELPER <- CALLER", the function the helper was entered from)."""
    counts = collections.Counter()
    total = 0
    caller, prev = None, None
    for pc in traced_pcs(log):
        total += 1
        name = symbol_of(pc, addrs, names)
        counts[name] += 1
        if is_mem_helper(name):
            if prev is not None and not is_mem_helper(prev):
                caller = prev
            counts[f"  {name} <- {caller}"] += 1
        prev = name
    return counts, total


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    op, n = sys.argv[1], int(sys.argv[2])
    split = sys.argv[3] if len(sys.argv) > 3 else ("48" if ARCH == "arm64" else "2G")
    img = os.environ.get("KERNEL", IMAGE.format(split))
    elf = os.path.join(os.path.dirname(img), ELF_NAME)
    initrd = os.environ.get("INITRD", INITRD)
    top = int(os.environ.get("TOP", "40"))
    procs = os.environ.get("PROCS", "0")
    vmas = os.environ.get("VMAS", "0")
    extra = f" {procs}" if procs != "0" or vmas != "0" else ""
    extra += f" {vmas}" if vmas != "0" else ""
    addrs, names = symbols(elf, NM)
    results = []
    logs = [tempfile.mktemp(prefix="pivm-prof-", suffix=".log") for _ in (n, 0)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c, log: run(img, initrd, f"run /bin/vmbench loop {op} {c}{extra}", log),
                      (n, 0), logs))
    for log in logs:
        results.append(histogram(log, addrs, names))
        os.unlink(log)
    (hn, tn), (h0, t0) = results
    print(f"vmbench loop {op}{extra}: {(tn - t0) / n:.0f} instructions per operation "
          f"(CPU 0; {tn} for N={n}, {t0} for N=0)")
    diff = {k: (hn[k] - h0.get(k, 0)) / n for k in hn}
    for name, v in sorted(diff.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{v:10.0f}  {name}")


if __name__ == "__main__":
    main()
