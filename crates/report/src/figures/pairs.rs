//! `pairs.png`: the tutorial's "predict and display": test pairs side by side, each image
//! captioned with its class, with their distance and the prediction, mistakes framed in
//! red; then the worst false positives and false negatives.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use siamese_data::{Dataset, Pair};

use super::{PAIRS, text};
use crate::canvas::{Canvas, FONT, RIGHT, THUMB, WRONG, bold, fit};
use crate::look::Look;
use crate::{Result, sample_pairs, worst_false_negatives, worst_false_positives};

/// Tiles per row.
const COLUMNS: usize = 6;
/// Rows of the even sample; the two kinds of mistakes get one row each.
const SAMPLE_ROWS: usize = 2;
const TILE_W: i32 = 196;
const TILE_H: i32 = 176;
const GAP: i32 = 10;
const MARGIN: i32 = 20;
const HEADER_H: i32 = 40;
const TITLE_H: i32 = 90;
const LINE_H: i32 = 23;
/// Thumbnail side, and its distance from the tile's edges.
const THUMB_PX: i32 = THUMB as i32;
const INSET: i32 = 8;

/// Which test pairs the picture shows (indices into the test pairs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PairsShown {
    /// An even sample, similar and dissimilar pairs in turn.
    pub sample: Vec<usize>,
    /// Dissimilar pairs predicted similar, closest first.
    pub false_positives: Vec<usize>,
    /// Similar pairs predicted dissimilar, farthest first.
    pub false_negatives: Vec<usize>,
}

/// Draws `pairs.png` into `dir` and says which pairs it shows.
pub(crate) fn pairs(
    look: Look<'_>,
    test: &Dataset,
    pairs: &[Pair],
    distances: &[f32],
    threshold: f32,
    dir: &Path,
) -> Result<PairsShown> {
    let shown = PairsShown {
        sample: sample_pairs(pairs, SAMPLE_ROWS * COLUMNS),
        false_positives: worst_false_positives(distances, pairs, threshold, COLUMNS),
        false_negatives: worst_false_negatives(distances, pairs, threshold, COLUMNS),
    };
    let sections = [
        (
            "A sample of the test pairs: similar and dissimilar in turn",
            &shown.sample,
            SAMPLE_ROWS,
        ),
        (
            "Worst false positives: different classes, yet closest (distance below the threshold)",
            &shown.false_positives,
            1,
        ),
        (
            "Worst false negatives: same class, yet farthest (distance at or above the threshold)",
            &shown.false_negatives,
            1,
        ),
    ];
    // Top-left corner of every tile, with its pair.
    let mut tiles = Vec::new();
    let mut headers = Vec::new();
    let mut y = TITLE_H;
    for (heading, indices, rows) in sections {
        headers.push((heading, y, indices.is_empty()));
        y += HEADER_H;
        for (k, &i) in indices.iter().enumerate() {
            let (row, col) = ((k / COLUMNS) as i32, (k % COLUMNS) as i32);
            tiles.push((MARGIN + col * (TILE_W + GAP), y + row * (TILE_H + GAP), i));
        }
        y += rows as i32 * (TILE_H + GAP);
    }

    let mut canvas = Canvas::new(PAIRS.file, PAIRS.size)?;
    let label = |i: u32| test.labels().get(i as usize).copied().unwrap_or(u32::MAX);
    let name_font = || (FONT, text::TICK).into_font();
    // Each image's class is written under it, as wide as its half of the tile allows.
    let name_width = (TILE_W / 2 - INSET) as u32;
    let thumbs_x = |x: i32| [x + INSET, x + TILE_W - INSET - THUMB_PX];
    canvas.draw(|root| {
        root.fill(&WHITE)?;
        root.draw(&Text::new(
            format!("Test pairs at threshold {threshold:.3}: predicted \"same\" when the distance is below it"),
            (MARGIN, 22),
            bold(text::TITLE - 4),
        ))?;
        root.draw(&Text::new(
            "under each image its class; d = distance between the two embeddings; mistakes framed in red",
            (MARGIN, 58),
            (FONT, text::LABEL),
        ))?;
        for &(heading, y, empty) in &headers {
            let heading = if empty {
                format!("{heading}: none")
            } else {
                heading.to_string()
            };
            root.draw(&Text::new(heading, (MARGIN, y + 10), bold(text::HEADING - 2)))?;
        }
        for &(x, y, i) in &tiles {
            let pair = pairs[i];
            let d = distances[i];
            let predicted_same = d < threshold;
            let right = predicted_same == pair.similar;
            let (mark, color) = if right { ("✓", RIGHT) } else { ("✗", WRONG) };
            let frame = [(x, y), (x + TILE_W, y + TILE_H)];
            if right {
                root.draw(&Rectangle::new(frame, RGBColor(190, 190, 190).stroke_width(1)))?;
            } else {
                root.draw(&Rectangle::new(frame, WRONG.stroke_width(4)))?;
            }
            let top = Pos::new(HPos::Center, VPos::Top);
            for (side, tx) in [pair.left, pair.right].into_iter().zip(thumbs_x(x)) {
                let name = fit(&look.class_name(label(side)), &name_font(), name_width);
                root.draw(&Text::new(
                    name,
                    (tx + THUMB_PX / 2, y + INSET + THUMB_PX + 4),
                    name_font().color(&BLACK).pos(top),
                ))?;
            }
            let text_y = y + INSET + THUMB_PX + 4 + LINE_H + 4;
            let line = |n: i32| (x + 10, text_y + n * LINE_H);
            let left = Pos::new(HPos::Left, VPos::Top);
            root.draw(&Text::new(format!("d = {d:.3}"), line(0), bold(text::LABEL).color(&BLACK).pos(left)))?;
            root.draw(&Text::new(
                format!("{mark} predicted {}", if predicted_same { "same" } else { "different" }),
                line(1),
                (FONT, text::LABEL).into_font().color(&color).pos(left),
            ))?;
        }
        Ok(())
    })?;
    for &(x, y, i) in &tiles {
        let pair = pairs[i];
        for (side, tx) in [pair.left, pair.right].into_iter().zip(thumbs_x(x)) {
            canvas.paste_thumbnail(
                &look.image(test, side as usize)?,
                (i64::from(tx), i64::from(y + INSET)),
            )?;
        }
    }
    canvas.save(dir)?;
    Ok(shown)
}
