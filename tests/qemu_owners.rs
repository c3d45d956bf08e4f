//! Nothing the console does can corrupt the kernel: the console frees only the blocks it
//! allocated (a page table, mem_map, the kernel image, a slab or vmalloc page, a cached or
//! reserved page are refused with `BUG: Bad page state` and nothing changes), `frag` on an
//! empty zone loses nothing, page poisoning reports a write into a freed page when the page
//! is allocated again, bad addresses are reported truthfully, and `verify` stays ok.
//! Needs `make kernel VMSPLIT=2G` (and 3G).

mod common;
use common::*;

fn boot(split: &'static str, append: &str) -> Qemu {
    Qemu::boot_to_prompt(Opts::raw(split).append(append)).0
}

/// The PFN of the second-level table `pt VA` walks through (`page table at PA 0x...`).
fn pte_table_pfn(q: &mut Qemu, va: u64) -> u64 {
    let walk = q.cmd(&format!("pt {va:#x}"));
    let line = q.line_with(&format!("pt {va:#x}"), &walk, "page table at PA 0x").to_string();
    let pa = line.split("page table at PA ").nth(1).and_then(|s| hex_numbers(s).first().copied());
    pa.map(|pa| pa >> 12).unwrap_or_else(|| q.fail(&format!("pt {va:#x}: no table in {line:?}")))
}

/// The physical address `pt VA` ends at (`=> PA 0x...`).
fn walk_pa(q: &mut Qemu, va: u64) -> u64 {
    let walk = q.cmd(&format!("pt {va:#x}"));
    let line = q.line_with(&format!("pt {va:#x}"), &walk, "=> PA 0x").to_string();
    hex_numbers(&line)[0]
}

/// Bytes of the CMA area (/proc/meminfo's CmaTotal), which memblock places at the top of RAM
/// before mem_map, as Linux's `dma_contiguous_reserve` runs before `free_area_init`.
fn cma_bytes(q: &mut Qemu) -> u64 {
    let mi = q.cmd("cat /proc/meminfo");
    meminfo_kb(q, &mi, "CmaTotal") * 1024
}

/// The data words of a `peek` (`0xADDR: xxxxxxxx` lines).
fn peek_words(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .flat_map(|(_, w)| w.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// `command` must be refused with Linux's bad-page report naming `pfn` (and `also`), and
/// leave the free lists exactly as they were.
fn expect_refused(q: &mut Qemu, command: &str, pfn: u64, also: &str) {
    let before = q.cmd("cat /proc/buddyinfo");
    let out = q.cmd(command);
    q.expect_in(
        command,
        &out,
        &format!("BUG: Bad page state in process swapper/0  pfn:{pfn:05x}\n"),
    );
    q.expect_in(command, &out, "page:(ptrval) refcount:1 ");
    q.expect_in(command, &out, also);
    q.expect_in(command, &out, "page dumped because: ");
    if !out.ends_with('\n') {
        q.fail(&format!("{command}: the report must end with a newline: {out:?}"));
    }
    let after = q.cmd("cat /proc/buddyinfo");
    if after != before {
        q.fail(&format!("{command} changed the free lists:\n{before}\nthen\n{after}"));
    }
}

/// The reproduction: the live second-level table that maps the UART in the vmalloc
/// range cannot be freed from the console, so the next zeroed allocation cannot hand it out,
/// and the console (whose UART that table maps) keeps working.
#[test]
fn console_cannot_free_the_table_that_maps_the_uart_2g() {
    let mut q = boot("2G", "");
    let uart = 0xbc80_0000;
    let table = pte_table_pfn(&mut q, uart);
    expect_refused(&mut q, &format!("__free_pages {table:#x} 0"), table, "page owner: ");
    let va = page_offset("2G") + (table << 12);
    expect_refused(&mut q, &format!("free_pages {va:#x} 0"), table, "page owner: ");
    let out = q.cmd("alloc_pages 0 GFP_KERNEL|__GFP_ZERO");
    q.expect_in("alloc_pages after the refused free", &out, "-> pfn 0x");
    if hex_numbers(&out)[0] == table {
        q.fail(&format!("alloc_pages handed out the live page table {table:#x}:\n{out}"));
    }
    // The table still maps the UART, and the console still talks through it.
    if pte_table_pfn(&mut q, uart) != table || walk_pa(&mut q, uart) != 0x3f20_1000 {
        q.fail("the UART's mapping changed");
    }
    let out = q.cmd("cat /proc/cpuinfo");
    q.expect_in("cpuinfo (mailbox through the vmalloc range)", &out, "Hardware\t: BCM2835");
    q.verify_ok("after the refused frees");
    q.poweroff_ok();
}

/// The kernel image, mem_map and reserved pages, a slab page, a vmalloc page and a page on
/// the per-CPU lists: each free is refused and changes nothing, and the allocators still work.
#[test]
fn console_cannot_free_pages_the_kernel_owns_2g() {
    let mut q = boot("2G", "");
    let iomem = q.cmd("cat /proc/iomem");
    let range = |q: &Qemu, name: &str| {
        let line = q.line_with("/proc/iomem", &iomem, name);
        let (start, end) = line.trim().split_once(" : ").unwrap().0.split_once('-').unwrap();
        (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap())
    };
    let (code, _) = range(&q, "Kernel code");
    let (data, _) = range(&q, "Kernel data");
    let (_, ram_end) = range(&q, "System RAM");
    // The firmware's page at 0, the image, and the last page below the CMA area (which takes
    // the top of RAM first), where memblock places mem_map (top down below the lowmem limit).
    let mem_map_end = ram_end + 1 - cma_bytes(&mut q);
    for pfn in [0, code >> 12, data >> 12, (mem_map_end >> 12) - 1] {
        expect_refused(&mut q, &format!("__free_pages {pfn:#x} 0"), pfn, "(reserved|");
    }
    let va = page_offset("2G") + code;
    expect_refused(&mut q, &format!("free_pages {va:#x} 0"), code >> 12, "(reserved|");

    // A slab page: the object's page is the slab layer's, not the console's.
    let out = q.cmd("kmalloc 64");
    let obj = hex_numbers(&out)[0];
    let slab_page = obj & !0xfff;
    let pfn = (slab_page - page_offset("2G")) >> 12;
    expect_refused(&mut q, &format!("free_pages {slab_page:#x} 0"), pfn, "page dumped because:");
    q.cmd_silent(&format!("kfree {obj:#x}"));
    let out = q.cmd("kmalloc 64");
    q.expect_in("kmalloc after the refused free", &out, "(kmalloc-64, ksize 64)");

    // A vmalloc page, found through the page tables.
    let out = q.cmd("vmalloc 4096");
    let area = hex_numbers(&out)[0];
    let pfn = walk_pa(&mut q, area) >> 12;
    expect_refused(&mut q, &format!("__free_pages {pfn:#x} 0"), pfn, "page dumped because:");
    q.cmd(&format!("vfree {area:#x}"));

    // A page on the per-CPU lists is free: a second free is a double free.
    let out = q.cmd("alloc_pages 0");
    let pfn = hex_numbers(&out)[0];
    q.cmd_silent(&format!("__free_pages {pfn:#x} 0"));
    let out = q.cmd(&format!("__free_pages {pfn:#x} 0"));
    q.expect_in("double free of a cached page", &out, "page dumped because: double free");

    // The console's own blocks still come and go.
    let out = q.cmd("alloc_pages 2");
    let pfn = hex_numbers(&out)[0];
    q.cmd_silent(&format!("__free_pages {pfn:#x} 2"));
    q.verify_ok("after the refused frees");
    q.poweroff_ok();
}

/// Issue 16.3: `frag checkerboard` of a zone this kernel lacks (DMA) or that is empty
/// (HighMem on 2G) took its bookkeeping page before looking and never gave it back.
#[test]
fn frag_on_an_empty_zone_loses_nothing_2g() {
    let mut q = boot("2G", "");
    let free = |q: &mut Qemu| {
        let mi = q.cmd("cat /proc/meminfo");
        meminfo_kb(q, &mi, "MemFree") / 4 + q.pcp_cached_pages()
    };
    let before = free(&mut q);
    for i in 0..50 {
        let zone = if i % 2 == 0 { "DMA" } else { "HighMem" };
        let out = q.cmd(&format!("frag checkerboard {zone}"));
        q.expect_in("frag on an empty zone", &out, &format!("frag: zone {zone} is empty"));
    }
    let after = free(&mut q);
    if after != before {
        q.fail(&format!("50 frag calls on empty zones: {before} pages free before, {after} after"));
    }
    q.verify_ok("after frag on empty zones");
    q.poweroff_ok();
}

/// Issue 16.6: with `page_poison=1`, a write into a freed page is reported when the page is
/// allocated again, before the allocation's result, as mm/page_poison.c reports it.
#[test]
fn page_poisoning_reports_a_write_after_free_2g() {
    let mut q = boot("2G", "page_poison=1");
    let out = q.cmd("alloc_pages 0");
    let (pfn, va) = (hex_numbers(&out)[0], hex_numbers(&out)[2]);
    q.cmd_silent(&format!("free_pages {va:#x} 0"));
    q.cmd_silent(&format!("poke {:#x} 0x12345678", va + 0x10));
    q.cmd_silent(&format!("poke {:#x} 0x6d766970", va + 0x30));
    let out = q.cmd("alloc_pages 0");
    let expected = format!(
        "pagealloc: memory corruption\n\
         {:08x}: 78 56 34 12 aa aa aa aa aa aa aa aa aa aa aa aa  xV4.............\n\
         {:08x}: aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa  ................\n\
         {:08x}: 70 69 76 6d                                      pivm\n\
         page:(ptrval) refcount:1 mapcount:0 mapping:00000000 index:0x0 pfn:{pfn:#x}\n",
        va + 0x10,
        va + 0x20,
        va + 0x30
    );
    if !out.starts_with(&expected) {
        q.fail(&format!(
            "alloc_pages of the written page: expected it to start with\n{expected}got:\n{out}"
        ));
    }
    q.expect_in("poison report", &out, "page dumped because: pagealloc: corrupted page details\n");
    q.expect_in("poison report", &out, &format!("-> pfn {pfn:#x} "));
    // One flipped bit in the last byte.
    q.cmd_silent(&format!("free_pages {va:#x} 0"));
    q.cmd_silent(&format!("poke {:#x} 0xaeaaaaaa", va + 0xffc));
    let out = q.cmd("alloc_pages 0 GFP_KERNEL|__GFP_ZERO");
    let expected = format!(
        "pagealloc: single bit error\n{:08x}: ae                                               .\n",
        va + 0xfff
    );
    if !out.starts_with(&expected) {
        q.fail(&format!("a single bit error: expected\n{expected}got:\n{out}"));
    }
    // Untouched poison is quiet.
    q.cmd_silent(&format!("free_pages {va:#x} 0"));
    let out = q.cmd("alloc_pages 0");
    if out.contains("pagealloc") {
        q.fail(&format!("untouched poison was reported:\n{out}"));
    }
    q.verify_ok("after the poison reports");
    q.poweroff_ok();
}

/// Issue 16.15: a misaligned address names the address and its real page frame; an address
/// with no page frame is printed as such, not as `pfn:00000`.
#[test]
fn bad_free_addresses_are_reported_truthfully_2g() {
    let mut q = boot("2G", "");
    let out = q.cmd("alloc_pages 0");
    let (pfn, va) = (hex_numbers(&out)[0], hex_numbers(&out)[2]);
    let out = q.cmd(&format!("free_pages {:#x} 0", va + 8));
    q.expect_in(
        "misaligned",
        &out,
        &format!("BUG: Bad page state in process swapper/0  pfn:{pfn:05x}\n"),
    );
    q.expect_in(
        "misaligned",
        &out,
        &format!("page dumped because: address {:#010x} is not the start of a page\n", va + 8),
    );
    let out = q.cmd("free_pages 0x80000008 0");
    q.expect_in("free_pages 0x80000008 0", &out, "address 0x80000008 is not the start of a page");
    if out.contains("pfn not aligned") {
        q.fail(&format!("a misaligned address reported as a misaligned PFN:\n{out}"));
    }
    let out = q.cmd("free_pages 0x1234 0");
    q.expect_in(
        "free_pages 0x1234 0",
        &out,
        "BUG: Bad page state in process swapper/0  addr:00001234\n",
    );
    q.expect_in("free_pages 0x1234 0", &out, "address 0x00001234 is not in the linear map");
    if out.contains("pfn:00000") {
        q.fail(&format!("an address with no page frame printed pfn:00000:\n{out}"));
    }
    // The block itself is still the console's to free.
    q.cmd_silent(&format!("free_pages {va:#x} 0"));
    q.verify_ok("after the bad frees");
    q.poweroff_ok();
}

/// memtest ends with the allocators' verify, on a split with highmem too.
#[test]
fn memtest_prints_verify_3g() {
    let mut q = boot("3G", "");
    let out = q.cmd_timeout("memtest", std::time::Duration::from_secs(60));
    q.expect_in("memtest", &out, "memtest: ok, ");
    if !out.trim_end().ends_with("verify: ok") {
        q.fail(&format!("memtest must end with \"verify: ok\":\n{out}"));
    }
    q.poweroff_ok();
}

/// `verify` on the device: damage one page descriptor in mem_map by hand (`poke`, which is
/// there to write anywhere) and it names the broken invariant and the page; repair it and it
/// is ok again. mem_map is found where memblock puts it, at the top of lowmem, and checked
/// against the `raw:` words the bad-page report prints for page 0.
/// Bytes of a `struct page` (mem_map's stride).
const PAGE_DESC: u64 = 32;

#[test]
fn verify_names_a_broken_invariant_2g() {
    let mut q = boot("2G", "");
    let out = q.cmd("__free_pages 0 0");
    let raw: Vec<String> = q
        .line_with("__free_pages 0 0", &out, "raw: ")
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    let iomem = q.cmd("cat /proc/iomem");
    let ram = q.line_with("iomem", &iomem, "System RAM").to_string();
    let ram_end = u64::from_str_radix(ram.split(['-', ' ']).nth(1).unwrap(), 16).unwrap() + 1;
    let layout = q.cmd("layout");
    let lowmem_end = hex_numbers(q.line_with("layout", &layout, "lowmem  :"))[1];
    // mem_map sits right below the CMA area, which took the top of RAM first.
    let mem_map =
        lowmem_end - cma_bytes(&mut q) - ((ram_end >> 12) * PAGE_DESC).next_multiple_of(0x1000);
    let got = peek_words(&q.cmd(&format!("peek {mem_map:#x} 8")));
    if got != raw {
        q.fail(&format!(
            "mem_map is not at {mem_map:#x}: page 0 reads {got:?}, its report {raw:?}"
        ));
    }
    let out = q.cmd("alloc_pages 0");
    let pfn = hex_numbers(&out)[0];
    let desc = mem_map + pfn * PAGE_DESC;
    let word = u64::from_str_radix(&peek_words(&q.cmd(&format!("peek {desc:#x}")))[0], 16).unwrap();
    // Clear the owner bits (12-15) of the block's head: an allocated block without an owner.
    q.cmd_silent(&format!("poke {desc:#x} {:#x}", word & !0xf000));
    let out = q.cmd("verify");
    let expected = format!("verify: page_alloc: an allocated block has no owner at pfn:{pfn:#x}");
    if out.trim_end() != expected {
        q.fail(&format!("verify after the damage: expected {expected:?}, got {out:?}"));
    }
    q.cmd_silent(&format!("poke {desc:#x} {word:#x}"));
    q.verify_ok("after the repair");
    q.cmd_silent(&format!("__free_pages {pfn:#x} 0"));
    q.poweroff_ok();
}

/// A highmem page written while free (through `kmap`) is reported when it comes back, its
/// bytes shown at the `kmap_atomic` address the check read them through.
#[test]
fn page_poisoning_reports_a_highmem_page_3g() {
    let mut q = boot("3G", "page_poison=1");
    let out = q.cmd("alloc_pages 0 GFP_HIGHUSER");
    q.expect_in("alloc_pages GFP_HIGHUSER", &out, "(HighMem");
    let pfn = hex_numbers(&out)[0];
    q.cmd_silent(&format!("__free_pages {pfn:#x} 0"));
    let out = q.cmd(&format!("kmap {pfn:#x}"));
    let va = *hex_numbers(&out).last().unwrap();
    q.cmd_silent(&format!("poke {:#x} 0x1", va + 0x100));
    q.cmd(&format!("kunmap {pfn:#x}"));
    let out = q.cmd("alloc_pages 0 GFP_HIGHUSER");
    q.expect_in("the page comes back", &out, &format!("-> pfn {pfn:#x} "));
    let lines: Vec<&str> = out.lines().collect();
    let dump = lines.get(1).copied().unwrap_or("");
    if lines.first() != Some(&"pagealloc: memory corruption")
        || !dump.ends_with(": 01 00 00 00                                      ....")
    {
        q.fail(&format!("expected the corruption report first, got:\n{out}"));
    }
    q.expect_in("poison report", &out, &format!("index:0x0 pfn:{pfn:#x}\nflags: 0x0(zone=2)\n"));
    q.verify_ok("after the highmem report");
    q.poweroff_ok();
}
