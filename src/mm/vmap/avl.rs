//! An AVL tree of heap nodes, keyed by a `usize` (a page number) and optionally augmented with a per-subtree
//! summary (Linux's augmented rbtree, with AVL balancing). The vmap trees use it: busy areas
//! and lazily freed ranges by address, and free blocks by address with their largest fits.
//!
//! Every node is its own allocation, made by the caller (so a failed allocation is the
//! caller's error to report, before anything changed) and handed over with `insert`; `remove`
//! hands it back with its links cleared, so a node can move from one tree to another without
//! a new allocation, as Linux moves a `vmap_area` between its busy, purge and free trees.
//! Nodes are relinked, never copied. Recursion depth is the tree height (at most 1.44 log2 n).
use alloc::boxed::Box;

/// A subtree: `None` is empty.
pub(super) type Link<T> = Option<Box<Node<T>>>;

/// Deepest path an iterator keeps: an AVL tree of n nodes is at most 1.44 log2(n + 2) high,
/// 47 for the 2^32 keys a 32-bit `usize` can name, 93 for 2^64.
const MAX_HEIGHT: usize = (usize::BITS as usize * 3).div_ceil(2) + 1;

/// What the tree stores: a key, and a summary of its subtree recomputed from the children's
/// whenever the subtree changes (augmented trees only).
pub(super) trait Item {
    /// What a subtree summary holds.
    type Summary: Copy + PartialEq;
    /// An empty subtree's summary (e.g. a zero maximum).
    const NONE: Self::Summary;
    /// Sort key; unique among the items in one tree.
    fn key(&self) -> usize;
    /// This node's subtree summary, as last stored.
    fn summary(&self) -> Self::Summary;
    /// The subtree summary from this node's own data and its children's summaries.
    fn compute(&self, left: Self::Summary, right: Self::Summary) -> Self::Summary;
    /// Stores a summary `compute` gave.
    fn set_summary(&mut self, s: Self::Summary);
}

/// One node: the item and its links.
pub(super) struct Node<T> {
    left: Link<T>,
    right: Link<T>,
    height: u8,
    pub(super) val: T,
}

impl<T> Node<T> {
    /// A detached node holding `val`, to be boxed and inserted.
    pub(super) const fn new(val: T) -> Self {
        Node { left: None, right: None, height: 1, val }
    }
}

fn height<T>(l: &Link<T>) -> u8 {
    l.as_ref().map_or(0, |n| n.height)
}

/// Why `verify` failed: the first broken invariant and the key it was found at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TreeError {
    pub(super) what: &'static str,
    pub(super) key: usize,
}

/// The tree. `augmented` trees keep every node's summary current; the others never pull.
pub(super) struct Tree<T> {
    root: Link<T>,
    len: usize,
    augmented: bool,
}

impl<T: Item> Tree<T> {
    pub(super) const fn new(augmented: bool) -> Self {
        Tree { root: None, len: 0, augmented }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root's summary (`Item::NONE` for an empty tree).
    pub(super) fn root_summary(&self) -> T::Summary {
        self.summary_of(&self.root)
    }

    fn summary_of(&self, l: &Link<T>) -> T::Summary {
        match l {
            Some(n) if self.augmented => n.val.summary(),
            _ => T::NONE,
        }
    }

    /// Recomputes `n`'s height and summary from its children.
    fn fix(&self, n: &mut Node<T>) {
        n.height = 1 + height(&n.left).max(height(&n.right));
        if self.augmented {
            let (l, r) = (self.summary_of(&n.left), self.summary_of(&n.right));
            let s = n.val.compute(l, r);
            n.val.set_summary(s);
        }
    }

    fn rotate_right(&self, mut n: Box<Node<T>>) -> Box<Node<T>> {
        let Some(mut l) = n.left.take() else { return n };
        n.left = l.right.take();
        self.fix(&mut n);
        l.right = Some(n);
        self.fix(&mut l);
        l
    }

    fn rotate_left(&self, mut n: Box<Node<T>>) -> Box<Node<T>> {
        let Some(mut r) = n.right.take() else { return n };
        n.right = r.left.take();
        self.fix(&mut n);
        r.left = Some(n);
        self.fix(&mut r);
        r
    }

    /// Fixes `n` and restores the AVL balance at it; returns the subtree's new root.
    fn balance(&self, mut n: Box<Node<T>>) -> Box<Node<T>> {
        self.fix(&mut n);
        let (hl, hr) = (height(&n.left), height(&n.right));
        if hl > hr + 1 {
            if let Some(l) = n.left.take() {
                let l = if height(&l.left) < height(&l.right) { self.rotate_left(l) } else { l };
                n.left = Some(l);
            }
            self.rotate_right(n)
        } else if hr > hl + 1 {
            if let Some(r) = n.right.take() {
                let r = if height(&r.right) < height(&r.left) { self.rotate_right(r) } else { r };
                n.right = Some(r);
            }
            self.rotate_left(n)
        } else {
            n
        }
    }

    /// Links in a detached node (from `Node::new` or `remove`). Keys must be unique.
    pub(super) fn insert(&mut self, mut node: Box<Node<T>>) {
        node.left = None;
        node.right = None;
        self.fix(&mut node);
        let key = node.val.key();
        let root = self.root.take();
        self.root = Some(self.insert_at(root, node, key));
        self.len += 1;
    }

    fn insert_at(&self, t: Link<T>, new: Box<Node<T>>, key: usize) -> Box<Node<T>> {
        let Some(mut t) = t else { return new };
        debug_assert!(key != t.val.key(), "duplicate key {key:#x}");
        if key < t.val.key() {
            t.left = Some(self.insert_at(t.left.take(), new, key));
        } else {
            t.right = Some(self.insert_at(t.right.take(), new, key));
        }
        self.balance(t)
    }

    /// Unlinks the node with `key` and hands it back (links cleared).
    pub(super) fn remove(&mut self, key: usize) -> Option<Box<Node<T>>> {
        let mut found = None;
        let root = self.root.take();
        self.root = self.remove_at(root, key, &mut found);
        if found.is_some() {
            self.len -= 1;
        }
        found
    }

    fn remove_at(&self, t: Link<T>, key: usize, found: &mut Option<Box<Node<T>>>) -> Link<T> {
        let mut t = t?;
        let k = t.val.key();
        if key < k {
            t.left = self.remove_at(t.left.take(), key, found);
            return Some(self.balance(t));
        }
        if key > k {
            t.right = self.remove_at(t.right.take(), key, found);
            return Some(self.balance(t));
        }
        let (l, r) = (t.left.take(), t.right.take());
        t.height = 1;
        *found = Some(t);
        match (l, r) {
            (None, r) => r,
            (l, None) => l,
            (l, Some(r)) => {
                // Two children: the in-order successor takes this node's place.
                let mut min = None;
                let r = self.remove_min(r, &mut min);
                let mut succ = min?;
                succ.left = l;
                succ.right = r;
                Some(self.balance(succ))
            }
        }
    }

    fn remove_min(&self, mut t: Box<Node<T>>, min: &mut Link<T>) -> Link<T> {
        match t.left.take() {
            None => {
                let r = t.right.take();
                *min = Some(t);
                r
            }
            Some(l) => {
                t.left = self.remove_min(l, min);
                Some(self.balance(t))
            }
        }
    }

    /// Unlinks and hands back the node with the smallest key.
    pub(super) fn pop_first(&mut self) -> Option<Box<Node<T>>> {
        let key = self.first()?.key();
        self.remove(key)
    }

    /// The item with exactly `key`.
    pub(super) fn get(&self, key: usize) -> Option<&T> {
        self.floor(key).filter(|v| v.key() == key)
    }

    /// Changes the item with `key` through `f` and recomputes the summaries on its path. `f`
    /// may change the key only within the gap between the neighbouring keys.
    pub(super) fn update<R>(&mut self, key: usize, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let root = self.root.as_deref_mut()?;
        Self::update_at(root, key, f, self.augmented)
    }

    fn update_at<R>(
        n: &mut Node<T>,
        key: usize,
        f: impl FnOnce(&mut T) -> R,
        aug: bool,
    ) -> Option<R> {
        let k = n.val.key();
        let r = if key == k {
            f(&mut n.val)
        } else {
            let child = if key < k { n.left.as_deref_mut() } else { n.right.as_deref_mut() };
            Self::update_at(child?, key, f, aug)?
        };
        if aug {
            let l = n.left.as_ref().map_or(T::NONE, |c| c.val.summary());
            let rr = n.right.as_ref().map_or(T::NONE, |c| c.val.summary());
            let s = n.val.compute(l, rr);
            n.val.set_summary(s);
        }
        Some(r)
    }

    /// The item with the largest key `<= key`.
    pub(super) fn floor(&self, key: usize) -> Option<&T> {
        let (mut t, mut best) = (self.root.as_deref(), None);
        while let Some(n) = t {
            let k = n.val.key();
            if k == key {
                return Some(&n.val);
            }
            if k < key {
                best = Some(&n.val);
                t = n.right.as_deref();
            } else {
                t = n.left.as_deref();
            }
        }
        best
    }

    /// The item with the smallest key `>= key`.
    pub(super) fn ceil(&self, key: usize) -> Option<&T> {
        let (mut t, mut best) = (self.root.as_deref(), None);
        while let Some(n) = t {
            let k = n.val.key();
            if k == key {
                return Some(&n.val);
            }
            if k > key {
                best = Some(&n.val);
                t = n.left.as_deref();
            } else {
                t = n.right.as_deref();
            }
        }
        best
    }

    pub(super) fn first(&self) -> Option<&T> {
        let mut t = self.root.as_deref()?;
        while let Some(l) = t.left.as_deref() {
            t = l;
        }
        Some(&t.val)
    }

    pub(super) fn last(&self) -> Option<&T> {
        let mut t = self.root.as_deref()?;
        while let Some(r) = t.right.as_deref() {
            t = r;
        }
        Some(&t.val)
    }

    /// The lowest item whose subtree summary and own data satisfy the callbacks: go left
    /// while the left subtree qualifies, else take this node if it does, else go right
    /// (Linux's `find_vmap_lowest_match`). Augmented trees only.
    pub(super) fn lowest_match(
        &self,
        subtree_fits: impl Fn(T::Summary) -> bool,
        own_fits: impl Fn(&T) -> bool,
    ) -> Option<&T> {
        let mut t = self.root.as_deref()?;
        if !subtree_fits(t.val.summary()) {
            return None;
        }
        loop {
            match t.left.as_deref() {
                Some(l) if subtree_fits(l.val.summary()) => t = l,
                _ if own_fits(&t.val) => return Some(&t.val),
                _ => t = t.right.as_deref()?,
            }
        }
    }

    /// Items in key order.
    pub(super) fn iter(&self) -> InOrder<'_, T> {
        let mut it = InOrder { stack: [None; MAX_HEIGHT], depth: 0 };
        it.push_left(self.root.as_deref());
        it
    }

    /// The first broken invariant: order, stored heights, AVL balance, summaries, length.
    pub(super) fn verify(&self) -> Result<(), TreeError> {
        let mut count = 0;
        self.verify_at(self.root.as_deref(), None, None, &mut count)?;
        if count != self.len {
            return Err(TreeError { what: "length differs from the nodes reachable", key: 0 });
        }
        Ok(())
    }

    fn verify_at(
        &self,
        n: Option<&Node<T>>,
        lo: Option<usize>,
        hi: Option<usize>,
        count: &mut usize,
    ) -> Result<u8, TreeError> {
        let Some(n) = n else { return Ok(0) };
        *count += 1;
        let key = n.val.key();
        let err = |what| TreeError { what, key };
        if lo.is_some_and(|lo| key <= lo) || hi.is_some_and(|hi| key >= hi) {
            return Err(err("key out of order"));
        }
        let hl = self.verify_at(n.left.as_deref(), lo, Some(key), count)?;
        let hr = self.verify_at(n.right.as_deref(), Some(key), hi, count)?;
        if hl.abs_diff(hr) > 1 {
            return Err(err("subtree out of AVL balance"));
        }
        if n.height != 1 + hl.max(hr) {
            return Err(err("stale height"));
        }
        if self.augmented {
            let want = n.val.compute(self.summary_of(&n.left), self.summary_of(&n.right));
            if want != n.val.summary() {
                return Err(err("stale subtree summary"));
            }
        }
        Ok(n.height)
    }
}

/// In-order walk with an explicit stack (no heap).
pub(super) struct InOrder<'a, T> {
    stack: [Option<&'a Node<T>>; MAX_HEIGHT],
    depth: usize,
}

impl<'a, T> InOrder<'a, T> {
    fn push_left(&mut self, mut n: Option<&'a Node<T>>) {
        while let Some(node) = n {
            if self.depth == MAX_HEIGHT {
                break;
            }
            self.stack[self.depth] = Some(node);
            self.depth += 1;
            n = node.left.as_deref();
        }
    }
}

impl<'a, T> Iterator for InOrder<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        if self.depth == 0 {
            return None;
        }
        self.depth -= 1;
        let n = self.stack[self.depth].take()?;
        self.push_left(n.right.as_deref());
        Some(&n.val)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys with a subtree sum, to check the summaries follow rotations.
    #[derive(Clone, Debug, PartialEq)]
    struct Sum {
        key: usize,
        sum: u64,
    }

    impl Item for Sum {
        type Summary = u64;
        const NONE: u64 = 0;

        fn key(&self) -> usize {
            self.key
        }
        fn summary(&self) -> u64 {
            self.sum
        }
        fn compute(&self, l: u64, r: u64) -> u64 {
            self.key as u64 + l + r
        }
        fn set_summary(&mut self, s: u64) {
            self.sum = s;
        }
    }

    fn node(key: usize) -> Box<Node<Sum>> {
        Box::new(Node::new(Sum { key, sum: 0 }))
    }

    #[test]
    fn stays_balanced_and_summed() {
        let mut t = Tree::new(true);
        for k in 0..1000usize {
            t.insert(node(k.wrapping_mul(7919) % 1000));
            assert_eq!(t.verify(), Ok(()));
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(t.root_summary(), (0..1000u64).sum());
        assert!(t.iter().map(|s| s.key).eq(0..1000));
        for k in (0..1000).step_by(3) {
            let n = t.remove(k).unwrap();
            assert_eq!(n.val.key, k);
            assert!(n.left.is_none() && n.right.is_none());
            assert_eq!(t.verify(), Ok(()));
        }
        assert_eq!(t.root_summary(), (0..1000u64).filter(|k| k % 3 != 0).sum());
        assert!(t.remove(3).is_none());
    }

    #[test]
    fn floor_ceil_get_first_last() {
        let mut t = Tree::new(false);
        for k in [10, 20, 30] {
            t.insert(node(k));
        }
        assert_eq!(t.floor(25).map(|s| s.key), Some(20));
        assert_eq!(t.floor(5).map(|s| s.key), None);
        assert_eq!(t.ceil(25).map(|s| s.key), Some(30));
        assert_eq!(t.ceil(31).map(|s| s.key), None);
        assert_eq!(t.get(20).map(|s| s.key), Some(20));
        assert!(t.get(21).is_none());
        assert_eq!((t.first().unwrap().key, t.last().unwrap().key), (10, 30));
        assert_eq!(t.pop_first().unwrap().val.key, 10);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn update_changes_key_in_its_gap_and_repulls() {
        let mut t = Tree::new(true);
        for k in [10, 20, 30, 40] {
            t.insert(node(k));
        }
        assert_eq!(t.update(20, |s| s.key = 25), Some(()));
        assert_eq!(t.verify(), Ok(()));
        assert_eq!(t.root_summary(), 10 + 25 + 30 + 40);
        assert_eq!(t.update(21, |_| ()), None);
    }

    #[test]
    fn nodes_move_between_trees() {
        let (mut a, mut b) = (Tree::new(false), Tree::new(true));
        for k in 0..10 {
            a.insert(node(k));
        }
        while let Some(n) = a.pop_first() {
            b.insert(n);
        }
        assert!(a.is_empty());
        assert_eq!(b.verify(), Ok(()));
        assert_eq!(b.root_summary(), 45);
    }

    #[test]
    fn lowest_match_descends_once() {
        let mut t = Tree::new(true);
        for k in [5, 1, 9, 3, 7] {
            t.insert(node(k));
        }
        // Every subtree qualifies: the leftmost node that does itself.
        let m = t.lowest_match(|s| s > 0, |v| v.key >= 1);
        assert_eq!(m.map(|s| s.key), Some(1));
        assert!(t.lowest_match(|s| s >= 100, |_| true).is_none());
    }

    #[test]
    fn verify_catches_a_stale_summary() {
        let mut t = Tree::new(true);
        for k in [1, 2, 3] {
            t.insert(node(k));
        }
        t.root.as_mut().unwrap().val.sum += 1;
        assert_eq!(t.verify().unwrap_err().what, "stale subtree summary");
    }
}
