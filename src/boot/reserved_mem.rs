//! Device-tree memory reservations applied to memblock, as Linux 6.1's
//! `early_init_fdt_scan_reserved_mem()` does: the header's `/memreserve/` entries, then every
//! `/reserved-memory` child with a `reg` (reserved, or marked NOMAP when `no-map`), then the
//! dynamic children (`size`, `alignment`, `alloc-ranges`) placed by memblock.
//!
//! The default CMA area (a `reusable` `shared-dma-pool` with `linux,cma-default`) is not
//! reserved: it stays in the page allocator (as Linux's MIGRATE_CMA pageblocks do once CMA
//! activates it); it is only placed and returned, for the CMA code.
use core::fmt::{self, Write};

use super::dtb::{self, DtbError, ReservedMemoryRoot, RmemNode, RootCells};
use super::info::MemBank;
use crate::mm::memblock::{Memblock, MEMBLOCK_ALLOC_ANYWHERE};
use crate::mm::page_alloc::PAGEBLOCK_ORDER;
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::sizes::SZ_1M;

/// memblock owner of the header's `/memreserve/` entries.
pub const MEMRESERVE_OWNER: &str = "/memreserve/";
/// memblock owner of `/reserved-memory` regions.
pub const RESERVED_MEMORY_OWNER: &str = "/reserved-memory";
/// Is a memblock reservation one of the device tree's?
pub fn is_dt_owner(name: &str) -> bool {
    name == MEMRESERVE_OWNER || name == RESERVED_MEMORY_OWNER
}

/// Linux's `MAX_RESERVED_REGIONS`: `/reserved-memory` children remembered for the second pass.
pub const MAX_RESERVED_REGIONS: usize = 64;
/// Linux's `SMP_CACHE_BYTES` on ARMv7: the alignment of a dynamic region without one.
const SMP_CACHE_BYTES: u64 = 64;
/// Linux's `CMA_MIN_ALIGNMENT_BYTES`: a CMA area is whole pageblocks.
pub const CMA_MIN_ALIGNMENT_BYTES: u64 = PAGE_SIZE << PAGEBLOCK_ORDER;

/// Linux's `%pa` for a 32-bit `phys_addr_t`.
struct Pa(u64);

impl fmt::Display for Pa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// A `/reserved-memory` child saved for the second pass (`struct reserved_mem`): static
/// ones with their first `reg` entry, dynamic ones with size 0 until placed.
#[derive(Clone, Copy, Debug)]
struct Rmem<'a> {
    node: RmemNode<'a>,
    base: u64,
    size: u64,
}

/// What the scan did besides changing memblock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReservedMem {
    /// The default CMA area (not reserved).
    pub cma: Option<MemBank>,
}

/// Is this node the default CMA area (Linux's `rmem_cma_setup` with `linux,cma-default`)?
fn is_default_cma(node: &RmemNode) -> bool {
    let p = &node.props;
    p.shared_dma_pool && p.reusable && !p.no_map && p.cma_default
}

/// `early_init_fdt_scan_reserved_mem()`: applies the blob's reservations to `memblock`,
/// printing Linux's messages for the ones that fail to `log`. memblock must already hold the
/// RAM (after `mem=`) and the kernel's own reservations, so that `no-map` cannot take memory
/// already in use. A blob that fails the structure checks changes nothing.
pub fn early_init_fdt_scan_reserved_mem(
    blob: &[u8],
    memblock: &mut Memblock,
    log: &mut impl Write,
) -> Result<ReservedMem, DtbError> {
    // Both walks validate the blob before anything is applied.
    dtb::for_each_memreserve(blob, |_, _| {})?;
    dtb::scan_reserved_memory(blob, |_, _| {})?;

    // The header's /memreserve/ entries first (6.1.y's order).
    dtb::for_each_memreserve(blob, |base, size| {
        if let Err(e) = memblock.reserve(base, size, MEMRESERVE_OWNER) {
            let _ = writeln!(log, "{e}");
        }
    })?;

    // fdt_scan_reserved_mem(): static regions now, every child saved for the second pass.
    let mut saved = [None; MAX_RESERVED_REGIONS];
    let mut count = 0;
    let mut root_cells = None;
    let root = dtb::scan_reserved_memory(blob, |cells, node| {
        root_cells = Some(cells);
        scan_node(cells, node, memblock, log, &mut saved, &mut count);
    })?;
    if root == ReservedMemoryRoot::Unsupported {
        let _ = writeln!(log, "OF: fdt: Reserved memory: unsupported node format, ignoring");
    }

    // fdt_init_reserved_mem(): overlap check, then dynamic placement and each node's setup.
    let saved = &mut saved[..count];
    // Linux sorts by base, then size (dynamic ones, still 0/0, first); stably here.
    saved.sort_by_key(|r| r.map(|r: Rmem| (r.base, r.size)));
    check_for_overlap(saved, log);
    let mut result = ReservedMem::default();
    for r in saved.iter_mut().flatten() {
        if r.size == 0 {
            let Some(cells) = root_cells else { continue };
            let Some((base, size)) = alloc_size(r.node, cells, memblock, log) else { continue };
            r.base = base;
            r.size = size;
        }
        if is_default_cma(&r.node) {
            if !(r.base | r.size).is_multiple_of(CMA_MIN_ALIGNMENT_BYTES) {
                let _ = writeln!(log, "Reserved memory: incorrect alignment of CMA region");
                let _ = writeln!(
                    log,
                    "OF: reserved mem: node {} compatible matching fail",
                    r.node.name
                );
                continue;
            }
            result.cma = Some(MemBank { start: PhysAddr(r.base), size: r.size });
        }
    }
    Ok(result)
}

/// One child in the first pass: `__reserved_mem_reserve_reg` for its `reg` entries, then
/// `fdt_reserved_mem_save_node` (for a dynamic one only when it has a `size`).
fn scan_node<'a>(
    cells: RootCells,
    node: RmemNode<'a>,
    memblock: &mut Memblock,
    log: &mut impl Write,
    saved: &mut [Option<Rmem<'a>>; MAX_RESERVED_REGIONS],
    count: &mut usize,
) {
    let mut save = |log: &mut dyn Write, base, size| match saved.get_mut(*count) {
        Some(slot) => {
            *slot = Some(Rmem { node, base, size });
            *count += 1;
        }
        None => {
            let _ = writeln!(log, "OF: reserved mem: not enough space for all defined regions.");
        }
    };
    let Some(reg) = node.props.reg else {
        if node.props.size.is_some() {
            save(log, 0, 0);
        }
        return;
    };
    let pair = cells.pair_bytes();
    if !reg.is_empty() && reg.len() % pair != 0 {
        let _ = writeln!(
            log,
            "OF: fdt: Reserved memory: invalid reg property in '{}', skipping node.",
            node.name
        );
        return;
    }
    let cma = is_default_cma(&node);
    let mut rest = reg;
    let mut first = true;
    while rest.len() >= pair {
        let (base, r) = dtb::next_cells(rest, cells.address).unwrap_or((0, &[]));
        let (size, r) = dtb::next_cells(r, cells.size).unwrap_or((0, &[]));
        rest = r;
        // The default CMA area stays in the page allocator: nothing to reserve.
        let ok = size != 0 && (cma || early_init_dt_reserve_memory(memblock, base, size, &node));
        if !ok {
            let _ = writeln!(
                log,
                "OF: fdt: Reserved memory: failed to reserve memory for node '{}': base {}, size {} MiB",
                node.name,
                Pa(base),
                size / SZ_1M
            );
        }
        if first {
            save(log, base, size);
            first = false;
        }
    }
}

/// `early_init_dt_reserve_memory`: a `no-map` region is marked NOMAP (refused when any of it
/// is RAM already reserved, such as the kernel), any other is reserved. False on refusal.
fn early_init_dt_reserve_memory(
    memblock: &mut Memblock,
    base: u64,
    size: u64,
    node: &RmemNode,
) -> bool {
    if node.props.no_map {
        if memblock.overlaps_memory(base, size) && memblock.is_region_reserved(base, size) {
            return false;
        }
        return memblock.mark_nomap(base, size).is_ok();
    }
    memblock.reserve(base, size, RESERVED_MEMORY_OWNER).is_ok()
}

/// `__rmem_check_for_overlap`: reports saved static regions that overlap (after sorting).
fn check_for_overlap(saved: &[Option<Rmem>], log: &mut impl Write) {
    for pair in saved.windows(2) {
        let (Some(this), Some(next)) = (pair[0], pair[1]) else { continue };
        if this.base.saturating_add(this.size) > next.base {
            let _ = writeln!(log, "OF: reserved mem: OVERLAP DETECTED!");
            let _ = writeln!(
                log,
                "{} ({}--{}) overlaps with {} ({}--{})",
                this.node.name,
                Pa(this.base),
                Pa(this.base.saturating_add(this.size)),
                next.node.name,
                Pa(next.base),
                Pa(next.base.saturating_add(next.size))
            );
        }
    }
}

/// `__reserved_mem_alloc_size`: places a dynamic region (`size`, optional `alignment`,
/// optional `alloc-ranges` tried in order) top-down in memblock and reserves it (marks it
/// NOMAP instead when `no-map`). The default CMA area is placed the same way but left
/// unreserved. `None`: refused, with Linux's message in `log`.
fn alloc_size(
    node: RmemNode,
    cells: RootCells,
    memblock: &mut Memblock,
    log: &mut impl Write,
) -> Option<(u64, u64)> {
    let name = node.name;
    let p = node.props;
    // A static node whose first `reg` entry had size 0 ends up here too, silently.
    let v = p.size?;
    if v.len() != cells.size * 4 {
        let _ = writeln!(log, "OF: reserved mem: invalid size property in '{name}' node.");
        return None;
    }
    let size = dtb::next_cells(v, cells.size).map_or(0, |(s, _)| s);
    let mut align = 0;
    if let Some(v) = p.alignment {
        if v.len() != cells.address * 4 {
            let _ = writeln!(log, "OF: reserved mem: invalid alignment property in '{name}' node.");
            return None;
        }
        align = dtb::next_cells(v, cells.address).map_or(0, |(a, _)| a);
    }
    // CMA needs whole pageblocks.
    if p.shared_dma_pool && p.reusable && !p.no_map {
        align = align.max(CMA_MIN_ALIGNMENT_BYTES);
    }
    let align = if align == 0 { SMP_CACHE_BYTES } else { align };
    let cma = is_default_cma(&node);
    let mut place = |start: u64, end: u64| -> Option<u64> {
        let base = memblock.find_in_range(size, align, start, end)?;
        if cma {
            return Some(base);
        }
        memblock.reserve(base, size, RESERVED_MEMORY_OWNER).ok()?;
        if p.no_map && memblock.mark_nomap(base, size).is_err() {
            let _ = memblock.free(base, size);
            return None;
        }
        Some(base)
    };
    let base = match p.alloc_ranges {
        Some(ranges) => {
            if ranges.len() % cells.pair_bytes() != 0 {
                let _ = writeln!(
                    log,
                    "OF: reserved mem: invalid alloc-ranges property in '{name}', skipping node."
                );
                return None;
            }
            let mut found = None;
            let mut rest = ranges;
            while found.is_none() && !rest.is_empty() {
                let (start, r) = dtb::next_cells(rest, cells.address).unwrap_or((0, &[]));
                let (len, r) = dtb::next_cells(r, cells.size).unwrap_or((0, &[]));
                rest = r;
                found = place(start, start.saturating_add(len));
            }
            found
        }
        None => place(0, MEMBLOCK_ALLOC_ANYWHERE),
    };
    if base.is_none() {
        let _ = writeln!(
            log,
            "OF: reserved mem: failed to allocate memory for node '{name}': size {} MiB",
            size / SZ_1M
        );
    }
    base.map(|base| (base, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::dtb::tests::dtc;
    use crate::mm::memblock::MEMBLOCK_NOMAP;

    const RESERVED_DTS: &str = include_str!("../../tests/dts/raspi2b-reserved.dts");
    const MINI_DTS: &str = include_str!("../../tests/dts/raspi2b-mini.dts");
    /// QEMU's raspi2b: 960 MiB.
    const RAM: u64 = 0x3c00_0000;
    const KERNEL: (u64, u64) = (0x8000, 0x20_0000);

    /// memblock as boot has it before the scan: RAM, the firmware stub, the kernel.
    fn booted() -> Memblock {
        let mut mb = Memblock::new();
        mb.add(0, RAM).unwrap();
        mb.reserve(0, 0x1000, "firmware stub").unwrap();
        mb.reserve(KERNEL.0, KERNEL.1 - KERNEL.0, "kernel").unwrap();
        mb
    }

    fn scan(blob: &[u8], mb: &mut Memblock) -> (ReservedMem, String) {
        let mut log = String::new();
        let r = early_init_fdt_scan_reserved_mem(blob, mb, &mut log).unwrap();
        (r, log)
    }

    /// The mini tree with `nodes` as /reserved-memory's children (and `root_props` in it).
    fn with_nodes(root_props: &str, nodes: &str) -> Vec<u8> {
        let at = MINI_DTS.find("\tsoc {").unwrap();
        dtc(&format!(
            "{}\treserved-memory {{\n{root_props}\n{nodes}\n\t}};\n{}",
            &MINI_DTS[..at],
            &MINI_DTS[at..]
        ))
    }

    const CELLS: &str = "#address-cells = <1>; #size-cells = <1>; ranges;";

    fn owned(mb: &Memblock, owner: &str) -> Vec<(u64, u64)> {
        mb.reserved().iter().filter(|r| r.name == owner).map(|r| (r.base, r.size)).collect()
    }

    fn nomap(mb: &Memblock) -> Vec<(u64, u64)> {
        mb.memory().iter().filter(|r| r.is_nomap()).map(|r| (r.base, r.size)).collect()
    }

    /// Issue 16.5: /memreserve/ and /reserved-memory were parsed past; now they are in
    /// memblock as Linux puts them there, and the default CMA area is placed but left free.
    #[test]
    fn the_test_tree_reserves_what_linux_reserves() {
        let blob = dtc(RESERVED_DTS);
        let mut mb = booted();
        let (r, log) = scan(&blob, &mut mb);
        assert_eq!(owned(&mb, MEMRESERVE_OWNER), [(0x1000_0000, SZ_1M), (0x1020_0000, 0x1000)]);
        // The static region, and the dynamic one top-down in its alloc-range, 1 MiB aligned.
        assert_eq!(
            owned(&mb, RESERVED_MEMORY_OWNER),
            [(0x2000_0000, 2 * SZ_1M), (0x3100_0000 - 4 * SZ_1M, 4 * SZ_1M)]
        );
        assert_eq!(nomap(&mb), [(0x2040_0000, SZ_1M), (0x2060_1000, 0x3000)]);
        assert!(!mb.is_map_memory(0x2060_1000) && mb.is_map_memory(0x2060_0fff));
        // The CMA area where Linux puts it on this board (the sample boot log's 0x38000000),
        // not reserved (with MAX_ORDER 16 a pageblock is 128 MiB: 64 MiB is refused).
        if (64 * SZ_1M).is_multiple_of(CMA_MIN_ALIGNMENT_BYTES) {
            assert_eq!(log, "");
            assert_eq!(r.cma, Some(MemBank { start: PhysAddr(0x3800_0000), size: 64 * SZ_1M }));
        } else {
            assert_eq!(
                log,
                "Reserved memory: incorrect alignment of CMA region\n\
                 OF: reserved mem: node linux,cma compatible matching fail\n"
            );
            assert_eq!(r.cma, None);
        }
        assert!(!mb.is_region_reserved(0x3800_0000, 64 * SZ_1M));
        // The disabled node is ignored.
        assert!(!mb.is_reserved(0x2100_0000));
        // Nothing else changed: RAM is all there.
        assert_eq!(mb.phys_mem_size(), RAM);
    }

    /// The arm64 reference's own device tree (Debian's `bcm2837-rpi-3-b.dtb`, as QEMU patches
    /// it for `-dtb`: 960 MiB at 0): `/memreserve/ 0 0x1000` and the `linux,cma` node of 64 MiB
    /// without `reg`, placed top-down below the end of RAM, at the reference's
    /// "created CMA memory pool at 0x0000000038000000".
    #[test]
    fn the_arm64_reference_tree_places_its_cma_pool_where_linux_does() {
        let blob = include_bytes!("../../tests/samples/linux-6.1-raspi3b-arm64.dtb");
        let mut mb = Memblock::new();
        mb.add(0, RAM).unwrap();
        // arm64's image at 0x80000 (its size does not matter to the scan).
        mb.reserve(0x8_0000, 0x20_0000, "kernel").unwrap();
        let (r, log) = scan(blob, &mut mb);
        assert_eq!(owned(&mb, MEMRESERVE_OWNER), [(0, 0x1000)]);
        assert!(owned(&mb, RESERVED_MEMORY_OWNER).is_empty(), "only the CMA node");
        if (64 * SZ_1M).is_multiple_of(CMA_MIN_ALIGNMENT_BYTES) {
            assert_eq!(log, "");
            assert_eq!(r.cma, Some(MemBank { start: PhysAddr(0x3800_0000), size: 64 * SZ_1M }));
        } else {
            assert_eq!(r.cma, None);
        }
        // Placed, not reserved: `dma_contiguous_reserve` declares it afterwards.
        assert!(!mb.is_region_reserved(0x3800_0000, 64 * SZ_1M));
        assert_eq!(mb.phys_mem_size(), RAM);
    }

    #[test]
    fn a_tree_without_reservations_changes_nothing() {
        let mut mb = booted();
        let (r, log) = scan(&dtc(MINI_DTS), &mut mb);
        assert_eq!((r, log.as_str()), (ReservedMem::default(), ""));
        assert_eq!(mb, booted());
    }

    /// `no-map` over memory already reserved (the kernel) is refused, as Linux's
    /// `early_init_dt_reserve_memory` returns -EBUSY; outside RAM it is harmless.
    #[test]
    fn no_map_over_the_kernel_is_refused() {
        let blob = with_nodes(
            CELLS,
            "k@8000 { reg = <0x8000 0x1000>; no-map; };\n\
             io@40000000 { reg = <0x40000000 0x1000>; no-map; };\n\
             zero@1000000 { reg = <0x1000000 0x0>; };",
        );
        let mut mb = booted();
        let (_, log) = scan(&blob, &mut mb);
        assert_eq!(
            log,
            "OF: fdt: Reserved memory: failed to reserve memory for node 'k@8000': base 0x00008000, size 0 MiB\n\
             OF: fdt: Reserved memory: failed to reserve memory for node 'zero@1000000': base 0x01000000, size 0 MiB\n"
        );
        assert!(nomap(&mb).is_empty());
        assert_eq!(mb, booted());
    }

    #[test]
    fn every_reg_entry_is_reserved_and_overlaps_are_reported() {
        let blob = with_nodes(
            CELLS,
            "a@1000000 { reg = <0x1000000 0x100000 0x1400000 0x1000>; };\n\
             b@1080000 { reg = <0x1080000 0x100000>; };",
        );
        let mut mb = booted();
        let (_, log) = scan(&blob, &mut mb);
        assert_eq!(
            owned(&mb, RESERVED_MEMORY_OWNER),
            [(0x100_0000, 0x18_0000), (0x140_0000, 0x1000)]
        );
        assert_eq!(
            log,
            "OF: reserved mem: OVERLAP DETECTED!\n\
             a@1000000 (0x01000000--0x01100000) overlaps with b@1080000 (0x01080000--0x01180000)\n"
        );
    }

    #[test]
    fn malformed_nodes_are_reported_and_skipped() {
        let blob = with_nodes(
            CELLS,
            "badreg { reg = <0x1000000 0x1000 0x2000000>; };\n\
             badsize { size = <0x0 0x1000>; };\n\
             badalign { size = <0x1000>; alignment = <0x0 0x1000>; };\n\
             badranges { size = <0x1000>; alloc-ranges = <0x1000000>; };\n\
             nofit { size = <0x1000000>; alloc-ranges = <0x1000000 0x100000 0x2000000 0x800000>; };\n\
             nosize { compatible = \"foo\"; };",
        );
        let mut mb = booted();
        let (_, log) = scan(&blob, &mut mb);
        assert_eq!(
            log,
            "OF: fdt: Reserved memory: invalid reg property in 'badreg', skipping node.\n\
             OF: reserved mem: invalid size property in 'badsize' node.\n\
             OF: reserved mem: invalid alignment property in 'badalign' node.\n\
             OF: reserved mem: invalid alloc-ranges property in 'badranges', skipping node.\n\
             OF: reserved mem: failed to allocate memory for node 'nofit': size 16 MiB\n"
        );
        assert_eq!(mb, booted());
    }

    #[test]
    fn dynamic_regions_try_each_range_and_may_be_no_map() {
        let blob = with_nodes(
            CELLS,
            "d { size = <0x200000>; alloc-ranges = <0x1000000 0x100000 0x2000000 0x800000>; no-map; };\n\
             e { size = <0x1000>; };",
        );
        let mut mb = booted();
        let (_, log) = scan(&blob, &mut mb);
        assert_eq!(log, "");
        // The first range is too small; the second takes it top-down. `e` goes to the top of
        // RAM, 64-byte aligned.
        let d = 0x280_0000 - 0x20_0000;
        assert_eq!(owned(&mb, RESERVED_MEMORY_OWNER), [(d, 0x20_0000), (RAM - 0x1000, 0x1000)]);
        assert_eq!(nomap(&mb), [(d, 0x20_0000)]);
    }

    #[test]
    fn unsupported_reserved_memory_node_is_ignored() {
        for props in [
            "#address-cells = <2>; #size-cells = <1>; ranges;",
            "#address-cells = <1>; #size-cells = <1>;",
        ] {
            let blob = with_nodes(props, "a@1000000 { reg = <0x1000000 0x1000>; };");
            let mut mb = booted();
            let (_, log) = scan(&blob, &mut mb);
            assert_eq!(log, "OF: fdt: Reserved memory: unsupported node format, ignoring\n");
            assert_eq!(mb, booted());
        }
    }

    /// A static CMA area is recorded, not reserved; a misaligned one is refused as
    /// `rmem_cma_setup` refuses it; a non-reusable pool is reserved like any node.
    #[test]
    fn cma_areas() {
        // Whole pageblocks (4 MiB, or 128 MiB with MAX_ORDER 16), below a plain pool.
        let (base, size) = (2 * CMA_MIN_ALIGNMENT_BYTES, CMA_MIN_ALIGNMENT_BYTES);
        let pool = base + size;
        let blob = with_nodes(
            CELLS,
            &format!(
                "linux,cma {{ compatible = \"shared-dma-pool\"; reusable; linux,cma-default;\n\
                 reg = <{base:#x} {size:#x}>; }};\n\
                 pool@1 {{ compatible = \"shared-dma-pool\"; reg = <{pool:#x} 0x100000>; }};"
            ),
        );
        let mut mb = booted();
        let (r, log) = scan(&blob, &mut mb);
        assert_eq!(log, "");
        assert_eq!(r.cma, Some(MemBank { start: PhysAddr(base), size }));
        assert_eq!(owned(&mb, RESERVED_MEMORY_OWNER), [(pool, SZ_1M)]);

        let blob = with_nodes(
            CELLS,
            &format!(
                "linux,cma {{ compatible = \"shared-dma-pool\"; reusable; linux,cma-default;\n\
                 reg = <{:#x} {size:#x}>; }};",
                base + 0x1000
            ),
        );
        let mut mb = booted();
        let (r, log) = scan(&blob, &mut mb);
        assert_eq!(r.cma, None);
        assert_eq!(
            log,
            "Reserved memory: incorrect alignment of CMA region\n\
             OF: reserved mem: node linux,cma compatible matching fail\n"
        );
        assert_eq!(mb, booted());
    }

    /// /memreserve/ entries are 64-bit: one above 4 GiB is kept as given, not truncated.
    #[test]
    fn memreserve_entries_are_64_bit() {
        let src = MINI_DTS.replacen(
            "/dts-v1/;",
            "/dts-v1/;\n/memreserve/ 0x100001000 0x1000;\n/memreserve/ 0x3000 0x1000;",
            1,
        );
        let mut mb = booted();
        let (_, log) = scan(&dtc(&src), &mut mb);
        assert_eq!(log, "");
        assert_eq!(owned(&mb, MEMRESERVE_OWNER), [(0x3000, 0x1000), (0x1_0000_1000, 0x1000)]);
    }

    /// A corrupt blob is an error and changes nothing, even where part of it was readable.
    #[test]
    fn corrupt_blob_changes_nothing() {
        let good = dtc(RESERVED_DTS);
        let be = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
        let mut mb = booted();
        let mut log = String::new();
        let mut blob = good.clone();
        blob[0] = 0;
        assert!(early_init_fdt_scan_reserved_mem(&blob, &mut mb, &mut log).is_err());
        // The reservation block moved to the blob's end: its entry runs past the blob.
        let mut blob = good.clone();
        let total = be(&blob, 4) as usize;
        let off = ((total - 8) & !7) as u32;
        blob[16..20].copy_from_slice(&off.to_be_bytes());
        let err = early_init_fdt_scan_reserved_mem(&blob, &mut mb, &mut log).unwrap_err();
        assert_eq!(err, DtbError::BadHeader { field: "off_mem_rsvmap" });
        // A structure block broken after /reserved-memory: the /memreserve/ entries, read
        // first, are not applied either.
        let mut blob = good;
        let s = be(&blob, 8) as usize;
        let n = be(&blob, 36) as usize;
        blob[s + n - 4..s + n].copy_from_slice(&0x7u32.to_be_bytes());
        assert!(early_init_fdt_scan_reserved_mem(&blob, &mut mb, &mut log).is_err());
        assert_eq!(mb, booted());
        assert_eq!(log, "");
        assert!(mb.memory().iter().all(|r| r.flags != MEMBLOCK_NOMAP));
    }
}
