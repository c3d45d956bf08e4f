//! Highmem mapping bookkeeping (mm/highmem.c), pure: the permanent kmap pool
//! (`pkmap_count[]`, `last_pkmap_nr`, `flush_all_zero_pkmaps`, `page_address`). It decides
//! which slot maps which page; the kernel writes the PTEs and flushes the TLB as the returned
//! values say. (Temporary mappings, 6.1's `kmap_local_page`, are the kernel's one fixmap
//! slot: see `kernel::mem::with_page_mapped`.)
mod verify;

use core::fmt;

use super::{Pfn, PAGE_SHIFT};

/// Permanent kmap slots: one page table's worth on the 32-bit architectures pivm has (512
/// pages, 2 MiB: ARM's `LAST_PKMAP` is `PTRS_PER_PTE`, which `arch::memory` checks against
/// this value at compile time). The pool's arrays are sized by it.
pub const LAST_PKMAP: usize = 512;
/// `last_pkmap_nr` wraps with this mask (LAST_PKMAP is a power of two).
pub const LAST_PKMAP_MASK: usize = LAST_PKMAP - 1;
/// `page_address_htable` has 2^PA_HASH_ORDER buckets, as in mm/highmem.c.
const PA_HASH_ORDER: u32 = 7;
const PA_HASH_SIZE: usize = 1 << PA_HASH_ORDER;
/// `hash_32()`'s multiplier (include/linux/hash.h).
const GOLDEN_RATIO_32: u32 = 0x61C8_8647;
/// Words of the slot bitmap in `PkmapFlush`.
const SLOT_WORDS: usize = LAST_PKMAP / u64::BITS as usize;

/// `PKMAP_NR(virt)`: the slot of a pkmap address.
#[allow(non_snake_case)]
pub const fn PKMAP_NR(pkmap_base: u64, virt: u64) -> usize {
    ((virt - pkmap_base) >> PAGE_SHIFT) as usize
}

/// `PKMAP_ADDR(nr)`: the address of a slot.
#[allow(non_snake_case)]
pub const fn PKMAP_ADDR(pkmap_base: u64, nr: usize) -> u64 {
    pkmap_base + ((nr as u64) << PAGE_SHIFT)
}

/// Errors, worded after what Linux prints or BUGs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmapError {
    /// Every pkmap slot has users (Linux sleeps until one is released; pivm cannot).
    NoFreeSlot,
    /// `kunmap` of a page that has no kmap users (Linux: `BUG_ON(!vaddr)` / `BUG()`).
    NotMapped(Pfn),
    /// A slot's user count would overflow.
    TooManyUsers(Pfn),
}

impl fmt::Display for KmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoFreeSlot => write!(f, "kmap: no free pkmap slot (all {LAST_PKMAP} in use)"),
            Self::NotMapped(pfn) => write!(f, "kunmap: page not mapped (pfn {:#x})", pfn.0),
            Self::TooManyUsers(pfn) => write!(f, "kmap: pkmap_count overflow (pfn {:#x})", pfn.0),
        }
    }
}

/// A set of pkmap slots: those `flush_all_zero_pkmaps` unmapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PkmapFlush {
    pkmap_base: u64,
    slots: [u64; SLOT_WORDS],
}

impl PkmapFlush {
    const fn none(pkmap_base: u64) -> Self {
        PkmapFlush { pkmap_base, slots: [0; SLOT_WORDS] }
    }

    fn insert(&mut self, nr: usize) {
        self.slots[nr / 64] |= 1 << (nr % 64);
    }

    pub fn contains(&self, nr: usize) -> bool {
        nr < LAST_PKMAP && self.slots[nr / 64] & (1 << (nr % 64)) != 0
    }

    /// Nothing to clear, no TLB flush needed.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|&w| w == 0)
    }

    pub fn len(&self) -> usize {
        self.slots.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `(slot, address)` of each PTE to clear.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        (0..LAST_PKMAP)
            .filter(|&nr| self.contains(nr))
            .map(|nr| (nr, PKMAP_ADDR(self.pkmap_base, nr)))
    }

    /// The range Linux flushes once after clearing them: the whole pkmap window.
    pub fn tlb_range(&self) -> (u64, u64) {
        (PKMAP_ADDR(self.pkmap_base, 0), PKMAP_ADDR(self.pkmap_base, LAST_PKMAP))
    }
}

/// What `kmap` did. The kernel first clears the PTEs in `flushed` and flushes the TLB
/// (if any), then writes the PTE in `new_mapping` (if any), then uses `vaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kmap {
    pub vaddr: u64,
    /// `(slot, pfn)` to map at `vaddr`: the page had no slot yet.
    pub new_mapping: Option<(usize, Pfn)>,
    pub flushed: PkmapFlush,
}

/// The permanent kmap pool. `pkmap_count[nr]`: 0 free, 1 mapped but unused (cleared at the
/// next wrap-around), n + 1 mapped with n users.
#[derive(Clone, Debug)]
pub struct Pkmap {
    pkmap_base: u64,
    pkmap_count: [u32; LAST_PKMAP],
    /// The page each slot with a non-zero count maps.
    slot_pfn: [Pfn; LAST_PKMAP],
    /// `page_address_htable`: bucket heads, as slot + 1 (0: empty), chained by `pa_next`.
    pa_hash: [u16; PA_HASH_SIZE],
    pa_next: [u16; LAST_PKMAP],
    last_pkmap_nr: usize,
}

impl Pkmap {
    /// An empty pool at `pkmap_base` (the layout's `pkmap_base`: `PKMAP_BASE`).
    pub const fn new(pkmap_base: u64) -> Self {
        Pkmap {
            pkmap_base,
            pkmap_count: [0; LAST_PKMAP],
            slot_pfn: [Pfn(0); LAST_PKMAP],
            pa_hash: [0; PA_HASH_SIZE],
            pa_next: [0; LAST_PKMAP],
            last_pkmap_nr: 0,
        }
    }

    pub fn pkmap_base(&self) -> u64 {
        self.pkmap_base
    }

    /// `PKMAP_ADDR(nr)` for this pool.
    pub fn pkmap_addr(&self, nr: usize) -> u64 {
        PKMAP_ADDR(self.pkmap_base, nr)
    }

    /// `PKMAP_NR(vaddr)` if `vaddr` is in the pkmap window.
    pub fn pkmap_nr(&self, vaddr: u64) -> Option<usize> {
        let end = PKMAP_ADDR(self.pkmap_base, LAST_PKMAP);
        (self.pkmap_base..end).contains(&vaddr).then(|| PKMAP_NR(self.pkmap_base, vaddr))
    }

    /// `pkmap_count[nr]` (Linux's raw value, see the type's doc).
    pub fn pkmap_count(&self, nr: usize) -> Option<u32> {
        self.pkmap_count.get(nr).copied()
    }

    /// The page slot `nr` maps (what `pte_page(pkmap_page_table[nr])` gives).
    pub fn page_at(&self, nr: usize) -> Option<Pfn> {
        (*self.pkmap_count.get(nr)? != 0).then(|| self.slot_pfn[nr])
    }

    /// `last_pkmap_nr`: where the next search for a free slot starts (after it).
    pub fn last_pkmap_nr(&self) -> usize {
        self.last_pkmap_nr
    }

    /// Slots holding a mapping (users or not).
    pub fn nr_mapped(&self) -> usize {
        self.pkmap_count.iter().filter(|&&c| c != 0).count()
    }

    /// Slots with at least one user.
    pub fn nr_in_use(&self) -> usize {
        self.pkmap_count.iter().filter(|&&c| c > 1).count()
    }

    fn bucket(pfn: Pfn) -> usize {
        // hash_32() of the pfn's low 32 bits (Linux hashes the struct page pointer).
        ((pfn.0 as u32).wrapping_mul(GOLDEN_RATIO_32) >> (u32::BITS - PA_HASH_ORDER)) as usize
    }

    fn lookup(&self, pfn: Pfn) -> Option<usize> {
        let mut link = self.pa_hash[Self::bucket(pfn)];
        while link != 0 {
            let nr = link as usize - 1;
            if self.slot_pfn[nr] == pfn {
                return Some(nr);
            }
            link = self.pa_next[nr];
        }
        None
    }

    /// `set_page_address(page, PKMAP_ADDR(nr))`.
    fn hash_add(&mut self, nr: usize, pfn: Pfn) {
        let b = Self::bucket(pfn);
        self.slot_pfn[nr] = pfn;
        self.pa_next[nr] = self.pa_hash[b];
        self.pa_hash[b] = nr as u16 + 1;
    }

    /// `set_page_address(page, NULL)`.
    fn hash_del(&mut self, nr: usize) {
        let b = Self::bucket(self.slot_pfn[nr]);
        let target = nr as u16 + 1;
        if self.pa_hash[b] == target {
            self.pa_hash[b] = self.pa_next[nr];
        } else {
            let mut link = self.pa_hash[b];
            while link != 0 {
                let at = link as usize - 1;
                if self.pa_next[at] == target {
                    self.pa_next[at] = self.pa_next[nr];
                    break;
                }
                link = self.pa_next[at];
            }
        }
        self.pa_next[nr] = 0;
    }

    /// `page_address()` for a page mapped here (users or not).
    pub fn page_address(&self, pfn: Pfn) -> Option<u64> {
        self.lookup(pfn).map(|nr| self.pkmap_addr(nr))
    }

    /// `kmap_high()`: the page's address, mapping it in a free slot if it has none. Reuses an
    /// existing mapping, even one without users, as `page_address()` finds those too.
    pub fn kmap(&mut self, pfn: Pfn) -> Result<Kmap, KmapError> {
        let (nr, new_mapping, flushed) = match self.lookup(pfn) {
            Some(nr) => (nr, None, PkmapFlush::none(self.pkmap_base)),
            None => {
                let (nr, flushed) = self.map_new_virtual(pfn)?;
                (nr, Some((nr, pfn)), flushed)
            }
        };
        // A new mapping's count went from 0 to 1 in map_new_virtual; the user adds one.
        self.pkmap_count[nr] =
            self.pkmap_count[nr].checked_add(1).ok_or(KmapError::TooManyUsers(pfn))?;
        Ok(Kmap { vaddr: self.pkmap_addr(nr), new_mapping, flushed })
    }

    /// `map_new_virtual()`: the next free slot after `last_pkmap_nr`, clearing the unused
    /// mappings each time the search wraps to slot 0. Fails (where Linux would sleep) after
    /// a whole round finds every slot in use.
    fn map_new_virtual(&mut self, pfn: Pfn) -> Result<(usize, PkmapFlush), KmapError> {
        let mut flushed = PkmapFlush::none(self.pkmap_base);
        let mut count = LAST_PKMAP;
        loop {
            self.last_pkmap_nr = (self.last_pkmap_nr + 1) & LAST_PKMAP_MASK;
            if self.last_pkmap_nr == 0 {
                flushed = self.flush_all_zero_pkmaps();
                count = LAST_PKMAP;
            }
            if self.pkmap_count[self.last_pkmap_nr] == 0 {
                break;
            }
            count -= 1;
            if count == 0 {
                // A flush that freed anything would have let the round find it.
                debug_assert!(flushed.is_empty());
                return Err(KmapError::NoFreeSlot);
            }
        }
        let nr = self.last_pkmap_nr;
        self.pkmap_count[nr] = 1;
        self.hash_add(nr, pfn);
        Ok((nr, flushed))
    }

    /// `flush_all_zero_pkmaps()`: frees every slot mapped without users. The kernel clears
    /// the returned slots' PTEs and, if there were any, flushes `tlb_range()`.
    pub fn flush_all_zero_pkmaps(&mut self) -> PkmapFlush {
        let mut flushed = PkmapFlush::none(self.pkmap_base);
        for nr in 0..LAST_PKMAP {
            if self.pkmap_count[nr] != 1 {
                continue;
            }
            self.pkmap_count[nr] = 0;
            self.hash_del(nr);
            flushed.insert(nr);
        }
        flushed
    }

    /// `kunmap_high()`: drops one user of the page's mapping. The mapping stays (count 1)
    /// until a wrap-around flush, so nothing is unmapped now. Returns the users left.
    pub fn kunmap(&mut self, pfn: Pfn) -> Result<u32, KmapError> {
        let nr = self.lookup(pfn).ok_or(KmapError::NotMapped(pfn))?;
        // Count 1 means mapped without users: Linux's `case 0: BUG()`.
        if self.pkmap_count[nr] < 2 {
            return Err(KmapError::NotMapped(pfn));
        }
        self.pkmap_count[nr] -= 1;
        Ok(self.pkmap_count[nr] - 1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// `PKMAP_BASE` on 32-bit ARM's 3G/1G split: the 2 MiB below PAGE_OFFSET 0xc0000000.
    const BASE: u64 = 0xbfe0_0000;

    #[test]
    fn pkmap_window_is_the_2m_below_page_offset() {
        assert_eq!(PKMAP_ADDR(BASE, 0), 0xbfe0_0000);
        assert_eq!(PKMAP_ADDR(BASE, LAST_PKMAP - 1), 0xbfff_f000);
        assert_eq!(PKMAP_ADDR(BASE, LAST_PKMAP), 0xc000_0000);
        assert_eq!(PKMAP_NR(BASE, 0xbfe0_1234), 1);
        let p = Pkmap::new(BASE);
        assert_eq!(p.pkmap_nr(0xbfff_ffff), Some(511));
        assert_eq!(p.pkmap_nr(0xc000_0000), None);
        assert_eq!(p.pkmap_nr(BASE - 1), None);
    }

    #[test]
    fn kmap_maps_once_and_counts_users() {
        let mut p = Pkmap::new(BASE);
        let page = Pfn(0x3_0000);
        let k = p.kmap(page).unwrap();
        // The search starts after last_pkmap_nr = 0: slot 1.
        assert_eq!(k.vaddr, PKMAP_ADDR(BASE, 1));
        assert_eq!(k.new_mapping, Some((1, page)));
        assert!(k.flushed.is_empty());
        assert_eq!(p.pkmap_count(1), Some(2));
        let again = p.kmap(page).unwrap();
        assert_eq!((again.vaddr, again.new_mapping), (k.vaddr, None));
        assert_eq!(p.pkmap_count(1), Some(3));
        assert_eq!(p.kunmap(page), Ok(1));
        assert_eq!(p.kunmap(page), Ok(0));
        // Unused but still mapped: found again without a new PTE.
        assert_eq!((p.pkmap_count(1), p.page_address(page)), (Some(1), Some(k.vaddr)));
        assert_eq!(p.kunmap(page), Err(KmapError::NotMapped(page)));
        assert_eq!(p.kmap(page).unwrap().new_mapping, None);
        assert_eq!(p.kunmap(Pfn(7)), Err(KmapError::NotMapped(Pfn(7))));
        assert_eq!((p.nr_mapped(), p.nr_in_use()), (1, 1));
        assert_eq!(p.page_at(1), Some(page));
        assert_eq!(p.page_at(2), None);
        assert_eq!(p.page_at(LAST_PKMAP), None);
    }

    #[test]
    fn wrap_around_flushes_unused_mappings() {
        let mut p = Pkmap::new(BASE);
        // Slots 1..=511, then release the even pages.
        for pfn in 1..LAST_PKMAP as u64 {
            let k = p.kmap(Pfn(pfn)).unwrap();
            assert_eq!(k.new_mapping, Some((pfn as usize, Pfn(pfn))));
        }
        for pfn in (2..LAST_PKMAP as u64).step_by(2) {
            p.kunmap(Pfn(pfn)).unwrap();
        }
        let k = p.kmap(Pfn(1000)).unwrap();
        // Wrapped to slot 0, which was never used, after flushing every count-1 slot.
        assert_eq!(k.new_mapping, Some((0, Pfn(1000))));
        let cleared: Vec<usize> = k.flushed.iter().map(|(nr, _)| nr).collect();
        assert_eq!(cleared, (2..LAST_PKMAP).step_by(2).collect::<Vec<_>>());
        assert_eq!(k.flushed.len(), 255);
        assert_eq!(k.flushed.iter().next(), Some((2, PKMAP_ADDR(BASE, 2))));
        assert_eq!(k.flushed.tlb_range(), (BASE, 0xc000_0000));
        assert_eq!(p.page_address(Pfn(2)), None);
        assert_eq!(p.kunmap(Pfn(2)), Err(KmapError::NotMapped(Pfn(2))));
        // The next search continues after slot 0 and finds slot 2.
        assert_eq!(p.kmap(Pfn(1001)).unwrap().new_mapping, Some((2, Pfn(1001))));
        assert!(p.flush_all_zero_pkmaps().is_empty());
    }

    #[test]
    fn all_slots_busy_is_an_error_that_changes_nothing() {
        let mut p = Pkmap::new(BASE);
        for pfn in 0..LAST_PKMAP as u64 {
            p.kmap(Pfn(pfn)).unwrap();
        }
        let counts = p.pkmap_count;
        assert_eq!(p.kmap(Pfn(9999)), Err(KmapError::NoFreeSlot));
        assert_eq!(p.pkmap_count, counts);
        assert_eq!(p.page_address(Pfn(9999)), None);
        // A page already mapped still gets its slot.
        let slot = PKMAP_NR(BASE, p.page_address(Pfn(5)).unwrap());
        assert_eq!(p.kmap(Pfn(5)).unwrap().vaddr, PKMAP_ADDR(BASE, slot));
        p.kunmap(Pfn(5)).unwrap();
        p.kunmap(Pfn(5)).unwrap();
        let k = p.kmap(Pfn(9999)).unwrap();
        assert_eq!(k.new_mapping, Some((slot, Pfn(9999))));
        assert!(k.flushed.contains(slot));
    }

    #[test]
    fn user_count_overflow_is_refused() {
        let mut p = Pkmap::new(BASE);
        let k = p.kmap(Pfn(1)).unwrap();
        let nr = PKMAP_NR(BASE, k.vaddr);
        p.pkmap_count[nr] = u32::MAX;
        assert_eq!(p.kmap(Pfn(1)), Err(KmapError::TooManyUsers(Pfn(1))));
        assert_eq!(p.pkmap_count(nr), Some(u32::MAX));
    }

    #[test]
    fn colliding_pages_share_a_bucket() {
        let mut p = Pkmap::new(BASE);
        let b = Pkmap::bucket(Pfn(1));
        let same: Vec<Pfn> =
            (2..200_000).map(Pfn).filter(|&f| Pkmap::bucket(f) == b).take(5).collect();
        assert_eq!(same.len(), 5);
        for &f in &same {
            p.kmap(f).unwrap();
        }
        // Drop the middle of the chain, then the head, through a wrap-around flush.
        p.kunmap(same[2]).unwrap();
        p.kunmap(same[4]).unwrap();
        assert_eq!(p.flush_all_zero_pkmaps().len(), 2);
        for (i, &f) in same.iter().enumerate() {
            assert_eq!(p.page_address(f).is_some(), i != 2 && i != 4, "{i}");
        }
    }

    #[test]
    fn error_texts() {
        assert_eq!(KmapError::NoFreeSlot.to_string(), "kmap: no free pkmap slot (all 512 in use)");
        assert_eq!(
            KmapError::NotMapped(Pfn(0x30000)).to_string(),
            "kunmap: page not mapped (pfn 0x30000)"
        );
    }

    /// Reference model of `kmap_high`/`kunmap_high`: a slot table searched linearly.
    struct Model {
        count: Vec<u32>,
        page: Vec<Option<u64>>,
        last: usize,
    }

    impl Model {
        fn new() -> Self {
            Model { count: vec![0; LAST_PKMAP], page: vec![None; LAST_PKMAP], last: 0 }
        }

        fn slot_of(&self, pfn: u64) -> Option<usize> {
            (0..LAST_PKMAP).find(|&i| self.count[i] != 0 && self.page[i] == Some(pfn))
        }

        fn flush(&mut self) -> Vec<usize> {
            let cleared: Vec<usize> = (0..LAST_PKMAP).filter(|&i| self.count[i] == 1).collect();
            for &i in &cleared {
                self.count[i] = 0;
                self.page[i] = None;
            }
            cleared
        }

        fn kmap(&mut self, pfn: u64) -> Option<(usize, bool, Vec<usize>)> {
            if let Some(i) = self.slot_of(pfn) {
                self.count[i] += 1;
                return Some((i, false, vec![]));
            }
            let mut cleared = vec![];
            // Visit slots after `last`, flushing on the wrap; give up after a full round of
            // busy slots since the start or the wrap.
            let mut busy_seen = 0;
            loop {
                self.last = (self.last + 1) % LAST_PKMAP;
                if self.last == 0 {
                    cleared = self.flush();
                    busy_seen = 0;
                }
                if self.count[self.last] == 0 {
                    break;
                }
                busy_seen += 1;
                if busy_seen == LAST_PKMAP {
                    return None;
                }
            }
            self.count[self.last] = 2;
            self.page[self.last] = Some(pfn);
            Some((self.last, true, cleared))
        }

        fn kunmap(&mut self, pfn: u64) -> Option<u32> {
            let i = self.slot_of(pfn)?;
            if self.count[i] < 2 {
                return None;
            }
            self.count[i] -= 1;
            Some(self.count[i] - 1)
        }
    }

    proptest! {
        #[test]
        fn matches_reference_model(
            ops in proptest::collection::vec((proptest::bool::weighted(0.75), 0u64..600), 1..3000),
        ) {
            let mut p = Pkmap::new(BASE);
            let mut m = Model::new();
            let mut held: HashMap<u64, u32> = HashMap::new();
            for (map, pfn) in ops {
                if map {
                    match (p.kmap(Pfn(pfn)), m.kmap(pfn)) {
                        (Ok(k), Some((slot, new, cleared))) => {
                            prop_assert_eq!(k.vaddr, PKMAP_ADDR(BASE, slot));
                            prop_assert_eq!(k.new_mapping, new.then_some((slot, Pfn(pfn))));
                            let got: Vec<usize> = k.flushed.iter().map(|(nr, _)| nr).collect();
                            prop_assert_eq!(got, cleared);
                            *held.entry(pfn).or_default() += 1;
                        }
                        (Err(KmapError::NoFreeSlot), None) => {}
                        (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
                    }
                } else {
                    let got = p.kunmap(Pfn(pfn));
                    prop_assert_eq!(got.ok(), m.kunmap(pfn));
                    if got.is_ok() {
                        *held.get_mut(&pfn).unwrap() -= 1;
                    }
                }
                prop_assert_eq!(p.verify(), Ok(()));
                prop_assert_eq!(p.last_pkmap_nr(), m.last);
                for nr in 0..LAST_PKMAP {
                    prop_assert_eq!(p.pkmap_count(nr), Some(m.count[nr]));
                }
                let users: u32 = held.values().sum();
                let counted: u32 = (0..LAST_PKMAP).map(|nr| m.count[nr].saturating_sub(1)).sum();
                prop_assert_eq!(users, counted);
            }
        }
    }
}
