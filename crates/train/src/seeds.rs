//! Independent random streams derived from the config's one seed: each random choice of a
//! run draws from its own stream, so adding one never shifts the others.

/// Initial weights.
pub(crate) const INIT: u64 = 1 << 40;
/// Training pairs (then one sub-stream per epoch when they are fresh each epoch).
pub(crate) const TRAIN_PAIRS: u64 = 2 << 40;
/// Validation pairs.
pub(crate) const EVAL_PAIRS: u64 = 3 << 40;
/// The order of each epoch's pairs (plus the epoch).
pub(crate) const SHUFFLE: u64 = 4 << 40;
/// Which training images are held out for validation.
pub(crate) const HOLDOUT: u64 = 5 << 40;
/// Test pairs.
pub(crate) const TEST_PAIRS: u64 = 6 << 40;
/// The class-balanced batches of each epoch (plus the epoch, inside the sampler).
pub(crate) const BATCHES: u64 = 7 << 40;
/// Which images of a collection without its own test split are held out for testing.
pub(crate) const TEST_SPLIT: u64 = 8 << 40;
