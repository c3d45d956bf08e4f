//! Restartable sequences (`kernel/rseq.c` in 6.1). glibc 2.35 and later registers a
//! `struct rseq` in each thread's TLS block at start-up. The kernel stores the CPU number into
//! it on the way back to user space after the task was switched out or took a signal, and
//! moves the pc to the abort handler if it stopped inside a registered critical section. That
//! store is a kernel-mode write to user memory: after `fork` it meets a write-protected page
//! and takes a copy-on-write fault, which Linux counts like any other. A parent that sleeps
//! in `wait4` after forking therefore takes one more fault than it would without rseq.
//!
//! The rules are plain functions, tested on the host. The kernel half (`sys_rseq`,
//! `notify_resume`, in `rseq_task`) applies them to the current task.
use crate::mm::mm_types::Errno;

/// `sizeof(struct rseq)` in 6.1: `cpu_id_start`, `cpu_id`, `rseq_cs` (u64), `flags`, padded
/// to its 32-byte alignment. 6.1 accepts exactly this length.
pub const RSEQ_SIZE: u32 = 32;
/// `__alignof__(struct rseq)`.
const RSEQ_ALIGN: u32 = 32;
/// `RSEQ_FLAG_UNREGISTER`.
pub const RSEQ_FLAG_UNREGISTER: u32 = 1;
/// `RSEQ_EVENT_PREEMPT` and `RSEQ_EVENT_SIGNAL`, the events the event mask records.
pub const RSEQ_EVENT_PREEMPT: u32 = 1 << 0;
pub const RSEQ_EVENT_SIGNAL: u32 = 1 << 1;

/// A task's registration (`t->rseq`, `rseq_len`, `rseq_sig`, `rseq_event_mask`) and its
/// `TIF_NOTIFY_RESUME`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rseq {
    /// The area's user address (`unsigned long`).
    pub area: usize,
    pub len: u32,
    pub sig: u32,
    pub event_mask: u32,
    /// An update is due on the way back to user space.
    pub notify: bool,
}

/// What `sys_rseq` decided: a new registration, or the end of the current one (whose
/// `cpu_id` the caller resets first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Register(Rseq),
    Unregister,
}

/// `sys_rseq`'s argument checks, in 6.1's order. `access_ok` is the caller's.
pub fn request(
    cur: Option<&Rseq>,
    area: usize,
    len: u32,
    flags: u32,
    sig: u32,
) -> Result<Request, Errno> {
    if flags & RSEQ_FLAG_UNREGISTER != 0 {
        if flags & !RSEQ_FLAG_UNREGISTER != 0 {
            return Err(Errno::EINVAL);
        }
        let Some(cur) = cur.filter(|c| c.area == area) else { return Err(Errno::EINVAL) };
        if len != cur.len {
            return Err(Errno::EINVAL);
        }
        if sig != cur.sig {
            return Err(Errno::EPERM);
        }
        return Ok(Request::Unregister);
    }
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    if let Some(cur) = cur {
        if cur.area != area || cur.len != len {
            return Err(Errno::EINVAL);
        }
        if cur.sig != sig {
            return Err(Errno::EPERM);
        }
        return Err(Errno::EBUSY);
    }
    if !area.is_multiple_of(RSEQ_ALIGN as usize) || len != RSEQ_SIZE {
        return Err(Errno::EINVAL);
    }
    // rseq_set_notify_resume: the first update comes on the way out of this call.
    Ok(Request::Register(Rseq { area, len, sig, event_mask: 0, notify: true }))
}

/// `struct rseq_cs`: a critical section `[start_ip, start_ip + post_commit_offset)` and where
/// to go when it is interrupted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqCs {
    pub version: u32,
    pub flags: u32,
    pub start_ip: u64,
    pub post_commit_offset: u64,
    pub abort_ip: u64,
}

/// `rseq_get_rseq_cs`'s checks of a descriptor (the signature word before `abort_ip` is
/// checked by the caller, which reads it).
pub fn check_cs(cs: &RseqCs, task_size: u64) -> Result<(), Errno> {
    let end = cs.start_ip.checked_add(cs.post_commit_offset).ok_or(Errno::EINVAL)?;
    if cs.start_ip >= task_size || end >= task_size || cs.abort_ip >= task_size || cs.version > 0 {
        return Err(Errno::EINVAL);
    }
    // The abort handler may not lie inside the section.
    if cs.abort_ip.wrapping_sub(cs.start_ip) < cs.post_commit_offset {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `in_rseq_cs`.
pub fn in_cs(ip: u64, cs: &RseqCs) -> bool {
    ip.wrapping_sub(cs.start_ip) < cs.post_commit_offset
}

/// `rseq_preempt`: the task is being switched out.
pub fn preempt(r: &mut Option<Rseq>) {
    if let Some(r) = r {
        r.event_mask |= RSEQ_EVENT_PREEMPT;
        r.notify = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: u32 = 0x53053053;

    fn reg(area: usize) -> Rseq {
        Rseq { area, len: RSEQ_SIZE, sig: SIG, event_mask: 0, notify: true }
    }

    #[test]
    fn registration_follows_sys_rseq() {
        assert_eq!(request(None, 0x1000, 32, 0, SIG), Ok(Request::Register(reg(0x1000))));
        // Misaligned, wrong length, unknown flags.
        assert_eq!(request(None, 0x1010, 32, 0, SIG), Err(Errno::EINVAL));
        assert_eq!(request(None, 0x1000, 20, 0, SIG), Err(Errno::EINVAL));
        assert_eq!(request(None, 0x1000, 32, 2, SIG), Err(Errno::EINVAL));
        // Registered: the same again is EBUSY, another signature EPERM, another area EINVAL.
        let cur = reg(0x1000);
        assert_eq!(request(Some(&cur), 0x1000, 32, 0, SIG), Err(Errno::EBUSY));
        assert_eq!(request(Some(&cur), 0x1000, 32, 0, 1), Err(Errno::EPERM));
        assert_eq!(request(Some(&cur), 0x2000, 32, 0, SIG), Err(Errno::EINVAL));
    }

    #[test]
    fn unregistration_needs_the_same_area_length_and_signature() {
        let cur = reg(0x1000);
        let u = RSEQ_FLAG_UNREGISTER;
        assert_eq!(request(Some(&cur), 0x1000, 32, u, SIG), Ok(Request::Unregister));
        assert_eq!(request(None, 0x1000, 32, u, SIG), Err(Errno::EINVAL));
        assert_eq!(request(Some(&cur), 0x2000, 32, u, SIG), Err(Errno::EINVAL));
        assert_eq!(request(Some(&cur), 0x1000, 64, u, SIG), Err(Errno::EINVAL));
        assert_eq!(request(Some(&cur), 0x1000, 32, u, 7), Err(Errno::EPERM));
        assert_eq!(request(Some(&cur), 0x1000, 32, u | 4, SIG), Err(Errno::EINVAL));
    }

    #[test]
    fn critical_section_descriptors_are_checked() {
        let ts = 0xbf00_0000;
        let cs = RseqCs {
            start_ip: 0x1000,
            post_commit_offset: 0x20,
            abort_ip: 0x2000,
            ..Default::default()
        };
        assert_eq!(check_cs(&cs, ts), Ok(()));
        assert!(in_cs(0x1000, &cs) && in_cs(0x101f, &cs));
        assert!(!in_cs(0x1020, &cs) && !in_cs(0xfff, &cs));
        // Nothing is inside an empty descriptor (the `rseq_cs == 0` case).
        assert!(!in_cs(0, &RseqCs::default()));
        for bad in [
            RseqCs { version: 1, ..cs },
            RseqCs { abort_ip: 0x1010, ..cs },
            RseqCs { start_ip: ts, ..cs },
            RseqCs { abort_ip: ts, ..cs },
            RseqCs { post_commit_offset: u64::MAX, ..cs },
        ] {
            assert_eq!(check_cs(&bad, ts), Err(Errno::EINVAL), "{bad:?}");
        }
    }

    #[test]
    fn preemption_marks_an_update_due() {
        let mut r = Some(Rseq { notify: false, ..reg(0x1000) });
        preempt(&mut r);
        assert_eq!(r.map(|r| (r.notify, r.event_mask)), Some((true, RSEQ_EVENT_PREEMPT)));
        let mut none = None;
        preempt(&mut none);
        assert_eq!(none, None);
    }
}
