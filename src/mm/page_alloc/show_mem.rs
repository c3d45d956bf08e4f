//! Linux's reports of the allocator's state: `warn_alloc()` with `show_mem()`, and the
//! per-zone buddy line of `show_free_areas()`.
use super::*;

/// `warn_alloc()` + `show_mem()`: the report Linux prints when an allocation fails,
/// for `comm` (the task name). Counters pivm does not have print as 0; zones above the
/// request's highest zone are left out, as in 6.x.
pub fn write_alloc_failure(
    w: &mut impl fmt::Write,
    comm: &str,
    gfp: GfpFlags,
    order: u32,
    node: &Node<'_>,
) -> fmt::Result {
    write_warn_alloc(w, comm, gfp, format_args!("page allocation failure: order:{order}"), node)
}

/// Linux's `warn_alloc()` for any message (vmalloc uses it too): `comm: message, mode:...`,
/// then `show_mem()` for the zones the request could use.
pub fn write_warn_alloc(
    w: &mut impl fmt::Write,
    comm: &str,
    gfp: GfpFlags,
    msg: fmt::Arguments<'_>,
    node: &Node<'_>,
) -> fmt::Result {
    writeln!(w, "{comm}: {msg}, mode:{:#x}({gfp}), nodemask=(null)", gfp.bits())?;
    let max_zone_idx = node.highest_zoneidx(gfp).idx();
    let shown = || node.populated_zones().filter(move |z| z.zone_type().idx() <= max_zone_idx);
    writeln!(w, "Mem-Info:")?;
    writeln!(
        w,
        "active_anon:0 inactive_anon:0 isolated_anon:0\n active_file:0 inactive_file:0 \
         isolated_file:0\n unevictable:0 dirty:0 writeback:0\n slab_reclaimable:0 \
         slab_unreclaimable:0\n mapped:0 shmem:0 pagetables:0\n sec_pagetables:0 bounce:0\n \
         kernel_misc_reclaimable:0\n free:{} free_pcp:{} free_cma:0",
        node.nr_free_pages(),
        node.nr_pcp_pages()
    )?;
    if shown().any(|z| z.is_managed()) {
        writeln!(
            w,
            "Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB \
             unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB \
             writeback:0kB shmem:0kB writeback_tmp:0kB kernel_stack:0kB pagetables:0kB \
             sec_pagetables:0kB all_unreclaimable? no"
        )?;
    }
    for z in shown() {
        writeln!(
            w,
            "{} free:{}kB boost:0kB min:{}kB low:{}kB high:{}kB reserved_highatomic:0KB \
             active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB \
             unevictable:0kB writepending:0kB present:{}kB managed:{}kB mlocked:0kB bounce:0kB \
             free_pcp:{}kB local_pcp:{}kB free_cma:0kB",
            z.name(),
            z.nr_free_pages() * KB_PER_PAGE,
            z.min_wmark_pages() * KB_PER_PAGE,
            z.low_wmark_pages() * KB_PER_PAGE,
            z.high_wmark_pages() * KB_PER_PAGE,
            z.present_pages() * KB_PER_PAGE,
            z.managed_pages() * KB_PER_PAGE,
            z.pcp().count() * KB_PER_PAGE,
            z.pcp().count() * KB_PER_PAGE,
        )?;
        write!(w, "lowmem_reserve[]:")?;
        for r in z.lowmem_reserve() {
            write!(w, " {r}")?;
        }
        writeln!(w)?;
    }
    for z in shown() {
        write_free_area_line(w, z)?;
    }
    writeln!(w, "0 total pagecache pages")?;
    writeln!(w, "0 pages in swap cache")?;
    writeln!(w, "Free swap  = 0kB")?;
    writeln!(w, "Total swap = 0kB")?;
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
    writeln!(w, "{reserved} pages reserved")
}

/// `show_free_areas()`' per-zone buddy line: `Normal: 3*4kB (UM) 0*8kB ... = 12kB`, each
/// non-empty order followed by the letters of the migrate types that have blocks there.
pub fn write_free_area_line(w: &mut impl fmt::Write, z: &Zone) -> fmt::Result {
    write!(w, "{}: ", z.name())?;
    let mut total = 0;
    /// `show_migration_types()`'s letters, in migrate-type order.
    const TYPE_LETTERS: [char; MIGRATE_TYPES] = ['U', 'M', 'E'];
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
