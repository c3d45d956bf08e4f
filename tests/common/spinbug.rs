//! `crash spinlockup` (lkdtm's SPINLOCKUP) on either kernel: 6.1's `spin_bug` report for the
//! lock the console takes twice, then the panic that stops the kernel (not a silent hang).
use super::*;

/// The address `nm` (`arm-none-eabi-nm`, `aarch64-linux-gnu-nm`) gives `name` in `elf`.
fn symbol_address(q: &Qemu, nm: &str, elf: &str, name: &str) -> u64 {
    let out = Command::new(nm)
        .args(["-C", "--defined-only"])
        .arg(root().join(elf))
        .output()
        .unwrap_or_else(|e| q.fail(&format!("{nm} {elf}: {e}")));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" {name}")))
        .unwrap_or_else(|| q.fail(&format!("{nm} {elf}: no symbol {name}")));
    u64::from_str_radix(line.split(' ').next().unwrap_or(""), 16)
        .unwrap_or_else(|e| q.fail(&format!("{nm}: {line:?}: {e}")))
}

/// The 1-based line of the first line of the source file `file` containing `needle`.
fn source_line(file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(root().join(file)).expect("the kernel's source");
    1 + text.lines().position(|l| l.contains(needle)).expect("the line is in the source")
}

/// Runs `crash spinlockup` on a booted console and checks the report: the recursion by the
/// console task (pid 0), the lock's address as `nm` gives `LOCK_ME_UP` in `elf`, its magic,
/// the owner, `dump_stack`'s task line and its call trace (with `unwinds`, arm64's frames
/// from `spin_bug` out to the crash command; else the second `lock()`'s line), then the
/// panic lines; afterwards the console no longer answers.
pub fn check_spinlockup(q: &mut Qemu, nm: &str, elf: &str, unwinds: bool) {
    let lock = symbol_address(q, nm, elf, "pivm::console::commands::system::LOCK_ME_UP");
    let file = "src/console/commands/system.rs";
    let line = source_line(file, "let _again = LOCK_ME_UP.lock();");
    q.send("crash spinlockup\n");
    let end = "---[ end Kernel panic - not syncing: spinlock recursion: deadlock ]---";
    let out = q.wait_for(end, STEP).unwrap();
    let head = "BUG: spinlock recursion on CPU#0, swapper/0/0\n";
    let start = out.find(head).unwrap_or_else(|| q.fail(&format!("no {head:?} before {end:?}")));
    let rep = &out[start..];
    let lines: Vec<&str> = rep.lines().collect();
    let want = [
        format!(" lock: {lock:#x}, .magic: dead4ead, .owner: swapper/0/0, .owner_cpu: 0"),
        "CPU: 0 PID: 0 Comm: swapper/0 Not tainted ".into(),
        "Call trace:".into(),
    ];
    for (i, w) in want.iter().enumerate() {
        if !lines.get(i + 1).is_some_and(|l| l.starts_with(w.as_str())) {
            q.fail(&format!("crash spinlockup: line {} of the report is not {w:?}", i + 2));
        }
    }
    let trace: Vec<&str> = lines[4..].iter().take_while(|l| l.starts_with(' ')).copied().collect();
    let frames: Vec<String> = if unwinds {
        ["pivm::kernel::spinlock::spin_bug+0x", "pivm::console::commands::system::"]
            .map(String::from)
            .into()
    } else {
        vec![format!("{file}:{line}:")]
    };
    for f in &frames {
        if !trace.iter().any(|l| l.trim_start().starts_with(f.as_str())) {
            q.fail(&format!("crash spinlockup: no call trace line {f:?} in {trace:?}"));
        }
    }
    q.expect_in(
        "crash spinlockup",
        rep,
        "Kernel panic - not syncing: spinlock recursion: deadlock\n",
    );
    // The kernel stopped: the console no longer answers.
    q.send("jiffies\n");
    if q.wait_for("jiffies: ", Duration::from_secs(3)).is_ok() {
        q.fail("the console answered after the spinlock panic");
    }
    q.kill();
}
