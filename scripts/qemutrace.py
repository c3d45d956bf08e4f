"""qemutrace - what the profile scripts share: the kernel's symbols, QEMU's monitor socket,
and the attribution of QEMU's `-d exec,nochain` log (one "Trace 0:" line per instruction when
single-stepping) to those symbols."""
import bisect
import socket
import subprocess
import time

PROMPT = b"pivm# "
# Below this every PC is user space on every split (the lowest PAGE_OFFSET is 1G's). On arm64
# a user PC above it (the mmap area, the vDSO) is still below the kernel's first symbol.
USER_TOP = 0x40000000


def symbols(elf, nm="arm-none-eabi-nm"):
    """The ELF's text symbols as two sorted lists: start addresses and names (`nm`: the
    binutils of the ELF's architecture)."""
    out = subprocess.run([nm, "-n", "-C", elf], capture_output=True, text=True,
                         check=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    return addrs, names


def monitor(sock, line):
    """Send one command to the QEMU monitor listening on the unix socket `sock`."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(line.encode() + b"\n")
    time.sleep(0.3)
    s.close()


def traced_pcs(log):
    """Every PC CPU 0 executed, in order, from an `-d exec,nochain` log."""
    with open(log, "rb") as f:
        for line in f:
            if line.startswith(b"Trace 0:"):
                lb = line.find(b"[")
                yield int(line[lb + 1:].split(b"/")[1], 16)


def symbol_of(pc, addrs, names):
    """The kernel symbol a PC lies in, or "[user]"."""
    if pc < USER_TOP or pc < addrs[0]:
        return "[user]"
    return names[bisect.bisect_right(addrs, pc) - 1]
