//! pivm's ABI tables against the real ARM toolchain: every structure pivm encodes
//! (`pivm::abi::arm::LAYOUTS`) is compiled by `arm-linux-gnueabihf-gcc` from the installed
//! Linux 6.1 uapi headers (and `tests/abi/kernel_structs.h` for what only the kernel declares),
//! the program `tests/abi/behaviour.c` runs under `qemu-arm` and prints the compiler's sizes and
//! offsets, glibc's view of the shared structures, glibc's errno names and texts, and checks that
//! the restated kernel structures work with the ABI (rt_sigaction, rt_sigprocmask, the rt signal
//! frame, getdents64). The system-call table is compared with the installed
//! `asm/unistd-eabi.h` in both directions. Needs the cross compiler and qemu-user
//! (`bash scripts/setup.sh` installs both).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use pivm::abi::arm::signal::Ucontext;
use pivm::abi::arm::unistd::{NR_SYSCALLS, SYSCALL_TABLE};
use pivm::abi::arm::LAYOUTS;
use pivm::abi::errno::Errno;
use pivm::abi::generic::DIRENT64_NAME_OFFSET;

const CC: &str = "arm-linux-gnueabihf-gcc";
const UNISTD_EABI: &str = "/usr/arm-linux-gnueabihf/include/asm/unistd-eabi.h";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A C translation unit printing `layout TYPE size align` and `field TYPE NAME offset size`
/// for every layout pivm declares, from the uapi headers.
fn layouts_c() -> String {
    let mut c = String::from(
        "#include <stddef.h>\n#include <asm/stat.h>\n#include <linux/stat.h>\n\
         #include <linux/time_types.h>\n#include <linux/resource.h>\n#include <linux/utsname.h>\n\
         #include <linux/uio.h>\n#include <linux/signal.h>\n#include <asm/sigcontext.h>\n\
         #include <asm/termbits.h>\n#include \"kernel_structs.h\"\n\
         int printf(const char *, ...);\nvoid pivm_layouts(void)\n{\n",
    );
    for l in LAYOUTS {
        let t = l.c_type;
        writeln!(c, "    printf(\"layout {t}|%zu|%zu\\n\", sizeof({t}), _Alignof({t}));").unwrap();
        // kernel_structs.h declares sa_handler as a plain member, which the uapi macro of the
        // same name would rewrite.
        let plain = t == "struct kernel_sigaction";
        if plain {
            c.push_str("#pragma push_macro(\"sa_handler\")\n#undef sa_handler\n");
        }
        for f in l.fields {
            let n = f.name;
            writeln!(
                c,
                "    printf(\"field {t}|{n}|%zu|%zu\\n\", offsetof({t}, {n}), sizeof((({t} *)0)->{n}));"
            )
            .unwrap();
        }
        if plain {
            c.push_str("#pragma pop_macro(\"sa_handler\")\n");
        }
    }
    c.push_str("}\n");
    c
}

fn run_golden() -> String {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abi-golden");
    std::fs::create_dir_all(&out_dir).unwrap();
    let layouts = out_dir.join("layouts.c");
    std::fs::write(&layouts, layouts_c()).unwrap();
    let bin = out_dir.join("golden");
    let abi = root().join("tests/abi");
    let cc = Command::new(CC)
        .args(["-std=gnu11", "-O1", "-Wall", "-static", "-I"])
        .arg(&abi)
        .arg("-o")
        .arg(&bin)
        .arg(&layouts)
        .arg(abi.join("behaviour.c"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {CC} ({e}): run `bash scripts/setup.sh`"));
    assert!(
        cc.status.success(),
        "{CC} failed:\n{}\n--- generated layouts.c:\n{}",
        String::from_utf8_lossy(&cc.stderr),
        layouts_c()
    );
    let run = Command::new("qemu-arm")
        .arg(&bin)
        .current_dir(&out_dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run qemu-arm ({e}): run `bash scripts/setup.sh`"));
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "golden program failed: {:?}\n{out}", run.status);
    out
}

#[test]
fn layouts_errnos_and_behaviour_match_the_toolchain() {
    let out = run_golden();
    let mut failures = Vec::new();
    let mut sizes = BTreeMap::new();
    let mut fields = BTreeMap::new();
    let mut glibc = BTreeMap::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("layout ") {
            let v: Vec<&str> = rest.split('|').collect();
            sizes.insert(
                v[0].to_string(),
                (v[1].parse::<usize>().unwrap(), v[2].parse::<usize>().unwrap()),
            );
        } else if let Some(rest) = line.strip_prefix("field ") {
            let v: Vec<&str> = rest.split('|').collect();
            fields.insert(
                (v[0].to_string(), v[1].to_string()),
                (v[2].parse::<usize>().unwrap(), v[3].parse::<usize>().unwrap()),
            );
        } else if let Some(rest) = line.strip_prefix("glibc ") {
            let v: Vec<&str> = rest.split('|').collect();
            glibc.insert((v[0].to_string(), v[1].to_string()), v[2].parse::<usize>().unwrap());
        } else if let Some(rest) = line.strip_prefix("errno ") {
            let (num, rest) = rest.split_once(' ').unwrap();
            let (name, msg) = rest.split_once(' ').unwrap();
            match Errno::from_code(num.parse().unwrap()) {
                Some(e) if e.name() == name && e.message() == msg => {}
                other => {
                    failures.push(format!("errno {num}: glibc {name} {msg:?}, pivm {other:?}"))
                }
            }
        } else if let Some(rest) = line.strip_prefix("check ") {
            if !rest.contains(" ok ") {
                failures.push(format!("behaviour: {rest}"));
            }
        }
    }
    let errnos = out.lines().filter(|l| l.starts_with("errno ")).count();
    if errnos != Errno::ALL.len() {
        failures.push(format!("glibc names {errnos} errnos, pivm {}", Errno::ALL.len()));
    }
    for l in LAYOUTS {
        match sizes.get(l.c_type) {
            Some(&(size, align)) if size == l.size && align == l.align => {}
            other => failures.push(format!(
                "{}: C (size, align) {other:?}, pivm ({}, {})",
                l.c_type, l.size, l.align
            )),
        }
        for f in l.fields {
            let c = fields.get(&(l.c_type.to_string(), f.name.to_string()));
            if c != Some(&(f.offset, f.size)) {
                failures.push(format!(
                    "{}.{}: C (offset, size) {c:?}, pivm ({}, {})",
                    l.c_type, f.name, f.offset, f.size
                ));
            }
        }
    }
    // glibc's ucontext_t and dirent64 agree with the kernel's structures pivm writes.
    for f in Ucontext::LAYOUT.fields.iter().filter(|f| !f.name.starts_with("__")) {
        let g = glibc.get(&("ucontext_t".to_string(), f.name.to_string()));
        if g != Some(&f.offset) {
            failures.push(format!("glibc ucontext_t.{} at {g:?}, pivm {}", f.name, f.offset));
        }
    }
    if glibc.get(&("ucontext_t".into(), "sizeof".into())) != Some(&Ucontext::LAYOUT.size) {
        failures.push("glibc ucontext_t size".into());
    }
    if glibc.get(&("struct dirent64".into(), "d_name".into())) != Some(&DIRENT64_NAME_OFFSET) {
        failures.push("glibc dirent64.d_name offset".into());
    }
    assert!(out.contains("check frame_vfp_magic ok"), "behaviour checks missing:\n{out}");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn syscall_table_matches_the_installed_header() {
    let header = std::fs::read_to_string(UNISTD_EABI)
        .unwrap_or_else(|e| panic!("{UNISTD_EABI}: {e}: run `bash scripts/setup.sh`"));
    let mut from_header = BTreeMap::new();
    for line in header.lines() {
        let Some(rest) = line.strip_prefix("#define __NR_") else { continue };
        let Some((name, expr)) = rest.split_once(' ') else { continue };
        let Some(num) =
            expr.strip_prefix("(__NR_SYSCALL_BASE + ").and_then(|s| s.strip_suffix(')'))
        else {
            continue;
        };
        let num: u32 = num.parse().unwrap();
        // A newer header may list calls added after 6.1; 6.1's table ends below NR_SYSCALLS.
        if num < NR_SYSCALLS {
            from_header.insert(num, name.to_string());
        }
    }
    let ours: BTreeMap<u32, String> =
        SYSCALL_TABLE.iter().map(|&(n, s)| (n, s.to_string())).collect();
    assert_eq!(ours, from_header);
}
