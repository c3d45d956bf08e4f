//! Starting a program from the rootfs (`kernel_execve` as init is started, and the console's
//! `run`): the file's headers are read, `load_elf_binary` lays out the new address space (nothing is
//! copied: text and data arrive by page faults from the page cache), the initial stack that
//! `create_elf_tables` built is written into the stack VMA, and the task starts in user mode
//! (ARM's USR, arm64's EL0t) at the entry point.
use alloc::sync::Arc;

use super::fs::{with_ns, with_rootfs};
use super::mm::{ProcessMm, UserMem};
use super::procfs_live::LiveProc;
use crate::abi::uaccess::UserMemory;
use crate::arch::cpuinfo::{elf_hwcap, ELF_PLATFORM};
use crate::fs::binfmt_elf::{self, ElfFile, ExecParams, RandomSource};
use crate::fs::ramfs::{RAMFS_DEV, S_IFMT, S_IFREG};
use crate::fs::vfs::Node;
use crate::mm::memory::FaultCounts;
use crate::mm::mm_types::{Errno, VmFile};

/// The environment init gets (`envp_init`: `HOME=/`, `TERM=linux`).
const ENVP_INIT: [&[u8]; 2] = [b"HOME=/", b"TERM=linux"];
/// Largest executable started.
const MAX_EXEC_SIZE: u64 = 64 << 20;
/// `BINPRM_BUF_SIZE`: the bytes of the file `do_execve` reads for the binary handlers.
const BINPRM_BUF_SIZE: usize = 256;

/// `get_random_u32` for exec: xorshift seeded from the generic timer.
pub struct CounterRandom(u32);

impl CounterRandom {
    pub fn new() -> Self {
        let c = crate::arch::timer::read_counter();
        CounterRandom((c as u32 ^ (c >> 32) as u32) | 1)
    }
}

impl Default for CounterRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomSource for CounterRandom {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// Why a program could not be started.
#[derive(Debug)]
pub enum ExecError {
    Errno(Errno),
    Elf(binfmt_elf::ElfError),
}

impl core::fmt::Display for ExecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExecError::Errno(e) => write!(f, "{}", e.message()),
            ExecError::Elf(e) => write!(f, "{}", e),
        }
    }
}

/// A program loaded into a new address space, ready to start.
pub struct Loaded {
    pub pm: alloc::boxed::Box<ProcessMm>,
    pub entry: usize,
    pub sp: usize,
    /// Faults taken writing the initial stack (counted for the task, as Linux's
    /// `get_arg_page` faults are).
    pub counts: FaultCounts,
}

/// `do_execve` up to the point of no return: the file read, `load_elf_binary` into a fresh
/// address space, the initial stack and the bss tail written.
pub fn load(path: &str, argv: &[&[u8]], envp: &[&[u8]]) -> Result<Loaded, ExecError> {
    // A file on the card volume (/boot): the namespace resolves it; its header is read
    // through the page cache, its segments fault in from there.
    let disk = with_ns(|ns| match ns.lookup_path(&LiveProc, path) {
        Ok(Node::Disk(ino)) => {
            let fs = ns.disk.as_ref().ok_or(Errno::ENOENT)?;
            let st = fs.fs.getattr(ino)?;
            let full = ns.disk_path(ino).ok_or(Errno::ENOENT)?;
            Ok(Some((ino, st, fs.fs.dev(), full)))
        }
        Ok(_) | Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    })
    .map_err(ExecError::Errno)?;
    if let Some((ino, st, dev, full)) = disk {
        if st.mode & S_IFMT != S_IFREG || st.mode & 0o111 == 0 {
            return Err(ExecError::Errno(Errno::EACCES));
        }
        if st.size > MAX_EXEC_SIZE {
            return Err(ExecError::Errno(Errno::E2BIG));
        }
        let file = Arc::new(VmFile { pin: None, dev, ino, path: full });
        let (head, table) =
            crate::kernel::cardfs::exec_image(ino, &file, st.size).map_err(ExecError::Errno)?;
        let elf = ElfFile { head: &head, phdrs: table.as_deref(), size: st.size };
        return load_image(path, file, elf, argv, envp);
    }
    // A page of the file in swap stops the read (the namespace's lock held): the task sleeps
    // on the card with every lock dropped and reads again, as 6.1's `kernel_read` of
    // `bprm->buf` sleeps in `shmem_swapin_folio`.
    let (ino, head, table, size, pin) = super::iowait::run_sleeping(|| {
        with_rootfs(|fs| {
            let ino = fs.lookup(path)?;
            let st = fs.stat(ino)?;
            if st.st_mode & S_IFMT != S_IFREG {
                return Err(Errno::EACCES);
            }
            if st.st_mode & 0o111 == 0 {
                return Err(Errno::EACCES);
            }
            if st.st_size > MAX_EXEC_SIZE {
                return Err(Errno::E2BIG);
            }
            // As load_elf_binary: `bprm->buf`'s first BINPRM_BUF_SIZE bytes (the ELF header),
            // then the program headers at `e_phoff` on their own when those bytes do not hold
            // them (`load_elf_phdrs`, at most a page); the segments are mapped from the page
            // cache, never read here.
            let first = st.st_size.min(BINPRM_BUF_SIZE as u64) as usize;
            let mut head = alloc::vec![0u8; first];
            fs.read(ino, 0, &mut head)?;
            let table = match binfmt_elf::phdrs_range(&head) {
                Some((off, len))
                    if off + len as u64 > first as u64 && off + len as u64 <= st.st_size =>
                {
                    let mut t = alloc::vec![0u8; len];
                    fs.read(ino, off, &mut t)?;
                    Some(t)
                }
                _ => None,
            };
            Ok((ino, head, table, st.st_size, fs.iget(ino)))
        })
    })
    .map_err(ExecError::Errno)?;
    // The text and data mappings hold the inode (an executable unlinked while it runs
    // stays whole until the process exits).
    let pin = pin.map(|p| p as Arc<dyn core::any::Any + Send + Sync>);
    let file = Arc::new(VmFile { pin, dev: RAMFS_DEV, ino, path: path.into() });
    load_image(path, file, ElfFile { head: &head, phdrs: table.as_deref(), size }, argv, envp)
}

/// `load_elf_binary` of `elf` (the head of the file `file`) into a fresh address space, the
/// initial stack and the bss tail written.
fn load_image(
    path: &str,
    file: Arc<VmFile>,
    elf: ElfFile<'_>,
    argv: &[&[u8]],
    envp: &[&[u8]],
) -> Result<Loaded, ExecError> {
    let mut pm = super::syscall_sleepable(ProcessMm::new).ok_or(ExecError::Errno(Errno::ENOMEM))?;
    let mut random = CounterRandom::new();
    let randomize = super::RANDOMIZE_VA_SPACE.load(core::sync::atomic::Ordering::Relaxed) as u8;
    let params = ExecParams {
        filename: path,
        argv,
        envp,
        file,
        hwcap: elf_hwcap(),
        hwcap2: 0,
        platform: ELF_PLATFORM,
        uid: 0,
        gid: 0,
        randomize_va_space: randomize,
        random: &mut random,
        vdso: crate::kernel::vsyscall::vdso_available(),
        arch: &crate::abi::native::elf::BINFMT,
    };
    let loaded = match binfmt_elf::load_elf_binary(elf, params, &mut pm.mm) {
        Ok(l) => l,
        Err(e) => {
            pm.exit_mmap();
            return Err(ExecError::Elf(e));
        }
    };
    // The initial stack and padzero(): written as the kernel writes them, through the
    // process's own tables (the stack pages and the bss tail fault in here), with no lock
    // held. A write whose fault must wait for the card or found no free page (its
    // allocation is atomic: the console runs with interrupts masked) stops, the task sleeps
    // or reclaims (then the OOM killer) and writes again, as 6.1's `get_arg_page` faults
    // reclaim inside their allocation; ENOMEM once reclaim gives up (GUP's error).
    let mut counts = FaultCounts::default();
    let written = super::iowait::run_sleeping(|| {
        let mut um = UserMem { pm: &mut pm, counts: &mut counts };
        um.copy_to_user(loaded.sp, &loaded.stack).map_err(|_| Errno::EFAULT)?;
        for &(s, e) in &loaded.zero_ranges {
            um.clear_user(s, e - s).map_err(|_| Errno::EFAULT)?;
        }
        Ok(())
    });
    if let Err(e) = written {
        pm.exit_mmap();
        return Err(ExecError::Errno(e));
    }
    Ok(Loaded { pm, entry: loaded.entry, sp: loaded.sp, counts })
}

/// Loads `path` with `argv` into a new task and queues it (a console job); its pid.
pub fn spawn(path: &str, argv: &[&[u8]], foreground: bool) -> Result<u32, ExecError> {
    let l = load(path, argv, &ENVP_INIT)?;
    let comm = path.rsplit('/').next().unwrap_or(path);
    super::start_task(comm, path, l.pm, l.entry, l.sp, l.counts, foreground)
        .map_err(ExecError::Errno)
}

/// `begin_new_exec` + `start_thread`: the caller's address space is replaced by the loaded
/// one (the old one freed), its name and handlers reset, and it returns to user space at
/// the new entry point.
pub fn exec_into_current(regs: &mut crate::arch::process::PtRegs, path: &str, l: Loaded) {
    use crate::abi::native::signal::{KernelSigaction, SIG_IGN};
    let comm = path.rsplit('/').next().unwrap_or(path);
    let old = super::with_current(|t| {
        let old = t.mm.replace(l.pm);
        // In place: the old name's buffer takes the new one (no allocation when it fits).
        t.comm.clear();
        t.comm.extend(comm.chars().take(15));
        t.exe = Some(path.into());
        t.counts.min_flt += l.counts.min_flt;
        t.counts.maj_flt += l.counts.maj_flt;
        for a in t.sigactions.iter_mut() {
            if a.sa_handler != SIG_IGN {
                *a = KernelSigaction::zeroed();
            }
        }
        t.fault_info = None;
        t.altstack = Default::default();
        // rseq_execve: the new program registers its own.
        t.ext.rseq = None;
        // exec_mm_release -> futex_exec_release: the robust list goes (unwalked: no futexes).
        t.ext.robust_list = 0;
        t.tls = 0;
        if let Some(m) = t.mm.as_mut() {
            m.activate();
        }
        old
    });
    crate::arch::process::set_tls(0);
    if let Some(old) = old {
        old.exit_mmap();
    }
    // A parent waiting in vfork runs on (`exec_mm_release` -> `complete_vfork_done`).
    super::fork::complete_vfork_done();
    crate::arch::process::start_thread(regs, l.entry, l.sp);
}
