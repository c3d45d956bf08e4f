//! The slab layer's page source over a buddy allocator `Node`: slabs are `PageOwner::Slab`
//! blocks marked `PG_slab` (`set_slab`/`clear_slab`), `kmalloc_large` blocks are compound
//! `PageOwner::KmallocLarge` blocks, and `head_page` reads mem_map as `virt_to_head_page()`.
//! The kernel wraps it in the node's lock (`BuddyPages`); tests and benchmarks use it over a
//! node whose linear map points at host memory.
use super::{HeadPage, PageSource};
use crate::mm::gfp::GfpFlags;
use crate::mm::page::PageOwner;
use crate::mm::page_alloc::{FreeError, Node};
use crate::mm::{Pfn, VirtAddr};

/// `GFP_KERNEL` without the page allocator's failure report: the slab layer reports its own.
const GFP: GfpFlags = GfpFlags::GFP_KERNEL.union(GfpFlags::__GFP_NOWARN);

/// A `PageSource` borrowing a node. A free the node refuses (which would be a slab bug) is
/// kept for the owner to report (`take_bad_free`).
pub struct NodePages<'a, 'n> {
    node: &'a mut Node<'n>,
    bad_free: Option<FreeError>,
    /// The flags pages are taken with: `GFP_KERNEL`, or with `__GFP_HIGH` added (`atomic`).
    gfp: GfpFlags,
}

impl<'a, 'n> NodePages<'a, 'n> {
    pub fn new(node: &'a mut Node<'n>) -> Self {
        Self { node, bad_free: None, gfp: GFP }
    }

    /// Pages for an allocation that cannot sleep or reclaim (Linux's `GFP_ATOMIC` access:
    /// `__GFP_HIGH` may take a zone below its min watermark, to half of it).
    pub fn atomic(node: &'a mut Node<'n>) -> Self {
        Self { node, bad_free: None, gfp: GFP.union(GfpFlags::__GFP_HIGH) }
    }

    /// The last free the node refused, if any.
    pub fn take_bad_free(&mut self) -> Option<FreeError> {
        self.bad_free.take()
    }

    fn check(&mut self, r: Result<(), FreeError>) {
        if let Err(e) = r {
            self.bad_free = Some(e);
        }
    }

    fn address(&self, pfn: Pfn) -> Option<usize> {
        self.node.page_address(pfn).map(|va| va.as_usize())
    }
}

impl PageSource for NodePages<'_, '_> {
    fn alloc_slab_pages(&mut self, order: u32) -> Option<(usize, Pfn)> {
        let gfp = if order > 0 { self.gfp.union(GfpFlags::__GFP_COMP) } else { self.gfp };
        let pfn = self.node.alloc_pages_for(PageOwner::Slab, gfp, order).ok()?;
        match self.address(pfn) {
            Some(addr) if self.node.set_slab(pfn, order).is_ok() => Some((addr, pfn)),
            _ => {
                let r = self.node.free_pages_for(PageOwner::Slab, pfn, order);
                self.check(r);
                None
            }
        }
    }

    fn free_slab_pages(&mut self, pfn: Pfn, order: u32) {
        let r = self
            .node
            .clear_slab(pfn)
            .and_then(|()| self.node.free_pages_for(PageOwner::Slab, pfn, order));
        self.check(r);
    }

    fn alloc_large(&mut self, order: u32) -> Option<usize> {
        let gfp = self.gfp.union(GfpFlags::__GFP_COMP);
        let pfn = self.node.alloc_pages_for(PageOwner::KmallocLarge, gfp, order).ok()?;
        let addr = self.address(pfn);
        if addr.is_none() {
            let r = self.node.free_pages_for(PageOwner::KmallocLarge, pfn, order);
            self.check(r);
        }
        addr
    }

    fn free_large(&mut self, addr: usize, order: u32) {
        let r = self.node.free_pages_addr_for(PageOwner::KmallocLarge, VirtAddr(addr), order);
        self.check(r);
    }

    fn alloc_meta(&mut self, order: u32) -> Option<usize> {
        let pfn = self.node.alloc_pages_for(PageOwner::Slab, self.gfp, order).ok()?;
        let addr = self.address(pfn);
        if addr.is_none() {
            let r = self.node.free_pages_for(PageOwner::Slab, pfn, order);
            self.check(r);
        }
        addr
    }

    fn free_meta(&mut self, addr: usize, order: u32) {
        let r = self.node.free_pages_addr_for(PageOwner::Slab, VirtAddr(addr), order);
        self.check(r);
    }

    fn head_page(&self, addr: usize) -> HeadPage {
        head_page(self.node, addr)
    }

    fn lowmem_pfns(&self) -> (Pfn, Pfn) {
        node_pfns(self.node)
    }
}

/// The PFNs a node spans, `[start, end)`: where its slab pages can come from.
fn node_pfns(node: &Node<'_>) -> (Pfn, Pfn) {
    let start = node.node_start_pfn();
    (start, Pfn(start.0 + node.node_spanned_pages()))
}

/// Whatever owns a node (the kernel's, behind its lock; a test's or a benchmark's) and lends it
/// as [`NodePages`] for one call at a time. Every holder is a [`PageSource`] through the impl
/// below, so the forwarding is written once; the holder decides what a refused free means.
pub trait NodeHolder {
    /// Runs `f` with the node as a page source; `None` when there is no node.
    fn with_pages<R>(&mut self, f: impl FnOnce(&mut NodePages<'_, '_>) -> R) -> Option<R>;
    /// Runs `f` with the node, read-only; `None` when there is no node.
    fn with_node<R>(&self, f: impl FnOnce(&Node<'_>) -> R) -> Option<R>;
}

impl<T: NodeHolder> PageSource for T {
    fn alloc_slab_pages(&mut self, order: u32) -> Option<(usize, Pfn)> {
        self.with_pages(|p| p.alloc_slab_pages(order)).flatten()
    }
    fn free_slab_pages(&mut self, pfn: Pfn, order: u32) {
        self.with_pages(|p| p.free_slab_pages(pfn, order));
    }
    fn alloc_large(&mut self, order: u32) -> Option<usize> {
        self.with_pages(|p| p.alloc_large(order)).flatten()
    }
    fn free_large(&mut self, addr: usize, order: u32) {
        self.with_pages(|p| p.free_large(addr, order));
    }
    fn alloc_meta(&mut self, order: u32) -> Option<usize> {
        self.with_pages(|p| p.alloc_meta(order)).flatten()
    }
    fn free_meta(&mut self, addr: usize, order: u32) {
        self.with_pages(|p| p.free_meta(addr, order));
    }
    fn head_page(&self, addr: usize) -> HeadPage {
        self.with_node(|node| head_page(node, addr)).unwrap_or(HeadPage::None)
    }
    fn lowmem_pfns(&self) -> (Pfn, Pfn) {
        self.with_node(node_pfns).unwrap_or((Pfn(0), Pfn(0)))
    }
}

/// `virt_to_head_page(addr)` and what its flags say: a slab (`PG_slab`), a `kmalloc_large`
/// block (its owner), or someone else's page.
pub fn head_page(node: &Node<'_>, addr: usize) -> HeadPage {
    let Some(pfn) = node.virt_to_pfn(VirtAddr(addr)) else { return HeadPage::None };
    let map = node.mem_map();
    let Some(mut page) = map.pfn_to_page(pfn) else { return HeadPage::None };
    let mut head = pfn;
    if let Some(h) = page.compound_head_index() {
        head = map.pfn_of(h);
        match map.pfn_to_page(head) {
            Some(p) => page = p,
            None => return HeadPage::None,
        }
    }
    if page.is_slab() {
        return HeadPage::Slab { pfn: head };
    }
    let owner = page.owner();
    match node.page_address(head).map(|va| va.as_usize()) {
        Some(addr) if owner == PageOwner::KmallocLarge => {
            HeadPage::Large { addr, order: page.order() }
        }
        _ => HeadPage::Other { owner },
    }
}
