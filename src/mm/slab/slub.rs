//! SLUB's allocation and free paths (`mm/slub.c`) for one CPU and one node: the CPU freelist
//! fast paths (`slab_alloc`, `do_slab_free`), `___slab_alloc` (CPU slab, CPU partial list,
//! node partial list, new slab), `__slab_free` (freeze a full slab onto the CPU partial list,
//! discard an empty one beyond `min_partial`), `deactivate_slab`, `__unfreeze_partials` and
//! `__kmem_cache_shrink`. Free objects hold the address of the next one at `s->offset`.
use super::cache::KmemCache;
use super::slabmap::{SlabDesc, LIST_CPU_PARTIAL, LIST_CPU_SLAB, LIST_NONE, LIST_PARTIAL, NIL};
use super::{PageSource, Slab, SlabError, PAGE_MASK, PAGE_SHIFT};

/// `SHRINK_PROMOTE_MAX`: slabs with up to this many free objects are sorted by shrink.
const SHRINK_PROMOTE_MAX: usize = 32;

/// `get_freepointer()`: the free pointer stored in the free object at `obj`.
///
/// # Safety
/// `obj` is a free object of a live slab of `c` (its free pointer word is inside the slab).
#[inline(always)]
unsafe fn get_freepointer(c: &KmemCache, obj: usize) -> usize {
    // SAFETY: per the contract; `offset` is word aligned and inside the object.
    unsafe { ((obj + c.offset) as *const usize).read() }
}

/// `set_freepointer()`.
///
/// # Safety
/// As for `get_freepointer`: `obj` is an object of a live slab of `c` that is being freed.
#[inline(always)]
unsafe fn set_freepointer(c: &KmemCache, obj: usize, next: usize) {
    // SAFETY: per the contract.
    unsafe { ((obj + c.offset) as *mut usize).write(next) };
}

/// Whether `next` can be a free pointer of the slab at `base`: 0, or the start of an object
/// that lies wholly inside the slab. Checked before it is followed, so a free object written
/// through `poke` never sends the allocator outside its own pages.
#[inline(always)]
fn freepointer_ok(c: &KmemCache, base: usize, next: usize) -> bool {
    next == 0 || next.wrapping_sub(base) <= c.span() - c.size
}

impl Slab {
    /// `slab_alloc()`: the CPU freelist's first object (the fast path), else `___slab_alloc`.
    #[inline]
    pub(super) fn slab_alloc(
        &mut self,
        src: &mut impl PageSource,
        ci: usize,
    ) -> Result<usize, SlabError> {
        let c = &mut self.caches[ci];
        let object = c.cpu.freelist;
        if object != 0 {
            // SAFETY: objects on the CPU freelist are free objects of the CPU slab.
            let next = unsafe { get_freepointer(c, object) };
            if freepointer_ok(c, c.cpu.slab_base, next) {
                c.cpu.freelist = next;
                return Ok(object);
            }
            return Err(self.freelist_corrupted(ci, next));
        }
        self.___slab_alloc(src, ci)
    }

    /// A bad free pointer `next` in the object at the head of the CPU freelist: the chain is
    /// dropped from there (its objects stay counted in use, so the counters still agree and
    /// nothing outside the slab is ever handed out) and the cut is reported.
    #[cold]
    #[inline(never)]
    fn freelist_corrupted(&mut self, ci: usize, next: usize) -> SlabError {
        let c = &mut self.caches[ci];
        c.cpu.freelist = 0;
        SlabError::FreelistCorrupted { cache: c.name, slab: c.cpu.slab_base, ptr: next }
    }

    /// `___slab_alloc()`: refills the CPU freelist from, in turn, objects freed to the CPU
    /// slab meanwhile (`get_freelist`), the CPU partial list, the node partial list
    /// (`get_partial_node`) and a new slab; returns the first object.
    #[inline(never)]
    fn ___slab_alloc(&mut self, src: &mut impl PageSource, ci: usize) -> Result<usize, SlabError> {
        loop {
            let idx = self.caches[ci].cpu.slab;
            if idx != NIL {
                // get_freelist(): the CPU freelist is empty; take the slab's.
                let d = self.desc_mut(idx);
                let freelist = core::mem::take(&mut d.freelist);
                d.inuse = d.objects;
                d.frozen = freelist != 0;
                if freelist != 0 {
                    return self.load_freelist(ci, freelist);
                }
                // Full: it leaves the CPU and goes on no list.
                d.list = LIST_NONE;
                let c = &mut self.caches[ci];
                c.cpu.slab = NIL;
                c.cpu.slab_base = 0;
            }
            let c = &mut self.caches[ci];
            let partial = c.cpu.partial;
            if partial != NIL {
                // slub_percpu_partial(): the next CPU partial slab becomes the CPU slab.
                let d = self.map.get_mut(partial).expect("CPU partial slab has a struct slab");
                let (next, base) = (d.next, d.base);
                d.next = NIL;
                d.list = LIST_CPU_SLAB;
                let c = &mut self.caches[ci];
                c.cpu.partial = next;
                c.cpu.nr_partial -= 1;
                c.cpu.slab = partial;
                c.cpu.slab_base = base;
                continue;
            }
            if let Some((idx, freelist)) = self.get_partial_node(ci) {
                self.set_cpu_slab(ci, idx);
                return self.load_freelist(ci, freelist);
            }
            let idx = self.new_slab(src, ci)?;
            let d = self.desc_mut(idx);
            let freelist = core::mem::take(&mut d.freelist);
            d.inuse = d.objects;
            d.frozen = true;
            self.set_cpu_slab(ci, idx);
            return self.load_freelist(ci, freelist);
        }
    }

    fn set_cpu_slab(&mut self, ci: usize, idx: u32) {
        let d = self.desc_mut(idx);
        d.list = LIST_CPU_SLAB;
        let base = d.base;
        let c = &mut self.caches[ci];
        c.cpu.slab = idx;
        c.cpu.slab_base = base;
    }

    /// `load_freelist:`: hands out `freelist`'s first object, the rest becomes the CPU
    /// freelist.
    #[inline]
    fn load_freelist(&mut self, ci: usize, freelist: usize) -> Result<usize, SlabError> {
        let c = &mut self.caches[ci];
        // SAFETY: `freelist` heads a slab freelist of the CPU slab: a free object of it.
        let next = unsafe { get_freepointer(c, freelist) };
        if !freepointer_ok(c, c.cpu.slab_base, next) {
            return Err(self.freelist_corrupted(ci, next));
        }
        c.cpu.freelist = next;
        Ok(freelist)
    }

    /// `get_partial_node()`: the first slab of the node partial list becomes the CPU slab
    /// (its whole freelist taken, `acquire_slab`); further ones move to the CPU partial list
    /// until it holds more than half of `cpu_partial_slabs`.
    fn get_partial_node(&mut self, ci: usize) -> Option<(u32, usize)> {
        let mut object = None;
        let mut partial_slabs = 0;
        let mut idx = self.caches[ci].node.partial_head;
        while idx != NIL {
            let next = self.desc(idx).next;
            self.remove_partial(ci, idx);
            let d = self.desc_mut(idx);
            d.frozen = true;
            if object.is_none() && d.freelist != 0 {
                let freelist = core::mem::take(&mut d.freelist);
                d.inuse = d.objects;
                object = Some((idx, freelist));
            } else {
                self.push_cpu_partial(ci, idx);
                partial_slabs += 1;
            }
            if partial_slabs > self.caches[ci].cpu_partial_slabs / 2 {
                break;
            }
            idx = next;
        }
        object
    }

    /// `new_slab()` / `allocate_slab()`: pages from the source, every object on the freelist
    /// in address order (no `CONFIG_SLAB_FREELIST_RANDOM`), counted in the node.
    fn new_slab(&mut self, src: &mut impl PageSource, ci: usize) -> Result<u32, SlabError> {
        let c = self.caches[ci];
        let (base, pfn) = src
            .alloc_slab_pages(c.order)
            .ok_or(SlabError::NoMemory { what: c.name, order: c.order })?;
        if base == 0 || base & PAGE_MASK != 0 || base.checked_add(c.pages() << PAGE_SHIFT).is_none()
        {
            src.free_slab_pages(pfn, c.order);
            return Err(SlabError::BadPageSource { addr: base, order: c.order });
        }
        self.note_linear(base, pfn);
        for k in 0..c.objects {
            let obj = base + k * c.size;
            let next = if k + 1 < c.objects { obj + c.size } else { 0 };
            // SAFETY: the source just gave us the slab; `obj` is one of its objects.
            unsafe { set_freepointer(&c, obj, next) };
        }
        let desc = SlabDesc {
            base,
            freelist: base,
            next: NIL,
            prev: NIL,
            inuse: 0,
            objects: c.objects as u16,
            cache: ci as u8,
            frozen: false,
            list: LIST_NONE,
            order: c.order as u8,
        };
        match self.map.insert(src, pfn, desc) {
            Ok(idx) => {
                let n = &mut self.caches[ci].node;
                n.nr_slabs += 1;
                n.total_objects += c.objects;
                Ok(idx)
            }
            Err(e) => {
                src.free_slab_pages(pfn, c.order);
                Err(e)
            }
        }
    }

    /// `discard_slab()`: the slab (on no list) goes back to the page source.
    fn discard_slab(&mut self, src: &mut impl PageSource, ci: usize, idx: u32) {
        let d = *self.desc(idx);
        let pfn = self.map.pfn(idx);
        self.map.remove(src, idx);
        src.free_slab_pages(pfn, u32::from(d.order));
        let n = &mut self.caches[ci].node;
        n.nr_slabs -= 1;
        n.total_objects -= usize::from(d.objects);
    }

    /// `slab_free()`: onto the CPU freelist when the object is in the CPU slab (the fast
    /// path), else `__slab_free`. `obj` has been validated as an object of slab `idx`.
    #[inline]
    pub(super) fn slab_free(&mut self, src: &mut impl PageSource, ci: usize, idx: u32, obj: usize) {
        let c = &mut self.caches[ci];
        if c.cpu.slab == idx {
            // SAFETY: `obj` is an object of the CPU slab being freed.
            unsafe { set_freepointer(c, obj, c.cpu.freelist) };
            c.cpu.freelist = obj;
            return;
        }
        self.__slab_free(src, ci, idx, obj);
    }

    /// `__slab_free()`: onto the slab's own freelist. A full slab is frozen onto the CPU
    /// partial list; a slab on the node partial list that becomes empty is discarded when
    /// the node already keeps `min_partial` slabs.
    fn __slab_free(&mut self, src: &mut impl PageSource, ci: usize, idx: u32, obj: usize) {
        let c = &self.caches[ci];
        let keep_empty = c.node.nr_partial < c.min_partial;
        let d = self.map.get_mut(idx).expect("a validated slab has a struct slab");
        let prior = d.freelist;
        // SAFETY: `obj` is an object of slab `idx` being freed.
        unsafe { set_freepointer(c, obj, prior) };
        d.freelist = obj;
        d.inuse -= 1;
        if d.frozen {
            return;
        }
        if prior == 0 {
            d.frozen = true;
            self.put_cpu_partial(src, ci, idx);
            return;
        }
        if d.inuse == 0 && !keep_empty {
            self.remove_partial(ci, idx);
            self.discard_slab(src, ci, idx);
        }
    }

    /// `put_cpu_partial(.., drain = 1)`: when the CPU partial list is full, its slabs go to
    /// the node first (`__unfreeze_partials`), then `idx` starts a new list.
    fn put_cpu_partial(&mut self, src: &mut impl PageSource, ci: usize, idx: u32) {
        let c = &mut self.caches[ci];
        let mut unfreeze = NIL;
        if c.cpu.partial != NIL && c.cpu.nr_partial >= c.cpu_partial_slabs {
            unfreeze = core::mem::replace(&mut c.cpu.partial, NIL);
            c.cpu.nr_partial = 0;
        }
        self.push_cpu_partial(ci, idx);
        if unfreeze != NIL {
            self.__unfreeze_partials(src, ci, unfreeze);
        }
    }

    /// `put_cpu_partial(.., drain = 0)`: a frozen slab onto the head of the CPU partial list.
    fn push_cpu_partial(&mut self, ci: usize, idx: u32) {
        let head = self.caches[ci].cpu.partial;
        let d = self.desc_mut(idx);
        d.next = head;
        d.prev = NIL;
        d.list = LIST_CPU_PARTIAL;
        let c = &mut self.caches[ci];
        c.cpu.partial = idx;
        c.cpu.nr_partial += 1;
    }

    /// `__unfreeze_partials()`: every slab of the list starting at `head` is unfrozen onto the
    /// node partial list's tail, or discarded if empty while the node has `min_partial`.
    fn __unfreeze_partials(&mut self, src: &mut impl PageSource, ci: usize, head: u32) {
        let mut discard = NIL;
        let mut idx = head;
        while idx != NIL {
            let min_partial = self.caches[ci].min_partial;
            let nr_partial = self.caches[ci].node.nr_partial;
            let d = self.desc_mut(idx);
            let next = d.next;
            d.frozen = false;
            d.list = LIST_NONE;
            if d.inuse == 0 && nr_partial >= min_partial {
                d.next = discard;
                discard = idx;
            } else {
                d.next = NIL;
                self.add_partial(ci, idx, true);
            }
            idx = next;
        }
        while discard != NIL {
            let next = self.desc(discard).next;
            self.discard_slab(src, ci, discard);
            discard = next;
        }
    }

    /// `deactivate_slab()` of the CPU slab (`flush_slab`): the CPU freelist is spliced in front
    /// of the slab's own, the slab unfrozen onto the node partial list (head, or tail if it
    /// had remote frees), discarded if empty beyond `min_partial`, or left full on no list.
    pub(super) fn deactivate_slab(&mut self, src: &mut impl PageSource, ci: usize) {
        let c = &mut self.caches[ci];
        let idx = core::mem::replace(&mut c.cpu.slab, NIL);
        if idx == NIL {
            return;
        }
        let freelist = core::mem::take(&mut c.cpu.freelist);
        let base = core::mem::take(&mut c.cpu.slab_base);
        let c = self.caches[ci];
        // Stage one: count the CPU freelist and find its tail (cut at a bad pointer).
        let (mut free_delta, mut tail_obj, mut p) = (0u16, 0usize, freelist);
        while p != 0 && usize::from(free_delta) < c.objects {
            tail_obj = p;
            free_delta += 1;
            // SAFETY: `p` is a free object of the CPU slab (checked by `freepointer_ok`).
            let next = unsafe { get_freepointer(&c, p) };
            p = if freepointer_ok(&c, base, next) { next } else { 0 };
        }
        // Stage two: splice and unfreeze.
        let d = self.desc_mut(idx);
        let to_tail = d.freelist != 0;
        if tail_obj != 0 {
            d.inuse -= free_delta;
            // SAFETY: `tail_obj` is the last free object kept from the CPU freelist.
            unsafe { set_freepointer(&c, tail_obj, d.freelist) };
            d.freelist = freelist;
        }
        d.frozen = false;
        d.list = LIST_NONE;
        if d.inuse == 0 && c.node.nr_partial >= c.min_partial {
            self.discard_slab(src, ci, idx);
        } else if d.freelist != 0 {
            self.add_partial(ci, idx, to_tail);
        }
    }

    /// `flush_cpu_slab()`: the CPU slab and the CPU partial list go back to the node.
    pub(super) fn flush_cpu_slab(&mut self, src: &mut impl PageSource, ci: usize) {
        self.deactivate_slab(src, ci);
        let c = &mut self.caches[ci];
        let head = core::mem::replace(&mut c.cpu.partial, NIL);
        c.cpu.nr_partial = 0;
        if head != NIL {
            self.__unfreeze_partials(src, ci, head);
        }
    }

    /// `__kmem_cache_shrink()`: flushes the CPU, discards every empty partial slab and moves
    /// the fullest partial slabs to the head of the list; returns the pages freed.
    pub(super) fn __kmem_cache_shrink(&mut self, src: &mut impl PageSource, ci: usize) -> usize {
        self.flush_cpu_slab(src, ci);
        let pages = self.caches[ci].pages();
        let mut freed = 0;
        let mut promote = [NIL; SHRINK_PROMOTE_MAX];
        let mut idx = self.caches[ci].node.partial_head;
        while idx != NIL {
            let d = *self.desc(idx);
            let free = usize::from(d.objects - d.inuse);
            if d.inuse == 0 {
                self.remove_partial(ci, idx);
                self.discard_slab(src, ci, idx);
                freed += pages;
            } else if free <= SHRINK_PROMOTE_MAX {
                self.remove_partial(ci, idx);
                // A stack per bucket: popped below in reverse, each pushed to the list head,
                // which restores the order they had.
                self.desc_mut(idx).next = promote[free - 1];
                promote[free - 1] = idx;
            }
            idx = d.next;
        }
        for bucket in promote.iter().rev() {
            let mut p = *bucket;
            while p != NIL {
                let next = self.desc(p).next;
                self.add_partial(ci, p, false);
                p = next;
            }
        }
        freed
    }

    /// `add_partial()`: onto the node partial list, at the head or the tail.
    fn add_partial(&mut self, ci: usize, idx: u32, tail: bool) {
        let n = self.caches[ci].node;
        let (prev, next) = if tail { (n.partial_tail, NIL) } else { (NIL, n.partial_head) };
        let d = self.desc_mut(idx);
        d.prev = prev;
        d.next = next;
        d.list = LIST_PARTIAL;
        if prev != NIL {
            self.desc_mut(prev).next = idx;
        }
        if next != NIL {
            self.desc_mut(next).prev = idx;
        }
        let n = &mut self.caches[ci].node;
        if prev == NIL {
            n.partial_head = idx;
        }
        if next == NIL {
            n.partial_tail = idx;
        }
        n.nr_partial += 1;
    }

    /// `remove_partial()`.
    fn remove_partial(&mut self, ci: usize, idx: u32) {
        let d = self.desc_mut(idx);
        let (prev, next) = (d.prev, d.next);
        d.prev = NIL;
        d.next = NIL;
        d.list = LIST_NONE;
        if prev != NIL {
            self.desc_mut(prev).next = next;
        } else {
            self.caches[ci].node.partial_head = next;
        }
        if next != NIL {
            self.desc_mut(next).prev = prev;
        } else {
            self.caches[ci].node.partial_tail = prev;
        }
        self.caches[ci].node.nr_partial -= 1;
    }

    /// `on_freelist()`: whether object `obj` of slab `idx` is free, on the slab's freelist or
    /// (for the CPU slab) the CPU freelist. A chain that leaves the slab or loops is reported.
    pub(super) fn on_freelist(&self, ci: usize, idx: u32, obj: usize) -> Result<bool, SlabError> {
        let c = &self.caches[ci];
        let d = self.desc(idx);
        let corrupt = |ptr| SlabError::FreelistCorrupted { cache: c.name, slab: d.base, ptr };
        let mut lists = [d.freelist, 0];
        if c.cpu.slab == idx {
            lists[1] = c.cpu.freelist;
        }
        let mut seen = 0;
        for head in lists {
            let mut p = head;
            while p != 0 {
                if c.object_at(d.base, p).is_err() {
                    return Err(corrupt(p));
                }
                if p == obj {
                    return Ok(true);
                }
                seen += 1;
                if seen > c.objects {
                    return Err(corrupt(p));
                }
                // SAFETY: `p` was just checked to be an object of this slab.
                p = unsafe { get_freepointer(c, p) };
            }
        }
        Ok(false)
    }

    /// The `struct slab` at `idx`, which the caller knows exists (it is on one of the cache's
    /// lists or was just validated).
    pub(super) fn desc(&self, idx: u32) -> &SlabDesc {
        self.map.get(idx).expect("a listed slab has a struct slab")
    }

    fn desc_mut(&mut self, idx: u32) -> &mut SlabDesc {
        self.map.get_mut(idx).expect("a listed slab has a struct slab")
    }
}
