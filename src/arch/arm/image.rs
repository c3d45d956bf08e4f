//! The kernel image's own boundaries, from the linker script's symbols.

extern "C" {
    static _text: u8;
    static _etext: u8;
    static __start_rodata: u8;
    static __end_rodata: u8;
    static _sdata: u8;
    static _edata: u8;
    static __bss_start: u8;
    static __bss_stop: u8;
    static _end: u8;
}

/// Virtual addresses of the image's parts (ends exclusive).
#[derive(Clone, Copy, Debug)]
pub struct Image {
    pub text: usize,
    pub etext: usize,
    pub start_rodata: usize,
    pub end_rodata: usize,
    pub sdata: usize,
    pub edata: usize,
    pub bss_start: usize,
    pub bss_stop: usize,
    pub end: usize,
}

macro_rules! sym {
    ($s:ident) => {
        // Taking the address of a linker-defined symbol is safe; it is never read.
        core::ptr::addr_of!($s) as usize
    };
}

/// The image's boundaries, from the linker's symbols.
pub fn image() -> Image {
    Image {
        text: sym!(_text),
        etext: sym!(_etext),
        start_rodata: sym!(__start_rodata),
        end_rodata: sym!(__end_rodata),
        sdata: sym!(_sdata),
        edata: sym!(_edata),
        bss_start: sym!(__bss_start),
        bss_stop: sym!(__bss_stop),
        end: sym!(_end),
    }
}
