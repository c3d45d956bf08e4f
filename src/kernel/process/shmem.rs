//! Shared anonymous memory as 6.1's mm/shmem.c makes it: `mmap(MAP_SHARED|MAP_ANONYMOUS)`
//! gives the VMA a shmem object (`shmem_zero_setup`, which calls
//! `shmem_kernel_file_setup("dev/zero", size)`): an unlinked tmpfs inode on the kernel's
//! internal shm mount with a page cache of its own. The VMA's `vm_file` holds it, `fork`
//! shares it with the child, so every process mapping it finds the same pages whenever they
//! are first touched (before or after the fork); its pages are swap-backed page-cache pages
//! (`PG_swapbacked`: `RssShmem`, `Shmem` in meminfo, `Shared_Dirty` in smaps), and they go
//! back to the page allocator when the last mapping goes.
//!
//! The last mapping's VMA may be dropped before its PTEs are zapped (`munmap` takes the VMAs
//! out of the tree, then clears the range), so an object whose last reference went keeps its
//! pages until [`evict_pending`] runs at a point where no PTE can map them any more (after
//! `munmap`'s zap, after `exit_mmap`), as 6.1's `remove_vma` drops the file after
//! `unmap_region`.
//!
//! **Swap**: reclaim sends an object's pages to swap as 6.1's `shmem_writepage` does
//! ([`shmem_writepage`]): the page unmapped everywhere, a slot, the page in the swap cache
//! and the swap entry in its place in the object's index; the next fault on it, or
//! `swapoff` ([`shmem_unuse`]), brings it back into the object (`shmem_swapin_folio`). The
//! objects are found by their pages' `page->mapping` ([`tmpfs_cache_of`]): the superblock and
//! the inode number, as the shm mount and the rootfs both number their inodes from 1.
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::fs::FileCache;
use crate::kernel::mem::with_node;
use crate::kernel::spinlock::SpinLock;
use crate::kernel::swap::{self, SwapRead};
use crate::mm::mm_types::{Errno, VmFile, VmFlags, Vma, PAGE_SIZE};
use crate::mm::page::PageOwner;
use crate::mm::shmem::{shmem_swap_usage, ShmemMapping, TmpfsSb};
use crate::mm::swapops::SwpEntry;
use crate::mm::Pfn;

/// `s_dev` of the internal shm mount (`shm_mnt`): `mnt_init` runs `shmem_init` before
/// `init_mount_tree`, so it takes the first anonymous device number, 00:01, and the rootfs
/// the second (00:02, `fs::ramfs::RAMFS_DEV`).
pub const SHM_MNT_DEV: (u32, u32) = (0, 1);

/// The name `/proc/PID/maps` prints for a shared anonymous mapping: the object's dentry is
/// "dev/zero" under the shm mount's root, and `d_path` of an unlinked dentry ends in
/// " (deleted)".
pub const DEV_ZERO_DELETED: &str = "/dev/zero (deleted)";

/// The shm mount's root directory's inode number (`shmem_fill_super` makes it first).
const SHM_ROOT_INO: u64 = 1;

/// The next inode number of the shm mount (`shmem_reserve_inode` for a kernel mount: the
/// superblock's `next_ino`, from 1, the root's).
static NEXT_INO: AtomicU64 = AtomicU64::new(SHM_ROOT_INO + 1);

/// Every shmem object's page cache by inode number (weak: the object owns it), for reclaim,
/// `swapoff` and `verify`.
static OBJECTS: SpinLock<BTreeMap<u64, Weak<SpinLock<FileCache>>>> = SpinLock::new(BTreeMap::new());

/// Page caches of shmem objects nobody maps any more, freed by [`evict_pending`].
static PENDING: SpinLock<Vec<Arc<SpinLock<FileCache>>>> = SpinLock::new(Vec::new());

/// A shmem object: the unlinked inode's page cache (`struct shmem_inode_info` with its
/// `address_space`), what a shared anonymous VMA's `vm_file` pins.
pub struct ShmemObject {
    cache: Arc<SpinLock<FileCache>>,
}

impl Drop for ShmemObject {
    fn drop(&mut self) {
        // iput_final once nothing maps it: its pages go with [`evict_pending`].
        PENDING.lock().push(self.cache.clone());
    }
}

/// `shmem_zero_setup`: the file a `MAP_SHARED|MAP_ANONYMOUS` mapping of `len` bytes maps
/// (from page offset 0, as `do_mmap` sets it).
pub fn shmem_zero_setup(len: usize) -> Result<Arc<VmFile>, Errno> {
    if len == 0 || !len.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
    let cache = Arc::new(SpinLock::new(FileCache::unlinked(ino, len as u64)));
    OBJECTS.lock().insert(ino, Arc::downgrade(&cache));
    let pin: Arc<dyn core::any::Any + Send + Sync> = Arc::new(ShmemObject { cache });
    Ok(Arc::new(VmFile {
        dev: SHM_MNT_DEV,
        ino,
        path: String::from(DEV_ZERO_DELETED),
        pin: Some(pin),
    }))
}

/// The page cache of `file` if it is a shmem object (the fault path's `shmem_fault`).
pub fn shmem_cache(file: &VmFile) -> Option<Arc<SpinLock<FileCache>>> {
    let obj = file.pin.as_ref()?.downcast_ref::<ShmemObject>()?;
    Some(obj.cache.clone())
}

/// Frees the pages of the shmem objects whose last mapping went (`shmem_evict_inode`:
/// `shmem_truncate_range` of the whole file). Call only where their PTEs are gone.
pub fn evict_pending() {
    let gone = core::mem::take(&mut *PENDING.lock());
    if gone.is_empty() {
        return;
    }
    // Dropped here, outside the list's lock: each cache frees its pages as it goes.
    drop(gone);
    OBJECTS.lock().retain(|_, c| c.strong_count() > 0);
}

/// The page cache of the shmem object with inode number `ino` (a page's `page->mapping`).
pub fn shmem_cache_of(ino: u64) -> Option<Arc<SpinLock<FileCache>>> {
    OBJECTS.lock().get(&ino).and_then(Weak::upgrade)
}

/// The page cache of the tmpfs file a page's `page->mapping` names: a shmem object's or a
/// rootfs file's (reclaim's `folio->mapping`).
pub fn tmpfs_cache_of(m: ShmemMapping) -> Option<Arc<SpinLock<FileCache>>> {
    match m.sb {
        TmpfsSb::ShmMnt => shmem_cache_of(m.ino),
        TmpfsSb::Rootfs => super::fs::rootfs_cache_of(m.ino),
    }
}

/// `s_dev` of a tmpfs superblock (what a VMA's `vm_file` of its files carries).
pub fn tmpfs_dev(sb: TmpfsSb) -> (u32, u32) {
    match sb {
        TmpfsSb::ShmMnt => SHM_MNT_DEV,
        TmpfsSb::Rootfs => crate::fs::ramfs::RAMFS_DEV,
    }
}

/// Every live shmem object's page cache.
fn objects() -> Vec<Arc<SpinLock<FileCache>>> {
    OBJECTS.lock().values().filter_map(Weak::upgrade).collect()
}

/// Every tmpfs file's page cache: the shmem objects' and the rootfs files' (what 6.1's
/// `shmem_swaplist` holds: the inodes with entries in swap).
fn tmpfs_files() -> Vec<Arc<SpinLock<FileCache>>> {
    let mut all = objects();
    all.extend(super::fs::rootfs_caches());
    all
}

/// `shmem_writepage` of page `pfn`, page `index` of `cache`, which reclaim has unmapped from
/// every process: a slot (`folio_alloc_swap`), the page in the swap cache, dirty, and the
/// swap entry in its place in the index (`shmem_delete_from_page_cache`, `NR_SHMEM` -1: the
/// page is the swap cache's now). The slot, or None when no slot is free or the page is no
/// longer the file's (the caller then keeps it as it is). The caller writes it.
pub fn shmem_writepage(cache: &mut FileCache, index: u64, pfn: Pfn) -> Option<SwpEntry> {
    if cache.cached(index) != Some(pfn) {
        return None;
    }
    let e = swap::shmem_add_to_swap(pfn)?;
    if !cache.page_to_swap(index, pfn, e) {
        // Not reached: the index was checked under the same lock. Undo it all.
        swap::shmem_swapin_take(pfn, e);
        return None;
    }
    with_node(|n| n.move_page_owner(pfn, PageOwner::PageCache, PageOwner::Anon));
    Some(e)
}

/// `shmem_unuse(type)` at `swapoff`: every tmpfs file's pages in area `ty` read back in
/// (waiting for each read, and for a page's swap-out write still in flight, with no lock
/// held) and put back in their objects. `ENOMEM` when a
/// page cannot be had (the area stays on).
pub fn shmem_unuse(ty: u32) -> Result<(), Errno> {
    for cache in tmpfs_files() {
        let mut from = 0;
        loop {
            let Some((index, e)) = cache.lock().shmem_index().next_swap_entry(from, ty) else {
                break;
            };
            from = index + 1;
            let gfp = cache.lock().swapin_gfp();
            loop {
                // shmem_swapin_folio's folio_wait_writeback: a write in flight ends first.
                if let Some((disk, done)) = swap::writeback_wait(e) {
                    let _ = crate::block::core::wait_bio(disk, &done);
                    continue;
                }
                let pfn = match swap::swap_read_start_gfp(e, false, 0, None, gfp) {
                    Ok(SwapRead::Cached(pfn)) => pfn,
                    Ok(SwapRead::InFlight(disk, done)) => {
                        let _ = crate::block::core::wait_bio(disk, &done);
                        swap::settle(e);
                        continue;
                    }
                    // Freed meanwhile (the object was truncated): nothing to bring back.
                    Err(Errno::ENOENT) => break,
                    Err(err) => return Err(err),
                };
                cache.lock().swapin_cached(index, e, pfn);
                break;
            }
        }
    }
    Ok(())
}

/// The tmpfs files' pages in swap (their index entries, every file's `info->swapped`): slots
/// in use with no swap PTE, which stay after every program has exited (the console's
/// `swapcache` prints them).
pub fn swapped_pages() -> u64 {
    tmpfs_files().iter().map(|c| c.lock().shmem_index().swapped()).sum()
}

/// The tmpfs files' references to swap slots (their index entries), added to `refs` and
/// to `slots` (`verify` checks each slot's count against them and the swap PTEs, and that
/// each of these slots, and no other, holds the `SWAP_MAP_SHMEM` mark).
pub fn add_swap_refs(
    refs: &mut BTreeMap<SwpEntry, u32>,
    slots: &mut BTreeSet<SwpEntry>,
) -> Result<(), String> {
    for cache in tmpfs_files() {
        let c = cache.lock();
        let mut n = 0;
        for (_, e) in c.shmem_index().swap_entries() {
            *refs.entry(e).or_insert(0) += 1;
            slots.insert(e);
            n += 1;
        }
        if n != c.shmem_index().swapped() {
            return Err(alloc::format!(
                "swap: tmpfs file swapped {} but {} swap entries",
                c.shmem_index().swapped(),
                n
            ));
        }
    }
    Ok(())
}

/// smaps' `Swap:` share of a shared anonymous VMA (`smap_gather_stats`: `shmem_swap_usage`,
/// whole for a `VM_SHARED` or read-only mapping), in bytes; 0 for other VMAs.
pub fn vma_swap_bytes(vma: &Vma) -> u64 {
    let Some(cache) = vma.vm_file.as_deref().and_then(shmem_cache) else { return 0 };
    if !vma.vm_flags.contains(VmFlags::SHARED) && vma.vm_flags.contains(VmFlags::WRITE) {
        // A private writable mapping counts its holes' entries only (6.1's
        // smaps_shmem_walk_ops): a shmem object is never mapped so.
        return 0;
    }
    let c = cache.lock();
    let pages = shmem_swap_usage(c.shmem_index(), c.size_pages(), vma.vm_pgoff, vma.pages() as u64);
    pages * PAGE_SIZE as u64
}
