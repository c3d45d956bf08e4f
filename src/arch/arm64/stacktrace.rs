//! The oops' `Call trace:` (arm64 6.1's `stacktrace.c`): the frame-record unwinder
//! (`unwind_init_from_regs`, `unwind_next`) and `dump_backtrace`. Every function of the
//! kernel keeps a frame record, `{ x29, x30 }`, at the address x29 holds (the Makefile builds
//! with `-C force-frame-pointers=yes`, as 6.1 selects `FRAME_POINTER`), so the chain of x29
//! values leads from the interrupted function out through its callers. Pure: the caller says
//! which stacks may be read and how.
use core::fmt;

/// A stack frame records may lie on (`struct stack_info`): `[low, high)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackInfo {
    pub low: u64,
    pub high: u64,
}

impl StackInfo {
    /// Whether a frame record (16 bytes) at `fp` lies wholly on this stack.
    fn holds_record(&self, fp: u64) -> bool {
        fp >= self.low && fp.checked_add(FRAME_RECORD_SIZE).is_some_and(|end| end <= self.high)
    }
}

/// A frame record's size: the caller's x29 and the return address.
const FRAME_RECORD_SIZE: u64 = 16;

/// The unwinder's state (`struct unwind_state`): the current frame's pc and fp, the stack
/// the last record was on and its fp (records on one stack must climb; a stack once left
/// is never entered again), as 6.1's `unwind_next_common` checks.
struct UnwindState {
    pc: u64,
    fp: u64,
    prev: Option<(usize, u64)>,
    stacks_done: u64,
}

impl UnwindState {
    /// `unwind_next`: the caller's frame from the record at fp, or None at the end of the
    /// chain (fp 0 or misaligned, off every stack, not climbing; or the zeroed final record
    /// the exception entry leaves for a frame from EL0, pivm's `task_pt_regs()->stackframe`).
    fn next(&mut self, stacks: &[StackInfo], read: &impl Fn(u64) -> u64) -> Option<()> {
        let fp = self.fp;
        if fp & 0x7 != 0 {
            return None;
        }
        let (i, _) = stacks.iter().enumerate().find(|(_, s)| s.holds_record(fp))?;
        if self.stacks_done & (1 << i) != 0 {
            return None;
        }
        match self.prev {
            Some((p, prev_fp)) if p == i && fp <= prev_fp => return None,
            Some((p, _)) if p != i => self.stacks_done |= 1 << p,
            _ => {}
        }
        self.prev = Some((i, fp));
        let (next_fp, next_pc) = (read(fp), read(fp + 8));
        if next_pc == 0 {
            return None;
        }
        self.fp = next_fp;
        self.pc = next_pc;
        Some(())
    }
}

/// `arch_stack_walk` from an exception's registers: `consume` gets the interrupted pc, then
/// each frame's return address, until the chain ends or `consume` says stop. `read` reads a
/// 64-bit word on one of `stacks` (the walk reads nothing else).
pub fn walk_stack_from_regs(
    pc: u64,
    fp: u64,
    stacks: &[StackInfo],
    read: impl Fn(u64) -> u64,
    mut consume: impl FnMut(u64) -> bool,
) {
    let mut state = UnwindState { pc, fp, prev: None, stacks_done: 0 };
    loop {
        if !consume(state.pc) {
            return;
        }
        if state.next(stacks, &read).is_none() {
            return;
        }
    }
}

/// `dump_backtrace` for a kernel frame: `Call trace:` and one ` %pSb` line per frame (with
/// `sym` writing the `%pS` form of an address).
pub fn write_backtrace(
    w: &mut dyn fmt::Write,
    pc: u64,
    fp: u64,
    stacks: &[StackInfo],
    read: impl Fn(u64) -> u64,
    sym: impl Fn(&mut dyn fmt::Write, u64) -> fmt::Result,
) -> fmt::Result {
    writeln!(w, "Call trace:")?;
    let mut result = Ok(());
    walk_stack_from_regs(pc, fp, stacks, read, |where_| {
        result = write!(w, " ").and_then(|_| sym(w, where_)).and_then(|_| writeln!(w));
        result.is_ok()
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const STACK: StackInfo = StackInfo { low: 0x1_0000, high: 0x1_8000 };
    const OVERFLOW: StackInfo = StackInfo { low: 0x9_0000, high: 0x9_1000 };

    fn reader(words: &[(u64, u64)]) -> impl Fn(u64) -> u64 {
        let m: HashMap<u64, u64> = words.iter().copied().collect();
        move |a| *m.get(&a).expect("read outside the frame records")
    }

    fn trace(pc: u64, fp: u64, stacks: &[StackInfo], words: &[(u64, u64)]) -> Vec<u64> {
        let mut v = Vec::new();
        walk_stack_from_regs(pc, fp, stacks, reader(words), |pc| {
            v.push(pc);
            true
        });
        v
    }

    #[test]
    fn arm64syms_follows_the_chain_to_the_zero_record() {
        // pc's function's record at 0x17f00 (its caller's return address 0x2004), the
        // caller's at 0x17f40, the outermost one's x29 was 0 (the console's start).
        let words = [
            (0x1_7f00, 0x1_7f40),
            (0x1_7f08, 0x2004),
            (0x1_7f40, 0x1_7fe0),
            (0x1_7f48, 0x3008),
            (0x1_7fe0, 0),
            (0x1_7fe8, 0x4010),
        ];
        assert_eq!(trace(0x1234, 0x1_7f00, &[STACK], &words), [0x1234, 0x2004, 0x3008, 0x4010]);
        // The entry's zeroed record (pt_regs' stackframe from EL0) ends it without a 0 line.
        let words = [(0x1_7f00, 0), (0x1_7f08, 0)];
        assert_eq!(trace(0x1234, 0x1_7f00, &[STACK], &words), [0x1234]);
    }

    #[test]
    fn arm64syms_stops_at_a_bad_frame_pointer() {
        // Off the stack, misaligned, the record crossing the stack's top, 0: pc only.
        for fp in [0x2_0000, 0x1_7f04, 0x1_7ff8, 0] {
            assert_eq!(trace(0x1234, fp, &[STACK], &[]), [0x1234], "fp {fp:#x}");
        }
        // A record pointing back down the stack (a loop) ends the walk after its pc.
        let words = [(0x1_7f00, 0x1_7e00), (0x1_7f08, 0x2004)];
        assert_eq!(trace(0x1234, 0x1_7f00, &[STACK], &words), [0x1234, 0x2004]);
        let words = [(0x1_7f00, 0x1_7f00), (0x1_7f08, 0x2004)];
        assert_eq!(trace(0x1234, 0x1_7f00, &[STACK], &words), [0x1234, 0x2004]);
    }

    #[test]
    fn arm64syms_moves_between_stacks_once() {
        // From the overflow stack to the task stack, and a record leading back is refused.
        let words =
            [(0x9_0f00, 0x1_7f00), (0x9_0f08, 0x2004), (0x1_7f00, 0x9_0f80), (0x1_7f08, 0x3008)];
        let got = trace(0x1234, 0x9_0f00, &[STACK, OVERFLOW], &words);
        assert_eq!(got, [0x1234, 0x2004, 0x3008]);
    }

    #[test]
    fn arm64syms_writes_linux_lines() {
        let words = [(0x1_7f00, 0), (0x1_7f08, 0x2004)];
        let mut s = String::new();
        let sym = |w: &mut dyn fmt::Write, a: u64| write!(w, "f{a:x}+0x4/0x10");
        write_backtrace(&mut s, 0x1234, 0x1_7f00, &[STACK], reader(&words), sym).unwrap();
        assert_eq!(s, "Call trace:\n f1234+0x4/0x10\n f2004+0x4/0x10\n");
    }
}
