//! The profiles applied: each one on every split and on the board's RAM, the device layouts
//! of the case study reproduced exactly, bad profiles rejected with their reason and the
//! layout left as Linux computes it, and arbitrary profiles never breaking the computation.
use super::super::memory::*;
use super::super::profile::*;
use super::*;
use crate::mm::era::{Era, KernelEra, LINUX_61_I386_ZONES, LINUX_61_RPI, LINUX_MAX_ORDER};
use crate::mm::mm_init::PfnRange;
use crate::mm::Pfn;
use crate::sizes::{SZ_16M, SZ_1G, SZ_1M, SZ_8M};
use proptest::prelude::*;

const MIB: u64 = SZ_1M;
/// The device: 1 GiB.
const DEVICE: [MemBank; 1] = [MemBank { start: PhysAddr(0), size: SZ_1G }];
/// raspi2b in QEMU: 960 MiB.
const RASPI2B: [MemBank; 1] = [MemBank { start: PhysAddr(0), size: 960 * MIB }];

fn input(page_offset: u64, banks: &[MemBank]) -> LayoutInput<'_> {
    LayoutInput { page_offset, banks, vmalloc: None, mem: &[], highmem: true, dma_zone_size: None }
}

fn apply(i: &LayoutInput, p: &Profile) -> (Layout, Vec<String>) {
    let (l, w) = compute_with_profile(i, p);
    (l, w.iter().map(ToString::to_string).collect())
}

fn mib(bytes: u64) -> u64 {
    bytes / MIB
}

fn carveouts(l: &Layout) -> Vec<(&'static str, u64, u64)> {
    l.carveouts().iter().map(|c| (c.name, c.start.0, c.end().0)).collect()
}

fn holes(l: &Layout) -> Vec<(&'static str, u64, u64)> {
    l.holes().iter().map(|h| (h.name, h.start.as_u64(), h.end.as_u64())).collect()
}

#[test]
fn lookup_by_name() {
    assert_eq!(Profile::by_name("linux"), Some(&LINUX));
    assert_eq!(Profile::by_name("Android-A9"), Some(&ANDROID_A9));
    assert_eq!(Profile::by_name("android-a9-720m"), Some(&ANDROID_A9_720M));
    assert_eq!(Profile::by_name("x86-classic"), Some(&X86_CLASSIC));
    assert_eq!(Profile::by_name("android"), None);
    assert_eq!(lookup(None), Ok(&LINUX));
    assert_eq!(lookup(Some("x86-classic")), Ok(&X86_CLASSIC));
    assert_eq!(Profile::by_name("debian-armmp"), Some(&DEBIAN_ARMMP));
    assert_eq!(
        ProfileNames.to_string(),
        "linux, x86-classic, android-a9, android-a9-720m, debian-armmp"
    );
    assert_eq!(
        lookup(Some("rpi")).unwrap_err().to_string(),
        "pivm: unknown profile \"rpi\" (valid: linux, x86-classic, android-a9, android-a9-720m, debian-armmp); using profile linux"
    );
    for p in PROFILES {
        assert!(!p.description.is_empty() && !p.description.contains('\n'));
    }
    // One kernel, one era: the Android device's 3.x kernel, 6.1 everywhere else.
    for p in PROFILES {
        let android = p.name.starts_with("android");
        let want = if android { KernelEra::Linux3x } else { KernelEra::Linux61 };
        assert_eq!(p.era.page_alloc, want);
        assert_eq!(p.era.max_order, if p.name == "debian-armmp" { 12 } else { LINUX_MAX_ORDER });
    }
    // CMA: the Pi's 64 MiB and Debian's; none for the Android device (its pmem carve-out
    // came before CMA) or the i386 picture.
    assert_eq!(LINUX.era.cma_default, Some(64 << 20));
    assert_eq!(DEBIAN_ARMMP.era.cma_default, Some(64 << 20));
    assert_eq!(ANDROID_A9.era.cma_default, None);
    assert_eq!(X86_CLASSIC.era.cma_default, None);
    assert_eq!(DEBIAN_ARMMP.era.dma_zone, DmaZoneSpec::AllLowmem);
    assert_eq!(LINUX.era.dma_zone, DmaZoneSpec::None);
    assert_eq!(X86_CLASSIC.era.dma_zone, DmaZoneSpec::Exact(16 << 20));
    // The kernel-behaviour part is shared: the two Android layouts run the same kernel.
    assert_eq!(ANDROID_A9.era, ANDROID_A9_720M.era);
}

#[test]
fn linux_profile_is_the_plain_computation() {
    let two_banks = [
        MemBank { start: PhysAddr(0), size: SZ_16M },
        MemBank { start: PhysAddr(0x1000_0000), size: 256 * MIB },
    ];
    for po in [VMSPLIT_3G, VMSPLIT_3G_OPT, VMSPLIT_2G, VMSPLIT_1G, 0x1234_5678] {
        for banks in [&RASPI2B[..], &DEVICE[..], &two_banks[..]] {
            for (vmalloc, mem, highmem, dma) in [
                (None, &[][..], true, None),
                (Some(400 * MIB), &[], false, Some(SZ_16M)),
                (Some(1), &[MemParam { size: 512 * MIB, start: None }], true, None),
            ] {
                let i =
                    LayoutInput { vmalloc, mem, highmem, dma_zone_size: dma, ..input(po, banks) };
                let (l, w) = compute(&i);
                let (lp, wp) = compute_with_profile(&i, &LINUX);
                assert_eq!(l, lp);
                assert_eq!(w, wp);
                assert_eq!(l.profile, "linux");
                assert!(l.carveouts().is_empty() && l.holes().is_empty());
            }
        }
    }
}

#[test]
fn android_a9_on_the_3g_build_is_the_device() {
    for (banks, highmem_mib) in [(&DEVICE, 512), (&RASPI2B, 448)] {
        let (l, w) = apply(&input(VMSPLIT_3G, banks), &ANDROID_A9);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(l.profile, "android-a9");
        assert_eq!(mib(l.lowmem_size()), 512);
        assert_eq!(mib(l.highmem_size()), highmem_mib);
        assert_eq!(l.high_memory.as_u64(), 0xe000_0000);
        assert_eq!(l.vmalloc_start.as_u64(), 0xe080_0000);
        assert_eq!(l.vmalloc_end.as_u64(), 0xf000_0000);
        assert_eq!(mib(l.vmalloc_size()), 248);
        assert_eq!(l.modules_vaddr.as_u64(), 0xbf00_0000);
        assert_eq!(l.modules_end.as_u64(), 0xbfe0_0000);
        assert_eq!(l.pkmap_base, Some(VirtAddr(0xbfe0_0000)));
        assert_eq!(
            carveouts(&l),
            [("CP", 0x1f00_0000, 0x2000_0000), ("pmem", 0x1700_0000, 0x1f00_0000)]
        );
        assert_eq!(mib(l.lowmem_size() - l.carveout_size()), 368);
        assert_eq!(
            holes(&l),
            [("unused", 0xf000_0000, 0xfd10_0000), ("iotable", 0xfd10_0000, 0xff80_0000)]
        );
        assert_eq!(mib(l.holes()[0].size()), 209);
        assert_eq!(l.zones.normal, PfnRange { start: Pfn(0), end: Pfn(0x20000) });
        assert_eq!(l.zones.dma, None);
        assert_eq!(l.zones.highmem.unwrap().start, Pfn(0x20000));
        // Linux's formula for the old `vmalloc=256M`: VMALLOC_END - 256 MiB is lowmem's end.
        assert_eq!(l.vmalloc_end.as_u64() - 256 * MIB, l.high_memory.as_u64());
    }
}

#[test]
fn android_a9_720m_on_the_3g_build() {
    for (banks, highmem_mib) in [(&DEVICE, 304), (&RASPI2B, 240)] {
        let (l, w) = apply(&input(VMSPLIT_3G, banks), &ANDROID_A9_720M);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(mib(l.lowmem_size()), 720);
        assert_eq!(mib(l.highmem_size()), highmem_mib);
        assert_eq!(l.high_memory.as_u64(), 0xed00_0000);
        assert_eq!(l.vmalloc_start.as_u64(), 0xed80_0000);
        assert_eq!(l.vmalloc_end.as_u64(), 0xfd00_0000);
        assert_eq!(mib(l.vmalloc_size()), 248, "the vmalloc range keeps the device's size");
        assert_eq!(
            carveouts(&l),
            [("CP", 0x2c00_0000, 0x2d00_0000), ("pmem", 0x2400_0000, 0x2c00_0000)]
        );
        assert_eq!(
            holes(&l),
            [("placeholder", 0xfd00_0000, 0xfd10_0000), ("iotable", 0xfd10_0000, 0xff80_0000)]
        );
        assert_eq!(l.vmalloc_end.as_u64() - 256 * MIB, l.high_memory.as_u64());
    }
    // The fix moved everything above lowmem up by lowmem's growth.
    let (old, _) = compute_with_profile(&input(VMSPLIT_3G, &RASPI2B), &ANDROID_A9);
    let (new, _) = compute_with_profile(&input(VMSPLIT_3G, &RASPI2B), &ANDROID_A9_720M);
    assert_eq!(new.vmalloc_end.as_u64() - old.vmalloc_end.as_u64(), 208 * MIB);
    assert_eq!(new.vmalloc_start.as_u64() - old.vmalloc_start.as_u64(), 208 * MIB);
}

#[test]
fn android_profiles_shift_with_the_split() {
    // (PAGE_OFFSET, profile, high_memory, VMALLOC_END, first hole)
    let cases = [
        (VMSPLIT_2G, &ANDROID_A9, 0xa000_0000, 0xb000_0000, ("unused", 0xb000_0000, 0xbd10_0000)),
        (VMSPLIT_1G, &ANDROID_A9, 0x6000_0000, 0x7000_0000, ("unused", 0x7000_0000, 0x7d10_0000)),
        (
            VMSPLIT_2G,
            &ANDROID_A9_720M,
            0xad00_0000,
            0xbd00_0000,
            ("placeholder", 0xbd00_0000, 0xbd10_0000),
        ),
        (
            VMSPLIT_1G,
            &ANDROID_A9_720M,
            0x6d00_0000,
            0x7d00_0000,
            ("placeholder", 0x7d00_0000, 0x7d10_0000),
        ),
    ];
    for (po, p, high_memory, vmalloc_end, first) in cases {
        let (l, w) = apply(&input(po, &RASPI2B), p);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(l.high_memory.as_u64(), high_memory);
        assert_eq!(l.vmalloc_start.as_u64(), high_memory + SZ_8M);
        assert_eq!(l.vmalloc_end.as_u64(), vmalloc_end);
        assert_eq!(mib(l.vmalloc_size()), 248);
        assert_eq!(l.modules_vaddr.as_u64(), po - SZ_16M);
        let h = holes(&l);
        assert_eq!(h[0], first);
        assert_eq!(h[1], ("iotable", po + 0x3d10_0000, po + 0x3f80_0000));
        assert_eq!(h[2], ("split-shift", po + 0x3f80_0000, FDT_FIXED_BASE));
        assert_eq!(l.carveouts()[0].end(), l.arm_lowmem_limit);
        assert!(validate_profile(p, po, &RASPI2B).is_ok());
    }
}

#[test]
fn x86_classic_zones_at_16m_and_896m() {
    for po in [VMSPLIT_3G, VMSPLIT_3G_OPT, VMSPLIT_2G, VMSPLIT_1G] {
        let (l, w) = apply(&input(po, &RASPI2B), &X86_CLASSIC);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(l.zones.dma, Some(PfnRange { start: Pfn(0), end: Pfn(0x1000) }));
        assert_eq!(l.zones.normal, PfnRange { start: Pfn(0x1000), end: Pfn(0x38000) });
        assert_eq!(l.zones.highmem, Some(PfnRange { start: Pfn(0x38000), end: Pfn(0x3c000) }));
        assert_eq!(l.high_memory.as_u64(), po + 896 * MIB);
        assert_eq!(l.vmalloc_start.as_u64(), po + 904 * MIB);
        assert_eq!(l.vmalloc_end.as_u64(), po + SZ_1G - SZ_8M);
        assert_eq!(mib(l.vmalloc_size()), 112);
        // 128 MiB of kernel VA above lowmem, as i386's __VMALLOC_RESERVE.
        assert_eq!(po + SZ_1G - l.high_memory.as_u64(), 128 * MIB);
        let shift: Vec<_> = holes(&l);
        if po == VMSPLIT_3G {
            assert!(shift.is_empty());
        } else {
            assert_eq!(shift, [("split-shift", po + SZ_1G - SZ_8M, FDT_FIXED_BASE)]);
        }
    }
    let (l, _) = apply(&input(VMSPLIT_3G, &RASPI2B), &X86_CLASSIC);
    let mut s = String::new();
    write_zone_ranges(&mut s, &l).unwrap();
    assert!(
        s.starts_with(
            "Zone ranges:\n\
         \x20 DMA      [mem 0x0000000000000000-0x0000000000ffffff]\n\
         \x20 Normal   [mem 0x0000000001000000-0x0000000037ffffff]\n\
         \x20 HighMem  [mem 0x0000000038000000-0x000000003bffffff]\n"
        ),
        "{s}"
    );
    // A limit, not a size: less RAM is all lowmem, and vmalloc grows up to VMALLOC_END.
    let small = [MemBank { start: PhysAddr(0), size: 512 * MIB }];
    let (l, w) = apply(&input(VMSPLIT_3G, &small), &X86_CLASSIC);
    assert!(w.is_empty());
    assert_eq!(mib(l.lowmem_size()), 512);
    assert_eq!(l.highmem_size(), 0);
    assert_eq!(l.vmalloc_start.as_u64(), 0xe080_0000);
    assert_eq!(l.vmalloc_end.as_u64(), 0xff80_0000);
}

#[test]
fn without_highmem_the_rest_is_ignored() {
    let i = LayoutInput { highmem: false, ..input(VMSPLIT_3G, &RASPI2B) };
    let (l, w) = apply(&i, &ANDROID_A9);
    assert_eq!(
        w,
        ["Ignoring RAM at 0x20000000-0x3c000000", "Consider using a HIGHMEM enabled kernel."]
    );
    assert_eq!(mib(l.total_ram), 512);
    assert_eq!(l.carveouts().len(), 2);
}

#[test]
fn vmalloc_parameter_is_ignored_with_fixed_lowmem() {
    let i = LayoutInput { vmalloc: Some(400 * MIB), ..input(VMSPLIT_3G, &RASPI2B) };
    let (l, w) = apply(&i, &ANDROID_A9);
    assert_eq!(w, ["pivm: profile android-a9 fixes lowmem; vmalloc= ignored"]);
    assert_eq!(l.vmalloc_end.as_u64(), 0xf000_0000);
    assert_eq!(mib(l.lowmem_size()), 512);
    assert_eq!(mib(l.vmalloc_reserve), 248);
}

const fn bad(
    lowmem: Lowmem,
    vmalloc_end: Option<KernelVa>,
    carveouts: &'static [CarveoutSpec],
) -> Profile {
    Profile { name: "bad", lowmem, vmalloc_end, carveouts, holes: &[], ..ANDROID_A9 }
}

const OVERLAP: Profile = Profile {
    name: "android-a9",
    carveouts: &[
        CarveoutSpec { name: "CP", size: A9_CP, placement: Placement::PhysOffset(0x1e00_0000) },
        CarveoutSpec { name: "pmem", size: A9_PMEM, placement: Placement::TopOfLowmem },
    ],
    ..ANDROID_A9
};

#[test]
fn bad_profiles_are_rejected_with_their_reason() {
    const TOO_BIG: Profile =
        bad(Lowmem::Size(800 * MIB), Some(KernelVa::PageOffsetPlus(A9_VMALLOC_END)), A9_CARVEOUTS);
    const HIGH_END: Profile =
        bad(Lowmem::Size(A9_LOWMEM), Some(KernelVa::PageOffsetPlus(SZ_1G)), &[]);
    const ODD_END: Profile =
        bad(Lowmem::Size(A9_LOWMEM), Some(KernelVa::Absolute(0xf010_0000)), &[]);
    const OUTSIDE_RAM: Profile = bad(
        Lowmem::LinuxFormula,
        None,
        &[CarveoutSpec { name: "fb", size: SZ_16M, placement: Placement::PhysOffset(0x3f00_0000) }],
    );
    const OUTSIDE_LOWMEM: Profile = bad(
        Lowmem::Size(A9_LOWMEM),
        None,
        &[CarveoutSpec { name: "fb", size: SZ_16M, placement: Placement::PhysOffset(0x3000_0000) }],
    );
    const IN_KERNEL: Profile = bad(
        Lowmem::Size(A9_LOWMEM),
        None,
        &[CarveoutSpec { name: "fb", size: SZ_16M, placement: Placement::PhysOffset(0x80_0000) }],
    );
    const HUGE_CARVEOUT: Profile = bad(
        Lowmem::Size(A9_LOWMEM),
        None,
        &[CarveoutSpec { name: "pmem", size: SZ_1G, placement: Placement::TopOfLowmem }],
    );
    const EMPTY_CARVEOUT: Profile = bad(
        Lowmem::Size(A9_LOWMEM),
        None,
        &[CarveoutSpec { name: "CP", size: 0, placement: Placement::TopOfLowmem }],
    );
    const HOLE_OVERLAP: Profile = Profile {
        holes: &[
            VaHoleSpec {
                name: "a",
                start: KernelVa::Absolute(0xf000_0000),
                end: KernelVa::Absolute(0xf100_0000),
            },
            VaHoleSpec {
                name: "b",
                start: KernelVa::Absolute(0xf080_0000),
                end: KernelVa::Absolute(0xf200_0000),
            },
        ],
        ..bad(Lowmem::Size(A9_LOWMEM), Some(KernelVa::PageOffsetPlus(A9_VMALLOC_END)), &[])
    };
    const HOLE_IN_VMALLOC: Profile = Profile {
        holes: &[VaHoleSpec {
            name: "a",
            start: KernelVa::Absolute(0xe000_0000),
            end: KernelVa::Absolute(0xf100_0000),
        }],
        ..ANDROID_A9
    };
    const ZERO_DMA: Profile = Profile {
        era: &Era { dma_zone: DmaZoneSpec::Exact(0), ..LINUX_61_I386_ZONES },
        ..X86_CLASSIC
    };
    const ODD_LOWMEM: Profile = bad(Lowmem::Limit(MIB), None, &[]);
    const FORMULA_LOW_END: Profile =
        bad(Lowmem::LinuxFormula, Some(KernelVa::PageOffsetPlus(0x1000_0000)), &[]);

    let po = VMSPLIT_3G;
    let cases: &[(&Profile, &[MemBank], &str)] = &[
        (&OVERLAP, &RASPI2B, "pmem carve-out [0x18000000-0x20000000) overlaps CP"),
        (&TOO_BIG, &RASPI2B, "lowmem of 800MiB leaves no 16MiB vmalloc range below VMALLOC_END 0xf0000000 (at most 744MiB fits)"),
        (&HIGH_END, &RASPI2B, "VMALLOC_END 0x100000000 is above the DT blob and fixmap at 0xff800000"),
        (&ODD_END, &RASPI2B, "VMALLOC_END 0xf0100000 is not 2MiB aligned"),
        (&OUTSIDE_RAM, &RASPI2B, "fb carve-out [0x3f000000-0x40000000) is outside RAM"),
        (&OUTSIDE_LOWMEM, &RASPI2B, "fb carve-out [0x30000000-0x31000000) is outside lowmem (ends at 0x20000000)"),
        (&IN_KERNEL, &RASPI2B, "fb carve-out [0x00800000-0x01800000) overlaps the kernel's first 16MiB"),
        (&HUGE_CARVEOUT, &RASPI2B, "pmem carve-out [0x00000000-0x40000000) is outside RAM"),
        (&EMPTY_CARVEOUT, &RASPI2B, "CP carve-out of 0x0 bytes is empty or not page aligned"),
        (&HOLE_OVERLAP, &RASPI2B, "hole b [0xf0800000-0xf2000000) overlaps hole a"),
        (&HOLE_IN_VMALLOC, &RASPI2B, "hole a [0xe0000000-0xf1000000) is not between VMALLOC_END 0xf0000000 and 0xff800000"),
        (&ZERO_DMA, &RASPI2B, "ZONE_DMA of 0x0 bytes is empty or not page aligned"),
        (&ODD_LOWMEM, &RASPI2B, "lowmem of 1MiB is not a non-zero multiple of 2MiB"),
        (&FORMULA_LOW_END, &RASPI2B, "PAGE_OFFSET 0xc0000000 to VMALLOC_END 0xd0000000 has no room for lowmem and a vmalloc range"),
        (
            &ANDROID_A9,
            &[MemBank { start: PhysAddr(0), size: 256 * MIB }],
            "lowmem of 512MiB needs more RAM than the 256MiB from PHYS_OFFSET",
        ),
        (
            &ANDROID_A9_720M,
            &[MemBank { start: PhysAddr(0), size: 512 * MIB }],
            "lowmem of 720MiB needs more RAM than the 512MiB from PHYS_OFFSET",
        ),
    ];
    for &(p, banks, msg) in cases {
        let err = validate_profile(p, po, banks).unwrap_err();
        assert_eq!(err.to_string(), msg);
        // The boot falls back to Linux's layout, saying why first.
        let i = input(po, banks);
        let (l, w) = apply(&i, p);
        assert_eq!(w[0], format!("pivm: profile {}: {msg}; using profile linux", p.name));
        assert_eq!(w.len(), 1);
        assert_eq!(l, compute(&i).0);
        assert_eq!(l.profile, "linux");
    }
    assert_eq!(
        apply(&input(po, &RASPI2B), &OVERLAP).1[0],
        "pivm: profile android-a9: pmem carve-out [0x18000000-0x20000000) overlaps CP; using profile linux"
    );
}

#[test]
fn rejection_keeps_linux_warnings() {
    let i = LayoutInput { vmalloc: Some(1), ..input(0x1234_5678, &RASPI2B) };
    let (_, w) = apply(&i, &OVERLAP);
    assert_eq!(
        w,
        [
            "pivm: profile android-a9: pmem carve-out [0x18000000-0x20000000) overlaps CP; using profile linux",
            "PAGE_OFFSET 0x12345678 is not supported; using 0xc0000000",
            "vmalloc area is too small, limiting to 16MiB",
        ]
    );
    assert!(matches!(
        compute_with_profile(&i, &OVERLAP).1.iter().next(),
        Some(LayoutWarning::ProfileRejected(ProfileRejected { profile: "android-a9", .. }))
    ));
}

#[test]
fn every_profile_fits_every_build() {
    for p in PROFILES {
        for po in [VMSPLIT_3G, VMSPLIT_3G_OPT, VMSPLIT_2G, VMSPLIT_1G] {
            for banks in [&DEVICE, &RASPI2B] {
                assert_eq!(validate_profile(p, po, banks), Ok(()), "{} {po:#x}", p.name);
                let (l, w) = compute_with_profile(&input(po, banks), p);
                assert!(w.is_empty());
                assert_eq!(l.profile, p.name);
                assert!(l.vmalloc_size() >= VMALLOC_MIN_SIZE);
                assert_eq!(l.total_ram, l.lowmem_size() + l.highmem_size());
            }
        }
    }
}

#[test]
fn partition_report() {
    let (l, _) = compute_with_profile(&input(VMSPLIT_3G, &RASPI2B), &ANDROID_A9);
    let mut s = String::new();
    write_partition(&mut s, &l).unwrap();
    assert_eq!(
        s,
        "Memory layout profile: android-a9\n\
         \x20   carve-out CP      : 0x1f000000 - 0x20000000   (  16 MB) phys\n\
         \x20   carve-out pmem    : 0x17000000 - 0x1f000000   ( 128 MB) phys\n\
         \x20   unused unused     : 0xf0000000 - 0xfd100000   ( 209 MB)\n\
         \x20   unused iotable    : 0xfd100000 - 0xff800000   (  39 MB)\n"
    );
}

/// A profile built from arbitrary numbers (leaked: profiles hold `'static` slices).
fn arbitrary_profile(
    lowmem: u8,
    bytes: u64,
    end: Option<u64>,
    carve: Vec<(u64, Option<u64>)>,
    hole: Option<(u64, u64)>,
    dma: Option<u64>,
) -> &'static Profile {
    let carveouts: Vec<CarveoutSpec> = carve
        .into_iter()
        .map(|(size, at)| CarveoutSpec {
            name: "c",
            size,
            placement: at.map_or(Placement::TopOfLowmem, Placement::PhysOffset),
        })
        .collect();
    let holes: Vec<VaHoleSpec> = hole
        .into_iter()
        .map(|(s, e)| VaHoleSpec {
            name: "h",
            start: KernelVa::Absolute(s),
            end: KernelVa::PageOffsetPlus(e),
        })
        .collect();
    Box::leak(Box::new(Profile {
        name: "arb",
        description: "",
        lowmem: match lowmem % 3 {
            0 => Lowmem::LinuxFormula,
            1 => Lowmem::Size(bytes),
            _ => Lowmem::Limit(bytes),
        },
        vmalloc_end: end.map(KernelVa::PageOffsetPlus),
        holes: Box::leak(holes.into_boxed_slice()),
        carveouts: Box::leak(carveouts.into_boxed_slice()),
        era: Box::leak(Box::new(Era {
            dma_zone: dma.map_or(DmaZoneSpec::None, DmaZoneSpec::Exact),
            ..LINUX_61_RPI
        })),
    }))
}

proptest! {
    #[test]
    fn any_profile_is_applied_or_rejected_never_broken(
        po in prop_oneof![Just(VMSPLIT_3G), Just(VMSPLIT_2G), Just(VMSPLIT_1G), any::<u64>()],
        ram in 0u64..0x1_0000_0000,
        lowmem in any::<u8>(),
        bytes in prop_oneof![(0u64..2048).prop_map(|m| m * MIB), any::<u64>()],
        end in proptest::option::of(prop_oneof![(0u64..4096).prop_map(|m| m * MIB), any::<u64>()]),
        carve in proptest::collection::vec(((0u64..256).prop_map(|m| m * MIB), proptest::option::of((0u64..1024).prop_map(|m| m * MIB))), 0..10),
        hole in proptest::option::of((0u64..0x1_0000_0000, 0u64..0x1_0000_0000)),
        dma in proptest::option::of(0u64..0x1_0000_0000),
        vmalloc in proptest::option::of(any::<u64>()),
        highmem in any::<bool>(),
    ) {
        let p = arbitrary_profile(lowmem, bytes, end, carve, hole, dma);
        let banks = [MemBank { start: PhysAddr(0), size: ram }];
        let i = LayoutInput { vmalloc, highmem, ..input(po, &banks) };
        let ok = try_compute_with_profile(&i, p).is_ok();
        let (l, w) = compute_with_profile(&i, p);
        for w in w.iter() {
            prop_assert!(!w.to_string().contains('\n'));
        }
        prop_assert_eq!(ok, l.profile == "arb");
        if !ok {
            prop_assert_eq!(l, compute(&i).0);
            continue_test(&l)?;
        } else {
            continue_test(&l)?;
            prop_assert!(l.vmalloc_size() >= VMALLOC_MIN_SIZE);
            prop_assert!(l.vmalloc_end.as_u64() <= FDT_FIXED_BASE);
            let cs = l.carveouts();
            for (n, c) in cs.iter().enumerate() {
                prop_assert!(c.start.0 >= l.ram_start.0 + KERNEL_RAM_MIN);
                prop_assert!(c.end() <= l.arm_lowmem_limit);
                prop_assert!(cs[..n].iter().all(|o| !overlaps(c.start.0, c.end().0, o.start.0, o.end().0)));
            }
            for h in l.holes() {
                prop_assert!(h.start.as_u64() >= l.vmalloc_end.as_u64() && h.end.as_u64() <= FDT_FIXED_BASE);
            }
        }
    }
}

fn continue_test(l: &Layout) -> Result<(), TestCaseError> {
    prop_assert!(l.high_memory <= l.vmalloc_start);
    prop_assert!(l.vmalloc_start <= l.vmalloc_end);
    prop_assert!(l.memblock_limit <= l.arm_lowmem_limit);
    let mut s = String::new();
    write_partition(&mut s, l).unwrap();
    Ok(())
}

/// The README's "One kernel, one era" table is this rendering of the eras, verbatim: what the
/// README says each kernel does is what the code is configured to do.
#[test]
fn readme_era_table_is_read_from_the_eras() {
    let mut table = String::new();
    write_era_table(&mut table).unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    assert!(
        readme.contains(&table),
        "README.md's \"One kernel, one era\" table differs from the eras; it should read:\n{table}"
    );
    assert_eq!(table.lines().count(), 2 + crate::mm::era::ERA_ROWS.len());
}
