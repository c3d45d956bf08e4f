//! The serial console: the line editor, the type-ahead buffer and argument parsing (pure),
//! printing, the command table and Ctrl-C polling for long commands (kernel only).
pub mod args;
pub mod dd;
pub mod input;
pub mod jobs;
pub mod line;
pub mod ps;

#[cfg(kernel)]
pub mod commands;
#[cfg(kernel)]
pub mod printk;

/// Whether Ctrl-C was typed since the running command started: long loops poll it and stop
/// cleanly (see [`input::interrupted`]).
#[cfg(kernel)]
pub use input::interrupted;

/// A count with its noun, singular for one: `Count(1, "page")` shows `1 page`, `Count(3,
/// "page")` `3 pages` (every noun the console counts takes a plain `s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count<T>(pub T, pub &'static str);

impl<T: core::fmt::Display + PartialEq + From<u8>> core::fmt::Display for Count<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let plural = if self.0 == T::from(1) { "" } else { "s" };
        write!(f, "{} {}{}", self.0, self.1, plural)
    }
}

#[cfg(test)]
mod tests {
    use super::Count;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(Count(0u64, "page").to_string(), "0 pages");
        assert_eq!(Count(1usize, "object").to_string(), "1 object");
        assert_eq!(Count(2u32, "area").to_string(), "2 areas");
    }
}
