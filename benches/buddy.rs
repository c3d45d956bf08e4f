//! Host benchmarks of pivm's buddy allocator (`mm::page_alloc::Node`) against the least a
//! buddy allocator of Linux's kind can do (`BareBuddy`, the floor) and against the
//! `buddy_system_allocator` crate's `FrameAllocator` (bsa), on identical operation traces,
//! for pools of 64 MiB to 4 GiB. Each workload (see `WORKLOADS`) makes every allocator do the
//! same work: pivm's per-CPU lists are disabled as 6.1's `zone_pcp_disable()` disables them
//! (high 0, batch 1: every block goes to and from the buddy lists) except in the one row
//! that measures them, `order0_pcp_hit`.
//!
//! `cargo bench --bench buddy` runs criterion (short settings), then prints the closing
//! table: ns/op from its own quick timing (best of 3) and the ratios pivm/floor and pivm/bsa.
//! With `PIVM_BENCH_INSTRUCTIONS=1` it runs each workload once per allocator instead, every
//! measured stretch inside `pivm_bench_measured`, for `scripts/bench-instructions.sh` to count
//! instructions with callgrind (which do not depend on the machine's load).
//!
//! All three get the same number of free lists (`FrameAllocator<MAX_ORDER>`); pivm's node has
//! one zone and no watermarks set (the check runs, against 0).
use std::hint::black_box;
use std::time::{Duration, Instant};

use buddy_system_allocator::FrameAllocator;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pivm::config::MAX_ORDER;
use pivm::mm::gfp::GfpFlags;
use pivm::mm::mm_init::{PfnRange, Zones};
use pivm::mm::page::{MemMap, Page};
use pivm::mm::page_alloc::Node;
use pivm::mm::zone::ZoneType;
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
    /// Ends a measured stretch with every free block on the buddy lists (pivm: blocks its
    /// per-CPU lists still hold go back, as `drain_all_pages()`; the others hold none).
    fn finish(&mut self) {}
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
    fn finish(&mut self) {
        black_box(self.drain_all_pages());
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

/// Whether pivm's per-CPU lists serve the workload or are disabled (`zone_pcp_disable`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lists {
    On,
    Off,
}

/// A node over `pages` with all of them free in one Normal zone.
fn pivm_pool(pages: &mut [Page], lists: Lists) -> Node<'_> {
    let n = pages.len() as u64;
    let zones = Zones { dma: None, normal: PfnRange { start: Pfn(0), end: Pfn(n) }, highmem: None };
    let mut node = Node::new(MemMap::new(pages, Pfn(0)).expect("mem_map"), &zones).expect("node");
    node.free_bootmem_range(Pfn(0), Pfn(n)).expect("free");
    // The per-CPU lists as the kernel sizes them for the Pi's four cores (high = 4 batches
    // here, with no watermarks).
    node.set_nr_cpus(4);
    if lists == Lists::Off {
        node.zone_pcp_disable(ZoneType::Normal).expect("lists enabled");
    }
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

/// Every measured stretch runs inside this function, so that callgrind can count its
/// instructions alone (`--toggle-collect=pivm_bench_measured`, one dump after each call:
/// `scripts/bench-instructions.sh`). Not inlined, and with a plain symbol name.
#[no_mangle]
#[inline(never)]
pub fn pivm_bench_measured(f: &mut dyn FnMut()) {
    f()
}

/// Wall time of one measured stretch.
fn measured(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    pivm_bench_measured(&mut f);
    t.elapsed()
}

/// Times `reps` order-0 alloc+free pairs (after one untimed pair, so that pivm's per-CPU
/// list, where it is on, holds its batch).
fn pairs(a: &mut impl Frames, reps: u64) -> Duration {
    let p = a.alloc(0).expect("order-0 page");
    a.free(p, 0);
    measured(|| {
        for _ in 0..reps {
            let p = a.alloc(0).expect("order-0 page");
            a.free(black_box(p), 0);
        }
    })
}

/// Allocates the whole pool as order-0 pages (untimed), then times freeing them in `perm`'s
/// order, until every block is merged on the buddy lists.
fn free_all_random(a: &mut impl Frames, perm: &[u32], got: &mut Vec<u64>) -> Duration {
    got.clear();
    while let Some(p) = a.alloc(0) {
        got.push(p);
    }
    assert_eq!(got.len(), perm.len(), "pool not fully allocated");
    measured(|| {
        for &i in perm {
            a.free(got[i as usize], 0);
        }
        a.finish();
    })
}

/// Timed mixed trace from a fresh pool, until every block is merged on the buddy lists.
fn mixed_once(a: &mut impl Frames, trace: &[Op], live: &mut Vec<(u64, u32)>) -> Duration {
    measured(|| {
        run_mixed(a, trace, live);
        a.finish();
    })
}

fn label(n: u64) -> String {
    let mib = n * 4 / 1024;
    if mib >= 1024 {
        format!("{}GiB", mib / 1024)
    } else {
        format!("{mib}MiB")
    }
}

/// The workloads, each one row of the closing table per pool.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// pivm with its per-CPU lists on, as the kernel runs: an order-0 alloc+free pair with
    /// one page held, so the pair is a per-CPU list hit (one list removal, one insertion).
    /// The floor and bsa have no such list: theirs is the same pair on their order-0 free
    /// list (the row `order0_no_cascade` for them), the least work they can do for it.
    Order0PcpHit,
    /// An order-0 pair whose buddy is held: all three take the page from the order-0 buddy
    /// list and put it back there (the merge stops at the first buddy). pivm's lists are off.
    Order0NoCascade,
    /// An order-0 pair from a pool of whole max-order blocks: every allocation splits one all
    /// the way down (MAX_ORDER - 1 halvings) and every free merges it back up. Lists off.
    Order0Cascade,
    /// The whole pool allocated as order-0 pages (untimed), then freed in random order until
    /// everything is merged back into max-order blocks. Lists off.
    FreeFullPoolRandom,
    /// A random mix of allocations of every order and frees of random live blocks, keeping
    /// at most half the pool allocated, then every block freed and merged. Lists off.
    MixedOrders,
}

/// The workloads in table order, with their names and whether pivm's lists are on.
const WORKLOADS: [(Workload, &str, Lists); 5] = [
    (Workload::Order0PcpHit, "order0_pcp_hit", Lists::On),
    (Workload::Order0NoCascade, "order0_no_cascade", Lists::Off),
    (Workload::Order0Cascade, "order0_cascade", Lists::Off),
    (Workload::FreeFullPoolRandom, "free_full_pool_random", Lists::Off),
    (Workload::MixedOrders, "mixed_orders", Lists::Off),
];

/// What the workloads replay on a pool of `n` pages (the same for every allocator).
struct Traces {
    pairs: u64,
    perm: Vec<u32>,
    mixed: Vec<Op>,
    got: Vec<u64>,
    live: Vec<(u64, u32)>,
}

impl Traces {
    fn new(n: u64, pairs: u64) -> Traces {
        Traces {
            pairs,
            perm: permutation(n as usize, 0x2545_f491_4f6c_dd1d ^ n),
            mixed: mixed_trace(n, 0x9e37_79b9_7f4a_7c15 ^ n),
            got: Vec::with_capacity(n as usize),
            live: Vec::new(),
        }
    }

    /// Operations one run of `w` measures.
    fn ops(&self, w: Workload) -> u64 {
        match w {
            Workload::Order0PcpHit | Workload::Order0NoCascade | Workload::Order0Cascade => {
                self.pairs
            }
            Workload::FreeFullPoolRandom => self.perm.len() as u64,
            Workload::MixedOrders => self.mixed.len() as u64,
        }
    }

    /// One run of `w` on a fresh allocator.
    fn run(&mut self, a: &mut impl Frames, w: Workload) -> Duration {
        match w {
            Workload::Order0PcpHit | Workload::Order0NoCascade => {
                // The page that keeps the pair's buddy allocated.
                a.alloc(0).expect("order-0 page");
                pairs(a, self.pairs)
            }
            Workload::Order0Cascade => pairs(a, self.pairs),
            Workload::FreeFullPoolRandom => free_all_random(a, &self.perm, &mut self.got),
            Workload::MixedOrders => mixed_once(a, &self.mixed, &mut self.live),
        }
    }
}

/// The allocators, in the order of the table's columns.
#[derive(Clone, Copy)]
enum Alloc {
    Pivm,
    Floor,
    Bsa,
}

const ALLOCS: [(Alloc, &str); 3] =
    [(Alloc::Pivm, "pivm"), (Alloc::Floor, "floor"), (Alloc::Bsa, "buddy_system_allocator")];

/// One run of workload `w` (with pivm's lists as `lists`) by `which` on a fresh pool of `n`
/// pages. Every allocator's bookkeeping (pivm's mem_map too) is allocated afresh for each
/// run: where it lands decides how some loads and stores alias in the CPU, which moved
/// order-0 pairs by up to 20 ns on the build machine, so each run draws again, for all three.
fn run_fresh(which: Alloc, n: u64, w: Workload, lists: Lists, t: &mut Traces) -> Duration {
    match which {
        Alloc::Pivm => t.run(&mut pivm_pool(&mut vec![Page::default(); n as usize], lists), w),
        Alloc::Floor => t.run(&mut BareBuddy::new(n), w),
        Alloc::Bsa => t.run(&mut bsa_pool(n), w),
    }
}

/// Pools the criterion groups use for `w` (freeing the larger pools takes seconds per run
/// for the peer; the closing table measures them).
fn criterion_sizes(w: Workload) -> &'static [u64] {
    match w {
        Workload::FreeFullPoolRandom => &FREE_RANDOM_SIZES,
        _ => &SIZES,
    }
}

fn bench_workloads(c: &mut Criterion) {
    for (w, name, lists) in WORKLOADS {
        let mut g = c.benchmark_group(name);
        g.sampling_mode(SamplingMode::Flat);
        for &n in criterion_sizes(w).iter().filter(|&&n| n >= 1 << (MAX_ORDER - 1)) {
            let mut t = Traces::new(n, 0);
            let per_run = t.ops(w);
            g.throughput(Throughput::Elements(per_run.max(1)));
            for (which, alloc_name) in ALLOCS {
                g.bench_function(BenchmarkId::new(alloc_name, label(n)), |b| {
                    b.iter_custom(|iters| match w {
                        // Pair workloads: `iters` pairs on one pool.
                        Workload::Order0PcpHit
                        | Workload::Order0NoCascade
                        | Workload::Order0Cascade => {
                            t.pairs = iters;
                            run_fresh(which, n, w, lists, &mut t)
                        }
                        _ => (0..iters).map(|_| run_fresh(which, n, w, lists, &mut t)).sum(),
                    })
                });
            }
        }
        g.finish();
    }
}

/// Pools of the closing table whose size is a whole number of largest blocks (a build with
/// more free lists, MAX_ORDER=16's 128 MiB blocks, skips the smaller ones, which the bare
/// buddy cannot be handed).
fn pools(sizes: &[u64]) -> impl Iterator<Item = u64> + '_ {
    sizes.iter().copied().filter(|&n| n >= 1 << (MAX_ORDER - 1))
}

/// Own quick timing of every workload, printed as a table with the time ratios.
fn print_ratios() {
    const PAIRS: u64 = 200_000;
    const TRIES: usize = 7;
    println!();
    println!(
        "ns/op, best of {TRIES} runs: pivm, the bare intrusive-list buddy (floor) and \
         buddy_system_allocator::FrameAllocator<{MAX_ORDER}> (bsa); pivm/floor and pivm/bsa \
         are time ratios (below 1: pivm is faster)"
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9}",
        "workload", "pool", "pivm", "floor", "bsa", "pivm/floor", "pivm/bsa"
    );
    let mut curve: Vec<(u64, Vec<(&str, f64)>)> = Vec::new();
    for n in pools(&CURVE_SIZES) {
        let mut t = Traces::new(n, PAIRS);
        let mut rows = Vec::new();
        for (w, name, lists) in WORKLOADS {
            let ops = t.ops(w) as f64;
            // The tries take turns, so that a stretch of load from elsewhere on the machine
            // slows one try of each allocator rather than every try of one.
            let mut best = [Duration::MAX; ALLOCS.len()];
            for _ in 0..TRIES {
                for (i, (which, _)) in ALLOCS.into_iter().enumerate() {
                    best[i] = best[i].min(run_fresh(which, n, w, lists, &mut t));
                }
            }
            let [p, f, b] = best.map(|d| d.as_nanos() as f64 / ops);
            println!(
                "{name:<24} {:>8} {p:>8.1} {f:>8.1} {b:>8.1} {:>9.2}x {:>8.2}x",
                label(n),
                p / f,
                p / b
            );
            rows.push((name, p));
        }
        curve.push((n, rows));
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

/// Pools the instruction counts are taken for.
const INSTRUCTION_SIZES: [u64; 2] = [16 << 10, 256 << 10];
/// Order-0 pairs per run when counting instructions.
const INSTRUCTION_PAIRS: u64 = 20_000;

/// One run of every workload by every allocator, each measured stretch in
/// `pivm_bench_measured`; prints one line per stretch, in order, for the callgrind script:
/// `measured <workload> <pool> <allocator> <operations>`.
fn run_for_instructions() {
    for n in pools(&INSTRUCTION_SIZES) {
        let mut t = Traces::new(n, INSTRUCTION_PAIRS);
        for (w, name, lists) in WORKLOADS {
            for (which, alloc_name) in ALLOCS {
                black_box(run_fresh(which, n, w, lists, &mut t));
                println!("measured {name} {} {alloc_name} {}", label(n), t.ops(w));
            }
        }
    }
}

fn main() {
    if std::env::var_os("PIVM_BENCH_INSTRUCTIONS").is_some() {
        run_for_instructions();
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .configure_from_args();
    bench_workloads(&mut c);
    c.final_summary();
    print_ratios();
}
