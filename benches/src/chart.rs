//! Throughput-vs-sessions PNG. Uses plotters' bitmap backend for shapes only; text is drawn
//! from the public-domain `font8x8` glyphs, so no system font (fontconfig/ttf) is needed —
//! plotters' own text path panics without a font feature.

use std::path::Path;

use font8x8::UnicodeFonts;
use plotters::prelude::*;

/// One line on the chart: label and (sessions, ops/s) points.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Dashed-looking lines are hard in plotters; a distinct color per series is enough.
    pub color: RGBColor,
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Draws `text` with its top-left at (x, y), `scale` pixels per font pixel.
fn text(area: &Area, x: i32, y: i32, s: &str, scale: i32, color: &RGBColor) {
    let mut cx = x;
    for ch in s.chars() {
        let ch = if ch == 'µ' { 'u' } else { ch };
        if let Some(glyph) = font8x8::BASIC_FONTS.get(ch) {
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        // One extra pixel to the right: a cheap bold so small text stays legible.
                        let px = cx + col * scale;
                        let py = y + row as i32 * scale;
                        let _ = area.draw(&Rectangle::new(
                            [(px, py), (px + scale, py + scale - 1)],
                            color.filled(),
                        ));
                    }
                }
            }
        }
        cx += 8 * scale;
    }
}

fn text_width(s: &str, scale: i32) -> i32 {
    s.chars().count() as i32 * 8 * scale
}

/// Rounds up to 1, 2 or 5 × 10^k.
fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let e = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * e >= v {
            return m * e;
        }
    }
    10.0 * e
}

fn fmt_k(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}k", (v / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{v:.0}")
    }
}

/// Renders the chart; x axis is log2(sessions).
pub fn render(path: &Path, title: &str, series: &[Series]) -> anyhow::Result<()> {
    let (w, h) = (1200i32, 640i32);
    let root = BitMapBackend::new(path, (w as u32, h as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let black = RGBColor(0, 0, 0);
    let grey = RGBColor(220, 220, 220);
    text(&root, (w - text_width(title, 2)) / 2, 12, title, 2, &black);
    let (l, r, t, b) = (100, w - 330, 70, h - 70);
    let xs: Vec<f64> = {
        let mut v: Vec<f64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.dedup();
        v
    };
    let ymax = nice_ceil(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max)
            * 1.05,
    );
    let (x0, x1) = match (xs.first(), xs.last()) {
        (Some(a), Some(b)) if b > a => (a.log2(), b.log2()),
        (Some(a), _) => (a.log2() - 1.0, a.log2() + 1.0),
        _ => (0.0, 1.0),
    };
    let px = |x: f64| l + ((x.log2() - x0) / (x1 - x0) * (r - l) as f64).round() as i32;
    let py = |y: f64| b - (y / ymax * (b - t) as f64).round() as i32;
    // Grid and y labels.
    for i in 0..=5 {
        let y = ymax * i as f64 / 5.0;
        root.draw(&PathElement::new(vec![(l, py(y)), (r, py(y))], grey))?;
        let s = fmt_k(y);
        text(&root, l - 8 - text_width(&s, 2), py(y) - 8, &s, 2, &black);
    }
    for &x in &xs {
        root.draw(&PathElement::new(vec![(px(x), t), (px(x), b)], grey))?;
        let s = format!("{x:.0}");
        text(&root, px(x) - text_width(&s, 2) / 2, b + 8, &s, 2, &black);
    }
    root.draw(&PathElement::new(vec![(l, t), (l, b), (r, b)], black))?;
    let xl = "sessions (log scale)";
    text(
        &root,
        (l + r - text_width(xl, 2)) / 2,
        b + 34,
        xl,
        2,
        &black,
    );
    text(&root, 8, t - 40, "ops/s", 2, &black);
    // Series and legend.
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<(i32, i32)> = s.points.iter().map(|&(x, y)| (px(x), py(y))).collect();
        root.draw(&PathElement::new(pts.clone(), s.color.stroke_width(3)))?;
        for p in &pts {
            root.draw(&Circle::new(*p, 5, s.color.filled()))?;
        }
        let ly = t + 10 + i as i32 * 28;
        root.draw(&Rectangle::new(
            [(r + 20, ly), (r + 44, ly + 14)],
            s.color.filled(),
        ))?;
        text(&root, r + 52, ly, &s.label, 2, &black);
    }
    root.present()?;
    Ok(())
}
