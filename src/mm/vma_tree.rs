//! The VMA index of an address space, doing the maple tree's job in Linux 6.1: the VMAs
//! ordered by range (they never overlap, so one order serves starts and ends), `find_vma`
//! (the first VMA ending above an address) in one descent, each VMA's neighbours in O(1), a
//! VMA's start or end moved in place (a merge or a split at one end re-keys nothing), and the
//! free gaps between the VMAs tracked in the same tree for `get_unmapped_area`'s top-down
//! and bottom-up searches (6.1's `mas_empty_area_rev` / `mas_empty_area`).
//!
//! A treap whose nodes live in one vector and link by index (freed nodes are reused, so a
//! tree at its working size allocates nothing; `munmap` gives them back once most are free). Each node holds its VMA, links to its
//! address-order neighbours, and three values for its subtree: the claimed start of its first
//! VMA (`vm_start_gap`: a stack's guard gap counts as taken), the end of its last VMA, and the
//! longest gap between two of its VMAs. A gap search skips every subtree whose gaps are all
//! too short, as the maple tree skips a node by its gap slots. Changing a VMA's range fixes
//! those values from its node to the root, stopping where nothing changed.
use super::mm_types::{vm_start_gap, Vma};
use alloc::vec::Vec;

/// No node (the end of a link, or an empty free list).
const NIL: u32 = u32::MAX;

/// A VMA's place in a [`VmaTree`]: stable while the VMA stays in the tree, whatever its range
/// becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmaId(u32);

/// The tree: see the module comment.
#[derive(Debug)]
pub struct VmaTree {
    nodes: Vec<Node>,
    root: u32,
    /// The lowest VMA (the start of the address-order list).
    first: u32,
    /// The highest VMA.
    last: u32,
    /// The first free node; free nodes chain through `next`.
    free: u32,
    len: usize,
    /// Counter the priorities are drawn from (a fixed sequence: no random source needed).
    seq: u32,
}

#[derive(Clone, Debug)]
struct Node {
    vma: Vma,
    prio: u32,
    parent: u32,
    left: u32,
    right: u32,
    /// Address-order neighbours.
    prev: u32,
    next: u32,
    /// `vm_start_gap` of the node's own VMA, kept so that the fix-ups and gap searches do not
    /// test its flags at every step.
    claim: usize,
    /// `vm_start_gap` of the subtree's first VMA.
    min_claim: usize,
    /// `vm_end` of the subtree's last VMA.
    max_end: usize,
    /// The longest gap between two consecutive VMAs of the subtree.
    max_gap: usize,
}

/// A gap search: `length` bytes within `[low, high)`.
#[derive(Clone, Copy)]
struct GapQuery {
    length: usize,
    low: usize,
    high: usize,
}

impl GapQuery {
    /// The gap `[lo, hi)` clipped to the query's limits: the highest (`topdown`) or lowest
    /// start of `length` bytes in it.
    fn fit(&self, lo: usize, hi: usize, topdown: bool) -> Option<usize> {
        let lo = lo.max(self.low);
        let hi = hi.min(self.high);
        if hi <= lo || hi - lo < self.length {
            return None;
        }
        Some(if topdown { hi - self.length } else { lo })
    }
}

/// A fixed pseudo-random priority per insertion (splitmix64 of a counter): the treap stays
/// balanced for any address pattern.
fn prio_of(seq: u32) -> u32 {
    let mut z = u64::from(seq).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

impl Clone for VmaTree {
    /// `dup_mmap`'s copy: the nodes as they are, or, when many are free (a process that
    /// unmapped many VMAs and was not [`VmaTree::shrink`]ed since), only the live ones,
    /// renumbered with their shape kept, so that a fork copies what the parent maps now and
    /// not what it once did.
    fn clone(&self) -> Self {
        if self.sparse() {
            return self.renumbered();
        }
        VmaTree { nodes: self.nodes.clone(), ..*self }
    }
}

/// Free nodes a clone copies along, and a shrink leaves, rather than renumbering the live
/// ones.
const FREE_SLACK: usize = 8;

impl Default for VmaTree {
    fn default() -> Self {
        VmaTree { nodes: Vec::new(), root: NIL, first: NIL, last: NIL, free: NIL, len: 0, seq: 0 }
    }
}

impl VmaTree {
    fn node(&self, t: u32) -> &Node {
        &self.nodes[t as usize]
    }

    fn node_mut(&mut self, t: u32) -> &mut Node {
        &mut self.nodes[t as usize]
    }

    fn id(t: u32) -> Option<VmaId> {
        (t != NIL).then_some(VmaId(t))
    }

    /// VMAs held (`mm->map_count`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// No VMA.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The VMA at `id`.
    pub fn get(&self, id: VmaId) -> &Vma {
        &self.node(id.0).vma
    }

    /// The VMA at `id` for a change that keeps its range and its `VM_GROWSDOWN` bit (flags,
    /// anon_vma, offset); [`Self::modify`] for the others.
    pub fn get_mut(&mut self, id: VmaId) -> &mut Vma {
        &mut self.node_mut(id.0).vma
    }

    /// Changes the VMA at `id` in place, its range included (it must stay between its
    /// neighbours): the subtree values are fixed up to where they stop changing.
    pub fn modify<R>(&mut self, id: VmaId, f: impl FnOnce(&mut Vma) -> R) -> R {
        let n = self.node_mut(id.0);
        let r = f(&mut n.vma);
        n.claim = vm_start_gap(&n.vma);
        debug_assert!(self.in_order(id.0), "modify moved a VMA past a neighbour");
        self.fix_up(id.0);
        r
    }

    /// Whether node `t` still lies between its neighbours (for the debug checks).
    fn in_order(&self, t: u32) -> bool {
        let n = self.node(t);
        n.vma.vm_start < n.vma.vm_end
            && (n.prev == NIL || self.node(n.prev).vma.vm_end <= n.vma.vm_start)
            && (n.next == NIL || n.vma.vm_end <= self.node(n.next).vma.vm_start)
    }

    /// The VMA before `id` in address order.
    pub fn prev(&self, id: VmaId) -> Option<VmaId> {
        Self::id(self.node(id.0).prev)
    }

    /// The VMA after `id` in address order.
    pub fn next(&self, id: VmaId) -> Option<VmaId> {
        Self::id(self.node(id.0).next)
    }

    /// The lowest VMA.
    pub fn first(&self) -> Option<VmaId> {
        Self::id(self.first)
    }

    /// The highest VMA.
    pub fn last(&self) -> Option<VmaId> {
        Self::id(self.last)
    }

    /// `find_vma()`: the first VMA with `vm_end > addr`.
    pub fn find(&self, addr: usize) -> Option<VmaId> {
        let mut t = self.root;
        let mut best = NIL;
        while t != NIL {
            let n = self.node(t);
            if n.vma.vm_end > addr {
                best = t;
                t = n.left;
            } else {
                t = n.right;
            }
        }
        Self::id(best)
    }

    /// The last VMA starting below `addr`.
    pub fn last_below(&self, addr: usize) -> Option<VmaId> {
        let mut t = self.root;
        let mut best = NIL;
        while t != NIL {
            let n = self.node(t);
            if n.vma.vm_start < addr {
                best = t;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        Self::id(best)
    }

    /// The first VMA starting at or above `addr`.
    pub fn first_from(&self, addr: usize) -> Option<VmaId> {
        let mut t = self.root;
        let mut best = NIL;
        while t != NIL {
            let n = self.node(t);
            if n.vma.vm_start >= addr {
                best = t;
                t = n.left;
            } else {
                t = n.right;
            }
        }
        Self::id(best)
    }

    /// The VMA starting exactly at `start`.
    pub fn at(&self, start: usize) -> Option<VmaId> {
        self.find(start).filter(|&id| self.get(id).vm_start == start)
    }

    /// Every VMA in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> + '_ {
        let mut t = self.first;
        core::iter::from_fn(move || {
            let n = self.nodes.get(t as usize)?;
            t = n.next;
            Some(&n.vma)
        })
    }

    /// Calls `f` on every VMA in address order, for changes that keep the range (as
    /// [`Self::get_mut`]).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut Vma)) {
        let mut t = self.first;
        while t != NIL {
            let n = self.node_mut(t);
            f(&mut n.vma);
            t = n.next;
        }
    }

    /// `t`'s subtree values as its VMA and its children's give them.
    fn values(&self, t: u32) -> (usize, usize, usize) {
        let n = self.node(t);
        let (l, r) = (n.left, n.right);
        let claim = n.claim;
        let end = n.vma.vm_end;
        let (mut min_claim, mut max_end, mut max_gap) = (claim, end, 0);
        if l != NIL {
            let c = self.node(l);
            min_claim = c.min_claim;
            max_gap = c.max_gap.max(claim.saturating_sub(c.max_end));
        }
        if r != NIL {
            let c = self.node(r);
            max_end = c.max_end;
            max_gap = max_gap.max(c.max_gap).max(c.min_claim.saturating_sub(end));
        }
        (min_claim, max_end, max_gap)
    }

    /// Recomputes `t`'s subtree values; whether they changed.
    fn fix(&mut self, t: u32) -> bool {
        let v = self.values(t);
        let n = self.node_mut(t);
        let changed = (n.min_claim, n.max_end, n.max_gap) != v;
        (n.min_claim, n.max_end, n.max_gap) = v;
        changed
    }

    /// Fixes `t` and its ancestors, stopping at the first whose values stay.
    fn fix_up(&mut self, mut t: u32) {
        while t != NIL && self.fix(t) {
            t = self.node(t).parent;
        }
    }

    /// Points `parent`'s link that held `old` (the root when `parent` is NIL) at `new`.
    fn replace_child(&mut self, parent: u32, old: u32, new: u32) {
        if parent == NIL {
            self.root = new;
        } else if self.node(parent).left == old {
            self.node_mut(parent).left = new;
        } else {
            self.node_mut(parent).right = new;
        }
        if new != NIL {
            self.node_mut(new).parent = parent;
        }
    }

    /// Rotates `x` above its parent; the parent's values are fixed, `x`'s are left to the
    /// caller (a node rotated up several times is fixed once, at the end).
    fn rotate_up(&mut self, x: u32) {
        let p = self.node(x).parent;
        let g = self.node(p).parent;
        if self.node(p).left == x {
            let b = self.node(x).right;
            self.node_mut(p).left = b;
            if b != NIL {
                self.node_mut(b).parent = p;
            }
            self.node_mut(x).right = p;
        } else {
            let b = self.node(x).left;
            self.node_mut(p).right = b;
            if b != NIL {
                self.node_mut(b).parent = p;
            }
            self.node_mut(x).left = p;
        }
        self.node_mut(p).parent = x;
        self.replace_child(g, p, x);
        self.fix(p);
    }

    /// Adds `vma`, which overlaps none of the tree's VMAs.
    pub fn insert(&mut self, vma: Vma) -> VmaId {
        let (start, end) = (vma.vm_start, vma.vm_end);
        // Down to the leaf position; the last turn right passed the previous VMA, the last
        // turn left the next.
        let (mut parent, mut t, mut go_left) = (NIL, self.root, false);
        let (mut prev, mut next) = (NIL, NIL);
        while t != NIL {
            parent = t;
            let n = self.node(t);
            if start < n.vma.vm_start {
                debug_assert!(end <= n.vma.vm_start, "VMA {start:#x}-{end:#x} overlaps");
                next = t;
                go_left = true;
                t = n.left;
            } else {
                debug_assert!(n.vma.vm_end <= start, "VMA {start:#x}-{end:#x} overlaps");
                prev = t;
                go_left = false;
                t = n.right;
            }
        }
        self.seq = self.seq.wrapping_add(1);
        let claim = vm_start_gap(&vma);
        let node = Node {
            vma,
            prio: prio_of(self.seq),
            parent,
            left: NIL,
            right: NIL,
            prev,
            next,
            claim,
            min_claim: claim,
            max_end: end,
            max_gap: 0,
        };
        let x = if self.free != NIL {
            let x = self.free;
            self.free = self.node(x).next;
            *self.node_mut(x) = node;
            x
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        if parent == NIL {
            self.root = x;
        } else if go_left {
            self.node_mut(parent).left = x;
        } else {
            self.node_mut(parent).right = x;
        }
        if prev == NIL {
            self.first = x;
        } else {
            self.node_mut(prev).next = x;
        }
        if next == NIL {
            self.last = x;
        } else {
            self.node_mut(next).prev = x;
        }
        self.len += 1;
        // Up to where the priority puts it, then the values above.
        let prio = self.node(x).prio;
        let mut rotated = false;
        while self.node(x).parent != NIL && self.node(self.node(x).parent).prio < prio {
            self.rotate_up(x);
            rotated = true;
        }
        if rotated {
            self.fix(x);
        }
        let p = self.node(x).parent;
        self.fix_up(p);
        VmaId(x)
    }

    /// Takes the VMA at `id` out of the tree.
    pub fn remove(&mut self, id: VmaId) -> Vma {
        let x = id.0;
        let (l, r, p) = (self.node(x).left, self.node(x).right, self.node(x).parent);
        let (prev, next) = (self.node(x).prev, self.node(x).next);
        if l == NIL || r == NIL {
            // At most one child: it takes the node's place.
            self.replace_child(p, x, if l == NIL { r } else { l });
            self.fix_up(p);
        } else {
            self.replace_by_successor(x, next);
        }
        if prev == NIL {
            self.first = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.last = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        self.len -= 1;
        let free = self.free;
        self.free = x;
        let n = self.node_mut(x);
        n.next = free;
        n.parent = NIL;
        n.left = NIL;
        n.right = NIL;
        // The node keeps a copy until reused; the file reference goes to the caller.
        let file = n.vma.vm_file.take();
        Vma { vm_file: file, ..n.vma.clone() }
    }

    /// Takes node `x`, which has two children, out of the tree by putting its in-order
    /// successor `s` (its `next`, the lowest node of its right subtree, without a left child)
    /// in its place with its priority, so the heap order holds: one path of fix-ups, from
    /// where `s` was up to the root, instead of rotating `x` down to a leaf (two fix-ups per
    /// rotation).
    fn replace_by_successor(&mut self, x: u32, s: u32) {
        let (l, r, p, prio) = {
            let n = self.node(x);
            (n.left, n.right, n.parent, n.prio)
        };
        let sp = self.node(s).parent;
        if sp != x {
            // `s` is its parent's left child: its right subtree takes its place.
            let sr = self.node(s).right;
            self.node_mut(sp).left = sr;
            if sr != NIL {
                self.node_mut(sr).parent = sp;
            }
            self.node_mut(s).right = r;
            self.node_mut(r).parent = s;
        }
        self.node_mut(s).left = l;
        self.node_mut(l).parent = s;
        self.node_mut(s).prio = prio;
        self.replace_child(p, x, s);
        // Every node from where `s` was up to `s` lost `s` from its subtree; above `s`, the
        // values change only as far as they do.
        let mut t = if sp == x { s } else { sp };
        while t != s {
            self.fix(t);
            t = self.node(t).parent;
        }
        self.fix(s);
        self.fix_up(p);
    }

    /// The highest start of `length` free bytes within `[low, high)` (`unmapped_area_topdown`);
    /// the gaps run from 0 to the first VMA's claim, between the VMAs, and from the last VMA's
    /// end to `top`.
    pub fn gap_topdown(&self, length: usize, low: usize, high: usize, top: usize) -> Option<usize> {
        let q = GapQuery { length, low, high };
        if self.root == NIL {
            return q.fit(0, top, true);
        }
        self.may_fit(self.root, 0, top, &q).then(|| self.topdown(self.root, 0, top, &q))?
    }

    /// The lowest start of `length` free bytes within `[low, high)` (`unmapped_area`).
    pub fn gap_bottomup(
        &self,
        length: usize,
        low: usize,
        high: usize,
        top: usize,
    ) -> Option<usize> {
        let q = GapQuery { length, low, high };
        if self.root == NIL {
            return q.fit(0, top, false);
        }
        self.may_fit(self.root, 0, top, &q).then(|| self.bottomup(self.root, 0, top, &q))?
    }

    /// Whether subtree `t`, whose VMAs lie between `lo` (the end of the VMA before them) and
    /// `hi` (the claim of the one after), may hold a gap for `q`: its gaps are `[lo, first
    /// claim)`, those between its VMAs and `[last end, hi)`. Each starts at `lo` or a VMA's
    /// end and ends at `hi` or below a VMA's end (a stack's guard gap may reach below the VMAs
    /// before it: its claim bounds only the gap just below it). So no gap of the subtree fits
    /// when `lo` lies less than `length` below the query's top, or the subtree's highest end
    /// less than `length` above its bottom: a top-down search does not enter the subtrees
    /// after the VMAs just below its limit (where the gap up to the stack, longer than any,
    /// would lure it in), as `unmapped_area_topdown` skips a node whose gap starts above
    /// `high_limit`.
    ///
    /// The gaps at the two ends are known exactly and are clipped to the query's limits as
    /// [`GapQuery::fit`] clips them: the gap from the top VMA of the mmap area up to the stack
    /// lies above a top-down search's limit and sends it into no subtree.
    fn may_fit(&self, t: u32, lo: usize, hi: usize, q: &GapQuery) -> bool {
        let n = self.node(t);
        let clipped = |lo: usize, hi: usize| hi.min(q.high).saturating_sub(lo.max(q.low));
        lo.saturating_add(q.length) <= q.high
            && hi.max(n.max_end) >= q.low.saturating_add(q.length)
            && (n.max_gap >= q.length
                || clipped(lo, n.min_claim) >= q.length
                || clipped(n.max_end, hi) >= q.length)
    }

    /// The top-down search in subtree `t` (which [`Self::may_fit`]): the right side first,
    /// each child tried only when it may fit; down the left side by a loop.
    fn topdown(&self, mut t: u32, lo: usize, mut hi: usize, q: &GapQuery) -> Option<usize> {
        loop {
            let n = self.node(t);
            let end = n.vma.vm_end;
            let found = if n.right == NIL {
                q.fit(end, hi, true)
            } else if self.may_fit(n.right, end, hi, q) {
                self.topdown(n.right, end, hi, q)
            } else {
                None
            };
            if found.is_some() {
                return found;
            }
            let claim = n.claim;
            if n.left == NIL {
                return q.fit(lo, claim, true);
            }
            if !self.may_fit(n.left, lo, claim, q) {
                return None;
            }
            (t, hi) = (n.left, claim);
        }
    }

    /// The bottom-up search in subtree `t` (which [`Self::may_fit`]): the left side first,
    /// down the right side by a loop.
    fn bottomup(&self, mut t: u32, mut lo: usize, hi: usize, q: &GapQuery) -> Option<usize> {
        loop {
            let n = self.node(t);
            let claim = n.claim;
            let found = if n.left == NIL {
                q.fit(lo, claim, false)
            } else if self.may_fit(n.left, lo, claim, q) {
                self.bottomup(n.left, lo, claim, q)
            } else {
                None
            };
            if found.is_some() {
                return found;
            }
            let end = n.vma.vm_end;
            if n.right == NIL {
                return q.fit(end, hi, false);
            }
            if !self.may_fit(n.right, end, hi, q) {
                return None;
            }
            (t, lo) = (n.right, end);
        }
    }

    /// Every non-empty gap in address order, from 0 to `top` (for checks and tests).
    pub fn gaps(&self, top: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut prev_end = 0;
        for v in self.iter() {
            let claim = vm_start_gap(v);
            if claim > prev_end {
                out.push((prev_end, claim));
            }
            prev_end = v.vm_end;
        }
        if top > prev_end {
            out.push((prev_end, top));
        }
        out
    }

    /// Nodes held, free ones included (the tree's working size).
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }

    /// Whether more than a quarter of the nodes (and [`FREE_SLACK`]) are free.
    fn sparse(&self) -> bool {
        self.nodes.len() - self.len > self.len / 4 + FREE_SLACK
    }

    /// Gives the free nodes back when more of them are free than live (a process that
    /// unmapped most of its VMAs), so that the nodes a process once needed are not held, nor
    /// renumbered by every fork, for the rest of its life. Renumbers the VMAs: no [`VmaId`]
    /// may be held across it (`munmap` calls it when done). Its cost, linear in the live
    /// VMAs, is paid once per halving, so a constant per removal.
    pub fn shrink(&mut self) {
        if self.nodes.len() - self.len > self.len + FREE_SLACK {
            *self = self.renumbered();
        }
    }

    /// A copy holding only the live nodes, numbered in address order, with the same shape,
    /// priorities and subtree values.
    fn renumbered(&self) -> Self {
        let mut new_index = alloc::vec![NIL; self.nodes.len()];
        let mut t = self.first;
        let mut i = 0;
        while t != NIL {
            new_index[t as usize] = i;
            i += 1;
            t = self.node(t).next;
        }
        let remap = |t: u32| if t == NIL { NIL } else { new_index[t as usize] };
        let mut nodes = Vec::with_capacity(self.len);
        let mut t = self.first;
        while t != NIL {
            let n = self.node(t);
            nodes.push(Node {
                vma: n.vma.clone(),
                parent: remap(n.parent),
                left: remap(n.left),
                right: remap(n.right),
                prev: remap(n.prev),
                next: remap(n.next),
                ..*n
            });
            t = n.next;
        }
        VmaTree {
            nodes,
            root: remap(self.root),
            first: remap(self.first),
            last: remap(self.last),
            free: NIL,
            len: self.len,
            seq: self.seq,
        }
    }

    /// Checks the links and subtree values against a recount; the first fault as text.
    pub fn check(&self) -> Result<(), alloc::string::String> {
        use alloc::format;
        let mut order = Vec::new();
        self.check_in(self.root, NIL, &mut order)?;
        let listed: Vec<u32> = {
            let mut v = Vec::new();
            let mut t = self.first;
            let mut prev = NIL;
            while t != NIL {
                if self.node(t).prev != prev {
                    return Err(format!("node {t}: prev link {} not {prev}", self.node(t).prev));
                }
                v.push(t);
                prev = t;
                t = self.node(t).next;
            }
            if self.last != prev {
                return Err(format!("last is {} not {prev}", self.last));
            }
            v
        };
        if order != listed || order.len() != self.len {
            return Err(format!("in-order {order:?}, list {listed:?}, len {}", self.len));
        }
        for w in order.windows(2) {
            if self.node(w[0]).vma.vm_end > self.node(w[1]).vma.vm_start {
                return Err(format!("nodes {} and {} overlap or are out of order", w[0], w[1]));
            }
        }
        Ok(())
    }

    fn check_in(
        &self,
        t: u32,
        parent: u32,
        order: &mut Vec<u32>,
    ) -> Result<(), alloc::string::String> {
        use alloc::format;
        if t == NIL {
            return Ok(());
        }
        let n = self.node(t);
        if n.parent != parent {
            return Err(format!("node {t}: parent {} not {parent}", n.parent));
        }
        if parent != NIL && self.node(parent).prio < n.prio {
            return Err(format!("node {t}: priority above its parent's"));
        }
        self.check_in(n.left, t, order)?;
        order.push(t);
        self.check_in(n.right, t, order)?;
        if n.claim != vm_start_gap(&n.vma) {
            return Err(format!("node {t}: stale claim"));
        }
        if (n.min_claim, n.max_end, n.max_gap) != self.values(t) {
            return Err(format!("node {t}: stale subtree values"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
