//! `neighbours.png`: one test digit per class with its nearest training images.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use siamese_data::Dataset;

use super::{NEIGHBOURS, text};
use crate::canvas::{Canvas, FONT, RIGHT, WRONG, bold, digit};
use crate::{ReportError, Result};

/// Neighbours per query.
pub(crate) const K: usize = 8;
/// At most this many queries (one per class, in class order).
const MAX_QUERIES: usize = 10;
const SCALE: u32 = 3;
const DIGIT: i32 = 84;
const CELL_W: i32 = 104;
const CELL_H: i32 = 124;
const MARGIN: i32 = 20;
const TOP: i32 = 100;
/// Where the neighbour columns start: after the query column and a separating gap.
const FIRST_NEIGHBOUR_X: i32 = MARGIN + CELL_W + 40;

/// The queries and what was found for them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Neighbours {
    /// Test image index of each query.
    pub queries: Vec<usize>,
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

/// The first test image of each class, in class order, at most [`MAX_QUERIES`].
pub(crate) fn queries(test: &Dataset) -> Vec<usize> {
    let mut first = vec![None; test.num_classes()];
    for (i, &label) in test.labels().iter().enumerate() {
        if let Some(slot @ None) = first.get_mut(label as usize) {
            *slot = Some(i);
        }
    }
    first.into_iter().flatten().take(MAX_QUERIES).collect()
}

/// Draws `neighbours.png` into `dir`.
pub(crate) fn neighbours(
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
        root.draw(&Text::new(
            "Nearest training images of test digits",
            (MARGIN, 18),
            bold(text::TITLE),
        ))?;
        root.draw(&Text::new(
            "query",
            (MARGIN + CELL_W / 2, TOP - 22),
            bold(text::LABEL)
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        root.draw(&Text::new(
            "nearest first: label · distance in embedding space (other digit framed red)",
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
        for (row, (&q, found)) in neighbours.queries.iter().zip(&neighbours.found).enumerate() {
            let y = TOP + row as i32 * CELL_H;
            let caption_y = y + DIGIT + 10;
            let query_label = label(test, q);
            root.draw(&Text::new(
                format!("digit {query_label}"),
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
                root.draw(&Text::new(
                    // Three decimals: neighbours of a well-learned class are often < 0.01 away.
                    format!("{train_label} · {d:.3}"),
                    (x + 8 + DIGIT / 2, caption_y),
                    centered((FONT, text::TICK).into_font()).color(if same {
                        &RIGHT
                    } else {
                        &WRONG
                    }),
                ))?;
            }
        }
        Ok(())
    })?;
    for (row, (&q, found)) in neighbours.queries.iter().zip(&neighbours.found).enumerate() {
        let y = i64::from(TOP + row as i32 * CELL_H);
        canvas.paste_digit(
            &digit(test, q)?,
            SCALE,
            (i64::from(MARGIN + (CELL_W - DIGIT) / 2), y),
        )?;
        for (col, &(t, _)) in found.iter().enumerate() {
            let x = i64::from(FIRST_NEIGHBOUR_X + col as i32 * CELL_W + 8);
            canvas.paste_digit(&digit(train, t)?, SCALE, (x, y))?;
        }
    }
    canvas.save(dir)
}
