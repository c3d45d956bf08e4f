//! QEMU tests of the SD card: `make sd-image`'s card (build/sd.img) attached with
//! `-drive file=build/sd.img,if=sd,format=raw` (plus `snapshot=on`, so writes stay in a
//! temporary overlay) is found through the SDHCI controller on every split; /proc/partitions
//! lists it with the sizes the image's own MBR gives; the FAT boot sector reads back with the
//! OEM name mformat wrote and its 0x55AA signature; /proc/diskstats counts exactly the
//! sectors read and written; a sector written into the swap partition reads back; reads past
//! the end and a destroyed partition table give Linux's messages and the kernel carries on;
//! and a board without a card boots with one line about it.
mod common;

use common::{Opts, Qemu};

use common::sd::{ascii_column, diskstats, oem_name, Image};
use common::sd::{IN_FLIGHT, RD_IOS, RD_SECTORS, WR_IOS, WR_SECTORS};

fn image() -> Image {
    common::sd::image("build/sd.img", "make sd-image")
}

/// Runs `command` and fails unless its output contains `needle`.
fn expect_cmd(q: &mut Qemu, command: &str, needle: &str) {
    let out = q.cmd(command);
    q.expect_in(command, &out, needle);
}

fn boot_with_card(split: &'static str) -> (Qemu, String) {
    Qemu::boot_to_prompt(Opts::raw(split).sd_card())
}

#[test]
fn the_card_is_found_and_partitioned_on_every_split() {
    let img = image();
    assert_eq!(img.sectors, 131072, "64 MiB, a power of two");
    assert_eq!(img.parts.len(), 2);
    assert_eq!((img.parts[0].ty, img.parts[1].ty), (0x0c, 0x82));
    let oem = oem_name(&img.boot_sector);
    for split in ["3G", "2G", "1G"] {
        let (mut q, log) = boot_with_card(split);
        q.expect_in(
            "boot",
            &log,
            "mmc0: SDHCI controller on 3f300000.mmc [3f300000.mmc] using PIO\n",
        );
        q.expect_in("boot", &log, "mmc0: new SD card at address 4567\n");
        q.expect_in("boot", &log, "mmcblk0: mmc0:4567 QEMU! 64.0 MiB \n");
        q.expect_in("boot", &log, "\n mmcblk0: p1 p2\n");
        let parts = q.cmd("cat /proc/partitions");
        let want = img.partitions();
        if parts != want {
            q.fail(&format!("{split}: /proc/partitions:\n{parts}\nexpected:\n{want}"));
        }
        let size = q.cmd("blockdev --getsize64 /dev/mmcblk0p1");
        if size.trim() != (img.parts[0].size * 512).to_string() {
            q.fail(&format!("{split}: blockdev --getsize64: {size:?}"));
        }
        // The FAT boot sector: mformat's OEM name at the start, 0x55AA at the end.
        let dump = q.cmd("dd if=/dev/mmcblk0p1 count=1");
        let first = q.line_with("dd", &dump, "00000000  ");
        if !ascii_column(first).contains(&oem) || !first.starts_with("00000000  eb ") {
            q.fail(&format!(
                "{split}: the boot sector's first line lacks the OEM name {oem:?}: {first:?}"
            ));
        }
        let last = q.line_with("dd", &dump, "000001f0  ");
        if !last.contains(" 55 aa  |") {
            q.fail(&format!("{split}: no 0x55AA signature: {last:?}"));
        }
        q.expect_in("dd", &dump, "1+0 records in\n");
        q.expect_in("dd", &dump, "\n00000200\n512 bytes copied, ");
        let v = q.cmd("verify");
        q.expect_in("verify", &v, "verify: ok");
        q.poweroff_ok();
    }
}

#[test]
fn diskstats_count_exactly_the_sectors_moved() {
    let (mut q, _) = boot_with_card("2G");
    let (d0, p0, s0) = common::sd::check_boot_reads(&mut q);
    q.cmd("dd if=/dev/mmcblk0p1 skip=100 count=5");
    q.cmd("dd if=/dev/mmcblk0p1 bs=4096 skip=3 count=2");
    let after = q.cmd("cat /proc/diskstats");
    let (d1, p1) = (diskstats(&q, &after, "mmcblk0"), diskstats(&q, &after, "mmcblk0p1"));
    for (name, b, a) in [("mmcblk0", &d0, &d1), ("mmcblk0p1", &p0, &p1)] {
        if a[RD_IOS] - b[RD_IOS] != 2 || a[RD_SECTORS] - b[RD_SECTORS] != 5 + 16 {
            q.fail(&format!("{name}: reads {b:?} -> {a:?}: expected +2 I/Os, +21 sectors"));
        }
        if a[IN_FLIGHT] != 0 || a[WR_IOS] != b[WR_IOS] {
            q.fail(&format!("{name}: {a:?}: nothing in flight or written"));
        }
    }
    // Writes: two sectors into the swap partition (partition 2 and the disk count them).
    q.cmd("dd if=/dev/zero of=/dev/mmcblk0p2 seek=300 count=2");
    let w = q.cmd("cat /proc/diskstats");
    let (d2, s2) = (diskstats(&q, &w, "mmcblk0"), diskstats(&q, &w, "mmcblk0p2"));
    if s2[WR_IOS] - s0[WR_IOS] != 1 || s2[WR_SECTORS] - s0[WR_SECTORS] != 2 {
        q.fail(&format!("mmcblk0p2 writes {s0:?} -> {s2:?}: expected +1 I/O, +2 sectors"));
    }
    if d2[WR_SECTORS] - d1[WR_SECTORS] != 2 || d2[RD_SECTORS] != d1[RD_SECTORS] {
        q.fail(&format!("mmcblk0 {d1:?} -> {d2:?}: expected +2 sectors written, none read"));
    }
    q.poweroff_ok();
}

#[test]
fn a_sector_written_to_the_swap_partition_reads_back() {
    let img = image();
    let oem = oem_name(&img.boot_sector);
    let (mut q, _) = boot_with_card("3G");
    // Copy the FAT boot sector into the swap partition, past mkswap's header page.
    let out = q.cmd("dd if=/dev/mmcblk0p1 of=/dev/mmcblk0p2 seek=200");
    q.expect_in("dd", &out, "1+0 records in\n1+0 records out\n512 bytes copied, ");
    let back = q.cmd("dd if=/dev/mmcblk0p2 skip=200");
    if !ascii_column(q.line_with("read back", &back, "00000000  ")).contains(&oem) {
        q.fail(&format!("read back: no OEM name {oem:?} in:\n{back}"));
    }
    q.expect_in("read back", &back, " 55 aa  |");
    // The same sector through the whole disk's numbering (partition 2's start + 200).
    let whole = q.cmd(&format!("dd if=/dev/mmcblk0 skip={}", img.parts[1].start + 200));
    let strip =
        |s: &str| s.lines().filter(|l| !l.contains("copied")).collect::<Vec<_>>().join("\n");
    if strip(&whole) != strip(&back) {
        q.fail(&format!("mmcblk0 and mmcblk0p2 disagree:\n{whole}\n---\n{back}"));
    }
    // Zeros over it (8 sectors with bs=4K), then read back as zeros.
    q.cmd("dd if=/dev/zero of=/dev/mmcblk0p2 bs=4K seek=25");
    let zero = q.cmd("dd if=/dev/mmcblk0p2 skip=200");
    q.expect_in(
        "zeroed",
        &zero,
        "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000200\n",
    );
    q.poweroff_ok();
}

#[test]
fn reads_past_the_end_and_bad_tables_are_refused_and_the_kernel_carries_on() {
    let img = image();
    let (mut q, _) = boot_with_card("1G");
    let before = q.cmd("cat /proc/diskstats");
    let p2 = img.parts[1].size;
    let out = q.cmd(&format!("dd if=/dev/mmcblk0p2 skip={}", p2 - 1));
    q.expect_in("last sector", &out, "1+0 records in");
    let out = q.cmd(&format!("dd if=/dev/mmcblk0p2 skip={} count=2", p2 - 1));
    q.expect_in(
        "past the end",
        &out,
        &format!(
            "swapper/0: attempt to access beyond end of device\nmmcblk0p2: rw=0, sector={}, \
             nr_sectors = 2 limit={p2}\ndd: error reading '/dev/mmcblk0p2': Input/output error\n",
            p2 - 1
        ),
    );
    let out = q.cmd(&format!("dd if=/dev/zero of=/dev/mmcblk0 seek={}", img.sectors));
    q.expect_in(
        "write past the end",
        &out,
        &format!(
            "mmcblk0: rw=1, sector={0}, nr_sectors = 1 limit={0}\ndd: error writing '/dev/mmcblk0': \
             Input/output error",
            img.sectors
        ),
    );
    // Nothing refused was counted.
    let after = q.cmd("cat /proc/diskstats");
    let (b, a) = (diskstats(&q, &before, "mmcblk0"), diskstats(&q, &after, "mmcblk0"));
    if a[RD_SECTORS] != b[RD_SECTORS] + 1 || a[WR_IOS] != b[WR_IOS] {
        q.fail(&format!("refused I/O was counted: {b:?} -> {a:?}"));
    }
    // Bad operands.
    expect_cmd(&mut q, "dd if=/dev/mmcblk0 bs=100", "dd: invalid bs=100");
    expect_cmd(&mut q, "dd if=/dev/mmcblk0 count=1000", "more than this console's dd");
    expect_cmd(
        &mut q,
        "blockdev --getsize64 /dev/mmcblk1",
        "blockdev: cannot open /dev/mmcblk1: No such file or directory",
    );
    expect_cmd(&mut q, "blockdev", "blockdev: usage:");
    // Destroy the partition table (in the overlay) and reread it: no partitions, a message.
    q.cmd("dd if=/dev/zero of=/dev/mmcblk0");
    let out = q.cmd("blockdev --rereadpt /dev/mmcblk0");
    q.expect_in("rereadpt", &out, " mmcblk0: unknown partition table\n");
    let parts = q.cmd("cat /proc/partitions");
    if parts
        != format!("major minor  #blocks  name\n\n 179        0 {:10} mmcblk0\n", img.sectors / 2)
    {
        q.fail(&format!("after the table was zeroed:\n{parts}"));
    }
    expect_cmd(&mut q, "dd if=/dev/mmcblk0p1", "cannot open /dev/mmcblk0p1");
    // The kernel is intact.
    expect_cmd(&mut q, "verify", "verify: ok");
    q.poweroff_ok();
}

#[test]
fn without_a_card_one_line_and_the_boot_goes_on() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G"));
    common::sd::check_no_card(&mut q, &log);
    q.poweroff_ok();
}
