//! The VMAs of an address space, sorted: a `BTreeMap` keyed by each VMA's *end*, as the
//! maple tree indexes a VMA by its last address.
//!
//! Keyed by the end, `find_vma` (the first VMA ending above an address) is one search, and a
//! VMA's start moves in place: a new mapping merged into the VMA above it (the top-down
//! layout's usual neighbour) and `munmap` of a VMA's lower part change no key, where a tree
//! keyed by start moved the VMA out of its leaf and back in (`remove` + `insert`, each
//! shifting the leaf's values). Only a change of a VMA's end ([`VmaTree::set_end`]: `brk`, a
//! merge into the VMA below) re-files it.
//!
//! Invariant (checked by `MmStruct::validate`): every VMA is filed under its `vm_end`, and the
//! VMAs do not overlap, so the order by end is the order by start. A `&mut Vma` handed out
//! may change anything but `vm_end`, and `vm_start` only within the gap below it.
use super::mm_types::Vma;
use alloc::collections::BTreeMap;
use core::ops::Bound::{Excluded, Unbounded};

/// See the module comment.
#[derive(Clone, Debug, Default)]
pub struct VmaTree {
    by_end: BTreeMap<usize, Vma>,
}

impl VmaTree {
    /// Number of VMAs (`mm->map_count`).
    pub fn len(&self) -> usize {
        self.by_end.len()
    }

    /// No VMA.
    pub fn is_empty(&self) -> bool {
        self.by_end.is_empty()
    }

    /// Every VMA in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vma> {
        self.by_end.values()
    }

    /// Every VMA in address order, to change anything but `vm_end`.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Vma> {
        self.by_end.values_mut()
    }

    /// Each VMA with the key it is filed under (for `validate`).
    pub fn entries(&self) -> impl Iterator<Item = (usize, &Vma)> {
        self.by_end.iter().map(|(&k, v)| (k, v))
    }

    /// The VMAs ending above `end` (all of them for `None`), in address order.
    pub fn ending_above(&self, end: Option<usize>) -> impl Iterator<Item = &Vma> {
        let lo = end.map_or(Unbounded, Excluded);
        self.by_end.range((lo, Unbounded)).map(|(_, v)| v)
    }

    /// `find_vma()`: the first VMA with `vm_end > addr`.
    pub fn find(&self, addr: usize) -> Option<&Vma> {
        self.by_end.range((Excluded(addr), Unbounded)).next().map(|(_, v)| v)
    }

    /// [`VmaTree::find`], mutable.
    pub fn find_mut(&mut self, addr: usize) -> Option<&mut Vma> {
        self.by_end.range_mut((Excluded(addr), Unbounded)).next().map(|(_, v)| v)
    }

    /// The VMA starting at `start`.
    pub fn get(&self, start: usize) -> Option<&Vma> {
        self.find(start).filter(|v| v.vm_start == start)
    }

    /// The VMA starting at `start`, mutable.
    pub fn get_mut(&mut self, start: usize) -> Option<&mut Vma> {
        self.find_mut(start).filter(|v| v.vm_start == start)
    }

    /// The VMA ending at `end`.
    pub fn get_by_end(&self, end: usize) -> Option<&Vma> {
        self.by_end.get(&end)
    }

    /// The last VMA ending at or below `addr` (`find_vma_prev`'s `pprev` for an address that
    /// no VMA holds, and the VMA before one starting at `addr`).
    pub fn prev(&self, addr: usize) -> Option<&Vma> {
        self.by_end.range(..=addr).next_back().map(|(_, v)| v)
    }

    /// The first VMA starting at or above `addr`.
    pub fn first_from(&self, addr: usize) -> Option<&Vma> {
        let v = self.find(addr)?;
        if v.vm_start >= addr {
            return Some(v);
        }
        self.find(v.vm_end)
    }

    /// The last VMA starting below `addr`.
    pub fn last_below(&self, addr: usize) -> Option<&Vma> {
        match self.by_end.range(addr..).next() {
            Some((_, v)) if v.vm_start < addr => Some(v),
            _ => self.by_end.range(..addr).next_back().map(|(_, v)| v),
        }
    }

    /// Files `vma` (which overlaps no VMA).
    pub fn insert(&mut self, vma: Vma) {
        let old = self.by_end.insert(vma.vm_end, vma);
        debug_assert!(old.is_none(), "VmaTree::insert: a VMA already ends there");
    }

    /// Takes out the VMA starting at `start`.
    pub fn remove(&mut self, start: usize) -> Option<Vma> {
        let end = self.get(start)?.vm_end;
        self.by_end.remove(&end)
    }

    /// Moves the end of the VMA starting at `start` to `end` (which stays below the next
    /// VMA's start): the one change that re-files a VMA.
    pub fn set_end(&mut self, start: usize, end: usize) -> bool {
        let Some(mut v) = self.remove(start) else { return false };
        v.vm_end = end;
        self.insert(v);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::mm_types::VmFlags;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn vma(start: usize, end: usize) -> Vma {
        Vma {
            vm_start: start,
            vm_end: end,
            vm_flags: VmFlags::READ,
            vm_pgoff: start as u64,
            vm_file: None,
            anon_vma: None,
            special: None,
        }
    }

    /// The reference: a sorted list of `(start, end)`, searched linearly.
    #[derive(Default)]
    struct Model(Vec<(usize, usize)>);

    impl Model {
        fn free(&self, s: usize, e: usize) -> bool {
            self.0.iter().all(|&(a, b)| e <= a || b <= s)
        }
        fn insert(&mut self, s: usize, e: usize) {
            self.0.push((s, e));
            self.0.sort();
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(usize, usize),
        Remove(usize),
        SetEnd(usize, usize),
        SetStart(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..64, 1usize..6).prop_map(|(s, l)| Op::Insert(s, s + l)),
            (0usize..8).prop_map(Op::Remove),
            (0usize..8, 1usize..6).prop_map(|(i, l)| Op::SetEnd(i, l)),
            (0usize..8, 0usize..6).prop_map(|(i, d)| Op::SetStart(i, d)),
        ]
    }

    fn check(t: &VmaTree, m: &Model) {
        let have: Vec<(usize, usize)> = t.iter().map(|v| (v.vm_start, v.vm_end)).collect();
        assert_eq!(have, m.0);
        for (k, v) in t.entries() {
            assert_eq!(k, v.vm_end);
        }
        for a in 0..72 {
            let find = m.0.iter().find(|&&(_, e)| e > a).copied();
            assert_eq!(t.find(a).map(|v| (v.vm_start, v.vm_end)), find, "find {a}");
            let get = m.0.iter().find(|&&(s, _)| s == a).copied();
            assert_eq!(t.get(a).map(|v| (v.vm_start, v.vm_end)), get, "get {a}");
            let by_end = m.0.iter().find(|&&(_, e)| e == a).copied();
            assert_eq!(t.get_by_end(a).map(|v| (v.vm_start, v.vm_end)), by_end, "end {a}");
            let prev = m.0.iter().rev().find(|&&(_, e)| e <= a).copied();
            assert_eq!(t.prev(a).map(|v| (v.vm_start, v.vm_end)), prev, "prev {a}");
            let from = m.0.iter().find(|&&(s, _)| s >= a).copied();
            assert_eq!(t.first_from(a).map(|v| (v.vm_start, v.vm_end)), from, "from {a}");
            let above: Vec<(usize, usize)> = m.0.iter().filter(|&&(_, e)| e > a).copied().collect();
            let have: Vec<(usize, usize)> =
                t.ending_above(Some(a)).map(|v| (v.vm_start, v.vm_end)).collect();
            assert_eq!(have, above, "ending above {a}");
            let below = m.0.iter().rev().find(|&&(s, _)| s < a).copied();
            assert_eq!(t.last_below(a).map(|v| (v.vm_start, v.vm_end)), below, "below {a}");
        }
    }

    #[test]
    fn a_start_moves_in_place_and_an_end_refiles() {
        let mut t = VmaTree::default();
        t.insert(vma(10, 20));
        t.insert(vma(30, 40));
        t.get_mut(30).unwrap().vm_start = 22;
        assert_eq!(t.get(22).map(|v| v.vm_end), Some(40));
        assert!(t.get(30).is_none());
        assert!(t.set_end(10, 15));
        assert_eq!(t.get_by_end(15).map(|v| v.vm_start), Some(10));
        assert!(t.get_by_end(20).is_none());
        assert_eq!(t.remove(22).map(|v| v.vm_end), Some(40));
        assert_eq!(t.len(), 1);
    }

    proptest! {
        #[test]
        fn matches_a_sorted_list(ops in proptest::collection::vec(op(), 1..60)) {
            let mut t = VmaTree::default();
            let mut m = Model::default();
            for op in ops {
                match op {
                    Op::Insert(s, e) => {
                        if m.free(s, e) {
                            t.insert(vma(s, e));
                            m.insert(s, e);
                        }
                    }
                    Op::Remove(i) => {
                        if let Some(&(s, _)) = m.0.get(i) {
                            prop_assert!(t.remove(s).is_some());
                            m.0.remove(i);
                        } else {
                            prop_assert!(t.remove(100).is_none());
                        }
                    }
                    Op::SetEnd(i, l) => {
                        if let Some(&(s, e)) = m.0.get(i) {
                            let next = m.0.get(i + 1).map_or(usize::MAX, |n| n.0);
                            let ne = (s + l).min(next);
                            if ne > s && ne != e {
                                prop_assert!(t.set_end(s, ne));
                                m.0[i].1 = ne;
                            }
                        }
                    }
                    Op::SetStart(i, d) => {
                        if let Some(&(s, e)) = m.0.get(i) {
                            let floor = if i == 0 { 0 } else { m.0[i - 1].1 };
                            let ns = s.saturating_sub(d).max(floor);
                            t.get_mut(s).unwrap().vm_start = ns;
                            m.0[i].0 = ns;
                            prop_assert!(ns < e);
                        }
                    }
                }
                check(&t, &m);
            }
        }
    }
}
