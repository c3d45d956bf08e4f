//! The free gaps of an address space, for `get_unmapped_area` in O(log n): a treap keyed by
//! gap start, each node knowing the longest gap in its subtree (what Linux's maple tree, and
//! its rbtree before, keep as `rb_subtree_gap`). A gap runs from the end of one VMA to the
//! claimed start of the next (`vm_start_gap`, a stack's guard gap counted as taken); the first
//! starts at 0 and the last ends at `TASK_SIZE`. Empty gaps are not stored.
//!
//! The nodes live in one vector and link by index, freed nodes on a free list: after the tree
//! has grown to its working size, changing it allocates nothing (as the maple tree
//! preallocates its nodes), where a node per `Box` cost a kmalloc and a kfree per gap on every
//! mmap and munmap. An unmapping or mapping usually moves the end of a gap, which
//! [`GapTree::set_end`] changes in place, and adds or takes away at most one other gap.
use alloc::vec::Vec;

/// No node (the end of a link, or an empty free list).
const NIL: u32 = u32::MAX;

/// The gap tree: see the module comment.
#[derive(Clone, Debug)]
pub struct GapTree {
    nodes: Vec<GapNode>,
    root: u32,
    /// The first free node; free nodes chain through `left`.
    free: u32,
}

#[derive(Clone, Debug)]
struct GapNode {
    start: usize,
    end: usize,
    prio: u64,
    /// Longest gap in this subtree.
    max_len: usize,
    left: u32,
    right: u32,
}

/// A fixed pseudo-random priority per key (splitmix64): the treap stays balanced for any
/// address pattern without a random-number source.
fn gap_prio(start: usize) -> u64 {
    let mut z = (start as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Default for GapTree {
    fn default() -> Self {
        GapTree { nodes: Vec::new(), root: NIL, free: NIL }
    }
}

impl GapTree {
    fn node(&self, t: u32) -> &GapNode {
        &self.nodes[t as usize]
    }

    fn node_mut(&mut self, t: u32) -> &mut GapNode {
        &mut self.nodes[t as usize]
    }

    fn max_of(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.node(t).max_len
        }
    }

    /// Recomputes `t`'s `max_len` from its own gap and its children's.
    fn fix(&mut self, t: u32) {
        let n = self.node(t);
        let (l, r, own) = (n.left, n.right, n.end - n.start);
        let m = self.max_of(l).max(self.max_of(r)).max(own);
        self.node_mut(t).max_len = m;
    }

    /// A node for `[start, end)`, from the free list when it has one.
    fn alloc(&mut self, start: usize, end: usize) -> u32 {
        let node = GapNode {
            start,
            end,
            prio: gap_prio(start),
            max_len: end - start,
            left: NIL,
            right: NIL,
        };
        if self.free != NIL {
            let t = self.free;
            self.free = self.node(t).left;
            *self.node_mut(t) = node;
            t
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    /// Puts every node of the subtree `t` on the free list.
    fn release(&mut self, t: u32) {
        if t == NIL {
            return;
        }
        let (l, r) = (self.node(t).left, self.node(t).right);
        self.release(l);
        self.release(r);
        let free = self.free;
        self.node_mut(t).left = free;
        self.free = t;
    }

    /// Splits `t` into keys `< key` and keys `>= key`.
    fn split(&mut self, t: u32, key: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.node(t).start < key {
            let (a, b) = self.split(self.node(t).right, key);
            self.node_mut(t).right = a;
            self.fix(t);
            (t, b)
        } else {
            let (a, b) = self.split(self.node(t).left, key);
            self.node_mut(t).left = b;
            self.fix(t);
            (a, t)
        }
    }

    /// Joins two treaps, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.node(a).prio >= self.node(b).prio {
            let r = self.merge(self.node(a).right, b);
            self.node_mut(a).right = r;
            self.fix(a);
            a
        } else {
            let l = self.merge(a, self.node(b).left);
            self.node_mut(b).left = l;
            self.fix(b);
            b
        }
    }

    /// Removes every gap starting in `[lo, hi]`.
    pub fn remove_range(&mut self, lo: usize, hi: usize) {
        let (a, rest) = self.split(self.root, lo);
        let (mid, c) = match hi.checked_add(1) {
            Some(h) => self.split(rest, h),
            None => (rest, NIL),
        };
        self.release(mid);
        self.root = self.merge(a, c);
    }

    /// Adds the gap `[start, end)` (no gap may start there already): down the tree to where
    /// its priority puts it, the subtree there split around it.
    pub fn insert(&mut self, start: usize, end: usize) {
        let x = self.alloc(start, end);
        self.root = self.insert_in(self.root, x);
    }

    fn insert_in(&mut self, t: u32, x: u32) -> u32 {
        if t == NIL {
            return x;
        }
        let (xs, xp) = (self.node(x).start, self.node(x).prio);
        if xp > self.node(t).prio {
            let (a, b) = self.split(t, xs);
            let n = self.node_mut(x);
            n.left = a;
            n.right = b;
            self.fix(x);
            return x;
        }
        if xs < self.node(t).start {
            let l = self.insert_in(self.node(t).left, x);
            self.node_mut(t).left = l;
        } else {
            let r = self.insert_in(self.node(t).right, x);
            self.node_mut(t).right = r;
        }
        self.fix(t);
        t
    }

    /// Removes the gap starting at `start`; false when there is none.
    pub fn remove(&mut self, start: usize) -> bool {
        let (root, found) = self.remove_in(self.root, start);
        self.root = root;
        found
    }

    fn remove_in(&mut self, t: u32, start: usize) -> (u32, bool) {
        if t == NIL {
            return (NIL, false);
        }
        let (s, l, r) = (self.node(t).start, self.node(t).left, self.node(t).right);
        if s == start {
            let m = self.merge(l, r);
            let free = self.free;
            self.node_mut(t).left = free;
            self.free = t;
            return (m, true);
        }
        let found = if start < s {
            let (c, found) = self.remove_in(l, start);
            self.node_mut(t).left = c;
            found
        } else {
            let (c, found) = self.remove_in(r, start);
            self.node_mut(t).right = c;
            found
        };
        if found {
            self.fix(t);
        }
        (t, found)
    }

    /// Moves the end of the gap starting at `start` to `end` (> `start`), the subtree maxima
    /// on the way fixed; false (nothing changed) when no gap starts there.
    pub fn set_end(&mut self, start: usize, end: usize) -> bool {
        debug_assert!(end > start);
        self.set_end_in(self.root, start, end)
    }

    fn set_end_in(&mut self, t: u32, start: usize, end: usize) -> bool {
        if t == NIL {
            return false;
        }
        let s = self.node(t).start;
        let found = if start == s {
            self.node_mut(t).end = end;
            true
        } else if start < s {
            self.set_end_in(self.node(t).left, start, end)
        } else {
            self.set_end_in(self.node(t).right, start, end)
        };
        if found {
            self.fix(t);
        }
        found
    }

    /// The gaps starting in `[lo, hi]` in address order into `out`; their number, or
    /// `out.len() + 1` when there are more than `out` holds (the walk stops there).
    pub fn collect_range(&self, lo: usize, hi: usize, out: &mut [(usize, usize)]) -> usize {
        let mut n = 0;
        self.collect_in(self.root, lo, hi, out, &mut n);
        n
    }

    fn collect_in(&self, t: u32, lo: usize, hi: usize, out: &mut [(usize, usize)], n: &mut usize) {
        if t == NIL || *n > out.len() {
            return;
        }
        let g = self.node(t);
        if g.start > lo {
            self.collect_in(g.left, lo, hi, out, n);
            if *n > out.len() {
                return;
            }
        }
        if (lo..=hi).contains(&g.start) {
            if let Some(o) = out.get_mut(*n) {
                *o = (g.start, g.end);
            }
            *n += 1;
        }
        if g.start < hi {
            self.collect_in(g.right, lo, hi, out, n);
        }
    }

    /// Every gap in address order.
    pub fn to_vec(&self) -> Vec<(usize, usize)> {
        fn walk(tree: &GapTree, t: u32, out: &mut Vec<(usize, usize)>) {
            if t != NIL {
                let n = tree.node(t);
                walk(tree, n.left, out);
                out.push((n.start, n.end));
                walk(tree, n.right, out);
            }
        }
        let mut out = Vec::new();
        walk(self, self.root, &mut out);
        out
    }

    /// The highest gap starting below `key` with at least `len` bytes.
    pub fn highest_fit(&self, key: usize, len: usize) -> Option<(usize, usize)> {
        self.highest_fit_in(self.root, key, len)
    }

    fn highest_fit_in(&self, t: u32, key: usize, len: usize) -> Option<(usize, usize)> {
        if t == NIL {
            return None;
        }
        let n = self.node(t);
        if n.max_len < len {
            return None;
        }
        if n.start >= key {
            return self.highest_fit_in(n.left, key, len);
        }
        self.highest_fit_in(n.right, key, len)
            .or_else(|| (n.end - n.start >= len).then_some((n.start, n.end)))
            .or_else(|| self.highest_fit_in(n.left, key, len))
    }

    /// The lowest gap starting above `key` with at least `len` bytes.
    pub fn lowest_fit(&self, key: usize, len: usize) -> Option<(usize, usize)> {
        self.lowest_fit_in(self.root, key, len)
    }

    fn lowest_fit_in(&self, t: u32, key: usize, len: usize) -> Option<(usize, usize)> {
        if t == NIL {
            return None;
        }
        let n = self.node(t);
        if n.max_len < len {
            return None;
        }
        if n.start <= key {
            return self.lowest_fit_in(n.right, key, len);
        }
        self.lowest_fit_in(n.left, key, len)
            .or_else(|| (n.end - n.start >= len).then_some((n.start, n.end)))
            .or_else(|| self.lowest_fit_in(n.right, key, len))
    }

    /// The gap starting at or below `key` with the highest start.
    pub fn floor(&self, key: usize) -> Option<(usize, usize)> {
        let mut t = self.root;
        let mut best = None;
        while t != NIL {
            let n = self.node(t);
            if n.start > key {
                t = n.left;
            } else {
                best = Some((n.start, n.end));
                t = n.right;
            }
        }
        best
    }

    /// Nodes held, free ones included (the tree's working size).
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    /// Checks the tree against the reference map: the gaps, and every node's `max_len`.
    fn check(t: &GapTree, want: &BTreeMap<usize, usize>) {
        let got = t.to_vec();
        let w: Vec<(usize, usize)> = want.iter().map(|(&s, &e)| (s, e)).collect();
        assert_eq!(got, w);
        fn max(t: &GapTree, i: u32) -> usize {
            if i == NIL {
                return 0;
            }
            let n = t.node(i);
            let m = (n.end - n.start).max(max(t, n.left)).max(max(t, n.right));
            assert_eq!(n.max_len, m, "max_len of {:#x}", n.start);
            m
        }
        max(t, t.root);
    }

    #[test]
    fn freed_nodes_are_reused_and_ends_move_in_place() {
        let mut t = GapTree::default();
        t.insert(0, 0x1000);
        t.insert(0x5000, 0x8000);
        t.insert(0x9000, 0x10000);
        assert_eq!(t.capacity(), 3);
        t.remove_range(0x5000, 0x9000);
        t.insert(0x6000, 0x7000);
        t.insert(0xa000, 0xb000);
        assert_eq!(t.capacity(), 3, "the two freed nodes were used again");
        assert!(t.set_end(0x6000, 0x9000));
        assert!(!t.set_end(0x6001, 0x9000));
        t.insert(0x3000, 0x4000);
        assert!(t.remove(0x3000));
        assert!(!t.remove(0x3000));
        assert_eq!(t.capacity(), 4);
        assert_eq!(t.to_vec(), [(0, 0x1000), (0x6000, 0x9000), (0xa000, 0xb000)]);
        assert_eq!(t.highest_fit(usize::MAX, 0x3000), Some((0x6000, 0x9000)));
        assert_eq!(t.lowest_fit(0, 0x2000), Some((0x6000, 0x9000)));
        assert_eq!(t.floor(0x9fff), Some((0x6000, 0x9000)));
        let mut out = [(0, 0); 2];
        assert_eq!(t.collect_range(0x1, 0xa000, &mut out), 2);
        assert_eq!(out, [(0x6000, 0x9000), (0xa000, 0xb000)]);
        assert_eq!(t.collect_range(0, usize::MAX, &mut out[..1]), 2);
        assert_eq!(out[0], (0, 0x1000));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(usize, usize),
        Remove(usize, usize),
        SetEnd(usize, usize),
        RemoveOne(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..64, 1usize..8).prop_map(|(s, l)| Op::Insert(s * 0x1000, (s + l) * 0x1000)),
            (0usize..64, 0usize..16).prop_map(|(s, l)| Op::Remove(s * 0x1000, (s + l) * 0x1000)),
            (0usize..64, 1usize..8).prop_map(|(s, l)| Op::SetEnd(s * 0x1000, (s + l) * 0x1000)),
            (0usize..64).prop_map(|s| Op::RemoveOne(s * 0x1000)),
        ]
    }

    proptest! {
        /// Any sequence of inserts, range removals and end moves leaves the same gaps as a
        /// `BTreeMap`, the subtree maxima right, the searches answering as a scan of the map
        /// would, and no more nodes than gaps ever held at once.
        #[test]
        fn matches_a_sorted_map(ops in proptest::collection::vec(op(), 1..80)) {
            let mut t = GapTree::default();
            let mut want: BTreeMap<usize, usize> = BTreeMap::new();
            let mut most = 0;
            for op in ops {
                match op {
                    Op::Insert(s, e) => {
                        if let alloc::collections::btree_map::Entry::Vacant(v) = want.entry(s) {
                            v.insert(e);
                            t.insert(s, e);
                        }
                    }
                    Op::Remove(lo, hi) => {
                        want.retain(|&s, _| !(lo..=hi).contains(&s));
                        t.remove_range(lo, hi);
                    }
                    Op::RemoveOne(s) => {
                        prop_assert_eq!(t.remove(s), want.remove(&s).is_some());
                    }
                    Op::SetEnd(s, e) => {
                        let had = want.get_mut(&s).map(|v| *v = e).is_some();
                        prop_assert_eq!(t.set_end(s, e), had);
                    }
                }
                most = most.max(want.len());
                check(&t, &want);
                prop_assert!(t.capacity() <= most);
                for len in [0x1000, 0x3000, 0x8000] {
                    for key in [0, 0x8000, 0x20000, usize::MAX] {
                        let hi = want.range(..key).rev().find(|(&s, &e)| e - s >= len);
                        prop_assert_eq!(t.highest_fit(key, len), hi.map(|(&s, &e)| (s, e)));
                        let lo = want
                            .range(key.saturating_add(1)..)
                            .find(|(&s, &e)| e - s >= len && s > key);
                        prop_assert_eq!(t.lowest_fit(key, len), lo.map(|(&s, &e)| (s, e)));
                        let fl = want.range(..=key).next_back();
                        prop_assert_eq!(t.floor(key), fl.map(|(&s, &e)| (s, e)));
                    }
                }
                let mut out = [(0, 0); 3];
                let n = t.collect_range(0x4000, 0x20000, &mut out);
                let w: Vec<(usize, usize)> =
                    want.range(0x4000..=0x20000).map(|(&s, &e)| (s, e)).collect();
                prop_assert_eq!(n, w.len().min(4));
                prop_assert_eq!(&out[..n.min(3)], &w[..n.min(3)]);
            }
        }
    }
}
