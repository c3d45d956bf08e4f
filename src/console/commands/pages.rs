//! Commands that drive the page allocator by hand: `alloc_pages`, `free_pages`,
//! `__free_pages`, the `frag` workloads and `memtest`. Every block they take is the
//! console's (`PageOwner::Console`) and they free only the console's blocks, so no command
//! can give back a page the kernel holds for something else, or be handed one.
use crate::kernel::spinlock::SpinLock;

use super::{arg_pfn, expect_args, CmdError, CmdResult};
use crate::config::MAX_ORDER;
use crate::console::args::{parse_addr, parse_u32, Args};
use crate::console::printk::Console;
use crate::console::Count;
use crate::kernel::mem::{show_mem_stats, with_node, with_page_mapped};
use crate::kernel::vmalloc;
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::{write_alloc_failure, AllocError, Node, NodeStats, DEFAULT_COMM};
use crate::mm::zone::ZoneType;
use crate::mm::{Pfn, VirtAddr, PAGE_SIZE};

/// Prints Linux's allocation-failure report when the request wants one, else the short error.
fn report_alloc_error(node: &Node<'_>, stats: &NodeStats, e: &AllocError) {
    match e {
        _ if e.should_warn() => {
            let _ =
                write_alloc_failure(&mut Console, DEFAULT_COMM, e.gfp(), e.order(), node, stats);
        }
        AllocError::NoMemory { order, .. } => {
            kprintln!("alloc_pages: order {} failed (no report: __GFP_NOWARN)", order)
        }
        _ => kprintln!("{}", e),
    }
}

fn parse_order(args: &Args<'_>, i: usize) -> Result<u32, CmdError> {
    match parse_u32(args.get(i).unwrap_or("")) {
        Ok(o) if (o as usize) < MAX_ORDER => Ok(o),
        Ok(o) => fail!(args, "order {} out of range (0-{})", o, MAX_ORDER - 1),
        Err(e) => fail!(args, "{}", e),
    }
}

pub(super) fn cmd_alloc_pages(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if !(2..=3).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let order = parse_order(args, 1)?;
    let gfp = match args.get(2) {
        None => GfpFlags::GFP_KERNEL,
        Some(s) => match GfpFlags::parse(s) {
            Ok(g) => g,
            Err(e) => fail!(args, "{}", e),
        },
    };
    // An empty mask shows as Linux's `mode:%#x(%pGg)` does, `0x0()`, not as nothing.
    let gfp_name =
        if gfp.is_empty() { format_args!("{:#x}()", 0) } else { format_args!("{}", gfp) };
    // Allocate first, print after: what the allocation itself reports (page poisoning)
    // comes out at the moment it happens, before the result, as in Linux.
    match with_node(|node| node.alloc_pages_for(PageOwner::Console, gfp, order)) {
        Ok(pfn) => with_node(|node| {
            let zone = node.page_zone(pfn).map_or("?", |z| z.name());
            match node.page_address(pfn) {
                Some(va) => kprintln!(
                    "order {} {} -> pfn {:#x} phys {:#010x} virt {:#010x} ({})",
                    order, gfp_name, pfn.0, pfn.phys().0, va.0, zone
                ),
                None => kprintln!(
                    "order {} {} -> pfn {:#x} phys {:#010x} ({}: no permanent mapping; free it with __free_pages)",
                    order, gfp_name, pfn.0, pfn.phys().0, zone
                ),
            }
            Ok(())
        }),
        Err(e) => {
            // A failed allocation changed nothing: the counters read now are the failure's.
            let stats = show_mem_stats();
            with_node(|node| report_alloc_error(node, &stats, &e));
            Err(CmdError::Reported)
        }
    }
}

pub(super) fn cmd_free_pages(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 3)?;
    let addr = match parse_addr(args.get(1).unwrap_or("")) {
        Ok(a) => a,
        Err(e) => fail!(args, "{}", e),
    };
    let order = parse_order(args, 2)?;
    with_node(|node| {
        match node.free_pages_addr_for(PageOwner::Console, VirtAddr(addr as usize), order) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = e.write_report(&mut Console, DEFAULT_COMM);
                Err(CmdError::Reported)
            }
        }
    })
}

pub(super) fn cmd_free_pages_pfn(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 3)?;
    let pfn = arg_pfn(args, 1)?;
    let order = parse_order(args, 2)?;
    with_node(|node| match node.free_pages_for(PageOwner::Console, pfn, order) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = e.write_report(&mut Console, DEFAULT_COMM);
            Err(CmdError::Reported)
        }
    })
}

/// Pages a `frag` workload holds, recorded in a buffer of page frame numbers that itself
/// comes from the page allocator (a kmalloc of up to 1 MiB would exceed KMALLOC_MAX_SIZE).
/// The held pages are the console's; the buffer is the kernel's own (`PageOwner::Kernel`),
/// so no console free can take it away while the workload writes to it.
struct Held {
    /// First page of the buffer (lowmem), its linear address and its order.
    buf: Option<(Pfn, u64, u32)>,
    count: usize,
}

static HELD: SpinLock<Held> = SpinLock::new(Held { buf: None, count: 0 });

/// The PFN slots of the workload's bookkeeping buffer (none without one), borrowed from
/// `held` so they cannot outlive the lock or the buffer.
fn slots(held: &mut Held) -> &mut [u32] {
    let Some((_, va, order)) = held.buf else { return &mut [] };
    // SAFETY: the buffer is a lowmem block of `PAGE_SIZE << order` bytes at its linear address
    // `va`, owned by the workload and reached only under HELD's lock, which `held` borrows
    // for as long as the slice lives.
    unsafe {
        core::slice::from_raw_parts_mut(
            va as usize as *mut u32,
            ((PAGE_SIZE << order) / 4) as usize,
        )
    }
}

/// The zones `frag` accepts, by Linux's names.
fn zone_by_name(name: &str) -> Option<ZoneType> {
    [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::HighMem]
        .into_iter()
        .find(|z| z.name().eq_ignore_ascii_case(name))
}

/// `frag checkerboard [ZONE]`: take every order-0 page the zone will give (down to its min
/// watermark), then free every other one, so no two free pages are buddies: the zone keeps
/// plenty of free memory but nothing above order 0. `frag release` frees what is held.
pub(super) fn cmd_frag(_: &Kernel, args: &Args<'_>) -> CmdResult {
    match (args.get(1), args.len()) {
        (Some("checkerboard"), 2 | 3) => {
            let zone = match args.get(2) {
                None => ZoneType::Normal,
                Some(n) => match zone_by_name(n) {
                    Some(z) => z,
                    None => fail!(args, "unknown zone '{}' (DMA, Normal, HighMem)", n),
                },
            };
            checkerboard(args, zone)
        }
        (Some("release"), 2) => {
            let freed = release();
            kprintln!("frag: released {}", Count(freed, "page"));
            Ok(())
        }
        _ => Err(CmdError::Usage),
    }
}

/// GFP mask whose highest zone is `zone`.
fn gfp_for(zone: ZoneType) -> GfpFlags {
    let base = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN;
    match zone {
        ZoneType::Dma => base | GfpFlags::__GFP_DMA,
        ZoneType::Dma32 => base | GfpFlags::__GFP_DMA32,
        ZoneType::Normal => base,
        ZoneType::HighMem => base | GfpFlags::__GFP_HIGHMEM,
        ZoneType::Movable => base | GfpFlags::__GFP_HIGHMEM | GfpFlags::__GFP_MOVABLE,
    }
}

fn checkerboard(args: &Args<'_>, zone: ZoneType) -> CmdResult {
    let mut held = HELD.lock();
    if held.buf.is_some() {
        fail!(
            args,
            "a workload already holds {}: run 'frag release' first",
            Count(held.count, "page")
        );
    }
    // The zone is looked at before anything is taken, so a zone this kernel lacks or that
    // has no memory costs nothing.
    let present = with_node(|node| node.zone(zone).present_pages());
    if present == 0 {
        fail!(args, "zone {} is empty", zone.name());
    }
    let bytes = present * 4;
    let order = bytes.div_ceil(PAGE_SIZE).next_power_of_two().trailing_zeros();
    let buf = with_node(|node| {
        let gfp = GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NOWARN;
        let pfn = node.alloc_pages_for(PageOwner::Kernel, gfp, order).ok()?;
        Some((pfn, node.page_address(pfn)?.as_u64(), order))
    });
    let Some(buf) = buf else { fail!(args, "no room for the bookkeeping buffer") };
    held.buf = Some(buf);
    let slots = slots(&mut held);
    let gfp = gfp_for(zone);
    let mut taken = 0;
    let mut interrupted = false;
    let kept = with_node(|node| {
        while taken < slots.len() {
            if crate::console::interrupted() {
                // Ctrl-C: give back what was taken, then the buffer below.
                for &p in &slots[..taken] {
                    let _ = node.free_pages_for(PageOwner::Console, Pfn(u64::from(p)), 0);
                }
                interrupted = true;
                return 0;
            }
            let Ok(pfn) = node.alloc_pages_for(PageOwner::Console, gfp, 0) else { break };
            if node.page_zone(pfn) != Some(zone) {
                // The request fell back to a lower zone: this zone is exhausted.
                let _ = node.free_pages_for(PageOwner::Console, pfn, 0);
                break;
            }
            slots[taken] = pfn.0 as u32;
            taken += 1;
        }
        // Free every other page (by PFN parity, so freed pages never have a free buddy).
        let mut kept = 0;
        for i in 0..taken {
            let pfn = Pfn(u64::from(slots[i]));
            if pfn.0 % 2 == 1 {
                let _ = node.free_pages_for(PageOwner::Console, pfn, 0);
            } else {
                slots[kept] = slots[i];
                kept += 1;
            }
        }
        kprintln!(
            "frag: checkerboard {}: took {}, freed {} (odd PFNs), holding {}",
            zone.name(),
            Count(taken, "page"),
            taken - kept,
            kept
        );
        kept
    });
    if interrupted {
        if let Some((buf, _, order)) = held.buf.take() {
            let _ = with_node(|node| node.free_pages_for(PageOwner::Kernel, buf, order));
        }
        kprintln!("frag: interrupted after taking {}; everything freed", Count(taken, "page"));
        return Ok(());
    }
    held.count = kept;
    Ok(())
}

/// Frees everything a workload holds, then its buffer; returns the pages freed.
fn release() -> usize {
    let mut held = HELD.lock();
    let Some((buf, _, order)) = held.buf else { return 0 };
    let n = held.count;
    let pfns = slots(&mut held);
    with_node(|node| {
        for &p in &pfns[..n] {
            let _ = node.free_pages_for(PageOwner::Console, Pfn(u64::from(p)), 0);
        }
        let _ = node.free_pages_for(PageOwner::Kernel, buf, order);
    });
    held.buf = None;
    held.count = 0;
    n
}

/// Mixed into every word memtest writes, so that zero-filled memory never passes.
const MEMTEST_XOR: u32 = 0x5555_aaaa;
/// Words at the start of each block that hold the list link (next PFN, next order).
const LINK_WORDS: usize = 2;
const NO_NEXT: u32 = u32::MAX;

/// Words of one page frame, for the duration of `f`: lowmem through the linear map, highmem
/// through `kmap` (a pkmap slot), as kernel code reaches any page. `None` if the page could
/// not be mapped at all.
fn with_words<R>(pfn: Pfn, f: impl FnOnce(&mut [u32]) -> R) -> Option<R> {
    let Ok(va) = vmalloc::kmap(pfn) else {
        // No pkmap slot free: fall back to the kmap_atomic fixmap slot.
        return with_page_mapped(pfn, |va| f(page_words(va as u64))).ok();
    };
    let r = f(page_words(va));
    let _ = vmalloc::kunmap(pfn);
    Some(r)
}

/// The words of the page mapped at `va`.
fn page_words<'a>(va: u64) -> &'a mut [u32] {
    // SAFETY: `va` maps a whole page frame that memtest owns while it runs.
    unsafe { core::slice::from_raw_parts_mut(va as usize as *mut u32, (PAGE_SIZE / 4) as usize) }
}

/// The value memtest expects in the word at physical address `pa`.
fn memtest_word(pa: u64) -> u32 {
    pa as u32 ^ MEMTEST_XOR
}

/// `memtest`: takes every free page (lowmem and highmem, ignoring watermarks as a
/// `__GFP_MEMALLOC` allocation may; highmem pages reached through `kmap`), writes each word's
/// own physical address (scrambled) into it, reads every page back once all are written (so
/// two pages sharing memory would show), frees everything, and checks that the free page count
/// is what it was. The per-CPU lists are drained first and last, so that every free page is
/// counted and tested. Last, it runs `verify` and prints its answer.
pub(super) fn cmd_memtest(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let drained = with_node(|n| n.drain_all_pages());
    if drained > 0 {
        kprintln!("memtest: {} drained from the per-CPU lists", Count(drained, "page"));
    }
    let before = with_node(|n| n.nr_free_pages());
    // Movable, so the CMA area's free pages are tested too.
    let gfp = GfpFlags::GFP_HIGHUSER_MOVABLE | GfpFlags::__GFP_MEMALLOC | GfpFlags::__GFP_NOWARN;
    let mut head = (NO_NEXT, 0u32);
    let (mut pages, mut high) = (0u64, 0u64);
    let mut unreachable: Option<Pfn> = None;
    kprintln!("memtest: {}", Count(before, "free page"));
    let mut interrupted = false;
    'alloc: for order in (0..MAX_ORDER as u32).rev() {
        while let Ok(pfn) = with_node(|n| n.alloc_pages_for(PageOwner::Console, gfp, order)) {
            let mut reached = true;
            for p in pfn.0..pfn.0 + (1 << order) {
                reached &= with_words(Pfn(p), |w| {
                    let base = p << 12;
                    for (i, word) in w.iter_mut().enumerate() {
                        *word = memtest_word(base + 4 * i as u64);
                    }
                })
                .is_some();
            }
            reached &= with_words(pfn, |w| {
                w[0] = head.0;
                w[1] = head.1;
            })
            .is_some();
            if !reached {
                // Not on the list: give it back now, and stop taking this order (the same
                // block would come back first).
                unreachable.get_or_insert(pfn);
                let _ = with_node(|n| n.free_pages_for(PageOwner::Console, pfn, order));
                break;
            }
            head = (pfn.0 as u32, order);
            pages += 1 << order;
            if with_node(|n| n.page_is_highmem(pfn)) {
                high += 1 << order;
            }
            if crate::console::interrupted() {
                interrupted = true;
                break 'alloc;
            }
        }
    }
    // Verify every page, then free every block.
    let mut bad: Option<(u64, u32, u32)> = None;
    let mut cur = head;
    while cur.0 != NO_NEXT {
        let (pfn, order) = (u64::from(cur.0), cur.1);
        let mut next = (NO_NEXT, 0);
        for p in pfn..pfn + (1 << order) {
            let read = with_words(Pfn(p), |w| {
                let skip = if p == pfn { LINK_WORDS } else { 0 };
                if p == pfn {
                    next = (w[0], w[1]);
                }
                if bad.is_none() && !interrupted {
                    let base = p << 12;
                    bad = w.iter().enumerate().skip(skip).find_map(|(i, &v)| {
                        let pa = base + 4 * i as u64;
                        (v != memtest_word(pa)).then_some((pa, v, memtest_word(pa)))
                    });
                }
            });
            if read.is_none() {
                unreachable.get_or_insert(Pfn(p));
            }
        }
        let _ = with_node(|n| n.free_pages_for(PageOwner::Console, Pfn(pfn), order));
        cur = next;
        // Ctrl-C while verifying: stop checking, but free every block.
        interrupted = interrupted || crate::console::interrupted();
    }
    let after = with_node(|n| {
        n.drain_all_pages();
        n.nr_free_pages()
    });
    match (bad, unreachable) {
        (_, Some(pfn)) => {
            kprintln!("memtest: FAILED: pfn {:#x} could not be mapped", pfn.0)
        }
        (Some((pa, got, want)), None) => {
            kprintln!(
                "memtest: FAILED at phys {:#010x}: read {:08x}, expected {:08x}",
                pa,
                got,
                want
            )
        }
        (None, None) if after != before => kprintln!(
            "memtest: FAILED: {} free before, {} after (MemFree {} kB -> {} kB)",
            Count(before, "page"),
            after,
            before * 4,
            after * 4
        ),
        (None, None) if interrupted => {
            kprintln!("memtest: interrupted after {}; everything freed", Count(pages, "page"))
        }
        (None, None) => kprintln!("memtest: ok, {} ({} highmem)", Count(pages, "page"), high),
    }
    super::verify::print_verify();
    Ok(())
}
