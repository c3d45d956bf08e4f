//! Address-space identifiers as arm64 Linux 6.1 hands them out (`arch/arm64/mm/context.c`):
//! 8- or 16-bit ASIDs (`ID_AA64MMFR0_EL1.ASIDBits`; the Pi 3's Cortex-A53 has 16) tagged with
//! a generation in the bits above them. A context id keeps its ASID while its generation is
//! current; when the ASIDs run out the generation rolls over, every ASID is free again but
//! the ones the CPUs are running (kept as "reserved", so those address spaces keep their
//! number), and every CPU flushes its TLB once before it next switches. Unlike 32-bit ARM's
//! allocator, an exiting address space gives nothing back: its ASID stays taken until the
//! next rollover, as in Linux. ASID 0 is never handed out (the reserved TTBR0 context).
//!
//! Pure, generic over the number of CPUs, so the host tests check it against a model of the
//! TLBs; the kernel holds one allocator behind a lock. Pinned ASIDs (SVA) and KPTI's odd
//! ASIDs are not modelled: the A53 has neither.

/// `ID_AA64MMFR0_EL1.ASIDBits` values (`ID_AA64MMFR0_EL1_ASIDBITS_8`/`_16`).
pub const ID_AA64MMFR0_ASIDBITS_8: u64 = 0b0000;
pub const ID_AA64MMFR0_ASIDBITS_16: u64 = 0b0010;

/// The widest ASID the architecture has.
pub const MAX_ASID_BITS: u32 = 16;
/// Bit position of the ASID in TTBRn_EL1 (`TTBR_ASID_MASK` is bits 63:48).
pub const TTBR_ASID_SHIFT: u32 = 48;
/// The baddr field of TTBRn_EL1 for 48-bit physical addresses.
pub const TTBR_BADDR_MASK: u64 = ((1 << TTBR_ASID_SHIFT) - 1) & !1;

/// `get_cpu_asid_bits`: the ASID width for an `ID_AA64MMFR0_EL1.ASIDBits` field. An unknown
/// value is taken as 8 bits, as Linux does after its warning.
pub const fn asid_bits_of(field: u64) -> u32 {
    if field == ID_AA64MMFR0_ASIDBITS_16 {
        16
    } else {
        8
    }
}

/// TTBR0_EL1 for a user table at physical `pgd` running with context id `ctxid`: the ASID in
/// bits 63:48 (TCR_EL1.A1 clear: pivm's kernel takes the ASID from TTBR0, where arm64 Linux
/// sets A1 and writes it into TTBR1 instead; the tagging of nG entries is the same).
pub const fn ttbr0(pgd: u64, ctxid: u64, asid_bits: u32) -> u64 {
    (pgd & TTBR_BADDR_MASK) | ((ctxid & ((1 << asid_bits) - 1)) << TTBR_ASID_SHIFT)
}

const MAP_WORDS: usize = (1 << MAX_ASID_BITS) / 64;

/// `asid_generation`, `asid_map`, the per-CPU `active_asids`/`reserved_asids` and
/// `tlb_flush_pending` for `NR_CPUS` CPUs (by default one: pivm runs processes on the boot
/// CPU only, so the shared code names `AsidAllocator` as on ARM).
#[derive(Clone, Debug)]
pub struct AsidAllocator<const NR_CPUS: usize = 1> {
    asid_bits: u32,
    generation: u64,
    map: [u64; MAP_WORDS],
    /// Where the next search starts (`cur_idx`).
    cur_idx: u64,
    active: [u64; NR_CPUS],
    reserved: [u64; NR_CPUS],
    /// One bit per CPU that must flush its TLB before running a new context.
    flush_pending: u64,
    /// Rollovers so far.
    pub rollovers: u64,
}

impl<const NR_CPUS: usize> AsidAllocator<NR_CPUS> {
    /// `asids_init` for a CPU with `asid_bits` (8 or 16; anything else is taken as 8).
    pub const fn new(asid_bits: u32) -> Self {
        assert!(NR_CPUS >= 1 && NR_CPUS <= 64);
        let asid_bits = if asid_bits == 16 { 16 } else { 8 };
        AsidAllocator {
            asid_bits,
            generation: 1 << asid_bits,
            map: [0; MAP_WORDS],
            cur_idx: 1,
            active: [0; NR_CPUS],
            reserved: [0; NR_CPUS],
            flush_pending: 0,
            rollovers: 0,
        }
    }

    /// The ASID width in use.
    pub const fn asid_bits(&self) -> u32 {
        self.asid_bits
    }

    /// `NUM_USER_ASIDS` (= `ASID_FIRST_VERSION`).
    pub const fn num_user_asids(&self) -> u64 {
        1 << self.asid_bits
    }

    /// The current generation (a multiple of `ASID_FIRST_VERSION`).
    pub const fn generation(&self) -> u64 {
        self.generation
    }

    /// `ctxid2asid`: the hardware ASID of a context id.
    pub const fn asid(&self, ctxid: u64) -> u64 {
        ctxid & (self.num_user_asids() - 1)
    }

    /// `asid_gen_match`: whether `ctxid` belongs to the current generation.
    pub const fn gen_match(&self, ctxid: u64) -> bool {
        (ctxid ^ self.generation) >> self.asid_bits == 0
    }

    /// The context id `cpu` runs (0 right after a rollover, until its next switch).
    pub fn active(&self, cpu: usize) -> u64 {
        self.active[cpu]
    }

    fn test_and_set(&mut self, asid: u64) -> bool {
        let (w, b) = ((asid / 64) as usize, asid % 64);
        let was = self.map[w] & (1 << b) != 0;
        self.map[w] |= 1 << b;
        was
    }

    /// `find_next_zero_bit(asid_map, NUM_USER_ASIDS, from)`, a word at a time.
    fn find_free(&self, from: u64) -> Option<u64> {
        let num = self.num_user_asids();
        let mut a = from;
        while a < num {
            let (w, b) = ((a / 64) as usize, a % 64);
            let free = !self.map[w] >> b;
            if free != 0 {
                let found = a + u64::from(free.trailing_zeros());
                return (found < num).then_some(found);
            }
            a = (a | 63) + 1;
        }
        None
    }

    /// `flush_context`: a new map holding only what the CPUs run (or, for a CPU that has not
    /// switched since the last rollover, what it ran then), and a TLB flush pending everywhere.
    fn flush_context(&mut self) {
        let words = (self.num_user_asids() as usize).div_ceil(64);
        self.map[..words].fill(0);
        for cpu in 0..NR_CPUS {
            let mut ctxid = core::mem::take(&mut self.active[cpu]);
            if ctxid == 0 {
                ctxid = self.reserved[cpu];
            }
            self.test_and_set(self.asid(ctxid));
            self.reserved[cpu] = ctxid;
        }
        self.flush_pending = if NR_CPUS == 64 { u64::MAX } else { (1 << NR_CPUS) - 1 };
    }

    /// `check_update_reserved_asid`: a reserved context id moves to the new generation, for
    /// every CPU holding it.
    fn check_update_reserved(&mut self, ctxid: u64, new: u64) -> bool {
        let mut hit = false;
        for r in self.reserved.iter_mut().filter(|r| **r == ctxid) {
            *r = new;
            hit = true;
        }
        hit
    }

    /// `new_context` for a context id of an older generation (0 for a new address space).
    fn new_context(&mut self, ctxid: u64) -> u64 {
        if ctxid != 0 {
            let asid = self.asid(ctxid);
            let new = self.generation | asid;
            // Running (or last run) on some CPU across the rollover: keeps its number.
            if self.check_update_reserved(ctxid, new) {
                return new;
            }
            // Its old number, if nobody took it in this generation.
            if !self.test_and_set(asid) {
                return new;
            }
        }
        let asid = match self.find_free(self.cur_idx) {
            Some(a) => a,
            None => {
                self.generation += self.num_user_asids();
                self.rollovers += 1;
                self.flush_context();
                self.find_free(1).expect("a rollover leaves more ASIDs than CPUs free")
            }
        };
        self.test_and_set(asid);
        self.cur_idx = asid;
        self.generation | asid
    }

    /// `check_and_switch_context` on `cpu` for an address space whose context id is `*ctxid`
    /// (0 for one that never ran): gives it an ASID of the current generation if it has none,
    /// and makes it `cpu`'s active one. Returns whether `cpu` must flush its whole TLB before
    /// writing TTBR0 (`local_flush_tlb_all` after a rollover).
    pub fn check_and_switch_context(&mut self, ctxid: &mut u64, cpu: usize) -> bool {
        // The fast path: an ASID of this generation, and no rollover since this CPU's last
        // switch (which would have cleared its active id).
        if self.active[cpu] != 0 && self.gen_match(*ctxid) {
            self.active[cpu] = *ctxid;
            return false;
        }
        if !self.gen_match(*ctxid) {
            *ctxid = self.new_context(*ctxid);
        }
        let flush = self.flush_pending & (1 << cpu) != 0;
        self.flush_pending &= !(1 << cpu);
        self.active[cpu] = *ctxid;
        flush
    }

    /// The shared code's name for [`check_and_switch_context`](Self::check_and_switch_context)
    /// (ARM's allocator's), on CPU `cpu`.
    pub fn check_and_switch(&mut self, ctxid: &mut u64, cpu: usize) -> bool {
        self.check_and_switch_context(ctxid, cpu)
    }

    /// An address space's exit: arm64 6.1 gives its ASID nothing back (`destroy_context` is
    /// empty); the number stays taken until the next rollover frees every one. ARM's
    /// allocator returns it at once.
    pub fn release(&mut self, _ctxid: u64) {}
}

/// `asids_init`: the allocator for this CPU's ASID width (`ID_AA64MMFR0_EL1.ASIDBits`).
#[cfg(all(kernel, target_arch = "aarch64"))]
pub fn asids_init() -> AsidAllocator {
    AsidAllocator::new(super::process::cpu_asid_bits())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn asid_width_and_ttbr() {
        assert_eq!(asid_bits_of(ID_AA64MMFR0_ASIDBITS_16), 16);
        assert_eq!(asid_bits_of(ID_AA64MMFR0_ASIDBITS_8), 8);
        // The Pi 3's ID_AA64MMFR0_EL1 = 0x1122: ASIDBits (7:4) = 2.
        assert_eq!(asid_bits_of((0x1122 >> 4) & 0xf), 16);
        assert_eq!(asid_bits_of(0b0001), 8, "reserved values fall back to 8 bits");
        assert_eq!(ttbr0(0x3a5_6000, 0x1_0000 | 0x2a, 16), 0x002a_0000_03a5_6000);
        // 8-bit ASIDs: the generation above bit 8 never reaches the register.
        assert_eq!(ttbr0(0x1000, 0x300 | 0x7f, 8), 0x007f_0000_0000_1000);
    }

    #[test]
    fn asids_are_unique_within_a_generation_and_roll_over() {
        let mut a = AsidAllocator::<1>::new(8);
        let mut ids = [0u64; 255];
        for id in ids.iter_mut() {
            // The first switch ever flushes nothing: no rollover happened.
            assert!(!a.check_and_switch_context(id, 0));
        }
        let seen: BTreeSet<u64> = ids.iter().map(|&i| a.asid(i)).collect();
        assert_eq!(seen.len(), 255);
        assert!(!seen.contains(&0));
        assert!(ids.iter().all(|&i| i >> 8 == 1));
        // A known address space keeps its id.
        let mut again = ids[7];
        assert!(!a.check_and_switch_context(&mut again, 0));
        assert_eq!(again, ids[7]);
        // The 256th needs a rollover; the running one (ids[7]) keeps its ASID.
        let mut new = 0;
        assert!(a.check_and_switch_context(&mut new, 0));
        assert_eq!(a.rollovers, 1);
        assert_eq!(new >> 8, 2);
        assert_ne!(a.asid(new), a.asid(ids[7]));
        let mut seven = ids[7];
        assert!(!a.check_and_switch_context(&mut seven, 0), "one flush per rollover");
        assert_eq!(seven, (2 << 8) | a.asid(ids[7]), "the reserved ASID carries over");
        // An address space of the old generation gets its old number back while it is free.
        let mut old = ids[100];
        assert!(!a.check_and_switch_context(&mut old, 0));
        assert_eq!(old, (2 << 8) | a.asid(ids[100]));
    }

    #[test]
    fn sixteen_bit_asids_last_65535_address_spaces() {
        let mut a = AsidAllocator::<1>::new(16);
        assert_eq!(a.num_user_asids(), 65536);
        let mut last = 0;
        for _ in 0..65535 {
            let mut id = 0;
            assert!(!a.check_and_switch_context(&mut id, 0));
            last = id;
        }
        assert_eq!(a.rollovers, 0);
        assert_eq!(last, (1 << 16) | 0xffff);
        let mut id = 0;
        assert!(a.check_and_switch_context(&mut id, 0));
        assert_eq!(a.rollovers, 1);
        assert_eq!(id >> 16, 2);
    }

    /// A small deterministic generator (xorshift64*), so the model test is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
        }
    }

    /// The allocator against a model of the CPUs' TLBs: each CPU caches translations tagged
    /// with the ASID of the address space it ran. Whatever the interleaving of switches,
    /// address-space creation and exits, a CPU must never run an address space under an ASID
    /// its TLB still holds another address space's entries for; ASIDs of the current
    /// generation stay unique; a rollover happens only when every ASID of the generation is
    /// taken; and a CPU flushes once per rollover, not more.
    fn model_run<const N: usize>(asid_bits: u32, steps: usize, seed: u64) -> u64 {
        let mut a = AsidAllocator::<N>::new(asid_bits);
        let mut rng = Rng(seed);
        // Live address spaces: id -> context id.
        let mut mms: BTreeMap<u64, u64> = BTreeMap::new();
        let mut next_mm = 1u64;
        // What each CPU runs and its TLB: ASID -> address space with entries under it.
        let mut running = [0u64; N];
        let mut tlb: Vec<BTreeMap<u64, u64>> = vec![BTreeMap::new(); N];
        let mut rollovers_seen = 0;
        let mut flushes = [0u64; N];
        for _ in 0..steps {
            match rng.next(10) {
                // A new address space (fork/exec).
                0..=2 => {
                    mms.insert(next_mm, 0);
                    next_mm += 1;
                }
                // An exit of one that no CPU runs: its ASID is not given back.
                3 if !mms.is_empty() => {
                    let k = *mms.keys().nth(rng.next(mms.len() as u64) as usize).unwrap();
                    if !running.contains(&k) {
                        mms.remove(&k);
                    }
                }
                // A switch on some CPU to some address space.
                _ if !mms.is_empty() => {
                    let cpu = rng.next(N as u64) as usize;
                    let k = *mms.keys().nth(rng.next(mms.len() as u64) as usize).unwrap();
                    let before_gen = a.generation();
                    let taken_before = (1..a.num_user_asids())
                        .filter(|&x| a.map[(x / 64) as usize] & (1 << (x % 64)) != 0)
                        .count() as u64;
                    let id = mms.get_mut(&k).unwrap();
                    let flush = a.check_and_switch_context(id, cpu);
                    let id = *id;
                    if a.generation() != before_gen {
                        rollovers_seen += 1;
                        assert_eq!(
                            taken_before,
                            a.num_user_asids() - 1,
                            "a rollover only when the generation's ASIDs are all taken"
                        );
                    }
                    if flush {
                        tlb[cpu].clear();
                        flushes[cpu] += 1;
                    }
                    assert!(a.gen_match(id));
                    let asid = a.asid(id);
                    assert_ne!(asid, 0);
                    if let Some(&other) = tlb[cpu].get(&asid) {
                        assert_eq!(other, k, "ASID {asid} reused without a TLB flush");
                    }
                    tlb[cpu].insert(asid, k);
                    running[cpu] = k;
                    // Uniqueness among the address spaces of this generation.
                    let mut seen = BTreeMap::new();
                    for (&m, &c) in &mms {
                        if a.gen_match(c) {
                            if let Some(prev) = seen.insert(a.asid(c), m) {
                                panic!("ASID {} held by {prev} and {m}", a.asid(c));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        for f in flushes {
            assert!(f <= rollovers_seen, "at most one flush per CPU and rollover");
        }
        rollovers_seen
    }

    #[test]
    fn allocator_against_a_tlb_model() {
        assert!(model_run::<1>(8, 20_000, 0x9e37_79b9_7f4a_7c15) >= 5);
        assert!(model_run::<2>(8, 20_000, 0x1234_5678_9abc_def1) >= 5);
        assert!(model_run::<4>(8, 20_000, 0x0bad_cafe_f00d_d00d) >= 5);
    }
}
