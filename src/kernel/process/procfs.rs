//! `/proc` files as a process's `open` sees them: the whole text, read at open time through
//! the live procfs ([`super::procfs_live`]), the same text the console's `cat` prints.
use alloc::vec::Vec;

use crate::mm::mm_types::Errno;

/// The bytes of the `/proc` file at `path`, or `ENOENT`.
pub fn render(path: &str) -> Result<Vec<u8>, Errno> {
    super::procfs_live::read_path(path)
}
