//! The VMA tree against a model (a sorted vector of VMAs scanned linearly): random sequences
//! of insert, remove, split, merge, start and end moves, lookups and gap searches.
use super::*;
use crate::mm::mm_types::{VmFlags, PAGE_SIZE};
use proptest::prelude::*;

/// Pages in the modelled address space (small, so that operations collide often).
const SPACE: usize = 96;
/// The top of the modelled address space (`TASK_SIZE`); a stack's guard gap (256 pages)
/// reaches past its bottom, so the model covers the clamped claim too.
const TOP: usize = SPACE * PAGE_SIZE;

fn vma(start: usize, end: usize, stack: bool) -> Vma {
    Vma {
        vm_start: start,
        vm_end: end,
        vm_flags: if stack { VmFlags::STACK_FLAGS } else { VmFlags::DATA_DEFAULT },
        vm_pgoff: (start / PAGE_SIZE) as u64,
        vm_file: None,
        anon_vma: None,
        special: None,
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Insert `[a, a + len)` pages if free.
    Insert(usize, usize, bool),
    /// Remove the VMA holding page `a`.
    Remove(usize),
    /// Split the VMA holding page `a` at `a` (when inside).
    Split(usize),
    /// Merge the VMA holding page `a` with the next when adjacent.
    Merge(usize),
    /// Move the start of the VMA holding page `a` to `a`.
    TrimStart(usize),
    /// Move the end of the VMA holding page `a` to `a + 1`.
    TrimEnd(usize),
    /// Grow the VMA holding page `a` down or up by `n` pages into free space.
    Grow(usize, usize, bool),
    /// [`VmaTree::shrink`] (renumbers the nodes when most are free).
    Shrink,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..SPACE, 1usize..8, proptest::bool::weighted(0.1))
            .prop_map(|(a, l, s)| Op::Insert(a, l, s)),
        1 => (0..SPACE).prop_map(Op::Remove),
        1 => (0..SPACE).prop_map(Op::Split),
        1 => (0..SPACE).prop_map(Op::Merge),
        1 => (0..SPACE).prop_map(Op::TrimStart),
        1 => (0..SPACE).prop_map(Op::TrimEnd),
        1 => (0..SPACE, 1usize..4, any::<bool>()).prop_map(|(a, n, d)| Op::Grow(a, n, d)),
        1 => Just(Op::Shrink),
    ]
}

/// Applies `op` to the model and the tree alike.
fn apply(t: &mut VmaTree, m: &mut Vec<Vma>, op: &Op) {
    let pg = |p: usize| p * PAGE_SIZE;
    let holding = |m: &Vec<Vma>, a: usize| m.iter().position(|v| v.vm_start <= a && a < v.vm_end);
    match *op {
        Op::Insert(a, l, s) => {
            let (start, end) = (pg(a), pg((a + l).min(SPACE)));
            if start < end && m.iter().all(|v| v.vm_end <= start || end <= v.vm_start) {
                let id = t.insert(vma(start, end, s));
                assert_eq!(t.get(id).vm_start, start);
                m.push(vma(start, end, s));
                m.sort_by_key(|v| v.vm_start);
            }
        }
        Op::Remove(a) => {
            if let Some(i) = holding(m, pg(a)) {
                let id = t.find(pg(a)).unwrap();
                assert_eq!(t.remove(id), m.remove(i));
            }
        }
        Op::Split(a) => {
            if let Some(i) = holding(m, pg(a)).filter(|&i| m[i].vm_start < pg(a)) {
                let id = t.find(pg(a)).unwrap();
                let upper = vma(pg(a), m[i].vm_end, false);
                let upper = Vma { vm_flags: m[i].vm_flags, ..upper };
                t.modify(id, |v| v.vm_end = pg(a));
                t.insert(upper.clone());
                m[i].vm_end = pg(a);
                m.insert(i + 1, upper);
            }
        }
        Op::Merge(a) => {
            if let Some(i) = holding(m, pg(a)) {
                if i + 1 < m.len() && m[i + 1].vm_start == m[i].vm_end {
                    let id = t.find(pg(a)).unwrap();
                    let next = t.next(id).unwrap();
                    let gone = t.remove(next);
                    t.modify(id, |v| v.vm_end = gone.vm_end);
                    m[i].vm_end = m.remove(i + 1).vm_end;
                }
            }
        }
        Op::TrimStart(a) => {
            if let Some(i) = holding(m, pg(a)) {
                let id = t.find(pg(a)).unwrap();
                t.modify(id, |v| v.vm_start = pg(a));
                m[i].vm_start = pg(a);
            }
        }
        Op::TrimEnd(a) => {
            if let Some(i) = holding(m, pg(a)) {
                let id = t.find(pg(a)).unwrap();
                t.modify(id, |v| v.vm_end = pg(a + 1));
                m[i].vm_end = pg(a + 1);
            }
        }
        Op::Grow(a, n, down) => {
            if let Some(i) = holding(m, pg(a)) {
                let id = t.find(pg(a)).unwrap();
                if down {
                    let floor = if i == 0 { 0 } else { m[i - 1].vm_end };
                    let to = m[i].vm_start.saturating_sub(pg(n)).max(floor);
                    t.modify(id, |v| v.vm_start = to);
                    m[i].vm_start = to;
                } else {
                    let ceil = m.get(i + 1).map_or(TOP, |v| v.vm_start);
                    let to = (m[i].vm_end + pg(n)).min(ceil);
                    t.modify(id, |v| v.vm_end = to);
                    m[i].vm_end = to;
                }
            }
        }
        Op::Shrink => {
            let before = (t.len(), t.capacity());
            t.shrink();
            let free = before.1 - before.0;
            let want = if free > before.0 + FREE_SLACK { before.0 } else { before.1 };
            assert_eq!(t.capacity(), want, "shrink keeps few free nodes, drops many");
        }
    }
}

/// Every query the tree answers, compared with a scan of the model.
fn compare(t: &VmaTree, m: &[Vma]) -> Result<(), TestCaseError> {
    t.check().map_err(TestCaseError::fail)?;
    prop_assert_eq!(t.len(), m.len());
    prop_assert!(t.iter().eq(m.iter()));
    prop_assert_eq!(t.first().map(|i| t.get(i)), m.first());
    prop_assert_eq!(t.last().map(|i| t.get(i)), m.last());
    for p in 0..=SPACE + 1 {
        let a = p * PAGE_SIZE;
        for addr in [a, a + 1, a.saturating_sub(1)] {
            let want = m.iter().find(|v| v.vm_end > addr);
            let id = t.find(addr);
            prop_assert_eq!(id.map(|i| t.get(i)), want, "find({:#x})", addr);
            if let Some(id) = id {
                let i = m.iter().position(|v| v.vm_end > addr).unwrap();
                prop_assert_eq!(t.prev(id).map(|p| t.get(p)), i.checked_sub(1).map(|j| &m[j]));
                prop_assert_eq!(t.next(id).map(|n| t.get(n)), m.get(i + 1));
            }
            let below = m.iter().rev().find(|v| v.vm_start < addr);
            prop_assert_eq!(t.last_below(addr).map(|i| t.get(i)), below);
            let from = m.iter().find(|v| v.vm_start >= addr);
            prop_assert_eq!(t.first_from(addr).map(|i| t.get(i)), from);
            let at = m.iter().find(|v| v.vm_start == addr);
            prop_assert_eq!(t.at(addr).map(|i| t.get(i)), at);
        }
    }
    // The gaps a scan of the model leaves, and the searches over them.
    let mut gaps = Vec::new();
    let mut prev_end = 0;
    for v in m {
        let claim = vm_start_gap(v);
        if claim > prev_end {
            gaps.push((prev_end, claim));
        }
        prev_end = v.vm_end;
    }
    if TOP > prev_end {
        gaps.push((prev_end, TOP));
    }
    prop_assert_eq!(t.gaps(TOP), gaps.clone());
    for len in [1, 2, 3, 5, 9, 40].map(|p| p * PAGE_SIZE) {
        // Whole space, halves, and narrow windows: a subtree starting within `len` of a
        // window's top (or ending within `len` of its bottom) is skipped by the searches.
        let windows = [
            (0, TOP),
            (PAGE_SIZE, TOP / 2),
            (TOP / 3, TOP - 3 * PAGE_SIZE),
            (TOP / 4, TOP / 4 + 41 * PAGE_SIZE),
            (7 * PAGE_SIZE, 12 * PAGE_SIZE),
            (TOP / 2 + PAGE_SIZE, TOP / 2 + 4 * PAGE_SIZE),
        ];
        for (low, high) in windows {
            let q = GapQuery { length: len, low, high };
            let down = gaps.iter().rev().find_map(|&(s, e)| q.fit(s, e, true));
            prop_assert_eq!(t.gap_topdown(len, low, high, TOP), down, "topdown {:#x}", len);
            let up = gaps.iter().find_map(|&(s, e)| q.fit(s, e, false));
            prop_assert_eq!(t.gap_bottomup(len, low, high, TOP), up, "bottomup {:#x}", len);
        }
    }
    Ok(())
}

proptest! {
    /// Any sequence of changes leaves the tree answering every lookup and gap search as a
    /// scan of the model would, its links and subtree values consistent, and no more nodes
    /// than VMAs ever held at once.
    #[test]
    fn matches_a_sorted_vector(ops in proptest::collection::vec(op(), 1..120)) {
        let mut t = VmaTree::default();
        let mut m = Vec::new();
        let mut most = 0;
        for op in &ops {
            apply(&mut t, &mut m, op);
            most = most.max(m.len());
            compare(&t, &m)?;
            prop_assert!(t.capacity() <= most);
            let c = t.clone();
            c.check().map_err(TestCaseError::fail)?;
            prop_assert!(c.iter().eq(m.iter()));
        }
    }
}

/// A tree of 100 one-page VMAs a page apart, its first `freed` removed: (tree, ids).
fn sparse_tree(freed: usize) -> (VmaTree, Vec<VmaId>) {
    let mut t = VmaTree::default();
    let ids: Vec<VmaId> = (0..100)
        .map(|i| t.insert(vma(i * 2 * PAGE_SIZE, (i * 2 + 1) * PAGE_SIZE, false)))
        .collect();
    for &id in &ids[..freed] {
        t.remove(id);
    }
    (t, ids)
}

/// Whether `a` and `b` hold the same VMAs and answer every lookup and gap search alike.
fn same_answers(a: &VmaTree, b: &VmaTree) {
    assert!(a.iter().eq(b.iter()));
    for addr in (0..210).map(|p| p * PAGE_SIZE) {
        assert_eq!(a.find(addr).map(|i| a.get(i)), b.find(addr).map(|i| b.get(i)));
        assert_eq!(a.gap_topdown(PAGE_SIZE, 0, addr, TOP), b.gap_topdown(PAGE_SIZE, 0, addr, TOP));
        assert_eq!(
            a.gap_bottomup(PAGE_SIZE, addr, TOP, TOP),
            b.gap_bottomup(PAGE_SIZE, addr, TOP, TOP)
        );
    }
}

/// A tree that freed most of its nodes gives them back on `shrink`, keeps its shape and
/// answers as before; one at its working size keeps them.
#[test]
fn shrink_gives_back_freed_nodes() {
    let (mut t, ids) = sparse_tree(40);
    t.shrink();
    assert_eq!(t.capacity(), 100, "40 free of 100: kept");
    for &id in &ids[40..95] {
        t.remove(id);
    }
    let before = t.clone();
    t.shrink();
    assert_eq!(t.capacity(), 5);
    t.check().unwrap();
    same_answers(&t, &before);
    // The tree grows again from its shrunk size.
    t.insert(vma(300 * PAGE_SIZE, 301 * PAGE_SIZE, false));
    assert_eq!(t.capacity(), 6);
    t.check().unwrap();
}

/// A tree at its working size reuses the nodes it freed.
#[test]
fn reuses_freed_nodes() {
    let mut t = VmaTree::default();
    let a = t.insert(vma(0x1000, 0x2000, false));
    let b = t.insert(vma(0x3000, 0x4000, false));
    assert_eq!(t.capacity(), 2);
    t.remove(a);
    t.remove(b);
    assert!(t.is_empty());
    t.insert(vma(0x5000, 0x6000, false));
    t.insert(vma(0x7000, 0x8000, false));
    assert_eq!(t.capacity(), 2, "the freed nodes were used again");
    t.check().unwrap();
}

/// A stack's guard gap counts as taken: the gap below it ends at its claim, and a search
/// that only fits inside the guard gap fails.
#[test]
fn stack_guard_gap_is_taken() {
    let mut t = VmaTree::default();
    let top = 0x1000_0000;
    let s = 0x0800_0000;
    t.insert(vma(s, s + 0x1000, true));
    let guard = s - crate::mm::mm_types::STACK_GUARD_GAP;
    assert_eq!(t.gaps(top), vec![(0, guard), (s + 0x1000, top)]);
    assert_eq!(t.gap_topdown(0x1000, guard, s, top), None);
    assert_eq!(t.gap_topdown(0x1000, 0, s, top), Some(guard - 0x1000));
}

/// A clone of a tree that freed many nodes holds only the live ones, in the same order and
/// shape, and answers as the original does.
#[test]
fn clone_drops_freed_nodes() {
    let (t, _) = sparse_tree(90);
    let c = t.clone();
    assert_eq!(c.capacity(), 10);
    c.check().unwrap();
    same_answers(&c, &t);
    // A tree with few free nodes is copied as it is.
    let mut u = VmaTree::default();
    let a = u.insert(vma(0, PAGE_SIZE, false));
    u.insert(vma(2 * PAGE_SIZE, 3 * PAGE_SIZE, false));
    u.remove(a);
    assert_eq!(u.clone().capacity(), 2);
    u.clone().check().unwrap();
}
