//! The console's command table and the commands themselves. Each command parses its own
//! arguments with `console::args`, prints through `kprint!`, and reports bad input as one
//! line (`NAME: what is wrong`) so the console always carries on.
use core::fmt::Write;

use tock_registers::interfaces::Readable;

use super::args::{parse_addr, parse_u32, split_args, Args};
use super::printk::Console;
use crate::arch::arm::{cp15, desc, fault, mmu};
use crate::board::raspi::{mailbox, map, power};
use crate::kernel::{self, Kernel};
use crate::mm::{PhysAddr, VirtAddr};
use crate::proc::cpuinfo::{CpuInfo, IdRegs};
use crate::proc::iomem::ResourceTree;
use crate::{kprint, kprintln};

/// A command's failure. Messages are printed where they arise (`fail!`), so this stays small.
pub enum CmdError {
    /// Wrong number or shape of arguments: print the usage line.
    Usage,
    /// The command already printed `NAME: what went wrong`.
    Reported,
}

/// Prints `NAME: message` for the running command and returns its failure.
macro_rules! fail {
    ($args:expr, $($arg:tt)*) => {{
        kprintln!("{}: {}", $args.get(0).unwrap_or("?"), format_args!($($arg)*));
        return Err(CmdError::Reported);
    }};
}

type CmdResult = Result<(), CmdError>;

/// One console command.
pub struct Command {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    run: fn(&Kernel, &Args<'_>) -> CmdResult,
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[Command] = &[
    Command { name: "help", usage: "help", help: "list the commands", run: cmd_help },
    Command {
        name: "cat",
        usage: "cat FILE",
        help: "show /proc/cmdline, /proc/iomem or /proc/cpuinfo",
        run: cmd_cat,
    },
    Command { name: "layout", usage: "layout", help: "the virtual kernel memory layout banner", run: cmd_layout },
    Command { name: "v2p", usage: "v2p VA", help: "virt_to_phys of a lowmem address", run: cmd_v2p },
    Command { name: "p2v", usage: "p2v PA", help: "phys_to_virt of a lowmem physical address", run: cmd_p2v },
    Command { name: "pt", usage: "pt VA", help: "walk the live translation tables for VA", run: cmd_pt },
    Command { name: "ptdump", usage: "ptdump", help: "the kernel's mappings, merged (kernel_page_tables)", run: cmd_ptdump },
    Command { name: "peek", usage: "peek ADDR [COUNT]", help: "read COUNT (1-64) words at ADDR; faults are reported", run: cmd_peek },
    Command { name: "crash", usage: "crash null", help: "dereference NULL in the kernel (oops, then halt)", run: cmd_crash },
    Command { name: "poweroff", usage: "poweroff", help: "power the board off (QEMU exits)", run: cmd_poweroff },
    Command { name: "reboot", usage: "reboot", help: "restart through the watchdog", run: cmd_reboot },
];

/// Most words `peek` prints at once.
const PEEK_MAX: u32 = 64;

/// Runs one command line.
pub fn run(line: &str) {
    let args = match split_args(line) {
        Ok(a) => a,
        Err(e) => {
            kprintln!("pivm: {}", e);
            return;
        }
    };
    let Some(name) = args.get(0) else { return };
    let Some(cmd) = COMMANDS.iter().find(|c| c.name == name) else {
        kprintln!("pivm: {}: command not found", name);
        return;
    };
    let Some(k) = kernel::try_get() else { return };
    match (cmd.run)(k, &args) {
        Ok(()) => {}
        Err(CmdError::Usage) => kprintln!("{}: usage: {}", cmd.name, cmd.usage),
        Err(CmdError::Reported) => {}
    }
}

fn expect_args(args: &Args<'_>, n: usize) -> CmdResult {
    if args.len() == n {
        Ok(())
    } else {
        Err(CmdError::Usage)
    }
}

fn cmd_help(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    for c in COMMANDS {
        kprintln!("  {:<20} {}", c.usage, c.help);
    }
    Ok(())
}

fn cmd_cat(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let mut out = Console;
    let r = match args.get(1).unwrap_or("") {
        "/proc/cmdline" => writeln!(out, "{}", k.boot.cmdline()),
        "/proc/iomem" => iomem(k).render(&mut out),
        "/proc/cpuinfo" => cpuinfo().render(&mut out),
        other => fail!(args, "{}: No such file or directory", other),
    };
    let _ = r;
    Ok(())
}

/// The resource tree of /proc/iomem: RAM with the kernel inside, and the devices pivm drives.
fn iomem(k: &Kernel) -> ResourceTree {
    let img = crate::arch::arm::image::image();
    let pa = |va: u32| u64::from(va) - crate::config::PAGE_OFFSET;
    let mut t = ResourceTree::new();
    for r in k.memblock.memory() {
        let _ = t.insert(r.base, r.base + r.size - 1, "System RAM");
    }
    let _ = t.insert(pa(img.text), pa(img.etext) - 1, "Kernel code");
    let _ = t.insert(pa(img.sdata), pa(img.end) - 1, "Kernel data");
    let devices: [(u64, u64, &'static str); 5] = [
        (map::SYSTEM_TIMER_BASE, map::SYSTEM_TIMER_SIZE, "timer@7e003000"),
        (map::MAILBOX_BASE, map::MAILBOX_SIZE, "mailbox@7e00b880"),
        (map::PM_BASE, map::PM_SIZE, "watchdog@7e100000"),
        (map::UART0_BASE, map::UART0_SIZE, "serial@7e201000"),
        (map::LOCAL_PERIPHERAL_BASE, map::LOCAL_PERIPHERAL_SIZE, "local_intc@40000000"),
    ];
    for (base, size, name) in devices {
        let _ = t.insert(base, base + size - 1, name);
    }
    t
}

fn cpuinfo() -> CpuInfo<'static> {
    let (mvfr0, mvfr1) = cp15::read_mvfr();
    let regs = IdRegs {
        midr: cp15::Midr.get(),
        id_pfr0: cp15::IdPfr0.get(),
        id_isar0: cp15::IdIsar0.get(),
        id_mmfr0: cp15::IdMmfr0.get(),
        mvfr0,
        mvfr1,
    };
    let revision = mailbox::property2(mailbox::TAG_GET_BOARD_REVISION).map_or(0, |(r, _)| r);
    let serial = mailbox::property2(mailbox::TAG_GET_BOARD_SERIAL)
        .map_or(0, |(lo, hi)| (u64::from(hi) << 32) | u64::from(lo));
    CpuInfo {
        regs,
        cntfrq: cp15::Cntfrq.get(),
        nr_cpus: crate::board::raspi::NR_CPUS,
        evtstrm: false,
        hardware: "BCM2835",
        revision,
        serial,
    }
}

fn cmd_layout(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let _ = crate::mm::layout::write_banner(&mut Console, &k.layout, &kernel_sections());
    Ok(())
}

/// The image's sections as the banner wants them.
pub fn kernel_sections() -> crate::mm::layout::KernelSections {
    let img = crate::arch::arm::image::image();
    let v = u64::from;
    crate::mm::layout::KernelSections {
        text: (v(img.text), v(img.etext)),
        init: (v(img.etext), v(img.etext)),
        data: (v(img.sdata), v(img.edata)),
        bss: (v(img.bss_start), v(img.bss_stop)),
    }
}

fn cmd_v2p(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let va = arg_addr(args, 1)?;
    match k.layout.virt_to_phys(VirtAddr(u64::from(va))) {
        Some(pa) => kprintln!("virt {:#010x} -> phys {:#010x}", va, pa.0),
        None => fail!(args, "{:#010x} is not in lowmem [{:#010x}-{:#010x})",
            va,
            k.layout.page_offset.0,
            k.layout.high_memory.0
        ),
    }
    Ok(())
}

fn cmd_p2v(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let pa = arg_addr(args, 1)?;
    match k.layout.phys_to_virt(PhysAddr(u64::from(pa))) {
        Some(va) => kprintln!("phys {:#010x} -> virt {:#010x}", pa, va.0),
        None => fail!(args, "{:#010x} is not lowmem RAM [{:#010x}-{:#010x})",
            pa,
            k.layout.ram_start.0,
            k.layout.arm_lowmem_limit.0
        ),
    }
    Ok(())
}

fn arg_addr(args: &Args<'_>, i: usize) -> Result<u32, CmdError> {
    match parse_addr(args.get(i).unwrap_or("")) {
        Ok(v) => Ok(v),
        Err(e) => fail!(args, "{}", e),
    }
}

fn cmd_pt(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    let va = arg_addr(args, 1)?;
    // pivm's TTBR0 and TTBR1 point at the same table (TTBR0 walks are disabled on 2G), so
    // one full-table walk shows what the MMU does for any address.
    let walk = desc::walk(mmu::pgd_phys(), 0, va, mmu::read_phys_word);
    // The MMU's own answer first, so the software walk's result is the last line.
    let par = cp15::ats1cpr(va);
    if par & 1 == 0 {
        kprintln!("ATS1CPR (hardware): PA {:#010x}", (par & !0xfff) | (va & 0xfff));
    } else {
        kprintln!("ATS1CPR (hardware): fault, PAR {:#010x}", par);
    }
    let _ = write!(Console, "{}", walk);
    Ok(())
}

fn cmd_ptdump(k: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    let l = &k.layout;
    let pkmap = l.pkmap_base.unwrap_or(l.modules_end);
    let marker = |start: u64, name| desc::AddrMarker { start, name };
    let markers = [
        marker(l.modules_vaddr.0, "Modules"),
        marker(pkmap.0, "Persistent Kernel Mappings"),
        marker(l.page_offset.0, "Kernel Mapping"),
        marker(l.vmalloc_start.0, "vmalloc() Area"),
        marker(l.fixaddr_start.0, "Fixmap Area"),
        marker(l.vectors_base.0, "Vectors"),
    ];
    let _ = desc::ptdump(&mut Console, mmu::pgd_phys(), 0, &markers, mmu::read_phys_word);
    Ok(())
}

fn cmd_peek(_: &Kernel, args: &Args<'_>) -> CmdResult {
    if !(2..=3).contains(&args.len()) {
        return Err(CmdError::Usage);
    }
    let addr = arg_addr(args, 1)?;
    let count = match args.get(2) {
        None => 1,
        Some(s) => match parse_u32(s) {
            Ok(n) if (1..=PEEK_MAX).contains(&n) => n,
            Ok(n) => fail!(args, "count {} out of range (1-{})", n, PEEK_MAX),
            Err(e) => fail!(args, "{}", e),
        },
    };
    if addr % 4 != 0 {
        fail!(args, "{:#010x}: address must be 4-byte aligned", addr);
    }
    for i in 0..count {
        let Some(a) = addr.checked_add(4 * i) else { fail!(args, "address range wraps past 0xffffffff") };
        match fault::probe_read_u32(a) {
            Ok(v) => kprintln!("{:#010x}: {:08x}", a, v),
            Err(f) => fail!(args, "{:#010x}: {}", a, f),
        }
    }
    Ok(())
}

fn cmd_crash(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 2)?;
    if args.get(1) != Some("null") {
        return Err(CmdError::Usage);
    }
    let null: *const u32 = core::ptr::null();
    // SAFETY: deliberately not safe: this read faults and the oops path halts the kernel.
    let v = unsafe { core::ptr::read_volatile(null) };
    kprintln!("crash: read {:#x} from NULL without a fault?", v);
    Ok(())
}

fn cmd_poweroff(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    kprintln!("reboot: Power down");
    power::poweroff()
}

fn cmd_reboot(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    kprintln!("reboot: Restarting system");
    power::reboot()
}

/// The interactive loop: read bytes, edit the line, run commands. Never returns.
pub fn console_loop() -> ! {
    use super::line::{Event, LineEditor};
    let mut ed = LineEditor::new();
    kprint!("{}", PROMPT);
    loop {
        let b = crate::board::raspi::uart::getc_wait();
        match ed.feed(b) {
            Event::None => {}
            Event::Echo(e) => kprint!("{}", e),
            Event::Cancel => kprint!("^C\n{}", PROMPT),
            Event::Line(l) => {
                kprintln!();
                if let Some(w) = l.warning() {
                    kprintln!("pivm: {}", w);
                }
                match l.command() {
                    Ok(cmd) => run(cmd),
                    Err(e) => kprintln!("pivm: {}", e),
                }
                kprint!("{}", PROMPT);
            }
        }
    }
}

/// The console prompt.
pub const PROMPT: &str = "pivm# ";
