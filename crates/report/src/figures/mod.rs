//! The five pictures: each a fixed-size PNG written into the run directory.

mod curves;
mod distances;
mod embedding_map;
mod neighbours;
mod pairs;

pub(crate) use curves::curves;
pub(crate) use distances::distances;
pub(crate) use embedding_map::embedding_map;
pub(crate) use neighbours::{K as NEIGHBOURS_K, queries as neighbour_queries};
pub(crate) use neighbours::{Neighbours, neighbours};
pub(crate) use pairs::{PairsShown, pairs};

/// A picture of the report: its file name in the run directory and its size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figure {
    /// File name inside the run directory.
    pub file: &'static str,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

/// Test pairs side by side, each image captioned with its class, with distance and
/// prediction; the worst mistakes.
pub const PAIRS: Figure = Figure {
    file: "pairs.png",
    size: (1280, 960),
};
/// Test embeddings projected on their top two principal components, one color per class,
/// named at its centre and in the legend.
pub const EMBEDDING_MAP: Figure = Figure {
    file: "embedding-map.png",
    size: (1200, 960),
};
/// Loss and pair accuracy per epoch, training and validation.
pub const CURVES: Figure = Figure {
    file: "curves.png",
    size: (1400, 600),
};
/// Histograms of test pair distances, similar vs dissimilar, with the thresholds.
pub const DISTANCES: Figure = Figure {
    file: "distances.png",
    size: (1200, 700),
};
/// A test image per class with its nearest training images, each captioned with its class.
pub const NEIGHBOURS: Figure = Figure {
    file: "neighbours.png",
    size: (1040, 1590),
};

/// Every picture, in the order `report.md` shows them.
pub const FIGURES: [Figure; 5] = [CURVES, PAIRS, DISTANCES, EMBEDDING_MAP, NEIGHBOURS];

/// Text sizes in pixels, shared so the figures look like one set.
pub(crate) mod text {
    /// Figure titles.
    pub const TITLE: u32 = 30;
    /// Chart captions and section headings.
    pub const HEADING: u32 = 24;
    /// Axis descriptions, legends and tile captions.
    pub const LABEL: u32 = 20;
    /// Tick labels.
    pub const TICK: u32 = 18;
}
