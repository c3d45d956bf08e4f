//! `fork`, `vfork` and `clone` with fork semantics (kernel/fork.c `kernel_clone` ->
//! `copy_process`): the limits (`RLIMIT_NPROC`, `threads-max`, a free pid), a kernel stack
//! holding a copy of the parent's user registers with r0 = 0, `dup_mm` + `copy_page_range`
//! (private writable pages write-protected in parent and child, every copied PTE old in the
//! child as `copy_present_pte` leaves it, VMAs without anonymous pages not copied at all: the
//! child faults them in from the page cache), the shared anonymous pages' map counts, the fd
//! table and signal actions duplicated, and vfork's wait for the child to exec or exit. Also
//! the per-task state these layers add to `Task` ([`ProcExt`]).
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use super::mm::ProcessMm;
use super::rules::{self, classify_clone, CloneRequest};
use super::signal::SigState;
use super::{with_current, with_tasks, Task, TaskState, THREAD_SIZE, THREAD_SIZE_ORDER};
use crate::abi::arm::signal::sig;
use crate::arch::arm::process::{self as arch, UserPteProt};
use crate::arch::arm::vectors::PtRegs;
use crate::kernel::mem::with_node;
use crate::mm::gfp::GfpFlags;
use crate::mm::memory::{FaultEnv, NewPte};
use crate::mm::mm_types::{Errno, VmFlags, PAGE_SIZE};
use crate::mm::page::PageOwner;
use crate::mm::Pfn;

/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `max_threads` (`/proc/sys/kernel/threads-max`), set at boot from the RAM size.
pub static MAX_THREADS: AtomicU64 = AtomicU64::new(u64::MAX);

/// What fork, exec, wait and signals keep per task, beside the fields `Task` had.
#[derive(Clone, Debug)]
pub struct ProcExt {
    pub sig: SigState,
    /// Faults and ticks of reaped children (`signal->cmin_flt`, `cmaj_flt`, `cutime`,
    /// `cstime`), added at reap time as `wait_task_zombie` does.
    pub cmin_flt: u64,
    pub cmaj_flt: u64,
    pub cutime: u64,
    pub cstime: u64,
    /// Signal the parent gets on exit (`exit_signal`).
    pub exit_signal: u32,
    /// `set_child_tid`: where the new child writes its tid before it first runs user code.
    pub set_child_tid: u32,
    /// The parent sleeping in vfork until this child execs or exits (`vfork_done`).
    pub vfork_parent: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    /// `RLIMIT_NPROC` (soft, hard).
    pub rlimit_nproc: (u64, u64),
    /// Started by the console's `run` (reported as a job when it ends in the background).
    pub console_job: bool,
}

impl Default for ProcExt {
    fn default() -> Self {
        // init_task's RLIMIT_NPROC: half of max_threads (`fork_init`).
        let nproc = MAX_THREADS.load(Ordering::Relaxed) / 2;
        ProcExt {
            sig: SigState::default(),
            cmin_flt: 0,
            cmaj_flt: 0,
            cutime: 0,
            cstime: 0,
            exit_signal: sig::SIGCHLD,
            set_child_tid: 0,
            vfork_parent: None,
            uid: 0,
            gid: 0,
            rlimit_nproc: (nproc, nproc),
            console_job: false,
        }
    }
}

/// `fork_init` / `set_max_threads`: threads-max from the RAM the page allocator manages.
pub fn init() {
    let pages = with_node(|n| n.totalram_pages());
    let max = rules::max_threads(pages, PAGE_SIZE as u64, u64::from(THREAD_SIZE));
    MAX_THREADS.store(max, Ordering::Relaxed);
}

/// Extra mappings of anonymous pages shared after fork (`page_mapcount - 1`): a page listed
/// here is not its mapper's alone, so a write copies it and an unmap does not free it.
static ANON_SHARED: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

/// Whether the anonymous page `pfn` is mapped by more than one address space.
pub fn anon_shared(pfn: u64) -> bool {
    ANON_SHARED.lock().contains_key(&pfn)
}

/// Drops one of several mappings of `pfn` (`page_remove_rmap`); false when it was the only
/// one, so the caller frees the page.
pub fn anon_unshare(pfn: u64) -> bool {
    let mut m = ANON_SHARED.lock();
    match m.get_mut(&pfn) {
        None => false,
        Some(1) => {
            m.remove(&pfn);
            true
        }
        Some(n) => {
            *n -= 1;
            true
        }
    }
}

fn anon_share(pfn: u64) {
    *ANON_SHARED.lock().entry(pfn).or_insert(0) += 1;
}

/// `is_cow_mapping`: private and may be written.
fn is_cow_mapping(flags: VmFlags) -> bool {
    flags.contains(VmFlags::MAYWRITE) && !flags.contains(VmFlags::SHARED)
}

/// `dup_mm`: a new address space with the parent's VMAs and, for every VMA that has
/// anonymous pages (`vma_needs_copy`: it has an anon_vma), its present PTEs copied by
/// `copy_present_pte`. `None` when memory ran out (the half-built copy is released).
fn dup_mm(parent: &mut ProcessMm) -> Option<Box<ProcessMm>> {
    let mut child = ProcessMm::new()?;
    child.mm = parent.mm.clone();
    let vmas: Vec<_> = parent.mm.iter().cloned().collect();
    let mut ok = true;
    'vmas: for vma in vmas {
        let mut present = Vec::new();
        let mut va = vma.vm_start;
        while va < vma.vm_end {
            if let Some(pte) = arch::get_user_pte(parent.hw.pgd, va) {
                present.push((va, pte));
            }
            va += PAGE_SIZE;
        }
        let has_anon = present.iter().any(|(_, p)| {
            let pfn = Pfn(p.pfn_phys() >> 12);
            with_node(|n| n.page(pfn).map(|pg| pg.owner())) == Some(PageOwner::Anon)
        });
        if !has_anon {
            continue;
        }
        let cow = is_cow_mapping(vma.vm_flags);
        let exec = vma.vm_flags.contains(VmFlags::EXEC);
        for (va, pte) in present {
            let pfn = pte.pfn_phys() >> 12;
            let mut write = pte.0 & crate::arch::arm::pgtable::L_PTE_RDONLY == 0;
            if cow && write {
                // ptep_set_wrprotect on the parent's entry; the child's is read-only too.
                if parent.hw.pte_set(va, NewPte { pfn, write: false, exec, dirty: pte.dirty() }).is_err()
                {
                    ok = false;
                    break 'vmas;
                }
                write = false;
            }
            // A shared mapping's page is clean in the child (pte_mkclean).
            let dirty = pte.dirty() && !vma.vm_flags.contains(VmFlags::SHARED);
            let prot = UserPteProt { write, exec, dirty };
            let r = crate::arch::arm::fork::set_user_pte_old(
                child.hw.pgd,
                va,
                pfn << 12,
                prot,
                &mut super::mm::alloc_table_page,
            );
            if r.is_err() {
                ok = false;
                break 'vmas;
            }
            let owner = with_node(|n| n.page(Pfn(pfn)).map(|pg| pg.owner()));
            if owner == Some(PageOwner::Anon) {
                anon_share(pfn);
                child.hw.rss_anon += 1;
            } else if pfn != super::mm::zero_pfn().0 {
                child.hw.rss_file += 1;
            }
        }
    }
    if !ok {
        child.exit_mmap();
        return None;
    }
    Some(child)
}

/// Frees a kernel stack that never became a task's.
fn free_kstack(stack: Pfn) {
    let _ = with_node(|n| n.free_pages_for(PageOwner::KernelStack, stack, THREAD_SIZE_ORDER));
    super::NR_KERNEL_STACK_PAGES.fetch_sub(1 << THREAD_SIZE_ORDER, Ordering::Relaxed);
}

/// `kernel_clone` for `fork`, `vfork` and `clone(flags, newsp, parent_tid, tls, child_tid)`
/// (ARM's `CLONE_BACKWARDS` order): the child's pid to the parent. The child starts in
/// `ret_from_fork` with the parent's registers and r0 = 0.
pub fn do_fork(regs: &PtRegs, flags: u32, newsp: u32, parent_tid: u32, child_tid: u32) -> Result<u32, Errno> {
    let req: CloneRequest = classify_clone(flags).map_err(|r| r.errno())?;
    // copy_process's limits: the caller's user's processes against RLIMIT_NPROC, all of them
    // against threads-max.
    with_tasks(|t| {
        let me = t.current();
        let (uid, limit) = (me.ext.uid, me.ext.rlimit_nproc.0);
        let live = t.map.values().filter(|x| x.pid != 0);
        let nr = live.clone().count() as u64;
        let mine = live.filter(|x| x.ext.uid == uid).count() as u64;
        rules::may_fork(mine, limit, uid, nr, MAX_THREADS.load(Ordering::Relaxed))
    })?;
    let stack = with_node(|n| {
        n.alloc_pages_for(PageOwner::KernelStack, GfpFlags::GFP_KERNEL, THREAD_SIZE_ORDER)
    })
    .map_err(|_| Errno::ENOMEM)?;
    super::NR_KERNEL_STACK_PAGES.fetch_add(1 << THREAD_SIZE_ORDER, Ordering::Relaxed);
    let child_mm = with_current(|t| t.mm.as_mut().map(|pm| dup_mm(pm)));
    let Some(Some(child_mm)) = child_mm else {
        free_kstack(stack);
        return Err(Errno::ENOMEM);
    };
    let base = crate::kernel::phys_to_virt(stack.phys().0).unwrap_or(0) as u32;
    let regs_addr = base + THREAD_SIZE - core::mem::size_of::<PtRegs>() as u32;
    // SAFETY: the top of the new, unused kernel stack (lowmem, 8-byte aligned).
    let child_regs = unsafe { &mut *(regs_addr as *mut PtRegs) };
    *child_regs = *regs;
    child_regs.uregs[0] = 0;
    if newsp != 0 {
        child_regs.uregs[PtRegs::SP] = newsp;
    }
    let mut vfp = crate::arch::arm::process::VfpState::default();
    arch::vfp_save(&mut vfp);
    let parent_pid = super::current_pid();
    let r = with_tasks(|t| {
        let pid = t.alloc_pid()?;
        let p = t.current();
        let mut task = Box::new(Task::new(pid, parent_pid, &p.comm));
        task.kstack = Some(stack);
        task.stack_limit = base;
        task.ctx.sp = regs_addr;
        task.ctx.pc = arch::ret_from_fork_addr();
        task.vfp = vfp;
        task.tls = p.tls;
        task.files = p.files.clone();
        task.blocked = p.blocked;
        task.sigactions = p.sigactions;
        task.foreground = p.foreground;
        task.exe = p.exe.clone();
        task.ext.sig = p.ext.sig.for_child();
        task.ext.uid = p.ext.uid;
        task.ext.gid = p.ext.gid;
        task.ext.rlimit_nproc = p.ext.rlimit_nproc;
        task.ext.exit_signal = req.exit_signal;
        if req.child_settid {
            task.ext.set_child_tid = child_tid;
        }
        if req.child_cleartid {
            task.clear_child_tid = child_tid;
        }
        if req.vfork {
            task.ext.vfork_parent = Some(parent_pid);
        }
        t.map.insert(pid, task);
        Some(pid)
    });
    let Some(pid) = r else {
        child_mm.exit_mmap();
        free_kstack(stack);
        return Err(Errno::EAGAIN);
    };
    with_tasks(|t| {
        if let Some(c) = t.map.get_mut(&pid) {
            c.mm = Some(child_mm);
        }
        t.rq.push_back(pid);
    });
    if req.parent_settid && parent_tid != 0 {
        let _ = super::syscall::put(parent_tid, &pid);
    }
    if req.vfork {
        wait_for_vfork_done(pid);
    }
    Ok(pid)
}

/// vfork's parent sleeps until the child execs or exits (`wait_for_vfork_done`, killable:
/// a fatal signal ends the wait).
fn wait_for_vfork_done(child: u32) {
    loop {
        let done = with_tasks(|t| {
            let done = t
                .map
                .get(&child)
                .is_none_or(|c| c.ext.vfork_parent.is_none() || c.state == TaskState::Zombie);
            let me = t.current();
            if done || me.pending & rules::sigmask(sig::SIGKILL) != 0 {
                return true;
            }
            me.state = TaskState::Sleeping;
            me.wake_at = u64::MAX;
            false
        });
        if done {
            return;
        }
        super::schedule();
    }
}

/// `complete_vfork_done`: the running task execs or exits; a parent waiting in vfork runs.
pub fn complete_vfork_done() {
    with_tasks(|t| {
        let Some(parent) = t.current().ext.vfork_parent.take() else { return };
        if let Some(p) = t.map.get_mut(&parent) {
            if p.state == TaskState::Sleeping {
                p.state = TaskState::Runnable;
                p.wake_at = u64::MAX;
                if !t.rq.contains(&parent) {
                    t.rq.push_back(parent);
                }
            }
        }
    })
}
