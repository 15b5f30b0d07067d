//! Small SVG charts. Every chart is an `<svg>` with a `viewBox`, so it scales with the page and
//! prints; every data mark carries `class="mark"`, and every chart says in its `<title>` what
//! it shows.

use std::fmt::Write as _;

/// Text made safe inside SVG and HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A label cut to fit the charts' label column.
fn clip(s: &str) -> String {
    if s.chars().count() <= 36 {
        s.to_string()
    } else {
        s.chars().take(35).chain(['…']).collect()
    }
}

/// A short form of a number for labels: 1.2M, 34k, 5.6, 0.42.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A sequential colour from light to dark blue for `t` in [0, 1].
pub fn sequential(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(239.0, 8.0),
        mix(243.0, 69.0),
        mix(255.0, 148.0)
    )
}

/// A diverging colour: red below 0, white at 0, blue above, for `t` in [−1, 1].
pub fn diverging(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (r, g, b) = if t >= 0.0 {
        (255.0 - 222.0 * t, 255.0 - 153.0 * t, 255.0 - 83.0 * t)
    } else {
        (255.0 + 33.0 * t, 255.0 + 200.0 * t, 255.0 + 190.0 * t)
    };
    format!(
        "#{:02x}{:02x}{:02x}",
        r.round() as u8,
        g.round() as u8,
        b.round() as u8
    )
}

/// Whether a `#rrggbb` colour is dark enough to need light text on it.
fn dark(colour: &str) -> bool {
    let channel =
        |i: usize| u8::from_str_radix(colour.get(i..i + 2).unwrap_or("ff"), 16).unwrap_or(255);
    let l = 0.299 * f64::from(channel(1))
        + 0.587 * f64::from(channel(3))
        + 0.114 * f64::from(channel(5));
    l < 140.0
}

/// Distinct colours for series and clusters.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn open(out: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" role="img"><title>{}</title>"#,
        esc(title)
    );
}

/// Horizontal bars, one row per label, one bar per series in the row, values as shares or
/// amounts (`percent` formats them as percentages).
pub fn bars(title: &str, labels: &[String], series: &[(&str, Vec<f64>)], percent: bool) -> String {
    let row_h = 14.0 * series.len().max(1) as f64 + 8.0;
    let (left, width) = (230.0, 400.0);
    let h = 30.0 + row_h * labels.len() as f64;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut out = String::new();
    open(&mut out, left + width + 70.0, h, title);
    for (k, (name, _)) in series.iter().enumerate() {
        let x = left + 130.0 * k as f64;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="4" width="10" height="10" fill="{}"/><text x="{}" y="13" class="legend">{}</text>"#,
            PALETTE[k % PALETTE.len()],
            x + 14.0,
            esc(name)
        );
    }
    for (i, label) in labels.iter().enumerate() {
        let y0 = 24.0 + row_h * i as f64;
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text>"#,
            left - 6.0,
            y0 + row_h / 2.0 + 3.0,
            esc(&clip(label))
        );
        for (k, (name, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let w = (v.max(0.0) / max * width).max(0.5);
            let y = y0 + 4.0 + 14.0 * k as f64;
            let text = if percent {
                format!("{:.1}%", 100.0 * v)
            } else {
                short(v)
            };
            let _ = write!(
                out,
                r#"<rect class="mark" x="{left}" y="{y}" width="{w:.1}" height="11" fill="{}"><title>{}: {} {}</title></rect><text x="{:.1}" y="{}" class="value">{text}</text>"#,
                PALETTE[k % PALETTE.len()],
                esc(label),
                esc(name),
                text,
                left + w + 4.0,
                y + 9.0
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A heatmap of `values[row][col]` (`None`: no value), coloured by `colour(value)`, each cell
/// labelled with `text(value)`.
pub fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<Option<f64>>],
    colour: &dyn Fn(f64) -> String,
    text: &dyn Fn(f64) -> String,
) -> String {
    let value = |i: usize, j: usize| values.get(i).and_then(|row| row.get(j)).copied().flatten();
    grid(
        title,
        rows,
        cols,
        &value,
        &|i, j| colour(value(i, j).unwrap_or(0.0)),
        &|i, j| text(value(i, j).unwrap_or(0.0)),
    )
}

/// A grid of cells, each present where `value(row, col)` is, coloured and labelled by position.
fn grid(
    title: &str,
    rows: &[String],
    cols: &[String],
    value: &dyn Fn(usize, usize) -> Option<f64>,
    colour: &dyn Fn(usize, usize) -> String,
    text: &dyn Fn(usize, usize) -> String,
) -> String {
    let (left, top) = (230.0, 110.0);
    let cell_w = (560.0 / cols.len().max(1) as f64).clamp(24.0, 64.0);
    let cell_h = 20.0;
    let w = left + cell_w * cols.len() as f64 + 10.0;
    let h = top + cell_h * rows.len() as f64 + 10.0;
    let mut out = String::new();
    open(&mut out, w, h, title);
    for (j, c) in cols.iter().enumerate() {
        let x = left + cell_w * (j as f64 + 0.5);
        let _ = write!(
            out,
            r#"<text transform="translate({x:.1},{}) rotate(-50)" class="label">{}</text>"#,
            top - 6.0,
            esc(c)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + cell_h * i as f64;
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text>"#,
            left - 6.0,
            y + 14.0,
            esc(&clip(r))
        );
        for (j, c) in cols.iter().enumerate() {
            let x = left + cell_w * j as f64;
            match value(i, j) {
                Some(_) => {
                    let fill = colour(i, j);
                    let ink = if dark(&fill) { "#fff" } else { "#1d2430" };
                    let _ = write!(
                        out,
                        r##"<rect class="mark" x="{x:.1}" y="{y}" width="{cell_w:.1}" height="{cell_h}" fill="{fill}" stroke="#fff"><title>{} × {}: {}</title></rect><text x="{:.1}" y="{}" text-anchor="middle" class="cell" style="fill:{ink}">{}</text>"##,
                        esc(r),
                        esc(c),
                        esc(&text(i, j)),
                        x + cell_w / 2.0,
                        y + 14.0,
                        esc(&text(i, j))
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        r##"<rect x="{x:.1}" y="{y}" width="{cell_w:.1}" height="{cell_h}" fill="#f4f4f4" stroke="#fff"/>"##
                    );
                }
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A matrix of counts, each cell coloured by `colour(row, col)` and labelled with its count.
pub fn flow_matrix(
    title: &str,
    rows: &[String],
    cols: &[String],
    counts: &[Vec<u64>],
    colour: &dyn Fn(usize, usize) -> String,
) -> String {
    grid(
        title,
        rows,
        cols,
        &|i, j| counts.get(i).and_then(|r| r.get(j)).map(|&c| c as f64),
        colour,
        &|i, j| short(counts[i][j] as f64),
    )
}

/// Sizes over runs: one line per series on a shared scale from 0, runs labelled on the x axis
/// and the legend beside the plot.
pub fn trends(title: &str, runs: &[String], series: &[(&str, Vec<f64>)]) -> String {
    let (plot_w, plot_h, left, top, bottom, legend_w): (f64, f64, f64, f64, f64, f64) =
        (460.0, 220.0, 56.0, 16.0, 46.0, 200.0);
    let w = left + plot_w + 20.0 + legend_w;
    let h = (top + plot_h + bottom).max(top + 16.0 * series.len() as f64 + 10.0);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let n = runs.len();
    let sx = |i: usize| {
        left + if n > 1 {
            i as f64 / (n - 1) as f64 * plot_w
        } else {
            plot_w / 2.0
        }
    };
    let sy = |v: f64| top + plot_h - v / max * plot_h;
    let mut out = String::new();
    open(&mut out, w, h, title);
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#999"/><line x1="{left}" y1="{top}" x2="{left}" y2="{0}" stroke="#999"/>"##,
        top + plot_h,
        left + plot_w
    );
    for t in [0.0, 0.5, 1.0] {
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="label">{}</text>"#,
            left - 4.0,
            sy(t * max) + 3.0,
            short(t * max)
        );
    }
    for (i, r) in runs.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="label">{}</text>"#,
            sx(i),
            top + plot_h + 16.0,
            esc(&clip(r))
        );
    }
    for (k, (name, ys)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<String> = ys
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(i, &y)| format!("{:.1},{:.1}", sx(i), sy(y)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="mark" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        for (i, &y) in ys.iter().enumerate().filter(|(_, y)| y.is_finite()) {
            let _ = write!(
                out,
                r#"<circle class="mark" cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}: {} in {}</title></circle>"#,
                sx(i),
                sy(y),
                esc(name),
                short(y),
                esc(runs.get(i).map_or("", String::as_str))
            );
        }
        let ly = top + 16.0 * k as f64;
        let lx = left + plot_w + 20.0;
        let _ = write!(
            out,
            r#"<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" class="legend">{}</text>"#,
            lx + 14.0,
            ly + 9.0,
            esc(&clip(name))
        );
    }
    out.push_str("</svg>");
    out
}

/// Lines over a shared x axis: `series` of (name, y values), each y in its own [min, max].
pub fn lines(title: &str, x: &[f64], series: &[(&str, Vec<f64>)], marked: Option<f64>) -> String {
    let (w, h, left, bottom, top) = (620.0, 240.0, 50.0, 30.0, 24.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let (x0, x1) = (
        x.iter().copied().fold(f64::INFINITY, f64::min),
        x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let sx = |v: f64| {
        left + if x1 > x0 {
            (v - x0) / (x1 - x0) * plot_w
        } else {
            plot_w / 2.0
        }
    };
    let mut out = String::new();
    open(&mut out, w, h, title);
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#999"/>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    for &v in x {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="label">{}</text>"#,
            sx(v),
            h - 10.0,
            short(v)
        );
    }
    if let Some(m) = marked {
        let _ = write!(
            out,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1}" stroke="#444" stroke-dasharray="4 3"/>"##,
            sx(m),
            top + plot_h
        );
    }
    for (k, (name, ys)) in series.iter().enumerate() {
        let finite: Vec<f64> = ys.iter().copied().filter(|v| v.is_finite()).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sy = |v: f64| {
            top + plot_h
                - if hi > lo {
                    (v - lo) / (hi - lo) * plot_h
                } else {
                    plot_h / 2.0
                }
        };
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<String> = x
            .iter()
            .zip(ys)
            .filter(|(_, y)| y.is_finite())
            .map(|(&a, &b)| format!("{:.1},{:.1}", sx(a), sy(b)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="mark" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        for (&a, &b) in x.iter().zip(ys).filter(|(_, y)| y.is_finite()) {
            let _ = write!(
                out,
                r#"<circle class="mark" cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}: {} at {}</title></circle>"#,
                sx(a),
                sy(b),
                esc(name),
                short(b),
                short(a)
            );
        }
        let _ = write!(
            out,
            r#"<rect x="{}" y="6" width="10" height="10" fill="{colour}"/><text x="{}" y="15" class="legend">{} ({}–{})</text>"#,
            left + 190.0 * k as f64,
            left + 14.0 + 190.0 * k as f64,
            esc(name),
            short(lo),
            short(hi)
        );
    }
    out.push_str("</svg>");
    out
}

/// Points coloured by group, with labelled centroids.
pub fn scatter(
    title: &str,
    points: &[(f64, f64, usize)],
    centroids: &[(f64, f64, String)],
) -> String {
    let (w, h, pad) = (620.0, 420.0, 30.0);
    let xs = points
        .iter()
        .map(|p| p.0)
        .chain(centroids.iter().map(|c| c.0));
    let ys = points
        .iter()
        .map(|p| p.1)
        .chain(centroids.iter().map(|c| c.1));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let sx = |v: f64| pad + if x1 > x0 { (v - x0) / (x1 - x0) } else { 0.5 } * (w - 2.0 * pad);
    let sy = |v: f64| h - pad - if y1 > y0 { (v - y0) / (y1 - y0) } else { 0.5 } * (h - 2.0 * pad);
    let mut out = String::new();
    open(&mut out, w, h, title);
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" class="label">first principal component</text><text transform="translate(12,{}) rotate(-90)" text-anchor="middle" class="label">second principal component</text>"#,
        w / 2.0,
        h - 6.0,
        h / 2.0
    );
    for &(x, y, g) in points {
        let _ = write!(
            out,
            r#"<circle class="mark" cx="{:.1}" cy="{:.1}" r="2" fill="{}" fill-opacity="0.45"/>"#,
            sx(x),
            sy(y),
            PALETTE[g % PALETTE.len()]
        );
    }
    for (k, (x, y, label)) in centroids.iter().enumerate() {
        let _ = write!(
            out,
            r##"<circle class="mark" cx="{0:.1}" cy="{1:.1}" r="7" fill="{2}" stroke="#000"/><text x="{3:.1}" y="{4:.1}" class="centroid">{5}</text>"##,
            sx(*x),
            sy(*y),
            PALETTE[k % PALETTE.len()],
            sx(*x) + 10.0,
            sy(*y) + 4.0,
            esc(label)
        );
    }
    out.push_str("</svg>");
    out
}

/// Small histograms side by side: one per (label, counts over equal bins of [0, 1]).
pub fn histograms(title: &str, items: &[(String, Vec<usize>)]) -> String {
    let (cell_w, cell_h, cols) = (150.0, 90.0, 4usize);
    let rows = items.len().div_ceil(cols).max(1);
    let w = cell_w * cols as f64;
    let h = (cell_h + 26.0) * rows as f64;
    let mut out = String::new();
    open(&mut out, w, h, title);
    for (i, (label, counts)) in items.iter().enumerate() {
        let (cx, cy) = (
            cell_w * (i % cols) as f64,
            (cell_h + 26.0) * (i / cols) as f64,
        );
        let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let bw = (cell_w - 20.0) / counts.len().max(1) as f64;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
            cx + 10.0,
            cy + 14.0,
            esc(&label.chars().take(24).collect::<String>())
        );
        for (b, &c) in counts.iter().enumerate() {
            let bh = c as f64 / max * (cell_h - 24.0);
            let _ = write!(
                out,
                r#"<rect class="mark" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {c} in [{:.1}, {:.1})</title></rect>"#,
                cx + 10.0 + bw * b as f64,
                cy + cell_h - bh,
                (bw - 1.0).max(0.5),
                bh.max(0.5),
                PALETTE[0],
                esc(label),
                b as f64 / counts.len() as f64,
                (b + 1) as f64 / counts.len() as f64
            );
        }
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/><text x="{:.1}" y="{:.1}" class="label">0</text><text x="{:.1}" y="{:.1}" class="label">1</text>"##,
            cx + 10.0,
            cy + cell_h,
            cx + cell_w - 10.0,
            cy + cell_h,
            cx + 8.0,
            cy + cell_h + 12.0,
            cx + cell_w - 14.0,
            cy + cell_h + 12.0
        );
    }
    out.push_str("</svg>");
    out
}

/// Per row a distribution as ranges: a thin line from the 10th to the 90th percentile, a bar
/// from the 25th to the 75th, a tick at the median and a dot at the mean.
pub fn ranges(title: &str, labels: &[String], quantiles: &[[f64; 5]], means: &[f64]) -> String {
    let (left, width, row_h) = (230.0, 400.0, 18.0);
    let h = 34.0 + row_h * labels.len() as f64;
    let max = quantiles
        .iter()
        .map(|q| q[4])
        .chain(means.iter().copied())
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let sx = |v: f64| left + v.max(0.0) / max * width;
    let mut out = String::new();
    open(&mut out, left + width + 70.0, h, title);
    let _ = write!(
        out,
        r##"<text x="{left}" y="13" class="legend">10–90% (line), 25–75% (bar), median (tick), mean (dot); axis 0 to {}</text>"##,
        short(max)
    );
    for (i, (label, q)) in labels.iter().zip(quantiles).enumerate() {
        let y = 26.0 + row_h * i as f64;
        let mid = y + row_h / 2.0;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end" class="label">{}</text><line class="mark" x1="{:.1}" y1="{mid}" x2="{:.1}" y2="{mid}" stroke="#7a8699"/><rect class="mark" x="{:.1}" y="{}" width="{:.1}" height="10" fill="{}"><title>{}: 25–75% {}–{}, median {}</title></rect><line x1="{:.1}" y1="{}" x2="{:.1}" y2="{}" stroke="#000" stroke-width="2"/>"##,
            left - 6.0,
            mid + 3.0,
            esc(&clip(label)),
            sx(q[0]),
            sx(q[4]),
            sx(q[1]),
            mid - 5.0,
            (sx(q[3]) - sx(q[1])).max(1.0),
            PALETTE[0],
            esc(label),
            short(q[1]),
            short(q[3]),
            short(q[2]),
            sx(q[2]),
            mid - 6.0,
            sx(q[2]),
            mid + 6.0
        );
        if let Some(&m) = means.get(i) {
            let _ = write!(
                out,
                r##"<circle class="mark" cx="{:.1}" cy="{mid}" r="3" fill="{}"/><text x="{:.1}" y="{}" class="value">{}</text>"##,
                sx(m),
                PALETTE[1],
                sx(q[4].max(m)) + 6.0,
                mid + 3.0,
                short(m)
            );
        }
    }
    out.push_str("</svg>");
    out
}
