//! The MMU as Linux 6.1 sets it up without LPAE, checked on the running kernel: the control
//! register and TTBCR/TTBR/DACR on every split, `pt` and `ptdump` naming Linux's memory types
//! with the Linux/hardware PTE pair (`*pte=`, `*ppte=`), the vector and stubs pages, the oops'
//! `show_pte` line, faults nested in the fixup and oops paths, and `mem=SIZE@START` leaving
//! the excluded RAM out of the linear map (issue 16.4).
//! Needs `make kernel VMSPLIT=2G|3G|1G` (`make test` builds them).

mod common;
use common::*;
use std::thread;
use std::time::Duration;

/// Linux 6.1's SCTLR on this board (`cr=` in the sample's boot log): TRE, high vectors, I,
/// Z, C, M and the RAO bits; AFE and A clear.
const LINUX_CR: &str = "10c5387d";
/// `DACR_INIT` with `CONFIG_CPU_SW_DOMAIN_PAN`.
const DACR: u64 = 0x51;
/// `TTB_FLAGS_SMP` in the low bits of TTBR0/TTBR1.
const TTB_FLAGS_SMP: u64 = 0x6a;

/// The hex number after `key` on `line` (`key` ends before the number).
fn field(q: &Qemu, line: &str, key: &str) -> u64 {
    let rest = line.split_once(key).map(|(_, r)| r.trim_start()).unwrap_or_else(|| {
        q.fail(&format!("no {key:?} in {line:?}"));
    });
    let word: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u64::from_str_radix(&word, 16).unwrap_or_else(|_| q.fail(&format!("{key:?} in {line:?}")))
}

/// The show_pte line of a `pt` output and its `*pgd`, `*pte`, `*ppte` values.
fn show_pte(q: &Qemu, va: u64, out: &str) -> (u64, Option<(u64, u64)>) {
    let line = q.line_with(&format!("pt {va:#x}"), out, &format!("[{va:08x}] *pgd="));
    let pgd = field(q, line, "*pgd=");
    let pair = line.contains("*pte=").then(|| (field(q, line, "*pte="), field(q, line, "*ppte=")));
    (pgd, pair)
}

/// The physical address a `pt` walk ends at, and its last line.
fn walk_pa<'a>(q: &Qemu, va: u64, out: &'a str) -> (u64, &'a str) {
    let last = out.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if !last.starts_with("=> PA ") {
        q.fail(&format!("pt {va:#x}: expected a last line \"=> PA ...\", got:\n{out}"));
    }
    (hex_numbers(last)[0], last)
}

fn boot_registers_like_linux(split: &'static str) {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw(split));
    let line = q.line_with("boot log", &log, "CPU: ARMv7 Processor");
    if !line.ends_with(&format!("cr={LINUX_CR}")) {
        q.fail(&format!("boot line: expected Linux 6.1's cr={LINUX_CR}, got {line:?}"));
    }
    let out = q.cmd(&format!("pt {:#x}", page_offset(split) + 0x8000));
    let regs = q.line_with("pt", &out, "MMU: ");
    let (ttbcr, ttbr0, ttbr1) =
        (field(&q, regs, "TTBCR"), field(&q, regs, "TTBR0"), field(&q, regs, "TTBR1"));
    if ttbcr != 0 {
        q.fail(&format!("{split}: TTBCR must be 0 (N = 0, one table) on every split: {regs}"));
    }
    if ttbr0 != ttbr1 || ttbr0 & 0x3fff != TTB_FLAGS_SMP {
        q.fail(&format!("{split}: TTBR0 and TTBR1 must both be swapper_pg_dir | 0x6a: {regs}"));
    }
    if field(&q, regs, "DACR") != DACR || field(&q, regs, "SCTLR") != 0x10c5_387d {
        q.fail(&format!("{split}: DACR must be 0x51 and SCTLR {LINUX_CR}: {regs}"));
    }
    q.poweroff_ok();
}

#[test]
fn boot_registers_like_linux_2g() {
    boot_registers_like_linux("2G");
}

#[test]
fn boot_registers_like_linux_3g() {
    boot_registers_like_linux("3G");
}

#[test]
fn boot_registers_like_linux_1g() {
    boot_registers_like_linux("1G");
}

/// `pt` of lowmem (a section: `*pgd=...(bad)`), a vmalloc page, an ioremap, the vector page
/// and the stubs page: Linux's memory-type names and the PTE pair as `cpu_v7_set_pte_ext`
/// writes it.
fn pt_names_and_pte_pairs(split: &'static str) {
    let mut q = Qemu::boot_to_prompt(Opts::raw(split)).0;
    let po = page_offset(split);

    // Lowmem past the kernel image's sections: a section of MT_MEMORY_RW.
    let va = po + 0x0100_0000;
    let out = q.cmd(&format!("pt {va:#x}"));
    let (pgd, pair) = show_pte(&q, va, &out);
    if pair.is_some() || !out.contains(&format!("*pgd={pgd:08x}(bad)")) || pgd & 3 != 2 {
        q.fail(&format!("pt {va:#x}: a section shows as Linux's \"*pgd=...(bad)\":\n{out}"));
    }
    q.expect_in("pt of lowmem", &out, "(MEM/CACHED/WBWA: normal WB-WA)");
    q.expect_in("pt of lowmem", &out, ", MT_MEMORY_RW)");

    // A vmalloc page: Linux PTE PAGE_KERNEL (0x65f), hardware TEX[0]CB=111, S, XN (0x45f).
    let out = q.cmd("vmalloc 4096");
    let va = *hex_numbers(&out).last().unwrap();
    let out = q.cmd(&format!("pt {va:#x}"));
    let (pa, last) = walk_pa(&q, va, &out);
    let (pgd, pair) = show_pte(&q, va, &out);
    if pgd & 0xfff != 0x811 {
        q.fail(&format!(
            "pt {va:#x}: *pgd must point at page+2048 with _PAGE_KERNEL_TABLE (0x811):\n{out}"
        ));
    }
    if pair != Some((pa | 0x65f, pa | 0x45f)) {
        q.fail(&format!(
            "pt {va:#x}: expected *pte={:08x}, *ppte={:08x}:\n{out}",
            pa | 0x65f,
            pa | 0x45f
        ));
    }
    if !last.ends_with("(4K small page, MT_MEMORY_RW)") {
        q.fail(&format!("pt {va:#x}: expected the memory type MT_MEMORY_RW:\n{out}"));
    }
    q.expect_in(
        "pt of vmalloc",
        &out,
        "L_PTE_PRESENT|L_PTE_YOUNG|L_PTE_DIRTY|L_PTE_XN|L_PTE_SHARED MEM/CACHED/WBWA",
    );

    // An ioremap: MT_DEVICE, TEX[0]CB=100 (remapped to shared device).
    let out = q.cmd("ioremap 0x3f215000 4096");
    let va = *hex_numbers(&out).last().unwrap();
    let out = q.cmd(&format!("pt {va:#x}"));
    let (pa, last) = walk_pa(&q, va, &out);
    if pa != 0x3f21_5000 || show_pte(&q, va, &out).1 != Some((0x3f21_5653, 0x3f21_5453)) {
        q.fail(&format!("pt {va:#x}: expected *pte=3f215653, *ppte=3f215453:\n{out}"));
    }
    q.expect_in("pt of an ioremap", &out, "TEX=001 C=0 B=0 (DEV/SHARED: shared device)");
    if !last.ends_with(", MT_DEVICE)") {
        q.fail(&format!("pt {va:#x}: expected MT_DEVICE:\n{out}"));
    }

    // The vector page: user read-only and executable, domain VECTORS; then the stubs page.
    let out = q.cmd("pt 0xffff0000");
    let (vectors, last) = walk_pa(&q, 0xffff_0000, &out);
    let (pgd, pair) = show_pte(&q, 0xffff_0000, &out);
    if pgd & 0xfff != 0x861 || pair != Some((vectors | 0x5df, vectors | 0x67e)) {
        q.fail(&format!("pt 0xffff0000: expected *pgd=...861, *pte=..5df, *ppte=...67e:\n{out}"));
    }
    q.expect_in("pt 0xffff0000", &out, "AP=PL1 RO PL0 RO XN=0");
    if !last.ends_with(", MT_HIGH_VECTORS)") {
        q.fail(&format!("pt 0xffff0000: expected MT_HIGH_VECTORS:\n{out}"));
    }
    let out = q.cmd("pt 0xffff1000");
    let (stubs, last) = walk_pa(&q, 0xffff_1000, &out);
    if stubs != vectors + 0x1000
        || show_pte(&q, 0xffff_1000, &out).1 != Some((stubs | 0x4df, stubs | 0x65e))
    {
        q.fail(&format!(
            "pt 0xffff1000: the stubs page follows the vectors, kernel read-only:\n{out}"
        ));
    }
    q.expect_in("pt 0xffff1000", &out, "AP=PL1 RO XN=0");
    if !last.ends_with(", MT_LOW_VECTORS)") {
        q.fail(&format!("pt 0xffff1000: expected MT_LOW_VECTORS:\n{out}"));
    }
    // The reset vector branches to the first stub, 0x1000 further (`b .+0x1000`); the
    // kuser helpers sit at their ABI addresses: __kuser_get_tls reads TPIDRURO
    // (`mrc p15, 0, r0, c13, c0, 3`), and the version word says 5 helpers.
    for (addr, word) in
        [(0xffff_0000u32, "ea0003fe"), (0xffff_0fe0, "ee1d0f70"), (0xffff_0ffc, "00000005")]
    {
        let out = q.cmd(&format!("peek {addr:#x}"));
        q.expect_in(&format!("peek {addr:#x}"), &out, &format!("{addr:#010x}: {word}"));
    }

    let out = q.cmd("ptdump");
    for (start, what) in [
        (
            format!("0xffff0000-0xffff1000 -> {vectors:#010x}"),
            "VECTORS USR ro x  SHD MEM/CACHED/WBWA",
        ),
        (
            format!("0xffff1000-0xffff2000 -> {stubs:#010x}"),
            "VECTORS     ro x  SHD MEM/CACHED/WBWA",
        ),
        ("0x".to_string(), "SECT  KERNEL      RW NX SHD MEM/CACHED/WBWA"),
        ("0x".to_string(), "PAGE  KERNEL      RW NX SHD DEV/SHARED"),
        ("0x".to_string(), "PAGE  KERNEL      ro x  SHD MEM/CACHED/WBWA"),
    ] {
        if !out.lines().any(|l| l.starts_with(&start) && l.ends_with(what)) {
            q.fail(&format!("ptdump: expected a line {start}... ending {what:?}:\n{out}"));
        }
    }
    q.poweroff_ok();
}

#[test]
fn pt_names_and_pte_pairs_2g() {
    pt_names_and_pte_pairs("2G");
}

#[test]
fn pt_names_and_pte_pairs_3g() {
    pt_names_and_pte_pairs("3G");
}

#[test]
fn pt_names_and_pte_pairs_1g() {
    pt_names_and_pte_pairs("1G");
}

/// The oops for a vmalloc guard page prints Linux's show_pte line with the PTE pair, the
/// control register, the table and DACR.
#[test]
fn oops_shows_the_pte_pair() {
    let mut q = Qemu::boot_to_prompt(Opts::raw("2G")).0;
    let out = q.cmd("vmalloc 4096");
    let va = *hex_numbers(&out).last().unwrap();
    let guard = va + 0x1000;
    q.send(&format!("touch {guard:#x}\n"));
    let oops = q.wait_for("Kernel panic - not syncing", STEP).unwrap();
    let line = q.line_with("oops", &oops, &format!("[{guard:08x}] *pgd="));
    if !line.ends_with(", *pte=00000000, *ppte=00000000")
        || field(&q, line, "*pgd=") & 0xfff != 0x811
    {
        q.fail(&format!(
            "oops: expected \"[{guard:08x}] *pgd=xxxxx811, *pte=00000000, *ppte=00000000\""
        ));
    }
    let control = q.line_with("oops", &oops, "Control: ");
    if !control.starts_with(&format!("Control: {LINUX_CR}  Table: "))
        || !control.ends_with("DAC: 00000051")
    {
        q.fail(&format!(
            "oops: expected \"Control: {LINUX_CR}  Table: ...  DAC: 00000051\", got {control:?}"
        ));
    }
    q.expect_in("oops", &oops, "Segment none");
    q.kill();
}

/// Faults in a row through the fixup (`peek`/`poke` of unmapped and read-only addresses),
/// then normal commands; then an oops whose own code dump faults (pc in an unmapped page):
/// nested aborts must neither lose the return address nor start a second oops.
#[test]
fn nested_faults_in_fixup_and_oops_paths() {
    let mut q = Qemu::boot_to_prompt(Opts::raw("2G")).0;
    let text = page_offset("2G") + 0x8000;
    let before = q.cmd(&format!("peek {text:#x} 4"));
    for (cmd, expect) in [
        ("peek 0", "section translation fault"),
        ("peek 0x10 4", "section translation fault"),
        ("poke 0 1", "section translation fault"),
        ("poke 0xffff0000 1", "permission fault"),
        ("poke 0xffff1000 1", "permission fault"),
        ("peek 0x1000", "section translation fault"),
    ] {
        for _ in 0..3 {
            let out = q.cmd(cmd);
            if !out.contains("fault at virtual address") || !out.contains(expect) {
                q.fail(&format!("{cmd}: expected one line naming the {expect}, got {out:?}"));
            }
        }
    }
    if q.cmd(&format!("peek {text:#x} 4")) != before {
        q.fail("peek of the kernel text changed after the faults");
    }
    let out = q.cmd("help");
    q.expect_in("help after the faults", &out, "ptdump");
    let out = q.cmd("cat /proc/meminfo");
    q.expect_in("meminfo after the faults", &out, "MemFree:");
    q.send("crash exec\n");
    let oops = q.wait_for("Kernel panic - not syncing: Fatal exception", STEP).unwrap();
    for needle in [
        "Unable to handle kernel paging request at virtual address 00001000 when execute",
        "[00001000] *pgd=00000000",
        "Internal error: Oops: 80000005 [#1] SMP ARM",
        "PC is at 0x1000",
        "Code: bad PC value",
    ] {
        q.expect_in("crash exec", &oops, needle);
    }
    if oops.contains("recursive fault") {
        q.fail("the oops' faulting code dump must be absorbed by its fixup, not oops again");
    }
    thread::sleep(Duration::from_millis(500));
    let t = q.transcript();
    if t[t.rfind("Kernel panic").unwrap()..].contains(PROMPT) {
        q.fail("a prompt came back after the oops: the kernel must halt");
    }
    q.kill();
}

/// Issue 16.4: `mem=512M@512M` leaves the first 512 MiB out of memblock, so `map_lowmem()`
/// leaves it out of the linear map (the kernel image stays mapped, as `map_kernel()` does),
/// `p2v`/`v2p` refuse the hole and `ioremap` refuses the RAM.
#[test]
fn mem_start_hole_is_not_linear_mapped() {
    let mut q = Qemu::boot_to_prompt(Opts::raw("2G").append("mem=512M@512M")).0;
    let po = page_offset("2G");
    let out = q.cmd("p2v 0x10000000");
    if !out.starts_with("p2v: ") || !out.contains("not memblock memory") {
        q.fail(&format!("p2v 0x10000000 (excluded by mem=): expected a refusal, got {out:?}"));
    }
    let out = q.cmd(&format!("v2p {:#x}", po + 0x1000_0000));
    if !out.starts_with("v2p: ") || !out.contains("not mapped") {
        q.fail(&format!("v2p of the hole: expected a refusal, got {out:?}"));
    }
    let out = q.cmd(&format!("pt {:#x}", po + 0x1000_0000));
    if !out.trim_end().ends_with("=> fault: section translation fault") {
        q.fail(&format!("pt of the hole: expected no mapping, got:\n{out}"));
    }
    let out = q.cmd("ioremap 0x10000000 4K");
    if !out.contains("is RAM") || out.contains(") = 0x") {
        q.fail(&format!("ioremap of RAM left out by mem=: expected a refusal, got {out:?}"));
    }
    // The memory that is there is mapped cacheable, and the kernel still runs from its image.
    let out = q.cmd("p2v 0x20000000");
    q.expect_in("p2v 0x20000000", &out, &format!("{:#010x}", po + 0x2000_0000));
    let out = q.cmd(&format!("pt {:#x}", po + 0x2000_0000));
    let (pa, last) = walk_pa(&q, po + 0x2000_0000, &out);
    if pa != 0x2000_0000 || !last.ends_with("MT_MEMORY_RW)") {
        q.fail(&format!("pt of memblock memory: expected MT_MEMORY_RW at 0x20000000:\n{out}"));
    }
    let out = q.cmd(&format!("pt {:#x}", po + 0x8000));
    if walk_pa(&q, po + 0x8000, &out).0 != 0x8000 {
        q.fail(&format!("the kernel image must stay mapped:\n{out}"));
    }
    let out = q.cmd("ptdump");
    let hole = po + 0x1000_0000;
    let covers = |l: &str| {
        let n = hex_numbers(l);
        l.starts_with("0x") && n.len() >= 2 && n[0] <= hole && hole < n[1]
    };
    if out.lines().any(covers) {
        q.fail(&format!("ptdump: nothing may be mapped at {hole:#010x}:\n{out}"));
    }
    q.poweroff_ok();
}

/// Second-level tables taken after boot are pages owned as page tables: freeing one from
/// the console is a bad page and leaves the mapping in place.
#[test]
fn page_tables_are_owned_pages() {
    let mut q = Qemu::boot_to_prompt(Opts::raw("3G")).0;
    // The first vmalloc area of a fresh 2 MiB needs a new table page.
    let out = q.cmd("vmalloc 0x200000");
    let va = *hex_numbers(&out).last().unwrap();
    let out = q.cmd(&format!("pt {va:#x}"));
    let (pa, _) = walk_pa(&q, va, &out);
    let (pgd, _) = show_pte(&q, va, &out);
    let table_pfn = pgd >> 12;
    let out = q.cmd(&format!("__free_pages {table_pfn:#x} 0"));
    q.expect_in("__free_pages of a page table", &out, "BUG: Bad page state");
    q.expect_in("__free_pages of a page table", &out, "page belongs to a page table");
    let again = q.cmd(&format!("pt {va:#x}"));
    if walk_pa(&q, va, &again).0 != pa || show_pte(&q, va, &again).0 != pgd {
        q.fail(&format!("the table changed after a refused free:\n{out}\n{again}"));
    }
    let meminfo = q.cmd("cat /proc/meminfo");
    if meminfo_kb(&q, &meminfo, "PageTables") < 8 {
        q.fail(&format!("PageTables must count the table pages taken after boot:\n{meminfo}"));
    }
    q.poweroff_ok();
}
