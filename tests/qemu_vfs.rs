//! The file-system calls ordinary programs expect, on pivm: `fstest` (rename, unlink, rmdir
//! and their errors, a working directory per process, an unlinked file kept whole while it is
//! open or mapped) and `pipetest` (capacity, blocking reads and writes between a parent and
//! its child, EOF, EPIPE/SIGPIPE) pass every check they pass on Linux (`user_programs.rs`
//! runs them under qemu-arm), the unlinked file's page-cache pages leave `Cached` and `Shmem`
//! with its last user, and every page comes back when the programs have exited (a second run
//! against the first, which grows the kernel's caches).
mod common;

use common::{Opts, Qemu};
use std::time::Duration;

/// Programs take a few seconds under a loaded host.
const RUN: Duration = Duration::from_secs(90);
/// Pages of fstest's file that is unlinked while in use (`FILE_PAGES` in fstest.c).
const FILE_PAGES: u64 = 64;

fn boot() -> Qemu {
    let (q, _) = Qemu::boot_to_prompt(Opts::raw("2G").initramfs());
    q
}

/// The `field=N` value on fstest's `MEMINFO tag ...` line.
fn meminfo_field(q: &Qemu, out: &str, tag: &str, field: &str) -> u64 {
    let line = q.line_with("fstest", out, &format!("MEMINFO {tag} "));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| q.fail(&format!("no {field} in {line:?}")))
}

#[test]
fn fstest_passes_and_an_unlinked_files_pages_go_with_its_last_user() {
    let mut q = boot();
    // Warm up: the first run grows the kernel's caches (slab, the heap).
    q.cmd_timeout("run /bin/fstest", RUN);
    let free_before = q.free_kb();
    let out = q.cmd_timeout("run /bin/fstest", RUN);
    assert!(!out.contains("FAIL"), "{}", q.transcript());
    q.expect_in("fstest", &out, "fstest: 84 checks, 0 failed\n");
    // The file is in the page cache (tmpfs pages: Cached and Shmem) while it is held, though
    // unlinked, and leaves both when its mappings and descriptor are gone.
    let kb = FILE_PAGES * 4;
    for field in ["Cached", "Shmem"] {
        let before = meminfo_field(&q, &out, "before", field);
        let held = meminfo_field(&q, &out, "held", field);
        let after = meminfo_field(&q, &out, "after", field);
        if held != before + kb || after != before {
            q.fail(&format!("{field}: {before} kB before, {held} held, {after} after"));
        }
    }
    q.verify_ok("after fstest");
    let free_after = q.free_kb();
    if free_after < free_before {
        q.fail(&format!("free memory {free_before} kB before fstest, {free_after} kB after"));
    }
    // Nothing of it is left in /tmp.
    let ls = q.cmd("ls /tmp");
    assert!(!ls.contains("fstest"), "{}", q.transcript());
    q.poweroff_ok();
}

#[test]
fn pipetest_passes_and_its_memory_comes_back() {
    let mut q = boot();
    q.cmd_timeout("run /bin/pipetest", RUN);
    let free_before = q.free_kb();
    let out = q.cmd_timeout("run /bin/pipetest", RUN);
    assert!(!out.contains("FAIL"), "{}", q.transcript());
    q.expect_in("pipetest", &out, "pipetest: 28 checks, 0 failed\n");
    q.verify_ok("after pipetest");
    let free_after = q.free_kb();
    if free_after < free_before {
        q.fail(&format!("free memory {free_before} kB before pipetest, {free_after} kB after"));
    }
    q.poweroff_ok();
}
