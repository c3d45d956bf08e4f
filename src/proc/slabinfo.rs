//! `/proc/slabinfo` version 2.1 (Linux's `slab_show()`/`cache_show()` in mm/slab_common.c).
//!
//! pivm's slab allocator is SLUB, which has no per-CPU array caches to tune: `tunables 0 0 0`
//! and `sharedavail 0`, and `active_slabs` is `num_slabs`.
use core::fmt;

use super::snapshot::SlabCacheSnapshot;
use crate::mm::slab::SlabInfo;

impl From<SlabInfo> for SlabCacheSnapshot {
    /// One cache as `get_slabinfo()` describes it.
    fn from(c: SlabInfo) -> Self {
        SlabCacheSnapshot {
            name: c.name,
            active_objs: c.active_objs as u64,
            num_objs: c.num_objs as u64,
            objsize: c.objsize as u32,
            objperslab: c.objperslab as u32,
            pagesperslab: c.pagesperslab as u32,
            active_slabs: c.active_slabs as u64,
            num_slabs: c.num_slabs as u64,
        }
    }
}

/// The file's first line.
pub const HEADER_VERSION: &str = "slabinfo - version: 2.1\n";
/// The column legend (second line), without its newline.
pub const HEADER_COLUMNS: &str = "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>";
/// SLUB's `limit`, `batchcount`, `sharedfactor` and `sharedavail`: no array caches.
const NO_TUNABLE: u32 = 0;

/// Writes one cache's line.
pub fn write_cache(w: &mut impl fmt::Write, c: &SlabCacheSnapshot) -> fmt::Result {
    write!(
        w,
        "{:<17} {:>6} {:>6} {:>6} {:>4} {:>4}",
        c.name, c.active_objs, c.num_objs, c.objsize, c.objperslab, c.pagesperslab
    )?;
    write!(w, " : tunables {NO_TUNABLE:>4} {NO_TUNABLE:>4} {NO_TUNABLE:>4}")?;
    write!(w, " : slabdata {:>6} {:>6} {:>6}", c.active_slabs, c.num_slabs, NO_TUNABLE)?;
    w.write_char('\n')
}

/// Renders the whole file, caches in the order given (Linux lists the newest cache first).
pub fn render(w: &mut impl fmt::Write, caches: &[SlabCacheSnapshot]) -> fmt::Result {
    w.write_str(HEADER_VERSION)?;
    w.write_str(HEADER_COLUMNS)?;
    w.write_char('\n')?;
    caches.iter().try_for_each(|c| write_cache(w, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn cache(
        name: &'static str,
        objs: (u64, u64),
        objsize: u32,
        objperslab: u32,
        pagesperslab: u32,
        slabs: (u64, u64),
    ) -> SlabCacheSnapshot {
        SlabCacheSnapshot {
            name,
            active_objs: objs.0,
            num_objs: objs.1,
            objsize,
            objperslab,
            pagesperslab,
            active_slabs: slabs.0,
            num_slabs: slabs.1,
        }
    }

    /// First lines of the reference board's file.
    const SAMPLE: &str = "\
slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
fsverity_info          0      0    248   16    1 : tunables    0    0    0 : slabdata      0      0      0
request_sock_subflow_v6      0      0    304   26    2 : tunables    0    0    0 : slabdata      0      0      0
RAWv6                 17     17    960   17    4 : tunables    0    0    0 : slabdata      1      1      0
mqueue_inode_cache     25     25    640   25    4 : tunables    0    0    0 : slabdata      1      1      0
audit_tree_mark        0      0     48   85    1 : tunables    0    0    0 : slabdata      0      0      0
";

    #[test]
    fn reproduces_linux_sample() {
        let caches = [
            cache("fsverity_info", (0, 0), 248, 16, 1, (0, 0)),
            cache("request_sock_subflow_v6", (0, 0), 304, 26, 2, (0, 0)),
            cache("RAWv6", (17, 17), 960, 17, 4, (1, 1)),
            cache("mqueue_inode_cache", (25, 25), 640, 25, 4, (1, 1)),
            cache("audit_tree_mark", (0, 0), 48, 85, 1, (0, 0)),
        ];
        let mut out = String::new();
        render(&mut out, &caches).unwrap();
        assert_eq!(out, SAMPLE);
    }

    #[test]
    fn proc_slabinfo_from_live_state() {
        use crate::mm::slab::tests::setup;
        let (mut s, mut src) = setup();
        let p = s.kmalloc(&mut src, 100).unwrap();
        let caches: Vec<SlabCacheSnapshot> = s.slabinfo().map(Into::into).collect();
        let mut out = std::string::String::new();
        render(&mut out, &caches).unwrap();
        let tail: Vec<&str> = out.lines().skip(2).collect();
        assert_eq!(
            tail,
            [
                "kmalloc-8k             0      0   8192    4    8 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-4k             0      0   4096    8    8 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-2k             0      0   2048   16    8 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-1k             0      0   1024   16    4 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-512            0      0    512   16    2 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-256            0      0    256   16    1 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-192            0      0    192   21    1 : tunables    0    0    0 : slabdata      0      0      0",
                "kmalloc-128           32     32    128   32    1 : tunables    0    0    0 : slabdata      1      1      0",
                "kmalloc-64             0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0",
            ]
        );
        s.kfree(&mut src, p).unwrap();
    }
}
