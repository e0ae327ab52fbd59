//! `embedding-map.png`: the test embeddings on their top two principal components.

use std::path::Path;

use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{EMBEDDING_MAP, text};
use crate::canvas::{Canvas, FONT, bold, class_color};
use crate::{ReportError, Result};

/// Width of the legend strip on the right.
const LEGEND: u32 = 190;

/// Draws `embedding-map.png` into `dir`. `points` holds one `(PC1, PC2)` row per image;
/// `explained` the share of variance of each component.
pub(crate) fn embedding_map(
    points: &Array2<f32>,
    labels: &[u32],
    num_classes: usize,
    explained: [f64; 2],
    dir: &Path,
) -> Result<()> {
    if points.ncols() != 2 || points.nrows() != labels.len() {
        return Err(ReportError::Unsuitable {
            what: format!(
                "{} × {} projected points for {} labels",
                points.nrows(),
                points.ncols(),
                labels.len()
            ),
        });
    }
    let xy: Vec<(f32, f32)> = points.rows().into_iter().map(|r| (r[0], r[1])).collect();
    let range = |f: fn(&(f32, f32)) -> f32| {
        let (lo, hi) = xy
            .iter()
            .map(f)
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo < hi {
            let pad = 0.04 * (hi - lo);
            lo - pad..hi + pad
        } else {
            -1.0..1.0
        }
    };
    let (x_range, y_range) = (range(|p| p.0), range(|p| p.1));
    // Per class, the median of each coordinate: where the class's digit is written. The
    // median sits in the dense part of a cluster even when stray points pull the mean away.
    let mut per_class: Vec<(Vec<f32>, Vec<f32>)> = vec![(Vec::new(), Vec::new()); num_classes];
    for (&(x, y), &label) in xy.iter().zip(labels) {
        if let Some((xs, ys)) = per_class.get_mut(label as usize) {
            xs.push(x);
            ys.push(y);
        }
    }
    let centres: Vec<Option<(f32, f32)>> = per_class
        .iter_mut()
        .map(|(xs, ys)| Some((median(xs)?, median(ys)?)))
        .collect();
    let counts: Vec<usize> = per_class.iter().map(|(xs, _)| xs.len()).collect();

    let mut canvas = Canvas::new(EMBEDDING_MAP.file, EMBEDDING_MAP.size)?;
    canvas.draw(|root| {
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(EMBEDDING_MAP.size.0 - LEGEND);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                format!("Test embeddings ({} images), PCA to 2-D", labels.len()),
                bold(text::TITLE),
            )
            .margin(25)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(x_range, y_range)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "PC1 ({:.1}% of the variance)",
                100.0 * explained[0]
            ))
            .y_desc(format!(
                "PC2 ({:.1}% of the variance)",
                100.0 * explained[1]
            ))
            .label_style((FONT, text::TICK))
            .axis_desc_style((FONT, text::LABEL))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        // In data-set order (classes mixed), so no class is painted over by all of another.
        chart.draw_series(xy.iter().zip(labels).map(|(&p, &label)| {
            Circle::new(p, 2, class_color(label as usize).mix(0.5).filled())
        }))?;
        let centre_font = bold(28)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        // Labels sit beside their centre, joined by a line, so they do not hide the densest
        // part of the cluster: up-right, else the first other corner that overlaps no label
        // placed before.
        let mut placed: Vec<(i32, i32)> = Vec::new();
        for (class, centre) in centres.iter().enumerate() {
            let Some(centre) = centre else { continue };
            let (px, py) = chart.backend_coord(centre);
            let corners = [(30, -30), (-30, -30), (30, 30), (-30, 30)];
            let free = |&(dx, dy): &(i32, i32)| {
                placed
                    .iter()
                    .all(|&(x, y)| (px + dx - x).abs() >= 34 || (py + dy - y).abs() >= 38)
            };
            let (dx, dy) = corners.iter().copied().find(free).unwrap_or(corners[0]);
            let (lx, ly) = (px + dx, py + dy);
            placed.push((lx, ly));
            let color = class_color(class);
            let corner = (lx - 14 * dx.signum(), ly - 14 * dy.signum());
            plot.draw(&PathElement::new(
                vec![(px, py), corner],
                BLACK.stroke_width(2),
            ))?;
            plot.draw(&Circle::new((px, py), 4, BLACK.filled()))?;
            let label_box = [(lx - 16, ly - 18), (lx + 16, ly + 18)];
            plot.draw(&Rectangle::new(label_box, WHITE.mix(0.9).filled()))?;
            plot.draw(&Rectangle::new(label_box, color.stroke_width(3)))?;
            // plotters' ab_glyph layout centres a digit about 7 px too high at this size.
            plot.draw(&Text::new(
                class.to_string(),
                (lx, ly + 7),
                centre_font.clone(),
            ))?;
        }

        legend.draw(&Text::new("class", (10, 90), bold(text::HEADING)))?;
        for (class, &n) in counts.iter().enumerate() {
            let y = 135 + 40 * class as i32;
            legend.draw(&Rectangle::new(
                [(10, y - 12), (34, y + 12)],
                class_color(class).filled(),
            ))?;
            legend.draw(&Text::new(
                format!("{class}  ({n})"),
                (44, y),
                (FONT, text::LABEL)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        legend.draw(&Text::new(
            "(images)",
            (10, 135 + 40 * num_classes as i32),
            (FONT, text::TICK)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    })?;
    canvas.save(dir)
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
/// Sorts in place.
fn median(values: &mut [f32]) -> Option<f32> {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some(0.5 * (values[n / 2 - 1] + values[n / 2])),
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
