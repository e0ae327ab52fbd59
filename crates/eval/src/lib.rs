//! Use what a Siamese tower learned: embeddings, similarity search, evaluation and novelty
//! detection.
//!
//! - Embeddings come from the run's [`siamese_train::TrainedModel`];
//!   [`export_embeddings`] writes them as `.npy` and as the TSV pair TensorBoard's
//!   Embedding Projector loads, and [`pixel_features`] gives raw pixels as the baseline.
//! - [`Index`]: exact k-nearest-neighbour search by Euclidean distance, as blocked matrix
//!   products with a small sorted top-k per query, parallel over blocks of queries; saved
//!   and loaded as safetensors.
//! - Metrics ([`roc_auc`], [`equal_error_rate`], [`knn_accuracy`], [`retrieval_metrics`]
//!   for precision@1, R-precision and MAP@R as pytorch-metric-learning defines them,
//!   [`mean_knn_distance`] for novelty scores): pure functions with known-answer tests.
//! - Whole runs: [`evaluate`] ([`siamese_train::EvalReport`], `eval.json`) and
//!   [`detect_anomalies`] ([`siamese_train::AnomalyReport`], `anomaly.json`), each with the
//!   raw-pixel baseline beside it; [`score_images`] scores image files the same way.
//!
//! # Example
//!
//! ```
//! use ndarray::array;
//! use siamese_eval::{Index, knn_accuracy, relevant_counts, retrieval_metrics};
//!
//! // Four 2-d embeddings of two classes, and two queries.
//! let index = Index::new(
//!     array![[0.0f32, 0.0], [0.1, 0.0], [1.0, 1.0], [1.1, 1.0]],
//!     vec![0, 0, 1, 1],
//! )?;
//! let hits = index.search(array![[0.05f32, 0.0], [0.9, 1.0]].view(), 2)?;
//! assert_eq!(hits.row(1)[0].index, 2);
//! assert_eq!(knn_accuracy(&hits, &[0, 1], 1)?, 1.0);
//!
//! // Retrieval within the index itself: each item's one other same-class item comes first.
//! let relevant = relevant_counts(index.labels(), index.labels(), true);
//! let m = retrieval_metrics(&index.search_self(1)?, index.labels(), &relevant)?;
//! assert_eq!((m.precision_at_1, m.map_at_r), (1.0, 1.0));
//! # Ok::<(), siamese_eval::EvalError>(())
//! ```

mod anomaly;
mod baseline;
mod error;
mod evaluate;
mod export;
mod index;
mod metrics;
mod split;

pub use anomaly::{AnomalyOptions, ImageNovelty, detect_anomalies, novelty_scores, score_images};
pub use baseline::pixel_features;
pub use error::{EvalError, Result};
pub use evaluate::{EmbeddingFigures, EvalOptions, embedding_figures, evaluate};
pub use export::{
    EmbeddingFiles, ImageEmbeddingFiles, export_embeddings, export_image_embeddings, metadata_tsv,
    vectors_tsv, write_npy,
};
pub use index::{INDEX_FORMAT_VERSION, Index, Neighbor, Neighbors};
pub use metrics::{
    RetrievalMetrics, equal_error_rate, knn_accuracy, knn_predict, mean_knn_distance,
    relevant_counts, retrieval_metrics, roc_auc,
};
pub use split::{INDEX_TOWER_KEY, Split, build_index, load_split};
