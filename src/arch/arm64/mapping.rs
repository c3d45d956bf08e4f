//! Building translation tables (Linux's `__create_pgd_mapping` in arch/arm64/mm/mmu.c): maps a
//! virtual range to a physical one with a protection, using blocks (1 GiB at level 1, 2 MiB at
//! level 2) where the alignment allows and the caller permits, pages elsewhere, taking table
//! pages from an allocator. Generic over how tables are reached, so the same code runs at boot
//! with the MMU off (tables at their physical addresses), later through the linear map, and
//! on the host against a fake memory.
use super::memory::pgtable_levels;
use super::pgtable::{
    block_desc, desc_kind, entry_span, hw_level, pfn_pte, table_desc, table_index, DescKind,
};

/// Where tables live and how new ones are obtained.
pub trait TableMemory {
    /// Reads the descriptor at physical `pa`.
    fn read(&self, pa: u64) -> u64;
    /// Writes the descriptor at physical `pa`.
    fn write(&mut self, pa: u64, desc: u64);
    /// A zeroed 4 KiB table page (its physical address), or None when none is left.
    fn alloc_table(&mut self) -> Option<u64>;

    /// Which of the 64 entries `[first, first + 64)` of the table at physical `table` are
    /// non-zero: bit i for entry `first + i` (`first` a multiple of 64). A table memory that
    /// can reach the page at once scans it directly instead of one `read` per entry.
    fn used_mask(&self, table: u64, first: usize) -> u64 {
        (0..64)
            .filter(|&i| self.read(table + (first + i) as u64 * 8) != 0)
            .fold(0, |m, i| m | 1 << i)
    }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No table page left.
    NoTable,
    /// Start, size or physical address not page aligned.
    Misaligned,
    /// Something is already mapped there with a different granule (a block where a table
    /// is needed).
    Overlap { va: u64 },
}

/// `PTRS_PER_PGD`-limited index into the top table.
fn top_index(va: u64, va_bits: u32, level: u32) -> u64 {
    table_index(va, level) & ((1u64 << (va_bits - (12 + 9 * (3 - level)))) - 1)
}

/// One mapping to make: `[va, va + size)` to `[pa, pa + size)` with page protection `prot` (a
/// `PAGE_KERNEL*` value; blocks get it with bit 1 cleared). `blocks` allows 1 GiB and 2 MiB
/// blocks (the linear map); without it every page gets its own descriptor (the kernel image,
/// so each section keeps its own permissions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub va: u64,
    pub pa: u64,
    pub size: u64,
    pub prot: u64,
    pub blocks: bool,
}

/// Makes `m` in the tables rooted at `root` of a `va_bits` regime.
pub fn create_mapping(
    mem: &mut impl TableMemory,
    root: u64,
    va_bits: u32,
    m: Mapping,
) -> Result<(), MapError> {
    let Mapping { mut va, mut pa, size, prot, blocks } = m;
    const PAGE: u64 = 4096;
    if !va.is_multiple_of(PAGE) || !pa.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
        return Err(MapError::Misaligned);
    }
    let levels = pgtable_levels(va_bits);
    let end = va.wrapping_add(size);
    while va != end {
        let mut table = root;
        for i in 0..levels {
            let level = hw_level(levels, i);
            let idx = if i == 0 { top_index(va, va_bits, level) } else { table_index(va, level) };
            let entry = table + idx * 8;
            let span = entry_span(level);
            let remaining = end.wrapping_sub(va);
            if level == 3 {
                mem.write(entry, pfn_pte(pa, prot));
                va = va.wrapping_add(span);
                pa += span;
                break;
            }
            let block_ok = blocks
                && (level == 1 || level == 2)
                && va.is_multiple_of(span)
                && pa.is_multiple_of(span)
                && remaining >= span;
            let old = mem.read(entry);
            if block_ok && !matches!(desc_kind(old, level), DescKind::Table { .. }) {
                mem.write(entry, block_desc(pa, prot));
                va = va.wrapping_add(span);
                pa += span;
                break;
            }
            table = match desc_kind(old, level) {
                DescKind::Table { next } => next,
                DescKind::Invalid => {
                    let t = mem.alloc_table().ok_or(MapError::NoTable)?;
                    mem.write(entry, table_desc(t));
                    t
                }
                _ => return Err(MapError::Overlap { va }),
            };
        }
    }
    Ok(())
}

/// Removes the page descriptor for `va` (a level-3 entry), returning the old one; None when
/// there is no page there.
pub fn clear_pte(mem: &mut impl TableMemory, root: u64, va_bits: u32, va: u64) -> Option<u64> {
    let levels = pgtable_levels(va_bits);
    let mut table = root;
    for i in 0..levels {
        let level = hw_level(levels, i);
        let idx = if i == 0 { top_index(va, va_bits, level) } else { table_index(va, level) };
        let entry = table + idx * 8;
        let d = mem.read(entry);
        match desc_kind(d, level) {
            DescKind::Table { next } => table = next,
            DescKind::Page { .. } => {
                mem.write(entry, 0);
                return Some(d);
            }
            _ => return None,
        }
    }
    None
}

/// Table memory for the host tests of every arm64 table builder: descriptors in a map,
/// tables handed out upward from [`ROOT`] until `left` runs out.
#[cfg(test)]
pub(super) mod fake_tables {
    use super::TableMemory;
    use std::collections::BTreeMap;

    /// The root table's address; the next tables follow it page by page.
    pub const ROOT: u64 = 0x100_0000;

    pub struct Fake {
        words: BTreeMap<u64, u64>,
        next: u64,
        /// Tables it may still hand out.
        pub left: usize,
    }

    impl TableMemory for Fake {
        fn read(&self, pa: u64) -> u64 {
            *self.words.get(&pa).unwrap_or(&0)
        }
        fn write(&mut self, pa: u64, desc: u64) {
            self.words.insert(pa, desc);
        }
        fn alloc_table(&mut self) -> Option<u64> {
            self.left = self.left.checked_sub(1)?;
            self.next += 4096;
            Some(self.next)
        }
    }

    /// An empty root at [`ROOT`] and room for `left` more tables.
    pub fn fake(left: usize) -> Fake {
        Fake { words: BTreeMap::new(), next: ROOT, left }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pgtable::{walk, PteBits, PAGE_KERNEL, PAGE_KERNEL_ROX};
    use super::*;

    use super::fake_tables::{fake, Fake, ROOT};

    fn fake_at_root(left: usize) -> (Fake, u64) {
        (fake(left), ROOT)
    }

    /// The Pi 3's linear map: 960 MiB in 2 MiB blocks; the walk is one level shorter than a
    /// page's; the kernel image in pages with its permissions.
    #[test]
    fn linear_map_uses_blocks_and_image_pages() {
        for va_bits in [48, 39] {
            let (mut m, root) = fake_at_root(16);
            let po = super::super::memory::page_offset(va_bits);
            create_mapping(
                &mut m,
                root,
                va_bits,
                Mapping { va: po, pa: 0, size: 0x3c00_0000, prot: PAGE_KERNEL, blocks: true },
            )
            .unwrap();
            let levels = pgtable_levels(va_bits) as usize;
            let w = walk(po + 0x37d6_8a18, va_bits, root, |pa| Some(m.read(pa)));
            assert_eq!(w.pa, Some(0x37d6_8a18));
            assert_eq!(w.len(), levels - 1, "a 2 MiB block ends the walk one level early");
            assert_eq!(walk(po + 0x3c00_0000, va_bits, root, |pa| Some(m.read(pa))).pa, None);
            let k = super::super::memory::kimage_vaddr(va_bits);
            create_mapping(
                &mut m,
                root,
                va_bits,
                Mapping { va: k, pa: 0x8_0000, size: 0x3000, prot: PAGE_KERNEL_ROX, blocks: false },
            )
            .unwrap();
            let w = walk(k + 0x2004, va_bits, root, |pa| Some(m.read(pa)));
            assert_eq!(w.len(), levels);
            assert_eq!(w.pa, Some(0x8_2004));
            let leaf = w.steps[levels - 1].unwrap().desc;
            assert_eq!(leaf & PteBits::PXN.bits(), 0);
            assert_ne!(leaf & PteBits::RDONLY.bits(), 0);
            assert_eq!(clear_pte(&mut m, root, va_bits, k + 0x2000), Some(leaf));
            assert_eq!(walk(k + 0x2004, va_bits, root, |pa| Some(m.read(pa))).pa, None);
        }
    }

    #[test]
    fn errors() {
        let (mut m, root) = fake_at_root(1);
        assert_eq!(
            create_mapping(
                &mut m,
                root,
                48,
                Mapping { va: 0x1001, pa: 0, size: 4096, prot: PAGE_KERNEL, blocks: false }
            ),
            Err(MapError::Misaligned)
        );
        assert_eq!(
            create_mapping(
                &mut m,
                root,
                48,
                Mapping { va: 0x1000, pa: 0, size: 4096, prot: PAGE_KERNEL, blocks: false }
            ),
            Err(MapError::NoTable)
        );
        let (mut m, root) = fake_at_root(8);
        create_mapping(
            &mut m,
            root,
            39,
            Mapping { va: 0, pa: 0, size: 0x20_0000, prot: PAGE_KERNEL, blocks: true },
        )
        .unwrap();
        assert_eq!(
            create_mapping(
                &mut m,
                root,
                39,
                Mapping { va: 0x1000, pa: 0, size: 4096, prot: PAGE_KERNEL, blocks: false }
            ),
            Err(MapError::Overlap { va: 0x1000 })
        );
    }
}
