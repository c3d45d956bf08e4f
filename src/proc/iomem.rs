//! `/proc/iomem`: the tree of physical address ranges (RAM, kernel image, devices) and its
//! rendering as Linux prints it (`r_show()` in kernel/resource.c).
//!
//! The tree is a fixed-capacity array kept in pre-order (each node followed by its subtree, and
//! siblings sorted by start), which is also the order the file lists them in.
use core::fmt;

use crate::mm::memblock::Memblock;

/// How many resources the tree holds (no heap: this is the whole store).
pub const IOMEM_CAPACITY: usize = 32;
/// Linux's `MAX_IORES_LEVEL`: deeper resources are printed at this indentation.
pub const MAX_IORES_LEVEL: usize = 5;
/// Minimum hex digits per address (Linux uses 8 unless the root ends below 64 KiB).
const ADDR_WIDTH: usize = 8;

/// One named physical range, `start..=end` (inclusive, as Linux's `struct resource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    pub start: u64,
    pub end: u64,
    pub name: &'static str,
    /// Nesting level: 0 for top-level entries.
    pub depth: usize,
}

impl Resource {
    const EMPTY: Resource = Resource { start: 0, end: 0, name: "", depth: 0 };

    /// Bytes covered (saturating for the whole 64-bit space).
    pub const fn size(&self) -> u64 {
        (self.end - self.start).saturating_add(1)
    }

    const fn contains(&self, start: u64, end: u64) -> bool {
        self.start <= start && end <= self.end
    }

    const fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start <= end && start <= self.end
    }
}

/// Linux's `%pR` for a memory resource: `[mem 0x3f201000-0x3f2011ff]`.
struct MemRange(u64, u64);

impl fmt::Display for MemRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[mem {:#010x}-{:#010x}]", self.0, self.1)
    }
}

/// Why a resource could not be inserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IomemError {
    /// All [`IOMEM_CAPACITY`] slots are used.
    Full { name: &'static str },
    /// `end < start`.
    Invalid { start: u64, end: u64, name: &'static str },
    /// The range straddles the boundary of an existing resource.
    Conflict { start: u64, end: u64, name: &'static str, other: Resource },
}

impl fmt::Display for IomemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IomemError::Full { name } => {
                write!(f, "{name}: resource tree full (max {IOMEM_CAPACITY} entries)")
            }
            IomemError::Invalid { start, end, name } => {
                write!(f, "{name}: invalid range {}", MemRange(start, end))
            }
            IomemError::Conflict { start, end, name, other } => write!(
                f,
                "{name}: {} conflicts with {} {}",
                MemRange(start, end),
                other.name,
                MemRange(other.start, other.end)
            ),
        }
    }
}

/// The resource tree behind `/proc/iomem`.
#[derive(Clone, Debug)]
pub struct ResourceTree {
    res: [Resource; IOMEM_CAPACITY],
    len: usize,
}

impl Default for ResourceTree {
    fn default() -> Self {
        Self::new()
    }
}

impl ResourceTree {
    pub const fn new() -> Self {
        Self { res: [Resource::EMPTY; IOMEM_CAPACITY], len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All resources in display order (pre-order, siblings by start).
    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.res[..self.len].iter()
    }

    /// The most specific resource containing `addr` (what a `peek` would be touching).
    pub fn find(&self, addr: u64) -> Option<&Resource> {
        // Containing resources form an ancestor chain; in pre-order the deepest comes last, so
        // search from the end.
        self.res[..self.len].iter().rev().find(|r| r.contains(addr, addr))
    }

    /// Index just past the subtree rooted at `i`.
    fn subtree_end(&self, i: usize) -> usize {
        let depth = self.res[i].depth;
        (i + 1..self.len).find(|&j| self.res[j].depth <= depth).unwrap_or(self.len)
    }

    /// Inserts `start..=end` under the smallest resource containing it (a range equal to an
    /// existing one nests under it), like Linux's `insert_resource()`: existing siblings that
    /// lie inside the new range become its children. A range that partly overlaps another is
    /// rejected.
    pub fn insert(&mut self, start: u64, end: u64, name: &'static str) -> Result<(), IomemError> {
        if end < start {
            return Err(IomemError::Invalid { start, end, name });
        }
        if self.len == IOMEM_CAPACITY {
            return Err(IomemError::Full { name });
        }

        // The smallest container is the deepest, i.e. the last in pre-order.
        let parent = (0..self.len).rev().find(|&i| self.res[i].contains(start, end));
        let (first, last, depth) = match parent {
            Some(p) => (p + 1, self.subtree_end(p), self.res[p].depth + 1),
            None => (0, self.len, 0),
        };

        // Walk the parent's children: find where the new one goes and which it adopts.
        let mut pos = last;
        let mut adopt_end = None;
        let mut i = first;
        while i < last {
            let child = self.res[i];
            let next = self.subtree_end(i);
            if child.start >= start && pos == last {
                pos = i;
            }
            if start <= child.start && child.end <= end {
                adopt_end = Some(next);
            } else if child.overlaps(start, end) {
                return Err(IomemError::Conflict { start, end, name, other: child });
            }
            i = next;
        }

        // Shift right by one and place the new node; adopted subtrees move one level down.
        self.res.copy_within(pos..self.len, pos + 1);
        self.res[pos] = Resource { start, end, name, depth };
        self.len += 1;
        if let Some(adopt_end) = adopt_end {
            for r in &mut self.res[pos + 1..adopt_end + 1] {
                r.depth += 1;
            }
        }
        Ok(())
    }

    /// Renders the file (same text as `Display`).
    pub fn render(&self, w: &mut impl fmt::Write) -> fmt::Result {
        write!(w, "{self}")
    }
}

impl fmt::Display for ResourceTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.iter() {
            let indent = 2 * r.depth.min(MAX_IORES_LEVEL);
            writeln!(
                f,
                "{:indent$}{:0w$x}-{:0w$x} : {}",
                "",
                r.start,
                r.end,
                r.name,
                w = ADDR_WIDTH
            )?;
        }
        Ok(())
    }
}

/// Name of a RAM range the kernel must not use, as Linux's resource trees call it.
pub const RESERVED: &str = "reserved";

/// RAM as Linux lists it: a `System RAM` entry per range of mappable memory (memblock's
/// memory without NOMAP regions, as ARM's `request_standard_resources` walks it with
/// `for_each_mem_range`), each NOMAP region as a top-level `reserved` entry, and the ranges
/// in `reserved` (the device tree's reservations) as `reserved` entries nested in the System
/// RAM they lie in. The nomap and nested `reserved` lines are how arm64 shows them; 32-bit
/// ARM leaves them out, so pivm borrows arm64's presentation to make them visible.
pub fn insert_ram(
    t: &mut ResourceTree,
    memblock: &Memblock,
    reserved: impl Iterator<Item = (u64, u64)>,
) {
    for r in memblock.memory() {
        let name = if r.is_nomap() { RESERVED } else { "System RAM" };
        let _ = t.insert(r.base, r.end() - 1, name);
    }
    for (base, end) in reserved {
        memblock.for_each_map_range(|s, e| {
            let (s, e) = (s.max(base), e.min(end));
            if s < e {
                let _ = t.insert(s, e - 1, RESERVED);
            }
        });
    }
}

/// The devices pivm drives, by their device-tree node names, each at its `reg` range. Both
/// `/proc/iomem` renderers (a program's read and the 64-bit console's `cat`) insert this one
/// list, so the file cannot differ between them.
pub fn insert_board_devices(t: &mut ResourceTree) {
    use crate::board::raspi::map;
    let devices: [(u64, u64, &'static str); 6] = [
        (map::SYSTEM_TIMER_BASE, map::SYSTEM_TIMER_SIZE, "timer@7e003000"),
        (map::MAILBOX_BASE, map::MAILBOX_SIZE, "mailbox@7e00b880"),
        (map::PM_BASE, map::PM_SIZE, "watchdog@7e100000"),
        (map::UART0_BASE, map::UART0_SIZE, "serial@7e201000"),
        (map::EMMC_BASE, map::EMMC_SIZE, "mmc@7e300000"),
        (map::LOCAL_PERIPHERAL_BASE, map::LOCAL_PERIPHERAL_SIZE, "local_intc@40000000"),
    ];
    for (base, size, name) in devices {
        let _ = t.insert(base, base + size - 1, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample's /proc/iomem (Linux 6.1, raspi2b with 1 GiB, 3G/1G split).
    const SAMPLE: &str = "\
00000000-3bffffff : System RAM
  00208000-011fffff : Kernel code
  01400000-01607587 : Kernel data
3f007000-3f007eff : 3f007000.dma dma@7e007000
3f00a000-3f00a023 : 3f100000.watchdog asb
3f00b880-3f00b8bf : 3f00b880.mailbox mailbox@7e00b880
3f100000-3f100113 : 3f100000.watchdog pm
3f101000-3f102fff : 3f101000.cprman cprman@7e101000
3f200000-3f2000b3 : 3f200000.gpio gpio@7e200000
3f201000-3f2011ff : serial@7e201000
  3f201000-3f2011ff : 3f201000.serial serial@7e201000
3f215000-3f215007 : 3f215000.aux aux@7e215000
";

    #[test]
    fn golden_sample() {
        let mut t = ResourceTree::new();
        // Deliberately out of order: the tree sorts and nests.
        t.insert(0x3f20_1000, 0x3f20_11ff, "serial@7e201000").unwrap();
        t.insert(0x3f21_5000, 0x3f21_5007, "3f215000.aux aux@7e215000").unwrap();
        t.insert(0x0000_0000, 0x3bff_ffff, "System RAM").unwrap();
        t.insert(0x0140_0000, 0x0160_7587, "Kernel data").unwrap();
        t.insert(0x0020_8000, 0x011f_ffff, "Kernel code").unwrap();
        t.insert(0x3f00_7000, 0x3f00_7eff, "3f007000.dma dma@7e007000").unwrap();
        t.insert(0x3f10_0000, 0x3f10_0113, "3f100000.watchdog pm").unwrap();
        t.insert(0x3f00_a000, 0x3f00_a023, "3f100000.watchdog asb").unwrap();
        t.insert(0x3f00_b880, 0x3f00_b8bf, "3f00b880.mailbox mailbox@7e00b880").unwrap();
        t.insert(0x3f10_1000, 0x3f10_2fff, "3f101000.cprman cprman@7e101000").unwrap();
        t.insert(0x3f20_0000, 0x3f20_00b3, "3f200000.gpio gpio@7e200000").unwrap();
        t.insert(0x3f20_1000, 0x3f20_11ff, "3f201000.serial serial@7e201000").unwrap();
        assert_eq!(t.to_string(), SAMPLE);
        assert_eq!(t.len(), 12);
        let mut s = String::new();
        t.render(&mut s).unwrap();
        assert_eq!(s, SAMPLE);
    }

    /// Issue 16.5: device-tree reservations are listed; NOMAP splits System RAM.
    #[test]
    fn ram_with_nomap_and_reservations() {
        let mut mb = Memblock::new();
        mb.add(0, 0x3c00_0000).unwrap();
        mb.add(0x4000_0000, 0x100_0000).unwrap();
        mb.mark_nomap(0x2040_0000, 0x10_0000).unwrap();
        let mut t = ResourceTree::new();
        // One reservation inside RAM, one across the end of the second bank and beyond.
        let dt = [(0x1000_0000, 0x1010_0000), (0x40ff_f000, 0x4200_0000)];
        insert_ram(&mut t, &mb, dt.into_iter());
        t.insert(0x8000, 0x48fff, "Kernel code").unwrap();
        assert_eq!(
            t.to_string(),
            "00000000-203fffff : System RAM\n\
             \x20 00008000-00048fff : Kernel code\n\
             \x20 10000000-100fffff : reserved\n\
             20400000-204fffff : reserved\n\
             20500000-3bffffff : System RAM\n\
             40000000-40ffffff : System RAM\n\
             \x20 40fff000-40ffffff : reserved\n"
        );
    }

    #[test]
    fn container_inserted_later_adopts_children() {
        let mut t = ResourceTree::new();
        t.insert(0x0140_0000, 0x0160_7587, "Kernel data").unwrap();
        t.insert(0x3f20_1000, 0x3f20_11ff, "uart").unwrap();
        t.insert(0x0020_8000, 0x011f_ffff, "Kernel code").unwrap();
        t.insert(0x0000_0000, 0x3bff_ffff, "System RAM").unwrap();
        t.insert(0x3f00_0000, 0x3fff_ffff, "peripherals").unwrap();
        assert_eq!(
            t.to_string(),
            "00000000-3bffffff : System RAM\n\
             \x20 00208000-011fffff : Kernel code\n\
             \x20 01400000-01607587 : Kernel data\n\
             3f000000-3fffffff : peripherals\n\
             \x20 3f201000-3f2011ff : uart\n"
        );
    }

    #[test]
    fn adoption_keeps_grandchildren_and_later_siblings() {
        let mut t = ResourceTree::new();
        t.insert(0x1000, 0x1fff, "a").unwrap();
        t.insert(0x1000, 0x10ff, "a.0").unwrap();
        t.insert(0x2000, 0x2fff, "b").unwrap();
        t.insert(0x5000, 0x5fff, "c").unwrap();
        t.insert(0x0000, 0x3fff, "ab").unwrap();
        assert_eq!(
            t.to_string(),
            "00000000-00003fff : ab\n\
             \x20 00001000-00001fff : a\n\
             \x20   00001000-000010ff : a.0\n\
             \x20 00002000-00002fff : b\n\
             00005000-00005fff : c\n"
        );
        assert_eq!(t.find(0x1080).map(|r| r.name), Some("a.0"));
        assert_eq!(t.find(0x3000).map(|r| r.name), Some("ab"));
        assert_eq!(t.find(0x4000), None);
    }

    #[test]
    fn partial_overlap_is_rejected() {
        let mut t = ResourceTree::new();
        t.insert(0x0000_0000, 0x3bff_ffff, "System RAM").unwrap();
        t.insert(0x0020_8000, 0x011f_ffff, "Kernel code").unwrap();
        let err = t.insert(0x0100_0000, 0x0140_0000, "initrd").unwrap_err();
        assert_eq!(
            err.to_string(),
            "initrd: [mem 0x01000000-0x01400000] conflicts with Kernel code \
             [mem 0x00208000-0x011fffff]"
        );
        let err = t.insert(0x3b00_0000, 0x3cff_ffff, "straddle").unwrap_err();
        assert!(matches!(err, IomemError::Conflict { other, .. } if other.name == "System RAM"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn invalid_and_full() {
        let mut t = ResourceTree::new();
        let err = t.insert(0x2000, 0x1fff, "backwards").unwrap_err();
        assert_eq!(err.to_string(), "backwards: invalid range [mem 0x00002000-0x00001fff]");
        for i in 0..IOMEM_CAPACITY as u64 {
            t.insert(i * 0x1000, i * 0x1000 + 0xfff, "page").unwrap();
        }
        let err = t.insert(0x10_0000, 0x10_0fff, "one more").unwrap_err();
        assert_eq!(err.to_string(), "one more: resource tree full (max 32 entries)");
    }

    #[test]
    fn wide_and_deep() {
        let mut t = ResourceTree::new();
        t.insert(0, u64::MAX, "everything").unwrap();
        assert_eq!(t.iter().next().unwrap().size(), u64::MAX);
        for level in 1..8u64 {
            t.insert(level, 0xff_ffff_ffff, "nested").unwrap();
        }
        let text = t.to_string();
        // Above 4 GiB the addresses simply grow; indentation stops at MAX_IORES_LEVEL.
        assert!(text.starts_with("00000000-ffffffffffffffff : everything\n"));
        assert!(text.ends_with("          00000007-ffffffffff : nested\n"));
    }
}
