//! `/proc/vmallocinfo` in Linux 6.1's format (`s_show()` and `show_purge_info()` in
//! mm/vmalloc.c), rendered from the vmap allocator, with real addresses where Linux hashes
//! them to `(ptrval)`; and the line an oops prints about a vmalloc address, which names an
//! area in the same format.
use core::fmt;

use crate::arch::memory::{PHYS_ADDR_HEX_DIGITS, POINTER_HEX_DIGITS};
use crate::mm::vmap::{FaultSite, Symbols, VmFlags, VmapAllocator, VmapArea};

/// Flag words in the order Linux prints them.
const FLAG_WORDS: [(VmFlags, &str); 5] = [
    (VmFlags::VM_IOREMAP, " ioremap"),
    (VmFlags::VM_ALLOC, " vmalloc"),
    (VmFlags::VM_MAP, " vmap"),
    (VmFlags::VM_USERMAP, " user"),
    (VmFlags::VM_DMA_COHERENT, " dma-coherent"),
];

/// `0x%pK-0x%pK %7ld`: the range and its size (guard page included).
fn write_range(w: &mut dyn fmt::Write, start: u64, end: u64) -> fmt::Result {
    let d = POINTER_HEX_DIGITS;
    write!(w, "0x{start:0d$x}-0x{end:0d$x} {:>7}", end - start)
}

/// Writes one live area's line: range, `%pS` caller, `pages=`, `phys=`, flags, `vpages`.
pub fn write_area(w: &mut dyn fmt::Write, a: &VmapArea, syms: &dyn Symbols) -> fmt::Result {
    write_range(w, a.va_start(), a.va_end())?;
    let Some(vm) = a.vm() else {
        return w.write_str(" vm_map_ram\n");
    };
    w.write_char(' ')?;
    vm.caller.write(w, syms)?;
    if vm.nr_pages != 0 {
        write!(w, " pages={}", vm.nr_pages)?;
    }
    // `if (v->phys_addr)`: a zero address is not printed; `%pa` of a 32-bit phys_addr_t.
    if vm.phys_addr != 0 {
        write!(w, " phys=0x{:0d$x}", vm.phys_addr, d = PHYS_ADDR_HEX_DIGITS)?;
    }
    for (flag, word) in FLAG_WORDS {
        if vm.flags.contains(flag) {
            w.write_str(word)?;
        }
    }
    if vm.pages.is_some_and(|p| p.vmalloced) {
        w.write_str(" vpages")?;
    }
    w.write_char('\n')
}

/// Writes one lazily freed, not yet purged range.
pub fn write_unpurged(w: &mut dyn fmt::Write, start: u64, end: u64) -> fmt::Result {
    write_range(w, start, end)?;
    w.write_str(" unpurged vm_area\n")
}

/// The whole file: live areas by address, then, after the last one (as `s_show` does at
/// `list_is_last`), the merged lazily freed ranges by address.
pub fn render(w: &mut dyn fmt::Write, v: &VmapAllocator, syms: &dyn Symbols) -> fmt::Result {
    for a in v.areas() {
        write_area(w, a, syms)?;
    }
    if v.nr_areas() != 0 {
        for (start, end) in v.unpurged() {
            write_unpurged(w, start, end)?;
        }
    }
    Ok(())
}

/// The oops line for a faulting vmalloc address (nothing outside the range): the area it is
/// in or right next to, as its /proc/vmallocinfo line, or that it is in none.
pub fn write_fault_site(
    w: &mut dyn fmt::Write,
    addr: u64,
    site: &FaultSite<'_>,
    syms: &dyn Symbols,
) -> fmt::Result {
    let (place, area) = match *site {
        FaultSite::Outside => return Ok(()),
        FaultSite::Inside(a) => ("inside", a),
        FaultSite::GuardPage(a) => ("in the guard page of", a),
        FaultSite::PastEnd(a) => ("in the page right after", a),
        FaultSite::Before(a) => ("in the page right before", a),
        FaultSite::Unpurged { start, end } => {
            write!(w, "vmalloc: {addr:08x} is in a freed range not yet purged: ")?;
            return write_unpurged(w, start, end);
        }
        FaultSite::Unused => {
            return writeln!(w, "vmalloc: {addr:08x} is not in any vmalloc area");
        }
    };
    write!(w, "vmalloc: {addr:08x} is {place} area ")?;
    write_area(w, area, syms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::vmap::{Caller, PagesArray, TlbFlush};

    const VMALLOC_START: u64 = 0xf080_0000;
    const VMALLOC_END: u64 = 0xff80_0000;
    const PAGE: u64 = 4096;

    /// Symbols for the test: code address 0x1000 + n is `fn<n>+0x0/0x40`.
    struct FakeSyms;

    impl Symbols for FakeSyms {
        fn write_symbol(&self, w: &mut dyn fmt::Write, addr: usize) -> fmt::Result {
            write!(w, "fn{}+0x0/0x40", addr - 0x1000)
        }
    }

    fn no_flush() -> impl TlbFlush {
        |_: u64, _: u64| {}
    }

    fn vmalloc(v: &mut VmapAllocator, size: u64, caller: Caller, pages: u32) -> u64 {
        let a = v.get_vm_area(size, VmFlags::VM_ALLOC, caller, &mut no_flush()).unwrap();
        v.set_nr_pages(a, pages).unwrap();
        a
    }

    /// The sample's line shapes (Linux 6.1 on this board), with real addresses.
    #[test]
    fn reproduces_linux_line_shapes() {
        let mut v = VmapAllocator::new(VMALLOC_START, VMALLOC_END, 1 << 20).unwrap();
        let sk = Caller::Name("start_kernel+0x550/0x748");
        vmalloc(&mut v, 2 * PAGE, sk, 2);
        let t = v
            .get_vm_area(
                2 * PAGE - PAGE,
                VmFlags::VM_IOREMAP,
                "bcm2835_timer_init+0x34/0x1f8".into(),
                &mut no_flush(),
            )
            .unwrap();
        v.update_vm(t, |vm| vm.phys_addr = 0x3f00_3000).unwrap();
        let gone = vmalloc(&mut v, 5 * PAGE, Caller::Code(0x1007), 5);
        let gone2 = vmalloc(&mut v, 3 * PAGE, Caller::Code(0x1007), 3);
        let big = vmalloc(&mut v, 1100 * PAGE, Caller::Code(0x1003), 1100);
        let arr = vmalloc(&mut v, 2 * PAGE, Caller::Code(0x1003), 2);
        v.update_vm(big, |vm| vm.pages = Some(PagesArray { addr: arr, vmalloced: true })).unwrap();
        v.remove_vm_area(gone, &mut no_flush()).unwrap();
        v.remove_vm_area(gone2, &mut no_flush()).unwrap();
        let mut out = String::new();
        render(&mut out, &v, &FakeSyms).unwrap();
        assert_eq!(
            out,
            "\
0xf0800000-0xf0803000   12288 start_kernel+0x550/0x748 pages=2 vmalloc
0xf0803000-0xf0805000    8192 bcm2835_timer_init+0x34/0x1f8 phys=0x3f003000 ioremap
0xf080f000-0xf0c5c000 4509696 fn3+0x0/0x40 pages=1100 vmalloc vpages
0xf0c5c000-0xf0c5f000   12288 fn3+0x0/0x40 pages=2 vmalloc
0xf0805000-0xf080f000   40960 unpurged vm_area
"
        );
    }

    #[test]
    fn all_flag_words_in_linux_order() {
        let mut v = VmapAllocator::new(VMALLOC_START, VMALLOC_END, 0).unwrap();
        let all = VmFlags::VM_IOREMAP
            | VmFlags::VM_ALLOC
            | VmFlags::VM_MAP
            | VmFlags::VM_USERMAP
            | VmFlags::VM_DMA_COHERENT
            | VmFlags::VM_NO_GUARD;
        // An ioremap flag asks for size alignment: one page is aligned anyway.
        v.get_vm_area(PAGE, all, "x".into(), &mut no_flush()).unwrap();
        let mut out = String::new();
        render(&mut out, &v, &FakeSyms).unwrap();
        assert_eq!(out, "0xf0800000-0xf0801000    4096 x ioremap vmalloc vmap user dma-coherent\n");
    }

    #[test]
    fn unpurged_ranges_need_a_live_area_to_follow() {
        // s_show prints the purge list after the last vmap_area: with none, nothing.
        let mut v = VmapAllocator::new(VMALLOC_START, VMALLOC_END, 1 << 20).unwrap();
        let a = vmalloc(&mut v, PAGE, "a".into(), 1);
        v.remove_vm_area(a, &mut no_flush()).unwrap();
        let mut out = String::new();
        render(&mut out, &v, &FakeSyms).unwrap();
        assert_eq!(out, "");
    }

    #[test]
    fn fault_lines_name_only_areas_next_to_the_address() {
        let mut v = VmapAllocator::new(VMALLOC_START, VMALLOC_END, 1 << 20).unwrap();
        let a = vmalloc(&mut v, 2 * PAGE, Caller::Code(0x1001), 2);
        let io = v.get_vm_area(PAGE, VmFlags::VM_IOREMAP, "uart".into(), &mut no_flush()).unwrap();
        v.update_vm(io, |vm| vm.phys_addr = 0x3f20_1000).unwrap();
        fn fault_line(v: &VmapAllocator, addr: u64) -> String {
            let mut s = String::new();
            write_fault_site(&mut s, addr, &v.fault_site(addr), &FakeSyms).unwrap();
            s
        }
        let line = |addr: u64| fault_line(&v, addr);
        assert_eq!(
            line(a + 2 * PAGE + 5),
            "vmalloc: f0802005 is in the guard page of area \
             0xf0800000-0xf0803000   12288 fn1+0x0/0x40 pages=2 vmalloc\n"
        );
        assert_eq!(
            line(io + 2 * PAGE),
            "vmalloc: f0805000 is in the page right after area \
             0xf0803000-0xf0805000    8192 uart phys=0x3f201000 ioremap\n"
        );
        assert_eq!(line(io + 3 * PAGE), "vmalloc: f0806000 is not in any vmalloc area\n");
        assert_eq!(line(VMALLOC_END - 1), "vmalloc: ff7fffff is not in any vmalloc area\n");
        assert_eq!(line(VMALLOC_END), "");
        v.remove_vm_area(io, &mut no_flush()).unwrap();
        assert_eq!(
            fault_line(&v, io),
            "vmalloc: f0803000 is in a freed range not yet purged: \
             0xf0803000-0xf0805000    8192 unpurged vm_area\n"
        );
    }
}
