//! Linux's reports of the allocator's state: `warn_alloc()` with `show_mem()`, and the
//! per-zone buddy line of `show_free_areas()`.
use super::*;
use crate::mm::swap::LruList;

/// The node counters kept outside the page allocator that reports print (Linux's
/// `node_stat_item`s pivm has): the kernel fills them from its live slab and page-table
/// accounting, so `show_mem` and `/proc/meminfo` read the same numbers. Page counts unless
/// stated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// `NR_SLAB_RECLAIMABLE_B` in pages.
    pub nr_slab_reclaimable: u64,
    /// `NR_SLAB_UNRECLAIMABLE_B` in pages.
    pub nr_slab_unreclaimable: u64,
    /// `NR_KERNEL_STACK_KB`, in **kB** (Linux counts kernel stacks in kB).
    pub nr_kernel_stack: u64,
    /// `NR_PAGETABLE`: pages used for page tables.
    pub nr_page_table_pages: u64,
    /// `NR_KERNEL_MISC_RECLAIMABLE`.
    pub nr_kernel_misc_reclaimable: u64,
    /// `NR_FILE_PAGES`: page-cache pages (`show_free_areas`' `total pagecache pages`).
    pub nr_file_pages: u64,
    /// `total_swapcache_pages()`: pages in the swap cache.
    pub nr_swapcache: u64,
    /// `get_nr_swap_pages()`: free swap slots, in pages.
    pub nr_swap_free: u64,
    /// `total_swap_pages`: the active swap areas' slots, in pages.
    pub nr_swap_total: u64,
}

/// `warn_alloc()` + `show_mem()`: the report Linux prints when an allocation fails,
/// for `comm` (the task name). `stats` are the node counters kept outside the allocator;
/// counters pivm does not keep (`mapped`, `shmem`, dirty, writeback) print as 0; zones above the
/// request's highest zone are left out, as in 6.x.
pub fn write_alloc_failure(
    w: &mut impl fmt::Write,
    comm: &str,
    gfp: GfpFlags,
    order: u32,
    node: &Node<'_>,
    stats: &NodeStats,
) -> fmt::Result {
    let msg = format_args!("page allocation failure: order:{order}");
    write_warn_alloc(w, comm, gfp, msg, node, stats)
}

/// Linux's `warn_alloc()` for any message (vmalloc uses it too): `comm: message, mode:...`,
/// then `show_mem()` for the zones the request could use.
pub fn write_warn_alloc(
    w: &mut impl fmt::Write,
    comm: &str,
    gfp: GfpFlags,
    msg: fmt::Arguments<'_>,
    node: &Node<'_>,
    stats: &NodeStats,
) -> fmt::Result {
    writeln!(w, "{comm}: {msg}, mode:{:#x}({gfp}), nodemask=(null)", gfp.bits())?;
    write_show_mem(w, gfp, node, stats)
}

/// `__show_mem()` for the zones a request of `gfp` could use (`Mem-Info:` and what follows):
/// the failure report's second half and the OOM killer's `dump_header`.
pub fn write_show_mem(
    w: &mut impl fmt::Write,
    gfp: GfpFlags,
    node: &Node<'_>,
    stats: &NodeStats,
) -> fmt::Result {
    let max_zone_idx = node.highest_zoneidx(gfp).idx();
    let shown = || node.populated_zones().filter(move |z| z.zone_type().idx() <= max_zone_idx);
    writeln!(w, "Mem-Info:")?;
    // The LRU lists' sizes (`enum lru_list` order), node-wide and per zone.
    let lru = node.lruvec().sizes();
    let zlru =
        |z: usize, l: usize| node.lruvec().zone_size(z, LruList::from_index(l)) * KB_PER_PAGE;
    writeln!(
        w,
        "active_anon:{} inactive_anon:{} isolated_anon:0\n active_file:{} inactive_file:{} \
         isolated_file:0\n unevictable:{} dirty:0 writeback:0\n slab_reclaimable:{} \
         slab_unreclaimable:{}\n mapped:0 shmem:0 pagetables:{}\n sec_pagetables:0 bounce:0\n \
         kernel_misc_reclaimable:{}\n free:{} free_pcp:{} free_cma:{}",
        lru[1],
        lru[0],
        lru[3],
        lru[2],
        lru[4],
        stats.nr_slab_reclaimable,
        stats.nr_slab_unreclaimable,
        stats.nr_page_table_pages,
        stats.nr_kernel_misc_reclaimable,
        node.nr_free_pages(),
        node.nr_pcp_pages(),
        node.nr_free_cma_pages(),
    )?;
    if shown().any(|z| z.is_managed()) {
        writeln!(
            w,
            "Node 0 active_anon:{}kB inactive_anon:{}kB active_file:{}kB inactive_file:{}kB \
             unevictable:{}kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB \
             writeback:0kB shmem:0kB writeback_tmp:0kB kernel_stack:{}kB pagetables:{}kB \
             sec_pagetables:0kB all_unreclaimable? no",
            lru[1] * KB_PER_PAGE,
            lru[0] * KB_PER_PAGE,
            lru[3] * KB_PER_PAGE,
            lru[2] * KB_PER_PAGE,
            lru[4] * KB_PER_PAGE,
            stats.nr_kernel_stack,
            stats.nr_page_table_pages * KB_PER_PAGE,
        )?;
    }
    for z in shown() {
        // One CPU runs pivm: the zone's pcp pages are all this CPU's (`local_pcp`).
        writeln!(
            w,
            "{} free:{}kB boost:{}kB min:{}kB low:{}kB high:{}kB reserved_highatomic:{}KB \
             active_anon:{}kB inactive_anon:{}kB active_file:{}kB inactive_file:{}kB \
             unevictable:{}kB writepending:0kB present:{}kB managed:{}kB mlocked:0kB bounce:0kB \
             free_pcp:{}kB local_pcp:{}kB free_cma:{}kB",
            z.name(),
            z.nr_free_pages() * KB_PER_PAGE,
            z.watermark_boost() * KB_PER_PAGE,
            z.min_wmark_pages() * KB_PER_PAGE,
            z.low_wmark_pages() * KB_PER_PAGE,
            z.high_wmark_pages() * KB_PER_PAGE,
            z.nr_reserved_highatomic() * KB_PER_PAGE,
            zlru(z.zone_type().idx(), 1),
            zlru(z.zone_type().idx(), 0),
            zlru(z.zone_type().idx(), 3),
            zlru(z.zone_type().idx(), 2),
            zlru(z.zone_type().idx(), 4),
            z.present_pages() * KB_PER_PAGE,
            z.managed_pages() * KB_PER_PAGE,
            z.pcp().count() * KB_PER_PAGE,
            z.pcp().count() * KB_PER_PAGE,
            z.nr_free_cma_pages() * KB_PER_PAGE,
        )?;
        write!(w, "lowmem_reserve[]:")?;
        for r in node.configured_zones().map(|c| z.lowmem_reserve()[c.zone_type().idx()]) {
            write!(w, " {r}")?;
        }
        writeln!(w)?;
    }
    for z in shown() {
        write_free_area_line(w, z)?;
    }
    // `show_free_areas`' last line, then `show_swap_cache_info`.
    writeln!(w, "{} total pagecache pages", stats.nr_file_pages)?;
    writeln!(w, "{} pages in swap cache", stats.nr_swapcache)?;
    writeln!(w, "Free swap  = {}kB", stats.nr_swap_free * KB_PER_PAGE)?;
    writeln!(w, "Total swap = {}kB", stats.nr_swap_total * KB_PER_PAGE)?;
    let (mut total, mut reserved, mut highmem) = (0, 0, 0);
    for z in node.populated_zones() {
        total += z.present_pages();
        reserved += z.present_pages() - z.managed_pages();
        if z.is_highmem() {
            highmem += z.present_pages();
        }
    }
    writeln!(w, "{total} pages RAM")?;
    writeln!(w, "{highmem} pages HighMem/MovableOnly")?;
    writeln!(w, "{reserved} pages reserved")?;
    // CONFIG_CMA: the 6.1 kernels pivm models have it; the 3.x one does not.
    if node.era() == KernelEra::Linux61 {
        writeln!(w, "{} pages cma reserved", node.totalcma_pages())?;
    }
    Ok(())
}

/// `show_free_areas()`' per-zone buddy line: `Normal: 3*4kB (U) 2*8kB (UM) ... = 12kB`, each
/// non-empty order followed by the letters of the migrate types that have blocks there.
pub fn write_free_area_line(w: &mut impl fmt::Write, z: &Zone) -> fmt::Result {
    write!(w, "{}: ", z.name())?;
    let mut total = 0;
    /// `show_migration_types()`' letters, in migrate-type order.
    const TYPE_LETTERS: [char; MIGRATE_TYPES] = ['U', 'M', 'E', 'H', 'C', 'I'];
    for (order, nr) in z.free_area_counts().into_iter().enumerate() {
        write!(w, "{nr}*{}kB ", KB_PER_PAGE << order)?;
        if nr != 0 {
            w.write_char('(')?;
            for (mt, letter) in TYPE_LETTERS.into_iter().enumerate() {
                if z.free_area(order).is_some_and(|a| a.nr_free_of(mt) > 0) {
                    w.write_char(letter)?;
                }
            }
            w.write_str(") ")?;
        }
        total += nr << order;
    }
    writeln!(w, "= {}kB", total * KB_PER_PAGE)
}
