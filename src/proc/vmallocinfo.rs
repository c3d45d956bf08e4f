//! `/proc/vmallocinfo` in the Linux 6.x format (`s_show()` and `show_purge_info()` in
//! mm/vmalloc.c), with real addresses where Linux hashes them to `(ptrval)`, and the historic
//! (pre-4.4 `get_vmalloc_info()`) `VmallocUsed`/`VmallocChunk` of `/proc/meminfo`.
use core::fmt;

use super::snapshot::{VmFlags, VmallocArea};

/// Flag words in the order Linux prints them.
const FLAG_WORDS: [(VmFlags, &str); 5] = [
    (VmFlags::VM_IOREMAP, " ioremap"),
    (VmFlags::VM_ALLOC, " vmalloc"),
    (VmFlags::VM_MAP, " vmap"),
    (VmFlags::VM_USERMAP, " user"),
    (VmFlags::VM_DMA_COHERENT, " dma-coherent"),
];

/// `0x%08lx-0x%08lx %7ld`: the range and its size (guard page included).
fn write_range(w: &mut impl fmt::Write, start: u64, end: u64, size: u64) -> fmt::Result {
    write!(w, "0x{start:08x}-0x{end:08x} {size:>7}")
}

/// Writes one live area's line.
pub fn write_area(w: &mut impl fmt::Write, a: &VmallocArea) -> fmt::Result {
    write_range(w, a.start, a.start + a.size, a.size)?;
    if !a.caller.is_empty() {
        write!(w, " {}", a.caller)?;
    }
    if a.nr_pages != 0 {
        write!(w, " pages={}", a.nr_pages)?;
    }
    // Linux tests `if (v->phys_addr)`: a zero address is not printed.
    if let Some(phys) = a.phys_addr.filter(|&p| p != 0) {
        write!(w, " phys=0x{phys:08x}")?;
    }
    for (flag, word) in FLAG_WORDS {
        if a.flags.contains(flag) {
            w.write_str(word)?;
        }
    }
    w.write_char('\n')
}

/// Writes one lazily freed, not yet purged range.
pub fn write_unpurged(w: &mut impl fmt::Write, a: &VmallocArea) -> fmt::Result {
    write_range(w, a.start, a.end, a.end - a.start)?;
    w.write_str(" unpurged vm_area\n")
}

/// Renders the whole file: live areas in the order given (the caller passes them by address,
/// as Linux's `vmap_area_list` is), then the lazily freed ones, as Linux 6.x dumps its purge
/// list after the last live area.
pub fn render(w: &mut impl fmt::Write, areas: &[VmallocArea]) -> fmt::Result {
    render_iter(w, || areas.iter().copied())
}

/// `render` over areas produced on demand (twice: live ones, then lazily freed ones), so the
/// kernel can stream thousands of areas without copying them to its small stack.
pub fn render_iter<I: Iterator<Item = VmallocArea>>(
    w: &mut impl fmt::Write,
    areas: impl Fn() -> I,
) -> fmt::Result {
    for a in areas().filter(|a| !a.lazily_freed) {
        write_area(w, &a)?;
    }
    for a in areas().filter(|a| a.lazily_freed) {
        write_unpurged(w, &a)?;
    }
    Ok(())
}

/// Linux's pre-4.4 `get_vmalloc_info()`: `(used, largest_chunk)` in bytes over `areas` sorted by
/// address. `used` sums the sizes of live areas in `[vmalloc_start, vmalloc_end)` (guard pages and
/// ioremaps included); `largest_chunk` is the largest gap between them, counting lazily freed
/// areas as free (they are skipped, as Linux skipped `VM_LAZY_FREE` areas).
pub fn vmalloc_used_and_chunk(
    areas: &[VmallocArea],
    vmalloc_start: u64,
    vmalloc_end: u64,
) -> (u64, u64) {
    debug_assert!(
        areas.windows(2).all(|p| p[0].start <= p[1].start),
        "areas not sorted by address"
    );
    let mut used = 0;
    let mut largest_chunk = 0;
    let mut prev_end = vmalloc_start;
    for a in areas {
        if a.start < vmalloc_start || a.lazily_freed {
            continue;
        }
        if a.start >= vmalloc_end {
            break;
        }
        used += a.end - a.start;
        largest_chunk = largest_chunk.max(a.start.saturating_sub(prev_end));
        prev_end = a.end;
    }
    largest_chunk = largest_chunk.max(vmalloc_end.saturating_sub(prev_end));
    (used, largest_chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMALLOC_START: u64 = 0xf080_0000;
    const VMALLOC_END: u64 = 0xff80_0000;
    const PAGE: u64 = 4096;

    fn area(
        start: u64,
        size: u64,
        caller: &'static str,
        nr_pages: u32,
        flags: VmFlags,
    ) -> VmallocArea {
        VmallocArea {
            start,
            end: start + size,
            size,
            caller,
            nr_pages,
            phys_addr: None,
            flags,
            lazily_freed: false,
        }
    }

    fn ioremap(start: u64, size: u64, caller: &'static str, phys: u64) -> VmallocArea {
        VmallocArea { phys_addr: Some(phys), ..area(start, size, caller, 0, VmFlags::VM_IOREMAP) }
    }

    fn unpurged(start: u64, size: u64) -> VmallocArea {
        VmallocArea { lazily_freed: true, ..area(start, size, "", 0, VmFlags::VM_ALLOC) }
    }

    fn sample_areas() -> [VmallocArea; 7] {
        [
            area(0xf080_0000, 3 * PAGE, "start_kernel+0x550/0x748", 2, VmFlags::VM_ALLOC),
            ioremap(0xf080_4000, 2 * PAGE, "bcm2835_timer_init+0x34/0x1f8", 0x3f00_3000),
            // Lazily freed entries are listed last whatever their address.
            unpurged(0xf080_6000, 6 * PAGE),
            area(
                0xf080_c000,
                65 * PAGE,
                "dma_common_contiguous_remap+0x74/0x90",
                0,
                VmFlags::VM_DMA_COHERENT,
            ),
            area(0xf090_0000, 33 * PAGE, "crypto_scomp_init_tfm+0xb4/0xd8", 32, VmFlags::VM_ALLOC),
            area(0xf0a0_0000, 512 * PAGE, "pci_reserve_io+0x0/0x38", 0, VmFlags::VM_IOREMAP),
            unpurged(0xf0c0_0000, 267 * PAGE),
        ]
    }

    /// The sample's line shapes, with real addresses.
    const SAMPLE: &str = "\
0xf0800000-0xf0803000   12288 start_kernel+0x550/0x748 pages=2 vmalloc
0xf0804000-0xf0806000    8192 bcm2835_timer_init+0x34/0x1f8 phys=0x3f003000 ioremap
0xf080c000-0xf084d000  266240 dma_common_contiguous_remap+0x74/0x90 dma-coherent
0xf0900000-0xf0921000  135168 crypto_scomp_init_tfm+0xb4/0xd8 pages=32 vmalloc
0xf0a00000-0xf0c00000 2097152 pci_reserve_io+0x0/0x38 ioremap
0xf0806000-0xf080c000   24576 unpurged vm_area
0xf0c00000-0xf0d0b000 1093632 unpurged vm_area
";

    #[test]
    fn reproduces_linux_line_shapes() {
        let mut out = String::new();
        render(&mut out, &sample_areas()).unwrap();
        assert_eq!(out, SAMPLE);
    }

    #[test]
    fn all_flag_words_in_linux_order() {
        let all = VmFlags::VM_IOREMAP
            | VmFlags::VM_ALLOC
            | VmFlags::VM_MAP
            | VmFlags::VM_USERMAP
            | VmFlags::VM_DMA_COHERENT
            | VmFlags::VM_NO_GUARD;
        let mut out = String::new();
        write_area(&mut out, &area(0xf080_0000, PAGE, "", 0, all)).unwrap();
        assert_eq!(out, "0xf0800000-0xf0801000    4096 ioremap vmalloc vmap user dma-coherent\n");
    }

    #[test]
    fn used_and_chunk_count_guards_and_skip_lazy_areas() {
        let areas = sample_areas();
        let (used, chunk) = vmalloc_used_and_chunk(&areas, VMALLOC_START, VMALLOC_END);
        assert_eq!(used, (3 + 2 + 65 + 33 + 512) * PAGE);
        // The last live area ends at 0xf0c00000; the lazily freed one after it counts as free.
        assert_eq!(chunk, VMALLOC_END - 0xf0c0_0000);
    }

    #[test]
    fn chunk_finds_largest_inner_gap() {
        let areas = [
            area(VMALLOC_START, 2 * PAGE, "a", 1, VmFlags::VM_ALLOC),
            unpurged(VMALLOC_START + 2 * PAGE, 100 * PAGE),
            area(VMALLOC_START + 200 * PAGE, 2 * PAGE, "b", 1, VmFlags::VM_ALLOC),
            area(VMALLOC_END - 2 * PAGE, 2 * PAGE, "c", 1, VmFlags::VM_ALLOC),
        ];
        let (used, chunk) = vmalloc_used_and_chunk(&areas, VMALLOC_START, VMALLOC_END);
        assert_eq!(used, 6 * PAGE);
        assert_eq!(chunk, VMALLOC_END - 2 * PAGE - (VMALLOC_START + 202 * PAGE));

        let full = [area(VMALLOC_START, VMALLOC_END - VMALLOC_START, "f", 0, VmFlags::VM_ALLOC)];
        assert_eq!(
            vmalloc_used_and_chunk(&full, VMALLOC_START, VMALLOC_END),
            (VMALLOC_END - VMALLOC_START, 0)
        );
    }

    #[test]
    fn empty_range_is_one_chunk() {
        assert_eq!(
            vmalloc_used_and_chunk(&[], VMALLOC_START, VMALLOC_END),
            (0, VMALLOC_END - VMALLOC_START)
        );
    }

    #[test]
    fn areas_outside_the_range_are_ignored() {
        let areas = [
            area(VMALLOC_START - 4 * PAGE, PAGE, "module", 1, VmFlags::VM_ALLOC),
            area(VMALLOC_START + PAGE, PAGE, "x", 1, VmFlags::VM_ALLOC),
            area(VMALLOC_END, PAGE, "fixmap", 1, VmFlags::VM_ALLOC),
        ];
        let (used, chunk) = vmalloc_used_and_chunk(&areas, VMALLOC_START, VMALLOC_END);
        assert_eq!(used, PAGE);
        assert_eq!(chunk, VMALLOC_END - VMALLOC_START - 2 * PAGE);
    }
}
