//! Every console command on the 64-bit kernel (issue 14, item 4): each command `help` lists is
//! run with valid arguments and most with an invalid one, and must give its real answer or a
//! clear error. A command `help` lists without a case here fails the test too. Afterwards the allocators
//! verify clean, `reboot` boots again, and `crash stack` overflows the console's vmalloc'ed
//! stack into arm64 6.1's `handle_bad_stack` report, whose bounds must be the live stack's.
//! Needs `make kernel ARCH=arm64 VA_BITS=48` and `VA_BITS=39` (`make test` builds them).

mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::Duration;

use pivm::arch::arm64::memory as m;

const VA_BITS: u32 = 48;
/// The linker script's bound on the image (it must end below 16 MiB).
const KERNEL_IMAGE_MAX: u64 = 16 << 20;

/// Boots the raw `kernel8.img` (EL2, ATAGs) for `va_bits` to the prompt.
fn boot(va_bits: u32) -> Qemu {
    let image = root().join(format!("build/arm64-{va_bits}/kernel8.img"));
    assert!(
        image.is_file(),
        "missing {}: run `make kernel ARCH=arm64 VA_BITS=48`",
        image.display()
    );
    let args: Vec<String> =
        ["-M", "raspi3b", "-display", "none", "-serial", "stdio", "-semihosting"]
            .iter()
            .map(|s| s.to_string())
            .chain(["-kernel".to_string(), image.display().to_string()])
            .collect();
    let mut q = Qemu::spawn("qemu-system-aarch64", &args);
    q.wait_for(PROMPT, BOOT).unwrap();
    q
}

/// The command names `help` lists (the first word of each entry).
fn help_names(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// The hex number after `label` in `text`.
fn hex_after(q: &Qemu, what: &str, text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| q.fail(&format!("{what}: no {label:?}")));
    let rest = &text[at + label.len()..];
    let rest = rest.strip_prefix("0x").unwrap_or(rest);
    let digits: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    u64::from_str_radix(&digits, 16)
        .unwrap_or_else(|_| q.fail(&format!("{what}: no hex number after {label:?}")))
}

/// Runs `c` and checks that its answer contains `want`; records the command's name.
fn run(q: &mut Qemu, done: &mut BTreeSet<String>, c: &str, want: &str) -> String {
    let out = q.cmd_timeout(c, Duration::from_secs(120));
    q.expect_in(c, &out, want);
    done.insert(c.split_whitespace().next().unwrap().to_string());
    out
}

/// The commands whose answer is one fixed line or a fixed prefix of it.
fn table(po: u64) -> Vec<(String, String)> {
    let la = |off: u64| format!("{:#x}", po + off);
    let mut t: Vec<(String, String)> = vec![
        ("help x".into(), "help: usage: help".into()),
        ("cat /proc/meminfo".into(), "MemTotal:  ".into()),
        ("cat /proc/meminfo".into(), format!("VmallocTotal:   {} kB\n", (m::vmalloc_end(VA_BITS) - m::vmalloc_start(VA_BITS)) >> 10)),
        ("cat /proc/zoneinfo".into(), "Node 0, zone      DMA\n".into()),
        ("cat /proc/buddyinfo".into(), "Node 0, zone      DMA ".into()),
        ("cat /proc/pagetypeinfo".into(), "Page block order: 9\n".into()),
        ("cat /proc/slabinfo".into(), "slabinfo - version: 2.1\n".into()),
        ("cat /proc/vmallocinfo".into(), " run_console pages=8 vmalloc\n".into()),
        ("cat /proc/cpuinfo".into(), "CPU implementer\t: 0x41\n".into()),
        ("cat /proc/interrupts".into(), " Edge      arch_timer\n".into()),
        ("cat /proc/uptime".into(), ".".into()),
        ("cat /proc/stat".into(), "cpu  ".into()),
        ("cat /proc/cmdline".into(), String::new()),
        ("cat /proc/iomem".into(), "00000000-3bffffff : System RAM\n".into()),
        ("cat /sys/kernel/debug/extfrag/unusable_index".into(), "Node 0, zone      DMA 0.000 ".into()),
        ("cat /sys/kernel/debug/extfrag/extfrag_index".into(), "Node 0, zone      DMA -1.000 ".into()),
        ("cat /proc/vmstat".into(), "\nnr_kernel_stack ".into()),
        ("cat /proc/swaps".into(), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n".into()),
        // No card in this boot: the header alone, and no line at all (tests/qemu_arm64_sd.rs
        // attaches one).
        ("cat /proc/partitions".into(), "major minor  #blocks  name\n\n".into()),
        ("blockdev --getsize64 /dev/mmcblk0".into(), "blockdev: cannot open /dev/mmcblk0: No such file or directory\n".into()),
        ("blockdev".into(), "blockdev: usage: ".into()),
        ("dd if=/dev/mmcblk0".into(), "dd: cannot open /dev/mmcblk0: No such file or directory\n".into()),
        ("dd if=/dev/mmcblk0 bs=100".into(), "dd: invalid bs=100".into()),
        ("cat /proc/nope".into(), "cat: /proc/nope: No such file or directory".into()),
        ("cat".into(), "cat: usage: cat FILE".into()),
        ("layout".into(), format!("    vmalloc : 0x{:016x} - 0x{:016x}", m::vmalloc_start(VA_BITS), m::vmalloc_end(VA_BITS))),
        ("layout x".into(), "layout: usage: layout".into()),
        (format!("v2p {}", la(0x1234)), format!("virt {} -> phys 0x1234", la(0x1234))),
        ("v2p 0x1234".into(), format!("v2p: 0x1234 is not in the linear map of RAM [{:#x}-", po)),
        ("p2v 0x1234".into(), format!("phys 0x1234 -> virt {}", la(0x1234))),
        ("p2v zz".into(), "p2v: invalid number 'zz'".into()),
        (format!("pt {}", la(0x1000)), format!("[{:016x}] pgd=", po + 0x1000)),
        (format!("pt {}", la(0x1000)), "AT S1E1R (hardware): PA 0x1000\n".into()),
        ("pt".into(), "pt: usage: pt VA [PID]".into()),
        ("ptdump".into(), "---[ vmalloc() area ]---\n".into()),
        ("ptdump".into(), " RW NX SHD AF        BLK UXN    MEM/NORMAL\n".into()),
        (format!("peek {} 2", la(0x1000)), format!("{}: ", la(0x1004))),
        ("peek 0".into(), "peek: 0x00000000: fault at virtual address 0000000000000000: level 0 translation fault (ESR 0x96000004".into()),
        ("peek".into(), "peek: usage: peek [-f] ADDR [COUNT]".into()),
        ("poke".into(), "poke: usage: poke ADDR VALUE".into()),
        (format!("touch {}", la(0x1000)), format!("{}: ", la(0x1000))),
        ("touch".into(), "touch: usage: touch [-f] ADDR".into()),
        ("alloc_pages 99".into(), "alloc_pages: order 99 out of range (0-10)".into()),
        ("free_pages 0x1234 0".into(), "page dumped because: address 0x00001234 is not in the linear map".into()),
        ("__free_pages".into(), "__free_pages: usage: __free_pages PFN ORDER".into()),
        ("frag checkerboard DMA".into(), "frag: ".into()),
        ("frag release".into(), "frag: released ".into()),
        ("frag".into(), "frag: usage: frag checkerboard [ZONE] | frag release".into()),
        ("memtest".into(), "memtest: ok, ".into()),
        ("cma_release 0x12345 2".into(), "cma_release: pfn 0x12345 count 2 is no range the console took with cma_alloc".into()),
        ("cma_alloc".into(), "cma_alloc: usage: cma_alloc COUNT [ALIGN]".into()),
        ("kmalloc 0".into(), "(ZERO_SIZE_PTR, ksize 0)".into()),
        ("kfree 0x1234".into(), "kfree: invalid pointer 0x00001234".into()),
        ("ksize 0x1234".into(), "ksize: invalid pointer 0x00001234".into()),
        ("vmalloc".into(), "vmalloc: usage: vmalloc SIZE".into()),
        ("vfree 0x1234".into(), "Trying to vfree() bad address (00001234)".into()),
        ("vmalloc_fill 4K".into(), "vmalloc_fill: 4096 areas of 4096 bytes".into()),
        ("vmalloc_fill free".into(), "vmalloc_fill: freed 4096 areas".into()),
        ("vmalloc_fill".into(), "vmalloc_fill: usage: vmalloc_fill SIZE | vmalloc_fill free".into()),
        ("purge".into(), "purge: ".into()),
        ("ioremap 0 0".into(), "ioremap: size 0 at 0x0 is empty".into()),
        ("iounmap 0x1234".into(), "Trying to vfree() nonexistent vm area (00001000)".into()),
        ("kmap 0x100".into(), format!("kmap(pfn 0x100) = {:#018x}", po + 0x10_0000)),
        ("kunmap 0x100".into(), "kunmap(pfn 0x100): lowmem page, nothing to unmap".into()),
        ("kmap zz".into(), "kmap: invalid number 'zz'".into()),
        ("scenario vmalloc-frag budget=1".into(), "cannot fail for lack of address space, as it did in the 32-bit layout".into()),
        ("scenario release".into(), "scenario: released ".into()),
        ("scenario".into(), "scenario: usage: scenario vmalloc-frag".into()),
        ("bench".into(), "bench: alloc_pages(0)+free (per-CPU list hit) ".into()),
        ("bench".into(), "bench: vmalloc(4K)+vfree ".into()),
        ("jiffies".into(), " ticks since boot, HZ=100; arch_sys_counter: ".into()),
        ("jiffies x".into(), "jiffies: usage: jiffies".into()),
        ("crash nothing".into(), "crash: usage: crash null|exec|undef|stack".into()),
        ("crash undef".into(), "Internal error: Oops - BUG: 00000000f2000800 [#1] SMP\n".into()),
        ("verify".into(), "verify: ok".into()),
        ("nosuchcmd".into(), "pivm: nosuchcmd: command not found".into()),
    ]
    .into_iter()
    .collect();
    // Processes, swap and the knobs (no initramfs and no card in this boot: the empty
    // rootfs's answers; tests/qemu_arm64_process.rs runs programs).
    for (c, want) in [
        ("run /bin/hello", "run: /bin/hello: No such file or directory\n"),
        ("jobs", ""),
        ("fg", "fg: current: no such job\n"),
        ("bg", "bg: current: no such job\n"),
        ("kill 1", "kill: (1) - No such process\n"),
        ("ps", "  PID TTY          TIME CMD\n    2 ?        00:00:00 kswapd0\n"),
        ("ls /", "drwxr-xr-x  2        0 proc\n"),
        (
            "swapon /dev/mmcblk0p2",
            "swapon: /dev/mmcblk0p2: swapon failed: No such file or directory\n",
        ),
        (
            "swapoff /dev/mmcblk0p2",
            "swapoff: /dev/mmcblk0p2: swapoff failed: No such file or directory\n",
        ),
        (
            "swapcache drop",
            "swapcache: dropped 0 pages\nswapcache: 0 pages, 0 mapped, 0 under writeback\n",
        ),
        ("free", "Swap:              0           0           0\n"),
        ("sysctl -a", "vm.swappiness = 60\n"),
        ("echo 1 > /proc/sys/vm/drop_caches", "swapper/0 (0): drop_caches: 1\n"),
        ("iowait", "iowait: 0 waits for the card asleep, 0 idle\n"),
        ("pt 0x1000 7", "pt: 7: No such process\n"),
        ("ptdump 7", "ptdump: 7: No such process\n"),
    ] {
        t.push((c.to_string(), want.to_string()));
    }
    // memdump's format (version 1) with 64-bit addresses: the header names the VA size.
    t.push((
        "memdump".into(),
        format!(
            "memdump version=1 what=kernel split=va{VA_BITS} page_offset={po:#x} profile=linux-va{VA_BITS} page_size=4096 "
        ),
    ));
    t.push(("memdump 7".into(), "memdump: 7: No such process\n".into()));
    t
}

#[test]
fn every_help_command_on_arm64() {
    let mut q = boot(VA_BITS);
    let po = m::page_offset(VA_BITS);
    let help = q.cmd("help");
    let names = help_names(&help);
    assert!(names.len() >= 40, "help lists too few commands:\n{help}");
    let mut done = BTreeSet::new();
    done.insert("help".to_string());
    let before = q.memory_snapshot_unshrunk();
    for (c, want) in table(po) {
        run(&mut q, &mut done, &c, &want);
    }
    let out = q.cmd("cat /proc/diskstats");
    assert!(out.is_empty(), "/proc/diskstats without a card: {out:?}");
    // The allocators' commands that hand out something the next one takes back.
    let out = run(&mut q, &mut done, "kmalloc 100", "(kmalloc-128, ksize 128)");
    let obj = hex_after(&q, "kmalloc", &out, "= ");
    run(&mut q, &mut done, &format!("poke {obj:#x} 0x5a"), "");
    run(&mut q, &mut done, &format!("peek {obj:#x}"), &format!("{obj:#x}: 0000005a\n"));
    run(&mut q, &mut done, &format!("ksize {obj:#x}"), "128");
    let out = run(&mut q, &mut done, &format!("kfree {obj:#x}"), "");
    assert!(out.trim().is_empty(), "kfree: {out}");
    run(&mut q, &mut done, &format!("kfree {obj:#x}"), "double free");
    let out = run(&mut q, &mut done, "vmalloc 8K", "vmalloc(8192) = 0x");
    let va = hex_after(&q, "vmalloc", &out, "= ");
    run(&mut q, &mut done, &format!("pt {va:#x}"), "AT S1E1R (hardware): PA 0x");
    let out = run(&mut q, &mut done, &format!("vfree {va:#x}"), "");
    assert!(out.trim().is_empty(), "vfree: {out}");
    let out = run(&mut q, &mut done, "alloc_pages 1", "-> pfn ");
    let pfn = hex_after(&q, "alloc_pages", &out, "-> pfn ");
    let out = run(&mut q, &mut done, &format!("free_pages {:#x} 1", po + (pfn << 12)), "");
    assert!(out.trim().is_empty(), "free_pages: {out}");
    let out = run(&mut q, &mut done, "alloc_pages 0", "-> pfn ");
    let pfn = hex_after(&q, "alloc_pages", &out, "-> pfn ");
    let out = run(&mut q, &mut done, &format!("__free_pages {pfn:#x} 0"), "");
    assert!(out.trim().is_empty(), "__free_pages: {out}");
    run(&mut q, &mut done, &format!("__free_pages {pfn:#x} 0"), "double free");
    let out = run(&mut q, &mut done, "cma_alloc 16 4", "cma_alloc: 16 pages at pfn 0x");
    let pfn = hex_after(&q, "cma_alloc", &out, "at pfn ");
    run(&mut q, &mut done, &format!("cma_release {pfn:#x} 16"), "cma_release: 16 pages at pfn");
    let out = run(&mut q, &mut done, "ioremap 0x3f200000 4096", "= 0x");
    let io = hex_after(&q, "ioremap", &out, "= ");
    let out = run(&mut q, &mut done, &format!("iounmap {io:#x}"), "");
    assert!(out.trim().is_empty(), "iounmap: {out}");
    // An oops and a fixed-up fault leave the console answering.
    run(&mut q, &mut done, "crash null", "Unable to handle kernel NULL pointer dereference");
    run(&mut q, &mut done, "touch 0", "Unable to handle kernel NULL pointer dereference");
    run(&mut q, &mut done, "poke 0 1", "poke: 0x00000000: fault at virtual address");
    run(&mut q, &mut done, "verify", "verify: ok");
    // Nothing lost: what is not free is in the slab caches or kernel page tables the commands
    // grew, as Linux keeps both.
    let after = q.memory_snapshot_unshrunk();
    let held = |s: &MemSnapshot| {
        s.free_kb + meminfo_kb(&q, &s.meminfo, "Slab") + meminfo_kb(&q, &s.meminfo, "PageTables")
    };
    assert_eq!(held(&after), held(&before), "free + Slab + PageTables");
    // reboot boots again (the watchdog), poweroff ends QEMU (tested by the other boots).
    q.send("reboot\n");
    let again = q.wait_for(PROMPT, BOOT).unwrap();
    q.expect_in("reboot", &again, "reboot: Restarting system\n");
    q.expect_in("reboot", &again, "Booting pivm on physical CPU 0x");
    done.insert("reboot".into());
    done.insert("poweroff".into());
    check_crash_stack(&mut q, VA_BITS);
    done.insert("crash".into());
    let missing: Vec<&String> = names.difference(&done).collect();
    assert!(missing.is_empty(), "help lists commands this test does not run: {missing:?}");
    let extra: Vec<&String> =
        done.difference(&names).filter(|n| n.as_str() != "nosuchcmd").collect();
    assert!(extra.is_empty(), "commands run that help does not list: {extra:?}");
}

/// `crash stack`: lkdtm's EXHAUST_STACK on the console's vmalloc'ed stack, reported as arm64
/// 6.1's `panic_bad_stack` with the live bounds: the task stack is the console's vmalloc
/// area (`THREAD_SIZE`, `THREAD_ALIGN`ed), the fault is in the page below it, the overflow
/// stack lies in the kernel image; then the panic halts the kernel.
fn check_crash_stack(q: &mut Qemu, va_bits: u32) {
    let vi = q.cmd("cat /proc/vmallocinfo");
    let line = q.line_with("vmallocinfo", &vi, " run_console ");
    let base = hex_after(q, "vmallocinfo", line, "");
    let image = q.line_with("vmallocinfo", &vi, " paging_init ");
    assert_eq!(hex_after(q, "vmallocinfo", image, ""), m::vmalloc_start(va_bits), "{image}");
    let image_start = hex_after(q, "vmallocinfo", image, "");
    assert_eq!(base % m::THREAD_ALIGN, 0, "the console's stack is THREAD_ALIGNed: {line}");
    q.expect_in("vmallocinfo", line, &format!("{:7} run_console", m::THREAD_SIZE + 4096));
    q.send("crash stack\n");
    let out = q
        .wait_for("---[ end Kernel panic - not syncing: kernel stack overflow ]---", STEP)
        .unwrap();
    let start = out.find("Insufficient stack space to handle exception!\n").unwrap_or_else(|| {
        q.fail("crash stack: no `Insufficient stack space to handle exception!`")
    });
    let rep = &out[start..];
    q.expect_in("crash stack", rep, "ESR: 0x0000000096000047 -- DABT (current EL)\n");
    let far = hex_after(q, "crash stack", rep, "FAR: ");
    assert!((base - 4096..base).contains(&far), "FAR {far:#x} is not the page below {base:#x}");
    q.expect_in(
        "crash stack",
        rep,
        &format!("Task stack:     [0x{base:016x}..0x{:016x}]\n", base + m::THREAD_SIZE),
    );
    let ovf = hex_after(q, "crash stack", rep, "Overflow stack: [");
    q.expect_in(
        "crash stack",
        rep,
        &format!("Overflow stack: [0x{ovf:016x}..0x{:016x}]\n", ovf + m::OVERFLOW_STACK_SIZE),
    );
    assert!(
        (image_start..image_start + KERNEL_IMAGE_MAX).contains(&ovf),
        "the overflow stack {ovf:#x} is not in the kernel image"
    );
    // The registers are the faulting frame's: its sp at or below the faulting store.
    let sp = hex_after(q, "crash stack", rep, "sp : ");
    assert!(sp <= far && sp < base, "sp {sp:#x} for a fault at {far:#x}");
    for s in ["pstate: ", "x29: ", "x2 : ", "Kernel panic - not syncing: kernel stack overflow\n"] {
        q.expect_in("crash stack", rep, s);
    }
    // The panic halts: the console no longer answers.
    q.send("jiffies\n");
    if q.wait_for("jiffies: ", Duration::from_secs(3)).is_ok() {
        q.fail("the console answered after the stack-overflow panic");
    }
    q.kill();
}

/// `crash spinlockup` on the 64-bit kernel: the same `spin_bug` report and panic.
#[test]
fn crash_spinlockup_reports_the_recursion_and_stops_on_arm64() {
    let mut q = boot(VA_BITS);
    let elf = format!("build/arm64-{VA_BITS}/kernel8.elf");
    common::spinbug::check_spinlockup(&mut q, "aarch64-linux-gnu-nm", &elf, true);
}

/// `crash stack` with 3 levels of tables (`VA_BITS=39`): the same report, the same bounds.
#[test]
fn crash_stack_va39() {
    let mut q = boot(39);
    check_crash_stack(&mut q, 39);
}
