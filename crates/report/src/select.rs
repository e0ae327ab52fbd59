//! Which test pairs to show: an even sample, and the worst mistakes of each kind.
//!
//! A pair is predicted similar iff its distance is below the threshold, as in training's
//! accuracy (`siamese_loss::count_correct`).

use siamese_data::Pair;

/// The worst false positives: dissimilar pairs predicted similar (distance below
/// `threshold`), closest first, at most `n`. Indices into `pairs`.
///
/// ```
/// use siamese_data::Pair;
/// let pairs = [
///     Pair { left: 0, right: 1, similar: false },
///     Pair { left: 2, right: 3, similar: false },
///     Pair { left: 4, right: 5, similar: true },
/// ];
/// let worst = siamese_report::worst_false_positives(&[0.4, 0.1, 0.05], &pairs, 0.5, 5);
/// assert_eq!(worst, vec![1, 0]);
/// ```
pub fn worst_false_positives(
    distances: &[f32],
    pairs: &[Pair],
    threshold: f32,
    n: usize,
) -> Vec<usize> {
    let mut found: Vec<usize> = (0..pairs.len().min(distances.len()))
        .filter(|&i| !pairs[i].similar && distances[i] < threshold)
        .collect();
    // Stable sort, ties keep pair order: the same run always shows the same pairs.
    found.sort_by(|&a, &b| distances[a].total_cmp(&distances[b]));
    found.truncate(n);
    found
}

/// The worst false negatives: similar pairs predicted dissimilar (distance at or above
/// `threshold`, or NaN), farthest first, at most `n`. Indices into `pairs`.
pub fn worst_false_negatives(
    distances: &[f32],
    pairs: &[Pair],
    threshold: f32,
    n: usize,
) -> Vec<usize> {
    let mut found: Vec<usize> = (0..pairs.len().min(distances.len()))
        // NaN is not below the threshold, so it counts as predicted different, as in training.
        .filter(|&i| {
            pairs[i].similar
                && !matches!(
                    distances[i].partial_cmp(&threshold),
                    Some(std::cmp::Ordering::Less)
                )
        })
        .collect();
    found.sort_by(|&a, &b| distances[b].total_cmp(&distances[a]));
    found.truncate(n);
    found
}

/// `n` indices spread evenly over `0..len` (all of them when `len <= n`): a sample that
/// needs no random generator and covers the whole list.
pub fn evenly_spaced(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// About `n` pairs, half similar and half dissimilar, alternating, each kind spread evenly
/// over its own pairs. (Spacing over all pairs could pick one kind only: pair lists such as
/// the classic recipe alternate the kinds.) Indices into `pairs`.
///
/// ```
/// use siamese_data::Pair;
/// let pairs: Vec<Pair> = (0..8).map(|i| Pair { left: i, right: i, similar: i % 2 == 0 }).collect();
/// assert_eq!(siamese_report::sample_pairs(&pairs, 4), vec![0, 1, 4, 5]);
/// ```
pub fn sample_pairs(pairs: &[Pair], n: usize) -> Vec<usize> {
    let kind = |similar: bool| -> Vec<usize> {
        (0..pairs.len())
            .filter(|&i| pairs[i].similar == similar)
            .collect()
    };
    let (similar, dissimilar) = (kind(true), kind(false));
    let pick = |of: &[usize], k: usize| -> Vec<usize> {
        evenly_spaced(of.len(), k)
            .into_iter()
            .map(|i| of[i])
            .collect()
    };
    let similar = pick(&similar, n.div_ceil(2));
    let dissimilar = pick(&dissimilar, n / 2);
    let mut out = Vec::with_capacity(n);
    for k in 0..similar.len().max(dissimilar.len()) {
        out.extend(similar.get(k));
        out.extend(dissimilar.get(k));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(similar: bool) -> Pair {
        Pair {
            left: 0,
            right: 1,
            similar,
        }
    }

    #[test]
    fn false_positives_are_the_closest_dissimilar_pairs_below_the_threshold() {
        let pairs = [
            pair(false),
            pair(false),
            pair(true),
            pair(false),
            pair(false),
        ];
        let d = [0.3, 0.1, 0.0, 0.7, 0.1];
        assert_eq!(worst_false_positives(&d, &pairs, 0.5, 10), vec![1, 4, 0]);
        assert_eq!(worst_false_positives(&d, &pairs, 0.5, 2), vec![1, 4]);
        assert!(worst_false_positives(&d, &pairs, 0.05, 10).is_empty());
    }

    #[test]
    fn false_negatives_are_the_farthest_similar_pairs_at_or_above_the_threshold() {
        let pairs = [pair(true), pair(true), pair(false), pair(true), pair(true)];
        let d = [0.5, 0.9, 2.0, 0.2, f32::NAN];
        // NaN counts as a mistake (never "below the threshold") and sorts as the farthest.
        assert_eq!(worst_false_negatives(&d, &pairs, 0.5, 10), vec![4, 1, 0]);
        assert_eq!(worst_false_negatives(&d, &pairs, 0.5, 1), vec![4]);
    }

    #[test]
    fn pair_sample_alternates_the_kinds_even_when_the_list_does() {
        // Alternating kinds: spacing 2 over all pairs would show only similar ones.
        let pairs: Vec<Pair> = (0..24).map(|i| pair(i % 2 == 0)).collect();
        assert!(evenly_spaced(24, 12).iter().all(|&i| pairs[i].similar));
        let sample = sample_pairs(&pairs, 6);
        assert_eq!(sample, vec![0, 1, 8, 9, 16, 17]);
        let one_kind: Vec<Pair> = (0..3).map(|_| pair(true)).collect();
        assert_eq!(sample_pairs(&one_kind, 6), vec![0, 1, 2]);
    }

    #[test]
    fn even_sample_spans_the_list() {
        assert_eq!(evenly_spaced(3, 5), vec![0, 1, 2]);
        assert_eq!(evenly_spaced(10, 4), vec![0, 2, 5, 7]);
        assert!(evenly_spaced(0, 4).is_empty());
    }
}
