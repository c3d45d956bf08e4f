//! The 64-bit kernel's boot (issue 14): the ELF without a device tree takes its RAM from the
//! VideoCore property mailbox (`GET_ARM_MEMORY`), and interrupts run on arm64 6.1's per-CPU
//! IRQ stack (`irq_stack_ptr`, `IRQ_STACK_SIZE` = `THREAD_SIZE`, vmalloc'ed at
//! `THREAD_ALIGN`), which the stack-overflow report names. Needs `make kernel ARCH=arm64
//! VA_BITS=48` (`make test` builds it).

mod common;
use common::*;

use pivm::arch::arm64::memory as m;

const VA_BITS: u32 = 48;

/// Boots `build/arm64-48/kernel8.<ext>` with QEMU's `extra` arguments to the prompt.
fn boot(ext: &str, extra: &[&str]) -> (Qemu, String) {
    let image = root().join(format!("build/arm64-{VA_BITS}/kernel8.{ext}"));
    assert!(
        image.is_file(),
        "missing {}: run `make kernel ARCH=arm64 VA_BITS={VA_BITS}`",
        image.display()
    );
    let args: Vec<String> = [
        "-M",
        "raspi3b",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-semihosting",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["-kernel".to_string(), image.display().to_string()])
    .chain(extra.iter().map(|s| s.to_string()))
    .collect();
    let mut q = Qemu::spawn("qemu-system-aarch64", &args);
    let log = q.wait_for(PROMPT, BOOT).unwrap();
    (q, log)
}

/// The first hex number after `label` in `text`.
fn hex_after(q: &Qemu, what: &str, text: &str, label: &str) -> u64 {
    let rest = text.split(label).nth(1).unwrap_or_else(|| q.fail(&format!("{what}: no {label:?}")));
    let h = rest.trim_start();
    let h = h.strip_prefix("0x").unwrap_or(h);
    let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
    u64::from_str_radix(&h[..end], 16)
        .unwrap_or_else(|_| q.fail(&format!("{what}: no number after {label:?}: {rest}")))
}

/// QEMU's ELF loader starts all four cores at EL3 and passes nothing: no ATAGs, no device
/// tree (x0 = 0, nothing at physical 0). The kernel asks the firmware's property mailbox
/// for the ARM's RAM, which QEMU answers as the firmware does (base 0, 0x3c000000 bytes,
/// AARCH64_FACTS.md 1a), and boots with it: the same 960 MiB as the ATAG and device-tree
/// boots, every page of it in the zones, the console working. Before the mailbox the
/// kernel stopped with "no memory from x0=0x0".
#[test]
fn elf_without_dtb_takes_ram_from_the_mailbox() {
    let (mut q, log) = boot("elf", &[]);
    q.expect_in("boot", &log, "CPU: entered at EL3, running at EL1; x0=0x0");
    q.expect_in(
        "boot",
        &log,
        "No ATAGs or device tree at x0=0x0; RAM from the VideoCore mailbox: \
         [mem 0x0000000000000000-0x000000003bffffff] (960 MiB)",
    );
    q.expect_in("boot", &log, "  DMA      [mem 0x0000000000000000-0x000000003bffffff]");
    q.expect_in("boot", &log, "  node   0: [mem 0x0000000000000000-0x000000003bffffff]");
    // physpages: all 960 MiB (245,760 pages) known to memblock.
    let memory = q.line_with("boot", &log, "Memory: ");
    q.expect_in("boot", memory, "K/983040K available");
    let meminfo = q.cmd("cat /proc/meminfo");
    let total = meminfo_kb(&q, &meminfo, "MemTotal");
    assert!(total > 900 * 1024 && total <= 960 * 1024, "MemTotal {total} kB of 960 MiB");
    // The early_ioremap slot the mailbox was reached through is unmapped again, and the
    // mailbox has its ioremap like every device.
    let slot = m::fix_to_virt(VA_BITS, m::FIX_BTMAP_BEGIN);
    let out = q.cmd(&format!("peek {slot:#x}"));
    q.expect_in("peek the early_ioremap slot", &out, "translation fault");
    let vi = q.cmd("cat /proc/vmallocinfo");
    let line = q.line_with("vmallocinfo", &vi, " pivm::board::raspi::mailbox ");
    q.expect_in("vmallocinfo", line, "phys=0x000000003f00b000 ioremap");
    q.poweroff_ok();
}

/// The IRQ stacks: one `vmalloc` area of `IRQ_STACK_SIZE` (= `THREAD_SIZE`) plus its guard
/// page at `THREAD_ALIGN` for each possible CPU (the board's four), allocated by `init_IRQ`
/// (`init_irq_stacks`, caller `start_kernel` as in the reference's /proc/vmallocinfo, which
/// has four such areas, where init_IRQ is inlined); CPU 0's is the first. The timer's
/// interrupts have run on it by the time the console answers: the handlers' frame records
/// near its top (the 256 bytes read) hold return addresses into the kernel's text (the area is untouched
/// otherwise). `crash stack` then overflows the console's stack, and 6.1's report gives the
/// IRQ stack's bounds between the task's and the overflow stack's.
#[test]
fn interrupts_run_on_the_irq_stack() {
    let (mut q, log) = boot("img", &[]);
    let text = q.line_with("boot", &log, "      .text : ");
    let text_start = hex_after(&q, "banner", text, ".text : ");
    let text_end = hex_after(&q, "banner", text, " - ");
    let vi = q.cmd("cat /proc/vmallocinfo");
    let stacks: Vec<&str> = vi.lines().filter(|l| l.contains(" start_kernel ")).collect();
    let theirs = include_str!("samples/linux-6.1-raspi3b-arm64-vmallocinfo-head40.txt")
        .lines()
        .filter(|l| l.contains(" start_kernel+"))
        .count();
    assert_eq!(theirs, pivm::board::raspi::NR_CPUS as usize, "the reference's four IRQ stacks");
    if stacks.len() != theirs {
        q.fail(&format!("{} start_kernel areas, one IRQ stack per possible CPU", stacks.len()));
    }
    for line in &stacks {
        q.expect_in("vmallocinfo", line, &format!("{:7} start_kernel", m::THREAD_SIZE + 4096));
        q.expect_in("vmallocinfo", line, &format!("pages={} vmalloc", m::THREAD_SIZE / 4096));
        let base = hex_after(&q, "vmallocinfo", line, "0x");
        assert_eq!(base % m::THREAD_ALIGN, 0, "an IRQ stack is THREAD_ALIGNed: {line}");
    }
    let line = stacks[0];
    let irq = hex_after(&q, "vmallocinfo", line, "0x");
    // The tick and the UART's receive interrupt (every typed character) have run by now;
    // read the stack's top 256 bytes (`peek`'s limit of 64 words).
    let top = irq + m::THREAD_SIZE;
    let words: Vec<u64> = q
        .cmd(&format!("peek {:#x} 64", top - 256))
        .lines()
        .filter_map(|l| l.split_once(": "))
        .flat_map(|(_, ws)| {
            ws.split_whitespace()
                .filter_map(|w| u64::from_str_radix(w, 16).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    if words.len() != 64 {
        q.fail(&format!("peek of the IRQ stack's top {:#x}: {words:x?}", top - 256));
    }
    let returns = words
        .chunks(2)
        .map(|w| w[0] | w[1] << 32)
        .filter(|a| (text_start..text_end).contains(a))
        .count();
    if returns == 0 {
        q.fail(&format!(
            "no kernel-text return address in the IRQ stack's top 256 bytes at {:#x}: \
             interrupts did not run there",
            top - 256
        ));
    }
    q.send("crash stack\n");
    let out = q
        .wait_for("---[ end Kernel panic - not syncing: kernel stack overflow ]---", STEP)
        .unwrap();
    q.expect_in("crash stack", &out, "Insufficient stack space to handle exception!\n");
    q.expect_in(
        "crash stack",
        &out,
        &format!("IRQ stack:      [0x{irq:016x}..0x{:016x}]\n", irq + m::THREAD_SIZE),
    );
    let task = out.find("Task stack:").unwrap_or_else(|| q.fail("no Task stack: line"));
    let irq_line = out.find("IRQ stack:").unwrap();
    let ovf = out.find("Overflow stack:").unwrap_or_else(|| q.fail("no Overflow stack: line"));
    assert!(task < irq_line && irq_line < ovf, "6.1's order: task, IRQ, overflow:\n{out}");
    q.kill();
}
