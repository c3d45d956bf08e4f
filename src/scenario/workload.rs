//! The operation trace of `scenario vmalloc-frag`: a seeded, deterministic stand-in for the
//! drivers of an Android phone under a long "monkey" UI stress run. It only says what to do
//! (`Op`); the kernel executes each operation on its real allocators and reports back whether
//! an allocation succeeded, so any failure comes from the allocators' state, never from here.
//!
//! # The model
//! Each step emits one operation. An object that has reached the end of its lifetime is freed
//! first (one per step, earliest expiry first); otherwise a simulated driver allocates:
//!
//! | kind | share | sizes | lifetimes % (transient / short / app / pinned) |
//! |---|---|---|---|
//! | `kmalloc` | 32% | skewed small: 55% 32-256 B, 25% 0.5-2 KiB, 10% 4-8 KiB, 6% 16-32 KiB, 4% 64-128 KiB | 40 / 25 / 15 / 20 |
//! | `__get_free_pages` | 9% | order 0: 40%, 1: 20%, 2: 15%, 3: 13%, 4: 12%; half the order-0 requests, a tenth of the others `__GFP_HIGHMEM` | 45 / 30 / 15 / 10 |
//! | `vmalloc` | 12% | 4 KiB-2 MiB: 35% 1-4 pages, 25% 5-16, 20% 17-64, 15% 65-256, 5% 257-512 | 25 / 25 / 30 / 20 |
//! | `ioremap` | 4% | device windows: 45% 4 KiB, 20% 8-16 KiB, 15% 64 KiB, 10% 256 KiB, 7% 1 MiB, 3% 2 MiB | 20 / 20 / 20 / 40 |
//! | graphics | 43% | 30% 4-16 pages, 25% 17-64, 25% 65-256, 20% 257-416 (window surfaces) | 15 / 25 / 60 / 0 |
//!
//! The graphics driver allocates the way the case study's driver did (`Op::GpuAlloc`):
//! physically contiguous pages from lowmem (`__get_free_pages(GFP_KERNEL)`) when the buddy
//! allocator has a block of the order, `vmalloc` otherwise. Its buffers are most of the
//! kernel's lowmem-only demand, and its fallbacks are what fill the vmalloc range once lowmem
//! is short.
//!
//! A share of the page-allocator steps (`APP_CHUNK_PCT`) are not a driver's but an app's own
//! memory: 64-512 order-0 pages `GFP_HIGHUSER_MOVABLE` (`Op::AppPages`), highmem first and
//! lowmem once highmem is short, which die with the app (3% belong to system services).
//!
//! Lifetimes, in steps: transient 1-64 (a request buffer), short 64-1024 log-uniform (one
//! operation: a firmware load, a DMA transfer), app, pinned for the rest of the run (a
//! driver's probe-time state, the dentry and inode caches a long run grows, module-like
//! vmalloc areas). Apps: the monkey brings a new app to the front every 500-1500 steps (a
//! session); an app's objects live until it is killed, all within a few steps: either when
//! `SESSION_SPAN` newer apps have started (Android keeps a bounded list of cached apps), or
//! earlier by Android's low memory killer, which kills the oldest app whenever free memory
//! (all zones, as the killer of that era counted) is below `LMK_MINFREE_KB`. The killer is the
//! one place the trace depends on the kernel's state: the executor reports MemFree before
//! every step (`report_free_kb`), so the trace is still the same for the same seed and the
//! same kernel.
//!
//! Why this is plausible: small, short kmalloc dominates every kernel profile (skb heads,
//! request structures) while a long run's caches keep growing; GPU drivers of that era took
//! lowmem pages for textures and surfaces and fell back to vmalloc; vmalloc served firmware
//! images, binder and modules; ioremap windows are mostly mapped at probe and kept. Mixed
//! lifetimes at every size are what fragments memory: long-lived objects land between
//! short-lived ones and keep their neighbours from merging.
//!
//! # Calibration, and why the layout decides the outcome
//! The case study fixes two things the model must honour: memory was not exhausted (MemFree
//! 156 MiB) yet lowmem could not give 2 MiB, and giving lowmem 208 MiB more fixed it. Both
//! hold only if lowmem-only allocations, not user pages, are what fill lowmem: user pages go
//! to highmem first, and with a low memory killer that counts all zones the free memory sits
//! in highmem while lowmem runs dry. So the graphics share is set so that the kernel's
//! lowmem-only demand exceeds the 368 MiB the 512 MiB layout leaves to the buddy allocator and
//! fits in the 576 MiB of the 720 MiB one. With that, on the 512 MiB layout lowmem stays at its
//! watermark, pinned slab pages end up in every 4 MiB block, graphics buffers fall back to
//! vmalloc and use up its range; on the 720 MiB layout the same trace leaves lowmem with
//! free 4 MiB blocks. Nothing else is tuned per layout: both run the same generator, and the
//! outcome of each run is whatever the allocators give (`make scenario` shows it per seed;
//! some 512 MiB seeds end right after a kill freed lowmem and succeed).
//!
//! The knobs (`Knobs`) keep every distribution in one value so a scenario can change them
//! without touching the generator.
//!
//! # Bookkeeping without a heap
//! Objects live in `MAX_LIVE` slots; an object's id is its slot number, reused after it is
//! freed, so the executor keeps its handles in a `[_; MAX_LIVE]` array. A binary min-heap
//! of slot numbers (fixed array) orders the live objects by expiry. When the slots are full
//! (or `MAX_LIVE_VMAP` vmalloc/ioremap areas are live and one more is drawn) the step frees
//! the earliest-expiring object instead. An allocation reported as failed is not live: its
//! slot returns at once and the run carries on, as drivers that handle ENOMEM do.
//!
//! # The graphics module's buffer: the monkey test's probe
//! Every `REQUEST_INTERVAL` steps (uniform in the range) the graphics module asks for its
//! 0x1a0000-byte buffer (`Op::GpuRequest`), which the kernel tries as `__get_free_pages`
//! (order 9) and then `vmalloc`, as the case study's driver did. The module replaces its
//! buffer: the previous one is freed within `TRANSIENT_MAX` steps after the next request, so
//! at most two are live. The run ends when the kernel says a request failed both ways (it
//! stops asking for operations) or after `budget` steps (`next` returns `None`).
use core::fmt;

use crate::mm::PAGE_SIZE;

/// Steps a run may take unless `budget=` says otherwise: the run ends earlier at the first
/// double failure of the graphics module's request.
pub const DEFAULT_BUDGET: u32 = 20_000;
/// Seed unless `seed=` says otherwise.
pub const DEFAULT_SEED: u64 = 1;
/// Live objects the generator tracks (and the executor must hold handles for).
pub const MAX_LIVE: usize = 8192;
/// Live vmalloc + ioremap areas: half of pivm's 4096 vmap_area slots, leaving the rest for
/// lazily freed areas and the kernel's own mappings.
pub const MAX_LIVE_VMAP: usize = 2048;
/// What the graphics driver asked for in the case study.
pub const REQUEST_SIZE: u32 = 0x1a_0000;
/// Steps between two requests of the graphics module's buffer: uniform in this range.
pub const REQUEST_INTERVAL: (u32, u32) = (100, 300);

/// Share of allocation steps per kind, in percent: kmalloc, __get_free_pages, vmalloc, ioremap,
/// graphics buffers.
pub const MIX: [u32; KINDS] = [32, 9, 12, 4, 43];
/// Allocating kinds: kmalloc, __get_free_pages, vmalloc, ioremap, graphics buffers.
pub const KINDS: usize = 5;

/// kmalloc sizes: (weight %, smallest, largest) bytes, uniform inside a class.
pub const KMALLOC_SIZES: [(u32, u32, u32); 5] = [
    (55, 32, 256),
    (25, 512, 2048),
    (10, 4096, 8192),
    (6, 16 << 10, 32 << 10),
    (4, 64 << 10, 128 << 10),
];
/// Largest kmalloc the drivers ask for.
pub const KMALLOC_MAX: u32 = 128 << 10;
/// `__get_free_pages` order weights (%), orders 0..=4.
pub const GFP_ORDERS: [u32; 5] = [40, 20, 15, 13, 12];
/// Largest order the drivers ask for.
pub const GFP_MAX_ORDER: u8 = 4;
/// Percent of order-0 requests that may use highmem (GPU and user-visible buffers);
/// `GFP_HIGHMEM_PCT_HIGHER` for larger orders (most need a kernel mapping).
pub const GFP_HIGHMEM_PCT_ORDER0: u32 = 50;
pub const GFP_HIGHMEM_PCT_HIGHER: u32 = 10;
/// vmalloc sizes in pages: (weight %, fewest, most).
pub const VMALLOC_PAGES: [(u32, u32, u32); 5] =
    [(35, 1, 4), (25, 5, 16), (20, 17, 64), (15, 65, 256), (5, 257, 512)];
/// Largest vmalloc: 2 MiB.
pub const VMALLOC_MAX_PAGES: u32 = 512;
/// ioremap window sizes: (weight %, bytes).
pub const IOREMAP_SIZES: [(u32, u32); 7] = [
    (45, 4 << 10),
    (12, 8 << 10),
    (8, 16 << 10),
    (15, 64 << 10),
    (10, 256 << 10),
    (7, 1 << 20),
    (3, 2 << 20),
];
/// Share (%) of page-allocator steps that are an app's memory (anonymous and page-cache pages,
/// `GFP_HIGHUSER_MOVABLE`: highmem first, lowmem when highmem is short) rather than a driver's.
pub const APP_CHUNK_PCT: u32 = 26;
/// Order-0 pages in one app chunk (a process growing its heap or reading a file).
pub const APP_CHUNK_PAGES: (u32, u32) = (64, 512);
/// App chunks die with their app (app class) or belong to system services (pinned).
pub const APP_LIFETIMES: [u32; 4] = [0, 0, 97, 3];
/// Graphics buffer sizes: (weight %, fewest, most) pages. Command buffers and small textures,
/// larger textures, and window surfaces (a WVGA 32-bit surface is 375 pages; the case study's
/// 0x1a0000 bytes are 416).
pub const GPU_PAGES: [(u32, u32, u32); 4] =
    [(30, 4, 16), (25, 17, 64), (25, 65, 256), (20, 257, 416)];
/// The graphics buffers' lifetimes: mostly the app's.
pub const GPU_LIFETIMES: [u32; 4] = [15, 25, 60, 0];
/// BCM2836 peripherals (bus window seen by the ARM): where ioremap windows point. They are
/// mapped but never touched, so any device-memory range serves.
pub const IO_PHYS_BASE: u64 = 0x3f00_0000;
pub const IO_PHYS_SIZE: u64 = 0x0100_0000;

/// Lifetime classes.
pub const TRANSIENT: usize = 0;
pub const SHORT: usize = 1;
/// Lives as long as the app that asked (see `SESSION_SPAN`).
pub const MEDIUM: usize = 2;
pub const PINNED: usize = 3;
/// Lifetime class weights (%) per kind (rows in `MIX` order): transient, short, medium, pinned.
pub const LIFETIMES: [[u32; 4]; KINDS] =
    [[40, 25, 15, 20], [45, 30, 15, 10], [25, 25, 30, 20], [20, 20, 20, 40], GPU_LIFETIMES];
/// Transient lifetimes: uniform in 1..=64 steps.
pub const TRANSIENT_MAX: u32 = 64;
/// Short lifetimes: log-uniform in 64..1024 steps (exponents 6..10).
pub const SHORT_EXP: (u32, u32) = (6, 10);
/// App sessions (the monkey bringing another app to the front): each lasts uniform in this
/// many steps.
pub const SESSION_STEPS: (u32, u32) = (500, 1500);
/// An app stays cached for this many sessions after its own, then is killed as the oldest
/// cached app (unless the low memory killer took it earlier): its app objects all go then.
pub const SESSION_SPAN: u32 = 15;
/// Frees of a killed app are spread over this many steps after the session ends.
pub const KILL_JITTER: u32 = 64;
/// Android's low memory killer: when free memory falls below this, the oldest app is killed
/// (its objects go within `KILL_JITTER` steps) and the killer waits as long before the next
/// kill. 120 MiB is a cached-app threshold of the size Android's ActivityManager sets on
/// 1 GiB phones (its high-end table runs from 72 to 180 MiB); the killer of that era counted
/// free pages of all zones.
pub const LMK_MINFREE_KB: u64 = 120 << 10;
/// Object belongs to no app (the low memory killer spares it).
const NO_APP: u32 = u32::MAX;
/// Expiry of pinned objects: never within a run.
pub const NEVER: u32 = u32::MAX;

/// The distributions of one run. `Knobs::DEFAULT` is built from the named constants above;
/// a scenario may scale them (the executor's allocators decide what fails, never the knobs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knobs {
    pub mix: [u32; KINDS],
    pub kmalloc_sizes: [(u32, u32, u32); 5],
    pub gfp_orders: [u32; 5],
    pub gfp_highmem_pct_order0: u32,
    pub gfp_highmem_pct_higher: u32,
    pub vmalloc_pages: [(u32, u32, u32); 5],
    pub ioremap_sizes: [(u32, u32); 7],
    pub lifetimes: [[u32; 4]; KINDS],
    pub gpu_pages: [(u32, u32, u32); 4],
    pub transient_max: u32,
    pub short_exp: (u32, u32),
    pub session_steps: (u32, u32),
    pub session_span: u32,
    pub app_chunk_pct: u32,
    pub app_chunk_pages: (u32, u32),
    pub app_lifetimes: [u32; 4],
    /// Live objects at most (capped by MAX_LIVE) and live vmalloc + ioremap areas at most.
    pub max_live: usize,
    pub max_live_vmap: usize,
    /// Free memory (kB) below which the low memory killer kills the oldest app; 0: never.
    pub lmk_minfree_kb: u64,
    /// Steps between two requests of the graphics module's buffer (uniform, lo..=hi; hi 0:
    /// the module never asks).
    pub request_interval: (u32, u32),
}

impl Knobs {
    pub const DEFAULT: Knobs = Knobs {
        mix: MIX,
        kmalloc_sizes: KMALLOC_SIZES,
        gfp_orders: GFP_ORDERS,
        gfp_highmem_pct_order0: GFP_HIGHMEM_PCT_ORDER0,
        gfp_highmem_pct_higher: GFP_HIGHMEM_PCT_HIGHER,
        vmalloc_pages: VMALLOC_PAGES,
        ioremap_sizes: IOREMAP_SIZES,
        lifetimes: LIFETIMES,
        gpu_pages: GPU_PAGES,
        transient_max: TRANSIENT_MAX,
        short_exp: SHORT_EXP,
        session_steps: SESSION_STEPS,
        session_span: SESSION_SPAN,
        app_chunk_pct: APP_CHUNK_PCT,
        app_chunk_pages: APP_CHUNK_PAGES,
        app_lifetimes: APP_LIFETIMES,
        max_live: MAX_LIVE,
        max_live_vmap: MAX_LIVE_VMAP,
        lmk_minfree_kb: LMK_MINFREE_KB,
        request_interval: REQUEST_INTERVAL,
    };
}

impl Default for Knobs {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `scenario vmalloc-frag` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub seed: u64,
    /// Steps at most (the run ends earlier at a double failure).
    pub budget: u32,
    /// Where ioremap windows point (physical) and how large that window is.
    pub io_phys_base: u64,
    pub io_phys_size: u64,
    pub knobs: Knobs,
}

impl Params {
    pub const DEFAULT: Params = Params {
        seed: DEFAULT_SEED,
        budget: DEFAULT_BUDGET,
        io_phys_base: IO_PHYS_BASE,
        io_phys_size: IO_PHYS_SIZE,
        knobs: Knobs::DEFAULT,
    };

    pub const fn new(seed: u64, budget: u32) -> Params {
        Params { seed, budget, ..Params::DEFAULT }
    }
}

impl Default for Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One operation of the trace. `id` names the object (a slot number below `MAX_LIVE`) so the
/// free can find what the allocation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Kmalloc {
        id: u32,
        size: u32,
    },
    Kfree {
        id: u32,
    },
    /// `__get_free_pages(GFP_KERNEL [| __GFP_HIGHMEM], order)`.
    GetFreePages {
        id: u32,
        order: u8,
        gfp_highmem: bool,
    },
    FreePages {
        id: u32,
    },
    /// An app's memory: `pages` order-0 pages `GFP_HIGHUSER_MOVABLE`, freed together
    /// (`FreePages` with the same id) when the app dies.
    AppPages {
        id: u32,
        pages: u32,
    },
    Vmalloc {
        id: u32,
        size: u32,
    },
    Vfree {
        id: u32,
    },
    Ioremap {
        id: u32,
        phys: u64,
        size: u32,
    },
    Iounmap {
        id: u32,
    },
    /// A graphics-driver buffer, allocated the way the case study's driver did:
    /// `__get_free_pages(GFP_KERNEL | __GFP_NOWARN, get_order(size))`, then `vmalloc(size)`.
    GpuAlloc {
        id: u32,
        size: u32,
    },
    /// Frees a graphics buffer with whichever call matches how it was allocated.
    GpuFree {
        id: u32,
    },
    /// The graphics module's buffer (the case study's request): `__get_free_pages(GFP_KERNEL)`
    /// of the covering order, then `vmalloc`; freed with `GpuFree`. Failing both ways ends the
    /// run.
    GpuRequest {
        id: u32,
        size: u32,
    },
}

impl Op {
    /// Whether the operation allocates (and the next `Workload::next` wants its outcome).
    pub const fn is_alloc(&self) -> bool {
        matches!(
            self,
            Op::Kmalloc { .. }
                | Op::GetFreePages { .. }
                | Op::AppPages { .. }
                | Op::Vmalloc { .. }
                | Op::Ioremap { .. }
                | Op::GpuAlloc { .. }
                | Op::GpuRequest { .. }
        )
    }

    /// The object the operation allocates or frees.
    pub const fn id(&self) -> u32 {
        match *self {
            Op::Kmalloc { id, .. }
            | Op::Kfree { id }
            | Op::GetFreePages { id, .. }
            | Op::AppPages { id, .. }
            | Op::FreePages { id }
            | Op::Vmalloc { id, .. }
            | Op::Vfree { id }
            | Op::Ioremap { id, .. }
            | Op::Iounmap { id }
            | Op::GpuAlloc { id, .. }
            | Op::GpuRequest { id, .. }
            | Op::GpuFree { id } => id,
        }
    }
}

impl fmt::Display for Op {
    /// One trace line, named like the kernel call: `vmalloc #12 0x3000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Kmalloc { id, size } => write!(f, "kmalloc #{id} {size}"),
            Op::Kfree { id } => write!(f, "kfree #{id}"),
            Op::GetFreePages { id, order, gfp_highmem } => write!(
                f,
                "__get_free_pages #{id} order {order} {}",
                if gfp_highmem { "GFP_HIGHUSER" } else { "GFP_KERNEL" }
            ),
            Op::FreePages { id } => write!(f, "free_pages #{id}"),
            Op::AppPages { id, pages } => write!(f, "app pages #{id} {pages} x order 0"),
            Op::Vmalloc { id, size } => write!(f, "vmalloc #{id} {size:#x}"),
            Op::Vfree { id } => write!(f, "vfree #{id}"),
            Op::Ioremap { id, phys, size } => write!(f, "ioremap #{id} {phys:#010x} {size:#x}"),
            Op::Iounmap { id } => write!(f, "iounmap #{id}"),
            Op::GpuAlloc { id, size } => write!(f, "graphics buffer #{id} {size:#x}"),
            Op::GpuFree { id } => write!(f, "graphics free #{id}"),
            Op::GpuRequest { id, size } => write!(f, "graphics request #{id} {size:#x}"),
        }
    }
}

/// PCG32 (XSH RR, O'Neill 2014): small, fast, and the same sequence on every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pcg32 {
    state: u64,
    inc: u64,
}

/// `log_uniform` stays below 2^31.
const LOG_UNIFORM_MAX_EXP: u32 = 30;
const PCG_MULT: u64 = 6_364_136_223_846_793_005;
/// Stream selector (any odd number); fixed so that the seed alone picks the sequence.
const PCG_STREAM: u64 = 0xda3e_39cb_94b9_5bdb;

impl Pcg32 {
    /// Seeds the generator the way PCG's reference `srandom_r` does.
    pub const fn new(seed: u64) -> Pcg32 {
        let mut rng = Pcg32 { state: 0, inc: PCG_STREAM | 1 };
        rng.step();
        rng.state = rng.state.wrapping_add(seed);
        rng.step();
        rng
    }

    const fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    pub const fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.step();
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n == 0` gives 0).
    pub const fn below(&mut self, n: u32) -> u32 {
        ((self.next_u32() as u64 * n as u64) >> 32) as u32
    }

    /// Uniform in `lo..=hi` (`lo` if `hi < lo`).
    pub const fn between(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            lo
        } else if hi - lo == u32::MAX {
            self.next_u32()
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// Index drawn with the given weights (the last index if they are all zero).
    pub fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut r = ((u128::from(self.next_u32()) * u128::from(total)) >> 32) as u64;
        for (i, &w) in weights.iter().enumerate() {
            if r < u64::from(w) {
                return i;
            }
            r -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }

    /// Log-uniform in `2^lo..2^hi` (exponents capped at 30): the exponent uniform, then
    /// uniform inside the octave.
    pub const fn log_uniform(&mut self, (lo, hi): (u32, u32)) -> u32 {
        let lo = if lo > LOG_UNIFORM_MAX_EXP { LOG_UNIFORM_MAX_EXP } else { lo };
        let e = lo + self.below(hi.saturating_sub(lo));
        let e = if e > LOG_UNIFORM_MAX_EXP { LOG_UNIFORM_MAX_EXP } else { e };
        let base = 1u32 << e;
        base + self.below(base)
    }
}

/// What a slot holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    #[default]
    Free,
    Kmalloc,
    Pages,
    Vmalloc,
    Ioremap,
    /// A graphics buffer that may have fallen back to vmalloc (counts as a vmap area).
    Gpu,
    /// A graphics buffer the executor reported as pages (`report_gpu_pages`): no vmap area.
    GpuPages,
}

impl Kind {
    /// Index into `MIX` and `LIFETIMES`.
    const fn index(self) -> usize {
        match self {
            Kind::Free | Kind::Kmalloc => 0,
            Kind::Pages => 1,
            Kind::Vmalloc => 2,
            Kind::Ioremap => 3,
            Kind::Gpu | Kind::GpuPages => 4,
        }
    }

    const ALLOCATING: [Kind; KINDS] =
        [Kind::Kmalloc, Kind::Pages, Kind::Vmalloc, Kind::Ioremap, Kind::Gpu];

    /// Whether the object may hold a vmap area (a graphics buffer does after a fallback).
    const fn is_vmap(self) -> bool {
        matches!(self, Kind::Vmalloc | Kind::Ioremap | Kind::Gpu)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    kind: Kind,
    /// Position in `heap` while live.
    heap_pos: u16,
    /// Step at which the object is freed.
    expires: u32,
    /// Bytes (pages for `Pages`: `PAGE_SIZE << order`).
    bytes: u32,
    /// The app the object dies with, named by the number of the session it started in
    /// (`NO_APP` for other lifetimes).
    app: u32,
}

const EMPTY_SLOT: Slot = Slot { kind: Kind::Free, heap_pos: 0, expires: 0, bytes: 0, app: NO_APP };

/// Counters of one run, for the progress line and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Allocations emitted per kind (`MIX` order).
    pub allocs: [u32; KINDS],
    /// Of those, reported failed.
    pub failed: [u32; KINDS],
    /// Frees emitted per kind.
    pub frees: [u32; KINDS],
    /// Allocations per lifetime class (transient, short, medium, pinned).
    pub by_lifetime: [u32; 4],
    /// Frees forced early because the slots were full.
    pub forced_frees: u32,
    /// Live objects and bytes now, per kind.
    pub live: [u32; KINDS],
    pub live_bytes: [u64; KINDS],
    /// Most objects live at once.
    pub peak_live: u32,
    /// Apps the low memory killer killed.
    pub lmk_kills: u32,
    /// Requests of the graphics module's buffer emitted (not counted in `allocs`).
    pub requests: u32,
}

/// The generator. 20 bytes per slot, about 160 KiB: keep it in a static (`new` is `const`) and
/// `reset` it in place; never put it on a kernel stack.
#[derive(Clone, Debug)]
pub struct Workload {
    params: Params,
    rng: Pcg32,
    step: u32,
    /// Step of the graphics module's next request.
    next_request: u32,
    /// The allocation emitted last, waiting for its outcome.
    pending: Option<u16>,
    slots: [Slot; MAX_LIVE],
    free_ids: [u16; MAX_LIVE],
    nr_free_ids: usize,
    heap: [u16; MAX_LIVE],
    heap_len: usize,
    live_vmap: usize,
    /// End of the current app session, then of the next ones.
    session_ends: [u32; MAX_SESSION_SPAN + 1],
    /// Sessions begun so far: the number of the session `session_ends[0]` ends.
    session_no: u32,
    /// Free memory the executor reported last, for the low memory killer.
    free_kb: Option<u64>,
    /// The low memory killer waits for its last victim to die until this step.
    lmk_wait_until: u32,
    stats: Stats,
}

/// Sessions ahead the generator keeps drawn (bounds `Knobs::session_span`).
pub const MAX_SESSION_SPAN: usize = 16;

impl Workload {
    pub const fn new(params: Params) -> Workload {
        let mut w = Workload {
            params,
            rng: Pcg32::new(params.seed),
            step: 0,
            next_request: 0,
            pending: None,
            slots: [EMPTY_SLOT; MAX_LIVE],
            free_ids: [0; MAX_LIVE],
            nr_free_ids: 0,
            heap: [0; MAX_LIVE],
            heap_len: 0,
            live_vmap: 0,
            session_ends: [0; MAX_SESSION_SPAN + 1],
            session_no: 0,
            free_kb: None,
            lmk_wait_until: 0,
            stats: Stats {
                allocs: [0; KINDS],
                failed: [0; KINDS],
                frees: [0; KINDS],
                by_lifetime: [0; 4],
                forced_frees: 0,
                live: [0; KINDS],
                live_bytes: [0; KINDS],
                peak_live: 0,
                lmk_kills: 0,
                requests: 0,
            },
        };
        w.fill_free_ids();
        w
    }

    /// Starts a new run in place.
    pub fn reset(&mut self, params: Params) {
        self.params = params;
        self.rng = Pcg32::new(params.seed);
        self.step = 0;
        self.next_request = 0;
        self.pending = None;
        self.slots.fill(EMPTY_SLOT);
        self.heap_len = 0;
        self.live_vmap = 0;
        self.session_ends = [0; MAX_SESSION_SPAN + 1];
        self.session_no = 0;
        self.free_kb = None;
        self.lmk_wait_until = 0;
        self.stats = Stats::default();
        self.fill_free_ids();
    }

    /// Ids are handed out lowest first.
    const fn fill_free_ids(&mut self) {
        let mut i = 0;
        while i < MAX_LIVE {
            self.free_ids[i] = (MAX_LIVE - 1 - i) as u16;
            i += 1;
        }
        self.nr_free_ids = MAX_LIVE;
    }

    pub const fn params(&self) -> &Params {
        &self.params
    }

    /// Steps emitted so far.
    pub const fn step(&self) -> u32 {
        self.step
    }

    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Objects live now.
    pub const fn live(&self) -> usize {
        self.heap_len
    }

    /// Whether object `id` is live (allocated and not freed, failure not reported).
    pub fn is_live(&self, id: u32) -> bool {
        self.slots.get(id as usize).is_some_and(|s| s.kind != Kind::Free)
    }

    /// The next operation; `outcome_of_previous` says whether the previous one, if it was an
    /// allocation, succeeded (`None` counts as success). `None` once the run is over.
    pub fn next(&mut self, outcome_of_previous: Option<bool>) -> Option<Op> {
        if let Some(id) = self.pending.take() {
            if outcome_of_previous == Some(false) {
                let kind = self.slots[id as usize].kind;
                self.stats.failed[kind.index()] += 1;
                self.release(id);
            }
        }
        if self.step >= self.params.budget {
            return None;
        }
        let op = self.step_op()?;
        self.step += 1;
        Some(op)
    }

    fn step_op(&mut self) -> Option<Op> {
        let now = self.step;
        self.advance_sessions(now);
        self.low_memory_killer(now);
        let top = self.heap.get(..self.heap_len).and_then(|h| h.first()).copied();
        let asks = self.params.knobs.request_interval.1 > 0;
        if asks && now >= self.next_request && self.heap_len < self.params.knobs.max_live {
            if let Some(id) = self.take_id() {
                return Some(self.request(id, now));
            }
        }
        if let Some(top) = top {
            if self.slots[top as usize].expires <= now {
                return Some(self.free(top));
            }
        }
        let k = self.params.knobs;
        let mut kind = Kind::ALLOCATING[self.rng.pick(&k.mix)];
        if kind.is_vmap() && self.live_vmap >= k.max_live_vmap {
            // No vmap area to spare: the driver does something else.
            kind = Kind::ALLOCATING[self.rng.pick(&k.mix[..2])];
        }
        let id = if self.heap_len < k.max_live { self.take_id() } else { None };
        match (id, top) {
            (Some(id), _) => Some(self.alloc(kind, id, now)),
            (None, Some(top)) => {
                self.stats.forced_frees += 1;
                Some(self.free(top))
            }
            // A table of no slots (`max_live` 0): nothing can be allocated, the run is over.
            (None, None) => None,
        }
    }

    /// The graphics module's request: the next one is drawn now, and this buffer is freed
    /// within `TRANSIENT_MAX` steps after it (the module replaces its buffer).
    fn request(&mut self, id: u16, now: u32) -> Op {
        let k = self.params.knobs;
        let (lo, hi) = k.request_interval;
        self.next_request = now.saturating_add(self.rng.between(lo.max(1), hi));
        let expires = self.next_request.saturating_add(self.rng.between(1, k.transient_max.max(1)));
        let kind = Kind::Gpu;
        self.slots[id as usize] =
            Slot { kind, heap_pos: 0, expires, bytes: REQUEST_SIZE, app: NO_APP };
        self.heap_push(id);
        self.live_vmap += 1;
        self.stats.requests += 1;
        self.stats.live[kind.index()] += 1;
        self.stats.live_bytes[kind.index()] += u64::from(REQUEST_SIZE);
        self.stats.peak_live = self.stats.peak_live.max(self.heap_len as u32);
        self.pending = Some(id);
        Op::GpuRequest { id: u32::from(id), size: REQUEST_SIZE }
    }

    /// Ends of the current session and the next `MAX_SESSION_SPAN`, drawn as time passes.
    fn advance_sessions(&mut self, now: u32) {
        let (lo, hi) = self.params.knobs.session_steps;
        while self.session_ends[0] <= now {
            self.session_no = self.session_no.wrapping_add(1);
            self.session_ends.copy_within(1.., 0);
            let last = self.session_ends[MAX_SESSION_SPAN];
            self.session_ends[MAX_SESSION_SPAN] =
                last.saturating_add(self.rng.between(lo.max(1), hi));
        }
    }

    /// Draws what `kind` asks for: the operation and the bytes it holds.
    fn draw_request(&mut self, kind: Kind, id: u32) -> (Op, u32) {
        let k = self.params.knobs;
        match kind {
            Kind::Free | Kind::Kmalloc => {
                let (_, lo, hi) = k.kmalloc_sizes[self.rng.pick(&k.kmalloc_sizes.map(|c| c.0))];
                let size = self.rng.between(lo, hi).clamp(1, KMALLOC_MAX);
                (Op::Kmalloc { id, size }, size)
            }
            Kind::Pages => {
                let order = (self.rng.pick(&k.gfp_orders) as u8).min(GFP_MAX_ORDER);
                let pct =
                    if order == 0 { k.gfp_highmem_pct_order0 } else { k.gfp_highmem_pct_higher };
                let gfp_highmem = self.rng.below(100) < pct;
                (Op::GetFreePages { id, order, gfp_highmem }, (PAGE_SIZE as u32) << order)
            }
            Kind::Vmalloc => {
                let (_, lo, hi) = k.vmalloc_pages[self.rng.pick(&k.vmalloc_pages.map(|c| c.0))];
                let size = self.rng.between(lo, hi).clamp(1, VMALLOC_MAX_PAGES) * PAGE_SIZE as u32;
                (Op::Vmalloc { id, size }, size)
            }
            Kind::Ioremap => {
                let (_, size) = k.ioremap_sizes[self.rng.pick(&k.ioremap_sizes.map(|c| c.0))];
                let size = size.max(PAGE_SIZE as u32);
                // A window aligned to its size inside the device range, as peripheral blocks
                // and BARs are.
                let windows = (self.params.io_phys_size / u64::from(size)).max(1);
                let n = self.rng.below(u32::try_from(windows).unwrap_or(u32::MAX));
                let phys = self.params.io_phys_base.saturating_add(u64::from(n) * u64::from(size));
                (Op::Ioremap { id, phys, size }, size)
            }
            Kind::Gpu | Kind::GpuPages => {
                let (_, lo, hi) = k.gpu_pages[self.rng.pick(&k.gpu_pages.map(|c| c.0))];
                let size = self.rng.between(lo.max(1), hi) * PAGE_SIZE as u32;
                (Op::GpuAlloc { id, size }, size)
            }
        }
    }

    /// Draws a lifetime class and the step at which an object of that class is freed.
    fn draw_expiry(&mut self, kind: Kind, now: u32) -> (usize, u32, u32) {
        let weights = self.params.knobs.lifetimes[kind.index()];
        self.draw_expiry_with(&weights, now)
    }

    /// Like `draw_expiry`, with the lifetime-class weights given. Also returns the app the
    /// object dies with (`NO_APP` unless medium-lived).
    fn draw_expiry_with(&mut self, weights: &[u32; 4], now: u32) -> (usize, u32, u32) {
        let k = self.params.knobs;
        let class = self.rng.pick(weights);
        let (expires, app) = match class {
            TRANSIENT => (now.saturating_add(self.rng.between(1, k.transient_max)), NO_APP),
            SHORT => (now.saturating_add(self.rng.log_uniform(k.short_exp)), NO_APP),
            MEDIUM => {
                // The app in front: killed when its cached time is up, if the low memory
                // killer has not taken it first.
                let span = k.session_span.min(MAX_SESSION_SPAN as u32);
                let end = self.session_ends[span as usize];
                (end.saturating_add(self.rng.below(KILL_JITTER)), self.session_no)
            }
            _ => (NEVER, NO_APP),
        };
        (class, expires, app)
    }

    /// The graphics buffer just allocated got physically contiguous pages, not a vmalloc
    /// area: it no longer counts against `max_live_vmap`.
    pub fn report_gpu_pages(&mut self) {
        let Some(id) = self.pending else { return };
        let slot = &mut self.slots[id as usize];
        if slot.kind == Kind::Gpu {
            slot.kind = Kind::GpuPages;
            self.live_vmap -= 1;
        }
    }

    /// What the low memory killer sees: free memory now (all zones), reported by the executor
    /// before it asks for the next operation.
    pub fn report_free_kb(&mut self, free_kb: u64) {
        self.free_kb = Some(free_kb);
    }

    /// Android's low memory killer: below the threshold, and once the last victim is gone,
    /// the oldest app (the one due to die first) is killed now.
    fn low_memory_killer(&mut self, now: u32) {
        let minfree = self.params.knobs.lmk_minfree_kb;
        if self.free_kb.is_none_or(|f| f >= minfree) || now < self.lmk_wait_until {
            return;
        }
        let live = &self.slots;
        let Some(victim) = live.iter().map(|s| s.app).filter(|&a| a != NO_APP).min() else {
            return;
        };
        for id in 0..MAX_LIVE as u16 {
            let slot = self.slots[id as usize];
            if slot.kind == Kind::Free || slot.app != victim {
                continue;
            }
            let expires = now.saturating_add(self.rng.below(KILL_JITTER));
            if expires < slot.expires {
                self.slots[id as usize].expires = expires;
                self.sift_up(slot.heap_pos as usize);
            }
        }
        self.lmk_wait_until = now.saturating_add(KILL_JITTER);
        self.stats.lmk_kills += 1;
    }

    fn alloc(&mut self, kind: Kind, id: u16, now: u32) -> Op {
        let k = self.params.knobs;
        let app = kind == Kind::Pages && self.rng.below(100) < k.app_chunk_pct;
        let (class, expires, app_no) = if app {
            self.draw_expiry_with(&k.app_lifetimes, now)
        } else {
            self.draw_expiry(kind, now)
        };
        let (op, bytes) = if app {
            let (lo, hi) = k.app_chunk_pages;
            let pages = self.rng.between(lo.max(1), hi.max(lo.max(1)));
            (Op::AppPages { id: u32::from(id), pages }, pages * PAGE_SIZE as u32)
        } else {
            self.draw_request(kind, u32::from(id))
        };
        self.slots[id as usize] = Slot { kind, heap_pos: 0, expires, bytes, app: app_no };
        self.heap_push(id);
        if kind.is_vmap() {
            self.live_vmap += 1;
        }
        let k = kind.index();
        self.stats.allocs[k] += 1;
        self.stats.by_lifetime[class] += 1;
        self.stats.live[k] += 1;
        self.stats.live_bytes[k] += u64::from(bytes);
        self.stats.peak_live = self.stats.peak_live.max(self.heap_len as u32);
        self.pending = Some(id);
        op
    }

    fn free(&mut self, id: u16) -> Op {
        let kind = self.slots[id as usize].kind;
        self.stats.frees[kind.index()] += 1;
        self.release(id);
        let id = u32::from(id);
        match kind {
            Kind::Free | Kind::Kmalloc => Op::Kfree { id },
            Kind::Pages => Op::FreePages { id },
            Kind::Vmalloc => Op::Vfree { id },
            Kind::Ioremap => Op::Iounmap { id },
            Kind::Gpu | Kind::GpuPages => Op::GpuFree { id },
        }
    }

    /// Forgets a live object: out of the heap, slot back on the free list.
    fn release(&mut self, id: u16) {
        let slot = self.slots[id as usize];
        if slot.kind == Kind::Free {
            return;
        }
        let k = slot.kind.index();
        self.stats.live[k] -= 1;
        self.stats.live_bytes[k] -= u64::from(slot.bytes);
        if slot.kind.is_vmap() {
            self.live_vmap -= 1;
        }
        self.heap_remove(slot.heap_pos as usize);
        self.slots[id as usize] = EMPTY_SLOT;
        if let Some(f) = self.free_ids.get_mut(self.nr_free_ids) {
            *f = id;
            self.nr_free_ids += 1;
        }
    }

    fn take_id(&mut self) -> Option<u16> {
        self.nr_free_ids = self.nr_free_ids.checked_sub(1)?;
        self.free_ids.get(self.nr_free_ids).copied()
    }

    // A binary min-heap of slot ids keyed by (expiry, id), each slot knowing its position.

    fn key(&self, id: u16) -> (u32, u16) {
        (self.slots[id as usize].expires, id)
    }

    fn heap_set(&mut self, pos: usize, id: u16) {
        self.heap[pos] = id;
        self.slots[id as usize].heap_pos = pos as u16;
    }

    fn heap_push(&mut self, id: u16) {
        let pos = self.heap_len;
        self.heap_len += 1;
        self.heap_set(pos, id);
        self.sift_up(pos);
    }

    fn heap_remove(&mut self, pos: usize) {
        if pos >= self.heap_len {
            return;
        }
        self.heap_len -= 1;
        if pos == self.heap_len {
            return;
        }
        let last = self.heap[self.heap_len];
        self.heap_set(pos, last);
        self.sift_up(pos);
        let pos = self.slots[last as usize].heap_pos as usize;
        self.sift_down(pos);
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let (a, b) = (self.heap[pos], self.heap[parent]);
            if self.key(a) >= self.key(b) {
                break;
            }
            self.heap_set(parent, a);
            self.heap_set(pos, b);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if l < self.heap_len && self.key(self.heap[l]) < self.key(self.heap[least]) {
                least = l;
            }
            if r < self.heap_len && self.key(self.heap[r]) < self.key(self.heap[least]) {
                least = r;
            }
            if least == pos {
                return;
            }
            let (a, b) = (self.heap[pos], self.heap[least]);
            self.heap_set(pos, b);
            self.heap_set(least, a);
            pos = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn boxed(params: Params) -> Box<Workload> {
        Box::new(Workload::new(params))
    }

    /// The trace with every allocation succeeding.
    fn trace(params: Params, n: usize) -> Vec<Op> {
        let mut w = boxed(params);
        std::iter::from_fn(|| w.next(None)).take(n).collect()
    }

    #[test]
    fn pcg32_matches_the_reference() {
        // pcg32_random_r's demo: srandom(42, 54) then six outputs.
        let mut r = Pcg32 { state: 0, inc: (54 << 1) | 1 };
        r.step();
        r.state = r.state.wrapping_add(42);
        r.step();
        let got: Vec<u32> = (0..6).map(|_| r.next_u32()).collect();
        assert_eq!(got, [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e]);
    }

    #[test]
    fn same_seed_same_trace_different_seeds_differ() {
        let a = trace(Params::new(7, DEFAULT_BUDGET), 10_000);
        let b = trace(Params::new(7, DEFAULT_BUDGET), 10_000);
        assert_eq!(a.len(), 10_000);
        assert_eq!(a, b);
        let c = trace(Params::new(8, DEFAULT_BUDGET), 10_000);
        assert_ne!(a, c);
        let differing = a.iter().zip(&c).filter(|(x, y)| x != y).count();
        assert!(differing > 9_000, "{differing}");
        // A reset workload replays from the start.
        let mut w = boxed(Params::new(8, DEFAULT_BUDGET));
        for _ in 0..123 {
            w.next(Some(false));
        }
        w.reset(Params::new(7, DEFAULT_BUDGET));
        let again: Vec<Op> = std::iter::from_fn(|| w.next(None)).take(10_000).collect();
        assert_eq!(again, a);
    }

    /// The kernel keeps the generator in a static, built at compile time.
    static STATIC: std::sync::Mutex<Workload> =
        std::sync::Mutex::new(Workload::new(Params::DEFAULT));

    #[test]
    fn lives_in_a_static() {
        assert!(core::mem::size_of::<Workload>() <= 20 * MAX_LIVE + 1024);
        let mut w = STATIC.lock().unwrap();
        w.reset(Params::new(7, DEFAULT_BUDGET));
        let ops: Vec<Op> = std::iter::from_fn(|| w.next(None)).take(1000).collect();
        assert_eq!(ops, trace(Params::new(7, DEFAULT_BUDGET), 1000));
    }

    #[test]
    fn the_run_ends_at_its_budget() {
        let ops = trace(Params::new(3, 500), 10_000);
        assert_eq!(ops.len(), 500);
        let mut w = boxed(Params::new(3, 0));
        assert_eq!(w.next(None), None);
        assert_eq!(w.next(Some(false)), None);
    }

    #[test]
    fn the_graphics_module_asks_at_intervals_and_replaces_its_buffer() {
        let mut w = boxed(Params::new(4, DEFAULT_BUDGET));
        let (mut asked, mut live, mut n) = (Vec::new(), HashMap::new(), 0u32);
        let (mut freed, mut on_time) = (0, 0);
        while let Some(op) = w.next(None) {
            match op {
                Op::GpuRequest { id, size } => {
                    assert_eq!(size, 0x1a_0000);
                    asked.push(n);
                    live.insert(id, n);
                }
                Op::GpuFree { id } => {
                    if let Some(at) = live.remove(&id) {
                        // Freed after the next request, within TRANSIENT_MAX steps of it
                        // (later only when frees queue up behind an app's death).
                        let next = asked.iter().find(|&&a| a > at).copied().unwrap();
                        assert!(n > next, "#{id} asked at {at}, freed at {n} before {next}");
                        freed += 1;
                        on_time += u32::from(n <= next + TRANSIENT_MAX);
                    }
                }
                _ => {}
            }
            n += 1;
        }
        // The module holds its buffer and the one replacing it, and a third only while frees
        // queue up.
        assert!(on_time * 10 >= freed * 9, "{on_time} of {freed} freed on time");
        assert_eq!(asked[0], 0);
        assert_eq!(w.stats().requests as usize, asked.len());
        let gaps: Vec<u32> = asked.windows(2).map(|p| p[1] - p[0]).collect();
        let (lo, hi) = REQUEST_INTERVAL;
        // On time, or a step late when the slot table was full.
        assert!(gaps.iter().all(|g| (lo..=hi + 1).contains(g)), "{gaps:?}");
        let mean = DEFAULT_BUDGET as usize / asked.len();
        assert!(((lo + hi) as usize / 2).abs_diff(mean) < 20, "{mean}");
        // A failed request holds nothing: its slot is free at once.
        let mut w = boxed(Params::new(4, 1000));
        let Some(Op::GpuRequest { id, .. }) = w.next(None) else { panic!() };
        assert!(w.is_live(id));
        // The next operation may reuse the slot; only it is live.
        let op = w.next(Some(false)).unwrap();
        assert!(op.is_alloc());
        assert_eq!(w.live(), 1);
        assert_eq!(w.stats().failed[4], 1);
    }

    /// Replays a run, checking every operation against an independent model of liveness.
    fn check_bookkeeping(params: Params, fail: impl Fn(u32, &Op) -> bool) -> Stats {
        let mut w = boxed(params);
        let mut live: HashMap<u32, Op> = HashMap::new();
        let is_vmap = |o: &Op| {
            matches!(
                o,
                Op::Vmalloc { .. }
                    | Op::Ioremap { .. }
                    | Op::GpuAlloc { .. }
                    | Op::GpuRequest { .. }
            )
        };
        let mut vmap = 0usize;
        let mut outcome = None;
        let mut pending: Option<Op> = None;
        let mut n = 0u32;
        while let Some(op) = w.next(outcome) {
            if let Some(p) = pending.take() {
                if outcome == Some(false) {
                    live.remove(&p.id());
                    vmap -= usize::from(is_vmap(&p));
                }
            }
            outcome = None;
            match op {
                Op::Kmalloc { id, .. }
                | Op::GetFreePages { id, .. }
                | Op::AppPages { id, .. }
                | Op::Vmalloc { id, .. }
                | Op::Ioremap { id, .. }
                | Op::GpuAlloc { id, .. }
                | Op::GpuRequest { id, .. } => {
                    assert!((id as usize) < MAX_LIVE);
                    assert!(live.insert(id, op).is_none(), "step {n}: id {id} reused while live");
                    vmap += usize::from(is_vmap(&op));
                    let failed = fail(n, &op);
                    outcome = Some(!failed);
                    pending = Some(op);
                }
                Op::Kfree { id }
                | Op::FreePages { id }
                | Op::Vfree { id }
                | Op::Iounmap { id }
                | Op::GpuFree { id } => {
                    let allocated =
                        live.remove(&id).unwrap_or_else(|| panic!("step {n}: {op} of a dead id"));
                    let matching = matches!(
                        (allocated, op),
                        (Op::Kmalloc { .. }, Op::Kfree { .. })
                            | (Op::GetFreePages { .. } | Op::AppPages { .. }, Op::FreePages { .. })
                            | (Op::Vmalloc { .. }, Op::Vfree { .. })
                            | (Op::Ioremap { .. }, Op::Iounmap { .. })
                            | (Op::GpuAlloc { .. } | Op::GpuRequest { .. }, Op::GpuFree { .. })
                    );
                    assert!(matching, "step {n}: {op} frees {allocated}");
                    assert!(!w.is_live(id));
                    vmap -= usize::from(is_vmap(&allocated));
                }
            }
            assert!(live.len() <= params.knobs.max_live.min(MAX_LIVE));
            // The graphics module's buffer and its replacement may exceed the cap.
            assert!(vmap <= params.knobs.max_live_vmap + 2);
            n += 1;
        }
        let s = *w.stats();
        assert_eq!(s.live.iter().sum::<u32>() as usize, w.live());
        s
    }

    #[test]
    fn frees_only_live_objects_and_respects_capacity() {
        let s = check_bookkeeping(Params::new(11, DEFAULT_BUDGET), |_, _| false);
        assert_eq!(s.failed, [0; KINDS]);
        assert_eq!(s.forced_frees, 0);
        // Small capacities fill up: the run frees early rather than overflow.
        let mut p = Params::new(12, 30_000);
        p.knobs.max_live = 700;
        p.knobs.max_live_vmap = 100;
        let s = check_bookkeeping(p, |_, _| false);
        assert!(s.forced_frees > 0);
        assert_eq!(s.peak_live, 700);
        // The full table: a long run of pinned objects only.
        let mut p = Params::new(13, 3 * MAX_LIVE as u32);
        p.knobs.lifetimes = [[0, 0, 0, 1]; KINDS];
        let s = check_bookkeeping(p, |_, _| false);
        assert_eq!(s.peak_live as usize, MAX_LIVE);
        assert!(s.forced_frees as usize >= MAX_LIVE / 2);
    }

    /// Sessions of exactly 100 steps; every object lives with its app.
    fn apps_only(seed: u64, steps: u32) -> Box<Workload> {
        let mut p = Params::new(seed, steps);
        p.knobs.lifetimes = [[0, 0, 1, 0]; KINDS];
        p.knobs.app_lifetimes = [0, 0, 1, 0];
        p.knobs.session_steps = (100, 100);
        p.knobs.request_interval = (0, 0);
        boxed(p)
    }

    #[test]
    fn app_objects_die_when_their_session_ends() {
        let mut w = apps_only(21, 3_000);
        let mut born = HashMap::new();
        let mut n = 0u32;
        while let Some(op) = w.next(None) {
            let id = op.id();
            match op.is_alloc() {
                true => {
                    born.insert(id, n / 100);
                }
                false => {
                    // An app is killed when SESSION_SPAN newer apps have started, all of it
                    // at once: one free per step for its (at most 100) objects.
                    let session = born.remove(&id).unwrap();
                    let killed_at = (session + 1 + SESSION_SPAN) * 100;
                    let window = killed_at..killed_at + KILL_JITTER + 100;
                    assert!(window.contains(&n), "{n}: {session}");
                }
            }
            n += 1;
        }
        assert!(n > 2_000 && w.stats().lmk_kills == 0);
    }

    /// Runs `steps` steps reporting `free_kb`; returns (id, step allocated) and the ids freed.
    fn run_with_free(w: &mut Workload, steps: u32, free_kb: u64) -> (Vec<(u32, u32)>, Vec<u32>) {
        let (mut allocated, mut freed) = (Vec::new(), Vec::new());
        for _ in 0..steps {
            w.report_free_kb(free_kb);
            let n = w.step();
            let op = w.next(None).unwrap();
            match op.is_alloc() {
                true => allocated.push((op.id(), n)),
                false => freed.push(op.id()),
            }
        }
        (allocated, freed)
    }

    #[test]
    fn low_memory_killer_kills_the_oldest_app_whole() {
        let mut w = apps_only(22, 100_000);
        // Plenty free: three sessions, nothing killed.
        let (allocated, freed) = run_with_free(&mut w, 300, LMK_MINFREE_KB);
        assert!(freed.is_empty() && w.stats().lmk_kills == 0);
        let first_app: Vec<u32> =
            allocated.iter().filter(|&&(_, n)| n < 100).map(|&(id, _)| id).collect();
        // Memory short for a moment: the oldest app (the first session's) goes, all of it and
        // nothing else.
        let sorted = |mut v: Vec<u32>| {
            v.sort_unstable();
            v
        };
        let (_, mut freed) = run_with_free(&mut w, 1, LMK_MINFREE_KB - 1);
        freed.extend(run_with_free(&mut w, 200, LMK_MINFREE_KB).1);
        assert_eq!(w.stats().lmk_kills, 1);
        assert_eq!(sorted(freed), sorted(first_app));
        // Short for longer: the next oldest goes, and the killer waits KILL_JITTER steps for
        // its victim before it kills again.
        let (_, freed) = run_with_free(&mut w, KILL_JITTER, LMK_MINFREE_KB - 1);
        assert_eq!(w.stats().lmk_kills, 2);
        let second_app: Vec<u32> = allocated
            .iter()
            .filter(|&&(_, n)| (100..200).contains(&n))
            .map(|&(id, _)| id)
            .collect();
        assert!(freed.iter().all(|id| second_app.contains(id)), "{freed:?}");
        // Pinned objects are never killed.
        let mut p = Params::new(23, 100_000);
        p.knobs.request_interval = (0, 0);
        p.knobs.lifetimes = [[0, 0, 0, 1]; KINDS];
        p.knobs.app_lifetimes = [0, 0, 0, 1];
        let mut w = boxed(p);
        let (_, freed) = run_with_free(&mut w, 1_000, 0);
        assert!(freed.is_empty() && w.stats().lmk_kills == 0);
    }

    proptest::proptest! {
        #[test]
        fn any_knobs_any_outcomes_never_panic(
            seed in proptest::prelude::any::<u64>(),
            mix in proptest::prelude::any::<[u32; KINDS]>(),
            lifetimes in proptest::prelude::any::<[[u8; 4]; KINDS]>(),
            sizes in proptest::prelude::any::<[(u32, u32); 5]>(),
            exps in proptest::prelude::any::<[(u32, u32); 2]>(),
            live in 0usize..20_000,
            vmap in 0usize..3_000,
            fails in proptest::prelude::any::<u64>(),
        ) {
            let mut p = Params::new(seed, 3_000);
            let k = &mut p.knobs;
            k.mix = mix;
            k.lifetimes = lifetimes.map(|r| r.map(u32::from));
            for (c, &(lo, hi)) in k.kmalloc_sizes.iter_mut().zip(&sizes) {
                (c.1, c.2) = (lo, hi);
            }
            for (c, &(lo, hi)) in k.vmalloc_pages.iter_mut().zip(&sizes) {
                (c.1, c.2) = (lo, hi);
            }
            k.ioremap_sizes[0].1 = sizes[0].0;
            (k.short_exp, k.session_steps) = (exps[0], exps[1]);
            k.session_span = exps[1].0;
            k.transient_max = sizes[1].1;
            (k.max_live, k.max_live_vmap) = (live, vmap);
            p.io_phys_size = u64::from(sizes[2].0);
            let mut w = boxed(p);
            let mut outcome = None;
            let mut n = 0u32;
            while let Some(op) = w.next(outcome) {
                let _ = op.to_string();
                outcome = Some(fails >> (n % 64) & 1 == 0);
                n += 1;
                proptest::prop_assert!(w.live() <= MAX_LIVE);
            }
            proptest::prop_assert!(n <= 3_001);
        }
    }

    #[test]
    fn failed_allocations_are_not_live() {
        // Every third allocation fails, and all vmallocs over 64 KiB.
        let fail = |n: u32, op: &Op| {
            n.is_multiple_of(3) || matches!(op, Op::Vmalloc { size, .. } if *size > 0x1_0000)
        };
        let s = check_bookkeeping(Params::new(5, DEFAULT_BUDGET), fail);
        assert!(s.failed.iter().all(|&f| f > 0), "{s:?}");
        // Everything failing: nothing is ever freed, nothing stays live.
        let mut w = boxed(Params::new(5, 2_000));
        let mut outcome = None;
        while let Some(op) = w.next(outcome) {
            assert!(op.is_alloc(), "{op}");
            outcome = Some(false);
        }
        assert_eq!(w.live(), 0);
    }

    #[test]
    fn distributions_are_as_documented() {
        let mut w = boxed(Params::new(99, DEFAULT_BUDGET));
        let mut kmalloc_sizes = Vec::new();
        let mut orders = [0u32; 5];
        let mut vmalloc_sizes = Vec::new();
        let mut gpu_sizes = Vec::new();
        let mut ioremaps = 0;
        while let Some(op) = w.next(None) {
            match op {
                Op::GpuAlloc { size, .. } => {
                    // As on a kernel with lowmem to spare: pages, no vmap area.
                    w.report_gpu_pages();
                    gpu_sizes.push(size);
                }
                Op::Kmalloc { size, .. } => kmalloc_sizes.push(size),
                Op::GetFreePages { order, .. } => orders[order as usize] += 1,
                Op::Vmalloc { size, .. } => vmalloc_sizes.push(size),
                Op::Ioremap { phys, size, .. } => {
                    ioremaps += 1;
                    assert_eq!(phys % u64::from(size), 0);
                    assert!(
                        phys >= IO_PHYS_BASE
                            && phys + u64::from(size) <= IO_PHYS_BASE + IO_PHYS_SIZE
                    );
                }
                _ => {}
            }
        }
        let s = *w.stats();
        let allocs: u32 = s.allocs.iter().sum();
        let share = |n: u32| f64::from(n) / f64::from(allocs);
        for (k, &pct) in MIX.iter().enumerate() {
            assert!((share(s.allocs[k]) - f64::from(pct) / 100.0).abs() < 0.02, "{k}: {s:?}");
        }
        assert_eq!(s.allocs[3], ioremaps);
        // Lifetimes: most are transient or short, a small share pinned.
        let pinned = share(s.by_lifetime[PINNED]);
        let brief = share(s.by_lifetime[TRANSIENT] + s.by_lifetime[SHORT]);
        assert!((0.08..0.16).contains(&pinned), "{pinned}");
        // Graphics buffers and app chunks mostly die with their apps, which lowers the share.
        assert!((0.4..0.7).contains(&brief), "{brief}");
        // kmalloc skews small: the median is under 512 bytes, a few reach 64 KiB or more.
        kmalloc_sizes.sort_unstable();
        assert!(kmalloc_sizes[kmalloc_sizes.len() / 2] <= 512);
        assert!(kmalloc_sizes.iter().all(|&s| (32..=KMALLOC_MAX).contains(&s)));
        let big = kmalloc_sizes.iter().filter(|&&s| s >= 64 << 10).count();
        assert!(big > 0 && big < kmalloc_sizes.len() / 10);
        assert!(orders.iter().all(|&n| n > 0) && orders[0] > orders[4]);
        assert!(vmalloc_sizes
            .iter()
            .all(|&s| s % PAGE_SIZE as u32 == 0 && (4096..=2 << 20).contains(&s)));
        assert!(vmalloc_sizes.iter().any(|&s| s > 1 << 20));
        // Graphics buffers: page multiples up to the case study's request, a fifth surfaces.
        assert!(gpu_sizes
            .iter()
            .all(|&s| s % PAGE_SIZE as u32 == 0
                && (4 * PAGE_SIZE as u32..=REQUEST_SIZE).contains(&s)));
        let surfaces = gpu_sizes.iter().filter(|&&s| s > 256 * PAGE_SIZE as u32).count();
        assert!((0.15..0.25).contains(&(surfaces as f64 / gpu_sizes.len() as f64)));
        // Live objects at the end: the long-lived ones dominate.
        assert!(w.live() > 500, "{}", w.live());
    }

    #[test]
    fn op_display() {
        assert_eq!(Op::Kmalloc { id: 3, size: 192 }.to_string(), "kmalloc #3 192");
        assert_eq!(
            Op::GetFreePages { id: 4, order: 2, gfp_highmem: true }.to_string(),
            "__get_free_pages #4 order 2 GFP_HIGHUSER"
        );
        assert_eq!(
            Op::Ioremap { id: 5, phys: 0x3f20_0000, size: 0x1000 }.to_string(),
            "ioremap #5 0x3f200000 0x1000"
        );
        assert_eq!(
            Op::GpuRequest { id: 6, size: REQUEST_SIZE }.to_string(),
            "graphics request #6 0x1a0000"
        );
    }
}
