//! Host tests of the slab layer: every kmalloc and cache path, each kind of bad pointer, and a
//! property test against a reference model of live allocations.
use super::*;
use std::alloc::{alloc, dealloc, Layout};
use std::collections::{BTreeMap, HashMap};
use std::string::ToString;
use std::vec::Vec;

/// A page source over the host heap: blocks of `PAGE_SIZE << order`, naturally aligned like
/// buddy blocks, with everything outstanding tracked (and an optional page limit for OOM).
pub(super) struct TestPages {
    live: HashMap<usize, u32>,
    pages: usize,
    limit: usize,
}

impl TestPages {
    pub(super) fn new() -> Self {
        Self::with_limit(usize::MAX)
    }
    pub(super) fn with_limit(limit: usize) -> Self {
        Self { live: HashMap::new(), pages: 0, limit }
    }
    /// Pages handed out and not given back.
    pub(super) fn outstanding(&self) -> usize {
        self.pages
    }
    fn layout(order: u32) -> Layout {
        Layout::from_size_align(PAGE_SIZE << order, PAGE_SIZE << order).unwrap()
    }
}

impl PageSource for TestPages {
    fn alloc_pages(&mut self, order: u32) -> Option<usize> {
        if self.pages + (1 << order) > self.limit {
            return None;
        }
        // SAFETY: non-zero size.
        let p = unsafe { alloc(Self::layout(order)) } as usize;
        assert_ne!(p, 0);
        self.live.insert(p, order);
        self.pages += 1 << order;
        Some(p)
    }
    fn free_pages(&mut self, addr: usize, order: u32) {
        assert_eq!(self.live.remove(&addr), Some(order), "free_pages({addr:#x}, {order})");
        self.pages -= 1 << order;
        // SAFETY: allocated above with this layout.
        unsafe { dealloc(addr as *mut u8, Self::layout(order)) };
    }
}

impl Drop for TestPages {
    fn drop(&mut self) {
        for (&p, &o) in &self.live {
            // SAFETY: allocated in `alloc_pages` with this layout.
            unsafe { dealloc(p as *mut u8, Self::layout(o)) };
        }
    }
}

fn write(p: usize, len: usize, byte: u8) {
    // SAFETY: tests only write to live objects within their ksize.
    unsafe { core::ptr::write_bytes(p as *mut u8, byte, len) };
}

fn read(p: usize, len: usize) -> Vec<u8> {
    // SAFETY: tests only read live objects within their ksize.
    unsafe { core::slice::from_raw_parts(p as *const u8, len) }.to_vec()
}

fn info_of(s: &Slab, name: &str) -> SlabInfo {
    s.slabinfo().find(|i| i.name == name).unwrap()
}

#[test]
fn kmalloc_picks_power_of_two_classes() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    for size in [1, 7, 8, 9, 16, 17, 33, 64, 65, 100, 128, 129, 255, 500, 1000, 1024, 1025, 2048] {
        let p = s.kmalloc(&mut src, size).unwrap();
        let class = size.next_power_of_two().max(KMALLOC_MIN_SIZE);
        assert_eq!(s.ksize(p).unwrap(), class, "size {size}");
        assert_eq!(p % class, 0, "kmalloc({size}) = {p:#x} not aligned to {class}");
        assert_eq!(s.kmalloc_slab(size).map(|id| s.cache_info(id).unwrap().objsize), Some(class));
        write(p, class, 0xee);
        s.kfree(&mut src, p).unwrap();
    }
    assert_eq!(s.meminfo().total_pages(), src.outstanding());
}

/// The kernel keeps the allocator in a static behind a spin lock (for `#[global_allocator]`).
static GLOBAL_SLAB: spin::Mutex<Slab> = spin::Mutex::new(Slab::new());

#[test]
fn lives_in_a_static_mutex() {
    let mut src = TestPages::new();
    let mut s = GLOBAL_SLAB.lock();
    let p = s.alloc_layout(&mut src, 24, 8).unwrap();
    assert_eq!(s.ksize(p), Ok(32));
    s.free_layout(&mut src, p, 24, 8).unwrap();
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), 0);
}

#[test]
fn kmalloc_zero_and_null() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    assert_eq!(s.kmalloc(&mut src, 0), Ok(ZERO_SIZE_PTR));
    assert_eq!(s.ksize(ZERO_SIZE_PTR), Ok(0));
    assert_eq!(s.kfree(&mut src, ZERO_SIZE_PTR), Ok(()));
    assert_eq!(s.kfree(&mut src, 0), Ok(()));
    assert_eq!(src.outstanding(), 0);
}

#[test]
fn large_kmalloc_goes_to_pages() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let p = s.kmalloc(&mut src, 3000).unwrap();
    assert_eq!(s.ksize(p), Ok(PAGE_SIZE));
    let q = s.kmalloc(&mut src, KMALLOC_MAX_SIZE).unwrap();
    assert_eq!(s.ksize(q), Ok(KMALLOC_MAX_SIZE));
    assert_eq!(q % KMALLOC_MAX_SIZE, 0);
    write(q, KMALLOC_MAX_SIZE, 1);
    let m = s.meminfo();
    assert_eq!((m.large_pages, m.large_allocs), (1 + (KMALLOC_MAX_SIZE >> PAGE_SHIFT), 2));
    s.kfree(&mut src, p).unwrap();
    s.kfree(&mut src, q).unwrap();
    assert_eq!(s.meminfo(), SlabMeminfo::default());
    assert_eq!(src.outstanding(), 0);
}

#[test]
#[cfg(not(feature = "kmalloc-4m"))]
fn kmalloc_above_the_historic_ceiling_fails() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let e = s.kmalloc(&mut src, 200_000).unwrap_err();
    assert_eq!(e.to_string(), "kmalloc: size 200000 exceeds KMALLOC_MAX_SIZE (131072 bytes)");
    assert_eq!(s.kmalloc(&mut src, 131_073), Err(SlabError::TooLarge { size: 131_073 }));
    assert!(s.kmalloc(&mut src, 131_072).is_ok());
    assert_eq!(s.kmalloc(&mut src, usize::MAX), Err(SlabError::TooLarge { size: usize::MAX }));
    assert_eq!(s.alloc_layout(&mut src, 200_000, 8), None);
}

#[test]
#[cfg(feature = "kmalloc-4m")]
fn kmalloc_4m_reaches_linux_s_ceiling() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let p = s.kmalloc(&mut src, 4 << 20).unwrap();
    assert_eq!(s.ksize(p), Ok(4 << 20));
    let e = s.kmalloc(&mut src, (4 << 20) + 1).unwrap_err();
    assert_eq!(e.to_string(), "kmalloc: size 4194305 exceeds KMALLOC_MAX_SIZE (4194304 bytes)");
    assert!(s.kmalloc(&mut src, 200_000).is_ok(), "past the historic 128 KiB");
    s.kfree(&mut src, p).unwrap();
}

#[test]
fn kzalloc_zeroes_recycled_memory() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let p = s.kmalloc(&mut src, 64).unwrap();
    write(p, 64, 0xff);
    s.kfree(&mut src, p).unwrap();
    let q = s.kzalloc(&mut src, 40).unwrap();
    assert_eq!(q, p, "the freed object is reused first");
    assert!(read(q, 64).iter().all(|&b| b == 0));
    let id = s.kmem_cache_create("zeroed", 24, 0).unwrap();
    let o = s.kmem_cache_alloc(&mut src, id).unwrap();
    write(o, 24, 0x55);
    s.kmem_cache_free(&mut src, id, o).unwrap();
    let o = s.kmem_cache_zalloc(&mut src, id).unwrap();
    assert!(read(o, 24).iter().all(|&b| b == 0));
}

#[test]
fn invalid_pointers_are_refused_and_change_nothing() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let p = s.kmalloc(&mut src, 64).unwrap();
    let keep = s.kmalloc(&mut src, 64).unwrap();
    let before = (info_of(&s, "kmalloc-64"), s.meminfo(), src.outstanding());

    // Outside any slab: refused before anything is read.
    let e = s.kfree(&mut src, 0x1234).unwrap_err();
    assert_eq!(e.to_string(), "kfree: invalid pointer 0x00001234 (not a slab or kmalloc address)");
    assert!(s.kfree(&mut src, usize::MAX).is_err());
    // A page the page source handed to someone else.
    let foreign = src.alloc_pages(0).unwrap();
    assert_eq!(
        s.kfree(&mut src, foreign),
        Err(SlabError::InvalidPointer { op: "kfree", ptr: foreign, reason: BadPointer::NotSlab })
    );
    src.free_pages(foreign, 0);
    // Inside an object.
    let e = s.kfree(&mut src, p + 4).unwrap_err();
    assert_eq!(
        e,
        SlabError::InvalidPointer {
            op: "kfree",
            ptr: p + 4,
            reason: BadPointer::Misaligned { cache: "kmalloc-64", object: p, offset: 4 }
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "kfree: invalid pointer {:#010x} (4 bytes into the kmalloc-64 object at {p:#010x})",
            p + 4
        )
    );
    // The slab descriptor.
    let slab = p & !PAGE_MASK;
    assert!(matches!(
        s.kfree(&mut src, slab),
        Err(SlabError::InvalidPointer {
            reason: BadPointer::SlabHeader { cache: "kmalloc-64" },
            ..
        })
    ));
    assert!(s.ksize(p + 1).is_err());
    assert_eq!((info_of(&s, "kmalloc-64"), s.meminfo(), src.outstanding()), before);

    // Double free, exactly detected by the bitmap.
    s.kfree(&mut src, p).unwrap();
    let e = s.kfree(&mut src, p).unwrap_err();
    assert_eq!(e.to_string(), format!("kfree: double free of {p:#010x} in kmalloc-64"));
    // Never allocated (a free slot of a live slab) reads the same.
    let q = keep + 64;
    assert_eq!(
        s.kfree(&mut src, q),
        Err(SlabError::DoubleFree { op: "kfree", ptr: q, cache: "kmalloc-64" })
    );
    assert!(s.ksize(p).is_err());
    assert_eq!(info_of(&s, "kmalloc-64").active_objs, 1);
    // The lists are intact: the freed object comes back, and freeing the rest empties it.
    assert_eq!(s.kmalloc(&mut src, 64), Ok(p));
    s.kfree(&mut src, p).unwrap();
    s.kfree(&mut src, keep).unwrap();
    assert_eq!(info_of(&s, "kmalloc-64").active_objs, 0);
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), 0);
    // Once the slab is gone its addresses are plain invalid.
    assert!(matches!(
        s.kfree(&mut src, keep),
        Err(SlabError::InvalidPointer { reason: BadPointer::NotSlab, .. })
    ));
}

#[test]
fn pointers_past_the_last_object_and_into_large_blocks() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let id = s.kmem_cache_create("odd", 3000, 8).unwrap();
    let info = s.cache_info(id).unwrap();
    assert_eq!((info.objperslab, info.pagesperslab), (5, 4));
    let o = s.kmem_cache_alloc(&mut src, id).unwrap();
    let slab = o & !((PAGE_SIZE << 2) - 1);
    let tail = slab + (PAGE_SIZE << 2) - 8;
    assert!(matches!(
        s.kfree(&mut src, tail),
        Err(SlabError::InvalidPointer { reason: BadPointer::PastLastObject { cache: "odd" }, .. })
    ));
    // A pointer in a later page of the slab, mid-object.
    assert!(matches!(
        s.kfree(&mut src, o + 3000 * 2 + 5),
        Err(SlabError::InvalidPointer {
            reason: BadPointer::Misaligned { cache: "odd", offset: 5, .. },
            ..
        })
    ));

    let big = s.kmalloc(&mut src, 10_000).unwrap();
    assert_eq!(
        s.kfree(&mut src, big + 8),
        Err(SlabError::InvalidPointer {
            op: "kfree",
            ptr: big + 8,
            reason: BadPointer::InsideLarge { base: big }
        })
    );
    assert!(matches!(
        s.kfree(&mut src, big + PAGE_SIZE),
        Err(SlabError::InvalidPointer { reason: BadPointer::NotSlab, .. })
    ));
    s.kfree(&mut src, big).unwrap();
    assert!(s.kfree(&mut src, big).is_err());
    assert_eq!(s.meminfo().large_pages, 0);
}

#[test]
fn cache_lifecycle() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let id = s.kmem_cache_create("task_struct", 100, 32).unwrap();
    let info = s.cache_info(id).unwrap();
    assert_eq!(info.objsize, 128);
    let n = info.objperslab * 2 + 3;
    let objs: Vec<usize> = (0..n).map(|_| s.kmem_cache_alloc(&mut src, id).unwrap()).collect();
    assert!(objs.iter().all(|o| o % 32 == 0));
    let info = s.cache_info(id).unwrap();
    assert_eq!((info.active_objs, info.num_slabs, info.active_slabs), (n, 3, 3));
    assert_eq!(info.num_objs, 3 * info.objperslab);

    let e = s.kmem_cache_destroy(&mut src, id).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("kmem_cache_destroy task_struct: Slab cache still has objects ({n} active)")
    );

    // An object of another cache is refused by name.
    let k = s.kmalloc(&mut src, 128).unwrap();
    let e = s.kmem_cache_free(&mut src, id, k).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("kmem_cache_free: Wrong slab cache. task_struct but object {k:#010x} is from kmalloc-128")
    );
    // kfree works on any slab object, like Linux's.
    s.kfree(&mut src, objs[0]).unwrap();
    for &o in &objs[1..] {
        s.kmem_cache_free(&mut src, id, o).unwrap();
    }
    let info = s.cache_info(id).unwrap();
    assert_eq!(
        (info.active_objs, info.num_slabs, info.active_slabs),
        (0, 1, 0),
        "one spare slab kept"
    );
    s.kmem_cache_destroy(&mut src, id).unwrap();
    assert_eq!(
        s.kmem_cache_alloc(&mut src, id),
        Err(SlabError::NoSuchCache { op: "kmem_cache_alloc" })
    );
    assert!(s.slabinfo().all(|i| i.name != "task_struct"));

    // The slot is reused with a new generation: the old id stays dead.
    let id2 = s.kmem_cache_create("dentry", 192, 0).unwrap();
    assert_ne!(id, id2);
    assert!(s.cache_info(id).is_err());
    s.kfree(&mut src, k).unwrap();
    let kid = s.kmalloc_slab(64).unwrap();
    assert_eq!(
        s.kmem_cache_destroy(&mut src, kid),
        Err(SlabError::KmallocCache { name: "kmalloc-64" })
    );
    s.kmem_cache_destroy(&mut src, id2).unwrap();
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), 0);
}

#[test]
fn bad_cache_arguments() {
    let mut s = Slab::new();
    let e = |size, align| s.clone_create(size, align);
    assert!(matches!(e(0, 8), Err(SlabError::BadCacheArgs { why: "size is zero", .. })));
    assert!(matches!(
        e(8, 24),
        Err(SlabError::BadCacheArgs { why: "align is not a power of two", .. })
    ));
    assert!(matches!(e(8, 2 * PAGE_SIZE), Err(SlabError::BadCacheArgs { .. })));
    assert!(matches!(e(PAGE_SIZE << SLAB_MAX_ORDER, 8), Err(SlabError::BadCacheArgs { .. })));
    assert!(matches!(e(usize::MAX - 3, 8), Err(SlabError::BadCacheArgs { .. })));
    let err = s.kmem_cache_create("x", 0, 0).unwrap_err();
    assert_eq!(err.to_string(), "kmem_cache_create(x) failed: size 0, align 0: size is zero");
    for _ in NR_KMALLOC_CACHES..MAX_CACHES {
        s.kmem_cache_create("filler", 16, 0).unwrap();
    }
    assert_eq!(
        s.kmem_cache_create("one-too-many", 16, 0),
        Err(SlabError::TooManyCaches { name: "one-too-many" })
    );
}

impl Slab {
    /// `kmem_cache_create` on a copy, so argument checks do not fill the table.
    fn clone_create(&self, size: usize, align: usize) -> Result<CacheId, SlabError> {
        let mut copy = Slab::new();
        copy.caches = self.caches;
        copy.kmem_cache_create("t", size, align)
    }
}

#[test]
fn empty_slabs_beyond_one_spare_go_back() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let per = info_of(&s, "kmalloc-256").objperslab;
    let objs: Vec<usize> = (0..per * 4).map(|_| s.kmalloc(&mut src, 200).unwrap()).collect();
    assert_eq!(info_of(&s, "kmalloc-256").num_slabs, 4);
    for &o in &objs {
        s.kfree(&mut src, o).unwrap();
    }
    let i = info_of(&s, "kmalloc-256");
    assert_eq!((i.active_objs, i.num_slabs, i.active_slabs), (0, 1, 0));
    let m = s.meminfo();
    assert_eq!(m.slab_pages, 1);
    assert_eq!(m.total_pages(), src.outstanding());
    assert_eq!(m.sunreclaim_pages(), m.total_pages());
    assert_eq!(m.sreclaimable_pages(), 0);
    assert_eq!(s.shrink_all(&mut src), 1);
    assert_eq!(src.outstanding(), 0, "the page registry is freed with the last slab");
}

#[test]
fn descriptors_are_coloured() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let i = kmalloc_index(2048);
    let per = s.caches[i].objs;
    let objs: Vec<usize> = (0..per * 16).map(|_| s.kmalloc(&mut src, 2048).unwrap()).collect();
    let slab_bytes = PAGE_SIZE << s.caches[i].order;
    let mut colours = std::collections::BTreeSet::new();
    for &o in objs.iter().step_by(per) {
        let slab = o & !(slab_bytes - 1);
        let desc = s.caches[i].desc(slab);
        assert!(desc + HEADER_MAX_BYTES <= slab + s.caches[i].offset);
        colours.insert(desc - slab);
        // The whole colour area in front of the first object is refused like the descriptor.
        assert!(matches!(
            s.kfree(&mut src, desc),
            Err(SlabError::InvalidPointer { reason: BadPointer::SlabHeader { .. }, .. })
        ));
    }
    assert!(colours.len() > 4, "{colours:?}");
    // Small classes have no slack to colour with.
    assert_eq!(s.caches[kmalloc_index(8)].colour_mask, 0);
    for o in objs {
        s.kfree(&mut src, o).unwrap();
    }
}

/// Descriptor plus bitmap of a kmalloc-2k slab, for the colouring test.
const HEADER_MAX_BYTES: usize = 64;

#[test]
fn registry_grows_and_shrinks() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    // 2048-byte objects: 15 per order-3 slab, 8 pages registered per slab.
    let objs: Vec<usize> = (0..15 * 200).map(|_| s.kmalloc(&mut src, 2048).unwrap()).collect();
    let m = s.meminfo();
    assert_eq!(m.slab_pages, 200 * 8);
    assert!(m.registry_pages >= 2, "{m:?}");
    assert_eq!(m.total_pages(), src.outstanding());
    for (k, &o) in objs.iter().enumerate() {
        write(o, 2048, k as u8);
    }
    for (k, &o) in objs.iter().enumerate().rev() {
        assert!(read(o, 2048).iter().all(|&b| b == k as u8));
        s.kfree(&mut src, o).unwrap();
    }
    assert!(s.meminfo().registry_pages <= 1);
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), 0);
}

#[test]
fn out_of_memory_is_an_error_not_a_panic() {
    let (mut s, mut src) = (Slab::new(), TestPages::with_limit(3));
    let mut got = Vec::new();
    let err = loop {
        match s.kmalloc(&mut src, 512) {
            Ok(p) => got.push(p),
            Err(e) => break e,
        }
    };
    // One registry page + one order-1 slab fit; the second slab does not.
    assert_eq!(err, SlabError::NoMemory { what: "kmalloc-512", order: 1 });
    assert_eq!(err.to_string(), "kmalloc-512: unable to allocate memory (order:1)");
    assert_eq!(got.len(), info_of(&s, "kmalloc-512").objperslab);
    assert_eq!(s.kmalloc(&mut src, 8192), Err(SlabError::NoMemory { what: "kmalloc", order: 1 }));
    for p in got {
        s.kfree(&mut src, p).unwrap();
    }
    assert_eq!(s.meminfo().total_pages(), src.outstanding());
}

#[test]
fn poisoning_catches_writes_after_free() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    s.set_poison(true);
    let p = s.kmalloc(&mut src, 32).unwrap();
    let q = s.kmalloc(&mut src, 32).unwrap();
    s.kfree(&mut src, p).unwrap();
    let poison = read(p, 32);
    assert!(poison[..31].iter().all(|&b| b == POISON_FREE) && poison[31] == POISON_END);
    write(p + 3, 1, 0x00); // use after free
    let e = s.kmalloc(&mut src, 32).unwrap_err();
    assert_eq!(
        e,
        SlabError::PoisonOverwritten {
            cache: "kmalloc-32",
            object: p,
            offset: 3,
            found: 0,
            expected: POISON_FREE
        }
    );
    assert_eq!(
        e.to_string(),
        format!("BUG kmalloc-32: Poison overwritten at {:#010x} (object {p:#010x} + 3): 0x00 instead of 0x6b", p + 3)
    );
    // Repaired: the next allocation gets the object.
    assert_eq!(s.kmalloc(&mut src, 32), Ok(p));
    // A hit in an empty slab leaves it on the free list, counted as inactive.
    s.kfree(&mut src, q).unwrap();
    s.kfree(&mut src, p).unwrap();
    write(p, 1, 0);
    assert!(s.kmalloc(&mut src, 32).is_err());
    let i = info_of(&s, "kmalloc-32");
    assert_eq!((i.active_objs, i.active_slabs, i.num_slabs), (0, 0, 1));
    assert_eq!(s.kmalloc(&mut src, 32), Ok(p));
    let q = s.kmalloc(&mut src, 32).unwrap();
    s.kfree(&mut src, p).unwrap();
    write(p + 31, 1, 0x6b);
    assert_eq!(s.alloc_layout(&mut src, 32, 8), Some(p));
    assert!(matches!(
        s.take_poison_report(),
        Some(SlabError::PoisonOverwritten { offset: 31, found: 0x6b, .. })
    ));
    assert_eq!(s.take_poison_report(), None);
    s.kfree(&mut src, p).unwrap();
    s.kfree(&mut src, q).unwrap();

    // Slabs made while poisoning was off are never checked.
    s.set_poison(false);
    let r = s.kmalloc(&mut src, 16).unwrap();
    s.kfree(&mut src, r).unwrap();
    write(r, 16, 0);
    s.set_poison(true);
    assert_eq!(s.kmalloc(&mut src, 16), Ok(r));
}

#[test]
fn alloc_layout_honours_alignment() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let mut live = Vec::new();
    for (size, align) in
        [(1, 1), (3, 2), (24, 8), (24, 64), (1, 2048), (100, 4096), (5000, 8192), (8, 65536)]
    {
        let p = s.alloc_layout(&mut src, size, align).unwrap();
        assert_eq!(p % align, 0, "size {size} align {align}");
        assert!(s.ksize(p).unwrap() >= size.max(align));
        live.push((p, size, align));
    }
    assert_eq!(s.alloc_layout(&mut src, 8, 3), None);
    for (p, size, align) in live {
        s.free_layout(&mut src, p, size, align).unwrap();
    }
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), 0);
}

#[test]
fn krealloc_keeps_contents() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let p = s.kmalloc(&mut src, 20).unwrap();
    write(p, 20, 0x42);
    assert_eq!(s.krealloc(&mut src, p, 32), Ok(p), "fits its class");
    let q = s.krealloc(&mut src, p, 5000).unwrap();
    assert_ne!(q, p);
    assert!(read(q, 20).iter().all(|&b| b == 0x42));
    assert!(s.kfree(&mut src, p).is_err());
    assert_eq!(s.krealloc(&mut src, q, 0), Ok(ZERO_SIZE_PTR));
    let r = s.krealloc(&mut src, ZERO_SIZE_PTR, 10).unwrap();
    assert_eq!(s.ksize(r), Ok(16));
    s.kfree(&mut src, r).unwrap();
}

#[test]
fn slabinfo_lists_newest_first_with_linux_columns() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let a = s.kmem_cache_create("first", 48, 0).unwrap();
    let _b = s.kmem_cache_create("second", 1600, 0).unwrap();
    let names: Vec<&str> = s.slabinfo().map(|i| i.name).collect();
    assert_eq!(
        names,
        [
            "second",
            "first",
            "kmalloc-2k",
            "kmalloc-1k",
            "kmalloc-512",
            "kmalloc-256",
            "kmalloc-128",
            "kmalloc-64",
            "kmalloc-32",
            "kmalloc-16",
            "kmalloc-8"
        ]
    );
    let o = s.kmem_cache_alloc(&mut src, a).unwrap();
    let i = s.cache_info(a).unwrap();
    assert_eq!(i.objsize, 48);
    assert_eq!(i.pagesperslab, 1);
    assert_eq!((i.active_objs, i.num_objs, i.active_slabs, i.num_slabs), (1, i.objperslab, 1, 1));
    let expected_objs = (PAGE_SIZE - 64) / 48; // descriptor + bitmap fit in the first 64 bytes
    assert!(i.objperslab >= expected_objs, "{i:?}");
    s.kmem_cache_free(&mut src, a, o).unwrap();
}

#[test]
fn error_messages_read_like_linux() {
    let cases = [
        (SlabError::NoSuchCache { op: "kmem_cache_alloc" }, "kmem_cache_alloc: no such slab cache"),
        (
            SlabError::KmallocCache { name: "kmalloc-8" },
            "kmem_cache_destroy kmalloc-8: kmalloc caches cannot be destroyed",
        ),
        (
            SlabError::SlabCorrupted { slab: 0xc0001000 },
            "slab: corrupted slab descriptor at 0xc0001000",
        ),
        (
            SlabError::BadPageSource { addr: 0x123, order: 0 },
            "slab: page source returned unusable order-0 block at 0x00000123",
        ),
        (
            SlabError::InvalidPointer {
                op: "kfree",
                ptr: 0xc0102000,
                reason: BadPointer::InsideLarge { base: 0xc0100000 },
            },
            "kfree: invalid pointer 0xc0102000 (inside the large kmalloc block at 0xc0100000)",
        ),
    ];
    for (e, text) in cases {
        assert_eq!(e.to_string(), text);
    }
}

#[test]
fn a_corrupted_descriptor_is_reported() {
    let (mut s, mut src) = (Slab::new(), TestPages::new());
    let p = s.kmalloc(&mut src, 8).unwrap();
    let slab = p & !PAGE_MASK;
    let saved = read(slab, 4);
    write(slab, 4, 0); // an overflow from the page below wiped the magic
    assert_eq!(s.kfree(&mut src, p), Err(SlabError::SlabCorrupted { slab }));
    // SAFETY: restoring the bytes just overwritten.
    unsafe { core::ptr::copy_nonoverlapping(saved.as_ptr(), slab as *mut u8, 4) };
    s.kfree(&mut src, p).unwrap();
}

// ---- property test ------------------------------------------------------------------------

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Kmalloc(usize),
        Kzalloc(usize),
        Free(usize),
        Realloc(usize, usize),
        Create(usize, u32),
        CacheAlloc(usize),
        Destroy(usize),
        BadFree(usize, usize),
        StaleFree(usize),
        Shrink,
        /// Many objects of one size: fills slabs, so full / partial / free transitions happen.
        Burst(usize, usize),
        /// Frees every `k`-th live object (from `phase`): leaves slabs with holes.
        FreeEvery(usize, usize),
    }

    fn size() -> impl Strategy<Value = usize> {
        prop_oneof![
            6 => 1usize..=64,
            4 => 65usize..=KMALLOC_MAX_CACHE_SIZE,
            1 => Just(0usize),
            1 => (KMALLOC_MAX_CACHE_SIZE + 1)..=20_000usize,
            1 => (KMALLOC_MAX_SIZE - 8)..=(KMALLOC_MAX_SIZE + 8),
        ]
    }

    /// Bursts stay below a few pages per object, so hundreds of them stay cheap.
    fn burst_size() -> impl Strategy<Value = usize> {
        prop_oneof![
            3 => 1usize..=64,
            2 => 65usize..=KMALLOC_MAX_CACHE_SIZE,
            1 => (KMALLOC_MAX_CACHE_SIZE + 1)..=3 * PAGE_SIZE,
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => size().prop_map(Op::Kmalloc),
            2 => size().prop_map(Op::Kzalloc),
            8 => any::<usize>().prop_map(Op::Free),
            1 => (any::<usize>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
            1 => (1usize..5000, 0u32..=12).prop_map(|(s, a)| Op::Create(s, a)),
            5 => any::<usize>().prop_map(Op::CacheAlloc),
            1 => any::<usize>().prop_map(Op::Destroy),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(i, o)| Op::BadFree(i, o)),
            1 => any::<usize>().prop_map(Op::StaleFree),
            1 => Just(Op::Shrink),
            1 => (burst_size(), 1usize..300).prop_map(|(s, n)| Op::Burst(s, n)),
            1 => (2usize..5, 0usize..5).prop_map(|(k, p)| Op::FreeEvery(k, p)),
        ]
    }

    #[derive(Clone, Copy, Debug)]
    struct Obj {
        /// Usable size, all of it filled with `fill`.
        usable: usize,
        fill: u8,
        /// Model cache index for kmem_cache objects.
        cache: Option<usize>,
    }

    struct Model {
        s: Slab,
        src: TestPages,
        live: BTreeMap<usize, Obj>,
        caches: Vec<(CacheId, usize, usize)>, // id, stride, align
        freed: Vec<usize>,
        next_fill: u8,
    }

    impl Model {
        fn pick(&self, i: usize) -> Option<usize> {
            (!self.live.is_empty()).then(|| *self.live.keys().nth(i % self.live.len()).unwrap())
        }

        fn add(&mut self, p: usize, requested: usize, cache: Option<usize>, zeroed: bool) {
            let usable = self.s.ksize(p).unwrap();
            assert!(usable >= requested, "ksize {usable} < {requested}");
            let align = match cache {
                Some(c) => self.caches[c].2,
                None if usable <= KMALLOC_MAX_CACHE_SIZE => usable,
                None => PAGE_SIZE,
            };
            assert_eq!(p % align, 0, "{p:#x} not aligned to {align}");
            if zeroed {
                assert!(read(p, usable).iter().all(|&b| b == 0));
            }
            self.next_fill = self.next_fill.wrapping_add(1);
            write(p, usable, self.next_fill);
            assert!(self.live.insert(p, Obj { usable, fill: self.next_fill, cache }).is_none());
            self.freed.retain(|&f| f != p);
        }

        fn take(&mut self, p: usize) -> Obj {
            let o = self.live.remove(&p).unwrap();
            assert!(read(p, o.usable).iter().all(|&b| b == o.fill), "object {p:#x} disturbed");
            self.freed.push(p);
            o
        }

        fn apply(&mut self, op: Op) {
            let src = &mut self.src;
            match op {
                Op::Kmalloc(n) | Op::Kzalloc(n) => {
                    let z = matches!(op, Op::Kzalloc(_));
                    let r = if z { self.s.kzalloc(src, n) } else { self.s.kmalloc(src, n) };
                    match r {
                        Ok(ZERO_SIZE_PTR) => assert_eq!(n, 0),
                        Ok(p) => self.add(p, n, None, z),
                        Err(e) => {
                            assert!(n > KMALLOC_MAX_SIZE && e == SlabError::TooLarge { size: n })
                        }
                    }
                }
                Op::Free(i) => {
                    if let Some(p) = self.pick(i) {
                        let o = self.take(p);
                        let r = match o.cache {
                            Some(c) if i % 2 == 0 => {
                                self.s.kmem_cache_free(&mut self.src, self.caches[c].0, p)
                            }
                            _ => self.s.kfree(&mut self.src, p),
                        };
                        r.unwrap();
                    }
                }
                Op::Realloc(i, n) => {
                    if let Some(p) = self.pick(i).filter(|p| self.live[p].cache.is_none()) {
                        let o = self.take(p);
                        match self.s.krealloc(&mut self.src, p, n) {
                            Ok(ZERO_SIZE_PTR) => assert_eq!(n, 0),
                            Ok(q) => {
                                let kept = o.usable.min(n);
                                assert!(read(q, kept).iter().all(|&b| b == o.fill));
                                self.add(q, n, None, false);
                            }
                            Err(e) => {
                                assert_eq!(e, SlabError::TooLarge { size: n });
                                self.freed.pop();
                                self.live.insert(p, o);
                            }
                        }
                    }
                }
                Op::Create(size, align_shift) => {
                    let align = 1usize << align_shift;
                    match self.s.kmem_cache_create("prop", size, align) {
                        Ok(id) => {
                            let stride = size.next_multiple_of(align.max(ARCH_SLAB_MINALIGN));
                            self.caches.push((id, stride, align));
                        }
                        Err(e) => assert_eq!(e, SlabError::TooManyCaches { name: "prop" }),
                    }
                }
                Op::CacheAlloc(i) => {
                    if !self.caches.is_empty() {
                        let c = i % self.caches.len();
                        let p = self.s.kmem_cache_alloc(src, self.caches[c].0).unwrap();
                        self.add(p, self.caches[c].1, Some(c), false);
                        assert_eq!(self.s.ksize(p), Ok(self.caches[c].1));
                    }
                }
                Op::Destroy(i) => {
                    if !self.caches.is_empty() {
                        let c = i % self.caches.len();
                        let busy = self.live.values().filter(|o| o.cache == Some(c)).count();
                        let r = self.s.kmem_cache_destroy(src, self.caches[c].0);
                        if busy == 0 {
                            r.unwrap();
                            // Keep model indices stable: retire by swapping in a dead id.
                            let dead = self.caches.swap_remove(c);
                            for o in self.live.values_mut() {
                                if o.cache == Some(self.caches.len()) {
                                    o.cache = Some(c);
                                }
                            }
                            assert!(self.s.kmem_cache_alloc(src, dead.0).is_err());
                        } else {
                            assert!(
                                matches!(r, Err(SlabError::CacheBusy { active, .. }) if active == busy)
                            );
                        }
                    }
                }
                Op::BadFree(i, off) => {
                    if let Some(p) = self.pick(i) {
                        let o = self.live[&p];
                        let off = 1 + off % (o.usable + PAGE_SIZE);
                        let q = p + off;
                        if !self.live.contains_key(&q) {
                            assert!(
                                self.s.kfree(&mut self.src, q).is_err(),
                                "kfree({q:#x}) accepted"
                            );
                        }
                    }
                }
                Op::StaleFree(i) => {
                    if !self.freed.is_empty() {
                        let q = self.freed[i % self.freed.len()];
                        assert!(!self.live.contains_key(&q));
                        assert!(
                            self.s.kfree(&mut self.src, q).is_err(),
                            "stale kfree({q:#x}) accepted"
                        );
                    }
                }
                Op::Shrink => {
                    self.s.shrink_all(src);
                }
                Op::Burst(n, count) => {
                    for _ in 0..count {
                        self.apply(Op::Kmalloc(n));
                    }
                }
                Op::FreeEvery(k, phase) => {
                    let victims: Vec<usize> =
                        self.live.keys().copied().skip(phase % k).step_by(k).collect();
                    for p in victims {
                        self.take(p);
                        self.s.kfree(&mut self.src, p).unwrap();
                    }
                }
            }
        }

        fn check(&self) {
            // No two live objects overlap.
            let mut end = 0;
            for (&p, o) in &self.live {
                assert!(p >= end, "overlap at {p:#x}");
                end = p + o.usable;
            }
            // Per-cache counters match the model exactly.
            let mut slab_pages = 0;
            for info in self.s.slabinfo() {
                assert_eq!(info.num_objs, info.num_slabs * info.objperslab);
                assert!(info.active_slabs <= info.num_slabs);
                assert!(info.num_slabs - info.active_slabs <= SPARE_SLABS_PER_CACHE, "{info:?}");
                assert!(info.active_objs <= info.active_slabs * info.objperslab);
                // Every slab counted active holds at least one object.
                assert!(info.active_objs >= info.active_slabs);
                slab_pages += info.num_slabs * info.pagesperslab;
            }
            for size_shift in KMALLOC_SHIFT_LOW..=KMALLOC_SHIFT_HIGH {
                let size = 1usize << size_shift;
                let id = self.s.kmalloc_slab(size).unwrap();
                let n =
                    self.live.values().filter(|o| o.cache.is_none() && o.usable == size).count();
                assert_eq!(self.s.cache_info(id).unwrap().active_objs, n, "kmalloc-{size}");
            }
            for (c, &(id, stride, _)) in self.caches.iter().enumerate() {
                let n = self.live.values().filter(|o| o.cache == Some(c)).count();
                let info = self.s.cache_info(id).unwrap();
                assert_eq!((info.active_objs, info.objsize), (n, stride));
            }
            let m = self.s.meminfo();
            assert_eq!(m.slab_pages, slab_pages);
            let large: Vec<&Obj> = self
                .live
                .values()
                .filter(|o| o.cache.is_none() && o.usable > KMALLOC_MAX_CACHE_SIZE)
                .collect();
            assert_eq!(m.large_allocs, large.len());
            assert_eq!(m.large_pages, large.iter().map(|o| o.usable / PAGE_SIZE).sum::<usize>());
            assert_eq!(m.total_pages(), self.src.outstanding());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn slab_matches_reference_model(ops in proptest::collection::vec(op(), 1..400), poison in any::<bool>()) {
            let mut m = Model {
                s: Slab::new(),
                src: TestPages::new(),
                live: BTreeMap::new(),
                caches: Vec::new(),
                freed: Vec::new(),
                next_fill: 0,
            };
            m.s.set_poison(poison);
            for op in ops {
                m.apply(op);
                m.check();
            }
            // Free everything: every cache keeps at most its spare slab ...
            let all: Vec<usize> = m.live.keys().copied().collect();
            for p in all {
                m.take(p);
                m.s.kfree(&mut m.src, p).unwrap();
            }
            m.check();
            for info in m.s.slabinfo() {
                prop_assert_eq!(info.active_objs, 0);
                prop_assert!(info.num_slabs <= SPARE_SLABS_PER_CACHE);
            }
            // ... and after shrinking and destroying, every page is back at the source.
            m.s.shrink_all(&mut m.src);
            for &(id, _, _) in &m.caches {
                m.s.kmem_cache_destroy(&mut m.src, id).unwrap();
            }
            prop_assert_eq!(m.s.meminfo(), SlabMeminfo::default());
            prop_assert_eq!(m.src.outstanding(), 0);
            prop_assert!(m.s.take_poison_report().is_none());
        }
    }
}
