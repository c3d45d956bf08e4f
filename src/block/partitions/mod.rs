//! Partition-table parsers (`block/partitions/`): the MBR one, the table SD cards carry.
pub mod msdos;
