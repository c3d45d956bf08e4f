//! kmalloc and SLUB on the real kernel: the kmalloc caches 6.1 has on ARMv7 in /proc/slabinfo,
//! `kmalloc_large` up to `KMALLOC_MAX_SIZE` (128 KiB on the Android profiles), `ZERO_SIZE_PTR`,
//! and the reproductions of issue 16.1: slab pages and large kmalloc blocks cannot be freed
//! with `free_pages`, and a random session of kmalloc, kfree and page frees aimed at slab
//! pages never lets two owners share memory.
//! Needs `make kernel VMSPLIT=2G` (`make test` builds it).

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};

const PAGE: u64 = 4096;

fn boot() -> Qemu {
    Qemu::boot_to_prompt(Opts::raw("2G")).0
}

/// The address `kmalloc SIZE` printed (`kmalloc(SIZE) = 0x... (...)`).
fn kmalloc(q: &mut Qemu, size: u64) -> (u64, String) {
    let out = q.cmd(&format!("kmalloc {size}"));
    let line = q.line_with("kmalloc", &out, &format!("kmalloc({size}) = 0x")).to_string();
    (hex_numbers(&line)[0], line)
}

/// The PFN of a 2G-build lowmem address.
fn pfn(va: u64) -> u64 {
    (va - page_offset("2G")) / PAGE
}

#[test]
fn kmalloc_caches_are_6_1_s_on_armv7() {
    let mut q = boot();
    let si = q.cmd("cat /proc/slabinfo");
    q.expect_in("slabinfo", &si, "slabinfo - version: 2.1\n");
    // The kmalloc caches close the file, oldest (kmalloc-64) last, with SLUB's geometry for
    // four CPUs: no kmalloc-8/16/32/96 (KMALLOC_MIN_SIZE 64), kmalloc-192, up to kmalloc-8k.
    let expect = [
        ("kmalloc-8k", 8192, 4, 8),
        ("kmalloc-4k", 4096, 8, 8),
        ("kmalloc-2k", 2048, 16, 8),
        ("kmalloc-1k", 1024, 16, 4),
        ("kmalloc-512", 512, 16, 2),
        ("kmalloc-256", 256, 16, 1),
        ("kmalloc-192", 192, 21, 1),
        ("kmalloc-128", 128, 32, 1),
        ("kmalloc-64", 64, 64, 1),
    ];
    let lines: Vec<&str> = si.lines().filter(|l| l.starts_with("kmalloc-")).collect();
    if lines.len() != expect.len() {
        q.fail(&format!("expected the 9 kmalloc caches of 6.1 on ARMv7, got:\n{si}"));
    }
    for (line, (name, size, objs, pages)) in lines.iter().zip(expect) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] != name || f[3..6] != [size.to_string(), objs.to_string(), pages.to_string()] {
            q.fail(&format!("{name} {size} {objs} {pages} expected, got {line:?}"));
        }
        if !line.contains(" : tunables    0    0    0 : slabdata ") {
            q.fail(&format!("SLUB's tunables columns expected in {line:?}"));
        }
    }
    for (size, cache) in [(1, "kmalloc-64"), (96, "kmalloc-128"), (150, "kmalloc-192")] {
        let (_, line) = kmalloc(&mut q, size);
        q.expect_in("kmalloc", &line, &format!("({cache}, ksize "));
    }
    // One object takes a whole CPU slab, and its free objects count as active, as in SLUB.
    let si = q.cmd("cat /proc/slabinfo");
    let line = q.line_with("slabinfo", &si, "kmalloc-192 ");
    if line.split_whitespace().nth(1) != Some("21") {
        q.fail(&format!("kmalloc-192: 21 active objects (a whole CPU slab) expected: {line:?}"));
    }
    let (_, line) = kmalloc(&mut q, 8193);
    q.expect_in("kmalloc 8193", &line, "(kmalloc_large order 2, ksize 16384)");
    let (big, line) = kmalloc(&mut q, 4 << 20);
    q.expect_in("kmalloc 4M", &line, "(kmalloc_large order 10, ksize 4194304)");
    q.cmd_silent(&format!("kfree {big:#x}"));
    let out = q.cmd(&format!("kmalloc {}", (4 << 20) + 1));
    q.expect_in("kmalloc 4M+1", &out, "exceeds KMALLOC_MAX_SIZE (4194304 bytes)");
    // ZERO_SIZE_PTR, as Linux returns it, and what kfree and ksize make of it.
    let out = q.cmd("kmalloc 0");
    q.expect_in("kmalloc 0", &out, "kmalloc(0) = 0x00000010 (ZERO_SIZE_PTR, ksize 0)");
    q.cmd_silent("kfree 0x10");
    let out = q.cmd("ksize 0x10");
    q.expect_in("ksize 0x10", &out, "ksize(0x00000010) = 0");
    // A freed object is named as free, not as a double free.
    let (p, _) = kmalloc(&mut q, 100);
    q.cmd_silent(&format!("kfree {p:#x}"));
    let out = q.cmd(&format!("ksize {p:#x}"));
    q.expect_in(
        "ksize of a freed object",
        &out,
        &format!("ksize: {p:#010x} is a free kmalloc-128 object"),
    );
    if out.contains("double free") {
        q.fail(&format!("ksize of a freed object must not say double free:\n{out}"));
    }
    let out = q.cmd(&format!("kfree {p:#x}"));
    q.expect_in("kfree twice", &out, &format!("kfree: double free of {p:#010x} in kmalloc-128"));
    q.poweroff_ok();
}

#[test]
fn the_android_profiles_keep_the_128k_ceiling() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").append("pivm.profile=android-a9"));
    let (_, line) = kmalloc(&mut q, 128 << 10);
    q.expect_in("kmalloc 128K", &line, "(kmalloc_large order 5, ksize 131072)");
    let out = q.cmd("kmalloc 131073");
    q.expect_in(
        "kmalloc 128K+1",
        &out,
        "kmalloc: size 131073 exceeds KMALLOC_MAX_SIZE (131072 bytes)",
    );
    q.poweroff_ok();
}

/// Issue 16.1: `kmalloc 64`, then `free_pages` of its page, must be refused with nothing
/// changed; so must `free_pages` of a `kmalloc 4096` slab and of a large kmalloc block, and
/// `kfree` keeps working on all of them.
#[test]
fn slab_and_large_kmalloc_pages_cannot_be_freed_by_free_pages() {
    let mut q = boot();
    let (obj, _) = kmalloc(&mut q, 64);
    let page = obj & !(PAGE - 1);
    for cmd in [format!("free_pages {page:#x} 0"), format!("__free_pages {:#x} 0", pfn(page))] {
        let out = q.cmd(&cmd);
        q.expect_in(&cmd, &out, "BUG: Bad page state");
    }
    // The page was not freed: a zeroed page comes from elsewhere, the object is intact.
    let out = q.cmd("alloc_pages 0 GFP_KERNEL|__GFP_ZERO");
    let got = hex_numbers(&out)[2];
    if got == page {
        q.fail(&format!("the slab page {page:#x} was handed out again:\n{out}"));
    }
    let (obj2, _) = kmalloc(&mut q, 64);
    if obj2 & !(PAGE - 1) == got {
        q.fail(&format!("kmalloc returned {obj2:#x}, in the page alloc_pages gave out"));
    }
    for p in [obj, obj2] {
        let out = q.cmd(&format!("ksize {p:#x}"));
        q.expect_in("ksize", &out, "= 64");
        q.cmd_silent(&format!("kfree {p:#x}"));
    }
    q.cmd_silent(&format!("free_pages {got:#x} 0"));

    // kmalloc-4k: an order-3 slab; any page of it is refused.
    let (obj, _) = kmalloc(&mut q, 4096);
    for k in 0..2 {
        let p = (obj & !(8 * PAGE - 1)) + k * PAGE;
        let out = q.cmd(&format!("free_pages {p:#x} 0"));
        q.expect_in("free_pages of a kmalloc-4k slab page", &out, "BUG: Bad page state");
    }
    q.cmd_silent(&format!("kfree {obj:#x}"));

    // A large kmalloc: the page allocator names its owner and refuses; kfree frees it.
    let (big, line) = kmalloc(&mut q, 16384);
    q.expect_in("kmalloc 16384", &line, "kmalloc_large order 2");
    let out = q.cmd(&format!("free_pages {big:#x} 2"));
    q.expect_in("free_pages of a large kmalloc", &out, "BUG: Bad page state");
    q.expect_in("free_pages of a large kmalloc", &out, "page belongs to kmalloc_large");
    let out = q.cmd("alloc_pages 0");
    let got = hex_numbers(&out)[2];
    if got & !(4 * PAGE - 1) == big {
        q.fail(&format!("a page of the large kmalloc at {big:#x} was handed out:\n{out}"));
    }
    let out = q.cmd(&format!("kfree {:#x}", big + PAGE));
    q.expect_in("kfree inside a large block", &out, "inside the kmalloc_large block");
    q.cmd_silent(&format!("kfree {big:#x}"));
    // The old pointer is now refused; the page alloc_pages gave out is not kfree's to free.
    let out = q.cmd(&format!("kfree {big:#x}"));
    q.expect_in("kfree after kfree", &out, "kfree: invalid pointer");
    let out = q.cmd(&format!("kfree {got:#x}"));
    q.expect_in(
        "kfree of an alloc_pages page",
        &out,
        "(not a slab or kmalloc page: the page belongs to",
    );
    q.cmd_silent(&format!("free_pages {got:#x} 0"));
    q.poweroff_ok();
}

/// xorshift64*: the session is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// Issue 16.1's random session: kmalloc, kfree, ksize, alloc_pages and page frees aimed at
/// slab pages, large kmalloc blocks and stale pointers. Every kfree and ksize must do exactly
/// what the session's own bookkeeping says (work on live objects, be refused otherwise), page
/// frees must work on the session's pages only, and no address kmalloc returns may lie in a
/// page alloc_pages handed out (nor the other way round).
#[test]
fn a_random_session_never_shares_memory_between_owners() {
    let mut q = boot();
    let mut rng = Rng(0x5eed_51ab_0000_0001);
    let sizes = [1u64, 64, 100, 192, 500, 2048, 4096, 8192, 8193, 20000, 0];
    let mut live: BTreeMap<u64, u64> = BTreeMap::new(); // object -> bytes it spans
    let mut dead: Vec<u64> = Vec::new();
    let mut pages: BTreeSet<u64> = BTreeSet::new(); // alloc_pages order 0, by address
    let overlaps = |live: &BTreeMap<u64, u64>, page: u64| {
        live.iter().any(|(&a, &n)| a < page + PAGE && page < a + n)
    };
    for step in 0..300 {
        let known: Vec<u64> = live.keys().chain(dead.iter()).copied().collect();
        let target = if known.is_empty() { 0x8000_0000 } else { rng.pick(&known) };
        let cmd = match rng.next() % 10 {
            0..=2 => format!("kmalloc {}", rng.pick(&sizes)),
            3 | 4 => format!("kfree {target:#x}"),
            5 => format!("ksize {:#x}", target + rng.pick(&[0, 0, 8, PAGE])),
            6 => format!("free_pages {:#x} {}", target & !(PAGE - 1), rng.pick(&[0, 2])),
            7 => format!("__free_pages {:#x} 0", pfn(target & !(PAGE - 1))),
            8 => "alloc_pages 0 GFP_KERNEL|__GFP_ZERO".to_string(),
            _ => match pages.iter().next().copied() {
                Some(p) => format!("free_pages {p:#x} 0"),
                None => "alloc_pages 0".to_string(),
            },
        };
        let out = q.cmd(&cmd);
        let what = format!("step {step}: `{cmd}`");
        for bad in [
            "Internal error",
            "Unable to handle",
            "Kernel panic",
            "Freepointer corrupt",
            "no slab state",
        ] {
            if out.contains(bad) {
                q.fail(&format!("{what} printed {bad:?}:\n{out}"));
            }
        }
        let verb = cmd.split_whitespace().next().unwrap();
        let arg = hex_numbers(&cmd).first().copied().unwrap_or(0);
        match verb {
            "kmalloc" => {
                let n = cmd[8..].parse::<u64>().unwrap();
                if n == 0 {
                    continue;
                }
                let p = hex_numbers(q.line_with(&what, &out, "kmalloc("))[0];
                let span = if n > 8192 { n.next_power_of_two().max(4 * PAGE) } else { n.max(1) };
                if pages.iter().any(|&pg| p < pg + PAGE && pg < p + span) {
                    q.fail(&format!("{what}: {p:#x} lies in a page alloc_pages handed out"));
                }
                live.insert(p, span);
                dead.retain(|&d| d != p);
            }
            "kfree" => {
                if live.remove(&arg).is_some() {
                    if !out.trim().is_empty() {
                        q.fail(&format!("{what}: kfree of a live object failed:\n{out}"));
                    }
                    dead.push(arg);
                } else if !out.contains("kfree: ") {
                    q.fail(&format!("{what}: kfree of a dead pointer was accepted"));
                }
            }
            "ksize" => {
                let ok = live.contains_key(&arg);
                if ok != out.contains(&format!("ksize({arg:#010x}) = ")) {
                    q.fail(&format!("{what}: live={ok}, but:\n{out}"));
                }
            }
            "alloc_pages" => {
                let p = hex_numbers(&out)[2];
                if overlaps(&live, p) {
                    q.fail(&format!("{what}: page {p:#x} holds a live kmalloc object"));
                }
                pages.insert(p);
            }
            _ => {
                let page =
                    if verb == "__free_pages" { page_offset("2G") + arg * PAGE } else { arg };
                let own = cmd.ends_with(" 0") && pages.remove(&page);
                if own == out.contains("BUG: Bad page state") {
                    q.fail(&format!("{what}: own page: {own}, but:\n{out}"));
                }
            }
        }
    }
    // Everything still works: fresh objects of every cache, distinct and of the right size.
    for size in [64u64, 128, 192, 256, 512, 1024, 2048, 4096, 8192] {
        let mut got = BTreeSet::new();
        for _ in 0..3 {
            let (p, line) = kmalloc(&mut q, size);
            q.expect_in("kmalloc after the session", &line, &format!("ksize {size})"));
            let inside = live.range(..=p).next_back().is_some_and(|(&a, &n)| p < a + n);
            if !got.insert(p) || inside {
                q.fail(&format!("kmalloc {size} returned {p:#x} twice or over a live object"));
            }
        }
        for p in got {
            q.cmd_silent(&format!("kfree {p:#x}"));
        }
    }
    for (p, _) in live {
        q.cmd_silent(&format!("kfree {p:#x}"));
    }
    for p in pages {
        q.cmd_silent(&format!("free_pages {p:#x} 0"));
    }
    q.poweroff_ok();
}
