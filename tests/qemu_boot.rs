//! Boots the real kernel images in QEMU raspi2b: every VMSPLIT as raw `kernel7.img` and as ELF,
//! once with the mini device tree, and checks Linux's boot banner (memory layout, zones, Memory:),
//! the handling of bad boot parameters, `mem=`, `reboot` and `poweroff` (exit status 0).
//! Needs `make kernel VMSPLIT=2G|3G|1G` and `make dtb` (`make test` does both).

mod common;
use common::*;
use std::time::Duration;

/// QEMU raspi2b hands the guest 960 MiB of RAM (1 GiB minus the VideoCore carve-out).
const RAM_MB: u64 = 960;

/// Lowmem size in MiB for a split with `ram_mb` of RAM: Linux caps lowmem at
/// `VMALLOC_END - 240 MiB (default vmalloc) - 8 MiB (VMALLOC_OFFSET)` = 0xf0000000 on 3G.
fn lowmem_mb(split: &str, ram_mb: u64) -> u64 {
    let cap = (0xf000_0000 - page_offset(split)) >> 20;
    ram_mb.min(cap)
}

/// Checks the banner lines that depend on the split and the amount of RAM.
fn check_banner(q: &Qemu, log: &str, split: &str, ram_mb: u64) {
    for line in [
        "Booting pivm on physical CPU 0x",
        // Linux stopped printing the banner in 5.1; pivm labels it as its own.
        "pivm: the layout banner Linux printed before 5.1:\nVirtual kernel memory layout:",
        "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)",
        "    fixmap  : 0xffc80000 - 0xfff00000   (2560 kB)",
        "    vmalloc : 0x",
        "    pkmap   : 0x",
        "    modules : 0x",
        "      .text : 0x",
        "Zone ranges:",
        "Kernel command line:",
    ] {
        q.expect_in("boot log", log, line);
    }
    let po = page_offset(split);
    let low = lowmem_mb(split, ram_mb);
    let lowmem = format!("    lowmem  : {:#010x} - {:#010x}   ({low:4} MB)", po, po + (low << 20));
    q.expect_in("boot log (lowmem)", log, &lowmem);
    let normal = format!("  Normal   [mem {:#018x}-{:#018x}]", 0, (low << 20) - 1);
    q.expect_in("boot log (Normal zone)", log, &normal);
    let highmem = if low < ram_mb {
        format!("  HighMem  [mem {:#018x}-{:#018x}]", low << 20, (ram_mb << 20) - 1)
    } else {
        "  HighMem  empty".to_string()
    };
    q.expect_in("boot log (HighMem zone)", log, &highmem);
    // "Memory: <free>K/<total>K available (...)": total is all RAM pages.
    let mem = q.line_with("boot log", log, "Memory: ");
    q.expect_in("Memory: line", mem, &format!("K/{}K available (", ram_mb * 1024));
    // Booted once: with ELF all four cores enter the kernel, only one may print.
    let n = log.matches("Booting pivm on physical CPU").count();
    if n != 1 {
        q.fail(&format!("boot banner printed {n} times, expected once"));
    }
}

fn boot_check(opts: Opts) {
    let split = opts.split;
    let (mut q, log) = Qemu::boot_to_prompt(opts);
    check_banner(&q, &log, split, RAM_MB);
    q.poweroff_ok();
}

#[test]
fn raw_2g() {
    boot_check(Opts::raw("2G").append("console=ttyAMA0"));
}

#[test]
fn raw_3g() {
    boot_check(Opts::raw("3G").append("console=ttyAMA0"));
}

#[test]
fn raw_1g() {
    boot_check(Opts::raw("1G").append("console=ttyAMA0"));
}

// ELF: QEMU starts all 4 cores at e_entry with r2 = 0 (no ATAGs, no DTB): the kernel must
// park the secondaries and ask the VideoCore mailbox for the RAM size.
#[test]
fn elf_2g() {
    boot_check(Opts::elf("2G"));
}

#[test]
fn elf_3g() {
    boot_check(Opts::elf("3G"));
}

#[test]
fn elf_1g() {
    boot_check(Opts::elf("1G"));
}

/// Where QEMU's monitor says cores 1-3 are (`R15`), read twice 100 ms apart.
fn secondary_pcs(q: &Qemu, socket: &std::path::Path) -> Vec<u64> {
    let regs = monitor_cmd(socket, "info registers -a");
    let pcs: Vec<u64> = regs
        .split("CPU#")
        .skip(1)
        .filter_map(|cpu| {
            let r15 = cpu.split_whitespace().find_map(|w| w.strip_prefix("R15="))?;
            u64::from_str_radix(r15, 16).ok()
        })
        .collect();
    if pcs.len() != 4 {
        q.fail(&format!("expected 4 CPUs in `info registers -a`, got:\n{regs}"));
    }
    pcs[1..].to_vec()
}

/// Cores 1-3 must sleep in the kernel's park loop, not spin in the loader's stub at 0x300
/// (where QEMU's raw path leaves them polling at full speed): every one halted on the same
/// instruction inside the image, which is still the same a moment later.
fn secondaries_are_parked(opts: Opts) {
    let socket = opts.monitor.clone().expect("a monitor socket");
    let (mut q, _) = Qemu::boot_to_prompt(opts);
    let first = secondary_pcs(&q, &socket);
    std::thread::sleep(Duration::from_millis(100));
    let again = secondary_pcs(&q, &socket);
    // The image runs from its link address, 0x8000, and the park loop is in its first page.
    let in_head = |pc: u64| (0x8000..0x9000).contains(&pc);
    if !(first.iter().all(|&pc| in_head(pc) && pc == first[0]) && again == first) {
        q.fail(&format!(
            "cores 1-3 not parked in WFI: PCs {first:#x?} then {again:#x?} (QEMU's stub is at 0x300)"
        ));
    }
    q.poweroff_ok();
}

#[test]
fn secondaries_parked_raw() {
    secondaries_are_parked(Opts::raw("2G").monitor("raw"));
}

#[test]
fn secondaries_parked_elf() {
    secondaries_are_parked(Opts::elf("2G").monitor("elf"));
}

#[test]
fn raw_2g_command_line_from_atags() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("console=ttyAMA0"));
    q.expect_in("boot log", &log, "Kernel command line: console=ttyAMA0\n");
    let out = q.cmd("cat /proc/cmdline");
    if out.trim_end() != "console=ttyAMA0" {
        q.fail(&format!("cat /proc/cmdline: expected \"console=ttyAMA0\", got {out:?}"));
    }
    q.poweroff_ok();
}

#[test]
fn raw_2g_with_dtb() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").dtb());
    check_banner(&q, &log, "2G", RAM_MB);
    q.expect_in("boot log", &log, "Kernel command line: console=ttyAMA0 dtb=yes");
    let out = q.cmd("cat /proc/cmdline");
    if out.trim_end() != "console=ttyAMA0 dtb=yes" {
        q.fail(&format!("cat /proc/cmdline: expected the DTB bootargs, got {out:?}"));
    }
    q.poweroff_ok();
}

#[test]
fn raw_3g_with_dtb() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("3G").dtb());
    check_banner(&q, &log, "3G", RAM_MB);
    q.expect_in("boot log", &log, "Kernel command line: console=ttyAMA0 dtb=yes");
    q.poweroff_ok();
}

#[test]
fn mem_512m_limits_lowmem() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append("mem=512M"));
    check_banner(&q, &log, "2G", 512);
    q.expect_in("boot log", &log, "    lowmem  : 0x80000000 - 0xa0000000   ( 512 MB)");
    q.poweroff_ok();
}

/// Boots 2G raw with one bad parameter: the kernel must warn (a line containing all of `warning`),
/// carry on to the prompt, and still report the command line unchanged.
fn bad_param(param: &str, warning: &[&str]) {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("2G").append(param));
    if !log.lines().any(|l| warning.iter().all(|w| l.contains(w))) {
        q.fail(&format!("boot log: no line containing all of {warning:?} for {param:?}"));
    }
    q.expect_in("boot log", &log, &format!("Kernel command line: {param}"));
    let out = q.cmd("cat /proc/cmdline");
    if out.trim_end() != param {
        q.fail(&format!("cat /proc/cmdline: expected {param:?}, got {out:?}"));
    }
    q.poweroff_ok();
}

#[test]
fn bad_vmalloc_garbage() {
    bad_param("vmalloc=garbage", &["vmalloc=garbage", "invalid"]);
}

#[test]
fn bad_vmalloc_too_big() {
    bad_param("vmalloc=4G", &["vmalloc area is too big, limiting to"]);
}

#[test]
fn bad_vmalloc_too_small() {
    bad_param("vmalloc=1", &["vmalloc area is too small, limiting to 16MiB"]);
}

#[test]
fn bad_mem_zero() {
    bad_param("mem=0", &["mem=0", "ignored"]);
}

#[test]
fn unknown_parameter() {
    bad_param(
        "foo=bar",
        &["Unknown kernel command line parameters \"foo=bar\", will be passed to user space."],
    );
}

#[test]
fn reboot_boots_again() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").append("console=ttyAMA0"));
    q.send("reboot\n");
    let again = q.wait_for("Booting pivm on physical CPU 0x", BOOT).unwrap();
    q.expect_in("output of reboot", &again, "reboot\n");
    let log = q.wait_for(PROMPT, BOOT).unwrap();
    q.expect_in("boot log after reboot", &log, "Virtual kernel memory layout:");
    q.expect_in("boot log after reboot", &log, "Kernel command line: console=ttyAMA0");
    let out = q.cmd("cat /proc/cmdline");
    q.expect_in("cat /proc/cmdline after reboot", &out, "console=ttyAMA0");
    q.poweroff_ok();
}

/// The Pi firmware's load address: `-bios` puts the raw image at 0x8000 and starts all four
/// cores there in Secure SVC with r2 = 0, as the firmware (minus HYP) does with kernel7.img.
#[test]
fn raw_image_at_0x8000_with_four_cores() {
    let image = root().join("build/2G/kernel7.img");
    assert!(image.exists(), "{} missing: run 'make kernel VMSPLIT=2G'", image.display());
    let args: Vec<String> = [
        "-M",
        "raspi2b",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-semihosting",
        "-bios",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([image.display().to_string()])
    .collect();
    let mut q = Qemu::spawn("qemu-system-arm", &args);
    let log = q.wait_for(PROMPT, BOOT).unwrap();
    // Loaded where it is linked to run: no relocation; the RAM size comes from the mailbox.
    q.expect_in("boot log", &log, "Entered in SVC_32 mode at 0x8000, r1=0x0 r2=0x0");
    q.expect_in("boot log", &log, "RAM size from the VideoCore mailbox");
    check_banner(&q, &log, "2G", RAM_MB);
    let out = q.cmd("cat /proc/cpuinfo");
    q.expect_in("cpuinfo", &out, "processor\t: 3");
    q.poweroff_ok();
}
