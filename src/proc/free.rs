//! `free` (procps-ng 4) from a /proc/meminfo snapshot: the Mem: and Swap: lines in KiB, as
//! `free -k` (the default) prints them. `used` is `MemTotal - MemAvailable` (procps-ng 4.0's
//! definition), `buff/cache` is `Buffers + Cached + SReclaimable`, `shared` is `Shmem`.
use core::fmt;

use super::meminfo::si_mem_available;
use super::snapshot::MeminfoSnapshot;

/// Renders the table.
pub fn render(w: &mut impl fmt::Write, mi: &MeminfoSnapshot) -> fmt::Result {
    let kb = |pages: u64| pages * 4;
    let total = kb(mi.total_ram);
    let avail = kb(si_mem_available(mi)).min(total);
    let free = kb(mi.free_ram);
    let buff_cache = kb(mi.buffers + mi.cached + mi.slab_reclaimable);
    writeln!(
        w,
        "               total        used        free      shared  buff/cache   available"
    )?;
    writeln!(
        w,
        "{:<8}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "Mem:",
        total,
        total - avail,
        free,
        kb(mi.shmem),
        buff_cache,
        avail
    )?;
    let (st, sf) = (kb(mi.swap_total), kb(mi.swap_free));
    writeln!(w, "{:<8}{:>12}{:>12}{:>12}", "Swap:", st, st - sf, sf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_the_header() {
        let mi = MeminfoSnapshot {
            total_ram: 27952,
            free_ram: 23655,
            swap_total: 65535,
            swap_free: 63679,
            ..Default::default()
        };
        let mut s = alloc::string::String::new();
        render(&mut s, &mi).unwrap();
        let lines: alloc::vec::Vec<&str> = s.lines().collect();
        assert_eq!(lines[2], "Swap:         262140        7424      254716");
        assert_eq!(lines[0].find("total").map(|i| i + 5), Some(20));
        assert!(lines[1].starts_with("Mem:          111808"));
    }
}
