//! The root filesystem of processes: the initramfs unpacked into a ramfs whose file pages are
//! page-cache pages (page frames from the page allocator, owner `PageCache`), so the fault
//! path maps them into processes directly; and `populate_rootfs` / `free_initrd_mem` as
//! init/initramfs.c runs them at boot.
use alloc::collections::BTreeMap;

use spin::Mutex;

use crate::fs::initramfs;
use crate::fs::ramfs::{AddressSpace, Ino, PageBuf, Ramfs};
use crate::kernel::mem::with_node;
use crate::mm::gfp::GfpFlags;
use crate::mm::mm_types::Errno;
use crate::mm::page::PageOwner;
use crate::mm::{Pfn, PAGE_SHIFT};
use crate::{kprintln, sizes::SZ_1K};

/// A file's page cache over page frames in lowmem (`struct address_space` with its xarray).
#[derive(Default, Debug)]
pub struct CachePages {
    pages: BTreeMap<u64, Pfn>,
}

fn page_va(pfn: Pfn) -> *mut PageBuf {
    crate::kernel::phys_to_virt(pfn.phys().0).unwrap_or(0) as *mut PageBuf
}

impl CachePages {
    /// The frame holding page `index`, if cached.
    pub fn pfn(&self, index: u64) -> Option<Pfn> {
        self.pages.get(&index).copied()
    }
}

impl AddressSpace for CachePages {
    fn find_get_page(&self, index: u64) -> Option<&PageBuf> {
        let pfn = self.pages.get(&index)?;
        // SAFETY: the frame is a lowmem page this cache owns (allocated below, freed only by
        // truncate or drop), mapped by the linear map; shared references only while `self`
        // is borrowed.
        Some(unsafe { &*page_va(*pfn) })
    }

    fn find_or_create_page(&mut self, index: u64) -> Result<&mut PageBuf, Errno> {
        let pfn = match self.pages.get(&index) {
            Some(p) => *p,
            None => {
                let p = with_node(|n| {
                    n.alloc_pages_for(
                        PageOwner::PageCache,
                        GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO,
                        0,
                    )
                })
                .map_err(|_| Errno::ENOMEM)?;
                self.pages.insert(index, p);
                p
            }
        };
        // SAFETY: as in find_get_page; the exclusive borrow of `self` makes this the only
        // reference to the page's bytes from the cache (mappings in processes see the same
        // bytes, as a shared file mapping does).
        Ok(unsafe { &mut *page_va(pfn) })
    }

    fn truncate_inode_pages(&mut self, index: u64) {
        for (_, pfn) in self.pages.split_off(&index) {
            let _ = with_node(|n| n.free_pages_for(PageOwner::PageCache, pfn, 0));
        }
    }

    fn nrpages(&self) -> u64 {
        self.pages.len() as u64
    }
}

impl Drop for CachePages {
    fn drop(&mut self) {
        self.truncate_inode_pages(0);
    }
}

/// The rootfs every process sees (`init_task`'s root).
pub static ROOTFS: Mutex<Option<Ramfs<CachePages>>> = Mutex::new(None);

/// Runs `f` on the rootfs (created empty on first use).
pub fn with_rootfs<R>(f: impl FnOnce(&mut Ramfs<CachePages>) -> R) -> R {
    let mut g = ROOTFS.lock();
    f(g.get_or_insert_with(Ramfs::new))
}

/// The page-cache frame of page `index` of inode `ino`, created for a hole inside the file;
/// None past its end (`filemap_fault`'s SIGBUS).
pub fn file_page(ino: Ino, index: u64) -> Option<Pfn> {
    with_rootfs(|fs| {
        let size = fs.inode(ino)?.i_size;
        if index >= size.div_ceil(1 << PAGE_SHIFT) {
            return None;
        }
        if let Some(p) = fs.mapping(ino)?.pfn(index) {
            return Some(p);
        }
        // A hole (reads as zeros, inside the file): tmpfs gives it a zeroed page. Writing
        // one zero byte there creates it without changing the file's bytes or size.
        fs.write(ino, index << PAGE_SHIFT, &[0]).ok()?;
        fs.mapping(ino)?.pfn(index)
    })
}

/// The frame of page `index` of `ino` if it is cached and inside the file (fault-around).
pub fn cached_page(ino: Ino, index: u64) -> Option<Pfn> {
    with_rootfs(|fs| {
        let size = fs.inode(ino)?.i_size;
        if index >= size.div_ceil(1 << PAGE_SHIFT) {
            return None;
        }
        fs.mapping(ino)?.pfn(index)
    })
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
    let r = with_rootfs(|fs| initramfs::unpack_to_rootfs(bytes, fs));
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
