//! Unit tests of the vmap allocator and property tests against a reference model: a sorted
//! list of reserved ranges searched by a naive linear first fit.
use proptest::prelude::*;

use super::*;
use crate::proc::vmallocinfo;

const VSTART: u64 = 0xf080_0000;
const VEND: u64 = 0xff80_0000;
const PAGE: u64 = PAGE_SIZE;
const NEVER: u64 = u64::MAX;

/// A small allocator (62 areas) on the real vmalloc range.
type Small = VmapAllocator<64>;

fn small(lazy: u64) -> Box<Small> {
    let mut v = Box::new(Small::empty());
    v.init(VSTART, VEND, lazy).unwrap();
    v
}

fn vmalloc(v: &mut Small, size: u64, caller: &'static str) -> Result<u64, VmapError> {
    v.get_vm_area(size, VmFlags::VM_ALLOC, caller)
}

fn snap(v: &Small) -> Vec<VmallocArea> {
    let mut out = vec![VmapArea::EMPTY.to_vmalloc_area(); v.len()];
    assert_eq!(v.snapshot(&mut out), v.len());
    out
}

#[test]
fn linux_constants() {
    assert_eq!(IOREMAP_MAX_ORDER, 19);
    assert_eq!(lazy_max_pages(4), 24576);
    assert_eq!(lazy_max_pages(4) * PAGE, 96 << 20);
    assert_eq!(lazy_max_pages(1), 8192);
    assert_eq!(lazy_max_pages(2), 16384);
    assert_eq!(lazy_max_pages(0), 0);
    assert_eq!(get_count_order(0), -1);
    assert_eq!(get_count_order(1), 0);
    assert_eq!(get_count_order(4096), 12);
    assert_eq!(get_count_order(4097), 13);
    assert_eq!(get_count_order(u64::MAX), 64);
    assert_eq!(fls(0), 0);
    assert_eq!(fls(4), 3);
}

#[test]
fn ioremap_alignment_rule() {
    assert_eq!(ioremap_align(0), PAGE);
    assert_eq!(ioremap_align(1), PAGE);
    assert_eq!(ioremap_align(PAGE), PAGE);
    assert_eq!(ioremap_align(PAGE + 1), 2 * PAGE);
    assert_eq!(ioremap_align(3 * PAGE), 4 * PAGE);
    assert_eq!(ioremap_align(64 << 10), 64 << 10);
    assert_eq!(ioremap_align(512 << 10), 512 << 10);
    assert_eq!(ioremap_align(16 << 20), 512 << 10);
    assert_eq!(ioremap_align(u64::MAX), 512 << 10);
}

#[test]
fn vmalloc_areas_get_a_guard_page_and_pack_lowest_first() {
    let mut v = small(NEVER);
    let a = vmalloc(&mut v, 8192, "a").unwrap();
    let b = vmalloc(&mut v, 1, "b").unwrap();
    assert_eq!(a, VSTART);
    assert_eq!(b, VSTART + 3 * PAGE);
    let area = v.find(a).unwrap();
    assert_eq!((area.size(), area.get_vm_area_size()), (3 * PAGE, 2 * PAGE));
    assert_eq!(area.guard_page(), Some(VSTART + 2 * PAGE));
    assert_eq!(area.caller(), "a");
    assert_eq!(v.used_bytes(), 5 * PAGE);
    v.check().unwrap();
}

#[test]
fn no_guard_areas_are_exact() {
    let mut v = small(NEVER);
    let a = v.get_vm_area(PAGE, VmFlags::VM_MAP | VmFlags::VM_NO_GUARD, "m").unwrap();
    let b = v.get_vm_area(PAGE, VmFlags::VM_MAP | VmFlags::VM_NO_GUARD, "m").unwrap();
    assert_eq!(b, a + PAGE);
    let area = v.find(a).unwrap();
    assert_eq!((area.size(), area.get_vm_area_size(), area.guard_page()), (PAGE, PAGE, None));
}

#[test]
fn ioremap_is_aligned_to_its_size_order() {
    let mut v = small(NEVER);
    vmalloc(&mut v, PAGE, "x").unwrap(); // VSTART..+2 pages
    let uart = v.get_vm_area(0x1000, VmFlags::VM_IOREMAP, "uart").unwrap();
    assert_eq!(uart, VSTART + 2 * PAGE);
    let gic = v.get_vm_area(0x9000, VmFlags::VM_IOREMAP, "big").unwrap();
    assert_eq!(gic % 0x10000, 0);
    assert_eq!(gic, VSTART + 0x10000);
    v.set_phys_addr(uart, 0x3f20_1000).unwrap();
    let line = {
        let mut s = String::new();
        vmallocinfo::write_area(&mut s, &v.find(uart).unwrap().to_vmalloc_area()).unwrap();
        s
    };
    assert_eq!(line, "0xf0802000-0xf0804000    8192 uart phys=0x3f201000 ioremap\n");
    // A 1 MiB window is only 512 KiB aligned (IOREMAP_MAX_ORDER).
    let win = v.get_vm_area(1 << 20, VmFlags::VM_IOREMAP, "win").unwrap();
    assert_eq!(win % (512 << 10), 0);
    assert_eq!(win, VSTART + (512 << 10));
    v.check().unwrap();
}

#[test]
fn exact_fit_that_a_size_plus_align_search_would_miss() {
    // A 3-page hole starting 2-page aligned takes a 2-page, 2-page-aligned request, though
    // Linux's `size + align - 1` search length (3 pages + 4095 bytes) says it cannot.
    let mut v = small(0);
    let base = VSTART; // 8 MiB aligned
    let hole = v.alloc_vmap_area(3 * PAGE, PAGE, VmFlags::VM_MAP, "hole").unwrap();
    v.alloc_vmap_area(PAGE, PAGE, VmFlags::VM_MAP, "fence").unwrap();
    assert_eq!(hole, base);
    v.remove_vm_area(hole).unwrap();
    let a = v.alloc_vmap_area(2 * PAGE, 2 * PAGE, VmFlags::VM_MAP, "a").unwrap();
    assert_eq!(a, base);
    v.check().unwrap();
}

#[test]
fn error_texts_read_like_linux() {
    let e = |e: VmapError| e.to_string();
    assert_eq!(
        e(VmapError::NoSpace { size: 393216 }),
        "vmap allocation for size 393216 failed: use vmalloc=<size> to increase size"
    );
    assert_eq!(e(VmapError::BadAddress(0xf080_0123)), "Trying to vfree() bad address (f0800123)");
    assert_eq!(
        e(VmapError::Nonexistent(0xf080_1000)),
        "Trying to vfree() nonexistent vm area (f0801000)"
    );
    assert_eq!(
        e(VmapError::OutOfAreas { size: 8192, capacity: 4096 }),
        "vmap allocation for size 8192 failed: all 4096 vmap_area slots in use"
    );
    assert!(e(VmapError::InvalidAlign { align: 3 }).contains("0x3"));
    assert!(e(VmapError::InvalidSize { size: 5 }).starts_with("vmap allocation for size 5"));
    assert_eq!(
        e(VmapError::InvalidRange { start: 1, end: 0 }),
        "vmalloc: invalid range 0x00000001-0x00000000"
    );
}

#[test]
fn bad_sizes_and_ranges() {
    let mut v = small(NEVER);
    assert_eq!(vmalloc(&mut v, 0, "z"), Err(VmapError::InvalidSize { size: 0 }));
    let total = VEND - VSTART;
    // vmalloc 4G: the size (with its guard page) is more than the range.
    assert_eq!(vmalloc(&mut v, 1 << 32, "big"), Err(VmapError::NoSpace { size: (1 << 32) + PAGE }));
    assert_eq!(vmalloc(&mut v, u64::MAX, "huge"), Err(VmapError::NoSpace { size: u64::MAX }));
    assert_eq!(vmalloc(&mut v, total, "t"), Err(VmapError::NoSpace { size: total + PAGE }));
    assert_eq!(
        v.alloc_vmap_area(PAGE + 1, PAGE, VmFlags::VM_MAP, "u"),
        Err(VmapError::InvalidSize { size: PAGE + 1 })
    );
    for align in [0, 3, 2 * VMAP_MAX_ALIGN] {
        assert_eq!(
            v.alloc_vmap_area(PAGE, align, VmFlags::VM_MAP, "al"),
            Err(VmapError::InvalidAlign { align })
        );
    }
    // Alignments below a page mean a page (vmalloc passes 1).
    assert_eq!(v.alloc_vmap_area(PAGE, 1, VmFlags::VM_MAP, "one"), Ok(VSTART));
    // The whole range in one area.
    v.remove_vm_area(VSTART).unwrap();
    v.purge_vmap_area_lazy();
    assert_eq!(v.get_vm_area(total, VmFlags::VM_MAP | VmFlags::VM_NO_GUARD, "all"), Ok(VSTART));
    assert_eq!(v.largest_free_block(), 0);
    assert_eq!(v.largest_free_gap(), 0);
    assert_eq!(v.len(), 1);
    v.check().unwrap();

    assert!(Small::new(VSTART, VSTART, 0).is_err());
    assert!(Small::new(VSTART + 1, VEND, 0).is_err());
    assert!(Small::new(VEND, VSTART, 0).is_err());
    assert!(Small::new(0, 1 << 45, 0).is_err());
    // Ranges may end just below 2^44 - 512 KiB (aligning a page number must not overflow).
    let top = (MAX_VPN as u64) << PAGE_SHIFT;
    let mut t = Small::new(top - (4 << 20), top, 0).unwrap();
    assert!(Small::new(top - (4 << 20), top + PAGE, 0).is_err());
    let base = top - (4 << 20);
    let aligned = base.next_multiple_of(VMAP_MAX_ALIGN);
    assert!(aligned > base);
    assert_eq!(t.alloc_vmap_area(2 * PAGE, VMAP_MAX_ALIGN, VmFlags::VM_MAP, "top"), Ok(aligned));
    // The hole left below the aligned area is used first.
    assert_eq!(t.alloc_vmap_area(PAGE, PAGE, VmFlags::VM_MAP, "top"), Ok(base));
    let last = t.alloc_vmap_area(top - aligned - 2 * PAGE, PAGE, VmFlags::VM_MAP, "top");
    assert_eq!(last, Ok(aligned + 2 * PAGE));
    t.check().unwrap();
}

#[test]
fn bad_frees_change_nothing() {
    let mut v = small(NEVER);
    let a = vmalloc(&mut v, 2 * PAGE, "a").unwrap();
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    v.remove_vm_area(b).unwrap();
    let before = snap(&v);
    let counters = (v.used_bytes(), v.vmap_lazy_nr(), v.largest_free_block());
    for (addr, err) in [
        (a + 1, VmapError::BadAddress(a + 1)),
        (a + PAGE, VmapError::Nonexistent(a + PAGE)), // inside the area
        (a + 2 * PAGE, VmapError::Nonexistent(a + 2 * PAGE)), // its guard page
        (b, VmapError::Nonexistent(b)),               // double free
        (VEND, VmapError::Nonexistent(VEND)),
        (0, VmapError::Nonexistent(0)),
        (!(PAGE - 1), VmapError::Nonexistent(!(PAGE - 1))),
    ] {
        assert_eq!(v.remove_vm_area(addr), Err(err));
        assert_eq!(snap(&v), before);
        assert_eq!((v.used_bytes(), v.vmap_lazy_nr(), v.largest_free_block()), counters);
    }
    assert_eq!(v.set_nr_pages(b, 1), Err(VmapError::Nonexistent(b)));
    v.check().unwrap();
}

#[test]
fn lazy_free_keeps_the_range_until_the_threshold() {
    // Each 1-page vmalloc is 2 pages with its guard: the third free passes 4 pages.
    let mut v = small(4);
    let a: Vec<u64> = (0..4).map(|_| vmalloc(&mut v, PAGE, "x").unwrap()).collect();
    v.remove_vm_area(a[1]).unwrap();
    v.remove_vm_area(a[2]).unwrap();
    assert_eq!((v.vmap_lazy_nr(), v.nr_lazily_freed(), v.nr_areas()), (4, 2, 2));
    assert!(v.find(a[1]).is_none());
    assert_eq!(v.find_nearest_below(a[1]).unwrap().state(), VmapState::LazilyFreed);
    assert_eq!(v.used_bytes(), 4 * PAGE);
    // Still reserved: a new area goes after the last one, not into the freed ranges.
    assert_eq!(v.largest_free_block(), VEND - (VSTART + 8 * PAGE));
    // VmallocChunk counts lazily freed ranges as free.
    assert_eq!(v.largest_free_gap(), VEND - (VSTART + 8 * PAGE));
    let mut text = String::new();
    vmallocinfo::render(&mut text, &snap(&v)).unwrap();
    assert_eq!(
        text,
        "0xf0800000-0xf0802000    8192 x vmalloc\n\
         0xf0806000-0xf0808000    8192 x vmalloc\n\
         0xf0802000-0xf0804000    8192 unpurged vm_area\n\
         0xf0804000-0xf0806000    8192 unpurged vm_area\n"
    );
    assert!(v.take_purged().is_none());
    v.remove_vm_area(a[3]).unwrap();
    // 6 > 4: purged; a[1..4] merged with the free tail into one block.
    assert_eq!((v.vmap_lazy_nr(), v.nr_lazily_freed(), v.nr_free_blocks()), (0, 0, 1));
    assert_eq!(v.largest_free_block(), VEND - (VSTART + 2 * PAGE));
    let p = v.take_purged().unwrap();
    assert_eq!((p.nr_areas, p.nr_pages, p.start, p.end), (3, 6, a[1], VSTART + 8 * PAGE));
    let mut ranges: Vec<_> = p.ranges().collect();
    ranges.sort();
    assert_eq!(ranges, vec![(a[1], a[2]), (a[2], a[3]), (a[3], a[3] + 2 * PAGE)]);
    assert!(v.take_purged().is_none());
    assert_eq!(vmalloc(&mut v, PAGE, "y").unwrap(), a[1]);
    v.check().unwrap();
}

#[test]
fn threshold_zero_frees_immediately() {
    let mut v = small(0);
    let a = vmalloc(&mut v, PAGE, "a").unwrap();
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    v.remove_vm_area(a).unwrap();
    assert_eq!(v.nr_lazily_freed(), 0);
    assert_eq!(v.take_purged().map(|p| (p.start, p.end)), Some((a, a + 2 * PAGE)));
    assert_eq!(vmalloc(&mut v, PAGE, "c").unwrap(), a);
    assert!(b > a);
    v.check().unwrap();
}

#[test]
fn full_range_purges_and_retries_once() {
    let mut v = small(NEVER);
    let total_pages = (VEND - VSTART) / PAGE;
    let big = v.get_vm_area((total_pages - 3) * PAGE, VmFlags::VM_ALLOC, "big").unwrap();
    let last = vmalloc(&mut v, PAGE, "last").unwrap();
    assert_eq!(v.largest_free_block(), 0);
    v.remove_vm_area(last).unwrap();
    assert_eq!(v.largest_free_block(), 0);
    // No room until the purge the allocation triggers.
    let again = vmalloc(&mut v, PAGE, "again").unwrap();
    assert_eq!(again, last);
    let p = v.take_purged().unwrap();
    assert_eq!((p.start, p.end), (last, last + 2 * PAGE));
    // Still full: the failure is Linux's message, after a purge that found nothing.
    assert_eq!(vmalloc(&mut v, PAGE, "fail"), Err(VmapError::NoSpace { size: 2 * PAGE }));
    assert!(v.take_purged().is_none());
    // A lazily freed area too small to help is purged all the same.
    v.remove_vm_area(again).unwrap();
    assert_eq!(vmalloc(&mut v, 4 * PAGE, "x"), Err(VmapError::NoSpace { size: 5 * PAGE }));
    assert_eq!(v.take_purged().map(|p| p.nr_areas), Some(1));
    assert_eq!(big, VSTART);
    v.check().unwrap();
}

#[test]
fn slot_exhaustion_purges_then_fails() {
    let mut v: VmapAllocator<5> = VmapAllocator::new(VSTART, VEND, NEVER).unwrap();
    assert_eq!(VmapAllocator::<5>::CAPACITY, 3);
    let a: Vec<u64> = (0..3).map(|_| vmalloc_n(&mut v)).collect();
    let err = v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "x");
    assert_eq!(err, Err(VmapError::OutOfAreas { size: 2 * PAGE, capacity: 3 }));
    v.remove_vm_area(a[0]).unwrap();
    assert_eq!(v.len(), 3);
    // The slot held by the lazily freed area comes back through the purge.
    assert_eq!(v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "y"), Ok(a[0]));
    assert!(v.take_purged().is_some());
    v.check().unwrap();

    fn vmalloc_n(v: &mut VmapAllocator<5>) -> u64 {
        v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "n").unwrap()
    }
}

#[test]
fn lookups_name_the_area_an_access_ran_past() {
    let mut v = small(NEVER);
    let a = vmalloc(&mut v, 2 * PAGE, "buf_alloc+0x10/0x40").unwrap();
    let b = v.get_vm_area(PAGE, VmFlags::VM_IOREMAP, "ioremap_uart").unwrap();
    assert!(v.find(VSTART - 1).is_none());
    assert!(v.find_nearest_below(VSTART - 1).is_none());
    assert_eq!(v.find(a + 5).unwrap().va_start(), a);
    // One byte past the usable part: the guard page, still the area's.
    let past = a + 2 * PAGE;
    let hit = v.find(past).unwrap();
    assert_eq!(hit.guard_page(), Some(past));
    assert_eq!(v.find(b + PAGE).map(|x| x.caller()), Some("ioremap_uart"));
    // Beyond every area: nothing contains it, the nearest area below is the last one.
    let far = b + 100 * PAGE;
    assert!(v.find(far).is_none());
    assert_eq!(v.find_nearest_below(far).unwrap().va_start(), b);
    assert!(v.find(u64::MAX).is_none());
    assert_eq!(v.find_nearest_below(u64::MAX).unwrap().va_start(), b);
}

#[test]
fn setters_and_flags() {
    let mut v = small(NEVER);
    let a = v.get_vm_area(3 * PAGE, VmFlags::VM_ALLOC | VmFlags::VM_UNINITIALIZED, "f").unwrap();
    v.set_nr_pages(a, 3).unwrap();
    v.clear_vm_uninitialized_flag(a).unwrap();
    let area = v.find(a).unwrap();
    assert_eq!((area.nr_pages(), area.flags()), (3, VmFlags::VM_ALLOC));
    assert_eq!(v.set_phys_addr(a + PAGE, 0), Err(VmapError::Nonexistent(a + PAGE)));
    let removed = v.remove_vm_area(a).unwrap();
    assert_eq!((removed.va_start(), removed.nr_pages()), (a, 3));
}

#[test]
fn snapshot_feeds_vmallocinfo_and_meminfo() {
    let mut v = small(NEVER);
    let a = vmalloc(&mut v, 8192, "start_kernel+0x550/0x748").unwrap();
    v.set_nr_pages(a, 2).unwrap();
    let io = v.get_vm_area(0x1000, VmFlags::VM_IOREMAP, "bcm2835_timer_init+0x34/0x1f8").unwrap();
    v.set_phys_addr(io, 0x3f00_3000).unwrap();
    let c = vmalloc(&mut v, 5 * PAGE, "c").unwrap();
    vmalloc(&mut v, PAGE, "d").unwrap();
    v.remove_vm_area(c).unwrap();
    let areas = snap(&v);
    assert!(areas.windows(2).all(|w| w[0].start < w[1].start));
    let mut text = String::new();
    vmallocinfo::render(&mut text, &areas).unwrap();
    assert_eq!(
        text,
        "0xf0800000-0xf0803000   12288 start_kernel+0x550/0x748 pages=2 vmalloc\n\
         0xf0803000-0xf0805000    8192 bcm2835_timer_init+0x34/0x1f8 phys=0x3f003000 ioremap\n\
         0xf080b000-0xf080d000    8192 d vmalloc\n\
         0xf0805000-0xf080b000   24576 unpurged vm_area\n"
    );
    let (used, chunk) = vmallocinfo::vmalloc_used_and_chunk(&areas, VSTART, VEND);
    assert_eq!((used, chunk), (v.used_bytes(), v.largest_free_gap()));
    assert_eq!(v.total_bytes(), VEND - VSTART);
    // A short buffer gets the lowest areas.
    let mut two = [VmapArea::EMPTY.to_vmalloc_area(); 2];
    assert_eq!(v.snapshot(&mut two), 2);
    assert_eq!(two[1].start, io);
}

#[test]
fn init_in_place_resets() {
    let mut v = small(NEVER);
    vmalloc(&mut v, PAGE, "a").unwrap();
    v.remove_vm_area(VSTART).unwrap();
    v.init(0xe000_0000, 0xe010_0000, 0).unwrap();
    assert_eq!((v.len(), v.used_bytes(), v.vmap_lazy_nr(), v.has_purged()), (0, 0, 0, false));
    assert_eq!((v.vstart(), v.vend(), v.largest_free_block()), (0xe000_0000, 0xe010_0000, 1 << 20));
    v.check().unwrap();
    static EMPTY: spin::Mutex<Small> = spin::Mutex::new(Small::empty());
    let mut g = EMPTY.lock();
    assert_eq!(
        g.get_vm_area(PAGE, VmFlags::VM_ALLOC, "x"),
        Err(VmapError::NoSpace { size: 2 * PAGE })
    );
    g.init(VSTART, VEND, 0).unwrap();
    assert_eq!(g.get_vm_area(PAGE, VmFlags::VM_ALLOC, "x"), Ok(VSTART));
}

#[test]
fn purge_list_overflow_widens_the_last_range() {
    // 3 slots of purge list; purge 5 areas in two batches without collecting.
    let mut v: VmapAllocator<5> = VmapAllocator::new(VSTART, VEND, NEVER).unwrap();
    let mut addrs = Vec::new();
    for _ in 0..3 {
        addrs.push(v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "x").unwrap());
    }
    for &a in &addrs {
        v.remove_vm_area(a).unwrap();
    }
    v.purge_vmap_area_lazy();
    for _ in 0..3 {
        let a = v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "x").unwrap();
        v.remove_vm_area(a).unwrap();
    }
    v.purge_vmap_area_lazy();
    let p = v.take_purged().unwrap();
    assert_eq!(p.nr_areas, 6);
    let ranges: Vec<_> = p.ranges().collect();
    assert_eq!(ranges.len(), 5);
    for a in addrs {
        assert!(ranges.iter().any(|&(s, e)| s <= a && a + 2 * PAGE <= e));
    }
}

#[test]
fn many_areas_stay_consistent() {
    type Mid = VmapAllocator<1026>;
    let mut v = Box::new(Mid::empty());
    v.init(VSTART, VEND, 0).unwrap();
    let mut live = Vec::new();
    for i in 0..1024u64 {
        live.push(v.get_vm_area((i % 7 + 1) * PAGE, VmFlags::VM_ALLOC, "m").unwrap());
    }
    assert_eq!(
        v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "m").unwrap_err(),
        VmapError::OutOfAreas { size: 2 * PAGE, capacity: 1024 }
    );
    for a in live.iter().step_by(2) {
        v.remove_vm_area(*a).unwrap();
    }
    v.check().unwrap();
    for a in live.iter().skip(1).step_by(2) {
        v.remove_vm_area(*a).unwrap();
    }
    v.check().unwrap();
    assert_eq!((v.len(), v.nr_free_blocks(), v.largest_free_block()), (0, 1, VEND - VSTART));
}

// ---- Property tests against the reference model ----

/// Reference model: reserved ranges (pages) in a sorted Vec, lazily freed ones flagged,
/// first fit by a linear walk over the gaps.
#[derive(Debug)]
struct Model {
    vstart: u64,
    vend: u64,
    /// (start, end, lazily_freed), sorted by start.
    areas: Vec<(u64, u64, bool)>,
    lazy_nr: u64,
    lazy_max: u64,
    cap: usize,
    purged: Vec<(u64, u64)>,
}

impl Model {
    fn has_lazy(&self) -> bool {
        self.areas.iter().any(|a| a.2)
    }

    fn first_fit(&self, pages: u64, align: u64) -> Option<u64> {
        let mut prev = self.vstart;
        let gaps = self.areas.iter().map(|a| (a.0, a.1)).chain([(self.vend, self.vend)]);
        for (s, e) in gaps {
            let a = prev.div_ceil(align) * align;
            if a + pages <= s {
                return Some(a);
            }
            prev = e;
        }
        None
    }

    fn alloc(&mut self, pages: u64, align: u64) -> Result<u64, &'static str> {
        let mut purged = false;
        loop {
            let may_retry = !purged && self.has_lazy();
            let r = if self.areas.len() >= self.cap {
                Err("out of areas")
            } else {
                self.first_fit(pages, align).ok_or("no space")
            };
            match r {
                Ok(a) => {
                    let at = self.areas.partition_point(|x| x.0 < a);
                    self.areas.insert(at, (a, a + pages, false));
                    return Ok(a);
                }
                Err(e) if !may_retry => return Err(e),
                Err(_) => {
                    self.purge();
                    purged = true;
                }
            }
        }
    }

    fn free(&mut self, page: u64) -> Result<(), &'static str> {
        let Some(a) = self.areas.iter_mut().find(|a| a.0 == page && !a.2) else {
            return Err("nonexistent");
        };
        a.2 = true;
        self.lazy_nr += a.1 - a.0;
        if self.lazy_nr > self.lazy_max {
            self.purge();
        }
        Ok(())
    }

    fn purge(&mut self) {
        for a in self.areas.iter().filter(|a| a.2) {
            self.purged.push((a.0, a.1));
        }
        self.areas.retain(|a| !a.2);
        self.lazy_nr = 0;
    }

    fn largest_gap(&self, count_lazy_as_free: bool) -> u64 {
        let mut prev = self.vstart;
        let mut best = 0;
        for a in self.areas.iter().filter(|a| !(count_lazy_as_free && a.2)) {
            best = best.max(a.0 - prev);
            prev = a.1;
        }
        best.max(self.vend - prev)
    }

    fn used(&self) -> u64 {
        self.areas.iter().filter(|a| !a.2).map(|a| a.1 - a.0).sum()
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// vmalloc (0), ioremap (1), no-guard vmap (2) of `pages`.
    Get {
        kind: u8,
        pages: u64,
    },
    /// Raw alloc_vmap_area with an explicit alignment order (pages).
    Raw {
        pages: u64,
        align_order: u32,
    },
    /// Free the `pick`-th live area (mod their count).
    Free {
        pick: usize,
    },
    /// Free a wild address: page `page` of the range plus `byte` bytes.
    Wild {
        page: u64,
        byte: u64,
    },
    Purge,
    Take,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 1u64..10).prop_map(|(kind, pages)| Op::Get { kind, pages }),
        2 => (1u64..24, 0u32..8).prop_map(|(pages, align_order)| Op::Raw { pages, align_order }),
        4 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        1 => (0u64..600, prop_oneof![Just(0u64), 1u64..4096]).prop_map(|(page, byte)| Op::Wild { page, byte }),
        1 => Just(Op::Purge),
        1 => Just(Op::Take),
    ]
}

/// 30 areas: small enough to run out of slots as well as of room.
type Prop = VmapAllocator<32>;

fn check_against(v: &Prop, m: &Model) -> Result<(), TestCaseError> {
    v.check().map_err(TestCaseError::fail)?;
    let got: Vec<(u64, u64, bool)> = v
        .iter()
        .map(|a| (a.va_start() / PAGE, a.va_end() / PAGE, a.state() == VmapState::LazilyFreed))
        .collect();
    prop_assert_eq!(&got, &m.areas);
    prop_assert_eq!(v.used_bytes(), m.used() * PAGE);
    prop_assert_eq!(v.vmap_lazy_nr(), m.lazy_nr);
    prop_assert_eq!(v.largest_free_block(), m.largest_gap(false) * PAGE);
    prop_assert_eq!(v.largest_free_gap(), m.largest_gap(true) * PAGE);
    let mut snap = vec![VmapArea::EMPTY.to_vmalloc_area(); v.len()];
    v.snapshot(&mut snap);
    let (used, chunk) = vmallocinfo::vmalloc_used_and_chunk(&snap, v.vstart(), v.vend());
    prop_assert_eq!((used, chunk), (v.used_bytes(), v.largest_free_gap()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference_model(
        // Range start: an odd page offset too, so alignment is relative to real addresses.
        start_page in 0u64..2048,
        len_pages in 16u64..512,
        lazy_max in prop_oneof![Just(0u64), 1u64..16, 16u64..128, Just(NEVER)],
        ops in proptest::collection::vec(op(), 1..160),
    ) {
        let vstart = 0xf000_0000 + start_page * PAGE;
        let vend = vstart + len_pages * PAGE;
        let mut v = Box::new(Prop::empty());
        v.init(vstart, vend, lazy_max).unwrap();
        let mut m = Model {
            vstart: vstart / PAGE,
            vend: vend / PAGE,
            areas: Vec::new(),
            lazy_nr: 0,
            lazy_max,
            cap: Prop::CAPACITY,
            purged: Vec::new(),
        };
        for op in ops {
            match op {
                Op::Get { kind, pages } => {
                    let (flags, total, align) = match kind {
                        0 => (VmFlags::VM_ALLOC, pages + 1, 1),
                        1 => (VmFlags::VM_IOREMAP, pages + 1, pages.next_power_of_two().min(128)),
                        _ => (VmFlags::VM_MAP | VmFlags::VM_NO_GUARD, pages, 1),
                    };
                    let got = v.get_vm_area(pages * PAGE, flags, "p");
                    let want = m.alloc(total, align);
                    match (got, want) {
                        (Ok(a), Ok(b)) => {
                            prop_assert_eq!(a, b * PAGE);
                            let area = v.find(a).unwrap();
                            prop_assert_eq!(area.get_vm_area_size(), pages * PAGE);
                            prop_assert_eq!(area.flags(), flags);
                        }
                        (Err(VmapError::NoSpace { size }), Err("no space")) => {
                            prop_assert_eq!(size, total * PAGE)
                        }
                        (Err(VmapError::OutOfAreas { .. }), Err("out of areas")) => {}
                        (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
                    }
                }
                Op::Raw { pages, align_order } => {
                    let got = v.alloc_vmap_area(pages * PAGE, PAGE << align_order, VmFlags::VM_MAP, "");
                    let want = m.alloc(pages, 1 << align_order);
                    match (got, want) {
                        (Ok(a), Ok(b)) => prop_assert_eq!(a, b * PAGE),
                        (Err(VmapError::NoSpace { .. }), Err("no space")) => {}
                        (Err(VmapError::OutOfAreas { .. }), Err("out of areas")) => {}
                        (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
                    }
                }
                Op::Free { pick } => {
                    let live: Vec<u64> = m.areas.iter().filter(|a| !a.2).map(|a| a.0).collect();
                    if live.is_empty() {
                        continue;
                    }
                    let page = live[pick % live.len()];
                    let area = *v.find(page * PAGE).unwrap();
                    prop_assert_eq!(v.remove_vm_area(page * PAGE), Ok(area));
                    m.free(page).unwrap();
                }
                Op::Wild { page, byte } => {
                    let addr = vstart + page * PAGE + byte;
                    let before: Vec<VmapArea> = v.iter().copied().collect();
                    let got = v.remove_vm_area(addr);
                    if byte != 0 {
                        prop_assert_eq!(got, Err(VmapError::BadAddress(addr)));
                    } else {
                        match m.free(addr / PAGE) {
                            Ok(()) => prop_assert!(got.is_ok()),
                            Err(_) => prop_assert_eq!(got, Err(VmapError::Nonexistent(addr))),
                        }
                    }
                    if got.is_err() {
                        let after: Vec<VmapArea> = v.iter().copied().collect();
                        prop_assert_eq!(before, after);
                    }
                }
                Op::Purge => {
                    let n = v.purge_vmap_area_lazy();
                    let before = m.purged.len();
                    m.purge();
                    prop_assert_eq!(n, m.purged.len() - before);
                }
                Op::Take => {
                    let mut want = core::mem::take(&mut m.purged);
                    match v.take_purged() {
                        None => prop_assert!(want.is_empty()),
                        Some(p) => {
                            prop_assert_eq!(p.nr_areas, want.len());
                            prop_assert_eq!(p.nr_pages, want.iter().map(|r| r.1 - r.0).sum::<u64>());
                            let mut got: Vec<(u64, u64)> =
                                p.ranges().map(|(s, e)| (s / PAGE, e / PAGE)).collect();
                            got.sort();
                            want.sort();
                            // The list holds every range unless it overflowed (then the
                            // last entry covers the rest).
                            if want.len() <= 32 {
                                prop_assert_eq!(&got, &want);
                            }
                            let lo = want.iter().map(|r| r.0).min().unwrap();
                            let hi = want.iter().map(|r| r.1).max().unwrap();
                            prop_assert_eq!((p.start / PAGE, p.end / PAGE), (lo, hi));
                        }
                    }
                }
            }
            check_against(&v, &m)?;
        }
    }
}
