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
    /// A swap-backed page-cache page: the rootfs's (tmpfs) files and shared anonymous
    /// memory (shmem). A tmpfs page is always dirty (it has no backing store to be clean
    /// against), hence `Shared_Dirty`/`Private_Dirty`, as Linux's initramfs pages are.
    Shmem,
    /// A page-cache page that is not swap-backed (a file on the card): clean unless its
    /// `PG_dirty` is set or a PTE dirtied it, so `Shared_Clean`/`Private_Clean` when read.
    File { dirty: bool },
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
        FrameKind::File { dirty } => (false, false, dirty, 1),
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
    fn filerss_a_card_file_page_is_clean_where_a_tmpfs_page_is_dirty() {
        // smaps_account(): dirty = pte_dirty || PageDirty. A card file's text read by two
        // processes (one page mapped twice, one mapped once) is Shared_Clean/Private_Clean
        // and Pss_File; the same pages of a tmpfs file are Shared_Dirty/Private_Dirty and
        // Pss_Shmem.
        let clean = FrameKind::File { dirty: false };
        let card = vma_stats([pte(clean, 2, false), pte(clean, 1, false)].into_iter(), false);
        assert_eq!((card.shared_clean, card.private_clean), (4096, 4096));
        assert_eq!((card.shared_dirty, card.private_dirty), (0, 0));
        assert_eq!(card.pss_file >> super::super::maps::PSS_SHIFT, 4096 + 2048);
        assert_eq!((card.pss_shmem, card.pss_anon, card.pss_dirty, card.anonymous), (0, 0, 0, 0));
        let tmpfs = vma_stats(
            [pte(FrameKind::Shmem, 2, false), pte(FrameKind::Shmem, 1, false)].into_iter(),
            false,
        );
        assert_eq!((tmpfs.shared_dirty, tmpfs.private_dirty), (4096, 4096));
        assert_eq!((tmpfs.shared_clean, tmpfs.private_clean), (0, 0));
        assert_eq!(tmpfs.pss_shmem >> super::super::maps::PSS_SHIFT, 4096 + 2048);
        assert_eq!(tmpfs.pss_file, 0);
        // A card page written through a shared mapping (dirty PTE), or one whose PG_dirty is
        // set, counts as dirty.
        let written = vma_stats([pte(clean, 1, true)].into_iter(), false);
        assert_eq!((written.private_dirty, written.private_clean), (4096, 0));
        let page_dirty =
            vma_stats([pte(FrameKind::File { dirty: true }, 1, false)].into_iter(), false);
        assert_eq!((page_dirty.private_dirty, page_dirty.pss_file), (4096, 4096 << 12));
    }

    #[test]
    fn the_sigpage_is_a_clean_file_page() {
        let m = vma_stats([pte(FrameKind::Kernel, 3, false)].into_iter(), false);
        assert_eq!(m.shared_clean, 4096);
        assert_eq!(m.pss >> super::super::maps::PSS_SHIFT, 4096 / 3);
        assert_eq!(m.pss_file >> super::super::maps::PSS_SHIFT, 4096 / 3);
    }
}
