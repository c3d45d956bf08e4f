//! smaps's page-table walk made pure (fs/proc/task_mmu.c `smaps_pte_entry`,
//! `smap_gather_stats`): what each present PTE contributes to a VMA's [`MemSizeStats`], from
//! what the kernel reads of the PTE and its frame. The kernel's walk over a live process's
//! tables feeds it (kernel/process/procfs_live.rs); the host tests feed it synthetic walks.
use super::maps::{MemSizeStats, SmapsPage};

/// What a mapped frame is, as smaps classifies it (`PageAnon`, `PageSwapBacked`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The shared zero page: `vm_normal_page()` returns NULL for it, so smaps skips it.
    Zero,
    /// An anonymous page of a process.
    Anon,
    /// A page-cache page of the rootfs (tmpfs-like: swap-backed and dirty, as Linux's
    /// initramfs pages are, hence `Shared_Dirty`/`Private_Dirty` and `RssShmem`).
    Shmem,
    /// A kernel page mapped by a special mapping (`[sigpage]`).
    Kernel,
}

/// One present user PTE as the smaps walk sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteView {
    pub young: bool,
    pub dirty: bool,
    pub kind: FrameKind,
    /// How many PTEs map the frame across all processes (`page_mapcount`).
    pub mapcount: u32,
}

/// `smaps_pte_entry()` for a present PTE: the page facts `smaps_account()` takes, or None
/// for the zero page. `page_count` is the mappings plus the page cache's own reference for a
/// cache page and the kernel's for a special page (an anonymous page has only its mappings).
pub fn smaps_page(p: &PteView, locked: bool) -> Option<SmapsPage> {
    let (anon, swap_backed, page_dirty, extra_ref) = match p.kind {
        FrameKind::Zero => return None,
        FrameKind::Anon => (true, true, false, 0),
        FrameKind::Shmem => (false, true, true, 1),
        FrameKind::Kernel => (false, false, false, 1),
    };
    let mapcount = p.mapcount.max(1);
    Some(SmapsPage {
        anon,
        swap_backed,
        pte_dirty: p.dirty,
        page_dirty,
        young: p.young,
        referenced: false,
        locked,
        count: mapcount + extra_ref,
        mapcount,
    })
}

/// `smap_gather_stats()` over one VMA's present PTEs.
pub fn vma_stats(ptes: impl Iterator<Item = PteView>, locked: bool) -> MemSizeStats {
    let mut m = MemSizeStats::default();
    for p in ptes {
        account_pte(&mut m, &p, locked);
    }
    m
}

/// `smaps_pte_entry()` + `smaps_account()` for one present PTE, so a walk adds each PTE as it
/// reads it (no buffer of a VMA's PTEs, which for a large VMA would be a large allocation).
pub fn account_pte(m: &mut MemSizeStats, p: &PteView, locked: bool) {
    if let Some(page) = smaps_page(p, locked) {
        m.account(&page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pte(kind: FrameKind, mapcount: u32, dirty: bool) -> PteView {
        PteView { young: true, dirty, kind, mapcount }
    }

    #[test]
    fn the_zero_page_is_not_counted() {
        let m = vma_stats([pte(FrameKind::Zero, 7, false)].into_iter(), false);
        assert_eq!(m, MemSizeStats::default());
    }

    #[test]
    fn a_synthetic_walk_gives_linux_smaps_accounting() {
        // A text VMA of 3 rootfs pages: two mapped by this process only, one shared with
        // another process; a data VMA with 2 dirty anonymous pages and one zero-page read.
        let text = vma_stats(
            [
                pte(FrameKind::Shmem, 1, false),
                pte(FrameKind::Shmem, 1, false),
                pte(FrameKind::Shmem, 2, false),
            ]
            .into_iter(),
            false,
        );
        assert_eq!(text.resident, 3 * 4096);
        // tmpfs pages are dirty: private when mapped once, shared when mapped twice.
        assert_eq!(text.private_dirty, 2 * 4096);
        assert_eq!(text.shared_dirty, 4096);
        assert_eq!((text.private_clean, text.shared_clean), (0, 0));
        assert_eq!(text.pss >> super::super::maps::PSS_SHIFT, 2 * 4096 + 2048);
        assert_eq!(text.pss_shmem >> super::super::maps::PSS_SHIFT, 2 * 4096 + 2048);
        assert_eq!(text.anonymous, 0);
        assert_eq!(text.referenced, 3 * 4096);

        let data = vma_stats(
            [
                pte(FrameKind::Anon, 1, true),
                pte(FrameKind::Anon, 1, true),
                pte(FrameKind::Zero, 3, false),
            ]
            .into_iter(),
            false,
        );
        assert_eq!(data.resident, 2 * 4096);
        assert_eq!(data.anonymous, 2 * 4096);
        assert_eq!(data.private_dirty, 2 * 4096);
        assert_eq!(data.lazyfree, 0);
        assert_eq!(data.pss_anon >> super::super::maps::PSS_SHIFT, 2 * 4096);

        // After a fork-like share, the anonymous page mapped twice splits its Pss.
        let shared_anon = vma_stats([pte(FrameKind::Anon, 2, false)].into_iter(), true);
        assert_eq!(shared_anon.shared_clean, 4096);
        assert_eq!(shared_anon.pss >> super::super::maps::PSS_SHIFT, 2048);
        assert_eq!(shared_anon.pss_locked >> super::super::maps::PSS_SHIFT, 2048);
    }

    #[test]
    fn the_sigpage_is_a_clean_file_page() {
        let m = vma_stats([pte(FrameKind::Kernel, 3, false)].into_iter(), false);
        assert_eq!(m.shared_clean, 4096);
        assert_eq!(m.pss >> super::super::maps::PSS_SHIFT, 4096 / 3);
        assert_eq!(m.pss_file >> super::super::maps::PSS_SHIFT, 4096 / 3);
    }
}
