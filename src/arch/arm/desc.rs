//! ARMv7-A short-descriptor translation tables (ARM ARM B3.5), as pure data: bit layouts,
//! encoders, decoders with readable `Display`, a table walk over any memory reader, and a
//! `kernel_page_tables`-style dump. Nothing here touches the MMU, so all of it is host-tested.
//!
//! Conventions: memory attributes are decoded with TEX remap on (SCTLR.TRE=1) under Linux's
//! PRRR/NMRR, and access permissions with the access flag off (SCTLR.AFE=0), which is how
//! Linux 6.1 (and so pivm) runs the MMU. Physical addresses are u64 because supersections
//! reach 40 bits. Encoders take aligned addresses and drop the low bits that do not fit the
//! format, as the hardware would ignore them.
use core::fmt;

use bitflags::bitflags;

use super::pgtable::{
    mem_type_of_pte, mem_type_of_section, mt_name, LinuxPte, PTE_HWTABLE_OFF, PTE_TABLE_PAGE,
};
use crate::mm::PhysAddr;
use crate::sizes::{SZ_16M, SZ_1K, SZ_1M, SZ_4K, SZ_64K};

/// First-level entries in a full table (TTBCR.N = 0): one per MiB of the 4 GiB space.
pub const L1_ENTRIES: usize = 4096;
/// Second-level entries in a (coarse) page table: one per 4 KiB of a MiB.
pub const L2_ENTRIES: usize = 256;
/// Bytes in a full first-level table; its base must be aligned to this (>> TTBCR.N).
pub const L1_TABLE_SIZE: u64 = 16 * SZ_1K;
/// Bytes in a second-level table; its base must be aligned to this.
pub const L2_TABLE_SIZE: u64 = SZ_1K;
/// Linux's `SECTION_SHIFT` / `SECTION_SIZE`.
pub const SECTION_SHIFT: u32 = 20;
pub const SECTION_SIZE: u64 = SZ_1M;
pub const SUPERSECTION_SHIFT: u32 = 24;
pub const SUPERSECTION_SIZE: u64 = SZ_16M;
pub const LARGE_PAGE_SHIFT: u32 = 16;
pub const LARGE_PAGE_SIZE: u64 = SZ_64K;
pub const SMALL_PAGE_SHIFT: u32 = 12;
pub const SMALL_PAGE_SIZE: u64 = SZ_4K;
/// A supersection (and a large page) is repeated in this many consecutive entries.
pub const REPEAT_COUNT: usize = 16;
/// Largest TTBCR.N (the field is 3 bits).
pub const TTBCR_N_MAX: u32 = 7;

/// Linux's ARM domain numbers (asm/domain.h).
pub const DOMAIN_KERNEL: u8 = 0;
pub const DOMAIN_USER: u8 = 1;
pub const DOMAIN_IO: u8 = 2;
pub const DOMAIN_VECTORS: u8 = 3;
/// Domain numbers are 4 bits.
const DOMAIN_MASK: u32 = 0xf;
/// Descriptor bits `[8:5]` hold the domain (and `PA[35:32]` in a supersection).
const DOMAIN_SHIFT: u32 = 5;
/// Descriptor bits `[1:0]` give the type.
const TYPE_MASK: u32 = 0b11;

bitflags! {
    /// A first-level section or supersection descriptor (Linux's `PMD_SECT_*` bits).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SectionFlags: u32 {
        /// Privileged execute-never (Cortex-A7 has it; pivm leaves it clear).
        const PXN = 1 << 0;
        /// Type bit: 1x = section or supersection (`PMD_TYPE_SECT`).
        const TYPE_SECT = 1 << 1;
        /// `PMD_SECT_BUFFERABLE`.
        const B = 1 << 2;
        /// `PMD_SECT_CACHEABLE`.
        const C = 1 << 3;
        /// `PMD_SECT_XN`: execute-never.
        const XN = 1 << 4;
        /// Domain, bits `[8:5]` (`PA[35:32]` in a supersection).
        const DOMAIN = DOMAIN_MASK << DOMAIN_SHIFT;
        /// `AP[0]` (`PMD_SECT_AP_WRITE`).
        const AP0 = 1 << 10;
        /// `AP[1]` (`PMD_SECT_AP_READ`).
        const AP1 = 1 << 11;
        /// `TEX[2:0]`, bits `[14:12]` (`PMD_SECT_TEX(x)`).
        const TEX = 0b111 << 12;
        /// `AP[2]` (`PMD_SECT_APX`): read-only.
        const AP2 = 1 << 15;
        /// `PMD_SECT_S`: shareable.
        const S = 1 << 16;
        /// `PMD_SECT_nG`: not global (ASID-tagged).
        const NG = 1 << 17;
        /// `PMD_SECT_SUPER`: a 16 MiB supersection.
        const SUPER = 1 << 18;
        /// Non-secure.
        const NS = 1 << 19;
    }

    /// A first-level page-table descriptor, pointing at a second-level table.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TableFlags: u32 {
        /// Type 01 (`PMD_TYPE_TABLE`).
        const TYPE_TABLE = 1 << 0;
        /// Privileged execute-never for the whole table (`PMD_PXNTABLE`).
        const PXN = 1 << 2;
        /// Non-secure.
        const NS = 1 << 3;
        /// Domain, bits `[8:5]`.
        const DOMAIN = DOMAIN_MASK << DOMAIN_SHIFT;
    }

    /// A second-level small (4 KiB) page descriptor (Linux's `PTE_EXT_*` hardware bits).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SmallPageFlags: u32 {
        /// `PTE_EXT_XN`: execute-never.
        const XN = 1 << 0;
        /// Type 1x (`PTE_TYPE_SMALL`).
        const TYPE_SMALL = 1 << 1;
        /// `PTE_BUFFERABLE`.
        const B = 1 << 2;
        /// `PTE_CACHEABLE`.
        const C = 1 << 3;
        /// `AP[0]` (`PTE_EXT_AP0`).
        const AP0 = 1 << 4;
        /// `AP[1]` (`PTE_EXT_AP1`).
        const AP1 = 1 << 5;
        /// `TEX[2:0]`, bits `[8:6]` (`PTE_EXT_TEX(x)`).
        const TEX = 0b111 << 6;
        /// `AP[2]` (`PTE_EXT_APX`): read-only.
        const AP2 = 1 << 9;
        /// `PTE_EXT_SHARED`.
        const S = 1 << 10;
        /// `PTE_EXT_NG`.
        const NG = 1 << 11;
    }

    /// A second-level large (64 KiB) page descriptor.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LargePageFlags: u32 {
        /// Type 01 (`PTE_TYPE_LARGE`).
        const TYPE_LARGE = 1 << 0;
        const B = 1 << 2;
        const C = 1 << 3;
        const AP0 = 1 << 4;
        const AP1 = 1 << 5;
        const AP2 = 1 << 9;
        const S = 1 << 10;
        const NG = 1 << 11;
        /// `TEX[2:0]`, bits `[14:12]`.
        const TEX = 0b111 << 12;
        /// Execute-never.
        const XN = 1 << 15;
    }
}

/// Address bits of each format.
const TABLE_ADDR_MASK: u32 = !(L2_TABLE_SIZE as u32 - 1);
const SECTION_ADDR_MASK: u32 = !(SECTION_SIZE as u32 - 1);
const SUPERSECTION_ADDR_MASK: u32 = !(SUPERSECTION_SIZE as u32 - 1);
const LARGE_ADDR_MASK: u32 = !(LARGE_PAGE_SIZE as u32 - 1);
const SMALL_ADDR_MASK: u32 = !(SMALL_PAGE_SIZE as u32 - 1);
/// Supersection `PA[39:36]` sits in descriptor bits `[23:20]`.
const SUPER_PA_39_36_SHIFT: u32 = 20;

/// Cache policy of normal memory (one of the inner/outer halves of `TEX[1:0]` or C,B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    NonCacheable,
    WriteBackWriteAlloc,
    WriteThrough,
    WriteBackNoWriteAlloc,
}

impl CachePolicy {
    /// The 2-bit encoding used by TEX=1xx (00 NC, 01 WB-WA, 10 WT, 11 WB).
    const fn from_bits(bits: u32) -> Self {
        match bits & 0b11 {
            0 => CachePolicy::NonCacheable,
            1 => CachePolicy::WriteBackWriteAlloc,
            2 => CachePolicy::WriteThrough,
            _ => CachePolicy::WriteBackNoWriteAlloc,
        }
    }
}

impl fmt::Display for CachePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CachePolicy::NonCacheable => "non-cacheable",
            CachePolicy::WriteBackWriteAlloc => "WB-WA",
            CachePolicy::WriteThrough => "WT",
            CachePolicy::WriteBackNoWriteAlloc => "WB",
        })
    }
}

/// Linux's Primary Region Remap Register (`proc-v7-2level.S`): for each remap index
/// n = `TEX[0]:C:B`, bits `[2n+1:2n]` give the memory type (00 strongly-ordered, 01 device, 10
/// normal); bits 16-19 the shareability of device and normal memory for S=0/S=1; bits 24+n
/// "not outer shareable".
pub const PRRR: u32 = 0xff0a_81a8;
/// Linux's Normal Memory Remap Register: for index n, bits `[2n+1:2n]` the inner and bits
/// `[2n+17:2n+16]` the outer cache policy of normal memory (00 NC, 01 WB-WA, 10 WT, 11 WB).
pub const NMRR: u32 = 0x40e0_40e0;
/// PRRR bits giving device shareability for S=0 and S=1 (DS0, DS1), normal for S=0/1 (NS0/NS1).
const PRRR_DS0: u32 = 16;
const PRRR_NS0: u32 = 18;
/// NMRR's outer-policy fields start at bit 16.
const NMRR_OUTER_SHIFT: u32 = 16;

/// What `TEX[0]`, C and B select with TEX remap on (SCTLR.TRE=1, ARM ARM B3.8.3), under
/// Linux's PRRR and NMRR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemKind {
    StronglyOrdered,
    Device {
        shared: bool,
    },
    Normal {
        inner: CachePolicy,
        outer: CachePolicy,
        shared: bool,
    },
    /// PRRR's type field 11.
    Reserved,
}

impl fmt::Display for MemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MemKind::StronglyOrdered => f.write_str("strongly-ordered"),
            MemKind::Device { shared: true } => f.write_str("shared device"),
            MemKind::Device { shared: false } => f.write_str("non-shared device"),
            MemKind::Normal { inner, outer, .. } if inner == outer => write!(f, "normal {inner}"),
            MemKind::Normal { inner, outer, .. } => {
                write!(f, "normal inner {inner} outer {outer}")
            }
            MemKind::Reserved => f.write_str("reserved"),
        }
    }
}

/// The memory region attribute bits `TEX[2:0]`, C, B.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemAttr {
    /// `TEX[2:0]` (only the low 3 bits are encoded; with TEX remap only `TEX[0]` counts).
    pub tex: u8,
    pub c: bool,
    pub b: bool,
}

impl MemAttr {
    /// The TEX remap index n = `TEX[0]:C:B` (Linux's `L_PTE_MT_*` bits `[4:2]`).
    pub const fn remap_index(&self) -> u32 {
        ((self.tex as u32 & 1) << 2) | ((self.c as u32) << 1) | self.b as u32
    }

    /// The memory type these bits select under `prrr`/`nmrr`, for a descriptor whose S bit is
    /// `s`.
    pub const fn remap_kind(&self, prrr: u32, nmrr: u32, s: bool) -> MemKind {
        let n = self.remap_index();
        let s = s as u32;
        match (prrr >> (2 * n)) & 0b11 {
            0b00 => MemKind::StronglyOrdered,
            0b01 => MemKind::Device { shared: (prrr >> (PRRR_DS0 + s)) & 1 != 0 },
            0b10 => MemKind::Normal {
                inner: CachePolicy::from_bits(nmrr >> (2 * n)),
                outer: CachePolicy::from_bits(nmrr >> (NMRR_OUTER_SHIFT + 2 * n)),
                shared: (prrr >> (PRRR_NS0 + s)) & 1 != 0,
            },
            _ => MemKind::Reserved,
        }
    }

    /// The memory type under Linux's PRRR and NMRR (how pivm runs the MMU).
    pub const fn kind(&self, s: bool) -> MemKind {
        self.remap_kind(PRRR, NMRR, s)
    }

    /// Linux's name for what these bits select, as its ptdump prints memory types: the
    /// `L_PTE_MT_*` whose index this is (`DEV/SHARED` or `DEV/NONSHARED` by the S bit).
    pub const fn linux_name(&self, s: bool) -> &'static str {
        match self.remap_index() {
            0 => "SO/UNCACHED",
            1 => "MEM/BUFFERABLE/WC",
            2 => "MEM/CACHED/WT",
            3 => "MEM/CACHED/WBRA",
            4 if s => "DEV/SHARED",
            4 => "DEV/NONSHARED",
            6 => "MEM/MINICACHE",
            7 => "MEM/CACHED/WBWA",
            _ => "RESERVED",
        }
    }
}

/// Access permissions `AP[2:0]` with SCTLR.AFE=0 (ARM ARM table B3-8). PL1 is the kernel, PL0
/// user space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ap {
    /// 000: no access at all.
    NoAccess = 0b000,
    /// 001: kernel read/write, no user access.
    Pl1Rw = 0b001,
    /// 010: kernel read/write, user read-only.
    Pl1RwPl0Ro = 0b010,
    /// 011: read/write for both.
    FullRw = 0b011,
    /// 100: reserved.
    Reserved = 0b100,
    /// 101: kernel read-only, no user access.
    Pl1Ro = 0b101,
    /// 110: read-only for both (deprecated encoding).
    AllRoDeprecated = 0b110,
    /// 111: read-only for both.
    AllRo = 0b111,
}

impl Ap {
    /// The 3-bit `AP[2:0]` value.
    pub const fn bits(self) -> u32 {
        self as u32
    }

    /// From `AP[2:0]` (higher bits ignored).
    pub const fn from_bits(bits: u32) -> Self {
        match bits & 0b111 {
            0b000 => Ap::NoAccess,
            0b001 => Ap::Pl1Rw,
            0b010 => Ap::Pl1RwPl0Ro,
            0b011 => Ap::FullRw,
            0b100 => Ap::Reserved,
            0b101 => Ap::Pl1Ro,
            0b110 => Ap::AllRoDeprecated,
            _ => Ap::AllRo,
        }
    }

    /// The 6-column permission field of a ptdump line, as Linux spells it.
    const fn ptdump(self) -> &'static str {
        match self {
            Ap::NoAccess => "    --",
            Ap::Pl1Rw => "    RW",
            Ap::Pl1RwPl0Ro => "USR ro",
            Ap::FullRw => "USR RW",
            Ap::Reserved => "   rsv",
            Ap::Pl1Ro => "    ro",
            Ap::AllRoDeprecated | Ap::AllRo => "USR ro",
        }
    }
}

impl fmt::Display for Ap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ap::NoAccess => "none",
            Ap::Pl1Rw => "PL1 RW",
            Ap::Pl1RwPl0Ro => "PL1 RW PL0 RO",
            Ap::FullRw => "PL1 RW PL0 RW",
            Ap::Reserved => "reserved",
            Ap::Pl1Ro => "PL1 RO",
            Ap::AllRoDeprecated => "PL1 RO PL0 RO (deprecated)",
            Ap::AllRo => "PL1 RO PL0 RO",
        })
    }
}

/// The attributes every mapping format (section, supersection, large and small page) has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    pub mem: MemAttr,
    pub ap: Ap,
    /// Execute-never.
    pub xn: bool,
    /// The S bit (shareable; ignored by the hardware for device and strongly-ordered).
    pub shared: bool,
    /// Not global: the TLB entry belongs to one ASID.
    pub ng: bool,
}

impl Attrs {
    /// Linux's ptdump name of the memory type (see [`MemAttr::linux_name`]).
    pub const fn linux_name(&self) -> &'static str {
        self.mem.linux_name(self.shared)
    }
}

impl fmt::Display for Attrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AP={} XN={} TEX={:03b} C={} B={} ({}: {}) S={} nG={}",
            self.ap,
            u8::from(self.xn),
            self.mem.tex & 0b111,
            u8::from(self.mem.c),
            u8::from(self.mem.b),
            self.linux_name(),
            self.mem.kind(self.shared),
            u8::from(self.shared),
            u8::from(self.ng)
        )
    }
}

/// Where the [`Attrs`] bits sit in one descriptor format.
struct AttrLayout {
    b: u32,
    c: u32,
    xn: u32,
    /// `AP[1:0]` field (two bits; AP0 is the lower).
    ap0: u32,
    ap1: u32,
    ap2: u32,
    tex_shift: u32,
    s: u32,
    ng: u32,
}

const SECTION_LAYOUT: AttrLayout = AttrLayout {
    b: SectionFlags::B.bits(),
    c: SectionFlags::C.bits(),
    xn: SectionFlags::XN.bits(),
    ap0: SectionFlags::AP0.bits(),
    ap1: SectionFlags::AP1.bits(),
    ap2: SectionFlags::AP2.bits(),
    tex_shift: SectionFlags::TEX.bits().trailing_zeros(),
    s: SectionFlags::S.bits(),
    ng: SectionFlags::NG.bits(),
};

const SMALL_LAYOUT: AttrLayout = AttrLayout {
    b: SmallPageFlags::B.bits(),
    c: SmallPageFlags::C.bits(),
    xn: SmallPageFlags::XN.bits(),
    ap0: SmallPageFlags::AP0.bits(),
    ap1: SmallPageFlags::AP1.bits(),
    ap2: SmallPageFlags::AP2.bits(),
    tex_shift: SmallPageFlags::TEX.bits().trailing_zeros(),
    s: SmallPageFlags::S.bits(),
    ng: SmallPageFlags::NG.bits(),
};

const LARGE_LAYOUT: AttrLayout = AttrLayout {
    b: LargePageFlags::B.bits(),
    c: LargePageFlags::C.bits(),
    xn: LargePageFlags::XN.bits(),
    ap0: LargePageFlags::AP0.bits(),
    ap1: LargePageFlags::AP1.bits(),
    ap2: LargePageFlags::AP2.bits(),
    tex_shift: LargePageFlags::TEX.bits().trailing_zeros(),
    s: LargePageFlags::S.bits(),
    ng: LargePageFlags::NG.bits(),
};

/// `bit` if `on`, else 0.
const fn bit_if(on: bool, bit: u32) -> u32 {
    if on {
        bit
    } else {
        0
    }
}

impl AttrLayout {
    const fn encode(&self, a: Attrs) -> u32 {
        let ap = a.ap.bits();
        bit_if(a.mem.b, self.b)
            | bit_if(a.mem.c, self.c)
            | bit_if(a.xn, self.xn)
            | bit_if(ap & 0b001 != 0, self.ap0)
            | bit_if(ap & 0b010 != 0, self.ap1)
            | bit_if(ap & 0b100 != 0, self.ap2)
            | (((a.mem.tex & 0b111) as u32) << self.tex_shift)
            | bit_if(a.shared, self.s)
            | bit_if(a.ng, self.ng)
    }

    const fn decode(&self, raw: u32) -> Attrs {
        let ap = bit_if(raw & self.ap0 != 0, 0b001)
            | bit_if(raw & self.ap1 != 0, 0b010)
            | bit_if(raw & self.ap2 != 0, 0b100);
        Attrs {
            mem: MemAttr {
                tex: ((raw >> self.tex_shift) & 0b111) as u8,
                c: raw & self.c != 0,
                b: raw & self.b != 0,
            },
            ap: Ap::from_bits(ap),
            xn: raw & self.xn != 0,
            shared: raw & self.s != 0,
            ng: raw & self.ng != 0,
        }
    }
}

const fn domain_bits(domain: u8) -> u32 {
    ((domain as u32) & DOMAIN_MASK) << DOMAIN_SHIFT
}

/// A first-level section mapping 1 MiB at `pa` in [`DOMAIN_KERNEL`].
pub const fn section(pa: PhysAddr, attrs: Attrs) -> u32 {
    section_in_domain(pa, attrs, DOMAIN_KERNEL)
}

/// A first-level section mapping 1 MiB at `pa` in `domain`.
pub const fn section_in_domain(pa: PhysAddr, attrs: Attrs, domain: u8) -> u32 {
    (pa.0 as u32 & SECTION_ADDR_MASK)
        | SECTION_LAYOUT.encode(attrs)
        | domain_bits(domain)
        | SectionFlags::TYPE_SECT.bits()
}

/// A first-level supersection mapping 16 MiB at a 40-bit `pa` (store it in 16 consecutive
/// entries). Supersections are always in domain 0.
pub const fn supersection(pa: PhysAddr, attrs: Attrs) -> u32 {
    let pa_35_32 = ((pa.0 >> 32) as u32) & 0xf;
    let pa_39_36 = ((pa.0 >> 36) as u32) & 0xf;
    (pa.0 as u32 & SUPERSECTION_ADDR_MASK)
        | (pa_39_36 << SUPER_PA_39_36_SHIFT)
        | (pa_35_32 << DOMAIN_SHIFT)
        | SECTION_LAYOUT.encode(attrs)
        | SectionFlags::SUPER.bits()
        | SectionFlags::TYPE_SECT.bits()
}

/// A first-level descriptor pointing at the second-level table at `l2_pa` (1 KiB aligned).
pub const fn page_table(l2_pa: PhysAddr, domain: u8) -> u32 {
    (l2_pa.0 as u32 & TABLE_ADDR_MASK) | domain_bits(domain) | TableFlags::TYPE_TABLE.bits()
}

/// A second-level small page mapping 4 KiB at `pa`.
pub const fn small_page(pa: PhysAddr, attrs: Attrs) -> u32 {
    (pa.0 as u32 & SMALL_ADDR_MASK) | SMALL_LAYOUT.encode(attrs) | SmallPageFlags::TYPE_SMALL.bits()
}

/// A second-level large page mapping 64 KiB at `pa` (store it in 16 consecutive entries).
pub const fn large_page(pa: PhysAddr, attrs: Attrs) -> u32 {
    (pa.0 as u32 & LARGE_ADDR_MASK) | LARGE_LAYOUT.encode(attrs) | LargePageFlags::TYPE_LARGE.bits()
}

/// A decoded first-level descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L1Desc {
    /// Type 00: any access faults (a section translation fault).
    Fault,
    /// Type 01: a second-level table.
    PageTable { l2: PhysAddr, domain: u8, pxn: bool, ns: bool },
    /// Type 1x, bit 18 clear: 1 MiB.
    Section { pa: PhysAddr, attrs: Attrs, domain: u8, pxn: bool, ns: bool },
    /// Type 1x, bit 18 set: 16 MiB at a 40-bit address, domain 0.
    Supersection { pa: PhysAddr, attrs: Attrs, pxn: bool, ns: bool },
}

/// A decoded second-level descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Desc {
    /// Type 00: any access faults (a page translation fault).
    Fault,
    /// Type 01: 64 KiB.
    LargePage { pa: PhysAddr, attrs: Attrs },
    /// Type 1x: 4 KiB.
    SmallPage { pa: PhysAddr, attrs: Attrs },
}

/// Decodes a first-level descriptor. Type 11 is a section with PXN set (Cortex-A7 implements
/// PXN; on cores without it that encoding is reserved).
pub const fn decode_l1(raw: u32) -> L1Desc {
    let domain = ((raw >> DOMAIN_SHIFT) & DOMAIN_MASK) as u8;
    match raw & TYPE_MASK {
        0b00 => L1Desc::Fault,
        0b01 => L1Desc::PageTable {
            l2: PhysAddr((raw & TABLE_ADDR_MASK) as u64),
            domain,
            pxn: raw & TableFlags::PXN.bits() != 0,
            ns: raw & TableFlags::NS.bits() != 0,
        },
        _ => {
            let attrs = SECTION_LAYOUT.decode(raw);
            let pxn = raw & SectionFlags::PXN.bits() != 0;
            let ns = raw & SectionFlags::NS.bits() != 0;
            if raw & SectionFlags::SUPER.bits() != 0 {
                let pa_39_36 = ((raw >> SUPER_PA_39_36_SHIFT) & 0xf) as u64;
                let pa =
                    (raw & SUPERSECTION_ADDR_MASK) as u64 | (domain as u64) << 32 | pa_39_36 << 36;
                L1Desc::Supersection { pa: PhysAddr(pa), attrs, pxn, ns }
            } else {
                let pa = PhysAddr((raw & SECTION_ADDR_MASK) as u64);
                L1Desc::Section { pa, attrs, domain, pxn, ns }
            }
        }
    }
}

/// Decodes a second-level descriptor.
pub const fn decode_l2(raw: u32) -> L2Desc {
    match raw & TYPE_MASK {
        0b00 => L2Desc::Fault,
        0b01 => L2Desc::LargePage {
            pa: PhysAddr((raw & LARGE_ADDR_MASK) as u64),
            attrs: LARGE_LAYOUT.decode(raw),
        },
        _ => L2Desc::SmallPage {
            pa: PhysAddr((raw & SMALL_ADDR_MASK) as u64),
            attrs: SMALL_LAYOUT.decode(raw),
        },
    }
}

/// ` PXN=1` / ` NS=1`: rarely-set bits appear only when set, to keep lines short.
fn rare_bits(f: &mut fmt::Formatter<'_>, pxn: bool, ns: bool) -> fmt::Result {
    if pxn {
        f.write_str(" PXN=1")?;
    }
    if ns {
        f.write_str(" NS=1")?;
    }
    Ok(())
}

impl fmt::Display for L1Desc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            L1Desc::Fault => f.write_str("fault"),
            L1Desc::PageTable { l2, domain, pxn, ns } => {
                write!(f, "page table at PA {l2} domain {domain}")?;
                rare_bits(f, pxn, ns)
            }
            L1Desc::Section { pa, attrs, domain, pxn, ns } => {
                write!(f, "section PA {pa} {attrs} domain {domain}")?;
                rare_bits(f, pxn, ns)
            }
            L1Desc::Supersection { pa, attrs, pxn, ns } => {
                write!(f, "supersection PA {pa} {attrs} domain 0")?;
                rare_bits(f, pxn, ns)
            }
        }
    }
}

impl fmt::Display for L2Desc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            L2Desc::Fault => f.write_str("fault"),
            L2Desc::LargePage { pa, attrs } => write!(f, "large page PA {pa} {attrs}"),
            L2Desc::SmallPage { pa, attrs } => write!(f, "small page PA {pa} {attrs}"),
        }
    }
}

/// The kind of descriptor that maps an address, which fixes the mapping's granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapLevel {
    Supersection,
    Section,
    LargePage,
    SmallPage,
}

impl MapLevel {
    /// Bytes one descriptor of this kind maps.
    pub const fn size(self) -> u64 {
        match self {
            MapLevel::Supersection => SUPERSECTION_SIZE,
            MapLevel::Section => SECTION_SIZE,
            MapLevel::LargePage => LARGE_PAGE_SIZE,
            MapLevel::SmallPage => SMALL_PAGE_SIZE,
        }
    }

    /// The level column of a ptdump line.
    const fn ptdump(self) -> &'static str {
        match self {
            MapLevel::Supersection => "SUPER",
            MapLevel::Section => "SECT",
            MapLevel::LargePage => "LARGE",
            MapLevel::SmallPage => "PAGE",
        }
    }
}

impl fmt::Display for MapLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapLevel::Supersection => "16M supersection",
            MapLevel::Section => "1M section",
            MapLevel::LargePage => "64K large page",
            MapLevel::SmallPage => "4K small page",
        })
    }
}

/// Where a walk ended successfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub pa: PhysAddr,
    pub level: MapLevel,
    pub attrs: Attrs,
    /// Effective domain (from the section, or from the page-table descriptor for pages).
    pub domain: u8,
}

/// Why a walk did not produce a physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The first-level descriptor is a fault (ARM's "section translation fault").
    SectionFault,
    /// The second-level descriptor is a fault ("page translation fault").
    PageFault,
    /// The descriptor at `addr` could not be read (the reader returned None).
    Unreadable { level: u8, addr: u64 },
    /// With TTBCR.N = `n`, the TTBR0 table does not cover `va` (TTBR1 translates it).
    OutsideTable { va: u32, n: u32 },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WalkError::SectionFault => f.write_str("section translation fault"),
            WalkError::PageFault => f.write_str("page translation fault"),
            WalkError::Unreadable { level, addr } => {
                write!(f, "cannot read level {level} descriptor at PA {addr:#010x}")
            }
            WalkError::OutsideTable { va, n } => {
                write!(f, "VA {va:#010x} is outside a TTBR0 table with TTBCR.N={n}")
            }
        }
    }
}

/// One descriptor read by a walk: where it was, what it held, what that means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<D> {
    pub addr: u64,
    pub raw: u32,
    pub desc: D,
}

/// The steps and outcome of translating one virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub va: u32,
    /// The first-level entry (None if it could not be read or was never indexed).
    pub l1: Option<Entry<L1Desc>>,
    /// The second-level entry, when the first level pointed at a page table.
    pub l2: Option<Entry<L2Desc>>,
    /// The Linux PTE 2048 bytes below the hardware one, when the table is in Linux's layout.
    pub linux: Option<Entry<u32>>,
    pub result: Result<Translation, WalkError>,
}

impl fmt::Display for Walk {
    /// Renders, one step a line:
    /// ```text
    /// VA 0x80001234
    ///   L1 0x00006000: 0x00011c0e section PA 0x00000000 AP=PL1 RW ... domain 0
    ///   => PA 0x00001234 (1M section)
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "VA {:#010x}", self.va)?;
        if let Some(e) = &self.l1 {
            writeln!(f, "  L1 {:#010x}: {:#010x} {}", e.addr, e.raw, e.desc)?;
        }
        if let Some(e) = &self.l2 {
            writeln!(f, "  L2 {:#010x}: {:#010x} {}", e.addr, e.raw, e.desc)?;
        }
        if let Some(e) = &self.linux {
            writeln!(f, "  Linux PTE {:#010x}: {:#010x} {}", e.addr, e.raw, LinuxPte(e.raw))?;
        }
        match &self.result {
            Ok(t) => {
                write!(f, "  => PA {} ({}", t.pa, t.level)?;
                let mem_type = match (&self.linux, &self.l1) {
                    (Some(l), _) => mem_type_of_pte(l.raw, t.domain),
                    (None, Some(l1)) if self.l2.is_none() => mem_type_of_section(l1.raw),
                    _ => None,
                };
                if let Some(mt) = mem_type {
                    write!(f, ", {}", mt.name)?;
                }
                writeln!(f, ")")
            }
            Err(e) => writeln!(f, "  => fault: {e}"),
        }
    }
}

/// Byte address of the first-level entry for `va` in the table at `table_pa`, or None if a
/// TTBR0 table with this N does not cover `va`. `n` is TTBCR.N (only bits `[2:0]` count): N = 0
/// is a full 4096-entry table indexed by `VA[31:20]` (TTBR1 tables are always indexed this way);
/// N > 0 halves the table N times and indexes it by VA[31-N:20]. Table base bits below the
/// table's alignment are ignored, as the hardware ignores them (TTBR attribute bits).
pub const fn l1_entry_addr(table_pa: u64, n: u32, va: u32) -> Option<u64> {
    let n = n & TTBCR_N_MAX;
    if n > 0 && (va as u64) >> (32 - n) != 0 {
        return None;
    }
    let base = table_pa & !((L1_TABLE_SIZE >> n) - 1);
    Some(base + ((va >> SECTION_SHIFT) as u64) * 4)
}

/// Byte address of the second-level entry for `va` in the table at `l2_pa`.
pub const fn l2_entry_addr(l2_pa: u64, va: u32) -> u64 {
    let index = (va >> SMALL_PAGE_SHIFT) as u64 & (L2_ENTRIES as u64 - 1);
    (l2_pa & !(L2_TABLE_SIZE - 1)) + index * 4
}

/// Translates `va` the way the MMU would, reading descriptors through `read` (physical address
/// of a 32-bit word -> its value, None if unreadable).
pub fn walk(table_pa: u64, n: u32, va: u32, read: impl Fn(u64) -> Option<u32>) -> Walk {
    let mut w = Walk { va, l1: None, l2: None, linux: None, result: Err(WalkError::SectionFault) };
    let Some(l1_addr) = l1_entry_addr(table_pa, n, va) else {
        w.result = Err(WalkError::OutsideTable { va, n: n & TTBCR_N_MAX });
        return w;
    };
    let Some(raw) = read(l1_addr) else {
        w.result = Err(WalkError::Unreadable { level: 1, addr: l1_addr });
        return w;
    };
    let desc = decode_l1(raw);
    w.l1 = Some(Entry { addr: l1_addr, raw, desc });
    let va64 = u64::from(va);
    w.result = match desc {
        L1Desc::Fault => Err(WalkError::SectionFault),
        L1Desc::Section { pa, attrs, domain, .. } => Ok(Translation {
            pa: PhysAddr(pa.0 | (va64 & (SECTION_SIZE - 1))),
            level: MapLevel::Section,
            attrs,
            domain,
        }),
        L1Desc::Supersection { pa, attrs, .. } => Ok(Translation {
            pa: PhysAddr(pa.0 | (va64 & (SUPERSECTION_SIZE - 1))),
            level: MapLevel::Supersection,
            attrs,
            domain: 0,
        }),
        L1Desc::PageTable { l2, domain, .. } => {
            let l2_addr = l2_entry_addr(l2.0, va);
            match read(l2_addr) {
                None => Err(WalkError::Unreadable { level: 2, addr: l2_addr }),
                Some(raw) => {
                    let desc = decode_l2(raw);
                    w.l2 = Some(Entry { addr: l2_addr, raw, desc });
                    if l2_addr & (PTE_TABLE_PAGE - 1) >= PTE_HWTABLE_OFF {
                        let addr = l2_addr - PTE_HWTABLE_OFF;
                        w.linux = read(addr).map(|raw| Entry { addr, raw, desc: raw });
                    }
                    match desc {
                        L2Desc::Fault => Err(WalkError::PageFault),
                        L2Desc::LargePage { pa, attrs } => Ok(Translation {
                            pa: PhysAddr(pa.0 | (va64 & (LARGE_PAGE_SIZE - 1))),
                            level: MapLevel::LargePage,
                            attrs,
                            domain,
                        }),
                        L2Desc::SmallPage { pa, attrs } => Ok(Translation {
                            pa: PhysAddr(pa.0 | (va64 & (SMALL_PAGE_SIZE - 1))),
                            level: MapLevel::SmallPage,
                            attrs,
                            domain,
                        }),
                    }
                }
            }
        }
    };
    w
}

/// Linux's ptdump name of a domain (`get_domain_name`), padded to 7 columns.
pub const fn domain_name(domain: u8) -> &'static str {
    match domain {
        DOMAIN_KERNEL => "KERNEL ",
        DOMAIN_USER => "USER   ",
        DOMAIN_IO => "IO     ",
        DOMAIN_VECTORS => "VECTORS",
        _ => "unknown",
    }
}

/// A named boundary in the virtual address space, printed as `---[ name ]---` (Linux's
/// `struct addr_marker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrMarker<'a> {
    pub start: u64,
    pub name: &'a str,
}

/// A run of mapped memory being accumulated by [`ptdump`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    va_start: u64,
    pa_start: u64,
    level: MapLevel,
    attrs: Attrs,
    domain: u8,
    name: &'static str,
}

/// One granule reached by the dump: `va` maps to `pa` through a `level` descriptor.
#[derive(Clone, Copy)]
struct Chunk {
    pa: u64,
    level: MapLevel,
    attrs: Attrs,
    domain: u8,
    /// Linux's memory-type name (from the Linux PTE where there is one).
    name: &'static str,
}

/// The state of a dump: the current run and the next marker to print.
struct Dumper<'m, 'w, W: fmt::Write> {
    out: &'w mut W,
    markers: &'m [AddrMarker<'m>],
    next_marker: usize,
    run: Option<Run>,
}

impl<W: fmt::Write> Dumper<'_, '_, W> {
    /// Ends the current run at `end` and prints it.
    fn flush(&mut self, end: u64) -> fmt::Result {
        const UNITS: &[u8] = b"KMGTPE";
        let Some(run) = self.run.take() else { return Ok(()) };
        let mut size = (end - run.va_start) >> 10;
        let mut unit = 0;
        while size & 1023 == 0 && unit + 1 < UNITS.len() && size != 0 {
            size >>= 10;
            unit += 1;
        }
        let a = run.attrs;
        writeln!(
            self.out,
            "{:#010x}-{:#010x} -> {:#010x} {:>6}{} {:<5} {} {} {} {} {}",
            run.va_start,
            end,
            run.pa_start,
            size,
            char::from(UNITS[unit]),
            run.level.ptdump(),
            domain_name(run.domain),
            a.ap.ptdump(),
            if a.xn { "NX" } else { "x " },
            if a.shared { "SHD" } else { "   " },
            run.name
        )
    }

    /// Prints the headers of all markers at or below `va`, ending the current run first.
    fn markers_up_to(&mut self, va: u64) -> fmt::Result {
        while let Some(m) = self.markers.get(self.next_marker) {
            if m.start > va {
                break;
            }
            self.flush(va)?;
            writeln!(self.out, "---[ {} ]---", m.name)?;
            self.next_marker += 1;
        }
        Ok(())
    }

    /// Accounts for the granule at `va`: extends the run, starts a new one, or ends it (hole).
    fn note(&mut self, va: u64, chunk: Option<Chunk>) -> fmt::Result {
        self.markers_up_to(va)?;
        let Some(c) = chunk else { return self.flush(va) };
        if let Some(run) = self.run {
            let same = run.level == c.level
                && run.attrs == c.attrs
                && run.domain == c.domain
                && run.name == c.name;
            if same && run.pa_start.wrapping_add(va - run.va_start) == c.pa {
                return Ok(());
            }
            self.flush(va)?;
        }
        self.run = Some(Run {
            va_start: va,
            pa_start: c.pa,
            level: c.level,
            attrs: c.attrs,
            domain: c.domain,
            name: c.name,
        });
        Ok(())
    }
}

/// Dumps every mapping of a first-level table, like Linux's
/// `/sys/kernel/debug/kernel_page_tables`: consecutive granules with the same descriptor
/// kind, attributes and domain and contiguous physical addresses merge into one line, holes
/// print nothing, and each marker prints a `---[ name ]---` header where the walk reaches it
/// (markers must be sorted by start). One line per run:
///
/// ```text
/// 0x80000000-0x80100000 -> 0x00000000      1M SECT  KERNEL      RW x  SHD MEM/CACHED/WBWA
/// |VA start | VA end       | PA start |  size |kind |domain |  AP  |XN| S | memory type
/// ```
/// `kind` is the descriptor (SUPER, SECT, LARGE, PAGE); the domain is named as Linux's ptdump
/// names it; AP is `RW`/`ro` for the kernel, with
/// `USR` when user space has access; `NX` or `x`; `SHD` if the S bit is set; the memory type
/// is Linux's (`MEM/CACHED/WBWA`, `DEV/SHARED`, `SO/UNCACHED`, ...), taken from the Linux PTE
/// for pages in Linux's table layout and from the TEX remap index otherwise.
/// `n` is TTBCR.N as for [`walk`]. Unreadable descriptors are treated as holes.
pub fn ptdump<W: fmt::Write>(
    out: &mut W,
    table_pa: u64,
    n: u32,
    markers: &[AddrMarker<'_>],
    read: impl Fn(u64) -> Option<u32>,
) -> fmt::Result {
    let n = n & TTBCR_N_MAX;
    let entries = L1_ENTRIES >> n;
    let mut d = Dumper { out, markers, next_marker: 0, run: None };
    let mut va = 0u64;
    for index in 0..entries {
        // Always in range: index < entries, so the VA fits the table.
        let l1_addr = l1_entry_addr(table_pa, n, va as u32).unwrap_or(0);
        let l1 = read(l1_addr).map(decode_l1).unwrap_or(L1Desc::Fault);
        match l1 {
            L1Desc::Fault => d.note(va, None)?,
            L1Desc::Section { pa, attrs, domain, .. } => {
                let name = attrs.linux_name();
                let c = Chunk { pa: pa.0, level: MapLevel::Section, attrs, domain, name };
                d.note(va, Some(c))?;
            }
            L1Desc::Supersection { pa, attrs, .. } => {
                let offset = va & (SUPERSECTION_SIZE - 1);
                let name = attrs.linux_name();
                let level = MapLevel::Supersection;
                let c = Chunk { pa: pa.0 + offset, level, attrs, domain: 0, name };
                d.note(va, Some(c))?;
            }
            L1Desc::PageTable { l2, domain, .. } => {
                for page in 0..L2_ENTRIES as u64 {
                    let page_va = va + page * SMALL_PAGE_SIZE;
                    let hw_addr = l2_entry_addr(l2.0, page_va as u32);
                    let raw = read(hw_addr);
                    // Linux's ptdump names the memory type from the Linux PTE, 2048 bytes
                    // below the hardware one in Linux's table layout.
                    let linux_name = |attrs: Attrs| {
                        let linux_pte = (hw_addr & (PTE_TABLE_PAGE - 1) >= PTE_HWTABLE_OFF)
                            .then(|| read(hw_addr - PTE_HWTABLE_OFF))
                            .flatten()
                            .filter(|&p| p != 0);
                        linux_pte.and_then(mt_name).unwrap_or(attrs.linux_name())
                    };
                    let chunk = match raw.map(decode_l2).unwrap_or(L2Desc::Fault) {
                        L2Desc::Fault => None,
                        L2Desc::LargePage { pa, attrs } => Some(Chunk {
                            pa: pa.0 + (page_va & (LARGE_PAGE_SIZE - 1)),
                            level: MapLevel::LargePage,
                            attrs,
                            domain,
                            name: attrs.linux_name(),
                        }),
                        L2Desc::SmallPage { pa, attrs } => Some(Chunk {
                            pa: pa.0,
                            level: MapLevel::SmallPage,
                            attrs,
                            domain,
                            name: linux_name(attrs),
                        }),
                    };
                    d.note(page_va, chunk)?;
                }
            }
        }
        va = (index as u64 + 1) * SECTION_SIZE;
    }
    // Close the last run and print markers the walk did not reach a granule for.
    d.flush(va)?;
    while let Some(m) = d.markers.get(d.next_marker) {
        if m.start >= va {
            break;
        }
        writeln!(d.out, "---[ {} ]---", m.name)?;
        d.next_marker += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A sparse physical memory of descriptor words.
    #[derive(Default)]
    struct Mem(HashMap<u64, u32>);

    impl Mem {
        fn set(&mut self, addr: u64, v: u32) {
            self.0.insert(addr, v);
        }
        fn read(&self) -> impl Fn(u64) -> Option<u32> + '_ {
            |a| Some(self.0.get(&a).copied().unwrap_or(0))
        }
    }

    const L1: u64 = 0x4000;

    // The hardware attributes of Linux's memory types (TEX remap on).
    const RWX: Attrs = Attrs {
        mem: MemAttr { tex: 0b001, c: true, b: true },
        ap: Ap::Pl1Rw,
        xn: false,
        shared: true,
        ng: false,
    };
    const RW: Attrs = Attrs { xn: true, ..RWX };
    const RO: Attrs = Attrs { ap: Ap::Pl1Ro, xn: true, ..RWX };
    const RX: Attrs = Attrs { ap: Ap::Pl1Ro, xn: false, ..RWX };
    const DEV: Attrs = Attrs {
        mem: MemAttr { tex: 0b001, c: false, b: false },
        ap: Ap::Pl1Rw,
        xn: true,
        shared: true,
        ng: false,
    };

    fn pa(a: u64) -> PhysAddr {
        PhysAddr(a)
    }

    #[test]
    fn section_encoding_matches_arm_arm() {
        // PA 0, TEX=001 C=1 B=1, AP=001 (AP0), S, XN=0, domain 0:
        // type 0b10 | B 0x4 | C 0x8 | AP0 0x400 | TEX 0x1000 | S 0x10000.
        assert_eq!(section(pa(0), RWX), 0x0001_140e);
        assert_eq!(section(pa(0x3f00_0000), DEV), 0x3f01_1412);
        assert_eq!(section_in_domain(pa(0x3f00_0000), DEV, DOMAIN_IO), 0x3f01_1452);
        assert_eq!(section(pa(0x0010_0000), RX), 0x0011_940e);
        // Bits below 1 MiB are dropped.
        assert_eq!(section(pa(0x0012_3456), RW), section(pa(0x0010_0000), RW));
    }

    #[test]
    fn page_encodings_match_arm_arm() {
        assert_eq!(page_table(pa(0x0000_8000), DOMAIN_KERNEL), 0x0000_8001);
        assert_eq!(page_table(pa(0x0000_8400), DOMAIN_IO), 0x0000_8441);
        // Small page: type 0b10 | B | C | AP0 0x10 | TEX 0x40 | S 0x400, XN bit 0.
        assert_eq!(small_page(pa(0x1000), RWX), 0x0000_145e);
        assert_eq!(small_page(pa(0x1000), RW), 0x0000_145f);
        assert_eq!(small_page(pa(0x3f20_1000), DEV), 0x3f20_1453);
        // Large page: type 01 | B | C | AP0 | TEX 0x1000 | S, XN bit 15.
        assert_eq!(large_page(pa(0x0001_0000), RW), 0x0001_941d);
    }

    #[test]
    fn round_trips() {
        let all_attrs = [RWX, RW, RO, RX, DEV];
        for attrs in all_attrs {
            let ng = Attrs { ng: true, ..attrs };
            for a in [attrs, ng] {
                assert_eq!(
                    decode_l1(section_in_domain(pa(0x8010_0000), a, 5)),
                    L1Desc::Section {
                        pa: pa(0x8010_0000),
                        attrs: a,
                        domain: 5,
                        pxn: false,
                        ns: false
                    }
                );
                assert_eq!(
                    decode_l1(supersection(pa(0xab_3f00_0000), a)),
                    L1Desc::Supersection {
                        pa: pa(0xab_3f00_0000),
                        attrs: a,
                        pxn: false,
                        ns: false
                    }
                );
                assert_eq!(
                    decode_l2(small_page(pa(0x1234_5000), a)),
                    L2Desc::SmallPage { pa: pa(0x1234_5000), attrs: a }
                );
                assert_eq!(
                    decode_l2(large_page(pa(0x1235_0000), a)),
                    L2Desc::LargePage { pa: pa(0x1235_0000), attrs: a }
                );
            }
        }
        for tex in 0..8u8 {
            for ap in 0..8 {
                let a = Attrs {
                    mem: MemAttr { tex, c: tex & 1 != 0, b: tex & 2 != 0 },
                    ap: Ap::from_bits(ap),
                    xn: ap & 1 == 0,
                    shared: tex & 4 != 0,
                    ng: ap & 2 != 0,
                };
                assert_eq!(
                    decode_l2(small_page(pa(0), a)),
                    L2Desc::SmallPage { pa: pa(0), attrs: a }
                );
                assert_eq!(Ap::from_bits(ap).bits(), ap);
            }
        }
        assert_eq!(
            decode_l1(page_table(pa(0x0000_8400), DOMAIN_VECTORS)),
            L1Desc::PageTable { l2: pa(0x8400), domain: 3, pxn: false, ns: false }
        );
    }

    #[test]
    fn decode_rare_bits_and_faults() {
        assert_eq!(decode_l1(0), L1Desc::Fault);
        assert_eq!(decode_l1(0xffff_fffc), L1Desc::Fault);
        assert_eq!(decode_l2(0x1234_5000), L2Desc::Fault);
        let raw = section(pa(0), RW) | SectionFlags::PXN.bits() | SectionFlags::NS.bits();
        assert!(matches!(decode_l1(raw), L1Desc::Section { pxn: true, ns: true, .. }));
        let raw = page_table(pa(0x8000), 0) | TableFlags::PXN.bits() | TableFlags::NS.bits();
        assert!(matches!(decode_l1(raw), L1Desc::PageTable { pxn: true, ns: true, .. }));
        assert_eq!(decode_l1(raw).to_string(), "page table at PA 0x00008000 domain 0 PXN=1 NS=1");
    }

    #[test]
    fn display_reads_like_the_manual() {
        assert_eq!(
            decode_l1(section(pa(0), RW)).to_string(),
            "section PA 0x00000000 AP=PL1 RW XN=1 TEX=001 C=1 B=1 (MEM/CACHED/WBWA: normal WB-WA) S=1 nG=0 domain 0"
        );
        assert_eq!(
            decode_l1(section_in_domain(pa(0x3f00_0000), DEV, DOMAIN_IO)).to_string(),
            "section PA 0x3f000000 AP=PL1 RW XN=1 TEX=001 C=0 B=0 (DEV/SHARED: shared device) S=1 nG=0 domain 2"
        );
        assert_eq!(
            decode_l2(small_page(pa(0x5000), RX)).to_string(),
            "small page PA 0x00005000 AP=PL1 RO XN=0 TEX=001 C=1 B=1 (MEM/CACHED/WBWA: normal WB-WA) S=1 nG=0"
        );
        assert_eq!(
            decode_l1(supersection(pa(0x1_0000_0000), RW)).to_string(),
            "supersection PA 0x100000000 AP=PL1 RW XN=1 TEX=001 C=1 B=1 (MEM/CACHED/WBWA: normal WB-WA) S=1 nG=0 \
             domain 0"
        );
        assert_eq!(decode_l2(0).to_string(), "fault");
        let odd = Attrs {
            mem: MemAttr { tex: 0b110, c: false, b: true },
            ap: Ap::AllRoDeprecated,
            xn: false,
            shared: false,
            ng: true,
        };
        assert_eq!(
            decode_l2(large_page(pa(0x20000), odd)).to_string(),
            "large page PA 0x00020000 AP=PL1 RO PL0 RO (deprecated) XN=0 TEX=110 C=0 B=1 \
             (MEM/BUFFERABLE/WC: normal non-cacheable) S=0 nG=1"
        );
    }

    #[test]
    fn memory_kinds_under_linux_prrr_nmrr() {
        use CachePolicy::*;
        let k = |tex, c, b, s| MemAttr { tex, c, b }.kind(s);
        // The table in proc-v7-2level.S: n = TEX[0]:C:B.
        assert_eq!(k(0, false, false, true), MemKind::StronglyOrdered);
        let normal = |inner, outer| MemKind::Normal { inner, outer, shared: true };
        assert_eq!(k(0, false, true, true), normal(NonCacheable, NonCacheable));
        assert_eq!(k(0, true, false, true), normal(WriteThrough, WriteThrough));
        assert_eq!(k(0, true, true, true), normal(WriteBackNoWriteAlloc, WriteBackNoWriteAlloc));
        assert_eq!(k(1, false, false, true), MemKind::Device { shared: true });
        assert_eq!(k(1, false, false, false), MemKind::Device { shared: false });
        assert_eq!(k(1, false, true, true), MemKind::StronglyOrdered);
        assert_eq!(k(1, true, true, true), normal(WriteBackWriteAlloc, WriteBackWriteAlloc));
        assert_eq!(
            k(1, true, true, false),
            MemKind::Normal {
                inner: WriteBackWriteAlloc,
                outer: WriteBackWriteAlloc,
                shared: false
            }
        );
        // Only TEX[0] counts with TEX remap.
        assert_eq!(k(0b111, true, true, true), k(1, true, true, true));
        assert_eq!(k(0b110, true, true, true), k(0, true, true, true));
        assert_eq!(
            MemAttr { tex: 1, c: true, b: false }.kind(true).to_string(),
            "strongly-ordered"
        );
        assert_eq!(k(0, false, false, true).to_string(), "strongly-ordered");
        // A PRRR type of 11 is reserved.
        assert_eq!(
            MemAttr { tex: 0, c: false, b: false }.remap_kind(3, 0, false),
            MemKind::Reserved
        );
        let mixed =
            MemAttr { tex: 0, c: true, b: true }.remap_kind(2 << 6, 0x2 << 22 | 1 << 6, false);
        assert_eq!(mixed.to_string(), "normal inner WB-WA outer WT");
        let word = |tex, c, b, s| MemAttr { tex, c, b }.linux_name(s);
        assert_eq!(word(1, true, true, true), "MEM/CACHED/WBWA");
        assert_eq!(word(0, true, true, true), "MEM/CACHED/WBRA");
        assert_eq!(word(0, true, false, true), "MEM/CACHED/WT");
        assert_eq!(word(0, false, true, true), "MEM/BUFFERABLE/WC");
        assert_eq!(word(0, false, false, true), "SO/UNCACHED");
        assert_eq!(word(1, false, false, true), "DEV/SHARED");
        assert_eq!(word(1, false, false, false), "DEV/NONSHARED");
        assert_eq!(word(1, true, false, true), "MEM/MINICACHE");
        assert_eq!(word(1, false, true, true), "RESERVED");
        assert_eq!(PRRR, 0xff0a_81a8);
        assert_eq!(NMRR, 0x40e0_40e0);
    }

    #[test]
    fn walk_section() {
        let mut m = Mem::default();
        // 0x80000000 -> PA 0 (entry 0x800 at L1 + 0x2000).
        m.set(L1 + 0x800 * 4, section(pa(0), RWX));
        let w = walk(L1, 0, 0x8001_2345, m.read());
        let l1 = w.l1.unwrap();
        assert_eq!(l1.addr, 0x6000);
        assert_eq!(l1.raw, 0x0001_140e);
        assert!(w.l2.is_none());
        let t = w.result.unwrap();
        assert_eq!(t.pa, pa(0x0001_2345));
        assert_eq!(t.level, MapLevel::Section);
        assert_eq!(t.attrs, RWX);
        assert_eq!(
            w.to_string(),
            "VA 0x80012345\n\
             \x20 L1 0x00006000: 0x0001140e section PA 0x00000000 AP=PL1 RW XN=0 TEX=001 C=1 B=1 \
             (MEM/CACHED/WBWA: normal WB-WA) S=1 nG=0 domain 0\n\
             \x20 => PA 0x00012345 (1M section, MT_MEMORY_RWX)\n"
        );
        // TTBR low bits (IRGN/RGN/S attributes) are ignored.
        assert_eq!(walk(L1 | 0x4a, 0, 0x8001_2345, m.read()).result, w.result);
    }

    #[test]
    fn walk_pages() {
        let mut m = Mem::default();
        let l2 = 0x8400;
        m.set(L1 + 0xf00 * 4, page_table(pa(l2), DOMAIN_IO));
        m.set(l2 + 4, small_page(pa(0x3f20_1000), DEV));
        for i in 0x10..0x20 {
            m.set(l2 + i * 4, large_page(pa(0x0123_0000), RW));
        }
        let w = walk(L1, 0, 0xf000_1abc, m.read());
        assert_eq!(w.l1.unwrap().addr, L1 + 0xf00 * 4);
        assert_eq!(w.l2.unwrap().addr, l2 + 4);
        let t = w.result.unwrap();
        assert_eq!((t.pa, t.level, t.domain), (pa(0x3f20_1abc), MapLevel::SmallPage, DOMAIN_IO));
        let t = walk(L1, 0, 0xf001_abcd, m.read()).result.unwrap();
        assert_eq!((t.pa, t.level), (pa(0x0123_abcd), MapLevel::LargePage));
        let w = walk(L1, 0, 0xf000_2000, m.read());
        assert_eq!(w.result, Err(WalkError::PageFault));
        assert_eq!(w.l2.unwrap().desc, L2Desc::Fault);
        assert!(w.to_string().ends_with("  => fault: page translation fault\n"));
    }

    #[test]
    fn walk_supersection() {
        let mut m = Mem::default();
        for i in 0..16 {
            m.set(L1 + (0x400 + i) * 4, supersection(pa(0x12_0000_0000), RW));
        }
        let t = walk(L1, 0, 0x40ab_cdef, m.read()).result.unwrap();
        assert_eq!(t.pa, pa(0x12_00ab_cdef));
        assert_eq!(t.level, MapLevel::Supersection);
    }

    #[test]
    fn walk_faults_and_unreadable() {
        let mut m = Mem::default();
        let w = walk(L1, 0, 0x1234_5678, m.read());
        assert_eq!(w.result, Err(WalkError::SectionFault));
        assert_eq!(w.l1.unwrap().raw, 0);
        assert_eq!(WalkError::SectionFault.to_string(), "section translation fault");

        let w = walk(L1, 0, 0, |_| None);
        assert_eq!(w.result, Err(WalkError::Unreadable { level: 1, addr: L1 }));
        assert!(w.l1.is_none());
        assert_eq!(
            w.result.unwrap_err().to_string(),
            "cannot read level 1 descriptor at PA 0x00004000"
        );

        m.set(L1, page_table(pa(0x9000), 0));
        let only_l1 = |a: u64| (a < 0x8000).then(|| m.read()(a)).flatten();
        let w = walk(L1, 0, 0x0000_3000, only_l1);
        assert_eq!(w.result, Err(WalkError::Unreadable { level: 2, addr: 0x900c }));
    }

    #[test]
    fn walk_with_ttbcr_n() {
        let mut m = Mem::default();
        // N=1: TTBR0 covers 0..2G with an 8 KiB table indexed by VA[30:20].
        let ttbr0 = 0x2000;
        m.set(ttbr0 + 0x7ff * 4, section(pa(0x0070_0000), RW));
        let t = walk(ttbr0, 1, 0x7ff0_0010, m.read()).result.unwrap();
        assert_eq!(t.pa, pa(0x0070_0010));
        let w = walk(ttbr0, 1, 0x8000_0000, m.read());
        assert_eq!(w.result, Err(WalkError::OutsideTable { va: 0x8000_0000, n: 1 }));
        assert_eq!(
            w.result.unwrap_err().to_string(),
            "VA 0x80000000 is outside a TTBR0 table with TTBCR.N=1"
        );
        assert_eq!(l1_entry_addr(0x2000, 1, 0x7fff_ffff), Some(0x2000 + 0x7ff * 4));
        assert_eq!(l1_entry_addr(0x2000, 7, 0x01ff_ffff), Some(0x2000 + 0x1f * 4));
        assert_eq!(l1_entry_addr(0x2000, 7, 0x0200_0000), None);
        // Only TTBCR[2:0] counts.
        assert_eq!(l1_entry_addr(0x4000, 8, 0xffff_ffff), Some(0x4000 + 0xfff * 4));
    }

    /// A small kernel-like address space (3G/1G split, 1 GiB RAM at PA 0).
    fn kernel_tables() -> Mem {
        let mut m = Mem::default();
        let l1 = |va: u64| L1 + (va >> 20) * 4;
        // Lowmem: kernel text (RWX) 1M, then 3M of RW data, then 1M read-only from PA 0x400000
        // but a hole at 0xc0500000, then 2M at a discontiguous PA.
        m.set(l1(0xc000_0000), section(pa(0x0000_0000), RWX));
        for i in 1..4 {
            m.set(l1(0xc000_0000 + i * SZ_1M), section(pa(i * SZ_1M), RW));
        }
        m.set(l1(0xc040_0000), section(pa(0x0040_0000), RO));
        m.set(l1(0xc060_0000), section(pa(0x0080_0000), RW));
        m.set(l1(0xc070_0000), section(pa(0x0060_0000), RW));
        // Modules: one page table with two pages of RW memory.
        let mods = 0x9000;
        m.set(l1(0xbf00_0000), page_table(pa(mods), DOMAIN_KERNEL));
        m.set(mods, small_page(pa(0x0300_0000), RW));
        m.set(mods + 4, small_page(pa(0x0300_1000), RW));
        // vmalloc: UART and two RAM pages that are not physically contiguous, then a 64K page.
        let vm = 0x9400;
        m.set(l1(0xf000_0000), page_table(pa(vm), DOMAIN_KERNEL));
        m.set(vm, small_page(pa(0x3f20_1000), DEV));
        m.set(vm + 2 * 4, small_page(pa(0x0500_0000), RW));
        m.set(vm + 3 * 4, small_page(pa(0x0400_0000), RW));
        for i in 16..32 {
            m.set(vm + i * 4, large_page(pa(0x0600_0000), RW));
        }
        // Vectors: one read-only executable page at 0xffff0000, stubs page after it.
        let vec = 0x9800;
        m.set(l1(0xffff_0000), page_table(pa(vec), DOMAIN_VECTORS));
        m.set(vec + 0xf0 * 4, small_page(pa(0x0010_0000), RX));
        m.set(vec + 0xf1 * 4, small_page(pa(0x0010_1000), RX));
        m
    }

    const MARKERS: [AddrMarker<'static>; 6] = [
        AddrMarker { start: 0xbf00_0000, name: "Modules" },
        AddrMarker { start: 0xc000_0000, name: "Kernel Mapping" },
        AddrMarker { start: 0xf000_0000, name: "vmalloc() Area" },
        AddrMarker { start: 0xffc8_0000, name: "Fixmap Area" },
        AddrMarker { start: 0xffff_0000, name: "Vectors" },
        AddrMarker { start: 0xffff_2000, name: "Vectors End" },
    ];

    #[test]
    fn ptdump_golden() {
        let m = kernel_tables();
        let mut out = String::new();
        ptdump(&mut out, L1, 0, &MARKERS, m.read()).unwrap();
        let expected = "\
---[ Modules ]---
0xbf000000-0xbf002000 -> 0x03000000      8K PAGE  KERNEL      RW NX SHD MEM/CACHED/WBWA
---[ Kernel Mapping ]---
0xc0000000-0xc0100000 -> 0x00000000      1M SECT  KERNEL      RW x  SHD MEM/CACHED/WBWA
0xc0100000-0xc0400000 -> 0x00100000      3M SECT  KERNEL      RW NX SHD MEM/CACHED/WBWA
0xc0400000-0xc0500000 -> 0x00400000      1M SECT  KERNEL      ro NX SHD MEM/CACHED/WBWA
0xc0600000-0xc0700000 -> 0x00800000      1M SECT  KERNEL      RW NX SHD MEM/CACHED/WBWA
0xc0700000-0xc0800000 -> 0x00600000      1M SECT  KERNEL      RW NX SHD MEM/CACHED/WBWA
---[ vmalloc() Area ]---
0xf0000000-0xf0001000 -> 0x3f201000      4K PAGE  KERNEL      RW NX SHD DEV/SHARED
0xf0002000-0xf0003000 -> 0x05000000      4K PAGE  KERNEL      RW NX SHD MEM/CACHED/WBWA
0xf0003000-0xf0004000 -> 0x04000000      4K PAGE  KERNEL      RW NX SHD MEM/CACHED/WBWA
0xf0010000-0xf0020000 -> 0x06000000     64K LARGE KERNEL      RW NX SHD MEM/CACHED/WBWA
---[ Fixmap Area ]---
---[ Vectors ]---
0xffff0000-0xffff2000 -> 0x00100000      8K PAGE  VECTORS     ro x  SHD MEM/CACHED/WBWA
---[ Vectors End ]---
";
        assert_eq!(out, expected);
    }

    #[test]
    fn ptdump_merges_supersections_and_runs_to_4g() {
        let mut m = Mem::default();
        for i in 0..32u64 {
            let base = 0x1_0000_0000 + (i / 16) * SUPERSECTION_SIZE;
            m.set(L1 + (0xe00 + i) * 4, supersection(pa(base), RW));
        }
        // A section at the very top: the last line ends at 4 GiB.
        m.set(L1 + 0xfff * 4, section(pa(0x3ff0_0000), DEV));
        let mut out = String::new();
        ptdump(&mut out, L1, 0, &[], m.read()).unwrap();
        assert_eq!(
            out,
            "0xe0000000-0xe2000000 -> 0x100000000     32M SUPER KERNEL      RW NX SHD MEM/CACHED/WBWA\n\
             0xfff00000-0x100000000 -> 0x3ff00000      1M SECT  KERNEL      RW NX SHD DEV/SHARED\n"
        );
    }

    #[test]
    fn ptdump_ttbr0_half_table_and_trailing_markers() {
        let mut m = Mem::default();
        let ttbr0 = 0x2000;
        m.set(ttbr0 + 4, section(pa(0x0010_0000), RW));
        // An entry beyond the N=1 table must not be visited.
        m.set(ttbr0 + 0x800 * 4, section(pa(0), RW));
        let markers = [
            AddrMarker { start: 0, name: "User" },
            AddrMarker { start: 0x7fff_f000, name: "Top" },
            AddrMarker { start: 0x8000_0000, name: "Not reached" },
        ];
        let mut out = String::new();
        ptdump(&mut out, ttbr0, 1, &markers, m.read()).unwrap();
        assert_eq!(
            out,
            "---[ User ]---\n\
             0x00100000-0x00200000 -> 0x00100000      1M SECT  KERNEL      RW NX SHD MEM/CACHED/WBWA\n\
             ---[ Top ]---\n"
        );
    }

    #[test]
    fn ptdump_splits_on_domain_and_unreadable_is_a_hole() {
        let mut m = Mem::default();
        m.set(L1, section_in_domain(pa(0), RW, 0));
        m.set(L1 + 4, section_in_domain(pa(SZ_1M), RW, 1));
        m.set(L1 + 8, section(pa(2 * SZ_1M), RW));
        m.set(L1 + 12, section(pa(3 * SZ_1M), RW));
        let read = |a: u64| if a == L1 + 8 { None } else { m.read()(a) };
        let mut out = String::new();
        ptdump(&mut out, L1, 0, &[], read).unwrap();
        assert_eq!(out.lines().count(), 3);
        assert!(out.starts_with("0x00000000-0x00100000 "));
        assert!(out.ends_with(
            "0x00300000-0x00400000 -> 0x00300000      1M SECT  KERNEL      RW NX SHD MEM/CACHED/WBWA\n"
        ));
    }
}
