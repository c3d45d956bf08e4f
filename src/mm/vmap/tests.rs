//! Unit tests of the vmap allocator, and property tests against a reference model: sorted
//! lists of live and lazily freed ranges searched by a naive linear first fit, purged with
//! one flush each.
use core::cell::Cell;

use proptest::prelude::*;

use super::*;

const VSTART: u64 = 0xf080_0000;
const VEND: u64 = 0xff80_0000;
const PAGE: u64 = PAGE_SIZE;
const NEVER: u64 = u64::MAX;

thread_local! {
    /// Allocations `try_box` lets through before failing (None: all of them).
    static ALLOCS_LEFT: Cell<Option<u32>> = const { Cell::new(None) };
}

/// `try_box`'s failure injection: true once the budget set by `fail_after` is spent.
pub(super) fn alloc_should_fail() -> bool {
    ALLOCS_LEFT.with(|c| match c.get() {
        Some(0) => true,
        Some(n) => {
            c.set(Some(n - 1));
            false
        }
        None => false,
    })
}

/// Lets `n` more allocations succeed on this thread, then fails every one (None: no limit).
fn fail_after(n: Option<u32>) {
    ALLOCS_LEFT.with(|c| c.set(n));
}

/// Records every flush.
#[derive(Default)]
struct Flushes(Vec<(u64, u64)>);

impl TlbFlush for Flushes {
    fn flush_tlb_kernel_range(&mut self, start: u64, end: u64) {
        self.0.push((start, end));
    }
}

fn vmap(lazy: u64) -> VmapAllocator {
    VmapAllocator::new(VSTART, VEND, lazy).unwrap()
}

fn vmalloc(v: &mut VmapAllocator, size: u64, caller: &'static str) -> Result<u64, VmapError> {
    v.get_vm_area(size, VmFlags::VM_ALLOC, caller.into(), &mut Flushes::default())
}

fn vfree(v: &mut VmapAllocator, addr: u64, f: &mut Flushes) -> Result<Box<VmStruct>, VmapError> {
    v.remove_vm_area(addr, f)
}

fn live(v: &VmapAllocator) -> Vec<(u64, u64)> {
    v.areas().map(|a| (a.va_start(), a.va_end())).collect()
}

fn ok(v: &VmapAllocator) {
    assert_eq!(v.verify(), Ok(()));
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
    let mut v = vmap(NEVER);
    let a = vmalloc(&mut v, 1, "a").unwrap();
    let b = vmalloc(&mut v, 8192, "b").unwrap();
    let c = vmalloc(&mut v, 4097, "c").unwrap();
    assert_eq!((a, b, c), (VSTART, VSTART + 2 * PAGE, VSTART + 5 * PAGE));
    let area = v.find_vm_area(b).unwrap();
    assert_eq!((area.size(), area.get_vm_area_size()), (3 * PAGE, 2 * PAGE));
    assert_eq!(area.vm().unwrap().caller, Caller::Name("b"));
    assert!(area.vm().unwrap().flags.contains(VmFlags::VM_ALLOC));
    assert_eq!(v.used_bytes(), 8 * PAGE);
    assert_eq!(v.nr_areas(), 3);
    ok(&v);
}

#[test]
fn no_guard_areas_are_exact() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    let a = v.get_vm_area(PAGE, VmFlags::VM_ALLOC | VmFlags::VM_NO_GUARD, "a".into(), &mut f);
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    assert_eq!((a, b), (Ok(VSTART), VSTART + PAGE));
    assert_eq!(v.find_vm_area(VSTART).unwrap().get_vm_area_size(), PAGE);
    ok(&v);
}

#[test]
fn ioremap_is_aligned_to_its_size_order() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    vmalloc(&mut v, PAGE, "pad").unwrap();
    let io64 = v.get_vm_area(0x10000, VmFlags::VM_IOREMAP, "io".into(), &mut f).unwrap();
    assert_eq!(io64, VSTART + 0x10000);
    let io1m = v.get_vm_area(1 << 20, VmFlags::VM_IOREMAP, "io".into(), &mut f).unwrap();
    assert_eq!(io1m % (512 << 10), 0);
    assert_eq!(io1m, VSTART + 0x80000);
    // The hole before the 64K ioremap still takes small areas.
    assert_eq!(vmalloc(&mut v, PAGE, "x").unwrap(), VSTART + 2 * PAGE);
    ok(&v);
}

#[test]
fn exact_fit_that_a_size_plus_align_search_would_miss() {
    // A 64 KiB-aligned free block of exactly 64 KiB + guard: Linux's `size + align - 1`
    // search would skip it; the per-alignment maxima find it.
    let mut v = VmapAllocator::new(VSTART, VSTART + 0x11000, NEVER).unwrap();
    let mut f = Flushes::default();
    let a = v.get_vm_area(0x10000, VmFlags::VM_IOREMAP, "io".into(), &mut f);
    assert_eq!(a, Ok(VSTART));
    ok(&v);
}

#[test]
fn error_texts_read_like_linux() {
    let texts = [
        (
            VmapError::NoSpace { size: 8192 },
            "vmap allocation for size 8192 failed: use vmalloc=<size> to increase size",
        ),
        (VmapError::Nonexistent(0xf080_1000), "Trying to vfree() nonexistent vm area (f0801000)"),
        (VmapError::BadAddress(0x1234), "Trying to vfree() bad address (00001234)"),
        (
            VmapError::NoMemory { what: "vm_struct", size: 4096 },
            "vmap allocation for size 4096 failed: no memory for the vm_struct",
        ),
    ];
    for (e, t) in texts {
        assert_eq!(e.to_string(), t);
    }
}

/// Page numbers are as wide as addresses: arm64's vmalloc range (VA_BITS=48, from
/// 0xffff800008000000), far above what 32-bit page numbers can name, is managed like the
/// 32-bit kernel's when the machine's addresses are 64 bits wide.
#[test]
fn page_numbers_are_not_limited_to_32_bits() {
    const ARM64_VMALLOC_START: u64 = 0xffff_8000_0800_0000;
    const ARM64_VMALLOC_END: u64 = 0xffff_fbff_bfff_0000;
    let v = VmapAllocator::new(ARM64_VMALLOC_START, ARM64_VMALLOC_END, NEVER);
    if usize::BITS < 64 {
        assert!(v.is_err(), "a 32-bit machine cannot name those pages");
        return;
    }
    let mut v = v.unwrap();
    let a = vmalloc(&mut v, 3 * PAGE, "big").unwrap();
    assert_eq!(a, ARM64_VMALLOC_START);
    let b = vmalloc(&mut v, PAGE, "big").unwrap();
    assert_eq!(b, a + 4 * PAGE, "after a's three pages and its guard page");
    assert_eq!(v.find_vmap_area(a + 3 * PAGE).map(|x| x.va_start()), Some(a));
    assert!(matches!(v.fault_site(a + 3 * PAGE), FaultSite::GuardPage(_)));
    ok(&v);
}

#[test]
fn bad_sizes_and_ranges() {
    assert!(VmapAllocator::new(VSTART, VSTART, 0).is_err());
    assert!(VmapAllocator::new(VSTART + 1, VEND, 0).is_err());
    // A range must leave room to align its last page (and its addresses must fit a u64).
    let top = !(PAGE - 1);
    assert!(VmapAllocator::new(top - 16 * PAGE, top, 0).is_err());
    let mut v = vmap(NEVER);
    assert_eq!(vmalloc(&mut v, 0, "z"), Err(VmapError::InvalidSize { size: 0 }));
    assert_eq!(vmalloc(&mut v, u64::MAX, "z"), Err(VmapError::NoSpace { size: u64::MAX }));
    assert_eq!(
        vmalloc(&mut v, VEND - VSTART, "z"),
        Err(VmapError::NoSpace { size: VEND - VSTART + PAGE })
    );
    assert_eq!(vmalloc(&mut v, VEND - VSTART - PAGE, "z"), Ok(VSTART));
    ok(&v);
}

#[test]
fn bad_frees_change_nothing() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    let a = vmalloc(&mut v, 2 * PAGE, "a").unwrap();
    let before = live(&v);
    assert_eq!(vfree(&mut v, a + 1, &mut f).unwrap_err(), VmapError::BadAddress(a + 1));
    assert_eq!(vfree(&mut v, a + PAGE, &mut f).unwrap_err(), VmapError::Nonexistent(a + PAGE));
    assert_eq!(vfree(&mut v, VEND, &mut f).unwrap_err(), VmapError::Nonexistent(VEND));
    assert_eq!(vfree(&mut v, 1 << 52, &mut f).unwrap_err(), VmapError::Nonexistent(1 << 52));
    assert_eq!(live(&v), before);
    vfree(&mut v, a, &mut f).unwrap();
    assert_eq!(vfree(&mut v, a, &mut f).unwrap_err(), VmapError::Nonexistent(a));
    assert!(f.0.is_empty());
    ok(&v);
}

/// 6.1's lazy free: the range leaves the busy tree at once, waits (merged with its
/// neighbours) in the purge tree, and the purge flushes the TLB once over the whole span.
#[test]
fn lazily_freed_ranges_merge_and_purge_with_one_flush() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    let a: Vec<u64> = (0..5).map(|_| vmalloc(&mut v, PAGE, "a").unwrap()).collect();
    for &x in &[a[1], a[2], a[4]] {
        let vm = vfree(&mut v, x, &mut f).unwrap();
        assert_eq!(vm.caller, Caller::Name("a"));
    }
    assert!(f.0.is_empty(), "vfree must not flush");
    assert!(v.find_vm_area(a[1]).is_none());
    // a[1] and a[2] were neighbours: one range.
    assert_eq!(v.unpurged().collect::<Vec<_>>(), [(a[1], a[3]), (a[4], a[4] + 2 * PAGE)]);
    assert_eq!((v.nr_lazily_freed(), v.nr_unpurged_ranges(), v.vmap_lazy_nr()), (3, 2, 6));
    ok(&v);
    // The space is still reserved: the next area goes after a[4].
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    assert_eq!(b, a[4] + 2 * PAGE);
    let p = v.purge_vmap_area_lazy(&mut f).unwrap();
    assert_eq!(
        p,
        Purge { nr_areas: 3, nr_ranges: 2, nr_pages: 6, start: a[1], end: a[4] + 2 * PAGE }
    );
    assert_eq!(f.0, [(a[1], a[4] + 2 * PAGE)]);
    assert_eq!(v.stats(), VmapStats { nr_purges: 1, nr_tlb_flushes: 1 });
    // Nothing left: no flush.
    assert_eq!(v.purge_vmap_area_lazy(&mut f), None);
    assert_eq!(f.0.len(), 1);
    assert_eq!(vmalloc(&mut v, 3 * PAGE, "c").unwrap(), a[1]);
    ok(&v);
}

#[test]
fn threshold_purges_everything_in_one_batch() {
    let mut v = vmap(5);
    let mut f = Flushes::default();
    let a = vmalloc(&mut v, 2 * PAGE, "a").unwrap(); // 3 pages with the guard
    let b = vmalloc(&mut v, PAGE, "b").unwrap(); // 2
    let c = vmalloc(&mut v, PAGE, "c").unwrap(); // 2
    vfree(&mut v, a, &mut f).unwrap();
    vfree(&mut v, b, &mut f).unwrap(); // 5: not above the threshold
    assert_eq!(v.vmap_lazy_nr(), 5);
    assert!(f.0.is_empty());
    vfree(&mut v, c, &mut f).unwrap(); // 7 > 5
    assert_eq!(f.0, [(a, c + 2 * PAGE)]);
    assert_eq!(v.vmap_lazy_nr(), 0);
    assert_eq!(v.nr_free_blocks(), 1);
    ok(&v);
}

#[test]
fn threshold_zero_purges_at_every_free() {
    let mut v = vmap(0);
    let mut f = Flushes::default();
    let a = vmalloc(&mut v, PAGE, "a").unwrap();
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    vfree(&mut v, b, &mut f).unwrap();
    vfree(&mut v, a, &mut f).unwrap();
    assert_eq!(f.0, [(b, b + 2 * PAGE), (a, a + 2 * PAGE)]);
    assert_eq!(v.stats().nr_tlb_flushes, 2);
    assert_eq!(v.nr_unpurged_ranges(), 0);
    ok(&v);
}

#[test]
fn full_range_purges_and_retries_once() {
    let mut v = VmapAllocator::new(VSTART, VSTART + 8 * PAGE, NEVER).unwrap();
    let mut f = Flushes::default();
    let a: Vec<u64> = (0..4).map(|_| vmalloc(&mut v, PAGE, "a").unwrap()).collect();
    assert_eq!(vmalloc(&mut v, PAGE, "x"), Err(VmapError::NoSpace { size: 2 * PAGE }));
    vfree(&mut v, a[0], &mut f).unwrap();
    vfree(&mut v, a[1], &mut f).unwrap();
    let got = v.get_vm_area(3 * PAGE, VmFlags::VM_ALLOC, "big".into(), &mut f);
    assert_eq!(got, Ok(VSTART));
    assert_eq!(f.0, [(a[0], a[2])]);
    // Nothing lazily freed: no purge, no flush, the plain error.
    assert_eq!(
        v.get_vm_area(PAGE, VmFlags::VM_ALLOC, "x".into(), &mut f),
        Err(VmapError::NoSpace { size: 2 * PAGE })
    );
    assert_eq!(f.0.len(), 1);
    ok(&v);
}

#[test]
fn running_out_of_memory_for_the_bookkeeping_changes_nothing() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    let a = vmalloc(&mut v, PAGE, "a").unwrap();
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    vfree(&mut v, a, &mut f).unwrap();
    let before = (live(&v), v.unpurged().collect::<Vec<_>>(), v.nr_free_blocks());
    // 0: the vm_struct; 1: the vmap_area; 2: the second free block of a split (an ioremap
    // aligned past the free block's start leaves room on both sides).
    for (budget, what) in [(0, "vm_struct"), (1, "vmap_area"), (2, "vmap_area")] {
        fail_after(Some(budget));
        let r = v.get_vm_area(0x10000, VmFlags::VM_IOREMAP, "io".into(), &mut f);
        fail_after(None);
        assert_eq!(
            r,
            Err(VmapError::NoMemory { what, size: 0x10000 + if budget == 0 { 0 } else { PAGE } })
        );
        assert_eq!((live(&v), v.unpurged().collect::<Vec<_>>(), v.nr_free_blocks()), before);
        ok(&v);
    }
    assert!(v.get_vm_area(0x10000, VmFlags::VM_IOREMAP, "io".into(), &mut f).is_ok());
    vfree(&mut v, b, &mut f).unwrap();
    ok(&v);
    // init fails cleanly too.
    fail_after(Some(0));
    assert_eq!(
        VmapAllocator::new(VSTART, VEND, 0).err(),
        Some(VmapError::NoMemory { what: "vmap_area", size: VEND - VSTART })
    );
    fail_after(None);
}

#[test]
fn vm_struct_fields_and_counters() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    let a = vmalloc(&mut v, 3 * PAGE, "a").unwrap();
    assert!(v.find_vm_area(a).unwrap().vm().unwrap().flags == VmFlags::VM_ALLOC);
    v.set_nr_pages(a, 3).unwrap();
    let b = v
        .get_vm_area(PAGE, VmFlags::VM_ALLOC | VmFlags::VM_UNINITIALIZED, "b".into(), &mut f)
        .unwrap();
    v.set_nr_pages(b, 1).unwrap();
    v.update_vm(b, |vm| vm.pages = Some(PagesArray { addr: 0x1000, vmalloced: false })).unwrap();
    v.clear_vm_uninitialized_flag(b).unwrap();
    assert_eq!(v.find_vm_area(b).unwrap().vm().unwrap().flags, VmFlags::VM_ALLOC);
    assert_eq!(v.vmalloc_nr_pages(), 4);
    assert_eq!(v.set_nr_pages(b + PAGE, 1), Err(VmapError::Nonexistent(b + PAGE)));
    let vm = vfree(&mut v, a, &mut f).unwrap();
    assert_eq!(vm.nr_pages, 3);
    assert_eq!(v.vmalloc_nr_pages(), 1);
    // 6.1 semantics next to the historic ones.
    assert_eq!(v.used_bytes(), 2 * PAGE);
    assert_eq!(v.largest_free_gap(), VEND - VSTART - 2 * PAGE - 4 * PAGE);
    assert_eq!(v.largest_free_block(), VEND - VSTART - 6 * PAGE);
    ok(&v);
}

/// 16.11: an oops names an area only when the address is in it, its guard page, or the page
/// right before or after it; a purged area's range is nobody's.
#[test]
fn fault_sites() {
    let mut v = vmap(NEVER);
    let mut f = Flushes::default();
    let a = vmalloc(&mut v, 2 * PAGE, "a").unwrap();
    let gap = vmalloc(&mut v, 4 * PAGE, "gap").unwrap();
    let b = vmalloc(&mut v, PAGE, "b").unwrap();
    vfree(&mut v, gap, &mut f).unwrap();
    let name = |s: FaultSite<'_>| -> (&'static str, u64) {
        match s {
            FaultSite::Inside(x) => ("inside", x.va_start()),
            FaultSite::GuardPage(x) => ("guard", x.va_start()),
            FaultSite::PastEnd(x) => ("past", x.va_start()),
            FaultSite::Before(x) => ("before", x.va_start()),
            FaultSite::Unpurged { start, .. } => ("unpurged", start),
            FaultSite::Unused => ("unused", 0),
            FaultSite::Outside => ("outside", 0),
        }
    };
    assert_eq!(name(v.fault_site(a + 8)), ("inside", a));
    assert_eq!(name(v.fault_site(a + 2 * PAGE + 4)), ("guard", a));
    assert_eq!(name(v.fault_site(gap + 3 * PAGE)), ("unpurged", gap));
    v.purge_vmap_area_lazy(&mut f).unwrap();
    // The purged area's first page is right after a; its middle is nobody's; its last page
    // is right before b.
    assert_eq!(name(v.fault_site(gap)), ("past", a));
    assert_eq!(name(v.fault_site(gap + 2 * PAGE)), ("unused", 0));
    assert_eq!(name(v.fault_site(b - 1)), ("before", b));
    assert_eq!(name(v.fault_site(b + PAGE)), ("guard", b));
    assert_eq!(name(v.fault_site(b + 2 * PAGE)), ("past", b));
    // The last byte of the range, a GiB away from every area.
    assert_eq!(name(v.fault_site(VEND - 1)), ("unused", 0));
    assert_eq!(name(v.fault_site(VEND)), ("outside", 0));
    assert_eq!(name(v.fault_site(VSTART - 1)), ("outside", 0));
}

#[test]
fn verify_reports_the_first_broken_invariant() {
    let mut v = vmap(NEVER);
    let a = vmalloc(&mut v, PAGE, "a").unwrap();
    ok(&v);
    v.used_pages += 1;
    assert_eq!(
        v.verify().unwrap_err().to_string(),
        format!("vmap: used page count differs from the live areas at {VSTART:#010x}")
    );
    v.used_pages -= 1;
    v.busy.update((a >> PAGE_SHIFT) as Vpn, |x| x.end += 1);
    assert_eq!(v.verify().unwrap_err().what, "ranges do not tile the vmalloc range");
}

// ---------------------------------------------------------------------------------------------
// Property tests against a reference model.

/// Live and lazily freed ranges in sorted lists, linear first fit, purge = forget the lazy ones.
struct Model {
    start: u64,
    end: u64,
    lazy_max: u64,
    live: Vec<(u64, u64)>,
    lazy: Vec<(u64, u64)>,
    flushes: Vec<(u64, u64)>,
}

impl Model {
    fn reserved(&self) -> Vec<(u64, u64)> {
        let mut r: Vec<_> = self.live.iter().chain(&self.lazy).copied().collect();
        r.sort();
        r
    }

    fn first_fit(&self, pages: u64, align: u64) -> Option<u64> {
        let mut prev = self.start;
        for (s, e) in self.reserved().into_iter().chain([(self.end, self.end)]) {
            let a = prev.next_multiple_of(align * PAGE);
            if a + pages * PAGE <= s {
                return Some(a);
            }
            prev = e;
        }
        None
    }

    fn purge(&mut self) {
        if let (Some(s), Some(e)) =
            (self.lazy.iter().map(|r| r.0).min(), self.lazy.iter().map(|r| r.1).max())
        {
            self.flushes.push((s, e));
        }
        self.lazy.clear();
    }

    fn alloc(&mut self, pages: u64, align: u64) -> Option<u64> {
        let a = self.first_fit(pages, align).or_else(|| {
            if self.lazy.is_empty() {
                return None;
            }
            self.purge();
            self.first_fit(pages, align)
        })?;
        self.live.push((a, a + pages * PAGE));
        self.live.sort();
        Some(a)
    }

    fn free(&mut self, i: usize) -> Option<u64> {
        if self.live.is_empty() {
            return None;
        }
        let r = self.live.remove(i % self.live.len());
        self.lazy.push(r);
        let pages: u64 = self.lazy.iter().map(|(s, e)| (e - s) / PAGE).sum();
        if pages > self.lazy_max {
            self.purge();
        }
        Some(r.0)
    }

    /// The lazily freed ranges merged with their neighbours, as the purge tree holds them.
    fn unpurged(&self) -> Vec<(u64, u64)> {
        let mut l = self.lazy.clone();
        l.sort();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (s, e) in l {
            match out.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => out.push((s, e)),
            }
        }
        out
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// pages (with the guard) and alignment in pages.
    Alloc(u64, u64),
    Free(usize),
    Purge,
    /// An allocation with the bookkeeping allocation number `n` failing.
    AllocNoMemory(u64, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..12u64, prop_oneof![Just(1u64), Just(2), Just(4), Just(16)])
            .prop_map(|(p, a)| Op::Alloc(p, a)),
        3 => any::<usize>().prop_map(Op::Free),
        1 => Just(Op::Purge),
        1 => (1..6u64, 0..3u32).prop_map(|(p, n)| Op::AllocNoMemory(p, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn matches_reference_model(
        ops in proptest::collection::vec(op(), 1..200),
        lazy_max in prop_oneof![Just(0u64), Just(6), Just(40), Just(NEVER)],
    ) {
        // A small range, so it fills up and purges happen.
        let end = VSTART + 256 * PAGE;
        let mut v = VmapAllocator::new(VSTART, end, lazy_max).unwrap();
        let mut m = Model { start: VSTART, end, lazy_max, live: vec![], lazy: vec![], flushes: vec![] };
        let mut f = Flushes::default();
        for op in ops {
            match op {
                Op::Alloc(pages, align) => {
                    let got = v.alloc_vmap_area(pages * PAGE, align * PAGE, &mut f);
                    let got = got.inspect(|&a| {
                        // alloc_vmap_area leaves the vm_struct to get_vm_area: attach one.
                        let vm = VmStruct {
                            flags: VmFlags::VM_ALLOC,
                            caller: "p".into(),
                            nr_pages: 0,
                            phys_addr: 0,
                            pages: None,
                            pages_array_of: None,
                        };
                        v.busy.update((a >> PAGE_SHIFT) as Vpn, |x| x.vm = Some(Box::new(vm)));
                    });
                    prop_assert_eq!(got.ok(), m.alloc(pages, align));
                }
                Op::Free(i) => {
                    let want = m.live.get(i % m.live.len().max(1)).map(|r| r.0);
                    if let Some(addr) = want {
                        prop_assert!(v.remove_vm_area(addr, &mut f).is_ok());
                        m.free(i);
                    }
                }
                Op::Purge => {
                    let p = v.purge_vmap_area_lazy(&mut f);
                    prop_assert_eq!(p.is_some(), !m.lazy.is_empty());
                    m.purge();
                }
                Op::AllocNoMemory(pages, n) => {
                    let before = (live(&v), v.unpurged().collect::<Vec<_>>());
                    fail_after(Some(n));
                    let r = v.get_vm_area(pages * PAGE, VmFlags::VM_ALLOC, "x".into(), &mut f);
                    fail_after(None);
                    match r {
                        Ok(a) => {
                            // The budget covered what this request needed.
                            prop_assert_eq!(Some(a), m.alloc(pages + 1, 1));
                        }
                        Err(VmapError::NoMemory { .. }) => {
                            prop_assert_eq!((live(&v), v.unpurged().collect::<Vec<_>>()), before);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, VmapError::NoSpace { size: (pages + 1) * PAGE });
                            prop_assert_eq!(m.alloc(pages + 1, 1), None);
                        }
                    }
                }
            }
            prop_assert_eq!(v.verify(), Ok(()));
            prop_assert_eq!(live(&v), m.live.clone());
            prop_assert_eq!(v.unpurged().collect::<Vec<_>>(), m.unpurged());
            prop_assert_eq!(&f.0, &m.flushes);
            prop_assert_eq!(v.stats().nr_tlb_flushes, m.flushes.len() as u64);
        }
    }
}
