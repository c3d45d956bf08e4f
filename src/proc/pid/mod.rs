//! Renderers of the per-process `/proc/PID/*` files (maps, smaps, smaps_rollup, stat, statm,
//! status, cmdline): pure functions over an `MmStruct` and plain task snapshots, golden-tested
//! against real Linux 6.1 output on the same board; the kernel feeds them live snapshots
//! (`kernel/process/procfs_live.rs`).
pub mod maps;
pub mod smaps_walk;
pub mod stat;

#[cfg(test)]
pub(crate) mod golden_tests;

#[cfg(test)]
pub(crate) mod sample {
    //! The reference transcripts (`shared/samples/linux-6.1-raspi2b-user/`, copied into
    //! `tests/fixtures/`) cut into command outputs.
    use alloc::string::String;

    pub const FORMATS: &str = include_str!("../../../tests/fixtures/linux-6.1-user-formats.txt");
    pub const LAYOUT: &str = include_str!("../../../tests/fixtures/linux-6.1-user-layout.txt");

    /// The output of the `nth` (0-based) shell command that starts with `cmd`: the lines after
    /// the prompt line up to the next prompt.
    pub fn output(transcript: &str, cmd: &str, nth: usize) -> String {
        let mut seen = 0;
        let mut out = String::new();
        let mut inside = false;
        for line in transcript.lines() {
            if let Some(c) = line.strip_prefix("/ # ") {
                if inside {
                    break;
                }
                if c.starts_with(cmd) {
                    if seen == nth {
                        inside = true;
                    }
                    seen += 1;
                }
                continue;
            }
            if inside {
                out.push_str(line);
                out.push('\n');
            }
        }
        assert!(inside, "no output for {cmd:?} #{nth}");
        out
    }
}
