//! Console commands (being written).
