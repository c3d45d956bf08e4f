//! Address-space identifiers as arch/arm/mm/context.c hands them out: 8-bit ASIDs (CONTEXTIDR)
//! tagged with a generation in the bits above them. A process keeps its ASID while its
//! generation is current; when the 255 usable ASIDs run out, the generation rolls over, every
//! ASID is free again (but the running one, kept reserved) and the TLB must be flushed once
//! before a new ASID is used. ASID 0 is never handed out (the kernel's own context). Pure, so
//! the host tests cover rollover; the kernel holds one allocator behind a lock.

/// `ASID_BITS`: ARMv7's CONTEXTIDR.ASID width.
pub const ASID_BITS: u32 = 8;
/// `ASID_MASK` of a context id.
pub const ASID_MASK: u64 = (1 << ASID_BITS) - 1;
/// `ASID_FIRST_VERSION`: one generation.
pub const ASID_FIRST_VERSION: u64 = 1 << ASID_BITS;
const NUM_USER_ASIDS: usize = 1 << ASID_BITS;

/// `asid_generation` and `asid_map`.
#[derive(Clone, Debug)]
pub struct AsidAllocator {
    generation: u64,
    map: [u64; NUM_USER_ASIDS / 64],
    /// Where the next search starts (`cur_idx`).
    cur_idx: usize,
    /// Rollovers so far.
    pub rollovers: u64,
}

impl Default for AsidAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl AsidAllocator {
    pub const fn new() -> Self {
        AsidAllocator {
            generation: ASID_FIRST_VERSION,
            map: [1, 0, 0, 0],
            cur_idx: 1,
            rollovers: 0,
        }
    }

    fn test_and_set(&mut self, asid: usize) -> bool {
        let (w, b) = (asid / 64, asid % 64);
        let was = self.map[w] & (1 << b) != 0;
        self.map[w] |= 1 << b;
        was
    }

    fn find_free(&self, from: usize) -> Option<usize> {
        (from..NUM_USER_ASIDS).find(|&a| self.map[a / 64] & (1 << (a % 64)) == 0)
    }

    /// `check_and_switch_context` / `new_context` for an mm whose context id is `*id` (0 for
    /// a new mm), while `active` (the context id of the running mm, 0 for none) stays
    /// reserved across a rollover. Returns whether the TLB must be flushed before switching.
    pub fn check_and_switch(&mut self, id: &mut u64, active: u64) -> bool {
        if *id != 0 && (*id ^ self.generation) >> ASID_BITS == 0 {
            return false;
        }
        // The old ASID number, if still free in this generation.
        let old = (*id & ASID_MASK) as usize;
        if old != 0 && !self.test_and_set(old) {
            *id = self.generation | old as u64;
            return false;
        }
        if let Some(a) = self.find_free(self.cur_idx) {
            self.test_and_set(a);
            self.cur_idx = a;
            *id = self.generation | a as u64;
            return false;
        }
        // Rollover: a new generation, every ASID free but the running one.
        self.generation += ASID_FIRST_VERSION;
        self.rollovers += 1;
        self.map = [1, 0, 0, 0];
        let keep = (active & ASID_MASK) as usize;
        if keep != 0 {
            self.test_and_set(keep);
        }
        let a = self.find_free(1).expect("a fresh generation has free ASIDs");
        self.test_and_set(a);
        self.cur_idx = a;
        *id = self.generation | a as u64;
        true
    }

    /// The ASID an exiting mm held goes back to the map if it is of this generation.
    pub fn release(&mut self, id: u64) {
        if id != 0 && (id ^ self.generation) >> ASID_BITS == 0 {
            let a = (id & ASID_MASK) as usize;
            self.map[a / 64] &= !(1 << (a % 64));
        }
    }
}

/// `asids_init`: the allocator (ARMv7's ASIDs are always 8 bits), as both architectures
/// name it for the shared process code.
pub const fn asids_init() -> AsidAllocator {
    AsidAllocator::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asids_are_unique_within_a_generation_and_roll_over() {
        let mut a = AsidAllocator::new();
        let mut ids = [0u64; 255];
        for id in ids.iter_mut() {
            assert!(!a.check_and_switch(id, 0));
        }
        let mut seen: Vec<u64> = ids.iter().map(|i| i & ASID_MASK).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 255);
        assert!(!seen.contains(&0));
        // A known mm keeps its id.
        let mut again = ids[7];
        assert!(!a.check_and_switch(&mut again, 0));
        assert_eq!(again, ids[7]);
        // The 256th needs a rollover; the active one's ASID stays reserved.
        let mut new = 0;
        assert!(a.check_and_switch(&mut new, ids[3]));
        assert_eq!(a.rollovers, 1);
        assert_ne!(new & ASID_MASK, ids[3] & ASID_MASK);
        assert_eq!(new >> ASID_BITS, 2);
        // An mm of the old generation gets its old number back when it is still free.
        let mut old = ids[100];
        assert!(!a.check_and_switch(&mut old, 0));
        assert_eq!(old & ASID_MASK, ids[100] & ASID_MASK);
        assert_eq!(old >> ASID_BITS, 2);
    }

    #[test]
    fn released_asids_are_reused() {
        let mut a = AsidAllocator::new();
        let mut x = 0;
        a.check_and_switch(&mut x, 0);
        a.release(x);
        let mut ids = [0u64; 255];
        for id in ids.iter_mut() {
            assert!(!a.check_and_switch(id, 0), "no rollover while ASIDs are free");
        }
    }
}
