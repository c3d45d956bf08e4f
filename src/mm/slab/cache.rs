//! One slab cache as SLUB keeps it: `struct kmem_cache` with its geometry (`calculate_sizes`,
//! `calculate_order`), its `kmem_cache_cpu` (one CPU: the CPU slab, its lockless freelist and
//! the CPU partial list) and its `kmem_cache_node` (one node: the partial list and the slab
//! counters); and the kmalloc size classes of `mm/slab_common.c` (`kmalloc_info[]`,
//! `size_index[]`) for `KMALLOC_MIN_SIZE` 64.
use core::mem::size_of;

use super::slabmap::NIL;
use super::{get_order, KMALLOC_MIN_SIZE, KMALLOC_SHIFT_HIGH, KMALLOC_SHIFT_LOW, PAGE_SIZE};
use crate::config::MAX_ORDER;

/// `PAGE_ALLOC_COSTLY_ORDER`: SLUB's default `slub_max_order`.
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;
/// `slub_max_order`: the default, clamped below `MAX_ORDER` as `slub_max_order=` is (only
/// builds with fewer than four free lists feel the clamp).
pub const SLUB_MAX_ORDER: u32 = if PAGE_ALLOC_COSTLY_ORDER < MAX_ORDER as u32 - 1 {
    PAGE_ALLOC_COSTLY_ORDER
} else {
    MAX_ORDER as u32 - 1
};
/// `slub_min_order`.
pub const SLUB_MIN_ORDER: u32 = 0;
/// `MAX_OBJS_PER_PAGE`: `slab->objects` is a 15-bit field.
pub const MAX_OBJS_PER_PAGE: usize = 32767;
/// `MIN_PARTIAL`/`MAX_PARTIAL`: bounds of `min_partial`, the empty slabs a node keeps.
pub const MIN_PARTIAL: usize = 5;
pub const MAX_PARTIAL: usize = 10;
/// Bytes of a free pointer (`sizeof(void *)`).
pub const FREEPTR_SIZE: usize = size_of::<usize>();

/// `fls()`: 1-based index of the highest set bit, 0 for 0.
const fn fls(x: u32) -> u32 {
    u32::BITS - x.leading_zeros()
}

const fn max(a: u32, b: u32) -> u32 {
    if a > b {
        a
    } else {
        b
    }
}

/// `slub_min_objects` when not set on the command line: `4 * (fls(nr_cpus) + 1)`, where
/// `calculate_order` takes `nr_cpu_ids` because only the boot CPU is present at
/// `kmem_cache_init` time (16 on the Pi 2's four cores).
pub const fn slub_min_objects(nr_cpu_ids: u32) -> usize {
    4 * (fls(nr_cpu_ids) as usize + 1)
}

/// `order_objects()`: objects of `size` bytes in a slab of `order`.
pub const fn order_objects(order: u32, size: usize) -> usize {
    (PAGE_SIZE << order) / size
}

/// `calc_slab_order()`: the smallest order from the one holding `min_objects` up to
/// `max_order` that leaves at most 1/`fract_leftover` of the slab unused; `max_order + 1`
/// when none does.
const fn calc_slab_order(size: usize, min_objects: usize, max_order: u32, fract: usize) -> u32 {
    if order_objects(SLUB_MIN_ORDER, size) > MAX_OBJS_PER_PAGE {
        return get_order(size * MAX_OBJS_PER_PAGE) - 1;
    }
    let mut order = max(SLUB_MIN_ORDER, get_order(min_objects * size));
    while order <= max_order {
        let slab_size = PAGE_SIZE << order;
        if slab_size % size <= slab_size / fract {
            break;
        }
        order += 1;
    }
    order
}

/// `calculate_order()`: first relax the waste allowed (1/16, 1/8, 1/4), then the objects
/// required (from `slub_min_objects` down to 2), then one object per slab up to
/// `slub_max_order`, then up to `MAX_ORDER - 1`. `None` where Linux returns `-ENOSYS`.
pub const fn calculate_order(size: usize, nr_cpu_ids: u32) -> Option<u32> {
    let max_objects = order_objects(SLUB_MAX_ORDER, size);
    let mut min_objects = slub_min_objects(nr_cpu_ids);
    if min_objects > max_objects {
        min_objects = max_objects;
    }
    while min_objects > 1 {
        let mut fraction = 16;
        while fraction >= 4 {
            let order = calc_slab_order(size, min_objects, SLUB_MAX_ORDER, fraction);
            if order <= SLUB_MAX_ORDER {
                return Some(order);
            }
            fraction /= 2;
        }
        min_objects -= 1;
    }
    let order = calc_slab_order(size, 1, SLUB_MAX_ORDER, 1);
    if order <= SLUB_MAX_ORDER {
        return Some(order);
    }
    let order = calc_slab_order(size, 1, MAX_ORDER as u32, 1);
    if (order as usize) < MAX_ORDER {
        Some(order)
    } else {
        None
    }
}

/// The layout `calculate_sizes()` gives a cache (no debug flags, no constructor, no RCU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheGeometry {
    /// `s->size`: the object stride (slabinfo's `objsize`).
    pub size: usize,
    /// `s->offset`: where the free pointer sits in a free object.
    pub offset: usize,
    /// `oo_order(s->oo)`, `oo_objects(s->oo)`.
    pub order: u32,
    pub objects: usize,
}

/// `calculate_sizes()`: the object rounded up to a word, the free pointer in the middle of the
/// object (`ALIGN_DOWN(object_size / 2, sizeof(void *))`, away from both edges, so small
/// overflows from a neighbour do not hit it), the stride rounded up to the alignment.
pub const fn calculate_sizes(
    object_size: usize,
    align: usize,
    nr_cpu_ids: u32,
) -> Option<CacheGeometry> {
    let size = object_size.next_multiple_of(FREEPTR_SIZE).next_multiple_of(align);
    let offset = (object_size / 2) / FREEPTR_SIZE * FREEPTR_SIZE;
    match calculate_order(size, nr_cpu_ids) {
        Some(order) => {
            Some(CacheGeometry { size, offset, order, objects: order_objects(order, size) })
        }
        None => None,
    }
}

/// `kmem_cache_open`'s `min_partial`: `ilog2(size) / 2`, clamped to 5..=10.
pub const fn min_partial(size: usize) -> usize {
    let m = (usize::BITS - 1 - size.leading_zeros()) as usize / 2;
    if m < MIN_PARTIAL {
        MIN_PARTIAL
    } else if m > MAX_PARTIAL {
        MAX_PARTIAL
    } else {
        m
    }
}

/// `set_cpu_partial()` with `CONFIG_SLUB_CPU_PARTIAL` (the Pi's SMP config): objects kept on
/// the CPU partial list by object size, turned into a slab count as
/// `slub_set_cpu_partial()` does (`DIV_ROUND_UP(nr_objects * 2, objects)`: slabs assumed half
/// full).
pub const fn cpu_partial_slabs(size: usize, objects: usize) -> usize {
    let nr_objects: usize = if size >= PAGE_SIZE {
        6
    } else if size >= 1024 {
        24
    } else if size >= 256 {
        52
    } else {
        120
    };
    (nr_objects * 2).div_ceil(objects)
}

// ---- kmalloc classes --------------------------------------------------------------------

/// `kmalloc_info[i].name[KMALLOC_NORMAL]` for the indices that exist with
/// `KMALLOC_MIN_SIZE` 64: 2 (192 bytes) and 6..=13 (64 bytes to 8 KiB).
pub const fn kmalloc_name(index: usize) -> &'static str {
    match index {
        1 => "kmalloc-96",
        2 => "kmalloc-192",
        3 => "kmalloc-8",
        4 => "kmalloc-16",
        5 => "kmalloc-32",
        6 => "kmalloc-64",
        7 => "kmalloc-128",
        8 => "kmalloc-256",
        9 => "kmalloc-512",
        10 => "kmalloc-1k",
        11 => "kmalloc-2k",
        12 => "kmalloc-4k",
        13 => "kmalloc-8k",
        _ => "kmalloc-?",
    }
}

/// `kmalloc_info[i].size`.
pub const fn kmalloc_size(index: usize) -> usize {
    match index {
        1 => 96,
        2 => 192,
        _ => 1 << index,
    }
}

/// The kmalloc indices in the order `create_kmalloc_caches()` creates them: powers of two
/// from `KMALLOC_SHIFT_LOW` up, with 192 right after 128 (96 only if `KMALLOC_MIN_SIZE` <= 32).
pub const KMALLOC_CREATION_ORDER: [usize; NR_KMALLOC_CACHES] = {
    let mut out = [0; NR_KMALLOC_CACHES];
    let mut n = 0;
    let mut i = KMALLOC_SHIFT_LOW as usize;
    while i <= KMALLOC_SHIFT_HIGH as usize {
        out[n] = i;
        n += 1;
        if KMALLOC_MIN_SIZE <= 32 && i == 6 {
            out[n] = 1;
            n += 1;
        }
        if KMALLOC_MIN_SIZE <= 64 && i == 7 {
            out[n] = 2;
            n += 1;
        }
        i += 1;
    }
    assert!(n == NR_KMALLOC_CACHES);
    out
};

/// kmalloc caches: the powers of two, plus 192 (and 96 with a smaller minimum).
pub const NR_KMALLOC_CACHES: usize = (KMALLOC_SHIFT_HIGH - KMALLOC_SHIFT_LOW + 1) as usize
    + (KMALLOC_MIN_SIZE <= 64) as usize
    + (KMALLOC_MIN_SIZE <= 32) as usize;

/// `size_index[]` after `setup_kmalloc_cache_index_table()`: the kmalloc index for requests
/// up to 192 bytes, in steps of 8. Below `KMALLOC_MIN_SIZE` everything goes to the smallest
/// cache; with a 64-byte minimum, 72..96 go to kmalloc-128 (no kmalloc-96).
pub const SIZE_INDEX: [u8; 24] = {
    let mut t: [u8; 24] = [
        3, 4, 5, 5, 6, 6, 6, 6, // 8 .. 64
        1, 1, 1, 1, 7, 7, 7, 7, // 72 .. 128
        2, 2, 2, 2, 2, 2, 2, 2, // 136 .. 192
    ];
    let mut i = 8;
    while i < KMALLOC_MIN_SIZE {
        t[(i - 1) / 8] = KMALLOC_SHIFT_LOW as u8;
        i += 8;
    }
    if KMALLOC_MIN_SIZE >= 64 {
        let mut i = 64 + 8;
        while i <= 96 {
            t[(i - 1) / 8] = 7;
            i += 8;
        }
    }
    if KMALLOC_MIN_SIZE >= 128 {
        let mut i = 128 + 8;
        while i <= 192 {
            t[(i - 1) / 8] = 8;
            i += 8;
        }
    }
    t
};

/// `kmalloc_slab()`'s index for `size` (1..=KMALLOC_MAX_CACHE_SIZE): the table up to 192
/// bytes, `fls(size - 1)` above.
#[inline]
pub fn kmalloc_index(size: usize) -> usize {
    if size <= 192 {
        SIZE_INDEX[(size - 1) / 8] as usize
    } else {
        (usize::BITS - (size - 1).leading_zeros()) as usize
    }
}

// ---- struct kmem_cache ------------------------------------------------------------------

/// `struct kmem_cache_cpu` of the one CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KmemCacheCpu {
    /// `c->freelist`: next free object of the CPU slab (0: none).
    pub freelist: usize,
    /// `c->slab`: the CPU slab (slab map index, `NIL` for none).
    pub slab: u32,
    /// Address of the CPU slab's first object (pivm: for the free pointer range check).
    pub slab_base: usize,
    /// `c->partial`: head of the CPU partial list (linked through `SlabDesc::next`).
    pub partial: u32,
    /// Slabs on it (Linux keeps this in the head slab's `slabs`).
    pub nr_partial: usize,
}

/// `struct kmem_cache_node` of the one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KmemCacheNode {
    /// `n->partial`, doubly linked through `SlabDesc::next`/`prev`.
    pub partial_head: u32,
    pub partial_tail: u32,
    pub nr_partial: usize,
    /// `n->nr_slabs`, `n->total_objects`.
    pub nr_slabs: usize,
    pub total_objects: usize,
}

/// One cache. Plain data (`Copy`) so the cache table can be built in a `const`.
#[derive(Clone, Copy, Debug)]
pub(super) struct KmemCache {
    pub name: &'static str,
    pub live: bool,
    /// A kmalloc cache (never destroyed).
    pub kmalloc: bool,
    /// Bumped each time the slot is reused, so a stale `CacheId` is refused.
    pub gen: u16,
    /// Creation sequence number (slabinfo lists newest first, as `slab_caches` is).
    pub seq: u32,
    /// `s->object_size`: what the user asked for.
    pub object_size: usize,
    pub size: usize,
    pub offset: usize,
    pub order: u32,
    pub objects: usize,
    pub min_partial: usize,
    pub cpu_partial_slabs: usize,
    /// `log2(size)` when `size` is a power of two, else 0: object index by shift.
    pub shift: u32,
    /// `s->reciprocal_size`: `ceil(2^32 / size)`, exact for every offset in a slab when
    /// `slab bytes * size < 2^32` (else 0, and the index takes a division).
    pub reciprocal: u64,
    pub cpu: KmemCacheCpu,
    pub node: KmemCacheNode,
}

impl KmemCache {
    pub(super) const EMPTY: Self = Self {
        name: "",
        live: false,
        kmalloc: false,
        gen: 0,
        seq: 0,
        object_size: 0,
        size: 0,
        offset: 0,
        order: 0,
        objects: 0,
        min_partial: 0,
        cpu_partial_slabs: 0,
        shift: 0,
        reciprocal: 0,
        cpu: KmemCacheCpu { freelist: 0, slab: NIL, slab_base: 0, partial: NIL, nr_partial: 0 },
        node: KmemCacheNode {
            partial_head: NIL,
            partial_tail: NIL,
            nr_partial: 0,
            nr_slabs: 0,
            total_objects: 0,
        },
    };

    /// `kmem_cache_open()`: a live cache of `object_size`-byte objects aligned to `align`
    /// (a power of two, at least a word), or `None` if no slab order holds one.
    pub(super) const fn open(
        name: &'static str,
        object_size: usize,
        align: usize,
        seq: u32,
        kmalloc: bool,
        nr_cpu_ids: u32,
    ) -> Option<Self> {
        let Some(g) = calculate_sizes(object_size, align, nr_cpu_ids) else { return None };
        Some(Self {
            name,
            live: true,
            kmalloc,
            seq,
            object_size,
            size: g.size,
            offset: g.offset,
            order: g.order,
            objects: g.objects,
            min_partial: min_partial(g.size),
            cpu_partial_slabs: cpu_partial_slabs(g.size, g.objects),
            shift: if g.size.is_power_of_two() { g.size.trailing_zeros() } else { 0 },
            reciprocal: if ((PAGE_SIZE << g.order) as u64) * (g.size as u64) < 1 << 32 {
                (1u64 << 32).div_ceil(g.size as u64)
            } else {
                0
            },
            ..Self::EMPTY
        })
    }

    /// Pages per slab.
    pub(super) const fn pages(&self) -> usize {
        1 << self.order
    }

    /// Bytes from a slab's start to the end of its last object.
    #[inline]
    pub(super) const fn span(&self) -> usize {
        self.objects * self.size
    }

    /// The object `addr` falls in, for a slab starting at `base`: `Ok(object)` when `addr`
    /// is an object's first byte, else `Err((object start, offset))`, or `Err((0, 0))` past
    /// the last object.
    #[inline]
    pub(super) fn object_at(&self, base: usize, addr: usize) -> Result<usize, (usize, usize)> {
        let off = addr.wrapping_sub(base);
        if off >= self.span() {
            return Err((0, 0));
        }
        // obj_to_index(): no division on the free path (ARMv7-A need not have one).
        let index = if self.shift != 0 {
            off >> self.shift
        } else if self.reciprocal != 0 {
            ((off as u64 * self.reciprocal) >> 32) as usize
        } else {
            off / self.size
        };
        let rem = off - index * self.size;
        if rem == 0 {
            Ok(addr)
        } else {
            Err((addr - rem, rem))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/slabinfo` of Linux 6.1 on this board (`linux-6.1-raspi2b-3G-proc.txt`): every
    /// cache line's `objsize`, `objperslab` and `pagesperslab`. SLUB sized them with four CPUs.
    const SAMPLE: [(&str, usize, usize, usize); 18] = [
        ("fsverity_info", 248, 16, 1),
        ("fscrypt_info", 96, 42, 1),
        ("MPTCPv6", 1600, 20, 8),
        ("request_sock_subflow_v6", 304, 26, 2),
        ("PINGv6", 960, 17, 4),
        ("RAWv6", 960, 17, 4),
        ("UDPv6", 1024, 16, 4),
        ("tw_sock_TCPv6", 208, 19, 1),
        ("request_sock_TCPv6", 240, 17, 1),
        ("TCPv6", 1920, 17, 8),
        ("bio-104", 128, 32, 1),
        ("bio-216", 256, 16, 1),
        ("mqueue_inode_cache", 640, 25, 4),
        ("userfaultfd_ctx_cache", 128, 32, 1),
        ("audit_tree_mark", 48, 85, 1),
        ("posix_timers_cache", 184, 22, 1),
        ("ip4-frags", 136, 30, 1),
        ("MPTCP", 1472, 22, 8),
    ];

    #[test]
    fn orders_match_linux_on_this_board() {
        for (name, size, objs, pages) in SAMPLE {
            let order = calculate_order(size, 4).unwrap();
            assert_eq!((order_objects(order, size), 1 << order), (objs, pages), "{name}");
        }
    }

    #[test]
    fn kmalloc_caches_as_slub_sizes_them_on_armv7() {
        // (index, objsize, objperslab, pagesperslab, free pointer offset)
        let expect: [(usize, usize, usize, usize, usize); 9] = [
            (6, 64, 64, 1, 32),
            (7, 128, 32, 1, 64),
            (2, 192, 21, 1, 96),
            (8, 256, 16, 1, 128),
            (9, 512, 16, 2, 256),
            (10, 1024, 16, 4, 512),
            (11, 2048, 16, 8, 1024),
            (12, 4096, 8, 8, 2048),
            (13, 8192, 4, 8, 4096),
        ];
        assert_eq!(KMALLOC_CREATION_ORDER, [6, 7, 2, 8, 9, 10, 11, 12, 13]);
        for (i, (index, size, objs, pages, offset)) in expect.into_iter().enumerate() {
            assert_eq!(KMALLOC_CREATION_ORDER[i], index);
            let align = KMALLOC_MIN_SIZE.max(if size.is_power_of_two() { size } else { 0 });
            let g = calculate_sizes(kmalloc_size(index), align, 4).unwrap();
            assert_eq!((g.size, g.objects, 1 << g.order, g.offset), (size, objs, pages, offset));
        }
    }

    #[test]
    fn size_index_has_no_classes_below_64_and_no_96() {
        for size in 1..=64 {
            assert_eq!(kmalloc_index(size), 6, "{size}");
        }
        for size in 65..=128 {
            assert_eq!(kmalloc_index(size), 7, "{size}");
        }
        for size in 129..=192 {
            assert_eq!(kmalloc_index(size), 2, "{size}");
        }
        assert_eq!(kmalloc_index(193), 8);
        assert_eq!(kmalloc_index(8192), 13);
    }

    #[test]
    fn fewer_cpus_want_fewer_objects() {
        assert_eq!(slub_min_objects(1), 8);
        assert_eq!(slub_min_objects(4), 16);
        // kmalloc-512: 16 objects need an order-1 slab with four CPUs, 8 fit one page with one.
        assert_eq!(calculate_order(512, 4), Some(1));
        assert_eq!(calculate_order(512, 1), Some(0));
    }

    #[test]
    fn objects_too_big_for_costly_orders_still_get_a_slab() {
        // 40000 bytes: not even one object in an order-3 slab; order 4 holds one.
        assert_eq!(calculate_order(40_000, 4), Some(4));
        assert_eq!(calculate_order(PAGE_SIZE << MAX_ORDER, 4), None);
    }

    #[test]
    fn object_index_by_reciprocal_is_exact() {
        for size in [8, 24, 96, 136, 192, 248, 304, 640, 960, 1472, 1600, 1920, 3000, 40_000] {
            let c = KmemCache::open("t", size, 8, 0, false, 4).unwrap();
            for off in 0..c.span() {
                let want = if off % c.size == 0 {
                    Ok(off)
                } else {
                    Err((off - off % c.size, off % c.size))
                };
                assert_eq!(c.object_at(0, off), want, "size {size} offset {off}");
            }
        }
    }

    #[test]
    fn min_partial_and_cpu_partial() {
        assert_eq!(min_partial(64), MIN_PARTIAL);
        assert_eq!(min_partial(8192), 6);
        assert_eq!(min_partial(1 << 30), MAX_PARTIAL);
        assert_eq!(cpu_partial_slabs(64, 64), 4);
        assert_eq!(cpu_partial_slabs(8192, 4), 3);
        assert_eq!(cpu_partial_slabs(512, 16), 7);
    }
}
