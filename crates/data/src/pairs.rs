//! Seeded generation of Siamese training pairs.
//!
//! # Label convention: `similar == true` ⇔ target 1.0
//!
//! Throughout this workspace **1 means similar** (same class) and **0 means
//! dissimilar**. Hadsell, Chopra & LeCun (2006), who introduced the
//! contrastive loss, use the *opposite*: `Y = 0` for similar pairs. Many
//! published examples mix the two and silently train the network backwards.
//! [`Pair::target`] is the single place the number comes from; the loss must
//! read it the same way.
//!
//! Pairs hold indices into a [`Dataset`](crate::Dataset), never image copies.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Two samples, by index, and whether they share a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pair {
    /// Index of the first sample.
    pub left: u32,
    /// Index of the second sample.
    pub right: u32,
    /// `true` if both samples have the same label.
    pub similar: bool,
}

impl Pair {
    /// The training target: **1.0 for similar, 0.0 for dissimilar** (the
    /// reverse of Hadsell–Chopra–LeCun's `Y`; see the [module docs](self)).
    pub fn target(&self) -> f32 {
        if self.similar { 1.0 } else { 0.0 }
    }
}

/// Mixes a base seed with an epoch number (splitmix64 finalizer), so each
/// epoch gets fresh, reproducible, uncorrelated pairs:
/// `random_pairs(.., epoch_seed(seed, epoch))`.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    // Mixing the epoch first keeps (seed, epoch) and (seed + 1, epoch − 1)
    // from colliding, as a plain sum would.
    splitmix64(seed ^ splitmix64(epoch.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const PAIRS_ORIGIN: &str = "labels passed to pair generation";

/// Sample indices per class, in dataset order, after validating labels;
/// `origin` names the caller in error messages.
pub(crate) fn indices_by_class(
    labels: &[u32],
    num_classes: usize,
    origin: &str,
) -> Result<Vec<Vec<u32>>> {
    if u32::try_from(labels.len()).is_err() {
        return Err(DataError::TooManySamples { len: labels.len() });
    }
    if num_classes > crate::MAX_CLASSES {
        return Err(DataError::TooManyClasses {
            origin: origin.to_owned(),
            num_classes,
            max: crate::MAX_CLASSES,
        });
    }
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        let class = by_class
            .get_mut(l as usize)
            .ok_or_else(|| DataError::LabelOutOfRange {
                origin: origin.to_owned(),
                index: i,
                label: i64::from(l),
                num_classes,
            })?;
        // Checked above: labels.len() fits in u32.
        class.push(i as u32);
    }
    Ok(by_class)
}

/// The classic recipe of the Keras `mnist_siamese` example.
///
/// Indices are grouped by class in dataset order and `n` = (smallest class
/// count) − 1. For each class `d` and each `i < n` it emits the positive
/// `(idx[d][i], idx[d][i+1])`, then the negative `(idx[d][i], idx[d'][i])`
/// with `d' = (d + r) mod C`, `r` uniform in `1..C`. So the result is
/// `2·C·n` pairs, alternating positive and negative: 108,400 on the MNIST
/// training set and 17,820 on its test set.
///
/// Classes with no samples at all are skipped (so a class left out of
/// training does not stop the recipe), and `C` counts the classes present.
/// Errors if fewer than 2 classes are present or one has fewer than 2
/// samples.
pub fn classic_pairs(labels: &[u32], num_classes: usize, seed: u64) -> Result<Vec<Pair>> {
    if num_classes < 2 {
        return Err(DataError::NotEnoughClasses { found: num_classes });
    }
    // Classes without samples (e.g. one left out on purpose) take no part; the recipe runs
    // over the classes present.
    let by_class: Vec<Vec<u32>> = indices_by_class(labels, num_classes, PAIRS_ORIGIN)?
        .into_iter()
        .filter(|members| !members.is_empty())
        .collect();
    let classes = by_class.len();
    if classes < 2 {
        return Err(DataError::NotEnoughClasses { found: classes });
    }
    let (smallest, min_count) = by_class
        .iter()
        .map(|v| (v[0], v.len()))
        .min_by_key(|&(_, n)| n)
        .unwrap_or((0, 0));
    if min_count < 2 {
        return Err(DataError::ClassTooSmall {
            class: labels[smallest as usize],
            count: min_count,
            needed: 2,
        });
    }
    let n = min_count - 1;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pairs = Vec::with_capacity(2 * classes * n);
    for (d, members) in by_class.iter().enumerate() {
        for i in 0..n {
            pairs.push(Pair {
                left: members[i],
                right: members[i + 1],
                similar: true,
            });
            let other = (d + rng.random_range(1..classes)) % classes;
            pairs.push(Pair {
                left: members[i],
                right: by_class[other][i],
                similar: false,
            });
        }
    }
    Ok(pairs)
}

/// `count` random pairs, `round(count · positive_fraction)` of them positive,
/// in random order, reproducible from `seed`.
///
/// Balanced by class: a positive picks a class uniformly (among classes with
/// at least 2 samples), then two distinct members; a negative picks two
/// different classes uniformly (among non-empty classes), then one member of
/// each. Use [`epoch_seed`] for fresh pairs every epoch.
///
/// Errors if `positive_fraction` is not in `0..=1`, or if positives are
/// requested and no class has 2 samples, or negatives are requested and
/// fewer than 2 classes have samples.
pub fn random_pairs(
    labels: &[u32],
    num_classes: usize,
    count: usize,
    positive_fraction: f64,
    seed: u64,
) -> Result<Vec<Pair>> {
    if !(0.0..=1.0).contains(&positive_fraction) {
        return Err(DataError::InvalidPositiveFraction {
            value: positive_fraction,
        });
    }
    let by_class = indices_by_class(labels, num_classes, PAIRS_ORIGIN)?;
    // Exact for any count that fits in memory; clamped against rounding.
    let positives = ((count as f64 * positive_fraction).round() as usize).min(count);
    let negatives = count - positives;

    let pos_classes: Vec<&[u32]> = by_class
        .iter()
        .filter(|m| m.len() >= 2)
        .map(Vec::as_slice)
        .collect();
    let neg_classes: Vec<&[u32]> = by_class
        .iter()
        .filter(|m| !m.is_empty())
        .map(Vec::as_slice)
        .collect();
    if positives > 0 && pos_classes.is_empty() {
        let (class, count) = by_class
            .iter()
            .enumerate()
            .map(|(c, m)| (c as u32, m.len()))
            .max_by_key(|&(_, n)| n)
            .unwrap_or((0, 0));
        return Err(DataError::ClassTooSmall {
            class,
            count,
            needed: 2,
        });
    }
    if negatives > 0 && neg_classes.len() < 2 {
        return Err(DataError::NotEnoughClasses {
            found: neg_classes.len(),
        });
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..positives {
        let members = pos_classes[rng.random_range(0..pos_classes.len())];
        let a = rng.random_range(0..members.len());
        // Drawing from one fewer and skipping `a` gives a distinct member
        // without rejection sampling.
        let mut b = rng.random_range(0..members.len() - 1);
        if b >= a {
            b += 1;
        }
        pairs.push(Pair {
            left: members[a],
            right: members[b],
            similar: true,
        });
    }
    for _ in 0..negatives {
        let ca = rng.random_range(0..neg_classes.len());
        let mut cb = rng.random_range(0..neg_classes.len() - 1);
        if cb >= ca {
            cb += 1;
        }
        let (ma, mb) = (neg_classes[ca], neg_classes[cb]);
        pairs.push(Pair {
            left: ma[rng.random_range(0..ma.len())],
            right: mb[rng.random_range(0..mb.len())],
            similar: false,
        });
    }
    pairs.shuffle(&mut rng);
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 3 classes: sizes 3, 4, 2.
    const LABELS: [u32; 9] = [0, 1, 2, 1, 0, 1, 2, 0, 1];

    fn check(pairs: &[Pair]) {
        for p in pairs {
            let same = LABELS[p.left as usize] == LABELS[p.right as usize];
            assert_eq!(same, p.similar, "{p:?}");
            assert_ne!(p.left, p.right);
        }
    }

    #[test]
    fn target_convention() {
        let p = Pair {
            left: 0,
            right: 1,
            similar: true,
        };
        assert_eq!(p.target(), 1.0);
        assert_eq!(
            Pair {
                similar: false,
                ..p
            }
            .target(),
            0.0
        );
    }

    #[test]
    fn classic_structure() {
        let pairs = classic_pairs(&LABELS, 3, 1).unwrap();
        // smallest class has 2 → n = 1 → 2·3·1 pairs.
        assert_eq!(pairs.len(), 6);
        check(&pairs);
        for (k, p) in pairs.iter().enumerate() {
            assert_eq!(p.similar, k % 2 == 0);
        }
        // Positives follow dataset order within the class.
        assert_eq!((pairs[0].left, pairs[0].right), (0, 4));
        assert_eq!((pairs[2].left, pairs[2].right), (1, 3));
        assert_eq!((pairs[4].left, pairs[4].right), (2, 6));
    }

    #[test]
    fn classic_errors() {
        let e = classic_pairs(&[0, 0], 1, 0).unwrap_err();
        assert!(e.to_string().contains("at least 2 classes"), "{e}");
        let e = classic_pairs(&[0, 0, 1], 2, 0).unwrap_err();
        assert!(e.to_string().contains("class 1 has 1 samples"), "{e}");
        let e = classic_pairs(&[0, 5], 2, 0).unwrap_err();
        assert!(e.to_string().contains("label 5 at index 1"), "{e}");
        let e = classic_pairs(&[2, 2, 2], 3, 0).unwrap_err();
        assert!(e.to_string().contains("at least 2 classes"), "{e}");
    }

    #[test]
    fn classic_skips_classes_without_samples() {
        // Class 1 is absent: pairs run over classes 0 and 2 only.
        let labels = [0, 2, 0, 2, 0, 2];
        let pairs = classic_pairs(&labels, 3, 1).unwrap();
        assert_eq!(pairs.len(), 2 * 2 * 2);
        for p in &pairs {
            let (a, b) = (labels[p.left as usize], labels[p.right as usize]);
            assert_eq!(a == b, p.similar, "{p:?}");
            assert!(a != 1 && b != 1, "{p:?}");
        }
    }

    #[test]
    fn random_counts_and_seeds() {
        let pairs = random_pairs(&LABELS, 3, 101, 0.3, 5).unwrap();
        assert_eq!(pairs.len(), 101);
        assert_eq!(pairs.iter().filter(|p| p.similar).count(), 30);
        check(&pairs);
        assert_eq!(pairs, random_pairs(&LABELS, 3, 101, 0.3, 5).unwrap());
        assert_ne!(pairs, random_pairs(&LABELS, 3, 101, 0.3, 6).unwrap());
        assert!(
            random_pairs(&LABELS, 3, 10, 1.0, 0)
                .unwrap()
                .iter()
                .all(|p| p.similar)
        );
        assert!(
            random_pairs(&LABELS, 3, 10, 0.0, 0)
                .unwrap()
                .iter()
                .all(|p| !p.similar)
        );
        assert!(random_pairs(&LABELS, 3, 0, 0.5, 0).unwrap().is_empty());
    }

    #[test]
    fn random_errors() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let e = random_pairs(&LABELS, 3, 4, bad, 0).unwrap_err();
            assert!(e.to_string().contains("expected a number in 0..=1"), "{e}");
        }
        let e = random_pairs(&[0, 1, 2], 3, 4, 0.5, 0).unwrap_err();
        assert!(e.to_string().contains("needs at least 2"), "{e}");
        let e = random_pairs(&[0, 0, 0], 1, 4, 0.5, 0).unwrap_err();
        assert!(e.to_string().contains("found 1"), "{e}");
        // All-positive from a single class is fine.
        assert_eq!(random_pairs(&[0, 0], 1, 3, 1.0, 0).unwrap().len(), 3);
    }

    #[test]
    fn epoch_seeds_differ() {
        let seeds: std::collections::HashSet<u64> = (0..4)
            .flat_map(|s| (0..100).map(move |e| epoch_seed(s, e)))
            .collect();
        assert_eq!(seeds.len(), 400);
        assert_eq!(epoch_seed(3, 9), epoch_seed(3, 9));
    }

    #[test]
    fn pair_serde() {
        let p = Pair {
            left: 3,
            right: 9,
            similar: false,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"left":3,"right":9,"similar":false}"#);
        assert_eq!(serde_json::from_str::<Pair>(&json).unwrap(), p);
    }
}
