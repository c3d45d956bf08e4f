//! The per-CPU swap slots caches, as 6.1's mm/swap_slots.c keeps them: `folio_alloc_swap`
//! takes a slot from this CPU's cache, refilled `SWAP_BATCH` (64) slots at a time with
//! `get_swap_pages`, and `free_swap_slot` puts a slot nothing refers to any more on the CPU's
//! return list, given back to the areas (`swapcache_free_entries`, sorted) 64 at a time. So
//! that most allocations and frees touch no area, and freed slots have a chance to gather in
//! their clusters before they are used again. Slots in a cache are taken from their area
//! (`swap_map` `SWAP_HAS_CACHE` with no page in the swap cache, counted in `inuse_pages`,
//! `/proc/swaps` Used and `SwapFree`), which therefore move by whole batches. The caches are
//! used only while swap is plentiful (`check_cache_active`: on above
//! `THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE` free slots per online CPU, drained and off below
//! `THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE`), and drained and off during `swapoff`. Pure: the
//! kernel holds them in [`SwapAreas`] under the swap lock.
use alloc::vec::Vec;

use super::swapfile::{SwapAreas, SwpFlags, SWAP_HAS_CACHE};
use super::swapops::SwpEntry;

/// `SWAP_BATCH`: the most slots one `get_swap_pages` hands out.
pub const SWAP_BATCH: usize = 64;
/// `SWAP_SLOTS_CACHE_SIZE`: slots a CPU's cache (and its return list) holds.
pub const SWAP_SLOTS_CACHE_SIZE: usize = SWAP_BATCH;
/// `THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE`: free slots per online CPU above which the caches
/// come on.
pub const THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE: u64 = 5 * SWAP_SLOTS_CACHE_SIZE as u64;
/// `THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE`: free slots per online CPU below which they are
/// drained and go off.
pub const THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE: u64 = 2 * SWAP_SLOTS_CACHE_SIZE as u64;
/// The CPU whose cache the kernel uses (`raw_cpu_ptr(&swp_slots)`): pivm's kernel runs on
/// the boot CPU only, so its cache is CPU 0's.
pub const THIS_CPU: usize = 0;

/// `struct swap_slots_cache`: slots to hand out (`slots[cur..]`) and slots to give back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwapSlotsCache {
    slots: Vec<SwpEntry>,
    cur: usize,
    slots_ret: Vec<SwpEntry>,
}

impl SwapSlotsCache {
    /// `cache->nr`: slots left to hand out.
    pub fn nr(&self) -> usize {
        self.slots.len() - self.cur
    }

    /// `cache->n_ret`: slots waiting to go back.
    pub fn n_ret(&self) -> usize {
        self.slots_ret.len()
    }
}

/// The caches of the online CPUs and 6.1's two switches.
#[derive(Clone, Debug, Default)]
pub struct SwapSlots {
    /// One cache per online CPU, allocated by the first `swapon`
    /// (`swap_slot_cache_initialized`: `alloc_swap_slot_cache` for each).
    cpus: Vec<SwapSlotsCache>,
    /// `swap_slot_cache_active`: swap is plentiful enough (`check_cache_active`).
    active: bool,
    /// `swap_slot_cache_enabled`: a swap area is on and no `swapoff` runs.
    enabled: bool,
}

impl SwapSlots {
    pub const fn new() -> SwapSlots {
        SwapSlots { cpus: Vec::new(), active: false, enabled: false }
    }

    /// Every slot the caches hold (both lists of every CPU), for `verify`.
    pub fn cached(&self) -> impl Iterator<Item = SwpEntry> + '_ {
        self.cpus.iter().flat_map(|c| c.slots[c.cur..].iter().chain(&c.slots_ret).copied())
    }

    /// CPU `cpu`'s cache.
    pub fn cpu(&self, cpu: usize) -> Option<&SwapSlotsCache> {
        self.cpus.get(cpu)
    }

    /// `swap_slot_cache_active`.
    pub fn active(&self) -> bool {
        self.active
    }

    /// `swap_slot_cache_enabled`.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

impl SwapAreas {
    /// Every slot the swap slots caches hold (for `verify`).
    pub fn slots_cached(&self) -> impl Iterator<Item = SwpEntry> + '_ {
        self.slots.cached()
    }

    /// `use_swap_slot_cache`: the caches are on and active.
    pub fn use_swap_slot_cache(&self) -> bool {
        self.slots.active && self.slots.enabled
    }

    /// `has_usable_swap`: an area takes slots.
    fn has_usable_swap(&self) -> bool {
        self.areas.iter().flatten().any(|a| a.flags.contains(SwpFlags::WRITEOK))
    }

    /// `enable_swap_slots_cache` (the end of `swapon`): the caches of the `nr_cpus` online
    /// CPUs made the first time, then on while an area is.
    pub fn enable_swap_slots_cache(&mut self, nr_cpus: usize) {
        if self.slots.cpus.is_empty() {
            self.slots.cpus = (0..nr_cpus.max(1)).map(|_| SwapSlotsCache::default()).collect();
        }
        self.reenable_swap_slots_cache();
    }

    /// `__reenable_swap_slots_cache` (the end of `swapoff`, failed or not).
    pub(super) fn reenable_swap_slots_cache(&mut self) {
        self.slots.enabled = !self.slots.cpus.is_empty() && self.has_usable_swap();
    }

    /// `disable_swap_slots_cache_lock` (the start of `swapoff`): off, and every CPU's slots
    /// given back.
    pub(super) fn disable_swap_slots_cache(&mut self) {
        self.slots.enabled = false;
        self.drain_swap_slots_cache();
    }

    /// `__drain_swap_slots_cache(SLOTS_CACHE | SLOTS_CACHE_RET)`: both lists of every CPU
    /// given back to their areas.
    pub fn drain_swap_slots_cache(&mut self) {
        for cpu in 0..self.slots.cpus.len() {
            let c = &mut self.slots.cpus[cpu];
            let mut slots = core::mem::take(&mut c.slots);
            slots.drain(..c.cur);
            c.cur = 0;
            let ret = core::mem::take(&mut c.slots_ret);
            self.swapcache_free_entries(slots);
            self.swapcache_free_entries(ret);
        }
    }

    /// `check_cache_active`: turns the caches on when more than
    /// `THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE` slots per online CPU are free, and drains them
    /// and turns them off when fewer than `THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE` are.
    /// Whether they are active.
    pub fn check_cache_active(&mut self) -> bool {
        if !self.slots.enabled {
            return false;
        }
        let pages = self.nr_pages().0;
        let cpus = self.slots.cpus.len() as u64;
        if !self.slots.active {
            if pages > cpus * THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE {
                self.slots.active = true;
            }
        } else if pages < cpus * THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE {
            self.slots.active = false;
            self.drain_swap_slots_cache();
        }
        self.slots.active
    }

    /// `folio_alloc_swap` for an order-0 page: the next slot of CPU `cpu`'s cache, refilled
    /// with a batch (`refill_swap_slots_cache`) when empty, while the caches are active;
    /// else one slot straight from the areas. `reclaim` as in
    /// [`SwapAreas::get_swap_page_reclaiming`].
    pub fn folio_alloc_swap(
        &mut self,
        cpu: usize,
        reclaim: &mut impl FnMut(SwpEntry) -> bool,
    ) -> Option<SwpEntry> {
        if self.check_cache_active() && cpu < self.slots.cpus.len() {
            loop {
                let c = &mut self.slots.cpus[cpu];
                if let Some(&e) = c.slots.get(c.cur) {
                    c.cur += 1;
                    return Some(e);
                }
                // refill_swap_slots_cache: nothing when the caches went off meanwhile.
                if !self.use_swap_slot_cache() {
                    break;
                }
                let got = self.get_swap_pages(SWAP_SLOTS_CACHE_SIZE, SWAP_HAS_CACHE, reclaim);
                if got.is_empty() {
                    break;
                }
                let c = &mut self.slots.cpus[cpu];
                c.slots = got;
                c.cur = 0;
            }
        }
        self.get_swap_pages(1, SWAP_HAS_CACHE, reclaim).pop()
    }

    /// `free_swap_slot`: a slot nothing refers to any more (`swap_map` left at
    /// `SWAP_HAS_CACHE`) onto CPU `cpu`'s return list, which first goes back to the areas
    /// when it holds `SWAP_SLOTS_CACHE_SIZE`; straight back while the caches are not in use.
    pub fn free_swap_slot(&mut self, cpu: usize, e: SwpEntry) {
        if self.use_swap_slot_cache() && cpu < self.slots.cpus.len() {
            if self.slots.cpus[cpu].slots_ret.len() >= SWAP_SLOTS_CACHE_SIZE {
                let ret = core::mem::take(&mut self.slots.cpus[cpu].slots_ret);
                self.swapcache_free_entries(ret);
            }
            self.slots.cpus[cpu].slots_ret.push(e);
        } else {
            self.swapcache_free_entries(alloc::vec![e]);
        }
    }

    /// `swapcache_free_entries`: the slots back to their areas, sorted first as 6.1 sorts a
    /// batch (the freed clusters join the free list in that order).
    fn swapcache_free_entries(&mut self, mut entries: Vec<SwpEntry>) {
        entries.sort_unstable();
        for e in entries {
            if let Some(a) = self.get_mut(e) {
                a.swap_entry_free(e.offset());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::swap_header::{make_swap_header, read_swap_header};
    use super::super::swapfile::{SwapInfo, SWAP_MAP_BAD};
    use super::*;
    use alloc::collections::{BTreeMap, BTreeSet};
    use proptest::prelude::*;

    fn areas(pages: u32, cpus: usize) -> SwapAreas {
        let h =
            read_swap_header(&make_swap_header(pages, &[], ""), pages as u64, 1 << 25).unwrap().0;
        let mut a = SwapAreas::new();
        a.enable(SwapInfo::new("/dev/mmcblk0p2", (0, 2), &h, true), None);
        a.enable_swap_slots_cache(cpus);
        a
    }

    fn used(a: &SwapAreas) -> u64 {
        let (free, total) = a.nr_pages();
        total - free
    }

    fn alloc(a: &mut SwapAreas, cpu: usize) -> Option<SwpEntry> {
        a.folio_alloc_swap(cpu, &mut |_| false)
    }

    /// The last reference of a slot the swap cache holds goes (`put_swap_folio`).
    fn release(a: &mut SwapAreas, cpu: usize, e: SwpEntry) {
        let left = a.get_mut(e).unwrap().entry_put_locked(e.offset(), SWAP_HAS_CACHE);
        assert_eq!(left, Ok(0));
        a.free_swap_slot(cpu, e);
    }

    #[test]
    fn slots_are_taken_and_given_back_in_batches() {
        let mut a = areas(4096, 1);
        let first = alloc(&mut a, 0).unwrap();
        // The first slot of cluster 1, as without the cache; 64 taken from the area.
        assert_eq!(first.offset(), 256);
        assert_eq!(used(&a), 64);
        let mut got = alloc::vec![first];
        for _ in 1..64 {
            got.push(alloc(&mut a, 0).unwrap());
        }
        assert_eq!(used(&a), 64, "the batch lasts 64 allocations");
        let offs: Vec<u32> = got.iter().map(|e| e.offset()).collect();
        assert_eq!(offs, (256..320).collect::<Vec<_>>());
        got.push(alloc(&mut a, 0).unwrap());
        assert_eq!(used(&a), 128, "the 65th refills");
        // Frees wait on the return list: 64 of them change nothing, the 65th gives back 64.
        for &e in &got[..64] {
            release(&mut a, 0, e);
        }
        assert_eq!(used(&a), 128);
        assert_eq!(a.slots.cpu(0).unwrap().n_ret(), 64);
        release(&mut a, 0, got[64]);
        assert_eq!(used(&a), 64);
        assert_eq!(a.slots.cpu(0).unwrap().n_ret(), 1);
        // A slot on the return list is not handed out again before it went back.
        let next = alloc(&mut a, 0).unwrap();
        assert_eq!(next.offset(), 321);
        assert_eq!(a.map(got[64]), SWAP_HAS_CACHE);
    }

    #[test]
    fn the_caches_follow_the_thresholds() {
        // 1023 usable slots, two CPUs: on above 640 free, off below 256.
        let mut a = areas(1024, 2);
        let mut held = Vec::new();
        while a.nr_pages().0 >= 2 * THRESHOLD_DEACTIVATE_SWAP_SLOTS_CACHE {
            held.push(alloc(&mut a, held.len() % 2).unwrap());
            assert!(a.slots.active());
        }
        // The next allocation finds too little free: drained, off, one slot taken directly.
        let before = used(&a);
        let cached = a.slots.cached().count() as u64;
        held.push(alloc(&mut a, 0).unwrap());
        assert!(!a.slots.active());
        assert_eq!(a.slots.cached().count(), 0);
        assert_eq!(used(&a), before - cached + 1);
        // Frees go straight back while off.
        let e = held.pop().unwrap();
        release(&mut a, 0, e);
        assert_eq!(a.map(e), 0);
        // On again only above 640 free.
        while a.nr_pages().0 <= 2 * THRESHOLD_ACTIVATE_SWAP_SLOTS_CACHE {
            let e = held.pop().unwrap();
            release(&mut a, 1, e);
        }
        assert!(!a.slots.active());
        alloc(&mut a, 1).unwrap();
        assert!(a.slots.active());
        assert_eq!(a.slots.cpu(1).unwrap().nr(), SWAP_BATCH - 1);
    }

    #[test]
    fn swapoff_drains_every_cpu_and_turns_the_caches_off() {
        let mut a = areas(4096, 4);
        let mut held = Vec::new();
        for i in 0..300 {
            held.push(alloc(&mut a, i % 4).unwrap());
        }
        for (i, &e) in held.iter().enumerate().take(250) {
            release(&mut a, (i + 1) % 4, e);
        }
        assert!(used(&a) > 50);
        a.stop_allocating(0);
        assert!(!a.slots.enabled());
        assert_eq!(a.slots.cached().count(), 0);
        assert_eq!(a.areas[0].as_ref().unwrap().inuse_pages, 50);
        // While swapoff runs, frees go straight back.
        release(&mut a, 0, held[250]);
        assert_eq!(a.areas[0].as_ref().unwrap().inuse_pages, 49);
        // A failed swapoff turns them on again; a finished one leaves them off with no area.
        a.reenable(0);
        assert!(a.slots.enabled());
        a.stop_allocating(0);
        a.remove(0);
        assert!(!a.slots.enabled());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Alloc(usize),
        Free(usize, usize),
        Swapoff,
    }

    proptest! {
        /// Random allocations and frees on several CPUs against a model (the set of slots
        /// handed out): never a slot handed out twice or while it waits to go back, the area's
        /// used count is the slots handed out plus the slots the caches hold, every cached
        /// slot is `SWAP_HAS_CACHE`, and after a drain nothing is lost.
        #[test]
        fn the_caches_lose_no_slot(
            cpus in 1usize..4,
            pages in prop_oneof![Just(700u32), Just(1200), Just(5000)],
            ops in proptest::collection::vec(
                prop_oneof![
                    5 => (0usize..4).prop_map(Op::Alloc),
                    4 => (0usize..4, 0usize..1000).prop_map(|(c, i)| Op::Free(c, i)),
                    1 => Just(Op::Swapoff),
                ],
                0..600,
            ),
        ) {
            let mut a = areas(pages, cpus);
            let mut out: BTreeMap<SwpEntry, ()> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Alloc(c) => match alloc(&mut a, c % cpus) {
                        Some(e) => {
                            prop_assert!(out.insert(e, ()).is_none(), "{} handed out twice", e);
                            prop_assert_eq!(a.map(e), SWAP_HAS_CACHE);
                        }
                        None => prop_assert_eq!(out.len() as u64, u64::from(pages - 1)),
                    },
                    Op::Free(c, i) if !out.is_empty() => {
                        let e = *out.keys().nth(i % out.len()).unwrap();
                        out.remove(&e);
                        release(&mut a, c % cpus, e);
                    }
                    Op::Swapoff => {
                        // A swapoff that fails (the slots handed out are still in use).
                        a.stop_allocating(0);
                        prop_assert_eq!(used(&a), 0, "off: nothing counts as used");
                        let si = a.areas[0].as_ref().unwrap();
                        prop_assert_eq!(si.inuse_pages as usize, out.len());
                        a.reenable(0);
                    }
                    _ => {}
                }
                let cached: BTreeSet<SwpEntry> = a.slots.cached().collect();
                prop_assert_eq!(cached.len(), a.slots.cached().count(), "a slot cached twice");
                for e in &cached {
                    prop_assert!(!out.contains_key(e));
                    prop_assert_eq!(a.map(*e), SWAP_HAS_CACHE);
                }
                prop_assert_eq!(used(&a), (out.len() + cached.len()) as u64);
                let si = a.areas[0].as_ref().unwrap();
                let in_map = si
                    .swap_map
                    .iter()
                    .filter(|&&m| m != 0 && m != SWAP_MAP_BAD)
                    .count();
                prop_assert_eq!(in_map, out.len() + cached.len());
            }
            a.drain_swap_slots_cache();
            prop_assert_eq!(used(&a), out.len() as u64);
            for e in out.keys().copied().collect::<Vec<_>>() {
                release(&mut a, 0, e);
            }
            a.drain_swap_slots_cache();
            prop_assert_eq!(used(&a), 0);
            prop_assert!(a.areas[0].as_ref().unwrap().swap_map[1..].iter().all(|&m| m == 0));
        }
    }
}
