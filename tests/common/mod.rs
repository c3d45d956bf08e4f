//! QEMU harness for the integration tests: boots a pivm image on `qemu-system-arm -M raspi2b`,
//! talks to the serial console through QEMU's stdin/stdout and records everything it prints.
//! Every failure panics with the complete console transcript, so a red test shows what happened.
#![allow(dead_code)] // each test crate uses a different part of the harness

use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub mod compare;
pub mod sd;
pub mod spinbug;

/// The console prompt (no newline follows it).
pub const PROMPT: &str = "pivm# ";
/// Upper bound for one whole QEMU run: every wait is capped by it and kills the child when it
/// is reached. It is only a backstop (each wait has its own timeout, which is what catches a
/// hang): a whole test of 250 console commands takes 10-20 s alone and well over a minute on a
/// 2-core machine running other QEMUs, so the old 60 s for the whole run cut healthy runs short
/// (`random_commands_never_stop_the_console` failed that way in the middle of its commands).
/// `PIVM_QEMU_TIMEOUT` (seconds) overrides it; [`Opts::limit`] raises it for one run, and a
/// single wait longer than it extends it to that wait's end.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);
/// `/proc/PID/stat`'s CPU times are in clock ticks: `sysconf(_SC_CLK_TCK)`, 100 on Linux.
const CLOCK_TICKS: f64 = 100.0;
/// How long [`Qemu::cmd_until`] keeps running its command before it fails.
pub const UNTIL: Duration = Duration::from_secs(30);
/// Default wait for boot to reach the prompt. A boot takes 0.2-1 s alone and up to 7 s with
/// four other boots and two busy loops on 2 cores (load 18); under heavier load some took over
/// 30 s, so the limit is 120 s: it only bounds a hang.
pub const BOOT: Duration = Duration::from_secs(120);
/// Default wait for one command (milliseconds alone): a hang, not a slow host, must reach it.
pub const STEP: Duration = Duration::from_secs(30);
/// Wait for a command that works on the whole of memory or the card (`frag checkerboard` over
/// 760 MiB with page poisoning, a card-sized mapping, `bench`): a few seconds alone and many
/// times that on a loaded machine.
pub const SLOW_STEP: Duration = Duration::from_secs(120);

/// Which image to boot and how.
#[derive(Clone, Debug)]
pub struct Opts {
    /// "2G", "3G" or "1G": selects `build/<split>/`.
    pub split: &'static str,
    /// Boot `kernel.elf` (all cores enter, r2 = 0, `-append`/`-dtb` ignored) instead of `kernel7.img`.
    pub elf: bool,
    /// `-append "<cmdline>"`.
    pub append: Option<String>,
    /// `-dtb build/<name>.dtb` (built by `make dtb` from `tests/dts/<name>.dts`).
    pub dtb: Option<&'static str>,
    /// QEMU's human monitor on this Unix socket (`monitor_cmd` talks to it) instead of none.
    pub monitor: Option<PathBuf>,
    /// A build variant's `MAX_ORDER=` (`None`: the default build).
    pub max_order: Option<u32>,
    /// A build variant's `FEATURES=` ("" for none).
    pub features: &'static str,
    /// `-initrd <path>` (relative to the repository; `make initramfs` builds the default).
    pub initrd: Option<&'static str>,
    /// Further QEMU arguments, appended as given (e.g. `-icount shift=0`).
    pub qemu_args: Vec<&'static str>,
    /// An SD card image (relative to the repository), attached as
    /// `-drive file=...,if=sd,format=raw,snapshot=on`: writes go to a temporary overlay, so
    /// parallel runs share `build/sd.img` and never change it.
    pub drive: Option<&'static str>,
    /// The whole run's time limit when it must be longer than [`RUN_LIMIT`] (a swap workload
    /// that takes most of a minute on an idle host and more on a loaded one).
    pub limit: Option<Duration>,
}

impl Opts {
    pub fn raw(split: &'static str) -> Opts {
        Opts {
            split,
            elf: false,
            append: None,
            dtb: None,
            monitor: None,
            max_order: None,
            features: "",
            initrd: None,
            qemu_args: Vec::new(),
            drive: None,
            limit: None,
        }
    }
    /// A longer limit for the whole run than [`RUN_LIMIT`] (never a shorter one).
    pub fn limit(mut self, limit: Duration) -> Opts {
        self.limit = Some(limit);
        self
    }
    pub fn elf(split: &'static str) -> Opts {
        Opts { elf: true, ..Opts::raw(split) }
    }
    pub fn append(mut self, cmdline: &str) -> Opts {
        self.append = Some(cmdline.to_string());
        self
    }
    /// `-dtb build/raspi2b-mini.dtb`.
    pub fn dtb(self) -> Opts {
        self.dtb_named("raspi2b-mini")
    }
    /// `-dtb build/<name>.dtb`, from `tests/dts/<name>.dts`.
    pub fn dtb_named(mut self, name: &'static str) -> Opts {
        self.dtb = Some(name);
        self
    }
    /// `-initrd build/initramfs.cpio.gz` (the test programs, built by `make initramfs`),
    /// gzip-compressed as Linux's initramfs is.
    pub fn initramfs(mut self) -> Opts {
        self.initrd = Some("build/initramfs.cpio.gz");
        self
    }
    /// `-initrd build/initramfs.cpio`: the same archive uncompressed.
    pub fn initramfs_raw(mut self) -> Opts {
        self.initrd = Some("build/initramfs.cpio");
        self
    }
    /// Boots the kernel built with `make kernel ... MAX_ORDER=order`.
    pub fn max_order(mut self, order: u32) -> Opts {
        self.max_order = Some(order);
        self
    }
    /// Boots the kernel built with `make kernel ... FEATURES=features`.
    pub fn features(mut self, features: &'static str) -> Opts {
        self.features = features;
        self
    }
    /// Attaches `build/sd.img` (built by `make sd-image`) as the SD card.
    pub fn sd_card(mut self) -> Opts {
        self.drive = Some("build/sd.img");
        self
    }
    /// Attaches `build/sd-512M.img` (`make sd-image SD_SIZE=512M`): the same files, 471 MiB of
    /// swap, for a workload that needs the rootfs's pages and many anonymous ones in swap.
    pub fn sd_card_512m(mut self) -> Opts {
        self.drive = Some("build/sd-512M.img");
        self
    }
    /// Appends `args` to QEMU's command line.
    pub fn qemu_args(mut self, args: &[&'static str]) -> Opts {
        self.qemu_args.extend_from_slice(args);
        self
    }
    /// The Makefile's build directory and the command that fills it.
    fn build_dir(&self) -> (String, String) {
        let (mut suffix, mut options) = (String::new(), String::new());
        if let Some(order) = self.max_order {
            suffix += &format!("-order{order}");
            options += &format!(" MAX_ORDER={order}");
        }
        if !self.features.is_empty() {
            suffix += &format!("-{}", self.features.replace(',', "-"));
            options += &format!(" FEATURES={}", self.features);
        }
        let dir = format!("build/{}{suffix}", self.split);
        (dir, format!("make kernel VMSPLIT={}{options}", self.split))
    }
    /// A monitor socket named after `tag`, in /tmp rather than `$TMPDIR` (a Unix socket's
    /// path must stay under about 100 bytes); the run removes it when dropped.
    pub fn monitor(mut self, tag: &str) -> Opts {
        let path = PathBuf::from(format!("/tmp/pivm-{}-{tag}.mon", std::process::id()));
        let _ = std::fs::remove_file(&path);
        self.monitor = Some(path);
        self
    }
}

/// Sends one command to QEMU's human monitor on `socket` and returns what it printed up to
/// the next `(qemu)` prompt, with the monitor's line-editing escapes left out.
pub fn monitor_cmd(socket: &std::path::Path, command: &str) -> String {
    try_monitor_cmd(socket, command).unwrap_or_else(|e| panic!("{e}"))
}

/// [`monitor_cmd`] that reports a socket or reply failure instead of panicking (what a
/// failure report uses, itself inside a failing test).
pub fn try_monitor_cmd(socket: &std::path::Path, command: &str) -> Result<String, String> {
    use std::os::unix::net::UnixStream;
    let mut stream = UnixStream::connect(socket)
        .map_err(|e| format!("monitor socket {}: {e}", socket.display()))?;
    stream.set_read_timeout(Some(STEP)).map_err(|e| e.to_string())?;
    let read_to_prompt = |stream: &mut UnixStream| -> Result<String, String> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"(qemu) ") {
            let n = stream.read(&mut buf).map_err(|e| format!("monitor reply within STEP: {e}"))?;
            if n == 0 {
                return Err(format!("monitor closed: {}", String::from_utf8_lossy(&got)));
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok(String::from_utf8_lossy(&got).into_owned())
    };
    read_to_prompt(&mut stream)?;
    stream.write_all(format!("{command}\n").as_bytes()).map_err(|e| e.to_string())?;
    let reply = read_to_prompt(&mut stream)?;
    // The echo of the command (with its escapes) is the first line.
    Ok(reply.lines().skip(1).filter(|l| !l.starts_with("(qemu)")).collect::<Vec<_>>().join("\n"))
}

/// What a hung 32-bit guest was doing, for a failure report: the CPU's registers twice (a
/// second apart: a loop moves, an idle `wfi` does not) and the 64 words above its stack
/// pointer (return addresses among them name the callers; resolve them with
/// `arm-none-eabi-addr2line -f -e build/<split>/kernel.elf`).
fn guest_state(socket: &std::path::Path) -> String {
    let mut out = String::new();
    for i in 0..2 {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        match try_monitor_cmd(socket, "info registers") {
            // The core registers (the VFP bank that follows says nothing about a hang).
            Ok(r) => {
                for l in r.lines().take_while(|l| !l.starts_with("s00=")) {
                    out += &format!("{l}\n");
                }
            }
            Err(e) => return format!("{out}(monitor: {e})\n"),
        }
    }
    let sp = out.split_whitespace().rev().find_map(|w| w.strip_prefix("R13=")).map(str::to_string);
    if let Some(sp) = sp {
        match try_monitor_cmd(socket, &format!("x /64wx 0x{sp}")) {
            Ok(r) => out += &format!("stack:\n{r}\n"),
            Err(e) => out += &format!("(monitor: {e})\n"),
        }
    }
    out
}

/// A test failure; its `Debug` is the plain message (with the transcript), so `.unwrap()` prints it readably.
pub struct Failure(pub String);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the reader threads collected. `\r\n` is already folded to `\n`.
#[derive(Default)]
struct Log {
    out: Vec<u8>,
    err: Vec<u8>,
    out_cr: bool,
    out_eof: bool,
}

struct Shared {
    log: Mutex<Log>,
    more: Condvar,
}

pub struct Qemu {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    readers: Vec<JoinHandle<()>>,
    deadline: Instant,
    /// When QEMU was started (for a timeout's report of the host's state).
    started: Instant,
    /// How much of QEMU's wait for a host CPU ([`Qemu::starved`]) the deadlines were moved
    /// out by already.
    starved_credited: Duration,
    /// Byte offset in the stdout transcript up to which output has been consumed by `wait_for`/`cmd`.
    cursor: usize,
    cmdline: String,
    status: Option<ExitStatus>,
    /// The monitor socket QEMU was given, removed when the run is dropped.
    monitor: Option<PathBuf>,
}

/// The repository root (where `build/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The arm64 initramfs (`make initramfs ARCH=arm64`).
pub const ARM64_INITRAMFS: &str = "build/arm64/initramfs.cpio.gz";

/// Starts `build/arm64-<va_bits>/kernel8.img` (raw, as the firmware loads it) on raspi3b with
/// the console on stdio and the arm64 initramfs, `extra` appended to QEMU's arguments; it
/// does not wait for anything.
pub fn spawn_arm64(va_bits: u32, extra: &[String]) -> Qemu {
    let image = artifact(
        &format!("build/arm64-{va_bits}/kernel8.img"),
        &format!("make kernel ARCH=arm64 VA_BITS={va_bits}"),
    );
    let initrd = artifact(ARM64_INITRAMFS, "make initramfs ARCH=arm64");
    let board = "-M raspi3b -display none -monitor none -serial stdio -semihosting";
    let mut args: Vec<String> = board.split(' ').map(String::from).collect();
    for (flag, f) in [("-kernel", &image), ("-initrd", &initrd)] {
        args.push(flag.into());
        args.push(f.display().to_string());
    }
    args.extend(extra.iter().cloned());
    Qemu::spawn("qemu-system-aarch64", &args)
}

fn artifact(rel: &str, make: &str) -> PathBuf {
    let path = root().join(rel);
    if !path.is_file() {
        panic!(
            "missing {}: run `{make}` first (or `make test`, which builds everything)",
            path.display()
        );
    }
    path
}

fn run_limit() -> Duration {
    match std::env::var("PIVM_QEMU_TIMEOUT") {
        Ok(s) => Duration::from_secs(s.parse().expect("PIVM_QEMU_TIMEOUT must be seconds")),
        Err(_) => RUN_LIMIT,
    }
}

fn reader(
    mut src: impl Read + Send + 'static,
    shared: Arc<Shared>,
    is_out: bool,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = src.read(&mut buf).unwrap_or(0);
            let mut log = shared.log.lock().unwrap();
            if n == 0 {
                if is_out {
                    if log.out_cr {
                        log.out.push(b'\r');
                        log.out_cr = false;
                    }
                    log.out_eof = true;
                }
                shared.more.notify_all();
                return;
            }
            if is_out {
                for &b in &buf[..n] {
                    // fold "\r\n" into "\n"; a lone '\r' is kept
                    if log.out_cr && b != b'\n' {
                        log.out.push(b'\r');
                    }
                    log.out_cr = b == b'\r';
                    if b != b'\r' {
                        log.out.push(b);
                    }
                }
            } else {
                log.err.extend_from_slice(&buf[..n]);
            }
            shared.more.notify_all();
        }
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    if needle.is_empty() {
        return Some(from);
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// Whole lines of other output an echo may have inside it (a background program's lines
/// written while the command was being echoed) for [`find_echo`] to still recognise it.
const ECHO_INTERRUPTIONS: usize = 4;

/// The end of `echo` (a typed command and its `\n`) at or after `from`, other output in the
/// middle of it or not: the echo begins a line (or follows the prompt, or is at `from`), and
/// wherever the next byte is not the echo's, a whole line of other output (up to and including
/// its `\n`, with no prompt in it) comes first, at most [`ECHO_INTERRUPTIONS`] times. The
/// console echoes each typed byte as it arrives and a program's `write` can land between two
/// of them, as on a Linux tty. A plain search is not enough: it finds the `ps\n` that ends a
/// program's `/proc/swaps\n` after the real echo, whose `p` and `s` a line came between.
pub fn find_echo(hay: &[u8], echo: &[u8], from: usize) -> Option<usize> {
    (from..hay.len())
        .filter(|&k| k == from || hay[k - 1] == b'\n' || hay[..k].ends_with(PROMPT.as_bytes()))
        .find_map(|k| echo_rest(hay, echo, k, 0, 0))
}

/// The end of `echo`'s bytes from `j` on, found at `i` in `hay` with `inserted` lines of other
/// output already inside it (see [`find_echo`]). A byte that is the echo's next one may still
/// begin an inserted line ("p", then "swapstress ...\n", then "s\n": the line starts with the
/// `s` the echo expects), so when going on with the echo fails, the line is tried.
fn echo_rest(hay: &[u8], echo: &[u8], i: usize, j: usize, inserted: usize) -> Option<usize> {
    if j == echo.len() {
        return Some(i);
    }
    let byte = *hay.get(i)?;
    if byte == echo[j] {
        if let Some(end) = echo_rest(hay, echo, i + 1, j + 1, inserted) {
            return Some(end);
        }
    }
    if j == 0 || inserted == ECHO_INTERRUPTIONS {
        return None;
    }
    let nl = hay[i..].iter().position(|&b| b == b'\n')?;
    if find(&hay[i..i + nl], PROMPT.as_bytes(), 0).is_some() {
        return None;
    }
    echo_rest(hay, echo, i + nl + 1, j, inserted + 1)
}

impl Qemu {
    /// Starts QEMU; it does not wait for anything (use `boot_to_prompt` or `wait_for`).
    pub fn boot(opts: Opts) -> Qemu {
        let (dir, how) = opts.build_dir();
        let image = if opts.elf {
            artifact(&format!("{dir}/kernel.elf"), &how)
        } else {
            artifact(&format!("{dir}/kernel7.img"), &how)
        };
        let mut args: Vec<String> =
            ["-M", "raspi2b", "-display", "none", "-serial", "stdio", "-semihosting", "-kernel"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.push(image.display().to_string());
        args.push("-monitor".into());
        args.push(match &opts.monitor {
            Some(path) => format!("unix:{},server,nowait", path.display()),
            None => "none".into(),
        });
        if let Some(a) = &opts.append {
            args.push("-append".into());
            args.push(a.clone());
        }
        if let Some(name) = opts.dtb {
            args.push("-dtb".into());
            args.push(artifact(&format!("build/{name}.dtb"), "make dtb").display().to_string());
        }
        if let Some(path) = opts.initrd {
            args.push("-initrd".into());
            args.push(artifact(path, "make initramfs").display().to_string());
        }
        if let Some(path) = opts.drive {
            let file = artifact(path, "make sd-image").display().to_string();
            args.push("-drive".into());
            args.push(format!("file={file},if=sd,format=raw,snapshot=on"));
        }
        args.extend(opts.qemu_args.iter().map(|a| a.to_string()));
        let mut q = Qemu::spawn("qemu-system-arm", &args);
        if let Some(limit) = opts.limit {
            q.deadline = Instant::now() + limit.max(run_limit());
        }
        q.monitor = opts.monitor;
        q
    }

    /// Starts any program under the harness (used for the non-kernel floor image too).
    pub fn spawn(program: &str, args: &[String]) -> Qemu {
        let quote = |a: &String| {
            if a.contains(|c: char| c.is_whitespace() || c == '"') {
                format!("{a:?}")
            } else {
                a.clone()
            }
        };
        let cmdline = format!("{program} {}", args.iter().map(quote).collect::<Vec<_>>().join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `{cmdline}`: {e} (run scripts/setup.sh to install QEMU)")
            });
        let shared = Arc::new(Shared { log: Mutex::new(Log::default()), more: Condvar::new() });
        let readers = vec![
            reader(child.stdout.take().unwrap(), shared.clone(), true),
            reader(child.stderr.take().unwrap(), shared.clone(), false),
        ];
        Qemu {
            stdin: child.stdin.take(),
            child,
            shared,
            readers,
            deadline: Instant::now() + run_limit(),
            started: Instant::now(),
            starved_credited: Duration::ZERO,
            cursor: 0,
            cmdline,
            status: None,
            monitor: None,
        }
    }

    /// A longer limit for the whole run (never a shorter one), for a run started with
    /// [`Qemu::spawn`], as [`Opts::limit`] gives one started with [`Qemu::boot`].
    pub fn extend_limit(&mut self, limit: Duration) {
        self.deadline = self.deadline.max(Instant::now() + limit);
    }

    /// Boots and waits for the first prompt; returns the boot log.
    pub fn boot_to_prompt(opts: Opts) -> (Qemu, String) {
        let mut q = Qemu::boot(opts);
        let log = q.wait_for(PROMPT, BOOT).unwrap();
        (q, log)
    }

    /// The whole console (stdout) so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.shared.log.lock().unwrap().out).into_owned()
    }

    /// A failure carrying `msg`, the QEMU command and the full transcript (stdout and stderr).
    pub fn failure(&self, msg: &str) -> Failure {
        // A guest still running when a test gives up on it may be hung: what its CPU was
        // doing, when the run has a monitor, and what the kernel says of its tasks (SysRq
        // `t`, whose lines then end the transcript).
        let state = match (&self.monitor, self.status) {
            (Some(socket), None) => {
                let cpu = guest_state(socket);
                self.sysrq(socket, b't');
                format!("======== guest CPU (QEMU monitor) ========\n{cpu}")
            }
            _ => String::new(),
        };
        let log = self.shared.log.lock().unwrap();
        let status = match self.status {
            Some(s) => format!("{s}"),
            None => "still running".into(),
        };
        Failure(format!(
            "{msg}\n  qemu: {}\n  status: {status}\n======== console transcript (stdout) ========\n{}\n======== stderr ========\n{}\n{state}======== end ========",
            self.cmdline,
            String::from_utf8_lossy(&log.out),
            String::from_utf8_lossy(&log.err),
        ))
    }

    /// The monitor socket the run was booted with ([`Opts::monitor`]).
    pub fn monitor_socket(&self) -> Option<&std::path::Path> {
        self.monitor.as_deref()
    }

    /// Magic SysRq `key` on the console: a BREAK through QEMU's monitor on `socket`, then the
    /// key; waits long enough for the kernel's tick to print the answer.
    pub fn sysrq(&self, socket: &std::path::Path, key: u8) {
        if try_monitor_cmd(socket, "chardev-send-break serial0").is_err() {
            return;
        }
        if let Some(mut stdin) = self.stdin.as_ref() {
            let _ = stdin.write_all(&[key]).and_then(|_| stdin.flush());
        }
        std::thread::sleep(Duration::from_millis(1500));
    }

    /// Panics with the transcript.
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{:?}", self.failure(msg))
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits until `needle` appears in the console output after everything consumed so far.
    /// Returns the output from the old cursor up to and including `needle`, and moves the cursor past it.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<String, Failure> {
        let start = self.cursor;
        let end = self.wait_at(needle, start, timeout)?;
        self.cursor = end;
        let log = self.shared.log.lock().unwrap();
        Ok(String::from_utf8_lossy(&log.out[start..end]).into_owned())
    }

    /// Position just past the first `needle` at or after `from`, waiting for it to arrive.
    fn wait_at(&mut self, needle: &str, from: usize, timeout: Duration) -> Result<usize, Failure> {
        self.wait_match(&format!("{needle:?}"), timeout, |hay| {
            find(hay, needle.as_bytes(), from).map(|i| i + needle.len())
        })
    }

    /// Position just past the echo of `command` (typed with `\n`) at or after `from`, with
    /// whole lines of a background program's output inside it if some came while the line was
    /// echoed ([`find_echo`]; never a plain search, which can find the command's bytes at the
    /// end of a word of later output).
    fn wait_echo(
        &mut self,
        command: &str,
        from: usize,
        timeout: Duration,
    ) -> Result<usize, Failure> {
        let echo = format!("{command}\n");
        self.wait_match(&format!("{echo:?}"), timeout, |hay| find_echo(hay, echo.as_bytes(), from))
    }

    /// When a wait of `timeout` ends: at most the run's deadline, except that a step asking
    /// for more than the whole run's limit (a long `memtest`, many scenario seeds) moves the
    /// deadline out to its own end, so each wait stays bounded and none is cut short.
    fn step_deadline(&mut self, timeout: Duration) -> Instant {
        let wanted = Instant::now() + timeout;
        if timeout > run_limit() && wanted > self.deadline {
            self.deadline = wanted;
        }
        wanted.min(self.deadline)
    }

    /// Whether a wait that ends at `until` is over. Time QEMU spent ready to run but waiting
    /// for a host CPU does not count: once `until` has passed, it and the run's deadline move
    /// out by the starvation not yet credited ([`Qemu::starved`]), so a timeout measures how
    /// long the guest could run, not how busy the host was (at load 19 on 2 cores QEMU got 15 s
    /// of CPU in 190 s). A hang still ends the wait: a spinning guest runs, an idle one waits
    /// for no CPU, and neither is credited.
    fn timed_out(&mut self, until: &mut Instant) -> bool {
        if Instant::now() < *until {
            return false;
        }
        let starved = self.starved();
        let credit = starved.saturating_sub(self.starved_credited);
        self.starved_credited = self.starved_credited.max(starved);
        *until += credit;
        self.deadline += credit;
        Instant::now() >= *until
    }

    /// How long QEMU waited for a host CPU while ready to run, since it started: the most any
    /// of its threads (the busiest vCPU's) spent on a run queue, from
    /// `/proc/PID/task/TID/schedstat`'s second field (Linux's `sched_info.run_delay`, in ns),
    /// but never more than the time it did not run at all (the run's length less its CPU
    /// time). The second bound keeps a spinning guest a hang: its vCPU threads wait for each
    /// other on 2 cores, but their CPU time keeps up with the clock. Zero where the host does
    /// not say.
    fn starved(&self) -> Duration {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.child.id())) else {
            return Duration::ZERO;
        };
        let run_delay = |task: std::fs::DirEntry| -> Option<u64> {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            stat.split_whitespace().nth(1)?.parse().ok()
        };
        let queued = Duration::from_nanos(tasks.flatten().filter_map(run_delay).max().unwrap_or(0));
        let Some(cpu) = self.cpu_time() else { return Duration::ZERO };
        queued.min(self.started.elapsed().saturating_sub(cpu))
    }

    /// QEMU's CPU time so far (all its threads), from `/proc/PID/stat`'s utime and stime.
    fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // utime and stime, fields 14 and 15, after the parenthesised command name.
        let ticks: u64 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .sum();
        Some(Duration::from_secs_f64(ticks as f64 / CLOCK_TICKS))
    }

    /// Waits until `matcher` finds what it looks for in the console output; `what` names it
    /// in the failure.
    fn wait_match(
        &mut self,
        what: &str,
        timeout: Duration,
        matcher: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<usize, Failure> {
        let mut until = self.step_deadline(timeout);
        loop {
            {
                let log = self.shared.log.lock().unwrap();
                if let Some(end) = matcher(&log.out) {
                    return Ok(end);
                }
                if !log.out_eof {
                    let _ = self.shared.more.wait_timeout(log, Duration::from_millis(20)).unwrap();
                } else {
                    drop(log);
                    thread::sleep(Duration::from_millis(10));
                }
            }
            if let Some(s) = self.exited() {
                self.drain();
                let log = self.shared.log.lock().unwrap();
                if let Some(end) = matcher(&log.out) {
                    return Ok(end);
                }
                drop(log);
                return Err(self.failure(&format!("QEMU exited ({s}) before printing {what}")));
            }
            if self.timed_out(&mut until) {
                let why =
                    if until == self.deadline { "the overall QEMU time limit" } else { "timeout" };
                let host = self.host_state();
                self.kill();
                return Err(self.failure(&format!(
                    "{why}: {what} did not appear within {timeout:?} ({host})"
                )));
            }
        }
    }

    /// What a timeout's message says about the host, so that it tells a starved QEMU (little
    /// CPU time in a long run, a high load average) from a guest that spun (CPU time close to
    /// the run's length) or sat idle waiting for something that never came (little CPU time,
    /// low load): QEMU's CPU time so far, the run's length and the host's load averages.
    fn host_state(&self) -> String {
        let cpu = self
            .cpu_time()
            .map_or_else(|| "unknown".to_string(), |t| format!("{:.1} s", t.as_secs_f64()));
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        format!(
            "QEMU used {cpu} of CPU in {:.1} s and waited {:.1} s for one; host load average {}",
            self.started.elapsed().as_secs_f64(),
            self.starved().as_secs_f64(),
            load.join(" ")
        )
    }

    /// Waits for the reader threads, so the transcript is complete after the child exited.
    fn drain(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// Writes raw bytes to the serial port.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let res = match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).and_then(|_| s.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = res {
            self.exited();
            self.fail(&format!("cannot write {:?} to QEMU: {e}", String::from_utf8_lossy(bytes)));
        }
    }

    /// Types `text` (nothing appended).
    pub fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    /// Runs one console command: types it with `\n`, waits for its echo and the next prompt, and
    /// returns what it printed in between (without the echoed line and the prompt).
    pub fn cmd(&mut self, command: &str) -> String {
        self.cmd_timeout(command, STEP)
    }

    /// Runs `command` until its output contains `needle` (100 ms apart, for at most [`UNTIL`])
    /// and returns that output. For what follows a signal: `kill` returns once the signal is
    /// sent, and the target dies when it next runs, as on Linux, so a `ps` typed straight
    /// after may still list it. Bounded by time rather than by a count of tries, since each
    /// try takes longer on a loaded host.
    pub fn cmd_until(&mut self, command: &str, needle: &str) -> String {
        let mut until = Instant::now() + UNTIL;
        loop {
            let out = self.cmd(command);
            if out.contains(needle) {
                return out;
            }
            if self.timed_out(&mut until) {
                self.fail(&format!(
                    "`{command}` never printed {needle:?} within {UNTIL:?}; last:\n{out}"
                ))
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn cmd_timeout(&mut self, command: &str, timeout: Duration) -> String {
        self.send(&format!("{command}\n"));
        let from = self.cursor;
        let body = self.wait_echo(command, from, timeout).unwrap();
        let end = self.wait_at(PROMPT, body, timeout).unwrap();
        self.cursor = end;
        let log = self.shared.log.lock().unwrap();
        String::from_utf8_lossy(&log.out[body..end - PROMPT.len()]).into_owned()
    }

    /// Runs a command that succeeds silently (a free, like Linux's); any output fails.
    pub fn cmd_silent(&mut self, command: &str) {
        let out = self.cmd(command);
        if !out.trim().is_empty() {
            self.fail(&format!("`{command}` printed {out:?}"));
        }
    }

    /// Panics (with the transcript) unless `text` contains `needle`; `what` names the text.
    pub fn expect_in(&self, what: &str, text: &str, needle: &str) {
        if !text.contains(needle) {
            self.fail(&format!("{what}: expected {needle:?} in:\n{text}"));
        }
    }

    /// The first line of `text` containing `needle`, or a failure.
    pub fn line_with<'a>(&self, what: &str, text: &'a str, needle: &str) -> &'a str {
        text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| {
            self.fail(&format!("{what}: no line containing {needle:?} in:\n{text}"))
        })
    }

    /// Waits for QEMU to exit by itself and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut until = self.step_deadline(timeout);
        loop {
            if let Some(s) = self.exited() {
                self.drain();
                return s;
            }
            if self.timed_out(&mut until) {
                let host = self.host_state();
                self.kill();
                self.fail(&format!("QEMU did not exit within {timeout:?} (killed it; {host})"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `poweroff`, waits for QEMU to exit and returns the exit status.
    pub fn poweroff(&mut self) -> ExitStatus {
        self.send("poweroff\n");
        self.wait_exit(STEP)
    }

    /// `poweroff`, and the status must be 0 (semihosting SYS_EXIT with ApplicationExit).
    pub fn poweroff_ok(&mut self) {
        let s = self.poweroff();
        if s.code() != Some(0) {
            self.fail(&format!("poweroff: expected exit status 0, got {s}"));
        }
        // No run made a sleepable allocation (or slept) while atomic: `might_sleep`'s report
        // is a kernel bug wherever it appears (a test that provokes it powers off itself).
        if self.transcript().contains("BUG: sleeping function called from invalid context") {
            self.fail("a might_sleep report: something slept or allocated GFP_KERNEL while atomic");
        }
    }

    /// Kills QEMU now (e.g. after an oops, where the kernel halts).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
        self.drain();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(socket) = &self.monitor {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// A /proc/meminfo field in kB, from the text of `cat /proc/meminfo`.
pub fn meminfo_kb(q: &Qemu, meminfo: &str, field: &str) -> u64 {
    let line = q.line_with("/proc/meminfo", meminfo, &format!("{field}:"));
    line[field.len() + 1..]
        .trim()
        .strip_suffix(" kB")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("/proc/meminfo: cannot read {line:?}")))
}

/// Free memory and the reports it was read from, at one point of a test.
pub struct MemSnapshot {
    pub free_kb: u64,
    pub meminfo: String,
    pub slabinfo: String,
    /// Each slab cache after the shrink: its name, the objects allocated and not freed
    /// (`/sys/kernel/slab/C/objects_inuse`) and the kB its slabs hold (slabinfo's
    /// `num_slabs * pagesperslab`). Empty for [`Qemu::memory_snapshot_unshrunk`].
    pub caches: Vec<CacheUse>,
}

/// One slab cache in a [`MemSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheUse {
    pub name: String,
    pub objects_inuse: u64,
    pub slabs: u64,
    pub slab_kb: u64,
}

/// Each cache's `num_slabs` and their kB (`num_slabs * pagesperslab`), from the text of
/// `cat /proc/slabinfo`.
fn slabs_by_cache(q: &Qemu, slabinfo: &str) -> Vec<(String, u64, u64)> {
    slabinfo
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("slabinfo") && !l.starts_with('#'))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| -> u64 {
                w.get(i)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| q.fail(&format!("/proc/slabinfo: cannot read {l:?}")))
            };
            // name active num objsize objperslab pagesperslab : tunables l b s : slabdata
            // active_slabs num_slabs sharedavail
            (w[0].to_string(), num(14), num(14) * num(5) * 4)
        })
        .collect()
}

impl Qemu {
    /// Runs `verify` (every allocator's invariant checks) and fails unless it answers
    /// `verify: ok`; `when` says at which point of the test.
    pub fn verify_ok(&mut self, when: &str) {
        let out = self.cmd("verify");
        if out.trim_end() != "verify: ok" {
            self.fail(&format!("verify {when}: expected \"verify: ok\", got:\n{out}"));
        }
    }

    /// Free memory as the leak checks count it: MemFree plus the per-CPU lists, in kB.
    pub fn free_kb(&mut self) -> u64 {
        self.memory_snapshot().free_kb
    }

    /// [`Qemu::free_kb`] with the `/proc/meminfo` and `/proc/slabinfo` it came from, so that a
    /// leak check that fails can say where the pages went ([`Qemu::assert_nothing_lost`]).
    ///
    /// Every cache in `/proc/slabinfo` is shrunk first (`echo 1 > /sys/kernel/slab/C/shrink`,
    /// 6.1's `kmem_cache_shrink`): SLUB keeps up to `min_partial` empty slabs per cache on
    /// its partial list, and whether a run leaves one there depends on the order its objects
    /// were freed in, so without the shrink a snapshot would count cached empty slabs as lost
    /// pages now and then. After it, both snapshots count only slabs that hold objects: a
    /// leaked object still keeps its slab, and its pages still fail the check.
    pub fn memory_snapshot(&mut self) -> MemSnapshot {
        let caches = self.cmd("cat /proc/slabinfo");
        let names: Vec<String> = caches
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("slabinfo") && !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect();
        if names.is_empty() {
            self.fail("memory_snapshot: no cache in /proc/slabinfo");
        }
        for name in &names {
            self.cmd_silent(&format!("echo 1 > /sys/kernel/slab/{name}/shrink"));
        }
        let mut snap = self.memory_snapshot_unshrunk();
        let slabs = slabs_by_cache(self, &snap.slabinfo);
        for name in names {
            let out = self.cmd(&format!("cat /sys/kernel/slab/{name}/objects_inuse"));
            let objects_inuse = out.trim().parse().unwrap_or_else(|_| {
                self.fail(&format!("{name}/objects_inuse: not a number: {out:?}"))
            });
            let (slabs, slab_kb) =
                slabs.iter().find(|(n, ..)| *n == name).map_or((0, 0), |&(_, s, kb)| (s, kb));
            snap.caches.push(CacheUse { name, objects_inuse, slabs, slab_kb });
        }
        snap
    }

    /// [`Qemu::memory_snapshot`] without shrinking the slab caches first, for the 64-bit
    /// kernel, which has no `/sys` yet: its callers count `Slab` as held memory themselves.
    pub fn memory_snapshot_unshrunk(&mut self) -> MemSnapshot {
        let meminfo = self.cmd("cat /proc/meminfo");
        let slabinfo = self.cmd("cat /proc/slabinfo");
        let free_kb = meminfo_kb(self, &meminfo, "MemFree") + 4 * self.pcp_cached_pages();
        MemSnapshot { free_kb, meminfo, slabinfo, caches: Vec::new() }
    }

    /// Fails unless free memory (as [`Qemu::free_kb`] counts it) is back to `before`, less
    /// `slack_kb` and less the slab pages that hold no more objects than before, and, when
    /// `slack_kb` is 0, every slab cache holds no more objects than `before`; the failure
    /// lists the objects kept and every `/proc/meminfo` and `/proc/slabinfo` line that
    /// changed, then the transcript.
    ///
    /// Objects, not slab pages, are what must come back, as SLUB guarantees: after the shrink
    /// every slab holds an object, but how many slabs the same objects are spread over depends
    /// on the order they were allocated and freed in (the fork bomb's kmalloc-64 objects sat
    /// in 3 slabs or 4 from one build to the next, 110 of them either way). So a cache whose
    /// objects are all back may hold more slab pages, and the slab layer one page of its
    /// `struct slab` table (`SlabMap`'s chunks, which Linux keeps in mem_map) for each such
    /// slab; everything else must be back to the kilobyte.
    pub fn assert_nothing_lost(&mut self, when: &str, before: &MemSnapshot, slack_kb: u64) {
        let after = self.memory_snapshot();
        let mut kept = Vec::new();
        let (mut slab_growth_kb, mut new_slabs) = (0, 0);
        for a in &after.caches {
            let b = before.caches.iter().find(|b| b.name == a.name);
            let (objects, slabs, kb) =
                b.map_or((0, 0, 0), |b| (b.objects_inuse, b.slabs, b.slab_kb));
            if a.objects_inuse > objects {
                kept.push(format!(
                    "{}: {} objects in use, {objects} before",
                    a.name, a.objects_inuse
                ));
            } else if a.slab_kb > kb {
                slab_growth_kb += a.slab_kb - kb;
                new_slabs += a.slabs.saturating_sub(slabs);
            }
        }
        // The slab layer's pages beyond its caches' slabs (its struct slab table and the
        // kmalloc_large blocks): at most one table page more per slab more, and one more
        // besides: a table chunk lives while a slab is in its PFN range (`verify` checks
        // that), so a slab made in a new range while one in an old range went leaves a chunk
        // more with no slab more. A kmalloc_large block is at least 16 KiB, so that one page
        // cannot hide one.
        let cache_kb = |s: &MemSnapshot| s.caches.iter().map(|c| c.slab_kb).sum::<u64>();
        let other_slab_kb = |q: &Qemu, s: &MemSnapshot| {
            meminfo_kb(q, &s.meminfo, "Slab").saturating_sub(cache_kb(s))
        };
        let table_growth_kb = other_slab_kb(self, &after)
            .saturating_sub(other_slab_kb(self, before))
            .min(4 * (new_slabs + 1));
        let allowed_kb = slack_kb + slab_growth_kb + table_growth_kb;
        // With slack (a run that may legitimately keep something, such as a program still
        // running), objects kept only lose their cache's allowance and their pages count
        // against the slack; without, every object must be back.
        if (kept.is_empty() || slack_kb > 0) && after.free_kb + allowed_kb >= before.free_kb {
            return;
        }
        let changed = |a: &str, b: &str| {
            a.lines()
                .zip(b.lines())
                .filter(|(x, y)| x != y)
                .map(|(x, y)| format!("  before: {x}\n  after:  {y}\n"))
                .collect::<String>()
        };
        let msg = format!(
            "pages lost {when}: {} kB free before, {} kB after ({allowed_kb} kB allowed: \
             {slab_growth_kb} kB of slabs and {table_growth_kb} kB of their table holding no \
             more objects, {slack_kb} kB of slack)\nobjects kept: {kept:?}\n/proc/meminfo \
             lines that changed:\n{}/proc/slabinfo lines that changed:\n{}",
            before.free_kb,
            after.free_kb,
            changed(&before.meminfo, &after.meminfo),
            changed(&before.slabinfo, &after.slabinfo),
        );
        self.fail(&msg);
    }

    /// Starts `cmd` in the background (`run CMD &`) and waits up to `timeout` for it to print
    /// `ready`; its pid, from the console's `[PID]` line (printed before the program runs).
    pub fn start_background(&mut self, cmd: &str, ready: &str, timeout: Duration) -> u32 {
        self.send(&format!("run {cmd} &\n"));
        let out = self.wait_for(ready, timeout).unwrap_or_else(|f| panic!("{f:?}"));
        out.lines()
            .find_map(|l| l.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| self.fail(&format!("`run {cmd} &` printed no [PID]: {out:?}")))
    }

    /// Free pages cached on the per-CPU lists (all zones and CPUs of /proc/zoneinfo): free,
    /// but not in MemFree.
    pub fn pcp_cached_pages(&mut self) -> u64 {
        let zi = self.cmd("cat /proc/zoneinfo");
        zi.lines()
            .filter_map(|l| l.trim().strip_prefix("count:"))
            .map(|n| n.trim().parse::<u64>().unwrap_or_else(|_| self.fail(&format!("count {n:?}"))))
            .sum()
    }
}

/// A /proc/vmstat counter.
pub fn vmstat(q: &mut Qemu, name: &str) -> u64 {
    let out = q.cmd("cat /proc/vmstat");
    let tag = format!("{name} ");
    out.lines()
        .find_map(|l| l.strip_prefix(&tag))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| q.fail(&format!("/proc/vmstat: no number for {name}:\n{out}")))
}

/// All `0x...` hex numbers in `text`, in order.
pub fn hex_numbers(text: &str) -> Vec<u64> {
    let mut v = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("0x") {
        let digits: String = rest[i + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        if let Ok(n) = u64::from_str_radix(&digits, 16) {
            v.push(n);
        }
        rest = &rest[i + 2 + digits.len()..];
    }
    v
}

/// `PAGE_OFFSET` of a split, as the build uses it.
pub fn page_offset(split: &str) -> u64 {
    match split {
        "3G" => 0xC000_0000,
        "2G" => 0x8000_0000,
        "1G" => 0x4000_0000,
        _ => panic!("unknown split {split}"),
    }
}

/// The `+MIN/+MAJ` pair after `faults ` in a swaptest line tagged `tag`.
pub fn swaptest_faults(q: &Qemu, text: &str, tag: &str) -> (u64, u64) {
    let line = q.line_with("swaptest", text, tag);
    let f = line.split("faults +").nth(1).unwrap_or("");
    let mut it = f.split(['/', ',', '+']).filter(|s| !s.is_empty());
    let min = it.next().and_then(|s| s.trim().parse().ok());
    let maj = it.next().and_then(|s| s.trim().parse().ok());
    match (min, maj) {
        (Some(a), Some(b)) => (a, b),
        _ => q.fail(&format!("no fault counts in {line:?}")),
    }
}

/// `vmtest entry`'s `minflt=`/`majflt=` at main's entry.
pub fn entry_faults(q: &Qemu, out: &str) -> (u64, u64) {
    let l = q.line_with("vmtest entry", out, "faults at main entry:");
    (number_after(q, l, "minflt="), number_after(q, l, "majflt="))
}

/// The number after `key` (a word, or a prefix such as `minflt=`) in `line`.
pub fn number_after(q: &Qemu, line: &str, key: &str) -> u64 {
    line.split(key)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|w| w.trim_end_matches([',', ';']).parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no number after {key:?} in {line:?}")))
}

/// The console's `iowait` counts: (waits for the card asleep, idle) by programs since boot.
pub fn iowait_counts(q: &mut Qemu) -> (u64, u64) {
    let out = q.cmd("iowait");
    let line = q.line_with("iowait", &out, "iowait: ").to_string();
    (number_after(q, &line, "iowait: "), number_after(q, &line, "asleep, "))
}

/// A `shmswap` phase line's `KEY +N` delta.
pub fn shmswap_delta(q: &Qemu, out: &str, phase: &str, key: &str) -> u64 {
    let line = q.line_with("shmswap", out, &format!("SHMSWAP {phase}:")).to_string();
    if !line.contains(" bad=0 ") {
        q.fail(&format!("shmswap {phase}: words wrong: {line}\n{out}"));
    }
    swapstress_delta(q, &line, key)
}

/// A `kB` value `shmswap` printed from its smaps or status (`KEY:` after its tag).
pub fn shmswap_kb(q: &Qemu, out: &str, key: &str) -> u64 {
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("SHMSWAP smaps ").or(l.strip_prefix("SHMSWAP status ")))
        .collect();
    status_kb(q, "shmswap", &lines.join("\n"), key)
}

/// The `+N` after `key +` in a swapstress phase line.
pub fn swapstress_delta(q: &Qemu, line: &str, key: &str) -> u64 {
    line.split(&format!("{key} +"))
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no {key} in {line:?}")))
}

/// The value in kB of the line starting `key:` in a `/proc/PID/status` or `smaps` text.
pub fn status_kb(q: &Qemu, what: &str, text: &str, key: &str) -> u64 {
    let tag = format!("{key}:");
    let line = text
        .lines()
        .find(|l| l.starts_with(&tag))
        .unwrap_or_else(|| q.fail(&format!("{what}: no {tag} line in:\n{text}")));
    line[tag.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|_| q.fail(&format!("{what}: {line:?}")))
}

/// The column `/proc/PID/maps` pads a name to (`show_vma_header_prefix` + `seq_pad`): 25 +
/// 6 per pointer byte, 49 on 32-bit ARM, 73 on arm64.
pub const fn maps_name_column(pointer_bytes: usize) -> usize {
    25 + 6 * pointer_bytes
}

/// Checks `procself shared-anon`'s output (`out`): the parent saw the bytes its child wrote
/// into two `MAP_SHARED|MAP_ANONYMOUS` pages first touched after the fork (shmem: one page
/// cache for both), the mapping's maps line is Linux's (`rw-s 00000000 00:01 INO` then
/// `/dev/zero (deleted)` at `name_column`), its smaps counts the two pages as shmem
/// (`Rss` 8 kB, `Private_Dirty` 8 kB: tmpfs pages are dirty, the parent alone maps them now,
/// no `Anonymous`), and `/proc/meminfo`'s Shmem grew by the two pages while they were mapped
/// and came back when the mapping went.
pub fn check_shared_anon(q: &Qemu, out: &str, name_column: usize) {
    q.expect_in(
        "procself shared-anon",
        out,
        "SHARED child wrote 0x5a 0xa5, parent sees 0x5a 0xa5: ok\n",
    );
    let line = q.line_with("procself shared-anon", out, "MAPLINE ");
    let line = line.strip_prefix("MAPLINE ").unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    let ok_head = f.len() == 7
        && f[1] == "rw-s"
        && f[2] == "00000000"
        && f[3] == "00:01"
        && f[4].parse::<u64>().is_ok_and(|ino| ino > 1)
        && f[5..] == ["/dev/zero", "(deleted)"];
    let want_at = line.find("/dev/zero").unwrap_or(0);
    if !ok_head || want_at != name_column {
        q.fail(&format!(
            "shared anonymous maps line {line:?}: expected `rw-s 00000000 00:01 INO` and \
             /dev/zero (deleted) at column {name_column}"
        ));
    }
    let smaps = out.split("--- smaps\n").nth(1).unwrap_or("");
    for (key, want) in [("Rss", 8), ("Private_Dirty", 8), ("Shared_Clean", 0), ("Anonymous", 0)] {
        let got = status_kb(q, "shared anonymous smaps", smaps, key);
        if got != want {
            q.fail(&format!("smaps {key}: {got} kB, expected {want} kB in:\n{smaps}"));
        }
    }
    let shmem = |stage: &str| -> u64 {
        let l = q.line_with("procself shared-anon", out, &format!("SHMEM-KB {stage} "));
        l.rsplit(' ').next().and_then(|v| v.trim().parse().ok()).unwrap()
    };
    let (before, touched, unmapped) = (shmem("before"), shmem("touched"), shmem("unmapped"));
    if touched != before + 8 || unmapped != before {
        q.fail(&format!(
            "meminfo Shmem {before} -> {touched} -> {unmapped} kB: expected +8 then back"
        ));
    }
}
