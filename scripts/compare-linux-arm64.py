#!/usr/bin/env python3
"""compare-linux-arm64.py PIVM_TRANSCRIPT [SAMPLES_DIR] - the 64-bit kernel next to arm64 Linux 6.1.

Reads pivm's console transcript (its boot log, then `cat /proc/meminfo`, zoneinfo, buddyinfo,
pagetypeinfo, vmallocinfo and iomem typed at the prompt, as scripts/compare-linux-arm64.sh
records it) and the reference transcripts of real Debian Linux 6.1 arm64 on the same QEMU board
(tests/samples/linux-6.1-raspi3b-arm64-*), and prints one table per part: the boot log's memory
lines, /proc/meminfo's fields, zoneinfo's per-zone figures, buddyinfo's and pagetypeinfo's
shape, vmallocinfo's areas by caller and iomem's top-level resources. A row that differs says
why (the REASONS table below); a row a process would fill says that the 64-bit kernel runs none.
Exit status 1 when a row that must agree (the layout, the zone list, the zone spans, the
reports' shapes) differs or a figure has no recorded reason, so the comparison can run in
`make test`.
"""
import re
import sys
from pathlib import Path

# Rows that must be equal: the layout, the zone list and spans, the formats.
MUST_AGREE = "must agree"
# Reasons by row, for rows that may differ. A row not listed here and not equal fails.
NO_PROCESSES = "no processes: the 64-bit kernel runs none (the reference's busybox shell does)"
IMAGE = "kernel image: pivm's image is a few hundred KiB, Debian's 6.1 is 32 MiB with modules' support"
BOOT_ALLOC = ("boot-time allocations: Linux's subsystems (dentry/inode hashes, percpu, "
              "ftrace, ...) reserve and allocate memory pivm does not have")
DEFERRED = ("deferred struct-page init: Linux prints the Memory: line before "
            "'node 0 deferred pages initialised', so its free figure is low")
REASONS = {
    # boot log
    "Memory: available": DEFERRED,
    "Memory: kernel code": IMAGE, "Memory: rwdata": IMAGE, "Memory: rodata": IMAGE,
    "Memory: init": IMAGE, "Memory: bss": IMAGE, "Memory: reserved": IMAGE + "; " + BOOT_ALLOC,
    # meminfo
    "MemTotal": IMAGE + "; " + BOOT_ALLOC, "MemFree": BOOT_ALLOC,
    "MemAvailable": BOOT_ALLOC + "; watermarks follow managed pages",
    "Cached": NO_PROCESSES + " (its files are shmem in tmpfs)",
    "Active": NO_PROCESSES, "Inactive": NO_PROCESSES, "Active(anon)": NO_PROCESSES,
    "Inactive(anon)": NO_PROCESSES, "AnonPages": NO_PROCESSES, "Mapped": NO_PROCESSES,
    "Shmem": NO_PROCESSES, "Committed_AS": NO_PROCESSES,
    "KernelStack": NO_PROCESSES + "; Linux also has a stack per kernel thread and CPU",
    "PageTables": "pivm counts its kernel's own tables; Linux counts the processes' user tables",
    "KReclaimable": BOOT_ALLOC, "Slab": BOOT_ALLOC, "SReclaimable": BOOT_ALLOC,
    "SUnreclaim": BOOT_ALLOC,
    "CommitLimit": "half of MemTotal (overcommit_ratio 50): follows MemTotal",
    "VmallocUsed": BOOT_ALLOC + " (vmalloc'ed stacks, BPF, modules' areas)",
    "Percpu": "pivm has no per-CPU allocator chunks",
    "CmaFree": "Linux's boot allocated from the CMA area (DMA buffers); pivm's is untouched",
    # zoneinfo
    "DMA managed": IMAGE + "; " + BOOT_ALLOC,
    "DMA pages free": BOOT_ALLOC + "; " + NO_PROCESSES,
    "DMA min": "min_free_kbytes = 4*sqrt(lowmem kB) at postcore_initcall, when Linux managed fewer pages"
               " and ran 4 CPUs (the low/high gaps follow min)",
    "DMA low": "follows min", "DMA high": "follows min",
    "DMA nr_free_cma": "follows CmaFree",
    # buddyinfo / pagetypeinfo figures
    "buddyinfo counts": BOOT_ALLOC + "; the free lists' contents follow every allocation",
    "pagetypeinfo free counts": "follow every allocation",
    "pagetypeinfo blocks": BOOT_ALLOC + " (Linux's boot converts more pageblocks to Unmovable "
                           "and Reclaimable)",
    # iomem
    "iomem devices": "pivm claims the devices it drives (PL011, timer, mailbox, SDHOST, local "
                     "interrupt controller); Linux names its drivers' resources",
    "iomem reserved": IMAGE + "; " + BOOT_ALLOC,
    # vmallocinfo
    "vmallocinfo callers": ("pivm's vmap areas come from its drivers' ioremap and the image; "
                            "Linux's also from vmalloc'ed task stacks (kernel_clone, "
                            "start_kernel: VMAP_STACK), BPF and gen_pool"),
}


def section(text, cmd):
    """The output of `cmd` in a transcript (pivm's prompt or the reference's `/ # ` one)."""
    lines = text.splitlines()
    out, on = [], False
    for line in lines:
        if line.endswith(cmd) and (line.startswith("pivm# ") or line.startswith("/ # ")):
            on = True
            continue
        if on and (line.startswith("pivm# ") or line.startswith("/ # ")):
            break
        if on:
            out.append(line)
    return out


def sample(samples, name):
    return (samples / f"linux-6.1-raspi3b-arm64-{name}.txt").read_text()


class Table:
    def __init__(self, title):
        self.title, self.rows = title, []

    def row(self, key, linux, pivm, reason=None):
        self.rows.append((key, str(linux), str(pivm), reason))

    def print(self):
        print(f"\n== {self.title}")
        w = [max([len(r[i]) for r in self.rows] + [len(h)]) for i, h in
             enumerate(["row", "Linux 6.1", "pivm"])]
        w = [min(x, 24), min(w[1], 40), min(w[2], 40)] if (x := w[0]) else w
        print(f"{'row':<{w[0]}}  {'Linux 6.1':>{w[1]}}  {'pivm':>{w[2]}}  why")
        bad = 0
        for key, linux, pivm, reason in self.rows:
            if linux == pivm:
                why = "="
            elif reason == MUST_AGREE or reason is None:
                why = "DIFFERS (" + ("must agree" if reason else "no recorded reason") + ")"
                bad += 1
            else:
                why = reason
            print(f"{key:<{w[0]}}  {linux:>{w[1]}}  {pivm:>{w[2]}}  {why}")
        return bad


def compare(pivm_text, samples):
    bad = 0
    # The boot log's memory lines.
    boot_ref = [re.sub(r"^\[[ 0-9.]+\] ", "", l) for l in sample(samples, "boot").splitlines()]
    boot_ours = pivm_text.split("pivm# ", 1)[0].splitlines()
    t = Table("boot log: memory lines (mm_init, zone_sizes_init, memmap_init, CMA)")
    prefixes = ["Reserved memory: created CMA", "Zone ranges:", "  DMA ", "  DMA32 ", "  Normal ",
                "Movable zone start", "Early memory node ranges", "  node   0:", "Initmem setup",
                "On node 0, zone"]
    for p in prefixes:
        theirs = next((l for l in boot_ref if l.startswith(p)), "-")
        ours = next((l for l in boot_ours if l.startswith(p)), "-")
        t.row(p.strip(), theirs.strip(), ours.strip(), MUST_AGREE)
    mem = lambda ls: next((l for l in ls if l.startswith("Memory: ")), "")
    fields = lambda l: dict((v, int(k)) for k, v in re.findall(r"(\d+)K ([a-z -]+?)[,)]", l))

    def available(l):
        m = re.match(r"Memory: (\d+)K/(\d+)K available", l)
        return (int(m[1]), int(m[2])) if m else (None, None)

    (fr, tr), (fo, to) = available(mem(boot_ref)), available(mem(boot_ours))
    t.row("Memory: total", f"{tr}K", f"{to}K", MUST_AGREE)
    t.row("Memory: available", f"{fr}K", f"{fo}K", REASONS["Memory: available"])
    fr_, fo_ = fields(mem(boot_ref)), fields(mem(boot_ours))
    for k in ["kernel code", "rwdata", "rodata", "init", "bss", "reserved", "cma-reserved"]:
        reason = MUST_AGREE if k == "cma-reserved" else REASONS.get("Memory: " + k)
        t.row(f"Memory: {k}", f"{fr_.get(k)}K", f"{fo_.get(k)}K", reason)
    bad += t.print()

    # /proc/meminfo.
    def kv(lines):
        d = {}
        for l in lines:
            m = re.match(r"^([^:]+):\s+(\d+)", l)
            if m:
                d[m[1]] = int(m[2])
        return d

    ref_mi = kv(section(sample(samples, "meminfo"), "cat /proc/meminfo"))
    our_mi = kv(section(pivm_text, "cat /proc/meminfo"))
    t = Table("/proc/meminfo (kB)")
    for k, v in ref_mi.items():
        if k not in our_mi:
            t.row(k, v, "-", "pivm has no such counter (no hugetlb/THP/zswap pool on this "
                  "kernel)" if "Huge" in k or "PmdMapped" in k or k in ("Hugetlb", "HardwareCorrupted")
                  else None)
            continue
        reason = MUST_AGREE if k in ("VmallocTotal", "CmaTotal") else REASONS.get(k)
        t.row(k, v, our_mi[k], reason)
    for k in our_mi:
        if k not in ref_mi:
            t.row(k, "-", our_mi[k], None)
    bad += t.print()

    # /proc/zoneinfo: per zone.
    def zones(lines):
        z, cur = {}, None
        for l in lines:
            m = re.match(r"^Node 0, zone\s+(\S+)", l)
            if m:
                cur = m[1]
                z[cur] = {}
                continue
            m = re.match(r"^\s+(pages free|boost|min|low|high|spanned|present|managed|cma|"
                         r"nr_free_cma|start_pfn:)\s+(\d+)", l)
            if cur and m:
                z[cur].setdefault(m[1].rstrip(":"), int(m[2]))
            m = re.match(r"^\s+protection: (\(.*\))", l)
            if cur and m:
                z[cur]["protection"] = m[1]
        return z

    ref_z = zones(section(sample(samples, "zoneinfo"), "cat /proc/zoneinfo"))
    our_z = zones(section(pivm_text, "cat /proc/zoneinfo"))
    t = Table("/proc/zoneinfo (pages)")
    t.row("zones", ",".join(ref_z), ",".join(our_z), MUST_AGREE)
    for name, fields_ in ref_z.items():
        ours = our_z.get(name, {})
        for k, v in fields_.items():
            key = f"{name} {k}"
            reason = REASONS.get(key, MUST_AGREE)
            t.row(key, v, ours.get(k, "-"), reason)
    bad += t.print()

    # /proc/buddyinfo: shape (zones, orders), then counts.
    def buddy(lines):
        return {l.split()[3]: l.split()[4:] for l in lines if l.startswith("Node 0, zone")}

    rb = buddy(section(sample(samples, "buddyinfo"), "cat /proc/buddyinfo"))
    ob = buddy(section(pivm_text, "cat /proc/buddyinfo"))
    t = Table("/proc/buddyinfo (populated zones, orders 0..MAX_ORDER-1)")
    t.row("zones", ",".join(rb), ",".join(ob), MUST_AGREE)
    for z in rb:
        t.row(f"{z} orders", len(rb[z]), len(ob.get(z, [])), MUST_AGREE)
        t.row(f"{z} counts", " ".join(rb[z]), " ".join(ob.get(z, [])),
              REASONS["buddyinfo counts"])
    bad += t.print()

    # /proc/pagetypeinfo: shape and pageblocks.
    def ptype(lines):
        head = [l for l in lines if l.startswith("Page block order") or l.startswith("Pages per")]
        rows = []
        for l in lines:
            m = re.match(r"^Node\s+0, zone\s+(\S+?),? (?:type\s+(\S+))?", l)
            if m:
                rows.append((m[1], m[2] or "blocks"))
        blocks = next((l.split()[4:] for l in lines if re.match(r"^Node 0, zone", l)), [])
        return head, rows, blocks

    rh, rr, rblk = ptype(section(sample(samples, "pagetypeinfo"), "cat /proc/pagetypeinfo"))
    oh, orr, oblk = ptype(section(pivm_text, "cat /proc/pagetypeinfo"))
    t = Table("/proc/pagetypeinfo")
    for a, b in zip(rh, oh + [""] * len(rh)):
        t.row(a.split(":")[0], a.split(":")[1].strip(), b.split(":")[1].strip() if ":" in b
              else "-", MUST_AGREE)
    t.row("rows (zone, type)", len(rr), len(orr), MUST_AGREE)
    t.row("row names", " ".join("/".join(r) for r in rr), " ".join("/".join(r) for r in orr),
          MUST_AGREE)
    t.row("DMA blocks Unmovable/Movable/Reclaimable/HighAtomic/CMA/Isolate", "/".join(rblk),
          "/".join(oblk), REASONS["pagetypeinfo blocks"])
    total = lambda b: sum(int(x) for x in b)
    t.row("DMA blocks total", total(rblk), total(oblk), MUST_AGREE)
    t.row("DMA CMA blocks", rblk[4] if len(rblk) > 4 else "-", oblk[4] if len(oblk) > 4 else "-",
          MUST_AGREE)
    bad += t.print()

    # /proc/vmallocinfo: the areas by caller.
    def vm(lines):
        out = []
        for l in lines:
            m = re.match(r"^0x([0-9a-f]{16})-0x([0-9a-f]{16})\s+(\d+) (\S+)", l)
            if m:
                out.append((int(m[1], 16), int(m[2], 16), int(m[3]), m[4].split("+")[0]))
        return out

    rv = vm(sample(samples, "vmallocinfo-head40").splitlines())
    ov = vm(section(pivm_text, "cat /proc/vmallocinfo"))
    t = Table("/proc/vmallocinfo (the reference lists its first 40 areas)")
    t.row("first area", f"{rv[0][0]:#x}", f"{ov[0][0]:#x}" if ov else "-", MUST_AGREE)
    t.row("64-bit format", "yes", "yes" if all(a < b for a, b, _, _ in ov) and ov else "no",
          MUST_AGREE)
    kinds = lambda v: {c for _, _, _, c in v}
    t.row("image areas (paging_init vmap)", sum(c == "paging_init" for *_, c in rv),
          sum(c == "paging_init" for *_, c in ov),
          "Linux registers 5 image segments (text, rodata, init text, init data, data); pivm "
          "has no separate init segments: 3")
    t.row("callers", ",".join(sorted(kinds(rv)))[:40], ",".join(sorted(kinds(ov)))[:40],
          REASONS["vmallocinfo callers"])
    stacks = [s for s in rv if s[2] == 20480 and s[3] in ("start_kernel", "kernel_clone")]
    t.row("VMAP_STACK stacks (16K + guard)", len(stacks),
          sum(1 for s in ov if s[2] == 20480 and "stack" in s[3]),
          NO_PROCESSES + "; Linux vmallocs every task's and CPU's stack")
    bad += t.print()

    # /proc/iomem: top-level resources and System RAM's children.
    def iomem(lines):
        top, ram = [], []
        for l in lines:
            m = re.match(r"^(\s*)([0-9a-f]+)-([0-9a-f]+) : (.*)$", l)
            if not m:
                continue
            (ram if m[1] else top).append((int(m[2], 16), int(m[3], 16), m[4]))
        return top, ram

    rt, rram = iomem(section(sample(samples, "iomem"), "cat /proc/iomem"))
    ot, oram = iomem(section(pivm_text, "cat /proc/iomem"))
    t = Table("/proc/iomem")
    sysram = lambda top: next(((a, b) for a, b, n in top if n == "System RAM"), None)
    t.row("System RAM", "%08x-%08x" % sysram(rt), "%08x-%08x" % sysram(ot) if sysram(ot)
          else "-", MUST_AGREE)
    for name in ["reserved", "Kernel code", "Kernel data"]:
        t.row(f"RAM children '{name}'", sum(n == name for *_, n in rram),
              sum(n == name for *_, n in oram),
              IMAGE if name != "reserved" else REASONS["iomem reserved"])
    first = lambda v, n: next((f"{a:08x}" for a, _, x in v if x == n), "-")
    t.row("page 0 reserved", first(rram, "reserved"), first(oram, "reserved"), MUST_AGREE)
    cma = lambda v: "yes" if any(a == 0x38000000 for a, *_ in v) else "no"
    t.row("CMA area reserved at 0x38000000", "yes" if any(a <= 0x38000000 <= b for a, b, _ in rram)
          else "no", "yes" if any(a <= 0x38000000 <= b for a, b, _ in oram) else "no", MUST_AGREE)
    t.row("devices", len(rt) - 1, len(ot) - 1, REASONS["iomem devices"])
    ser = lambda v: next((f"{a:08x}" for a, _, n in v if "serial@7e201000" in n), "-")
    t.row("PL011 serial@7e201000", ser(rt), ser(ot), MUST_AGREE)
    bad += t.print()

    print("\n== processes: scripts/compare-linux-arm64.sh faults layout hostile")
    print("This boot runs no programs; the process phases boot Debian's arm64 Linux 6.1 beside "
          "pivm (`make compare-linux ARCH=arm64`), and the reference's process rows above "
          "(AnonPages, Mapped, Shmem, KernelStack, ...) are its own boot's.")
    print(f"\ncompare-linux ARCH=arm64: {bad} row(s) differ without a recorded reason")
    return bad


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pivm_text = Path(sys.argv[1]).read_text().replace("\r", "")
    samples = Path(sys.argv[2] if len(sys.argv) > 2 else "tests/samples")
    sys.exit(1 if compare(pivm_text, samples) else 0)


if __name__ == "__main__":
    main()
