//! `shrink_anon_folio` against a model of 6.1's swap-out rules: one anonymous page shared by
//! two address spaces (as fork shares it, or shared anonymous memory), its slot's contents on
//! "disk", and each process's PTE (present and dirty or clean, or the swap entry). Whatever
//! reclaim, faults and writes do, every read sees the last value written: a page is freed
//! only when its slot holds its data.
use super::*;
extern crate std;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::vec::Vec;

/// A process's PTE for the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pte {
    Present { dirty: bool },
    Swap(u32),
}

/// The one frame: its contents, its slot while in the swap cache, `PG_dirty`, writeback.
#[derive(Clone, Copy, Debug)]
struct Frame {
    data: u32,
    slot: Option<u32>,
    dirty: bool,
    writeback: bool,
}

/// A slot: the data last written to it (None: never), its swap PTEs, its cache reference.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    data: Option<u32>,
    count: u32,
    cache: bool,
}

const PFN: Pfn = Pfn(7);

struct Model {
    frame: Option<Frame>,
    ptes: [Pte; 2],
    /// A process whose mapping `try_to_unmap_one` cannot take (its swap count could not be
    /// raised, or its PTE changed under the walk).
    pinned: [bool; 2],
    slots: BTreeMap<u32, Slot>,
    next_slot: u32,
    /// The write in flight: its slot and the data it carries.
    in_flight: Option<(u32, u32)>,
    /// The value every process must read.
    truth: u32,
    /// `PG_dirty` ignored: the rules before it (written only when new to swap or a PTE was
    /// dirty in this pass), to show the model catches their gap.
    old_rules: bool,
    new_this_pass: bool,
    writes: u32,
}

impl Model {
    fn new() -> Model {
        Model {
            frame: Some(Frame { data: 1, slot: None, dirty: false, writeback: false }),
            // The parent wrote the page; the child's PTE from fork is clean.
            ptes: [Pte::Present { dirty: true }, Pte::Present { dirty: false }],
            pinned: [false; 2],
            slots: BTreeMap::new(),
            next_slot: 1,
            in_flight: None,
            truth: 1,
            old_rules: false,
            new_this_pass: false,
            writes: 0,
        }
    }

    fn frame(&mut self) -> &mut Frame {
        self.frame.as_mut().expect("the frame is resident")
    }

    fn put_slot(&mut self, s: u32, cache: bool) {
        let slot = self.slots.get_mut(&s).expect("slot in use");
        if cache {
            assert!(slot.cache);
            slot.cache = false;
        } else {
            assert!(slot.count > 0);
            slot.count -= 1;
        }
        if slot.count == 0 && !slot.cache {
            self.slots.remove(&s);
        }
    }

    /// A process touches the page: a swap PTE faults it in (`do_swap_page`: from the swap
    /// cache, or read from the slot into a new, clean page in the cache), mapped clean.
    fn fault_in(&mut self, p: usize) {
        let Pte::Swap(s) = self.ptes[p] else { return };
        match self.frame {
            Some(f) if f.slot == Some(s) => {}
            Some(_) => panic!("a second frame for one page"),
            None => {
                let data = self.slots[&s].data.expect("read of a slot never written");
                self.slots.get_mut(&s).unwrap().cache = true;
                self.frame = Some(Frame { data, slot: Some(s), dirty: false, writeback: false });
            }
        }
        self.put_slot(s, false);
        self.ptes[p] = Pte::Present { dirty: false };
    }

    fn read(&mut self, p: usize) {
        self.fault_in(p);
        let data = self.frame().data;
        assert_eq!(data, self.truth, "process {p} read stale data");
    }

    fn write(&mut self, p: usize) {
        self.fault_in(p);
        self.truth += 1;
        let t = self.truth;
        self.frame().data = t;
        self.ptes[p] = Pte::Present { dirty: true };
    }

    /// One reclaim pass over the page (`shrink_anon_folio`); a write it starts stays in
    /// flight until [`Model::complete`].
    fn reclaim(&mut self) {
        if self.frame.is_none() {
            return;
        }
        self.new_this_pass = false;
        let r = if self.old_rules { old_shrink(self) } else { shrink_anon_folio(self, PFN) };
        if !self.old_rules {
            assert!(r != AnonPageout::Writeback || self.in_flight.is_some());
        } else {
            // The rules before PG_dirty ended the write at once and freed the page.
            self.complete();
            if self.frame.is_some_and(|f| f.slot.is_some()) && !self.folio_mapped(PFN) {
                self.free_swapped(PFN);
            }
        }
    }

    /// The write in flight lands (`end_swap_write`): the slot holds the data it carried, the
    /// page leaves writeback and stays in the swap cache for the next pass, freed now only
    /// when nothing refers to it (no PTE maps it, no swap PTE refers to its slot).
    fn complete(&mut self) {
        let Some((s, data)) = self.in_flight.take() else { return };
        self.slots.get_mut(&s).unwrap().data = Some(data);
        self.writes += 1;
        self.frame().writeback = false;
        let orphan = self.slots[&s].count == 0 && !self.folio_mapped(PFN);
        if orphan && self.frame().slot == Some(s) {
            self.free_swapped(PFN);
        }
    }

    /// A reclaim pass and the end of its write: the page written stays in the swap cache.
    fn pass(&mut self) {
        self.reclaim();
        self.complete();
    }
}

/// The rules before `PG_dirty`: written when new to swap or a PTE unmapped in this pass was
/// dirty, the dirtiness forgotten when the page is activated.
fn old_shrink(m: &mut Model) -> AnonPageout {
    if m.under_writeback(PFN) {
        return AnonPageout::Keep;
    }
    let (entry, new) = match m.swap_entry(PFN) {
        Some(e) => (e, false),
        None => (m.add_to_swap(PFN).unwrap(), true),
    };
    let (unmapped, dirty) = m.try_to_unmap(PFN);
    if m.folio_mapped(PFN) {
        if new && unmapped == 0 {
            m.delete_from_swap_cache(PFN);
        }
        return AnonPageout::Activate;
    }
    if new || dirty {
        assert!(m.swap_writepage(PFN, entry));
        return AnonPageout::Writeback;
    }
    m.free_swapped(PFN);
    AnonPageout::Freed
}

impl AnonSwapOut for Model {
    fn under_writeback(&mut self, _: Pfn) -> bool {
        self.frame().writeback
    }

    fn swap_entry(&mut self, _: Pfn) -> Option<SwpEntry> {
        self.frame().slot.map(|s| SwpEntry::new(0, s))
    }

    fn add_to_swap(&mut self, _: Pfn) -> Option<SwpEntry> {
        let s = self.next_slot;
        self.next_slot += 1;
        self.slots.insert(s, Slot { data: None, count: 0, cache: true });
        let f = self.frame();
        f.slot = Some(s);
        f.dirty = true;
        self.new_this_pass = true;
        Some(SwpEntry::new(0, s))
    }

    fn delete_from_swap_cache(&mut self, _: Pfn) {
        let s = self.frame().slot.take().expect("in the swap cache");
        self.put_slot(s, true);
    }

    fn try_to_unmap(&mut self, _: Pfn) -> (u32, bool) {
        let s = self.frame().slot.expect("in the swap cache");
        let (mut n, mut dirty) = (0, false);
        for p in 0..2 {
            if let Pte::Present { dirty: d } = self.ptes[p] {
                if self.pinned[p] {
                    continue;
                }
                self.ptes[p] = Pte::Swap(s);
                self.slots.get_mut(&s).unwrap().count += 1;
                n += 1;
                dirty |= d;
            }
        }
        (n, dirty)
    }

    fn folio_mapped(&mut self, _: Pfn) -> bool {
        self.ptes.iter().any(|p| matches!(p, Pte::Present { .. }))
    }

    fn folio_set_dirty(&mut self, _: Pfn, dirty: bool) -> bool {
        core::mem::replace(&mut self.frame().dirty, dirty)
    }

    fn swap_writepage(&mut self, _: Pfn, e: SwpEntry) -> bool {
        let f = self.frame();
        f.writeback = true;
        let data = f.data;
        self.in_flight = Some((e.offset(), data));
        true
    }

    fn free_swapped(&mut self, _: Pfn) {
        let f = self.frame.take().expect("resident");
        assert!(!f.writeback, "freed under writeback");
        if let Some(s) = f.slot {
            self.put_slot(s, true);
        }
    }
}

/// The README's case: new to swap, mapped by two processes, one unmapped and the other not.
/// The first process's next read must see the data, whatever the second did meanwhile.
fn shared_unmap_fails(old_rules: bool) -> Model {
    let mut m = Model { old_rules, ..Model::new() };
    m.pinned[1] = true;
    m.pass(); // A unmapped, B not: activated, slot unwritten.
    assert_eq!(m.ptes[0], Pte::Swap(1));
    m.pinned[1] = false;
    m.pass(); // both unmapped now
    m
}

#[test]
fn a_page_shared_by_two_mms_one_unmap_failing_is_written_before_it_goes() {
    let mut m = shared_unmap_fails(false);
    assert_eq!(m.writes, 1);
    assert!(m.frame.is_some_and(|f| f.slot == Some(1) && !f.dirty), "written, kept in the cache");
    m.pass();
    assert!(m.frame.is_none(), "the next pass frees it, clean");
    assert_eq!(m.writes, 1);
    m.read(0);
    m.read(1);
    // The rules before PG_dirty freed it unwritten: the slot was never written.
    let mut old = shared_unmap_fails(true);
    assert_eq!(old.writes, 0);
    assert!(old.frame.is_none());
    let lost = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| old.read(0)));
    assert!(lost.is_err(), "the old rules lose the data");
}

#[test]
fn a_clean_page_read_back_from_swap_needs_no_second_write() {
    let mut m = Model::new();
    m.pass();
    m.pass();
    assert_eq!(m.writes, 1);
    assert!(m.frame.is_none());
    m.read(0); // swapped in, still in the cache (B's swap PTE holds the slot), clean
    assert!(m.frame.unwrap().slot.is_some());
    m.pass();
    assert_eq!(m.writes, 1, "the slot holds it: freed without a write");
    assert!(m.frame.is_none());
    m.read(1);
    m.read(0);
}

#[test]
fn a_written_page_stays_in_the_swap_cache_and_a_touch_maps_it_without_a_read() {
    let mut m = Model::new();
    m.pass();
    assert_eq!(m.writes, 1);
    let f = m.frame.expect("kept after its write");
    assert!(f.slot.is_some() && !f.dirty && !f.writeback);
    assert_eq!(m.ptes, [Pte::Swap(1), Pte::Swap(1)]);
    // MADV_PAGEOUT's re-read: the swap-cache page is mapped, nothing read from the slot.
    m.slots.get_mut(&1).unwrap().data = None;
    m.read(0);
    m.read(1);
    assert_eq!(m.ptes, [Pte::Present { dirty: false }, Pte::Present { dirty: false }]);
}

#[test]
fn a_page_under_writeback_is_not_freed_and_a_fault_maps_it() {
    let mut m = Model::new();
    m.reclaim();
    assert!(m.frame.unwrap().writeback);
    m.reclaim(); // Keep: its write is still in flight.
    assert!(m.frame.is_some());
    assert_eq!(m.writes, 0);
    // A swap-cache hit during the write maps the page (the slot is not written yet: a read
    // from it would panic the model).
    m.read(0);
    assert_eq!(m.ptes[0], Pte::Present { dirty: false });
    m.complete();
    assert!(m.frame.is_some(), "mapped again: kept");
    m.pass(); // unmapped again, clean: freed with no second write
    m.pass();
    assert_eq!(m.writes, 1);
    assert!(m.frame.is_none());
    m.read(0);
    m.read(1);
}

#[test]
fn a_page_dirtied_while_under_writeback_is_written_again() {
    let mut m = Model::new();
    m.reclaim();
    m.write(0); // fault from the swap cache during the write, then a store
    m.complete(); // the slot holds the old data
    m.pass(); // the dirty PTE moves to PG_dirty: written again
    assert_eq!(m.writes, 2);
    m.pass();
    assert!(m.frame.is_none());
    m.read(1);
    m.read(0);
}

#[test]
fn a_page_dirtied_after_swap_in_is_written_again() {
    let mut m = Model::new();
    m.pass();
    m.read(1);
    m.write(0); // kept in the cache (a swap PTE elsewhere... here the same frame), PTE dirty
    m.pass();
    assert_eq!(m.writes, 2);
    m.read(1);
    m.read(0);
    // Dirtied through one mapping while the other (clean) cannot be unmapped: activated,
    // then written on the pass that can unmap the clean one.
    m.write(1);
    m.pinned[0] = true;
    m.pass();
    assert_eq!(m.writes, 2);
    m.pinned[0] = false;
    m.pass();
    assert_eq!(m.writes, 3);
    m.pass();
    assert!(m.frame.is_none());
    m.read(0);
    m.read(1);
}

#[derive(Clone, Debug)]
enum Op {
    Read(usize),
    Write(usize),
    Reclaim,
    Complete,
    Pin(usize, bool),
}

proptest! {
    /// Random reads, writes, reclaim passes and unmaps that fail:
    /// every read sees the last write, and every slot's count is its swap PTEs.
    #[test]
    fn nothing_is_lost_whatever_the_order(ops in proptest::collection::vec(
        prop_oneof![
            3 => (0usize..2).prop_map(Op::Read),
            3 => (0usize..2).prop_map(Op::Write),
            4 => Just(Op::Reclaim),
            3 => Just(Op::Complete),
            2 => ((0usize..2), any::<bool>()).prop_map(|(p, b)| Op::Pin(p, b)),
        ],
        0..80,
    )) {
        let mut m = Model::new();
        for op in ops {
            match op {
                Op::Read(p) => m.read(p),
                Op::Write(p) => m.write(p),
                Op::Reclaim => m.reclaim(),
                Op::Complete => m.complete(),
                Op::Pin(p, b) => m.pinned[p] = b,
            }
            let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
            for p in m.ptes {
                if let Pte::Swap(s) = p {
                    *counts.entry(s).or_default() += 1;
                }
            }
            for (s, slot) in &m.slots {
                prop_assert_eq!(slot.count, counts.get(s).copied().unwrap_or(0));
            }
            let present: Vec<bool> =
                m.ptes.iter().map(|p| matches!(p, Pte::Present { .. })).collect();
            prop_assert!(!present.contains(&true) || m.frame.is_some());
            prop_assert!(m.in_flight.is_none() || m.frame.is_some_and(|f| f.writeback));
        }
        m.complete();
        m.read(0);
        m.read(1);
    }
}
