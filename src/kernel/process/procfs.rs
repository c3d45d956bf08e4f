//! `/proc` files as a process's `open` sees them: rendered once at open time from the live
//! state (a snapshot, read like a `seq_file` that was filled in one go). Today
//! `/proc/self/maps` and `/proc/PID/maps`; the full `/proc/PID` tree belongs to the procfs
//! work that follows.
use alloc::string::String;
use alloc::vec::Vec;

use crate::mm::mm_types::Errno;
use crate::proc::pid::maps::{render_maps, ARM_VECTORS};

/// The bytes of the `/proc` file at `path`, or `ENOENT`.
pub fn render(path: &str) -> Result<Vec<u8>, Errno> {
    let rest = path.strip_prefix("/proc/").ok_or(Errno::ENOENT)?;
    let (who, file) = rest.split_once('/').ok_or(Errno::ENOENT)?;
    let pid = match who {
        "self" | "thread-self" => super::current_pid(),
        n => n.parse::<u32>().map_err(|_| Errno::ENOENT)?,
    };
    super::with_tasks(|t| {
        let task = t.map.get(&pid).filter(|x| x.pid != 0).ok_or(Errno::ENOENT)?;
        let mut out = String::new();
        match file {
            "maps" => {
                if let Some(pm) = task.mm.as_ref() {
                    render_maps(&mut out, &pm.mm, Some(&ARM_VECTORS)).map_err(|_| Errno::ENOMEM)?;
                }
            }
            _ => return Err(Errno::ENOENT),
        }
        Ok(out.into_bytes())
    })
}
