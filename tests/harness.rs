//! The QEMU harness's own logic, without QEMU: how a typed command's echo is recognised when
//! a background program's output lands inside it.
mod common;

use common::find_echo;

const ECHO: &[u8] = b"run /boot/bin/cardmap -d /boot/data/f16m private 256\n";

#[test]
fn an_echo_with_a_background_line_inside_it_is_found() {
    // What the console printed in a run of qemu_reclaim: swapstress's line came mid-echo.
    let hay = b"pivm# run /boot/bin/cardmap -d /boot/dswapstress M=20 [1] 20 MiB anonymous (5120 pages), 1 passes\nata/f16m private 256\ncardmap (5): ...";
    let end = find_echo(hay, ECHO, 0).expect("the echo");
    assert!(hay[end..].starts_with(b"cardmap (5)"));
}

#[test]
fn an_unbroken_echo_after_other_lines_is_found() {
    let hay = b"pivm# swapstress: done\nrun /boot/bin/cardmap -d /boot/data/f16m private 256\nout";
    let end = find_echo(hay, ECHO, 0).expect("the echo");
    assert_eq!(&hay[end..], b"out");
}

#[test]
fn no_echo_is_made_up() {
    // Not at a line start, a prompt inside the inserted line, or too many interruptions.
    assert_eq!(
        find_echo(b"xx run /boot/bin/cardmap -d /boot/data/f16m private 256\n", ECHO, 1),
        None
    );
    assert_eq!(
        find_echo(b"run /boot/bin/cardmapA pivm# \n -d /boot/data/f16m private 256\n", ECHO, 0),
        None
    );
    let many = b"run a\nb\nc\nd\ne\n /boot/bin/cardmap -d /boot/data/f16m private 256\n";
    assert_eq!(find_echo(many, ECHO, 0), None);
    // Only part of the echo so far: wait for the rest.
    assert_eq!(find_echo(b"run /boot/bin/card", ECHO, 0), None);
    // "ps" inside another word, or followed by anything but its newline, is not its echo.
    assert_eq!(find_echo(b"swapstress: done\n", b"ps\n", 0), None);
}

#[test]
fn an_echo_around_a_line_that_begins_with_its_next_byte_is_found() {
    // The one hang of qemu_reclaim's several_programs_under_pressure_lose_nothing_2g, seen
    // again with scripts/repro-hang.py: `ps` was echoed as "p", swapstress's line (which
    // begins with the `s` the echo expected next), "s\n". Matched byte by byte the echo was
    // lost there, and the plain search found the "ps\n" ending "/proc/swaps\n" after the
    // prompt, then waited for a prompt that never came.
    let hay = b"pivm# pswapstress M=20 [1] re-read pass 1: bad=0\ns\n  PID TTY          TIME CMD\n\
                pivm# swapstress: /proc/swaps\nswapstress: 2 instances, 0 failed\n";
    let end = find_echo(hay, b"ps\n", 6).expect("the echo");
    assert!(hay[end..].starts_with(b"  PID TTY"), "{:?}", String::from_utf8_lossy(&hay[end..]));
    // Without the real echo, the "ps\n" ending "/proc/swaps\n" is not taken for it.
    let later = b"pivm# swapstress: /proc/swaps\nFilename\n";
    assert_eq!(find_echo(later, b"ps\n", 6), None);
}
