//! Equal-width histograms, for the distance figure.

use crate::{ReportError, Result};

/// Counts of values in `bins` equal-width bins spanning `[lo, hi]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f32,
    /// Right edge of the last bin.
    pub hi: f32,
    /// How many values fell into each bin.
    pub counts: Vec<usize>,
}

impl Histogram {
    /// An empty histogram of `bins` bins over `[lo, hi]`.
    ///
    /// # Errors
    /// [`ReportError::Unsuitable`] unless `bins > 0` and `lo < hi`, both finite.
    ///
    /// ```
    /// let mut h = siamese_report::Histogram::new(0.0, 1.0, 4)?;
    /// h.extend([0.1, 0.3, 0.35, 1.0]);
    /// assert_eq!(h.counts, vec![1, 2, 0, 1]);
    /// # Ok::<(), siamese_report::ReportError>(())
    /// ```
    pub fn new(lo: f32, hi: f32, bins: usize) -> Result<Self> {
        if bins == 0 || !lo.is_finite() || !hi.is_finite() || lo >= hi {
            return Err(ReportError::Unsuitable {
                what: format!("a histogram of {bins} bins over [{lo}, {hi}]"),
            });
        }
        Ok(Self {
            lo,
            hi,
            counts: vec![0; bins],
        })
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f32 {
        (self.hi - self.lo) / self.counts.len() as f32
    }

    /// The bin of `x`: bins are half-open `[left, right)` except the last, which includes
    /// `hi`; values outside the range go to the nearest end bin, so every finite value is
    /// counted. `None` for NaN.
    pub fn bin_of(&self, x: f32) -> Option<usize> {
        if x.is_nan() {
            return None;
        }
        let last = self.counts.len() - 1;
        let position = ((x - self.lo) / self.bin_width()).floor();
        // `as` saturates, so -inf and values below `lo` land in bin 0.
        Some((position.max(0.0) as usize).min(last))
    }

    /// Counts every value (NaN is skipped).
    pub fn extend(&mut self, values: impl IntoIterator<Item = f32>) {
        for x in values {
            if let Some(bin) = self.bin_of(x) {
                self.counts[bin] += 1;
            }
        }
    }

    /// Values counted.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// `(left edge, right edge, count)` of every bin.
    pub fn bins(&self) -> impl Iterator<Item = (f32, f32, usize)> + '_ {
        let width = self.bin_width();
        self.counts.iter().enumerate().map(move |(i, &count)| {
            let left = self.lo + i as f32 * width;
            (left, left + width, count)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_half_open_with_a_closed_last_bin() {
        let mut h = Histogram::new(0.0, 2.0, 4).unwrap();
        assert_eq!(h.bin_width(), 0.5);
        h.extend([0.0, 0.49, 0.5, 1.0, 1.5, 1.99, 2.0]);
        assert_eq!(h.counts, vec![2, 1, 1, 3]);
        assert_eq!(h.total(), 7);
        let edges: Vec<_> = h.bins().map(|(l, r, _)| (l, r)).collect();
        assert_eq!(edges[3], (1.5, 2.0));
    }

    #[test]
    fn out_of_range_values_go_to_the_end_bins_and_nan_is_skipped() {
        let mut h = Histogram::new(1.0, 3.0, 2).unwrap();
        h.extend([-5.0, f32::NEG_INFINITY, 9.0, f32::INFINITY, f32::NAN]);
        assert_eq!(h.counts, vec![2, 2]);
    }

    #[test]
    fn rejects_empty_or_inverted_ranges() {
        assert!(Histogram::new(0.0, 1.0, 0).is_err());
        assert!(Histogram::new(1.0, 1.0, 3).is_err());
        assert!(Histogram::new(0.0, f32::NAN, 3).is_err());
    }
}
