//! Seeded class-balanced batches (P classes × K images) for in-batch losses.
//!
//! In-batch mining losses (triplet, multi-similarity, supervised contrastive)
//! only see positives among images that share a batch, so a uniformly random
//! batch of MNIST's 10 classes wastes little, but one of many classes may hold
//! no positive at all. Building each batch from P classes with K images each
//! (pytorch-metric-learning's `MPerClassSampler`) guarantees K − 1 positives
//! per anchor.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::pairs::{epoch_seed, indices_by_class};

const ORIGIN: &str = "labels passed to ClassBalancedSampler::new";

/// ChaCha stream of the sampler's generator. The train crate may seed other
/// generators with the same `epoch_seed(seed, epoch)` (pairs, shuffles); a
/// stream of its own keeps the batches uncorrelated with them.
const SAMPLER_STREAM: u64 = 0x5341_4d50_4c45_5231; // "SAMPLER1"

/// Draws batches of `P` distinct classes × `K` images of each, reproducibly
/// from `(seed, epoch)`.
///
/// # Layout
///
/// [`epoch`](Self::epoch) writes batch after batch, each `P·K` indices long
/// and class-major: K consecutive images of one class, then K of the next.
/// Image `j` of class slot `c` in batch `b` is at
/// `out[b·P·K + c·K + j]`.
///
/// # Balance
///
/// Within an epoch:
/// - **Classes** are walked through a shuffled cycle of every class that has
///   images, P at a time; when the cycle runs out it is reshuffled. Over `B`
///   batches each class therefore fills `⌊B·P/C⌋` or `⌈B·P/C⌉` class slots
///   (C = classes with images), so class counts differ by at most K images.
/// - **Images** of a class are drawn without replacement from a shuffled cycle
///   of its members; when fewer than K remain, they are taken and the cycle
///   reshuffled. So an epoch of about `N / (P·K)` batches sees about every
///   image once (exactly once on a balanced set whose class sizes are
///   multiples of K).
///
/// When a cycle wraps in the middle of a batch, the items just taken from its
/// end are put at the end of the new cycle, so the P classes of a batch are
/// always distinct, and so are its K images of a class when the class has at
/// least K images.
///
/// # Small classes
///
/// A class with `n < K` images is **sampled with replacement**: each of its
/// K-image blocks holds every one of its images `⌊K/n⌋` times plus
/// `K mod n` more, distinct, from its cycle, in random order. A class with no
/// image is never chosen.
///
/// # Reproducibility
///
/// Randomness comes only from `(seed, epoch)`, through
/// [`epoch_seed`] and a ChaCha8 generator on a stream of its own, so any epoch
/// can be regenerated alone (e.g. when resuming from a checkpoint).
///
/// ```
/// use siamese_data::ClassBalancedSampler;
/// let labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
/// let sampler = ClassBalancedSampler::new(&labels, 3, 2, 2)?;
/// let mut batches = Vec::new();
/// sampler.epoch(42, 0, sampler.default_batches(labels.len()), &mut batches);
/// assert_eq!(batches.len(), 3 * 4);
/// for block in batches.chunks(2) {
///     assert_eq!(labels[block[0] as usize], labels[block[1] as usize]);
/// }
/// # Ok::<(), siamese_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClassBalancedSampler {
    /// Indices of all images, grouped by class (classes with images only).
    members: Vec<u32>,
    /// Class `c`'s images are `members[bounds[c]..bounds[c + 1]]`.
    bounds: Vec<usize>,
    classes_per_batch: usize,
    images_per_class: usize,
}

impl ClassBalancedSampler {
    /// A sampler of batches of `classes_per_batch` (P) classes ×
    /// `images_per_class` (K) images over the samples with these `labels`.
    ///
    /// Errors if P or K is 0, if P exceeds the number of classes that have at
    /// least one image, if a label is not below `num_classes`, if
    /// `num_classes` exceeds [`MAX_CLASSES`](crate::MAX_CLASSES), or if there
    /// are more than `u32::MAX` labels (indices are `u32`).
    pub fn new(
        labels: &[u32],
        num_classes: usize,
        classes_per_batch: usize,
        images_per_class: usize,
    ) -> Result<Self> {
        if classes_per_batch == 0 || images_per_class == 0 {
            return Err(DataError::EmptyBatchShape {
                classes_per_batch,
                images_per_class,
            });
        }
        let by_class = indices_by_class(labels, num_classes, ORIGIN)?;
        let mut members = Vec::with_capacity(labels.len());
        let mut bounds = vec![0];
        for class in by_class.iter().filter(|m| !m.is_empty()) {
            members.extend_from_slice(class);
            bounds.push(members.len());
        }
        let available = bounds.len() - 1;
        if classes_per_batch > available {
            return Err(DataError::NotEnoughClassesForBatch {
                classes_per_batch,
                available,
            });
        }
        Ok(ClassBalancedSampler {
            members,
            bounds,
            classes_per_batch,
            images_per_class,
        })
    }

    /// Classes per batch (P).
    pub fn classes_per_batch(&self) -> usize {
        self.classes_per_batch
    }

    /// Images of each class in a batch (K).
    pub fn images_per_class(&self) -> usize {
        self.images_per_class
    }

    /// Indices per batch: `P·K`.
    pub fn batch_len(&self) -> usize {
        self.classes_per_batch * self.images_per_class
    }

    /// Batches in an epoch that sees about every image once:
    /// `max(1, images / (P·K))`.
    pub fn default_batches(&self, images: usize) -> usize {
        (images / self.batch_len()).max(1)
    }

    /// Clears `out` and fills it with `batches · P · K` image indices, the
    /// batches of epoch `epoch` of the run seeded with `seed`; see the
    /// [type docs](Self) for the layout and the balance guarantees.
    ///
    /// # Panics
    /// If `batches · P · K` overflows `usize` (no such buffer could exist).
    pub fn epoch(&self, seed: u64, epoch: u64, batches: usize, out: &mut Vec<u32>) {
        out.clear();
        let (p, k) = (self.classes_per_batch, self.images_per_class);
        let total = batches
            .checked_mul(self.batch_len())
            .expect("batches × P × K overflows usize"); // ok: documented panic
        out.reserve(total);

        let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed(seed, epoch));
        rng.set_stream(SAMPLER_STREAM);

        // Cycles start exhausted (cursor at the end), so each is shuffled on
        // first use: an epoch never depends on the previous one's state.
        let mut pool = self.members.clone();
        let mut cursors: Vec<usize> = self.bounds[1..]
            .iter()
            .zip(&self.bounds)
            .map(|(end, start)| end - start)
            .collect();
        let classes = cursors.len();
        // Fits in u32: at most MAX_CLASSES classes.
        let mut class_cycle: Vec<u32> = (0..classes as u32).collect();
        let mut class_cursor = classes;
        let mut chosen = Vec::with_capacity(p);

        for _ in 0..batches {
            chosen.clear();
            take_from_cycle(
                &mut class_cycle,
                &mut class_cursor,
                p,
                &mut rng,
                &mut chosen,
            );
            for &class in &chosen {
                let class = class as usize;
                let members = &mut pool[self.bounds[class]..self.bounds[class + 1]];
                let cursor = &mut cursors[class];
                let n = members.len();
                if n >= k {
                    take_from_cycle(members, cursor, k, &mut rng, out);
                } else {
                    let start = out.len();
                    for _ in 0..k / n {
                        out.extend_from_slice(members);
                    }
                    take_from_cycle(members, cursor, k % n, &mut rng, out);
                    // Without this the repeats would sit in a fixed pattern.
                    out[start..].shuffle(&mut rng);
                }
            }
        }
        debug_assert_eq!(out.len(), total);
    }
}

/// Appends the next `k` items (`k <= cycle.len()`) of a shuffled cycle whose
/// position is `cursor`. If fewer than `k` remain, takes them, reshuffles the
/// rest and those separately, and keeps the just-taken ones at the end, so
/// the `k` items are distinct and every item still appears once per cycle.
fn take_from_cycle(
    cycle: &mut [u32],
    cursor: &mut usize,
    k: usize,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<u32>,
) {
    debug_assert!(k <= cycle.len());
    let n = cycle.len();
    let rest = n - *cursor;
    if rest >= k {
        out.extend_from_slice(&cycle[*cursor..*cursor + k]);
        *cursor += k;
        return;
    }
    out.extend_from_slice(&cycle[*cursor..]);
    let (fresh, just_taken) = cycle.split_at_mut(n - rest);
    fresh.shuffle(rng);
    just_taken.shuffle(rng);
    let more = k - rest;
    out.extend_from_slice(&cycle[..more]);
    *cursor = more;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` labels cycling over `classes`, so every class is the same size.
    fn balanced(classes: u32, count: usize) -> Vec<u32> {
        (0..count).map(|i| i as u32 % classes).collect()
    }

    /// Asserts the P × K layout of every batch: each K-block holds one class,
    /// the P classes of a batch are distinct, and, when a class has at least
    /// K images, its K images are distinct. Returns the class of each block.
    fn check_structure(labels: &[u32], s: &ClassBalancedSampler, out: &[u32]) -> Vec<u32> {
        let (p, k) = (s.classes_per_batch(), s.images_per_class());
        let mut sizes = std::collections::HashMap::new();
        for &l in labels {
            *sizes.entry(l).or_insert(0usize) += 1;
        }
        assert_eq!(out.len() % (p * k), 0);
        let mut block_classes = Vec::new();
        for batch in out.chunks(p * k) {
            let mut classes: Vec<u32> = batch
                .chunks(k)
                .map(|block| {
                    assert!(block.iter().all(|&i| (i as usize) < labels.len()));
                    let class = labels[block[0] as usize];
                    assert!(block.iter().all(|&i| labels[i as usize] == class));
                    if sizes[&class] >= k {
                        let mut b = block.to_vec();
                        b.sort_unstable();
                        b.dedup();
                        assert_eq!(b.len(), k, "repeated image in {block:?}");
                    }
                    class
                })
                .collect();
            block_classes.extend_from_slice(&classes);
            classes.sort_unstable();
            classes.dedup();
            assert_eq!(classes.len(), p, "repeated class in batch {batch:?}");
        }
        block_classes
    }

    #[test]
    fn batches_are_p_classes_of_k_images() {
        // Uneven class sizes, and P not dividing the class count, so both
        // cycles wrap in the middle of batches.
        let mut labels = balanced(7, 700);
        labels.extend(balanced(3, 45));
        let s = ClassBalancedSampler::new(&labels, 7, 3, 4).unwrap();
        assert_eq!(s.batch_len(), 12);
        let mut out = vec![123; 5];
        for epoch in 0..3 {
            s.epoch(9, epoch, 200, &mut out);
            assert_eq!(out.len(), 200 * 12);
            check_structure(&labels, &s, &out);
        }
        s.epoch(9, 0, 0, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn same_seed_and_epoch_reproduce() {
        let labels = balanced(10, 1000);
        let s = ClassBalancedSampler::new(&labels, 10, 4, 3).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        s.epoch(5, 2, 50, &mut a);
        // Another epoch in between must not matter: no state carries over.
        s.epoch(5, 1, 50, &mut b);
        assert_ne!(a, b);
        s.epoch(5, 2, 50, &mut b);
        assert_eq!(a, b);
        s.epoch(6, 2, 50, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn an_epoch_is_balanced_and_covers_the_data() {
        let (classes, per_class, k) = (10u32, 60usize, 3);
        let labels = balanced(classes, classes as usize * per_class);
        let s = ClassBalancedSampler::new(&labels, classes as usize, 4, k).unwrap();
        let batches = s.default_batches(labels.len());
        assert_eq!(batches, 600 / 12);
        let mut out = Vec::new();
        s.epoch(1, 0, batches, &mut out);
        let mut class_counts = vec![0usize; classes as usize];
        for &i in &out {
            class_counts[labels[i as usize] as usize] += 1;
        }
        let (min, max) = (
            class_counts.iter().min().unwrap(),
            class_counts.iter().max().unwrap(),
        );
        assert!(max - min <= k, "{class_counts:?}");
        // B·P = 200 is 20 whole class cycles, and 20 · K = per_class, so each
        // class's image cycle is walked exactly once: every image seen once.
        let mut seen = out.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..labels.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn classes_smaller_than_k_repeat_images() {
        // Class 0 has 5 images, class 1 has 2, class 2 one, class 3 none.
        let labels = [0, 0, 1, 0, 2, 0, 1, 0];
        let s = ClassBalancedSampler::new(&labels, 4, 3, 4).unwrap();
        let mut out = Vec::new();
        s.epoch(3, 0, 20, &mut out);
        let blocks = check_structure(&labels, &s, &out);
        assert!(!blocks.contains(&3));
        for (block, &class) in out.chunks(4).zip(&blocks) {
            let count = |i: u32| block.iter().filter(|&&j| j == i).count();
            match class {
                // Both images twice.
                1 => assert_eq!((count(2), count(6)), (2, 2), "{block:?}"),
                2 => assert_eq!(count(4), 4),
                _ => {}
            }
        }
        // Only P = 3 classes exist, so every batch holds all three.
        assert!(ClassBalancedSampler::new(&labels, 4, 4, 1).is_err());
    }

    #[test]
    fn default_batches_is_at_least_one() {
        let s = ClassBalancedSampler::new(&[0, 1], 2, 2, 8).unwrap();
        assert_eq!(s.default_batches(2), 1);
        assert_eq!(s.default_batches(0), 1);
        assert_eq!(s.default_batches(33), 2);
    }

    #[test]
    fn bad_shapes_and_labels_are_errors() {
        let labels = [0, 1, 1, 3];
        let e = ClassBalancedSampler::new(&labels, 4, 0, 2).unwrap_err();
        assert!(matches!(e, DataError::EmptyBatchShape { .. }), "{e}");
        assert!(e.to_string().contains("0 classes × 2 images"), "{e}");
        let e = ClassBalancedSampler::new(&labels, 4, 2, 0).unwrap_err();
        assert!(e.to_string().contains("2 classes × 0 images"), "{e}");
        let e = ClassBalancedSampler::new(&labels, 4, 4, 2).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::NotEnoughClassesForBatch {
                    classes_per_batch: 4,
                    available: 3
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("4 distinct classes") && e.to_string().contains("found 3"),
            "{e}"
        );
        let e = ClassBalancedSampler::new(&labels, 3, 2, 2).unwrap_err();
        assert!(e.to_string().contains("label 3 at index 3"), "{e}");
        let e = ClassBalancedSampler::new(&[], 0, 1, 1).unwrap_err();
        assert!(e.to_string().contains("found 0"), "{e}");
    }
}
