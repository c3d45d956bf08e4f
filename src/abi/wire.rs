//! User-visible C structures as byte-exact little-endian encoders: the [`Wire`] trait, and the
//! [`abi_struct!`](crate::abi_struct) macro that declares a struct once and derives from that one
//! declaration its Rust type, its encoder and decoder, and its [`Layout`] (the C names, offsets
//! and sizes that the golden test compares with what `arm-linux-gnueabihf-gcc` computes).
//! Padding is written as zeros, as the kernel's `memset` before filling a struct leaves it.
use alloc::vec;
use alloc::vec::Vec;

/// A value with a fixed little-endian wire form of `SIZE` bytes, aligned to `ALIGN` in C.
pub trait Wire: Sized {
    const SIZE: usize;
    const ALIGN: usize;
    /// Writes the value into `out[..SIZE]`.
    fn put(&self, out: &mut [u8]);
    /// Reads a value from `inp[..SIZE]`.
    fn get(inp: &[u8]) -> Self;

    /// The encoded bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![0; Self::SIZE];
        self.put(&mut v);
        v
    }
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            // The ARM EABI aligns every integer to its size (8 for 64-bit ones, unlike i386).
            const ALIGN: usize = core::mem::size_of::<$t>();
            fn put(&self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
            fn get(inp: &[u8]) -> Self {
                let mut b = [0u8; core::mem::size_of::<$t>()];
                b.copy_from_slice(&inp[..Self::SIZE]);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}
wire_int!(u8, u16, u32, u64, i8, i16, i32, i64);

impl<T: Wire, const N: usize> Wire for [T; N] {
    const SIZE: usize = T::SIZE * N;
    const ALIGN: usize = T::ALIGN;
    fn put(&self, out: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.put(&mut out[i * T::SIZE..(i + 1) * T::SIZE]);
        }
    }
    fn get(inp: &[u8]) -> Self {
        core::array::from_fn(|i| T::get(&inp[i * T::SIZE..(i + 1) * T::SIZE]))
    }
}

/// One member of a C struct: its name, offset, size and alignment in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
    pub align: usize,
}

/// A C struct as the compiler lays it out: the type as C spells it, `sizeof`, `_Alignof` and
/// the members.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub c_type: &'static str,
    pub size: usize,
    pub align: usize,
    pub fields: &'static [Field],
}

impl Layout {
    /// The member called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that the members are in offset order, do not overlap, and leave no gap larger
    /// than alignment padding could explain (a member missing from the declaration would).
    pub fn check_tiling(&self) -> Result<(), alloc::string::String> {
        let mut end = 0;
        for f in self.fields {
            if f.offset < end {
                return Err(alloc::format!("{}: {} overlaps", self.c_type, f.name));
            }
            if f.offset - end >= f.align {
                return Err(alloc::format!(
                    "{}: {} bytes unaccounted before {}",
                    self.c_type,
                    f.offset - end,
                    f.name
                ));
            }
            end = f.offset + f.size;
        }
        if end > self.size || self.size - end >= self.align {
            return Err(alloc::format!(
                "{}: {} bytes unaccounted at the end",
                self.c_type,
                self.size - end
            ));
        }
        Ok(())
    }
}

/// Declares a user-visible C struct: `name = "C type", size S, align A { field: Type = offset, ... }`.
/// Generates the struct (public fields), `LAYOUT`, `zeroed()`, and a [`Wire`] impl that zeroes
/// the padding; a compile-time check rejects a member past the end or misaligned.
#[macro_export]
macro_rules! abi_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident = $cname:literal, size $size:literal, align $align:literal {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $off:literal ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name { $( $(#[$fm])* pub $field: $ty, )* }

        impl $name {
            /// The C layout this encoder writes.
            pub const LAYOUT: $crate::abi::wire::Layout = $crate::abi::wire::Layout {
                c_type: $cname,
                size: $size,
                align: $align,
                fields: &[ $( $crate::abi::wire::Field {
                    name: stringify!($field),
                    offset: $off,
                    size: <$ty as $crate::abi::wire::Wire>::SIZE,
                    align: <$ty as $crate::abi::wire::Wire>::ALIGN,
                }, )* ],
            };

            /// Every member zero.
            pub fn zeroed() -> Self {
                <Self as $crate::abi::wire::Wire>::get(&[0u8; $size])
            }
        }

        impl $crate::abi::wire::Wire for $name {
            const SIZE: usize = $size;
            const ALIGN: usize = $align;
            fn put(&self, out: &mut [u8]) {
                out[..$size].fill(0);
                $( <$ty as $crate::abi::wire::Wire>::put(
                    &self.$field,
                    &mut out[$off..$off + <$ty as $crate::abi::wire::Wire>::SIZE],
                ); )*
            }
            fn get(inp: &[u8]) -> Self {
                Self { $( $field: <$ty as $crate::abi::wire::Wire>::get(
                    &inp[$off..$off + <$ty as $crate::abi::wire::Wire>::SIZE],
                ), )* }
            }
        }

        const _: () = {
            $(
                assert!($off + <$ty as $crate::abi::wire::Wire>::SIZE <= $size, "member past the end");
                assert!(($off as usize).is_multiple_of(<$ty as $crate::abi::wire::Wire>::ALIGN), "misaligned member");
            )*
            assert!(($size as usize).is_multiple_of($align), "size not a multiple of the alignment");
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::abi_struct! {
        /// A test struct with padding between members and at the end.
        pub struct Padded = "struct padded", size 24, align 8 {
            a: u8 = 0,
            b: u64 = 8,
            c: [u16; 3] = 16,
        }
    }

    #[test]
    fn encoder_writes_members_little_endian_and_zeroes_padding() {
        let p = Padded { a: 0x11, b: 0x0102_0304_0506_0708, c: [0xaabb, 2, 3] };
        let mut out = [0xffu8; 24];
        p.put(&mut out);
        assert_eq!(
            out,
            [0x11, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0xbb, 0xaa, 2, 0, 3, 0, 0, 0]
        );
        assert_eq!(Padded::get(&out), p);
        assert_eq!(
            Padded::LAYOUT.field("c"),
            Some(&Field { name: "c", offset: 16, size: 6, align: 2 })
        );
        assert!(Padded::LAYOUT.check_tiling().is_ok());
        assert_eq!(Padded::zeroed().b, 0);
    }

    #[test]
    fn tiling_check_finds_a_missing_member() {
        const HOLE: Layout = Layout {
            c_type: "struct hole",
            size: 32,
            align: 4,
            fields: &[
                Field { name: "a", offset: 0, size: 4, align: 4 },
                Field { name: "z", offset: 8, size: 4, align: 4 },
            ],
        };
        assert!(HOLE.check_tiling().unwrap_err().contains("4 bytes unaccounted before z"));
    }
}
