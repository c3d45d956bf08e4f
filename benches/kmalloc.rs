//! kmalloc benchmark: pivm's slab allocator against the `talc` crate on one operation trace.
//!
//! The trace mixes sizes 8..4096 bytes (skewed small, like kernel allocations) with random
//! lifetimes, and ends with every object freed, so each run starts from the same state. pivm's
//! slab (SLUB) takes its pages from pivm's buddy allocator (`Node`, per-CPU lists included)
//! over a host arena, under a spin lock as in the kernel, and every `kfree` looks its page up
//! in that node's mem_map under the same lock; talc manages a fixed arena of the same size
//! itself. `cargo bench --bench kmalloc`.
use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;
use std::ptr::NonNull;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pivm::mm::mm_init::{PfnRange, Zones};
use pivm::mm::page::{MemMap, Page};
use pivm::mm::page_alloc::{LinearMap, Node};
use pivm::mm::slab::{KmallocConfig, NodeHolder, NodePages, Slab, PAGE_SIZE};
use pivm::mm::{Pfn, PhysAddr, VirtAddr};
use talc::{ErrOnOom, Span, Talc};

/// Operations in the mixed trace (allocations + frees).
const TRACE_OPS: usize = 200_000;
/// Most objects live at once.
const MAX_LIVE: usize = 4096;
/// Arena for both allocators.
const ARENA_BYTES: usize = 64 << 20;
/// Alignment talc is asked for: what kmalloc guarantees at least (`ARCH_KMALLOC_MINALIGN`).
const TALC_ALIGN: usize = 8;

#[derive(Clone, Copy)]
enum Op {
    Alloc { slot: u32, size: u32 },
    Free { slot: u32, size: u32 },
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Kernel-like sizes: half up to 64 bytes, a quarter to 256, then thinning out to 4096.
fn size(rng: &mut Rng) -> u32 {
    let (lo, hi) = match rng.below(100) {
        0..=49 => (8, 64),
        50..=74 => (65, 256),
        75..=89 => (257, 1024),
        90..=96 => (1025, 2048),
        _ => (2049, 4096),
    };
    (lo + rng.below(hi - lo + 1)) as u32
}

/// The mixed trace and the number of slots it uses.
fn mixed_trace() -> (Vec<Op>, usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ops = Vec::with_capacity(TRACE_OPS + MAX_LIVE);
    let mut live: Vec<(u32, u32)> = Vec::new();
    let mut spare: Vec<u32> = Vec::new();
    let mut slots = 0u32;
    for _ in 0..TRACE_OPS {
        // Allocation-biased while below the cap, so the live set ramps up and then churns.
        let alloc = live.is_empty() || (live.len() < MAX_LIVE && rng.below(100) < 55);
        if alloc {
            let slot = spare.pop().unwrap_or_else(|| {
                slots += 1;
                slots - 1
            });
            let size = size(&mut rng);
            live.push((slot, size));
            ops.push(Op::Alloc { slot, size });
        } else {
            let (slot, size) = live.swap_remove(rng.below(live.len() as u64) as usize);
            spare.push(slot);
            ops.push(Op::Free { slot, size });
        }
    }
    // Random order for the rest too, so the run ends empty.
    while !live.is_empty() {
        let (slot, size) = live.swap_remove(rng.below(live.len() as u64) as usize);
        ops.push(Op::Free { slot, size });
    }
    (ops, slots as usize)
}

/// pivm's buddy allocator over the arena (one Normal zone, all free, the Pi's four CPUs for
/// the per-CPU lists), behind a spin lock as the kernel's `NODE` is: every page the slab takes
/// or gives back, and every `kfree`'s mem_map lookup, goes through the lock, as `BuddyPages`
/// does in the kernel.
struct BuddyNode {
    node: spin::Mutex<Node<'static>>,
    base: usize,
}

impl BuddyNode {
    fn new() -> Self {
        let pages = ARENA_BYTES / PAGE_SIZE;
        let layout = Layout::from_size_align(ARENA_BYTES, ARENA_BYTES).unwrap();
        // SAFETY: non-zero size; freed in Drop with the same layout.
        let base = unsafe { alloc(layout) } as usize;
        assert_ne!(base, 0);
        // The descriptors live as long as the benchmark process.
        let mem_map: &'static mut [Page] =
            Box::leak(vec![Page::default(); pages].into_boxed_slice());
        let end = Pfn(pages as u64);
        let zones = Zones { dma: None, normal: PfnRange { start: Pfn(0), end }, highmem: None };
        let mut node = Node::new(MemMap::new(mem_map, Pfn(0)).unwrap(), &zones).unwrap();
        node.free_bootmem_range(Pfn(0), end).unwrap();
        node.set_nr_cpus(4);
        node.set_linear_map(LinearMap { page_offset: VirtAddr(base), phys_offset: PhysAddr(0) });
        Self { node: spin::Mutex::new(node), base }
    }

    fn source(&self) -> Buddy<'_> {
        Buddy(&self.node)
    }
}

impl Drop for BuddyNode {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(ARENA_BYTES, ARENA_BYTES).unwrap();
        // SAFETY: allocated in `new` with this layout; the slab that used it is done.
        unsafe { dealloc(self.base as *mut u8, layout) };
    }
}

/// The page source: `NodePages` under the node's lock, one acquisition per call.
struct Buddy<'a>(&'a spin::Mutex<Node<'static>>);

impl NodeHolder for Buddy<'_> {
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R> {
        Some(f(&mut NodePages::new(&mut self.0.lock())))
    }

    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R> {
        Some(f(&self.0.lock()))
    }
}

fn run_slab(slab: &mut Slab, src: &mut Buddy<'_>, ops: &[Op], ptrs: &mut [usize]) {
    for &op in ops {
        match op {
            Op::Alloc { slot, size } => {
                let p = slab.kmalloc(src, size as usize).expect("kmalloc");
                // SAFETY: a live object of at least `size` bytes.
                unsafe { (p as *mut u8).write(slot as u8) };
                ptrs[slot as usize] = p;
            }
            Op::Free { slot, .. } => slab.kfree(src, ptrs[slot as usize]).expect("kfree"),
        }
    }
}

fn run_talc(talc: &mut Talc<ErrOnOom>, ops: &[Op], ptrs: &mut [usize]) {
    for &op in ops {
        match op {
            Op::Alloc { slot, size } => {
                let layout = Layout::from_size_align(size as usize, TALC_ALIGN).unwrap();
                // SAFETY: non-zero size.
                let p = unsafe { talc.malloc(layout) }.expect("talc malloc");
                // SAFETY: a live block of at least `size` bytes.
                unsafe { p.as_ptr().write(slot as u8) };
                ptrs[slot as usize] = p.as_ptr() as usize;
            }
            Op::Free { slot, size } => {
                let layout = Layout::from_size_align(size as usize, TALC_ALIGN).unwrap();
                let p = NonNull::new(ptrs[slot as usize] as *mut u8).unwrap();
                // SAFETY: allocated above with this layout and not freed since.
                unsafe { talc.free(p, layout) };
            }
        }
    }
}

fn talc_arena() -> (Talc<ErrOnOom>, Vec<u8>) {
    let mut arena = vec![0u8; ARENA_BYTES];
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: callers keep the arena until they are done with `talc`; nothing else touches it.
    unsafe { talc.claim(Span::from_base_size(arena.as_mut_ptr(), ARENA_BYTES)) }.expect("claim");
    (talc, arena)
}

fn kmalloc_mix(c: &mut Criterion) {
    let (ops, slots) = mixed_trace();
    let mut ptrs = vec![0usize; slots];
    let mut g = c.benchmark_group("kmalloc_mix");
    g.throughput(Throughput::Elements(ops.len() as u64));

    let mut slab = Slab::with_config(KmallocConfig::LINUX);
    let buddy = BuddyNode::new();
    let mut src = buddy.source();
    g.bench_function("pivm_slab", |b| {
        b.iter(|| run_slab(&mut slab, &mut src, black_box(&ops), &mut ptrs))
    });
    let (mut talc, arena) = talc_arena();
    g.bench_function("talc", |b| b.iter(|| run_talc(&mut talc, black_box(&ops), &mut ptrs)));
    g.finish();
    drop(arena); // only now: talc points into it
}

/// The hot path alone: one 64-byte object allocated and freed again.
fn kmalloc_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("kmalloc_free_64");
    let mut slab = Slab::with_config(KmallocConfig::LINUX);
    let buddy = BuddyNode::new();
    let mut src = buddy.source();
    g.bench_function("pivm_slab", |b| {
        b.iter(|| {
            let p = slab.kmalloc(&mut src, black_box(64)).unwrap();
            slab.kfree(&mut src, black_box(p)).unwrap();
        })
    });
    let (mut talc, arena) = talc_arena();
    let layout = Layout::from_size_align(64, TALC_ALIGN).unwrap();
    g.bench_function("talc", |b| {
        b.iter(|| {
            // SAFETY: non-zero size; freed right away with the same layout.
            unsafe {
                let p = talc.malloc(black_box(layout)).unwrap();
                talc.free(black_box(p), layout);
            }
        })
    });
    g.finish();
    drop(arena); // only now: talc points into it
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = kmalloc_mix, kmalloc_pair
}
criterion_main!(benches);
