//! `picture [-o DIR] TRANSCRIPT...`: the pages of every transcript into DIR (default
//! `build/picture`), one line per file written.
use std::path::{Path, PathBuf};

fn main() {
    let mut dir = PathBuf::from("build/picture");
    let mut inputs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" => match args.next() {
                Some(d) => dir = PathBuf::from(d),
                None => fail("-o needs a directory"),
            },
            "-h" | "--help" => {
                println!("usage: picture [-o DIR] TRANSCRIPT...");
                return;
            }
            _ => inputs.push(PathBuf::from(a)),
        }
    }
    if inputs.is_empty() {
        fail("usage: picture [-o DIR] TRANSCRIPT...");
    }
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    match picture::run(&refs, &dir) {
        Ok(files) => {
            for f in files {
                println!("{}", dir.join(f).display());
            }
        }
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("picture: {msg}");
    std::process::exit(1);
}
