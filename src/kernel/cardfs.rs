//! Files on the SD card: the FAT volume of `mmcblk0p1` mounted read-only on `/boot`, and the
//! page cache filled from the card.
//!
//! * Mount: `embedded-sdmmc` opens the volume (MBR entry 1, the BPB) and walks every
//!   directory with its long names once, at mount; pivm keeps the tree (its dentries and
//!   inodes). The crate reads sectors through [`CardBlocks`], which reads them through the
//!   block device's page cache (`Buffers` in /proc/meminfo), as Linux's FAT reads its
//!   metadata through buffer heads.
//! * File data never goes through the crate: a file's cluster chain is read from the FAT
//!   (through the same block-device cache) into extents (`fs::fat`), and page-cache pages are
//!   filled by bios of the extents' sectors straight into the page frames, one bio per run
//!   of contiguous sectors (at most `MAX_SECTORS`), so /proc/diskstats counts what a read
//!   or a fault cost.
//! * Read-ahead is `mm::readahead` (6.1's): `read()` with the open file's state, mmap faults
//!   with the state of the mapping's file (`filemap_fault`'s read-around, the
//!   `PG_readahead` marker, `mmap_miss`), `read_ahead_kb` per disk (128 by default).
//! * `drop_caches` frees clean, unmapped pages (every page here is clean: the mount is
//!   read-only).
//!
//! Locking: one lock ([`CARDFS`]) for the tree and the page cache, taken by file system calls
//! (under the namespace lock) and by the fault path (under the task lock). File data reads
//! are submitted under it without waiting: their pages stay locked (`PG_locked`, skipped by
//! fault-around, reclaim and `drop_caches`) until their bios are found done. A fault waits
//! for them after letting go of every lock (`VM_FAULT_RETRY`); a wait under the lock (a
//! `read()`, metadata) runs with a [`NoScheduleGuard`], so no other task runs (and spins on
//! it) meanwhile. Data goes
//! to user memory only after the lock is dropped (the VFS copies out of a kernel buffer),
//! so a copy that faults on a card page can take it.
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::kernel::spinlock::SpinLock;

use crate::abi::errno::Errno;
use crate::block::blk_mq::{self, BioVec};
use crate::block::core::{self as blk, NoScheduleGuard};
use crate::block::genhd::ReqOp;
use crate::block::{MMC_BLOCK_MAJOR, SECTOR_SIZE};
use crate::drivers::mmc::block::MAX_SECTORS;
use crate::fs::fat::{self, Extent, FatGeometry};
use crate::fs::ramfs::{S_IFDIR, S_IFREG};
use crate::fs::vfs::{DiskFs, DiskStat};
use crate::kernel::mem::with_node;
use crate::kernel::process::iowait;
use crate::kernel::process::reclaim::{self, FileReclaimOps};
use crate::kprintln;
use crate::mm::gfp::GfpFlags;
use crate::mm::memory::{CachePage, FaultError, FaultFlags};
use crate::mm::mm_types::{VmFile, Vma};
use crate::mm::page::PageOwner;
use crate::mm::readahead::{self, FileRaState, FilemapFault, RaMapping};
use crate::mm::{Pfn, PAGE_SHIFT};

/// Bytes and sectors of a page.
const PAGE: usize = 1 << PAGE_SHIFT;
const SECTORS_PER_PAGE: u64 = (PAGE / SECTOR_SIZE) as u64;
/// `bdi->io_pages`: the largest request the card's queue takes, in pages.
const IO_PAGES: u64 = MAX_SECTORS / SECTORS_PER_PAGE;
/// The partition `/boot` lives on and its name.
const BOOT_PARTNO: u32 = 1;
const BOOT_DEV: &str = "mmcblk0p1";
/// `MSDOS_ROOT_INO`.
const ROOT_INO: u64 = 1;
/// Directory levels walked at mount (the crate keeps this many directories open).
const MAX_DEPTH: usize = 8;

/// `Cached` pages of card files and `Buffers` pages (block-device page cache).
static NR_FILE_PAGES: AtomicU64 = AtomicU64::new(0);
static NR_BUFFER_PAGES: AtomicU64 = AtomicU64::new(0);

/// The counter a page of an inode's cache is in: `Buffers` for a block device's.
fn nr_pages(bdev: bool) -> &'static AtomicU64 {
    if bdev {
        &NR_BUFFER_PAGES
    } else {
        &NR_FILE_PAGES
    }
}

/// Pages of `/boot`'s files in the page cache.
pub fn nr_file_pages() -> u64 {
    NR_FILE_PAGES.load(Ordering::Relaxed)
}

/// Pages of the block devices' page cache (`Buffers`).
pub fn nr_buffer_pages() -> u64 {
    NR_BUFFER_PAGES.load(Ordering::Relaxed)
}

fn kva(pfn: Pfn) -> usize {
    crate::kernel::phys_to_virt(pfn.phys().0).expect("page-cache frames are lowmem") as usize
}

/// A lowmem frame for the page cache (bios take kernel addresses), zeroed.
fn alloc_cache_frame() -> Option<Pfn> {
    with_node(|n| {
        n.alloc_pages_for(PageOwner::PageCache, GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
    })
    .ok()
}

fn free_cache_frame(pfn: Pfn) {
    let _ = with_node(|n| n.free_pages_for(PageOwner::PageCache, pfn, 0));
}

/// Frees a page of a file's cache: off the file LRU it joined in `add_page`, then back.
fn free_file_page(pfn: Pfn) {
    reclaim::free_cache_page(pfn);
}

/// A page of the block devices' page cache, and the read filling it while one is in flight
/// (`PG_locked`).
struct BufPage {
    pfn: Pfn,
    pending: Option<Arc<blk_mq::Completion>>,
}

/// The block devices' page cache: pages of 8 sectors by (disk, partition, page index).
static BDEV: SpinLock<BTreeMap<(usize, u32, u64), BufPage>> = SpinLock::new(BTreeMap::new());

/// What a read under [`CARDFS`]'s lock returns when it stopped to let its task sleep on a
/// page being read ([`iowait::defer_io`] has the bio): never seen outside this module.
const DEFERRED: Errno = Errno::EAGAIN;

/// Reads sector `sector` of partition `partno` through the block device's page cache (the
/// page holding it read whole, as `__bread` reads a buffer's page, clipped at the end). A
/// page not yet cached is added locked and its bio queued; with `defer` and a caller that
/// asked to ([`iowait::with_io_deferred`]) the read stops there with [`DEFERRED`] and the
/// task sleeps with no lock held before it reads again (`__wait_on_buffer` sleeps on the
/// buffer's lock); otherwise it waits here, the CPU idle.
fn bdev_read_sector(
    disk: usize,
    partno: u32,
    sector: u64,
    defer: bool,
) -> Result<[u8; SECTOR_SIZE], Errno> {
    let index = sector / SECTORS_PER_PAGE;
    let key = (disk, partno, index);
    let mut cache = BDEV.lock();
    if let alloc::collections::btree_map::Entry::Vacant(slot) = cache.entry(key) {
        let (_, nr_sects) = blk::part_info(disk, partno).ok_or(Errno::ENXIO)?;
        let first = index * SECTORS_PER_PAGE;
        let n = nr_sects.saturating_sub(first).min(SECTORS_PER_PAGE);
        if n == 0 {
            return Err(Errno::EIO);
        }
        let pfn = alloc_cache_frame().ok_or(Errno::ENOMEM)?;
        let seg = BioVec { addr: kva(pfn), len: (n as usize * SECTOR_SIZE) as u32 };
        match blk::submit_bio(disk, partno, ReqOp::Read, first, alloc::vec![seg]) {
            Ok(done) => {
                slot.insert(BufPage { pfn, pending: Some(done) });
                NR_BUFFER_PAGES.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                free_cache_frame(pfn);
                return Err(e);
            }
        }
    }
    let pending = cache.get(&key).and_then(|b| b.pending.clone());
    if let Some(done) = pending {
        if !done.is_done() {
            if defer && crate::kernel::process::iowait::defer_io(disk, &done) {
                return Err(DEFERRED);
            }
            let _quiet = NoScheduleGuard::new();
            let _ = blk::wait_bio(disk, &done);
        }
        // `end_buffer_read_sync`: up to date, or out of the cache on an error.
        if done.status() != 0 {
            if let Some(b) = cache.remove(&key) {
                free_cache_frame(b.pfn);
                NR_BUFFER_PAGES.fetch_sub(1, Ordering::Relaxed);
            }
            return Err(Errno::EIO);
        }
        if let Some(b) = cache.get_mut(&key) {
            b.pending = None;
        }
    }
    let pfn = cache.get(&key).map(|b| b.pfn).ok_or(Errno::EIO)?;
    let off = (sector % SECTORS_PER_PAGE) as usize * SECTOR_SIZE;
    let mut out = [0u8; SECTOR_SIZE];
    // SAFETY: a lowmem frame the block-device cache owns (freed only under BDEV's lock),
    // its read done.
    let page = unsafe { core::slice::from_raw_parts(kva(pfn) as *const u8, PAGE) };
    out.copy_from_slice(&page[off..off + SECTOR_SIZE]);
    Ok(out)
}

/// The card as `embedded-sdmmc` sees it: whole-disk block numbers, read through the block
/// devices' page cache (the partition's sectors through `mmcblk0p1`'s).
struct CardBlocks {
    disk: usize,
    part_start: u64,
    part_sectors: u64,
    disk_sectors: u64,
}

impl CardBlocks {
    fn read_sector(&self, sector: u64) -> Result<[u8; SECTOR_SIZE], Errno> {
        if (self.part_start..self.part_start + self.part_sectors).contains(&sector) {
            bdev_read_sector(self.disk, BOOT_PARTNO, sector - self.part_start, false)
        } else {
            bdev_read_sector(self.disk, 0, sector, false)
        }
    }
}

impl embedded_sdmmc::BlockDevice for CardBlocks {
    type Error = Errno;
    fn read(
        &self,
        blocks: &mut [embedded_sdmmc::Block],
        start: embedded_sdmmc::BlockIdx,
    ) -> Result<(), Errno> {
        for (k, b) in blocks.iter_mut().enumerate() {
            b.contents = self.read_sector(u64::from(start.0) + k as u64)?;
        }
        Ok(())
    }
    fn write(&self, _: &[embedded_sdmmc::Block], _: embedded_sdmmc::BlockIdx) -> Result<(), Errno> {
        // Mounted read-only: the crate never writes when nothing is created or changed.
        Err(Errno::EROFS)
    }
    fn num_blocks(&self) -> Result<embedded_sdmmc::BlockCount, Errno> {
        Ok(embedded_sdmmc::BlockCount(self.disk_sectors.min(u64::from(u32::MAX)) as u32))
    }
}

/// No clock for the crate's timestamps (nothing is written).
struct NoClock;

impl embedded_sdmmc::TimeSource for NoClock {
    fn get_timestamp(&self) -> embedded_sdmmc::Timestamp {
        embedded_sdmmc::Timestamp::from_fat(0x21, 0)
    }
}

/// A page of a file in the page cache.
#[derive(Clone, Copy, Debug)]
struct CachedPage {
    pfn: Pfn,
    /// `PG_readahead`.
    readahead: bool,
}

/// A file or directory of the volume.
struct Inode {
    name: String,
    parent: u64,
    dir: bool,
    children: Vec<u64>,
    size: u64,
    mtime: u64,
    nlink: u32,
    first_cluster: u32,
    /// The partition the data is read from (1 for the volume's files; a block device's own).
    partno: u32,
    /// A block device's inode (`/dev/mmcblk0pN`): its pages are `Buffers`, not `Cached`.
    bdev: bool,
    /// The cluster chain as extents (`fat_cache`), walked as far as reads have needed it;
    /// dropped with the slab caches by `drop_caches` 2 and 3.
    extents: Option<fat::ClusterChain>,
    pages: BTreeMap<u64, CachedPage>,
    /// The cached pages whose read is in flight (`PG_locked`, not yet `PG_uptodate`).
    locked: BTreeMap<u64, PendingPage>,
}

/// A page-cache page being read: the bios that fill it (usually one; a page whose sectors
/// are not contiguous on the card takes several) and where the bytes past `i_size` start
/// when the last of them brings a partial sector (zeroed once it is done).
#[derive(Default)]
struct PendingPage {
    bios: Vec<Arc<blk_mq::Completion>>,
    zero_from: Option<usize>,
}

impl Inode {
    /// Finishes the reads that are done (`end_page_read`): a good page is up to date (its
    /// tail past `i_size` zeroed), a failed one leaves the cache.
    fn settle(&mut self) {
        if self.locked.is_empty() {
            return;
        }
        let done: Vec<u64> = self
            .locked
            .iter()
            .filter(|(_, p)| p.bios.iter().all(|b| b.is_done()))
            .map(|(&i, _)| i)
            .collect();
        for index in done {
            let p = self.locked.remove(&index).expect("just found");
            let Some(page) = self.pages.get(&index).copied() else { continue };
            if p.bios.iter().any(|b| b.status() != 0) {
                self.pages.remove(&index);
                free_file_page(page.pfn);
                nr_pages(self.bdev).fetch_sub(1, Ordering::Relaxed);
            } else if let Some(from) = p.zero_from {
                // SAFETY: a lowmem frame of this cache; its reads are done.
                unsafe {
                    core::ptr::write_bytes((kva(page.pfn) + from) as *mut u8, 0, PAGE - from)
                };
            }
        }
    }

    /// Whether page `index` is still being read (after settling).
    fn is_locked(&mut self, index: u64) -> bool {
        self.settle();
        self.locked.contains_key(&index)
    }

    /// The last bio of page `index`'s read, if it is in flight.
    fn page_wait(&mut self, index: u64) -> Option<Arc<blk_mq::Completion>> {
        self.settle();
        self.locked.get(&index).and_then(|p| p.bios.last().cloned())
    }
}

/// The mounted volume.
struct CardFs {
    disk: usize,
    geom: FatGeometry,
    inodes: BTreeMap<u64, Inode>,
}

static CARDFS: SpinLock<Option<CardFs>> = SpinLock::new(None);

/// The device `/boot` is mounted from (`s_dev`) and its disk, once mounted.
static BOOT_SDEV: spin::Once<(u32, u32)> = spin::Once::new();
static BOOT_DISK: spin::Once<usize> = spin::Once::new();

/// `bdi->ra_pages` of the card `/boot` is on, as a new open file takes it.
fn boot_ra_pages() -> u64 {
    blk::read_ahead_kb(BOOT_DISK.get().copied().unwrap_or(0)) * 1024 / PAGE as u64
}

impl CardFs {
    fn cluster_bytes(&self) -> u64 {
        u64::from(self.geom.sectors_per_cluster) * SECTOR_SIZE as u64
    }

    /// The extents of `ino`'s cluster chain as far as page `upto` (exclusive), walked on from
    /// the FAT where earlier reads stopped (`fat_get_cluster`; `defer` as
    /// [`bdev_read_sector`]'s).
    fn extents(&mut self, ino: u64, defer: bool, upto: u64) -> Result<(), Errno> {
        let cb = self.cluster_bytes();
        let (disk, geom) = (self.disk, self.geom);
        let inode = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        if inode.extents.is_none() {
            inode.extents = Some(if inode.bdev {
                // A block device maps its sectors to themselves.
                let sectors = inode.size / SECTOR_SIZE as u64;
                fat::ClusterChain::whole(alloc::vec![Extent {
                    file_sector: 0,
                    disk_sector: 0,
                    sectors
                }])
            } else if inode.first_cluster == 0 {
                fat::ClusterChain::whole(Vec::new())
            } else {
                fat::ClusterChain::new(inode.first_cluster, inode.size.div_ceil(cb))
            });
        }
        walk_chain(inode, disk, &geom, cb, upto, defer)
    }

    fn mapping(&mut self, ino: u64, defer: bool, upto: u64) -> Result<Mapping<'_>, Errno> {
        self.extents(ino, defer, upto)?;
        let (disk, geom, cb) = (self.disk, self.geom, self.cluster_bytes());
        let inode = self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        Ok(Mapping { disk, geom, cluster_bytes: cb, ino, inode, last: None })
    }
}

/// Walks `inode`'s chain (made) on until it covers its first `upto` pages.
fn walk_chain(
    inode: &mut Inode,
    disk: usize,
    geom: &FatGeometry,
    cluster_bytes: u64,
    upto: u64,
    defer: bool,
) -> Result<(), Errno> {
    let Some(chain) = inode.extents.as_mut() else { return Ok(()) };
    if chain.known_sectors().is_none_or(|k| k * SECTOR_SIZE as u64 >= upto * PAGE as u64) {
        return Ok(());
    }
    let clusters = (upto * PAGE as u64).div_ceil(cluster_bytes);
    chain.walk(geom, clusters, |s| bdev_read_sector(disk, BOOT_PARTNO, s, defer))
}

/// One file's page cache as read-ahead drives it.
struct Mapping<'a> {
    disk: usize,
    geom: FatGeometry,
    cluster_bytes: u64,
    ino: u64,
    inode: &'a mut Inode,
    /// The last bio this mapping's reads submitted (requests complete in order: once it is
    /// done, every earlier one is).
    last: Option<Arc<blk_mq::Completion>>,
}

impl Mapping<'_> {
    /// Starts the reads of the pages `[start, start + nr)` (just added) from the card: one
    /// bio per run of contiguous sectors, at most `MAX_SECTORS`, submitted without waiting;
    /// the pages stay locked until their bios are done ([`Inode::settle`]). Sectors past the
    /// chain stay zero, the bytes past `i_size` are zeroed. Pages whose bio the block layer
    /// refused leave the cache at once.
    fn read(&mut self, start: u64, nr: u64) {
        let size = self.inode.size;
        let file_sectors = size.div_ceil(SECTOR_SIZE as u64);
        let mut failed: BTreeSet<u64> = BTreeSet::new();
        // The chain as far as these pages (the callers walked it as far as read-ahead can
        // reach, so this reads nothing; if it has to, a task that asked to sleep for the card
        // leaves the FAT's read to sleep on, and the pages it could not map fail rather
        // than read as a hole: read-ahead cut short).
        let _ = walk_chain(self.inode, self.disk, &self.geom, self.cluster_bytes, start + nr, true);
        let chain = self.inode.extents.take();
        let known = chain.as_ref().map_or(0, |c| c.known_sectors().unwrap_or(u64::MAX));
        let no_extents: &[Extent] = &[];
        let extents = chain.as_ref().map_or(no_extents, |c| &c.extents);
        // The bio being built: first disk sector, segments, sectors, and its pages.
        let mut bio: Option<(u64, Vec<BioVec>, u64, Vec<u64>)> = None;
        let (disk, partno) = (self.disk, self.inode.partno);
        let mut submitted: Vec<(Arc<blk_mq::Completion>, Vec<u64>)> = Vec::new();
        let mut submit = |b: (u64, Vec<BioVec>, u64, Vec<u64>), failed: &mut BTreeSet<u64>| {
            let (sector, segs, _, pages) = b;
            match blk::submit_bio(disk, partno, ReqOp::Read, sector, segs) {
                Ok(done) => submitted.push((done, pages)),
                Err(_) => failed.extend(pages),
            }
        };
        let mut zero_from: BTreeMap<u64, usize> = BTreeMap::new();
        for index in start..start + nr {
            let Some(page) = self.inode.pages.get(&index).copied() else { continue };
            let base = kva(page.pfn);
            let mut s = index * SECTORS_PER_PAGE;
            let end = ((index + 1) * SECTORS_PER_PAGE).min(file_sectors);
            if end > known {
                failed.insert(index);
                continue;
            }
            while s < end {
                let Some((disk_sector, run)) = fat::bmap(extents, s) else {
                    // A hole (the chain is shorter than the size): zeros.
                    s += 1;
                    continue;
                };
                let n = run.min(end - s);
                let seg = BioVec {
                    addr: base + ((s % SECTORS_PER_PAGE) as usize) * SECTOR_SIZE,
                    len: (n as usize * SECTOR_SIZE) as u32,
                };
                match bio.as_mut() {
                    Some((first, segs, count, pages))
                        if *first + *count == disk_sector && *count + n <= MAX_SECTORS =>
                    {
                        segs.push(seg);
                        *count += n;
                        if pages.last() != Some(&index) {
                            pages.push(index);
                        }
                    }
                    _ => {
                        if let Some(b) = bio.take() {
                            submit(b, &mut failed);
                        }
                        bio = Some((disk_sector, alloc::vec![seg], n, alloc::vec![index]));
                    }
                }
                s += n;
            }
            // The tail past i_size reads as zeros (`zero_user_segment` in mpage).
            if (index + 1) * PAGE as u64 > size && index * (PAGE as u64) < size {
                let from = (size - index * PAGE as u64) as usize;
                if from.is_multiple_of(SECTOR_SIZE) {
                    // SAFETY: a lowmem frame of this cache; no bio writes past `from`.
                    unsafe { core::ptr::write_bytes((base + from) as *mut u8, 0, PAGE - from) };
                } else {
                    // The partial sector is read with the rest: zeroed once the read is done.
                    zero_from.insert(index, from);
                }
            }
        }
        if let Some(b) = bio.take() {
            submit(b, &mut failed);
        }
        self.inode.extents = chain;
        for (done, pages) in submitted {
            for index in pages {
                self.inode.locked.entry(index).or_default().bios.push(done.clone());
            }
            self.last = Some(done);
        }
        for (index, from) in zero_from {
            match self.inode.locked.get_mut(&index) {
                Some(p) => p.zero_from = Some(from),
                None => {
                    if let Some(page) = self.inode.pages.get(&index) {
                        // SAFETY: as above; no read of this page is in flight.
                        unsafe {
                            core::ptr::write_bytes(
                                (kva(page.pfn) + from) as *mut u8,
                                0,
                                PAGE - from,
                            )
                        };
                    }
                }
            }
        }
        for index in failed {
            if let Some(p) = self.inode.locked.get_mut(&index) {
                // Another bio still fills part of the page: it leaves when that is done.
                let refused = blk_mq::Completion::new();
                refused.complete(-Errno::EIO.code());
                p.bios.push(refused);
                continue;
            }
            if let Some(p) = self.inode.pages.remove(&index) {
                free_file_page(p.pfn);
                nr_pages(self.inode.bdev).fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn pfn(&self, index: u64) -> Option<Pfn> {
        self.inode.pages.get(&index).map(|p| p.pfn)
    }
}

impl RaMapping for Mapping<'_> {
    fn i_size(&self) -> u64 {
        self.inode.size
    }
    fn is_cached(&self, index: u64) -> bool {
        self.inode.pages.contains_key(&index)
    }
    fn is_readahead(&self, index: u64) -> bool {
        self.inode.pages.get(&index).is_some_and(|p| p.readahead)
    }
    fn clear_readahead(&mut self, index: u64) {
        if let Some(p) = self.inode.pages.get_mut(&index) {
            p.readahead = false;
        }
    }
    fn add_page(&mut self, index: u64, readahead: bool) -> bool {
        let Some(pfn) = alloc_cache_frame() else { return false };
        // `filemap_add_folio`: on the inactive file list, rmap key (inode, index).
        reclaim::lru_add_file(pfn, self.ino, index);
        self.inode.pages.insert(index, CachedPage { pfn, readahead });
        nr_pages(self.inode.bdev).fetch_add(1, Ordering::Relaxed);
        true
    }
    fn read_pages(&mut self, start: u64, nr: u64) {
        self.read(start, nr);
    }
}

/// The read-ahead state of each mapped file (`vma->vm_file->f_ra`): one per `mmap` or
/// `execve` of a file (pivm's `VmFile`), shared by the VMAs split from it and by `fork`.
static MAP_RA: SpinLock<Vec<(Weak<VmFile>, FileRaState)>> = SpinLock::new(Vec::new());

fn map_ra(file: &Arc<VmFile>) -> FileRaState {
    let mut v = MAP_RA.lock();
    if let Some((_, ra)) = v.iter().find(|(w, _)| core::ptr::eq(w.as_ptr(), Arc::as_ptr(file))) {
        return *ra;
    }
    v.retain(|(w, _)| w.strong_count() > 0);
    let ra = FileRaState::new(boot_ra_pages());
    v.push((Arc::downgrade(file), ra));
    ra
}

fn set_map_ra(file: &Arc<VmFile>, ra: FileRaState) {
    let mut v = MAP_RA.lock();
    if let Some(e) = v.iter_mut().find(|(w, _)| core::ptr::eq(w.as_ptr(), Arc::as_ptr(file))) {
        e.1 = ra;
    }
}

/// The inodes of the card's block-device files (`/dev/mmcblk0pN`, in the rootfs): their
/// rootfs inode number and partition.
static BDEV_NODES: SpinLock<BTreeMap<u64, u32>> = SpinLock::new(BTreeMap::new());

/// Where the block devices' own inodes are numbered in this cache (past any FAT inode).
const BDEV_INO_BASE: u64 = 1 << 40;

/// This cache's inode of partition `partno`'s block device (`bdev->bd_inode`).
pub fn bdev_ino(partno: u32) -> u64 {
    BDEV_INO_BASE + u64::from(partno)
}

/// Records that rootfs inode `node_ino` is the device file of partition `partno`.
pub fn register_bdev_node(node_ino: u64, partno: u32) {
    BDEV_NODES.lock().insert(node_ino, partno);
}

/// This cache's inode behind a mapped file: the volume's own inode, or the block device's
/// for a mapping of `/dev/mmcblk0pN`.
fn cache_ino(file: &VmFile) -> Option<u64> {
    if BOOT_SDEV.get() == Some(&file.dev) {
        return Some(file.ino);
    }
    if file.dev == crate::fs::ramfs::RAMFS_DEV {
        return BDEV_NODES.lock().get(&file.ino).map(|&p| bdev_ino(p));
    }
    None
}

/// Whether `file`'s pages come from this cache (a file of the card volume, or a block device).
pub fn is_card_file(file: &VmFile) -> bool {
    cache_ino(file).is_some()
}

/// Opens partition `partno`'s block device: its inode in this cache (made on first use,
/// `bdev_alloc`), the read-ahead state a new open file starts with. `ENXIO` without the
/// partition or without the card's cache (no volume mounted).
pub fn bdev_open(partno: u32) -> Result<(u64, FileRaState), Errno> {
    let disk = BOOT_DISK.get().copied().ok_or(Errno::ENXIO)?;
    let (_, nr_sects) = blk::part_info(disk, partno).ok_or(Errno::ENXIO)?;
    let mut g = CARDFS.lock();
    let fs = g.as_mut().ok_or(Errno::ENXIO)?;
    let ino = bdev_ino(partno);
    fs.inodes.entry(ino).or_insert_with(|| Inode {
        name: String::new(),
        parent: ROOT_INO,
        dir: false,
        children: Vec::new(),
        size: nr_sects * SECTOR_SIZE as u64,
        mtime: 0,
        nlink: 1,
        first_cluster: 0,
        partno,
        bdev: true,
        extents: None,
        locked: BTreeMap::new(),
        pages: BTreeMap::new(),
    });
    Ok((ino, FileRaState::new(boot_ra_pages())))
}

/// `blkdev_read_iter` (`filemap_read` over the block device's mapping) of `bdev_open`'s inode.
pub use read as bdev_read;

/// How far a fault on page `index` needs its file's cluster chain (pages, exclusive): as far
/// as its read-around or read-ahead window can reach when it may read (the page missing, in
/// flight or the read-ahead marker); 0 for a fault that only maps a cached page, which reads
/// no FAT, as in Linux, where only `read_pages` does.
fn fault_chain_reach(inode: Option<&Inode>, index: u64, ra: &FileRaState) -> u64 {
    let may_read = inode.is_none_or(|i| {
        i.pages.get(&index).is_none_or(|p| p.readahead) || i.locked.contains_key(&index)
    });
    if may_read {
        index + 1 + 2 * ra_reach(ra.ra_pages, ra.ra_pages)
    } else {
        0
    }
}

/// The cluster chain a fault on page `index` of `file` needs, read from the FAT before the
/// fault touches anything (after `drop_caches` 2 or 3, or where no read reached yet). A FAT
/// sector being read is left for the fault handler to sleep on with no lock held, and the
/// fault is run again unchanged, counted nowhere (`iowait::set_fault_restart`): 6.1 reads
/// the FAT inside the fault (`fat_get_cluster` asleep in `sb_bread` under `mmap_lock`) and
/// counts it once; pivm's locks are spinlocks, so it sleeps outside them instead.
pub fn filemap_fault_ready(file: &Arc<VmFile>, index: u64) -> Result<bool, FaultError> {
    let ra = map_ra(file);
    let (r, deferred) = iowait::with_io_deferred(|| {
        let mut g = CARDFS.lock();
        let fs = g.as_mut().ok_or(FaultError::Sigbus)?;
        let ino = cache_ino(file).ok_or(FaultError::Sigbus)?;
        let upto = fault_chain_reach(fs.inodes.get(&ino), index, &ra);
        match fs.extents(ino, true, upto) {
            Ok(()) => Ok(true),
            Err(DEFERRED) => Ok(false),
            // No page for the FAT's sector: VM_FAULT_OOM (reclaim, then the fault again), not
            // SIGBUS, as filemap_fault returns for -ENOMEM.
            Err(Errno::ENOMEM) => Err(FaultError::Oom),
            Err(_) => Err(FaultError::Sigbus),
        }
    });
    match (r, deferred) {
        (Ok(false), Some(iowait::Deferred::Io((disk, done)))) => {
            iowait::set_fault_restart(disk, done);
            Ok(false)
        }
        // Deferred only when the bio was recorded (the walk copies nothing to user memory, so
        // it never stops to reclaim); anything else the walk did in place.
        (Ok(false), _) => Ok(true),
        (r, _) => r,
    }
}

/// `filemap_fault` for a card file: 6.1's read-around / async read-ahead decisions
/// (`mm::readahead`), the pages read from the card. The cluster chain is known as far as the
/// fault can read ([`filemap_fault_ready`] ran first).
pub fn filemap_fault(
    vma: &Vma,
    file: &Arc<VmFile>,
    index: u64,
    flags: FaultFlags,
) -> Result<CachePage, FaultError> {
    let mut ra = map_ra(file);
    let r = (|| {
        let mut g = CARDFS.lock();
        let fs = g.as_mut().ok_or(FaultError::Sigbus)?;
        let ino = cache_ino(file).ok_or(FaultError::Sigbus)?;
        let mut m = match fs.mapping(ino, false, 0) {
            Ok(m) => m,
            Err(Errno::ENOMEM) => return Err(FaultError::Oom),
            Err(_) => return Err(FaultError::Sigbus),
        };
        let r =
            readahead::filemap_fault(&mut m, &mut ra, index, vma.vm_flags, flags.tried, IO_PAGES);
        match r {
            FilemapFault::Page { major, retry } => {
                let pfn = m.pfn(index).ok_or(FaultError::Sigbus)?;
                // The page is being read (by this fault or an earlier read): the fault does
                // not wait under the task table's lock but retries once the read is done
                // (`lock_folio_maybe_drop_mmap`): the last bio this fault submitted, or the
                // page's own.
                if let Some(own) = m.inode.page_wait(index) {
                    let done = m.last.take().unwrap_or(own);
                    iowait::set_fault_wait(m.disk, done);
                    return Ok(CachePage { pfn: pfn.0, major, retry: true });
                }
                Ok(CachePage { pfn: pfn.0, major, retry })
            }
            FilemapFault::Sigbus => Err(FaultError::Sigbus),
            FilemapFault::Oom => Err(FaultError::Oom),
        }
    })();
    set_map_ra(file, ra);
    r
}

/// How far past the pages asked for a read-ahead window can reach, in pages: twice
/// `ondemand_readahead`'s `max_pages` (a window starts at most `max_pages` past the index
/// and is at most `max_pages` long), which is `ra_pages`, or up to `io_pages` for a larger
/// request. The cluster chain is walked this far before the reads, so the reads themselves
/// never have to read the FAT.
fn ra_reach(ra_pages: u64, req: u64) -> u64 {
    if req > ra_pages && IO_PAGES > ra_pages {
        req.min(IO_PAGES)
    } else {
        ra_pages
    }
}

/// A page `filemap_map_pages` may map (cached, up to date, not the read-ahead marker,
/// inside the file).
pub fn map_pages_page(file: &VmFile, index: u64) -> Option<Pfn> {
    let ino = cache_ino(file)?;
    let mut g = CARDFS.lock();
    let inode = g.as_mut()?.inodes.get_mut(&ino)?;
    if index >= inode.size.div_ceil(PAGE as u64) || inode.is_locked(index) {
        return None;
    }
    inode.pages.get(&index).filter(|p| !p.readahead).map(|p| p.pfn)
}

/// `filemap_map_pages`' walk of the cache over `out.len()` pages from `index`: each slot
/// the page [`map_pages_page`] gives for it, or `None`, found under one lock by one range
/// walk of the file's pages (`xas_find` over the range; a look-up per slot cost a lock, the
/// inode's and the page's searches and a settle each, about 650 instructions a slot).
pub fn map_pages_pages(file: &VmFile, index: u64, out: &mut [Option<u64>]) {
    out.fill(None);
    let Some(ino) = cache_ino(file) else { return };
    let mut g = CARDFS.lock();
    let Some(inode) = g.as_mut().and_then(|fs| fs.inodes.get_mut(&ino)) else { return };
    let end = (index + out.len() as u64).min(inode.size.div_ceil(PAGE as u64));
    if index >= end {
        return;
    }
    inode.settle();
    for (&i, p) in inode.pages.range(index..end) {
        if !p.readahead && !inode.locked.contains_key(&i) {
            out[(i - index) as usize] = Some(p.pfn.0);
        }
    }
}

/// Whether page `index` of a mapped card file is in the page cache (`mincore`).
pub fn is_cached(file: &VmFile, index: u64) -> bool {
    let Some(ino) = cache_ino(file) else { return false };
    CARDFS
        .lock()
        .as_ref()
        .and_then(|fs| fs.inodes.get(&ino))
        .is_some_and(|i| i.pages.contains_key(&index))
}

/// `filemap_map_pages`' `mmap_miss` update.
pub fn fault_around_hits(file: &Arc<VmFile>, pages: u64) {
    let mut ra = map_ra(file);
    readahead::map_pages_hits(&mut ra, pages);
    set_map_ra(file, ra);
}

/// `filemap_read` of `buf.len()` bytes at `pos` with the open file's read-ahead state:
/// sync read-ahead on a missing page, async on a marked one, then the copy. `req` (at least
/// `buf.len()`) is what the whole read wants from `pos`, the request read-ahead sizes its
/// windows by, as `filemap_get_pages` passes the iterator's whole count while the copy goes
/// a page at a time (a program's `read()` copies each page through a page-sized buffer).
///
/// A page still being read (by this read's read-ahead or an earlier one), or a sector of the
/// FAT the cluster chain needs, is waited for as `filemap_update_page` waits (with every
/// lock dropped) when the caller asked to ([`iowait::with_io_deferred`], a program's
/// `read()` or `execve`): the read stops short before that page, what it copied so far is
/// the result, and the bio is left for the caller to sleep on before it reads on. Otherwise
/// (the console's `cat`) it waits here, the CPU idle.
pub fn read(
    ino: u64,
    pos: u64,
    buf: &mut [u8],
    req: usize,
    ra: &mut FileRaState,
) -> Result<usize, Errno> {
    let mut g = CARDFS.lock();
    let fs = g.as_mut().ok_or(Errno::ENODEV)?;
    let req = req.max(buf.len()) as u64;
    // The chain as far as the read and its read-ahead windows can reach.
    let end = (pos + req).div_ceil(PAGE as u64);
    let upto = end + 2 * ra_reach(ra.ra_pages, end - (pos >> PAGE_SHIFT));
    let mut m = match fs.mapping(ino, true, upto) {
        Ok(m) => m,
        // The FAT's sector is being read: the caller sleeps on it and reads again.
        Err(DEFERRED) => return Ok(0),
        // No frame for the FAT's sector: the caller reclaims and reads again (ENOMEM if
        // reclaim frees nothing), as for a page of the file below.
        Err(Errno::ENOMEM) if iowait::defer_reclaim(Errno::ENOMEM) => return Ok(0),
        Err(e) => return Err(e),
    };
    if m.inode.dir {
        return Err(Errno::EISDIR);
    }
    let size = m.inode.size;
    let want = (size.saturating_sub(pos)).min(buf.len() as u64) as usize;
    let last = (pos + size.saturating_sub(pos).min(req)).div_ceil(PAGE as u64);
    let mut done = 0;
    while done < want {
        let p = pos + done as u64;
        let index = p >> PAGE_SHIFT;
        if !m.is_cached(index) {
            readahead::page_cache_sync_ra(&mut m, ra, index, last - index, IO_PAGES);
            if !m.is_cached(index) {
                // No frame for the page (its read would be in flight otherwise): the caller
                // reclaims with every lock dropped and reads on from here, as 6.1's
                // `filemap_create_folio` allocation reclaims; when reclaim frees nothing (or
                // the caller cannot reclaim: the console's `cat`) the read ends with what it
                // copied, `ENOMEM` if nothing (`filemap_read`).
                if iowait::defer_reclaim(Errno::ENOMEM) || done > 0 {
                    break;
                }
                return Err(Errno::ENOMEM);
            }
        }
        if m.is_readahead(index) {
            readahead::page_cache_async_ra(&mut m, ra, index, last - index, IO_PAGES);
        }
        if let Some(own) = m.inode.page_wait(index) {
            // `filemap_update_page`: wait for the page's read, asleep with no lock held
            // once the caller has dropped them, or here (idle: the cache is locked).
            let bio = m.last.take().unwrap_or(own);
            if iowait::defer_io(m.disk, &bio) {
                break;
            }
            let _quiet = NoScheduleGuard::new();
            let _ = blk::wait_bio(m.disk, &bio);
            while let Some(own) = m.inode.page_wait(index) {
                let _ = blk::wait_bio(m.disk, &own);
            }
            if !m.is_cached(index) {
                if done > 0 {
                    break;
                }
                return Err(Errno::EIO);
            }
        }
        let Some(pfn) = m.pfn(index) else { break };
        let off = (p % PAGE as u64) as usize;
        let n = (PAGE - off).min(want - done);
        // SAFETY: a lowmem frame of this cache, freed only under CARDFS's lock (held).
        let page = unsafe { core::slice::from_raw_parts(kva(pfn) as *const u8, PAGE) };
        buf[done..done + n].copy_from_slice(&page[off..off + n]);
        if off == 0 || done == 0 {
            // `folio_mark_accessed`, once per page a read touches.
            reclaim::mark_page_accessed(pfn);
        }
        done += n;
    }
    ra.prev_pos = (pos + done as u64) as i64;
    Ok(done)
}

/// The file system as the namespace reaches it.
struct BootFs;

fn with_fs<R>(f: impl FnOnce(&CardFs) -> Result<R, Errno>) -> Result<R, Errno> {
    let g = CARDFS.lock();
    f(g.as_ref().ok_or(Errno::ENODEV)?)
}

impl DiskFs for BootFs {
    fn dev(&self) -> (u32, u32) {
        BOOT_SDEV.get().copied().unwrap_or((MMC_BLOCK_MAJOR, BOOT_PARTNO))
    }
    fn root(&self) -> u64 {
        ROOT_INO
    }
    fn parent(&self, ino: u64) -> u64 {
        with_fs(|fs| Ok(fs.inodes.get(&ino).map_or(ROOT_INO, |i| i.parent))).unwrap_or(ROOT_INO)
    }
    fn lookup(&self, dir: u64, name: &str) -> Result<u64, Errno> {
        with_fs(|fs| {
            let d = fs.inodes.get(&dir).ok_or(Errno::ENOENT)?;
            if !d.dir {
                return Err(Errno::ENOTDIR);
            }
            // vfat compares names case-insensitively.
            d.children
                .iter()
                .copied()
                .find(|c| fs.inodes.get(c).is_some_and(|i| i.name.eq_ignore_ascii_case(name)))
                .ok_or(Errno::ENOENT)
        })
    }
    fn getattr(&self, ino: u64) -> Result<DiskStat, Errno> {
        with_fs(|fs| {
            let i = fs.inodes.get(&ino).ok_or(Errno::ENOENT)?;
            let cb = fs.cluster_bytes();
            // fat_getattr: the cluster size as st_blksize; i_blocks of whole clusters.
            Ok(DiskStat {
                mode: if i.dir { S_IFDIR | 0o755 } else { S_IFREG | 0o755 },
                nlink: i.nlink,
                size: i.size,
                blksize: cb as u32,
                blocks: i.size.div_ceil(cb) * cb / SECTOR_SIZE as u64,
                mtime: i.mtime,
            })
        })
    }
    fn readdir(&self, dir: u64) -> Result<Vec<(String, u64, u32)>, Errno> {
        with_fs(|fs| {
            let d = fs.inodes.get(&dir).ok_or(Errno::ENOENT)?;
            if !d.dir {
                return Err(Errno::ENOTDIR);
            }
            Ok(d.children
                .iter()
                .filter_map(|c| {
                    let i = fs.inodes.get(c)?;
                    Some((i.name.clone(), *c, if i.dir { S_IFDIR } else { S_IFREG }))
                })
                .collect())
        })
    }
    fn read(
        &self,
        ino: u64,
        pos: u64,
        buf: &mut [u8],
        req: usize,
        ra: &mut FileRaState,
    ) -> Result<usize, Errno> {
        read(ino, pos, buf, req, ra)
    }
    fn ra_init(&self) -> FileRaState {
        FileRaState::new(boot_ra_pages())
    }
    fn path(&self, ino: u64) -> Option<String> {
        with_fs(|fs| {
            let mut parts = Vec::new();
            let mut i = ino;
            while i != ROOT_INO {
                let n = fs.inodes.get(&i).ok_or(Errno::ENOENT)?;
                parts.push(n.name.clone());
                i = n.parent;
            }
            parts.reverse();
            Ok(parts.join("/"))
        })
        .ok()
    }
}

type Vm = embedded_sdmmc::VolumeManager<CardBlocks, NoClock, MAX_DEPTH, 1, 1>;

/// What the mount's directory walk reads through.
struct Walker<'a> {
    vm: &'a Vm,
    blocks: &'a CardBlocks,
    geom: &'a FatGeometry,
}

/// Reads directory `dir` (inode `ino`) and, below it, its subdirectories into `inodes`.
fn walk(
    w: &Walker<'_>,
    dir: embedded_sdmmc::RawDirectory,
    ino: u64,
    inodes: &mut BTreeMap<u64, Inode>,
    next_ino: &mut u64,
    depth: usize,
) -> Result<(), Errno> {
    let mut entries = Vec::new();
    let mut lfn_storage = [0u8; 256];
    let mut lfn = embedded_sdmmc::LfnBuffer::new(&mut lfn_storage);
    w.vm.iterate_dir_lfn(dir, &mut lfn, |e, long| {
        if !e.attributes.is_volume() {
            entries.push((e.clone(), long.map(String::from)));
        }
    })
    .map_err(|_| Errno::EIO)?;
    let (vm, blocks, geom) = (w.vm, w.blocks, w.geom);
    let mut subdirs = 0;
    for (e, long) in entries {
        // The raw entry, for the first cluster and the NT case bits.
        let raw = blocks.read_sector(u64::from(e.entry_block.0))?;
        let off = e.entry_offset as usize;
        let raw = &raw[off..off + fat::DIR_ENTRY_SIZE];
        let name = long.unwrap_or_else(|| fat::short_name(raw));
        if name == "." || name == ".." {
            continue;
        }
        let me = *next_ino;
        *next_ino += 1;
        let dir_entry = e.attributes.is_directory();
        let first_cluster = fat::first_cluster(raw);
        let mtime = fat::fat_time(
            u16::from_le_bytes([raw[24], raw[25]]),
            u16::from_le_bytes([raw[22], raw[23]]),
        );
        let size = if dir_entry {
            // fat_calc_dir_size: the directory's clusters.
            let n = fat::cluster_extents(geom, first_cluster, u64::MAX, |s| {
                bdev_read_sector(blocks.disk, BOOT_PARTNO, s, false)
            })?;
            n.iter().map(|x| x.sectors).sum::<u64>() * SECTOR_SIZE as u64
        } else {
            u64::from(e.size)
        };
        inodes.insert(
            me,
            Inode {
                name,
                parent: ino,
                dir: dir_entry,
                children: Vec::new(),
                size,
                mtime,
                nlink: if dir_entry { 2 } else { 1 },
                first_cluster,
                partno: BOOT_PARTNO,
                bdev: false,
                extents: None,
                locked: BTreeMap::new(),
                pages: BTreeMap::new(),
            },
        );
        if let Some(p) = inodes.get_mut(&ino) {
            p.children.push(me);
        }
        if dir_entry {
            subdirs += 1;
            if depth + 1 < MAX_DEPTH {
                let sub = vm.open_dir(dir, &e.name).map_err(|_| Errno::EIO)?;
                let r = walk(w, sub, me, inodes, next_ino, depth + 1);
                let _ = vm.close_dir(sub);
                r?;
            }
        }
    }
    if let Some(p) = inodes.get_mut(&ino) {
        // A directory's links: its own name, its ".", and each subdirectory's "..".
        p.nlink = 2 + subdirs;
    }
    Ok(())
}

/// Opens the FAT volume on partition 1 of disk `disk` and reads its tree.
fn mount(disk: usize) -> Result<CardFs, String> {
    let io = |e: Errno| alloc::format!("cannot read the volume ({})", e.message());
    let (_, part_sectors) = blk::part_info(disk, BOOT_PARTNO).ok_or("no partition 1")?;
    let (_, disk_sectors) = blk::part_info(disk, 0).ok_or("no disk")?;
    let part_start = blk::parts_snapshot()
        .iter()
        .find(|p| p.name == BOOT_DEV)
        .map(|p| p.start_sect)
        .ok_or("no partition 1")?;
    let boot = bdev_read_sector(disk, BOOT_PARTNO, 0, false).map_err(io)?;
    let geom = FatGeometry::from_boot_sector(&boot).map_err(String::from)?;
    let blocks = CardBlocks { disk, part_start, part_sectors, disk_sectors };
    let vm: Vm = embedded_sdmmc::VolumeManager::new_with_limits(
        CardBlocks { disk, part_start, part_sectors, disk_sectors },
        NoClock,
        0,
    );
    let volume =
        vm.open_raw_volume(embedded_sdmmc::VolumeIdx(0)).map_err(|e| alloc::format!("{e:?}"))?;
    let root = vm.open_root_dir(volume).map_err(|e| alloc::format!("{e:?}"))?;
    let mut inodes = BTreeMap::new();
    inodes.insert(
        ROOT_INO,
        Inode {
            name: String::new(),
            parent: ROOT_INO,
            dir: true,
            children: Vec::new(),
            size: 0,
            mtime: 0,
            nlink: 2,
            first_cluster: 0,
            partno: BOOT_PARTNO,
            bdev: false,
            extents: None,
            locked: BTreeMap::new(),
            pages: BTreeMap::new(),
        },
    );
    let mut next_ino = ROOT_INO + 1;
    let w = Walker { vm: &vm, blocks: &blocks, geom: &geom };
    let r = walk(&w, root, ROOT_INO, &mut inodes, &mut next_ino, 0);
    let _ = vm.close_dir(root);
    let _ = vm.close_volume(volume);
    r.map_err(io)?;
    Ok(CardFs { disk, geom, inodes })
}

/// At boot, after the card's partitions: mounts `mmcblk0p1` read-only on `/boot` when it
/// holds a FAT volume; otherwise one line says why and the boot goes on.
pub fn mount_boot() {
    let Some((disk, partno)) = blk::lookup(BOOT_DEV) else {
        if blk::have_disks() {
            kprintln!("VFS: no {} on the card: /boot not mounted", BOOT_DEV);
        }
        return;
    };
    if partno != BOOT_PARTNO {
        return;
    }
    match mount(disk) {
        Ok(fs) => {
            let dev = (MMC_BLOCK_MAJOR, BOOT_PARTNO);
            BOOT_SDEV.call_once(|| dev);
            BOOT_DISK.call_once(|| disk);
            *CARDFS.lock() = Some(fs);
            reclaim::register_file_reclaim_ops(&CARD_RECLAIM_OPS);
            let r = super::process::fs::with_ns(|ns| {
                if ns.ramfs.lookup("/boot").is_err() {
                    let _ = ns.ramfs.mkdir("/boot", 0o755);
                }
                ns.mount_disk("/boot", Box::new(BootFs))
            });
            if let Err(e) = r {
                kprintln!("FAT-fs ({}): cannot mount on /boot: {}", BOOT_DEV, e.message());
            }
        }
        Err(why) => {
            kprintln!("FAT-fs ({}): {}: /boot not mounted", BOOT_DEV, why);
        }
    }
}

/// [`read`] for a caller that holds no lock (`execve`): each wait for the card is a sleep
/// (`D`), other tasks running meanwhile; the bytes read up to the end of the file.
fn read_sleeping(ino: u64, pos: u64, buf: &mut [u8], ra: &mut FileRaState) -> Result<usize, Errno> {
    let mut done = 0;
    loop {
        let (r, wait) =
            iowait::with_io_deferred(|| read(ino, pos + done as u64, &mut buf[done..], 0, ra));
        match r {
            Ok(n) => done += n,
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        }
        let Some(why) = wait else { return Ok(done) };
        // Every lock dropped: the task sleeps until the card's interrupt ends the read.
        if let Err(e) = why.finish() {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
    }
}

/// What `execve` needs of a card file: its head (the first page, as `prepare_binprm` reads
/// it) and, when the head does not hold it, the program-header table on its own, read
/// through the page cache with the file's read-ahead, the state the mapping's faults
/// continue from. The segments are mapped from the page cache, never read here.
pub fn exec_image(
    ino: u64,
    file: &Arc<VmFile>,
    size: u64,
) -> Result<(Vec<u8>, Option<Vec<u8>>), Errno> {
    let mut ra = map_ra(file);
    let mut head = alloc::vec![0u8; (size as usize).min(PAGE)];
    let n = read_sleeping(ino, 0, &mut head, &mut ra)?;
    if n < head.len() {
        return Err(Errno::EIO);
    }
    // Program headers past the first page (unusual): the table alone, at `e_phoff`, as
    // `load_elf_phdrs` reads it (at most a page).
    let table = match crate::fs::binfmt_elf::phdrs_range(&head) {
        Some((off, len)) if off + len as u64 > head.len() as u64 && off + len as u64 <= size => {
            let mut t = alloc::vec![0u8; len];
            if read_sleeping(ino, off, &mut t, &mut ra)? < len {
                return Err(Errno::EIO);
            }
            Some(t)
        }
        _ => None,
    };
    set_map_ra(file, ra);
    Ok((head, table))
}

/// `invalidate_mapping_pages` for one page: drops page `index` of file `ino` from the cache
/// if it is not mapped (`mapped` says whether a frame is; every page is clean: the volume
/// is read-only). True when it was dropped. For reclaim.
pub fn invalidate_mapping_page(ino: u64, index: u64, mapped: &dyn Fn(Pfn) -> bool) -> bool {
    let mut g = CARDFS.lock();
    let Some(inode) = g.as_mut().and_then(|fs| fs.inodes.get_mut(&ino)) else { return false };
    if inode.is_locked(index) {
        // A read is filling it (`folio_trylock` failed).
        return false;
    }
    match inode.pages.get(&index) {
        Some(p) if !mapped(p.pfn) => {
            free_file_page(p.pfn);
            inode.pages.remove(&index);
            nr_pages(inode.bdev).fetch_sub(1, Ordering::Relaxed);
            true
        }
        _ => false,
    }
}

/// Reclaim's way into this page cache: `pfn` is dropped if it is still page `index` of
/// `ino` (reclaim has unmapped it already, under the task table's lock, so the mapped
/// check here is only that the page is the one reclaim isolated).
static CARD_RECLAIM_OPS: FileReclaimOps = FileReclaimOps {
    invalidate_mapping_page: |ino, index, pfn| invalidate_mapping_page(ino, index, &|p| p != pfn),
};

/// The frames some process maps (from every process's page tables).
pub fn mapped_frames() -> BTreeSet<u64> {
    super::process::with_tasks(|t| super::process::procfs_live::mapcounts(t)).into_keys().collect()
}

/// `drop_caches`: 1 drops the clean, unmapped page-cache pages of card files and the block
/// devices' cached pages (`drop_pagecache_sb` + the bdev inode's mapping), 2 the slab
/// caches (here the files' cached cluster chains, `fat_cache`), 3 both. Returns the pages
/// freed (file pages, buffer pages).
pub fn drop_caches(what: u32) -> (u64, u64) {
    let mut freed = (0, 0);
    if what & 1 != 0 {
        DROP_PAGECACHE.fetch_add(1, Ordering::Relaxed);
        let mapped = mapped_frames();
        let mut g = CARDFS.lock();
        if let Some(fs) = g.as_mut() {
            for inode in fs.inodes.values_mut() {
                // Pages being read are locked: `invalidate_mapping_pages` skips them.
                inode.settle();
                let locked = &inode.locked;
                let idx: Vec<u64> = inode
                    .pages
                    .iter()
                    .filter(|(i, p)| !mapped.contains(&p.pfn.0) && !locked.contains_key(i))
                    .map(|(&i, _)| i)
                    .collect();
                for i in idx {
                    if let Some(p) = inode.pages.remove(&i) {
                        free_file_page(p.pfn);
                        nr_pages(inode.bdev).fetch_sub(1, Ordering::Relaxed);
                        if inode.bdev {
                            freed.1 += 1;
                        } else {
                            freed.0 += 1;
                        }
                    }
                }
            }
        }
        drop(g);
        let mut b = BDEV.lock();
        // Pages still being read are locked: they stay.
        b.retain(|_, page| {
            if page.pending.as_ref().is_some_and(|d| !d.is_done()) {
                return true;
            }
            free_cache_frame(page.pfn);
            NR_BUFFER_PAGES.fetch_sub(1, Ordering::Relaxed);
            freed.1 += 1;
            false
        });
    }
    if what & 2 != 0 {
        DROP_SLAB.fetch_add(1, Ordering::Relaxed);
        if let Some(fs) = CARDFS.lock().as_mut() {
            for inode in fs.inodes.values_mut() {
                inode.extents = None;
            }
        }
    }
    freed
}

/// Set once 4 was written to `drop_caches`: it logs no more (`stfu`).
static DROP_CACHES_STFU: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// `drop_caches_sysctl_handler` after `proc_dointvec_minmax` took `v` (1 to 4, checked by
/// `kernel::sysctl`): logs the writer `comm` (`pid`) as 6.1 does (until 4 is written), then
/// drops what the bits ask for.
pub fn drop_caches_sysctl(comm: &str, pid: u32, v: u32) {
    if !DROP_CACHES_STFU.fetch_or(v & 4 != 0, Ordering::Relaxed) {
        kprintln!("{} ({}): drop_caches: {}", comm, pid, v);
    }
    drop_caches(v);
}

/// `/proc/vmstat` `drop_pagecache` and `drop_slab`: how often each was asked for.
pub static DROP_PAGECACHE: AtomicU64 = AtomicU64::new(0);
pub static DROP_SLAB: AtomicU64 = AtomicU64::new(0);
