//! The root filesystem of processes and the namespace over it: the initramfs unpacked into a
//! ramfs whose file pages are page-cache pages (page frames from the page allocator, owner
//! `PageCache`), so the fault path maps them into processes directly; `/proc` mounted on it
//! and the console tty (`fs::vfs::Namespace`), one for the whole system, which the system
//! calls and the console's commands reach through [`with_ns`]; and `populate_rootfs` /
//! `free_initrd_mem` as init/initramfs.c runs them at boot.
//!
//! Locking: a system call holds the namespace's lock for the whole file operation, user
//! copies included, and a user copy may fault on a file-backed page. So the fault path never
//! takes that lock for pages: each file's page cache ([`FileCache`]: its frames and a copy of
//! `i_size`) has a lock of its own, shared between the inode and a registry by inode number
//! ([`file_cache`]) that the fault path reads, as Linux's fault path takes the page's lock and
//! never the inode's.
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::kernel::spinlock::SpinLock;

use super::procfs_live::LiveProc;
use super::syscall::with_user;
use super::with_current;
use crate::abi::native::termbits::{Termios, PL011_CONSOLE_DEFAULT_BAUD};
use crate::abi::uaccess::{Fault as UFault, UserMemory};
use crate::fs::fdtable::FdTable;
use crate::fs::initramfs;
use crate::fs::ramfs::{AddressSpace, Ino, InodeKind, InodeRef, PageBuf, Ramfs, ROOT_INO};
use crate::fs::vfs::{Ctx, FileRef, Namespace, Node, DEFAULT_UMASK};
use crate::kernel::mem::with_node;
use crate::kernel::swap::{self, SwapRead};
use crate::mm::gfp::GfpFlags;
use crate::mm::memory::{CachePage, FaultError};
use crate::mm::mm_types::{Errno, VmFile};
use crate::mm::page::PageOwner;
use crate::mm::shmem::{ShmemEntry, ShmemIndex, ShmemMapping, TmpfsSb};
use crate::mm::swapops::SwpEntry;
use crate::mm::{Pfn, PAGE_SHIFT};
use crate::{kprintln, sizes::SZ_1K};

/// One file's page cache: its frames, or the swap entries of those swap-out sent to swap, by
/// page index ([`ShmemIndex`]), and its size (`i_size`, kept by the ramfs through
/// [`AddressSpace::set_size`]).
#[derive(Default, Debug)]
pub struct FileCache {
    index: ShmemIndex,
    size: u64,
    /// The superblock and inode number (with `sb`, `page->mapping` of its pages, the rmap's
    /// key); a rootfs file's is set when the ramfs makes the inode (0 before).
    ino: u64,
    sb: TmpfsSb,
}

/// A page found in memory, mapped with no wait.
const fn cache_hit(pfn: Pfn) -> CachePage {
    CachePage { pfn: pfn.0, major: false, retry: false }
}

/// A fault that sleeps on a bio with its locks dropped and runs again (`VM_FAULT_RETRY`);
/// `major` when it started the read.
const fn cache_retry(major: bool) -> CachePage {
    CachePage { pfn: 0, major, retry: true }
}

impl FileCache {
    /// The cache of a file not in any directory (a shmem object): `size` bytes, inode `ino`.
    pub(super) fn unlinked(ino: u64, size: u64) -> Self {
        FileCache { index: ShmemIndex::new(), size, ino, sb: TmpfsSb::ShmMnt }
    }

    /// `page->mapping` of this file's pages: its superblock and inode ([`ShmemMapping`]).
    pub(super) fn mapping(&self) -> usize {
        ShmemMapping { sb: self.sb, ino: self.ino }.encode().unwrap_or(0)
    }

    /// Pages inside the file (`i_size` rounded up).
    pub(super) fn size_pages(&self) -> u64 {
        self.size.div_ceil(1 << PAGE_SHIFT)
    }

    /// `shmem_get_folio` for a fault: the frame of page `index`, a zeroed one created for a
    /// hole inside the file, or the page brought back from swap ([`FileCache::swapin`]);
    /// `Err(Sigbus)` past its end, `Err(Oom)` without memory.
    fn fault_page(&mut self, index: u64) -> Result<CachePage, FaultError> {
        if index >= self.size_pages() {
            return Err(FaultError::Sigbus);
        }
        match self.index.get(index) {
            Some(ShmemEntry::Swap(e)) => self.swapin(index, e),
            _ => self.get_or_create(index).map(cache_hit).map_err(|_| FaultError::Oom),
        }
    }

    /// `shmem_swapin_folio` for a fault on page `index`, in swap at `e`: a page still in the
    /// swap cache goes back into the file (a minor fault); otherwise the read is started (or
    /// found in flight) and the fault sleeps on it with its locks dropped and runs again
    /// (`VM_FAULT_RETRY`; major when it started the read, as 6.1 counts `PGMAJFAULT` for a
    /// page not in the swap cache). A page whose swap-out write is still in flight is waited
    /// for first, as 6.1's `folio_wait_writeback` waits: the fault stops before it touches
    /// anything, sleeps on the write's bio with its locks dropped and runs again, counted
    /// once ([`super::iowait::set_fault_writeback`]).
    fn swapin(&mut self, index: u64, e: SwpEntry) -> Result<CachePage, FaultError> {
        if let Some((disk, done)) = swap::in_flight(e) {
            super::iowait::set_fault_wait(disk, done);
            return Ok(cache_retry(false));
        }
        if let Some((disk, done)) = swap::writeback_wait(e) {
            super::iowait::set_fault_writeback(disk, done);
            return Ok(cache_retry(false));
        }
        match swap::swap_read_start_gfp(e, false, 0, None, self.swapin_gfp()) {
            Ok(SwapRead::Cached(pfn)) => {
                if self.swapin_cached(index, e, pfn) {
                    Ok(cache_hit(pfn))
                } else {
                    Err(FaultError::Sigbus)
                }
            }
            Ok(SwapRead::InFlight(disk, done)) => {
                super::iowait::set_fault_wait(disk, done);
                Ok(cache_retry(true))
            }
            Err(Errno::ENOMEM) => Err(FaultError::Oom),
            Err(_) => Err(FaultError::Sigbus),
        }
    }

    /// Where a page of this file comes back from swap: a shmem object's pages are only
    /// mapped into processes, anywhere (`GFP_HIGHUSER_MOVABLE`, as 6.1's tmpfs allocates);
    /// a rootfs file's are also read and written by the file layer, which reaches them
    /// through the linear map (pivm's file layer has no kmap, where 6.1's `shmem_file_read_iter`
    /// kmaps a highmem page): lowmem, as the rootfs's other pages are ([`FileCache::get_or_create`]).
    pub(super) fn swapin_gfp(&self) -> GfpFlags {
        match self.sb {
            TmpfsSb::ShmMnt => GfpFlags::GFP_HIGHUSER_MOVABLE,
            TmpfsSb::Rootfs => GfpFlags::GFP_KERNEL,
        }
    }

    /// The end of `shmem_swapin_folio` for entry `e` at `index`, whose page `pfn` is in the
    /// swap cache: the page leaves the swap cache and the slot is
    /// freed (`delete_from_swap_cache`, `swap_free`), and it is the file's page again, dirty
    /// (its only copy), keyed for the rmap by the file. Whether it was (false: the index no
    /// longer holds `e`, or the page is not `e`'s).
    pub(super) fn swapin_cached(&mut self, index: u64, e: SwpEntry, pfn: Pfn) -> bool {
        if self.index.get(index) != Some(ShmemEntry::Swap(e)) || !swap::shmem_swapin_take(pfn, e) {
            return false;
        }
        with_node(|n| n.move_page_owner(pfn, PageOwner::Anon, PageOwner::PageCache));
        super::reclaim::set_rmap_key(pfn, self.mapping(), index);
        super::reclaim::folio_mark_dirty(pfn);
        self.index.swap_to_page(index, e, pfn)
    }

    /// `shmem_writepage`'s change of the index once page `pfn` at `index` has slot `e`: the
    /// entry in the page's place. False when the index no longer holds that page.
    pub(super) fn page_to_swap(&mut self, index: u64, pfn: Pfn, e: SwpEntry) -> bool {
        self.index.page_to_swap(index, pfn, e)
    }

    /// The page-and-swap index (for `swapoff`, `verify` and smaps).
    pub(super) fn shmem_index(&self) -> &ShmemIndex {
        &self.index
    }

    /// The frame of page `index` if it is in memory and inside the file.
    pub(super) fn cached(&self, index: u64) -> Option<Pfn> {
        (index < self.size_pages()).then(|| self.index.page(index)).flatten()
    }

    /// [`FileCache::cached`] of `out.len()` consecutive pages from `index`, one range walk
    /// (a page in swap is not cached: fault-around skips it).
    fn cached_range(&self, index: u64, out: &mut [Option<u64>]) {
        out.fill(None);
        let end = self.size_pages().min(index + out.len() as u64);
        for (i, p) in self.index.page_range(index, end) {
            out[(i - index) as usize] = Some(p.0);
        }
    }

    /// Pages cached.
    pub(super) fn nrpages(&self) -> u64 {
        self.index.nrpages()
    }

    /// A zeroed page-cache frame at `index` (created if absent). `EIO` when the index holds a
    /// swap entry there: its callers bring the page back first ([`swapin_for_file`], the
    /// fault's [`FileCache::swapin`]), and a new page in its place would lose the data.
    fn get_or_create(&mut self, index: u64) -> Result<Pfn, Errno> {
        match self.index.get(index) {
            Some(ShmemEntry::Page(p)) => return Ok(p),
            Some(ShmemEntry::Swap(_)) => return Err(Errno::EIO),
            None => {}
        }
        let p = with_node(|n| {
            n.alloc_pages_for(PageOwner::PageCache, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
        })
        .map_err(|_| Errno::ENOMEM)?;
        self.index.insert_page(index, p);
        // shmem_add_to_page_cache + folio_add_lru: tmpfs pages are swap-backed, on the
        // anon LRU.
        super::reclaim::lru_add_shmem(p, self.mapping(), index);
        Ok(p)
    }

    /// Records the inode number and stamps the key on the pages cached so far.
    fn set_ino(&mut self, ino: u64) {
        if self.ino == ino {
            return;
        }
        self.ino = ino;
        let mapping = self.mapping();
        for (index, pfn) in self.index.pages() {
            super::reclaim::set_rmap_key(pfn, mapping, index);
        }
    }

    /// `shmem_undo_range` from `index`: the pages freed, and the swap entries' references
    /// dropped (`free_swap_and_cache`: a slot nothing else refers to is freed, with its
    /// swap-cache page unless that page's write is in flight, which frees it when it ends).
    fn truncate(&mut self, index: u64) {
        self.index.truncate(index, |e| match e {
            ShmemEntry::Page(pfn) => {
                let _ = with_node(|n| {
                    let (lru, map) = n.lru_mut();
                    let _ = lru.folio_del_lru(map, pfn);
                    n.free_pages_for(PageOwner::PageCache, pfn, 0)
                });
            }
            ShmemEntry::Swap(e) => swap::free_swap_and_cache(e),
        });
    }
}

impl Drop for FileCache {
    fn drop(&mut self) {
        self.truncate(0);
    }
}

/// How many times [`swapin_for_file`] starts over for one page (each start finds the entry
/// freed meanwhile, or its read failed and left nothing) before it gives up with `EIO`.
const SWAPIN_TRIES: u32 = 8;

/// `shmem_get_folio` for the file layer (`shmem_file_read_iter`, `shmem_write_begin`, a
/// truncation's partial page), under the namespace's lock: page `index` of `cache` brought
/// back if it is in swap (in lowmem: [`FileCache::swapin_gfp`]). A page still in the swap
/// cache goes back at once once its swap-out write, if one is in flight, is done (waited for
/// as a read is: 6.1's `folio_wait_writeback`); one to be read from the card stops the file operation when its
/// task asked to ([`super::iowait::defer_io`]: a program's `read()`/`write()`, exec's read
/// of a program's head): `EFAULT`, and the task sleeps on the bio with every lock dropped
/// and goes on, as 6.1's `shmem_swapin_folio` sleeps in `folio_lock` with no spinlock held;
/// otherwise (the console's `cat`, which is the idle task) it waits here, the CPU idle. No page for the read: the task reclaims the same way
/// ([`super::iowait::defer_reclaim`]), else `ENOMEM`.
fn swapin_for_file(cache: &SpinLock<FileCache>, index: u64) -> Result<(), Errno> {
    for _ in 0..SWAPIN_TRIES {
        let (e, gfp) = {
            let c = cache.lock();
            match c.index.get(index) {
                Some(ShmemEntry::Swap(e)) => (e, c.swapin_gfp()),
                _ => return Ok(()),
            }
        };
        if let Some((disk, done)) = swap::writeback_wait(e) {
            // folio_wait_writeback: the page's swap-out write ends before it comes back.
            if super::iowait::defer_writeback(disk, &done) {
                return Err(Errno::EFAULT);
            }
            // The block layer's wait counts it idle (it cannot sleep here).
            let _quiet = crate::block::core::NoScheduleGuard::new();
            let _ = crate::block::core::wait_bio(disk, &done);
            continue;
        }
        match swap::swap_read_start_gfp(e, false, 0, None, gfp) {
            Ok(SwapRead::Cached(pfn)) => {
                // False only when the index moved on meanwhile: looked at again.
                cache.lock().swapin_cached(index, e, pfn);
            }
            Ok(SwapRead::InFlight(disk, done)) => {
                if super::iowait::defer_io(disk, &done) {
                    return Err(Errno::EFAULT);
                }
                let _quiet = crate::block::core::NoScheduleGuard::new();
                let _ = crate::block::core::wait_bio(disk, &done);
                swap::settle(e);
            }
            Err(Errno::ENOMEM) => {
                return Err(if super::iowait::defer_reclaim(Errno::ENOMEM) {
                    Errno::EFAULT
                } else {
                    Errno::ENOMEM
                })
            }
            // The slot was freed meanwhile (the file truncated): the index says what is left.
            Err(Errno::ENOENT) => {}
            Err(err) => return Err(err),
        }
    }
    Err(Errno::EIO)
}

/// A file's page cache over page frames in lowmem (`struct address_space` with its xarray),
/// shared with the fault path's registry.
#[derive(Default, Debug)]
pub struct CachePages {
    cache: Arc<SpinLock<FileCache>>,
}

/// The page's bytes through the linear map; `EIO` for a frame outside lowmem (never given to
/// a rootfs file: see [`FileCache::swapin_gfp`]).
fn page_va(pfn: Pfn) -> Result<*mut PageBuf, Errno> {
    crate::kernel::phys_to_virt(pfn.phys().0).map(|va| va as *mut PageBuf).ok_or(Errno::EIO)
}

impl AddressSpace for CachePages {
    fn find_get_page(&self, index: u64) -> Result<Option<&PageBuf>, Errno> {
        swapin_for_file(&self.cache, index)?;
        let Some(pfn) = self.cache.lock().index.page(index) else { return Ok(None) };
        // SAFETY: the frame is a lowmem page this cache owns (freed only by truncate or drop,
        // both needing `&mut self`, or by reclaim once it went to swap, which cannot run
        // while the file layer holds the namespace's spin lock on this one CPU), mapped by
        // the linear map; shared references only while `self` is borrowed.
        Ok(Some(unsafe { &*page_va(pfn)? }))
    }

    fn find_or_create_page(&mut self, index: u64) -> Result<&mut PageBuf, Errno> {
        swapin_for_file(&self.cache, index)?;
        let pfn = self.cache.lock().get_or_create(index)?;
        // flush_dcache_page: the caller writes the page, so its next executable mapping
        // cleans the data cache again.
        with_node(|n| n.clear_dcache_clean(pfn));
        // SAFETY: as in find_get_page; the exclusive borrow of `self` makes this the only
        // reference to the page's bytes from the cache (mappings in processes see the same
        // bytes, as a shared file mapping does).
        Ok(unsafe { &mut *page_va(pfn)? })
    }

    fn truncate_inode_pages(&mut self, index: u64) {
        self.cache.lock().truncate(index);
    }

    fn mark_accessed(&self, index: u64) {
        let pfn = self.cache.lock().index.page(index);
        if let Some(pfn) = pfn {
            super::reclaim::mark_page_accessed(pfn);
        }
    }

    fn nrpages(&self) -> u64 {
        self.cache.lock().nrpages()
    }

    fn set_size(&mut self, size: u64) {
        self.cache.lock().size = size;
    }

    fn set_ino(&mut self, ino: Ino) {
        self.cache.lock().set_ino(ino);
        // Reclaim finds every rootfs file's pages by inode number (`page->mapping`), mapped
        // or not.
        FILE_CACHES.lock().insert(ino, Arc::downgrade(&self.cache));
    }
}

impl Drop for CachePages {
    fn drop(&mut self) {
        // The inode is gone (evicted): so is its registry entry.
        let ino = self.cache.lock().ino;
        let mut reg = FILE_CACHES.lock();
        if reg.get(&ino).is_some_and(|w| w.as_ptr() == Arc::as_ptr(&self.cache)) {
            reg.remove(&ino);
        }
    }
}

/// A process's working directory (`fs_struct`'s `pwd`): the node, and the hold on its
/// ramfs inode that keeps a removed directory alive (and empty) while it is someone's cwd.
#[derive(Clone, Debug)]
pub struct Pwd {
    pub node: Node,
    pub pin: Option<Arc<InodeRef>>,
}

impl Default for Pwd {
    fn default() -> Self {
        Pwd { node: Node::Ram(ROOT_INO), pin: None }
    }
}

impl Pwd {
    /// The working directory `node`, held.
    pub fn new(ns: &Namespace<CachePages>, node: Node) -> Self {
        let pin = match node {
            Node::Ram(i) => ns.ramfs.iget(i),
            _ => None,
        };
        Pwd { node, pin }
    }
}

/// The namespace every process sees (`init_task`'s root, with `/proc` and `/dev/console`).
static NS: SpinLock<Option<Namespace<CachePages>>> = SpinLock::new(None);

/// Every rootfs file's page cache by inode number (weak: the inode owns it), registered when
/// the ramfs makes the inode: the fault path's, reclaim's, `swapoff`'s and `verify`'s way to
/// a file's pages without the namespace's lock.
static FILE_CACHES: SpinLock<BTreeMap<Ino, Weak<SpinLock<FileCache>>>> =
    SpinLock::new(BTreeMap::new());

/// The console's `termios` (Linux's serial console at the PL011's default rate).
fn console_termios() -> Termios {
    Termios::serial_console(PL011_CONSOLE_DEFAULT_BAUD).expect("the default rate has a code")
}

/// The namespace over `fs`: `/proc` mounted and the device nodes made, with the mount
/// points made first if the rootfs has none (as an init's `mkdir -p /proc /dev` would).
fn namespace(mut fs: Ramfs<CachePages>) -> Namespace<CachePages> {
    for dir in ["/proc", "/dev", "/sys"] {
        if fs.lookup(dir).is_err() {
            let _ = fs.mkdir(dir, 0o755);
        }
    }
    Namespace::new(fs, console_termios())
}

/// Runs `f` on the namespace (created over an empty rootfs on first use). Unlinked inodes
/// whose last user went since (a close, a munmap, an exit) are evicted first and after, so
/// their pages are back before anything reads the counters.
pub fn with_ns<R>(f: impl FnOnce(&mut Namespace<CachePages>) -> R) -> R {
    let mut g = NS.lock();
    let ns = g.get_or_insert_with(|| namespace(Ramfs::new()));
    evict(ns);
    let r = f(ns);
    evict(ns);
    r
}

/// `iput_final` of the orphans nobody holds any more, and the fault path's registry entries
/// of page caches that have gone.
fn evict(ns: &mut Namespace<CachePages>) {
    if ns.ramfs.evict_orphans() > 0 {
        FILE_CACHES.lock().retain(|_, c| c.strong_count() > 0);
    }
}

/// Whether the namespace's lock is free (no file operation of the running task holds it).
pub fn ns_free() -> bool {
    NS.try_lock().is_some()
}

/// Runs `f` on the rootfs.
pub fn with_rootfs<R>(f: impl FnOnce(&mut Ramfs<CachePages>) -> R) -> R {
    with_ns(|ns| f(&mut ns.ramfs))
}

/// Registers inode `ino`'s page cache for the fault path (at `mmap` and on the first fault).
pub fn register_file(ns: &Namespace<CachePages>, ino: Ino) -> Option<Arc<SpinLock<FileCache>>> {
    let InodeKind::Reg(m) = &ns.ramfs.inode(ino)?.kind else { return None };
    m.cache.lock().set_ino(ino);
    FILE_CACHES.lock().insert(ino, Arc::downgrade(&m.cache));
    Some(m.cache.clone())
}

/// The page cache of inode `ino`, as the fault path finds it: from the registry, or (first
/// fault on the file, outside any file operation) from the namespace.
fn file_cache(ino: Ino) -> Option<Arc<SpinLock<FileCache>>> {
    if let Some(c) = FILE_CACHES.lock().get(&ino).and_then(Weak::upgrade) {
        return Some(c);
    }
    // Held only by a file operation of the running task: every file it can fault on was
    // registered by mmap or an earlier fault, so this never waits.
    let g = NS.try_lock()?;
    register_file(g.as_ref()?, ino)
}

/// The page cache of rootfs inode `ino` (a rootfs page's `page->mapping`), for reclaim.
pub(super) fn rootfs_cache_of(ino: Ino) -> Option<Arc<SpinLock<FileCache>>> {
    FILE_CACHES.lock().get(&ino).and_then(Weak::upgrade)
}

/// Every live rootfs file's page cache (`swapoff`, `verify`).
pub(super) fn rootfs_caches() -> Vec<Arc<SpinLock<FileCache>>> {
    FILE_CACHES.lock().values().filter_map(Weak::upgrade).collect()
}

/// The page cache a tmpfs-backed mapping's faults use: a shmem object's own (shared
/// anonymous memory), else the rootfs file's, by inode number.
fn vm_file_cache(file: &VmFile) -> Option<Arc<SpinLock<FileCache>>> {
    super::shmem::shmem_cache(file).or_else(|| file_cache(file.ino))
}

/// The page-cache frame of page `index` of `file`, created for a hole inside the file (a
/// hole reads as zeros: tmpfs gives it a zeroed page); `Err(Sigbus)` past its end
/// (`filemap_fault`'s SIGBUS), `Err(Oom)` without memory.
pub fn file_page(file: &VmFile, index: u64) -> Result<CachePage, FaultError> {
    let cache = vm_file_cache(file).ok_or(FaultError::Sigbus)?;
    let mut c = cache.lock();
    c.fault_page(index)
}

/// The frame of page `index` of `file` if it is cached and inside the file (fault-around).
pub fn cached_page(file: &VmFile, index: u64) -> Option<Pfn> {
    vm_file_cache(file)?.lock().cached(index)
}

/// [`cached_page`] of `out.len()` consecutive pages from `index`: one look-up of the file's
/// cache and one range walk of its pages for the whole fault-around window.
pub fn cached_pages(file: &VmFile, index: u64, out: &mut [Option<u64>]) {
    match vm_file_cache(file) {
        Some(cache) => cache.lock().cached_range(index, out),
        None => out.fill(None),
    }
}

/// `populate_rootfs` + `free_initrd_mem`: unpacks the archive at physical `[start,
/// start+size)` (reserved in memblock at boot, in lowmem) into the rootfs, then gives its
/// pages to the page allocator, printing Linux's lines.
pub fn populate_rootfs(start: u64, size: u64) {
    let Some(va) = crate::kernel::phys_to_virt(start) else {
        kprintln!("Initramfs at {:#x} is not in lowmem: not unpacked", start);
        return;
    };
    if crate::kernel::phys_to_virt(start + size - 1).is_none() {
        kprintln!("Initramfs at {:#x} runs past lowmem: not unpacked", start);
        return;
    }
    kprintln!("Trying to unpack rootfs image as initramfs...");
    // SAFETY: memblock reserved [start, start+size) at boot, so nothing else has used these
    // lowmem bytes; they are read here once, before being freed below.
    let bytes = unsafe { core::slice::from_raw_parts(va as *const u8, size as usize) };
    let r = with_ns(|ns| {
        let r = initramfs::unpack_to_rootfs(bytes, &mut ns.ramfs);
        // Mount /proc and make the device nodes over what was unpacked.
        *ns = namespace(core::mem::take(&mut ns.ramfs));
        r
    });
    if let Err(e) = r {
        kprintln!("Initramfs unpacking failed: {}", e);
    }
    // free_initrd_mem(): whole pages inside the image.
    let first = start.div_ceil(1 << PAGE_SHIFT);
    let last = (start + size) >> PAGE_SHIFT;
    if last > first {
        let freed = with_node(|n| n.free_bootmem_range(Pfn(first), Pfn(last)));
        match freed {
            Ok(pages) => {
                kprintln!("Freeing initrd memory: {}K", (pages << PAGE_SHIFT) / SZ_1K)
            }
            Err(e) => kprintln!("Freeing initrd memory failed: {}", e),
        }
    }
}

/// The running process's memory as the file layer reaches it: each access a separate
/// [`with_user`] (the task lock and its mm taken for that copy only). Between two accesses the
/// task is whole, so a `/proc/self` file a `read` renders sees the reader's own mm: the
/// file layer renders into the `seq_file`'s buffer first and copies out after (see
/// `fs::vfs`'s `do_read`), never rendering while a copy holds the mm.
pub struct CurrentMem;

impl UserMemory for CurrentMem {
    fn access_ok(&self, addr: usize, len: usize) -> bool {
        with_user(|um, _| Ok(um.access_ok(addr, len))).unwrap_or(false)
    }

    fn copy_from_user(&mut self, buf: &mut [u8], addr: usize) -> Result<(), UFault> {
        with_user(|um, _| Ok(um.copy_from_user(buf, addr))).unwrap_or(Err(UFault { done: 0 }))
    }

    fn copy_to_user(&mut self, addr: usize, data: &[u8]) -> Result<(), UFault> {
        with_user(|um, _| Ok(um.copy_to_user(addr, data))).unwrap_or(Err(UFault { done: 0 }))
    }
}

/// A file system call of the running process: `f` gets the namespace, the live `/proc`, the
/// process's memory and descriptor table (out of the task while `f` runs: nothing else uses
/// it, as only the task's own calls and fork, which is not running, reach it). The console
/// output the call produced goes to the UART after the namespace's lock is dropped.
pub fn with_vfs<R>(f: impl FnOnce(&mut Ctx<'_, CachePages, CurrentMem>) -> R) -> R {
    let (mut files, umask, cwd) =
        with_current(|t| (core::mem::take(&mut t.files), t.ext.umask, t.ext.pwd.node));
    let mut mem = CurrentMem;
    let (r, out) = with_ns(|ns| {
        let mut ctx = Ctx { ns, proc: &LiveProc, mem: &mut mem, files: &mut files, cwd, umask };
        let r = f(&mut ctx);
        (r, core::mem::take(&mut ctx.ns.tty.output))
    });
    with_current(|t| t.files = files);
    uart_write(&out);
    r
}

/// [`with_vfs`] for a call whose user copies may fault on a card or swapped page, or find
/// no free page: such a fault does not wait (or fail) under the namespace's lock but stops
/// the copy (`VM_FAULT_RETRY`, [`super::iowait::with_io_deferred`]); the call fails with
/// `EFAULT` before it changed anything (its copies in come first; what it copies out it
/// only read), the task sleeps on the bio or reclaims with every lock dropped (`D`, other
/// tasks running), and the call runs again, its fault there the retry (`FAULT_FLAG_TRIED`
/// after a sleep), as Linux's call faults, sleeps and reclaims with no spinlock held. A
/// call that succeeded is not run again; one whose reclaim freed nothing fails (`EFAULT`).
pub fn with_vfs_sleeping<R>(
    mut f: impl FnMut(&mut Ctx<'_, CachePages, CurrentMem>) -> Result<R, Errno>,
) -> Result<R, Errno> {
    loop {
        let (r, wait) = super::iowait::with_io_deferred(|| with_vfs(&mut f));
        match (wait, &r) {
            (Some(why), Err(Errno::EFAULT)) => {
                if why.finish().is_err() {
                    super::iowait::clear_uaccess_retry();
                    return r;
                }
            }
            _ => {
                super::iowait::clear_uaccess_retry();
                return r;
            }
        }
    }
}

/// `chdir`/`fchdir`: the call `f` finds the new working directory, which the task then
/// holds (`set_fs_pwd`).
pub fn set_pwd(
    f: impl FnMut(&mut Ctx<'_, CachePages, CurrentMem>) -> Result<Node, Errno>,
) -> Result<usize, Errno> {
    let node = with_vfs_sleeping(f)?;
    let pwd = with_ns(|ns| Pwd::new(ns, node));
    // The old directory's hold goes after the task lock is dropped (its eviction needs the
    // namespace, taken at the next call).
    let old = with_current(|t| core::mem::replace(&mut t.ext.pwd, pwd));
    drop(old);
    Ok(0)
}

/// Bytes the console tty produced (program output after `ONLCR`, echo) to the UART.
fn uart_write(bytes: &[u8]) {
    for &b in bytes {
        crate::board::raspi::uart::putc(b);
    }
}

/// The descriptor table a program started from the console gets: 0, 1 and 2 on one open
/// `/dev/console` (`console_on_rootfs`); empty, with Linux's warning, without the node.
pub fn console_files() -> FdTable<FileRef> {
    let mut files = FdTable::new();
    let r = with_ns(|ns| {
        Ctx {
            ns,
            proc: &LiveProc,
            mem: &mut CurrentMem,
            files: &mut files,
            cwd: Node::Ram(ROOT_INO),
            umask: DEFAULT_UMASK,
        }
        .console_on_rootfs()
    });
    if r.is_err() {
        kprintln!("Warning: unable to open an initial console.");
    }
    files
}

/// The console's input for its foreground program: one received byte through the tty's
/// line discipline (echo, editing, lines); the signal to send if it was ^C, ^\ or ^Z.
pub fn tty_receive(byte: u8) -> Option<u32> {
    let (sig, out) = with_ns(|ns| {
        let sig = ns.tty.receive(byte);
        (sig, core::mem::take(&mut ns.tty.output))
    });
    uart_write(&out);
    sig
}

/// Takes the input no program read (the console's again when its program exits).
pub fn tty_take_input() -> Vec<u8> {
    with_ns(|ns| ns.tty.take_input())
}

/// The console's `cat PATH`: the whole file through the same namespace, `/proc` lookup and
/// renderers as a program's `open`/`read`, printed as it is read.
pub fn cat(path: &str) -> Result<(), Errno> {
    with_ns(|ns| ns.kernel_read(&LiveProc, path, &mut |b: &[u8]| console_write(b)))
}

/// The console's `echo VALUE > PATH`: a write to a knob file through the same namespace and
/// handler as a program's `write` (the bytes the handler took).
pub fn write_knob(path: &str, value: &[u8]) -> Result<usize, Errno> {
    with_ns(|ns| ns.kernel_write(&LiveProc, path, value))
}

/// Text for the console (the kernel's own output, not a program's): `\n` as `\r\n`.
pub fn console_write(bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            crate::board::raspi::uart::putc(b'\r');
        }
        crate::board::raspi::uart::putc(b);
    }
}
