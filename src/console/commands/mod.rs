//! The console's command table, the dispatcher and the interactive loop; the commands live in
//! one file per family. Each command parses its own
//! arguments with `console::args`, prints through `kprint!`, and reports bad input as one
//! line (`NAME: what is wrong`) so the console always carries on.
#[cfg(not(target_arch = "aarch64"))]
pub use mmu::kernel_sections;

use self::bench::cmd_bench;
use self::block::cmd_iowait;
use self::block::{cmd_blockdev, cmd_dd};
use self::cma::{cmd_cma_alloc, cmd_cma_release};
use self::files::cmd_cat;
use self::files::cmd_echo;
use self::memdump::cmd_memdump;
use self::mmu::{cmd_layout, cmd_p2v, cmd_peek, cmd_pt, cmd_ptdump, cmd_v2p};
use self::pages::{cmd_alloc_pages, cmd_frag, cmd_free_pages, cmd_free_pages_pfn, cmd_memtest};
use self::process::{cmd_bg, cmd_fg, cmd_jobs, cmd_kill, cmd_ls, cmd_ps, cmd_run};
use self::scenario::cmd_scenario;
use self::slab::{cmd_kfree, cmd_kmalloc, cmd_ksize};
use self::swap::{cmd_free, cmd_swapcache, cmd_swapoff, cmd_swapon, cmd_sysctl};
use self::system::{cmd_crash, cmd_jiffies, cmd_poweroff, cmd_reboot};
use self::verify::cmd_verify;
use self::vmalloc::{
    cmd_ioremap, cmd_iounmap, cmd_kmap, cmd_kunmap, cmd_poke, cmd_purge, cmd_touch, cmd_vfree,
    cmd_vmalloc, cmd_vmalloc_fill,
};
use super::args::{addr_u64, parse_addr, parse_u64, split_args, Addr, Args, Size};
use crate::kernel::mem::SLAB;
use crate::kernel::{self, Kernel};
use crate::mm::{Pfn, PAGE_SHIFT};
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

// Declared after `fail!` so they can use it.
mod bench;
mod block;
mod cma;
mod files;
mod memdump;
mod mmu;
mod pages;
mod process;
mod scenario;
mod slab;
mod swap;
mod system;
mod verify;
mod vmalloc;

pub(crate) type CmdResult = Result<(), CmdError>;

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
    Command { name: "cat", usage: "cat FILE", help: "show one of these files:", run: cmd_cat },
    Command {
        name: "layout",
        usage: "layout",
        help: "the virtual kernel memory layout banner",
        run: cmd_layout,
    },
    Command {
        name: "v2p",
        usage: "v2p VA",
        help: "virt_to_phys of a lowmem address",
        run: cmd_v2p,
    },
    Command {
        name: "p2v",
        usage: "p2v PA",
        help: "phys_to_virt of a lowmem physical address",
        run: cmd_p2v,
    },
    Command {
        name: "pt",
        usage: "pt VA [PID]",
        help: "walk the live translation tables for VA (or process PID's)",
        run: cmd_pt,
    },
    Command {
        name: "ptdump",
        usage: "ptdump [PID]",
        help: "the kernel's mappings, merged (kernel_page_tables), or process PID's",
        run: cmd_ptdump,
    },
    Command {
        name: "memdump",
        usage: "memdump [PID]",
        help: "the machine-readable dump the pictures are drawn from (regions, pageblocks; or PID's pages)",
        run: cmd_memdump,
    },
    Command {
        name: "peek",
        usage: "peek [-f] ADDR [COUNT]",
        help: "read COUNT (1-64) words at ADDR; faults are reported; -f reads a FIFO register",
        run: cmd_peek,
    },
    Command {
        name: "alloc_pages",
        usage: "alloc_pages ORDER [GFP]",
        help: "buddy allocation (GFP: GFP_KERNEL, GFP_ATOMIC|__GFP_ZERO, __GFP_HIGHMEM, 0x...)",
        run: cmd_alloc_pages,
    },
    Command {
        name: "free_pages",
        usage: "free_pages ADDR ORDER",
        help: "free a lowmem block by its virtual address",
        run: cmd_free_pages,
    },
    Command {
        name: "__free_pages",
        usage: "__free_pages PFN ORDER",
        help: "free a block by page frame number (works for highmem)",
        run: cmd_free_pages_pfn,
    },
    Command {
        name: "frag",
        usage: "frag checkerboard [ZONE] | frag release",
        help: "fragment a zone: take all its pages, free every other one",
        run: cmd_frag,
    },
    Command {
        name: "memtest",
        usage: "memtest",
        help: "allocate, pattern-test and free every free page",
        run: cmd_memtest,
    },
    Command {
        name: "cma_alloc",
        usage: "cma_alloc COUNT [ALIGN]",
        help: "COUNT contiguous pages of the CMA area, aligned to 2^ALIGN pages",
        run: cmd_cma_alloc,
    },
    Command {
        name: "cma_release",
        usage: "cma_release PFN COUNT",
        help: "give back a range cma_alloc gave the console",
        run: cmd_cma_release,
    },
    Command {
        name: "kmalloc",
        usage: "kmalloc SIZE",
        help: "allocate from the kmalloc caches (SIZE: 100, 4K, 0x800; above 8K: kmalloc_large)",
        run: cmd_kmalloc,
    },
    Command { name: "kfree", usage: "kfree ADDR", help: "free a kmalloc address", run: cmd_kfree },
    Command {
        name: "ksize",
        usage: "ksize ADDR",
        help: "usable size of a kmalloc address",
        run: cmd_ksize,
    },
    Command {
        name: "vmalloc",
        usage: "vmalloc SIZE",
        help: "virtually contiguous memory from highmem-first pages, with a guard page",
        run: cmd_vmalloc,
    },
    Command {
        name: "vfree",
        usage: "vfree ADDR",
        help: "free a vmalloc area (its range is freed lazily)",
        run: cmd_vfree,
    },
    Command {
        name: "vmalloc_fill",
        usage: "vmalloc_fill SIZE | vmalloc_fill free",
        help: "vmalloc SIZE until the range is full; 'free' gives it all back",
        run: cmd_vmalloc_fill,
    },
    Command {
        name: "purge",
        usage: "purge",
        help: "purge lazily freed vmalloc ranges now",
        run: cmd_purge,
    },
    Command {
        name: "ioremap",
        usage: "ioremap PHYS SIZE",
        help: "map device memory in the vmalloc range",
        run: cmd_ioremap,
    },
    Command { name: "iounmap", usage: "iounmap ADDR", help: "unmap an ioremap", run: cmd_iounmap },
    Command {
        name: "kmap",
        usage: "kmap PFN",
        help: "map a page (highmem: a pkmap slot)",
        run: cmd_kmap,
    },
    Command { name: "kunmap", usage: "kunmap PFN", help: "drop a kmap", run: cmd_kunmap },
    Command {
        name: "poke",
        usage: "poke ADDR VALUE",
        help: "write a word; faults are reported",
        run: cmd_poke,
    },
    Command {
        name: "touch",
        usage: "touch [-f] ADDR",
        help: "read a byte with no fault fixup: a bad address oopses; -f reads a FIFO register",
        run: cmd_touch,
    },
    Command {
        name: "scenario",
        usage: "scenario vmalloc-frag [seed=N] [budget=N] [seeds=N] [trace[=N]] | scenario release",
        help: "the case study's monkey test: until the 0x1a0000-byte request fails both ways",
        run: cmd_scenario,
    },
    Command {
        name: "swapon",
        usage: "swapon DEV | swapon -s",
        help: "enable swapping on a mkswap'd block device (or list the areas)",
        run: cmd_swapon,
    },
    Command {
        name: "swapoff",
        usage: "swapoff DEV",
        help: "bring every page of the area back in and disable it",
        run: cmd_swapoff,
    },
    Command {
        name: "swapcache",
        usage: "swapcache [drop]",
        help: "count the swap cache's pages and the tmpfs pages in swap; drop: free the clean unmapped ones (as reclaim would)",
        run: cmd_swapcache,
    },
    Command {
        name: "free",
        usage: "free [-k]",
        help: "procps's memory and swap table",
        run: cmd_free,
    },
    Command {
        name: "sysctl",
        usage: "sysctl -a | vm.NAME[=N]",
        help: "show or set a /proc/sys/vm knob (page-cluster, swappiness, min_free_kbytes, ...)",
        run: cmd_sysctl,
    },
    Command {
        name: "verify",
        usage: "verify",
        help: "check the allocators' invariants: 'verify: ok' or the first broken one",
        run: cmd_verify,
    },
    Command {
        name: "bench",
        usage: "bench",
        help: "time the allocators (run QEMU with -icount shift=0 for instruction counts)",
        run: cmd_bench,
    },
    Command {
        name: "jiffies",
        usage: "jiffies",
        help: "the tick count (jiffies_64), the ticks since boot and the counter's time",
        run: cmd_jiffies,
    },
    Command {
        name: "crash",
        usage: "crash null|exec|undef|stack|spinlockup|softlockup|atomic-sleep",
        help: "NULL read, jump to an unmapped page, undefined instruction, stack overflow \
               (oops); a spin lock taken twice (BUG report, panic); a sleepable allocation \
               under a spin lock (BUG report, carries on)",
        run: cmd_crash,
    },
    Command {
        name: "run",
        usage: "run PATH [ARGS...] [&]",
        help: "run a program from the initramfs or /boot (in the foreground; & for the background)",
        run: cmd_run,
    },
    Command {
        name: "jobs",
        usage: "jobs",
        help: "the programs run in the background or stopped (Ctrl-Z), as bash lists them",
        run: cmd_jobs,
    },
    Command {
        name: "fg",
        usage: "fg [PID]",
        help: "continue a stopped or background program in the foreground (SIGCONT)",
        run: cmd_fg,
    },
    Command {
        name: "bg",
        usage: "bg [PID]",
        help: "continue a stopped program in the background (SIGCONT)",
        run: cmd_bg,
    },
    Command {
        name: "ls",
        usage: "ls [PATH]",
        help: "list a directory of the rootfs or of the card's /boot",
        run: cmd_ls,
    },
    Command {
        name: "echo",
        usage: "echo N > /proc/sys/vm/KNOB | /sys/kernel/debug/fault_around_bytes",
        help: "write a knob; drop_caches 1|2|3 frees clean unmapped page cache, FAT caches, both",
        run: cmd_echo,
    },
    Command {
        name: "kill",
        usage: "kill [-SIG] PID",
        help: "send a signal to a program (default SIGTERM)",
        run: cmd_kill,
    },
    Command {
        name: "ps",
        usage: "ps [-e|-A] [-C NAMES] [-p PIDS] [-o FORMAT]",
        help: "the running programs, as procps's ps prints them",
        run: cmd_ps,
    },
    Command {
        name: "blockdev",
        usage: "blockdev --getsize64|--getsz|--getss|--getra|--rereadpt DEV | --setra N DEV",
        help: "a block device's size, sector size, read-ahead (sectors); set it; reread partitions",
        run: cmd_blockdev,
    },
    Command {
        name: "dd",
        usage: "dd if=DEV|/dev/zero [of=DEV] [bs=N] [skip=N] [seek=N] [count=N]",
        help: "copy sectors (count defaults to 1); without of=, show them as hexdump -C does",
        run: cmd_dd,
    },
    Command {
        name: "iowait",
        usage: "iowait",
        help: "how often programs waited for the card asleep (D) and how often idle (pivm's own)",
        run: cmd_iowait,
    },
    Command {
        name: "poweroff",
        usage: "poweroff",
        help: "power the board off (QEMU exits)",
        run: cmd_poweroff,
    },
    Command {
        name: "reboot",
        usage: "reboot",
        help: "restart through the watchdog",
        run: cmd_reboot,
    },
];

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
    super::input::begin_command();
    kernel::process::show_state::set_console_command(Some(line));
    match (cmd.run)(k, &args) {
        Ok(()) => {}
        Err(CmdError::Usage) => kprintln!("{}: usage: {}", cmd.name, cmd.usage),
        Err(CmdError::Reported) => {}
    }
    // What the allocations the command made found (page poisoning), if not printed yet.
    kernel::mem::print_pending_reports();
    kernel::process::show_state::set_console_command(None);
    super::input::end_command();
}

pub(crate) fn expect_args(args: &Args<'_>, n: usize) -> CmdResult {
    if args.len() == n {
        Ok(())
    } else {
        Err(CmdError::Usage)
    }
}

/// What `help` adds after a command's help text, from live state rather than constants.
static HELP_DETAILS: &[(&str, fn())] = &[
    ("cat", || files::paths().for_each(|p| kprint!("\n  {:<20}   {}", "", p))),
    ("kmalloc", || {
        let max = SLAB.lock().kmalloc_max_size() as u64;
        kprint!(", up to {} (KMALLOC_MAX_SIZE)", Size(max))
    }),
];

fn cmd_help(_: &Kernel, args: &Args<'_>) -> CmdResult {
    expect_args(args, 1)?;
    for c in COMMANDS {
        kprint!("  {:<20} {}", c.usage, c.help);
        if let Some((_, details)) = HELP_DETAILS.iter().find(|(name, _)| *name == c.name) {
            details();
        }
        kprintln!();
    }
    Ok(())
}

/// The option that makes `peek` and `touch` read a register with a read side effect.
pub(crate) const FORCE: &str = "-f";

/// Refuses a read of `len` bytes at `va` (`len` >= 1, not wrapping) when it would touch a
/// device register whose read changes the device (the UART's data register: the read takes
/// a typed byte), however that register is mapped; the message names the register and the
/// override. The MMU's own translation finds the physical address of each page.
pub(crate) fn refuse_read_sensitive(args: &Args<'_>, va: Addr, len: u32) -> CmdResult {
    use crate::board::raspi::map;
    let (mut a, end) = (addr_u64(va), addr_u64(va).saturating_add(u64::from(len)));
    while a < end {
        let chunk_end = (((a >> PAGE_SHIFT) + 1) << PAGE_SHIFT).min(end);
        if let Some(pa) = crate::arch::mmu::translate(a as usize) {
            if let Some(r) = map::read_sensitive(pa, chunk_end - a) {
                // The register's own virtual address (the range may start inside it).
                let reg_va = (a + r.phys).wrapping_sub(pa);
                fail!(
                    args,
                    "{:#010x} (phys {:#010x}) is {}: {}; '{} {} {:#x}' reads it anyway",
                    reg_va,
                    r.phys,
                    r.name,
                    r.effect,
                    args.get(0).unwrap_or(""),
                    FORCE,
                    reg_va
                );
            }
        }
        a = chunk_end;
    }
    Ok(())
}

/// Highest page frame number of the physical address space: 32 bits on the Cortex-A7 (no
/// LPAE), 48 on AArch64 (arm64 Linux's `PHYS_MASK_SHIFT` with 4 KiB pages).
pub(crate) const MAX_PFN: u64 = (1 << PHYS_ADDR_BITS >> PAGE_SHIFT) - 1;
#[cfg(not(target_arch = "aarch64"))]
const PHYS_ADDR_BITS: u32 = 32;
#[cfg(target_arch = "aarch64")]
const PHYS_ADDR_BITS: u32 = 48;

/// Argument `i` as a page frame number: in range before anything shifts it into an address
/// (a PFN of 2^52 would otherwise wrap to physical page 0).
pub(crate) fn arg_pfn(args: &Args<'_>, i: usize) -> Result<Pfn, CmdError> {
    let text = args.get(i).unwrap_or("");
    match parse_u64(text) {
        Ok(p) if p <= MAX_PFN => Ok(Pfn(p)),
        Ok(_) => fail!(
            args,
            "pfn {} out of range (physical addresses are {}-bit: 0-{:#x})",
            text,
            PHYS_ADDR_BITS,
            MAX_PFN
        ),
        Err(e) => fail!(args, "{}", e),
    }
}

pub(crate) fn arg_addr(args: &Args<'_>, i: usize) -> Result<Addr, CmdError> {
    match parse_addr(args.get(i).unwrap_or("")) {
        Ok(v) => Ok(v),
        Err(e) => fail!(args, "{}", e),
    }
}

/// The interactive loop: read bytes (type-ahead first), edit the line, run commands. Never
/// returns.
pub fn console_loop() -> ! {
    use super::input::{self, Input};
    use super::line::{Event, LineEditor};
    let mut ed = LineEditor::new();
    kprint!("{}", PROMPT);
    loop {
        let b = match input::next() {
            Input::Byte(b) => b,
            Input::Lost => {
                ed.input_lost();
                continue;
            }
        };
        match ed.feed(b) {
            Event::None => {}
            Event::Echo(e) => kprint!("{}", e),
            Event::Cancel => kprint!("^C\n{}", PROMPT),
            Event::Line(l) => {
                kprintln!();
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
