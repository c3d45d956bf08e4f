//! A heap-free AVL tree over a fixed arena of nodes, keyed by a `u32` and augmented with a
//! per-subtree summary (Linux's augmented rbtree, in the shape pivm can afford without an
//! allocator). Both vmap trees use it: busy areas by address, and free blocks by address with
//! their largest fits.
//!
//! Slot 0 is a sentinel ("nil"): it never holds an item, its height is 0 and its summary is
//! `Item::EMPTY`'s, so code reading a missing child's summary needs no special case. Links are
//! `u16` slot numbers; recycled slots are chained through `left`. Nodes are relinked, never
//! moved, so a slot number names the same item for as long as it is in the tree.

/// A slot number in the arena; `NIL` is the sentinel.
pub(super) type Idx = u16;
/// The sentinel slot: no node.
pub(super) const NIL: Idx = 0;
/// Deepest path kept on the explicit stacks: an AVL tree of n nodes is at most
/// 1.44 log2(n + 2) high, i.e. 23 for the 65 535 nodes a `u16` index can name.
pub(super) const MAX_HEIGHT: usize = 32;

/// What the tree stores: a key, and a summary of its subtree recomputed from the children's
/// whenever the subtree changes.
pub(super) trait Item: Copy {
    /// What a subtree summary holds (`()` for no augmentation).
    type Summary: Copy + PartialEq;
    /// The sentinel's value; its summary must be the neutral one (e.g. a zero max).
    const EMPTY: Self;
    /// Sort key; unique among the items in one tree.
    fn key(&self) -> u32;
    /// This node's subtree summary, as last pulled.
    fn summary(&self) -> Self::Summary;
    /// Recomputes this node's subtree summary from its own data and its children's.
    fn pull(&mut self, left: Self::Summary, right: Self::Summary);
}

#[derive(Clone, Copy)]
struct Node<T> {
    left: Idx,
    right: Idx,
    height: u8,
    val: T,
}

/// The tree and its arena of `N` slots (slot 0 is the sentinel, so it holds `N - 1` items).
pub(super) struct Tree<T, const N: usize> {
    nodes: [Node<T>; N],
    root: Idx,
    len: usize,
    /// Slots `1..=high_water` have been handed out at least once; the rest never were, so an
    /// empty tree needs no free-list set-up (and a static of it can live in .bss).
    high_water: Idx,
    /// Recycled slots, chained through `left`.
    free_head: Idx,
}

impl<T: Item, const N: usize> Tree<T, N> {
    /// An empty tree.
    pub(super) const fn new() -> Self {
        const { assert!(N >= 2 && N <= Idx::MAX as usize + 1, "arena size must be 2..=65536") };
        Self {
            nodes: [Node { left: NIL, right: NIL, height: 0, val: T::EMPTY }; N],
            root: NIL,
            len: 0,
            high_water: 0,
            free_head: NIL,
        }
    }

    /// Forgets every item.
    pub(super) fn clear(&mut self) {
        self.root = NIL;
        self.len = 0;
        self.high_water = 0;
        self.free_head = NIL;
        self.nodes[NIL as usize] = Node { left: NIL, right: NIL, height: 0, val: T::EMPTY };
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn root(&self) -> Idx {
        self.root
    }

    pub(super) fn left(&self, i: Idx) -> Idx {
        self.nodes[i as usize].left
    }

    pub(super) fn right(&self, i: Idx) -> Idx {
        self.nodes[i as usize].right
    }

    /// The item in slot `i` (the sentinel's `EMPTY` for `NIL`).
    pub(super) fn get(&self, i: Idx) -> &T {
        &self.nodes[i as usize].val
    }

    /// Mutable access to a stored item. Changing its key (without breaking the order) or the
    /// data its summary depends on must be followed by `refresh(new key)`.
    pub(super) fn get_mut(&mut self, i: Idx) -> &mut T {
        debug_assert!(i != NIL, "the sentinel is read-only");
        &mut self.nodes[i as usize].val
    }

    fn height(&self, i: Idx) -> u8 {
        self.nodes[i as usize].height
    }

    fn alloc_slot(&mut self) -> Option<Idx> {
        if self.free_head != NIL {
            let i = self.free_head;
            self.free_head = self.nodes[i as usize].left;
            return Some(i);
        }
        if (self.high_water as usize) + 1 < N {
            self.high_water += 1;
            return Some(self.high_water);
        }
        None
    }

    fn free_slot(&mut self, i: Idx) {
        self.nodes[i as usize] =
            Node { left: self.free_head, right: NIL, height: 0, val: T::EMPTY };
        self.free_head = i;
    }

    /// Recomputes `i`'s height and summary from its children; returns whether either changed.
    fn fix(&mut self, i: Idx) -> bool {
        let Node { left, right, .. } = self.nodes[i as usize];
        let height = 1 + self.height(left).max(self.height(right));
        let l = self.nodes[left as usize].val.summary();
        let r = self.nodes[right as usize].val.summary();
        let node = &mut self.nodes[i as usize];
        let before = (node.height, node.val.summary());
        node.height = height;
        node.val.pull(l, r);
        before != (node.height, node.val.summary())
    }

    fn rotate_right(&mut self, i: Idx) -> Idx {
        let l = self.left(i);
        self.nodes[i as usize].left = self.right(l);
        self.nodes[l as usize].right = i;
        self.fix(i);
        self.fix(l);
        l
    }

    fn rotate_left(&mut self, i: Idx) -> Idx {
        let r = self.right(i);
        self.nodes[i as usize].right = self.left(r);
        self.nodes[r as usize].left = i;
        self.fix(i);
        self.fix(r);
        r
    }

    /// Fixes `i` and restores the AVL balance at it; returns the subtree's new root.
    fn balance(&mut self, i: Idx) -> Idx {
        self.fix(i);
        let (l, r) = (self.left(i), self.right(i));
        let (hl, hr) = (self.height(l), self.height(r));
        if hl > hr + 1 {
            if self.height(self.left(l)) < self.height(self.right(l)) {
                let nl = self.rotate_left(l);
                self.nodes[i as usize].left = nl;
            }
            self.rotate_right(i)
        } else if hr > hl + 1 {
            if self.height(self.right(r)) < self.height(self.left(r)) {
                let nr = self.rotate_right(r);
                self.nodes[i as usize].right = nr;
            }
            self.rotate_left(i)
        } else {
            i
        }
    }

    /// Inserts `val`; returns its slot, or `None` when the arena is full. Keys must be unique.
    pub(super) fn insert(&mut self, val: T) -> Option<Idx> {
        let i = self.alloc_slot()?;
        self.nodes[i as usize] = Node { left: NIL, right: NIL, height: 1, val };
        self.fix(i);
        self.root = self.insert_at(self.root, i, val.key());
        self.len += 1;
        Some(i)
    }

    fn insert_at(&mut self, t: Idx, new: Idx, key: u32) -> Idx {
        if t == NIL {
            return new;
        }
        if key < self.get(t).key() {
            let l = self.insert_at(self.left(t), new, key);
            self.nodes[t as usize].left = l;
        } else {
            let r = self.insert_at(self.right(t), new, key);
            self.nodes[t as usize].right = r;
        }
        self.balance(t)
    }

    /// Removes the item with `key`, returning it.
    pub(super) fn remove(&mut self, key: u32) -> Option<T> {
        let mut found = NIL;
        self.root = self.remove_at(self.root, key, &mut found);
        if found == NIL {
            return None;
        }
        let val = *self.get(found);
        self.free_slot(found);
        self.len -= 1;
        Some(val)
    }

    fn remove_at(&mut self, t: Idx, key: u32, found: &mut Idx) -> Idx {
        if t == NIL {
            return NIL;
        }
        let k = self.get(t).key();
        if key < k {
            let l = self.remove_at(self.left(t), key, found);
            self.nodes[t as usize].left = l;
            return self.balance(t);
        }
        if key > k {
            let r = self.remove_at(self.right(t), key, found);
            self.nodes[t as usize].right = r;
            return self.balance(t);
        }
        *found = t;
        let (l, r) = (self.left(t), self.right(t));
        if l == NIL {
            return r;
        }
        if r == NIL {
            return l;
        }
        // Two children: the in-order successor takes this node's place (relinked, not copied,
        // so slot numbers stay attached to their items).
        let mut succ = NIL;
        let r = self.remove_min(r, &mut succ);
        self.nodes[succ as usize].left = l;
        self.nodes[succ as usize].right = r;
        self.balance(succ)
    }

    fn remove_min(&mut self, t: Idx, min: &mut Idx) -> Idx {
        let l = self.left(t);
        if l == NIL {
            *min = t;
            return self.right(t);
        }
        let l = self.remove_min(l, min);
        self.nodes[t as usize].left = l;
        self.balance(t)
    }

    /// The slot holding exactly `key`, or `NIL`.
    pub(super) fn find(&self, key: u32) -> Idx {
        let i = self.floor(key);
        if i != NIL && self.get(i).key() == key {
            i
        } else {
            NIL
        }
    }

    /// The item with the largest key `<= key`, or `NIL`.
    pub(super) fn floor(&self, key: u32) -> Idx {
        let (mut t, mut best) = (self.root, NIL);
        while t != NIL {
            let k = self.get(t).key();
            if k == key {
                return t;
            }
            if k < key {
                best = t;
                t = self.right(t);
            } else {
                t = self.left(t);
            }
        }
        best
    }

    /// The item with the smallest key `>= key`, or `NIL`.
    pub(super) fn ceil(&self, key: u32) -> Idx {
        let (mut t, mut best) = (self.root, NIL);
        while t != NIL {
            let k = self.get(t).key();
            if k == key {
                return t;
            }
            if k > key {
                best = t;
                t = self.left(t);
            } else {
                t = self.right(t);
            }
        }
        best
    }

    /// Recomputes the summaries on the path from the root to `key` (after `get_mut` changed
    /// the node with that key, or its key to this one), stopping at the first ancestor whose
    /// summary comes out unchanged, as Linux's augmented-rbtree propagation does.
    pub(super) fn refresh(&mut self, key: u32) {
        let mut path = [NIL; MAX_HEIGHT];
        let (mut n, mut t) = (0, self.root);
        while t != NIL && n < MAX_HEIGHT {
            path[n] = t;
            n += 1;
            let k = self.get(t).key();
            if k == key {
                break;
            }
            t = if key < k { self.left(t) } else { self.right(t) };
        }
        for &i in path[..n].iter().rev() {
            if !self.fix(i) {
                break;
            }
        }
    }

    /// Slots in key order.
    pub(super) fn iter(&self) -> InOrder<'_, T, N> {
        let mut it = InOrder { tree: self, stack: [NIL; MAX_HEIGHT], depth: 0 };
        it.push_left(self.root);
        it
    }

    /// Checks the AVL shape, the order, the stored heights and summaries (tests only).
    #[cfg(test)]
    pub(super) fn check(&self) -> Result<(), String>
    where
        T: PartialEq + core::fmt::Debug,
    {
        fn walk<T: Item + PartialEq + core::fmt::Debug, const N: usize>(
            t: &Tree<T, N>,
            i: Idx,
            lo: Option<u32>,
            hi: Option<u32>,
            count: &mut usize,
        ) -> Result<u8, String> {
            if i == NIL {
                return Ok(0);
            }
            *count += 1;
            let k = t.get(i).key();
            if lo.is_some_and(|lo| k <= lo) || hi.is_some_and(|hi| k >= hi) {
                return Err(format!("key {k} out of order"));
            }
            let hl = walk(t, t.left(i), lo, Some(k), count)?;
            let hr = walk(t, t.right(i), Some(k), hi, count)?;
            if hl.abs_diff(hr) > 1 {
                return Err(format!("unbalanced at key {k}: {hl} vs {hr}"));
            }
            let h = 1 + hl.max(hr);
            if t.height(i) != h {
                return Err(format!("stale height at key {k}"));
            }
            let mut v = *t.get(i);
            v.pull(t.get(t.left(i)).summary(), t.get(t.right(i)).summary());
            if v != *t.get(i) {
                return Err(format!("stale summary at key {k}: {:?}", t.get(i)));
            }
            Ok(h)
        }
        let mut count = 0;
        walk(self, self.root, None, None, &mut count)?;
        if count != self.len {
            return Err(format!("len {} but {count} nodes reachable", self.len));
        }
        if self.nodes[NIL as usize].height != 0 {
            return Err("sentinel was written".into());
        }
        Ok(())
    }
}

/// In-order walk with an explicit stack (no recursion, no heap).
pub(super) struct InOrder<'a, T, const N: usize> {
    tree: &'a Tree<T, N>,
    stack: [Idx; MAX_HEIGHT],
    depth: usize,
}

impl<T: Item, const N: usize> InOrder<'_, T, N> {
    fn push_left(&mut self, mut i: Idx) {
        while i != NIL && self.depth < MAX_HEIGHT {
            self.stack[self.depth] = i;
            self.depth += 1;
            i = self.tree.left(i);
        }
    }
}

impl<T: Item, const N: usize> Iterator for InOrder<'_, T, N> {
    type Item = Idx;

    fn next(&mut self) -> Option<Idx> {
        if self.depth == 0 {
            return None;
        }
        self.depth -= 1;
        let i = self.stack[self.depth];
        self.push_left(self.tree.right(i));
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys with a subtree sum, to check the summaries follow rotations.
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Sum {
        key: u32,
        sum: u64,
    }

    impl Item for Sum {
        type Summary = u64;
        const EMPTY: Self = Sum { key: 0, sum: 0 };
        fn key(&self) -> u32 {
            self.key
        }
        fn summary(&self) -> u64 {
            self.sum
        }
        fn pull(&mut self, l: u64, r: u64) {
            self.sum = self.key as u64 + l + r;
        }
    }

    fn item(key: u32) -> Sum {
        Sum { key, sum: key as u64 }
    }

    #[test]
    fn fills_to_capacity_and_stays_balanced() {
        let mut t: Tree<Sum, 65> = Tree::new();
        for k in 0..64u32 {
            assert!(t.insert(item(k * 7 % 64 + 1)).is_some());
            t.check().unwrap();
        }
        assert_eq!(t.len(), 64);
        assert!(t.insert(item(1000)).is_none());
        assert_eq!(t.get(t.root()).sum, (1..=64).sum::<u64>());
        let keys: Vec<u32> = t.iter().map(|i| t.get(i).key).collect();
        assert_eq!(keys, (1..=64).collect::<Vec<_>>());
        for k in (1..=64).step_by(3) {
            assert_eq!(t.remove(k).map(|v| v.key), Some(k));
            t.check().unwrap();
        }
        assert_eq!(t.remove(1), None);
        // Freed slots are reused.
        for k in (1..=64).step_by(3) {
            assert!(t.insert(item(k)).is_some());
        }
        assert_eq!(t.len(), 64);
        t.check().unwrap();
    }

    #[test]
    fn floor_ceil_find() {
        let mut t: Tree<Sum, 16> = Tree::new();
        for k in [10, 20, 30] {
            t.insert(item(k));
        }
        assert_eq!(t.get(t.floor(25)).key, 20);
        assert_eq!(t.floor(5), NIL);
        assert_eq!(t.get(t.ceil(25)).key, 30);
        assert_eq!(t.ceil(31), NIL);
        assert_eq!(t.get(t.find(20)).key, 20);
        assert_eq!(t.find(21), NIL);
    }

    #[test]
    fn slots_survive_rebalancing() {
        let mut t: Tree<Sum, 128> = Tree::new();
        let slots: Vec<(u32, Idx)> = (0..100).map(|k| (k, t.insert(item(k)).unwrap())).collect();
        for k in (0..100).filter(|k| k % 2 == 0) {
            t.remove(k);
        }
        for &(k, i) in slots.iter().filter(|(k, _)| k % 2 == 1) {
            assert_eq!(t.get(i).key, k);
        }
        t.check().unwrap();
    }

    #[test]
    fn refresh_after_key_change() {
        let mut t: Tree<Sum, 16> = Tree::new();
        for k in [10, 20, 30, 40] {
            t.insert(item(k));
        }
        let i = t.find(20);
        t.get_mut(i).key = 25;
        t.refresh(25);
        t.check().unwrap();
        assert_eq!(t.get(t.root()).sum, 10 + 25 + 30 + 40);
    }
}
