//! Timeline PNG: one lane per client (grouped by the node it is bound to), each operation a bar
//! from invocation to completion coloured by outcome, nemesis intervals shaded across all lanes,
//! operations involved in anomalies marked in red. Plotters' bitmap backend draws the shapes; text
//! uses the public-domain `font8x8` glyphs (no system font needed), as in `benches/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use font8x8::UnicodeFonts;
use plotters::prelude::*;

use crate::history::{NemesisEvent, Op, Outcome};

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn text(area: &Area, x: i32, y: i32, s: &str, scale: i32, color: &RGBColor) {
    let mut cx = x;
    for ch in s.chars() {
        if let Some(glyph) = font8x8::BASIC_FONTS.get(ch) {
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = cx + col * scale;
                        let py = y + row as i32 * scale;
                        for dx in 0..scale {
                            for dy in 0..scale {
                                let _ = area.draw_pixel((px + dx, py + dy), color);
                            }
                        }
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

pub fn fault_color(kind: &str) -> RGBColor {
    if kind.starts_with("partition") {
        RGBColor(230, 80, 80)
    } else if kind == "kill" {
        RGBColor(90, 90, 90)
    } else if kind == "pause" {
        RGBColor(70, 120, 230)
    } else if kind == "throttle" {
        RGBColor(220, 180, 0)
    } else {
        RGBColor(160, 70, 200)
    }
}

/// Renders the timeline. `node_labels[i]` names node i (e.g. "n1 java"); `marked` are op ids
/// involved in anomalies.
pub fn render(
    path: &Path,
    title: &str,
    ops: &[Op],
    nemesis: &[NemesisEvent],
    node_labels: &[String],
    marked: &BTreeSet<u64>,
) -> Result<()> {
    // Lanes: (node, workload, process).
    let mut lanes: BTreeMap<(usize, String, u32), usize> = BTreeMap::new();
    for op in ops {
        lanes
            .entry((op.node, op.workload.name().to_string(), op.process))
            .or_insert(0);
    }
    for (i, v) in lanes.values_mut().enumerate() {
        *v = i;
    }
    let n_lanes = lanes.len().max(1) as i32;
    let lane_h = (720 / n_lanes).clamp(4, 16);
    let (w, left, right, top) = (1600i32, 150i32, 20i32, 90i32);
    let plot_h = lane_h * n_lanes;
    let h = top + plot_h + 90;
    let t_end = ops
        .iter()
        .map(|o| o.complete_ns)
        .chain(nemesis.iter().map(|e| e.end_ns))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x_of = |ns: u64| left + ((ns as f64 / t_end) * f64::from(w - left - right)) as i32;

    let root = BitMapBackend::new(path, (w as u32, h as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let black = RGBColor(0, 0, 0);
    let grey = RGBColor(110, 110, 110);
    let tscale = if text_width(title, 2) <= w - 20 { 2 } else { 1 };
    text(
        &root,
        (w - text_width(title, tscale)) / 2,
        10,
        title,
        tscale,
        &black,
    );

    // Nemesis intervals, labels stacked in three rows above the lanes.
    for (k, ev) in nemesis.iter().enumerate() {
        let (x0, x1) = (
            x_of(ev.start_ns),
            x_of(ev.end_ns).max(x_of(ev.start_ns) + 2),
        );
        let c = fault_color(&ev.kind);
        root.draw(&Rectangle::new(
            [(x0, top), (x1, top + plot_h)],
            c.mix(0.18).filled(),
        ))?;
        root.draw(&Rectangle::new([(x0, top - 4), (x1, top)], c.filled()))?;
        let row = (k % 3) as i32;
        text(&root, x0 + 1, top - 40 + row * 11, &ev.kind, 1, &c);
    }

    // Lanes and node labels.
    let mut node_first: BTreeMap<usize, i32> = BTreeMap::new();
    for ((node, wl, process), idx) in &lanes {
        let y = top + *idx as i32 * lane_h;
        node_first.entry(*node).or_insert(y);
        if lane_h >= 8 {
            let label = format!("{wl} p{process}");
            text(
                &root,
                left - 6 - text_width(&label, 1),
                y + (lane_h - 8) / 2,
                &label,
                1,
                &grey,
            );
        }
    }
    for (node, y) in &node_first {
        root.draw(&Rectangle::new(
            [(0, *y - 1), (w, *y)],
            black.mix(0.5).filled(),
        ))?;
        let label = node_labels
            .get(*node)
            .cloned()
            .unwrap_or_else(|| format!("n{}", node + 1));
        text(&root, 4, y + 2, &label, 1, &black);
    }

    // Operations.
    for op in ops {
        let Some(idx) = lanes.get(&(op.node, op.workload.name().to_string(), op.process)) else {
            continue;
        };
        let y = top + *idx as i32 * lane_h;
        let c = match op.outcome {
            Outcome::Ok(_) => RGBColor(30, 150, 30),
            Outcome::Fail { .. } => RGBColor(60, 60, 220),
            Outcome::Info { .. } => RGBColor(240, 140, 0),
        };
        let (x0, x1) = (x_of(op.invoke_ns), x_of(op.complete_ns));
        let pad = if lane_h >= 6 { 1 } else { 0 };
        root.draw(&Rectangle::new(
            [(x0, y + pad), (x1.max(x0 + 1), y + lane_h - 1 - pad)],
            c.filled(),
        ))?;
    }
    for op in ops.iter().filter(|o| marked.contains(&o.id)) {
        if let Some(idx) = lanes.get(&(op.node, op.workload.name().to_string(), op.process)) {
            let y = top + *idx as i32 * lane_h;
            let (x0, x1) = (x_of(op.invoke_ns), x_of(op.complete_ns));
            root.draw(&Rectangle::new(
                [(x0 - 1, y - 3), (x1.max(x0 + 2) + 1, y + lane_h + 2)],
                RGBColor(255, 0, 0).filled(),
            ))?;
        }
    }

    // Time axis.
    let axis_y = top + plot_h + 4;
    root.draw(&Rectangle::new(
        [(left, axis_y), (w - right, axis_y + 1)],
        black.filled(),
    ))?;
    let secs = t_end / 1e9;
    let step = if secs > 240.0 {
        30.0
    } else if secs > 100.0 {
        10.0
    } else if secs > 30.0 {
        5.0
    } else {
        2.0
    };
    let mut t = 0.0;
    while t <= secs {
        let x = x_of((t * 1e9) as u64);
        root.draw(&Rectangle::new(
            [(x, axis_y), (x + 1, axis_y + 5)],
            black.filled(),
        ))?;
        let lbl = format!("{t:.0}s");
        text(
            &root,
            x - text_width(&lbl, 1) / 2,
            axis_y + 8,
            &lbl,
            1,
            &black,
        );
        t += step;
    }

    // Legend.
    let ly = h - 40;
    let mut lx = left;
    for (label, c) in [
        ("ok", RGBColor(30, 150, 30)),
        ("fail", RGBColor(60, 60, 220)),
        ("info (indeterminate)", RGBColor(240, 140, 0)),
        ("anomaly", RGBColor(255, 0, 0)),
    ] {
        root.draw(&Rectangle::new([(lx, ly), (lx + 14, ly + 10)], c.filled()))?;
        text(&root, lx + 18, ly + 1, label, 1, &black);
        lx += 30 + text_width(label, 1);
    }
    lx += 20;
    for kind in ["partition", "kill", "pause", "throttle", "disk-full"] {
        let c = fault_color(kind);
        root.draw(&Rectangle::new(
            [(lx, ly), (lx + 14, ly + 10)],
            c.mix(0.4).filled(),
        ))?;
        text(&root, lx + 18, ly + 1, kind, 1, &black);
        lx += 30 + text_width(kind, 1);
    }
    root.present()?;
    Ok(())
}
