//! `embedding-map.png`: the test embeddings on their top two principal components.

use std::path::Path;

use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{EMBEDDING_MAP, text};
use crate::canvas::{Canvas, DISTINCT_CLASSES, FONT, OTHER_CLASSES, bold, class_color, fit};
use crate::look::Look;
use crate::{ReportError, Result};

/// Width of the legend strip on the right.
const LEGEND: u32 = 270;
/// Room kept at the right of a legend row for the image count.
const COUNT_W: i32 = 66;
/// The widest a class name drawn at its cluster's centre may be.
const CENTRE_LABEL_W: u32 = 160;
/// Height of the box of such a label.
const CENTRE_LABEL_H: i32 = 32;

/// Draws `embedding-map.png` into `dir`. `points` holds one `(PC1, PC2)` row per image;
/// `explained` the share of variance of each component. The first [`DISTINCT_CLASSES`]
/// classes get a color, a legend row and a name at their centre; any further ones are
/// drawn grey and summed up in one legend row.
pub(crate) fn embedding_map(
    look: Look<'_>,
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
    // Per class, the median of each coordinate: where the class's name is written. The
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
        let centre_font = bold(text::LABEL);
        let (area_x, area_y) = chart.plotting_area().get_pixel_range();
        // Labels sit beside their centre, joined by a line, so they do not hide the densest
        // part of the cluster: up-right if that is inside the plot and covers no label
        // placed before nor any centre's dot, else the first other corner that does not,
        // moving out step by step where the centres crowd.
        let labelled: Vec<(usize, (i32, i32))> = centres
            .iter()
            .enumerate()
            .take(DISTINCT_CLASSES)
            .filter_map(|(class, centre)| Some((class, chart.backend_coord(centre.as_ref()?))))
            .collect();
        let mut placed: Vec<[i32; 4]> = labelled
            .iter()
            .map(|&(_, (x, y))| [x - 5, y - 5, x + 5, y + 5])
            .collect();
        for &(class, (px, py)) in &labelled {
            let name = fit(&look.class_name(class as u32), &centre_font, CENTRE_LABEL_W);
            let width = centre_font
                .box_size(&name)
                .map_or(CENTRE_LABEL_W, |(w, _)| w);
            let (w, h) = ((width as i32 + 16).max(32), CENTRE_LABEL_H);
            // `[x0, y0, x1, y1]` of the box on the (sx, sy) side of the centre, `reach`
            // farther out than the nearest place.
            let beside = |reach: i32, (sx, sy): (i32, i32)| {
                let x0 = if sx > 0 {
                    px + 14 + reach
                } else {
                    px - 14 - reach - w
                };
                let y0 = if sy < 0 {
                    py - 12 - reach - h
                } else {
                    py + 12 + reach
                };
                [x0, y0, x0 + w, y0 + h]
            };
            let candidates: Vec<[i32; 4]> = [0, 30, 60, 90, 120]
                .into_iter()
                .flat_map(|reach| {
                    [(1, -1), (-1, -1), (1, 1), (-1, 1)].map(|side| beside(reach, side))
                })
                .collect();
            let free = |b: &&[i32; 4]| {
                placed.iter().all(|p| {
                    b[0] >= p[2] + 2 || p[0] >= b[2] + 2 || b[1] >= p[3] + 2 || p[1] >= b[3] + 2
                })
            };
            let inside = |b: &&[i32; 4]| {
                area_x.contains(&b[0])
                    && area_x.contains(&b[2])
                    && area_y.contains(&b[1])
                    && area_y.contains(&b[3])
            };
            let [x0, y0, x1, y1] = candidates
                .iter()
                .find(|b| inside(b) && free(b))
                .or_else(|| candidates.iter().find(free))
                .or_else(|| candidates.iter().find(inside))
                .copied()
                .unwrap_or(candidates[0]);
            placed.push([x0, y0, x1, y1]);
            let near = (if x0 > px { x0 } else { x1 }, if y0 > py { y0 } else { y1 });
            plot.draw(&PathElement::new(
                vec![(px, py), near],
                BLACK.stroke_width(2),
            ))?;
            plot.draw(&Circle::new((px, py), 4, BLACK.filled()))?;
            let label_box = [(x0, y0), (x1, y1)];
            plot.draw(&Rectangle::new(label_box, WHITE.mix(0.9).filled()))?;
            plot.draw(&Rectangle::new(
                label_box,
                class_color(class).stroke_width(3),
            ))?;
            // plotters' ab_glyph layout centres text about a quarter of its size too high.
            plot.draw(&Text::new(
                name,
                ((x0 + x1) / 2, (y0 + y1) / 2 + text::LABEL as i32 / 4),
                centre_font
                    .clone()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
        }

        let row_font = || {
            (FONT, text::LABEL)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center))
        };
        let count_font = || {
            (FONT, text::TICK)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center))
        };
        let shown = num_classes.min(DISTINCT_CLASSES);
        // Twenty rows and the summary line still fit the figure's height when tighter.
        let step = if shown <= 10 { 40 } else { 36 };
        let row_y = |row: usize| 135 + step * row as i32;
        let name_w = (LEGEND as i32 - 44 - COUNT_W) as u32;
        let count_x = LEGEND as i32 - 12;
        legend.draw(&Text::new("class", (10, 90), bold(text::HEADING)))?;
        // On the heading's line: its 24 px text starts at y = 90, this 18 px one 4 px lower.
        legend.draw(&Text::new(
            "images",
            (count_x, 94),
            (FONT, text::TICK)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Top)),
        ))?;
        let swatch =
            |y: i32, color: RGBColor| Rectangle::new([(10, y - 12), (34, y + 12)], color.filled());
        for (class, &n) in counts.iter().enumerate().take(shown) {
            let y = row_y(class);
            legend.draw(&swatch(y, class_color(class)))?;
            legend.draw(&Text::new(
                fit(&look.class_name(class as u32), &row_font().font, name_w),
                (44, y),
                row_font(),
            ))?;
            legend.draw(&Text::new(n.to_string(), (count_x, y), count_font()))?;
        }
        if num_classes > shown {
            let y = row_y(shown);
            let rest: usize = counts[shown..].iter().sum();
            legend.draw(&swatch(y, OTHER_CLASSES))?;
            legend.draw(&Text::new(
                format!("… {} more", num_classes - shown),
                (44, y),
                row_font(),
            ))?;
            legend.draw(&Text::new(rest.to_string(), (count_x, y), count_font()))?;
        }
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
    use super::*;
    use crate::look::tests::model;
    use siamese_train::DataSource;

    /// 25 named classes in rings: 20 in the legend, "… 5 more", every name at its centre
    /// inside the plot. Set `SIAMESE_REPORT_SAMPLES=<dir>` to keep the picture in
    /// `<dir>/many-classes`.
    #[test]
    fn map_of_many_classes_legends_twenty() {
        let classes = 25;
        let names: Vec<String> = (0..classes)
            .map(|c| match c {
                3 => "a class whose folder name goes on and on".to_owned(),
                _ => format!("class {c}"),
            })
            .collect();
        let model = model(Some(names));
        let look = Look::new(&model, &DataSource::Folder("photos".into()));
        let per_class = 12;
        let mut labels = Vec::new();
        let mut points = Array2::zeros((classes * per_class, 2));
        for i in 0..classes * per_class {
            let (class, k) = (i % classes, i / classes);
            let angle = class as f32 / classes as f32 * std::f32::consts::TAU;
            let spread = 0.05 * (k as f32 - per_class as f32 / 2.0);
            points[[i, 0]] = angle.cos() + spread;
            points[[i, 1]] = angle.sin() - spread;
            labels.push(class as u32);
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::env::var_os("SIAMESE_REPORT_SAMPLES").map_or_else(
            || tmp.path().to_owned(),
            |d| Path::new(&d).join("many-classes"),
        );
        std::fs::create_dir_all(&dir).unwrap();
        embedding_map(look, &points, &labels, classes, [0.5, 0.3], &dir).unwrap();
        let picture = image::open(dir.join(EMBEDDING_MAP.file)).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), EMBEDDING_MAP.size);
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
