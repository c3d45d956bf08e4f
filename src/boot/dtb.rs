//! Flattened device tree (DTB) hand-over: RAM banks from the `/memory` node(s), the command line
//! from `/chosen/bootargs` and the board name from `/model`, read with the `fdt` crate.
//! This file owns the checks that make a hostile or corrupt blob an error instead of a panic.
use core::fmt;

use fdt::Fdt;

use super::info::{BootInfo, BootSource, MAX_MEM_BANKS};
use crate::mm::PhysAddr;

/// First word of every DTB, stored big-endian.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// `struct fdt_header` of version 17: ten big-endian words.
pub const FDT_HEADER_SIZE: usize = 40;
/// The version whose header has `size_dt_struct` (which the `fdt` crate relies on).
pub const FDT_FIRST_SUPPORTED_VERSION: u32 = 17;
/// Blobs that are not backwards compatible with version 17 are refused (libfdt does the same).
pub const FDT_LAST_SUPPORTED_VERSION: u32 = 17;

/// Structure-block tokens (devicetree specification, section 5.4.1).
const FDT_BEGIN_NODE: u32 = 0x1;
const FDT_END_NODE: u32 = 0x2;
const FDT_PROP: u32 = 0x3;
const FDT_NOP: u32 = 0x4;
const FDT_END: u32 = 0x9;

/// Node nesting accepted; the Pi's trees are 4-5 levels deep, and the `fdt` crate recurses.
pub const FDT_MAX_DEPTH: usize = 32;

/// Header field offsets, in bytes.
const HDR_MAGIC: usize = 0;
const HDR_TOTALSIZE: usize = 4;
const HDR_OFF_DT_STRUCT: usize = 8;
const HDR_OFF_DT_STRINGS: usize = 12;
const HDR_OFF_MEM_RSVMAP: usize = 16;
const HDR_VERSION: usize = 20;
const HDR_LAST_COMP_VERSION: usize = 24;
const HDR_SIZE_DT_STRINGS: usize = 32;
const HDR_SIZE_DT_STRUCT: usize = 36;

/// Why a DTB was rejected. `info` is left untouched when parsing fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// The slice cannot even hold the 40-byte header.
    TooSmall { len: usize },
    /// The first word is not 0xd00dfeed.
    BadMagic { found: u32 },
    /// The header's `totalsize` is larger than the bytes available.
    Truncated { totalsize: u32, available: usize },
    /// A version this parser does not understand.
    BadVersion { version: u32, last_comp_version: u32 },
    /// A header field points outside the blob or is misaligned.
    BadHeader { field: &'static str },
    /// The structure block is not well formed (or uses a shape the `fdt` crate cannot walk).
    BadStructure { offset: usize, what: &'static str },
    /// `/memory` is described with `#address-cells`/`#size-cells` other than 1 or 2.
    UnsupportedCells { address_cells: usize, size_cells: usize },
    /// A `/memory` `reg` property is not a whole number of (address, size) pairs, or wraps.
    BadMemoryReg,
    /// The `fdt` crate refused a blob these checks accepted (should not happen).
    Fdt,
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DtbError::TooSmall { len } => {
                write!(f, "dtb: {len} bytes is too small for an FDT header ({FDT_HEADER_SIZE})")
            }
            DtbError::BadMagic { found } => {
                write!(f, "dtb: bad magic {found:#010x} (expected {FDT_MAGIC:#010x})")
            }
            DtbError::Truncated { totalsize, available } => write!(
                f,
                "dtb: totalsize {totalsize:#x} is larger than the {available:#x} bytes available"
            ),
            DtbError::BadVersion { version, last_comp_version } => write!(
                f,
                "dtb: unsupported version {version} (last compatible {last_comp_version}), need 17"
            ),
            DtbError::BadHeader { field } => {
                write!(f, "dtb: header field {field} points outside the blob")
            }
            DtbError::BadStructure { offset, what } => {
                write!(f, "dtb: malformed structure block at offset {offset:#x}: {what}")
            }
            DtbError::UnsupportedCells { address_cells, size_cells } => write!(
                f,
                "dtb: unsupported #address-cells={address_cells} #size-cells={size_cells} for /memory"
            ),
            DtbError::BadMemoryReg => write!(f, "dtb: malformed /memory reg property"),
            DtbError::Fdt => write!(f, "dtb: the fdt crate rejected the blob"),
        }
    }
}

/// True if the first word at r2, read big-endian, is the DTB magic.
pub fn looks_like_dtb(first_word_be: u32) -> bool {
    first_word_be == FDT_MAGIC
}

/// `totalsize` from the first 8 bytes of a header, so the caller can map exactly the blob.
/// `None` if the magic is wrong or the size cannot even hold a header.
pub fn dtb_total_size(header: &[u8]) -> Option<u32> {
    if be32(header, HDR_MAGIC)? != FDT_MAGIC {
        return None;
    }
    let size = be32(header, HDR_TOTALSIZE)?;
    (size as usize >= FDT_HEADER_SIZE).then_some(size)
}

/// Parses the DTB in `blob` (bytes from `params_phys` on; may extend past the blob) into `info`.
///
/// RAM banks come from the root's children whose `device_type` is "memory" (as in Linux's
/// `early_init_dt_scan_memory`; a node named `memory` without `device_type` is accepted too),
/// skipping disabled ones. On success `info.source` is `DeviceTree` and `params_size` is the
/// header's `totalsize`. No memory node is not an error: `info` then has no banks.
pub fn parse_dtb(blob: &[u8], params_phys: u64, info: &mut BootInfo) -> Result<(), DtbError> {
    let totalsize = check_header(blob)?;
    let blob = &blob[..totalsize];
    let fdt = Fdt::new(blob).map_err(|_| DtbError::Fdt)?;
    let root = fdt.find_node("/").ok_or(DtbError::Fdt)?;

    // Collect everything first so a bad /memory node leaves `info` untouched.
    let mut banks = [(0u64, 0u64); MAX_MEM_BANKS];
    let mut nr_banks = 0;
    let mut bootargs = None;
    let mut initrd = None;
    // `children()` (unlike `find_node`) steps over the NOPs QEMU leaves where it removed the
    // blob's own /memory node, so the root's children are searched by hand.
    for node in root.children() {
        let base_name = node.name.split('@').next().unwrap_or("");
        if base_name == "chosen" {
            bootargs = node.property("bootargs").map(|p| p.value);
            // early_init_dt_check_for_initrd(): one or two cells each.
            let start = node.property("linux,initrd-start").and_then(|p| be_cells(p.value));
            let end = node.property("linux,initrd-end").and_then(|p| be_cells(p.value));
            if let (Some(s), Some(e)) = (start, end) {
                if e > s {
                    initrd = Some((s, e - s));
                }
            }
        } else if is_memory_node(base_name, node.property("device_type").map(|p| p.value))
            && is_available(node.property("status").map(|p| p.value))
        {
            let cells = root.cell_sizes();
            let (address_cells, size_cells) = (cells.address_cells, cells.size_cells);
            if !(1..=2).contains(&address_cells) || !(1..=2).contains(&size_cells) {
                return Err(DtbError::UnsupportedCells { address_cells, size_cells });
            }
            let reg = match node.property("reg") {
                Some(reg) => reg.value,
                None => continue,
            };
            if reg.len() % ((address_cells + size_cells) * 4) != 0 {
                return Err(DtbError::BadMemoryReg);
            }
            for entry in node.raw_reg().into_iter().flatten() {
                let start = be_cells(entry.address).ok_or(DtbError::BadMemoryReg)?;
                let size = be_cells(entry.size).ok_or(DtbError::BadMemoryReg)?;
                if start.checked_add(size).is_none() {
                    return Err(DtbError::BadMemoryReg);
                }
                // Like Linux, banks beyond the table (and empty ones) are ignored.
                if size != 0 && nr_banks < MAX_MEM_BANKS {
                    banks[nr_banks] = (start, size);
                    nr_banks += 1;
                }
            }
        }
    }

    for &(start, size) in &banks[..nr_banks] {
        let _ = info.add_bank(start, size);
    }
    if let Some(args) = bootargs {
        info.set_cmdline(args);
    }
    if let Some((start, size)) = initrd {
        info.initrd = Some(super::info::MemBank { start: PhysAddr(start), size });
    }
    if let Some(model) = root.property("model") {
        info.set_model(model.value);
    }
    info.source = BootSource::DeviceTree;
    info.params_phys = PhysAddr(params_phys);
    info.params_size = totalsize as u64;
    Ok(())
}

/// The root's `#address-cells` / `#size-cells` (Linux's `dt_root_addr_cells` and
/// `dt_root_size_cells`): how `reg`, `size`, `alignment` and `alloc-ranges` are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootCells {
    pub address: usize,
    pub size: usize,
}

impl RootCells {
    /// Bytes of one (address, size) pair.
    pub const fn pair_bytes(&self) -> usize {
        (self.address + self.size) * 4
    }
}

/// The properties of a `/reserved-memory` child that Linux's reserved-memory code reads.
/// Values are raw big-endian cells; flags are true when the property is present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RmemProps<'a> {
    pub reg: Option<&'a [u8]>,
    pub size: Option<&'a [u8]>,
    pub alignment: Option<&'a [u8]>,
    pub alloc_ranges: Option<&'a [u8]>,
    pub no_map: bool,
    pub reusable: bool,
    /// `linux,cma-default`: the default CMA area.
    pub cma_default: bool,
    /// `compatible` lists `shared-dma-pool`.
    pub shared_dma_pool: bool,
}

/// One available child of `/reserved-memory`: its name (with unit address, as
/// `fdt_get_name` gives it) and properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmemNode<'a> {
    pub name: &'a str,
    pub props: RmemProps<'a>,
}

/// What `/reserved-memory` looked like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservedMemoryRoot {
    /// There is no `/reserved-memory` node.
    Absent,
    /// Its `#address-cells`/`#size-cells` differ from the root's, or it has no `ranges`
    /// (Linux's `__reserved_mem_check_root`): its children are ignored.
    Unsupported,
    /// Its available children were passed to the callback.
    Scanned,
}

/// Calls `f` with the root's cells and each available child of `/reserved-memory`, in blob
/// order (Linux's `fdt_scan_reserved_mem` walk). The blob is checked first, like `parse_dtb`.
pub fn scan_reserved_memory<'a>(
    blob: &'a [u8],
    mut f: impl FnMut(RootCells, RmemNode<'a>),
) -> Result<ReservedMemoryRoot, DtbError> {
    let totalsize = check_header(blob)?;
    let blob = &blob[..totalsize];
    let fdt = Fdt::new(blob).map_err(|_| DtbError::Fdt)?;
    let root = fdt.find_node("/").ok_or(DtbError::Fdt)?;
    let cells = root.cell_sizes();
    let cells = RootCells { address: cells.address_cells, size: cells.size_cells };
    if !(1..=2).contains(&cells.address) || !(1..=2).contains(&cells.size) {
        return Err(DtbError::UnsupportedCells {
            address_cells: cells.address,
            size_cells: cells.size,
        });
    }
    let Some(rmem) = root.children().find(|n| n.name == "reserved-memory") else {
        return Ok(ReservedMemoryRoot::Absent);
    };
    let cell = |name| rmem.property(name).and_then(|p| be32(p.value, 0)).map(|v| v as usize);
    let supported = cell("#size-cells") == Some(cells.size)
        && cell("#address-cells") == Some(cells.address)
        && rmem.property("ranges").is_some();
    if !supported {
        return Ok(ReservedMemoryRoot::Unsupported);
    }
    for node in rmem.children() {
        if !is_available(node.property("status").map(|p| p.value)) {
            continue;
        }
        let value = |name| node.property(name).map(|p| p.value);
        let compatible = value("compatible").unwrap_or(&[]);
        let props = RmemProps {
            reg: value("reg"),
            size: value("size"),
            alignment: value("alignment"),
            alloc_ranges: value("alloc-ranges"),
            no_map: value("no-map").is_some(),
            reusable: value("reusable").is_some(),
            cma_default: value("linux,cma-default").is_some(),
            shared_dma_pool: compatible.split(|&b| b == 0).any(|c| c == b"shared-dma-pool"),
        };
        f(cells, RmemNode { name: node.name, props });
    }
    Ok(ReservedMemoryRoot::Scanned)
}

/// Size of one `/memreserve/` entry: a big-endian 64-bit address and size.
const FDT_RESERVE_ENTRY_SIZE: usize = 16;

/// Calls `f(address, size)` for each `/memreserve/` entry of the header's reservation block,
/// up to the first with size 0 (as Linux's loop over `fdt_get_mem_rsv` stops). The entries
/// are read here rather than through the `fdt` crate, whose accessor truncates addresses to
/// the target's pointer width. An entry that runs past the blob is an error.
pub fn for_each_memreserve(blob: &[u8], mut f: impl FnMut(u64, u64)) -> Result<(), DtbError> {
    let totalsize = check_header(blob)?;
    let blob = &blob[..totalsize];
    let mut off =
        be32(blob, HDR_OFF_MEM_RSVMAP).ok_or(DtbError::TooSmall { len: blob.len() })? as usize;
    loop {
        let entry = off
            .checked_add(FDT_RESERVE_ENTRY_SIZE)
            .and_then(|end| blob.get(off..end))
            .ok_or(DtbError::BadHeader { field: "off_mem_rsvmap" })?;
        let address = be_cells(&entry[..8]).unwrap_or(0);
        let size = be_cells(&entry[8..]).unwrap_or(0);
        if size == 0 {
            return Ok(());
        }
        f(address, size);
        off += FDT_RESERVE_ENTRY_SIZE;
    }
}

/// A big-endian number of `cells` cells (1 or 2) at the start of `bytes`, and the rest
/// (Linux's `dt_mem_next_cell`).
pub fn next_cells(bytes: &[u8], cells: usize) -> Option<(u64, &[u8])> {
    let n = cells.checked_mul(4)?;
    Some((be_cells(bytes.get(..n)?)?, &bytes[n..]))
}

/// Linux identifies RAM by `device_type = "memory"`; plain `memory` nodes are accepted too.
fn is_memory_node(base_name: &str, device_type: Option<&[u8]>) -> bool {
    match device_type {
        Some(t) => trim_nul(t) == b"memory",
        None => base_name == "memory",
    }
}

/// A node is usable unless its `status` says otherwise ("okay" and "ok" are both accepted).
fn is_available(status: Option<&[u8]>) -> bool {
    match status {
        Some(s) => matches!(trim_nul(s), b"okay" | b"ok"),
        None => true,
    }
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// A big-endian number of one or two cells.
fn be_cells(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        4 => be32(bytes, 0).map(u64::from),
        8 => Some((u64::from(be32(bytes, 0)?) << 32) | u64::from(be32(bytes, 4)?)),
        _ => None,
    }
}

fn be32(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks the header and the structure block; returns `totalsize`.
fn check_header(blob: &[u8]) -> Result<usize, DtbError> {
    let field = |offset| be32(blob, offset).ok_or(DtbError::TooSmall { len: blob.len() });
    let magic = field(HDR_MAGIC)?;
    if magic != FDT_MAGIC {
        return Err(DtbError::BadMagic { found: magic });
    }
    if blob.len() < FDT_HEADER_SIZE {
        return Err(DtbError::TooSmall { len: blob.len() });
    }
    let totalsize = field(HDR_TOTALSIZE)?;
    if totalsize as usize > blob.len() {
        return Err(DtbError::Truncated { totalsize, available: blob.len() });
    }
    let total = totalsize as usize;
    if total < FDT_HEADER_SIZE {
        return Err(DtbError::BadHeader { field: "totalsize" });
    }
    let version = field(HDR_VERSION)?;
    let last_comp_version = field(HDR_LAST_COMP_VERSION)?;
    if version < FDT_FIRST_SUPPORTED_VERSION || last_comp_version > FDT_LAST_SUPPORTED_VERSION {
        return Err(DtbError::BadVersion { version, last_comp_version });
    }

    // Each block must lie inside the blob, after the header.
    let block = |off_field, size_field: Option<usize>, name, align: usize| {
        let off = field(off_field)? as usize;
        let size = match size_field {
            Some(size_field) => field(size_field)? as usize,
            None => 0,
        };
        let end = off.checked_add(size).ok_or(DtbError::BadHeader { field: name })?;
        if off < FDT_HEADER_SIZE || end > total || !off.is_multiple_of(align) {
            return Err(DtbError::BadHeader { field: name });
        }
        Ok(off..end)
    };
    block(HDR_OFF_MEM_RSVMAP, None, "off_mem_rsvmap", 8)?;
    let strings = block(HDR_OFF_DT_STRINGS, Some(HDR_SIZE_DT_STRINGS), "off_dt_strings", 1)?;
    let structure = block(HDR_OFF_DT_STRUCT, Some(HDR_SIZE_DT_STRUCT), "off_dt_struct", 4)?;
    check_structure(&blob[structure.clone()], &blob[strings], structure.start)?;
    Ok(total)
}

/// Where a node is in its token sequence; decides which tokens may come next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Right after FDT_BEGIN_NODE: properties, children, NOPs or the end.
    Props,
    /// After the first child (or, in the root, a NOP): more children, NOPs or the end.
    Children,
    /// After a NOP in a non-root node: only NOPs or the end.
    Trailing,
}

/// Walks the structure block's tokens without extracting anything, so that the `fdt` crate
/// (which unwraps on malformed input) only ever sees a well-formed tree.
///
/// Besides the specification's rules this enforces what `fdt` 0.1.5 can walk: NOP tokens only
/// between the root's children (where QEMU and libfdt's `fdt_nop_node` leave them) or just
/// before a node's FDT_END_NODE, and `#address-cells`/`#size-cells` exactly one cell.
fn check_structure(block: &[u8], strings: &[u8], base: usize) -> Result<(), DtbError> {
    let bad = |pos: usize, what| DtbError::BadStructure { offset: base + pos, what };
    let mut phase = [Phase::Props; FDT_MAX_DEPTH + 1];
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut pos = 0usize;
    loop {
        let token = be32(block, pos).ok_or(bad(pos, "missing FDT_END"))?;
        let here = pos;
        pos += 4;
        match token {
            FDT_BEGIN_NODE => {
                if depth == 0 && seen_root {
                    return Err(bad(here, "second root node"));
                }
                if depth > 0 && phase[depth] == Phase::Trailing {
                    return Err(bad(here, "node after a NOP inside a node"));
                }
                if depth == FDT_MAX_DEPTH {
                    return Err(bad(here, "nodes nested too deeply"));
                }
                let name = cstr(block, pos).ok_or(bad(pos, "unterminated node name"))?;
                if core::str::from_utf8(name).is_err() {
                    return Err(bad(pos, "node name is not UTF-8"));
                }
                if depth == 0 && !name.is_empty() {
                    return Err(bad(pos, "root node has a name"));
                }
                pos = align4(pos + name.len() + 1);
                if depth > 0 {
                    phase[depth] = Phase::Children;
                }
                depth += 1;
                phase[depth] = Phase::Props;
                seen_root = true;
            }
            FDT_END_NODE => {
                if depth == 0 {
                    return Err(bad(here, "FDT_END_NODE without a node"));
                }
                depth -= 1;
            }
            FDT_PROP => {
                if depth == 0 || phase[depth] != Phase::Props {
                    return Err(bad(here, "property outside a node's property list"));
                }
                let len = be32(block, pos).ok_or(bad(pos, "truncated property"))? as usize;
                let nameoff = be32(block, pos + 4).ok_or(bad(pos, "truncated property"))?;
                let value_end = (pos + 8)
                    .checked_add(len)
                    .filter(|&end| end <= block.len())
                    .ok_or(bad(here, "property value runs past the block"))?;
                let name = strings
                    .get(nameoff as usize..)
                    .and_then(|s| cstr(s, 0))
                    .ok_or(bad(here, "property name outside the strings block"))?;
                let name =
                    core::str::from_utf8(name).map_err(|_| bad(here, "bad property name"))?;
                if (name == "#address-cells" || name == "#size-cells") && len != 4 {
                    return Err(bad(here, "#address-cells/#size-cells must be one cell"));
                }
                pos = align4(value_end);
            }
            FDT_NOP => match depth {
                0 => {}
                1 => phase[1] = Phase::Children,
                d => phase[d] = Phase::Trailing,
            },
            FDT_END => {
                if !seen_root || depth != 0 {
                    return Err(bad(here, "FDT_END inside a node"));
                }
                return Ok(());
            }
            _ => return Err(bad(here, "unknown token")),
        }
    }
}

/// The NUL-terminated string at `pos` (without the NUL).
fn cstr(bytes: &[u8], pos: usize) -> Option<&[u8]> {
    let rest = bytes.get(pos..)?;
    let len = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..len])
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    const MINI_DTS: &str = include_str!("../../tests/dts/raspi2b-mini.dts");
    const DTB_PHYS: u64 = 0x0800_0000;

    /// Compiles DTS source with the system's `dtc` (package device-tree-compiler).
    pub(crate) fn dtc(source: &str) -> Vec<u8> {
        let mut child = Command::new("dtc")
            .args(["-q", "-I", "dts", "-O", "dtb", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`dtc` not found: install it with `apt-get install device-tree-compiler`");
        child.stdin.take().unwrap().write_all(source.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "dtc failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn mini() -> Vec<u8> {
        dtc(MINI_DTS)
    }

    /// The mini tree with its memory node replaced by `memory_nodes`.
    fn with_memory(memory_nodes: &str) -> Vec<u8> {
        let start = MINI_DTS.find("\tmemory@0 {").unwrap();
        let end = start + MINI_DTS[start..].find("};").unwrap() + 2;
        dtc(&format!("{}{}{}", &MINI_DTS[..start], memory_nodes, &MINI_DTS[end..]))
    }

    fn parse(blob: &[u8]) -> Result<BootInfo, DtbError> {
        let mut info = BootInfo::new();
        parse_dtb(blob, DTB_PHYS, &mut info).map(|()| info)
    }

    fn banks(info: &BootInfo) -> Vec<(u64, u64)> {
        info.banks().iter().map(|b| (b.start.0, b.size)).collect()
    }

    fn set_be32(blob: &mut [u8], offset: usize, value: u32) {
        blob[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// Overwrites the node `name` (a child of the root) with NOP tokens, as QEMU's
    /// `qemu_fdt_nop_node` does to the blob's own /memory node.
    fn nop_node(blob: &mut [u8], name: &str) {
        let s = be32(blob, HDR_OFF_DT_STRUCT).unwrap() as usize;
        let mut pattern = FDT_BEGIN_NODE.to_be_bytes().to_vec();
        pattern.extend_from_slice(name.as_bytes());
        pattern.push(0);
        let start = s + blob[s..].windows(pattern.len()).position(|w| w == pattern).unwrap();
        let mut pos = align4(start + pattern.len());
        let mut depth = 1;
        while depth > 0 {
            match be32(blob, pos).unwrap() {
                FDT_BEGIN_NODE => {
                    depth += 1;
                    pos = align4(pos + 4 + cstr(blob, pos + 4).unwrap().len() + 1);
                }
                FDT_END_NODE => {
                    depth -= 1;
                    pos += 4;
                }
                FDT_PROP => pos = align4(pos + 12 + be32(blob, pos + 4).unwrap() as usize),
                _ => pos += 4,
            }
        }
        for off in (start..pos).step_by(4) {
            set_be32(blob, off, FDT_NOP);
        }
    }

    #[test]
    fn mini_tree_memory_bootargs_model() {
        let blob = mini();
        let info = parse(&blob).unwrap();
        assert_eq!(info.source, BootSource::DeviceTree);
        assert_eq!(info.params_phys, PhysAddr(DTB_PHYS));
        assert_eq!(info.params_size, blob.len() as u64);
        assert_eq!(banks(&info), [(0, 0x3c00_0000)]);
        assert_eq!(info.cmdline_bytes(), b"console=ttyAMA0 dtb=yes");
        assert_eq!(info.model().to_string(), "Raspberry Pi 2 Model B");
    }

    #[test]
    fn padded_blob_reports_totalsize_not_slice_length() {
        let mut blob = mini();
        let len = blob.len();
        blob.resize(len + 4096, 0xff);
        assert_eq!(parse(&blob).unwrap().params_size, len as u64);
        assert_eq!(dtb_total_size(&blob[..8]), Some(len as u32));
    }

    #[test]
    fn two_banks_in_one_reg() {
        let blob = with_memory(
            "\tmemory@0 {\n device_type = \"memory\";\n\
             reg = <0x0 0x20000000 0x30000000 0x0c000000>;\n};",
        );
        assert_eq!(banks(&parse(&blob).unwrap()), [(0, 0x2000_0000), (0x3000_0000, 0x0c00_0000)]);
    }

    #[test]
    fn two_memory_nodes_and_a_disabled_one() {
        let blob = with_memory(
            "\tmemory@0 { device_type = \"memory\"; reg = <0x0 0x10000000>; };\n\
             memory@20000000 { device_type = \"memory\"; reg = <0x20000000 0x1c000000>; };\n\
             memory@10000000 { device_type = \"memory\"; status = \"disabled\";\n\
             reg = <0x10000000 0x1000>; };\n\
             memory@12000000 { device_type = \"memory\"; reg = <0x12000000 0x0>; };\n",
        );
        assert_eq!(banks(&parse(&blob).unwrap()), [(0, 0x1000_0000), (0x2000_0000, 0x1c00_0000)]);
    }

    #[test]
    fn two_cell_addresses_and_sizes() {
        let src = MINI_DTS
            .replacen(
                "#address-cells = <1>;\n\t#size-cells = <1>;",
                "#address-cells = <2>;\n\t#size-cells = <2>;",
                1,
            )
            .replace(
                "reg = <0x0 0x3c000000>;",
                "reg = <0x0 0x0 0x0 0x3c000000 0x1 0x0 0x0 0x40000000>;",
            );
        assert_ne!(src, MINI_DTS);
        let info = parse(&dtc(&src)).unwrap();
        assert_eq!(banks(&info), [(0, 0x3c00_0000), (0x1_0000_0000, 0x4000_0000)]);
    }

    #[test]
    fn unsupported_cells_and_bad_reg() {
        let src = MINI_DTS
            .replacen("#size-cells = <1>;", "#size-cells = <0>;", 1)
            .replace("reg = <0x0 0x3c000000>;", "reg = <0x0>;");
        assert_eq!(
            parse(&dtc(&src)).unwrap_err(),
            DtbError::UnsupportedCells { address_cells: 1, size_cells: 0 }
        );
        let blob =
            with_memory("\tmemory@0 { device_type = \"memory\"; reg = <0x0 0x1000 0x2000>; };");
        assert_eq!(parse(&blob).unwrap_err(), DtbError::BadMemoryReg);
    }

    #[test]
    fn no_memory_and_no_chosen_is_fine() {
        let src = MINI_DTS.replace("bootargs = \"console=ttyAMA0 dtb=yes\";", "");
        let start = src.find("\tmemory@0 {").unwrap();
        let end = start + src[start..].find("};").unwrap() + 2;
        let info = parse(&dtc(&format!("{}{}", &src[..start], &src[end..]))).unwrap();
        assert_eq!(info.banks().len(), 0);
        assert_eq!(info.cmdline_bytes(), b"");
        assert_eq!(info.model().to_string(), "Raspberry Pi 2 Model B");
    }

    /// QEMU's raspi2b NOPs out the blob's own /memory node and inserts its own right after the
    /// root's properties, so NOPs sit between the root's children, here before /chosen.
    #[test]
    fn qemu_style_nopped_node_between_children() {
        let head_end = MINI_DTS.find("\tchosen {").unwrap();
        let tail_start = MINI_DTS.find("\tsoc {").unwrap();
        let src = format!(
            "{}\tmemory@0 {{ device_type = \"memory\"; reg = <0x0 0x3c000000>; }};\n\
             \tmemory@1000 {{ device_type = \"memory\"; reg = <0x0 0x1000>; }};\n\
             \tchosen {{ bootargs = \"from qemu\"; }};\n{}",
            &MINI_DTS[..head_end],
            &MINI_DTS[tail_start..]
        );
        let mut blob = dtc(&src);
        nop_node(&mut blob, "memory@1000");
        let info = parse(&blob).unwrap();
        assert_eq!(banks(&info), [(0, 0x3c00_0000)]);
        assert_eq!(info.cmdline_bytes(), b"from qemu");
        assert_eq!(info.model().to_string(), "Raspberry Pi 2 Model B");
    }

    #[test]
    fn nops_inside_a_nested_node_are_rejected_not_a_panic() {
        let mut blob = dtc(&MINI_DTS.replace(
            "\t\tserial@7e201000 {",
            "\t\tgpio@7e200000 { reg = <0x7e200000 0xb4>; };\n\t\tserial@7e201000 {",
        ));
        nop_node(&mut blob, "gpio@7e200000");
        let err = parse(&blob).unwrap_err();
        assert!(
            matches!(err, DtbError::BadStructure { what: "node after a NOP inside a node", .. }),
            "{err}"
        );
    }

    #[test]
    fn bad_magic() {
        let mut blob = mini();
        blob[0] = 0xde;
        assert_eq!(parse(&blob).unwrap_err(), DtbError::BadMagic { found: 0xde0d_feed });
        assert_eq!(dtb_total_size(&blob), None);
        assert!(!looks_like_dtb(0xde0d_feed));
        assert!(looks_like_dtb(u32::from_be_bytes([0xd0, 0x0d, 0xfe, 0xed])));
    }

    #[test]
    fn truncated_blob() {
        let blob = mini();
        assert_eq!(parse(&blob[..2]).unwrap_err(), DtbError::TooSmall { len: 2 });
        assert_eq!(parse(&blob[..20]).unwrap_err(), DtbError::TooSmall { len: 20 });
        let cut = blob.len() - 10;
        assert_eq!(
            parse(&blob[..cut]).unwrap_err(),
            DtbError::Truncated { totalsize: blob.len() as u32, available: cut }
        );
        assert_eq!(dtb_total_size(&blob[..4]), None);
    }

    #[test]
    fn totalsize_larger_than_slice() {
        let mut blob = mini();
        let len = blob.len();
        set_be32(&mut blob, HDR_TOTALSIZE, len as u32 + 4);
        let mut info = BootInfo::new();
        let err = parse_dtb(&blob, DTB_PHYS, &mut info).unwrap_err();
        assert_eq!(err, DtbError::Truncated { totalsize: len as u32 + 4, available: len });
        assert_eq!(info.source, BootSource::None);
    }

    #[test]
    fn header_fields_outside_the_blob() {
        let blob = mini();
        for (field, name) in [
            (HDR_OFF_DT_STRUCT, "off_dt_struct"),
            (HDR_OFF_DT_STRINGS, "off_dt_strings"),
            (HDR_OFF_MEM_RSVMAP, "off_mem_rsvmap"),
        ] {
            let mut b = blob.clone();
            set_be32(&mut b, field, 0xffff_fff0);
            assert_eq!(parse(&b).unwrap_err(), DtbError::BadHeader { field: name });
        }
        let mut b = blob.clone();
        set_be32(&mut b, HDR_VERSION, 16);
        assert!(matches!(parse(&b), Err(DtbError::BadVersion { version: 16, .. })));
    }

    /// Flipping any byte or cutting the blob anywhere gives an error or a result, never a panic.
    #[test]
    fn corrupted_blobs_never_panic() {
        let blob = mini();
        for i in 0..blob.len() {
            for x in [0x01u8, 0x02, 0x04, 0x80, 0xff] {
                let mut b = blob.clone();
                b[i] ^= x;
                let _ = parse(&b);
            }
            let _ = parse(&blob[..i]);
            let mut b = blob.clone();
            set_be32(&mut b, HDR_TOTALSIZE, i as u32);
            let _ = parse(&b);
        }
    }

    proptest::proptest! {
        /// Random byte rewrites anywhere in a QEMU-shaped blob: an error or a result, no panic.
        #[test]
        fn random_corruption_never_panics(
            edits in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 1..8)
        ) {
            let blob = qemu_shaped();
            let mut b = blob.clone();
            for (i, v) in edits {
                let i = i % b.len();
                b[i] = v;
            }
            let _ = parse(&b);
        }

        /// Rewrites of whole structure-block words with token values.
        #[test]
        fn random_tokens_never_panic(
            edits in proptest::collection::vec((0usize..1024, 0u32..12), 1..4)
        ) {
            let mut b = qemu_shaped();
            let s = be32(&b, HDR_OFF_DT_STRUCT).unwrap() as usize;
            let n = be32(&b, HDR_SIZE_DT_STRUCT).unwrap() as usize / 4;
            for (i, v) in edits {
                set_be32(&mut b, s + (i % n) * 4, v);
            }
            let _ = parse(&b);
        }
    }

    /// The mini tree reshaped the way QEMU leaves it (NOPs between the root's children).
    fn qemu_shaped() -> Vec<u8> {
        use std::sync::OnceLock;
        static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
        BLOB.get_or_init(|| {
            let mut blob = with_memory(
                "\tmemory@1000 { device_type = \"memory\"; reg = <0x0 0x1000>; };\n\
                 \tmemory@0 { device_type = \"memory\"; reg = <0x0 0x3c000000>; };\n",
            );
            nop_node(&mut blob, "memory@1000");
            blob
        })
        .clone()
    }

    #[test]
    fn errors_display_one_line() {
        let errs = [
            DtbError::TooSmall { len: 2 },
            DtbError::BadMagic { found: 0 },
            DtbError::Truncated { totalsize: 0x5268, available: 0x1000 },
            DtbError::BadVersion { version: 16, last_comp_version: 16 },
            DtbError::BadHeader { field: "off_dt_struct" },
            DtbError::BadStructure { offset: 0x40, what: "unknown token" },
            DtbError::UnsupportedCells { address_cells: 3, size_cells: 1 },
            DtbError::BadMemoryReg,
            DtbError::Fdt,
        ];
        for e in errs {
            let s = e.to_string();
            assert!(s.starts_with("dtb: ") && !s.contains('\n'), "{s}");
        }
        assert_eq!(
            DtbError::BadMagic { found: 0x1234 }.to_string(),
            "dtb: bad magic 0x00001234 (expected 0xd00dfeed)"
        );
    }
}
