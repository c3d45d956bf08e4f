//! The SD card on the 64-bit kernel (issue 14 with issue 13's card): `make sd-image
//! ARCH=arm64`'s card (build/arm64/sd.img) attached to raspi3b's Arasan SDHCI, the same
//! controller at the same offset as raspi2b's, with `snapshot=on` so writes stay in an
//! overlay. On both VA sizes the boot prints the 32-bit kernel's lines, /proc/partitions
//! lists the image's own MBR, `dd` and `blockdev` read it through the block layer, the
//! interrupt is counted, and /proc/diskstats counts exactly the sectors moved; the partitions
//! and the diskstats deltas of the same commands equal the 32-bit kernel's on its own card of
//! the same layout; without a card the boot says so in raspi2b's words and goes on.
//! Needs `make kernel ARCH=arm64 VA_BITS=48` and `39`, `make sd-image ARCH=arm64`, and for
//! the comparison `make kernel VMSPLIT=2G` and `make sd-image` (`make test` builds them all).
mod common;

use common::sd::{ascii_column, diskstats, oem_name, Image};
use common::sd::{IN_FLIGHT, RD_IOS, RD_MERGES, RD_SECTORS, WR_IOS, WR_MERGES, WR_SECTORS};
use common::{root, Opts, Qemu, BOOT, PROMPT};

const SD_IMG: &str = "build/arm64/sd.img";

fn image() -> Image {
    common::sd::image(SD_IMG, "make sd-image ARCH=arm64")
}

/// Boots `build/arm64-<va_bits>/kernel8.img` to the prompt, with the arm64 card or none.
fn boot64(va_bits: u32, card: bool) -> (Qemu, String) {
    let image = root().join(format!("build/arm64-{va_bits}/kernel8.img"));
    assert!(
        image.is_file(),
        "missing {}: run `make kernel ARCH=arm64 VA_BITS={va_bits}` (or `make test`)",
        image.display()
    );
    let mut args: Vec<String> =
        ["-M", "raspi3b", "-display", "none", "-serial", "stdio", "-semihosting", "-kernel"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.push(image.display().to_string());
    if card {
        let sd = root().join(SD_IMG);
        assert!(sd.is_file(), "missing {}: run `make sd-image ARCH=arm64`", sd.display());
        args.push("-drive".into());
        args.push(format!("file={},if=sd,format=raw,snapshot=on", sd.display()));
    }
    let mut q = Qemu::spawn("qemu-system-aarch64", &args);
    let log = q.wait_for(PROMPT, BOOT).unwrap();
    (q, log)
}

/// Runs `command` and fails unless its output contains `needle`.
fn expect_cmd(q: &mut Qemu, command: &str, needle: &str) -> String {
    let out = q.cmd(command);
    q.expect_in(command, &out, needle);
    out
}

/// The card's boot lines, the same on both kernels (QEMU's card for a 64 MiB image).
const CARD_LINES: [&str; 4] = [
    "mmc0: SDHCI controller on 3f300000.mmc [3f300000.mmc] using PIO",
    "mmc0: new SD card at address 4567",
    "mmcblk0: mmc0:4567 QEMU! 64.0 MiB ",
    " mmcblk0: p1 p2",
];

fn check_card(va_bits: u32) {
    let img = image();
    assert_eq!(img.sectors, 131072, "64 MiB, a power of two");
    assert_eq!((img.parts[0].ty, img.parts[1].ty), (0x0c, 0x82));
    let oem = oem_name(&img.boot_sector);
    let (mut q, log) = boot64(va_bits, true);
    let mmc = common::sd::mmc_lines(&log);
    if mmc != CARD_LINES {
        q.fail(&format!("VA_BITS={va_bits}: the card's boot lines: {mmc:?}"));
    }
    let parts = q.cmd("cat /proc/partitions");
    if parts != img.partitions() {
        q.fail(&format!("/proc/partitions:\n{parts}\nexpected:\n{}", img.partitions()));
    }
    // Boot reads the disk as the 32-bit kernel does (the partition scan, /boot's mount).
    let (d0, p0, _) = common::sd::check_boot_reads(&mut q);
    // blockdev's sizes against the image's MBR, and the disk's read-ahead (128 KiB).
    let p1 = img.parts[0].size;
    expect_cmd(&mut q, "blockdev --getsize64 /dev/mmcblk0p1", &format!("{}\n", p1 * 512));
    expect_cmd(&mut q, "blockdev --getsz /dev/mmcblk0", &format!("{}\n", img.sectors));
    expect_cmd(&mut q, "blockdev --getss mmcblk0p2", "512\n");
    expect_cmd(&mut q, "blockdev --getra /dev/mmcblk0", "256\n");
    q.cmd("blockdev --setra 64 /dev/mmcblk0p1");
    expect_cmd(&mut q, "blockdev --getra /dev/mmcblk0", "64\n");
    // The FAT boot sector through dd: mformat's OEM name, the 0x55AA signature.
    let dump = expect_cmd(&mut q, "dd if=/dev/mmcblk0p1 count=1", "1+0 records in\n");
    let first = q.line_with("dd", &dump, "00000000  ");
    if !ascii_column(first).contains(&oem) || !first.starts_with("00000000  eb ") {
        q.fail(&format!("the boot sector's first line lacks the OEM name {oem:?}: {first:?}"));
    }
    q.expect_in("dd", q.line_with("dd", &dump, "000001f0  "), " 55 aa  |");
    q.expect_in("dd", &dump, "\n00000200\n512 bytes copied, ");
    // Reads counted exactly: 5 sectors, then 16 in one request of two 4 KiB blocks' worth.
    q.cmd("dd if=/dev/mmcblk0p1 skip=100 count=5");
    q.cmd("dd if=/dev/mmcblk0p1 bs=4096 skip=3 count=2");
    let after = q.cmd("cat /proc/diskstats");
    let (d1, p1s) = (diskstats(&q, &after, "mmcblk0"), diskstats(&q, &after, "mmcblk0p1"));
    for (name, b, a) in [("mmcblk0", &d0, &d1), ("mmcblk0p1", &p0, &p1s)] {
        // +1 for the boot sector's read above.
        if a[RD_IOS] - b[RD_IOS] != 3 || a[RD_SECTORS] - b[RD_SECTORS] != 1 + 5 + 16 {
            q.fail(&format!("{name}: reads {b:?} -> {a:?}: expected +3 I/Os, +22 sectors"));
        }
        if a[IN_FLIGHT] != 0 || a[WR_IOS] != b[WR_IOS] {
            q.fail(&format!("{name}: {a:?}: nothing in flight or written"));
        }
    }
    // A write into the swap partition reads back, through the partition and the whole disk.
    let out = q.cmd("dd if=/dev/mmcblk0p1 of=/dev/mmcblk0p2 seek=200");
    q.expect_in("dd", &out, "1+0 records in\n1+0 records out\n512 bytes copied, ");
    let back = q.cmd("dd if=/dev/mmcblk0p2 skip=200");
    if !ascii_column(q.line_with("read back", &back, "00000000  ")).contains(&oem) {
        q.fail(&format!("read back: no OEM name {oem:?} in:\n{back}"));
    }
    let whole = q.cmd(&format!("dd if=/dev/mmcblk0 skip={}", img.parts[1].start + 200));
    let strip =
        |s: &str| s.lines().filter(|l| !l.contains("copied")).collect::<Vec<_>>().join("\n");
    if strip(&whole) != strip(&back) {
        q.fail(&format!("mmcblk0 and mmcblk0p2 disagree:\n{whole}\n---\n{back}"));
    }
    // Past the end: 6.1's message and EIO, nothing counted, the console carries on.
    let p2 = img.parts[1].size;
    expect_cmd(
        &mut q,
        &format!("dd if=/dev/mmcblk0p2 skip={} count=2", p2 - 1),
        &format!(
            "swapper/0: attempt to access beyond end of device\nmmcblk0p2: rw=0, sector={}, \
             nr_sectors = 2 limit={p2}\ndd: error reading '/dev/mmcblk0p2': Input/output error\n",
            p2 - 1
        ),
    );
    expect_cmd(
        &mut q,
        "blockdev --getsize64 /dev/mmcblk1",
        "blockdev: cannot open /dev/mmcblk1: No such file or directory",
    );
    // The card's interrupt went through arm64's IRQ path (the BCM2835 controller chained to
    // the local one): counted in /proc/interrupts; its registers are ioremap()ed.
    let irqs = q.cmd("cat /proc/interrupts");
    let line = q.line_with("interrupts", &irqs, " Edge      mmc0");
    let count: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    if count == 0 || !line.contains("ARMCTRL-level  94 Edge") {
        q.fail(&format!("mmc0's interrupt: {line:?}"));
    }
    expect_cmd(&mut q, "cat /proc/iomem", "3f300000-3f3000ff : mmc@7e300000\n");
    expect_cmd(
        &mut q,
        "cat /proc/vmallocinfo",
        " pivm::drivers::mmc::sdhci phys=0x000000003f300000 ioremap\n",
    );
    // A program from the card: its pages are file pages (RssFile, clean text in smaps).
    common::sd::check_card_program_is_file_pages(&mut q, common::SLOW_STEP);
    expect_cmd(&mut q, "verify", "verify: ok");
    q.poweroff_ok();
}

#[test]
fn the_card_works_with_4_levels() {
    check_card(48);
}

#[test]
fn the_card_works_with_3_levels() {
    check_card(39);
}

#[test]
fn without_a_card_the_same_line_as_on_raspi2b() {
    let (mut q, log) = boot64(48, false);
    common::sd::check_no_card(&mut q, &log);
    q.poweroff_ok();
}

/// The commands both kernels run for the comparison: reads of one and several requests on
/// both partitions and the whole disk, and writes into the swap partition.
const SAME_IO: [&str; 5] = [
    "dd if=/dev/mmcblk0p1 skip=7 count=3",
    "dd if=/dev/mmcblk0p1 bs=128K count=2 of=/dev/mmcblk0p2",
    "dd if=/dev/mmcblk0 bs=4096 skip=1 count=1",
    "dd if=/dev/zero of=/dev/mmcblk0p2 seek=300 count=2",
    "dd if=/dev/mmcblk0p2 skip=300 count=2",
];

/// Runs [`SAME_IO`] and returns /proc/partitions and, per device, the counters' deltas that
/// do not depend on time (I/Os, merges, sectors, in flight).
fn same_io(q: &mut Qemu) -> (String, Vec<(String, Vec<u64>)>) {
    let parts = q.cmd("cat /proc/partitions");
    let before = q.cmd("cat /proc/diskstats");
    for c in SAME_IO {
        let out = q.cmd(c);
        q.expect_in(c, &out, " bytes copied, ");
    }
    let after = q.cmd("cat /proc/diskstats");
    let names = ["mmcblk0", "mmcblk0p1", "mmcblk0p2"];
    let deltas = names
        .iter()
        .map(|&n| {
            let (b, a) = (diskstats(q, &before, n), diskstats(q, &after, n));
            let d = [RD_IOS, RD_MERGES, RD_SECTORS, WR_IOS, WR_MERGES, WR_SECTORS, IN_FLIGHT]
                .iter()
                .map(|&i| a[i] - b[i])
                .collect();
            (n.to_string(), d)
        })
        .collect();
    (parts, deltas)
}

#[test]
fn partitions_and_diskstats_match_the_32bit_kernel() {
    let (img32, img64) = (common::sd::image("build/sd.img", "make sd-image"), image());
    assert_eq!(img32.partitions(), img64.partitions(), "both cards have the same layout");
    let (mut q32, _) = Qemu::boot_to_prompt(Opts::raw("2G").sd_card());
    let (parts32, deltas32) = same_io(&mut q32);
    q32.poweroff_ok();
    let (mut q64, _) = boot64(48, true);
    let (parts64, deltas64) = same_io(&mut q64);
    if parts64 != parts32 {
        q64.fail(&format!("/proc/partitions: arm64\n{parts64}\nARM\n{parts32}"));
    }
    if deltas64 != deltas32 {
        q64.fail(&format!("/proc/diskstats deltas: arm64 {deltas64:?}\nARM {deltas32:?}"));
    }
    // The counts themselves: p1 reads 3 + 512 sectors in 1 + 2 requests, p2 is written 512
    // + 2 and read 2, the disk reads 8 more (its own page) and sums its partitions.
    let p1 = &deltas64[1].1;
    let p2 = &deltas64[2].1;
    let d = &deltas64[0].1;
    if (p1[0], p1[2], p2[3], p2[5], p2[0], p2[2]) != (3, 515, 3, 514, 1, 2) {
        q64.fail(&format!("partition deltas {deltas64:?}"));
    }
    if (d[0], d[2], d[3], d[5]) != (5, 525, 3, 514) {
        q64.fail(&format!("mmcblk0 deltas {d:?}"));
    }
    q64.poweroff_ok();
}
