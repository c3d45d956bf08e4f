//! The live values behind the knob files (`proc::sysctl`): `/proc/sys/vm/*` and debugfs's
//! `fault_around_bytes`, read and written by programs (`/proc`, `/sys/kernel/debug`), the
//! console's `cat`/`echo` and its `sysctl`. Each write runs 6.1's handler: parse (EINVAL for
//! bad text or a value out of range), store, then what the handler does after (the
//! watermarks recomputed for `min_free_kbytes` and `watermark_scale_factor`, the caches
//! dropped for `drop_caches`).
use alloc::string::String;
use core::sync::atomic::Ordering;

use crate::abi::errno::Errno;
use crate::kernel::mem::with_node;
use crate::mm::memory::FAULT_AROUND;
use crate::mm::PAGE_SIZE;
use crate::proc::sysctl::{self, Handler, Knob};

/// The knob's value as its file shows it; `None` for a write-only one (`drop_caches`).
pub fn get(knob: Knob) -> Option<u64> {
    Some(match knob {
        Knob::DropCaches => return None,
        Knob::MinFreeKbytes => with_node(|n| n.min_free_kbytes()),
        Knob::PageCluster => crate::kernel::swap::PAGE_CLUSTER.load(Ordering::Relaxed) as u64,
        Knob::Swappiness => crate::kernel::process::reclaim::SWAPPINESS.load(Ordering::Relaxed),
        Knob::WatermarkScaleFactor => with_node(|n| n.watermark_scale_factor()),
        Knob::FaultAroundBytes => FAULT_AROUND.load(Ordering::Relaxed) as u64,
    })
}

/// The file's text: `"%d\n"` (`proc_dointvec`), `"%llu\n"` (a debugfs attribute).
pub fn render(knob: Knob) -> Option<String> {
    get(knob).map(|v| alloc::format!("{v}\n"))
}

/// A write of `value` to `knob` by `comm` (`pid`): the bytes consumed, as the handler
/// reports them (the whole write for a debugfs attribute), or `EINVAL`/`ERANGE`.
pub fn write(knob: Knob, comm: &str, pid: u32, value: &[u8]) -> Result<usize, Errno> {
    let info = sysctl::info(knob);
    let (v, used) = match info.handler {
        Handler::IntMinMax { min, max } => {
            let (v, used) = sysctl::proc_dointvec_minmax(value, min, max)?;
            (v as i64 as u64, used)
        }
        Handler::DebugU64 => (sysctl::simple_attr_u64(value)?, value.len()),
    };
    match knob {
        Knob::DropCaches => crate::kernel::cardfs::drop_caches_sysctl(comm, pid, v as u32),
        Knob::MinFreeKbytes => with_node(|n| n.set_min_free_kbytes(v)),
        Knob::PageCluster => crate::kernel::swap::PAGE_CLUSTER.store(v as u32, Ordering::Relaxed),
        Knob::Swappiness => crate::kernel::process::reclaim::SWAPPINESS.store(v, Ordering::Relaxed),
        Knob::WatermarkScaleFactor => with_node(|n| n.set_watermark_scale_factor(v)),
        Knob::FaultAroundBytes => {
            let bytes = sysctl::fault_around_bytes_set(v, PAGE_SIZE)?;
            FAULT_AROUND.store(bytes as usize, Ordering::Relaxed);
        }
    }
    Ok(used)
}
