//! Host benchmark of the vmap allocator (`mm::vmap`): one `vmalloc`-sized allocation plus its
//! free with 10, 1,000 and 10,000 live areas, next to a naive linear first fit over a sorted
//! array of busy ranges on the identical layout. The layout is fragmented so that first fit
//! has to pass every hole: `n` live 1-page areas (2 pages with the guard) separated by
//! 2-page holes, and a 2-page request (3 with its guard) that only fits after the last area.
//! `cargo bench --bench vmap` runs criterion (short settings), then prints ns/op from its own
//! quick timing of the same loop.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use pivm::mm::vmap::{VmFlags, VmapAllocator, VmapError};
use pivm::mm::PAGE_SIZE;

const VMALLOC_START: u64 = 0xf080_0000;
const VMALLOC_END: u64 = 0xff80_0000;
/// Live areas in each run.
const LIVE: [usize; 3] = [10, 1_000, 10_000];
type Vmap = VmapAllocator;
/// The request: 2 pages (3 with its guard), more than any hole.
const REQUEST: u64 = 2 * PAGE_SIZE;
/// Iterations of the quick timing after criterion.
const QUICK_ITERS: u32 = 20_000;
/// Quick timings per figure; the best one is printed.
const QUICK_RUNS: u32 = 5;

/// What the benchmark needs from an allocator.
trait Alloc {
    fn vmalloc(&mut self, size: u64) -> Result<u64, VmapError>;
    fn vfree(&mut self, addr: u64) -> Result<(), VmapError>;
}

/// The purge's TLB flush: nothing to flush on the host.
fn no_flush(_: u64, _: u64) {}

impl Alloc for Vmap {
    fn vmalloc(&mut self, size: u64) -> Result<u64, VmapError> {
        self.get_vm_area(size, VmFlags::VM_ALLOC, "bench".into(), &mut no_flush)
    }

    fn vfree(&mut self, addr: u64) -> Result<(), VmapError> {
        self.remove_vm_area(addr, &mut no_flush).map(|_| ())
    }
}

/// Linear first fit: busy ranges sorted in a Vec, every allocation walks the gaps from
/// VMALLOC_START (what Linux did before 2.6.28's rbtree, minus the free-area cache).
struct NaiveFirstFit {
    start: u64,
    end: u64,
    busy: Vec<(u64, u64)>,
}

impl Alloc for NaiveFirstFit {
    fn vmalloc(&mut self, size: u64) -> Result<u64, VmapError> {
        let size = size + PAGE_SIZE;
        let mut prev = self.start;
        for (i, &(s, e)) in self.busy.iter().enumerate() {
            if prev + size <= s {
                self.busy.insert(i, (prev, prev + size));
                return Ok(prev);
            }
            prev = e;
        }
        if prev + size > self.end {
            return Err(VmapError::NoSpace { size });
        }
        self.busy.push((prev, prev + size));
        Ok(prev)
    }

    fn vfree(&mut self, addr: u64) -> Result<(), VmapError> {
        let i = self.busy.binary_search_by_key(&addr, |r| r.0);
        self.busy.remove(i.map_err(|_| VmapError::Nonexistent(addr))?);
        Ok(())
    }
}

/// Builds the fragmented layout: `2 * live` 1-page areas, then every other one freed.
fn fragment<A: Alloc>(a: &mut A, live: usize) {
    let addrs: Vec<u64> = (0..2 * live).map(|_| a.vmalloc(PAGE_SIZE).unwrap()).collect();
    for addr in addrs.into_iter().step_by(2) {
        a.vfree(addr).unwrap();
    }
}

fn tree(live: usize) -> Box<Vmap> {
    // Threshold 0: every free is purged at once, so the layout is the same each iteration.
    let mut v = Box::new(Vmap::new(VMALLOC_START, VMALLOC_END, 0).unwrap());
    fragment(v.as_mut(), live);
    assert_eq!(v.nr_areas(), live);
    v
}

fn naive(live: usize) -> NaiveFirstFit {
    let mut n = NaiveFirstFit { start: VMALLOC_START, end: VMALLOC_END, busy: Vec::new() };
    fragment(&mut n, live);
    n
}

fn alloc_free<A: Alloc>(a: &mut A) {
    let addr = a.vmalloc(black_box(REQUEST)).unwrap();
    a.vfree(black_box(addr)).unwrap();
}

/// Best of `QUICK_RUNS` timings, in ns per alloc+free (the minimum filters out a busy host).
fn quick_ns<A: Alloc>(a: &mut A) -> f64 {
    (0..QUICK_RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..QUICK_ITERS {
                alloc_free(a);
            }
            t.elapsed().as_nanos() as f64 / QUICK_ITERS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("vmalloc+vfree");
    for live in LIVE {
        let mut t = tree(live);
        let mut n = naive(live);
        // Both place the request at the same address.
        let (ta, na) = (t.vmalloc(REQUEST).unwrap(), n.vmalloc(REQUEST).unwrap());
        assert_eq!(ta, na);
        t.vfree(ta).unwrap();
        n.vfree(na).unwrap();
        g.bench_with_input(BenchmarkId::new("vmap tree", live), &live, |b, _| {
            b.iter(|| alloc_free(t.as_mut()))
        });
        g.bench_with_input(BenchmarkId::new("naive first fit", live), &live, |b, _| {
            b.iter(|| alloc_free(&mut n))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();
    bench(&mut c);
    c.final_summary();

    println!("\nvmalloc+vfree, ns/op (best of {QUICK_RUNS} x {QUICK_ITERS} iterations)");
    println!("{:>12} {:>12} {:>16}", "live areas", "vmap tree", "naive first fit");
    for live in LIVE {
        let mut t = tree(live);
        let mut n = naive(live);
        println!("{live:>12} {:>12.1} {:>16.1}", quick_ns(t.as_mut()), quick_ns(&mut n));
    }
}
