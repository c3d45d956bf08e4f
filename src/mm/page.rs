//! `mem_map`: one `Page` descriptor per page frame (32 bytes on the 32-bit kernel, the size of
//! Linux's `struct page` on ARM; 48 on the 64-bit one, whose `mapping`, `index` and `private`
//! are `unsigned long`-wide as Linux's), and `MemMap`, the array of them with PFN <-> descriptor
//! arithmetic. The
//! descriptors carry the buddy allocator's intrusive free-list links, which link an allocated
//! page into its LRU list instead (as `page->lru`), and what reclaim needs: the reverse-mapping
//! key (`mapping`, `index`), `private` and the LRU page flags.
use core::fmt;
use core::mem::size_of;

use bitflags::bitflags;

use super::Pfn;

/// `pgoff_t`: a page's offset in its mapping, Linux's `unsigned long` (64 bits on arm64, where
/// an anonymous page's index is a whole 36-bit virtual page number).
#[allow(non_camel_case_types)]
pub type pgoff_t = usize;

/// `BITS_PER_LONG` of this build: the width of `pgoff_t`, of `page->mapping` and of the words
/// `dump_page` prints.
pub const BITS_PER_LONG: u32 = usize::BITS;

/// "No page" in a link field (`lru_next`, `lru_prev`, a free list's head).
pub const NIL: u32 = u32::MAX;
/// `Page::zone` of a frame no zone spans (a hole in the map, or outside every zone).
pub const NO_ZONE: u8 = u8::MAX;

/// The zone number Linux keeps in `page->flags` (`page_zonenum()`, what `dump_page` prints)
/// for zone slot `slot`: `enum zone_type` numbers only the zones the kernel is built with, so
/// the DMA32 and HighMem slots count only with CONFIG_ZONE_DMA32 and CONFIG_HIGHMEM. (pivm's
/// 32-bit kernels always number the DMA slot, as a CONFIG_ZONE_DMA kernel does.)
pub const fn zone_number(slot: u8, zone_dma32: bool, highmem: bool) -> u8 {
    if slot == NO_ZONE {
        return NO_ZONE;
    }
    let mut n = slot;
    if !zone_dma32 && slot > super::zone::ZoneType::Dma32 as u8 {
        n -= 1;
    }
    if !highmem && slot > super::zone::ZoneType::HighMem as u8 {
        n -= 1;
    }
    n
}

/// [`zone_number`] in this build's configuration: what `Page::zone` holds for a zone slot.
pub const fn page_zonenum(slot: u8) -> u8 {
    zone_number(slot, crate::config::ZONE_DMA32, crate::config::HIGHMEM)
}

/// The zone slot (`ZoneType as u8`) of a zone number of this build (the inverse of
/// [`page_zonenum`] over the configured zones).
pub const fn zone_slot(number: u8) -> u8 {
    if number == NO_ZONE {
        return NO_ZONE;
    }
    let mut slot = number;
    if !crate::config::ZONE_DMA32 && slot >= super::zone::ZoneType::Dma32 as u8 {
        slot += 1;
    }
    if !crate::config::HIGHMEM && slot >= super::zone::ZoneType::HighMem as u8 {
        slot += 1;
    }
    slot
}

bitflags! {
    /// `page->flags` (and the buddy `page_type`), the states pivm needs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct PageFlags: u16 {
        /// Never handed to the allocator (kernel image, mem_map, firmware, holes): freeing
        /// it is a bug. Every page starts reserved, as Linux's `memmap_init` leaves them.
        const PG_reserved = 1 << 0;
        /// Head of a free block on a `free_area` list; `order` says its size.
        const PG_buddy = 1 << 1;
        /// Owned by the slab allocator.
        const PG_slab = 1 << 2;
        /// First page of a compound (`__GFP_COMP`) allocation; `order` says its size.
        const PG_head = 1 << 3;
        /// Any other page of a compound or slab allocation; `lru_next` holds the head's index.
        const PG_tail = 1 << 4;
        /// Filled with `PAGE_POISON` when freed; checked when handed out again.
        const PG_poisoned = 1 << 5;
        /// A migrate type (three bits; pivm's bookkeeping, not a Linux page flag): of the
        /// free list a `PG_buddy` block is on; of its pageblock for a `PG_pcp` block (Linux's
        /// pcppage migratetype); of the request for an allocated head (what the fallback
        /// counts as movable).
        const PG_free_mt = 7 << FREE_MT_SHIFT;
        /// Free on a per-CPU list (`PerCpuPages`), not on a buddy list (pivm's bookkeeping,
        /// so a double free of a cached page is caught).
        const PG_pcp = 1 << 9;
        /// `PG_dcache_clean` (ARM's `PG_arch_1`): the page's data has been cleaned from the
        /// data cache since the kernel last wrote it, so mapping it executable again needs
        /// only the instruction cache invalidated (`__sync_icache_dcache`). Cleared when the
        /// page is handed out, and by the page cache before a write (`flush_dcache_page`).
        const PG_dcache_clean = 1 << 10;
        /// The `PageOwner` of an allocated block's head (four bits; see `PageOwner`).
        const PG_owner = 0xf << OWNER_SHIFT;
    }
}

/// Where the free-list migrate type sits in `PageFlags`.
const FREE_MT_SHIFT: u16 = 6;

/// The `PG_free_mt` bits that record migrate type `mt`.
#[inline(always)]
pub(super) const fn free_mt_flags(mt: usize) -> PageFlags {
    PageFlags::from_bits_truncate((mt as u16) << FREE_MT_SHIFT).intersection(PageFlags::PG_free_mt)
}

/// Where the owner sits in `PageFlags`.
const OWNER_SHIFT: u16 = 12;

/// Who an allocated block belongs to, kept on its head page. Linux marks pages with a page
/// type or flag for some owners (`PG_table`, `PG_slab`, `PG_buddy`...); pivm records one for
/// every subsystem that takes pages, because its console lets a person free any page: a free
/// through one owner's API of a block another owner holds is refused with `BUG: Bad page
/// state` before anything changes. Reserved pages (`PG_reserved`) never reach the allocator;
/// memblock's region names say why they are reserved.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PageOwner {
    /// Not allocated: free, cached on a pcp list, or reserved.
    #[default]
    None = 0,
    /// Kernel code that names no subsystem (`alloc_pages` without an owner).
    Kernel = 1,
    /// Taken with a console command (`alloc_pages`, `frag`, `memtest`...): the only blocks
    /// the console's `free_pages`/`__free_pages` give back.
    Console = 2,
    /// A slab of a kmem_cache (`PG_slab`).
    Slab = 3,
    /// A `kmalloc` larger than the biggest cache (`kmalloc_large`), freed by `kfree`.
    KmallocLarge = 4,
    /// A translation table page (Linux's `PG_table`).
    PageTable = 5,
    /// A page of a `vmalloc` area (a `vm_struct`'s `pages` array).
    Vmalloc = 6,
    /// Taken from the CMA area by `cma_alloc`.
    Cma = 7,
    /// Held by a scenario's workload until `scenario release`.
    Scenario = 8,
    /// A task's kernel stack (`THREAD_SIZE`, order 1).
    KernelStack = 9,
    /// An anonymous page of a process (its own, or a copy-on-write copy).
    Anon = 10,
    /// A file page in the page cache (the initramfs's files).
    PageCache = 11,
}

impl PageOwner {
    /// Every owner, in `repr` order.
    pub const ALL: [PageOwner; 12] = [
        Self::None,
        Self::Kernel,
        Self::Console,
        Self::Slab,
        Self::KmallocLarge,
        Self::PageTable,
        Self::Vmalloc,
        Self::Cma,
        Self::Scenario,
        Self::KernelStack,
        Self::Anon,
        Self::PageCache,
    ];

    /// The name reports use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "nobody",
            Self::Kernel => "the kernel",
            Self::Console => "the console",
            Self::Slab => "slab",
            Self::KmallocLarge => "kmalloc_large",
            Self::PageTable => "a page table",
            Self::Vmalloc => "vmalloc",
            Self::Cma => "cma_alloc",
            Self::Scenario => "the scenario",
            Self::KernelStack => "a kernel stack",
            Self::Anon => "an anonymous mapping",
            Self::PageCache => "the page cache",
        }
    }

    /// The flag bits that record this owner.
    pub const fn flags(self) -> PageFlags {
        PageFlags::from_bits_retain((self as u16) << OWNER_SHIFT)
    }

    const fn from_bits(bits: u16) -> PageOwner {
        let i = (bits >> OWNER_SHIFT) as usize & 0xf;
        if i < Self::ALL.len() {
            Self::ALL[i]
        } else {
            Self::None
        }
    }
}

impl fmt::Display for PageOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names as `%pGp` prints them (`dump_page`'s `flags:` line).
const PAGE_FLAG_NAMES: [(PageFlags, &str); 6] = [
    (PageFlags::PG_reserved, "reserved"),
    (PageFlags::PG_buddy, "buddy"),
    (PageFlags::PG_slab, "slab"),
    (PageFlags::PG_head, "head"),
    (PageFlags::PG_tail, "tail"),
    (PageFlags::PG_poisoned, "poisoned"),
];

/// `struct page`: what the page allocator, slab and reclaim need, in Linux's 32 bytes on the
/// 32-bit kernel. On the 64-bit kernel `mapping`, `index` and `private` are 64 bits as Linux's
/// (a pointer, `pgoff_t`, `unsigned long`) and the descriptor is 48 bytes, where arm64 Linux's is
/// 64: pivm's list links are 32-bit `mem_map` indices (not pointers) and it has no
/// `memcg_data`.
///
/// Field meaning by state:
/// - free block head (`PG_buddy`): `order` = block order; `lru_next`/`lru_prev` link it into
///   its zone's `free_area[order]` list (mem_map indices, `NIL` at the ends); `refcount` = 0.
/// - allocated block head: `refcount` >= 1; `order` = the order it was allocated with (Linux
///   keeps it only for compound pages; pivm keeps it always so a free with the wrong order is
///   caught); links `NIL`.
/// - tail of a compound (`PG_head` on the head) or slab allocation: `PG_tail`, `lru_next` = the
///   head's mem_map index (Linux's `compound_head`), `refcount` = 0.
/// - any other page inside a free or allocated block: all zero but `zone`.
/// - free on a per-CPU list (`PG_pcp`): order 0, `lru_next`/`lru_prev` link it into its zone's
///   pcp list, `refcount` = 0.
/// - reserved: `PG_reserved`, `refcount` = 1 (as Linux's `init_page_count`).
/// - a user page on an LRU list (`LruFlags::PG_lru`): `lru_next`/`lru_prev` link it into its
///   node's list (`mm::swap::Lruvec`), `mapping`/`index` are its reverse-mapping key.
///
/// The last four words are zero whenever the allocator hands a page out or takes it back
/// (the LRU code clears them when a page leaves its list).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub(super) flags: PageFlags,
    pub(super) order: u8,
    /// `page_zonenum()`: Linux's number of the zone the frame belongs to (this build's
    /// `enum zone_type`, [`page_zonenum`] of its slot), or `NO_ZONE`.
    pub(super) zone: u8,
    /// `_refcount`: 0 when free. Plain u32: the node is used under one lock.
    pub(super) refcount: u32,
    pub(super) lru_next: u32,
    pub(super) lru_prev: u32,
    /// `page->mapping` (a pointer in Linux, as wide here): the inode number of a page-cache
    /// page's file (0 for an anonymous page: pivm's rmap needs no `anon_vma`, see `mm::rmap`).
    pub(super) mapping: usize,
    /// `page->index`: a page-cache page's offset in its file in pages; an anonymous page's
    /// user virtual page number, whole on both kernels (the address it was first faulted at,
    /// the same in every mm that maps it: fork keeps addresses and pivm has no mremap).
    pub(super) index: pgoff_t,
    /// `page->private`: the swap entry of a page in the swap cache.
    pub(super) private: usize,
    /// The reclaim page flags (`PG_lru`, `PG_active`...): Linux keeps them in `page->flags`;
    /// pivm's `flags` word is full of allocator bookkeeping, so they share the word where
    /// Linux keeps `_mapcount` with `mapcount`.
    pub(super) lru_flags: LruFlags,
    /// `_mapcount` of an anonymous page: the mappings beyond the first (0 when one address
    /// space maps it, as Linux's `_mapcount` reads 0 for one mapping). Fork, the swap-in of a
    /// page mapped elsewhere, unmap and exit change it in the page itself, so none of them
    /// searches a shared map. 16 bits suffice: a page has at most one mapping per process
    /// and pids stop at `PID_MAX` (32,768).
    pub(super) mapcount: u16,
}

bitflags! {
    /// The page flags reclaim uses (Linux's names; kept in `Page::lru_flags`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct LruFlags: u16 {
        /// On an LRU list.
        const PG_lru = 1 << 0;
        /// On the active list of its type.
        const PG_active = 1 << 1;
        /// Accessed once since it was last found unreferenced (`folio_mark_accessed`,
        /// `folio_check_references`).
        const PG_referenced = 1 << 2;
        /// Backed by swap (anonymous and shmem pages): lives on the anon LRU.
        const PG_swapbacked = 1 << 3;
        /// Newer than its backing store.
        const PG_dirty = 1 << 4;
        /// Deactivated from the active list (part of the workingset).
        const PG_workingset = 1 << 5;
        /// On the unevictable list.
        const PG_unevictable = 1 << 6;
        /// In the swap cache (`private` holds the entry).
        const PG_swapcache = 1 << 7;
        /// Written out by reclaim (`folio_set_reclaim` in `pageout`): when its write ends,
        /// `folio_end_writeback` rotates it to the tail of its inactive list, so the next scan
        /// frees it.
        const PG_reclaim = 1 << 8;
    }
}

/// Bytes of mem_map per page frame.
pub const PAGE_DESCRIPTOR_SIZE: usize = size_of::<Page>();
const _: () = assert!(
    PAGE_DESCRIPTOR_SIZE == descriptor_size(BITS_PER_LONG),
    "struct page is 32 bytes with 32-bit longs (as Linux's on ARM), 48 with 64-bit ones"
);

/// The descriptor's size with `bits_per_long`-bit longs: 32 or 48 bytes.
pub const fn descriptor_size(bits_per_long: u32) -> usize {
    // Four 32-bit words (flags/order/zone, refcount, the two links), three longs, the last
    // 32-bit word (LRU flags, mapcount), rounded up to a long.
    let long = (bits_per_long / 8) as usize;
    (4 * 4 + 3 * long + 4).next_multiple_of(long)
}

/// Most `unsigned long` words a descriptor holds (eight 32-bit ones, six 64-bit ones).
pub const MAX_RAW_WORDS: usize = 8;

/// A descriptor as the `unsigned long` words it occupies in memory, which `dump_page` prints
/// as `raw:` ([`Page::raw_words`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawWords {
    words: [u64; MAX_RAW_WORDS],
    len: usize,
    /// `BITS_PER_LONG` of the layout.
    pub bits_per_long: u32,
}

impl RawWords {
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len]
    }
}

impl Page {
    /// The migrate type of the free list this block is on (valid with `PG_buddy`).
    pub(super) fn free_mt(&self) -> usize {
        usize::from((self.flags & PageFlags::PG_free_mt).bits() >> FREE_MT_SHIFT)
    }

    pub(super) fn set_free_mt(&mut self, mt: usize) {
        self.update_flags(PageFlags::PG_free_mt, free_mt_flags(mt));
    }

    /// Replaces the flags in `clear` with those in `set`: one read and one write of the whole
    /// `flags` field. The allocator's hot paths change a page's flags through this, once per
    /// step and before they write `order`, so that a later read of `flags` is served by one
    /// earlier store: a read that must be pieced together from several narrower stores still
    /// in flight (a byte-wide bit set, then `order` next to it) waits until they reach the
    /// cache, which cost the per-CPU alloc+free pair a third of its time.
    #[inline(always)]
    pub(super) fn update_flags(&mut self, clear: PageFlags, set: PageFlags) {
        self.flags = self.flags.difference(clear).union(set);
    }

    /// Who the block this page heads belongs to (`PageOwner::None` unless allocated).
    pub const fn owner(&self) -> PageOwner {
        PageOwner::from_bits(self.flags.bits())
    }

    /// Records `owner` (the allocator itself writes it with the other flags it sets; a page
    /// moving between the page cache and the swap cache changes it).
    pub(super) fn set_owner(&mut self, owner: PageOwner) {
        self.update_flags(PageFlags::PG_owner, owner.flags());
    }

    /// A frame as `memmap_init` leaves it: reserved, no zone, unlinked.
    pub const RESERVED: Page = Page {
        flags: PageFlags::PG_reserved,
        order: 0,
        zone: NO_ZONE,
        refcount: 1,
        lru_next: NIL,
        lru_prev: NIL,
        mapping: 0,
        index: 0,
        private: 0,
        lru_flags: LruFlags::empty(),
        mapcount: 0,
    };

    pub const fn flags(&self) -> PageFlags {
        self.flags
    }

    /// Block order: meaningful on a free block head, an allocated block head, a compound head.
    pub const fn order(&self) -> u32 {
        self.order as u32
    }

    /// Zone index (`ZoneType as usize`, the node's slot), or `NO_ZONE`.
    pub const fn zone_idx(&self) -> u8 {
        zone_slot(self.zone)
    }

    pub const fn refcount(&self) -> u32 {
        self.refcount
    }

    /// `PageBuddy()`: heads a free block.
    pub const fn is_buddy(&self) -> bool {
        self.flags.contains(PageFlags::PG_buddy)
    }

    pub const fn is_reserved(&self) -> bool {
        self.flags.contains(PageFlags::PG_reserved)
    }

    pub const fn is_slab(&self) -> bool {
        self.flags.contains(PageFlags::PG_slab)
    }

    /// The descriptor as the `bits_per_long`-bit words it occupies in memory (little-endian,
    /// `repr(C)`: eight 32-bit words, or six 64-bit ones), which `dump_page` prints as `raw:`.
    /// [`BITS_PER_LONG`] gives this build's layout; the other width lays the same fields out
    /// as the other kernel does (its longs truncated to 32 bits), so both are host-tested.
    pub fn raw_words(&self, bits_per_long: u32) -> RawWords {
        let long = (bits_per_long / 8) as usize;
        let mut bytes = [0u8; MAX_RAW_WORDS * 8];
        let mut off = 0;
        let mut put = |value: u64, size: usize| {
            off = usize::next_multiple_of(off, size);
            bytes[off..off + size].copy_from_slice(&value.to_le_bytes()[..size]);
            off += size;
        };
        put(self.flags.bits().into(), 2);
        put(self.order.into(), 1);
        put(self.zone.into(), 1);
        put(self.refcount.into(), 4);
        put(self.lru_next.into(), 4);
        put(self.lru_prev.into(), 4);
        put(self.mapping as u64, long);
        put(self.index as u64, long);
        put(self.private as u64, long);
        put(self.lru_flags.bits().into(), 2);
        put(self.mapcount.into(), 2);
        let len = descriptor_size(bits_per_long) / long;
        let mut words = [0u64; MAX_RAW_WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(long)).take(len) {
            let mut le = [0u8; 8];
            le[..long].copy_from_slice(chunk);
            *word = u64::from_le_bytes(le);
        }
        RawWords { words, len, bits_per_long }
    }

    /// The reclaim flags (`PG_lru`, `PG_active`...).
    pub const fn lru_flags(&self) -> LruFlags {
        self.lru_flags
    }

    /// `page_mapcount() - 1` of an anonymous page: the address spaces mapping it beyond the
    /// first.
    pub const fn mapcount(&self) -> u16 {
        self.mapcount
    }

    /// `page_dup_anon_rmap`: one more mapping of this (anonymous) page.
    pub(super) fn dup_rmap(&mut self) {
        self.mapcount += 1;
    }

    /// `page_remove_rmap` of a page other address spaces map too: one mapping fewer, true.
    /// False, changing nothing, when this was the page's only mapping (the caller frees or
    /// uncaches it).
    pub(super) fn remove_shared_rmap(&mut self) -> bool {
        if self.mapcount == 0 {
            return false;
        }
        self.mapcount -= 1;
        true
    }

    /// `page->mapping` (an inode number; 0 for anonymous pages).
    pub const fn mapping(&self) -> usize {
        self.mapping
    }

    /// `page->index` (file offset in pages, or an anonymous page's virtual page number).
    pub const fn index(&self) -> pgoff_t {
        self.index
    }

    /// `page->private` (a swap-cache page's entry).
    pub const fn private(&self) -> usize {
        self.private
    }

    /// `PageTail()`: the mem_map index of the head page, if this is a tail page.
    pub const fn compound_head_index(&self) -> Option<u32> {
        if self.flags.contains(PageFlags::PG_tail) {
            Some(self.lru_next)
        } else {
            None
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::RESERVED
    }
}

/// `%pGp`-style flag names, `|`-separated, then `zone=N` (as Linux 5.12+ appends the zone
/// field): `reserved|zone=1`, `buddy|zone=2`, `zone=1`.
pub struct PageFlagNames<'p>(pub &'p Page);

impl fmt::Display for PageFlagNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, name) in PAGE_FLAG_NAMES.iter() {
            if self.0.flags.contains(*flag) {
                write!(f, "{name}|")?;
            }
        }
        if self.0.zone == NO_ZONE {
            f.write_str("zone=none")
        } else {
            write!(f, "zone={}", self.0.zone)
        }
    }
}

/// The `mem_map` array for PFNs `[base_pfn, base_pfn + pages.len())`. The kernel places it
/// in lowmem with memblock and passes it as `&'static mut [Page]`; tests pass a `Vec`.
pub struct MemMap<'a> {
    pages: &'a mut [Page],
    base_pfn: u64,
}

impl<'a> MemMap<'a> {
    /// Most frames one map can describe: indices are u32 and `NIL` is taken.
    pub const MAX_PAGES: usize = NIL as usize;

    /// Wraps `pages` (any contents: `Node::new` initialises every descriptor). `None` if the
    /// map is too large for u32 indices or would run past the end of the PFN space.
    pub fn new(pages: &'a mut [Page], base_pfn: Pfn) -> Option<Self> {
        if pages.len() as u64 >= Self::MAX_PAGES as u64
            || base_pfn.0.checked_add(pages.len() as u64).is_none()
        {
            return None;
        }
        Some(MemMap { pages, base_pfn: base_pfn.0 })
    }

    /// Bytes of descriptors needed for `nr_pages` frames (what the kernel asks memblock for).
    pub const fn bytes_for(nr_pages: u64) -> u64 {
        nr_pages * PAGE_DESCRIPTOR_SIZE as u64
    }

    pub fn base_pfn(&self) -> Pfn {
        Pfn(self.base_pfn)
    }

    /// One past the last PFN described.
    pub fn end_pfn(&self) -> Pfn {
        Pfn(self.base_pfn + self.pages.len() as u64)
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// `pfn_valid()`: whether the map has a descriptor for `pfn`.
    pub fn contains(&self, pfn: Pfn) -> bool {
        pfn.0 >= self.base_pfn && pfn.0 - self.base_pfn < self.pages.len() as u64
    }

    /// mem_map index of `pfn`.
    pub fn index(&self, pfn: Pfn) -> Option<u32> {
        self.contains(pfn).then(|| (pfn.0 - self.base_pfn) as u32)
    }

    /// PFN of the descriptor at mem_map index `idx`.
    pub fn pfn_of(&self, idx: u32) -> Pfn {
        Pfn(self.base_pfn + idx as u64)
    }

    /// `pfn_to_page()`.
    pub fn pfn_to_page(&self, pfn: Pfn) -> Option<&Page> {
        self.index(pfn).map(|i| &self.pages[i as usize])
    }

    /// `pfn_to_page()` for a change to the descriptor.
    pub(super) fn pfn_to_page_mut(&mut self, pfn: Pfn) -> Option<&mut Page> {
        self.index(pfn).map(|i| &mut self.pages[i as usize])
    }

    /// `page_to_pfn()`: by the descriptor's position in the array. `None` for a `Page` that
    /// is not an element of this map.
    pub fn page_to_pfn(&self, page: &Page) -> Option<Pfn> {
        let base = self.pages.as_ptr() as usize;
        let addr = page as *const Page as usize;
        let offset = addr.checked_sub(base)?;
        let idx = offset / PAGE_DESCRIPTOR_SIZE;
        (offset % PAGE_DESCRIPTOR_SIZE == 0 && idx < self.pages.len())
            .then(|| Pfn(self.base_pfn + idx as u64))
    }

    pub(super) fn pages(&self) -> &[Page] {
        self.pages
    }

    pub(super) fn pages_mut(&mut self) -> &mut [Page] {
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::vec;

    #[test]
    fn page_is_32_bytes_with_32_bit_longs_and_48_with_64_bit_ones() {
        assert_eq!((descriptor_size(32), descriptor_size(64)), (32, 48));
        assert_eq!(size_of::<Page>(), descriptor_size(BITS_PER_LONG));
        assert_eq!(MemMap::bytes_for(1 << 20), (descriptor_size(BITS_PER_LONG) as u64) << 20);
    }

    /// The raw words are the descriptor's memory: each field where `repr(C)` puts it in this
    /// build, and the 32-bit kernel's eight words.
    #[test]
    fn raw_words_follow_the_layout_of_both_widths() {
        let mut p = Page::RESERVED;
        p.flags = PageFlags::PG_buddy;
        p.order = 3;
        p.zone = 1;
        p.lru_next = 0x11;
        p.lru_prev = 0x22;
        p.mapping = 0x33;
        p.index = 0x44;
        p.private = 0x55;
        p.lru_flags = LruFlags::PG_lru;
        p.mapcount = 2;
        let native = p.raw_words(BITS_PER_LONG);
        let long = size_of::<usize>();
        assert_eq!(native.words().len() * long, size_of::<Page>());
        let at = |offset: usize| native.words()[offset / long] >> (8 * (offset % long));
        assert_eq!(at(core::mem::offset_of!(Page, mapping)), 0x33);
        assert_eq!(at(core::mem::offset_of!(Page, index)), 0x44);
        assert_eq!(at(core::mem::offset_of!(Page, private)), 0x55);
        assert_eq!(at(core::mem::offset_of!(Page, lru_next)) as u32, 0x11);
        let arm = [0x0103_0002, 1, 0x11, 0x22, 0x33, 0x44, 0x55, 1 | 2 << 16];
        assert_eq!(p.raw_words(32).words(), arm);
        // A 36-bit virtual page number, whole in 64 bits.
        p.index = 0xf_fff8_e616;
        let arm64 = [0x1_0103_0002, 0x22_0000_0011, 0x33, 0xf_fff8_e616, 0x55, 1 | 2 << 16];
        assert_eq!(p.raw_words(64).words(), arm64);
    }

    #[test]
    fn mapcount_counts_mappings_beyond_the_first_in_the_descriptor() {
        let mut p = Page::RESERVED;
        assert_eq!(p.mapcount(), 0);
        assert!(!p.remove_shared_rmap(), "a page mapped once has no extra mapping to drop");
        p.lru_flags = LruFlags::PG_lru;
        p.dup_rmap();
        p.dup_rmap();
        assert_eq!(p.mapcount(), 2);
        // dump_page's last raw word: the LRU flags below, the count above.
        assert_eq!(p.raw_words(32).words()[7], 1 | 2 << 16);
        assert!(p.remove_shared_rmap());
        assert!(p.remove_shared_rmap());
        assert!(!p.remove_shared_rmap());
        assert_eq!(p.mapcount(), 0);
        assert_eq!(p.raw_words(32).words()[7], 1);
    }

    #[test]
    fn pfn_page_arithmetic() {
        let mut v = vec![Page::RESERVED; 100];
        let map = MemMap::new(&mut v, Pfn(0x1000)).unwrap();
        assert_eq!(map.base_pfn(), Pfn(0x1000));
        assert_eq!(map.end_pfn(), Pfn(0x1064));
        assert!(!map.contains(Pfn(0xfff)));
        assert!(map.contains(Pfn(0x1000)));
        assert!(map.contains(Pfn(0x1063)));
        assert!(!map.contains(Pfn(0x1064)));
        assert_eq!(map.index(Pfn(0x1005)), Some(5));
        assert_eq!(map.pfn_of(5), Pfn(0x1005));
        let p = map.pfn_to_page(Pfn(0x1042)).unwrap();
        assert_eq!(map.page_to_pfn(p), Some(Pfn(0x1042)));
        let stranger = Page::RESERVED;
        assert_eq!(map.page_to_pfn(&stranger), None);
        assert!(map.pfn_to_page(Pfn(0x2000)).is_none());
    }

    #[test]
    fn too_large_maps_are_refused() {
        let mut v = vec![Page::RESERVED; 4];
        assert!(MemMap::new(&mut v, Pfn(u64::MAX - 2)).is_none());
    }

    #[test]
    fn flag_names() {
        let mut p = Page::RESERVED;
        assert_eq!(format!("{}", PageFlagNames(&p)), "reserved|zone=none");
        p.flags = PageFlags::PG_buddy | PageFlags::PG_poisoned;
        p.zone = page_zonenum(crate::mm::zone::ZoneType::HighMem as u8);
        assert_eq!(format!("{}", PageFlagNames(&p)), "buddy|poisoned|zone=2");
        p.flags = PageFlags::empty();
        assert_eq!(format!("{}", PageFlagNames(&p)), "zone=2");
    }

    /// Linux's zone numbers: 32-bit ARM (DMA, Normal, HighMem, Movable) and arm64 6.1 (DMA,
    /// DMA32, Normal, Movable), from the same five slots.
    #[test]
    fn zone_numbers_follow_the_configuration() {
        use crate::mm::zone::ZoneType;
        let arm = [ZoneType::Dma, ZoneType::Normal, ZoneType::HighMem, ZoneType::Movable];
        assert_eq!(arm.map(|z| zone_number(z as u8, false, true)), [0, 1, 2, 3]);
        let arm64 = [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::Movable];
        assert_eq!(arm64.map(|z| zone_number(z as u8, true, false)), [0, 1, 2, 3]);
        assert_eq!(zone_number(NO_ZONE, true, false), NO_ZONE);
    }

    #[test]
    fn tail_pages_name_their_head() {
        let mut p = Page::RESERVED;
        assert_eq!(p.compound_head_index(), None);
        p.flags = PageFlags::PG_tail;
        p.lru_next = 7;
        assert_eq!(p.compound_head_index(), Some(7));
    }
}
