//! A small SVG writer: elements appended to a string, text escaped, numbers rounded, and the
//! page around it (self-contained HTML: inline SVG and CSS, no scripts, no fetches).
use std::fmt::Write;

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// One SVG drawing.
pub struct Svg {
    pub width: f64,
    pub height: f64,
    body: String,
    /// `aria-label` and the `id` suffix of the `<svg>`.
    name: String,
}

impl Svg {
    pub fn new(name: &str, width: f64, height: f64) -> Svg {
        Svg { width, height, body: String::new(), name: name.to_string() }
    }

    /// A rectangle with a hover title.
    #[allow(clippy::too_many_arguments)]
    pub fn rect(
        &mut self,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: &str,
        stroke: &str,
        title: &str,
        attrs: &str,
    ) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="{stroke}"{attrs}>"#,
            w.max(0.0),
            h.max(0.0)
        );
        if !title.is_empty() {
            let _ = write!(self.body, "<title>{}</title>", esc(title));
        }
        self.body.push_str("</rect>");
    }

    /// Text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, class: &str, s: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            esc(s)
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        width: f64,
        attrs: &str,
    ) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="{width}"{attrs}/>"#
        );
    }

    /// A closed polygon.
    pub fn polygon(
        &mut self,
        pts: &[(f64, f64)],
        fill: &str,
        stroke: &str,
        attrs: &str,
        title: &str,
    ) {
        let p: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            self.body,
            r#"<polygon points="{}" fill="{fill}" stroke="{stroke}"{attrs}>"#,
            p.join(" ")
        );
        if !title.is_empty() {
            let _ = write!(self.body, "<title>{}</title>", esc(title));
        }
        self.body.push_str("</polygon>");
    }

    /// An open polyline.
    pub fn polyline(&mut self, pts: &[(f64, f64)], stroke: &str, width: f64, attrs: &str) {
        let p: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="{width}"{attrs}/>"#,
            p.join(" ")
        );
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, title: &str) {
        let _ = write!(self.body, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{fill}">"#);
        if !title.is_empty() {
            let _ = write!(self.body, "<title>{}</title>", esc(title));
        }
        self.body.push_str("</circle>");
    }

    /// Opens a group with `data-*` attributes (the browser test finds regions by them).
    pub fn group(&mut self, attrs: &[(&str, &str)]) {
        self.body.push_str("<g");
        for (k, v) in attrs {
            let _ = write!(self.body, r#" {k}="{}""#, esc(v));
        }
        self.body.push('>');
    }

    pub fn end_group(&mut self) {
        self.body.push_str("</g>");
    }

    /// The finished `<svg>` element.
    pub fn finish(&self) -> String {
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" id="svg-{}" role="img" aria-label="{}" width="{:.0}" height="{:.0}" viewBox="0 0 {:.0} {:.0}" font-family="sans-serif"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs><rect x="0" y="0" width="{:.0}" height="{:.0}" fill="#ffffff"/>{}</svg>"##,
            esc(&self.name),
            esc(&self.name),
            self.width,
            self.height,
            self.width,
            self.height,
            self.width,
            self.height,
            self.body
        )
    }
}

/// A self-contained HTML page: title, a paragraph of explanation, the drawings.
pub fn page(title: &str, intro: &str, svgs: &[String]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
<style>body{{font-family:sans-serif;margin:16px;color:#222}}h1{{font-size:20px}}p{{max-width:70em}}\
svg{{display:block;margin:12px 0}}text.label{{fill:#111}}text.small{{fill:#333}}text.note{{fill:#777;font-style:italic}}</style>\
</head><body><h1>{}</h1><p>{}</p>\n",
        esc(title),
        esc(title),
        esc(intro)
    );
    for s in svgs {
        o.push_str(s);
        o.push('\n');
    }
    o.push_str("</body></html>\n");
    o
}

/// `bytes` as a short size: `4 kB`, `768 MB`, `1.5 GB`.
pub fn size(bytes: u64) -> String {
    const K: u64 = 1024;
    const TB: u64 = K * K * K * K;
    if bytes >= TB {
        // The 64-bit layout's ranges: TB, PB, EB (a region ending at 2^64 is one byte short).
        let (mut v, mut unit) = (bytes as f64 / TB as f64, 0);
        while v >= K as f64 && unit < 2 {
            v /= K as f64;
            unit += 1;
        }
        let unit = ["TB", "PB", "EB"][unit];
        return if (v - v.round()).abs() < 0.05 {
            format!("{v:.0} {unit}")
        } else {
            format!("{v:.1} {unit}")
        };
    }
    if bytes >= K * K * K && bytes.is_multiple_of(K * K * K) {
        format!("{} GB", bytes / (K * K * K))
    } else if bytes >= K * K {
        let mb = bytes as f64 / (K * K) as f64;
        if mb.fract() == 0.0 {
            format!("{mb:.0} MB")
        } else {
            format!("{mb:.1} MB")
        }
    } else {
        format!("{} kB", bytes.div_ceil(K))
    }
}

/// Colours per zone, migrate type and region kind (one palette for every page).
pub fn zone_colour(zone: &str) -> &'static str {
    match zone {
        // Not orange: a process strip shows swapped-out pages orange, and arm64 has only DMA.
        "DMA" => "#edc949",
        "Normal" => "#4e79a7",
        "HighMem" => "#59a14f",
        "Movable" => "#b07aa1",
        _ => "#9c9c9c",
    }
}

pub fn mt_colour(mt: &str) -> &'static str {
    match mt {
        "Unmovable" => "#e15759",
        "Movable" => "#76b7b2",
        "Reclaimable" => "#edc948",
        "HighAtomic" => "#ff9da7",
        "CMA" => "#b07aa1",
        "Isolate" => "#9c755f",
        _ => "#bab0ac",
    }
}

pub fn kind_colour(kind: &str) -> &'static str {
    match kind {
        "user" => "#e8eef7",
        "modules" => "#c9b8e8",
        "pkmap" => "#8cd17d",
        "lowmem" => "#a0c4e8",
        "section" => "#2f5d8a",
        "vmalloc" => "#f1ce63",
        "hole" => "#f0f0f0",
        "fixmap" => "#ff9d9a",
        "vectors" => "#d37295",
        "pci_io" => "#bab0ac",
        "vmemmap" => "#9d7660",
        _ => "#dddddd",
    }
}
