//! The shared page and slab allocators brought up on the arm64 kernel (the counterpart of the
//! 32-bit kernel's `kernel::mem`): `mem_map` placed by memblock in the linear map, one node
//! with arm64's zones, page contents reached through the linear map (there is no highmem, so
//! `kmap` is `page_address`), kmalloc on top (with arm64's `ARCH_DMA_MINALIGN` of 128) as
//! Rust's global allocator.
use core::alloc::{GlobalAlloc, Layout as AllocLayout};
use core::mem::size_of;

use spin::Mutex;

use super::layout::Layout;
use crate::mm::memblock::Memblock;
use crate::mm::mm_init::Zones;
use crate::mm::page::{MemMap, Page};
use crate::mm::page_alloc::{
    usemap_size, InitError, LinearMap, Node, PageAccessError, PageMemory, PAGE_POISON,
};
use crate::mm::slab::{KmallocConfig, NodeHolder, NodePages, Slab, SlabError, KMALLOC_MAX_SIZE};
use crate::mm::{Pfn, PhysAddr, VirtAddr, PAGE_SIZE};

/// The node (`None` until `mem_init`).
pub static NODE: Mutex<Option<Node<'static>>> = Mutex::new(None);
/// kmalloc and the caches. Lock order: SLAB before NODE.
pub static SLAB: Mutex<Slab> = Mutex::new(Slab::new());
/// The linear map's parameters, once the layout is known.
static LINEAR: Mutex<Option<Layout>> = Mutex::new(None);

/// Runs `f` on the page allocator.
pub fn with_node<R>(f: impl FnOnce(&mut Node<'static>) -> R) -> R {
    f(NODE.lock().as_mut().expect("the page allocator is set up during boot"))
}

/// `page_address`: every page is in the linear map.
fn page_address(pfn: Pfn) -> Result<*mut u8, PageAccessError> {
    let l = LINEAR.lock();
    l.as_ref()
        .and_then(|l| l.phys_to_virt(pfn.phys().0))
        .map(|va| va as *mut u8)
        .ok_or(PageAccessError { pfn })
}

struct LinearPageMemory;

impl PageMemory for LinearPageMemory {
    fn zero(&self, pfn: Pfn, order: u32) -> Result<(), PageAccessError> {
        let va = page_address(pfn)?;
        for i in 0..1usize << order {
            // SAFETY: the allocator owns the 2^order pages, all in the linear map (Normal
            // memory, page-aligned).
            unsafe { super::page::clear_page(va.add(i * PAGE_SIZE as usize)) };
        }
        Ok(())
    }

    fn poison(&self, pfn: Pfn) -> Result<(), PageAccessError> {
        let va = page_address(pfn)?;
        // SAFETY: as in `zero`, one page.
        unsafe { core::ptr::write_bytes(va, PAGE_POISON, PAGE_SIZE as usize) };
        Ok(())
    }

    fn check_poison(&self, pfn: Pfn) -> Result<Option<usize>, PageAccessError> {
        let va = page_address(pfn)?;
        // SAFETY: as in `zero`; read only.
        let page = unsafe { core::slice::from_raw_parts(va, PAGE_SIZE as usize) };
        Ok(page.iter().position(|&b| b != PAGE_POISON))
    }

    fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) -> Result<(), PageAccessError> {
        if offset.checked_add(buf.len()).is_none_or(|e| e > PAGE_SIZE as usize) {
            return Err(PageAccessError { pfn });
        }
        let va = page_address(pfn)?;
        // SAFETY: as in `zero`; the range stays inside the page (checked).
        let page = unsafe { core::slice::from_raw_parts(va, PAGE_SIZE as usize) };
        buf.copy_from_slice(&page[offset..offset + buf.len()]);
        Ok(())
    }
}

static PAGE_MEMORY: LinearPageMemory = LinearPageMemory;

/// Why the allocators could not be set up.
#[derive(Debug)]
pub enum MemInitError {
    NoRoomForMemMap { bytes: u64 },
    Init(InitError),
    Slab(SlabError),
}

impl core::fmt::Display for MemInitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemInitError::NoRoomForMemMap { bytes } => {
                write!(f, "cannot allocate {bytes} bytes for mem_map")
            }
            MemInitError::Init(e) => write!(f, "{e}"),
            MemInitError::Slab(e) => write!(f, "{e}"),
        }
    }
}

/// Where `mem_map` went (virtual, end exclusive), for the banner's vmemmap "actual" line.
pub static MEM_MAP_RANGE: Mutex<(u64, u64)> = Mutex::new((0, 0));

/// `free_area_init` + `mem_init` + `kmem_cache_init`: mem_map and the usemap from memblock,
/// the node with `zones`, every free memblock range to the buddy lists, the kmalloc caches.
pub fn mem_init(
    layout: &Layout,
    zones: &Zones,
    memblock: &mut Memblock,
) -> Result<(), MemInitError> {
    *LINEAR.lock() = Some(*layout);
    let start_pfn = layout.ram_start / PAGE_SIZE;
    let end_pfn = layout.ram_end / PAGE_SIZE;
    let nr = (end_pfn - start_pfn) as usize;
    let bytes = (nr * size_of::<Page>()) as u64;
    let pa = memblock
        .alloc(bytes, PAGE_SIZE, layout.ram_end, "mem_map")
        .ok_or(MemInitError::NoRoomForMemMap { bytes })?;
    let usemap_bytes = usemap_size(Pfn(start_pfn), Pfn(end_pfn));
    let upa = memblock
        .alloc(usemap_bytes as u64, 64, layout.ram_end, "usemap")
        .ok_or(MemInitError::NoRoomForMemMap { bytes: usemap_bytes as u64 })?;
    let va = layout.phys_to_virt(pa).ok_or(MemInitError::NoRoomForMemMap { bytes })?;
    let uva = layout.phys_to_virt(upa).ok_or(MemInitError::NoRoomForMemMap { bytes })?;
    *MEM_MAP_RANGE.lock() = (va, va + bytes);
    // SAFETY: memblock reserved both ranges for us alone; the linear map covers them; every
    // element is initialised before the slices exist.
    let (pages, usemap): (&'static mut [Page], &'static mut [u8]) = unsafe {
        let base = va as *mut Page;
        for i in 0..nr {
            base.add(i).write(Page::default());
        }
        let table = uva as *mut u8;
        table.write_bytes(0, usemap_bytes);
        (
            core::slice::from_raw_parts_mut(base, nr),
            core::slice::from_raw_parts_mut(table, usemap_bytes),
        )
    };
    let mem_map =
        MemMap::new(pages, Pfn(start_pfn)).ok_or(MemInitError::NoRoomForMemMap { bytes })?;
    {
        let mut slot = NODE.lock();
        let node = Node::from_memblock_in(&mut slot, mem_map, usemap, zones, memblock)
            .map_err(MemInitError::Init)?;
        node.set_linear_map(LinearMap {
            page_offset: VirtAddr((layout.page_offset) as usize),
            phys_offset: PhysAddr(layout.memstart_addr),
        });
        node.set_page_memory(&PAGE_MEMORY);
    }
    let config =
        KmallocConfig { nr_cpu_ids: crate::board::raspi::NR_CPUS, max_size: KMALLOC_MAX_SIZE };
    SLAB.lock().kmem_cache_init(config).map_err(MemInitError::Slab)?;
    with_node(|n| n.init_per_zone_wmark_min());
    Ok(())
}

/// Whole pages for the slab from the buddy allocator.
pub struct BuddyPages;

impl NodeHolder for BuddyPages {
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R> {
        let mut node = NODE.lock();
        Some(f(&mut NodePages::new(node.as_mut()?)))
    }

    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R> {
        NODE.lock().as_ref().map(f)
    }
}

struct KernelAllocator;

// SAFETY: blocks come from the slab layer, which hands out non-overlapping memory of at least
// the size asked, aligned as asked, and takes back only what it handed out.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        SLAB.lock()
            .alloc_layout(&mut BuddyPages, layout.size(), layout.align())
            .map_or(core::ptr::null_mut(), |a| a as *mut u8)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        let _ =
            SLAB.lock().free_layout(&mut BuddyPages, ptr as usize, layout.size(), layout.align());
    }
}

#[global_allocator]
static GLOBAL_ALLOCATOR: KernelAllocator = KernelAllocator;
