//! The arm64 kernel's console commands (the shared `console::mini` loop feeds them) over the
//! polled PL011: the commands
//! that need no processes (memory reports, the layout, page-table walks and dumps, address
//! conversion, probing reads and writes, a NULL dereference's oops). `run` and the other
//! process commands answer that processes are not built for arm64 yet.
use core::fmt::Write;
use core::sync::atomic::Ordering;

use super::boot;
use super::esr;
use super::layout::{self, Layout};
use super::pgtable::{self, DescKind};
use super::traps;
use crate::board::raspi::uart::UartWriter;
use crate::config::VA_BITS;

/// The prompt, as the 32-bit console's.
pub const PROMPT: &str = "pivm# ";

/// A number argument: decimal, or hexadecimal with `0x` (up to 64 bits).
fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16).ok(),
        None => s.parse().ok(),
    }
}

/// What the console needs from boot.
#[derive(Clone, Copy)]
pub struct ShellState {
    pub layout: Layout,
    /// Where `mem_map` lives (virtual `[start, end)`), for the banner's vmemmap line.
    pub mem_map: Option<(u64, u64)>,
}

static STATE: spin::Once<ShellState> = spin::Once::new();

/// Records the boot's results for the commands.
pub fn set_state(s: ShellState) {
    STATE.call_once(|| s);
}

fn state() -> &'static ShellState {
    STATE.get().expect("the console starts after boot")
}

const HELP: &[(&str, &str)] = &[
    ("help", "this list"),
    ("meminfo", "/proc/meminfo (also: cat /proc/meminfo)"),
    ("buddyinfo", "/proc/buddyinfo"),
    ("zoneinfo", "/proc/zoneinfo"),
    ("cat /proc/F", "meminfo, buddyinfo, zoneinfo, pagetypeinfo, slabinfo, vmallocinfo, cpuinfo, interrupts, uptime, stat"),
    ("verify", "every allocator's invariant checks: verify: ok or the first broken one"),
    ("kmalloc SIZE", "kmalloc SIZE bytes (GFP_KERNEL) and print the object"),
    ("kfree ADDR", "free an object the console kmalloc'ed"),
    ("vmalloc SIZE", "vmalloc SIZE bytes and print the area"),
    ("vfree ADDR", "free an area the console vmalloc'ed"),
    ("jiffies", "the tick count, the ticks since boot and the counter's time"),
    ("layout", "the arm64 virtual memory layout banner"),
    ("pt VA", "walk VA through swapper_pg_dir, each level's descriptor decoded"),
    ("ptdump", "the kernel's mappings, merged, under arm64's section names"),
    ("v2p VA", "linear-map address to physical"),
    ("p2v PA", "physical address to its linear-map address"),
    ("peek ADDR", "read a 32-bit word (a fault is reported, not an oops)"),
    ("poke ADDR VALUE", "write a 32-bit word (a fault is reported, not an oops)"),
    ("crash null", "read address 0: arm64 Linux's oops, then the console again"),
    ("run PATH", "not on arm64 yet (processes are the next stage)"),
    ("poweroff", "leave QEMU (semihosting)"),
];

/// Runs one command, given as its words.
pub fn run(a: &[&str]) {
    let mut w = UartWriter;
    let Some(&cmd) = a.first() else { return };
    let num = |i: usize| -> Option<u64> {
        match a.get(i).map(|s| parse_num(s)) {
            Some(Some(v)) => Some(v),
            Some(None) => {
                let _ = writeln!(
                    UartWriter,
                    "{cmd}: {:?} is not a number (decimal, or hex with 0x)",
                    a[i]
                );
                None
            }
            None => {
                let _ = writeln!(UartWriter, "{cmd}: missing argument (help lists the usage)");
                None
            }
        }
    };
    match (cmd, a.get(1).copied()) {
        ("help", _) => {
            for (u, h) in HELP {
                let _ = writeln!(w, "  {u:<16} {h}");
            }
        }
        ("cat", Some(f)) => {
            let _ = writeln!(
                w,
                "cat: {f}: not available on the arm64 kernel yet (meminfo, buddyinfo, \
                 zoneinfo, pagetypeinfo, slabinfo, vmallocinfo, cpuinfo, interrupts, uptime, stat are)"
            );
        }
        ("layout", _) => write_banner(&mut w),
        ("pt", _) => {
            if let Some(va) = num(1) {
                pt(&mut w, va);
            }
        }
        ("ptdump", _) => ptdump(&mut w),
        ("v2p", _) => {
            if let Some(va) = num(1) {
                match state().layout.virt_to_phys(va) {
                    Some(pa) => {
                        let _ = writeln!(w, "{va:#018x} -> {pa:#x}");
                    }
                    None => {
                        let _ = writeln!(
                            w,
                            "v2p: {va:#x} is not in the linear map (RAM at {:#x}-{:#x})",
                            state().layout.page_offset,
                            state().layout.high_memory
                        );
                    }
                }
            }
        }
        ("p2v", _) => {
            if let Some(pa) = num(1) {
                match state().layout.phys_to_virt(pa) {
                    Some(va) => {
                        let _ = writeln!(w, "{pa:#x} -> {va:#018x}");
                    }
                    None => {
                        let _ = writeln!(
                            w,
                            "p2v: {pa:#x} is not RAM ({:#x}-{:#x})",
                            state().layout.ram_start,
                            state().layout.ram_end
                        );
                    }
                }
            }
        }
        ("peek", _) => {
            if let Some(addr) = num(1) {
                if !addr.is_multiple_of(4) {
                    let _ = writeln!(w, "peek: {addr:#x} is not word aligned");
                } else {
                    match traps::probe_read_u32(addr) {
                        Ok(v) => {
                            let _ = writeln!(w, "{addr:#018x}: {v:#010x}");
                        }
                        Err((e, far)) => report_fault(&mut w, "peek", far, e),
                    }
                }
            }
        }
        ("poke", _) => {
            if let (Some(addr), Some(v)) = (num(1), num(2)) {
                if !addr.is_multiple_of(4) || v > u64::from(u32::MAX) {
                    let _ = writeln!(w, "poke: need a word-aligned address and a 32-bit value");
                } else {
                    match traps::probe_write_u32(addr, v as u32) {
                        Ok(()) => {
                            let _ = writeln!(w, "{addr:#018x} <- {v:#010x}");
                        }
                        Err((e, far)) => report_fault(&mut w, "poke", far, e),
                    }
                }
            }
        }
        ("crash", Some("null")) => {
            // SAFETY: deliberately not: the load from NULL faults and oopses, which is the
            // point of the command; the oops path restarts the console.
            let v = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
            let _ = writeln!(w, "crash: NULL read returned {v:#x} (no fault?)");
        }
        ("crash", _) => {
            let _ = writeln!(
                w,
                "crash: usage: crash null (exec, undef and stack are not on arm64 yet)"
            );
        }
        ("run" | "jobs" | "fg" | "bg" | "kill" | "ps", _) => {
            let _ = writeln!(
                w,
                "{cmd}: processes are not built for arm64 yet (the 32-bit kernel runs them)"
            );
        }
        ("poweroff", _) => {
            let _ = writeln!(w, "reboot: Power down");
            super::semihosting::exit(0);
        }
        _ => {
            let _ = writeln!(w, "{cmd}: unknown command (help lists them)");
        }
    }
}

fn report_fault(w: &mut impl Write, what: &str, far: u64, e: u64) {
    let _ = writeln!(
        w,
        "{what}: {far:#018x}: fault, ESR {e:#010x} ({}: {}), fixed up",
        esr::class_string(esr::ec(e)),
        esr::fsc_name(e)
    );
}

/// The layout banner with the live section boundaries and mem_map.
pub fn write_banner(w: &mut impl Write) {
    let mm = state().mem_map.map(|(start, end)| layout::MemMapRange { start, end });
    let _ = layout::write_banner(w, &state().layout, &boot::sections(), mm);
}

fn pt(w: &mut impl Write, va: u64) {
    let l = &state().layout;
    if va >> 63 == 0 {
        let _ = writeln!(w, "pt: {va:#x} is a user (TTBR0) address: TTBR0 holds the empty reserved_pg_dir (no processes yet)");
        return;
    }
    if va < l.page_offset {
        let _ = writeln!(w, "pt: {va:#x} is below PAGE_OFFSET {:#x}: outside the {VA_BITS}-bit TTBR1 range (a fault for any access)", l.page_offset);
        return;
    }
    let root = boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    let walk = pgtable::walk(va, VA_BITS, root, traps::read_table);
    let _ = writeln!(
        w,
        "swapper_pg_dir at {root:#x}, {} ({})",
        l.region_of(va).unwrap_or("unused"),
        if va >= l.kimage_vaddr && va < l.kimage_vaddr + 0x100_0000 { "kernel image" } else { "" }
    );
    let _ = pgtable::write_walk(w, va, VA_BITS, &walk);
    // The MMU's own translation (AT S1E1R) next to the software walk.
    let par = translate(va);
    if par & 1 == 0 {
        let _ =
            writeln!(w, "  MMU (AT S1E1R): {:#x}", (par & 0x0000_ffff_ffff_f000) | (va & 0xfff));
    } else {
        let _ = writeln!(w, "  MMU (AT S1E1R): fault, FST {:#04x}", (par >> 1) & 0x3f);
    }
}

/// `AT S1E1R` and PAR_EL1.
fn translate(va: u64) -> u64 {
    use aarch64_cpu::registers::{Readable, PAR_EL1};
    // SAFETY: address translation has no side effect beyond PAR_EL1.
    unsafe { core::arch::asm!("at s1e1r, {}", in(reg) va, options(nostack)) };
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    PAR_EL1.get()
}

/// One merged run of `ptdump`.
#[derive(Clone, Copy)]
struct Run {
    start: u64,
    end: u64,
    pa: u64,
    attrs: u64,
    level: u32,
}

fn ptdump(w: &mut impl Write) {
    let l = state().layout;
    let root = boot::SWAPPER_PG_DIR.load(Ordering::Relaxed);
    let levels = super::memory::pgtable_levels(VA_BITS);
    let mut cur: Option<Run> = None;
    let mut region: Option<&'static str> = None;
    // Depth-first over the tables, leaves in address order.
    let mut flush = |w: &mut dyn core::fmt::Write, r: Run| {
        let name = l.region_of(r.start).unwrap_or("");
        if region != Some(name) {
            let _ = writeln!(w, "---[ {name} ]---");
            region = Some(name);
        }
        let size = r.end - r.start;
        let (n, unit) = if size >= 1 << 30 && size.is_multiple_of(1 << 30) {
            (size >> 30, "G")
        } else if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
            (size >> 20, "M")
        } else {
            (size >> 10, "K")
        };
        let _ = writeln!(
            w,
            "{:#018x}-{:#018x} {n:>5}{unit} {} {} -> {:#x}",
            r.start,
            r.end,
            pgtable::span_name(r.level),
            pgtable::LeafAttrs(r.attrs),
            r.pa
        );
    };
    let top_entries = 1u64 << (VA_BITS - (12 + 9 * (levels - 1)));
    let base = l.page_offset;
    let mut stack: [(u64, u64, u32, u64); 5] = [(0, 0, 0, 0); 5];
    let mut depth = 0usize;
    stack[0] = (root, base, pgtable::hw_level(levels, 0), 0);
    let mut w2 = WriteAdapter(w);
    'outer: loop {
        let (table, va_base, level, idx) = stack[depth];
        let limit = if depth == 0 { top_entries } else { 512 };
        if idx >= limit {
            if depth == 0 {
                break 'outer;
            }
            depth -= 1;
            stack[depth].3 += 1;
            continue;
        }
        let span = pgtable::entry_span(level);
        let va = va_base + idx * span;
        let desc = traps::read_table(table + idx * 8).unwrap_or(0);
        match pgtable::desc_kind(desc, level) {
            DescKind::Table { next } => {
                depth += 1;
                stack[depth] = (next, va, level + 1, 0);
                continue;
            }
            DescKind::Block { pa } | DescKind::Page { pa } => {
                let attrs = desc & !pgtable::PTE_ADDR_MASK;
                let merged = match cur.as_mut() {
                    Some(r)
                        if r.end == va
                            && r.attrs == attrs
                            && r.level == level
                            && r.pa + (r.end - r.start) == pa =>
                    {
                        r.end = va + span;
                        true
                    }
                    _ => false,
                };
                if !merged {
                    if let Some(r) = cur.take() {
                        flush(&mut w2, r);
                    }
                    cur = Some(Run { start: va, end: va + span, pa, attrs, level });
                }
            }
            _ => {
                if let Some(r) = cur.take() {
                    flush(&mut w2, r);
                }
            }
        }
        stack[depth].3 += 1;
    }
    if let Some(r) = cur.take() {
        flush(&mut w2, r);
    }
    let _ = writeln!(w2, "---[ End ]---");
}

/// A `dyn Write` over any writer.
struct WriteAdapter<'a, W: Write>(&'a mut W);

impl<W: Write> Write for WriteAdapter<'_, W> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_str(s)
    }
}
