#!/usr/bin/env python3
"""profile-swap.py [MIB | file [N]] - where the instructions of `vmtest swap MIB 1`'s re-read
pass go, or (`file`) those of a card file's major faults without read-ahead.

Boots pivm as compare-linux's diskcost phase does (-icount shift=0, build/sd-512M.img,
`mem=120M mem=8M@0x08000000`), turns swap on with page-cluster 3 and runs `/bin/vmtest swap
MIB 1` (128 by default). TRACE_AFTER seconds (wall time, 3 by default) after the write pass's
line, it switches single-stepping (one translation block per instruction) and QEMU's
`-d exec,nochain` log on from the monitor for TRACE_FOR seconds (1 by default), then off, and
attributes every instruction CPU 0 executed in that window to the kernel ELF's symbols (user
addresses as "[user]"). The major faults in the window are the entries of `do_swap_page`'s
kernel half (`swapin_page`), so the table is also given per major fault. TRACE_FOR=0 runs the
workload without a trace (its figures only). Env: KERNEL, INITRD, TOP (rows, 45).

`file [N]` (256 by default) runs bench-disk's first step instead: `blockdev --setra 0
/dev/mmcblk0` (RA_KB=K: K KiB of read-ahead instead, bench-disk's second step with N 4096), then `/bin/cardmap -d /boot/data/f16m shared N` with the trace on for the whole
command (drop_caches, the program's start and exit included); the major faults are the
entries of `filemap_fault`'s read of one page (`filemap_read_page`).
"""
import collections
import os
import subprocess
import sys
import tempfile
import time

from qemutrace import PROMPT, monitor, symbol_of, symbols, traced_pcs



def main():
    mib = sys.argv[1] if len(sys.argv) > 1 else "128"
    file_mode = mib == "file"
    pages = sys.argv[2] if file_mode and len(sys.argv) > 2 else "256"
    img = os.environ.get("KERNEL", "build/2G/kernel7.img")
    elf = os.path.join(os.path.dirname(img), "kernel.elf")
    initrd = os.environ.get("INITRD", "build/initramfs.cpio.gz")
    after = float(os.environ.get("TRACE_AFTER", "3"))
    span = float(os.environ.get("TRACE_FOR", "1"))
    top = int(os.environ.get("TOP", "45"))
    log = tempfile.mktemp(prefix="pivm-swapprof-", suffix=".log")
    sock = tempfile.mktemp(prefix="pivm-mon-")
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-M", "raspi2b", "-display", "none", "-serial", "stdio",
         "-monitor", f"unix:{sock},server,nowait", "-semihosting", "-icount", "shift=0",
         "-drive", "file=build/sd-512M.img,if=sd,format=raw,snapshot=on",
         "-D", log, "-kernel", img, "-initrd", initrd,
         "-append", "norandmaps mem=120M mem=8M@0x08000000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = b""

    def read_until(pred, limit):
        nonlocal out
        end = time.time() + limit
        while time.time() < end:
            chunk = os.read(qemu.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
            if pred():
                return
        raise SystemExit("profile-swap: timed out")

    def prompt():
        return out.endswith(PROMPT)

    def cmd(line):
        nonlocal out
        out = b""
        qemu.stdin.write(line.encode() + b"\n")
        qemu.stdin.flush()

    try:
        read_until(prompt, 120)
        ra_sectors = 2 * int(os.environ.get("RA_KB", "0"))
        setup = ((f"blockdev --setra {ra_sectors} /dev/mmcblk0",) if file_mode else
                 ("swapon /dev/mmcblk0p2", "sysctl vm.page-cluster=3"))
        for c in setup + ("cat /proc/stat",):
            cmd(c)
            read_until(prompt, 60)
        if file_mode:
            if span > 0:
                monitor(sock, "singlestep on")
                monitor(sock, "log exec,nochain")
            cmd(f"run /bin/cardmap -d /boot/data/f16m shared {pages}")
            read_until(prompt, 3600)
            if span > 0:
                monitor(sock, "log none")
                monitor(sock, "singlestep off")
        else:
            cmd(f"run /bin/vmtest swap {mib} 1")
            if span > 0:
                read_until(lambda: b"write pass:" in out and out.endswith(b"\n"), 3600)
                time.sleep(after)
                monitor(sock, "singlestep on")
                monitor(sock, "log exec,nochain")
                time.sleep(span)
                monitor(sock, "log none")
                monitor(sock, "singlestep off")
            read_until(prompt, 3600)
        cmd("cat /proc/stat")
        read_until(prompt, 60)
        cmd("poweroff")
        qemu.wait(30)
    finally:
        if qemu.poll() is None:
            qemu.kill()
        if os.path.exists(sock):
            os.unlink(sock)
    if span <= 0:
        return
    addrs, names = symbols(elf)
    entry = {a: n for a, n in zip(addrs, names)}
    counts = collections.Counter()
    calls = collections.Counter()
    total = 0
    for pc in traced_pcs(log):
        total += 1
        counts[symbol_of(pc, addrs, names)] += 1
        if pc in entry:
            calls[entry[pc]] += 1
    os.unlink(log)
    fault_fn = "filemap_read_page" if file_mode else "swapin_page"
    majors = sum(v for k, v in calls.items() if fault_fn in k)
    print(f"\nprofile-swap: {total} instructions traced, {majors} {fault_fn} entries")
    for name, v in counts.most_common(top):
        per = f"{v / majors:10.0f}" if majors else ""
        print(f"{v:10d} {100.0 * v / total:5.1f}% {per}  {calls.get(name, 0):7d} calls  {name}")


if __name__ == "__main__":
    main()
