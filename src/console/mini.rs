//! A console loop for a kernel that has only a polled UART and a command table of its own (the
//! arm64 kernel's first stage): the shared line editor, the prompt, argument splitting; each
//! complete line goes to `run` as its words.
use core::fmt::Write;

use super::args::split_args;
use super::input::Input;
use super::line::{Event, LineEditor};

/// Reads input from `next` (None: nothing yet; a loss of type-ahead refuses the line it hit),
/// edits lines as the 32-bit console does, and runs each complete command line through `run`,
/// forever.
pub fn command_loop(
    w: &mut impl Write,
    prompt: &str,
    mut next: impl FnMut() -> Option<Input>,
    mut run: impl FnMut(&[&str]),
) -> ! {
    let mut ed = LineEditor::new();
    let _ = write!(w, "{prompt}");
    loop {
        let b = match next() {
            Some(Input::Byte(b)) => b,
            Some(Input::Lost) => {
                ed.input_lost();
                continue;
            }
            None => {
                core::hint::spin_loop();
                continue;
            }
        };
        match ed.feed(b) {
            Event::None => {}
            Event::Echo(e) => {
                let _ = write!(w, "{e}");
            }
            Event::Cancel => {
                let _ = write!(w, "^C\n{prompt}");
            }
            Event::Line(l) => {
                let _ = writeln!(w);
                match l.command().map(split_args) {
                    Ok(Ok(args)) => run(args.as_slice()),
                    Ok(Err(e)) => {
                        let _ = writeln!(w, "pivm: {e}");
                    }
                    Err(e) => {
                        let _ = writeln!(w, "pivm: {e}");
                    }
                }
                let _ = write!(w, "{prompt}");
            }
        }
    }
}
