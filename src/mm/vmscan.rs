//! Page reclaim as Linux 6.1's mm/vmscan.c without multi-gen LRU: `shrink_node` ->
//! `get_scan_count` (swappiness, `anon_cost`/`file_cost`, no anon scanning without swap) ->
//! `shrink_lruvec` -> `shrink_active_list` (deactivate; referenced executable file pages get
//! another trip) and `shrink_inactive_list` -> `shrink_folio_list` (`folio_check_references`:
//! referenced twice or by two PTEs -> activate; clean file -> drop; anonymous -> swap out),
//! `do_try_to_free_pages` (direct reclaim, priority 12 down to 0) and `balance_pgdat`
//! (kswapd, until a zone is over its high watermark), with 6.1's vmstat events.
//!
//! Pure: everything that touches page tables, swap or the page cache goes through
//! [`ReclaimEnv`], which the kernel implements over its processes (the rmap walk) and host
//! tests over a model.
use super::page::{pgoff_t, LruFlags, MemMap};
use super::swap::{folio_is_file_lru, folio_lru_list, LruList, Lruvec, LRU_ACTIVE, LRU_FILE};
use super::swapops::SwpEntry;
use super::{Pfn, PAGE_SHIFT};

/// `DEF_PRIORITY`: the first pass scans `size >> 12` of each list.
pub const DEF_PRIORITY: i32 = 12;
/// `SWAP_CLUSTER_MAX`: pages per isolation batch, and direct reclaim's target.
pub const SWAP_CLUSTER_MAX: u64 = 32;
/// `MAX_RECLAIM_RETRIES`: reclaim rounds without progress before the OOM killer.
pub const MAX_RECLAIM_RETRIES: u32 = 16;
/// `vm.swappiness`'s default.
pub const DEFAULT_SWAPPINESS: u64 = 60;
/// `vm.swappiness`'s maximum (6.1: 200, anon reclaim twice as cheap as file).
pub const MAX_SWAPPINESS: u64 = 200;

/// `linear_page_index` of an anonymous page at user address `va`: Linux gives an anonymous
/// VMA `vm_pgoff = vm_start >> PAGE_SHIFT`, so `page->index` is the virtual page number, whole
/// in a `pgoff_t` on both kernels (36 bits in arm64's 48-bit user space).
pub const fn anon_page_index(va: usize) -> pgoff_t {
    va >> PAGE_SHIFT
}

/// `vma_address` of an anonymous page: the one user address its `page->index` stands for,
/// the same in every mm that maps it (fork keeps addresses and pivm has no mremap).
pub const fn anon_page_address(index: pgoff_t) -> usize {
    index << PAGE_SHIFT
}

/// `sc->may_deactivate` bits.
pub const DEACTIVATE_ANON: u8 = 1 << 0;
pub const DEACTIVATE_FILE: u8 = 1 << 1;

/// `struct scan_control`, the fields order-0 global reclaim uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanControl {
    pub nr_to_reclaim: u64,
    pub priority: i32,
    pub may_writepage: bool,
    pub may_unmap: bool,
    pub may_swap: bool,
    /// Run by kswapd (`current_is_kswapd()`): which pgscan/pgsteal events count.
    pub kswapd: bool,
    pub swappiness: u64,
    pub nr_scanned: u64,
    pub nr_reclaimed: u64,
    pub anon_cost: u64,
    pub file_cost: u64,
    pub may_deactivate: u8,
    pub force_deactivate: bool,
    pub skipped_deactivate: bool,
    pub cache_trim_mode: bool,
    pub file_is_tiny: bool,
}

impl ScanControl {
    /// `try_to_free_pages`'s control (direct reclaim of `SWAP_CLUSTER_MAX` pages).
    pub const fn direct(swappiness: u64) -> Self {
        ScanControl {
            nr_to_reclaim: SWAP_CLUSTER_MAX,
            priority: DEF_PRIORITY,
            may_writepage: true,
            may_unmap: true,
            may_swap: true,
            kswapd: false,
            swappiness,
            nr_scanned: 0,
            nr_reclaimed: 0,
            anon_cost: 0,
            file_cost: 0,
            may_deactivate: 0,
            force_deactivate: false,
            skipped_deactivate: false,
            cache_trim_mode: false,
            file_is_tiny: false,
        }
    }

    /// `balance_pgdat`'s control.
    pub const fn kswapd(swappiness: u64) -> Self {
        let mut sc = Self::direct(swappiness);
        sc.kswapd = true;
        sc.nr_to_reclaim = 0;
        sc
    }
}

/// `int_sqrt`.
pub fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    // Newton's iteration from above: integer only (no floating point in the kernel).
    let mut r = x;
    let mut next = (r + x / r) / 2;
    while next < r {
        r = next;
        next = (r + x / r) / 2;
    }
    r
}

/// `inactive_is_low`: the inactive list is smaller than the active one divided by
/// `inactive_ratio` (1 under 1 GiB of the type, then `sqrt(10 * GiB)`).
pub fn inactive_is_low(inactive: u64, active: u64) -> bool {
    // (inactive + active) >> (30 - PAGE_SHIFT): GiB of the type.
    let gb = (inactive + active) >> (30 - super::PAGE_SHIFT);
    let ratio = if gb > 0 { int_sqrt(10 * gb) } else { 1 };
    inactive * ratio < active
}

/// How `get_scan_count` divides the pressure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanBalance {
    Equal,
    Fract,
    Anon,
    File,
}

/// `get_scan_count`: how many pages of each evictable list (`enum lru_list` order) this pass
/// scans. `sizes` are the list sizes; `can_reclaim_anon` is `can_reclaim_anon_pages` (swap
/// space left).
pub fn get_scan_count(
    sizes: &[u64; 5],
    sc: &ScanControl,
    can_reclaim_anon: bool,
) -> ([u64; 4], ScanBalance) {
    let mut fraction = [0u64; 2];
    let mut denominator = 0u64;
    let balance = if !sc.may_swap || !can_reclaim_anon {
        ScanBalance::File
    } else if sc.priority == 0 && sc.swappiness != 0 {
        ScanBalance::Equal
    } else if sc.file_is_tiny {
        ScanBalance::Anon
    } else if sc.cache_trim_mode {
        ScanBalance::File
    } else {
        // The pressure on each type inversely proportional to its recent reclaim cost,
        // at least a third of it before swappiness.
        let total_cost = sc.anon_cost + sc.file_cost;
        let anon_cost = total_cost + sc.anon_cost;
        let file_cost = total_cost + sc.file_cost;
        let total_cost = anon_cost + file_cost;
        let ap = sc.swappiness * (total_cost + 1) / (anon_cost + 1);
        let fp = (MAX_SWAPPINESS - sc.swappiness) * (total_cost + 1) / (file_cost + 1);
        fraction = [ap, fp];
        denominator = ap + fp;
        ScanBalance::Fract
    };
    let mut nr = [0u64; 4];
    for lru in LruList::EVICTABLE {
        let file = lru.is_file();
        let mut scan = sizes[lru as usize] >> sc.priority;
        match balance {
            ScanBalance::Equal => {}
            ScanBalance::Fract => scan = scan * fraction[file as usize] / denominator.max(1),
            ScanBalance::File | ScanBalance::Anon => {
                if (balance == ScanBalance::File) != file {
                    scan = 0;
                }
            }
        }
        nr[lru as usize] = scan;
    }
    (nr, balance)
}

/// `enum folio_references`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolioReferences {
    Reclaim,
    ReclaimClean,
    Keep,
    Activate,
}

/// What `folio_referenced` found over a page's mappings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Referenced {
    /// PTEs that were young (now old), or -1 for rmap lock contention.
    pub ptes: i32,
    /// A VMA that found it young is executable (`VM_EXEC`).
    pub vm_exec: bool,
    /// A VMA mapping it is `VM_LOCKED`.
    pub vm_locked: bool,
}

/// `folio_check_references`: `referenced_folio` is `PG_referenced` as it was before the
/// test-and-clear. Also returns whether `PG_referenced` is set afterwards.
pub fn folio_check_references(
    r: Referenced,
    referenced_folio: bool,
    file: bool,
) -> (FolioReferences, bool) {
    if r.vm_locked {
        return (FolioReferences::Activate, false);
    }
    if r.ptes == -1 {
        return (FolioReferences::Keep, false);
    }
    if r.ptes > 0 {
        // Every mapped page starts with a young PTE from its fault: look twice.
        if referenced_folio || r.ptes > 1 {
            return (FolioReferences::Activate, true);
        }
        if r.vm_exec && file {
            return (FolioReferences::Activate, true);
        }
        return (FolioReferences::Keep, true);
    }
    if referenced_folio && file {
        return (FolioReferences::ReclaimClean, false);
    }
    (FolioReferences::Reclaim, false)
}

/// What freeing an unreferenced page came to (`pageout` and `__remove_mapping`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pageout {
    /// The page is free; `io` when it was written (to swap) first (`nr_pageout`).
    Freed { io: bool },
    /// It cannot go now and should be looked at again later (dirty, busy, mapped).
    Keep,
    /// It cannot go at all for now (no swap slot, shmem without swap): activate it.
    Activate,
    /// Its write to swap was started (`pageout` -> `PAGE_SUCCESS`, `PG_writeback` and
    /// `PG_reclaim`): it goes back on its list, still in the swap cache; when the write ends
    /// it moves to the tail of the inactive list (`folio_rotate_reclaimable`) and the next
    /// scan frees it, clean.
    Writeback,
}

/// What reclaim needs from the kernel: the node's lists under its lock, the rmap, and the
/// way out of memory for a page (swap or the page cache).
pub trait ReclaimEnv {
    /// Runs `f` on the node's LRU lists and mem_map (under the node's lock).
    fn with_lru<R>(&mut self, f: impl FnOnce(&mut Lruvec, &mut MemMap<'_>) -> R) -> R;
    /// `folio_referenced`: test-and-clear the young bit of every PTE mapping `pfn`.
    fn folio_referenced(&mut self, pfn: Pfn, flags: LruFlags) -> Referenced;
    /// Unmaps and frees an isolated page reclaim chose (its LRU words already describe it).
    fn pageout(&mut self, pfn: Pfn, flags: LruFlags, sc: &ScanControl) -> Pageout;
    /// `can_reclaim_anon_pages`: free swap space (pivm has no demotion).
    fn can_reclaim_anon(&self) -> bool;
    /// `can_age_anon_pages`: any swap at all (`total_swap_pages > 0`).
    fn can_age_anon(&self) -> bool;
    /// Free pages of the node and the sum of its zones' high watermarks.
    fn free_and_high_wmark(&mut self) -> (u64, u64);
    /// The end of a batch whose `pageout` started writes (every page of it is back on a
    /// list): waits for them, the one place reclaim sleeps (where 6.1 throttles on writeback,
    /// `reclaim_throttle`), and ends them: each written page stays in the swap cache, moved
    /// to the tail of its inactive list (`folio_end_writeback` -> `folio_rotate_reclaimable`)
    /// for the next scan to free. The pages freed (only those nothing refers to any more).
    fn wait_writeback(&mut self) -> u64 {
        0
    }
    /// `activate_locked`'s `folio_free_swap`: an anonymous page in the swap cache that is
    /// being activated gives its slot up when swap is more than half full (`vm_swap_full`)
    /// and no swap PTE refers to it.
    fn activate_free_swap(&mut self, _pfn: Pfn) {}
    /// `cond_resched`: reclaim may give the CPU up here (no page is isolated).
    fn cond_resched(&mut self) {}
}

/// `shrink_folio_list`'s statistics (`struct reclaim_stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReclaimStat {
    pub nr_pageout: u64,
    pub nr_activate: [u64; 2],
    pub nr_reclaimed: u64,
}

/// `shrink_folio_list` over isolated pages; the ones not freed are put back on their lists
/// (`move_folios_to_lru`), activated ones on the active list.
pub fn shrink_folio_list(env: &mut impl ReclaimEnv, pfns: &[Pfn], sc: &ScanControl) -> ReclaimStat {
    let mut stat = ReclaimStat::default();
    for &pfn in pfns {
        let flags = env.with_lru(|_, m| super::swap::page_lru_flags(m, pfn)).unwrap_or_default();
        let file = folio_is_file_lru(flags);
        let decision = if flags.contains(LruFlags::PG_unevictable) {
            FolioReferences::Activate
        } else {
            let r = env.folio_referenced(pfn, flags);
            let was = flags.contains(LruFlags::PG_referenced);
            let (d, set) = folio_check_references(r, was, file);
            let (clear, setf) = if set {
                (LruFlags::empty(), LruFlags::PG_referenced)
            } else {
                (LruFlags::PG_referenced, LruFlags::empty())
            };
            env.with_lru(|_, m| Lruvec::update_isolated(m, pfn, clear, setf));
            d
        };
        let mut activate = decision == FolioReferences::Activate;
        if matches!(decision, FolioReferences::Reclaim | FolioReferences::ReclaimClean) {
            let flags = env.with_lru(|_, m| super::swap::page_lru_flags(m, pfn)).unwrap_or(flags);
            match env.pageout(pfn, flags, sc) {
                Pageout::Freed { io } => {
                    stat.nr_reclaimed += 1;
                    stat.nr_pageout += io as u64;
                    continue;
                }
                Pageout::Keep => {}
                Pageout::Activate => activate = true,
                Pageout::Writeback => stat.nr_pageout += 1,
            }
        }
        if activate && !file {
            env.activate_free_swap(pfn);
        }
        env.with_lru(|l, m| {
            if activate && !flags.contains(LruFlags::PG_unevictable) {
                Lruvec::update_isolated(m, pfn, LruFlags::empty(), LruFlags::PG_active);
                stat.nr_activate[file as usize] += 1;
            }
            l.putback(m, pfn);
        });
    }
    let pgactivate = stat.nr_activate[0] + stat.nr_activate[1];
    env.with_lru(|l, _| l.events.pgactivate += pgactivate);
    if stat.nr_pageout > 0 {
        stat.nr_reclaimed += env.wait_writeback();
    }
    stat
}

/// `shrink_inactive_list`: isolates up to `nr_to_scan` of the oldest pages of an inactive
/// list and runs `shrink_folio_list` on them; the pages freed.
pub fn shrink_inactive_list(
    env: &mut impl ReclaimEnv,
    nr_to_scan: u64,
    sc: &mut ScanControl,
    lru: LruList,
) -> u64 {
    let file = lru.is_file();
    let mut buf = [Pfn(0); SWAP_CLUSTER_MAX as usize];
    let want = (nr_to_scan as usize).min(buf.len());
    let kswapd = sc.kswapd;
    let nr_scanned = env.with_lru(|l, m| {
        let n = l.isolate_lru_folios(m, lru, &mut buf[..want]) as u64;
        if kswapd {
            l.events.pgscan_kswapd += n;
        } else {
            l.events.pgscan_direct += n;
        }
        if file {
            l.events.pgscan_file += n;
        } else {
            l.events.pgscan_anon += n;
        }
        n
    });
    sc.nr_scanned += nr_scanned;
    if nr_scanned == 0 {
        return 0;
    }
    let stat = shrink_folio_list(env, &buf[..nr_scanned as usize], sc);
    env.with_lru(|l, _| {
        if kswapd {
            l.events.pgsteal_kswapd += stat.nr_reclaimed;
        } else {
            l.events.pgsteal_direct += stat.nr_reclaimed;
        }
        if file {
            l.events.pgsteal_file += stat.nr_reclaimed;
        } else {
            l.events.pgsteal_anon += stat.nr_reclaimed;
        }
        l.lru_note_cost(file, stat.nr_pageout);
    });
    stat.nr_reclaimed
}

/// `shrink_active_list`: isolates up to `nr_to_scan` of the oldest active pages (`pgrefill`)
/// and moves them to the inactive list (`pgdeactivate`), except referenced executable file
/// pages, which stay active for another round.
pub fn shrink_active_list(
    env: &mut impl ReclaimEnv,
    nr_to_scan: u64,
    sc: &mut ScanControl,
    lru: LruList,
) {
    let mut buf = [Pfn(0); SWAP_CLUSTER_MAX as usize];
    let want = (nr_to_scan as usize).min(buf.len());
    let nr_scanned = env.with_lru(|l, m| {
        let n = l.isolate_lru_folios(m, lru, &mut buf[..want]);
        l.events.pgrefill += n as u64;
        n
    });
    sc.nr_scanned += nr_scanned as u64;
    let mut deactivated = 0;
    for &pfn in &buf[..nr_scanned] {
        let flags = env.with_lru(|_, m| super::swap::page_lru_flags(m, pfn)).unwrap_or_default();
        let keep_active = !flags.contains(LruFlags::PG_unevictable) && {
            let r = env.folio_referenced(pfn, flags);
            r.ptes != 0 && r.vm_exec && folio_is_file_lru(flags)
        };
        env.with_lru(|l, m| {
            if !keep_active && !flags.contains(LruFlags::PG_unevictable) {
                Lruvec::update_isolated(m, pfn, LruFlags::PG_active, LruFlags::PG_workingset);
                deactivated += 1;
            }
            l.putback(m, pfn);
        });
    }
    env.with_lru(|l, _| l.events.pgdeactivate += deactivated);
}

/// `shrink_list`.
fn shrink_list(
    env: &mut impl ReclaimEnv,
    lru: LruList,
    nr_to_scan: u64,
    sc: &mut ScanControl,
) -> u64 {
    if lru.is_active() {
        if sc.may_deactivate & (1 << lru.is_file() as u8) != 0 {
            shrink_active_list(env, nr_to_scan, sc, lru);
        } else {
            sc.skipped_deactivate = true;
        }
        return 0;
    }
    shrink_inactive_list(env, nr_to_scan, sc, lru)
}

/// `prepare_scan_count`: the costs, which lists may be deactivated (pivm has no refault
/// tracking, so only `inactive_is_low` decides), cache-trim mode and `file_is_tiny`.
pub fn prepare_scan_count(env: &mut impl ReclaimEnv, sc: &mut ScanControl) {
    let (sizes, anon_cost, file_cost) = env.with_lru(|l, _| (l.sizes(), l.anon_cost, l.file_cost));
    sc.anon_cost = anon_cost;
    sc.file_cost = file_cost;
    let ia = sizes[LruList::InactiveAnon as usize];
    let aa = sizes[LruList::ActiveAnon as usize];
    let ifl = sizes[LruList::InactiveFile as usize];
    let af = sizes[LruList::ActiveFile as usize];
    if sc.force_deactivate {
        sc.may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE;
    } else {
        sc.may_deactivate = 0;
        if inactive_is_low(ia, aa) {
            sc.may_deactivate |= DEACTIVATE_ANON;
        }
        if inactive_is_low(ifl, af) {
            sc.may_deactivate |= DEACTIVATE_FILE;
        }
    }
    sc.cache_trim_mode = (ifl >> sc.priority) != 0 && sc.may_deactivate & DEACTIVATE_FILE == 0;
    let (free, high) = env.free_and_high_wmark();
    sc.file_is_tiny = ifl + af + free <= high
        && sc.may_deactivate & DEACTIVATE_ANON == 0
        && (ia >> sc.priority) != 0;
}

/// `shrink_lruvec`: scans the lists in `get_scan_count`'s proportions, `SWAP_CLUSTER_MAX` at
/// a time; once the target is met (outside direct reclaim's first, proportional pass) the
/// smaller type stops and the other is cut to the same share; then the anon lists are
/// rebalanced if swap makes it worth it.
pub fn shrink_lruvec(env: &mut impl ReclaimEnv, sc: &mut ScanControl) {
    let sizes = env.with_lru(|l, _| l.sizes());
    let (mut nr, _) = get_scan_count(&sizes, sc, env.can_reclaim_anon());
    let targets = nr;
    let nr_to_reclaim = sc.nr_to_reclaim;
    let proportional_reclaim = !sc.kswapd && sc.priority == DEF_PRIORITY;
    let mut scan_adjusted = false;
    let mut nr_reclaimed = 0;
    let ia = LruList::InactiveAnon as usize;
    let af = LruList::ActiveFile as usize;
    let ifl = LruList::InactiveFile as usize;
    while nr[ia] != 0 || nr[af] != 0 || nr[ifl] != 0 {
        for lru in LruList::EVICTABLE {
            let i = lru as usize;
            if nr[i] != 0 {
                let n = nr[i].min(SWAP_CLUSTER_MAX);
                nr[i] -= n;
                nr_reclaimed += shrink_list(env, lru, n, sc);
            }
        }
        env.cond_resched();
        if nr_reclaimed < nr_to_reclaim || proportional_reclaim || scan_adjusted {
            continue;
        }
        let nr_file = nr[ifl] + nr[af];
        let nr_anon = nr[ia] + nr[LruList::ActiveAnon as usize];
        if nr_file == 0 || nr_anon == 0 {
            break;
        }
        let (stop, percentage) = if nr_file > nr_anon {
            (0, nr_anon * 100 / (targets[ia] + targets[LruList::ActiveAnon as usize] + 1))
        } else {
            (LRU_FILE, nr_file * 100 / (targets[ifl] + targets[af] + 1))
        };
        nr[stop] = 0;
        nr[stop + LRU_ACTIVE] = 0;
        let other = if stop == LRU_FILE { 0 } else { LRU_FILE };
        for l in [other, other + LRU_ACTIVE] {
            let scanned = targets[l] - nr[l];
            nr[l] = targets[l] * (100 - percentage) / 100;
            nr[l] -= nr[l].min(scanned);
        }
        scan_adjusted = true;
    }
    sc.nr_reclaimed += nr_reclaimed;
    let (inactive, active) =
        env.with_lru(|l, _| (l.size(LruList::InactiveAnon), l.size(LruList::ActiveAnon)));
    if env.can_age_anon() && inactive_is_low(inactive, active) {
        shrink_active_list(env, SWAP_CLUSTER_MAX, sc, LruList::ActiveAnon);
    }
}

/// `shrink_node` for order 0 (no reclaim/compaction loop): one pass; the pages it freed.
pub fn shrink_node(env: &mut impl ReclaimEnv, sc: &mut ScanControl) -> u64 {
    let before = sc.nr_reclaimed;
    prepare_scan_count(env, sc);
    shrink_lruvec(env, sc);
    sc.nr_reclaimed - before
}

/// `do_try_to_free_pages` for one node: `shrink_node` from `DEF_PRIORITY` down to 0 until
/// `nr_to_reclaim` pages are free, then once more with forced deactivation if a pass
/// skipped an active list. The pages freed (0: no progress).
pub fn do_try_to_free_pages(env: &mut impl ReclaimEnv, sc: &mut ScanControl) -> u64 {
    let initial_priority = sc.priority;
    loop {
        loop {
            sc.nr_scanned = 0;
            shrink_node(env, sc);
            if sc.nr_reclaimed >= sc.nr_to_reclaim {
                break;
            }
            if sc.priority < DEF_PRIORITY - 2 {
                sc.may_writepage = true;
            }
            sc.priority -= 1;
            if sc.priority < 0 {
                break;
            }
        }
        if sc.nr_reclaimed > 0 {
            return sc.nr_reclaimed;
        }
        if sc.skipped_deactivate && !sc.force_deactivate {
            sc.priority = initial_priority;
            sc.force_deactivate = true;
            sc.skipped_deactivate = false;
            continue;
        }
        return 0;
    }
}

/// What `balance_pgdat` needs of the node besides the lists.
pub trait KswapdNode {
    /// `pgdat_balanced`: a zone up to the highest is over its high watermark (boost
    /// included) for order 0.
    fn pgdat_balanced(&mut self) -> bool;
    /// Pages of watermark boost over the zones.
    fn boost(&mut self) -> u64;
    /// `sum(max(high_wmark_pages, SWAP_CLUSTER_MAX))` over the managed zones
    /// (`kswapd_shrink_node`'s target).
    fn kswapd_target(&mut self) -> u64;
}

/// What one `balance_pgdat` run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KswapdRun {
    pub nr_reclaimed: u64,
    /// The node was balanced before any reclaim (nothing to do).
    pub balanced_at_once: bool,
    /// A boost was being worked off: the caller clears the boosts (6.1 subtracts them at
    /// `out:` whether or not reclaim met them).
    pub boosted: bool,
}

/// `balance_pgdat` for order 0: counts `pageoutrun`; until a zone is balanced at the high
/// watermark, ages the anon list and shrinks the node at falling priority (held when the
/// pass scanned its target). A boost alone is reclaimed without swapping or writing.
pub fn balance_pgdat(env: &mut (impl ReclaimEnv + KswapdNode), swappiness: u64) -> KswapdRun {
    env.with_lru(|l, _| l.events.pageoutrun += 1);
    let mut sc = ScanControl::kswapd(swappiness);
    let mut nr_boost_reclaim = env.boost();
    let boosted = nr_boost_reclaim != 0;
    let mut run = KswapdRun { boosted, ..KswapdRun::default() };
    if nr_boost_reclaim == 0 && env.pgdat_balanced() {
        run.balanced_at_once = true;
        return run;
    }
    'restart: loop {
        sc.priority = DEF_PRIORITY;
        loop {
            let before = sc.nr_reclaimed;
            let mut raise_priority = true;
            let balanced = env.pgdat_balanced();
            if !balanced && nr_boost_reclaim != 0 {
                nr_boost_reclaim = 0;
                continue 'restart;
            }
            if nr_boost_reclaim == 0 && balanced {
                break 'restart;
            }
            if nr_boost_reclaim != 0 && sc.priority == DEF_PRIORITY - 2 {
                raise_priority = false;
            }
            sc.may_writepage = nr_boost_reclaim == 0;
            sc.may_swap = nr_boost_reclaim == 0;
            // kswapd_age_node -> age_active_anon.
            let (ia, aa) =
                env.with_lru(|l, _| (l.size(LruList::InactiveAnon), l.size(LruList::ActiveAnon)));
            if env.can_age_anon() && inactive_is_low(ia, aa) {
                shrink_active_list(env, SWAP_CLUSTER_MAX, &mut sc, LruList::ActiveAnon);
            }
            if sc.priority < DEF_PRIORITY - 2 {
                sc.may_writepage = true;
            }
            // kswapd_shrink_node.
            sc.nr_to_reclaim = env.kswapd_target();
            sc.nr_scanned = 0;
            shrink_node(env, &mut sc);
            if sc.nr_scanned >= sc.nr_to_reclaim {
                raise_priority = false;
            }
            let nr_reclaimed = sc.nr_reclaimed - before;
            nr_boost_reclaim -= nr_boost_reclaim.min(nr_reclaimed);
            if nr_boost_reclaim != 0 && nr_reclaimed == 0 {
                break 'restart;
            }
            if raise_priority || nr_reclaimed == 0 {
                sc.priority -= 1;
            }
            if sc.priority < 1 {
                break 'restart;
            }
        }
    }
    run.nr_reclaimed = sc.nr_reclaimed;
    run
}

/// `should_reclaim_retry` for order 0: false (go to the OOM killer) after more than
/// `MAX_RECLAIM_RETRIES` rounds in a row without progress, or when no eligible zone would
/// meet its min watermark even with every reclaimable page freed (`zone_could_meet_min`,
/// the kernel's `__zone_watermark_ok` with free + `zone_reclaimable_pages`).
pub fn should_reclaim_retry(
    did_some_progress: bool,
    no_progress_loops: &mut u32,
    zone_could_meet_min: impl FnOnce() -> bool,
) -> bool {
    if did_some_progress {
        *no_progress_loops = 0;
    } else {
        *no_progress_loops += 1;
    }
    if *no_progress_loops > MAX_RECLAIM_RETRIES {
        return false;
    }
    zone_could_meet_min()
}

/// `zone_reclaimable_pages`: a zone's file LRU pages, plus its anon LRU pages when there is
/// swap space.
pub fn zone_reclaimable_pages(lru: &Lruvec, zone: usize, swap_space: bool) -> u64 {
    let mut n =
        lru.zone_size(zone, LruList::InactiveFile) + lru.zone_size(zone, LruList::ActiveFile);
    if swap_space {
        n += lru.zone_size(zone, LruList::InactiveAnon) + lru.zone_size(zone, LruList::ActiveAnon);
    }
    n
}

/// What swapping an anonymous page out needs from the kernel (`shrink_folio_list`'s anonymous
/// branch, and `MADV_PAGEOUT`'s). The dirty state lives in the page's `PG_dirty`, as 6.1 keeps
/// it: set when the page gets a slot, set again from each dirty PTE unmapped, cleared only
/// when its write is submitted (and set again if the write fails).
pub trait AnonSwapOut {
    /// `folio_test_writeback`: a write of it is in flight.
    fn under_writeback(&mut self, pfn: Pfn) -> bool;
    /// `folio_test_swapcache` + `folio->swap`.
    fn swap_entry(&mut self, pfn: Pfn) -> Option<SwpEntry>;
    /// `add_to_swap`: a slot, the page in the swap cache and `PG_dirty` set; None without a
    /// free slot.
    fn add_to_swap(&mut self, pfn: Pfn) -> Option<SwpEntry>;
    /// `delete_from_swap_cache` of a page that stays (the slot goes if nothing refers to it).
    fn delete_from_swap_cache(&mut self, pfn: Pfn);
    /// `try_to_unmap`: each mapping it can take becomes the swap entry. The PTEs unmapped,
    /// and whether any of them was dirty.
    fn try_to_unmap(&mut self, pfn: Pfn) -> (u32, bool);
    /// `folio_mapped`: a PTE still maps it.
    fn folio_mapped(&mut self, pfn: Pfn) -> bool;
    /// Sets (`folio_mark_dirty`) or test-and-clears (`folio_clear_dirty_for_io`) `PG_dirty`;
    /// whether it was set.
    fn folio_set_dirty(&mut self, pfn: Pfn, dirty: bool) -> bool;
    /// `swap_writepage`: the write submitted (the page under writeback); false if it could
    /// not be.
    fn swap_writepage(&mut self, pfn: Pfn, e: SwpEntry) -> bool;
    /// `__remove_mapping` + free: a clean, unmapped page leaves the swap cache and is freed.
    fn free_swapped(&mut self, pfn: Pfn);
}

/// What [`shrink_anon_folio`] did with the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnonPageout {
    /// Under writeback already: looked at again later.
    Keep,
    /// No free slot: it stays.
    NoSlot,
    /// A mapping could not be unmapped, or its write not submitted: activated.
    Activate,
    /// Its write was submitted: it stays in the swap cache, and a later pass frees it once
    /// written, if still unmapped and clean.
    Writeback,
    /// Clean and unmapped: freed (its slot holds its data).
    Freed,
}

impl AnonPageout {
    /// As `shrink_folio_list` counts it.
    pub const fn pageout(self) -> Pageout {
        match self {
            AnonPageout::Keep => Pageout::Keep,
            AnonPageout::NoSlot | AnonPageout::Activate => Pageout::Activate,
            AnonPageout::Writeback => Pageout::Writeback,
            AnonPageout::Freed => Pageout::Freed { io: false },
        }
    }
}

/// `shrink_folio_list`'s steps for an anonymous page: a slot if it has none (`add_to_swap`,
/// dirty), every mapping unmapped with its PTE's dirty bit moved to the page
/// (`try_to_unmap_one`'s `folio_mark_dirty`), then: still mapped -> activated (a slot taken
/// for nothing goes back; the page keeps `PG_dirty`, so a later pass writes it); dirty ->
/// `pageout` (`folio_clear_dirty_for_io`, the write submitted); clean -> freed.
pub fn shrink_anon_folio(ops: &mut impl AnonSwapOut, pfn: Pfn) -> AnonPageout {
    if ops.under_writeback(pfn) {
        return AnonPageout::Keep;
    }
    let (entry, new) = match ops.swap_entry(pfn) {
        Some(e) => (e, false),
        None => match ops.add_to_swap(pfn) {
            Some(e) => (e, true),
            None => return AnonPageout::NoSlot,
        },
    };
    let (unmapped, dirty) = ops.try_to_unmap(pfn);
    if dirty {
        ops.folio_set_dirty(pfn, true);
    }
    if ops.folio_mapped(pfn) {
        if new && unmapped == 0 {
            ops.delete_from_swap_cache(pfn);
        }
        return AnonPageout::Activate;
    }
    if ops.folio_set_dirty(pfn, false) {
        if ops.swap_writepage(pfn, entry) {
            return AnonPageout::Writeback;
        }
        // Not submitted: still newer than its slot.
        ops.folio_set_dirty(pfn, true);
        return AnonPageout::Activate;
    }
    ops.free_swapped(pfn);
    AnonPageout::Freed
}

/// The list a page's flags name (re-exported for the kernel's env).
pub const fn lru_of(flags: LruFlags) -> LruList {
    folio_lru_list(flags)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod swapout_tests;
