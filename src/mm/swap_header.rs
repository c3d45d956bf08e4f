//! The first page of a swap area (`union swap_header`, include/linux/swap.h) as 6.1's
//! `read_swap_header` and the bad-page half of `setup_swap_map_and_extents` (mm/swapfile.c)
//! read it: the `SWAPSPACE2` signature in the page's last ten bytes, version 1 (also
//! byte-swapped, as written on a machine of the other endianness), `last_page`, the bad
//! pages. Pure, so the golden and corrupted images are host-tested.
use alloc::string::String;
use alloc::vec::Vec;

/// Bytes of the header: one page.
pub const SWAP_HEADER_SIZE: usize = 4096;
/// The signature and where it sits (`magic.magic`, the last ten bytes of the page).
pub const SWAPSPACE2: &[u8; 10] = b"SWAPSPACE2";
const MAGIC_OFFSET: usize = SWAP_HEADER_SIZE - 10;
/// `info.version`, `info.last_page`, `info.nr_badpages` (after 1024 bytes of `bootbits`).
const VERSION_OFFSET: usize = 1024;
const LAST_PAGE_OFFSET: usize = 1028;
const NR_BADPAGES_OFFSET: usize = 1032;
/// `info.sws_volume` (the label mkswap -L writes).
const VOLUME_OFFSET: usize = 1052;
const VOLUME_LEN: usize = 16;
/// `info.badpages[]`: after the uuid, the volume name and 117 words of padding.
const BADPAGES_OFFSET: usize = 1536;
/// `MAX_SWAP_BADPAGES`: the bad-page list may run up to the signature.
pub const MAX_SWAP_BADPAGES: u32 = ((MAGIC_OFFSET - BADPAGES_OFFSET) / 4) as u32;

/// A header `read_swap_header` accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapHeader {
    /// `last_page` as written (the last usable page's number).
    pub last_page: u32,
    /// `maxpages`: pages of the area the kernel will use, header included (`si->max`).
    pub maxpages: u32,
    /// The bad pages, in the header's order.
    pub badpages: Vec<u32>,
    /// The area was written byte-swapped (`swab32` was applied).
    pub swapped: bool,
    /// The label (`sws_volume`), empty if none.
    pub label: String,
}

/// Why a header was refused: Linux's message (None where 6.1 returns silently) and the
/// errno `sys_swapon` returns (EINVAL for all of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError {
    pub message: Option<String>,
}

impl HeaderError {
    fn msg(s: String) -> Self {
        HeaderError { message: Some(s) }
    }
    const SILENT: HeaderError = HeaderError { message: None };
}

fn word(page: &[u8], off: usize, swapped: bool) -> u32 {
    let b = [page[off], page[off + 1], page[off + 2], page[off + 3]];
    if swapped {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// `read_swap_header` + the bad-page checks of `setup_swap_map_and_extents` for a header
/// `page` (its first 4096 bytes) on a device of `dev_pages` pages (0: unknown). Also the
/// warning 6.1 prints for an area larger than `max_pages` (`max_swapfile_size()`), which it
/// truncates rather than refuses; returned beside the header.
pub fn read_swap_header(
    page: &[u8],
    dev_pages: u64,
    max_pages: u64,
) -> Result<(SwapHeader, Option<String>), HeaderError> {
    if page.len() < SWAP_HEADER_SIZE || &page[MAGIC_OFFSET..SWAP_HEADER_SIZE] != SWAPSPACE2 {
        return Err(HeaderError::msg("Unable to find swap-space signature".into()));
    }
    // The header is little-endian here; a version reading 1 only byte-swapped is a header
    // from a big-endian machine, every field of which is swapped.
    let swapped = word(page, VERSION_OFFSET, false).swap_bytes() == 1;
    let version = word(page, VERSION_OFFSET, swapped);
    let nr_badpages = word(page, NR_BADPAGES_OFFSET, swapped);
    if swapped && nr_badpages > MAX_SWAP_BADPAGES {
        return Err(HeaderError::SILENT);
    }
    if version != 1 {
        return Err(HeaderError::msg(alloc::format!(
            "Unable to handle swap header version {}",
            version as i32
        )));
    }
    let last_page = word(page, LAST_PAGE_OFFSET, swapped);
    if last_page == 0 {
        return Err(HeaderError::msg("Empty swap-file".into()));
    }
    let mut warning = None;
    let mut maxpages = max_pages;
    if u64::from(last_page) > maxpages {
        warning = Some(alloc::format!(
            "Truncating oversized swap area, only using {}k out of {}k",
            maxpages * 4,
            u64::from(last_page) * 4
        ));
    }
    if maxpages > u64::from(last_page) {
        maxpages = u64::from(last_page) + 1;
    }
    if dev_pages != 0 && maxpages > dev_pages {
        return Err(HeaderError::msg("Swap area shorter than signature indicates".into()));
    }
    if nr_badpages > MAX_SWAP_BADPAGES {
        return Err(HeaderError::SILENT);
    }
    let badpages: Vec<u32> =
        (0..nr_badpages as usize).map(|i| word(page, BADPAGES_OFFSET + 4 * i, swapped)).collect();
    // setup_swap_map_and_extents: a bad page must be a usable page number.
    if badpages.iter().any(|&b| b == 0 || b > last_page) {
        return Err(HeaderError::SILENT);
    }
    let bad_in_range = badpages.iter().filter(|&&b| u64::from(b) < maxpages).count() as u64;
    if maxpages <= 1 + bad_in_range {
        return Err(HeaderError::msg("Empty swap-file".into()));
    }
    let vol = &page[VOLUME_OFFSET..VOLUME_OFFSET + VOLUME_LEN];
    let end = vol.iter().position(|&c| c == 0).unwrap_or(VOLUME_LEN);
    let label = String::from_utf8_lossy(&vol[..end]).into_owned();
    Ok((SwapHeader { last_page, maxpages: maxpages as u32, badpages, swapped, label }, warning))
}

/// A header as `mkswap` writes it (version 1, `last_page` = `pages` - 1, no bad pages
/// unless given), for tests and for `mkswap`-less images.
pub fn make_swap_header(pages: u32, badpages: &[u32], label: &str) -> Vec<u8> {
    let mut p = alloc::vec![0u8; SWAP_HEADER_SIZE];
    p[VERSION_OFFSET..VERSION_OFFSET + 4].copy_from_slice(&1u32.to_le_bytes());
    p[LAST_PAGE_OFFSET..LAST_PAGE_OFFSET + 4].copy_from_slice(&(pages - 1).to_le_bytes());
    p[NR_BADPAGES_OFFSET..NR_BADPAGES_OFFSET + 4]
        .copy_from_slice(&(badpages.len() as u32).to_le_bytes());
    for (i, b) in badpages.iter().enumerate() {
        let o = BADPAGES_OFFSET + 4 * i;
        p[o..o + 4].copy_from_slice(&b.to_le_bytes());
    }
    let l = label.as_bytes();
    let n = l.len().min(VOLUME_LEN);
    p[VOLUME_OFFSET..VOLUME_OFFSET + n].copy_from_slice(&l[..n]);
    p[MAGIC_OFFSET..].copy_from_slice(SWAPSPACE2);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1 << 25;

    fn msg(r: Result<(SwapHeader, Option<String>), HeaderError>) -> Option<String> {
        r.err().and_then(|e| e.message)
    }

    #[test]
    fn a_mkswap_header_is_accepted() {
        let p = make_swap_header(5888, &[], "pivmswap");
        let (h, w) = read_swap_header(&p, 5888, MAX).unwrap();
        assert_eq!((h.last_page, h.maxpages, h.swapped, w), (5887, 5888, false, None));
        assert_eq!(h.label, "pivmswap");
    }

    #[test]
    fn the_sd_image_swap_partition_if_built() {
        // build/sd.img's partition 2, made by util-linux mkswap (when installed).
        let Ok(img) = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/build/sd.img")) else {
            return;
        };
        let e = &img[446 + 16..446 + 32];
        let start = u32::from_le_bytes([e[8], e[9], e[10], e[11]]) as usize * 512;
        let sectors = u32::from_le_bytes([e[12], e[13], e[14], e[15]]) as u64;
        if e[4] != 0x82 || &img[start + MAGIC_OFFSET..start + 4096] != SWAPSPACE2 {
            return;
        }
        let (h, _) = read_swap_header(&img[start..start + 4096], sectors / 8, MAX).unwrap();
        assert_eq!(u64::from(h.maxpages), sectors / 8);
        assert!(h.badpages.is_empty() && !h.swapped);
    }

    #[test]
    fn byte_swapped_headers_are_read_swapped() {
        let mut p = make_swap_header(100, &[7], "");
        for o in [VERSION_OFFSET, LAST_PAGE_OFFSET, NR_BADPAGES_OFFSET, BADPAGES_OFFSET] {
            p[o..o + 4].reverse();
        }
        let (h, _) = read_swap_header(&p, 100, MAX).unwrap();
        assert_eq!(
            (h.last_page, h.maxpages, h.badpages.clone(), h.swapped),
            (99, 100, vec![7], true)
        );
    }

    #[test]
    fn corrupted_headers_get_linux_messages() {
        let good = make_swap_header(100, &[], "");
        assert_eq!(
            msg(read_swap_header(&[0u8; 4096], 100, MAX)).as_deref(),
            Some("Unable to find swap-space signature")
        );
        // The signature of an 8 KiB-page machine is not where a 4 KiB page looks.
        let mut other = alloc::vec![0u8; 8192];
        other[8192 - 10..].copy_from_slice(SWAPSPACE2);
        assert!(msg(read_swap_header(&other[..4096], 100, MAX)).unwrap().contains("signature"));
        let mut v2 = good.clone();
        v2[VERSION_OFFSET] = 2;
        assert_eq!(
            msg(read_swap_header(&v2, 100, MAX)).as_deref(),
            Some("Unable to handle swap header version 2")
        );
        let mut empty = good.clone();
        empty[LAST_PAGE_OFFSET..LAST_PAGE_OFFSET + 4].fill(0);
        assert_eq!(msg(read_swap_header(&empty, 100, MAX)).as_deref(), Some("Empty swap-file"));
        assert_eq!(
            msg(read_swap_header(&good, 50, MAX)).as_deref(),
            Some("Swap area shorter than signature indicates")
        );
        // Too small: one usable page, and it is bad.
        let tiny = make_swap_header(2, &[1], "");
        assert_eq!(msg(read_swap_header(&tiny, 2, MAX)).as_deref(), Some("Empty swap-file"));
        // Bad page 0 or past the end, too many bad pages: refused without a message.
        for bad in [0u32, 100] {
            let p = make_swap_header(100, &[bad], "");
            assert_eq!(read_swap_header(&p, 100, MAX).unwrap_err(), HeaderError::SILENT);
        }
        let mut many = good.clone();
        many[NR_BADPAGES_OFFSET..NR_BADPAGES_OFFSET + 4]
            .copy_from_slice(&(MAX_SWAP_BADPAGES + 1).to_le_bytes());
        assert_eq!(read_swap_header(&many, 100, MAX).unwrap_err(), HeaderError::SILENT);
    }

    #[test]
    fn an_oversized_area_is_truncated_with_a_warning() {
        let p = make_swap_header(1000, &[], "");
        let (h, w) = read_swap_header(&p, 0, 500).unwrap();
        assert_eq!(h.maxpages, 500);
        assert_eq!(
            w.as_deref(),
            Some("Truncating oversized swap area, only using 2000k out of 3996k")
        );
    }

    #[test]
    fn max_swap_badpages_is_linux_value() {
        assert_eq!(MAX_SWAP_BADPAGES, 637);
    }
}
