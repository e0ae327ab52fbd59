//! `neighbours.png`: one test image per class with its nearest training images, each
//! captioned with its class.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use siamese_data::Dataset;

use super::{NEIGHBOURS, text};
use crate::canvas::{Canvas, FONT, RIGHT, THUMB, WRONG, bold, fit};
use crate::look::Look;
use crate::{ReportError, Result};

/// Neighbours per query.
pub(crate) const K: usize = 8;
/// At most this many queries (one per class, in class order).
const MAX_QUERIES: usize = 10;
const DIGIT: i32 = THUMB as i32;
const CELL_W: i32 = 104;
/// A thumbnail and two caption lines: the class, then the distance.
const CELL_H: i32 = 148;
const LINE_H: i32 = 22;
const MARGIN: i32 = 20;
const TOP: i32 = 100;
/// Where the neighbour columns start: after the query column and a separating gap.
const FIRST_NEIGHBOUR_X: i32 = MARGIN + CELL_W + 40;

/// The queries and what was found for them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Neighbours {
    /// Test image index of each query.
    pub queries: Vec<usize>,
    /// Classes with a test image: more than the queries when there are more than
    /// [`MAX_QUERIES`].
    pub classes: usize,
    /// Per query: `(training image index, distance)`, nearest first.
    pub found: Vec<Vec<(usize, f32)>>,
}

impl Neighbours {
    /// Neighbours whose label matches their query's, and neighbours in all.
    pub(crate) fn agreement(&self, test: &Dataset, train: &Dataset) -> (usize, usize) {
        let mut same = 0;
        let mut all = 0;
        for (&q, found) in self.queries.iter().zip(&self.found) {
            for &(t, _) in found {
                all += 1;
                same += usize::from(test.labels().get(q) == train.labels().get(t));
            }
        }
        (same, all)
    }
}

/// The first test image of each class, in class order, at most [`MAX_QUERIES`]; and the
/// number of classes with a test image.
pub(crate) fn queries(test: &Dataset) -> (Vec<usize>, usize) {
    let mut first = vec![None; test.num_classes()];
    for (i, &label) in test.labels().iter().enumerate() {
        if let Some(slot @ None) = first.get_mut(label as usize) {
            *slot = Some(i);
        }
    }
    let present: Vec<usize> = first.into_iter().flatten().collect();
    let classes = present.len();
    (present.into_iter().take(MAX_QUERIES).collect(), classes)
}

/// Draws `neighbours.png` into `dir`.
pub(crate) fn neighbours(
    look: Look<'_>,
    test: &Dataset,
    train: &Dataset,
    neighbours: &Neighbours,
    dir: &Path,
) -> Result<()> {
    if neighbours.queries.len() != neighbours.found.len() {
        return Err(ReportError::Unsuitable {
            what: format!(
                "{} queries with {} neighbour lists",
                neighbours.queries.len(),
                neighbours.found.len()
            ),
        });
    }
    let label = |set: &Dataset, i: usize| set.labels().get(i).copied().unwrap_or(u32::MAX);
    let mut canvas = Canvas::new(NEIGHBOURS.file, NEIGHBOURS.size)?;
    let rows = neighbours.queries.len() as i32;
    canvas.draw(|root| {
        root.fill(&WHITE)?;
        let title = if neighbours.classes > neighbours.queries.len() {
            format!(
                "Nearest training images of test images (the first {} of {} classes)",
                neighbours.queries.len(),
                neighbours.classes
            )
        } else {
            "Nearest training images of test images, one per class".to_owned()
        };
        root.draw(&Text::new(title, (MARGIN, 18), bold(text::TITLE)))?;
        root.draw(&Text::new(
            "query",
            (MARGIN + CELL_W / 2, TOP - 22),
            bold(text::LABEL)
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        root.draw(&Text::new(
            "nearest first: class and distance in embedding space (another class framed red)",
            (FIRST_NEIGHBOUR_X, TOP - 22),
            (FONT, text::LABEL)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let line_x = FIRST_NEIGHBOUR_X - 20;
        root.draw(&PathElement::new(
            vec![(line_x, TOP - 5), (line_x, TOP + rows * CELL_H)],
            BLACK.stroke_width(2),
        ))?;
        let centered =
            |font: FontDesc<'static>| font.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        let tick = || (FONT, text::TICK).into_font();
        for (row, (&q, found)) in neighbours.queries.iter().zip(&neighbours.found).enumerate() {
            let y = TOP + row as i32 * CELL_H;
            let caption_y = y + DIGIT + 8;
            let query_label = label(test, q);
            // The query's name may use the gap before the separating line.
            let name = fit(
                &look.class_name(query_label),
                &bold(text::LABEL),
                (CELL_W + 24) as u32,
            );
            root.draw(&Text::new(
                name,
                (MARGIN + CELL_W / 2, caption_y),
                centered(bold(text::LABEL)),
            ))?;
            for (col, &(t, d)) in found.iter().enumerate() {
                let x = FIRST_NEIGHBOUR_X + col as i32 * CELL_W;
                let train_label = label(train, t);
                let same = train_label == query_label;
                if !same {
                    root.draw(&Rectangle::new(
                        [(x + 5, y - 3), (x + 8 + DIGIT + 3, y + DIGIT + 3)],
                        WRONG.stroke_width(4),
                    ))?;
                }
                let color = if same { &RIGHT } else { &WRONG };
                let centre_x = x + 8 + DIGIT / 2;
                root.draw(&Text::new(
                    fit(&look.class_name(train_label), &tick(), (CELL_W - 6) as u32),
                    (centre_x, caption_y),
                    centered(tick()).color(color),
                ))?;
                root.draw(&Text::new(
                    // Three decimals: neighbours of a well-learned class are often < 0.01 away.
                    format!("{d:.3}"),
                    (centre_x, caption_y + LINE_H),
                    centered(tick()).color(color),
                ))?;
            }
        }
        Ok(())
    })?;
    for (row, (&q, found)) in neighbours.queries.iter().zip(&neighbours.found).enumerate() {
        let y = i64::from(TOP + row as i32 * CELL_H);
        canvas.paste_thumbnail(
            &look.image(test, q)?,
            (i64::from(MARGIN + (CELL_W - DIGIT) / 2), y),
        )?;
        for (col, &(t, _)) in found.iter().enumerate() {
            let x = i64::from(FIRST_NEIGHBOUR_X + col as i32 * CELL_W + 8);
            canvas.paste_thumbnail(&look.image(train, t)?, (x, y))?;
        }
    }
    canvas.save(dir)
}
