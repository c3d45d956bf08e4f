//! Read-ahead as Linux 6.1's mm/readahead.c decides it, and the read-ahead half of
//! mm/filemap.c's fault path (`filemap_fault`, `do_sync_mmap_readahead`,
//! `do_async_mmap_readahead`, what `filemap_map_pages` may map). Pure: the page cache is
//! reached through [`RaMapping`], which the kernel implements over a card file's cached
//! frames and the host tests over a set; pivm's reads complete before `read_pages` returns
//! (the task sleeps in `submit_bio_wait`), so a page that is in the cache is up to date.
use crate::mm::mm_types::VmFlags;

/// `VM_READAHEAD_PAGES`: 128 KiB, the default `read_ahead_kb` of a block device.
pub const VM_READAHEAD_PAGES: u64 = 32;
/// `MMAP_LOTSAMISS`: mmap misses after which read-around stops.
pub const MMAP_LOTSAMISS: u32 = 100;

/// `struct file_ra_state`: one open file's read-ahead window and history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRaState {
    /// First page of the current window.
    pub start: u64,
    /// Pages in the window.
    pub size: u64,
    /// Pages left when the next asynchronous read-ahead starts (the `PG_readahead` mark).
    pub async_size: u64,
    /// Maximum window (`bdi->ra_pages` when the file was opened).
    pub ra_pages: u64,
    /// Cache misses of mmap faults (`mmap_miss`).
    pub mmap_miss: u32,
    /// Byte position after the last read (-1: none yet).
    pub prev_pos: i64,
}

impl FileRaState {
    /// `file_ra_state_init`: the device's `ra_pages`, no history.
    pub const fn new(ra_pages: u64) -> Self {
        FileRaState { start: 0, size: 0, async_size: 0, ra_pages, mmap_miss: 0, prev_pos: -1 }
    }
}

/// A file's page cache as read-ahead sees it (`struct address_space`).
pub trait RaMapping {
    /// `i_size_read()`, in bytes.
    fn i_size(&self) -> u64;
    /// A page is in the cache at `index`.
    fn is_cached(&self, index: u64) -> bool;
    /// The page at `index` carries `PG_readahead`.
    fn is_readahead(&self, index: u64) -> bool;
    /// `folio_clear_readahead`.
    fn clear_readahead(&mut self, index: u64);
    /// `filemap_alloc_folio` + `filemap_add_folio`: a new page at `index` (marked
    /// `PG_readahead` when `readahead`); false when there is no memory.
    fn add_page(&mut self, index: u64, readahead: bool) -> bool;
    /// `read_pages`: reads the `nr` pages just added from `start` (one request per run of
    /// contiguous sectors); pages that fail to read leave the cache.
    fn read_pages(&mut self, start: u64, nr: u64);
}

/// `get_init_ra_size`: the first window for a request of `size` pages.
pub fn get_init_ra_size(size: u64, max: u64) -> u64 {
    let newsize = size.max(1).next_power_of_two();
    if newsize <= max / 32 {
        newsize * 4
    } else if newsize <= max / 4 {
        newsize * 2
    } else {
        max
    }
}

/// `get_next_ra_size`: the window after `cur` (quadrupled while small, then doubled).
pub fn get_next_ra_size(cur: u64, max: u64) -> u64 {
    if cur < max / 16 {
        4 * cur
    } else if cur <= max / 2 {
        2 * cur
    } else {
        max
    }
}

/// `page_cache_ra_unbounded`: adds the missing pages of `[index, index + nr_to_read)`,
/// marking the one `lookahead` pages before the end, and reads each run of new pages.
pub fn page_cache_ra_unbounded(
    m: &mut impl RaMapping,
    index: u64,
    nr_to_read: u64,
    lookahead: u64,
) {
    let mark = nr_to_read.checked_sub(lookahead);
    let mut run: Option<(u64, u64)> = None;
    for i in 0..nr_to_read {
        let idx = index + i;
        if m.is_cached(idx) {
            // Already present: kick off the batch so far.
            if let Some((s, n)) = run.take() {
                m.read_pages(s, n);
            }
            continue;
        }
        if !m.add_page(idx, Some(i) == mark) {
            break;
        }
        run = Some(match run {
            Some((s, n)) => (s, n + 1),
            None => (idx, 1),
        });
    }
    if let Some((s, n)) = run {
        m.read_pages(s, n);
    }
}

/// `do_page_cache_ra`: read-ahead clipped to the page holding the file's last byte.
pub fn do_page_cache_ra(m: &mut impl RaMapping, index: u64, nr_to_read: u64, lookahead: u64) {
    let isize = m.i_size();
    if isize == 0 {
        return;
    }
    let end_index = (isize - 1) >> crate::mm::PAGE_SHIFT;
    if index > end_index {
        return;
    }
    let nr = nr_to_read.min(end_index - index + 1);
    page_cache_ra_unbounded(m, index, nr, lookahead);
}

/// `force_page_cache_ra`: exactly the request, in chunks of at most `max(io_pages,
/// ra_pages)` pages, without touching the window.
pub fn force_page_cache_ra(
    m: &mut impl RaMapping,
    ra: &FileRaState,
    index: u64,
    nr_to_read: u64,
    io_pages: u64,
) {
    let isize = m.i_size();
    if isize == 0 {
        return;
    }
    let max_pages = io_pages.max(ra.ra_pages);
    let end_index = (isize - 1) >> crate::mm::PAGE_SHIFT;
    if index > end_index {
        return;
    }
    let mut nr = nr_to_read.min(max_pages).min(end_index - index + 1);
    let mut index = index;
    /// 2 MiB per chunk, as 6.1.
    const CHUNK_PAGES: u64 = (2 * 1024 * 1024) >> crate::mm::PAGE_SHIFT;
    while nr > 0 {
        let this = nr.min(CHUNK_PAGES);
        do_page_cache_ra(m, index, this, 0);
        index += this;
        nr -= this;
    }
}

/// `page_cache_next_miss`: the first index at or after `index` not cached, scanning at
/// most `max_scan` pages (`index + max_scan` when all are cached).
pub fn page_cache_next_miss(m: &impl RaMapping, index: u64, max_scan: u64) -> u64 {
    (index..index + max_scan).find(|&i| !m.is_cached(i)).unwrap_or(index + max_scan)
}

/// `page_cache_prev_miss`: the first index at or before `index` not cached, scanning back
/// at most `max_scan` pages (`u64::MAX` past page 0, as the unsigned index wraps).
pub fn page_cache_prev_miss(m: &impl RaMapping, index: u64, max_scan: u64) -> u64 {
    let mut i = index;
    for _ in 0..max_scan {
        if !m.is_cached(i) {
            return i;
        }
        if i == 0 {
            return u64::MAX;
        }
        i -= 1;
    }
    i
}

/// `try_context_readahead`: a window sized by the cached history before `index`.
fn try_context_readahead(
    m: &impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    req_size: u64,
    max: u64,
) -> bool {
    if index == 0 {
        return false;
    }
    let head = page_cache_prev_miss(m, index - 1, max);
    let mut size = (index - 1).wrapping_sub(head);
    if size <= req_size {
        return false;
    }
    if size >= index {
        size *= 2;
    }
    ra.start = index;
    ra.size = (size + req_size).min(max);
    ra.async_size = 1;
    true
}

/// `ondemand_readahead`: the window for a read of `req_size` pages at `index`; `marked` when
/// called for a `PG_readahead` page (the asynchronous case).
pub fn ondemand_readahead(
    m: &mut impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    marked: bool,
    req_size: u64,
    io_pages: u64,
) {
    let mut max_pages = ra.ra_pages;
    if req_size > max_pages && io_pages > max_pages {
        max_pages = req_size.min(io_pages);
    }
    let initial = |ra: &mut FileRaState| {
        ra.start = index;
        ra.size = get_init_ra_size(req_size, max_pages);
        ra.async_size = if ra.size > req_size { ra.size - req_size } else { ra.size };
    };
    if index == 0 {
        initial(ra);
    } else if index == ra.start + ra.size - ra.async_size || index == ra.start + ra.size {
        // The expected marker: sequential, push the window forward and ramp it up.
        ra.start += ra.size;
        ra.size = get_next_ra_size(ra.size, max_pages);
        ra.async_size = ra.size;
    } else if marked {
        // A marked page without valid state (interleaved reads): size from the cache.
        let start = page_cache_next_miss(m, index + 1, max_pages);
        if start == 0 || start - index > max_pages {
            return;
        }
        ra.start = start;
        ra.size = start - index + req_size;
        ra.size = get_next_ra_size(ra.size, max_pages);
        ra.async_size = ra.size;
    } else if req_size > max_pages {
        initial(ra);
    } else {
        let prev_index =
            if ra.prev_pos < 0 { u64::MAX } else { (ra.prev_pos as u64) >> crate::mm::PAGE_SHIFT };
        if index.wrapping_sub(prev_index) <= 1 {
            initial(ra);
        } else if !try_context_readahead(m, ra, index, req_size, max_pages) {
            // A small random read: read it as is, leaving the state alone.
            do_page_cache_ra(m, index, req_size, 0);
            return;
        }
    }
    // readit: a window that would hit its own marker at once gets the next one merged in.
    if index == ra.start && ra.size == ra.async_size {
        let add = get_next_ra_size(ra.size, max_pages);
        if ra.size + add <= max_pages {
            ra.async_size = add;
            ra.size += add;
        } else {
            ra.size = max_pages;
            ra.async_size = max_pages >> 1;
        }
    }
    do_page_cache_ra(m, ra.start, ra.size, ra.async_size);
}

/// `page_cache_sync_ra`: a read found page `index` missing. Without read-ahead (`ra_pages`
/// 0) the one page is still read, as 6.1 forces it.
pub fn page_cache_sync_ra(
    m: &mut impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    req_count: u64,
    io_pages: u64,
) {
    if ra.ra_pages == 0 {
        force_page_cache_ra(m, ra, index, 1, io_pages);
        return;
    }
    ondemand_readahead(m, ra, index, false, req_count, io_pages);
}

/// `page_cache_async_ra`: a read or fault reached the `PG_readahead` page `index`.
pub fn page_cache_async_ra(
    m: &mut impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    req_count: u64,
    io_pages: u64,
) {
    if ra.ra_pages == 0 {
        return;
    }
    m.clear_readahead(index);
    ondemand_readahead(m, ra, index, true, req_count, io_pages);
}

/// `do_sync_mmap_readahead`: a fault missed the cache at `index`. True when I/O was
/// started with the mmap lock dropped (the fault is then retried).
pub fn do_sync_mmap_readahead(
    m: &mut impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    vm_flags: VmFlags,
    first_try: bool,
    io_pages: u64,
) -> bool {
    if vm_flags.contains(VmFlags::RAND_READ) || ra.ra_pages == 0 {
        return false;
    }
    if vm_flags.contains(VmFlags::SEQ_READ) {
        let pages = ra.ra_pages;
        page_cache_sync_ra(m, ra, index, pages, io_pages);
        return first_try;
    }
    if ra.mmap_miss < MMAP_LOTSAMISS * 10 {
        ra.mmap_miss += 1;
    }
    if ra.mmap_miss > MMAP_LOTSAMISS {
        return false;
    }
    // mmap read-around: the window centred on the fault.
    ra.start = index.saturating_sub(ra.ra_pages / 2);
    ra.size = ra.ra_pages;
    ra.async_size = ra.ra_pages / 4;
    do_page_cache_ra(m, ra.start, ra.size, ra.async_size);
    first_try
}

/// `do_async_mmap_readahead`: a fault found page `index` cached. True when the page was
/// marked and read-ahead ran with the mmap lock dropped.
pub fn do_async_mmap_readahead(
    m: &mut impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    vm_flags: VmFlags,
    first_try: bool,
    io_pages: u64,
) -> bool {
    if vm_flags.contains(VmFlags::RAND_READ) || ra.ra_pages == 0 {
        return false;
    }
    ra.mmap_miss = ra.mmap_miss.saturating_sub(1);
    if m.is_readahead(index) {
        let pages = ra.ra_pages;
        page_cache_async_ra(m, ra, index, pages, io_pages);
        return first_try;
    }
    false
}

/// What `filemap_fault` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilemapFault {
    /// The page is in the cache: `major` when it was not at first (`VM_FAULT_MAJOR`,
    /// `pgmajfault` counted), `retry` when the mmap lock was dropped for I/O
    /// (`VM_FAULT_RETRY`: the fault runs again with `FAULT_FLAG_TRIED`).
    Page { major: bool, retry: bool },
    /// Past the end of the file (`VM_FAULT_SIGBUS`), or the page could not be read.
    Sigbus,
    /// No memory for the page (`VM_FAULT_OOM`).
    Oom,
}

/// `filemap_fault`'s decisions for page `index`: `tried` is `FAULT_FLAG_TRIED` (a retry,
/// which starts no read-ahead and drops no lock).
pub fn filemap_fault(
    m: &mut impl RaMapping,
    ra: &mut FileRaState,
    index: u64,
    vm_flags: VmFlags,
    tried: bool,
    io_pages: u64,
) -> FilemapFault {
    let max_idx = m.i_size().div_ceil(1 << crate::mm::PAGE_SHIFT);
    if index >= max_idx {
        return FilemapFault::Sigbus;
    }
    let first_try = !tried;
    if m.is_cached(index) {
        let retry =
            first_try && do_async_mmap_readahead(m, ra, index, vm_flags, first_try, io_pages);
        return FilemapFault::Page { major: false, retry };
    }
    let mut retry = do_sync_mmap_readahead(m, ra, index, vm_flags, first_try, io_pages);
    if !m.is_cached(index) {
        // No read-ahead (or it failed): the page alone, read synchronously
        // (`page_not_uptodate` -> `filemap_read_folio`, the lock dropped first).
        if !m.add_page(index, false) {
            return FilemapFault::Oom;
        }
        m.read_pages(index, 1);
        if !m.is_cached(index) {
            return FilemapFault::Sigbus;
        }
        retry |= first_try;
    }
    FilemapFault::Page { major: true, retry }
}

/// Whether `filemap_map_pages` (fault-around) may map a cached page: up to date (always,
/// once cached here) and not the read-ahead marker, which is left for a fault to see.
pub fn map_pages_may_map(m: &impl RaMapping, index: u64) -> bool {
    m.is_cached(index) && !m.is_readahead(index)
}

/// `filemap_map_pages`' update of `mmap_miss`: one less per page it found mappable.
pub fn map_pages_hits(ra: &mut FileRaState, pages: u64) {
    ra.mmap_miss = ra.mmap_miss.saturating_sub(pages.min(u32::MAX as u64) as u32);
}

#[cfg(test)]
mod tests;
