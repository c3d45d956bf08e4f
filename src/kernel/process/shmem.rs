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
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::fs::FileCache;
use crate::kernel::spinlock::SpinLock;
use crate::mm::mm_types::{Errno, VmFile, PAGE_SIZE};

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
    // Dropped here, outside the list's lock: each cache frees its pages as it goes.
    drop(gone);
}
