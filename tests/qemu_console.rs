//! Drives the serial console of the real kernel in QEMU raspi2b: every command (help, cat /proc/...,
//! layout, v2p/p2v/pt cross-checked against each other, ptdump, peek), bad input (unknown command,
//! bad numbers, long lines, control bytes, Ctrl-C), a long random session of valid and invalid
//! commands, the `crash null` oops and the `crash spinlockup` deadlock report.
//! Needs `make kernel VMSPLIT=2G|3G|1G` (`make test` builds them).

mod common;
use common::*;
use std::thread;
use std::time::Duration;

fn boot(split: &'static str) -> Qemu {
    Qemu::boot_to_prompt(Opts::raw(split).append("a=b")).0
}

/// The last non-empty line of a command's output, without leading blanks.
fn last_line(out: &str) -> &str {
    out.lines().rev().map(str::trim_start).find(|l| !l.is_empty()).unwrap_or("")
}

/// The result line of a `pt` walk (`=> PA 0x...` or `=> fault ...`), which must be the last line.
fn walk_result<'a>(q: &Qemu, va: u64, walk: &'a str) -> &'a str {
    let last = last_line(walk);
    if !last.starts_with("=> ") {
        q.fail(&format!(
            "pt {va:#x}: the walk must end with its result line \"=> ...\", got:\n{walk}"
        ));
    }
    last
}

/// Fails unless some line of `out` starts with `prefix` and contains every string of `also`.
fn expect_line(q: &Qemu, what: &str, out: &str, prefix: &str, also: &[&str]) {
    if !out.lines().any(|l| l.starts_with(prefix) && also.iter().all(|a| l.contains(a))) {
        q.fail(&format!(
            "{what}: expected a line starting with {prefix:?} containing {also:?}, got:\n{out}"
        ));
    }
}

#[test]
fn help_lists_every_command() {
    let mut q = boot("2G");
    let out = q.cmd("help");
    for c in [
        "help", "cat", "layout", "v2p", "p2v", "pt", "ptdump", "peek", "crash", "poweroff",
        "reboot",
    ] {
        if !out.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).any(|w| w == c) {
            q.fail(&format!("help: command {c:?} not listed in:\n{out}"));
        }
    }
    q.poweroff_ok();
}

#[test]
fn proc_files() {
    let mut q = boot("2G");
    let out = q.cmd("cat /proc/cmdline");
    if out.trim_end() != "a=b" {
        q.fail(&format!("cat /proc/cmdline: expected \"a=b\", got {out:?}"));
    }
    let out = q.cmd("cat /proc/iomem");
    for s in [
        "00000000-3bffffff : System RAM",
        "Kernel code",
        "Kernel data",
        "3f201000-3f2011ff : serial",
    ] {
        q.expect_in("cat /proc/iomem", &out, s);
    }
    let out = q.cmd("cat /proc/cpuinfo");
    for s in [
        "processor\t: 0",
        "processor\t: 1",
        "processor\t: 2",
        "processor\t: 3",
        "model name\t: ARMv7 Processor rev 5 (v7l)",
        "CPU part\t: 0xc07",
        "Hardware\t: BCM2835",
        // The arch timer's event stream is on, as Linux's arch_timer_evtstrm_enable leaves
        // it: evtstrm last, as the reference's line ends.
        "Features\t: half thumb fastmult vfp edsp thumbee neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm \n",
    ] {
        q.expect_in("cat /proc/cpuinfo", &out, s);
    }
    q.poweroff_ok();
}

#[test]
fn layout_prints_the_banner() {
    let mut q = boot("2G");
    let out = q.cmd("layout");
    // pivm's label first: Linux has not printed this banner since 5.1.
    q.expect_in(
        "layout",
        &out,
        "pivm: the layout banner Linux printed before 5.1:\nVirtual kernel memory layout:",
    );
    q.expect_in("layout", &out, "    lowmem  : 0x80000000 - 0xbc000000   ( 960 MB)");
    q.poweroff_ok();
}

/// `v2p`, `p2v` and `pt` must agree with each other and with `PA = VA - PAGE_OFFSET` in lowmem.
fn translations_agree(split: &'static str, lowmem: u64) {
    let po = page_offset(split);
    let mut q = boot(split);
    for off in [0x8000, 0x10_0000, 0x123_4000, lowmem - 0x1000, 0x8abc, lowmem - 4] {
        let va = po + off;
        let out = q.cmd(&format!("v2p {va:#x}"));
        let nums: Vec<u64> = hex_numbers(&out).into_iter().filter(|&n| n != va).collect();
        let Some(&pa) = nums.last() else {
            q.fail(&format!("v2p {va:#x}: no physical address in {out:?}"))
        };
        if pa != off {
            q.fail(&format!("v2p {va:#x} gave {pa:#x}, expected {off:#x}"));
        }
        q.expect_in(&format!("v2p {va:#x}"), &out, &format!("{va:#010x}"));
        q.expect_in(&format!("v2p {va:#x}"), &out, &format!("{pa:#010x}"));
        let back = q.cmd(&format!("p2v {pa:#x}"));
        if !hex_numbers(&back).contains(&va) {
            q.fail(&format!("p2v {pa:#x} does not give back {va:#x}: {back:?}"));
        }
        if off % 0x1000 == 0 {
            let walk = q.cmd(&format!("pt {va:#x}"));
            let last = walk_result(&q, va, &walk);
            if !last.starts_with("=> PA ") || hex_numbers(last).first() != Some(&pa) {
                q.fail(&format!(
                    "pt {va:#x}: expected a last line \"=> PA {pa:#010x}\", got:\n{walk}"
                ));
            }
        }
    }
    // outside lowmem
    let out = q.cmd("v2p 0x10000");
    expect_line(&q, "v2p 0x10000", &out, "v2p: ", &["not in lowmem"]);
    let out = q.cmd("p2v 0x3f000000");
    expect_line(&q, "p2v 0x3f000000", &out, "p2v: ", &[]);
    if lowmem < 0x3c00_0000 {
        // highmem RAM has no linear mapping
        let out = q.cmd(&format!("p2v {lowmem:#x}"));
        expect_line(&q, "p2v (highmem)", &out, "p2v: ", &[]);
    }
    let walk = q.cmd("pt 0x00001000");
    if !walk_result(&q, 0x1000, &walk).starts_with("=> fault") {
        q.fail(&format!("pt 0x00001000: expected a last line starting \"=> fault\", got:\n{walk}"));
    }
    let walk = q.cmd("pt 0xffff0000");
    if !walk_result(&q, 0xffff_0000, &walk).starts_with("=> PA 0x") {
        q.fail(&format!("pt 0xffff0000 (vectors): expected \"=> PA 0x...\", got:\n{walk}"));
    }
    q.poweroff_ok();
}

#[test]
fn translations_agree_2g() {
    translations_agree("2G", 960 << 20);
}

#[test]
fn translations_agree_3g() {
    translations_agree("3G", 768 << 20);
}

#[test]
fn translations_agree_1g() {
    translations_agree("1G", 960 << 20);
}

#[test]
fn pt_walk_of_kernel_text() {
    let mut q = boot("2G");
    let walk = q.cmd("pt 0x80008000");
    let last = walk_result(&q, 0x8000_8000, &walk);
    if last != "=> PA 0x00008000" && !last.starts_with("=> PA 0x00008000 ") {
        q.fail(&format!("pt 0x80008000: expected a last line \"=> PA 0x00008000\", got:\n{walk}"));
    }
    let out = q.cmd("v2p 0x80008000");
    q.expect_in("v2p 0x80008000", &out, "0x80008000");
    q.expect_in("v2p 0x80008000", &out, "0x00008000");
    let out = q.cmd("p2v 0x8000");
    q.expect_in("p2v 0x8000", &out, "0x80008000");
    q.poweroff_ok();
}

#[test]
fn ptdump_sections() {
    let mut q = boot("2G");
    let out = q.cmd("ptdump");
    for s in ["---[ Kernel Mapping ]---", "---[ Fixmap Area ]---", "---[ Vectors ]---"] {
        q.expect_in("ptdump", &out, s);
    }
    expect_line(&q, "ptdump", &out, "0xffff0000-0xffff1000", &[]);
    q.poweroff_ok();
}

/// The 8-hex-digit data words of a `peek` output (`0xADDR: w w w ...`).
fn peek_words(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(addr, _)| addr.trim().starts_with("0x"))
        .flat_map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.len() == 8 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .collect()
}

#[test]
fn peek_memory_and_fault() {
    let mut q = boot("2G");
    let one = q.cmd("peek 0x80008000");
    let line = q.line_with("peek 0x80008000", &one, "0x80008000: ");
    let word = line.split_once(": ").map(|(_, w)| w.trim()).unwrap_or("");
    if !line.starts_with("0x80008000: ")
        || word.len() != 8
        || !word.chars().all(|c| c.is_ascii_hexdigit())
    {
        q.fail(&format!("peek 0x80008000: expected \"0x80008000: xxxxxxxx\", got {one:?}"));
    }
    let four = q.cmd("peek 0x80008000 4");
    let words = peek_words(&four);
    if words.len() != 4 || words[0] != word {
        q.fail(&format!(
            "peek 0x80008000 4: expected 4 words starting with {word}, got {words:?} from:\n{four}"
        ));
    }
    let out = q.cmd("peek 0");
    expect_line(&q, "peek 0", &out, "peek: ", &["fault"]);
    let out = q.cmd("help");
    q.expect_in("help after a peek fault", &out, "peek");
    let again = q.cmd("peek 0x80008000");
    if again != one {
        q.fail(&format!("peek 0x80008000 changed after the fault: {one:?} then {again:?}"));
    }
    q.poweroff_ok();
}

#[test]
fn bad_commands_and_arguments() {
    let mut q = boot("2G");
    let out = q.cmd("frobnicate");
    q.expect_in("frobnicate", &out, "pivm: frobnicate: command not found");
    let out = q.cmd("peek");
    expect_line(&q, "peek (no argument)", &out, "peek: ", &[]);
    let out = q.cmd("peek 0xZZ");
    expect_line(&q, "peek 0xZZ", &out, "peek: invalid number", &[]);
    let out = q.cmd("peek 0x100000000");
    expect_line(&q, "peek 0x100000000", &out, "peek: ", &["range"]);
    let out = q.cmd("help");
    q.expect_in("help after bad input", &out, "ptdump");
    q.poweroff_ok();
}

#[test]
fn long_line_is_rejected() {
    let mut q = boot("2G");
    q.send(&format!("{}\n", "x".repeat(300)));
    q.wait_for("pivm: line too long", STEP).unwrap();
    q.wait_for(PROMPT, STEP).unwrap();
    let out = q.cmd("help");
    q.expect_in("help after a long line", &out, "ptdump");
    q.poweroff_ok();
}

#[test]
fn control_bytes_and_ctrl_c() {
    let mut q = boot("2G");
    // A line with bytes no command can contain is refused whole, naming the first one.
    q.send_bytes(b"\x01\x02\xffhelp\n");
    let out = q.wait_for(PROMPT, STEP).unwrap();
    q.expect_in("control bytes", &out, "^A^B\\xffhelp\n");
    q.expect_in(
        "control bytes",
        &out,
        "pivm: byte 0x01 (^A) at column 1 cannot be typed here; line ignored",
    );
    if out.contains("ptdump") {
        q.fail("the line with control bytes was executed");
    }
    let out = q.cmd("help");
    q.expect_in("help after control bytes", &out, "ptdump");

    q.send("abc\x03");
    q.wait_for("^C", STEP).unwrap();
    q.wait_for(PROMPT, STEP).unwrap();
    let out = q.cmd("cat /proc/cmdline");
    if out.trim_end() != "a=b" {
        q.fail(&format!("cat /proc/cmdline after Ctrl-C: expected \"a=b\", got {out:?}"));
    }
    if q.transcript().contains("abc: command not found") {
        q.fail("the line cancelled with Ctrl-C was executed");
    }
    q.poweroff_ok();
}

#[test]
fn crash_null_oopses_and_halts() {
    let mut q = boot("2G");
    q.send("crash null\n");
    q.wait_for(
        "Unable to handle kernel NULL pointer dereference at virtual address 00000000",
        STEP,
    )
    .unwrap();
    q.wait_for("Internal error: Oops: 5 [#1] SMP ARM", STEP).unwrap();
    // kallsyms: the oops names the function that faulted.
    q.wait_for("PC is at pivm::console::commands::system::cmd_crash+0x", STEP).unwrap();
    q.wait_for("pc : [<", STEP).unwrap();
    q.wait_for("---[ end trace", STEP).unwrap();
    thread::sleep(Duration::from_secs(1));
    let t = q.transcript();
    let tail = &t[t.rfind("---[ end trace").unwrap()..];
    if tail.contains(PROMPT) {
        q.fail("a prompt came back after the oops: the kernel must halt");
    }
    q.kill();
}

/// `crash spinlockup`: the console takes a spin lock it holds; 6.1's `spin_bug` report names
/// the recursion, the lock and the line, and the kernel stops with its panic message.
#[test]
fn crash_spinlockup_reports_the_recursion_and_stops() {
    let mut q = boot("2G");
    common::spinbug::check_spinlockup(&mut q, "arm-none-eabi-nm", "build/2G/kernel.elf", false);
}

/// xorshift64: the random console session below is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A number argument: edge cases, garbage, random values, an address or PFN of something the
/// session allocated or mapped (so frees, kfrees, vfrees and kunmaps also hit live objects),
/// or one the kernel owns (its page tables, image, mem_map, reserved pages, slab pages,
/// device mappings), which every command must refuse or handle without harm.
fn random_number(rng: &mut Rng, seen: &[u64], kernel: &[u64]) -> String {
    const EDGES: [&str; 18] = [
        "0",
        "1",
        "-1",
        "0x",
        "0xZZ",
        "99",
        "10",
        "11",
        "4096",
        "131072",
        "131073",
        "0xffffffff",
        "0x100000000",
        "18446744073709551616",
        "abc",
        "0x80000000",
        "0xc0000000",
        "0x3f201000",
    ];
    match rng.next() % 5 {
        0 if !seen.is_empty() => format!("{:#x}", seen[(rng.next() % seen.len() as u64) as usize]),
        1 if !kernel.is_empty() => {
            format!("{:#x}", kernel[(rng.next() % kernel.len() as u64) as usize])
        }
        2 => format!("{:#x}", rng.next() & 0xffff_ffff),
        3 => format!("{}", rng.next() % 64),
        _ => rng.pick(&EDGES).to_string(),
    }
}

/// One console command, valid or not, from every family but those that end the session
/// (`crash`, `touch`, `poke`, `poweroff`, `reboot`) or take seconds (`memtest`, `bench`).
fn random_command(rng: &mut Rng, seen: &[u64], kernel: &[u64]) -> String {
    let mut n = || random_number(rng, seen, kernel);
    let (a, b) = (n(), n());
    let cmd = ["cat", "alloc_pages", "free_pages", "__free_pages", "kmalloc", "kfree", "ksize"];
    let more = ["vmalloc", "vfree", "ioremap", "iounmap", "kmap", "kunmap", "frag", "scenario"];
    let rest = ["v2p", "p2v", "pt", "peek", "vmalloc_fill", "purge", "layout", "verify"];
    let family = match rng.next() % 3 {
        0 => rng.pick(&cmd),
        1 => rng.pick(&more),
        _ => rng.pick(&rest),
    };
    match family {
        "cat" => format!(
            "cat {}",
            rng.pick(&[
                "/proc/meminfo",
                "/proc/buddyinfo",
                "/proc/pagetypeinfo",
                "/proc/zoneinfo",
                "/proc/slabinfo",
                "/proc/vmallocinfo",
                "/proc/iomem",
                "/sys/kernel/debug/extfrag/extfrag_index",
                "/proc/nosuch",
                "",
            ])
        ),
        "alloc_pages" => format!(
            "alloc_pages {a} {}",
            rng.pick(&["", "GFP_ATOMIC", "GFP_HIGHUSER", "GFP_KERNEL|__GFP_ZERO", "BOGUS", "0x1"])
        ),
        // Half the frees aim at the kernel's own pages, by address or PFN, orders 0 and 1.
        "free_pages" | "__free_pages" if rng.next().is_multiple_of(2) && !kernel.is_empty() => {
            let k = kernel[(rng.next() % kernel.len() as u64) as usize];
            format!("{family} {k:#x} {}", rng.next() % 2)
        }
        "free_pages" | "__free_pages" | "ioremap" | "peek" => format!("{family} {a} {b}"),
        "frag" => format!(
            "frag {}",
            rng.pick(&["checkerboard", "checkerboard HighMem", "checkerboard DMA", "release", "x"])
        ),
        "scenario" => format!(
            "scenario {}",
            rng.pick(&["vmalloc-frag budget=100", "release", "vmalloc-frag seed=x", "bogus"])
        ),
        "vmalloc_fill" => format!("vmalloc_fill {}", rng.pick(&["free", &a])),
        "purge" | "layout" | "verify" => family.to_string(),
        _ => format!("{family} {a}"),
    }
}

/// Page frames and addresses the kernel owns on a `split` build, read from its own reports:
/// the device mappings of /proc/vmallocinfo and the page tables that map them (`pt`), the
/// image and the reserved page at 0 (/proc/iomem), the top of lowmem where memblock puts
/// mem_map (`layout`), and slab pages of live kmalloc objects. Each as a PFN and, where it
/// has one, its address; also the session's (kept) slab objects.
fn kernel_owned(q: &mut Qemu, split: &str) -> (Vec<u64>, Vec<u64>) {
    let po = page_offset(split);
    let mut owned = vec![0, po];
    let mut devices = Vec::new();
    let vmallocinfo = q.cmd("cat /proc/vmallocinfo");
    for line in vmallocinfo.lines().filter(|l| l.ends_with(" ioremap")) {
        let va = hex_numbers(line)[0];
        devices.push(va);
        owned.push(va);
        let walk = q.cmd(&format!("pt {va:#x}"));
        let table = walk.lines().find_map(|l| l.split_once("page table at PA ")).map(|(_, r)| r);
        if let Some(pa) = table.and_then(|r| hex_numbers(r).first().copied()) {
            owned.extend([pa >> 12, pa + po]);
        }
    }
    let iomem = q.cmd("cat /proc/iomem");
    for name in ["Kernel code", "Kernel data"] {
        let line = q.line_with("/proc/iomem", &iomem, name);
        let start = u64::from_str_radix(line.trim().split('-').next().unwrap(), 16).unwrap();
        owned.extend([start >> 12, start + po]);
    }
    let layout = q.cmd("layout");
    let lowmem = q.line_with("layout", &layout, "lowmem  :");
    let top = hex_numbers(lowmem)[1] - 0x1000;
    owned.extend([(top - po) >> 12, top]);
    for size in ["64", "4096", "100000"] {
        let out = q.cmd(&format!("kmalloc {size}"));
        let obj = hex_numbers(&out)[0];
        owned.extend([obj, obj & !0xfff, ((obj & !0xfff) - po) >> 12]);
    }
    (owned, devices)
}

/// Kernel messages that mean the session broke something.
const BROKEN: [&str; 6] = [
    "Internal error",
    "Unable to handle",
    "Kernel panic",
    "BUG: Bad page state",
    "pagealloc: ",
    "corrupted",
];

/// Bad input gets an error line and the console carries on: 250 random commands on the 3G
/// build (highmem, page poisoning on), fed also the kernel's own page frames and addresses,
/// each must come back to the prompt without an oops or a sign of corruption; kmalloc must
/// keep working and the allocators' invariants must hold throughout and at the end.
#[test]
fn random_commands_never_stop_the_console() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("3G").append("page_poison=1"));
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (kernel, devices) = kernel_owned(&mut q, "3G");
    let mut seen: Vec<u64> = Vec::new();
    let mut refused_kernel_frees = 0;
    let mut refused_kernel_unmaps = 0;
    for step in 0..250 {
        let mut command = random_command(&mut rng, &seen, &kernel);
        let verb = command.split_whitespace().next().unwrap_or("").to_string();
        // Half the unmaps aim at the kernel's own device mappings (the UART among them):
        // each must be refused, naming its owner, and the console must keep answering.
        let kernel_unmap = verb == "iounmap" && rng.next().is_multiple_of(2);
        if kernel_unmap {
            let d = devices[(rng.next() % devices.len() as u64) as usize];
            command = format!("iounmap {d:#x}");
        }
        // Whole-memory commands (`frag checkerboard` over 760 MiB with page poisoning) take a
        // few seconds alone and many times that on a loaded machine; a hang still fails.
        let out = q.cmd_timeout(&command, SLOW_STEP);
        if kernel_unmap {
            if !out.contains("belongs to") {
                q.fail(&format!("`{command}` was not refused as the kernel's:\n{out}"));
            }
            refused_kernel_unmaps += 1;
        }
        // A bad page free is reported as Linux does; anything else must not be.
        let frees_pages = ["free_pages", "__free_pages"].contains(&verb.as_str());
        let arg = command.split_whitespace().nth(1).unwrap_or("");
        if frees_pages
            && out.contains("BUG: Bad page state")
            && kernel.iter().any(|k| arg == format!("{k:#x}"))
        {
            refused_kernel_frees += 1;
        }
        for bad in BROKEN {
            if out.contains(bad) && !(bad.starts_with("BUG") && frees_pages) {
                q.fail(&format!("`{command}` printed {bad:?}:\n{out}"));
            }
        }
        if out.lines().any(|l| l.starts_with("verify: ") && l != "verify: ok") {
            q.fail(&format!("`{command}`: an allocator invariant is broken:\n{out}"));
        }
        // Reuse what the session itself allocated or mapped.
        if ["alloc_pages", "kmalloc", "vmalloc", "ioremap", "kmap"].contains(&verb.as_str()) {
            seen.extend(hex_numbers(&out).into_iter().filter(|&v| v > 0xfff));
        }
        let keep = seen.len().saturating_sub(64);
        seen.drain(..keep);
        if step % 25 == 24 {
            // The slab layer (and Rust's heap on it) still works, and nothing is broken.
            let out = q.cmd("kmalloc 64");
            let Some(&obj) = hex_numbers(&out).first() else {
                q.fail(&format!("kmalloc 64 failed after `{command}`:\n{out}"))
            };
            q.cmd_silent(&format!("kfree {obj:#x}"));
            q.verify_ok(&format!("after step {step} (`{command}`)"));
        }
    }
    for cleanup in ["frag release", "scenario release", "vmalloc_fill free", "purge"] {
        q.cmd(cleanup);
    }
    let meminfo = q.cmd("cat /proc/meminfo");
    q.expect_in("meminfo after the session", &meminfo, "MemFree:");
    q.verify_ok("at the end of the session");
    eprintln!(
        "random session: {refused_kernel_frees} frees of the kernel's pages and \
         {refused_kernel_unmaps} unmaps of its device mappings refused"
    );
    if refused_kernel_frees < 5 {
        q.fail(&format!("only {refused_kernel_frees} frees of the kernel's own pages were tried"));
    }
    if refused_kernel_unmaps < 2 {
        q.fail(&format!("only {refused_kernel_unmaps} unmaps of the kernel's mappings were tried"));
    }
    q.poweroff_ok();
}

/// Magic SysRq over the serial line: a BREAK (QEMU's `chardev-send-break`) and a key. `t`
/// lists every task as 6.1's `sched_show_task` does and what the console was doing, whether
/// it waits at the prompt or for a foreground program (it reads no input then: the report
/// comes from the UART's interrupt and the tick); `w` only the blocked tasks; another key the
/// help line. The key is not input: the next command runs as typed.
#[test]
fn sysrq_over_a_break_lists_the_tasks_whatever_the_console_does() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").initramfs().monitor("sysrq"));
    let socket = q.monitor_socket().expect("booted with a monitor").to_path_buf();
    let pid = q.start_background("/bin/spin", "spinning until killed", STEP);
    q.sysrq(&socket, b't');
    let out = q.wait_for("console: at the prompt\n", STEP).unwrap();
    q.expect_in("sysrq t", &out, "sysrq: Show State\n");
    // Running or preempted (the mark 6.1 gives the task on the CPU), spin is runnable.
    let ids = format!(" stack:0     pid:{pid:<5} ppid:0      flags:0x00000000");
    expect_line(&q, "sysrq t", &out, "task:spin            state:R", &[&ids]);
    q.expect_in("sysrq t", &out, "task:kswapd0         state:S stack:0     pid:");
    q.expect_in("sysrq t", &out, "cpu#0\n  .nr_running                    : ");
    // The console waiting for a foreground program (it sleeps a while) still answers.
    q.send("run /bin/spin 3\n");
    q.wait_for("spinning for a while", STEP).unwrap();
    q.sysrq(&socket, b't');
    q.wait_for("console: running `run /bin/spin 3`\n", STEP).unwrap();
    q.wait_for(PROMPT, SLOW_STEP).unwrap();
    q.sysrq(&socket, b'w');
    let out = q.wait_for("sysrq: Show Blocked State\n", STEP).unwrap();
    assert!(!out.contains("task:"), "{out}");
    q.sysrq(&socket, b'x');
    q.wait_for("sysrq: HELP : show-task-states(t) show-blocked-tasks(w) \n", STEP).unwrap();
    // None of the keys reached the line editor.
    let out = q.cmd("echo typed");
    assert_eq!(out.trim(), "typed", "{out}");
    q.cmd(&format!("kill -9 {pid}"));
    q.cmd_until("ps", &format!("[{pid}] Killed"));
    q.poweroff_ok();
}

/// A kernel that stops answering is never silent: `crash softlockup` (lkdtm's SOFTLOCKUP)
/// spins in the console for good; once typed input has waited unread for 20 s, the console
/// watchdog prints its report with every task's state and what the console was running, and
/// SysRq `t` still answers meanwhile.
#[test]
fn console_watchdog_reports_typed_input_nobody_reads() {
    let (mut q, _) = Qemu::boot_to_prompt(Opts::raw("2G").initramfs().monitor("softlockup"));
    let socket = q.monitor_socket().expect("booted with a monitor").to_path_buf();
    let pid = q.start_background("/bin/spin", "spinning until killed", STEP);
    q.send("crash softlockup\n");
    q.wait_for("crash softlockup\n", STEP).unwrap();
    q.sysrq(&socket, b't');
    q.wait_for("console: running `crash softlockup`\n", STEP).unwrap();
    // Typed input the spinning console never reads.
    q.send("ps\n");
    let out = q.wait_for("console: running `crash softlockup`\n", Duration::from_secs(60)).unwrap();
    q.expect_in("watchdog", &out, "watchdog: console: typed input unread for 20s! [swapper/0:0]\n");
    expect_line(&q, "watchdog", &out, "task:spin            state:R", &[&format!("pid:{pid:<5}")]);
    assert!(!out.contains("PID TTY"), "the console ran ps:\n{out}");
    q.kill();
}
