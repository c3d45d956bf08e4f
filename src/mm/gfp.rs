//! GFP ("get free pages") flags: the request modifiers every page allocation carries, with
//! Linux 6.1's bit values (include/linux/gfp_types.h), their `%pGg` rendering, a parser for
//! the console's `alloc_pages ORDER [GFP]`, and the zone a request may use (`gfp_zone`).

use core::fmt;

use bitflags::bitflags;

use super::zone::ZoneType;

bitflags! {
    /// A `gfp_t`. Single bits carry Linux's `__GFP_*` names, composites the `GFP_*` ones, so
    /// call sites read like Linux: `GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct GfpFlags: u32 {
        // Zone modifiers (the low four bits select the zone, see `gfp_zone`).
        const __GFP_DMA = 0x01;
        const __GFP_HIGHMEM = 0x02;
        const __GFP_DMA32 = 0x04;
        const __GFP_MOVABLE = 0x08;
        // Page mobility and placement hints.
        const __GFP_RECLAIMABLE = 0x10;
        /// The caller is high priority: may dip below the min watermark (ALLOC_HIGH).
        const __GFP_HIGH = 0x20;
        const __GFP_IO = 0x40;
        const __GFP_FS = 0x80;
        /// Return zeroed pages.
        const __GFP_ZERO = 0x100;
        /// The caller cannot sleep or reclaim: may dip further (ALLOC_HARDER, 6.1).
        const __GFP_ATOMIC = 0x200;
        const __GFP_DIRECT_RECLAIM = 0x400;
        const __GFP_KSWAPD_RECLAIM = 0x800;
        const __GFP_WRITE = 0x1000;
        /// Do not print the allocation-failure report.
        const __GFP_NOWARN = 0x2000;
        const __GFP_RETRY_MAYFAIL = 0x4000;
        const __GFP_NOFAIL = 0x8000;
        const __GFP_NORETRY = 0x10000;
        /// Use the emergency reserves (ignore watermarks), unless __GFP_NOMEMALLOC.
        const __GFP_MEMALLOC = 0x20000;
        /// Make an order > 0 block a compound page (head + tails).
        const __GFP_COMP = 0x40000;
        const __GFP_NOMEMALLOC = 0x80000;
        const __GFP_HARDWALL = 0x100000;
        const __GFP_THISNODE = 0x200000;
        const __GFP_ACCOUNT = 0x400000;
        const __GFP_ZEROTAGS = 0x800000;

        const __GFP_RECLAIM = Self::__GFP_DIRECT_RECLAIM.bits() | Self::__GFP_KSWAPD_RECLAIM.bits();
        const GFP_ATOMIC = Self::__GFP_HIGH.bits() | Self::__GFP_ATOMIC.bits()
            | Self::__GFP_KSWAPD_RECLAIM.bits();
        const GFP_KERNEL = Self::__GFP_RECLAIM.bits() | Self::__GFP_IO.bits() | Self::__GFP_FS.bits();
        const GFP_KERNEL_ACCOUNT = Self::GFP_KERNEL.bits() | Self::__GFP_ACCOUNT.bits();
        const GFP_NOWAIT = Self::__GFP_KSWAPD_RECLAIM.bits();
        const GFP_NOIO = Self::__GFP_RECLAIM.bits();
        const GFP_NOFS = Self::__GFP_RECLAIM.bits() | Self::__GFP_IO.bits();
        const GFP_USER = Self::GFP_KERNEL.bits() | Self::__GFP_HARDWALL.bits();
        const GFP_DMA = Self::__GFP_DMA.bits();
        const GFP_DMA32 = Self::__GFP_DMA32.bits();
        const GFP_HIGHUSER = Self::GFP_USER.bits() | Self::__GFP_HIGHMEM.bits();
        /// Without KASAN the `__GFP_SKIP_KASAN_*` bits are 0, as on this board's kernels.
        const GFP_HIGHUSER_MOVABLE = Self::GFP_HIGHUSER.bits() | Self::__GFP_MOVABLE.bits();
        const GFP_TRANSHUGE_LIGHT = (Self::GFP_HIGHUSER_MOVABLE.bits() | Self::__GFP_COMP.bits()
            | Self::__GFP_NOMEMALLOC.bits() | Self::__GFP_NOWARN.bits())
            & !Self::__GFP_RECLAIM.bits();
        const GFP_TRANSHUGE = Self::GFP_TRANSHUGE_LIGHT.bits() | Self::__GFP_DIRECT_RECLAIM.bits();
    }
}

/// Linux-style spellings for call sites: `alloc_pages(GFP_KERNEL, 0)`.
pub const GFP_KERNEL: GfpFlags = GfpFlags::GFP_KERNEL;
pub const GFP_ATOMIC: GfpFlags = GfpFlags::GFP_ATOMIC;
pub const GFP_NOWAIT: GfpFlags = GfpFlags::GFP_NOWAIT;
pub const GFP_USER: GfpFlags = GfpFlags::GFP_USER;
pub const GFP_HIGHUSER: GfpFlags = GfpFlags::GFP_HIGHUSER;
pub const GFP_HIGHUSER_MOVABLE: GfpFlags = GfpFlags::GFP_HIGHUSER_MOVABLE;
pub const GFP_DMA: GfpFlags = GfpFlags::GFP_DMA;
pub const __GFP_DMA: GfpFlags = GfpFlags::__GFP_DMA;
pub const __GFP_HIGHMEM: GfpFlags = GfpFlags::__GFP_HIGHMEM;
pub const __GFP_ZERO: GfpFlags = GfpFlags::__GFP_ZERO;
pub const __GFP_NOWARN: GfpFlags = GfpFlags::__GFP_NOWARN;
pub const __GFP_COMP: GfpFlags = GfpFlags::__GFP_COMP;
pub const __GFP_HIGH: GfpFlags = GfpFlags::__GFP_HIGH;

/// The bits that pick a zone (`GFP_ZONEMASK`).
pub const GFP_ZONEMASK: GfpFlags = GfpFlags::__GFP_DMA
    .union(GfpFlags::__GFP_HIGHMEM)
    .union(GfpFlags::__GFP_DMA32)
    .union(GfpFlags::__GFP_MOVABLE);

/// Linux's `__def_gfpflag_names` (include/trace/events/mmflags.h, 6.1): composites with the
/// most bits first, so `%pGg` prints `GFP_KERNEL|__GFP_COMP` rather than a list of bits.
/// The last entry is pivm's: `__GFP_DMA` never prints (`GFP_DMA` is the same bit and comes
/// first) but lets `parse` accept the bit's own name.
pub const GFPFLAG_NAMES: [(GfpFlags, &str); 37] = [
    (GfpFlags::GFP_TRANSHUGE, "GFP_TRANSHUGE"),
    (GfpFlags::GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
    (GfpFlags::GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (GfpFlags::GFP_HIGHUSER, "GFP_HIGHUSER"),
    (GfpFlags::GFP_USER, "GFP_USER"),
    (GfpFlags::GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
    (GfpFlags::GFP_KERNEL, "GFP_KERNEL"),
    (GfpFlags::GFP_NOFS, "GFP_NOFS"),
    (GfpFlags::GFP_ATOMIC, "GFP_ATOMIC"),
    (GfpFlags::GFP_NOIO, "GFP_NOIO"),
    (GfpFlags::GFP_NOWAIT, "GFP_NOWAIT"),
    (GfpFlags::GFP_DMA, "GFP_DMA"),
    (GfpFlags::__GFP_HIGHMEM, "__GFP_HIGHMEM"),
    (GfpFlags::GFP_DMA32, "GFP_DMA32"),
    (GfpFlags::__GFP_HIGH, "__GFP_HIGH"),
    (GfpFlags::__GFP_ATOMIC, "__GFP_ATOMIC"),
    (GfpFlags::__GFP_IO, "__GFP_IO"),
    (GfpFlags::__GFP_FS, "__GFP_FS"),
    (GfpFlags::__GFP_NOWARN, "__GFP_NOWARN"),
    (GfpFlags::__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
    (GfpFlags::__GFP_NOFAIL, "__GFP_NOFAIL"),
    (GfpFlags::__GFP_NORETRY, "__GFP_NORETRY"),
    (GfpFlags::__GFP_COMP, "__GFP_COMP"),
    (GfpFlags::__GFP_ZERO, "__GFP_ZERO"),
    (GfpFlags::__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"),
    (GfpFlags::__GFP_MEMALLOC, "__GFP_MEMALLOC"),
    (GfpFlags::__GFP_HARDWALL, "__GFP_HARDWALL"),
    (GfpFlags::__GFP_THISNODE, "__GFP_THISNODE"),
    (GfpFlags::__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
    (GfpFlags::__GFP_MOVABLE, "__GFP_MOVABLE"),
    (GfpFlags::__GFP_ACCOUNT, "__GFP_ACCOUNT"),
    (GfpFlags::__GFP_WRITE, "__GFP_WRITE"),
    (GfpFlags::__GFP_RECLAIM, "__GFP_RECLAIM"),
    (GfpFlags::__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
    (GfpFlags::__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
    (GfpFlags::__GFP_ZEROTAGS, "__GFP_ZEROTAGS"),
    (GfpFlags::__GFP_DMA, "__GFP_DMA"),
];

/// Between two names, in `%pGg` output and in what `parse` accepts.
const NAME_SEPARATOR: char = '|';

impl GfpFlags {
    /// Writes the names the way Linux's `%pGg` does (`format_flags`): each table entry whose
    /// bits are all still set prints and clears them, `|`-separated; bits no name covers end
    /// as one hex number. An empty mask prints nothing (so `mode:0x0()`).
    fn write_pgg(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.bits();
        for (mask, name) in GFPFLAG_NAMES.iter() {
            if rest == 0 {
                break;
            }
            let m = mask.bits();
            if m == 0 || rest & m != m {
                continue;
            }
            f.write_str(name)?;
            rest &= !m;
            if rest != 0 {
                write!(f, "{NAME_SEPARATOR}")?;
            }
        }
        if rest != 0 {
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }

    /// Parses what a console user types for a GFP mask: names joined by `|` (`GFP_KERNEL`,
    /// `GFP_ATOMIC|__GFP_ZERO`, `__GFP_HIGHMEM`; case-insensitive, spaces around `|` allowed),
    /// a hex number (`0xcc0`), a decimal one, or a mix (`GFP_KERNEL|0x40000`).
    pub fn parse(s: &str) -> Result<GfpFlags, GfpParseError<'_>> {
        let s = s.trim();
        if s.is_empty() {
            return Err(GfpParseError::Empty);
        }
        let mut flags = GfpFlags::empty();
        for token in s.split(NAME_SEPARATOR) {
            let token = token.trim();
            if token.is_empty() {
                return Err(GfpParseError::Empty);
            }
            flags |= Self::parse_token(token)?;
        }
        Ok(flags)
    }

    fn parse_token(token: &str) -> Result<GfpFlags, GfpParseError<'_>> {
        if let Some((mask, _)) = GFPFLAG_NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(token)) {
            return Ok(*mask);
        }
        let value = if let Some(hex) = token.strip_prefix("0x").or_else(|| token.strip_prefix("0X"))
        {
            u32::from_str_radix(hex, 16)
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            token.parse::<u32>()
        } else {
            return Err(GfpParseError::UnknownName(token));
        };
        let value = value.map_err(|_| GfpParseError::BadNumber(token))?;
        GfpFlags::from_bits(value)
            .ok_or(GfpParseError::UnknownBits(value & !GfpFlags::all().bits()))
    }

    /// False for contradictory zone modifiers (Linux's `GFP_ZONE_BAD`: two of DMA, DMA32 and
    /// HIGHMEM at once), which Linux treats as a bug.
    pub const fn zone_valid(self) -> bool {
        let dma = self.contains(GfpFlags::__GFP_DMA) as u32;
        let dma32 = self.contains(GfpFlags::__GFP_DMA32) as u32;
        let high = self.contains(GfpFlags::__GFP_HIGHMEM) as u32;
        dma + dma32 + high <= 1
    }
}

/// `%pGg`: `GFP_KERNEL|__GFP_COMP`, `GFP_ATOMIC|__GFP_NOWARN`, and nothing at all for 0 (as
/// Linux's `vsprintf`). The alternate form `{:#}` is the tracepoint spelling
/// (`show_gfp_flags`), which says `none` for 0.
impl fmt::Display for GfpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() && f.alternate() {
            return f.write_str("none");
        }
        self.write_pgg(f)
    }
}

/// Why `GfpFlags::parse` refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GfpParseError<'a> {
    /// Nothing, or an empty name between two `|`.
    Empty,
    /// A word that is no GFP name.
    UnknownName(&'a str),
    /// A number that does not fit in 32 bits.
    BadNumber(&'a str),
    /// A number with bits no GFP flag uses (these bits).
    UnknownBits(u32),
}

impl fmt::Display for GfpParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HINT: &str = "expected GFP_KERNEL, GFP_ATOMIC, GFP_HIGHUSER, __GFP_ZERO, ... \
                            joined by '|', or a hex mask";
        match *self {
            GfpParseError::Empty => write!(f, "gfp: empty flag name ({HINT})"),
            GfpParseError::UnknownName(t) => write!(f, "gfp: unknown flag '{t}' ({HINT})"),
            GfpParseError::BadNumber(t) => write!(f, "gfp: '{t}' is not a 32-bit number"),
            GfpParseError::UnknownBits(b) => write!(f, "gfp: bits {b:#x} are not GFP flags"),
        }
    }
}

/// `gfp_zone()`: the highest zone a request may be served from (Linux's `GFP_ZONE_TABLE`:
/// `__GFP_DMA32` means ZONE_DMA32; `__GFP_HIGHMEM` with `__GFP_MOVABLE` means ZONE_MOVABLE,
/// which falls back to HighMem). A zone the kernel is built without stands for Normal (the
/// table's `OPT_ZONE_*`): the node applies that (`Node::highest_zoneidx`), so this stays the
/// same for every configuration. Contradictory modifiers (see [`GfpFlags::zone_valid`]) map to
/// DMA, the table's empty entry; the allocator refuses them.
pub const fn gfp_zone(gfp: GfpFlags) -> ZoneType {
    if !gfp.zone_valid() || gfp.contains(GfpFlags::__GFP_DMA) {
        ZoneType::Dma
    } else if gfp.contains(GfpFlags::__GFP_DMA32) {
        ZoneType::Dma32
    } else if gfp.contains(GfpFlags::__GFP_HIGHMEM) {
        if gfp.contains(GfpFlags::__GFP_MOVABLE) {
            ZoneType::Movable
        } else {
            ZoneType::HighMem
        }
    } else {
        ZoneType::Normal
    }
}

/// The zonelist walk for a request whose highest zone is `highest`: that zone first, then
/// each lower one (Linux's node zonelist order: Movable -> HighMem -> Normal -> DMA32 -> DMA). A request never
/// gets a zone above its own.
pub fn zonelist(highest: ZoneType) -> impl Iterator<Item = ZoneType> {
    ZoneType::ALL.into_iter().rev().filter(move |z| *z <= highest)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::vec::Vec;

    #[test]
    fn bit_values_are_linux_6_1() {
        assert_eq!(GfpFlags::GFP_KERNEL.bits(), 0xcc0);
        assert_eq!(GfpFlags::GFP_ATOMIC.bits(), 0xa20);
        assert_eq!(GfpFlags::GFP_NOWAIT.bits(), 0x800);
        assert_eq!(GfpFlags::GFP_NOIO.bits(), 0xc00);
        assert_eq!(GfpFlags::GFP_NOFS.bits(), 0xc40);
        assert_eq!(GfpFlags::GFP_USER.bits(), 0x100cc0);
        assert_eq!(GfpFlags::GFP_HIGHUSER.bits(), 0x100cc2);
        assert_eq!(GfpFlags::GFP_HIGHUSER_MOVABLE.bits(), 0x100cca);
        assert_eq!(GfpFlags::GFP_KERNEL_ACCOUNT.bits(), 0x400cc0);
        assert_eq!(GfpFlags::GFP_TRANSHUGE_LIGHT.bits(), 0x1c20ca);
        assert_eq!(GfpFlags::GFP_TRANSHUGE.bits(), 0x1c24ca);
        assert_eq!(GfpFlags::__GFP_COMP.bits(), 0x40000);
        assert_eq!(GfpFlags::__GFP_ACCOUNT.bits(), 0x400000);
        assert_eq!(GfpFlags::all().bits(), 0xffffff);
    }

    fn show(g: GfpFlags) -> std::string::String {
        format!("{g}")
    }

    #[test]
    fn display_is_pgg() {
        assert_eq!(show(GFP_KERNEL), "GFP_KERNEL");
        assert_eq!(show(GFP_KERNEL | __GFP_COMP), "GFP_KERNEL|__GFP_COMP");
        assert_eq!(show(GFP_ATOMIC | __GFP_NOWARN), "GFP_ATOMIC|__GFP_NOWARN");
        assert_eq!(show(GFP_HIGHUSER), "GFP_HIGHUSER");
        assert_eq!(show(GFP_HIGHUSER_MOVABLE), "GFP_HIGHUSER_MOVABLE");
        assert_eq!(show(GFP_USER | __GFP_ZERO), "GFP_USER|__GFP_ZERO");
        assert_eq!(show(GFP_KERNEL | GFP_DMA), "GFP_KERNEL|GFP_DMA");
        assert_eq!(show(__GFP_HIGHMEM), "__GFP_HIGHMEM");
        assert_eq!(show(GFP_ATOMIC | __GFP_ZERO), "GFP_ATOMIC|__GFP_ZERO");
        // GFP_NOWAIT is KSWAPD_RECLAIM alone: it wins over the bit name.
        assert_eq!(show(GfpFlags::__GFP_KSWAPD_RECLAIM), "GFP_NOWAIT");
        assert_eq!(show(GfpFlags::__GFP_DIRECT_RECLAIM), "__GFP_DIRECT_RECLAIM");
        assert_eq!(show(GfpFlags::__GFP_HIGH | GfpFlags::__GFP_ATOMIC), "__GFP_HIGH|__GFP_ATOMIC");
        assert_eq!(show(GfpFlags::empty()), "");
        assert_eq!(format!("{:#}", GfpFlags::empty()), "none");
        assert_eq!(format!("{:#}", GFP_KERNEL), "GFP_KERNEL");
        // `mode:%#x(%pGg)` as warn_alloc prints it.
        let g = GFP_KERNEL | __GFP_COMP;
        assert_eq!(format!("mode:{:#x}({g})", g.bits()), "mode:0x40cc0(GFP_KERNEL|__GFP_COMP)");
    }

    #[test]
    fn unknown_bits_print_as_hex() {
        let g = GfpFlags::from_bits_retain(0x0400_0cc0);
        assert_eq!(show(g), "GFP_KERNEL|0x4000000");
        assert_eq!(show(GfpFlags::from_bits_retain(0x0800_0000)), "0x8000000");
    }

    #[test]
    fn every_table_name_round_trips() {
        for (mask, name) in GFPFLAG_NAMES.iter() {
            assert_eq!(GfpFlags::parse(name), Ok(*mask), "{name}");
        }
    }

    #[test]
    fn parse_accepts_names_numbers_and_mixes() {
        assert_eq!(GfpFlags::parse("GFP_KERNEL"), Ok(GFP_KERNEL));
        assert_eq!(GfpFlags::parse("GFP_ATOMIC|__GFP_ZERO"), Ok(GFP_ATOMIC | __GFP_ZERO));
        assert_eq!(GfpFlags::parse(" gfp_atomic | __gfp_zero "), Ok(GFP_ATOMIC | __GFP_ZERO));
        assert_eq!(GfpFlags::parse("__GFP_HIGHMEM"), Ok(__GFP_HIGHMEM));
        assert_eq!(GfpFlags::parse("0xcc0"), Ok(GFP_KERNEL));
        assert_eq!(GfpFlags::parse("0X40CC0"), Ok(GFP_KERNEL | __GFP_COMP));
        assert_eq!(GfpFlags::parse("3264"), Ok(GFP_KERNEL));
        assert_eq!(GfpFlags::parse("GFP_KERNEL|0x40000"), Ok(GFP_KERNEL | __GFP_COMP));
        assert_eq!(GfpFlags::parse("0"), Ok(GfpFlags::empty()));
    }

    #[test]
    fn parse_rejects_garbage_with_a_message() {
        assert_eq!(GfpFlags::parse(""), Err(GfpParseError::Empty));
        assert_eq!(GfpFlags::parse("GFP_KERNEL|"), Err(GfpParseError::Empty));
        assert_eq!(GfpFlags::parse("GFP_BOGUS"), Err(GfpParseError::UnknownName("GFP_BOGUS")));
        assert_eq!(GfpFlags::parse("0xzz"), Err(GfpParseError::BadNumber("0xzz")));
        assert_eq!(GfpFlags::parse("0x123456789"), Err(GfpParseError::BadNumber("0x123456789")));
        assert_eq!(GfpFlags::parse("0x1000000"), Err(GfpParseError::UnknownBits(0x1000000)));
        assert_eq!(GfpFlags::parse("-1"), Err(GfpParseError::UnknownName("-1")));
        let msg = format!("{}", GfpFlags::parse("GFP_BOGUS").unwrap_err());
        assert!(msg.starts_with("gfp: unknown flag 'GFP_BOGUS'"), "{msg}");
    }

    #[test]
    fn gfp_zone_follows_the_zone_table() {
        assert_eq!(gfp_zone(GFP_KERNEL), ZoneType::Normal);
        assert_eq!(gfp_zone(GFP_ATOMIC), ZoneType::Normal);
        assert_eq!(gfp_zone(GFP_USER), ZoneType::Normal);
        assert_eq!(gfp_zone(GFP_HIGHUSER), ZoneType::HighMem);
        assert_eq!(gfp_zone(GFP_HIGHUSER_MOVABLE), ZoneType::Movable);
        assert_eq!(gfp_zone(GFP_KERNEL | GFP_DMA), ZoneType::Dma);
        assert_eq!(gfp_zone(GfpFlags::__GFP_DMA | GfpFlags::__GFP_MOVABLE), ZoneType::Dma);
        assert_eq!(gfp_zone(GfpFlags::GFP_DMA32), ZoneType::Dma32);
        assert_eq!(gfp_zone(GfpFlags::__GFP_MOVABLE), ZoneType::Normal);
        assert!(!(GfpFlags::__GFP_DMA | GfpFlags::__GFP_HIGHMEM).zone_valid());
        assert!(!(GfpFlags::__GFP_DMA32 | GfpFlags::__GFP_HIGHMEM).zone_valid());
        assert!(!(GfpFlags::__GFP_DMA | GfpFlags::__GFP_DMA32).zone_valid());
        assert!(GFP_HIGHUSER_MOVABLE.zone_valid());
    }

    #[test]
    fn zonelist_falls_back_downwards() {
        let z: Vec<_> = zonelist(ZoneType::HighMem).collect();
        assert_eq!(z, [ZoneType::HighMem, ZoneType::Normal, ZoneType::Dma32, ZoneType::Dma]);
        let z: Vec<_> = zonelist(ZoneType::Normal).collect();
        assert_eq!(z, [ZoneType::Normal, ZoneType::Dma32, ZoneType::Dma]);
        let z: Vec<_> = zonelist(ZoneType::Dma).collect();
        assert_eq!(z, [ZoneType::Dma]);
    }
}
