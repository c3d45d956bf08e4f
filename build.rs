//! Build-time configuration: `VMSPLIT` (3G, 2G or 1G) selects PAGE_OFFSET. One value
//! feeds both the linker script (`memory.ld`, INCLUDEd by `linker.ld`) and Rust
//! (`config.rs`, included by `src/config.rs`), so they can never disagree. It also builds the
//! vDSO images (`src/arch/arm/vdso/`, `src/arch/arm64/vdso/`) with the project's cross
//! compilers into `vdso.so` and `vdso64.so`, which the kernels `include_bytes!` (the host
//! tests check the same images).
use std::{env, fs, path::Path, path::PathBuf, process::Command};

/// One architecture's vDSO: where its sources are, the compiler (the one the user programs
/// are built with too; `scripts/setup.sh` installs it), its flags, the image's name in OUT_DIR.
struct VdsoBuild {
    dir: &'static str,
    sources: &'static [&'static str],
    cc_env: &'static str,
    cc: &'static str,
    arch_flags: &'static [&'static str],
    out: &'static str,
}

/// ARMv7's image (`arch::arm::vdso`) and arm64's (`arch::arm64::vdso`).
const VDSOS: [VdsoBuild; 2] = [
    VdsoBuild {
        dir: "src/arch/arm/vdso",
        sources: &["vgettimeofday.c"],
        cc_env: "VDSO_CC",
        cc: "arm-linux-gnueabihf-gcc",
        arch_flags: &["-marm", "-march=armv7-a+fp"],
        out: "vdso.so",
    },
    VdsoBuild {
        dir: "src/arch/arm64/vdso",
        sources: &["vgettimeofday.c", "sigreturn.S"],
        cc_env: "VDSO64_CC",
        cc: "aarch64-linux-gnu-gcc",
        arch_flags: &["-march=armv8-a", "-mgeneral-regs-only"],
        out: "vdso64.so",
    },
];

/// Builds a vDSO shared object into `out/<name>`: position-independent code linked at 0 by
/// `vdso.lds` (soname `linux-vdso.so.1`, the architecture's version node, SysV hash table as
/// Linux's), no C library, no undefined symbols, no relocations. The time functions come from
/// `src/vdso/gettimeofday.h`, shared by both.
fn build_vdso(manifest: &Path, out: &Path, v: &VdsoBuild) {
    let dir = manifest.join(v.dir);
    let sources: Vec<PathBuf> = v.sources.iter().map(|s| dir.join(s)).collect();
    let lds = dir.join("vdso.lds");
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
    }
    println!("cargo:rerun-if-changed={}", lds.display());
    println!("cargo:rerun-if-changed=src/vdso/gettimeofday.h");
    println!("cargo:rerun-if-changed=src/config.rs");
    println!("cargo:rerun-if-env-changed={}", v.cc_env);
    // CONFIG_HZ from src/config.rs: the coarse clocks' resolution is one tick.
    let config = fs::read_to_string(manifest.join("src/config.rs")).unwrap();
    let hz = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("pub const HZ: u64 = "))
        .and_then(|v| v.trim_end_matches(';').trim().parse::<u64>().ok())
        .expect("src/config.rs defines `pub const HZ: u64 = N;`");
    let cc = env::var(v.cc_env).unwrap_or_else(|_| v.cc.to_string());
    let so = out.join(v.out);
    let status = Command::new(&cc)
        .args(["-std=c11", "-O2", "-fPIC", "-ffreestanding"])
        .args(v.arch_flags)
        .args(["-fno-builtin", "-fno-stack-protector", "-fno-asynchronous-unwind-tables"])
        .args(["-fno-unwind-tables", "-Wall", "-Wextra", "-Werror", "-nostdlib", "-shared"])
        .arg(format!("-DHZ={hz}"))
        .args(["-Wl,-soname=linux-vdso.so.1", "-Wl,--hash-style=sysv", "-Wl,-Bsymbolic"])
        .args(["-Wl,--no-undefined", "-Wl,-z,max-page-size=4096", "-Wl,--build-id=none", "-s"])
        .arg(format!("-Wl,-T,{}", lds.display()))
        .arg("-o")
        .arg(&so)
        .args(&sources)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc} to build the vDSO ({e}): run `make setup`"));
    assert!(status.success(), "{cc} failed to build the vDSO ({})", dir.display());
}

fn main() {
    println!("cargo:rerun-if-env-changed=VMSPLIT");
    println!("cargo:rerun-if-env-changed=PIVM_MAX_ORDER");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo::rustc-check-cfg=cfg(kernel)");

    let split = env::var("VMSPLIT").unwrap_or_else(|_| "2G".to_string());
    let page_offset: u64 = match split.as_str() {
        "3G" => 0xC000_0000,
        "2G" => 0x8000_0000,
        "1G" => 0x4000_0000,
        other => panic!("VMSPLIT={other}: expected 3G, 2G or 1G"),
    };
    // Unset or empty (what `make` passes when no MAX_ORDER is asked for): Linux's 11.
    let max_order: u32 = env::var("PIVM_MAX_ORDER")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("PIVM_MAX_ORDER must be a number"))
        .unwrap_or(11);
    // 3 is the least that boots: the slab's map of its slabs (one entry per lowmem page's
    // chunk) needs an order-2 block on the Pi's 960 MiB, which MAX_ORDER 2 (orders 0-1) lacks.
    assert!((3..=16).contains(&max_order), "PIVM_MAX_ORDER must be 3..=16");

    // VA_BITS: the arm64 kernel's address-space size (39: 3 levels, 48: 4 levels, Debian's).
    println!("cargo:rerun-if-env-changed=VA_BITS");
    let va_bits: u32 = env::var("VA_BITS")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("VA_BITS must be a number"))
        .unwrap_or(48);
    assert!(va_bits == 39 || va_bits == 48, "VA_BITS must be 39 or 48");
    // arm64's KIMAGE_VADDR (= MODULES_END = -(1 << (VA_BITS - 1)) + 128 MiB): the arm64
    // linker script links the image there (src/arch/arm64/memory.rs computes the same).
    let kimage_vaddr: u64 = (1u64 << (va_bits - 1)).wrapping_neg() + (128 << 20);

    // The slab's ARCH_DMA_MINALIGN is the architecture's (arch/*/memory.rs asserts the same
    // value): mm/ takes it from here, not from arch/.
    let dma_minalign =
        if env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("aarch64") { 128 } else { 64 };

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(
        out.join("config.rs"),
        format!(
            "/// Kernel virtual base (`CONFIG_PAGE_OFFSET`), from VMSPLIT={split}.\n\
             pub const PAGE_OFFSET: u64 = {page_offset:#x};\n\
             /// The user/kernel split this kernel was built for.\n\
             pub const VMSPLIT: &str = \"{split}\";\n\
             /// Number of buddy free lists (Linux's `MAX_ORDER` before 6.4: orders 0..MAX_ORDER-1).\n\
             pub const MAX_ORDER: usize = {max_order};\n\
             /// The arm64 kernel's VA_BITS (39 or 48).\n\
             pub const VA_BITS: u32 = {va_bits};\n\
             /// The target architecture's `ARCH_DMA_MINALIGN` (64 on ARMv7, 128 on arm64).\n\
             pub const ARCH_DMA_MINALIGN: usize = {dma_minalign};\n"
        ),
    )
    .unwrap();
    fs::write(
        out.join("memory64.ld"),
        format!("/* generated by build.rs from VA_BITS={va_bits} */\nKIMAGE_VADDR = {kimage_vaddr:#x};\n"),
    )
    .unwrap();
    fs::write(
        out.join("memory.ld"),
        format!(
            "/* generated by build.rs from VMSPLIT={split} */\nPAGE_OFFSET = {page_offset:#x};\n"
        ),
    )
    .unwrap();

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    for v in &VDSOS {
        build_vdso(&manifest, &out, v);
    }

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "none" {
        println!("cargo:rustc-cfg=kernel");
        println!("cargo:rustc-link-arg-bins=-L{}", out.display());
        let script = if env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("aarch64") {
            "src/arch/arm64/linker.ld"
        } else {
            "linker.ld"
        };
        println!("cargo:rerun-if-changed={script}");
        println!("cargo:rustc-link-arg-bins=-T{}/{script}", manifest.display());
    }
}
