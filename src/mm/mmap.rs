//! The operations on an address space, as Linux 6.1's mm/mmap.c, mm/mprotect.c, mm/util.c and
//! arch/arm/mm/mmap.c perform them: picking the layout (`arch_pick_mmap_layout`, `mmap_base`),
//! finding room (`get_unmapped_area`, `vm_unmapped_area` top-down and bottom-up), `do_mmap`
//! with `MAP_FIXED`/`MAP_FIXED_NOREPLACE`, `munmap` and `mprotect` (splitting and merging as
//! `vma_merge` does), `brk`, the exec-time stack (`setup_arg_pages`) and its growth
//! (`expand_downwards`, with the 256-page `stack_guard_gap`), and the kernel's special mappings.
//! Pure data: no page is touched here; the fault path and the page tables come later.
use alloc::sync::Arc;

use super::mm_types::{
    offset_in_page, page_align, Errno, MmStruct, SpecialMapping, VmFile, VmFlags, Vma, VmaId,
    PAGE_MASK, PAGE_SHIFT, PAGE_SIZE,
};

pub use super::mm_types::{vm_start_gap, STACK_GUARD_GAP};
/// Smallest gap `mmap_base()` leaves between the stack top and the mmap area (6.1: 128 MiB).
const MIN_GAP: usize = 128 << 20;
/// `setup_arg_pages()` grows the fresh stack by this much below the argument pages.
pub const STACK_EXPAND: usize = 128 << 10;

bitflags::bitflags! {
    /// `PROT_*` as `mmap`/`mprotect` take them.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Prot: u32 {
        const READ = 0x1;
        const WRITE = 0x2;
        const EXEC = 0x4;
        const SEM = 0x8;
        const GROWSDOWN = 0x0100_0000;
        const GROWSUP = 0x0200_0000;
    }
}

bitflags::bitflags! {
    /// `MAP_*` flags (the generic Linux values ARM uses).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MapFlags: u32 {
        const SHARED = 0x01;
        const PRIVATE = 0x02;
        const SHARED_VALIDATE = 0x03;
        const FIXED = 0x10;
        const ANONYMOUS = 0x20;
        const GROWSDOWN = 0x0100;
        const DENYWRITE = 0x0800;
        const EXECUTABLE = 0x1000;
        const LOCKED = 0x2000;
        const NORESERVE = 0x4000;
        const POPULATE = 0x8000;
        const NONBLOCK = 0x1_0000;
        const STACK = 0x2_0000;
        const HUGETLB = 0x4_0000;
        const SYNC = 0x8_0000;
        const FIXED_NOREPLACE = 0x10_0000;
    }
}

/// `MAP_TYPE`: the bits that say shared or private.
const MAP_TYPE: u32 = 0x0f;

/// The file side of a file-backed `mmap`: which file, and how it was opened.
/// What a `munmap` took away, for `free_pgtables`: the doomed VMAs spanned `[start, end)`
/// (from the first one's start, clipped to the range, to the last one's end); `floor` is the
/// end of the VMA left below (`FIRST_USER_ADDRESS` without one) and `ceiling` the start of
/// the one above (`None`: up to `USER_PGTABLES_CEILING`, the top). A page table is freed only
/// if its whole span lies between them, so no remaining VMA loses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub start: usize,
    pub end: usize,
    pub floor: usize,
    pub ceiling: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct MmapFile {
    pub file: Arc<VmFile>,
    /// `FMODE_READ`, `FMODE_WRITE`.
    pub readable: bool,
    pub writable: bool,
    /// The file lives on a `noexec` mount (`path_noexec`).
    pub noexec: bool,
}

/// `calc_vm_prot_bits()`.
fn calc_vm_prot_bits(prot: Prot) -> VmFlags {
    let mut f = VmFlags::empty();
    f.set(VmFlags::READ, prot.contains(Prot::READ));
    f.set(VmFlags::WRITE, prot.contains(Prot::WRITE));
    f.set(VmFlags::EXEC, prot.contains(Prot::EXEC));
    f
}

/// `calc_vm_flag_bits()`.
fn calc_vm_flag_bits(flags: MapFlags) -> VmFlags {
    let mut f = VmFlags::empty();
    f.set(VmFlags::GROWSDOWN, flags.contains(MapFlags::GROWSDOWN));
    f.set(VmFlags::LOCKED, flags.contains(MapFlags::LOCKED));
    f.set(VmFlags::SYNC, flags.contains(MapFlags::SYNC));
    f
}

/// `struct vm_unmapped_area_info` without the cache-colour alignment (the Cortex-A7's caches
/// do not alias, so `align_mask` is always 0 on this board).
#[derive(Clone, Copy, Debug)]
struct UnmappedAreaInfo {
    topdown: bool,
    length: usize,
    low_limit: usize,
    high_limit: usize,
}

/// `arch_mmap_rnd()`: a random page offset of `mmap_rnd_bits` bits from a random number.
pub fn arch_mmap_rnd(mmap_rnd_bits: u32, random: u32) -> usize {
    ((random as usize) & ((1usize << mmap_rnd_bits) - 1)) << PAGE_SHIFT
}

/// `randomize_stack_top()`: the stack top, lowered by up to `STACK_RND_MASK` pages when the
/// task is randomised.
pub fn randomize_stack_top(stack_top: usize, stack_rnd_mask: usize, random: Option<u32>) -> usize {
    let top = page_align(stack_top).unwrap_or(stack_top & PAGE_MASK);
    match random {
        Some(r) => top - (((r as usize) & stack_rnd_mask) << PAGE_SHIFT),
        None => top,
    }
}

impl MmStruct {
    /// `mmap_base()` (mm/util.c, 6.1): the stack rlimit plus the guard gap (and the stack's
    /// randomisation range when randomised), clamped to [128 MiB, STACK_TOP / 6 * 5], below
    /// `STACK_TOP`, less the random offset.
    pub fn mmap_base(&self, rnd: usize, randomize: bool) -> usize {
        let stack_top = self.task_size;
        let mut gap = self.rlimits.stack.unwrap_or(usize::MAX);
        let mut pad = STACK_GUARD_GAP;
        if randomize {
            pad += self.arch.stack_rnd_mask << PAGE_SHIFT;
        }
        if let Some(g) = gap.checked_add(pad) {
            gap = g;
        }
        let max_gap = stack_top / 6 * 5;
        gap = gap.clamp(MIN_GAP, max_gap.max(MIN_GAP));
        page_align(stack_top.saturating_sub(gap).saturating_sub(rnd)).unwrap_or(0)
    }

    /// `arch_pick_mmap_layout()`: top-down below `mmap_base()` unless the stack rlimit is
    /// unlimited (the legacy layout: bottom-up from `TASK_UNMAPPED_BASE`). `random` is the
    /// random number `arch_mmap_rnd()` draws when the task is randomised (`PF_RANDOMIZE`).
    pub fn arch_pick_mmap_layout(&mut self, random: Option<u32>) {
        let rnd = random.map_or(0, |r| arch_mmap_rnd(self.arch.mmap_rnd_bits, r));
        if self.rlimits.stack.is_none() {
            self.legacy_layout = true;
            self.mmap_base = self.arch.task_unmapped_base + rnd;
        } else {
            self.legacy_layout = false;
            self.mmap_base = self.mmap_base(rnd, random.is_some());
        }
    }

    /// `vm_unmapped_area()`: the highest (top-down) or lowest gap of `length` bytes within
    /// `[low_limit, high_limit)`, a stack's guard gap counted as taken. O(log n) in the VMAs:
    /// the VMA tree skips every subtree whose gaps are too short, as 6.1's
    /// `mas_empty_area_rev` / `mas_empty_area` skip maple nodes.
    fn vm_unmapped_area(&self, info: UnmappedAreaInfo) -> Result<usize, Errno> {
        let UnmappedAreaInfo { topdown, length, low_limit, high_limit } = info;
        if high_limit < low_limit || high_limit - low_limit < length || length == 0 {
            return Err(Errno::ENOMEM);
        }
        let found = if topdown {
            self.vmas.gap_topdown(length, low_limit, high_limit, self.task_size)
        } else {
            self.vmas.gap_bottomup(length, low_limit, high_limit, self.task_size)
        };
        found.ok_or(Errno::ENOMEM)
    }

    /// Whether the hint `addr` (already page aligned) can be used as asked.
    fn hint_fits(&self, addr: usize, len: usize) -> bool {
        self.task_size - len >= addr
            && self
                .find_vma(addr)
                .is_none_or(|v| addr.checked_add(len).is_some_and(|e| e <= vm_start_gap(v)))
    }

    /// ARM's `arch_get_unmapped_area_topdown()` / `arch_get_unmapped_area()` (no colour
    /// alignment: the caches do not alias).
    fn arch_get_unmapped_area(
        &self,
        addr: usize,
        len: usize,
        flags: MapFlags,
    ) -> Result<usize, Errno> {
        if len > self.task_size {
            return Err(Errno::ENOMEM);
        }
        if flags.contains(MapFlags::FIXED) {
            return Ok(addr);
        }
        if addr != 0 {
            if let Some(a) = page_align(addr) {
                if self.hint_fits(a, len) {
                    return Ok(a);
                }
            }
        }
        if self.legacy_layout {
            return self.vm_unmapped_area(UnmappedAreaInfo {
                topdown: false,
                length: len,
                low_limit: self.mmap_base,
                high_limit: self.task_size,
            });
        }
        self.vm_unmapped_area(UnmappedAreaInfo {
            topdown: true,
            length: len,
            low_limit: self.arch.first_user_address,
            high_limit: self.mmap_base,
        })
        .or_else(|_| {
            // A failed top-down search falls back to bottom-up above mmap_base.
            self.vm_unmapped_area(UnmappedAreaInfo {
                topdown: false,
                length: len,
                low_limit: self.mmap_base,
                high_limit: self.task_size,
            })
        })
    }

    /// `get_unmapped_area()`: `arch_mmap_check` (ARM: `MAP_FIXED` below `FIRST_USER_ADDRESS` is
    /// `EINVAL`), the layout's search, the `TASK_SIZE` and alignment checks and
    /// `security_mmap_addr` (below `dac_mmap_min_addr` needs `CAP_SYS_RAWIO`: `EPERM`).
    pub fn get_unmapped_area(
        &self,
        addr: usize,
        len: usize,
        flags: MapFlags,
    ) -> Result<usize, Errno> {
        if flags.contains(MapFlags::FIXED) && addr < self.arch.first_user_address {
            return Err(Errno::EINVAL);
        }
        if len > self.task_size {
            return Err(Errno::ENOMEM);
        }
        let addr = self.arch_get_unmapped_area(addr, len, flags)?;
        if addr > self.task_size - len {
            return Err(Errno::ENOMEM);
        }
        if offset_in_page(addr) != 0 {
            return Err(Errno::EINVAL);
        }
        if addr < self.dac_mmap_min_addr && !self.cap_sys_rawio {
            return Err(Errno::EPERM);
        }
        Ok(addr)
    }

    /// `round_hint_to_min()`: a hint below `mmap_min_addr` becomes `mmap_min_addr`.
    fn round_hint_to_min(&self, hint: usize) -> usize {
        let hint = hint & PAGE_MASK;
        if hint != 0 && hint < self.mmap_min_addr {
            return page_align(self.mmap_min_addr).unwrap_or(hint);
        }
        hint
    }

    /// `may_expand_vm()`: `RLIMIT_AS` on the whole, `RLIMIT_DATA` on data mappings.
    fn may_expand_vm(&self, flags: VmFlags, npages: usize) -> bool {
        let pages_of = |limit: Option<usize>| limit.map_or(usize::MAX, |l| l >> PAGE_SHIFT);
        if self.total_vm.saturating_add(npages) > pages_of(self.rlimits.address_space) {
            return false;
        }
        if flags.is_data_mapping()
            && self.data_vm.saturating_add(npages) > pages_of(self.rlimits.data)
        {
            return false;
        }
        true
    }

    /// Pages of `[start, end)` already mapped (`count_vma_pages_range()`).
    fn count_vma_pages_range(&self, start: usize, end: usize) -> usize {
        let mut n = 0;
        let mut at = start;
        while let Some(v) = self.find_vma_intersection(at, end) {
            n += (v.vm_end.min(end) - v.vm_start.max(start)) >> PAGE_SHIFT;
            at = v.vm_end;
        }
        n
    }

    /// `do_mmap()` + `mmap_region()`: checks, placement, the VMA's flags, then the mapping
    /// (replacing what `MAP_FIXED` covers, merged with its neighbours where `vma_merge` would).
    /// `file` with its page offset for a file mapping, `None` for anonymous memory; a
    /// `MAP_SHARED|MAP_ANONYMOUS` mapping gets the file [`MmStruct::shmem_zero_setup`] makes
    /// for its length, as 6.1's `mmap_region` calls `shmem_zero_setup` once the range is known.
    pub fn do_mmap(
        &mut self,
        addr: usize,
        len: usize,
        prot: Prot,
        flags: MapFlags,
        file: Option<(&MmapFile, u64)>,
    ) -> Result<usize, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut prot = prot;
        if prot.contains(Prot::READ)
            && self.read_implies_exec
            && !file.is_some_and(|(f, _)| f.noexec)
        {
            prot |= Prot::EXEC;
        }
        let mut flags = flags;
        if flags.contains(MapFlags::FIXED_NOREPLACE) {
            flags |= MapFlags::FIXED;
        }
        let addr =
            if flags.contains(MapFlags::FIXED) { addr } else { self.round_hint_to_min(addr) };
        let len = match page_align(len) {
            Some(l) if l != 0 => l,
            _ => return Err(Errno::ENOMEM),
        };
        let npages = len >> PAGE_SHIFT;
        let mut pgoff = file.map_or(0, |(_, p)| p);
        let mut vm_file = file.map(|(f, _)| f.file.clone());
        if pgoff.checked_add(npages as u64).is_none() {
            return Err(Errno::EOVERFLOW);
        }
        if self.map_count() > self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let addr = self.get_unmapped_area(addr, len, flags)?;
        if flags.contains(MapFlags::FIXED_NOREPLACE)
            && self.find_vma_intersection(addr, addr + len).is_some()
        {
            return Err(Errno::EEXIST);
        }

        let mut vm_flags = calc_vm_prot_bits(prot)
            | calc_vm_flag_bits(flags)
            | self.def_flags
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC;
        let map_type = flags.bits() & MAP_TYPE;
        let validate = map_type == MapFlags::SHARED_VALIDATE.bits();
        let shared = map_type == MapFlags::SHARED.bits() || validate;
        // Anonymous memory knows only MAP_SHARED and MAP_PRIVATE.
        if (!shared && map_type != MapFlags::PRIVATE.bits()) || (validate && file.is_none()) {
            return Err(Errno::EINVAL);
        }
        match file {
            Some((f, _)) => {
                if shared {
                    if prot.contains(Prot::WRITE) && !f.writable {
                        return Err(Errno::EACCES);
                    }
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                    if !f.writable {
                        vm_flags.remove(VmFlags::MAYWRITE | VmFlags::SHARED);
                    }
                }
                if !f.readable {
                    return Err(Errno::EACCES);
                }
                if f.noexec {
                    if vm_flags.contains(VmFlags::EXEC) {
                        return Err(Errno::EPERM);
                    }
                    vm_flags.remove(VmFlags::MAYEXEC);
                }
                if vm_flags.contains(VmFlags::GROWSDOWN) {
                    return Err(Errno::EINVAL);
                }
            }
            None => {
                if shared {
                    if vm_flags.contains(VmFlags::GROWSDOWN) {
                        return Err(Errno::EINVAL);
                    }
                    pgoff = 0;
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                    if let Some(setup) = self.shmem_zero_setup {
                        vm_file = Some(setup(len)?);
                    }
                } else {
                    pgoff = (addr >> PAGE_SHIFT) as u64;
                }
            }
        }
        if flags.contains(MapFlags::NORESERVE) {
            vm_flags |= VmFlags::NORESERVE;
        }
        let fixed = flags.contains(MapFlags::FIXED);
        self.mmap_region(fixed, vm_file, addr, len, vm_flags, pgoff)
    }

    /// `mmap_region()`: make `[addr, addr + len)` one mapping with `vm_flags`.
    ///
    /// `fixed` (`MAP_FIXED`): the range may hold VMAs, which are unmapped first. Otherwise it
    /// lies in one gap (the search or the hint check put it there), and the VMA goes in with
    /// one look at each neighbour (`insert_in_gap`).
    fn mmap_region(
        &mut self,
        fixed: bool,
        file: Option<Arc<VmFile>>,
        addr: usize,
        len: usize,
        mut vm_flags: VmFlags,
        pgoff: u64,
    ) -> Result<usize, Errno> {
        let npages = len >> PAGE_SHIFT;
        if !self.may_expand_vm(vm_flags, npages) {
            let already = self.count_vma_pages_range(addr, addr + len);
            if !self.may_expand_vm(vm_flags, npages - already) {
                return Err(Errno::ENOMEM);
            }
        }
        if fixed {
            self.munmap_range(addr, addr + len).map_err(|_| Errno::ENOMEM)?;
        }
        debug_assert!(self.find_vma_intersection(addr, addr + len).is_none());
        // accountable_mapping(): private writable memory is charged (VM_ACCOUNT).
        if vm_flags & (VmFlags::NORESERVE | VmFlags::SHARED | VmFlags::WRITE) == VmFlags::WRITE {
            vm_flags |= VmFlags::ACCOUNT;
        }
        let vma = Vma {
            vm_start: addr,
            vm_end: addr + len,
            vm_flags,
            vm_pgoff: pgoff,
            vm_file: file,
            anon_vma: None,
            special: None,
        };
        if fixed {
            let id = self.vmas.insert(vma);
            if !vm_flags.intersects(VmFlags::SPECIAL) {
                self.merge_new_mapping(id);
            }
        } else {
            self.insert_in_gap(vma);
        }
        self.vm_stat_account(vm_flags, npages as isize);
        if vm_flags.contains(VmFlags::LOCKED) {
            self.locked_vm += npages;
        }
        Ok(addr)
    }

    /// A new VMA whose range lies in one gap (no VMA overlaps it or a stack's guard gap above
    /// it): merged with its neighbours as `merge_new_mapping` would (the next VMA tried first,
    /// the previous one then given the next's anon_vma), found with one lookup, and changed in
    /// place as 6.1's `vma_merge` adjusts them: a VMA the new range extends has its start or
    /// end moved, and only a VMA that stays on its own is inserted.
    fn insert_in_gap(&mut self, mut vma: Vma) {
        let (addr, end) = (vma.vm_start, vma.vm_end);
        let special = vma.vm_flags.intersects(VmFlags::SPECIAL);
        let above = self.vmas.find(addr);
        let below = match above {
            Some(n) => self.vmas.prev(n),
            None => self.vmas.last(),
        };
        let next = above.filter(|&n| !special && Self::can_merge(&vma, self.vmas.get(n)));
        if let Some(n) = next {
            vma.anon_vma = self.vmas.get(n).anon_vma;
        }
        let prev = below.filter(|&p| !special && Self::can_merge(self.vmas.get(p), &vma));
        match (prev, next) {
            (Some(p), Some(n)) => {
                let upper = self.vmas.remove(n);
                self.vmas.modify(p, |v| {
                    v.vm_end = upper.vm_end;
                    if v.anon_vma.is_none() {
                        v.anon_vma = upper.anon_vma;
                    }
                });
            }
            (Some(p), None) => self.vmas.modify(p, |v| v.vm_end = end),
            (None, Some(n)) => self.vmas.modify(n, |v| {
                v.vm_start = addr;
                v.vm_pgoff = vma.vm_pgoff;
            }),
            (None, None) => {
                self.vmas.insert(vma);
            }
        }
    }

    /// Whether `lo` and `hi` (adjacent, `lo` below) may become one VMA: `is_mergeable_vma()`
    /// (same flags, same file, no special mapping), `is_mergeable_anon_vma()` (at most one
    /// anon_vma between them) and contiguous page offsets, as `can_vma_merge_after/before` ask.
    fn can_merge(lo: &Vma, hi: &Vma) -> bool {
        lo.vm_end == hi.vm_start
            && lo.vm_flags == hi.vm_flags
            && !lo.vm_flags.intersects(VmFlags::SPECIAL)
            && lo.special.is_none()
            && hi.special.is_none()
            && lo.vm_file == hi.vm_file
            && (lo.anon_vma.is_none() || hi.anon_vma.is_none() || lo.anon_vma == hi.anon_vma)
            && lo.vm_pgoff + lo.pages() as u64 == hi.vm_pgoff
    }

    /// Join the VMAs `lo` and `hi` (adjacent, checked mergeable): `lo` takes `hi`'s range in
    /// place; returns `lo`.
    fn join(&mut self, lo: VmaId, hi: VmaId) -> VmaId {
        let upper = self.vmas.remove(hi);
        self.vmas.modify(lo, |v| {
            v.vm_end = upper.vm_end;
            if v.anon_vma.is_none() {
                v.anon_vma = upper.anon_vma;
            }
        });
        lo
    }

    /// The VMA just below `id`, if it ends where `id` starts.
    fn prev_adjacent(&self, id: VmaId) -> Option<VmaId> {
        let start = self.vmas.get(id).vm_start;
        self.vmas.prev(id).filter(|&p| self.vmas.get(p).vm_end == start)
    }

    /// The VMA starting where `id` ends.
    fn next_adjacent(&self, id: VmaId) -> Option<VmaId> {
        let end = self.vmas.get(id).vm_end;
        self.vmas.next(id).filter(|&n| self.vmas.get(n).vm_start == end)
    }

    /// `mmap_region()`'s merge: the next VMA is tried first, then the previous one (given the
    /// anon_vma of the next when that was taken).
    fn merge_new_mapping(&mut self, id: VmaId) {
        let new = self.vmas.get(id);
        let next = self.next_adjacent(id).filter(|&n| Self::can_merge(new, self.vmas.get(n)));
        let prev = self.prev_adjacent(id).filter(|&p| {
            let mut probe = new.clone();
            if let Some(n) = next {
                probe.anon_vma = self.vmas.get(n).anon_vma;
            }
            Self::can_merge(self.vmas.get(p), &probe)
        });
        let mut at = id;
        if let Some(p) = prev {
            at = self.join(p, id);
        }
        if let Some(n) = next {
            self.join(at, n);
        }
    }

    /// `vma_merge()` for a range whose flags just changed: the previous VMA first, then the
    /// next. Returns the VMA that holds the range now.
    fn merge_changed(&mut self, id: VmaId) -> VmaId {
        let mut at = id;
        if let Some(p) = self.prev_adjacent(at) {
            if Self::can_merge(self.vmas.get(p), self.vmas.get(at)) {
                at = self.join(p, at);
            }
        }
        if let Some(n) = self.next_adjacent(at) {
            if Self::can_merge(self.vmas.get(at), self.vmas.get(n)) {
                self.join(at, n);
            }
        }
        at
    }

    /// `__split_vma()`: the VMA `id` becomes `[start, at)` in place and a new VMA `[at, end)`,
    /// which is returned.
    fn split_vma(&mut self, id: VmaId, at: usize) -> VmaId {
        let vma = self.vmas.get(id);
        debug_assert!(vma.vm_start < at && at < vma.vm_end);
        let mut upper = vma.clone();
        upper.vm_start = at;
        upper.vm_pgoff += ((at - vma.vm_start) >> PAGE_SHIFT) as u64;
        self.vmas.modify(id, |v| v.vm_end = at);
        self.vmas.insert(upper)
    }

    /// `munmap`'s accounting for `pages` pages of a mapping with `flags` going away.
    fn unaccount(&mut self, flags: VmFlags, pages: usize) {
        if flags.contains(VmFlags::LOCKED) {
            self.locked_vm -= pages;
        }
        self.vm_stat_account(flags, -(pages as isize));
    }

    /// Unmap `[start, end)` (both page aligned), as `do_mas_align_munmap` does: the VMAs
    /// inside go, and one reaching past either end keeps its outer part. That part is the
    /// same VMA with its end or start moved in place (`__split_vma` followed by the removal of
    /// the inner piece, without inserting that piece first); only a hole inside one VMA makes
    /// a new one. `ENOMEM` when that would pass `max_map_count`.
    fn munmap_range(&mut self, start: usize, end: usize) -> Result<Option<Unmapped>, Errno> {
        let Some(id) = self.vmas.find(start).filter(|&id| self.vmas.get(id).vm_start < end) else {
            return Ok(None);
        };
        let (vs, ve, flags) = {
            let v = self.vmas.get(id);
            (v.vm_start, v.vm_end, v.vm_flags)
        };
        if start > vs && end < ve && self.map_count() >= self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        self.update_hiwater_vm();
        let first_key = vs.max(start);
        // `below` ends at or under `start` once done, `cur` walks the VMAs from there.
        let (below, mut cur, mut last_end);
        if start > vs {
            if end < ve {
                // A hole inside one VMA: its part above is a new VMA (`__split_vma`).
                let mut upper = self.vmas.get(id).clone();
                upper.vm_start = end;
                upper.vm_pgoff += ((end - vs) >> PAGE_SHIFT) as u64;
                self.vmas.modify(id, |v| v.vm_end = start);
                self.vmas.insert(upper);
                self.unaccount(flags, (end - start) >> PAGE_SHIFT);
                let (floor, ceiling) = (start, Some(end));
                return Ok(Some(Unmapped { start, end, floor, ceiling }));
            }
            self.vmas.modify(id, |v| v.vm_end = start);
            self.unaccount(flags, (ve - start) >> PAGE_SHIFT);
            (below, cur, last_end) = (Some(id), self.vmas.next(id), ve);
        } else {
            (below, cur, last_end) = (self.vmas.prev(id), Some(id), start);
        }
        // The VMAs from `start` on, one at a time: no list to allocate.
        while let Some(c) = cur {
            let (cs, ce, flags) = {
                let v = self.vmas.get(c);
                (v.vm_start, v.vm_end, v.vm_flags)
            };
            if cs >= end {
                break;
            }
            if ce > end {
                self.vmas.modify(c, |v| {
                    v.vm_pgoff += ((end - cs) >> PAGE_SHIFT) as u64;
                    v.vm_start = end;
                });
                self.unaccount(flags, (end - cs) >> PAGE_SHIFT);
                last_end = end;
                break;
            }
            let next = self.vmas.next(c);
            self.vmas.remove(c);
            self.unaccount(flags, (ce - cs) >> PAGE_SHIFT);
            last_end = ce;
            cur = next;
        }
        let floor = below.map_or(self.arch.first_user_address, |b| self.vmas.get(b).vm_end);
        let ceiling = cur.map(|c| self.vmas.get(c).vm_start);
        Ok(Some(Unmapped { start: first_key, end: last_end, floor, ceiling }))
    }

    /// `do_munmap()` / `sys_munmap`: `EINVAL` for an unaligned start, a range past `TASK_SIZE`
    /// or a zero length; unmapping nothing is fine.
    pub fn do_munmap(&mut self, start: usize, len: usize) -> Result<(), Errno> {
        self.do_vmi_munmap(start, len).map(|_| ())
    }

    /// `do_vmi_munmap()`: `do_munmap`, reporting what went (`None` when no VMA was in the
    /// range) so that the caller can free the page tables no VMA uses any more.
    pub fn do_vmi_munmap(&mut self, start: usize, len: usize) -> Result<Option<Unmapped>, Errno> {
        if offset_in_page(start) != 0 || start > self.task_size || len > self.task_size - start {
            return Err(Errno::EINVAL);
        }
        let len = page_align(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let unmapped = self.munmap_range(start, start + len);
        // No VMA is held here: the tree may give back the nodes of VMAs unmapped before.
        self.vmas.shrink();
        unmapped
    }

    /// `do_mprotect_pkey()` with `mprotect_fixup()`: new r/w/x bits on every VMA of the range
    /// (`EACCES` beyond what the mapping may have, `ENOMEM` at a hole after the VMAs before it
    /// were changed, as Linux leaves them), splitting and merging as Linux does.
    pub fn mprotect(&mut self, start: usize, len: usize, prot: Prot) -> Result<(), Errno> {
        let grows = prot & (Prot::GROWSDOWN | Prot::GROWSUP);
        let prot = prot - (Prot::GROWSDOWN | Prot::GROWSUP);
        if grows == Prot::GROWSDOWN | Prot::GROWSUP {
            return Err(Errno::EINVAL);
        }
        if offset_in_page(start) != 0 {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let len = page_align(len).ok_or(Errno::ENOMEM)?;
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        if !(prot - (Prot::READ | Prot::WRITE | Prot::EXEC | Prot::SEM)).is_empty() {
            return Err(Errno::EINVAL);
        }
        let mut start = start;
        let vma = self.find_vma(start).cloned().ok_or(Errno::ENOMEM)?;
        if grows.contains(Prot::GROWSDOWN) {
            if vma.vm_start >= end {
                return Err(Errno::ENOMEM);
            }
            start = vma.vm_start;
            if !vma.vm_flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
        } else if vma.vm_start > start || grows.contains(Prot::GROWSUP) {
            // No VMA grows up on this architecture.
            return Err(if vma.vm_start > start { Errno::ENOMEM } else { Errno::EINVAL });
        }
        let rier = self.read_implies_exec && prot.contains(Prot::READ);
        let mut nstart = start;
        loop {
            let id = self.vmas.find(nstart).ok_or(Errno::ENOMEM)?;
            let vma = self.vmas.get(id);
            if vma.vm_start > nstart {
                return Err(Errno::ENOMEM);
            }
            let mut prot = prot;
            if rier && vma.vm_flags.contains(VmFlags::MAYEXEC) {
                prot |= Prot::EXEC;
            }
            let newflags = calc_vm_prot_bits(prot) | (vma.vm_flags - VmFlags::ACCESS);
            // VM_MAY* shifted onto VM_*: nothing beyond what the mapping may have.
            let may = VmFlags::from_bits_truncate(newflags.bits() >> 4);
            if !(newflags & (VmFlags::ACCESS - may)).is_empty() {
                return Err(Errno::EACCES);
            }
            let tmp = vma.vm_end.min(end);
            let merged_end = self.mprotect_fixup(id, nstart, tmp, newflags)?;
            nstart = tmp.max(merged_end);
            if nstart >= end {
                return Ok(());
            }
            match self.find_vma(merged_end) {
                Some(v) if v.vm_start == nstart => {}
                _ => return Err(Errno::ENOMEM),
            }
        }
    }

    /// `mprotect_fixup()` on the VMA `id` for `[start, end)`; returns the end of the VMA that
    /// now holds the range (Linux's `prev->vm_end`).
    fn mprotect_fixup(
        &mut self,
        id: VmaId,
        start: usize,
        end: usize,
        mut newflags: VmFlags,
    ) -> Result<usize, Errno> {
        let vma = self.vmas.get(id).clone();
        let vstart = vma.vm_start;
        let oldflags = vma.vm_flags;
        if newflags == oldflags {
            return Ok(vma.vm_end);
        }
        let nrpages = (end - start) >> PAGE_SHIFT;
        if newflags.contains(VmFlags::WRITE) {
            if !self.may_expand_vm(newflags, nrpages) && self.may_expand_vm(oldflags, nrpages) {
                return Err(Errno::ENOMEM);
            }
            if !oldflags.intersects(
                VmFlags::ACCOUNT
                    | VmFlags::WRITE
                    | VmFlags::HUGETLB
                    | VmFlags::SHARED
                    | VmFlags::NORESERVE,
            ) {
                newflags |= VmFlags::ACCOUNT;
            }
        }
        // Would vma_merge() absorb the piece into a neighbour (no split needed on that side)?
        let pgoff = vma.vm_pgoff + ((start - vstart) >> PAGE_SHIFT) as u64;
        let piece = Vma {
            vm_start: start,
            vm_end: end,
            vm_flags: newflags,
            vm_pgoff: pgoff,
            ..vma.clone()
        };
        let special = newflags.intersects(VmFlags::SPECIAL);
        let prev_takes = !special
            && start == vstart
            && self.prev_adjacent(id).is_some_and(|p| Self::can_merge(self.vmas.get(p), &piece));
        let next_takes = !special
            && end == vma.vm_end
            && self.next_adjacent(id).is_some_and(|n| Self::can_merge(&piece, self.vmas.get(n)));
        let split_start = start != vstart && !next_takes;
        let split_end = end != vma.vm_end && !prev_takes;
        if (split_start || split_end) && self.map_count() >= self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let mut piece = id;
        if start != vstart {
            piece = self.split_vma(id, start);
        }
        if end != vma.vm_end {
            self.split_vma(piece, end);
        }
        // The range and VM_GROWSDOWN stay: the tree's gap values do not change.
        self.vmas.get_mut(piece).vm_flags = newflags;
        self.vm_stat_account(oldflags, -(nrpages as isize));
        self.vm_stat_account(newflags, nrpages as isize);
        if !special {
            piece = self.merge_changed(piece);
        }
        Ok(self.vmas.get(piece).vm_end)
    }

    /// `check_brk_limits()`: the range must be mappable at that fixed address.
    fn check_brk_limits(&self, addr: usize, len: usize) -> Result<(), Errno> {
        self.get_unmapped_area(addr, len, MapFlags::FIXED).map(|_| ())
    }

    /// `do_brk_flags()`: anonymous data pages at `[addr, addr + len)`, growing `brkvma` when it
    /// ends at `addr` and may take them.
    fn do_brk_flags(
        &mut self,
        brkvma: Option<VmaId>,
        addr: usize,
        len: usize,
        flags: VmFlags,
    ) -> Result<(), Errno> {
        let flags = flags | VmFlags::DATA_DEFAULT | VmFlags::ACCOUNT | self.def_flags;
        let npages = len >> PAGE_SHIFT;
        if !self.may_expand_vm(flags, npages) || self.map_count() > self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let new = Vma {
            vm_start: addr,
            vm_end: addr + len,
            vm_flags: flags,
            vm_pgoff: (addr >> PAGE_SHIFT) as u64,
            vm_file: None,
            anon_vma: None,
            special: None,
        };
        match brkvma.filter(|&b| Self::can_merge(self.vmas.get(b), &new)) {
            Some(b) => self.vmas.modify(b, |v| v.vm_end = addr + len),
            None => {
                self.vmas.insert(new);
            }
        }
        self.vm_stat_account(flags, npages as isize);
        if flags.contains(VmFlags::LOCKED) {
            self.locked_vm += npages;
        }
        Ok(())
    }

    /// `vm_brk_flags()`: what the ELF loader uses for the bss. Replaces whatever is there and,
    /// as in 6.1, never merges with the VMA below (its merge test compares against the bare
    /// `flags`). Only `VM_EXEC` may be asked for.
    pub fn vm_brk_flags(
        &mut self,
        addr: usize,
        request: usize,
        flags: VmFlags,
    ) -> Result<(), Errno> {
        let len = page_align(request).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        if !(flags - VmFlags::EXEC).is_empty() {
            return Err(Errno::EINVAL);
        }
        self.check_brk_limits(addr, len)?;
        self.munmap_range(addr, addr + len)?;
        self.do_brk_flags(None, addr, len, flags)
    }

    /// `sys_brk()`: move the break. Returns the new break, or the old one when the request is
    /// refused (below `start_brk`, over `RLIMIT_DATA`, into another mapping or its guard gap).
    pub fn brk(&mut self, brk: usize) -> usize {
        self.brk_unmapped(brk).0
    }

    /// [`Self::brk`], with what a shrink unmapped (`do_brk_munmap`'s region, whose page tables
    /// the caller frees as `unmap_region`'s `free_pgtables` does).
    pub fn brk_unmapped(&mut self, brk: usize) -> (usize, Option<Unmapped>) {
        let mut gone = None;
        (self.do_brk(brk, &mut gone), gone)
    }

    fn do_brk(&mut self, brk: usize, gone: &mut Option<Unmapped>) -> usize {
        let origbrk = self.brk;
        let min_brk = self.start_brk;
        if brk < min_brk {
            return origbrk;
        }
        if let Some(limit) = self.rlimits.data {
            let used = (brk - self.start_brk) + (self.end_data - self.start_data);
            if used > limit {
                return origbrk;
            }
        }
        let (Some(newbrk), Some(oldbrk)) = (page_align(brk), page_align(self.brk)) else {
            return origbrk;
        };
        if oldbrk == newbrk {
            self.brk = brk;
            return brk;
        }
        if brk <= self.brk {
            // Always allow shrinking, if the range is really the brk area's.
            match self.find_vma(newbrk) {
                Some(v) if v.vm_start < oldbrk => {}
                _ => return origbrk,
            }
            self.brk = brk;
            match self.munmap_range(newbrk, oldbrk) {
                Ok(u) => *gone = u,
                Err(_) => {
                    self.brk = origbrk;
                    return origbrk;
                }
            }
            return brk;
        }
        if self.check_brk_limits(oldbrk, newbrk - oldbrk).is_err() {
            return origbrk;
        }
        // The next mapping, guard gap included, must leave a page above the new break.
        if let Some(next) = self.find_vma(oldbrk) {
            let reach = newbrk.saturating_add(PAGE_SIZE);
            if next.vm_start <= (newbrk - 1).saturating_add(PAGE_SIZE + STACK_GUARD_GAP)
                && reach > vm_start_gap(next)
            {
                return origbrk;
            }
        }
        // Linux looks for the brk VMA no lower than start_brk: the bss below never grows.
        let brkvma = self.vmas.last_below(oldbrk).filter(|&b| {
            let v = self.vmas.get(b);
            v.vm_start >= self.start_brk && v.vm_end == oldbrk
        });
        if self.do_brk_flags(brkvma, oldbrk, newbrk - oldbrk, VmFlags::empty()).is_err() {
            return origbrk;
        }
        self.brk = brk;
        brk
    }

    /// `expand_downwards()`: grow the stack VMA starting at `vstart` down to `address`
    /// (`EPERM` below `mmap_min_addr`; `ENOMEM` into another mapping's guard gap, past the stack
    /// rlimit or `RLIMIT_AS`).
    pub fn expand_downwards(&mut self, vstart: usize, address: usize) -> Result<(), Errno> {
        let address = address & PAGE_MASK;
        if address < self.mmap_min_addr {
            return Err(Errno::EPERM);
        }
        let id = self.vmas.at(vstart).ok_or(Errno::EFAULT)?;
        let vma = self.vmas.get(id).clone();
        if !vma.vm_flags.contains(VmFlags::GROWSDOWN) {
            return Err(Errno::EFAULT);
        }
        if let Some(p) = self.vmas.prev(id).map(|p| self.vmas.get(p)) {
            if !p.vm_flags.contains(VmFlags::GROWSDOWN)
                && p.vm_flags.is_accessible()
                && (address < p.vm_end || address - p.vm_end < STACK_GUARD_GAP)
            {
                return Err(Errno::ENOMEM);
            }
        }
        if address >= vma.vm_start {
            return Ok(());
        }
        let size = vma.vm_end - address;
        let grow = (vma.vm_start - address) >> PAGE_SHIFT;
        if grow as u64 > vma.vm_pgoff {
            return Err(Errno::ENOMEM);
        }
        // acct_stack_growth()
        if !self.may_expand_vm(vma.vm_flags, grow)
            || size > self.rlimits.stack.unwrap_or(usize::MAX)
        {
            return Err(Errno::ENOMEM);
        }
        self.vmas.modify(id, |v| {
            v.vm_start = address;
            v.vm_pgoff -= grow as u64;
        });
        if vma.vm_flags.contains(VmFlags::LOCKED) {
            self.locked_vm += grow;
        }
        self.vm_stat_account(vma.vm_flags, grow as isize);
        Ok(())
    }

    /// The fault path's stack rule (`find_extend_vma` / ARM's `__do_page_fault`): an address
    /// below a stack VMA grows it. Returns the VMA's start after the growth.
    pub fn find_extend_vma(&mut self, addr: usize) -> Option<usize> {
        let vma = self.find_vma(addr)?;
        if vma.vm_start <= addr {
            return Some(vma.vm_start);
        }
        if !vma.vm_flags.contains(VmFlags::GROWSDOWN) || addr < self.arch.first_user_address {
            return None;
        }
        let vstart = vma.vm_start;
        self.expand_downwards(vstart, addr).ok()?;
        Some(addr & PAGE_MASK)
    }

    /// `_install_special_mapping()`: a kernel-provided mapping (sigpage, vvar, vdso); `ENOMEM`
    /// if the range is taken.
    pub fn install_special_mapping(
        &mut self,
        addr: usize,
        len: usize,
        flags: VmFlags,
        kind: SpecialMapping,
    ) -> Result<(), Errno> {
        let len = page_align(len).ok_or(Errno::ENOMEM)?;
        if len == 0
            || addr.checked_add(len).is_none_or(|e| e > self.task_size)
            || offset_in_page(addr) != 0
        {
            return Err(Errno::EINVAL);
        }
        if self.find_vma_intersection(addr, addr + len).is_some() {
            return Err(Errno::ENOMEM);
        }
        let vm_flags = flags | self.def_flags | VmFlags::DONTEXPAND;
        self.vmas.insert(Vma {
            vm_start: addr,
            vm_end: addr + len,
            vm_flags,
            vm_pgoff: 0,
            vm_file: None,
            anon_vma: None,
            special: Some(kind),
        });
        self.vm_stat_account(vm_flags, (len >> PAGE_SHIFT) as isize);
        Ok(())
    }

    /// `setup_arg_pages()`: the exec-time stack. The argument strings took `arg_len` bytes
    /// below the top of the temporary stack; the stack VMA is placed to end at `stack_top`
    /// (page aligned), covers those pages and is grown by 128 KiB (or to the stack rlimit).
    /// Returns how far the strings moved (`stack_shift`, from a temporary top at `TASK_SIZE`).
    pub fn setup_arg_pages(
        &mut self,
        stack_top: usize,
        arg_len: usize,
        vm_flags: VmFlags,
    ) -> Result<usize, Errno> {
        let stack_top = page_align(stack_top).ok_or(Errno::ENOMEM)?;
        // The temporary stack ended at STACK_TOP_MAX (TASK_SIZE) and held the strings.
        let tmp_top = self.task_size;
        let tmp_start = (tmp_top - arg_len) & PAGE_MASK;
        let size = tmp_top - tmp_start;
        if stack_top < self.mmap_min_addr || size >= stack_top - self.mmap_min_addr {
            return Err(Errno::ENOMEM);
        }
        let shift = tmp_top - stack_top;
        let start = tmp_start - shift;
        // insert_vm_struct() refuses an overlap.
        if self.find_vma_intersection(start, stack_top).is_some() {
            return Err(Errno::ENOMEM);
        }
        let vm_flags = vm_flags | self.def_flags;
        self.vmas.insert(Vma {
            vm_start: start,
            vm_end: stack_top,
            vm_flags,
            vm_pgoff: (start >> PAGE_SHIFT) as u64,
            vm_file: None,
            anon_vma: None,
            special: None,
        });
        self.vm_stat_account(vm_flags, (size >> PAGE_SHIFT) as isize);
        let rlim_stack = self.rlimits.stack.unwrap_or(usize::MAX) & PAGE_MASK;
        let stack_base = if size + STACK_EXPAND > rlim_stack {
            stack_top - rlim_stack
        } else {
            start - STACK_EXPAND
        };
        self.expand_downwards(start, stack_base).map_err(|_| Errno::EFAULT)?;
        Ok(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::mm_types::{test_arch_mm, Rlimits};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const PAGE_OFFSET_3G: usize = 0xC000_0000;
    const PAGE_OFFSET_2G: usize = 0x8000_0000;
    const PAGE_OFFSET_1G: usize = 0x4000_0000;

    fn mm(page_offset: usize) -> MmStruct {
        let mut mm = MmStruct::new(test_arch_mm(page_offset), Rlimits::DEFAULT);
        mm.arch_pick_mmap_layout(None);
        mm
    }

    fn anon(
        mm: &mut MmStruct,
        addr: usize,
        len: usize,
        prot: Prot,
        extra: MapFlags,
    ) -> Result<usize, Errno> {
        mm.do_mmap(addr, len, prot, MapFlags::PRIVATE | MapFlags::ANONYMOUS | extra, None)
    }

    fn spans(mm: &MmStruct) -> Vec<(usize, usize)> {
        mm.iter().map(|v| (v.vm_start, v.vm_end)).collect()
    }

    #[test]
    fn task_size_and_mmap_base_per_split() {
        // TASK_SIZE = PAGE_OFFSET - 16 MiB; the mmap area ends 128 MiB below it (an 8 MiB stack
        // rlimit plus the guard gap is under the 128 MiB minimum).
        for (po, task, base, legacy) in [
            (PAGE_OFFSET_3G, 0xbf00_0000, 0xb700_0000, 0x4000_0000),
            (PAGE_OFFSET_2G, 0x7f00_0000, 0x7700_0000, 0x2b00_0000),
            (PAGE_OFFSET_1G, 0x3f00_0000, 0x3700_0000, 0x1500_0000),
        ] {
            let m = mm(po);
            assert_eq!(m.task_size, task);
            assert_eq!(m.mmap_base, base, "split {po:#x}");
            assert!(!m.legacy_layout);
            let mut unlimited =
                MmStruct::new(test_arch_mm(po), Rlimits { stack: None, ..Rlimits::DEFAULT });
            unlimited.arch_pick_mmap_layout(None);
            assert!(unlimited.legacy_layout);
            assert_eq!(unlimited.mmap_base, legacy, "TASK_UNMAPPED_BASE on {po:#x}");
        }
    }

    #[test]
    fn mmap_base_follows_the_stack_rlimit_between_the_clamps() {
        let mut m = MmStruct::new(test_arch_mm(PAGE_OFFSET_3G), Rlimits::DEFAULT);
        // 64 MiB + guard: still under 128 MiB (the reference's `ulimit -s 65536` run).
        m.rlimits.stack = Some(64 << 20);
        assert_eq!(m.mmap_base(0, false), 0xb700_0000);
        // 512 MiB + 1 MiB guard.
        m.rlimits.stack = Some(512 << 20);
        assert_eq!(m.mmap_base(0, false), 0xbf00_0000 - (513 << 20));
        // Clamped to TASK_SIZE / 6 * 5.
        m.rlimits.stack = Some(0xf000_0000);
        assert_eq!(m.mmap_base(0, false), page_align(0xbf00_0000 - 0xbf00_0000 / 6 * 5).unwrap());
        // The random offset comes off the base; randomisation also pads the gap by the stack's
        // random range (still under the minimum here).
        m.rlimits.stack = Some(8 << 20);
        assert_eq!(m.mmap_base(0x5000, true), 0xb700_0000 - 0x5000);
        assert_eq!(arch_mmap_rnd(8, 0xffff_ffff), 0xff000);
    }

    #[test]
    fn anonymous_mappings_go_top_down_and_merge() {
        let mut m = mm(PAGE_OFFSET_3G);
        let a = anon(&mut m, 0, 0x10000, Prot::READ | Prot::WRITE, MapFlags::empty()).unwrap();
        assert_eq!(a, 0xb6ff_0000);
        let b = anon(&mut m, 0, 0x1000, Prot::READ | Prot::WRITE, MapFlags::empty()).unwrap();
        assert_eq!(b, 0xb6fe_f000);
        // Same flags, adjacent, no anon_vma: one VMA.
        assert_eq!(spans(&m), [(0xb6fe_f000, 0xb700_0000)]);
        // Different protection: no merge.
        let c = anon(&mut m, 0, 0x1000, Prot::READ, MapFlags::empty()).unwrap();
        assert_eq!(c, 0xb6fe_e000);
        assert_eq!(m.map_count(), 2);
        m.validate().unwrap();
        assert_eq!(m.total_vm, 18);
        assert_eq!(m.data_vm, 17);
    }

    #[test]
    fn hints_below_mmap_min_addr_move_up_and_fixed_below_first_user_address_fails() {
        let mut m = mm(PAGE_OFFSET_3G);
        let rw = Prot::READ | Prot::WRITE;
        // LINUX_USER_FACTS §7: hint 0x1000 -> 0x8000.
        assert_eq!(anon(&mut m, 0x1000, 0x1000, rw, MapFlags::empty()), Ok(0x8000));
        assert_eq!(anon(&mut m, 0, 0x1000, rw, MapFlags::FIXED), Err(Errno::EINVAL));
        assert_eq!(anon(&mut m, 0x1000, 0x1000, rw, MapFlags::FIXED), Err(Errno::EINVAL));
        assert_eq!(anon(&mut m, 0x2000, 0x1000, rw, MapFlags::FIXED), Ok(0x2000));
        assert_eq!(anon(&mut m, 0xbf00_0000, 0x1000, rw, MapFlags::FIXED), Err(Errno::ENOMEM));
        assert_eq!(anon(&mut m, 0x2001, 0x1000, rw, MapFlags::FIXED), Err(Errno::EINVAL));
        // Without CAP_SYS_RAWIO, below dac_mmap_min_addr (4096) is EPERM; 0x2000 is above it.
        m.cap_sys_rawio = false;
        m.dac_mmap_min_addr = 0x10000;
        assert_eq!(anon(&mut m, 0x3000, 0x1000, rw, MapFlags::FIXED), Err(Errno::EPERM));
        m.cap_sys_rawio = true;
        // MAP_FIXED_NOREPLACE over a mapping is EEXIST, next to it fine.
        assert_eq!(anon(&mut m, 0x8000, 0x1000, rw, MapFlags::FIXED_NOREPLACE), Err(Errno::EEXIST));
        assert_eq!(
            anon(&mut m, 0xbeff_f000, 0x1000, rw, MapFlags::FIXED_NOREPLACE),
            Ok(0xbeff_f000)
        );
        assert_eq!(anon(&mut m, 0, 0, rw, MapFlags::empty()), Err(Errno::EINVAL));
        assert_eq!(anon(&mut m, 0, usize::MAX - 10, rw, MapFlags::empty()), Err(Errno::ENOMEM));
        m.validate().unwrap();
    }

    #[test]
    fn map_fixed_replaces_and_splits() {
        let mut m = mm(PAGE_OFFSET_2G);
        let rw = Prot::READ | Prot::WRITE;
        let a = anon(&mut m, 0, 0x10000, rw, MapFlags::empty()).unwrap();
        assert_eq!(a, 0x76ff_0000);
        anon(&mut m, a + 0x4000, 0x2000, Prot::READ, MapFlags::FIXED).unwrap();
        assert_eq!(
            spans(&m),
            [(a, a + 0x4000), (a + 0x4000, a + 0x6000), (a + 0x6000, a + 0x10000)]
        );
        // Back to rw over the same place: the three merge again.
        anon(&mut m, a + 0x4000, 0x2000, rw, MapFlags::FIXED).unwrap();
        assert_eq!(spans(&m), [(a, a + 0x10000)]);
        m.validate().unwrap();
    }

    #[test]
    fn munmap_splits_and_checks_its_arguments() {
        let mut m = mm(PAGE_OFFSET_3G);
        let a = anon(&mut m, 0, 0x10000, Prot::READ, MapFlags::empty()).unwrap();
        m.do_munmap(a + 0x3000, 0x2000).unwrap();
        assert_eq!(spans(&m), [(a, a + 0x3000), (a + 0x5000, a + 0x10000)]);
        assert_eq!(m.do_munmap(a + 1, 0x1000), Err(Errno::EINVAL));
        assert_eq!(m.do_munmap(a, 0), Err(Errno::EINVAL));
        assert_eq!(m.do_munmap(0xbf00_0000 - 0x1000, 0x2000), Err(Errno::EINVAL));
        // Nothing mapped there: fine.
        m.do_munmap(0x10000, 0x1000).unwrap();
        assert_eq!(m.total_vm, 14);
        assert_eq!(m.hiwater_vm, 16);
        m.validate().unwrap();
    }

    #[test]
    fn mprotect_splits_merges_and_refuses_more_than_may() {
        let mut m = mm(PAGE_OFFSET_3G);
        let rw = Prot::READ | Prot::WRITE;
        let a = anon(&mut m, 0, 0x8000, rw, MapFlags::empty()).unwrap();
        m.mprotect(a + 0x2000, 0x2000, Prot::READ).unwrap();
        assert_eq!(
            spans(&m),
            [(a, a + 0x2000), (a + 0x2000, a + 0x4000), (a + 0x4000, a + 0x8000)]
        );
        assert_eq!(m.data_vm, 6);
        // Extending the read-only piece to the left takes pages from the first VMA (case 4).
        m.mprotect(a + 0x1000, 0x1000, Prot::READ).unwrap();
        assert_eq!(
            spans(&m),
            [(a, a + 0x1000), (a + 0x1000, a + 0x4000), (a + 0x4000, a + 0x8000)]
        );
        // Back to rw everywhere: one VMA again; VM_ACCOUNT kept throughout.
        m.mprotect(a, 0x8000, rw).unwrap();
        assert_eq!(spans(&m), [(a, a + 0x8000)]);
        assert!(m.iter().all(|v| v.vm_flags.contains(VmFlags::ACCOUNT)));
        // A hole ends the walk with ENOMEM after the part before it changed.
        m.do_munmap(a + 0x4000, 0x1000).unwrap();
        assert_eq!(m.mprotect(a, 0x8000, Prot::READ), Err(Errno::ENOMEM));
        assert_eq!(m.vma_lookup(a).unwrap().vm_flags & VmFlags::ACCESS, VmFlags::READ);
        assert_eq!(
            m.vma_lookup(a + 0x5000).unwrap().vm_flags & VmFlags::ACCESS,
            VmFlags::READ | VmFlags::WRITE
        );
        assert_eq!(m.mprotect(a + 1, 0x1000, Prot::READ), Err(Errno::EINVAL));
        m.validate().unwrap();

        // A read-only file mapping opened read-only cannot become writable shared.
        let f = MmapFile {
            file: Arc::new(VmFile { pin: None, dev: (0, 2), ino: 7, path: "/f".into() }),
            readable: true,
            writable: false,
            noexec: false,
        };
        let s = m.do_mmap(0, 0x1000, Prot::READ, MapFlags::SHARED, Some((&f, 0))).unwrap();
        assert_eq!(m.mprotect(s, 0x1000, rw), Err(Errno::EACCES));
        assert_eq!(m.do_mmap(0, 0x1000, rw, MapFlags::SHARED, Some((&f, 0))), Err(Errno::EACCES));
        m.validate().unwrap();
    }

    #[test]
    fn anon_vmas_keep_faulted_neighbours_apart() {
        let mut m = mm(PAGE_OFFSET_3G);
        let rw = Prot::READ | Prot::WRITE;
        let a = anon(&mut m, 0, 0x2000, rw, MapFlags::empty()).unwrap();
        m.mprotect(a, 0x1000, Prot::READ).unwrap();
        let x = m.anon_vma_prepare(a).unwrap();
        // find_mergeable_anon_vma: the neighbour differs only in its access flags, so its
        // anon_vma is reused and making the flags equal merges them back.
        assert_eq!(m.anon_vma_prepare(a + 0x1000), Some(x));
        m.mprotect(a, 0x1000, rw).unwrap();
        assert_eq!(m.map_count(), 1);
        // A fresh mapping next to a faulted one merges (it has no anon_vma yet).
        anon(&mut m, 0, 0x1000, rw, MapFlags::empty()).unwrap();
        assert_eq!(m.map_count(), 1);
        // Two VMAs faulted apart get different anon_vmas: a mapping filling the hole
        // between them merges with one only.
        let b = anon(&mut m, 0, 0x3000, Prot::READ, MapFlags::empty()).unwrap();
        m.do_munmap(b + 0x1000, 0x1000).unwrap();
        let (p, q) = (m.anon_vma_prepare(b).unwrap(), m.anon_vma_prepare(b + 0x2000).unwrap());
        assert_ne!(p, q);
        assert_eq!(m.map_count(), 3);
        anon(&mut m, b + 0x1000, 0x1000, Prot::READ, MapFlags::FIXED).unwrap();
        assert_eq!(m.map_count(), 3);
        // A forked child's VMAs have anon_vmas of their own.
        let mut c = m.clone();
        c.anon_vma_fork();
        assert_ne!(c.vma_lookup(b).unwrap().anon_vma, m.vma_lookup(b).unwrap().anon_vma);
        m.validate().unwrap();
    }

    #[test]
    fn brk_grows_its_own_vma_shrinks_and_stops_at_neighbours() {
        let mut m = mm(PAGE_OFFSET_3G);
        // bss pages as the ELF loader maps them, then the break right after.
        m.vm_brk_flags(0x71000, 0x6000, VmFlags::empty()).unwrap();
        m.start_brk = 0x77000;
        m.brk = 0x77000;
        assert_eq!(m.brk(0x77000 + 0x22000), 0x99000);
        // The bss VMA and the brk VMA stay apart (two [heap] lines in the reference).
        assert_eq!(spans(&m), [(0x71000, 0x77000), (0x77000, 0x99000)]);
        assert_eq!(m.brk(0x9a123), 0x9a123);
        assert_eq!(spans(&m), [(0x71000, 0x77000), (0x77000, 0x9b000)]);
        // Same page: only the value moves.
        assert_eq!(m.brk(0x9a800), 0x9a800);
        // Shrink: what went is reported for free_pgtables, the kept part as its floor.
        assert_eq!(
            m.brk_unmapped(0x80000),
            (
                0x80000,
                Some(Unmapped { start: 0x80000, end: 0x9b000, floor: 0x80000, ceiling: None })
            )
        );
        assert_eq!(spans(&m), [(0x71000, 0x77000), (0x77000, 0x80000)]);
        // Growing or a refusal unmaps nothing.
        assert_eq!(m.brk_unmapped(0x70000), (0x80000, None));
        // Below start_brk: refused.
        assert_eq!(m.brk(0x70000), 0x80000);
        // A mapping in the way (with a page to spare required): refused.
        anon(&mut m, 0x90000, 0x1000, Prot::READ, MapFlags::FIXED).unwrap();
        assert_eq!(m.brk(0x90000), 0x80000);
        assert_eq!(m.brk(0x8f000), 0x8f000);
        // RLIMIT_DATA.
        m.rlimits.data = Some(0x12000);
        assert_eq!(m.brk(0x88000), 0x88000);
        assert_eq!(m.brk(0x8a000), 0x88000);
        m.validate().unwrap();
        assert_eq!(m.vm_brk_flags(0x1000, 0x1000, VmFlags::empty()), Err(Errno::EINVAL));
        assert_eq!(m.vm_brk_flags(0x10_0000, 0x1000, VmFlags::WRITE), Err(Errno::EINVAL));
    }

    #[test]
    fn stack_grows_down_within_the_rlimit_and_the_guard_gap() {
        let mut m = mm(PAGE_OFFSET_3G);
        let flags = VmFlags::STACK_FLAGS;
        // One page of strings: [stack] befdf000-bf000000 as in the reference (33 pages).
        assert_eq!(m.setup_arg_pages(0xbf00_0000, 0x70, flags), Ok(0));
        assert_eq!(spans(&m), [(0xbefd_f000, 0xbf00_0000)]);
        assert_eq!(m.stack_vm, 33);
        // The fault path grows it; 8 MiB is the limit.
        assert_eq!(m.find_extend_vma(0xbefd_0004), Some(0xbefd_0000));
        assert_eq!(m.find_extend_vma(0xbf00_0000 - (8 << 20)), Some(0xbf00_0000 - (8 << 20)));
        assert_eq!(m.find_extend_vma(0xbf00_0000 - (8 << 20) - 1), None);
        // A mapping within 256 pages below the stack stops the growth.
        let mut m = mm(PAGE_OFFSET_3G);
        m.setup_arg_pages(0xbf00_0000, 0x70, flags).unwrap();
        anon(&mut m, 0xbee0_0000, 0x1000, Prot::READ, MapFlags::FIXED).unwrap();
        assert_eq!(m.find_extend_vma(0xbef0_1000), Some(0xbef0_1000));
        assert_eq!(m.find_extend_vma(0xbeef_f000), None);
        // ...but not an inaccessible (PROT_NONE) one.
        m.mprotect(0xbee0_0000, 0x1000, Prot::empty()).unwrap();
        assert_eq!(m.find_extend_vma(0xbeef_f000), Some(0xbeef_f000));
        // And a hint that would land in the guard gap is not honoured.
        assert!(!m.hint_fits(0xbee0_1000, 0x1000));
        assert!(m.hint_fits(0xbed0_0000, 0x1000));
        m.validate().unwrap();
    }

    #[test]
    fn the_gap_search_leaves_a_stacks_guard_gap_free() {
        let mut m = mm(PAGE_OFFSET_3G);
        // A stack whose guard gap reaches below mmap_base (0xb7000000).
        m.setup_arg_pages(0xb708_0000, 0x70, VmFlags::STACK_FLAGS).unwrap();
        let stack_start = 0xb708_0000 - 0x21000;
        let a = anon(&mut m, 0, 0x1000, Prot::READ, MapFlags::empty()).unwrap();
        assert_eq!(a, stack_start - STACK_GUARD_GAP - 0x1000);
        // A hint inside the guard gap is not taken either.
        let b = anon(&mut m, stack_start - 0x2000, 0x1000, Prot::READ, MapFlags::empty()).unwrap();
        assert_eq!(b, a - 0x1000);
        // The mappings in the way of growth stop it; once gone, the stack grows and its
        // guard gap moves down with it.
        assert_eq!(m.find_extend_vma(stack_start - 0x10000), None);
        m.do_munmap(a - 0x1000, 0x2000).unwrap();
        m.find_extend_vma(stack_start - 0x10000).unwrap();
        m.validate().unwrap();
        let c = anon(&mut m, 0, 0x1000, Prot::READ, MapFlags::empty()).unwrap();
        assert_eq!(c, stack_start - 0x10000 - STACK_GUARD_GAP - 0x1000);
        m.validate().unwrap();
    }

    #[test]
    fn topdown_search_falls_back_to_bottom_up_and_then_fails() {
        let mut m = mm(PAGE_OFFSET_1G);
        let rw = Prot::READ | Prot::WRITE;
        // Fill below mmap_base (0x37000000) completely.
        anon(&mut m, 0x2000, 0x3700_0000 - 0x2000, rw, MapFlags::FIXED).unwrap();
        let a = anon(&mut m, 0, 0x1000, rw, MapFlags::empty()).unwrap();
        assert_eq!(a, 0x3700_0000, "bottom-up from mmap_base");
        // TASK_SIZE visibly reached: nothing more fits anywhere.
        anon(&mut m, 0x3700_1000, 0x3f00_0000 - 0x3700_1000, rw, MapFlags::FIXED).unwrap();
        assert_eq!(anon(&mut m, 0, 0x1000, rw, MapFlags::empty()), Err(Errno::ENOMEM));
        m.validate().unwrap();
    }

    #[test]
    fn read_implies_exec_and_map_type_rules() {
        let mut m = mm(PAGE_OFFSET_3G);
        m.read_implies_exec = true;
        let a = anon(&mut m, 0, 0x1000, Prot::READ, MapFlags::empty()).unwrap();
        assert!(m.vma_lookup(a).unwrap().vm_flags.contains(VmFlags::EXEC));
        m.mprotect(a, 0x1000, Prot::READ | Prot::WRITE).unwrap();
        assert!(m.vma_lookup(a).unwrap().vm_flags.contains(VmFlags::EXEC | VmFlags::WRITE));
        // Write-only does not imply exec.
        let b = anon(&mut m, 0, 0x1000, Prot::WRITE, MapFlags::empty()).unwrap();
        assert!(!m.vma_lookup(b).unwrap().vm_flags.contains(VmFlags::EXEC));
        // MAP_SHARED_VALIDATE is for files only; no type at all is EINVAL too.
        let rw = Prot::READ | Prot::WRITE;
        assert_eq!(
            m.do_mmap(0, 0x1000, rw, MapFlags::SHARED_VALIDATE | MapFlags::ANONYMOUS, None),
            Err(Errno::EINVAL)
        );
        assert_eq!(m.do_mmap(0, 0x1000, rw, MapFlags::ANONYMOUS, None), Err(Errno::EINVAL));
        assert_eq!(
            m.do_mmap(
                0,
                0x1000,
                rw,
                MapFlags::SHARED | MapFlags::ANONYMOUS | MapFlags::GROWSDOWN,
                None
            ),
            Err(Errno::EINVAL)
        );
        let f = MmapFile {
            file: Arc::new(VmFile { pin: None, dev: (0, 2), ino: 9, path: "/f".into() }),
            readable: true,
            writable: true,
            noexec: false,
        };
        assert_eq!(
            m.do_mmap(0, 0x1000, rw, MapFlags::PRIVATE | MapFlags::GROWSDOWN, Some((&f, 0))),
            Err(Errno::EINVAL)
        );
        let s = m.do_mmap(0, 0x1000, rw, MapFlags::SHARED_VALIDATE, Some((&f, 0))).unwrap();
        assert!(m.vma_lookup(s).unwrap().vm_flags.contains(VmFlags::SHARED | VmFlags::MAYSHARE));
        m.validate().unwrap();
    }

    /// A test `shmem_zero_setup`: a file per call, named as 6.1 names it.
    fn test_shmem(len: usize) -> Result<Arc<VmFile>, Errno> {
        static NEXT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(2);
        let ino = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        assert_eq!(len % PAGE_SIZE, 0);
        Ok(Arc::new(VmFile { pin: None, dev: (0, 1), ino, path: "/dev/zero (deleted)".into() }))
    }

    #[test]
    fn filerss_a_shared_anonymous_mapping_gets_its_own_shmem_file() {
        // mmap_region's shmem_zero_setup: MAP_SHARED|MAP_ANONYMOUS gets a file of its length
        // from page offset 0 (the hint's offset ignored), so two adjacent ones never merge;
        // MAP_PRIVATE|MAP_ANONYMOUS stays anonymous.
        let mut m = mm(PAGE_OFFSET_3G);
        m.shmem_zero_setup = Some(test_shmem);
        let rw = Prot::READ | Prot::WRITE;
        let shared = MapFlags::SHARED | MapFlags::ANONYMOUS;
        let a = m.do_mmap(0, 2 * PAGE_SIZE, rw, shared, None).unwrap();
        let b = m.do_mmap(a - 2 * PAGE_SIZE, 2 * PAGE_SIZE, rw, shared | MapFlags::FIXED, None);
        let b = b.unwrap();
        let (va, vb) = (m.vma_lookup(a).unwrap().clone(), m.vma_lookup(b).unwrap().clone());
        assert_eq!((va.vm_start, va.vm_end, vb.vm_end), (a, a + 2 * PAGE_SIZE, a));
        for v in [&va, &vb] {
            let f = v.vm_file.as_ref().expect("a shmem file");
            assert_eq!((f.dev, f.path.as_str(), v.vm_pgoff), ((0, 1), "/dev/zero (deleted)", 0));
            assert!(v.vm_flags.contains(VmFlags::SHARED | VmFlags::MAYSHARE));
            assert!(!v.is_anonymous());
        }
        assert_ne!(va.vm_file.as_ref().unwrap().ino, vb.vm_file.as_ref().unwrap().ino);
        let p = anon(&mut m, 0, PAGE_SIZE, rw, MapFlags::empty()).unwrap();
        assert!(m.vma_lookup(p).unwrap().is_anonymous());
        m.validate().unwrap();
    }

    #[test]
    fn legacy_layout_is_bottom_up_from_task_unmapped_base() {
        let mut m = MmStruct::new(
            test_arch_mm(PAGE_OFFSET_3G),
            Rlimits { stack: None, ..Rlimits::DEFAULT },
        );
        m.arch_pick_mmap_layout(None);
        let rw = Prot::READ | Prot::WRITE;
        assert_eq!(anon(&mut m, 0, 0x3000, rw, MapFlags::empty()), Ok(0x4000_0000));
        assert_eq!(anon(&mut m, 0, 0x1000, Prot::READ, MapFlags::empty()), Ok(0x4000_3000));
    }

    #[test]
    fn max_map_count_limits_splits() {
        let mut m = mm(PAGE_OFFSET_3G);
        m.max_map_count = 2;
        let a = anon(&mut m, 0, 0x8000, Prot::READ, MapFlags::empty()).unwrap();
        m.mprotect(a, 0x1000, Prot::empty()).unwrap();
        assert_eq!(m.mprotect(a + 0x2000, 0x1000, Prot::empty()), Err(Errno::ENOMEM));
        assert_eq!(m.do_munmap(a + 0x2000, 0x1000), Err(Errno::ENOMEM));
        // Growing the PROT_NONE piece needs no split.
        m.mprotect(a + 0x1000, 0x1000, Prot::empty()).unwrap();
        assert_eq!(m.map_count(), 2);
        m.validate().unwrap();
    }

    // ---- property test against a page-by-page reference model ----

    /// The reference: a sorted Vec of (page, prot, VM_ACCOUNT) for every mapped page; mmap
    /// places by the same top-down rule searched naively.
    #[derive(Default, Clone)]
    struct Model {
        pages: Vec<(usize, (u32, bool))>,
    }

    impl Model {
        fn set(&mut self, start: usize, end: usize, prot: Option<u32>) {
            self.pages.retain(|&(p, _)| p < start || p >= end);
            if let Some(prot) = prot {
                for p in (start..end).step_by(PAGE_SIZE) {
                    self.pages.push((p, (prot, prot & 2 != 0)));
                }
            }
            self.pages.sort();
        }
        /// mprotect keeps VM_ACCOUNT once set and adds it when the pages become writable.
        fn protect(&mut self, start: usize, end: usize, prot: u32) {
            for (p, st) in self.pages.iter_mut() {
                if *p >= start && *p < end {
                    *st = (prot, st.1 || prot & 2 != 0);
                }
            }
        }
        fn mapped(&self, p: usize) -> bool {
            self.pages.binary_search_by_key(&p, |&(q, _)| q).is_ok()
        }
        /// Highest free run of `len` bytes below `top`, at or above `low`.
        fn topdown(&self, len: usize, low: usize, top: usize) -> Option<usize> {
            let mut end = top;
            while end >= low + len {
                let start = end - len;
                match (start..end).step_by(PAGE_SIZE).rev().find(|&p| self.mapped(p)) {
                    None => return Some(start),
                    Some(p) => end = p,
                }
            }
            None
        }
        /// Maximal runs of equal protection: what the VMAs must be.
        fn runs(&self) -> Vec<(usize, usize, (u32, bool))> {
            let mut out: Vec<(usize, usize, (u32, bool))> = Vec::new();
            for &(p, prot) in &self.pages {
                match out.last_mut() {
                    Some(last) if last.1 == p && last.2 == prot => last.1 += PAGE_SIZE,
                    _ => out.push((p, p + PAGE_SIZE, prot)),
                }
            }
            out
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Map { pages: usize, prot: u32 },
        MapFixed { page: usize, pages: usize, prot: u32 },
        Unmap { page: usize, pages: usize },
        Protect { page: usize, pages: usize, prot: u32 },
    }

    /// A 64-page window just below mmap_base keeps the operations colliding.
    const WINDOW: usize = 0xb700_0000 - 64 * PAGE_SIZE;

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..6, 0u32..4).prop_map(|(pages, prot)| Op::Map { pages, prot }),
            (0usize..60, 1usize..6, 0u32..4).prop_map(|(page, pages, prot)| Op::MapFixed {
                page,
                pages,
                prot
            }),
            (0usize..64, 1usize..8).prop_map(|(page, pages)| Op::Unmap { page, pages }),
            (0usize..64, 1usize..8, 0u32..4).prop_map(|(page, pages, prot)| Op::Protect {
                page,
                pages,
                prot
            }),
        ]
    }

    proptest! {
        #[test]
        fn vmas_match_the_reference_model(ops in proptest::collection::vec(op(), 1..40)) {
            let mut m = mm(PAGE_OFFSET_3G);
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Map { pages, prot } => {
                        let len = pages * PAGE_SIZE;
                        let want = model.topdown(len, m.arch.first_user_address, m.mmap_base);
                        let got = anon(&mut m, 0, len, Prot::from_bits_truncate(prot), MapFlags::empty()).ok();
                        prop_assert_eq!(got, want);
                        if let Some(a) = got { model.set(a, a + len, Some(prot)); }
                    }
                    Op::MapFixed { page, pages, prot } => {
                        let a = WINDOW + page * PAGE_SIZE;
                        let len = pages * PAGE_SIZE;
                        prop_assert_eq!(anon(&mut m, a, len, Prot::from_bits_truncate(prot), MapFlags::FIXED), Ok(a));
                        model.set(a, a + len, Some(prot));
                    }
                    Op::Unmap { page, pages } => {
                        let a = WINDOW + page * PAGE_SIZE;
                        m.do_munmap(a, pages * PAGE_SIZE).unwrap();
                        model.set(a, a + pages * PAGE_SIZE, None);
                    }
                    Op::Protect { page, pages, prot } => {
                        let a = WINDOW + page * PAGE_SIZE;
                        let end = (a + pages * PAGE_SIZE).min(WINDOW + 64 * PAGE_SIZE);
                        let all = (a..end).step_by(PAGE_SIZE).all(|p| model.mapped(p));
                        let r = m.mprotect(a, end - a, Prot::from_bits_truncate(prot));
                        if all {
                            prop_assert_eq!(r, Ok(()));
                            model.protect(a, end, prot);
                        } else {
                            prop_assert!(r.is_err());
                            // Linux changed the pages before the first hole.
                            let first_hole = (a..end).step_by(PAGE_SIZE).find(|&p| !model.mapped(p)).unwrap();
                            if first_hole > a && model.mapped(a) {
                                model.protect(a, first_hole, prot);
                            }
                        }
                    }
                }
                m.validate().map_err(TestCaseError::fail)?;
                let got: Vec<(usize, usize, (u32, bool))> = m
                    .iter()
                    .map(|v| {
                        let prot = (v.vm_flags & VmFlags::ACCESS).bits();
                        (v.vm_start, v.vm_end, (prot, v.vm_flags.contains(VmFlags::ACCOUNT)))
                    })
                    .collect();
                prop_assert_eq!(got, model.runs());
            }
        }
    }
}
