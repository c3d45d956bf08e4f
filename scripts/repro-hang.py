#!/usr/bin/env python3
"""Loops qemu_reclaim's several_programs_under_pressure_lose_nothing_2g scenario to catch a
rare console hang: boots the 2G kernel with SMALL_RAM, the card and the initramfs, turns swap
on, starts swapstress -j 2 -m 20 in the background, runs cardmap twice, then polls `ps` until
the job is reported Done. When the console stops answering (no echo or prompt for HANG_S
seconds) it prints the transcript's tail and the guest CPU's state from QEMU's monitor
(registers twice, a second apart, and the stack words) and the kernel's own task list
(Magic SysRq t: a BREAK through the monitor, then t); with KEEP=1 it leaves QEMU running
(with a gdb stub if GDB_PORT is set) for a closer look.

Usage: scripts/repro-hang.py [RUNS] (default 20). Needs `make kernel VMSPLIT=2G`,
`make user initramfs sd-image VMSPLIT=2G` and `make dtb`. Run one at a time.
Environment: HANG_S (default 60), GDB_PORT (-gdb tcp::PORT), KEEP=1 keeps a hung QEMU alive
(what is written to the FIFO /tmp/repro-hang.in is typed to it), QEMU_EXTRA adds arguments
(e.g. "-trace pl011_put_fifo -trace pl011_read_fifo -D /tmp/pl011.log").
"""
import os
import re
import select
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = b"pivm# "
SMALL_RAM = "mem=32M mem=32M@0x08000000"
HANG_S = float(os.environ.get("HANG_S", "60"))
RUN_S = 180.0


class Hang(Exception):
    pass


class Echo:
    """A typed command's echo as tests/common's find_echo recognises it: it begins a line
    or follows the prompt, and up to ECHO_INTERRUPTIONS whole lines of other output (a
    background program's) may come in the middle of it. Unlike a plain search, "ps\n" is
    not found at the end of "/proc/swaps\n"."""

    ECHO_INTERRUPTIONS = 4

    def __init__(self, echo):
        self.echo = echo

    def __repr__(self):
        return f"echo {self.echo!r}"

    def find(self, hay, start):
        """(index, length) of the echo at or after `start`, or (-1, 0)."""
        for k in range(start, len(hay)):
            if not (k == start or hay[k - 1] == 10 or hay[:k].endswith(PROMPT)):
                continue
            end = self.rest(hay, k, 0, 0)
            if end is not None:
                return k, end - k
        return -1, 0

    def rest(self, hay, i, j, inserted):
        """The end of the echo's bytes from `j` on at `i`: each byte is the echo's next one
        or begins a whole other line; both are tried, since such a line may begin with the
        byte the echo expects ("p", "swapstress ...\\n", "s\\n")."""
        echo = self.echo
        if j == len(echo):
            return i
        if i >= len(hay):
            return None
        if hay[i] == echo[j]:
            end = self.rest(hay, i + 1, j + 1, inserted)
            if end is not None:
                return end
        if j == 0 or inserted == self.ECHO_INTERRUPTIONS:
            return None
        nl = hay.find(b"\n", i)
        if nl < 0 or PROMPT in hay[i:nl]:
            return None
        return self.rest(hay, nl + 1, j, inserted + 1)


class Guest:
    def __init__(self, tag):
        self.mon = f"/tmp/pivm-repro-{os.getpid()}-{tag}.mon"
        try:
            os.remove(self.mon)
        except FileNotFoundError:
            pass
        args = [
            "qemu-system-arm", "-M", "raspi2b", "-display", "none", "-serial", "stdio",
            "-semihosting", "-kernel", f"{ROOT}/build/2G/kernel7.img",
            "-monitor", f"unix:{self.mon},server,nowait",
            "-append", SMALL_RAM,
            "-initrd", f"{ROOT}/build/initramfs.cpio.gz",
            "-drive", f"file={ROOT}/build/sd.img,if=sd,format=raw,snapshot=on",
        ]
        args += os.environ.get("QEMU_EXTRA", "").split()
        if os.environ.get("GDB_PORT"):
            args += ["-gdb", f"tcp::{os.environ['GDB_PORT']}"]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.raw = b""
        self.out = b""
        self.cursor = 0

    def pump(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if r:
            data = os.read(self.p.stdout.fileno(), 65536)
            if not data:
                raise Hang("QEMU exited")
            self.raw += data
            self.out = self.raw.replace(b"\r\n", b"\n")

    def wait_for(self, needle, timeout):
        """Waits for `needle` (bytes, or an Echo) after the cursor; a hang is no new
        output for HANG_S seconds (or the whole timeout passing)."""
        start, last_len, last_t = time.time(), len(self.out), time.time()
        while True:
            if isinstance(needle, bytes):
                i = self.out.find(needle, self.cursor)
                n = len(needle)
            else:
                i, n = needle.find(self.out, self.cursor)
            if i >= 0:
                end = i + n
                text = self.out[self.cursor:end]
                self.cursor = end
                return text.decode(errors="replace")
            if len(self.out) != last_len:
                last_len, last_t = len(self.out), time.time()
            if time.time() - last_t > HANG_S:
                raise Hang(f"no output for {HANG_S:.0f} s waiting for {needle!r}")
            if time.time() - start > timeout:
                raise Hang(f"{needle!r} not seen in {timeout:.0f} s (for {time.time() - last_t:.0f} s no output)")
            self.pump(0.5)

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def cmd(self, command, timeout=30.0):
        self.send(command + "\n")
        self.wait_for(Echo(command.encode() + b"\n"), timeout)
        return self.wait_for(PROMPT, timeout)[: -len(PROMPT)]

    def monitor(self, command):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.mon)
        s.settimeout(5)
        buf = b""

        def until_prompt():
            nonlocal buf
            while b"(qemu)" not in buf:
                buf += s.recv(65536)
            text, _, rest = buf.partition(b"(qemu)")
            buf = rest
            return text

        until_prompt()
        s.sendall(command.encode() + b"\n")
        text = until_prompt()
        s.close()
        text = re.sub(rb"\x1b\[[0-9;]*[A-Za-z]", b"", text)
        return text.decode(errors="replace").split("\n", 1)[-1]

    def state(self):
        out = ""
        for i in range(2):
            if i:
                time.sleep(1)
            regs = self.monitor("info registers")
            out += "".join(l + "\n" for l in regs.splitlines() if not l.startswith("s")
                           and not l.startswith("d") and l.strip())
        sp = re.findall(r"R13=([0-9a-f]+)", out)
        if sp:
            out += "stack:\n" + self.monitor(f"x /64wx 0x{sp[-1]}")
        return out

    def kill(self):
        self.p.kill()
        self.p.wait()
        try:
            os.remove(self.mon)
        except FileNotFoundError:
            pass


def scenario(g):
    g.wait_for(PROMPT, 120)
    out = g.cmd("swapon /dev/mmcblk0p2")
    assert "Adding " in out, out
    g.send("run /boot/bin/swapstress -j 2 -m 20 &\n")
    out = g.wait_for(b"swapstress M=20 [2] 20 MiB anonymous", RUN_S)
    pid = next(int(m) for m in re.findall(r"^\s*\[(\d+)\]\s*$", out, re.M))
    for _ in range(2):
        out = g.cmd("run /boot/bin/cardmap -d /boot/data/f16m private 256", RUN_S)
        assert "pattern ok" in out, out
    until = time.time() + RUN_S
    while True:
        ps = g.cmd("ps")
        if f"[{pid}] Done" in ps:
            break
        if any(f"[{pid}] {w}" in ps for w in ("Exit", "Killed", "Segmentation fault")):
            raise AssertionError(f"swapstress failed:\n{ps}")
        if time.time() > until:
            raise AssertionError("swapstress did not finish")
        time.sleep(0.5)
    g.send("poweroff\n")
    g.p.wait(timeout=30)


def relay(g, log):
    """Keeps a hung guest for a closer look: what is written to the FIFO /tmp/repro-hang.in
    is typed to it, and its output keeps going to `log`, until QEMU exits."""
    fifo = "/tmp/repro-hang.in"
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    print(f"QEMU pid {g.p.pid} kept (monitor {g.mon}); type into {fifo}, output in {log}",
          flush=True)
    while g.p.poll() is None:
        r, _, _ = select.select([g.p.stdout, fd], [], [], 1.0)
        if fd in r:
            g.p.stdin.write(os.read(fd, 4096))
            g.p.stdin.flush()
        if g.p.stdout in r:
            data = os.read(g.p.stdout.fileno(), 65536)
            if not data:
                break
            with open(log, "ab") as f:
                f.write(data)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for n in range(1, runs + 1):
        t0 = time.time()
        g = Guest(str(n))
        try:
            scenario(g)
            print(f"run {n}: ok in {time.time() - t0:.1f} s", flush=True)
        except (Hang, AssertionError) as e:
            print(f"run {n}: FAILED after {time.time() - t0:.1f} s: {e}", flush=True)
            log = f"/tmp/repro-hang-{os.getpid()}-{n}.log"
            with open(log, "wb") as f:
                f.write(g.out)
            print(g.out[-3000:].decode(errors="replace"))
            try:
                print("======== guest CPU ========\n" + g.state(), flush=True)
                # Magic SysRq t (a BREAK, then t): the kernel's task list.
                g.monitor("chardev-send-break serial0")
                g.send("t")
                time.sleep(3)
                g.pump(0.5)
                with open(log, "wb") as f:
                    f.write(g.out)
                print(g.out[-4000:].decode(errors="replace"))
            except OSError as e2:
                print(f"(monitor: {e2})")
            print(f"transcript: {log}", flush=True)
            if os.environ.get("KEEP"):
                relay(g, log)
                return 1
            g.kill()
            return 1
        finally:
            if g.p.poll() is None and not os.environ.get("KEEP"):
                g.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
