//! The LRU lists (Linux 6.1's mm/swap.c and `include/linux/mm_inline.h`, without multi-gen
//! LRU): one [`Lruvec`] per node with its five lists, pages linked through their descriptors'
//! `lru_next`/`lru_prev` (`page->lru`, unused by the allocator while a page is allocated),
//! newest at the head, oldest at the tail where reclaim isolates. `folio_add_lru` (a new page
//! starts inactive: 6.1 without MGLRU puts new anonymous pages on the inactive list since
//! 5.9's workingset protection), `folio_mark_accessed` / `folio_activate`, isolation and
//! putback for vmscan, removal when a page is freed. Pure: the node calls it under its lock.
//!
//! pivm adds pages to the lists at once instead of through the per-CPU `lru_add` batch of 15
//! pages Linux fills first (`lru_add_drain` empties it before every scan anyway), so the list
//! sizes count a page from its first mapping, where Linux's may lag by up to 15 pages.
use super::page::{pgoff_t, LruFlags, MemMap, NIL};
use super::zone::MAX_NR_ZONES;
use super::Pfn;

/// `enum lru_list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(usize)]
pub enum LruList {
    InactiveAnon = 0,
    ActiveAnon = 1,
    InactiveFile = 2,
    ActiveFile = 3,
    Unevictable = 4,
}

/// `NR_LRU_LISTS`.
pub const NR_LRU_LISTS: usize = 5;
/// `LRU_ACTIVE`: the offset of an active list from its inactive one.
pub const LRU_ACTIVE: usize = 1;
/// `LRU_FILE`: the offset of the file lists.
pub const LRU_FILE: usize = 2;

impl LruList {
    /// Every list, in `enum lru_list` order.
    pub const ALL: [LruList; NR_LRU_LISTS] = [
        LruList::InactiveAnon,
        LruList::ActiveAnon,
        LruList::InactiveFile,
        LruList::ActiveFile,
        LruList::Unevictable,
    ];
    /// `for_each_evictable_lru`.
    pub const EVICTABLE: [LruList; 4] =
        [LruList::InactiveAnon, LruList::ActiveAnon, LruList::InactiveFile, LruList::ActiveFile];

    pub const fn from_index(i: usize) -> LruList {
        Self::ALL[i]
    }

    /// `is_file_lru`.
    pub const fn is_file(self) -> bool {
        matches!(self, LruList::InactiveFile | LruList::ActiveFile)
    }

    /// `is_active_lru`.
    pub const fn is_active(self) -> bool {
        matches!(self, LruList::ActiveAnon | LruList::ActiveFile)
    }

    /// The list name as `/proc/vmstat` spells it (`nr_inactive_anon` without `nr_`).
    pub const fn name(self) -> &'static str {
        match self {
            LruList::InactiveAnon => "inactive_anon",
            LruList::ActiveAnon => "active_anon",
            LruList::InactiveFile => "inactive_file",
            LruList::ActiveFile => "active_file",
            LruList::Unevictable => "unevictable",
        }
    }
}

/// `folio_lru_list()`: the list a page with `flags` belongs on.
pub const fn folio_lru_list(flags: LruFlags) -> LruList {
    if flags.contains(LruFlags::PG_unevictable) {
        return LruList::Unevictable;
    }
    let file = !flags.contains(LruFlags::PG_swapbacked);
    let active = flags.contains(LruFlags::PG_active);
    LruList::from_index((file as usize) * LRU_FILE + (active as usize) * LRU_ACTIVE)
}

/// `folio_is_file_lru()`: not swap-backed (shmem and anonymous pages are).
pub const fn folio_is_file_lru(flags: LruFlags) -> bool {
    !flags.contains(LruFlags::PG_swapbacked)
}

/// The reclaim events `/proc/vmstat` prints (`enum vm_event_item`'s reclaim part, and
/// `allocstall_<zone>` per zone), counted under the node's lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReclaimEvents {
    pub pgactivate: u64,
    pub pgdeactivate: u64,
    pub pgrefill: u64,
    pub pgsteal_kswapd: u64,
    pub pgsteal_direct: u64,
    pub pgscan_kswapd: u64,
    pub pgscan_direct: u64,
    pub pgscan_anon: u64,
    pub pgscan_file: u64,
    pub pgsteal_anon: u64,
    pub pgsteal_file: u64,
    pub kswapd_low_wmark_hit_quickly: u64,
    pub kswapd_high_wmark_hit_quickly: u64,
    pub pageoutrun: u64,
    /// `pgrotated`: pages `folio_rotate_reclaimable` moved to the tail of their inactive list
    /// when their reclaim write ended.
    pub pgrotated: u64,
    /// `allocstall_<zone>`, by zone index: direct reclaim entered for a request whose highest
    /// zone is that one.
    pub allocstall: [u64; MAX_NR_ZONES],
}

/// One list: head (newest) and tail (oldest) mem_map indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ListHead {
    head: u32,
    tail: u32,
}

const EMPTY: ListHead = ListHead { head: NIL, tail: NIL };

/// `struct lruvec` of the node: the lists, their sizes (node-wide and per zone), the recent
/// reclaim cost of each type (`anon_cost`, `file_cost`, which `get_scan_count` balances) and
/// the reclaim events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lruvec {
    lists: [ListHead; NR_LRU_LISTS],
    /// `lruvec_page_state(NR_LRU_BASE + lru)`.
    nr: [u64; NR_LRU_LISTS],
    /// `NR_ZONE_LRU_BASE + lru` per zone.
    nr_zone: [[u64; NR_LRU_LISTS]; MAX_NR_ZONES],
    pub anon_cost: u64,
    pub file_cost: u64,
    pub events: ReclaimEvents,
}

impl Default for Lruvec {
    fn default() -> Self {
        Self::new()
    }
}

/// Why an LRU operation refused a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruError {
    /// The PFN has no descriptor.
    NoPage,
    /// Already on a list (add) or not on one (delete, activate).
    WrongState,
}

impl Lruvec {
    pub const fn new() -> Self {
        Lruvec {
            lists: [EMPTY; NR_LRU_LISTS],
            nr: [0; NR_LRU_LISTS],
            nr_zone: [[0; NR_LRU_LISTS]; MAX_NR_ZONES],
            anon_cost: 0,
            file_cost: 0,
            events: ReclaimEvents {
                pgactivate: 0,
                pgdeactivate: 0,
                pgrefill: 0,
                pgsteal_kswapd: 0,
                pgsteal_direct: 0,
                pgscan_kswapd: 0,
                pgscan_direct: 0,
                pgscan_anon: 0,
                pgscan_file: 0,
                pgsteal_anon: 0,
                pgsteal_file: 0,
                kswapd_low_wmark_hit_quickly: 0,
                kswapd_high_wmark_hit_quickly: 0,
                pageoutrun: 0,
                pgrotated: 0,
                allocstall: [0; MAX_NR_ZONES],
            },
        }
    }

    /// `lruvec_page_state(NR_LRU_BASE + lru)`: pages on `lru`.
    pub const fn size(&self, lru: LruList) -> u64 {
        self.nr[lru as usize]
    }

    /// Every list's size, in `enum lru_list` order.
    pub const fn sizes(&self) -> [u64; NR_LRU_LISTS] {
        self.nr
    }

    /// `zone_page_state(NR_ZONE_LRU_BASE + lru)` of zone `zone`.
    pub fn zone_size(&self, zone: usize, lru: LruList) -> u64 {
        self.nr_zone.get(zone).map_or(0, |z| z[lru as usize])
    }

    /// Pages of list `lru`, newest first (for tests and `verify`).
    pub fn iter<'m>(&self, map: &'m MemMap<'_>, lru: LruList) -> impl Iterator<Item = Pfn> + 'm {
        let mut at = self.lists[lru as usize].head;
        core::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let pfn = map.pfn_of(at);
            at = map.pages()[at as usize].lru_next;
            Some(pfn)
        })
    }

    /// `list_add` (at the head) or `list_add_tail` of the page at index `i` to `lru`.
    fn link(&mut self, map: &mut MemMap<'_>, i: u32, lru: LruList, tail: bool) {
        let l = &mut self.lists[lru as usize];
        let pages = map.pages_mut();
        if tail {
            pages[i as usize].lru_prev = l.tail;
            pages[i as usize].lru_next = NIL;
            match l.tail {
                NIL => l.head = i,
                t => pages[t as usize].lru_next = i,
            }
            l.tail = i;
        } else {
            pages[i as usize].lru_next = l.head;
            pages[i as usize].lru_prev = NIL;
            match l.head {
                NIL => l.tail = i,
                h => pages[h as usize].lru_prev = i,
            }
            l.head = i;
        }
        self.nr[lru as usize] += 1;
        let zone = pages[i as usize].zone_idx() as usize;
        if let Some(z) = self.nr_zone.get_mut(zone) {
            z[lru as usize] += 1;
        }
    }

    /// `list_del` of the page at index `i` from `lru`.
    fn unlink(&mut self, map: &mut MemMap<'_>, i: u32, lru: LruList) {
        let l = &mut self.lists[lru as usize];
        let pages = map.pages_mut();
        let (next, prev) = (pages[i as usize].lru_next, pages[i as usize].lru_prev);
        match prev {
            NIL => l.head = next,
            p => pages[p as usize].lru_next = next,
        }
        match next {
            NIL => l.tail = prev,
            n => pages[n as usize].lru_prev = prev,
        }
        pages[i as usize].lru_next = NIL;
        pages[i as usize].lru_prev = NIL;
        self.nr[lru as usize] -= 1;
        let zone = pages[i as usize].zone_idx() as usize;
        if let Some(z) = self.nr_zone.get_mut(zone) {
            z[lru as usize] -= 1;
        }
    }

    fn index(map: &MemMap<'_>, pfn: Pfn) -> Result<u32, LruError> {
        map.index(pfn).ok_or(LruError::NoPage)
    }

    /// `folio_add_lru` of a newly mapped or cached page, with its reverse-map key: on the
    /// inactive anon list when `swapbacked` (anonymous and shmem pages), else on the inactive
    /// file list, at the head (`lruvec_add_folio`).
    pub fn folio_add_lru(
        &mut self,
        map: &mut MemMap<'_>,
        pfn: Pfn,
        swapbacked: bool,
        mapping: usize,
        index: pgoff_t,
    ) -> Result<(), LruError> {
        let i = Self::index(map, pfn)?;
        let page = &mut map.pages_mut()[i as usize];
        if page.lru_flags.contains(LruFlags::PG_lru) {
            return Err(LruError::WrongState);
        }
        page.mapping = mapping;
        page.index = index;
        page.lru_flags = LruFlags::PG_lru;
        if swapbacked {
            page.lru_flags.insert(LruFlags::PG_swapbacked);
        }
        let lru = folio_lru_list(page.lru_flags);
        self.link(map, i, lru, false);
        Ok(())
    }

    /// `folio_mark_dirty` (`dirty`) or `folio_clear_dirty_for_io` (not `dirty`) of a page on
    /// a list or isolated (`PG_dirty` names no list). Whether it was dirty before; false for
    /// no such page.
    pub fn folio_set_dirty(map: &mut MemMap<'_>, pfn: Pfn, dirty: bool) -> bool {
        Self::set_page_flag(map, pfn, LruFlags::PG_dirty, dirty)
    }

    /// `folio_set_reclaim` (`pageout` before the write) or `folio_clear_reclaim` (the write
    /// failed) of a page on a list or isolated (`PG_reclaim` names no list). Whether it was
    /// set before.
    pub fn folio_set_reclaim(map: &mut MemMap<'_>, pfn: Pfn, reclaim: bool) -> bool {
        Self::set_page_flag(map, pfn, LruFlags::PG_reclaim, reclaim)
    }

    /// Sets or clears a flag that names no list; whether it was set.
    fn set_page_flag(map: &mut MemMap<'_>, pfn: Pfn, flag: LruFlags, on: bool) -> bool {
        let Some(i) = map.index(pfn) else { return false };
        let flags = &mut map.pages_mut()[i as usize].lru_flags;
        let was = flags.contains(flag);
        flags.set(flag, on);
        was
    }

    /// Sets a page's reverse-map key (`page->mapping`, `page->index`), e.g. once a cached
    /// file's inode number is known.
    pub fn set_rmap_key(map: &mut MemMap<'_>, pfn: Pfn, mapping: usize, index: pgoff_t) {
        if let Some(i) = map.index(pfn) {
            let page = &mut map.pages_mut()[i as usize];
            page.mapping = mapping;
            page.index = index;
        }
    }

    /// Takes a page off its list for good (it is being freed: `__folio_clear_lru_flags` and
    /// `lruvec_del_folio` in `__page_cache_release`), clearing every reclaim word so the
    /// allocator gets the descriptor back as it handed it out. Nothing to do for a page that
    /// is on no list (an isolated one, or one never added).
    pub fn folio_del_lru(&mut self, map: &mut MemMap<'_>, pfn: Pfn) -> Result<(), LruError> {
        let i = Self::index(map, pfn)?;
        let flags = map.pages()[i as usize].lru_flags;
        if flags.contains(LruFlags::PG_lru) {
            self.unlink(map, i, folio_lru_list(flags));
        }
        let page = &mut map.pages_mut()[i as usize];
        page.lru_flags = LruFlags::empty();
        page.mapping = 0;
        page.index = 0;
        page.private = 0;
        Ok(())
    }

    /// `folio_mark_accessed`: the first access since the page was last looked at sets
    /// `PG_referenced`; the second moves an inactive page to the active list (`folio_activate`,
    /// one `pgactivate`) and clears the mark. Returns whether it activated the page.
    pub fn folio_mark_accessed(&mut self, map: &mut MemMap<'_>, pfn: Pfn) -> bool {
        let Ok(i) = Self::index(map, pfn) else { return false };
        let flags = map.pages()[i as usize].lru_flags;
        if !flags.contains(LruFlags::PG_referenced) {
            map.pages_mut()[i as usize].lru_flags.insert(LruFlags::PG_referenced);
            return false;
        }
        if flags.contains(LruFlags::PG_unevictable) || flags.contains(LruFlags::PG_active) {
            return false;
        }
        let activated = flags.contains(LruFlags::PG_lru) && self.folio_activate(map, pfn);
        map.pages_mut()[i as usize].lru_flags.remove(LruFlags::PG_referenced);
        activated
    }

    /// `folio_activate` (`folio_activate_fn`): an inactive, evictable page on a list moves to
    /// the head of its active list; counts `pgactivate`.
    pub fn folio_activate(&mut self, map: &mut MemMap<'_>, pfn: Pfn) -> bool {
        let Ok(i) = Self::index(map, pfn) else { return false };
        let flags = map.pages()[i as usize].lru_flags;
        if !flags.contains(LruFlags::PG_lru)
            || flags.intersects(LruFlags::PG_active | LruFlags::PG_unevictable)
        {
            return false;
        }
        self.unlink(map, i, folio_lru_list(flags));
        map.pages_mut()[i as usize].lru_flags.insert(LruFlags::PG_active);
        self.link(map, i, folio_lru_list(flags | LruFlags::PG_active), false);
        self.events.pgactivate += 1;
        true
    }

    /// `folio_end_writeback`'s `PG_reclaim` half: a page reclaim wrote (`PG_reclaim` set)
    /// leaves the flag and, through `folio_rotate_reclaimable` (`lru_move_tail_fn`), moves to
    /// the tail of its type's inactive list (active cleared), one `pgrotated`, when it is on a
    /// list (not isolated), clean and evictable: the next scan isolates it first and finds it
    /// ready to free. Whether it moved.
    pub fn folio_end_writeback_reclaim(&mut self, map: &mut MemMap<'_>, pfn: Pfn) -> bool {
        let Ok(i) = Self::index(map, pfn) else { return false };
        let flags = map.pages()[i as usize].lru_flags;
        if !flags.contains(LruFlags::PG_reclaim) {
            return false;
        }
        map.pages_mut()[i as usize].lru_flags.remove(LruFlags::PG_reclaim);
        if !flags.contains(LruFlags::PG_lru)
            || flags.intersects(LruFlags::PG_dirty | LruFlags::PG_unevictable)
        {
            return false;
        }
        self.unlink(map, i, folio_lru_list(flags));
        let moved = flags.difference(LruFlags::PG_active | LruFlags::PG_reclaim);
        map.pages_mut()[i as usize].lru_flags = moved;
        self.link(map, i, folio_lru_list(moved), true);
        self.events.pgrotated += 1;
        true
    }

    /// `isolate_lru_folios`: up to `out.len()` pages off the tail of `lru` into `out`
    /// (`PG_lru` cleared: they belong to the caller until put back or freed). Returns the
    /// pages scanned, all of them taken (pivm has no zone to skip and no page under
    /// migration). A caller's buffer, so reclaim never allocates.
    pub fn isolate_lru_folios(
        &mut self,
        map: &mut MemMap<'_>,
        lru: LruList,
        out: &mut [Pfn],
    ) -> usize {
        let mut scanned = 0;
        while scanned < out.len() {
            let tail = self.lists[lru as usize].tail;
            if tail == NIL {
                break;
            }
            self.unlink(map, tail, lru);
            map.pages_mut()[tail as usize].lru_flags.remove(LruFlags::PG_lru);
            out[scanned] = map.pfn_of(tail);
            scanned += 1;
        }
        scanned
    }

    /// `move_folios_to_lru` of one isolated page: back on the head of the list its flags
    /// name. False if it was not isolated.
    pub fn putback(&mut self, map: &mut MemMap<'_>, pfn: Pfn) -> bool {
        let Ok(i) = Self::index(map, pfn) else { return false };
        let flags = map.pages()[i as usize].lru_flags;
        if flags.contains(LruFlags::PG_lru) {
            return false;
        }
        map.pages_mut()[i as usize].lru_flags.insert(LruFlags::PG_lru);
        self.link(map, i, folio_lru_list(flags), false);
        true
    }

    /// Sets and clears reclaim flags of a page that is off its list (isolated), as the
    /// scanner decides where it goes back.
    pub fn update_isolated(
        map: &mut MemMap<'_>,
        pfn: Pfn,
        clear: LruFlags,
        set: LruFlags,
    ) -> Option<LruFlags> {
        let i = map.index(pfn)?;
        let page = &mut map.pages_mut()[i as usize];
        if page.lru_flags.contains(LruFlags::PG_lru) {
            return None;
        }
        page.lru_flags = page.lru_flags.difference(clear).union(set);
        Some(page.lru_flags)
    }

    /// `lru_note_cost`: `nr_pages` of IO (or rotation) charged to a type; both costs halve
    /// once they exceed a quarter of the LRU pages, so old events decay.
    pub fn lru_note_cost(&mut self, file: bool, nr_pages: u64) {
        if file {
            self.file_cost += nr_pages;
        } else {
            self.anon_cost += nr_pages;
        }
        let lrusize: u64 = self.nr[..4].iter().sum();
        if self.file_cost + self.anon_cost > lrusize / 4 {
            self.file_cost /= 2;
            self.anon_cost /= 2;
        }
    }

    /// The lists agree with the descriptors: links both ways, sizes, each page's flags
    /// naming the list it is on. The first broken rule and the page.
    pub fn verify(&self, map: &MemMap<'_>) -> Result<(), (&'static str, Pfn)> {
        let pages = map.pages();
        for lru in LruList::ALL {
            let mut n = 0u64;
            let mut prev = NIL;
            let mut at = self.lists[lru as usize].head;
            while at != NIL {
                let p = &pages[at as usize];
                let pfn = map.pfn_of(at);
                if p.lru_prev != prev {
                    return Err(("an LRU list's links disagree", pfn));
                }
                if !p.lru_flags.contains(LruFlags::PG_lru) || folio_lru_list(p.lru_flags) != lru {
                    return Err(("a page's flags do not name the LRU list it is on", pfn));
                }
                if p.refcount == 0 {
                    return Err(("a free page is on an LRU list", pfn));
                }
                n += 1;
                if n > self.nr[lru as usize] {
                    return Err(("an LRU list is longer than its count", pfn));
                }
                prev = at;
                at = p.lru_next;
            }
            if n != self.nr[lru as usize] || self.lists[lru as usize].tail != prev {
                let at = if prev == NIL { 0 } else { prev };
                return Err(("an LRU list's count or tail is wrong", map.pfn_of(at)));
            }
        }
        Ok(())
    }
}

/// Flags on a page (for callers outside `mm` that hold the map).
pub fn page_lru_flags(map: &MemMap<'_>, pfn: Pfn) -> Option<LruFlags> {
    map.pfn_to_page(pfn).map(|p| p.lru_flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::page::Page;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    fn map_of(v: &mut [Page]) -> MemMap<'_> {
        for p in v.iter_mut() {
            *p = Page::RESERVED;
            p.zone = crate::mm::page::page_zonenum(crate::mm::zone::ZoneType::Normal as u8);
        }
        MemMap::new(v, Pfn(0x100)).unwrap()
    }

    fn list(l: &Lruvec, m: &MemMap<'_>, lru: LruList) -> Vec<u64> {
        l.iter(m, lru).map(|p| p.0).collect()
    }

    #[test]
    fn new_pages_start_inactive_newest_at_the_head() {
        let mut v = vec![Page::RESERVED; 8];
        let mut m = map_of(&mut v);
        let mut l = Lruvec::new();
        l.folio_add_lru(&mut m, Pfn(0x100), true, 0, 0x10).unwrap();
        l.folio_add_lru(&mut m, Pfn(0x101), true, 0, 0x11).unwrap();
        l.folio_add_lru(&mut m, Pfn(0x102), false, 7, 3).unwrap();
        assert_eq!(list(&l, &m, LruList::InactiveAnon), [0x101, 0x100]);
        assert_eq!(list(&l, &m, LruList::InactiveFile), [0x102]);
        assert_eq!(l.sizes(), [2, 0, 1, 0, 0]);
        assert_eq!(l.zone_size(crate::mm::zone::ZoneType::Normal.idx(), LruList::InactiveAnon), 2);
        assert_eq!(l.folio_add_lru(&mut m, Pfn(0x100), true, 0, 0), Err(LruError::WrongState));
        let p = m.pfn_to_page(Pfn(0x102)).unwrap();
        assert_eq!((p.mapping(), p.index()), (7, 3));
        l.verify(&m).unwrap();
    }

    #[test]
    fn mark_accessed_twice_activates_once() {
        let mut v = vec![Page::RESERVED; 4];
        let mut m = map_of(&mut v);
        let mut l = Lruvec::new();
        l.folio_add_lru(&mut m, Pfn(0x100), true, 0, 0).unwrap();
        assert!(!l.folio_mark_accessed(&mut m, Pfn(0x100)));
        assert!(page_lru_flags(&m, Pfn(0x100)).unwrap().contains(LruFlags::PG_referenced));
        assert!(l.folio_mark_accessed(&mut m, Pfn(0x100)));
        assert_eq!(l.sizes(), [0, 1, 0, 0, 0]);
        assert_eq!(l.events.pgactivate, 1);
        let f = page_lru_flags(&m, Pfn(0x100)).unwrap();
        assert!(f.contains(LruFlags::PG_active) && !f.contains(LruFlags::PG_referenced));
        // Active already: a third access only marks it referenced again.
        assert!(!l.folio_mark_accessed(&mut m, Pfn(0x100)));
        assert!(!l.folio_mark_accessed(&mut m, Pfn(0x100)));
        assert_eq!(l.events.pgactivate, 1);
        l.verify(&m).unwrap();
    }

    #[test]
    fn isolation_takes_the_oldest_and_putback_uses_the_flags() {
        let mut v = vec![Page::RESERVED; 8];
        let mut m = map_of(&mut v);
        let mut l = Lruvec::new();
        for i in 0..5 {
            l.folio_add_lru(&mut m, Pfn(0x100 + i), false, 1, i as usize).unwrap();
        }
        let mut out = [Pfn(0); 3];
        assert_eq!(l.isolate_lru_folios(&mut m, LruList::InactiveFile, &mut out), 3);
        assert_eq!(out, [Pfn(0x100), Pfn(0x101), Pfn(0x102)]);
        assert_eq!(l.size(LruList::InactiveFile), 2);
        Lruvec::update_isolated(&mut m, Pfn(0x101), LruFlags::empty(), LruFlags::PG_active)
            .unwrap();
        assert!(l.putback(&mut m, Pfn(0x101)));
        assert!(!l.putback(&mut m, Pfn(0x101)));
        assert_eq!(list(&l, &m, LruList::ActiveFile), [0x101]);
        // Freed while isolated: the words are cleared, no list changes.
        l.folio_del_lru(&mut m, Pfn(0x100)).unwrap();
        assert_eq!(m.pfn_to_page(Pfn(0x100)).unwrap().raw_words(32).words()[4..], [0, 0, 0, 0]);
        // Freed from a list: unlinked.
        l.folio_del_lru(&mut m, Pfn(0x104)).unwrap();
        assert_eq!(list(&l, &m, LruList::InactiveFile), [0x103]);
        assert!(l.putback(&mut m, Pfn(0x102)));
        assert_eq!(list(&l, &m, LruList::InactiveFile), [0x102, 0x103]);
        l.verify(&m).unwrap();
    }

    #[test]
    fn a_reclaim_write_that_ends_rotates_its_page_to_the_inactive_tail() {
        let mut v = vec![Page::RESERVED; 8];
        let mut m = map_of(&mut v);
        let mut l = Lruvec::new();
        for i in 0..4 {
            l.folio_add_lru(&mut m, Pfn(0x100 + i), true, 0, i as usize).unwrap();
        }
        // 0x102 written by reclaim from the active list, 0x103 from the inactive one.
        l.folio_activate(&mut m, Pfn(0x102));
        Lruvec::folio_set_reclaim(&mut m, Pfn(0x102), true);
        Lruvec::folio_set_reclaim(&mut m, Pfn(0x103), true);
        assert!(l.folio_end_writeback_reclaim(&mut m, Pfn(0x103)));
        assert!(l.folio_end_writeback_reclaim(&mut m, Pfn(0x102)));
        assert_eq!(list(&l, &m, LruList::InactiveAnon), [0x101, 0x100, 0x103, 0x102]);
        assert_eq!(l.size(LruList::ActiveAnon), 0);
        assert_eq!(l.events.pgrotated, 2);
        let mut out = [Pfn(0); 2];
        l.isolate_lru_folios(&mut m, LruList::InactiveAnon, &mut out);
        assert_eq!(out, [Pfn(0x102), Pfn(0x103)], "the next scan takes them first");
        // Without PG_reclaim (a write nobody reclaims for): nothing moves.
        assert!(!l.folio_end_writeback_reclaim(&mut m, Pfn(0x100)));
        // Isolated, or dirtied again (a fault wrote it): the flag goes, the page stays.
        Lruvec::folio_set_reclaim(&mut m, Pfn(0x102), true);
        assert!(!l.folio_end_writeback_reclaim(&mut m, Pfn(0x102)));
        assert!(!page_lru_flags(&m, Pfn(0x102)).unwrap().contains(LruFlags::PG_reclaim));
        Lruvec::folio_set_reclaim(&mut m, Pfn(0x101), true);
        Lruvec::folio_set_dirty(&mut m, Pfn(0x101), true);
        assert!(!l.folio_end_writeback_reclaim(&mut m, Pfn(0x101)));
        assert_eq!(l.events.pgrotated, 2);
        l.putback(&mut m, Pfn(0x102));
        l.putback(&mut m, Pfn(0x103));
        l.verify(&m).unwrap();
    }

    #[test]
    fn verify_catches_a_wrong_count() {
        let mut v = vec![Page::RESERVED; 4];
        let mut m = map_of(&mut v);
        let mut l = Lruvec::new();
        l.folio_add_lru(&mut m, Pfn(0x100), true, 0, 0).unwrap();
        l.nr[0] = 2;
        assert!(l.verify(&m).is_err());
    }

    #[test]
    fn note_cost_decays_past_a_quarter_of_the_lists() {
        let mut l = Lruvec::new();
        l.nr = [100, 0, 100, 0, 0];
        l.lru_note_cost(true, 40);
        assert_eq!((l.anon_cost, l.file_cost), (0, 40));
        l.lru_note_cost(false, 20);
        // 60 > 200 / 4: both halve.
        assert_eq!((l.anon_cost, l.file_cost), (10, 20));
    }
}
