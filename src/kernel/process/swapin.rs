//! A process's pages and swap, the kernel halves: `do_swap_page`'s swap-in with the VMA-based
//! read-ahead (`swapin_readahead`), the mapping of a swapped-in page, and `swapoff`'s
//! `try_to_unuse` over every address space (its reads wait with the task table free). The arch-neutral fault path
//! (`mm::memory::do_swap_page`) calls the first two through `FaultEnv`.
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::iowait;
use super::mm::{add_shared_mapping, MmHw};
use crate::abi::errno::Errno;
use crate::arch::process::{self as arch, UserPteProt};
use crate::kernel::swap::{self, SwapRead};
use crate::mm::memory::{FaultError, SwapPage};
use crate::mm::mm_types::{VmFlags, Vma, PAGE_MASK, PAGE_SIZE};
use crate::mm::swap_state::{ra_on_hit, swap_ra_info};
use crate::mm::swapops::SwpEntry;
use crate::mm::Pfn;

/// `swapin_page` of `do_swap_page`: the swap cache first (a minor fault; a page read ahead
/// counts a hit for the VMA's window), else `swap_vma_readahead`: the reads of the swap PTEs
/// of the window around `va` submitted in address order (pages other than the fault's are
/// `PG_readahead` and count `swap_ra`), the fault's among them (a major fault). The fault
/// does not wait here, under the task table's lock: it returns `retry` with the last bio
/// submitted as the one to wait for (requests complete in order, so the whole window is in
/// then, as Linux's plugged window completes together), sleeps with the lock free, and runs
/// again (`folio_lock_or_retry`'s `VM_FAULT_RETRY`). A page whose read another fault started
/// is waited for the same way (not major: this fault read nothing).
pub(super) fn swapin_page(
    hw: &mut MmHw,
    vma: &Vma,
    va: usize,
    entry: SwpEntry,
) -> Result<SwapPage, FaultError> {
    let ra = hw.swap_ra.get(&vma.vm_start).copied().unwrap_or(0);
    if let Some((pfn, readahead)) = swap::lookup_swap_cache(entry) {
        hw.swap_ra.insert(vma.vm_start, ra_on_hit(ra, va, readahead));
        return Ok(SwapPage { pfn: pfn.0, major: false, retry: false });
    }
    if let Some((disk, done)) = swap::in_flight(entry) {
        // Another fault's read, or this VMA's read-ahead, is bringing it in.
        iowait::set_fault_wait(disk, done);
        return Ok(SwapPage { pfn: 0, major: false, retry: true });
    }
    let page_cluster = swap::PAGE_CLUSTER.load(Ordering::Relaxed);
    let w = swap_ra_info(ra, va, vma.vm_start, vma.vm_end, page_cluster);
    hw.swap_ra.insert(vma.vm_start, w.ra_val);
    let fault_va = va & PAGE_MASK;
    // The last bio submitted, and whether the fault's own page was among the window's.
    let mut last = None;
    let mut fault_started = false;
    // The window's reads under one plug, as 6.1's swap_vma_readahead holds one: slots next
    // to each other on the card go as one request. Nothing in the loop waits for a bio
    // (the allocations do not reclaim here), and the plug is finished before the fault
    // returns to wait for the last of them.
    let mut plug = swap::SwapPlug::new();
    if w.nr > 1 {
        for i in 0..w.nr {
            let a = w.start + i * PAGE_SIZE;
            let Some(e) = arch::get_user_swp_entry(hw.pgd, a) else { continue };
            if swap::in_cache(e) {
                continue;
            }
            let ahead = a != fault_va;
            if let Ok(SwapRead::InFlight(disk, done)) =
                swap::swap_read_start(e, ahead, a, Some(&mut plug))
            {
                if ahead {
                    swap::SWAP_RA.fetch_add(1, Ordering::Relaxed);
                } else {
                    fault_started = true;
                }
                last = Some((disk, done));
            }
        }
    }
    let read = swap::swap_read_start(entry, false, fault_va, Some(&mut plug));
    // blk_finish_plug: the window's bios go to the disk's queue, the driver starts.
    plug.finish();
    let (disk, done) = match read {
        Ok(SwapRead::Cached(pfn)) => return Ok(SwapPage { pfn: pfn.0, major: true, retry: false }),
        Ok(SwapRead::InFlight(disk, done)) => match last {
            Some(l) if fault_started => l,
            _ => (disk, done),
        },
        Err(Errno::ENOMEM) => return Err(FaultError::Oom),
        Err(_) => return Err(FaultError::Sigbus),
    };
    iowait::set_fault_wait(disk, done);
    Ok(SwapPage { pfn: 0, major: true, retry: true })
}

/// `do_swap_page` after the page is found: the mapping counted (a page some PTE maps already
/// gets one more mapping), `MM_ANONPAGES` +1, `MM_SWAPENTS` -1, `swap_free`, and the page out
/// of the swap cache when `should_try_to_free_swap` (a write fault to a page mapped nowhere
/// else, or swap more than half full) and no other swap PTE refers to its slot. Whether the
/// page is this mm's alone.
pub(super) fn swap_map_page(hw: &mut MmHw, entry: SwpEntry, pfn: Pfn, write_fault: bool) -> bool {
    let was_mapped = swap::mark_mapped(pfn);
    if was_mapped {
        add_shared_mapping(pfn);
    }
    hw.rss_anon += 1;
    hw.swapents -= 1;
    swap::swap_free(entry);
    if !was_mapped && (write_fault || swap::vm_swap_full()) {
        swap::try_free_swap(pfn);
    }
    !was_mapped && swap::page_swap_entry(pfn).is_none()
}

/// A swap PTE of the area being turned off: its process, address, entry, whether its VMA
/// is executable, and the VMA's bounds and `swap_readahead_info`.
#[derive(Clone, Copy)]
struct SwapPte {
    pid: u32,
    va: usize,
    e: SwpEntry,
    exec: bool,
    vm_start: usize,
    vm_end: usize,
    ra: usize,
}

/// `unuse_pte_range`'s walk over every address space, under the task table: the swap PTEs
/// of area `ty`.
fn swap_ptes_of(ty: u32) -> Vec<SwapPte> {
    let mut out = Vec::new();
    super::with_tasks(|t| {
        for task in t.map.values() {
            let Some(pm) = task.mm.as_ref() else { continue };
            for v in pm.mm.iter() {
                let exec = v.vm_flags.contains(VmFlags::EXEC);
                let ra = pm.hw.swap_ra.get(&v.vm_start).copied().unwrap_or(0);
                let (vm_start, vm_end) = (v.vm_start, v.vm_end);
                arch::for_each_user_swp_pte(pm.hw.pgd, vm_start, vm_end, |va, e| {
                    if e.swp_type() == ty {
                        out.push(SwapPte { pid: task.pid, va, e, exec, vm_start, vm_end, ra });
                    }
                });
            }
        }
    });
    out
}

/// `unuse_pte`: under the task table, the page mapped read-only and old at `va` of `pid` if
/// its PTE still holds `e` (`pte_same`: the process may have exited, faulted the page in or
/// unmapped it while the read ran); whether it was.
fn unuse_pte(pid: u32, va: usize, e: SwpEntry, exec: bool, pfn: Pfn) -> Result<bool, Errno> {
    super::with_tasks(|t| {
        let Some(pm) = t.map.get_mut(&pid).and_then(|x| x.mm.as_mut()) else { return Ok(false) };
        let hw = &mut pm.hw;
        if arch::get_user_swp_entry(hw.pgd, va) != Some(e) {
            return Ok(false);
        }
        let prot = UserPteProt { write: false, exec, dirty: false };
        let mut alloc = || None;
        if arch::set_user_pte_old(hw.pgd, va, pfn.0 << 12, prot, &mut alloc).is_err() {
            return Err(Errno::ENOMEM);
        }
        swap_map_page(hw, e, pfn, false);
        swap::try_free_swap(pfn);
        Ok(true)
    })
}

/// Until no swap-out write is in flight: the CPU goes to the writers (kswapd, or a program
/// in direct reclaim, asleep until the card's interrupt), which finish their batches.
fn wait_all_writeback() {
    while swap::writeback_pending() {
        if super::current_pid() != 0 {
            super::schedule();
            continue;
        }
        crate::kernel::time::idle_wait(|| {
            (!swap::writeback_pending() || super::others_runnable()).then_some(())
        });
        if super::others_runnable() {
            super::schedule();
        }
    }
}

/// `try_to_unuse(type)`: every process's swap entries of area `ty` brought back in, then the
/// area's cached pages nothing maps dropped. Each page not in the swap cache is read with its
/// read-ahead window ([`swapin_readahead`]) with the task table free (the caller sleeps for
/// the card, or the console runs the other tasks meanwhile), then mapped
/// under it if its PTE still holds the entry; the walk repeats until no swap PTE of the area
/// is left (a `fork` meanwhile copies some) or a pass maps nothing. `ENOMEM` (the area stays
/// on) when memory runs out.
pub fn try_to_unuse(ty: usize) -> Result<(), Errno> {
    // Writes in flight finish first (their pages are freed or stay cached), and reads in
    // flight hold their slots: they land in the cache first.
    wait_all_writeback();
    swap::settle_all_wait();
    let page_cluster = swap::PAGE_CLUSTER.load(Ordering::Relaxed);
    loop {
        let ptes = swap_ptes_of(ty as u32);
        if ptes.is_empty() {
            break;
        }
        // Each VMA's `swap_readahead_info` as the walk moves it (by process and VMA start).
        let mut ra: BTreeMap<(u32, usize), usize> = BTreeMap::new();
        let mut mapped = 0;
        for (i, p) in ptes.iter().enumerate() {
            let ra_val = *ra.entry((p.pid, p.vm_start)).or_insert(p.ra);
            let pfn = match swap::lookup_swap_cache(p.e) {
                Some((pfn, readahead)) => {
                    // `swap_cache_get_folio`: a page read ahead is a hit for the VMA.
                    ra.insert((p.pid, p.vm_start), ra_on_hit(ra_val, p.va, readahead));
                    pfn
                }
                None => match swapin_readahead(p, &ptes[i + 1..], ra_val, page_cluster) {
                    Ok((pfn, ra_val)) => {
                        ra.insert((p.pid, p.vm_start), ra_val);
                        pfn
                    }
                    Err(Errno::ENOENT) if swap::swap_count(p.e) == 0 => continue,
                    Err(_) => return Err(Errno::ENOMEM),
                },
            };
            if unuse_pte(p.pid, p.va, p.e, p.exec, pfn)? {
                mapped += 1;
            }
        }
        if mapped == 0 {
            break;
        }
    }
    // shmem_unuse: the shmem objects' pages in the area.
    super::shmem::shmem_unuse(ty as u32)?;
    for (_, c) in swap::cached_of(ty) {
        let pfn = Pfn(c.pfn);
        if swap::try_free_swap(pfn) && !c.mapped {
            swap::free_swapped_page(pfn);
        }
    }
    Ok(())
}

/// `swapin_readahead` for swapoff's walk (`unuse_pte_range`), with no lock held: the reads of
/// the swap PTEs of `p`'s window (`swap_ra_info` from the VMA's `ra_val`, the area's PTEs of
/// the same VMA among `next`, the ones the walk reaches after `p`) are queued at once, `p`'s
/// first and the others `PG_readahead` (`swap_ra`), then the last is waited for: the caller
/// sleeps while the card works (or the console runs the other tasks), and requests complete
/// in order, so the whole window is in. `p`'s page (in the swap cache) and the VMA's new
/// `ra_val`; `ENOENT` for a free slot, `ENOMEM` without a page, `EIO` for a failed read.
fn swapin_readahead(
    p: &SwapPte,
    next: &[SwapPte],
    ra_val: usize,
    page_cluster: u32,
) -> Result<(Pfn, usize), Errno> {
    let w = swap_ra_info(ra_val, p.va, p.vm_start, p.vm_end, page_cluster);
    // The window under one plug (`swap_vma_readahead`'s), finished before the wait.
    let mut plug = swap::SwapPlug::new();
    let mut last = match swap::swap_read_start(p.e, false, p.va, Some(&mut plug))? {
        SwapRead::Cached(pfn) => return Ok((pfn, w.ra_val)),
        SwapRead::InFlight(disk, done) => (disk, done),
    };
    let end = w.start + w.nr * PAGE_SIZE;
    let window = next
        .iter()
        .take_while(|q| q.pid == p.pid && q.vm_start == p.vm_start && q.va < end)
        .filter(|q| q.va >= w.start);
    for q in window {
        if swap::in_cache(q.e) {
            continue;
        }
        if let Ok(SwapRead::InFlight(disk, done)) =
            swap::swap_read_start(q.e, true, q.va, Some(&mut plug))
        {
            swap::SWAP_RA.fetch_add(1, Ordering::Relaxed);
            last = (disk, done);
        }
    }
    plug.finish();
    let _ = crate::block::core::wait_bio(last.0, &last.1);
    // The page's own read, if it has not landed with the window's last (an error).
    if let Some((disk, done)) = swap::in_flight(p.e) {
        let _ = crate::block::core::wait_bio(disk, &done);
    }
    swap::settle(p.e);
    swap::lookup_swap_cache(p.e).map(|(pfn, _)| (pfn, w.ra_val)).ok_or(Errno::EIO)
}

/// `swapoff(path)`: the area stops taking slots, every page comes back (`try_to_unuse`),
/// then the area goes. `EINVAL` for a device that is no active area; on `ENOMEM` the area is
/// put back.
pub fn swapoff(path: &str) -> Result<(), Errno> {
    let ty = swap::area_of(path)?;
    swap::SWAP.lock().areas.stop_allocating(ty);
    if let Err(e) = try_to_unuse(ty) {
        swap::SWAP.lock().areas.reenable(ty);
        return Err(e);
    }
    if swap::inuse_pages(ty) != 0 {
        swap::SWAP.lock().areas.reenable(ty);
        return Err(Errno::EBUSY);
    }
    swap::remove_area(ty);
    Ok(())
}

/// Swap PTEs of every address space, per entry (for `verify`); an error when a process's
/// `MM_SWAPENTS` is not the number of swap PTEs in its tables.
pub fn swap_pte_counts(
) -> Result<alloc::collections::BTreeMap<SwpEntry, u32>, alloc::string::String> {
    let mut m = alloc::collections::BTreeMap::new();
    super::with_tasks(|t| {
        for task in t.map.values() {
            let Some(pm) = task.mm.as_ref() else { continue };
            let mut n = 0i64;
            for v in pm.mm.iter() {
                arch::for_each_user_swp_pte(pm.hw.pgd, v.vm_start, v.vm_end, |_, e| {
                    *m.entry(e).or_insert(0) += 1;
                    n += 1;
                });
            }
            if n != pm.hw.swapents {
                return Err(alloc::format!(
                    "swap: pid {} MM_SWAPENTS {} but {} swap PTEs",
                    task.pid,
                    pm.hw.swapents,
                    n
                ));
            }
        }
        Ok(())
    })?;
    Ok(m)
}
