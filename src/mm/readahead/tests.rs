//! Read-ahead against hand-traced Linux 6.1 sequences, and the fault counts of mapped file
//! reads through the real fault path (`memory::do_page_fault`, fault-around, retries).
use super::*;
use crate::mm::memory::{
    do_page_fault, CachePage, Fault, FaultCounts, FaultEnv, FaultError, FaultFlags, NewPte,
    NoPageTable, PteState, RssKind, FAULT_AROUND_BYTES,
};
use crate::mm::mm_types::{test_arch_mm, MmStruct, Rlimits, VmFile, Vma, PAGE_SIZE};
use crate::mm::mmap::{MapFlags, MmapFile, Prot};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// The card's `bdi->io_pages` (256 sectors per request).
const IO_PAGES: u64 = 32;

/// A file's page cache: present pages and their `PG_readahead`; the reads it was asked for.
#[derive(Default)]
struct Cache {
    size: u64,
    pages: BTreeMap<u64, bool>,
    reads: Vec<(u64, u64)>,
}

impl Cache {
    fn new(pages: u64) -> Self {
        Cache { size: pages * PAGE_SIZE as u64, ..Default::default() }
    }
    fn marks(&self) -> Vec<u64> {
        self.pages.iter().filter(|(_, &m)| m).map(|(&i, _)| i).collect()
    }
}

impl RaMapping for Cache {
    fn i_size(&self) -> u64 {
        self.size
    }
    fn is_cached(&self, index: u64) -> bool {
        self.pages.contains_key(&index)
    }
    fn is_readahead(&self, index: u64) -> bool {
        self.pages.get(&index) == Some(&true)
    }
    fn clear_readahead(&mut self, index: u64) {
        if let Some(m) = self.pages.get_mut(&index) {
            *m = false;
        }
    }
    fn add_page(&mut self, index: u64, readahead: bool) -> bool {
        self.pages.insert(index, readahead);
        true
    }
    fn read_pages(&mut self, start: u64, nr: u64) {
        self.reads.push((start, nr));
    }
}

/// `filemap_read`'s read-ahead for a read of `count` bytes at `pos` (`filemap_get_pages`):
/// sync read-ahead on a miss, async on a marked page, then the position recorded.
fn read(m: &mut Cache, ra: &mut FileRaState, pos: u64, count: u64) {
    let index = pos / PAGE_SIZE as u64;
    let last = (pos + count).div_ceil(PAGE_SIZE as u64);
    if !m.is_cached(index) {
        page_cache_sync_ra(m, ra, index, last - index, IO_PAGES);
    }
    // The batch stops at the first marked page, which triggers async read-ahead.
    for i in index..last {
        if m.is_readahead(i) {
            page_cache_async_ra(m, ra, i, last - i, IO_PAGES);
            break;
        }
    }
    ra.prev_pos = (pos + count) as i64;
}

#[test]
fn window_sizes_ramp_up_as_linux_61() {
    assert_eq!(get_init_ra_size(1, 32), 4);
    assert_eq!(get_init_ra_size(4, 32), 8);
    assert_eq!(get_init_ra_size(16, 32), 32);
    assert_eq!(get_next_ra_size(4, 32), 8);
    assert_eq!(get_next_ra_size(8, 32), 16);
    assert_eq!(get_next_ra_size(16, 32), 32);
    assert_eq!(get_next_ra_size(32, 32), 32);
    assert_eq!(get_next_ra_size(1, 32), 4);
}

/// `read()` of 4 KiB at a time from the start of a 1 MiB file, traced by hand through 6.1:
/// page 0 misses: initial window 4 pages (get_init_ra_size(1) = 4), async size 3, marker on
/// page 1; page 1 hits the marker: the window moves to 4 and doubles (8 pages, marker on
/// 4); then 12+16 (marker 12), 28+32 (marker 28), 60+32 (marker 60, which page 60
/// reaches: 92+32).
#[test]
fn sequential_reads_ramp_up_the_window() {
    let mut m = Cache::new(256);
    let mut ra = FileRaState::new(VM_READAHEAD_PAGES);
    for p in 0..64 {
        read(&mut m, &mut ra, p * PAGE_SIZE as u64, PAGE_SIZE as u64);
    }
    assert_eq!(m.reads, [(0, 4), (4, 8), (12, 16), (28, 32), (60, 32), (92, 32)]);
    assert_eq!(m.marks(), [92]);
    assert_eq!((ra.start, ra.size, ra.async_size), (92, 32, 32));
}

/// A large first read (16 pages) sizes the first window from the request: 32 pages, the
/// marker 16 pages in.
#[test]
fn a_large_first_read_opens_a_full_window() {
    let mut m = Cache::new(256);
    let mut ra = FileRaState::new(VM_READAHEAD_PAGES);
    read(&mut m, &mut ra, 0, 16 * PAGE_SIZE as u64);
    assert_eq!(m.reads, [(0, 32)]);
    assert_eq!(m.marks(), [16]);
}

/// read_ahead_kb 0: each missing page is read alone (force_page_cache_ra of 1 page).
#[test]
fn without_read_ahead_reads_read_one_page() {
    let mut m = Cache::new(64);
    let mut ra = FileRaState::new(0);
    for p in 0..4 {
        read(&mut m, &mut ra, p * PAGE_SIZE as u64, PAGE_SIZE as u64);
    }
    assert_eq!(m.reads, [(0, 1), (1, 1), (2, 1), (3, 1)]);
}

/// A random read far from the last one reads just the request (no history before it).
#[test]
fn a_random_read_reads_as_is() {
    let mut m = Cache::new(1024);
    let mut ra = FileRaState::new(VM_READAHEAD_PAGES);
    read(&mut m, &mut ra, 0, PAGE_SIZE as u64);
    read(&mut m, &mut ra, 500 * PAGE_SIZE as u64, PAGE_SIZE as u64);
    assert_eq!(m.reads, [(0, 4), (500, 1)]);
}

/// Read-ahead stops at the page holding the file's last byte.
#[test]
fn read_ahead_is_clipped_at_eof() {
    let mut m = Cache::new(10);
    let mut ra = FileRaState::new(VM_READAHEAD_PAGES);
    read(&mut m, &mut ra, 0, 8 * PAGE_SIZE as u64);
    assert_eq!(m.reads, [(0, 10)]);
    // The marker would have been page 16 of a 32-page window: past EOF, none set.
    assert!(m.marks().is_empty());
}

/// A process's view: page tables as a map over one file's cache and read-ahead state.
struct Env {
    cache: Cache,
    ra: FileRaState,
    ptes: BTreeMap<usize, u64>,
}

const CACHE_PFN: u64 = 0x10_0000;

impl FaultEnv for Env {
    fn pte_get(&self, va: usize) -> Option<PteState> {
        self.ptes.get(&va).map(|&pfn| PteState { pfn, write: false, dirty: false })
    }
    fn pte_set(&mut self, va: usize, pte: NewPte) -> Result<(), NoPageTable> {
        self.ptes.insert(va, pte.pfn);
        Ok(())
    }
    fn zero_pfn(&self) -> u64 {
        1
    }
    fn alloc_anon_page(&mut self) -> Option<u64> {
        None
    }
    fn alloc_copy_page(&mut self, _src: u64) -> Option<u64> {
        None
    }
    fn is_exclusive_anon(&self, _pfn: u64) -> bool {
        false
    }
    fn file_page(
        &mut self,
        vma: &Vma,
        _file: &Arc<VmFile>,
        index: u64,
        flags: FaultFlags,
    ) -> Result<CachePage, FaultError> {
        match filemap_fault(
            &mut self.cache,
            &mut self.ra,
            index,
            vma.vm_flags,
            flags.tried,
            IO_PAGES,
        ) {
            FilemapFault::Page { major, retry } => {
                Ok(CachePage { pfn: CACHE_PFN + index, major, retry })
            }
            FilemapFault::Sigbus => Err(FaultError::Sigbus),
            FilemapFault::Oom => Err(FaultError::Oom),
        }
    }
    fn cached_page(&self, _file: &VmFile, index: u64) -> Option<u64> {
        map_pages_may_map(&self.cache, index).then_some(CACHE_PFN + index)
    }
    fn fault_around_hits(&mut self, _file: &Arc<VmFile>, pages: u64) {
        map_pages_hits(&mut self.ra, pages);
    }
    fn special_page(&mut self, _vma: &Vma, _offset: u64) -> Option<u64> {
        None
    }
    fn rss_add(&mut self, _kind: RssKind, _delta: i64) {}
    fn page_swapbacked(&self, _pfn: u64) -> bool {
        // A card file's pages: not swap-backed.
        false
    }
}

/// What a mapped read of a card file costs: the task's counts, `pgfault` and `pgmajfault`,
/// and the reads issued.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    majflt: u64,
    minflt: u64,
    pgfault: u64,
    pgmajfault: u64,
    reads: usize,
}

/// After drop_caches: map the first `n` pages of a `file_pages`-page file `MAP_SHARED` at a
/// 64 KiB-aligned address (`fault_around_bytes`), read one byte per page in order, with
/// `ra_pages` of read-ahead. Each fault runs as ARM's `do_page_fault` runs it: again with
/// `FAULT_FLAG_TRIED` after `VM_FAULT_RETRY`.
fn mapped_read(n: usize, file_pages: u64, ra_pages: u64) -> Run {
    let mut mm = MmStruct::new(test_arch_mm(0xc000_0000), Rlimits::DEFAULT);
    mm.arch_pick_mmap_layout(None);
    let f = MmapFile {
        file: Arc::new(VmFile { pin: None, dev: (179, 1), ino: 9, path: "/boot/data/f16m".into() }),
        readable: true,
        writable: false,
        noexec: false,
    };
    let base = 0x4000_0000;
    assert_eq!(base % FAULT_AROUND_BYTES, 0);
    let a = mm
        .do_mmap(base, n * PAGE_SIZE, Prot::READ, MapFlags::SHARED | MapFlags::FIXED, Some((&f, 0)))
        .unwrap();
    let mut env = Env {
        cache: Cache::new(file_pages),
        ra: FileRaState::new(ra_pages),
        ptes: BTreeMap::new(),
    };
    let mut c = FaultCounts::default();
    let (mut pgfault, mut pgmajfault) = (0, 0);
    for i in 0..n {
        let va = a + i * PAGE_SIZE;
        if env.pte_get(va).is_some() {
            continue;
        }
        let mut flags = FaultFlags::default();
        loop {
            let r = do_page_fault(&mut mm, &mut env, va, flags);
            c.account(r, flags);
            pgfault += 1;
            if matches!(r, Ok(Fault::Major | Fault::Retry { major: true })) {
                pgmajfault += 1;
            }
            match r {
                Ok(Fault::Retry { .. }) if !flags.tried => flags.tried = true,
                r => {
                    r.unwrap();
                    break;
                }
            }
        }
        assert!(env.pte_get(va).is_some());
    }
    Run { majflt: c.maj_flt, minflt: c.min_flt, pgfault, pgmajfault, reads: env.cache.reads.len() }
}

/// Read-around with read_ahead_kb 128 and fault_around_bytes 65536, traced through 6.1 by
/// hand. Page 0 misses: `do_sync_mmap_readahead` reads pages 0-31 around it (start
/// max(0, 0-16), size 32, async 8: the marker on page 24) with the mmap lock dropped, so the
/// fault is retried and fault-around maps pages 0-15: one major fault (`FAULT_FLAG_TRIED`).
/// Page 16: fault-around maps 16-31 but the marked 24: minor. Page 24: cached and marked,
/// `do_async_mmap_readahead` reads 32-63 (marker 32) with the lock dropped: retried, major.
/// From then on each 32-page window costs a major fault on its marked first page (which
/// reads the next window) and a minor one half-way. N = 1 / 16 / 256 / 4096 pages: majflt
/// 1 / 1 / 9 / 129, minflt 0 / 0 / 8 / 128. Linux on squashfs (the reference) reads whole
/// 128 KiB blocks and gives 1 / 1 / 4 / 20 majors; generic read-ahead on FAT differs.
#[test]
fn mapped_reads_count_as_linux_61_filemap_on_fat() {
    let file = 4096;
    let counts: Vec<(u64, u64)> = [1, 16, 256, 4096]
        .iter()
        .map(|&n| {
            let r = mapped_read(n, file, VM_READAHEAD_PAGES);
            (r.majflt, r.minflt)
        })
        .collect();
    assert_eq!(counts, [(1, 0), (1, 0), (9, 8), (129, 128)]);
    // 256 pages: 9 faults retried (each two pgfault), 8 not; `pgmajfault` only for the
    // one that missed the cache; 9 windows read (0-31, then 32 at a time up to 287).
    let r = mapped_read(256, file, VM_READAHEAD_PAGES);
    assert_eq!((r.pgfault, r.pgmajfault, r.reads), (9 * 2 + 8, 1, 9));
}

/// read_ahead_kb 0 (the raw partition mapped in the reference): no read-around, so every
/// page is read alone by its own fault: majflt N, minflt 0.
#[test]
fn mapped_reads_without_read_ahead_fault_every_page() {
    for n in [1, 16, 256] {
        let r = mapped_read(n, 4096, 0);
        assert_eq!((r.majflt, r.minflt, r.reads), (n as u64, 0, n));
        assert_eq!(r.pgmajfault, n as u64);
    }
}

/// A second pass over pages still in the cache (a new mapping, as a second process) takes
/// only minor faults: fault-around maps 16 pages per fault and no page is marked any more
/// but the last window's.
#[test]
fn a_second_mapping_of_cached_pages_takes_minor_faults() {
    let mut mm = MmStruct::new(test_arch_mm(0xc000_0000), Rlimits::DEFAULT);
    mm.arch_pick_mmap_layout(None);
    let mut cache = Cache::new(64);
    for i in 0..64 {
        cache.pages.insert(i, false);
    }
    let f = MmapFile {
        file: Arc::new(VmFile { pin: None, dev: (179, 1), ino: 9, path: "/boot/x".into() }),
        readable: true,
        writable: false,
        noexec: false,
    };
    let a = mm
        .do_mmap(
            0x4000_0000,
            64 * PAGE_SIZE,
            Prot::READ,
            MapFlags::SHARED | MapFlags::FIXED,
            Some((&f, 0)),
        )
        .unwrap();
    let mut env = Env { cache, ra: FileRaState::new(VM_READAHEAD_PAGES), ptes: BTreeMap::new() };
    let mut c = FaultCounts::default();
    for i in 0..64 {
        let va = a + i * PAGE_SIZE;
        if env.pte_get(va).is_none() {
            c.account(
                do_page_fault(&mut mm, &mut env, va, FaultFlags::default()),
                FaultFlags::default(),
            );
        }
    }
    assert_eq!((c.maj_flt, c.min_flt), (0, 4));
    assert!(env.cache.reads.is_empty());
}

/// Past the end of the file is SIGBUS, with nothing read.
#[test]
fn a_fault_past_eof_is_sigbus() {
    let mut m = Cache::new(2);
    let mut ra = FileRaState::new(VM_READAHEAD_PAGES);
    assert_eq!(
        filemap_fault(&mut m, &mut ra, 2, VmFlags::empty(), false, IO_PAGES),
        FilemapFault::Sigbus
    );
    assert!(m.reads.is_empty());
}

/// mmap_miss: a file that misses much more than it hits stops read-around (more than
/// MMAP_LOTSAMISS misses): the fault then reads its page alone.
#[test]
fn many_misses_stop_read_around() {
    let mut m = Cache::new(100_000);
    let mut ra = FileRaState::new(VM_READAHEAD_PAGES);
    ra.mmap_miss = MMAP_LOTSAMISS;
    let r = filemap_fault(&mut m, &mut ra, 5000, VmFlags::empty(), false, IO_PAGES);
    assert_eq!(r, FilemapFault::Page { major: true, retry: true });
    assert_eq!(m.reads, [(5000, 1)]);
    assert_eq!(ra.mmap_miss, MMAP_LOTSAMISS + 1);
}
