//! The console driven as a hostile user would (issue 16, items 7-10 and 14-16; issue 11, user
//! input): bytes that must not vanish inside words, Ctrl-C on long commands with type-ahead
//! kept, `peek` of a register whose read eats typed input, the scenario's verdict when vmalloc
//! runs out of pages, its progress marks, the console's messages, out-of-range PFNs, and the
//! README's boot figures. Needs `make kernel VMSPLIT=2G|3G|1G` (`make test` builds them).

mod common;
use common::*;
use std::time::Duration;

/// A full scenario run with mem=32M, or a wait for its first progress line, on a loaded
/// machine.
const LONG: Duration = Duration::from_secs(50);

fn boot(append: &str) -> Qemu {
    Qemu::boot_to_prompt(Opts::raw("2G").append(append)).0
}

/// Types `bytes` (one line) and returns everything up to the next prompt: the echo, then
/// what the line printed.
fn line(q: &mut Qemu, bytes: &[u8]) -> String {
    q.send_bytes(bytes);
    q.wait_for(PROMPT, STEP).unwrap()
}

/// Runs `command` with a Ctrl-C typed right after its Enter (the command is typed and echoed
/// first, so the two arrive together, while the command runs).
fn interrupted_at_start(q: &mut Qemu, command: &str) -> String {
    q.send(command);
    q.wait_for(command, STEP).unwrap();
    line(q, b"\n\x03")
}

/// Fails if `text` contains `needle`.
fn expect_not_in(q: &Qemu, what: &str, text: &str, needle: &str) {
    if text.contains(needle) {
        q.fail(&format!("{what}: {needle:?} must not appear in:\n{text}"));
    }
}

/// Every `A < B` printed in `text` (numbers decimal or 0x hex) must hold.
fn expect_true_inequalities(q: &Qemu, text: &str) -> usize {
    let num = |t: &str| {
        let t = t.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        match t.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => t.parse().ok(),
        }
    };
    let mut n = 0;
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        for i in (1..w.len().saturating_sub(1)).filter(|&i| w[i] == "<") {
            match (num(w[i - 1]), num(w[i + 1])) {
                (Some(a), Some(b)) if a < b => n += 1,
                _ => q.fail(&format!("false or unreadable inequality in {l:?}")),
            }
        }
    }
    n
}

/// Issue 16.7: TAB separates words; a byte no command can contain refuses the whole line,
/// naming it; escape sequences (arrow keys, OSC replies) are swallowed whole.
#[test]
fn typed_bytes_never_vanish_inside_words() {
    let mut q = boot("");
    // `peek 0x8000é0000` used to run `peek 0x80000000`.
    let out = line(&mut q, "peek 0x8000é0000\n".as_bytes());
    q.expect_in(
        "peek with é",
        &out,
        "pivm: byte 0xc3 (the start of U+00E9 in UTF-8) at column 12 cannot be typed here; line ignored",
    );
    expect_not_in(&q, "peek with é", &out, "0x80000000:");
    // `kmalloc 1` followed by an Arabic-Indic zero used to run `kmalloc 1`.
    let out = line(&mut q, "kmalloc 1\u{660}\n".as_bytes());
    q.expect_in("Arabic zero", &out, "pivm: byte 0xd9 (the start of U+0660 in UTF-8) at column 10");
    expect_not_in(&q, "Arabic zero", &out, "kmalloc(1)");
    // A no-break space used to join two words.
    let out = line(&mut q, "kmalloc\u{a0}64\n".as_bytes());
    q.expect_in(
        "no-break space",
        &out,
        "pivm: byte 0xc2 (the start of U+00A0 in UTF-8) at column 8",
    );
    expect_not_in(&q, "no-break space", &out, "command not found");
    // A control byte inside a word, shown where it was typed.
    let out = line(&mut q, b"kmal\x01loc 64\n");
    q.expect_in("control byte", &out, "kmal^Aloc 64\n");
    q.expect_in("control byte", &out, "pivm: byte 0x01 (^A) at column 5 cannot be typed here");
    // TAB separates words: `\tpeek\t0x80000000` is `peek 0x80000000`.
    let out = line(&mut q, b"\tpeek\t0x80000000\n");
    q.expect_in("tabs", &out, "0x80000000: ");
    // An OSC reply (ESC ] ... BEL), an OSC ended by ST, and an arrow key are swallowed whole.
    let out = line(&mut q, b"he\x1b]11;rgb:0000/0000/0000\x07l\x1b]0;t\x1b\\p\x1b[D\n");
    q.expect_in("escape sequences", &out, "ptdump");
    // An escape sequence cut off by Enter refuses the line.
    let out = line(&mut q, b"help\x1b[1\n");
    q.expect_in("cut-off CSI", &out, "pivm: escape sequence at column 5 was cut off; line ignored");
    expect_not_in(&q, "cut-off CSI", &out, "ptdump");
    // Backspace takes a bad byte back; the line then runs.
    let out = line(&mut q, b"help\x02\x7f\n");
    q.expect_in("backspace over ^B", &out, "ptdump");
    q.poweroff_ok();
}

/// Issue 16.8: Ctrl-C stops the long commands cleanly, each saying what it freed or left for
/// its release command; what was typed meanwhile runs afterwards.
#[test]
fn ctrl_c_stops_long_commands() {
    let mut q = boot("hostile=1");
    let free0 = q.free_kb();
    q.send("scenario vmalloc-frag budget=1000000\n");
    q.wait_for("scenario: step   5000/1000000:", LONG).unwrap();
    // Typed while the scenario runs: kept, and run once it has stopped.
    q.send("cat /proc/cmdline\n");
    q.send_bytes(b"\x03");
    let out = q.wait_for(PROMPT, LONG).unwrap();
    q.expect_in("scenario ^C", &out, "scenario: interrupted at step ");
    q.expect_in(
        "scenario ^C",
        &out,
        " of 1000000; its memory stays allocated until 'scenario release'",
    );
    expect_not_in(&q, "scenario ^C", &out, "the graphics driver asks");
    let out = q.wait_for(PROMPT, STEP).unwrap();
    q.expect_in("type-ahead after ^C", &out, "cat /proc/cmdline\nhostile=1\n");
    let out = q.cmd("scenario release");
    q.expect_in("scenario release", &out, "scenario: released ");
    let free1 = q.free_kb();
    if free1 + 1024 < free0 {
        q.fail(&format!("{free0} kB free before the run, {free1} kB after its release"));
    }

    // Ctrl-C already waiting when the command starts: it stops at its first poll.
    let out = interrupted_at_start(&mut q, "memtest");
    q.expect_in("memtest ^C", &out, "memtest: interrupted after ");
    q.expect_in("memtest ^C", &out, " pages; everything freed");
    expect_not_in(&q, "memtest ^C", &out, "FAILED");

    let out = interrupted_at_start(&mut q, "frag checkerboard");
    q.expect_in("frag ^C", &out, "frag: interrupted after taking ");
    q.expect_in("frag ^C", &out, " pages; everything freed");
    // Nothing is held: a new workload starts, and its release frees it.
    let out = q.cmd("frag checkerboard");
    q.expect_in("frag after ^C", &out, "frag: checkerboard Normal: took ");
    let out = q.cmd("frag release");
    q.expect_in("frag release", &out, "frag: released ");

    let out = interrupted_at_start(&mut q, "vmalloc_fill 1M");
    q.expect_in(
        "vmalloc_fill ^C",
        &out,
        "vmalloc_fill: interrupted; what it allocated stays until 'vmalloc_fill free'",
    );
    expect_not_in(&q, "vmalloc_fill ^C", &out, "no area");
    let out = q.cmd("vmalloc_fill free");
    q.expect_in("vmalloc_fill free", &out, "vmalloc_fill: freed ");
    q.poweroff_ok();
}

/// The start address of the /proc/vmallocinfo area that `caller` mapped.
fn area_of(q: &mut Qemu, caller: &str) -> u64 {
    let info = q.cmd("cat /proc/vmallocinfo");
    let l = q.line_with("vmallocinfo", &info, caller).to_string();
    hex_numbers(&l)[0]
}

/// Issue 16.9: `peek` of the UART's data register ate typed input (pasting
/// `peek 0xbc800000` and `help` ran `elp`). Registers whose read has a side effect are
/// refused however they are mapped, unless `-f` is given.
#[test]
fn peek_refuses_registers_that_reads_change() {
    let mut q = boot("");
    let uart = area_of(&mut q, "pivm::board::raspi::uart");
    // Pasted together: the second line must arrive whole.
    q.send(&format!("peek {uart:#x}\nhelp\n"));
    let out = q.wait_for(PROMPT, STEP).unwrap();
    q.expect_in(
        "peek UART DR",
        &out,
        &format!(
            "peek: {uart:#010x} (phys 0x3f201000) is the PL011 UART0 data register UARTDR: reading it takes a byte of typed input; 'peek -f {uart:#x}' reads it anyway"
        ),
    );
    let out = q.wait_for(PROMPT, STEP).unwrap();
    q.expect_in("help after the refused peek", &out, "ptdump");
    expect_not_in(&q, "help after the refused peek", &out, "command not found");
    // A range that runs into the register, and `touch`, are refused too.
    let out = q.cmd(&format!("peek {:#x} 4", uart - 8));
    q.expect_in("peek range", &out, "is the PL011 UART0 data register UARTDR");
    let out = q.cmd(&format!("touch {uart:#x}"));
    q.expect_in("touch UART DR", &out, &format!("'touch -f {uart:#x}' reads it anyway"));
    // The next register is harmless.
    let out = q.cmd(&format!("peek {:#x}", uart + 4));
    q.expect_in("peek UART RSR", &out, &format!("{:#010x}: ", uart + 4));
    // Mailbox 0's read register, through the mailbox driver's ioremap.
    let mbox = area_of(&mut q, "pivm::board::raspi::mailbox") + 0x880;
    let out = q.cmd(&format!("peek {mbox:#x}"));
    q.expect_in("peek mailbox read", &out, "(phys 0x3f00b880) is mailbox 0's read register");
    // Another mapping of the same page is caught as well.
    let out = q.cmd("ioremap 0x3f201000 4K");
    let alias = *hex_numbers(&out).last().unwrap_or_else(|| q.fail(&out));
    let out = q.cmd(&format!("peek {alias:#x}"));
    q.expect_in("peek alias", &out, "is the PL011 UART0 data register UARTDR");
    // The override reads it.
    let out = q.cmd(&format!("peek -f {alias:#x}"));
    q.expect_in("peek -f", &out, &format!("{alias:#010x}: "));
    q.cmd_silent(&format!("iounmap {alias:#x}"));
    let out = q.cmd("cat /proc/cpuinfo");
    q.expect_in("mailbox still answers", &out, "Revision");
    q.poweroff_ok();
}

/// Issue 16.10: with mem=32M vmalloc fails for lack of pages; the verdict used to blame a
/// 2 GiB gap (`largest gap 0x7cff4000 < 0x1a1000`).
#[test]
fn scenario_verdict_names_the_real_cause() {
    let mut q = boot("mem=32M");
    let out = q.cmd_timeout("scenario vmalloc-frag", LONG);
    let verdict = q.line_with("scenario", &out, "request of 0x1a0000 bytes: ").to_string();
    q.expect_in("verdict", &verdict, "failed (__get_free_pages: ");
    q.expect_in("verdict", &verdict, "; vmalloc: out of pages after ");
    expect_not_in(&q, "verdict", &verdict, "largest gap");
    q.expect_in("summary", &out, "vmalloc_error=no-pages");
    // Every comparison it prints holds (the device's own line included).
    if expect_true_inequalities(&q, &out) < 2 {
        q.fail(&format!("expected the verdict's and the device's inequalities in:\n{out}"));
    }
    q.cmd("scenario release");
    q.poweroff_ok();
}

/// Issue 16.14: a progress line at every 5,000-step mark, whatever that step's operation.
#[test]
fn scenario_progress_at_every_mark() {
    let mut q = boot("");
    let out = q.cmd_timeout("scenario vmalloc-frag budget=20000", LONG);
    let marks: Vec<u32> = out
        .lines()
        .filter_map(|l| l.strip_prefix("scenario: step "))
        .filter_map(|l| l.split('/').next()?.trim().parse().ok())
        .collect();
    if marks != [5000, 10_000, 15_000, 20_000] {
        q.fail(&format!("progress marks {marks:?}, expected every 5000 steps:\n{out}"));
    }
    q.cmd("scenario release");
    q.poweroff_ok();
}

/// The kmalloc ceiling `help` shows is the one kmalloc enforces.
fn help_shows_the_kmalloc_ceiling(q: &mut Qemu) {
    let help = q.cmd("help");
    let l = q.line_with("help", &help, "kmalloc SIZE").to_string();
    let shown = l
        .split(", up to ")
        .nth(1)
        .and_then(|r| r.strip_suffix(" (KMALLOC_MAX_SIZE)"))
        .unwrap_or_else(|| q.fail(&format!("no ceiling in {l:?}")));
    let max: u64 = match shown.as_bytes().last() {
        Some(b'K') => shown[..shown.len() - 1].parse::<u64>().unwrap() << 10,
        Some(b'M') => shown[..shown.len() - 1].parse::<u64>().unwrap() << 20,
        _ => shown.parse().unwrap_or_else(|_| q.fail(&format!("ceiling {shown:?}"))),
    };
    let out = q.cmd(&format!("kmalloc {max}"));
    q.expect_in("kmalloc at the ceiling", &out, &format!("kmalloc({max}) = 0x"));
    let ptr = hex_numbers(&out)[0];
    let out = q.cmd(&format!("kmalloc {}", max + 1));
    q.expect_in(
        "kmalloc above the ceiling",
        &out,
        &format!("exceeds KMALLOC_MAX_SIZE ({max} bytes)"),
    );
    q.cmd_silent(&format!("kfree {ptr:#x}"));
}

/// Issue 16.15: `help` lists every file `cat` serves and the build's real kmalloc ceiling;
/// an empty GFP mask shows as `0x0()`; `0b101` gets no hex hint; counts agree with their
/// nouns; "an ioremap".
#[test]
fn console_messages() {
    let mut q = boot("");
    let help = q.cmd("help");
    let files: Vec<String> = help
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("cat FILE"))
        .skip(1)
        .map(str::trim)
        .take_while(|l| l.starts_with('/'))
        .map(String::from)
        .collect();
    for f in [
        "/proc/cmdline",
        "/proc/cpuinfo",
        "/proc/iomem",
        "/proc/meminfo",
        "/proc/buddyinfo",
        "/proc/pagetypeinfo",
        "/proc/zoneinfo",
        "/proc/slabinfo",
        "/proc/vmallocinfo",
        "/sys/kernel/debug/extfrag/unusable_index",
        "/sys/kernel/debug/extfrag/extfrag_index",
    ] {
        if !files.iter().any(|l| l == f) {
            q.fail(&format!("help does not list {f}; it lists {files:?}"));
        }
    }
    for f in &files {
        let out = q.cmd(&format!("cat {f}"));
        expect_not_in(&q, f, &out, "No such file");
    }
    help_shows_the_kmalloc_ceiling(&mut q);

    let out = q.cmd("alloc_pages 0 0");
    q.expect_in("alloc_pages 0 0", &out, "order 0 0x0() -> pfn 0x");
    q.cmd_silent(&format!("__free_pages {:#x} 0", hex_numbers(&out)[1]));

    let out = q.cmd("peek 0b101");
    q.expect_in("0b101", &out, "peek: invalid number '0b101' (numbers are decimal or 0x hex)");

    let out = q.cmd_timeout("scenario vmalloc-frag budget=1", LONG);
    q.expect_in("one step", &out, "seed 1, budget 1 step\n");
    let out = q.cmd("scenario release");
    q.expect_in("one object", &out, "scenario: released 1 object\n");

    let out = q.cmd("vmalloc 4K");
    let va = *hex_numbers(&out).last().unwrap();
    let out = q.cmd(&format!("iounmap {va:#x}"));
    q.expect_in("iounmap of a vmalloc area", &out, &format!("{va:#010x} is not an ioremap area"));
    q.cmd_silent(&format!("vfree {va:#x}"));
    q.poweroff_ok();
}

/// A profile with an older kmalloc ceiling (the Android profiles' 128 KiB) shows its own
/// ceiling in `help`, not the default 4 MiB.
#[test]
fn kmalloc_ceiling_of_the_android_profile() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("3G").append("pivm.profile=android-a9"));
    help_shows_the_kmalloc_ceiling(&mut q);
    let help = q.cmd("help");
    q.expect_in("help", &help, ", up to 128K (KMALLOC_MAX_SIZE)");
    q.poweroff_ok();
}

/// Issue 11 §1: `kmap 0x10000000000000` wrapped the PFN shift and mapped physical page 0.
/// Every PFN typed is range-checked before it becomes an address.
#[test]
fn out_of_range_pfns_are_refused() {
    let mut q = boot("");
    for (cmd, verb) in [
        ("kmap 0x10000000000000", "kmap"),
        ("kunmap 0x10000000000000", "kunmap"),
        ("__free_pages 0x100000 0", "__free_pages"),
        ("kmap 18446744073709551615", "kmap"),
    ] {
        let out = q.cmd(cmd);
        let pfn = cmd.split_whitespace().nth(1).unwrap();
        q.expect_in(
            cmd,
            &out,
            &format!("{verb}: pfn {pfn} out of range (physical addresses are 32-bit: 0-0xfffff)"),
        );
        expect_not_in(&q, cmd, &out, "(pfn");
    }
    // The largest PFN is in range, and not RAM.
    let out = q.cmd("kmap 0xfffff");
    q.expect_in("kmap 0xfffff", &out, "kmap: pfn 0xfffff is not RAM");
    q.poweroff_ok();
}

/// Issue 16.16: the README's vmalloc size for the 1G split is the kernel's own banner figure.
#[test]
fn readme_vmalloc_figure_for_1g_matches_the_banner() {
    let (mut q, log) = Qemu::boot_to_prompt(Opts::raw("1G"));
    let l = q.line_with("boot log", &log, "    vmalloc : ").to_string();
    let mb = l
        .rsplit('(')
        .next()
        .and_then(|r| r.trim().strip_suffix("MB)"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| q.fail(&format!("cannot read the vmalloc size in {l:?}")));
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    if !readme.contains(&format!("with 1G/3G, {mb} MB")) {
        q.fail(&format!("README.md must say the 1G/3G vmalloc area is {mb} MB (banner: {l:?})"));
    }
    q.poweroff_ok();
}

/// Issue 16.16: without `-semihosting`, QEMU 7.2 ends on `poweroff` with status 0 (the
/// firmware's halt partition makes its watchdog model shut down), and `reboot` restarts.
#[test]
fn poweroff_without_semihosting_exits_0() {
    let image = root().join("build/2G/kernel7.img");
    let args: Vec<String> = ["-M", "raspi2b", "-display", "none", "-serial", "stdio", "-monitor"]
        .iter()
        .map(|s| s.to_string())
        .chain(["none".into(), "-kernel".into(), image.display().to_string()])
        .collect();
    let mut q = Qemu::spawn("qemu-system-arm", &args);
    q.wait_for(PROMPT, BOOT).unwrap();
    q.send("reboot\n");
    q.wait_for("reboot: Restarting system", STEP).unwrap();
    q.wait_for(PROMPT, BOOT).unwrap();
    let status = q.poweroff();
    if status.code() != Some(0) {
        q.fail(&format!("poweroff without -semihosting: exit status {status}, expected 0"));
    }
}
