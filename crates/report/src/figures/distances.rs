//! `distances.png`: how far apart the embeddings of similar and dissimilar test pairs are,
//! and where the thresholds cut.

use std::path::Path;

use plotters::prelude::*;
use siamese_data::Pair;

use super::{DISTANCES, text};
use crate::canvas::{Canvas, FONT, bold};
use crate::{Histogram, Result};

const SIMILAR: RGBColor = RGBColor(31, 119, 180);
const DISSIMILAR: RGBColor = RGBColor(255, 127, 14);
const TUNED: RGBColor = RGBColor(148, 0, 148);
/// Enough bins to show the shape, few enough that 1,000 pairs still fill them.
const BINS: usize = 60;

/// Draws `distances.png` into `dir`: one histogram per kind of pair, each as a share of its
/// own kind so the two compare even when their counts differ.
pub(crate) fn distances(
    distances: &[f32],
    pairs: &[Pair],
    threshold: f32,
    tuned: f32,
    dir: &Path,
) -> Result<()> {
    let finite_max = distances
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .fold(0.0f32, f32::max);
    let hi = (finite_max.max(threshold).max(tuned) * 1.05).max(1e-3);
    let kind = |similar: bool| -> Result<Histogram> {
        let mut h = Histogram::new(0.0, hi, BINS)?;
        h.extend(
            distances
                .iter()
                .zip(pairs)
                .filter(|(_, p)| p.similar == similar)
                .map(|(&d, _)| d),
        );
        Ok(h)
    };
    let similar = kind(true)?;
    let dissimilar = kind(false)?;
    let share = |h: &Histogram, count: usize| 100.0 * count as f32 / h.total().max(1) as f32;
    let y_max = [&similar, &dissimilar]
        .iter()
        .flat_map(|h| h.counts.iter().map(|&c| share(h, c)))
        .fold(0.0f32, f32::max)
        * 1.3;
    let y_max = y_max.max(1.0);

    let mut canvas = Canvas::new(DISTANCES.file, DISTANCES.size)?;
    canvas.draw(|root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Distances of the {} test pairs", distances.len()),
                bold(text::TITLE),
            )
            .margin(25)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0f32..hi, 0.0f32..y_max)?;
        chart
            .configure_mesh()
            .x_desc("Euclidean distance between the two embeddings")
            .y_desc("share of the pairs of its kind (%)")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, text::TICK))
            .axis_desc_style((FONT, text::LABEL))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (h, color, name) in [
            (
                &dissimilar,
                DISSIMILAR,
                format!(
                    "dissimilar pairs (different classes), {}",
                    dissimilar.total()
                ),
            ),
            (
                &similar,
                SIMILAR,
                format!("similar pairs (same class), {}", similar.total()),
            ),
        ] {
            let style = color.mix(0.55).filled();
            chart
                .draw_series(
                    h.bins()
                        .filter(|&(_, _, count)| count > 0)
                        .map(|(l, r, count)| {
                            Rectangle::new([(l, 0.0), (r, share(h, count))], style)
                        }),
                )?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 8), (x + 20, y + 8)], style));
        }
        chart
            .draw_series(LineSeries::new(
                [(threshold, 0.0), (threshold, y_max)],
                BLACK.stroke_width(3),
            ))?
            .label(format!("threshold {threshold:.3}: similar if below"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        chart
            .draw_series(DashedLineSeries::new(
                [(tuned, 0.0), (tuned, y_max)],
                12,
                8,
                TUNED.stroke_width(3),
            ))?
            .label(format!("threshold tuned on validation {tuned:.3}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TUNED.stroke_width(3)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, text::LABEL))
            .margin(15)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
    })?;
    canvas.save(dir)
}
