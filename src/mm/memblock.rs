//! memblock: the boot-time map of physical memory (which RAM exists, which parts are taken),
//! modelled on Linux's `mm/memblock.c`. It lives before `mem_map` and the buddy allocator:
//! early page tables and `mem_map` itself are carved out of it with `alloc`. Fixed arrays, no heap.
use core::fmt;

use crate::mm::PAGE_SIZE;

/// Regions per array. Linux starts with 128 and doubles on demand; pivm cannot grow, and a Pi
/// needs a handful (one RAM bank, a dozen reservations).
pub const INIT_MEMBLOCK_REGIONS: usize = 64;
/// `limit` for `alloc`: anywhere in memory.
pub const MEMBLOCK_ALLOC_ANYWHERE: u64 = u64::MAX;
/// `limit` for `alloc`: below `current_limit()` (Linux's default for early allocations, which
/// must land in memory that is already mapped).
pub const MEMBLOCK_ALLOC_ACCESSIBLE: u64 = 0;

/// `MEMBLOCK_NONE`: a region with no special attribute.
pub const MEMBLOCK_NONE: u32 = 0;
/// `MEMBLOCK_NOMAP`: RAM that must stay out of the kernel's linear map (a device tree
/// `no-map` reservation). It is still memory (counted, spanned by its zone) but never free,
/// never allocated and never mapped.
pub const MEMBLOCK_NOMAP: u32 = 0x4;

/// One range `[base, base + size)`. `name` says who owns a reserved range ("kernel",
/// "boot params", ...); memory ranges have an empty name. `flags` are Linux's
/// `MEMBLOCK_*` attributes (only memory regions carry any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemblockRegion {
    pub base: u64,
    pub size: u64,
    pub name: &'static str,
    pub flags: u32,
}

impl MemblockRegion {
    const EMPTY: Self = Self { base: 0, size: 0, name: "", flags: MEMBLOCK_NONE };

    /// `memblock_is_nomap`.
    pub const fn is_nomap(&self) -> bool {
        self.flags & MEMBLOCK_NOMAP != 0
    }

    /// One past the last byte (never overflows: ranges that would are refused on insertion).
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// Why a memblock operation was refused; the state is unchanged when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemblockError {
    /// A range of zero bytes.
    ZeroSize { base: u64 },
    /// `base + size` does not fit in 64 bits.
    Overflow { base: u64, size: u64 },
    /// The named array (`memory` or `reserved`) has no room for the regions the change needs.
    NoSpace { array: &'static str },
}

impl fmt::Display for MemblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MemblockError::ZeroSize { base } => {
                write!(f, "memblock: zero-sized range at {base:#010x}")
            }
            MemblockError::Overflow { base, size } => write!(
                f,
                "memblock: range {base:#010x} + {size:#x} wraps past the end of the address space"
            ),
            MemblockError::NoSpace { array } => write!(
                f,
                "memblock: no room in the {array} array ({INIT_MEMBLOCK_REGIONS} regions)"
            ),
        }
    }
}

/// `struct memblock_type`: a sorted array of disjoint regions; neighbours that touch and
/// have the same name and flags are always merged.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RegionArray {
    regions: [MemblockRegion; INIT_MEMBLOCK_REGIONS],
    cnt: usize,
    name: &'static str,
}

impl RegionArray {
    const fn new(name: &'static str) -> Self {
        Self { regions: [MemblockRegion::EMPTY; INIT_MEMBLOCK_REGIONS], cnt: 0, name }
    }

    fn as_slice(&self) -> &[MemblockRegion] {
        &self.regions[..self.cnt]
    }

    fn total_size(&self) -> u64 {
        self.as_slice().iter().map(|r| r.size).sum()
    }

    /// Index of the region containing `addr`, if any.
    fn find(&self, addr: u64) -> Option<usize> {
        let idx = self.as_slice().partition_point(|r| r.end() <= addr);
        (idx < self.cnt && self.regions[idx].base <= addr).then_some(idx)
    }

    fn no_space(&self) -> MemblockError {
        MemblockError::NoSpace { array: self.name }
    }

    /// Inserts at `idx`; the caller has checked there is room.
    fn insert_at(&mut self, idx: usize, region: MemblockRegion) {
        self.regions.copy_within(idx..self.cnt, idx + 1);
        self.regions[idx] = region;
        self.cnt += 1;
    }

    fn remove_at(&mut self, idx: usize) {
        self.regions.copy_within(idx + 1..self.cnt, idx);
        self.cnt -= 1;
        self.regions[self.cnt] = MemblockRegion::EMPTY;
    }

    /// Joins neighbours that touch and carry the same name and flags
    /// (`memblock_merge_regions`).
    fn merge(&mut self) {
        let mut i = 0;
        while i + 1 < self.cnt {
            let (this, next) = (self.regions[i], self.regions[i + 1]);
            if this.end() == next.base && this.name == next.name && this.flags == next.flags {
                self.regions[i].size += next.size;
                self.remove_at(i + 1);
            } else {
                i += 1;
            }
        }
    }

    /// `memblock_add_range`: adds the parts of `[base, end)` not yet covered (existing regions,
    /// and their names, win where they overlap), then merges.
    fn add_range(&mut self, base: u64, end: u64, name: &'static str) -> Result<(), MemblockError> {
        // Count the holes first so a full array fails before anything changes, as in Linux.
        if self.cnt + self.count_holes(base, end) > INIT_MEMBLOCK_REGIONS {
            return Err(self.no_space());
        }
        let mut i = 0;
        let mut cur = base;
        while i < self.cnt && cur < end {
            let r = self.regions[i];
            if r.end() <= cur {
                i += 1;
                continue;
            }
            if r.base >= end {
                break;
            }
            if r.base > cur {
                let hole =
                    MemblockRegion { base: cur, size: r.base - cur, ..MemblockRegion::EMPTY };
                self.insert_at(i, MemblockRegion { name, ..hole });
                i += 1;
            }
            cur = r.end();
            i += 1;
        }
        if cur < end {
            let rest = MemblockRegion { base: cur, size: end - cur, ..MemblockRegion::EMPTY };
            self.insert_at(i, MemblockRegion { name, ..rest });
        }
        self.merge();
        Ok(())
    }

    /// How many parts of `[base, end)` no region covers (the regions `add_range` inserts).
    fn count_holes(&self, base: u64, end: u64) -> usize {
        let mut holes = 0;
        let mut cur = base;
        for r in self.as_slice() {
            if cur >= end || r.base >= end {
                break;
            }
            if r.end() <= cur {
                continue;
            }
            if r.base > cur {
                holes += 1;
            }
            cur = r.end();
        }
        holes + usize::from(cur < end)
    }

    /// How many regions straddle `base` or `end` (the splits `isolate` makes).
    fn count_splits(&self, base: u64, end: u64) -> usize {
        let straddles = |r: &MemblockRegion, at: u64| usize::from(r.base < at && r.end() > at);
        self.as_slice().iter().map(|r| straddles(r, base) + straddles(r, end)).sum()
    }

    /// `memblock_isolate_range`: splits regions at `base` and `end` so that whole regions
    /// cover exactly the overlap with `[base, end)`.
    fn isolate(&mut self, base: u64, end: u64) -> Result<(), MemblockError> {
        if self.cnt + self.count_splits(base, end) > INIT_MEMBLOCK_REGIONS {
            return Err(self.no_space());
        }
        let mut i = 0;
        while i < self.cnt {
            let r = self.regions[i];
            if r.base >= end {
                break;
            }
            let cut = if r.base < base && r.end() > base {
                base
            } else if r.base < end && r.end() > end {
                end
            } else {
                i += 1;
                continue;
            };
            self.regions[i].size = cut - r.base;
            self.insert_at(i + 1, MemblockRegion { base: cut, size: r.end() - cut, ..r });
            i += 1;
        }
        Ok(())
    }

    /// `memblock_setclr_flag`: sets (or clears) `flag` on exactly `[base, end)`, splitting
    /// regions that straddle it; parts of the range no region covers are left alone.
    fn set_flag(&mut self, base: u64, end: u64, flag: u32, set: bool) -> Result<(), MemblockError> {
        self.isolate(base, end)?;
        for r in &mut self.regions[..self.cnt] {
            if r.base >= base && r.end() <= end {
                r.flags = if set { r.flags | flag } else { r.flags & !flag };
            }
        }
        self.merge();
        Ok(())
    }

    /// `memblock_remove_range`: drops `[base, end)`, splitting regions that straddle it.
    fn remove_range(&mut self, base: u64, end: u64) -> Result<(), MemblockError> {
        self.isolate(base, end)?;
        let mut i = 0;
        while i < self.cnt {
            let r = self.regions[i];
            if r.base >= base && r.end() <= end {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }
}

/// The two region arrays and the allocation limit (`struct memblock`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memblock {
    memory: RegionArray,
    reserved: RegionArray,
    current_limit: u64,
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks a `(base, size)` pair and returns its end.
fn range_end(base: u64, size: u64) -> Result<u64, MemblockError> {
    if size == 0 {
        return Err(MemblockError::ZeroSize { base });
    }
    base.checked_add(size).ok_or(MemblockError::Overflow { base, size })
}

impl Memblock {
    /// Empty arrays, no limit (`const` so it can sit in a `static` behind a lock).
    pub const fn new() -> Self {
        Self {
            memory: RegionArray::new("memory"),
            reserved: RegionArray::new("reserved"),
            current_limit: MEMBLOCK_ALLOC_ANYWHERE,
        }
    }

    /// `memblock_add`: registers RAM. Overlaps with known RAM are fine (the union is kept).
    pub fn add(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let end = range_end(base, size)?;
        self.memory.add_range(base, end, "")
    }

    /// `memblock_remove`: forgets RAM (e.g. above `mem=`), splitting regions as needed.
    pub fn remove(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let end = range_end(base, size)?;
        self.memory.remove_range(base, end)
    }

    /// `memblock_reserve`: marks a range as taken by `name`. Where it overlaps an existing
    /// reservation the older one (and its name) stays; only equal names merge.
    pub fn reserve(
        &mut self,
        base: u64,
        size: u64,
        name: &'static str,
    ) -> Result<(), MemblockError> {
        let end = range_end(base, size)?;
        self.reserved.add_range(base, end, name)
    }

    /// `memblock_mark_nomap`: keeps the RAM in `[base, base + size)` out of the linear map and
    /// away from every allocator (a device tree `no-map` region).
    pub fn mark_nomap(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let end = range_end(base, size)?;
        self.memory.set_flag(base, end, MEMBLOCK_NOMAP, true)
    }

    /// `memblock_clear_nomap`: undoes `mark_nomap`.
    pub fn clear_nomap(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let end = range_end(base, size)?;
        self.memory.set_flag(base, end, MEMBLOCK_NOMAP, false)
    }

    /// `memblock_phys_free`: gives a reserved range back.
    pub fn free(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let end = range_end(base, size)?;
        self.reserved.remove_range(base, end)
    }

    /// `memblock_enforce_memory_limit`: keeps only the first `limit` bytes of RAM (for `mem=`);
    /// reservations above the cut go too. A limit of 0, or one above the RAM size, does nothing.
    pub fn enforce_memory_limit(&mut self, limit: u64) -> Result<(), MemblockError> {
        if limit == 0 {
            return Ok(());
        }
        let mut left = limit;
        let mut max_addr = None;
        for r in self.memory.as_slice() {
            if left <= r.size {
                max_addr = Some(r.base + left);
                break;
            }
            left -= r.size;
        }
        let Some(max_addr) = max_addr else { return Ok(()) };
        if max_addr == u64::MAX {
            return Ok(());
        }
        // Check both arrays before touching either, so a failure changes nothing.
        for array in [&self.memory, &self.reserved] {
            if array.cnt + array.count_splits(max_addr, u64::MAX) > INIT_MEMBLOCK_REGIONS {
                return Err(array.no_space());
            }
        }
        self.memory.remove_range(max_addr, u64::MAX)?;
        self.reserved.remove_range(max_addr, u64::MAX)
    }

    /// The RAM regions, sorted by address.
    pub fn memory(&self) -> &[MemblockRegion] {
        self.memory.as_slice()
    }

    /// The reserved regions, sorted by address.
    pub fn reserved(&self) -> &[MemblockRegion] {
        self.reserved.as_slice()
    }

    /// `memblock_is_memory`.
    pub fn is_memory(&self, addr: u64) -> bool {
        self.memory.find(addr).is_some()
    }

    /// `memblock_is_map_memory`: RAM that belongs in the linear map (not NOMAP).
    pub fn is_map_memory(&self, addr: u64) -> bool {
        self.memory.find(addr).is_some_and(|i| !self.memory.regions[i].is_nomap())
    }

    /// Calls `f(start, end)` for each range of RAM that belongs in the linear map, in address
    /// order (Linux's `for_each_mem_range`, which skips NOMAP regions).
    pub fn for_each_map_range(&self, mut f: impl FnMut(u64, u64)) {
        for r in self.memory().iter().filter(|r| !r.is_nomap()) {
            f(r.base, r.end());
        }
    }

    /// Bytes of `[base, base + size)` that belong in the linear map: `size` when all of it
    /// does, 0 when none (the mapping code maps a section whole, by pages, or not at all).
    pub fn map_memory_in(&self, base: u64, size: u64) -> u64 {
        let end = base.saturating_add(size);
        let mut bytes = 0;
        self.for_each_map_range(|s, e| bytes += e.min(end).saturating_sub(s.max(base)));
        bytes
    }

    /// `memblock_overlaps_region(&memblock.memory, ...)`: is any of the range RAM?
    pub fn overlaps_memory(&self, base: u64, size: u64) -> bool {
        let end = base.saturating_add(size);
        self.memory().iter().any(|r| r.base < end && base < r.end())
    }

    /// `memblock_is_reserved`.
    pub fn is_reserved(&self, addr: u64) -> bool {
        self.reserved.find(addr).is_some()
    }

    /// The reservation covering `addr`, to say who owns it.
    pub fn reserved_name(&self, addr: u64) -> Option<&'static str> {
        self.reserved.find(addr).map(|i| self.reserved.regions[i].name)
    }

    /// `memblock_is_region_reserved`: does any reservation overlap `[base, base + size)`?
    pub fn is_region_reserved(&self, base: u64, size: u64) -> bool {
        let end = base.saturating_add(size);
        self.reserved().iter().any(|r| r.base < end && base < r.end())
    }

    /// `memblock_phys_mem_size`: bytes of RAM.
    pub fn phys_mem_size(&self) -> u64 {
        self.memory.total_size()
    }

    /// `memblock_reserved_size`: bytes reserved (inside RAM or not).
    pub fn reserved_size(&self) -> u64 {
        self.reserved.total_size()
    }

    /// `memblock_start_of_DRAM`: lowest RAM address (0 when there is no RAM).
    pub fn start_of_dram(&self) -> u64 {
        self.memory().first().map_or(0, |r| r.base)
    }

    /// `memblock_end_of_DRAM`: one past the highest RAM address (0 when there is no RAM).
    pub fn end_of_dram(&self) -> u64 {
        self.memory().last().map_or(0, |r| r.end())
    }

    /// `memblock_set_current_limit`: the ceiling for `MEMBLOCK_ALLOC_ACCESSIBLE` allocations,
    /// raised as the kernel maps more of lowmem.
    pub fn set_current_limit(&mut self, limit: u64) {
        self.current_limit = limit;
    }

    pub fn current_limit(&self) -> u64 {
        self.current_limit
    }

    /// Calls `f(start, end)` for each free range (RAM not reserved), in address order.
    pub fn for_each_free_range(&self, mut f: impl FnMut(u64, u64)) {
        self.walk_free(|start, end| {
            f(start, end);
            true
        });
    }

    /// Like `for_each_free_range`, clipped to the window `[lo, hi)`.
    pub fn for_each_free_range_in(&self, lo: u64, hi: u64, mut f: impl FnMut(u64, u64)) {
        self.walk_free(|start, end| {
            if start >= hi {
                return false;
            }
            let (s, e) = (start.max(lo), end.min(hi));
            if s < e {
                f(s, e);
            }
            true
        });
    }

    /// `memblock_phys_alloc` with a ceiling: finds `size` bytes aligned to `align` below
    /// `limit` (`MEMBLOCK_ALLOC_ACCESSIBLE` = `current_limit()`), top-down like Linux, and
    /// reserves them under `name`. `None` if the request is invalid or nothing fits.
    pub fn alloc(&mut self, size: u64, align: u64, limit: u64, name: &'static str) -> Option<u64> {
        self.alloc_range(size, align, 0, limit, name)
    }

    /// `memblock_phys_alloc_range`: as `alloc`, inside `[start, end)`. Like Linux it never
    /// returns the first page, so a result of 0 cannot be mistaken for "no memory".
    pub fn alloc_range(
        &mut self,
        size: u64,
        align: u64,
        start: u64,
        end: u64,
        name: &'static str,
    ) -> Option<u64> {
        let found = self.find_in_range(size, align, start, end)?;
        self.reserve(found, size, name).ok()?;
        Some(found)
    }

    /// `memblock_find_in_range`: where `alloc_range` would place `size` bytes, without
    /// reserving them.
    pub fn find_in_range(&self, size: u64, align: u64, start: u64, end: u64) -> Option<u64> {
        if size == 0 || !align.is_power_of_two() {
            return None;
        }
        let end = if end == MEMBLOCK_ALLOC_ACCESSIBLE { self.current_limit } else { end };
        self.find_top_down(size, align, start.max(PAGE_SIZE), end)
    }

    /// `__memblock_find_range_top_down`: the highest aligned fit inside `[start, end)`.
    fn find_top_down(&self, size: u64, align: u64, start: u64, end: u64) -> Option<u64> {
        let mut found = None;
        self.walk_free_rev(|this_start, this_end| {
            let this_start = this_start.clamp(start, end.max(start));
            let this_end = this_end.clamp(start, end.max(start));
            if this_end >= size {
                let cand = (this_end - size) & !(align - 1);
                if cand >= this_start {
                    found = Some(cand);
                    return false;
                }
            }
            this_start > start
        });
        found
    }

    /// Free ranges low to high (RAM neither reserved nor NOMAP); `f` returns false to stop.
    fn walk_free(&self, mut f: impl FnMut(u64, u64) -> bool) {
        for m in self.memory().iter().filter(|m| !m.is_nomap()) {
            let mut cur = m.base;
            for r in self.reserved() {
                if r.end() <= cur {
                    continue;
                }
                if r.base >= m.end() {
                    break;
                }
                if r.base > cur && !f(cur, r.base) {
                    return;
                }
                cur = r.end();
                if cur >= m.end() {
                    break;
                }
            }
            if cur < m.end() && !f(cur, m.end()) {
                return;
            }
        }
    }

    /// Free ranges high to low; `f` returns false to stop.
    fn walk_free_rev(&self, mut f: impl FnMut(u64, u64) -> bool) {
        for m in self.memory().iter().rev().filter(|m| !m.is_nomap()) {
            let mut cur = m.end();
            for r in self.reserved().iter().rev() {
                if r.base >= cur {
                    continue;
                }
                if r.end() <= m.base {
                    break;
                }
                if r.end() < cur && !f(r.end(), cur) {
                    return;
                }
                cur = r.base;
                if cur <= m.base {
                    break;
                }
            }
            if cur > m.base && !f(m.base, cur) {
                return;
            }
        }
    }
}

/// Writes Linux's `memblock=debug` dump (`__memblock_dump_all`), with `%pa` printed as a
/// 32-bit `phys_addr_t` (8 hex digits, wider only if an address needs it).
///
/// pivm addition: each reserved line ends with ` (name)`, the owner given to `reserve`.
pub fn write_memblock_debug(w: &mut impl fmt::Write, mb: &Memblock) -> fmt::Result {
    writeln!(w, "MEMBLOCK configuration:")?;
    writeln!(
        w,
        " memory size = {:#010x} reserved size = {:#010x}",
        mb.phys_mem_size(),
        mb.reserved_size()
    )?;
    for (array, named) in [(&mb.memory, false), (&mb.reserved, true)] {
        writeln!(w, " {}.cnt  = {:#x}", array.name, array.cnt)?;
        for (idx, r) in array.as_slice().iter().enumerate() {
            write!(
                w,
                " {}[{:#x}]\t[{:#010x}-{:#010x}], {:#010x} bytes flags: {:#x}",
                array.name,
                idx,
                r.base,
                r.end() - 1,
                r.size,
                r.flags
            )?;
            if named {
                write!(w, " ({})", r.name)?;
            }
            writeln!(w)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizes::*;

    fn regions(rs: &[MemblockRegion]) -> Vec<(u64, u64, &'static str)> {
        rs.iter().map(|r| (r.base, r.size, r.name)).collect()
    }

    fn free_ranges(mb: &Memblock) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        mb.for_each_free_range(|s, e| v.push((s, e)));
        v
    }

    #[test]
    fn add_sorts_and_merges() {
        let mut mb = Memblock::new();
        mb.add(0x3000_0000, 0x0c00_0000).unwrap();
        mb.add(0, 0x1000_0000).unwrap();
        mb.add(0x2000_0000, 0x1000_0000).unwrap(); // touches the first one added
        assert_eq!(regions(mb.memory()), [(0, 0x1000_0000, ""), (0x2000_0000, 0x1c00_0000, "")]);
        mb.add(0x0800_0000, 0x1c00_0000).unwrap(); // overlaps both: the union is one region
        assert_eq!(regions(mb.memory()), [(0, 0x3c00_0000, "")]);
        assert_eq!(mb.phys_mem_size(), 0x3c00_0000);
        assert_eq!((mb.start_of_dram(), mb.end_of_dram()), (0, 0x3c00_0000));
    }

    #[test]
    fn remove_splits() {
        let mut mb = Memblock::new();
        mb.add(0, SZ_1G).unwrap();
        mb.remove(SZ_256M, SZ_16M).unwrap();
        assert_eq!(
            regions(mb.memory()),
            [(0, SZ_256M, ""), (SZ_256M + SZ_16M, SZ_1G - SZ_256M - SZ_16M, "")]
        );
        mb.remove(0, SZ_256M + SZ_32M).unwrap();
        assert_eq!(regions(mb.memory()), [(SZ_256M + SZ_32M, SZ_1G - SZ_256M - SZ_32M, "")]);
        mb.remove(0, SZ_4G).unwrap();
        assert!(mb.memory().is_empty());
        assert_eq!((mb.start_of_dram(), mb.end_of_dram(), mb.phys_mem_size()), (0, 0, 0));
    }

    #[test]
    fn reservations_keep_names() {
        let mut mb = Memblock::new();
        mb.add(0, SZ_1G).unwrap();
        mb.reserve(0x1_0000, 0x1_0000, "kernel").unwrap();
        mb.reserve(0x2_0000, 0x1000, "kernel").unwrap(); // touches, same name: merged
        mb.reserve(0x2_1000, 0x1000, "page tables").unwrap(); // touches, other name: separate
        mb.reserve(0x100, 0x80, "boot params").unwrap();
        mb.reserve(0x2_0800, 0x2000, "CP").unwrap(); // overlap: older names win, CP gets the tail
        assert_eq!(
            regions(mb.reserved()),
            [
                (0x100, 0x80, "boot params"),
                (0x1_0000, 0x1_1000, "kernel"),
                (0x2_1000, 0x1000, "page tables"),
                (0x2_2000, 0x800, "CP"),
            ]
        );
        assert_eq!(mb.reserved_size(), 0x80 + 0x1_1000 + 0x1000 + 0x800);
        assert!(mb.is_reserved(0x17f) && !mb.is_reserved(0x180));
        assert_eq!(mb.reserved_name(0x2_1fff), Some("page tables"));
        assert_eq!(mb.reserved_name(0x3_0000), None);
        assert!(mb.is_region_reserved(0x0, 0x101) && !mb.is_region_reserved(0x0, 0x100));
        mb.free(0x1_8000, 0x1000).unwrap();
        assert_eq!(
            mb.reserved()[1],
            MemblockRegion { base: 0x1_0000, size: 0x8000, name: "kernel", flags: MEMBLOCK_NONE }
        );
        assert_eq!(
            mb.reserved()[2],
            MemblockRegion { base: 0x1_9000, size: 0x8000, name: "kernel", flags: MEMBLOCK_NONE }
        );
    }

    #[test]
    fn free_ranges_in_order_and_clipped() {
        let mut mb = Memblock::new();
        mb.add(0, 0x10_0000).unwrap();
        mb.add(0x20_0000, 0x10_0000).unwrap();
        mb.reserve(0, 0x1000, "vectors").unwrap();
        mb.reserve(0x8_0000, 0x1_0000, "kernel").unwrap();
        mb.reserve(0xf_0000, 0x12_0000, "hole").unwrap(); // spans the gap between banks
        assert_eq!(
            free_ranges(&mb),
            [(0x1000, 0x8_0000), (0x9_0000, 0xf_0000), (0x21_0000, 0x30_0000)]
        );
        let mut v = Vec::new();
        mb.for_each_free_range_in(0x4_0000, 0x22_0000, |s, e| v.push((s, e)));
        assert_eq!(v, [(0x4_0000, 0x8_0000), (0x9_0000, 0xf_0000), (0x21_0000, 0x22_0000)]);
    }

    /// Device tree `no-map` regions: still memory, but never free, never allocated, never in
    /// the linear map; the flag splits and re-merges memory regions.
    #[test]
    fn nomap_regions() {
        let mut mb = Memblock::new();
        mb.add(0, SZ_64M).unwrap();
        mb.reserve(0, 0x1000, "stub").unwrap();
        mb.mark_nomap(SZ_16M + 0x1000, SZ_1M).unwrap();
        assert_eq!(
            mb.memory().iter().map(|r| (r.base, r.size, r.flags)).collect::<Vec<_>>(),
            [
                (0, SZ_16M + 0x1000, MEMBLOCK_NONE),
                (SZ_16M + 0x1000, SZ_1M, MEMBLOCK_NOMAP),
                (SZ_16M + 0x1000 + SZ_1M, SZ_64M - SZ_16M - SZ_1M - 0x1000, MEMBLOCK_NONE)
            ]
        );
        assert_eq!(mb.phys_mem_size(), SZ_64M);
        assert!(mb.is_memory(SZ_16M + 0x1000) && !mb.is_map_memory(SZ_16M + 0x1000));
        assert!(mb.is_map_memory(SZ_16M) && mb.is_map_memory(SZ_16M + SZ_1M + 0x1000));
        assert_eq!(
            free_ranges(&mb),
            [(0x1000, SZ_16M + 0x1000), (SZ_16M + SZ_1M + 0x1000, SZ_64M)]
        );
        assert_eq!(mb.map_memory_in(SZ_16M, SZ_2M), SZ_1M);
        assert_eq!(mb.map_memory_in(SZ_16M + 0x1000, SZ_1M), 0);
        assert_eq!(mb.map_memory_in(SZ_32M, SZ_1M), SZ_1M);
        assert_eq!(mb.map_memory_in(SZ_64M, SZ_1M), 0);
        // Allocations go around it, top-down.
        assert_eq!(
            mb.alloc_range(SZ_1M - 0x1000, 0x1000, SZ_16M, SZ_16M + SZ_2M, "x"),
            Some(SZ_16M + SZ_1M + 0x1000)
        );
        assert_eq!(mb.alloc_range(0x2000, 0x1000, SZ_16M, SZ_16M + SZ_2M, "x"), None);
        // Clearing it merges the memory back into one region.
        mb.clear_nomap(SZ_16M, SZ_4M).unwrap();
        assert_eq!(mb.memory().len(), 1);
        assert!(mb.overlaps_memory(SZ_64M - 1, 2) && !mb.overlaps_memory(SZ_64M, 1));
        // Outside memory there is nothing to mark.
        mb.mark_nomap(SZ_1G, SZ_1M).unwrap();
        assert_eq!(mb.memory().len(), 1);
        let mut s = String::new();
        mb.mark_nomap(0x1000, 0x1000).unwrap();
        write_memblock_debug(&mut s, &mb).unwrap();
        assert!(
            s.contains(" memory[0x1]\t[0x00001000-0x00001fff], 0x00001000 bytes flags: 0x4\n"),
            "{s}"
        );
    }

    #[test]
    fn alloc_is_top_down_aligned_and_limited() {
        let mut mb = Memblock::new();
        mb.add(0, 0x3c00_0000).unwrap();
        mb.reserve(0x3bff_f000, 0x1000, "top").unwrap();
        // 16 KiB aligned below the top page.
        assert_eq!(mb.alloc(SZ_16K, SZ_16K, MEMBLOCK_ALLOC_ANYWHERE, "pgd"), Some(0x3bff_8000));
        assert_eq!(mb.reserved_name(0x3bff_8000), Some("pgd"));
        // Below an explicit limit.
        assert_eq!(mb.alloc(0x1000, 0x1000, SZ_256M, "pte"), Some(SZ_256M - 0x1000));
        // MEMBLOCK_ALLOC_ACCESSIBLE follows current_limit.
        mb.set_current_limit(SZ_8M);
        assert_eq!(mb.current_limit(), SZ_8M);
        assert_eq!(
            mb.alloc(0x1000, 0x1000, MEMBLOCK_ALLOC_ACCESSIBLE, "pte"),
            Some(SZ_8M - 0x1000)
        );
        // Same name, adjacent: merged with the previous "pte" page.
        assert_eq!(
            mb.alloc(0x1000, 0x1000, MEMBLOCK_ALLOC_ACCESSIBLE, "pte"),
            Some(SZ_8M - 0x2000)
        );
        assert!(mb.reserved().iter().any(|r| r.base == SZ_8M - 0x2000 && r.size == 0x2000));
        // Within a window.
        assert_eq!(mb.alloc_range(0x1000, 0x1000, SZ_1M, SZ_2M, "x"), Some(SZ_2M - 0x1000));
        // Invalid requests.
        assert_eq!(mb.alloc(0, 0x1000, MEMBLOCK_ALLOC_ANYWHERE, "x"), None);
        assert_eq!(mb.alloc(0x1000, 0x3000, MEMBLOCK_ALLOC_ANYWHERE, "x"), None);
        assert_eq!(mb.alloc(0x1000, 0, MEMBLOCK_ALLOC_ANYWHERE, "x"), None);
        assert_eq!(mb.alloc(SZ_1G, 0x1000, MEMBLOCK_ALLOC_ANYWHERE, "x"), None);
    }

    #[test]
    fn alloc_never_returns_page_zero() {
        let mut mb = Memblock::new();
        mb.add(0, 0x3000).unwrap();
        assert_eq!(mb.alloc(0x1000, 0x1000, MEMBLOCK_ALLOC_ANYWHERE, "a"), Some(0x2000));
        assert_eq!(mb.alloc(0x1000, 0x1000, MEMBLOCK_ALLOC_ANYWHERE, "a"), Some(0x1000));
        assert_eq!(mb.alloc(0x1000, 0x1000, MEMBLOCK_ALLOC_ANYWHERE, "a"), None);
        assert_eq!(mb.alloc(0x10, 0x10, MEMBLOCK_ALLOC_ANYWHERE, "a"), None);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let mut mb = Memblock::new();
        assert_eq!(mb.add(0x1000, 0), Err(MemblockError::ZeroSize { base: 0x1000 }));
        assert_eq!(
            mb.reserve(u64::MAX - 1, 2, "x"),
            Err(MemblockError::Overflow { base: u64::MAX - 1, size: 2 })
        );
        assert!(mb.remove(0, 0).is_err() && mb.free(u64::MAX, 1).is_err());
        assert_eq!(mb, Memblock::new());
        // The very top of the address space is fine as long as the end fits.
        mb.add(u64::MAX - 0x1000, 0x1000).unwrap();
        assert_eq!(mb.end_of_dram(), u64::MAX);
    }

    #[test]
    fn full_arrays_fail_without_changing_anything() {
        let mut mb = Memblock::new();
        for i in 0..INIT_MEMBLOCK_REGIONS as u64 {
            mb.add(i * 0x2000, 0x1000).unwrap();
        }
        let before = mb.clone();
        let err = mb.add(0x100_0000, 0x1000).unwrap_err();
        assert_eq!(err, MemblockError::NoSpace { array: "memory" });
        assert_eq!(mb, before);
        // Splitting a region needs a slot too.
        assert_eq!(mb.remove(0x400, 0x100), Err(MemblockError::NoSpace { array: "memory" }));
        assert_eq!(mb, before);
        // Filling a hole merges three regions into one: still refused up front, like Linux.
        assert!(mb.add(0x1000, 0x1000).is_err());
        // Removing whole regions needs no slot.
        mb.remove(0, 0x2000).unwrap();
        mb.add(0x1000, 0x2000).unwrap();
        assert_eq!(
            mb.memory()[0],
            MemblockRegion { base: 0x1000, size: 0x2000, name: "", flags: MEMBLOCK_NONE }
        );
    }

    #[test]
    fn memory_limit() {
        let mut mb = Memblock::new();
        mb.add(0, SZ_256M).unwrap();
        mb.add(SZ_512M, SZ_256M).unwrap();
        mb.reserve(SZ_512M + SZ_64M, SZ_128M, "CP").unwrap();
        mb.enforce_memory_limit(0).unwrap();
        mb.enforce_memory_limit(SZ_1G).unwrap();
        assert_eq!(mb.phys_mem_size(), SZ_512M);
        mb.enforce_memory_limit(SZ_256M + SZ_128M).unwrap();
        assert_eq!(regions(mb.memory()), [(0, SZ_256M, ""), (SZ_512M, SZ_128M, "")]);
        assert_eq!(regions(mb.reserved()), [(SZ_512M + SZ_64M, SZ_64M, "CP")]);
    }

    #[test]
    fn debug_dump_matches_linux_format() {
        let mut mb = Memblock::new();
        mb.add(0, 0x3c00_0000).unwrap();
        mb.reserve(0x100, 0x80, "boot params").unwrap();
        mb.reserve(0x1_0000, 0x2_0000, "kernel").unwrap();
        mb.reserve(0x4000, 0x4000, "page tables").unwrap();
        let mut s = String::new();
        write_memblock_debug(&mut s, &mb).unwrap();
        assert_eq!(
            s,
            "MEMBLOCK configuration:\n\
             \x20memory size = 0x3c000000 reserved size = 0x00024080\n\
             \x20memory.cnt  = 0x1\n\
             \x20memory[0x0]\t[0x00000000-0x3bffffff], 0x3c000000 bytes flags: 0x0\n\
             \x20reserved.cnt  = 0x3\n\
             \x20reserved[0x0]\t[0x00000100-0x0000017f], 0x00000080 bytes flags: 0x0 (boot params)\n\
             \x20reserved[0x1]\t[0x00004000-0x00007fff], 0x00004000 bytes flags: 0x0 (page tables)\n\
             \x20reserved[0x2]\t[0x00010000-0x0002ffff], 0x00020000 bytes flags: 0x0 (kernel)\n"
        );
        let mut s = String::new();
        write_memblock_debug(&mut s, &Memblock::new()).unwrap();
        assert_eq!(
            s,
            "MEMBLOCK configuration:\n memory size = 0x00000000 reserved size = 0x00000000\n \
             memory.cnt  = 0x0\n reserved.cnt  = 0x0\n"
        );
    }

    #[test]
    fn errors_display_one_line() {
        assert_eq!(
            MemblockError::NoSpace { array: "reserved" }.to_string(),
            "memblock: no room in the reserved array (64 regions)"
        );
        assert_eq!(
            MemblockError::ZeroSize { base: 0x1000 }.to_string(),
            "memblock: zero-sized range at 0x00001000"
        );
        assert_eq!(
            MemblockError::Overflow { base: u64::MAX, size: 1 }.to_string(),
            "memblock: range 0xffffffffffffffff + 0x1 wraps past the end of the address space"
        );
    }

    /// Property tests against a page bitmap: the model is "which pages are RAM" and "which
    /// name owns each reserved page" (older reservations win, as in memblock).
    mod model {
        use super::*;
        use proptest::prelude::*;

        /// Pages in the model's address space. Every region covers at least one page, so the
        /// arrays (64 slots) can never fill: any `NoSpace` is a bug.
        const PAGES: u64 = 48;
        const NAMES: [&str; 4] = ["kernel", "boot params", "page tables", "CP"];

        #[derive(Clone, Debug)]
        enum Op {
            Add(u64, u64),
            Remove(u64, u64),
            Reserve(u64, u64, usize),
            Free(u64, u64),
            Alloc { pages: u64, align_shift: u32, limit_page: u64, name: usize },
            AllocRange { pages: u64, start_page: u64, end_page: u64 },
            SetLimit(u64),
            Nomap(u64, u64, bool),
        }

        fn range() -> impl Strategy<Value = (u64, u64)> {
            (0..PAGES, 0u64..10).prop_map(|(p, n)| (p, n.min(PAGES - p)))
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => range().prop_map(|(p, n)| Op::Add(p, n)),
                1 => range().prop_map(|(p, n)| Op::Remove(p, n)),
                3 => (range(), 0..NAMES.len()).prop_map(|((p, n), i)| Op::Reserve(p, n, i)),
                1 => range().prop_map(|(p, n)| Op::Free(p, n)),
                3 => (0u64..6, 0u32..4, 0..PAGES + 4, 0..NAMES.len()).prop_map(
                    |(pages, align_shift, limit_page, name)| Op::Alloc { pages, align_shift, limit_page, name }
                ),
                1 => (1u64..4, 0..PAGES, 0..PAGES + 2).prop_map(
                    |(pages, start_page, end_page)| Op::AllocRange { pages, start_page, end_page }
                ),
                1 => (0..PAGES + 2).prop_map(Op::SetLimit),
                2 => (range(), any::<bool>()).prop_map(|((p, n), set)| Op::Nomap(p, n, set)),
            ]
        }

        struct Model {
            mem: Vec<bool>,
            nomap: Vec<bool>,
            res: Vec<Option<&'static str>>,
            limit: u64,
        }

        impl Model {
            fn map(&self, page: u64) -> bool {
                self.mem[page as usize] && !self.nomap[page as usize]
            }

            fn free(&self, page: u64) -> bool {
                self.map(page) && self.res[page as usize].is_none()
            }

            /// Highest aligned run of free pages inside [lo, hi), never page 0.
            fn find(&self, pages: u64, align_pages: u64, lo: u64, hi: u64) -> Option<u64> {
                let hi = hi.min(PAGES);
                let lo = lo.max(1);
                (lo..=hi.checked_sub(pages)?)
                    .rev()
                    .filter(|p| p % align_pages == 0)
                    .find(|&p| (p..p + pages).all(|q| self.free(q)))
            }
        }

        /// Run-length encoding of a per-page vector into (base, size, name) regions.
        fn runs(owner: impl Fn(u64) -> Option<&'static str>) -> Vec<(u64, u64, &'static str)> {
            let mut out: Vec<(u64, u64, &'static str)> = Vec::new();
            for p in 0..PAGES {
                if let Some(name) = owner(p) {
                    match out.last_mut() {
                        Some(last) if last.0 + last.1 == p * PAGE_SIZE && last.2 == name => {
                            last.1 += PAGE_SIZE
                        }
                        _ => out.push((p * PAGE_SIZE, PAGE_SIZE, name)),
                    }
                }
            }
            out
        }

        fn check_array(rs: &[MemblockRegion]) {
            for r in rs {
                assert!(r.size > 0, "empty region {r:?}");
            }
            for w in rs.windows(2) {
                assert!(w[0].end() <= w[1].base, "unsorted or overlapping {w:?}");
                let same = w[0].name == w[1].name && w[0].flags == w[1].flags;
                assert!(!(w[0].end() == w[1].base && same), "unmerged {w:?}");
            }
        }

        fn check(mb: &Memblock, m: &Model) {
            check_array(mb.memory());
            check_array(mb.reserved());
            let memory: Vec<_> = mb
                .memory()
                .iter()
                .map(|r| (r.base, r.size, if r.is_nomap() { "nomap" } else { "" }))
                .collect();
            let kind = |p: u64| if m.nomap[p as usize] { "nomap" } else { "" };
            assert_eq!(memory, runs(|p| m.mem[p as usize].then(|| kind(p))));
            let mut map = Vec::new();
            mb.for_each_map_range(|s, e| map.push((s, e - s, "")));
            assert_eq!(map, runs(|p| m.map(p).then_some("")));
            assert_eq!(regions(mb.reserved()), runs(|p| m.res[p as usize]));
            let free: Vec<(u64, u64)> =
                runs(|p| m.free(p).then_some("")).iter().map(|&(b, s, _)| (b, b + s)).collect();
            assert_eq!(free_ranges(mb), free);
            let (lo, hi) = (5 * PAGE_SIZE + 123, 30 * PAGE_SIZE);
            let clipped: Vec<(u64, u64)> =
                free.iter().map(|&(s, e)| (s.max(lo), e.min(hi))).filter(|&(s, e)| s < e).collect();
            let mut v = Vec::new();
            mb.for_each_free_range_in(lo, hi, |s, e| v.push((s, e)));
            assert_eq!(v, clipped);
            let mem_pages = m.mem.iter().filter(|&&b| b).count() as u64;
            let res_pages = m.res.iter().filter(|r| r.is_some()).count() as u64;
            assert_eq!(mb.phys_mem_size(), mem_pages * PAGE_SIZE);
            assert_eq!(mb.reserved_size(), res_pages * PAGE_SIZE);
            for p in 0..PAGES {
                let a = p * PAGE_SIZE + 0x7ff;
                assert_eq!(mb.is_reserved(a), m.res[p as usize].is_some());
                assert_eq!(mb.is_memory(a), m.mem[p as usize]);
                assert_eq!(mb.is_map_memory(a), m.map(p));
                assert_eq!(mb.reserved_name(a), m.res[p as usize]);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn matches_page_model(ops in proptest::collection::vec(op(), 1..60)) {
                let mut mb = Memblock::new();
                let mut m = Model {
                    mem: vec![false; PAGES as usize],
                    nomap: vec![false; PAGES as usize],
                    res: vec![None; PAGES as usize],
                    limit: MEMBLOCK_ALLOC_ANYWHERE,
                };
                let pg = |p: u64| p * PAGE_SIZE;
                for op in ops {
                    let before = mb.clone();
                    match op {
                        Op::Add(p, n) | Op::Remove(p, n) | Op::Free(p, n) | Op::Reserve(p, n, _)
                            if n == 0 =>
                        {
                            let r = match op {
                                Op::Add(..) => mb.add(pg(p), 0),
                                Op::Remove(..) => mb.remove(pg(p), 0),
                                Op::Free(..) => mb.free(pg(p), 0),
                                _ => mb.reserve(pg(p), 0, "x"),
                            };
                            prop_assert_eq!(r, Err(MemblockError::ZeroSize { base: pg(p) }));
                            prop_assert_eq!(&mb, &before);
                        }
                        Op::Add(p, n) => {
                            mb.add(pg(p), pg(n)).unwrap();
                            (p..p + n).for_each(|q| m.mem[q as usize] = true);
                        }
                        Op::Remove(p, n) => {
                            mb.remove(pg(p), pg(n)).unwrap();
                            for q in p..p + n {
                                m.mem[q as usize] = false;
                                m.nomap[q as usize] = false;
                            }
                        }
                        Op::Nomap(p, 0, _) => {
                            prop_assert!(mb.mark_nomap(pg(p), 0).is_err());
                            prop_assert_eq!(&mb, &before);
                        }
                        Op::Nomap(p, n, set) => {
                            if set {
                                mb.mark_nomap(pg(p), pg(n)).unwrap();
                            } else {
                                mb.clear_nomap(pg(p), pg(n)).unwrap();
                            }
                            for q in p..p + n {
                                m.nomap[q as usize] = set && m.mem[q as usize];
                            }
                        }
                        Op::Reserve(p, n, i) => {
                            mb.reserve(pg(p), pg(n), NAMES[i]).unwrap();
                            for q in p..p + n {
                                m.res[q as usize].get_or_insert(NAMES[i]);
                            }
                        }
                        Op::Free(p, n) => {
                            mb.free(pg(p), pg(n)).unwrap();
                            (p..p + n).for_each(|q| m.res[q as usize] = None);
                        }
                        Op::Alloc { pages, align_shift, limit_page, name } => {
                            let align = PAGE_SIZE << align_shift;
                            let limit = pg(limit_page);
                            let got = mb.alloc(pg(pages), align, limit, NAMES[name]);
                            let hi = if limit == MEMBLOCK_ALLOC_ACCESSIBLE {
                                m.limit.min(pg(PAGES)) / PAGE_SIZE
                            } else {
                                limit_page
                            };
                            let want = if pages == 0 {
                                None
                            } else {
                                m.find(pages, 1 << align_shift, 0, hi)
                            };
                            prop_assert_eq!(got, want.map(pg));
                            if let Some(p) = want {
                                for q in p..p + pages {
                                    prop_assert!(m.free(q), "alloc returned a used page");
                                    m.res[q as usize] = Some(NAMES[name]);
                                }
                            } else {
                                prop_assert_eq!(&mb, &before);
                            }
                        }
                        Op::AllocRange { pages, start_page, end_page } => {
                            let got = mb.alloc_range(pg(pages), PAGE_SIZE, pg(start_page), pg(end_page).max(1), "CP");
                            let want = m.find(pages, 1, start_page, end_page);
                            prop_assert_eq!(got, want.map(pg));
                            if let Some(p) = want {
                                (p..p + pages).for_each(|q| m.res[q as usize] = Some("CP"));
                            }
                        }
                        Op::SetLimit(p) => {
                            let limit = if p == 0 { MEMBLOCK_ALLOC_ANYWHERE } else { pg(p) };
                            mb.set_current_limit(limit);
                            m.limit = limit;
                        }
                    }
                    check(&mb, &m);
                }
            }
        }
    }
}
