//! The shape of `src/` (DESIGN.md's layers), checked on the source text so that it stays true:
//! only `src/arch/` names the ARM implementation (everything else goes through the `arch::`
//! facade), `mm/` names no architecture, board, kernel instance, console or report, `arch/`
//! does not call up into `kernel/` or the console, `mm/vmap` renders no `/proc` files, and the
//! ARM layout formulas and the profiles that feed them depend on each other in one direction
//! only (the layout applies a profile's plan; a profile knows nothing of the layout code).
//!
//! The checks read the source as text: comments and string literals are blanked out before
//! paths are looked for, `use` trees are expanded (`use crate::{a, b::c}` names `crate::a`
//! and `crate::b::c`), and `super::`/`self::` are resolved against the file's module path,
//! so a relative import cannot slip past.
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The crate's sources: (path relative to `src/`, text).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = fs::read_dir(dir).expect("src/ is readable").flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let out: Vec<_> = files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let text = fs::read_to_string(&p).expect("source file is UTF-8");
            (rel, text)
        })
        .collect();
    assert!(out.len() > 50, "found only {} files under src/", out.len());
    out
}

/// The text with comments, string and character literals replaced by spaces (newlines kept,
/// so line numbers still match).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&b, i) {
            let end = char_literal_end(&b, i);
            for &ch in &b[i..end] {
                out.push(blank(ch));
            }
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && is_ident(b[i - 1])
}

/// A `'` starting a character literal (not a lifetime or a label).
fn is_char_literal(b: &[char], i: usize) -> bool {
    matches!((b.get(i + 1), b.get(i + 2)), (Some('\\'), _) | (Some(_), Some('\'')))
}

fn char_literal_end(b: &[char], i: usize) -> usize {
    let mut j = i + 1;
    if b.get(j) == Some(&'\\') {
        j += 2;
    } else {
        j += 1;
    }
    while j < b.len() && b[j] != '\'' {
        j += 1;
    }
    j + 1
}

/// The module path of a file under `src/` (`mm/vmap/mod.rs` -> `["mm", "vmap"]`).
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(String::from).collect();
    let last = parts.last().cloned().unwrap_or_default();
    if last == "mod" || (parts.len() == 1 && (last == "lib" || last == "main")) {
        parts.pop();
    }
    parts
}

/// Expands one `use` tree (`crate::{a, b::{c, d}}`) into its full paths (renames dropped).
fn expand_use_tree(tree: &str) -> Vec<String> {
    let mut cleaned = String::new();
    let toks: Vec<&str> = tree.split_whitespace().collect();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == "as" {
            // `x as y,`: drop `as y`, keep what follows the new name.
            if let Some(next) = toks.get(i + 1) {
                cleaned.push_str(next.trim_start_matches(|c: char| is_ident(c)));
            }
            i += 2;
            continue;
        }
        cleaned.push_str(toks[i]);
        i += 1;
    }
    let mut out = Vec::new();
    expand_into("", &cleaned, &mut out);
    out
}

fn expand_into(prefix: &str, tree: &str, out: &mut Vec<String>) {
    match tree.find('{') {
        None => {
            out.push(format!("{prefix}{tree}"));
        }
        Some(open) => {
            let head = &tree[..open];
            let close = tree.rfind('}').unwrap_or(tree.len());
            let inner = &tree[open + 1..close];
            let mut depth = 0;
            let mut start = 0;
            let mut items = Vec::new();
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[start..k]);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            for item in items.into_iter().filter(|s| !s.is_empty()) {
                expand_into(&format!("{prefix}{head}"), item, out);
            }
        }
    }
}

/// Every path a file names, made absolute (`crate::...`), with the line it is on. `use`
/// trees are expanded, `self::`/`super::` resolved against `module`, and `pivm::` (the
/// library as the kernel binary names it) read as `crate::`. `kprint!`/`kprintln!` are the
/// console's macros and count as naming `crate::console`.
fn named_paths(rel: &str, text: &str) -> Vec<(usize, String)> {
    let code = code_only(text);
    let module = module_path(rel);
    let mut out = Vec::new();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let resolve = |path: &str| -> Option<String> {
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let first = *segs.first()?;
        let mut base: Vec<String> = match first {
            "crate" | "$crate" | "pivm" => Vec::new(),
            "self" => module.clone(),
            "super" => module.clone(),
            _ => return None,
        };
        let mut rest = &segs[1..];
        if first == "super" {
            base.pop();
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        let mut all: Vec<String> = vec!["crate".into()];
        all.extend(base);
        all.extend(rest.iter().map(|s| s.to_string()));
        Some(all.join("::"))
    };

    // `use` statements (including `pub use`), possibly over several lines.
    let mut search = 0;
    while let Some(found) = code[search..].find("use ") {
        let at = search + found;
        search = at + 4;
        let before = code[..at].chars().next_back();
        if before.is_some_and(is_ident) {
            continue;
        }
        let Some(end) = code[at..].find(';') else { break };
        let tree = &code[at + 4..at + end];
        if tree.contains('(') || tree.contains('=') {
            continue;
        }
        for p in expand_use_tree(tree) {
            if let Some(abs) = resolve(&p) {
                out.push((line_of(at), abs));
            }
        }
    }

    // Inline paths: `crate::a::b`, `super::x`, `pivm::arch::...` anywhere in the code.
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (pos, c) = chars[k];
        let starts_word = k == 0 || !is_ident(chars[k - 1].1) && chars[k - 1].1 != ':';
        if starts_word && (c.is_alphabetic() || c == '$') {
            let mut j = k;
            while j < chars.len()
                && (is_ident(chars[j].1) || chars[j].1 == ':' || chars[j].1 == '$')
            {
                j += 1;
            }
            let end = chars.get(j).map_or(code.len(), |&(p, _)| p);
            let path = code[pos..end].trim_end_matches(':');
            if path.contains("::") {
                if let Some(abs) = resolve(path) {
                    out.push((line_of(pos), abs));
                }
            }
            k = j.max(k + 1);
        } else {
            k += 1;
        }
    }

    for mac in ["kprintln!", "kprint!"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(mac) {
            let at = from + found;
            from = at + mac.len();
            if !code[..at].chars().next_back().is_some_and(is_ident) {
                out.push((line_of(at), "crate::console::printk".into()));
            }
        }
    }
    out
}

/// `path` is `module` or inside it.
fn is_in(path: &str, module: &str) -> bool {
    path == module || path.starts_with(&format!("{module}::"))
}

/// One broken rule: where, and what.
fn report(violations: &BTreeSet<String>, rule: &str) {
    assert!(
        violations.is_empty(),
        "{rule}:\n  {}",
        violations.iter().cloned().collect::<Vec<_>>().join("\n  ")
    );
}

/// Everything outside `src/arch/` reaches the architecture through the `arch::` facade: no
/// file names `arch::arm` (an `arm64` implementation must be able to take its place).
#[test]
fn only_arch_names_arch_arm() {
    let mut bad = BTreeSet::new();
    for (rel, text) in sources() {
        if rel.starts_with("arch/") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("arch::arm") {
                let after = rest[at + "arch::arm".len()..].chars().next();
                if !after.is_some_and(is_ident) {
                    bad.insert(format!("src/{rel}:{}: {}", n + 1, line.trim()));
                }
                rest = &rest[at + 1..];
            }
        }
    }
    report(&bad, "files outside src/arch/ name arch::arm (use the crate::arch:: facade)");
}

/// `mm/` is what every architecture shares: it imports no architecture, board, running
/// kernel, console or report renderer (those sit above or beside it).
#[test]
fn mm_imports_nothing_above_or_beside_it() {
    let forbidden =
        ["crate::arch", "crate::board", "crate::kernel", "crate::console", "crate::proc"];
    let mut bad = BTreeSet::new();
    for (rel, text) in sources() {
        if !rel.starts_with("mm/") {
            continue;
        }
        for (line, path) in named_paths(&rel, &text) {
            if let Some(m) = forbidden.iter().find(|m| is_in(&path, m)) {
                bad.insert(format!("src/{rel}:{line}: {path} ({m})"));
            }
        }
    }
    report(&bad, "src/mm/ imports arch, board, kernel, console or proc");
}

/// The architecture code does not call up into the running kernel or the console: what it
/// needs from them comes in through parameters and small interfaces.
#[test]
fn arch_does_not_import_kernel_or_console() {
    let mut bad = BTreeSet::new();
    for (rel, text) in sources() {
        if !rel.starts_with("arch/") {
            continue;
        }
        for (line, path) in named_paths(&rel, &text) {
            if is_in(&path, "crate::kernel") || is_in(&path, "crate::console") {
                bad.insert(format!("src/{rel}:{line}: {path}"));
            }
        }
    }
    report(&bad, "src/arch/ imports kernel or console");
}

/// The vmalloc area allocator keeps the state; `/proc/vmallocinfo` renders it from above.
#[test]
fn vmap_does_not_import_proc() {
    let mut bad = BTreeSet::new();
    for (rel, text) in sources() {
        if !rel.starts_with("mm/vmap") {
            continue;
        }
        for (line, path) in named_paths(&rel, &text) {
            if is_in(&path, "crate::proc") {
                bad.insert(format!("src/{rel}:{line}: {path}"));
            }
        }
    }
    report(&bad, "src/mm/vmap imports proc");
}

/// The module a file's path names: `arch/arm/layout.rs` and `arch/arm/layout/tests.rs` are
/// both `crate::arch::arm::layout`.
fn owning_module(rel: &str, name: &str) -> bool {
    let m = module_path(rel);
    m.last().is_some_and(|l| l == name) || m.iter().rev().nth(1).is_some_and(|l| l == name)
}

/// The layout formulas apply a profile's plan; the profiles are data with their own checks.
/// Wherever the two modules live, neither may import the other in both directions, and the
/// direction chosen (layout -> profile) is kept: a profile never imports the layout code.
#[test]
fn layout_and_profile_do_not_import_each_other() {
    let files = sources();
    let layout_files: Vec<_> = files.iter().filter(|(r, _)| owning_module(r, "layout")).collect();
    let profile_files: Vec<_> = files.iter().filter(|(r, _)| owning_module(r, "profile")).collect();
    assert!(!layout_files.is_empty() && !profile_files.is_empty(), "no layout or profile module");
    let module_of = |rel: &str, name: &str| {
        let mut m = module_path(rel);
        while m.last().is_some_and(|l| l != name) {
            m.pop();
        }
        format!("crate::{}", m.join("::"))
    };
    let imports = |from: &[&(String, String)], name: &str, target: &[&(String, String)]| {
        let targets: BTreeSet<String> = target.iter().map(|(r, _)| module_of(r, name)).collect();
        let mut found = BTreeSet::new();
        for (rel, text) in from {
            for (line, path) in named_paths(rel, text) {
                if targets.iter().any(|t| is_in(&path, t)) {
                    found.insert(format!("src/{rel}:{line}: {path}"));
                }
            }
        }
        found
    };
    let layout_to_profile = imports(&layout_files, "profile", &profile_files);
    let profile_to_layout = imports(&profile_files, "layout", &layout_files);
    report(
        &profile_to_layout,
        "a profile module imports the layout module (cycle or wrong direction)",
    );
    assert!(
        layout_to_profile.is_empty() || profile_to_layout.is_empty(),
        "layout and profile import each other"
    );
}

#[test]
fn the_checks_see_relative_and_grouped_imports() {
    let text = "use super::super::{arch::arm::mmu, proc};\n// crate::kernel in a comment\n\
                fn f() { let s = \"crate::console\"; crate::board::x(); kprintln!(\"\"); }\n";
    let paths: Vec<String> = named_paths("mm/b.rs", text).into_iter().map(|(_, p)| p).collect();
    assert!(paths.contains(&"crate::arch::arm::mmu".to_string()), "{paths:?}");
    assert!(paths.contains(&"crate::proc".to_string()), "{paths:?}");
    assert!(paths.contains(&"crate::board::x".to_string()), "{paths:?}");
    assert!(paths.contains(&"crate::console::printk".to_string()), "{paths:?}");
    assert!(!paths.iter().any(|p| p == "crate::kernel"), "comment read as code: {paths:?}");
    assert!(!paths.iter().any(|p| p == "crate::console"), "string read as code: {paths:?}");
    assert_eq!(module_path("mm/vmap/mod.rs"), ["mm", "vmap"]);
    assert_eq!(module_path("main.rs"), Vec::<String>::new());
}
