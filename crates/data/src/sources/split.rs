//! The seeded, per-class test split of a source that has none of its own.

use rand::SeedableRng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use super::TestSplit;

/// Which samples go to test: of each class's samples (in the given order),
/// `round(fraction × count)` drawn without replacement.
///
/// Each class draws from its own stream of one seeded generator, so a sample
/// added to or removed from one class cannot move another class's split.
pub(crate) fn test_mask(labels: &[u32], num_classes: usize, split: TestSplit) -> Vec<bool> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        if let Some(members) = by_class.get_mut(label as usize) {
            members.push(i);
        }
    }
    let mut test = vec![false; labels.len()];
    for (class, members) in by_class.iter().enumerate() {
        // `fraction` is in 0..=1 (checked by the options), so this is in 0..=len.
        let n_test = ((members.len() as f64) * split.fraction).round() as usize;
        let n_test = n_test.min(members.len());
        let mut rng = ChaCha8Rng::seed_from_u64(split.seed);
        rng.set_stream(class as u64);
        for k in index::sample(&mut rng, members.len(), n_test) {
            test[members[k]] = true;
        }
    }
    test
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(fraction: f64, seed: u64) -> TestSplit {
        TestSplit { fraction, seed }
    }

    #[test]
    fn stratified_seeded_and_isolated_per_class() {
        let labels: Vec<u32> = (0..99).map(|i| i % 3).collect();
        let a = test_mask(&labels, 3, split(0.2, 7));
        assert_eq!(a, test_mask(&labels, 3, split(0.2, 7)));
        assert_ne!(a, test_mask(&labels, 3, split(0.2, 8)));
        for class in 0..3 {
            let n = (0..99).filter(|&i| labels[i] == class).count();
            let t = (0..99).filter(|&i| labels[i] == class && a[i]).count();
            assert_eq!(t, (n as f64 * 0.2).round() as usize);
        }
        // Dropping the last sample of class 2 leaves classes 0 and 1 as they were.
        let fewer = test_mask(&labels[..98], 3, split(0.2, 7));
        for i in 0..98 {
            if labels[i] != 2 {
                assert_eq!(fewer[i], a[i]);
            }
        }
    }

    #[test]
    fn extremes() {
        let labels = [0, 0, 1];
        assert_eq!(test_mask(&labels, 2, split(0.0, 1)), [false; 3]);
        assert_eq!(test_mask(&labels, 2, split(1.0, 1)), [true; 3]);
        assert!(test_mask(&[], 0, split(0.5, 1)).is_empty());
    }
}
