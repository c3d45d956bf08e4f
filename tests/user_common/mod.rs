//! What the host user-program tests (`user_programs.rs` for ARMv7 under qemu-arm,
//! `user_programs_arm64.rs` for AArch64 under qemu-aarch64) share: running a program under
//! user-mode QEMU with a time limit, reading vmtest's step lines, and parsing the initramfs.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Every program `make user` builds, for each architecture (`tests/user/*.c`).
pub const PROGRAMS: [&str; 21] = [
    "tiny",
    "vmtest",
    "segv",
    "crash",
    "efault",
    "forkbomb",
    "membomb",
    "mapmax",
    "procself",
    "syscalls",
    "spin",
    "forkwait",
    "jobctl",
    "files",
    "vmbench",
    "cardmap",
    "swapstress",
    "swaptest",
    "blkmap",
    "fstest",
    "pipetest",
];

/// Upper bound for one program run (they take milliseconds; a loaded machine gets room).
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

pub struct Run {
    pub cmd: String,
    pub out: String,
    pub err: String,
    pub status: ExitStatus,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\n--- {} ({:?})\n--- stdout:\n{}\n--- stderr:\n{}",
            self.cmd, self.status, self.out, self.err
        );
    }
    pub fn expect_exit(&self, code: i32) -> &Self {
        if self.code() != Some(code) {
            self.fail(&format!("expected exit status {code}"));
        }
        self
    }
    pub fn expect_signal(&self, signal: i32) -> &Self {
        if self.status.signal() != Some(signal) {
            self.fail(&format!("expected death by signal {signal}"));
        }
        self
    }
    /// The one line that starts with `prefix` (after leading spaces); fails if there is none.
    pub fn line(&self, prefix: &str) -> &str {
        self.out
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| self.fail(&format!("no line starting with {prefix:?}")))
    }
    pub fn has(&self, text: &str) -> &Self {
        if !self.out.contains(text) {
            self.fail(&format!("output lacks {text:?}"));
        }
        self
    }
}

/// Runs `path` under the user-mode emulator `qemu` (qemu-arm, qemu-aarch64) with a time limit; the child is killed (by its own id) when it
/// is exceeded.
pub fn run_on(qemu: &str, path: &Path, args: &[&str]) -> Run {
    let cmd = format!("{qemu} {} {}", path.display(), args.join(" "));
    let mut child = Command::new(qemu)
        .arg(path)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {qemu} ({e}): run `bash scripts/setup.sh` (qemu-user)")
        });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let run = Run {
                cmd,
                out: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
                err: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
                status,
            };
            run.fail(&format!("did not finish within {RUN_LIMIT:?}"));
        }
        thread::sleep(Duration::from_millis(5));
    };
    Run {
        cmd,
        out: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        err: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        status,
    }
}

/// A "+N/+M" fault delta (any numbers: qemu-user's are the host's).
pub fn is_delta(s: &str) -> bool {
    let Some((a, b)) = s.split_once('/') else { return false };
    [a, b].iter().all(|x| {
        x.strip_prefix('+').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// Drops the "(N ns)" timings and the "(minflt/majflt)" legend from a step line.
pub fn strip_notes(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('(') {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let close = tail.find(')').map_or(tail.len(), |j| j + 1);
        let inner = &tail[1..close.saturating_sub(1).max(1)];
        let timing =
            inner.strip_suffix(" ns").is_some_and(|n| n.bytes().all(|c| c.is_ascii_digit()));
        if !(timing || inner == "minflt/majflt") {
            out.push_str(&tail[..close]);
        }
        rest = &tail[close..];
    }
    out + rest
}

/// Checks a vmtest step line: `NAME: step +a/+b  step +a/+b ... sum=S` with the steps in order,
/// and returns the sum.
pub fn steps(line: &str, name: &str, expected: &[&str]) -> u64 {
    let rest = line
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or_else(|| panic!("{line:?} does not start with {name:?}"));
    let rest = strip_notes(rest);
    let mut words = rest.split_whitespace();
    for step in expected {
        for part in step.split(' ') {
            assert_eq!(words.next(), Some(part), "step {step:?} in {line:?}");
        }
        let delta = words.next().unwrap_or("");
        assert!(is_delta(delta), "step {step:?} has no +min/+maj delta in {line:?}");
    }
    let sum = words
        .next()
        .and_then(|w| w.strip_prefix("sum="))
        .unwrap_or_else(|| panic!("no sum in {line:?}"));
    sum.parse().unwrap_or_else(|_| panic!("bad sum in {line:?}"))
}

/// One newc entry: name, mode, data.
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

/// Parses a newc archive ("070701" headers, 4-byte padding) up to its TRAILER!!!.
pub fn newc(bytes: &[u8]) -> Vec<Entry> {
    let hex = |b: &[u8]| u32::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
    let align = |n: usize| n.div_ceil(4) * 4;
    let mut entries = Vec::new();
    let mut at = 0;
    loop {
        let h = &bytes[at..at + 110];
        assert_eq!(&h[..6], b"070701", "newc magic at {at}");
        let field = |i: usize| hex(&h[6 + 8 * i..14 + 8 * i]);
        let (mode, size, namesize) = (field(1), field(6) as usize, field(11) as usize);
        let name = String::from_utf8(bytes[at + 110..at + 110 + namesize - 1].to_vec()).unwrap();
        assert_eq!(bytes[at + 110 + namesize - 1], 0, "name not NUL-terminated");
        let data_at = align(at + 110 + namesize);
        if name == "TRAILER!!!" {
            return entries;
        }
        entries.push(Entry { name, mode, data: bytes[data_at..data_at + size].to_vec() });
        at = align(data_at + size);
    }
}

/// The repository's root (where `build/` is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A built test program: `build/DIR/NAME`; `make_hint` says which make target builds it.
pub fn built_program(dir: &str, name: &str, make_hint: &str) -> PathBuf {
    let path = root().join("build").join(dir).join(name);
    assert!(path.is_file(), "missing {}: run `{make_hint}` first (or `make test`)", path.display());
    path
}

/// The reference's data file (`build/user/data/f16m`), the same for both architectures.
pub fn data_file() -> PathBuf {
    let path = root().join("build/user/data/f16m");
    assert!(path.is_file(), "missing {}: run `make user` first", path.display());
    path
}

/// Whether the host can execve the binaries `qemu` runs (a binfmt_misc entry named after it,
/// `qemu-arm` or `qemu-aarch64`).
pub fn host_runs_binaries_of(qemu: &str) -> bool {
    Path::new("/proc/sys/fs/binfmt_misc").read_dir().is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(qemu)))
    })
}

/// `jobctl`'s checks as the host can show them under qemu-user, which hands only SA_SIGINFO
/// and SA_RESTART of a guest's `sa_flags` to the host (linux-user/signal.c `do_sigaction`):
/// the SA_NOCLDSTOP and SA_NOCLDWAIT checks that depend on the flag reaching the kernel are
/// not counted (pivm passes them: see qemu_fork). "SA_NOCLDWAIT still sends SIGCHLD" counts
/// one SIGCHLD per child; on the host the count may be lower, because a SIGCHLD that arrives
/// while one is still pending is merged into it (standard signals do not queue) and a loaded
/// host can deliver two exits 100 ms apart that late: there it must report at least one, with
/// CLD_EXITED (1).
pub fn jobctl_passes_on_the_host(run: &Run) {
    let skipped = ["SA_NOCLDSTOP", "SA_NOCLDWAIT: exited child", "SA_NOCLDWAIT: wait4"];
    let checks: Vec<&str> = run.out.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(checks.len(), 18, "{}", run.out);
    for line in checks {
        let check = line.trim_start();
        if line.contains(" ok") || skipped.iter().any(|s| check.starts_with(s)) {
            continue;
        }
        let merged = check.strip_prefix("SA_NOCLDWAIT still sends SIGCHLD").and_then(|r| {
            let r = r.trim_start().strip_prefix("FAIL: ")?;
            let (n, code) = r.split_once(" SIGCHLDs, last code ")?;
            (n.parse::<u32>().ok()? >= 1 && code == "1").then_some(())
        });
        if merged.is_none() {
            run.fail(&format!("failed on Linux: {line}"));
        }
    }
    run.line("jobctl: 18 checks, ");
}
