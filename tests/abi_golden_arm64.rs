//! pivm's arm64 ABI tables against the real AArch64 toolchain: every structure pivm encodes
//! (`pivm::abi::arm64::LAYOUTS`) is compiled by `aarch64-linux-gnu-gcc` from the installed
//! Linux 6.1 uapi headers (and `tests/abi/kernel_structs_arm64.h` for what only the kernel
//! declares); the program runs under `qemu-aarch64` and prints the compiler's sizes, alignments
//! and member offsets. The system-call table is compared in both directions with what the
//! installed `asm/unistd.h` defines (through the preprocessor, since the generic header names
//! some numbers through `__NR3264_*`), and the `HWCAP_*` names with `asm/hwcap.h`. Needs the
//! cross compiler and qemu-user (`bash scripts/setup.sh` installs both).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use pivm::abi::arm64::auxv::HWCAP_STR;
use pivm::abi::arm64::unistd::{NR_SYSCALLS, SYSCALL_TABLE};
use pivm::abi::arm64::LAYOUTS;

const CC: &str = "aarch64-linux-gnu-gcc";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abi-golden-arm64");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A C program printing `layout TYPE|size|align` and `field TYPE|NAME|offset|size` for every
/// layout pivm declares.
fn layouts_c() -> String {
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <asm/stat.h>\n#include <linux/stat.h>\n\
         #include <linux/time_types.h>\n#include <linux/resource.h>\n#include <linux/utsname.h>\n\
         #include <linux/uio.h>\n#include <linux/signal.h>\n#include <asm/sigcontext.h>\n\
         #include <asm/termbits.h>\n#include \"kernel_structs_arm64.h\"\nint main(void)\n{\n",
    );
    for l in LAYOUTS {
        let t = l.c_type;
        writeln!(c, "    printf(\"layout {t}|%zu|%zu\\n\", sizeof({t}), _Alignof({t}));").unwrap();
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
    c.push_str("    return 0;\n}\n");
    c
}

#[test]
fn layouts_match_the_toolchain() {
    let dir = out_dir();
    let src = dir.join("layouts.c");
    std::fs::write(&src, layouts_c()).unwrap();
    let bin = dir.join("golden");
    let cc = Command::new(CC)
        .args(["-std=gnu11", "-O1", "-Wall", "-static", "-I"])
        .arg(root().join("tests/abi"))
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {CC} ({e}): run `bash scripts/setup.sh`"));
    assert!(
        cc.status.success(),
        "{CC} failed:\n{}\n--- layouts.c:\n{}",
        String::from_utf8_lossy(&cc.stderr),
        layouts_c()
    );
    let run = Command::new("qemu-aarch64")
        .arg(&bin)
        .output()
        .unwrap_or_else(|e| panic!("cannot run qemu-aarch64 ({e}): run `bash scripts/setup.sh`"));
    assert!(run.status.success(), "golden program failed: {:?}", run.status);
    let out = String::from_utf8_lossy(&run.stdout);
    let mut sizes = BTreeMap::new();
    let mut fields = BTreeMap::new();
    for line in out.lines() {
        let v: Vec<&str> = line.split_once(' ').map_or("", |x| x.1).split('|').collect();
        if line.starts_with("layout ") {
            sizes.insert(v[0].to_string(), (v[1].parse().unwrap(), v[2].parse().unwrap()));
        } else if line.starts_with("field ") {
            fields.insert(
                (v[0].to_string(), v[1].to_string()),
                (v[2].parse::<usize>().unwrap(), v[3].parse::<usize>().unwrap()),
            );
        }
    }
    let mut failures = Vec::new();
    for l in LAYOUTS {
        if sizes.get(l.c_type) != Some(&(l.size, l.align)) {
            failures.push(format!(
                "{}: C (size, align) {:?}, pivm ({}, {})",
                l.c_type,
                sizes.get(l.c_type),
                l.size,
                l.align
            ));
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
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// The values of `__NR_*` (or `HWCAP_*`) macros as the cross compiler's preprocessor
/// resolves them from `header`.
fn macros(header: &str, prefix: &str) -> BTreeMap<String, u64> {
    let dm = Command::new(CC)
        .args(["-dM", "-E", "-x", "c", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(format!("#include <{header}>\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("cannot run {CC} ({e})"));
    let names: Vec<String> = String::from_utf8_lossy(&dm.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix) && !n.contains('('))
        .map(str::to_string)
        .collect();
    let mut src = format!("#include <{header}>\n");
    for n in &names {
        writeln!(src, "PIVM \"{n}\" {n}").unwrap();
    }
    let path = out_dir().join(format!("{}.c", prefix.trim_matches('_')));
    std::fs::write(&path, src).unwrap();
    let pp = Command::new(CC).args(["-E", "-P"]).arg(&path).output().unwrap();
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&pp.stdout).lines() {
        // `PIVM "NAME" value`: the quoted name survives the preprocessor, the value is
        // expanded (a number, or `(1 << n)` / `(1UL << n)` for the HWCAP bits).
        let Some(rest) = line.strip_prefix("PIVM \"") else { continue };
        let Some((name, value)) = rest.split_once("\" ") else { continue };
        let value = value.trim().trim_start_matches('(').trim_end_matches(')');
        let value = value.replace("1UL <<", "1 <<");
        let v = match value.strip_prefix("1 << ") {
            Some(shift) => shift.parse::<u32>().map(|s| 1u64 << s).ok(),
            None => value
                .strip_prefix("0x")
                .map_or_else(|| value.parse().ok(), |h| u64::from_str_radix(h, 16).ok()),
        };
        if let Some(v) = v {
            out.insert(name.to_string(), v);
        }
    }
    out
}

#[test]
fn syscall_table_matches_the_installed_header() {
    let from_header: BTreeMap<u32, String> = macros("asm/unistd.h", "__NR_")
        .into_iter()
        .filter(|(n, _)| n != "__NR_syscalls" && n != "__NR_arch_specific_syscall")
        .filter(|&(_, v)| v < u64::from(NR_SYSCALLS))
        .map(|(n, v)| (v as u32, n.trim_start_matches("__NR_").to_string()))
        .collect();
    let ours: BTreeMap<u32, String> =
        SYSCALL_TABLE.iter().map(|&(n, s)| (n, s.to_string())).collect();
    assert_eq!(ours, from_header);
    assert_eq!(macros("asm/unistd.h", "__NR_syscalls").get("__NR_syscalls"), Some(&451));
}

#[test]
fn hwcap_names_are_the_headers_bits() {
    let bits = macros("asm/hwcap.h", "HWCAP_");
    for (i, name) in HWCAP_STR.iter().enumerate() {
        let macro_name = format!("HWCAP_{}", name.to_uppercase());
        assert_eq!(bits.get(&macro_name), Some(&(1u64 << i)), "{macro_name}");
    }
}

/// Compiles and runs `main` (with `includes`) for AArch64 and returns what it printed.
fn run_c(name: &str, includes: &str, main: &str) -> String {
    let dir = out_dir();
    let src = dir.join(format!("{name}.c"));
    let code = format!("#include <stdio.h>\n#include <string.h>\n{includes}\nint main(void)\n{{\n{main}\n    return 0;\n}}\n");
    std::fs::write(&src, &code).unwrap();
    let bin = dir.join(name);
    let cc = Command::new(CC)
        .args(["-std=gnu11", "-O1", "-Wall", "-static", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {CC} ({e}): run `bash scripts/setup.sh`"));
    assert!(cc.status.success(), "{CC} failed:\n{}\n{code}", String::from_utf8_lossy(&cc.stderr));
    let run = Command::new("qemu-aarch64").arg(&bin).output().unwrap();
    assert!(run.status.success(), "{name} failed: {:?}", run.status);
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// `fstat`/`newfstatat`'s bytes: pivm's `cp_new_stat` of a `struct kstat` against the same
/// attributes stored by the compiler in `struct stat` (`asm/stat.h`), with the devices
/// encoded as the kernel's `new_encode_dev()` does.
#[test]
fn new_stat_bytes_match_the_toolchain() {
    let k = pivm::fs::vfs::Kstat {
        dev: (179, 0x102),
        ino: 0x1_2345_6789,
        mode: 0o100_644,
        nlink: 3,
        uid: 1000,
        gid: 100,
        rdev: (4, 64),
        size: 0x1_0000_0001,
        blksize: 4096,
        blocks: 0x80_0001,
        mtime: 1_700_000_000,
        mnt_id: 1,
        attributes: 0,
        attributes_mask: 0,
    };
    let fill = "    struct stat s;\n    memset(&s, 0, sizeof(s));\n\
        #define ENC(ma, mi) (((mi) & 0xff) | ((ma) << 8) | (((mi) & ~0xff) << 12))\n\
        s.st_dev = ENC(179, 0x102); s.st_ino = 0x123456789UL; s.st_mode = 0100644;\n\
        s.st_nlink = 3; s.st_uid = 1000; s.st_gid = 100; s.st_rdev = ENC(4, 64);\n\
        s.st_size = 0x100000001L; s.st_blksize = 4096; s.st_blocks = 0x800001;\n\
        s.st_atime = s.st_mtime = s.st_ctime = 1700000000;\n\
        for (unsigned i = 0; i < sizeof(s); i++) printf(\"%02x\", ((unsigned char *)&s)[i]);";
    let golden = run_c("stat_bytes", "#include <asm/stat.h>", fill);
    let ours: String =
        pivm::abi::wire::Wire::to_bytes(&k.to_stat()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(ours, golden.trim());
}

/// `__kernel_rt_sigreturn` as pivm writes it against what the cross assembler makes of 6.1's
/// `sigreturn.S` instructions.
#[test]
fn sigreturn_trampoline_matches_the_assembler() {
    use pivm::abi::arm64::vdso::SIGRETURN_CODE;
    let dir = out_dir();
    let (src, obj, bin) =
        (dir.join("sigreturn.S"), dir.join("sigreturn.o"), dir.join("sigreturn.bin"));
    std::fs::write(&src, "\tnop\n__kernel_rt_sigreturn:\n\tmov\tx8, #139\n\tsvc\t#0\n").unwrap();
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    assert!(ok(Command::new("aarch64-linux-gnu-as").arg("-o").arg(&obj).arg(&src)));
    assert!(ok(Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&obj)
        .arg(&bin)));
    let ours: Vec<u8> = SIGRETURN_CODE.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(ours, std::fs::read(&bin).unwrap());
}
