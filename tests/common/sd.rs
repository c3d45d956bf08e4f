//! The SD card images the QEMU tests attach (`make sd-image`: build/sd.img for the 32-bit
//! kernel, build/arm64/sd.img for the 64-bit one), read on the host, and what the kernel
//! should show for them: `/proc/partitions` from the image's own MBR, `/proc/diskstats`
//! lines, the FAT boot sector as `dd | hexdump -C` prints it.
use std::time::Duration;

use super::{root, Qemu, ARM64_INITRAMFS, BOOT, PROMPT};

/// The 64-bit kernel's card (`make sd-image ARCH=arm64`).
pub const ARM64_SD_IMG: &str = "build/arm64/sd.img";

/// Boots `build/arm64-<va_bits>/kernel8.img` on raspi3b with the card (writes in a
/// `snapshot=on` overlay), the arm64 initramfs if `initramfs`, and `append` as the command
/// line, to the prompt; the whole run may take `limit`.
pub fn boot_arm64(va_bits: u32, initramfs: bool, append: &str, limit: Duration) -> Qemu {
    boot_arm64_card(va_bits, initramfs, append, limit, ARM64_SD_IMG)
}

/// The 64-bit kernel's 512 MiB card (`make sd-image ARCH=arm64 SD_SIZE=512M`: 471 MiB of swap).
pub const ARM64_SD_512M_IMG: &str = "build/arm64/sd-512M.img";

/// [`boot_arm64`] with the card image `card`.
pub fn boot_arm64_card(
    va_bits: u32,
    initramfs: bool,
    append: &str,
    limit: Duration,
    card: &str,
) -> Qemu {
    let image = root().join(format!("build/arm64-{va_bits}/kernel8.img"));
    let (initrd, sd) = (root().join(ARM64_INITRAMFS), root().join(card));
    for (f, make) in [
        (&image, format!("make kernel ARCH=arm64 VA_BITS={va_bits}")),
        (&initrd, "make initramfs ARCH=arm64".to_string()),
        (&sd, "make sd-image ARCH=arm64 (SD_SIZE=512M)".to_string()),
    ] {
        assert!(f.is_file(), "missing {}: run `{make}` (or `make test`)", f.display());
    }
    let board = "-M raspi3b -display none -serial stdio -semihosting -monitor none";
    let mut args: Vec<String> = board.split(' ').map(String::from).collect();
    args.push("-kernel".into());
    args.push(image.display().to_string());
    if initramfs {
        args.push("-initrd".into());
        args.push(initrd.display().to_string());
    }
    args.push("-drive".into());
    args.push(format!("file={},if=sd,format=raw,snapshot=on", sd.display()));
    if !append.is_empty() {
        args.push("-append".into());
        args.push(append.into());
    }
    let mut q = Qemu::spawn("qemu-system-aarch64", &args);
    q.extend_limit(limit);
    q.wait_for(PROMPT, BOOT).unwrap();
    q
}

/// One MBR partition entry of the image: start and size in sectors, type.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub start: u64,
    pub size: u64,
    pub ty: u8,
}

/// An image: its size and MBR entries, and partition 1's first sector (the FAT boot sector).
pub struct Image {
    pub sectors: u64,
    pub parts: Vec<Entry>,
    pub boot_sector: Vec<u8>,
}

/// Reads the image at `path` (relative to the repository); `make` is the command that builds it.
pub fn image(path: &str, make: &str) -> Image {
    let path = root().join(path);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `{make}` (or `make test`)", path.display()));
    assert_eq!(&bytes[510..512], &[0x55, 0xaa], "the image has an MBR");
    let le = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as u64;
    let parts: Vec<Entry> = (0..4)
        .map(|i| 446 + 16 * i)
        .map(|o| Entry { start: le(o + 8), size: le(o + 12), ty: bytes[o + 4] })
        .filter(|e| e.size != 0)
        .collect();
    let p1 = parts[0].start as usize * 512;
    Image { sectors: bytes.len() as u64 / 512, boot_sector: bytes[p1..p1 + 512].to_vec(), parts }
}

impl Image {
    /// `/proc/partitions` as 6.1's `show_partition` prints this card (`mmcblk0`, 179:N).
    pub fn partitions(&self) -> String {
        let mut want = String::from("major minor  #blocks  name\n\n");
        want += &format!("{:4}  {:7} {:10} {}\n", 179, 0, self.sectors / 2, "mmcblk0");
        for (i, p) in self.parts.iter().enumerate() {
            want += &format!("{:4}  {:7} {:10} mmcblk0p{}\n", 179, i + 1, p.size / 2, i + 1);
        }
        want
    }
}

/// The OEM name in a FAT boot sector (bytes 3-10), as `hexdump -C` shows printable bytes.
pub fn oem_name(boot: &[u8]) -> String {
    boot[3..11].iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect()
}

/// The `|...|` text column of a `hexdump -C` line.
pub fn ascii_column(line: &str) -> &str {
    line.split('|').nth(1).unwrap_or("")
}

/// A /proc/diskstats line's numbers after the name, for device `name` (6.1 prints 17).
pub fn diskstats(q: &Qemu, text: &str, name: &str) -> Vec<u64> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| q.fail(&format!("/proc/diskstats: no {name} in:\n{text}")));
    let f: Vec<u64> = line.split_whitespace().skip(3).map(|x| x.parse().unwrap()).collect();
    if f.len() != 17 {
        q.fail(&format!("/proc/diskstats: {name} has {} fields, 6.1 has 17: {line:?}", f.len()));
    }
    f
}

// Field indexes of a diskstats line after the name.
pub const RD_IOS: usize = 0;
pub const RD_MERGES: usize = 1;
pub const RD_SECTORS: usize = 2;
pub const WR_IOS: usize = 4;
pub const WR_MERGES: usize = 5;
pub const WR_SECTORS: usize = 6;
pub const IN_FLIGHT: usize = 8;

/// The boot log's lines about the card (the controller's and the card's), in order.
/// The boot's whole-disk reads outside the partitions, on either kernel: two requests of 8
/// sectors (the partition scan's page, and the MBR again when /boot was mounted: the FAT
/// crate opens its volume from the MBR through the block device's cache). Returns the disk's,
/// p1's and p2's counters as /proc/diskstats gave them.
pub fn check_boot_reads(q: &mut Qemu) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let text = q.cmd("cat /proc/diskstats");
    let (d0, p0, s0) = (
        diskstats(q, &text, "mmcblk0"),
        diskstats(q, &text, "mmcblk0p1"),
        diskstats(q, &text, "mmcblk0p2"),
    );
    let (ios, sectors) = (d0[RD_IOS] - p0[RD_IOS] - s0[RD_IOS], d0[RD_SECTORS] - p0[RD_SECTORS]);
    if ios != 2 || sectors - s0[RD_SECTORS] != 16 {
        q.fail(&format!("boot: whole-disk reads should be 2 requests of 8 sectors: {d0:?}"));
    }
    (d0, p0, s0)
}

pub fn mmc_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("mmc")).collect()
}

/// A boot without a card (either kernel): the controller's line and one line saying there
/// is no card, then no disk in /proc/partitions or /proc/diskstats, the commands saying the
/// device does not exist, and the kernel intact.
pub fn check_no_card(q: &mut Qemu, log: &str) {
    let mmc = mmc_lines(log);
    if mmc
        != [
            "mmc0: SDHCI controller on 3f300000.mmc [3f300000.mmc] using PIO",
            "mmc0: no SD card in the slot; no mmcblk device",
        ]
    {
        q.fail(&format!("boot without a card: {mmc:?}"));
    }
    let parts = q.cmd("cat /proc/partitions");
    if parts != "major minor  #blocks  name\n\n" {
        q.fail(&format!("/proc/partitions without a disk: {parts:?}"));
    }
    if !q.cmd("cat /proc/diskstats").is_empty() {
        q.fail("/proc/diskstats without a disk must be empty");
    }
    for (c, want) in [
        ("dd if=/dev/mmcblk0", "dd: cannot open /dev/mmcblk0: No such file or directory\n"),
        ("blockdev --getsz /dev/mmcblk0", "blockdev: cannot open /dev/mmcblk0: No such file"),
        ("verify", "verify: ok"),
    ] {
        let out = q.cmd(c);
        q.expect_in(c, &out, want);
    }
}

/// The RssFile and RssShmem (kB) of process `pid`'s `/proc/PID/status`.
fn file_and_shmem_kb(q: &mut Qemu, pid: u32) -> (u64, u64, String) {
    let status = q.cmd(&format!("cat /proc/{pid}/status"));
    let file = super::status_kb(q, "status", &status, "RssFile");
    let shmem = super::status_kb(q, "status", &status, "RssShmem");
    (file, shmem, status)
}

/// A program run from the card's FAT volume (`/boot/bin/touch`, held): its mapped pages are
/// file pages, as 6.1's `mm_counter_file` books a page that is not `PageSwapBacked`:
/// `RssFile` beyond the vDSO's 4 kB, no `RssShmem`, and its text in smaps clean
/// (`Shared_Clean`/`Private_Clean`, no `*_Dirty`). `timeout` bounds the program's start.
pub fn check_card_program_is_file_pages(q: &mut Qemu, timeout: std::time::Duration) {
    let pid = q.start_background("/boot/bin/touch 4 1 0", "TOUCH holding", timeout);
    let (file, shmem, status) = file_and_shmem_kb(q, pid);
    if file <= 4 || shmem != 0 {
        q.fail(&format!("/boot/bin/touch: RssFile {file} kB, RssShmem {shmem} kB:\n{status}"));
    }
    let smaps = q.cmd(&format!("cat /proc/{pid}/smaps"));
    let lines: Vec<&str> = smaps.lines().collect();
    let at = lines.iter().position(|l| l.contains(" r-xp ") && l.ends_with("/boot/bin/touch"));
    let Some(at) = at else { q.fail(&format!("no text VMA of /boot/bin/touch in:\n{smaps}")) };
    let end =
        lines[at..].iter().position(|l| l.starts_with("VmFlags:")).map_or(lines.len(), |e| e + at);
    let vma = lines[at..end].join("\n");
    let kb = |k: &str| super::status_kb(q, "the text's smaps", &vma, k);
    let clean = kb("Shared_Clean") + kb("Private_Clean");
    if clean == 0 || kb("Shared_Dirty") + kb("Private_Dirty") != 0 || kb("Rss") != clean {
        q.fail(&format!("a card program's text should be clean file pages:\n{vma}"));
    }
    q.cmd(&format!("kill -9 {pid}"));
}

/// The same program from the initramfs (`/bin/touch`, tmpfs-like): its text counts in
/// `RssShmem` and only the vDSO's 4 kB in `RssFile`.
pub fn check_rootfs_program_is_shmem(q: &mut Qemu, timeout: std::time::Duration) {
    let pid = q.start_background("/bin/touch 4 1 0", "TOUCH holding", timeout);
    let (file, shmem, status) = file_and_shmem_kb(q, pid);
    if file != 4 || shmem == 0 {
        q.fail(&format!(
            "/bin/touch: RssFile {file} kB (the vdso), RssShmem {shmem} kB:\n{status}"
        ));
    }
    q.cmd(&format!("kill -9 {pid}"));
}

/// `swapon` of the card's swap partition (`/dev/mmcblk0p2`, `pages` pages) with 6.1's
/// message (the header page is not swap); returns the area's size in kB.
pub fn swapon(q: &mut Qemu, pages: u64) -> u64 {
    let out = q.cmd("swapon /dev/mmcblk0p2");
    let kb = (pages - 1) * 4;
    q.expect_in(
        "swapon",
        &out,
        &format!("Adding {kb}k swap on /dev/mmcblk0p2.  Priority:-2 extents:1 across:{kb}k SS\n"),
    );
    kb
}

/// `SWAP_BATCH` (6.1's `SWAP_SLOTS_CACHE_SIZE`): the slots a CPU's swap slots cache takes
/// from the area at once, and gives back at once.
pub const SWAP_BATCH: u64 = 64;

/// What `/proc/swaps` Used is with 6.1's swap slots cache on pivm's one CPU, for a known
/// sequence of slot allocations and frees (swap plentiful, so the cache stays active): an
/// allocation that finds the CPU's cache empty takes a batch of 64 slots from the area, and
/// a freed slot waits on the return list, which goes back when the 65th comes. So Used
/// moves by whole batches, as Linux's does.
#[derive(Debug, Default)]
pub struct SlotsCache {
    /// Slots left to hand out.
    nr: u64,
    /// Slots waiting to go back.
    n_ret: u64,
    /// Slots taken from the area: handed out or held by the cache.
    used: u64,
}

impl SlotsCache {
    /// `n` slots handed out (`folio_alloc_swap`).
    pub fn alloc(&mut self, n: u64) {
        for _ in 0..n {
            if self.nr == 0 {
                self.nr = SWAP_BATCH;
                self.used += SWAP_BATCH;
            }
            self.nr -= 1;
        }
    }

    /// `n` slots freed (`free_swap_slot`).
    pub fn free(&mut self, n: u64) {
        for _ in 0..n {
            if self.n_ret == SWAP_BATCH {
                self.used -= SWAP_BATCH;
                self.n_ret = 0;
            }
            self.n_ret += 1;
        }
    }

    /// `/proc/swaps` Used in kB.
    pub fn used_kb(&self) -> u64 {
        self.used * 4
    }
}

/// The Used column (kB) of the swap partition's `/proc/swaps` line.
pub fn swaps_used_kb(q: &Qemu, swaps: &str) -> u64 {
    swaps
        .lines()
        .find(|l| l.starts_with("/dev/mmcblk0p2 "))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|f| f.trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no Used for /dev/mmcblk0p2 in /proc/swaps:\n{swaps}")))
}

/// Unlinks the initramfs's 16 MiB `/data/f16m` (`tmpfsswap rm`, its pages freed) and returns
/// MemFree and Shmem in kB after it. The rootfs's tmpfs pages go to swap, its old unmapped
/// files first: under pressure reclaim would send this file out before any anonymous page,
/// and the card's 23 MiB swap could then hold little beside it. The pressure tests meant to
/// push anonymous pages out start without it (they read the card's copy, `/boot/data/f16m`).
pub fn unlink_initramfs_data(q: &mut Qemu) -> (u64, u64) {
    let out = q.cmd_timeout("run /bin/tmpfsswap rm /data/f16m", Duration::from_secs(60));
    q.expect_in("tmpfsswap rm", &out, "TMPFSSWAP removed /data/f16m\n");
    let mi = q.cmd("cat /proc/meminfo");
    (super::meminfo_kb(q, &mi, "MemFree"), super::meminfo_kb(q, &mi, "Shmem"))
}

/// MiB of anonymous memory that makes reclaim send anonymous pages to swap now that the
/// rootfs's pages go first: the free RAM, the rootfs's pages (`Shmem`, which go out before
/// any anonymous page), and half of the swap they leave.
pub fn pressure_mib(free_kb: u64, shmem_kb: u64, swap_kb: u64) -> u64 {
    (free_kb + shmem_kb + swap_kb.saturating_sub(shmem_kb) / 2) / 1024
}

/// The tmpfs pages in swap (shmem objects' and rootfs files' index entries), in kB, from the
/// console's `swapcache`.
pub fn tmpfs_swapped_kb(q: &mut Qemu) -> u64 {
    let sc = q.cmd("swapcache");
    sc.lines()
        .find_map(|l| l.strip_prefix("swapcache: ")?.strip_suffix(" tmpfs pages in swap"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| q.fail(&format!("no tmpfs count in swapcache's:\n{sc}")))
        * 4
}

/// After every program that used swap has exited, the only slots in use are the ones the
/// swap slots cache of pivm's one CPU holds (63 left to hand out, 64 waiting to go back; a
/// whole number of 64-slot batches unless swap ran so low meanwhile that the cache went off
/// and slots moved one at a time, as on Linux) and the rootfs's tmpfs pages still in swap
/// (their files' index entries, which no exit frees: the console's `swapcache` counts them):
/// `/proc/swaps` Used at most the two together, `SwapFree` the rest of the area, the swap
/// cache at most those tmpfs pages (written, not yet freed by a later scan), and `verify`
/// (which checks every slot's count against the swap PTEs, the index entries and the slots
/// cache) clean. Returns Used in kB less the tmpfs pages'.
pub fn check_only_slots_cached(q: &mut Qemu, swap_kb: u64, when: &str) -> u64 {
    let tmpfs_kb = tmpfs_swapped_kb(q);
    let swaps = q.cmd("cat /proc/swaps");
    let used = swaps_used_kb(q, &swaps);
    if used > (2 * SWAP_BATCH - 1) * 4 + tmpfs_kb {
        q.fail(&format!(
            "{when}: Used is more than the slots cache and {tmpfs_kb} kB of tmpfs pages hold:\n{swaps}"
        ));
    }
    let mi = q.cmd("cat /proc/meminfo");
    let (free, cached) =
        (super::meminfo_kb(q, &mi, "SwapFree"), super::meminfo_kb(q, &mi, "SwapCached"));
    if free != swap_kb - used || cached > tmpfs_kb {
        q.fail(&format!(
            "{when}: SwapFree {free} kB, SwapCached {cached} kB with Used {used} kB, {tmpfs_kb} kB of tmpfs pages in swap:\n{mi}"
        ));
    }
    q.verify_ok(when);
    used.saturating_sub(tmpfs_kb)
}

/// `swaptest N hold` paged out, then the console's `swapcache drop`: `MADV_PAGEOUT` leaves
/// the written pages in the swap cache, unmapped and clean, as 6.1 does; dropping them (what
/// the next reclaim scan would do) makes the read-back take the swap-in path. The pid.
pub fn paged_out_and_dropped(q: &mut Qemu, n: u64, limit: std::time::Duration) -> u32 {
    let pid = q.start_background(&format!("/bin/swaptest {n} hold"), "PAGED OUT", limit);
    let out = q.cmd("swapcache");
    q.expect_in("swapcache", &out, &format!("swapcache: {n} pages, 0 mapped, 0 under writeback\n"));
    let out = q.cmd("swapcache drop");
    q.expect_in("swapcache drop", &out, &format!("swapcache: dropped {n} pages\n"));
    q.expect_in("swapcache", &out, "swapcache: 0 pages, 0 mapped, 0 under writeback\n");
    pid
}

/// SIGUSR1 to a held `swaptest`, and its output up to its `PATTERN` line (the program's lines
/// may come before the console's next prompt or after it).
pub fn swaptest_resume(q: &mut Qemu, pid: u32, limit: std::time::Duration) -> String {
    let mut out = q.cmd(&format!("kill -USR1 {pid}"));
    if !out.contains("PATTERN bad=") {
        out += &q.wait_for("PATTERN bad=", limit).unwrap_or_else(|f| panic!("{f:?}"));
        out += &q
            .wait_for("\n", std::time::Duration::from_secs(5))
            .unwrap_or_else(|f| panic!("{f:?}"));
    }
    out
}
