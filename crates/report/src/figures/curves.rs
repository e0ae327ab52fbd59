//! `curves.png`: loss and pair accuracy per epoch, training vs validation.

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;
use siamese_train::EpochMetrics;

use super::{CURVES, text};
use crate::Result;
use crate::canvas::{Area, Canvas, DrawResult, FONT, bold};

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);

/// One panel's two lines: training and validation values per epoch.
struct Panel<'a> {
    caption: &'a str,
    y_desc: &'a str,
    train: Vec<(f64, f64)>,
    validation: Vec<(f64, f64)>,
    y: Range<f64>,
    legend: SeriesLabelPosition,
    /// Decimals of the y tick labels.
    decimals: usize,
}

impl Panel<'_> {
    fn y_format(&self, y: f64) -> String {
        format!("{y:.*}", self.decimals)
    }
}

/// Draws `curves.png` into `dir`.
pub(crate) fn curves(metrics: &[EpochMetrics], dir: &Path) -> Result<()> {
    let mut canvas = Canvas::new(CURVES.file, CURVES.size)?;
    let points = |f: fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        metrics.iter().map(|m| (m.epoch as f64, f(m))).collect()
    };
    let loss_max = metrics
        .iter()
        .flat_map(|m| [m.train_loss, m.val_loss])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let acc_min = metrics
        .iter()
        .flat_map(|m| [m.train_accuracy, m.val_accuracy])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::min);
    // Room above the lines for the legend; accuracy starts at a round percentage below the
    // lowest value so the differences between epochs stay visible.
    let loss = Panel {
        caption: "Contrastive loss",
        y_desc: "mean loss per pair",
        train: points(|m| m.train_loss),
        validation: points(|m| m.val_loss),
        y: 0.0..(loss_max * 1.35).max(1e-3),
        legend: SeriesLabelPosition::UpperRight,
        decimals: 3,
    };
    let accuracy = Panel {
        caption: "Pair accuracy",
        y_desc: "pairs classified right (%)",
        train: points(|m| 100.0 * m.train_accuracy),
        validation: points(|m| 100.0 * m.val_accuracy),
        y: ((100.0 * acc_min - 5.0) / 5.0).floor().max(0.0) * 5.0..100.0,
        legend: SeriesLabelPosition::LowerRight,
        decimals: 0,
    };
    let epochs = metrics.iter().map(|m| m.epoch).max().unwrap_or(1);
    canvas.draw(|root| {
        root.fill(&WHITE)?;
        let (title, body) = root.split_vertically(60);
        let subtitle = if metrics.is_empty() {
            "no finished epoch in metrics.jsonl".to_string()
        } else {
            format!(
                "{} epoch{}",
                metrics.len(),
                if metrics.len() == 1 { "" } else { "s" }
            )
        };
        title.draw(&Text::new(
            format!("Learning curves ({subtitle})"),
            (20, 18),
            bold(text::TITLE),
        ))?;
        let (left, right) = body.split_horizontally(CURVES.size.0 / 2);
        panel(&left, &loss, epochs)?;
        panel(&right, &accuracy, epochs)
    })?;
    canvas.save(dir)
}

fn panel(area: &Area<'_>, panel: &Panel<'_>, epochs: usize) -> DrawResult {
    let mut chart = ChartBuilder::on(area)
        .caption(panel.caption, (FONT, text::HEADING))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5..epochs as f64 + 0.5, panel.y.clone())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(panel.y_desc)
        .x_labels(epochs.min(10) + 1)
        // Epochs are whole numbers: no ticks in between.
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{}", x.round())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| panel.y_format(*y))
        .label_style((FONT, text::TICK))
        .axis_desc_style((FONT, text::LABEL))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (name, color, points) in [
        ("training (mean over the epoch)", TRAIN, &panel.train),
        (
            "validation (after the epoch)",
            VALIDATION,
            &panel.validation,
        ),
    ] {
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(3),
            ))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 6, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(panel.legend.clone())
        .label_font((FONT, text::LABEL))
        .margin(15)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}
