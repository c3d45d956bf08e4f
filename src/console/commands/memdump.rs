//! `memdump [PID]`: gathers the live state the machine-readable dump (`proc::memdump`) prints:
//! the layout's regions with the MMU's translation of the run-time mapped ones, the vmalloc
//! areas with the zones their pages live in, every pageblock from `mem_map`; or a process's
//! VMAs with each present page's frame from its page tables.
use alloc::string::String;
use alloc::vec::Vec;

use super::{CmdError, CmdResult};
use crate::arch::mmu;
use crate::arch::process::{for_each_user_pte, for_each_user_swp_pte};
use crate::console::args::{parse_u32, Args};
use crate::console::printk::Console;
use crate::kernel::mem::with_node;
use crate::kernel::vmalloc::{KernelSymbols, VMAP};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::mm::mm_types::VmFlags;
use crate::mm::vmap::VmFlags as VmapFlags;
use crate::proc::memdump::{self, field, ProcVma, Varea, VareaKind, VmallocTotals};
use crate::proc::pid::maps::vma_name;

/// The MMU's translation of one kernel page (ATS1CPR).
fn translate(va: u64) -> Option<u64> {
    usize::try_from(va).ok().and_then(mmu::translate)
}

pub(super) fn cmd_memdump(k: &Kernel, args: &Args<'_>) -> CmdResult {
    match args.len() {
        1 => {
            kernel_dump(k);
            Ok(())
        }
        2 => process_dump(k, args),
        _ => Err(CmdError::Usage),
    }
}

/// The layout's regions and header, as the architecture describes them (the 32-bit image's
/// sections lie in lowmem; arm64's in the vmalloc area, at the loader's physical address).
#[cfg(not(target_arch = "aarch64"))]
fn layout_records(k: &Kernel) -> (Vec<memdump::Region>, memdump::DumpLayout) {
    let l = &k.layout;
    let regions = crate::arch::memdump::regions(l, &super::kernel_sections());
    (regions, crate::arch::memdump::dump_layout(l, crate::config::VMSPLIT))
}

#[cfg(target_arch = "aarch64")]
fn layout_records(k: &Kernel) -> (Vec<memdump::Region>, memdump::DumpLayout) {
    let l = &k.layout;
    let s = crate::arch::image::sections();
    let regions = crate::arch::memdump::regions(l, &s, crate::arch::head::LOAD_PA);
    (regions, crate::arch::memdump::dump_layout(l))
}

fn kernel_dump(k: &Kernel) {
    let l = &k.layout;
    let (regions, dl) = layout_records(k);
    let spans = memdump::zone_spans(&l.node_zones());
    let maps: Vec<_> = regions
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind.walked())
        .map(|(i, r)| (i, memdump::map_runs(r.start, r.end, &translate)))
        .collect();
    // The areas and totals under the vmap lock, then each area's pages through the MMU.
    let syms = KernelSymbols::new();
    let (mut vareas, totals) = {
        let v = VMAP.lock();
        let mut list = Vec::new();
        for a in v.areas() {
            let (kind, caller) = match a.vm() {
                None => (VareaKind::VmMapRam, String::new()),
                Some(vm) => {
                    let kind = if vm.flags.contains(VmapFlags::VM_IOREMAP) {
                        VareaKind::Ioremap
                    } else if vm.flags.contains(VmapFlags::VM_ALLOC) {
                        VareaKind::Vmalloc
                    } else {
                        VareaKind::Vmap
                    };
                    (kind, field(&alloc::format!("{}", vm.caller.display(&syms))))
                }
            };
            list.push(Varea {
                start: a.va_start(),
                end: a.va_end(),
                kind,
                by_zone: Vec::new(),
                phys: None,
                caller,
            });
        }
        for (start, end) in v.unpurged() {
            list.push(Varea {
                start,
                end,
                kind: VareaKind::Unpurged,
                by_zone: Vec::new(),
                phys: None,
                caller: String::new(),
            });
        }
        let totals = VmallocTotals {
            total: v.total_bytes(),
            used: v.used_bytes(),
            largest_gap: v.largest_free_gap(),
            areas: v.nr_areas(),
        };
        (list, totals)
    };
    vareas.sort_by_key(|a| a.start);
    for a in vareas.iter_mut().filter(|a| a.kind != VareaKind::Unpurged) {
        let (by, first) = memdump::pages_by_zone(&spans, a.start, a.end, &translate);
        a.by_zone = by;
        a.phys = first;
    }
    // Room reserved before taking the allocator's lock: an allocation under it would deadlock.
    let mut zones = Vec::with_capacity(crate::mm::zone::MAX_NR_ZONES);
    let mut blocks = Vec::with_capacity(memdump::max_pageblocks(&spans));
    let complete = with_node(|n| {
        memdump::zone_figures_into(n, &mut zones);
        memdump::pageblocks_into(n, &mut blocks)
    });
    if !complete {
        kprintln!(
            "memdump: more pageblocks than the layout's zones span; the last ones are left out"
        );
    }
    let d = memdump::KernelDump {
        layout: &dl,
        regions: &regions,
        maps: &maps,
        zones: &zones,
        spans: &spans,
        vareas: &vareas,
        vmalloc: totals,
        pageblocks: &blocks,
    };
    let _ = memdump::render_kernel(&mut Console, &d);
}

fn process_dump(k: &Kernel, args: &Args<'_>) -> CmdResult {
    let pid = match parse_u32(args.get(1).unwrap_or("")) {
        Ok(p) => p,
        Err(e) => fail!(args, "{}", e),
    };
    if pid == 0 {
        fail!(args, "0 is the console: it has no user address space (no PID)");
    }
    let spans = memdump::zone_spans(&k.layout.node_zones());
    let found = crate::kernel::process::with_tasks(|t| {
        let task = t.map.get(&pid)?;
        let Some(pm) = task.mm.as_ref() else { return Some(None) };
        let vmas: Vec<ProcVma> = pm
            .mm
            .iter()
            .map(|vma| {
                let f = vma.vm_flags;
                let perms = [
                    if f.contains(VmFlags::READ) { b'r' } else { b'-' },
                    if f.contains(VmFlags::WRITE) { b'w' } else { b'-' },
                    if f.contains(VmFlags::EXEC) { b'x' } else { b'-' },
                    if f.contains(VmFlags::MAYSHARE) { b's' } else { b'p' },
                ];
                let mut present = Vec::new();
                for_each_user_pte(pm.hw.pgd, vma.vm_start, vma.vm_end, |va, pte| {
                    present.push((va as u64, pte.pfn));
                });
                let mut swapped = Vec::new();
                for_each_user_swp_pte(pm.hw.pgd, vma.vm_start, vma.vm_end, |va, _| {
                    swapped.push(va as u64);
                });
                ProcVma {
                    start: vma.vm_start as u64,
                    end: vma.vm_end as u64,
                    perms,
                    name: vma_name(vma, &pm.mm).map(String::from).unwrap_or_default(),
                    present,
                    swapped,
                }
            })
            .collect();
        Some(Some((task.comm.clone(), vmas)))
    });
    match found {
        None => fail!(args, "{}: No such process", pid),
        Some(None) => fail!(args, "{}: the process has no address space (exited)", pid),
        Some(Some((comm, vmas))) => {
            let _ = memdump::render_process(&mut Console, pid, &comm, &spans, &vmas);
        }
    }
    Ok(())
}
