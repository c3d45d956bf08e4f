//! `/proc/PID/maps`, `/proc/PID/smaps` and `/proc/PID/smaps_rollup` as Linux 6.1 prints them
//! on 32-bit ARM (fs/proc/task_mmu.c: `show_map_vma`, `show_smap`, `show_smaps_rollup`), over
//! an `MmStruct` and, for smaps, the page statistics the page-table walk gathers
//! (`smaps_account()`, pure here).
use core::fmt;

use crate::mm::mm_types::{MmStruct, VmFlags, Vma, PAGE_SIZE};

/// `seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)`: the name starts one space after this
/// column (48 with 4-byte pointers, 72 with 8-byte ones).
const fn maps_name_column(pointer_bytes: usize) -> usize {
    25 + pointer_bytes * 6 - 1
}
/// `PSS_SHIFT`: Pss is accumulated in 1/4096ths of a byte.
pub const PSS_SHIFT: u32 = 12;

/// The gate VMA maps lists after the last real one (ARM: the vector page, `[vectors]`,
/// user-readable because of the kuser helpers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateVma {
    pub start: usize,
    pub end: usize,
    pub flags: VmFlags,
    pub name: &'static str,
}

/// ARM's gate VMA (`get_gate_vma()` with `CONFIG_KUSER_HELPERS`).
pub const ARM_VECTORS: GateVma = GateVma {
    start: 0xffff_0000,
    end: 0xffff_1000,
    flags: VmFlags::READ.union(VmFlags::EXEC).union(VmFlags::MAYREAD).union(VmFlags::MAYEXEC),
    name: "[vectors]",
};

/// What differs between the kernels' maps files: the name column (from the pointer size) and
/// the gate VMA listed last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapsFormat {
    pub name_column: usize,
    pub gate: Option<GateVma>,
}

impl MapsFormat {
    /// 32-bit ARM: 4-byte pointers and the vector page.
    pub const ARM: MapsFormat =
        MapsFormat { name_column: maps_name_column(4), gate: Some(ARM_VECTORS) };
    /// arm64: 8-byte pointers and no gate VMA (`get_gate_vma()` is NULL without AArch32
    /// compat, so no `[vectors]` line).
    pub const ARM64: MapsFormat = MapsFormat { name_column: maps_name_column(8), gate: None };
}

/// Counts `fmt::Write` output so the name can be padded as `seq_pad` does.
struct Counting<'a, W: fmt::Write> {
    inner: &'a mut W,
    count: usize,
}

impl<W: fmt::Write> fmt::Write for Counting<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.count += s.len();
        self.inner.write_str(s)
    }
}

/// `show_vma_header_prefix()` then the padded name: one maps line.
#[allow(clippy::too_many_arguments)]
fn show_line(
    w: &mut impl fmt::Write,
    column: usize,
    start: usize,
    end: usize,
    flags: VmFlags,
    pgoff: u64,
    dev: (u32, u32),
    ino: u64,
    name: Option<&str>,
) -> fmt::Result {
    let mut c = Counting { inner: w, count: 0 };
    use fmt::Write as _;
    write!(
        c,
        "{start:08x}-{end:08x} {}{}{}{} {pgoff:08x} {:02x}:{:02x} {ino} ",
        if flags.contains(VmFlags::READ) { 'r' } else { '-' },
        if flags.contains(VmFlags::WRITE) { 'w' } else { '-' },
        if flags.contains(VmFlags::EXEC) { 'x' } else { '-' },
        if flags.contains(VmFlags::MAYSHARE) { 's' } else { 'p' },
        dev.0,
        dev.1,
    )?;
    if let Some(name) = name {
        // seq_pad(m, ' '): spaces up to the width (the prefix's trailing space counted), then
        // one more, even when the prefix is already wider.
        if c.count < column {
            write!(c, "{:1$}", "", column - c.count)?;
        }
        c.write_str(" ")?;
        c.write_str(name)?;
    }
    c.write_str("\n")
}

/// The name `show_map_vma()` gives a VMA: the file's path, a special mapping's name, `[heap]`
/// for anything overlapping `[start_brk, brk]`, `[stack]` for the VMA holding `start_stack`.
pub fn vma_name<'a>(vma: &'a Vma, mm: &MmStruct) -> Option<&'a str> {
    if let Some(f) = &vma.vm_file {
        return Some(f.path.as_str());
    }
    if let Some(s) = vma.special {
        return Some(s.name());
    }
    if vma.vm_start <= mm.brk && vma.vm_end >= mm.start_brk {
        return Some("[heap]");
    }
    if vma.vm_start <= mm.start_stack && vma.vm_end >= mm.start_stack {
        return Some("[stack]");
    }
    None
}

/// One VMA's maps line.
pub fn show_map_vma(
    w: &mut impl fmt::Write,
    column: usize,
    vma: &Vma,
    mm: &MmStruct,
) -> fmt::Result {
    let (pgoff, dev, ino) = match &vma.vm_file {
        Some(f) => (vma.vm_pgoff << 12, f.dev, f.ino),
        None => (0, (0, 0), 0),
    };
    show_line(w, column, vma.vm_start, vma.vm_end, vma.vm_flags, pgoff, dev, ino, vma_name(vma, mm))
}

/// The whole `/proc/PID/maps`: every VMA, then the gate VMA.
pub fn render_maps(w: &mut impl fmt::Write, mm: &MmStruct, f: &MapsFormat) -> fmt::Result {
    for vma in mm.iter() {
        show_map_vma(w, f.name_column, vma, mm)?;
    }
    if let Some(g) = &f.gate {
        show_line(w, f.name_column, g.start, g.end, g.flags, 0, (0, 0), 0, Some(g.name))?;
    }
    Ok(())
}

/// `struct mem_size_stats`: what smaps adds up for a VMA (bytes; the `pss*` fields in
/// bytes << `PSS_SHIFT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSizeStats {
    pub resident: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
    pub lazyfree: u64,
    pub anonymous_thp: u64,
    pub shmem_thp: u64,
    pub file_thp: u64,
    pub swap: u64,
    pub shared_hugetlb: u64,
    pub private_hugetlb: u64,
    pub pss: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
    pub pss_locked: u64,
    pub pss_dirty: u64,
    pub swap_pss: u64,
}

/// What smaps needs to know about one mapped page (its `struct page` and its PTE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmapsPage {
    /// `PageAnon`.
    pub anon: bool,
    /// `PageSwapBacked` (anonymous memory and shmem/tmpfs pages).
    pub swap_backed: bool,
    /// The PTE is dirty / `PageDirty`.
    pub pte_dirty: bool,
    pub page_dirty: bool,
    /// The PTE is young / `page_is_young` / `PageReferenced`.
    pub young: bool,
    pub referenced: bool,
    /// The VMA is `VM_LOCKED`.
    pub locked: bool,
    /// `page_count()` and `page_mapcount()`.
    pub count: u32,
    pub mapcount: u32,
}

impl MemSizeStats {
    /// `smaps_page_accumulate()`.
    fn page_accumulate(&mut self, p: &SmapsPage, size: u64, pss: u64, private: bool) {
        self.pss += pss;
        if p.anon {
            self.pss_anon += pss;
        } else if p.swap_backed {
            self.pss_shmem += pss;
        } else {
            self.pss_file += pss;
        }
        if p.locked {
            self.pss_locked += pss;
        }
        if p.pte_dirty || p.page_dirty {
            self.pss_dirty += pss;
            if private {
                self.private_dirty += size;
            } else {
                self.shared_dirty += size;
            }
        } else if private {
            self.private_clean += size;
        } else {
            self.shared_clean += size;
        }
    }

    /// `smaps_account()` for one small page.
    pub fn account(&mut self, p: &SmapsPage) {
        let size = PAGE_SIZE as u64;
        if p.anon {
            self.anonymous += size;
            if !p.swap_backed && !p.pte_dirty && !p.page_dirty {
                self.lazyfree += size;
            }
        }
        self.resident += size;
        if p.young || p.referenced {
            self.referenced += size;
        }
        if p.count == 1 {
            self.page_accumulate(p, size, size << PSS_SHIFT, true);
            return;
        }
        let mut pss = size << PSS_SHIFT;
        if p.mapcount >= 2 {
            pss /= p.mapcount as u64;
        }
        self.page_accumulate(p, size, pss, p.mapcount < 2);
    }

    /// Adds another VMA's totals (for smaps_rollup).
    pub fn add(&mut self, o: &MemSizeStats) {
        macro_rules! sum { ($($f:ident),*) => { $(self.$f += o.$f;)* } }
        sum!(
            resident,
            shared_clean,
            shared_dirty,
            private_clean,
            private_dirty,
            referenced,
            anonymous,
            lazyfree,
            anonymous_thp,
            shmem_thp,
            file_thp,
            swap,
            shared_hugetlb,
            private_hugetlb,
            pss,
            pss_anon,
            pss_file,
            pss_shmem,
            pss_locked,
            pss_dirty,
            swap_pss
        );
    }
}

/// `SEQ_PUT_DEC(label, bytes)`: a 16-character label, the value in kB right-aligned in 8.
fn kb_line(w: &mut impl fmt::Write, label: &str, bytes: u64) -> fmt::Result {
    writeln!(w, "{label:<16}{:>8} kB", bytes >> 10)
}

/// `__show_smap()`: the counter lines of one VMA or of the rollup.
fn show_smap_counters(w: &mut impl fmt::Write, m: &MemSizeStats, rollup: bool) -> fmt::Result {
    kb_line(w, "Rss:", m.resident)?;
    kb_line(w, "Pss:", m.pss >> PSS_SHIFT)?;
    kb_line(w, "Pss_Dirty:", m.pss_dirty >> PSS_SHIFT)?;
    if rollup {
        kb_line(w, "Pss_Anon:", m.pss_anon >> PSS_SHIFT)?;
        kb_line(w, "Pss_File:", m.pss_file >> PSS_SHIFT)?;
        kb_line(w, "Pss_Shmem:", m.pss_shmem >> PSS_SHIFT)?;
    }
    kb_line(w, "Shared_Clean:", m.shared_clean)?;
    kb_line(w, "Shared_Dirty:", m.shared_dirty)?;
    kb_line(w, "Private_Clean:", m.private_clean)?;
    kb_line(w, "Private_Dirty:", m.private_dirty)?;
    kb_line(w, "Referenced:", m.referenced)?;
    kb_line(w, "Anonymous:", m.anonymous)?;
    kb_line(w, "LazyFree:", m.lazyfree)?;
    kb_line(w, "AnonHugePages:", m.anonymous_thp)?;
    kb_line(w, "ShmemPmdMapped:", m.shmem_thp)?;
    kb_line(w, "FilePmdMapped:", m.file_thp)?;
    kb_line(w, "Shared_Hugetlb:", m.shared_hugetlb)?;
    // The one label longer than 16 characters keeps the total width with a 7-wide value.
    writeln!(w, "Private_Hugetlb: {:>7} kB", m.private_hugetlb >> 10)?;
    kb_line(w, "Swap:", m.swap)?;
    kb_line(w, "SwapPss:", m.swap_pss >> PSS_SHIFT)?;
    kb_line(w, "Locked:", m.pss_locked >> PSS_SHIFT)
}

/// The size, page-size and flag lines around the counters (`show_smap()`).
fn show_smap_body(
    w: &mut impl fmt::Write,
    size: usize,
    flags: VmFlags,
    m: &MemSizeStats,
) -> fmt::Result {
    kb_line(w, "Size:", size as u64)?;
    kb_line(w, "KernelPageSize:", PAGE_SIZE as u64)?;
    kb_line(w, "MMUPageSize:", PAGE_SIZE as u64)?;
    show_smap_counters(w, m, false)?;
    writeln!(w, "THPeligible:    0")?;
    w.write_str("VmFlags: ")?;
    for name in flags.mnemonics() {
        write!(w, "{name} ")?;
    }
    w.write_str("\n")
}

/// `/proc/PID/smaps`: each VMA's maps line and statistics (`stats` in VMA order), then the
/// gate VMA's (nothing resident: the vector page is not counted).
pub fn render_smaps(
    w: &mut impl fmt::Write,
    mm: &MmStruct,
    stats: &[MemSizeStats],
    f: &MapsFormat,
) -> fmt::Result {
    for (vma, m) in mm.iter().zip(stats.iter().chain(core::iter::repeat(&MemSizeStats::default())))
    {
        show_map_vma(w, f.name_column, vma, mm)?;
        show_smap_body(w, vma.len(), vma.vm_flags, m)?;
    }
    if let Some(g) = &f.gate {
        show_line(w, f.name_column, g.start, g.end, g.flags, 0, (0, 0), 0, Some(g.name))?;
        show_smap_body(w, g.end - g.start, g.flags, &MemSizeStats::default())?;
    }
    Ok(())
}

/// `/proc/PID/smaps_rollup`: one `[rollup]` header spanning the VMAs and the summed counters.
pub fn render_smaps_rollup(
    w: &mut impl fmt::Write,
    mm: &MmStruct,
    stats: &[MemSizeStats],
    f: &MapsFormat,
) -> fmt::Result {
    let start = mm.iter().next().map_or(0, |v| v.vm_start);
    let end = mm.iter().last().map_or(0, |v| v.vm_end);
    show_line(w, f.name_column, start, end, VmFlags::empty(), 0, (0, 0), 0, Some("[rollup]"))?;
    let mut total = MemSizeStats::default();
    for m in stats {
        total.add(m);
    }
    show_smap_counters(w, &total, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// One ARM maps line of a 4 KiB VMA at 0x10000 with offset 0.
    fn arm_line(flags: VmFlags, dev: (u32, u32), ino: u64, name: Option<&str>) -> String {
        let mut out = String::new();
        show_line(
            &mut out,
            MapsFormat::ARM.name_column,
            0x10000,
            0x11000,
            flags,
            0,
            dev,
            ino,
            name,
        )
        .unwrap();
        out
    }

    #[test]
    fn long_prefixes_still_get_seq_pads_space() {
        // 51 characters of prefix (trailing space included): no padding, one more space.
        assert_eq!(
            arm_line(VmFlags::READ, (0, 2), 1234567890, Some("/x")),
            "00010000-00011000 r--p 00000000 00:02 1234567890  /x\n"
        );
        assert_eq!(arm_line(VmFlags::READ, (0, 2), 123456, Some("/x")).find('/'), Some(49));
        assert_eq!(
            arm_line(VmFlags::READ | VmFlags::WRITE, (0, 0), 0, None),
            "00010000-00011000 rw-p 00000000 00:00 0 \n"
        );
    }

    #[test]
    fn smaps_account_splits_shared_pages_pss() {
        let mut m = MemSizeStats::default();
        let shared = SmapsPage { count: 3, mapcount: 3, ..Default::default() };
        m.account(&shared);
        m.account(&SmapsPage {
            anon: true,
            swap_backed: true,
            count: 1,
            mapcount: 1,
            ..Default::default()
        });
        // A clean anonymous page not swap-backed is lazily freeable (MADV_FREE).
        m.account(&SmapsPage { anon: true, count: 1, mapcount: 1, ..Default::default() });
        assert_eq!(m.resident, 3 * 4096);
        assert_eq!(m.pss >> PSS_SHIFT, 4096 / 3 + 2 * 4096);
        assert_eq!((m.shared_clean, m.private_clean, m.lazyfree), (4096, 8192, 4096));
        assert_eq!(m.pss_file >> PSS_SHIFT, 4096 / 3);
    }
}
