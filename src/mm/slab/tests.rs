//! Host tests of the slab layer over a real buddy allocator `Node` whose linear map points at a
//! host arena: the kmalloc caches as 6.1 builds them, SLUB's list behaviour, the mem_map
//! marks and owners, every kind of bad pointer, `verify`, and a property test against a
//! reference model of live allocations.
use super::*;
use crate::mm::gfp::GfpFlags;
use crate::mm::mm_init::{PfnRange, Zones};
use crate::mm::page::{MemMap, Page};
use crate::mm::page_alloc::{LinearMap, Node};
use crate::mm::{PhysAddr, VirtAddr};
use std::alloc::{alloc, dealloc, Layout};
use std::boxed::Box;
use std::collections::BTreeMap;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

/// Pages in a test node unless a test asks for another size.
const TEST_PAGES: usize = 4096;

/// A node over `pages` frames of host memory (PFN 0 at the arena's start, all Normal, all
/// free), used through `NodePages`, as the kernel uses its node through `BuddyPages`.
pub(crate) struct TestPages {
    node: Option<Node<'static>>,
    mem_map: *mut [Page],
    arena: usize,
    layout: Layout,
    pages: usize,
}

impl TestPages {
    pub(super) fn new() -> Self {
        Self::with_pages(TEST_PAGES)
    }

    /// A node of `pages` frames (a power of two, so the arena can be aligned to its size and
    /// buddy blocks are naturally aligned in memory too).
    pub(super) fn with_pages(pages: usize) -> Self {
        assert!(pages.is_power_of_two());
        let layout = Layout::from_size_align(pages * PAGE_SIZE, pages * PAGE_SIZE).unwrap();
        // SAFETY: non-zero size; freed in Drop with the same layout.
        let arena = unsafe { alloc(layout) } as usize;
        assert_ne!(arena, 0);
        let mem_map: &'static mut [Page] =
            Box::leak(vec![Page::default(); pages].into_boxed_slice());
        let raw = mem_map as *mut [Page];
        let zones = Zones {
            dma: None,
            normal: PfnRange { start: Pfn(0), end: Pfn(pages as u64) },
            dma32: None,
            highmem: None,
        };
        let mut node = Node::new(MemMap::new(mem_map, Pfn(0)).unwrap(), &zones).unwrap();
        node.free_bootmem_range(Pfn(0), Pfn(pages as u64)).unwrap();
        node.set_linear_map(LinearMap { page_offset: VirtAddr(arena), phys_offset: PhysAddr(0) });
        Self { node: Some(node), mem_map: raw, arena, layout, pages }
    }

    pub(super) fn node(&mut self) -> &mut Node<'static> {
        self.node.as_mut().unwrap()
    }

    /// Pages handed out and not given back (per-CPU lists count as free).
    pub(super) fn outstanding(&self) -> usize {
        let n = self.node.as_ref().unwrap();
        self.pages - (n.nr_free_pages() + n.nr_pcp_pages()) as usize
    }

    /// The PFN of an arena address.
    pub(super) fn pfn(&self, addr: usize) -> Pfn {
        Pfn(((addr - self.arena) >> PAGE_SHIFT) as u64)
    }

    /// The arena address of a PFN.
    pub(super) fn addr(&self, pfn: Pfn) -> usize {
        self.arena + ((pfn.0 as usize) << PAGE_SHIFT)
    }
}

impl NodeHolder for TestPages {
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R> {
        let mut p = NodePages::new(self.node.as_mut()?);
        let r = f(&mut p);
        assert_eq!(p.take_bad_free(), None, "the slab layer freed a block wrongly");
        Some(r)
    }

    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R> {
        self.node.as_ref().map(f)
    }
}

impl Drop for TestPages {
    fn drop(&mut self) {
        self.node = None;
        // SAFETY: the node that borrowed mem_map is gone; mem_map came from `Box::leak` and
        // the arena from `alloc` with `layout`.
        unsafe {
            drop(Box::from_raw(self.mem_map));
            dealloc(self.arena as *mut u8, self.layout);
        }
    }
}

/// A slab with 6.1's kmalloc caches over a fresh test node (also for the `/proc/slabinfo`
/// renderer's tests).
pub(crate) fn setup() -> (Slab, TestPages) {
    (Slab::with_config(KmallocConfig::LINUX), TestPages::new())
}

fn write(p: usize, len: usize, byte: u8) {
    // SAFETY: tests only write to live objects within their ksize.
    unsafe { core::ptr::write_bytes(p as *mut u8, byte, len) };
}

fn read(p: usize, len: usize) -> Vec<u8> {
    // SAFETY: tests only read live objects within their ksize (or free slab objects).
    unsafe { core::slice::from_raw_parts(p as *const u8, len) }.to_vec()
}

fn read_word(p: usize) -> usize {
    // SAFETY: tests only read words inside slabs of the test arena.
    unsafe { (p as *const usize).read() }
}

fn info_of(s: &Slab, name: &str) -> SlabInfo {
    s.slabinfo().find(|i| i.name == name).unwrap()
}

/// Objects handed out and not freed, in cache `ci` (slabs' `inuse` minus the CPU freelist).
fn allocated(s: &Slab, ci: usize) -> usize {
    let c = &s.caches[ci];
    let inuse: usize = s
        .map
        .iter()
        .filter(|(_, d)| usize::from(d.cache) == ci)
        .map(|(_, d)| usize::from(d.inuse))
        .sum();
    let mut cpu_free = 0;
    let mut p = c.cpu.freelist;
    while p != 0 {
        cpu_free += 1;
        p = read_word(p + c.offset);
    }
    inuse - cpu_free
}

#[test]
fn kmalloc_picks_the_caches_6_1_has_on_armv7() {
    let (mut s, mut src) = setup();
    let cases = [
        (1, "kmalloc-64", 64),
        (8, "kmalloc-64", 64),
        (64, "kmalloc-64", 64),
        (65, "kmalloc-128", 128),
        (96, "kmalloc-128", 128),
        (128, "kmalloc-128", 128),
        (129, "kmalloc-192", 192),
        (192, "kmalloc-192", 192),
        (193, "kmalloc-256", 256),
        (500, "kmalloc-512", 512),
        (1025, "kmalloc-2k", 2048),
        (4096, "kmalloc-4k", 4096),
        (8192, "kmalloc-8k", 8192),
    ];
    for (size, name, class) in cases {
        let p = s.kmalloc(&mut src, size).unwrap();
        let id = s.kmalloc_slab(size).unwrap();
        assert_eq!(s.cache_info(id).unwrap().name, name, "size {size}");
        assert_eq!(s.ksize(&src, p), Ok(class), "size {size}");
        let align = if class.is_power_of_two() { class } else { ARCH_KMALLOC_MINALIGN };
        assert_eq!(p % align, 0, "kmalloc({size}) = {p:#x} not aligned to {align}");
        write(p, class, 0xee);
        s.kfree(&mut src, p).unwrap();
    }
    assert_eq!(s.kmalloc_slab(8193), None);
    assert_eq!(s.meminfo().total_pages(), src.outstanding());
    s.verify(&src).unwrap();
}

/// The kernel keeps the allocator in a static behind a spin lock (for `#[global_allocator]`).
static GLOBAL_SLAB: spin::Mutex<Slab> = spin::Mutex::new(Slab::new());

#[test]
fn lives_in_a_static_mutex() {
    let mut src = TestPages::new();
    let mut s = GLOBAL_SLAB.lock();
    assert_eq!(s.kmalloc(&mut src, 24), Err(SlabError::NotInitialised));
    s.kmem_cache_init(KmallocConfig::LINUX).unwrap();
    let p = s.alloc_layout(&mut src, 24, 8).unwrap();
    assert_eq!(s.ksize(&src, p), Ok(64));
    assert_eq!(s.kmem_cache_init(KmallocConfig::LINUX), Err(SlabError::AlreadyInitialised));
    s.free_layout(&mut src, p, 24, 8).unwrap();
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), s.meminfo().map_pages);
    s.verify(&src).unwrap();
}

#[test]
fn kmalloc_zero_and_null() {
    let (mut s, mut src) = setup();
    assert_eq!(s.kmalloc(&mut src, 0), Ok(ZERO_SIZE_PTR));
    assert_eq!(s.ksize(&src, ZERO_SIZE_PTR), Ok(0));
    assert_eq!(s.ksize(&src, 0), Ok(0));
    assert_eq!(s.kfree(&mut src, ZERO_SIZE_PTR), Ok(()));
    assert_eq!(s.kfree_checked(&mut src, ZERO_SIZE_PTR), Ok(()));
    assert_eq!(s.kfree(&mut src, 0), Ok(()));
    assert_eq!(src.outstanding(), 0);
}

#[test]
fn no_object_is_given_up_to_a_descriptor() {
    // kmalloc-64 (order 0): 64 objects fill the first page exactly, the 65th starts a slab.
    let (mut s, mut src) = setup();
    let objs: Vec<usize> = (0..65).map(|_| s.kmalloc(&mut src, 64).unwrap()).collect();
    let base = objs[0];
    assert_eq!(base % PAGE_SIZE, 0, "object 0 at offset 0");
    for (k, &p) in objs[..64].iter().enumerate() {
        assert_eq!(p, base + 64 * k);
    }
    assert_ne!(objs[64] & !(PAGE_SIZE - 1), base);
    for p in objs {
        s.kfree(&mut src, p).unwrap();
    }
    s.verify(&src).unwrap();
    // And every cache: a new slab holds objperslab objects from offset 0 of its first page,
    // one after the other; the next object starts another slab.
    for index in KMALLOC_CREATION_ORDER {
        let (mut s, mut src) = setup();
        let size = kmalloc_size(index);
        let info = s.cache_info(s.kmalloc_slab(size).unwrap()).unwrap();
        let n = info.objperslab;
        let got: Vec<usize> = (0..=n).map(|_| s.kmalloc(&mut src, size).unwrap()).collect();
        let first = got[0];
        assert_eq!(first % (info.pagesperslab * PAGE_SIZE), 0, "{}", info.name);
        assert!(got[..n].iter().enumerate().all(|(k, &p)| p == first + k * info.objsize));
        assert!(got[n] < first || got[n] >= first + info.pagesperslab * PAGE_SIZE);
        s.verify(&src).unwrap();
    }
}

#[test]
fn the_free_pointer_sits_in_the_middle_of_a_free_object() {
    let (mut s, mut src) = setup();
    let a = s.kmalloc(&mut src, 192).unwrap();
    let b = s.kmalloc(&mut src, 192).unwrap();
    write(a, 192, 0x5a);
    write(b, 192, 0x5a);
    s.kfree(&mut src, a).unwrap();
    s.kfree(&mut src, b).unwrap();
    // b heads the CPU freelist and points at a, from offset 96 (ALIGN_DOWN(192 / 2, word)).
    assert_eq!(read_word(b + 96), a);
    let mut bytes = read(b, 192);
    bytes.drain(96..96 + core::mem::size_of::<usize>());
    assert!(bytes.iter().all(|&x| x == 0x5a), "only the free pointer is written");
    // The next two allocations come back in LIFO order.
    assert_eq!(s.kmalloc(&mut src, 150), Ok(b));
    assert_eq!(s.kmalloc(&mut src, 150), Ok(a));
}

#[test]
fn slab_pages_are_marked_and_owned_in_mem_map() {
    let (mut s, mut src) = setup();
    let p = s.kmalloc(&mut src, 4096).unwrap(); // kmalloc-4k: order-3 slabs
    let pfn = src.pfn(p);
    let head = Pfn(pfn.0 & !7);
    let page = *src.node().page(head).unwrap();
    assert!(page.is_slab());
    assert_eq!(page.owner(), PageOwner::Slab);
    for k in 1..8 {
        assert_eq!(src.head_page(src.addr(head) + k * PAGE_SIZE + 5), HeadPage::Slab { pfn: head });
    }
    // The page allocator refuses every free of it, whoever asks, and changes nothing.
    let before = src.node().nr_free_pages();
    for owner in [PageOwner::Kernel, PageOwner::Console, PageOwner::KmallocLarge] {
        let e = src.node().free_pages_for(owner, head, 3).unwrap_err();
        assert!(e.to_string().starts_with("BUG: Bad page state"), "{e}");
    }
    assert!(src.node().free_pages(pfn, 0).is_err());
    assert_eq!(src.node().nr_free_pages(), before);
    src.node().verify().unwrap();
    s.verify(&src).unwrap();
    assert_eq!(s.ksize(&src, p), Ok(4096));
    s.kfree(&mut src, p).unwrap();
    s.shrink_all(&mut src);
    assert_eq!(src.node().page(head).unwrap().owner(), PageOwner::None);
    assert!(!src.node().page(head).unwrap().is_slab());
}

#[test]
fn kmalloc_large_is_a_compound_block_only_kfree_frees() {
    let (mut s, mut src) = setup();
    let p = s.kmalloc(&mut src, KMALLOC_MAX_CACHE_SIZE + 1).unwrap();
    assert_eq!(p % (4 * PAGE_SIZE), 0);
    assert_eq!(s.ksize(&src, p), Ok(4 * PAGE_SIZE));
    assert_eq!(src.head_page(p + 3 * PAGE_SIZE), HeadPage::Large { addr: p, order: 2 });
    let pfn = src.pfn(p);
    let page = *src.node().page(pfn).unwrap();
    assert_eq!((page.owner(), page.order()), (PageOwner::KmallocLarge, 2));
    let e = src.node().free_pages_for(PageOwner::Console, pfn, 2).unwrap_err();
    assert!(e.to_string().contains("page belongs to kmalloc_large, freed by the console"), "{e}");
    let m = s.meminfo();
    assert_eq!((m.large_pages, m.large_allocs), (4, 1));
    let e = s.kfree(&mut src, p + PAGE_SIZE).unwrap_err();
    assert_eq!(
        e,
        SlabError::InvalidPointer {
            op: "kfree",
            ptr: p + PAGE_SIZE,
            reason: BadPointer::InsideLarge { base: p }
        }
    );
    s.kfree(&mut src, p).unwrap();
    assert_eq!(s.meminfo(), SlabMeminfo::default());
    assert_eq!(src.outstanding(), 0);
    // After the free, the same address is nobody's.
    let e = s.kfree_checked(&mut src, p).unwrap_err();
    assert!(e.to_string().ends_with("(not a slab or kmalloc page: the page is not allocated)"));
}

#[test]
fn the_ceiling_is_kmalloc_max_size_or_the_profile_s() {
    assert_eq!(KMALLOC_MAX_SIZE, PAGE_SIZE << (MAX_ORDER - 1));
    let (mut s, mut src) = (
        Slab::with_config(KmallocConfig::LINUX),
        TestPages::with_pages((KMALLOC_MAX_SIZE / PAGE_SIZE * 2).max(TEST_PAGES)),
    );
    let p = s.kmalloc(&mut src, KMALLOC_MAX_SIZE).unwrap();
    assert_eq!(s.ksize(&src, p), Ok(KMALLOC_MAX_SIZE));
    assert_eq!(p % KMALLOC_MAX_SIZE, 0);
    let big = KMALLOC_MAX_SIZE + 1;
    assert_eq!(
        s.kmalloc(&mut src, big),
        Err(SlabError::TooLarge { size: big, max: KMALLOC_MAX_SIZE })
    );
    assert_eq!(
        s.kmalloc(&mut src, usize::MAX).unwrap_err().to_string(),
        format!("kmalloc: size {} exceeds KMALLOC_MAX_SIZE ({KMALLOC_MAX_SIZE} bytes)", usize::MAX)
    );
    s.kfree(&mut src, p).unwrap();
    // The Android profiles' kernels stopped at 128 KiB.
    let config = KmallocConfig { max_size: 128 << 10, ..KmallocConfig::LINUX };
    let (mut s, mut src) = (Slab::with_config(config), TestPages::new());
    assert!(s.kmalloc(&mut src, 128 << 10).is_ok());
    let e = s.kmalloc(&mut src, 200_000).unwrap_err();
    assert_eq!(e.to_string(), "kmalloc: size 200000 exceeds KMALLOC_MAX_SIZE (131072 bytes)");
    assert_eq!(s.alloc_layout(&mut src, 200_000, 8), None);
}

#[test]
fn kzalloc_zeroes_recycled_memory() {
    let (mut s, mut src) = setup();
    let p = s.kmalloc(&mut src, 64).unwrap();
    write(p, 64, 0xff);
    s.kfree(&mut src, p).unwrap();
    let q = s.kzalloc(&mut src, 40).unwrap();
    assert_eq!(q, p);
    assert!(read(q, 64).iter().all(|&b| b == 0));
    let l = s.kzalloc(&mut src, 3 * PAGE_SIZE).unwrap();
    assert!(read(l, 4 * PAGE_SIZE).iter().all(|&b| b == 0));
}

#[test]
fn bad_pointers_are_refused_and_change_nothing() {
    let (mut s, mut src) = setup();
    let a = s.kmalloc(&mut src, 192).unwrap();
    let b = s.kmalloc(&mut src, 100).unwrap();
    let console = src.node().alloc_pages_for(PageOwner::Console, GfpFlags::GFP_KERNEL, 0).unwrap();
    let console = src.addr(console);
    let slab192 = a & !(PAGE_SIZE - 1);
    let before: Vec<SlabInfo> = s.slabinfo().collect();
    let (meminfo, free) = (s.meminfo(), src.node().nr_free_pages());
    let invalid = |ptr, reason| SlabError::InvalidPointer { op: "kfree", ptr, reason };
    let cases = [
        (0x1234, invalid(0x1234, BadPointer::NoPage)),
        (console, invalid(console, BadPointer::NotSlab { owner: PageOwner::Console })),
        (console + 64, invalid(console + 64, BadPointer::NotSlab { owner: PageOwner::Console })),
        (
            a + 8,
            invalid(a + 8, BadPointer::Misaligned { cache: "kmalloc-192", object: a, offset: 8 }),
        ),
        (
            slab192 + 21 * 192,
            invalid(slab192 + 21 * 192, BadPointer::PastLastObject { cache: "kmalloc-192" }),
        ),
        (a + 192, SlabError::DoubleFree { op: "kfree", ptr: a + 192, cache: "kmalloc-192" }),
    ];
    for (ptr, want) in cases {
        assert_eq!(s.kfree_checked(&mut src, ptr), Err(want), "kfree({ptr:#x})");
        let want_ksize = match want {
            SlabError::InvalidPointer { ptr, reason, .. } => {
                SlabError::InvalidPointer { op: "ksize", ptr, reason }
            }
            SlabError::DoubleFree { ptr, cache, .. } => SlabError::FreeObject { ptr, cache },
            e => e,
        };
        assert_eq!(s.ksize(&src, ptr), Err(want_ksize), "ksize({ptr:#x})");
    }
    // The slab map's own pages are slab-owned but hold no objects.
    let dir = s.map.dir();
    assert_eq!(
        s.kfree(&mut src, dir),
        Err(invalid(dir, BadPointer::NotSlab { owner: PageOwner::Slab }))
    );
    assert_eq!(s.slabinfo().collect::<Vec<_>>(), before);
    assert_eq!((s.meminfo(), src.node().nr_free_pages()), (meminfo, free));
    s.verify(&src).unwrap();
    s.kfree(&mut src, a).unwrap();
    s.kfree(&mut src, b).unwrap();
}

#[test]
fn double_frees_and_free_objects_are_named() {
    let (mut s, mut src) = setup();
    // Two slabs of kmalloc-64: `x` on the CPU slab, `y` on a full one left behind.
    let first: Vec<usize> = (0..64).map(|_| s.kmalloc(&mut src, 64).unwrap()).collect();
    let x = s.kmalloc(&mut src, 64).unwrap();
    let y = first[10];
    s.kfree(&mut src, x).unwrap();
    s.kfree(&mut src, y).unwrap();
    for p in [x, y] {
        let want = SlabError::DoubleFree { op: "kfree", ptr: p, cache: "kmalloc-64" };
        // The head of either freelist is caught even by the trusting kfree.
        assert_eq!(s.kfree(&mut src, p), Err(want));
        assert_eq!(s.kfree_checked(&mut src, p), Err(want));
        let e = s.ksize(&src, p).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("ksize: {p:#010x} is a free kmalloc-64 object (not allocated)")
        );
    }
    // Deeper in a freelist only the checked kfree (the console's) sees it.
    s.kfree(&mut src, first[11]).unwrap();
    assert!(matches!(s.kfree_checked(&mut src, y), Err(SlabError::DoubleFree { .. })));
    s.verify(&src).unwrap();
}

#[test]
fn a_freed_full_slab_goes_to_the_cpu_partial_list_and_counts_as_active() {
    let (mut s, mut src) = setup();
    let ci = s.kmalloc_slab(64).unwrap().index as usize;
    let objs: Vec<usize> = (0..3 * 64).map(|_| s.kmalloc(&mut src, 64).unwrap()).collect();
    let i = info_of(&s, "kmalloc-64");
    assert_eq!((i.active_objs, i.num_objs, i.num_slabs), (192, 192, 3));
    // A free into the first (full, unfrozen) slab freezes it onto the CPU partial list.
    s.kfree(&mut src, objs[0]).unwrap();
    let c = &s.caches[ci];
    assert_eq!((c.cpu.nr_partial, c.node.nr_partial), (1, 0));
    assert_eq!(info_of(&s, "kmalloc-64").active_objs, 192, "CPU partial objects are active");
    assert_eq!(allocated(&s, ci), 191);
    // Flushing moves it to the node partial list: now its free object shows.
    s.flush_cpu_slab(&mut src, ci);
    let c = &s.caches[ci];
    assert_eq!((c.cpu.nr_partial, c.node.nr_partial, c.cpu.slab), (0, 1, NIL));
    assert_eq!(info_of(&s, "kmalloc-64").active_objs, 191);
    s.verify(&src).unwrap();
    // Emptying slabs: the node keeps up to min_partial (5) empty slabs, so all three stay.
    for &p in &objs[1..] {
        s.kfree(&mut src, p).unwrap();
    }
    // The other two slabs were full: their first frees froze them onto the CPU partial
    // list, where their objects still count as active; a flush unfreezes them.
    let i = info_of(&s, "kmalloc-64");
    assert_eq!((i.active_objs, i.num_slabs), (128, 3));
    s.flush_cpu_slab(&mut src, ci);
    let i = info_of(&s, "kmalloc-64");
    assert_eq!((i.active_objs, i.num_slabs), (0, 3));
    s.verify(&src).unwrap();
    // Shrinking gives them all back.
    assert_eq!(s.shrink_all(&mut src), 3);
    assert_eq!(info_of(&s, "kmalloc-64").num_slabs, 0);
    assert_eq!(src.outstanding(), s.meminfo().map_pages);
}

#[test]
fn objects_in_use_are_exact_where_slabinfo_s_active_objects_and_slab_counts_are_not() {
    // The same 110 long-lived objects, allocated in two orders among short-lived ones: how
    // many slabs a shrink leaves depends on the order, the objects in use do not.
    let slabs_left = |interleave: usize| {
        let (mut s, mut src) = setup();
        let ci = s.kmalloc_slab(64).unwrap().index as usize;
        let slot = ci as u8;
        let (mut kept, mut temp) = (Vec::new(), Vec::new());
        for k in 0..110 + 110 * interleave {
            let p = s.kmalloc(&mut src, 64).unwrap();
            if k % (interleave + 1) == 0 && kept.len() < 110 {
                kept.push(p);
            } else {
                temp.push(p);
            }
        }
        for p in temp {
            s.kfree(&mut src, p).unwrap();
        }
        s.shrink_slot(&mut src, slot).unwrap();
        let stat = s.cache_stat(slot).unwrap();
        assert_eq!(stat.objects_inuse, 110);
        assert_eq!(stat.objects_inuse, allocated(&s, ci));
        // One allocation after the shrink loads a partial slab onto the CPU: slabinfo counts
        // all its objects as active, `objects_inuse` the one handed out.
        let one = s.kmalloc(&mut src, 64).unwrap();
        let stat = s.cache_stat(slot).unwrap();
        assert_eq!(stat.objects_inuse, 111);
        assert!(stat.info.active_objs > 111 || stat.info.num_slabs == 2, "{stat:?}");
        s.kfree(&mut src, one).unwrap();
        for p in kept {
            s.kfree(&mut src, p).unwrap();
        }
        assert_eq!(s.cache_stat(slot).unwrap().objects_inuse, 0);
        s.verify(&src).unwrap();
        stat.info.num_slabs
    };
    assert_eq!(slabs_left(0), 2);
    assert_eq!(slabs_left(1), 4);
}

#[test]
fn empty_slabs_beyond_min_partial_are_discarded() {
    let (mut s, mut src) = setup();
    let ci = s.kmalloc_slab(64).unwrap().index as usize;
    let min_partial = s.caches[ci].min_partial;
    let n = 20 * 64;
    let objs: Vec<usize> = (0..n).map(|_| s.kmalloc(&mut src, 64).unwrap()).collect();
    s.flush_cpu_slab(&mut src, ci);
    // One object freed per slab puts every slab on the lists; then empty them all.
    for p in &objs {
        s.kfree(&mut src, *p).unwrap();
    }
    s.flush_cpu_slab(&mut src, ci);
    let i = info_of(&s, "kmalloc-64");
    assert_eq!(i.active_objs, 0);
    assert_eq!(i.num_slabs, min_partial, "{i:?}");
    assert_eq!(s.caches[ci].node.nr_partial, min_partial);
    s.verify(&src).unwrap();
}

#[test]
fn shrink_puts_the_fullest_partial_slabs_first() {
    let (mut s, mut src) = setup();
    let ci = s.kmalloc_slab(1024).unwrap().index as usize;
    let objs: Vec<usize> = (0..4 * 16).map(|_| s.kmalloc(&mut src, 1024).unwrap()).collect();
    s.flush_cpu_slab(&mut src, ci);
    // Slab k keeps k + 1 free objects (slab 3 none: full, on no list).
    for k in 0..3 {
        for j in 0..=k {
            s.kfree(&mut src, objs[k * 16 + j]).unwrap();
        }
    }
    s.flush_cpu_slab(&mut src, ci);
    s.__kmem_cache_shrink(&mut src, ci);
    let mut frees = Vec::new();
    let mut idx = s.caches[ci].node.partial_head;
    while idx != NIL {
        let d = s.desc(idx);
        frees.push(d.objects - d.inuse);
        idx = d.next;
    }
    assert_eq!(frees, [1, 2, 3]);
    s.verify(&src).unwrap();
}

#[test]
fn cache_lifecycle() {
    let (mut s, mut src) = setup();
    let id = s.kmem_cache_create("task_struct", 1000, 32).unwrap();
    let info = s.cache_info(id).unwrap();
    // 1000 bytes: a 1024-byte stride, 16 per order-2 slab (calculate_order with 4 CPUs).
    assert_eq!((info.objsize, info.objperslab, info.pagesperslab), (1024, 16, 4));
    let a = s.kmem_cache_zalloc(&mut src, id).unwrap();
    assert!(read(a, 1000).iter().all(|&b| b == 0));
    let b = s.kmem_cache_alloc(&mut src, id).unwrap();
    assert_eq!(s.ksize(&src, b), Ok(1024));
    let k = s.kmalloc(&mut src, 64).unwrap();
    assert_eq!(
        s.kmem_cache_free(&mut src, id, k),
        Err(SlabError::WrongCache { ptr: k, cache: "task_struct", actual: "kmalloc-64" })
    );
    assert_eq!(
        s.kmem_cache_destroy(&mut src, id),
        Err(SlabError::CacheBusy { name: "task_struct", active: 2 })
    );
    s.kmem_cache_free(&mut src, id, a).unwrap();
    assert!(matches!(s.kmem_cache_free(&mut src, id, a), Err(SlabError::DoubleFree { .. })));
    s.kmem_cache_free(&mut src, id, b).unwrap();
    s.kmem_cache_destroy(&mut src, id).unwrap();
    assert_eq!(
        s.kmem_cache_alloc(&mut src, id),
        Err(SlabError::NoSuchCache { op: "kmem_cache_alloc" })
    );
    // A new cache in the same slot does not revive the old id.
    let id2 = s.kmem_cache_create("again", 8, 0).unwrap();
    assert_eq!(id2.index, id.index);
    assert!(s.kmem_cache_alloc(&mut src, id).is_err());
    let kid = s.kmalloc_slab(64).unwrap();
    assert_eq!(
        s.kmem_cache_destroy(&mut src, kid),
        Err(SlabError::KmallocCache { name: "kmalloc-64" })
    );
    s.kfree(&mut src, k).unwrap();
    s.verify(&src).unwrap();
}

#[test]
fn bad_cache_arguments() {
    let mut s = Slab::with_config(KmallocConfig::LINUX);
    let why = |size, align| match s.clone_create(size, align) {
        Err(SlabError::BadCacheArgs { why, .. }) => why,
        r => panic!("{r:?}"),
    };
    assert_eq!(why(0, 8), "size is zero");
    assert_eq!(why(64, 24), "align is not a power of two");
    assert_eq!(why(64, 2 * PAGE_SIZE), "align is larger than PAGE_SIZE");
    assert_eq!(why(PAGE_SIZE << MAX_ORDER, 8), "object larger than the largest page block");
    for _ in NR_KMALLOC_CACHES..MAX_CACHES {
        s.kmem_cache_create("x", 16, 0).unwrap();
    }
    assert_eq!(s.kmem_cache_create("y", 16, 0), Err(SlabError::TooManyCaches { name: "y" }));
}

impl Slab {
    fn clone_create(&self, size: usize, align: usize) -> Result<CacheId, SlabError> {
        let mut copy = Slab::new();
        copy.caches = self.caches;
        copy.kmem_cache_create("t", size, align)
    }
}

#[test]
fn out_of_memory_is_an_error_not_a_panic() {
    let mut s = Slab::with_config(KmallocConfig::LINUX);
    let mut src = TestPages::with_pages(64);
    let mut got = Vec::new();
    let err = loop {
        match s.kmalloc(&mut src, 2048) {
            Ok(p) => got.push(p),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, SlabError::NoMemory { what: "kmalloc-2k", order: 3 }), "{err}");
    assert!(!got.is_empty());
    assert!(matches!(
        s.kmalloc(&mut src, 64 << 10),
        Err(SlabError::NoMemory { what: "kmalloc_large", .. })
    ));
    s.verify(&src).unwrap();
    for p in got {
        s.kfree(&mut src, p).unwrap();
    }
    s.shrink_all(&mut src);
    assert_eq!(src.outstanding(), s.meminfo().map_pages);
}

#[test]
fn alloc_layout_honours_alignment() {
    let (mut s, mut src) = setup();
    for (size, align) in
        [(1, 1), (24, 8), (100, 64), (150, 128), (40, 256), (3000, 4096), (5000, 16384)]
    {
        let p = s.alloc_layout(&mut src, size, align).unwrap();
        assert_eq!(p % align, 0, "size {size} align {align}");
        assert!(s.ksize(&src, p).unwrap() >= size);
        s.free_layout(&mut src, p, size, align).unwrap();
    }
    assert_eq!(s.alloc_layout(&mut src, 8, 3), None);
    s.verify(&src).unwrap();
}

#[test]
fn krealloc_keeps_contents() {
    let (mut s, mut src) = setup();
    let p = s.kmalloc(&mut src, 50).unwrap();
    write(p, 50, 7);
    assert_eq!(s.krealloc(&mut src, p, 60), Ok(p), "still fits kmalloc-64");
    let q = s.krealloc(&mut src, p, 5000).unwrap();
    assert_ne!(q, p);
    assert!(read(q, 50).iter().all(|&b| b == 7));
    assert_eq!(s.krealloc(&mut src, q, 0), Ok(ZERO_SIZE_PTR));
    s.verify(&src).unwrap();
}

#[test]
fn slabinfo_lists_newest_first_as_6_1_creates_them() {
    let (mut s, mut src) = setup();
    let id = s.kmem_cache_create("dentry", 136, 8).unwrap();
    let names: Vec<&str> = s.slabinfo().map(|i| i.name).collect();
    assert_eq!(
        names,
        [
            "dentry",
            "kmalloc-8k",
            "kmalloc-4k",
            "kmalloc-2k",
            "kmalloc-1k",
            "kmalloc-512",
            "kmalloc-256",
            "kmalloc-192",
            "kmalloc-128",
            "kmalloc-64"
        ]
    );
    // One kmalloc-64 object takes a whole CPU slab: 64 objects active, as SLUB counts them.
    let p = s.kmalloc(&mut src, 10).unwrap();
    let i = info_of(&s, "kmalloc-64");
    assert_eq!(
        i,
        SlabInfo {
            name: "kmalloc-64",
            active_objs: 64,
            num_objs: 64,
            objsize: 64,
            objperslab: 64,
            pagesperslab: 1,
            active_slabs: 1,
            num_slabs: 1
        }
    );
    let d = s.cache_info(id).unwrap();
    assert_eq!((d.objsize, d.objperslab, d.pagesperslab), (136, 30, 1));
    s.kfree(&mut src, p).unwrap();
}

#[test]
fn error_messages_read_like_linux() {
    let cases: [(SlabError, &str); 5] = [
        (
            SlabError::InvalidPointer { op: "kfree", ptr: 0x1234, reason: BadPointer::NoPage },
            "kfree: invalid pointer 0x00001234 (not a lowmem address)",
        ),
        (
            SlabError::DoubleFree { op: "kfree", ptr: 0xc000_1000, cache: "kmalloc-64" },
            "kfree: double free of 0xc0001000 in kmalloc-64",
        ),
        (
            SlabError::FreeObject { ptr: 0xc000_1000, cache: "kmalloc-64" },
            "ksize: 0xc0001000 is a free kmalloc-64 object (not allocated)",
        ),
        (
            SlabError::CacheBusy { name: "c", active: 1 },
            "kmem_cache_destroy c: Slab cache still has objects (1 active)",
        ),
        (
            SlabError::InvalidPointer {
                op: "ksize",
                ptr: 0xc000_2000,
                reason: BadPointer::NotSlab { owner: PageOwner::Console },
            },
            "ksize: invalid pointer 0xc0002000 (not a slab or kmalloc page: the page belongs to \
             the console)",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), want);
    }
}

#[test]
fn a_corrupted_free_pointer_is_cut_off_and_verify_finds_broken_state() {
    let (mut s, mut src) = setup();
    let a = s.kmalloc(&mut src, 64).unwrap();
    let b = s.kmalloc(&mut src, 64).unwrap();
    s.kfree(&mut src, a).unwrap();
    s.verify(&src).unwrap();
    // Write into the free object, as `poke` would: its free pointer now leaves the slab.
    // SAFETY: `a` is a free object in the test arena.
    unsafe { ((a + 32) as *mut usize).write(0x10) };
    assert!(s.verify(&src).unwrap_err().to_string().contains("free pointer outside the slab"));
    let e = s.kmalloc(&mut src, 64).unwrap_err();
    assert!(
        matches!(e, SlabError::FreelistCorrupted { cache: "kmalloc-64", ptr: 0x10, .. }),
        "{e}"
    );
    // The chain is dropped (its objects stay counted in use); the allocator carries on.
    s.verify(&src).unwrap();
    let c = s.kmalloc(&mut src, 64).unwrap();
    assert_ne!(c, a);
    s.kfree(&mut src, b).unwrap();
    s.kfree(&mut src, c).unwrap();
    // A slab page whose PG_slab mark is gone is reported too.
    let head = src.pfn(c & !(PAGE_SIZE - 1));
    src.node().clear_slab(head).unwrap();
    let e = s.verify(&src).unwrap_err();
    assert_eq!(e.what, "a page of the slab is not marked PG_slab in mem_map");
}

#[cfg(test)]
mod model {
    use super::*;
    use proptest::prelude::*;

    /// The ceiling the model runs with: low enough that large blocks stay cheap.
    const MODEL_MAX: usize = 256 << 10;

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
            1 => (MODEL_MAX - 8)..=(MODEL_MAX + 8),
        ]
    }

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
            let usable = self.s.ksize(&self.src, p).unwrap();
            assert!(usable >= requested, "ksize {usable} < {requested}");
            let align = match cache {
                Some(c) => self.caches[c].2.max(ARCH_SLAB_MINALIGN),
                None if usable <= KMALLOC_MAX_CACHE_SIZE && usable.is_power_of_two() => usable,
                None if usable <= KMALLOC_MAX_CACHE_SIZE => ARCH_KMALLOC_MINALIGN,
                None => PAGE_SIZE,
            };
            assert_eq!(p % align, 0, "{p:#x} not aligned to {align}");
            if zeroed {
                assert!(read(p, requested).iter().all(|&b| b == 0));
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

        fn kmalloc_failed(&self, n: usize, e: SlabError) {
            match e {
                SlabError::TooLarge { size, max } => {
                    assert!(size == n && n > MODEL_MAX && max == MODEL_MAX)
                }
                SlabError::NoMemory { .. } => {}
                e => panic!("kmalloc({n}): {e}"),
            }
        }

        fn apply(&mut self, op: Op) {
            match op {
                Op::Kmalloc(n) | Op::Kzalloc(n) => {
                    let z = matches!(op, Op::Kzalloc(_));
                    let src = &mut self.src;
                    let r = if z { self.s.kzalloc(src, n) } else { self.s.kmalloc(src, n) };
                    match r {
                        Ok(ZERO_SIZE_PTR) => assert_eq!(n, 0),
                        Ok(p) => self.add(p, n, None, z),
                        Err(e) => self.kmalloc_failed(n, e),
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
                                self.kmalloc_failed(n, e);
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
                            let a = align.max(ARCH_SLAB_MINALIGN);
                            let stride = size
                                .next_multiple_of(core::mem::size_of::<usize>())
                                .next_multiple_of(a);
                            self.caches.push((id, stride, align));
                        }
                        Err(e) => assert_eq!(e, SlabError::TooManyCaches { name: "prop" }),
                    }
                }
                Op::CacheAlloc(i) => {
                    if !self.caches.is_empty() {
                        let c = i % self.caches.len();
                        match self.s.kmem_cache_alloc(&mut self.src, self.caches[c].0) {
                            Ok(p) => {
                                self.add(p, self.caches[c].1, Some(c), false);
                                assert_eq!(self.s.ksize(&self.src, p), Ok(self.caches[c].1));
                            }
                            Err(e) => assert!(matches!(e, SlabError::NoMemory { .. }), "{e}"),
                        }
                    }
                }
                Op::Destroy(i) => {
                    if !self.caches.is_empty() {
                        let c = i % self.caches.len();
                        let busy = self.live.values().filter(|o| o.cache == Some(c)).count();
                        let r = self.s.kmem_cache_destroy(&mut self.src, self.caches[c].0);
                        if busy == 0 {
                            r.unwrap();
                            // Keep model indices stable: retire by swapping in the last one.
                            let dead = self.caches.swap_remove(c);
                            for o in self.live.values_mut() {
                                if o.cache == Some(self.caches.len()) {
                                    o.cache = Some(c);
                                }
                            }
                            assert!(self.s.kmem_cache_alloc(&mut self.src, dead.0).is_err());
                        } else {
                            assert!(matches!(r, Err(SlabError::CacheBusy { .. })), "{r:?}");
                        }
                    }
                }
                Op::BadFree(i, off) => {
                    if let Some(p) = self.pick(i) {
                        let o = self.live[&p];
                        let q = p + 1 + off % (o.usable + PAGE_SIZE);
                        if !self.live.contains_key(&q) {
                            let r = self.s.kfree_checked(&mut self.src, q);
                            assert!(r.is_err(), "kfree({q:#x}) accepted");
                        }
                    }
                }
                Op::StaleFree(i) => {
                    if !self.freed.is_empty() {
                        let q = self.freed[i % self.freed.len()];
                        assert!(!self.live.contains_key(&q));
                        let r = self.s.kfree_checked(&mut self.src, q);
                        assert!(r.is_err(), "stale kfree({q:#x}) accepted");
                    }
                }
                Op::Shrink => {
                    self.s.shrink_all(&mut self.src);
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
            if let Err(e) = self.s.verify(&self.src) {
                panic!("verify: {e}");
            }
            // No two live objects overlap.
            let mut end = 0;
            for (&p, o) in &self.live {
                assert!(p >= end, "overlap at {p:#x}");
                end = p + o.usable;
            }
            // Objects handed out per cache match the model exactly.
            let mut slab_pages = 0;
            for (ci, c) in self.s.caches.iter().enumerate().filter(|(_, c)| c.live) {
                let model = match self.caches.iter().position(|&(id, ..)| id.index as usize == ci) {
                    Some(m) => self.live.values().filter(|o| o.cache == Some(m)).count(),
                    None if c.kmalloc => self
                        .live
                        .values()
                        .filter(|o| o.cache.is_none() && o.usable == c.size)
                        .count(),
                    None => 0,
                };
                assert_eq!(allocated(&self.s, ci), model, "{}", c.name);
                let info = info(c, &self.s.map);
                assert!(info.active_objs >= model);
                assert_eq!(info.num_objs, info.num_slabs * info.objperslab);
                slab_pages += info.num_slabs * info.pagesperslab;
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
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn slab_matches_reference_model(ops in proptest::collection::vec(op(), 1..300)) {
            let config = KmallocConfig { max_size: MODEL_MAX, ..KmallocConfig::LINUX };
            let mut m = Model {
                s: Slab::with_config(config),
                src: TestPages::with_pages(16384),
                live: BTreeMap::new(),
                caches: Vec::new(),
                freed: Vec::new(),
                next_fill: 0,
            };
            for op in ops {
                m.apply(op);
                m.check();
            }
            let all: Vec<usize> = m.live.keys().copied().collect();
            for p in all {
                m.take(p);
                m.s.kfree(&mut m.src, p).unwrap();
            }
            m.check();
            // After shrinking and destroying, every page is back but the slab map's directory.
            m.s.shrink_all(&mut m.src);
            for &(id, _, _) in &m.caches {
                m.s.kmem_cache_destroy(&mut m.src, id).unwrap();
            }
            let mi = m.s.meminfo();
            prop_assert_eq!((mi.slab_pages, mi.large_pages, mi.large_allocs), (0, 0, 0));
            prop_assert_eq!(m.src.outstanding(), mi.map_pages);
            prop_assert_eq!(m.s.map.chunks(), 0);
        }
    }
}

/// `TestPages` counting the mem_map lookups `kfree` makes (`virt_to_head_page`).
struct CountingPages {
    inner: TestPages,
    lookups: core::cell::Cell<usize>,
}

impl NodeHolder for CountingPages {
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R> {
        self.inner.with_pages(f)
    }

    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R> {
        self.lookups.set(self.lookups.get() + 1);
        self.inner.with_node(f)
    }
}

#[test]
fn kfree_finds_slab_objects_without_mem_map_and_the_rest_through_it() {
    let mut s = Slab::with_config(KmallocConfig::LINUX);
    let mut src = CountingPages { inner: TestPages::new(), lookups: core::cell::Cell::new(0) };
    // Objects of an order-0 slab (kmalloc-64) and of a higher-order one (kmalloc-1k, order 3
    // with four CPUs), the last objects of their slabs included.
    let small: Vec<usize> = (0..70).map(|_| s.kmalloc(&mut src, 64).unwrap()).collect();
    let big: Vec<usize> = (0..20).map(|_| s.kmalloc(&mut src, 1024).unwrap()).collect();
    assert!(s.caches[s.kmalloc_slab(1024).unwrap().index as usize].order > 0);
    let large = s.kmalloc(&mut src, 3 * PAGE_SIZE).unwrap();
    src.lookups.set(0);
    for &p in small.iter().chain(&big) {
        s.kfree(&mut src, p).unwrap();
    }
    assert_eq!(src.lookups.get(), 0, "every slab object found from the slab's own table");
    // A large block, a misaligned pointer and a double free still go through mem_map and
    // get the same answers as before.
    let obj = s.kmalloc(&mut src, 1024).unwrap();
    let invalid = SlabError::InvalidPointer {
        op: "kfree",
        ptr: obj + 8,
        reason: BadPointer::Misaligned { cache: "kmalloc-1k", object: obj, offset: 8 },
    };
    assert_eq!(s.kfree(&mut src, obj + 8), Err(invalid));
    s.kfree(&mut src, obj).unwrap();
    assert_eq!(
        s.kfree(&mut src, obj),
        Err(SlabError::DoubleFree { op: "kfree", ptr: obj, cache: "kmalloc-1k" })
    );
    src.lookups.set(0);
    s.kfree(&mut src, large).unwrap();
    assert_eq!(src.lookups.get(), 1);
    assert_eq!(s.meminfo().large_allocs, 0);
    s.verify(&src).unwrap();
}
