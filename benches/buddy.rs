//! Host benchmarks of pivm's buddy allocator (`mm::page_alloc::Node`) against
//! `buddy_system_allocator::FrameAllocator` on identical operation traces:
//! order-0 alloc+free with and without a full split/merge cascade, freeing a full pool in
//! random order, and a random mix of orders 0..MAX_ORDER-1, for pools of 64 MiB to 4 GiB.
//! `cargo bench --bench buddy` runs criterion (short settings), then prints a table of
//! ns/op and the throughput ratio from its own quick timing of the same traces.
//!
//! Both allocators get the same number of free lists (`FrameAllocator<MAX_ORDER>`), the
//! node has no watermarks set and one zone; order-0 pages go through pivm's per-CPU lists as
//! in the kernel. The closing table adds a third allocator, `BareBuddy`, the least any
//! buddy with intrusive lists can do, so each ratio can be read against what is possible.
use std::hint::black_box;
use std::time::{Duration, Instant};

use buddy_system_allocator::FrameAllocator;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pivm::config::MAX_ORDER;
use pivm::mm::gfp::GfpFlags;
use pivm::mm::mm_init::{PfnRange, Zones};
use pivm::mm::page::{MemMap, Page};
use pivm::mm::page_alloc::Node;
use pivm::mm::Pfn;

/// Pool sizes in pages: 64 MiB, 512 MiB, 4 GiB of 4 KiB pages.
const SIZES: [u64; 3] = [16 << 10, 128 << 10, 1 << 20];
/// Pools of the closing table: every power of two from 64 MiB to 4 GiB, so the cost per
/// operation can be followed as managed memory grows.
const CURVE_SIZES: [u64; 7] =
    [16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20];
/// Pools for the free-everything benchmark under criterion (the larger ones, which take
/// seconds per run for the peer, are measured in the closing table only).
const FREE_RANDOM_SIZES: [u64; 2] = [16 << 10, 128 << 10];
/// Operations in one mixed-order trace.
const MIXED_OPS: usize = 20_000;
/// The mixed trace keeps at most this fraction (1/N) of the pool allocated.
const MIXED_OCCUPANCY_DIV: u64 = 2;
const GFP: GfpFlags = GfpFlags::GFP_KERNEL;

/// What a benchmark needs from a frame allocator.
trait Frames {
    fn alloc(&mut self, order: u32) -> Option<u64>;
    fn free(&mut self, pfn: u64, order: u32);
}

impl Frames for Node<'_> {
    fn alloc(&mut self, order: u32) -> Option<u64> {
        self.alloc_pages(GFP, order).ok().map(|p| p.0)
    }
    fn free(&mut self, pfn: u64, order: u32) {
        let r = self.free_pages(Pfn(pfn), order);
        debug_assert!(r.is_ok());
        black_box(r).ok();
    }
}

struct Bsa(FrameAllocator<MAX_ORDER>);

impl Frames for Bsa {
    fn alloc(&mut self, order: u32) -> Option<u64> {
        self.0.alloc(1 << order).map(|f| f as u64)
    }
    fn free(&mut self, pfn: u64, order: u32) {
        self.0.dealloc(pfn as usize, 1 << order);
    }
}

/// The floor: a buddy allocator with intrusive doubly-linked free lists and nothing else (no
/// zones, watermarks, migrate types, per-CPU lists, checks on free or counters), with a bitmap
/// of non-empty lists. What it reaches on a trace bounds what any Linux-style buddy can; it
/// is measured, not used.
struct BareBuddy {
    links: Vec<BareLink>,
    heads: [u32; MAX_ORDER],
    nonempty: u32,
}

#[derive(Clone, Copy)]
struct BareLink {
    next: u32,
    prev: u32,
    order: u8,
    free: bool,
}

const BARE_NIL: u32 = u32::MAX;

impl BareBuddy {
    fn new(n: u64) -> BareBuddy {
        let unused = BareLink { next: BARE_NIL, prev: BARE_NIL, order: 0, free: false };
        let mut b = BareBuddy {
            links: vec![unused; n as usize],
            heads: [BARE_NIL; MAX_ORDER],
            nonempty: 0,
        };
        // The pools are whole numbers of largest blocks, which is all this needs to handle.
        let top = MAX_ORDER - 1;
        assert!(n.is_multiple_of(1 << top), "pool of {n} pages is not in order-{top} blocks");
        for block in (0..n as u32).step_by(1 << top) {
            b.push(block, top);
        }
        b
    }

    fn push(&mut self, i: u32, order: usize) {
        let head = self.heads[order];
        self.links[i as usize] =
            BareLink { next: head, prev: BARE_NIL, order: order as u8, free: true };
        if head != BARE_NIL {
            self.links[head as usize].prev = i;
        }
        self.heads[order] = i;
        self.nonempty |= 1 << order;
    }

    fn unlink(&mut self, i: u32, order: usize) {
        let BareLink { next, prev, .. } = self.links[i as usize];
        if prev == BARE_NIL {
            self.heads[order] = next;
            if next == BARE_NIL {
                self.nonempty &= !(1 << order);
            }
        } else {
            self.links[prev as usize].next = next;
        }
        if next != BARE_NIL {
            self.links[next as usize].prev = prev;
        }
        self.links[i as usize].free = false;
    }
}

impl Frames for BareBuddy {
    fn alloc(&mut self, order: u32) -> Option<u64> {
        let order = order as usize;
        let above = self.nonempty >> order;
        if above == 0 {
            return None;
        }
        let mut current = order + above.trailing_zeros() as usize;
        let i = self.heads[current];
        self.unlink(i, current);
        while current > order {
            current -= 1;
            self.push(i + (1 << current), current);
        }
        Some(i as u64)
    }

    fn free(&mut self, pfn: u64, order: u32) {
        let (mut i, mut order) = (pfn as u32, order as usize);
        while order < MAX_ORDER - 1 {
            let buddy = i ^ (1 << order);
            let b = self.links[buddy as usize];
            if !(b.free && b.order as usize == order) {
                break;
            }
            self.unlink(buddy, order);
            i &= !(1 << order);
            order += 1;
        }
        self.push(i, order);
    }
}

/// A node over `pages` with all of them free in one Normal zone.
fn pivm_pool(pages: &mut [Page]) -> Node<'_> {
    let n = pages.len() as u64;
    let zones = Zones { dma: None, normal: PfnRange { start: Pfn(0), end: Pfn(n) }, highmem: None };
    let mut node = Node::new(MemMap::new(pages, Pfn(0)).expect("mem_map"), &zones).expect("node");
    node.free_bootmem_range(Pfn(0), Pfn(n)).expect("free");
    // The per-CPU lists as the kernel sizes them for the Pi's four cores (high = 4 batches
    // here, with no watermarks).
    node.set_nr_cpus(4);
    node
}

fn bsa_pool(n: u64) -> Bsa {
    let mut a = FrameAllocator::<MAX_ORDER>::new();
    a.add_frame(0, n as usize);
    Bsa(a)
}

/// Maps a random u32 onto `0..len` without a division (the trace replay must not cost more
/// than the allocators it measures).
fn pick_index(pick: u32, len: usize) -> usize {
    ((pick as u64 * len as u64) >> 32) as usize
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// A permutation of `0..n` (the order in which the full pool is freed).
fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut v: Vec<u32> = (0..n as u32).collect();
    let mut x = seed;
    for i in (1..n).rev() {
        v.swap(i, (xorshift(&mut x) % (i as u64 + 1)) as usize);
    }
    v
}

#[derive(Clone, Copy)]
enum Op {
    Alloc(u32),
    /// Free the live block at this index (mod the number live).
    Free(u32),
}

/// A random mix of allocations of every order and frees of random live blocks, keeping at
/// most 1/MIXED_OCCUPANCY_DIV of the pool allocated (assuming every allocation succeeds).
fn mixed_trace(pool: u64, seed: u64) -> Vec<Op> {
    let mut x = seed;
    let mut live: Vec<u32> = Vec::new();
    let mut held = 0u64;
    let mut ops = Vec::with_capacity(MIXED_OPS);
    while ops.len() < MIXED_OPS {
        let r = xorshift(&mut x);
        let order = (r % MAX_ORDER as u64) as u32;
        let fits = held + (1 << order) <= pool / MIXED_OCCUPANCY_DIV;
        if fits && (live.is_empty() || r >> 32 & 1 == 0) {
            ops.push(Op::Alloc(order));
            live.push(order);
            held += 1 << order;
        } else if !live.is_empty() {
            let pick = (r >> 24) as u32;
            let i = pick_index(pick, live.len());
            held -= 1 << live.swap_remove(i);
            ops.push(Op::Free(pick));
        }
    }
    ops
}

fn run_mixed(a: &mut impl Frames, trace: &[Op], live: &mut Vec<(u64, u32)>) {
    live.clear();
    for op in trace {
        match *op {
            Op::Alloc(order) => {
                if let Some(p) = a.alloc(order) {
                    live.push((p, order));
                }
            }
            Op::Free(pick) => {
                if !live.is_empty() {
                    let (p, order) = live.swap_remove(pick_index(pick, live.len()));
                    a.free(p, order);
                }
            }
        }
    }
    for (p, order) in live.drain(..) {
        a.free(p, order);
    }
}

/// Times `reps` order-0 alloc+free pairs.
fn pairs(a: &mut impl Frames, reps: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..reps {
        let p = a.alloc(0).expect("order-0 page");
        a.free(black_box(p), 0);
    }
    t.elapsed()
}

/// Allocates the whole pool as order-0 pages (untimed), then times freeing them in `perm`'s order.
fn free_all_random(a: &mut impl Frames, perm: &[u32], got: &mut Vec<u64>) -> Duration {
    got.clear();
    while let Some(p) = a.alloc(0) {
        got.push(p);
    }
    assert_eq!(got.len(), perm.len(), "pool not fully allocated");
    let t = Instant::now();
    for &i in perm {
        a.free(got[i as usize], 0);
    }
    t.elapsed()
}

/// Timed mixed trace from a fresh pool.
fn mixed_once(a: &mut impl Frames, trace: &[Op], live: &mut Vec<(u64, u32)>) -> Duration {
    let t = Instant::now();
    run_mixed(a, trace, live);
    t.elapsed()
}

fn label(n: u64) -> String {
    let mib = n * 4 / 1024;
    if mib >= 1024 {
        format!("{}GiB", mib / 1024)
    } else {
        format!("{mib}MiB")
    }
}

fn bench_order0(c: &mut Criterion) {
    for (name, cascade) in [("order0_no_cascade", false), ("order0_cascade", true)] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(1));
        for &n in &SIZES {
            let mut pages = vec![Page::default(); n as usize];
            let mut node = pivm_pool(&mut pages);
            let mut bsa = bsa_pool(n);
            // Without a cascade: one page stays allocated, so its buddy comes and goes
            // through the order-0 list alone. With one: every pair splits a max-order block
            // all the way down and merges it back.
            if !cascade {
                node.alloc(0).unwrap();
                bsa.alloc(0).unwrap();
            }
            g.bench_function(BenchmarkId::new("pivm", label(n)), |b| {
                b.iter_custom(|iters| pairs(&mut node, iters))
            });
            g.bench_function(BenchmarkId::new("buddy_system_allocator", label(n)), |b| {
                b.iter_custom(|iters| pairs(&mut bsa, iters))
            });
        }
        g.finish();
    }
}

fn bench_free_random(c: &mut Criterion) {
    let mut g = c.benchmark_group("free_full_pool_random");
    g.sampling_mode(SamplingMode::Flat);
    for &n in &FREE_RANDOM_SIZES {
        g.throughput(Throughput::Elements(n));
        let perm = permutation(n as usize, 0x2545_f491_4f6c_dd1d ^ n);
        let mut got = Vec::with_capacity(n as usize);
        let mut pages = vec![Page::default(); n as usize];
        g.bench_function(BenchmarkId::new("pivm", label(n)), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| free_all_random(&mut pivm_pool(&mut pages), &perm, &mut got))
                    .sum()
            })
        });
        g.bench_function(BenchmarkId::new("buddy_system_allocator", label(n)), |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|_| free_all_random(&mut bsa_pool(n), &perm, &mut got)).sum()
            })
        });
    }
    g.finish();
}

fn bench_mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixed_orders");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(MIXED_OPS as u64));
    for &n in &SIZES {
        let trace = mixed_trace(n, 0x9e37_79b9_7f4a_7c15 ^ n);
        let mut live = Vec::new();
        let mut pages = vec![Page::default(); n as usize];
        g.bench_function(BenchmarkId::new("pivm", label(n)), |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|_| mixed_once(&mut pivm_pool(&mut pages), &trace, &mut live)).sum()
            })
        });
        g.bench_function(BenchmarkId::new("buddy_system_allocator", label(n)), |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|_| mixed_once(&mut bsa_pool(n), &trace, &mut live)).sum()
            })
        });
    }
    g.finish();
}

/// Best of `tries` timings of `f`, in ns per operation.
fn best_ns(tries: usize, ops: u64, mut f: impl FnMut() -> Duration) -> f64 {
    (0..tries).map(|_| f()).min().unwrap().as_nanos() as f64 / ops as f64
}

/// Own quick timing of every workload, printed as a table with the throughput ratios.
fn print_ratios() {
    const PAIRS: u64 = 200_000;
    const TRIES: usize = 3;
    println!();
    println!(
        "ns/op, best of {TRIES} runs: pivm, \
         buddy_system_allocator::FrameAllocator<{MAX_ORDER}> (bsa), and the bare intrusive-list \
         buddy (floor); bsa/pivm and bsa/floor are throughput ratios"
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "workload", "pool", "pivm", "bsa", "floor", "bsa/pivm", "bsa/floor"
    );
    let mut curve: Vec<(u64, Vec<(&str, f64)>)> = Vec::new();
    // A build with more free lists (MAX_ORDER=16: 128 MiB blocks) skips the pools smaller
    // than one largest block, which the bare buddy cannot be handed.
    for &n in CURVE_SIZES.iter().filter(|&&n| n >= 1 << (MAX_ORDER - 1)) {
        let mut pages = vec![Page::default(); n as usize];
        let mut rows: Vec<(&str, f64, f64, f64)> = Vec::new();
        for (name, cascade) in [("order0_no_cascade", false), ("order0_cascade", true)] {
            let mut node = pivm_pool(&mut pages);
            let mut bsa = bsa_pool(n);
            let mut bare = BareBuddy::new(n);
            if !cascade {
                node.alloc(0).unwrap();
                bsa.alloc(0).unwrap();
                bare.alloc(0).unwrap();
            }
            let p = best_ns(TRIES, PAIRS, || pairs(&mut node, PAIRS));
            let b = best_ns(TRIES, PAIRS, || pairs(&mut bsa, PAIRS));
            let f = best_ns(TRIES, PAIRS, || pairs(&mut bare, PAIRS));
            rows.push((name, p, b, f));
        }
        let perm = permutation(n as usize, 0x2545_f491_4f6c_dd1d ^ n);
        let mut got = Vec::new();
        let p = best_ns(TRIES, n, || free_all_random(&mut pivm_pool(&mut pages), &perm, &mut got));
        let b = best_ns(TRIES, n, || free_all_random(&mut bsa_pool(n), &perm, &mut got));
        let f = best_ns(TRIES, n, || free_all_random(&mut BareBuddy::new(n), &perm, &mut got));
        rows.push(("free_full_pool_random", p, b, f));
        let trace = mixed_trace(n, 0x9e37_79b9_7f4a_7c15 ^ n);
        let mut live = Vec::new();
        let ops = MIXED_OPS as u64;
        let p = best_ns(TRIES, ops, || mixed_once(&mut pivm_pool(&mut pages), &trace, &mut live));
        let b = best_ns(TRIES, ops, || mixed_once(&mut bsa_pool(n), &trace, &mut live));
        let f = best_ns(TRIES, ops, || mixed_once(&mut BareBuddy::new(n), &trace, &mut live));
        rows.push(("mixed_orders", p, b, f));
        for &(name, p, b, f) in &rows {
            println!(
                "{name:<24} {:>8} {p:>8.1} {b:>8.1} {f:>8.1} {:>8.1}x {:>8.1}x",
                label(n),
                b / p,
                b / f
            );
        }
        curve.push((n, rows.iter().map(|&(name, p, ..)| (name, p)).collect()));
    }
    println!();
    println!("pivm ns/op as the pool grows:");
    print!("{:<24}", "workload");
    for (n, _) in &curve {
        print!(" {:>7}", label(*n));
    }
    println!();
    for (i, (name, _)) in curve[0].1.iter().enumerate() {
        print!("{name:<24}");
        for (_, rows) in &curve {
            print!(" {:>7.1}", rows[i].1);
        }
        println!();
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .configure_from_args();
    bench_order0(&mut c);
    bench_free_random(&mut c);
    bench_mixed(&mut c);
    c.final_summary();
    print_ratios();
}
