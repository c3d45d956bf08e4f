//! vmscan against hand-computed 6.1 results, over a model of the kernel (a real mem_map and
//! Lruvec; PTE young bits, swap space and dirty state as maps).
use super::*;
use crate::mm::page::Page;
extern crate std;
use std::collections::{BTreeMap, BTreeSet};
use std::vec;
use std::vec::Vec;

const BASE: u64 = 0x1000;

struct Model<'a> {
    lru: Lruvec,
    map: MemMap<'a>,
    /// Young PTEs per page (cleared by folio_referenced) and whether an executable VMA maps it.
    young: BTreeMap<u64, (i32, bool)>,
    dirty: BTreeSet<u64>,
    swap_free: u64,
    swap_total: u64,
    freed: Vec<u64>,
    free: u64,
    high: u64,
    /// Swap-outs are started (`Pageout::Writeback`) and finished in `wait_writeback`.
    async_io: bool,
    writing: Vec<u64>,
    /// Pages a fault maps again while their write is in flight (kept, not freed).
    remapped: BTreeSet<u64>,
    waits: u32,
    /// Pages `activate_locked` offered to `folio_free_swap`, in order.
    activated_free_swap: Vec<u64>,
}

impl<'a> Model<'a> {
    fn new(pages: &'a mut [Page]) -> Self {
        for p in pages.iter_mut() {
            *p = Page::RESERVED;
            p.zone = 0;
        }
        Model {
            lru: Lruvec::new(),
            map: MemMap::new(pages, Pfn(BASE)).unwrap(),
            young: BTreeMap::new(),
            dirty: BTreeSet::new(),
            swap_free: 0,
            swap_total: 0,
            freed: Vec::new(),
            free: 0,
            high: 0,
            async_io: false,
            writing: Vec::new(),
            remapped: BTreeSet::new(),
            waits: 0,
            activated_free_swap: Vec::new(),
        }
    }

    /// `n` pages from `first` (index into the map), anon or file, with one young PTE each
    /// (the fault that mapped them).
    fn add(&mut self, first: u64, n: u64, anon: bool) {
        for i in first..first + n {
            self.lru.folio_add_lru(&mut self.map, Pfn(BASE + i), anon, 0, i as usize).unwrap();
            self.young.insert(BASE + i, (1, false));
        }
    }

    fn list(&self, lru: LruList) -> Vec<u64> {
        self.lru.iter(&self.map, lru).map(|p| p.0 - BASE).collect()
    }
}

impl ReclaimEnv for Model<'_> {
    fn with_lru<R>(&mut self, f: impl FnOnce(&mut Lruvec, &mut MemMap<'_>) -> R) -> R {
        f(&mut self.lru, &mut self.map)
    }
    fn folio_referenced(&mut self, pfn: Pfn, _flags: LruFlags) -> Referenced {
        let e = self.young.entry(pfn.0).or_insert((0, false));
        let r = Referenced { ptes: e.0, vm_exec: e.1, vm_locked: false };
        e.0 = 0;
        r
    }
    fn pageout(&mut self, pfn: Pfn, flags: LruFlags, _sc: &ScanControl) -> Pageout {
        if flags.contains(LruFlags::PG_swapbacked) {
            if self.swap_free == 0 {
                return Pageout::Activate;
            }
            self.swap_free -= 1;
            if self.async_io {
                self.writing.push(pfn.0);
                return Pageout::Writeback;
            }
        } else if self.dirty.contains(&pfn.0) {
            return Pageout::Keep;
        }
        self.lru.folio_del_lru(&mut self.map, pfn).unwrap();
        self.freed.push(pfn.0 - BASE);
        self.free += 1;
        Pageout::Freed { io: flags.contains(LruFlags::PG_swapbacked) }
    }
    fn can_reclaim_anon(&self) -> bool {
        self.swap_free > 0
    }
    fn can_age_anon(&self) -> bool {
        self.swap_total > 0
    }
    fn free_and_high_wmark(&mut self) -> (u64, u64) {
        (self.free, self.high)
    }
    fn activate_free_swap(&mut self, pfn: Pfn) {
        self.activated_free_swap.push(pfn.0 - BASE);
    }
    fn wait_writeback(&mut self) -> u64 {
        self.waits += 1;
        let mut n = 0;
        for pfn in core::mem::take(&mut self.writing) {
            if self.remapped.contains(&pfn) {
                continue;
            }
            // Back on its list since the batch ended: freeing takes it off.
            self.lru.folio_del_lru(&mut self.map, Pfn(pfn)).unwrap();
            self.freed.push(pfn - BASE);
            self.free += 1;
            n += 1;
        }
        n
    }
}

impl KswapdNode for Model<'_> {
    fn pgdat_balanced(&mut self) -> bool {
        self.free >= self.high
    }
    fn boost(&mut self) -> u64 {
        0
    }
    fn kswapd_target(&mut self) -> u64 {
        self.high.max(SWAP_CLUSTER_MAX)
    }
}

#[test]
fn scan_count_by_swappiness_and_cost() {
    // 160 MiB inactive anon, 80 MiB each of inactive and active file, priority 12.
    let sizes = [40960, 0, 20480, 20480, 0];
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    // No costs yet: ap = 60 * 1 / 1, fp = 140 * 1 / 1; anon 10 * 60 / 200, file 5 * 140 / 200.
    assert_eq!(get_scan_count(&sizes, &sc, true), ([3, 0, 3, 3], ScanBalance::Fract));
    // anon_cost 100, file_cost 50: anon 250, file 200, total 450; ap = 60 * 451 / 251 = 107,
    // fp = 140 * 451 / 201 = 314; anon 10 * 107 / 421 = 2, file 5 * 314 / 421 = 3.
    sc.anon_cost = 100;
    sc.file_cost = 50;
    assert_eq!(get_scan_count(&sizes, &sc, true), ([2, 0, 3, 3], ScanBalance::Fract));
    // No swap: file only, the whole share.
    assert_eq!(get_scan_count(&sizes, &sc, false), ([0, 0, 5, 5], ScanBalance::File));
    // Priority 0 with swappiness: everything, equally.
    sc.priority = 0;
    assert_eq!(get_scan_count(&sizes, &sc, true), ([40960, 0, 20480, 20480], ScanBalance::Equal));
    // swappiness 0 at priority 0: still proportional (ap = 0): anon never scanned.
    sc.swappiness = 0;
    assert_eq!(get_scan_count(&sizes, &sc, true).0[0], 0);
    // Cache-trim mode: file only.
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    sc.cache_trim_mode = true;
    assert_eq!(get_scan_count(&sizes, &sc, true), ([0, 0, 5, 5], ScanBalance::File));
}

#[test]
fn inactive_ratio_grows_with_the_square_root_of_gigabytes() {
    // Under 1 GiB: ratio 1.
    assert!(inactive_is_low(100, 101));
    assert!(!inactive_is_low(100, 100));
    // 10 GiB of the type (2621440 pages): ratio int_sqrt(100) = 10.
    assert!(inactive_is_low(238_000, 2_621_440 - 238_000));
    assert!(!inactive_is_low(240_000, 2_621_440 - 240_000));
    assert_eq!(int_sqrt(99), 9);
    assert_eq!(int_sqrt(100), 10);
}

#[test]
fn check_references_as_6_1() {
    use FolioReferences::*;
    let r = |ptes, vm_exec| Referenced { ptes, vm_exec, vm_locked: false };
    // Young once, not marked: keep and mark (look twice).
    assert_eq!(folio_check_references(r(1, false), false, true), (Keep, true));
    // Young and marked, or two young PTEs: activate.
    assert_eq!(folio_check_references(r(1, false), true, false), (Activate, true));
    assert_eq!(folio_check_references(r(2, false), false, false), (Activate, true));
    // Executable file pages: activated on first use; anon ones are not.
    assert_eq!(folio_check_references(r(1, true), false, true), (Activate, true));
    assert_eq!(folio_check_references(r(1, true), false, false), (Keep, true));
    // Not young: a marked file page is reclaimed if clean; otherwise reclaim.
    assert_eq!(folio_check_references(r(0, false), true, true), (ReclaimClean, false));
    assert_eq!(folio_check_references(r(0, false), true, false), (Reclaim, false));
    assert_eq!(folio_check_references(r(0, false), false, true), (Reclaim, false));
    // rmap contention: keep; mlocked: activate.
    assert_eq!(folio_check_references(r(-1, false), true, true), (Keep, false));
    let locked = Referenced { ptes: 0, vm_exec: false, vm_locked: true };
    assert_eq!(folio_check_references(locked, false, true), (Activate, false));
}

#[test]
fn inactive_file_scan_frees_the_cold_keeps_the_young() {
    let mut v = vec![Page::RESERVED; 16];
    let mut m = Model::new(&mut v);
    m.add(0, 6, false);
    // Page 0 (oldest) was used twice since (two young PTEs), page 1 once; pages 2, 3 not at
    // all, page 4 not but dirty; page 5 not scanned (batch of 5).
    m.young.insert(BASE, (2, false));
    m.young.insert(BASE + 1, (1, false));
    for i in 2..6 {
        m.young.insert(BASE + i, (0, false));
    }
    m.dirty.insert(BASE + 4);
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    assert_eq!(shrink_inactive_list(&mut m, 5, &mut sc, LruList::InactiveFile), 2);
    assert_eq!(m.freed, [2, 3]);
    assert_eq!(m.list(LruList::ActiveFile), [0]);
    // Put back at the head in scan order: 1 then 4, ahead of the unscanned 5.
    assert_eq!(m.list(LruList::InactiveFile), [4, 1, 5]);
    let e = m.lru.events;
    assert_eq!((e.pgscan_direct, e.pgscan_file, e.pgsteal_direct, e.pgsteal_file), (5, 5, 2, 2));
    assert_eq!((e.pgactivate, e.pgscan_kswapd, e.pgscan_anon), (1, 0, 0));
    // Page 1 is marked referenced: the next scan, young again, activates it.
    assert!(page_flags(&m, 1).contains(LruFlags::PG_referenced));
    m.young.insert(BASE + 1, (1, false));
    let mut sc = ScanControl::kswapd(DEFAULT_SWAPPINESS);
    assert_eq!(shrink_inactive_list(&mut m, 3, &mut sc, LruList::InactiveFile), 1);
    assert_eq!(m.freed, [2, 3, 5]);
    assert_eq!(m.list(LruList::ActiveFile), [1, 0]);
    assert_eq!(m.list(LruList::InactiveFile), [4]);
    let e = m.lru.events;
    assert_eq!((e.pgscan_kswapd, e.pgsteal_kswapd, e.pgactivate), (3, 1, 2));
    m.lru.verify(&m.map).unwrap();
}

/// `activate_locked`: an anonymous page reclaim activates (referenced, or no swap slot for
/// it) is offered to `folio_free_swap` (the kernel frees its slot when swap is more than
/// half full); a file page is not.
#[test]
fn activated_anon_pages_go_through_folio_free_swap() {
    let mut v = vec![Page::RESERVED; 16];
    let mut m = Model::new(&mut v);
    m.swap_free = 8;
    m.swap_total = 8;
    m.add(0, 3, true);
    m.add(3, 2, false);
    // Pages 0 and 3 used twice (activated), the others not at all (anon ones swapped out).
    for i in 0..5 {
        m.young.insert(BASE + i, (if i == 0 || i == 3 { 2 } else { 0 }, false));
    }
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    assert_eq!(shrink_inactive_list(&mut m, 3, &mut sc, LruList::InactiveAnon), 2);
    assert_eq!(shrink_inactive_list(&mut m, 2, &mut sc, LruList::InactiveFile), 1);
    assert_eq!(m.list(LruList::ActiveAnon), [0]);
    assert_eq!(m.list(LruList::ActiveFile), [3]);
    assert_eq!(m.activated_free_swap, [0]);
    // No slot left: the anon page is activated (`Pageout::Activate`), and offered too.
    m.swap_free = 0;
    m.add(5, 1, true);
    m.young.insert(BASE + 5, (0, false));
    assert_eq!(shrink_inactive_list(&mut m, 1, &mut sc, LruList::InactiveAnon), 0);
    assert_eq!(m.activated_free_swap, [0, 5]);
    m.lru.verify(&m.map).unwrap();
}

fn page_flags(m: &Model<'_>, i: u64) -> LruFlags {
    crate::mm::swap::page_lru_flags(&m.map, Pfn(BASE + i)).unwrap()
}

#[test]
fn active_list_deactivates_all_but_referenced_executable_file_pages() {
    let mut v = vec![Page::RESERVED; 8];
    let mut m = Model::new(&mut v);
    m.add(0, 4, false);
    for i in 0..4 {
        m.lru.folio_activate(&mut m.map, Pfn(BASE + i));
    }
    // Page 0 young in an executable mapping, page 1 young elsewhere, 2 and 3 cold.
    m.young.insert(BASE, (1, true));
    m.young.insert(BASE + 1, (1, false));
    m.young.insert(BASE + 2, (0, true));
    m.young.insert(BASE + 3, (0, false));
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    shrink_active_list(&mut m, 32, &mut sc, LruList::ActiveFile);
    assert_eq!(m.list(LruList::ActiveFile), [0]);
    assert_eq!(m.list(LruList::InactiveFile), [3, 2, 1]);
    assert_eq!((m.lru.events.pgrefill, m.lru.events.pgdeactivate), (4, 3));
    assert!(page_flags(&m, 1).contains(LruFlags::PG_workingset));
    m.lru.verify(&m.map).unwrap();
}

#[test]
fn anon_is_left_alone_without_swap_and_swapped_with_it() {
    let mut v = vec![Page::RESERVED; 64];
    let mut m = Model::new(&mut v);
    m.add(0, 40, true);
    for i in 0..40 {
        m.young.insert(BASE + i, (0, false));
    }
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    assert_eq!(do_try_to_free_pages(&mut m, &mut sc), 0);
    assert_eq!(m.lru.events.pgscan_direct, 0);
    assert_eq!(m.list(LruList::InactiveAnon).len(), 40);
    // With swap: at priority 0 everything is in reach; 32 pages (SWAP_CLUSTER_MAX) go.
    m.swap_free = 100;
    m.swap_total = 100;
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    let got = do_try_to_free_pages(&mut m, &mut sc);
    assert!(got >= SWAP_CLUSTER_MAX, "{got}");
    assert_eq!(m.lru.events.pgsteal_anon, got);
    assert_eq!(m.lru.events.pgsteal_direct, got);
    assert_eq!(m.lru.size(LruList::InactiveAnon), 40 - got);
    // Swap IO is reclaim cost charged to anon.
    assert!(m.lru.anon_cost > 0);
    m.lru.verify(&m.map).unwrap();
}

#[test]
fn a_full_swap_activates_the_anon_pages_it_could_not_take() {
    let mut v = vec![Page::RESERVED; 8];
    let mut m = Model::new(&mut v);
    m.add(0, 4, true);
    for i in 0..4 {
        m.young.insert(BASE + i, (0, false));
    }
    m.swap_free = 1;
    m.swap_total = 1;
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    assert_eq!(shrink_inactive_list(&mut m, 4, &mut sc, LruList::InactiveAnon), 1);
    assert_eq!(m.freed, [0]);
    assert_eq!(m.list(LruList::ActiveAnon), [3, 2, 1]);
    assert_eq!(m.lru.events.pgactivate, 3);
}

#[test]
fn kswapd_reclaims_until_balanced() {
    let mut v = vec![Page::RESERVED; 256];
    let mut m = Model::new(&mut v);
    m.add(0, 200, false);
    for i in 0..200 {
        m.young.insert(BASE + i, (0, false));
    }
    m.high = 50;
    let run = balance_pgdat(&mut m, DEFAULT_SWAPPINESS);
    assert!(m.free >= 50 && run.nr_reclaimed == m.free, "{run:?} free {}", m.free);
    assert_eq!(m.lru.events.pageoutrun, 1);
    assert_eq!(m.lru.events.pgsteal_kswapd, run.nr_reclaimed);
    assert_eq!(m.lru.events.pgsteal_direct, 0);
    // Balanced: the next run does nothing but count.
    let run = balance_pgdat(&mut m, DEFAULT_SWAPPINESS);
    assert!(run.balanced_at_once);
    assert_eq!(m.lru.events.pageoutrun, 2);
}

#[test]
fn reclaim_retries_are_bounded() {
    let mut loops = 0;
    for _ in 0..MAX_RECLAIM_RETRIES {
        assert!(should_reclaim_retry(false, &mut loops, || true));
    }
    assert!(!should_reclaim_retry(false, &mut loops, || true));
    // Progress resets the count; nothing reclaimable anywhere: no retry at all.
    assert!(should_reclaim_retry(true, &mut loops, || true));
    assert_eq!(loops, 0);
    assert!(!should_reclaim_retry(false, &mut loops, || false));
}

#[test]
fn started_writes_are_waited_for_once_a_batch_and_a_remapped_page_stays() {
    let mut pages = vec![Page::RESERVED; 8];
    let mut m = Model::new(&mut pages);
    m.add(0, 4, true);
    for i in 0..4 {
        m.young.insert(BASE + i, (0, false));
    }
    m.swap_free = 100;
    m.swap_total = 100;
    m.async_io = true;
    m.remapped.insert(BASE + 1);
    let mut sc = ScanControl::kswapd(DEFAULT_SWAPPINESS);
    // Four writes started, one wait at the end of the batch, three pages freed then; the
    // one a fault mapped again stays on the inactive list.
    assert_eq!(shrink_inactive_list(&mut m, 4, &mut sc, LruList::InactiveAnon), 3);
    assert_eq!(m.waits, 1);
    assert_eq!(m.freed, vec![0, 2, 3]);
    assert_eq!(m.list(LruList::InactiveAnon), vec![1]);
    assert_eq!((m.lru.events.pgscan_kswapd, m.lru.events.pgsteal_kswapd), (4, 3));
    // Nothing written: no wait.
    let mut sc = ScanControl::direct(DEFAULT_SWAPPINESS);
    m.swap_free = 0;
    shrink_inactive_list(&mut m, 1, &mut sc, LruList::InactiveAnon);
    assert_eq!(m.waits, 1);
}

/// An anonymous page's index is its whole virtual page number on both kernels: the top of
/// arm64's 48-bit user space and of a 32-bit one come back as the one address they were.
#[test]
fn anon_page_index_keeps_the_whole_virtual_page_number() {
    assert_eq!(anon_page_index(0xbeef_0000), 0xbeef0);
    assert_eq!(anon_page_address(0xbeef0), 0xbeef_0000);
    for va in [0xffff_8e61_6000_usize, 0x7f_f7a3_1000, 0xffff_f000] {
        assert_eq!(anon_page_address(anon_page_index(va)), va);
    }
    assert_eq!(anon_page_index(0xffff_8e61_6000), 0xf_fff8_e616, "above 2^44: 36 bits");
}
