//! Seeded random affine augmentation of `u8` grayscale images.
//!
//! Metric learning on MNIST overfits the 60,000 training digits quickly;
//! small shifts, rotations and scalings are label-preserving for digits and
//! make the embedding depend on shape rather than exact pixel position. The
//! work is one bilinear resample per image, small next to a training step.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::pairs::epoch_seed;

/// ChaCha stream of the augmentation generator, so that a per-image seed that
/// happens to equal a seed used elsewhere still gives unrelated numbers.
const AUGMENT_STREAM: u64 = 0x4155_474d_454e_5431; // "AUGMENT1"

/// Ranges of a random affine transform applied to each training image.
///
/// For each image, [`apply`](Self::apply) draws, from a ChaCha8 generator
/// seeded with the image's seed, in this order:
/// - a shift `(tx, ty)`, each uniform in `[−max_shift, max_shift)` pixels
///   (positive moves the content right and down);
/// - a rotation `θ` uniform in `[−max_rotation_degrees, max_rotation_degrees)`;
///   positive angles turn the image clockwise on screen (rows go down);
/// - a scale `s` uniform in `[scale.0, scale.1)` (`s > 1` enlarges the digit);
/// - a horizontal flip `F = diag(−1, 1)` with probability 1/2 when
///   `horizontal_flip` is set (leave it off for digits: a mirrored 3 or 7 is
///   not something a test set holds; it suits e.g. clothing images).
///
/// The transform maps a source point `p` to `q = c + t + s·R(θ)·F·(p − c)`
/// about the image centre `c = ((w − 1)/2, (h − 1)/2)` (pixel centres at
/// integer coordinates). Each output pixel `q` is filled by mapping it back,
/// `p = c + F·R(−θ)·(q − c − t)/s`, and sampling the source bilinearly, with
/// black (0) outside the image as in MNIST, then rounding to the nearest `u8`.
/// The sampling runs in fixed point with 16-bit interpolation weights, within
/// one grey level of the exact bilinear value; whole-pixel shifts and flips
/// are exact.
///
/// In RON (as embedded in the training configuration):
/// `(max_shift: 2.0, max_rotation_degrees: 10.0, scale: (0.9, 1.1), horizontal_flip: false,
/// probability: 1.0)` (`probability` may be left out: 1).
///
/// ```
/// use siamese_data::{Augment, augment_seed};
/// let aug = Augment {
///     max_shift: 2.0,
///     max_rotation_degrees: 10.0,
///     scale: (0.9, 1.1),
///     horizontal_flip: false,
///     probability: 1.0,
/// };
/// aug.validate()?;
/// let src = vec![0u8; 28 * 28];
/// let mut dst = vec![0u8; 28 * 28];
/// aug.apply(&src, 28, 28, augment_seed(42, 0, 17), &mut dst)?;
/// # Ok::<(), siamese_data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Largest shift along each axis, in pixels (e.g. 2.0).
    pub max_shift: f32,
    /// Largest rotation either way, in degrees (e.g. 10.0).
    pub max_rotation_degrees: f32,
    /// Range `(low, high)` of the scale factor (e.g. `(0.9, 1.1)`).
    pub scale: (f32, f32),
    /// Mirror left–right with probability 1/2.
    pub horizontal_flip: bool,
    /// Share of images transformed; the others pass unchanged (default 1). Below 1 the
    /// network also keeps seeing the images as they are, which matters on data whose
    /// classes differ in fine detail (Fashion-MNIST).
    #[serde(default = "always")]
    pub probability: f32,
}

fn always() -> f32 {
    1.0
}

/// The random stream of the "transform this image?" draw, apart from the transform's.
const PROBABILITY_STREAM: u64 = 0x4155_474d_5052_4f42; // "AUGMPROB"

/// One drawn transform; see [`Augment`] for the meaning of each field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Affine {
    pub(crate) shift_x: f32,
    pub(crate) shift_y: f32,
    pub(crate) rotation_radians: f32,
    pub(crate) scale: f32,
    pub(crate) flip: bool,
}

impl Augment {
    /// Parameters that leave every image unchanged.
    pub const IDENTITY: Augment = Augment {
        max_shift: 0.0,
        max_rotation_degrees: 0.0,
        scale: (1.0, 1.0),
        horizontal_flip: false,
        probability: 1.0,
    };

    /// Checks that every number is finite, the shift and rotation are
    /// non-negative, and `0 < scale.0 <= scale.1`.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(DataError::InvalidAugment { reason });
        for (name, value) in [
            ("max_shift", self.max_shift),
            ("max_rotation_degrees", self.max_rotation_degrees),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return invalid(format!("{name} = {value}; expected a finite number ≥ 0"));
            }
        }
        if !(0.0..=1.0).contains(&self.probability) {
            return invalid(format!(
                "probability = {}; expected a share in [0, 1]",
                self.probability
            ));
        }
        let (low, high) = self.scale;
        if !(low.is_finite() && high.is_finite() && low > 0.0 && low <= high) {
            return invalid(format!(
                "scale = ({low}, {high}); expected finite (low, high) with 0 < low ≤ high"
            ));
        }
        Ok(())
    }

    /// Whether every image comes out unchanged (no shift, rotation, scaling
    /// or flip), in which case [`apply`](Self::apply) just copies.
    pub fn is_identity(&self) -> bool {
        self.probability == 0.0
            || (self.max_shift == 0.0
                && self.max_rotation_degrees == 0.0
                && self.scale == (1.0, 1.0)
                && !self.horizontal_flip)
    }

    /// Writes a randomly transformed copy of the `height × width` row-major
    /// image `src` into `dst`, the transform drawn from `seed` (see the
    /// [type docs](Self) for the distribution and the resampling).
    ///
    /// Deterministic in `(self, src, seed)`; derive `seed` with
    /// [`augment_seed`] from the run seed, the epoch and the image's position
    /// in the epoch, so results do not depend on which thread does the work.
    /// Does not allocate. Identity parameters copy `src` exactly.
    ///
    /// Errors if a dimension is 0, if `src` or `dst` does not hold
    /// `height · width` pixels, or if [`validate`](Self::validate) fails.
    pub fn apply(
        &self,
        src: &[u8],
        height: usize,
        width: usize,
        seed: u64,
        dst: &mut [u8],
    ) -> Result<()> {
        if height == 0 || width == 0 {
            return Err(DataError::EmptyImageShape {
                shape: vec![height, width],
            });
        }
        let len = height.checked_mul(width);
        if len != Some(src.len()) {
            return Err(DataError::ShapeMismatch {
                shape: vec![height, width],
                expected: len.unwrap_or(usize::MAX),
                found: src.len(),
            });
        }
        if dst.len() != src.len() {
            return Err(DataError::BufferLength {
                expected: src.len(),
                found: dst.len(),
            });
        }
        self.validate()?;
        if self.is_identity() || !self.transforms(seed) {
            dst.copy_from_slice(src);
            return Ok(());
        }
        resample(&self.draw(seed), src, height, width, dst);
        Ok(())
    }

    /// Whether the image of `seed` is transformed at all (probability `probability`).
    fn transforms(&self, seed: u64) -> bool {
        if self.probability >= 1.0 {
            return true;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(PROBABILITY_STREAM);
        rng.random::<f32>() < self.probability
    }

    /// The transform for `seed`: always five draws in a fixed order, so the
    /// stream does not shift with which options are on.
    pub(crate) fn draw(&self, seed: u64) -> Affine {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(AUGMENT_STREAM);
        let mut symmetric = |max: f32| max * (2.0 * rng.random::<f32>() - 1.0);
        let shift_x = symmetric(self.max_shift);
        let shift_y = symmetric(self.max_shift);
        let rotation_radians = symmetric(self.max_rotation_degrees).to_radians();
        let (low, high) = self.scale;
        let scale = low + (high - low) * rng.random::<f32>();
        let coin: bool = rng.random();
        Affine {
            shift_x,
            shift_y,
            rotation_radians,
            scale,
            flip: self.horizontal_flip && coin,
        }
    }
}

/// The seed of the image at `position` of epoch `epoch` in a run seeded with
/// `seed`: `epoch_seed(epoch_seed(seed, epoch), position)`.
///
/// Distinct positions of one epoch always get distinct seeds (each step is a
/// bijection of the position), and the numbers [`Augment::apply`] draws from
/// them come from a ChaCha stream of their own, independent of the pair and
/// batch generators seeded from the same run seed.
pub fn augment_seed(seed: u64, epoch: u64, position: u64) -> u64 {
    epoch_seed(epoch_seed(seed, epoch), position)
}

/// Fraction bits of fixed-point source coordinates (in an `i64`), also the
/// interpolation weights' bits: a step's rounding drifts by under 2⁻¹⁶ px per
/// pixel, and weights are within 2⁻¹⁶ of exact, far below one grey level.
const FRACTION_BITS: u32 = 16;

const FRACTION_MASK: i64 = (1 << FRACTION_BITS) - 1;

/// `⌊v⌋`, saturating at the ends of `i64` (the cast's rule). `f64::floor`
/// is a libm call on x86-64 without SSE4.1, costly even once per row.
fn floor(v: f64) -> i64 {
    let t = v as i64;
    t.saturating_sub(i64::from(v < t as f64))
}

/// `v` in fixed point, rounded (saturating far outside any image).
fn to_fixed(v: f64) -> i64 {
    const ONE: f64 = (1u64 << FRACTION_BITS) as f64;
    floor(v * ONE + 0.5)
}

/// The output columns `x < count` whose source coordinate `start + step·x`
/// along one axis lies strictly inside `(low, high)`; as a half-open range.
/// Takes `1 / step` too, since a division per row showed in profiles.
///
/// A column just outside the band would only be sampled as black, but when
/// the step is huge its fixed-point coordinate saturates, and the next one,
/// a step on, would wrap; so the range must not start early, which exact
/// floors of the band's ends guarantee.
fn columns_inside(
    start: f64,
    (step, inv_step): (f64, f64),
    (low, high): (f64, f64),
    count: usize,
) -> (usize, usize) {
    if step == 0.0 {
        return if low < start && start < high {
            (0, count)
        } else {
            (0, 0)
        };
    }
    let (a, b) = ((low - start) * inv_step, (high - start) * inv_step);
    let (lo, hi) = if step > 0.0 { (a, b) } else { (b, a) };
    // Integers strictly between lo and hi (⌊lo⌋ + 1 to ⌈hi⌉ − 1), within
    // 0..count.
    let clamp = |x: i64| x.clamp(0, count as i64) as usize;
    let first = clamp(floor(lo).saturating_add(1));
    let end = clamp(floor(-hi).saturating_neg());
    (first, end.max(first))
}

/// The smallest rectangle holding every non-zero pixel, as inclusive
/// `((x_min, x_max), (y_min, y_max))`, or `None` for an all-black image.
fn nonzero_box(src: &[u8], width: usize) -> Option<((usize, usize), (usize, usize))> {
    let mut rows = src
        .chunks_exact(width)
        .enumerate()
        // An OR over the row vectorizes; `any` stops early but goes byte by byte.
        .filter(|(_, row)| row.iter().fold(0, |acc, &p| acc | p) != 0);
    let (y_min, first_row) = rows.next()?;
    let (mut x_min, mut x_max, mut y_max) = (width, 0, y_min);
    for (y, row) in std::iter::once((y_min, first_row)).chain(rows) {
        // Some pixel of the row is non-zero, so both searches succeed.
        x_min = x_min.min(row.iter().position(|&p| p != 0).unwrap_or(width));
        x_max = x_max.max(row.iter().rposition(|&p| p != 0).unwrap_or(0));
        y_max = y;
    }
    Some(((x_min, x_max), (y_min, y_max)))
}

/// Fills `dst` by mapping each output pixel back through the inverse of `t`
/// and sampling `src` bilinearly (0 outside). Lengths are checked by the
/// caller.
///
/// Along an output row the source point moves by a constant step, so the
/// row is walked in fixed point: integer adds, shifts and multiplies per
/// pixel, about 3× faster (measured) than the same in `f32` with its
/// saturating float-to-integer casts. Each row is first clipped to the
/// columns whose source can touch a non-zero pixel, which also keeps the
/// fixed-point values bounded for any finite parameters. Whole-pixel shifts
/// and flips land exactly on pixel centres and so copy values exactly.
pub(crate) fn resample(t: &Affine, src: &[u8], height: usize, width: usize, dst: &mut [u8]) {
    debug_assert!(src.len() == height * width && dst.len() == src.len());
    // Digits sit on a black background: output pixels whose 2×2 source
    // neighbourhood misses the non-zero box are black without sampling, and
    // skipping them saves about a third of the work on MNIST.
    let Some(((x_min, x_max), (y_min, y_max))) = nonzero_box(src, width) else {
        dst.fill(0);
        return;
    };
    // Source coordinates whose neighbourhood touches the box.
    let x_band = (x_min as f64 - 1.0, x_max as f64 + 1.0);
    let y_band = (y_min as f64 - 1.0, y_max as f64 + 1.0);
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    // The inverse linear part F·R(−θ)/s, written out as [[a, b], [c, d]].
    let (sin, cos) = f64::from(t.rotation_radians).sin_cos();
    let f = if t.flip { -1.0 } else { 1.0 };
    let inv = 1.0 / f64::from(t.scale);
    let (a, b) = (f * cos * inv, f * sin * inv);
    let (c, d) = (-sin * inv, cos * inv);
    let (tx, ty) = (f64::from(t.shift_x), f64::from(t.shift_y));
    let (step_x, step_y) = (to_fixed(a), to_fixed(c));
    let (x_steps, y_steps) = ((a, 1.0 / a), (c, 1.0 / c));
    // Top-left corners whose whole 2×2 neighbourhood is inside the image.
    let (inner_x, inner_y) = (width as u64 - 1, height as u64 - 1);
    let half = 1i64 << (2 * FRACTION_BITS - 1);

    for (y, row) in dst.chunks_exact_mut(width).enumerate() {
        // Source of output column x: (x_start + a·x, y_start + c·x).
        let (u, v) = (-cx - tx, y as f64 - cy - ty);
        let (x_start, y_start) = (cx + a * u + b * v, cy + c * u + d * v);
        let (x_first, x_end) = columns_inside(x_start, x_steps, x_band, width);
        let (y_first, y_end) = columns_inside(y_start, y_steps, y_band, width);
        let (first, end) = (x_first.max(y_first), x_end.min(y_end));
        if first >= end {
            row.fill(0);
            continue;
        }
        row[..first].fill(0);
        row[end..].fill(0);
        // From the centre rather than from x_start: no cancellation when
        // the steps are large.
        let u = first as f64 - cx - tx;
        let mut sx = to_fixed(cx + a * u + b * v);
        let mut sy = to_fixed(cy + c * u + d * v);
        for out in &mut row[first..end] {
            // At most 2^47 in size after the shift, so `x0 + 1` cannot overflow.
            let (x0, y0) = (sx >> FRACTION_BITS, sy >> FRACTION_BITS);
            let (fx, fy) = (sx & FRACTION_MASK, sy & FRACTION_MASK);
            // Wrapping: after a row's last pixel the next value is unused,
            // and may be out of range when a huge step leaves one pixel.
            sx = sx.wrapping_add(step_x);
            sy = sy.wrapping_add(step_y);
            // Unsigned compares: negative coordinates wrap to huge values.
            let [p00, p01, p10, p11] = if (x0 as u64) < inner_x && (y0 as u64) < inner_y {
                // All four neighbours inside: one bounds check for the quad.
                let i = y0 as usize * width + x0 as usize;
                let q = &src[i..i + width + 2];
                [q[0], q[1], q[width], q[width + 1]].map(i64::from)
            } else if ((x0 + 1) as u64) <= width as u64 && ((y0 + 1) as u64) <= height as u64 {
                let pixel = |x: i64, y: i64| {
                    if (x as u64) < width as u64 && (y as u64) < height as u64 {
                        i64::from(src[y as usize * width + x as usize])
                    } else {
                        0
                    }
                };
                [
                    pixel(x0, y0),
                    pixel(x0 + 1, y0),
                    pixel(x0, y0 + 1),
                    pixel(x0 + 1, y0 + 1),
                ]
            } else {
                *out = 0;
                continue;
            };
            // Weights scale `top` and `bottom` by 2^16 and `value` by 2^32;
            // no overflow in i64.
            let top = (p00 << FRACTION_BITS) + fx * (p01 - p00);
            let bottom = (p10 << FRACTION_BITS) + fx * (p11 - p10);
            let value = (top << FRACTION_BITS) + fy * (bottom - top);
            // A convex combination of u8 values, so at most 255 after
            // rounding half up.
            *out = ((value + half) >> (2 * FRACTION_BITS)) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MNIST_LIKE: Augment = Augment {
        max_shift: 2.0,
        max_rotation_degrees: 10.0,
        scale: (0.9, 1.1),
        horizontal_flip: false,
        probability: 1.0,
    };

    const NONE: Affine = Affine {
        shift_x: 0.0,
        shift_y: 0.0,
        rotation_radians: 0.0,
        scale: 1.0,
        flip: false,
    };

    /// Seeded noise: every pixel different, so exactness tests catch blur.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..len).map(|_| rng.random()).collect()
    }

    /// A round Gaussian blob (σ = 3 px, peak 255) at the centre of 28 × 28.
    fn blob() -> Vec<u8> {
        let mut img = vec![0u8; 28 * 28];
        for (i, p) in img.iter_mut().enumerate() {
            let (x, y) = ((i % 28) as f32 - 13.5, (i / 28) as f32 - 13.5);
            *p = (255.0 * (-(x * x + y * y) / 18.0).exp()).round() as u8;
        }
        img
    }

    fn mass(img: &[u8]) -> f64 {
        img.iter().map(|&p| f64::from(p)).sum()
    }

    fn transformed(t: &Affine, src: &[u8], h: usize, w: usize) -> Vec<u8> {
        let mut dst = vec![7; src.len()];
        resample(t, src, h, w, &mut dst);
        dst
    }

    #[test]
    fn identity_is_exact() {
        let src = noise(28 * 28, 1);
        let mut dst = vec![0; src.len()];
        assert!(Augment::IDENTITY.is_identity());
        Augment::IDENTITY.apply(&src, 28, 28, 99, &mut dst).unwrap();
        assert_eq!(dst, src);
        // The resampling path itself is exact at zero parameters too.
        assert_eq!(transformed(&NONE, &src, 28, 28), src);
        assert!(!MNIST_LIKE.is_identity());
    }

    #[test]
    fn whole_pixel_shift_moves_a_pixel_by_one() {
        let (h, w) = (9, 12);
        let mut src = vec![0u8; h * w];
        src[4 * w + 5] = 200;
        let right = Affine {
            shift_x: 1.0,
            ..NONE
        };
        let mut expected = vec![0u8; h * w];
        expected[4 * w + 6] = 200;
        assert_eq!(transformed(&right, &src, h, w), expected);
        let up = Affine {
            shift_y: -1.0,
            ..NONE
        };
        let mut expected = vec![0u8; h * w];
        expected[3 * w + 5] = 200;
        assert_eq!(transformed(&up, &src, h, w), expected);
        // Content shifted past the border is gone, and black comes in.
        let mut edge = vec![0u8; h * w];
        edge[w - 1] = 255;
        assert!(transformed(&right, &edge, h, w).iter().all(|&p| p == 0));
    }

    #[test]
    fn half_pixel_shift_interpolates() {
        let mut src = vec![0u8; 5];
        src[2] = 200;
        let t = Affine {
            shift_x: 0.5,
            ..NONE
        };
        assert_eq!(transformed(&t, &src, 1, 5), [0, 0, 100, 100, 0]);
    }

    #[test]
    fn rotation_turns_clockwise_about_the_centre() {
        let (h, w) = (7, 7);
        let mut src = vec![0u8; h * w];
        src[3 * w + 6] = 255; // right of the centre (3, 3)
        let t = Affine {
            rotation_radians: 90f32.to_radians(),
            ..NONE
        };
        let mut expected = vec![0u8; h * w];
        expected[6 * w + 3] = 255; // below it: clockwise on screen
        assert_eq!(transformed(&t, &src, h, w), expected);
    }

    /// The textbook resampling, in `f64` per pixel, that the fixed-point
    /// walk in `resample` must agree with.
    fn reference(t: &Affine, src: &[u8], h: usize, w: usize) -> Vec<u8> {
        let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
        let (sin, cos) = f64::from(t.rotation_radians).sin_cos();
        let f = if t.flip { -1.0 } else { 1.0 };
        let s = f64::from(t.scale);
        let pixel = |x: f64, y: f64| {
            let inside = x >= 0.0 && y >= 0.0 && x < w as f64 && y < h as f64;
            if inside {
                f64::from(src[y as usize * w + x as usize])
            } else {
                0.0
            }
        };
        let mut out = vec![0; h * w];
        for y in 0..h {
            for x in 0..w {
                let u = x as f64 - cx - f64::from(t.shift_x);
                let v = y as f64 - cy - f64::from(t.shift_y);
                let sx = cx + f * (cos * u + sin * v) / s;
                let sy = cy + (-sin * u + cos * v) / s;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let top = pixel(x0, y0) * (1.0 - fx) + pixel(x0 + 1.0, y0) * fx;
                let bottom = pixel(x0, y0 + 1.0) * (1.0 - fx) + pixel(x0 + 1.0, y0 + 1.0) * fx;
                out[y * w + x] = (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
        }
        out
    }

    #[test]
    fn fixed_point_walk_matches_the_formula() {
        // Large ranges, a flip, and non-square sizes, so rows are clipped on
        // both sides and every edge case of the neighbourhood occurs.
        let aug = Augment {
            max_shift: 6.0,
            max_rotation_degrees: 180.0,
            scale: (0.5, 2.0),
            horizontal_flip: true,
            probability: 1.0,
        };
        for (seed, (h, w)) in (0..40).zip([(28, 28), (13, 20), (1, 9), (9, 1)].iter().cycle()) {
            let mut src = noise(h * w, seed);
            if seed % 3 == 0 {
                // A digit-like image: black but for a patch off the centre,
                // so rows are clipped to the non-zero box.
                for (i, p) in src.iter_mut().enumerate() {
                    let (x, y) = (i % w, i / w);
                    if !(x > w / 4 && x < 3 * w / 5 && y > h / 3 && y <= 3 * h / 4) {
                        *p = 0;
                    }
                }
            }
            let t = aug.draw(seed);
            let (got, want) = (transformed(&t, &src, *h, *w), reference(&t, &src, *h, *w));
            for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                // 16-bit weights and rounding ties: at most one level apart.
                assert!(g.abs_diff(*r) <= 1, "seed {seed} pixel {i}: {g} vs {r}");
            }
        }
    }

    #[test]
    fn nonzero_box_and_black_images() {
        let mut img = vec![0u8; 6 * 5];
        assert_eq!(nonzero_box(&img, 5), None);
        let t = MNIST_LIKE.draw(3);
        assert!(transformed(&t, &img, 6, 5).iter().all(|&p| p == 0));
        img[5 + 3] = 1;
        img[4 * 5 + 1] = 9;
        assert_eq!(nonzero_box(&img, 5), Some(((1, 3), (1, 4))));
        img[4] = 2;
        assert_eq!(nonzero_box(&img, 5), Some(((1, 4), (0, 4))));
    }

    #[test]
    fn extreme_parameters_do_not_panic() {
        let src = vec![200u8; 7 * 7];
        let mut dst = vec![1u8; src.len()];
        let far = Augment {
            max_shift: 1e30,
            ..Augment::IDENTITY
        };
        for seed in 0..8 {
            far.apply(&src, 7, 7, seed, &mut dst).unwrap();
            assert!(dst.iter().all(|&p| p == 0), "{dst:?}");
        }
        for scale in [1e-30, 1e-6, 1e6, 1e30, f32::MAX] {
            let aug = Augment {
                scale: (scale, scale),
                max_rotation_degrees: 30.0,
                ..Augment::IDENTITY
            };
            for seed in 0..8 {
                aug.apply(&src, 7, 7, seed, &mut dst).unwrap();
            }
        }
        // Enlarged enormously, the image is its centre value everywhere.
        let zoom = Affine { scale: 1e6, ..NONE };
        assert!(transformed(&zoom, &src, 7, 7).iter().all(|&p| p == 200));
    }

    #[test]
    fn flip_mirrors_and_twice_is_identity() {
        let (h, w) = (5, 8);
        let src = noise(h * w, 2);
        let flip = Affine { flip: true, ..NONE };
        let once = transformed(&flip, &src, h, w);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(once[y * w + x], src[y * w + w - 1 - x]);
            }
        }
        assert_eq!(transformed(&flip, &once, h, w), src);
    }

    #[test]
    fn seeds_decide_the_output() {
        let aug = Augment {
            horizontal_flip: true,
            probability: 1.0,
            ..MNIST_LIKE
        };
        let src = blob();
        let run = |seed| {
            let mut dst = vec![0; src.len()];
            aug.apply(&src, 28, 28, seed, &mut dst).unwrap();
            dst
        };
        assert_eq!(run(5), run(5));
        let outputs: std::collections::HashSet<Vec<u8>> = (0..20).map(run).collect();
        assert_eq!(outputs.len(), 20);
        // Draws stay inside their ranges; both flip outcomes occur.
        let draws: Vec<Affine> = (0..200).map(|s| aug.draw(s)).collect();
        for t in &draws {
            assert!(t.shift_x.abs() <= 2.0 && t.shift_y.abs() <= 2.0, "{t:?}");
            assert!(t.rotation_radians.abs() <= 10f32.to_radians(), "{t:?}");
            assert!((0.9..=1.1).contains(&t.scale), "{t:?}");
        }
        let flips = draws.iter().filter(|t| t.flip).count();
        assert!((60..=140).contains(&flips), "{flips} flips of 200");
    }

    #[test]
    fn small_transforms_keep_the_mass_of_a_centred_blob() {
        // Bilinear sampling of a smooth blob conserves its sum up to the
        // interpolation and rounding error; scaling by s multiplies the area,
        // hence the sum, by s². Tolerance: 1.5 % of the original mass.
        let src = blob();
        let before = mass(&src);
        for seed in 0..50 {
            let t = MNIST_LIKE.draw(seed);
            let after = mass(&transformed(&t, &src, 28, 28));
            let expected = before * f64::from(t.scale).powi(2);
            let error = (after - expected).abs() / before;
            assert!(error < 0.015, "seed {seed}: {t:?}: {after} vs {expected}");
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let aug = MNIST_LIKE;
        let src = vec![0u8; 12];
        let mut dst = vec![0u8; 12];
        let e = aug.apply(&src, 3, 5, 0, &mut dst).unwrap_err();
        assert!(matches!(e, DataError::ShapeMismatch { .. }), "{e}");
        assert!(e.to_string().contains("[3, 5] holds 15"), "{e}");
        let e = aug.apply(&src, 3, 4, 0, &mut dst[..11]).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::BufferLength {
                    expected: 12,
                    found: 11
                }
            ),
            "{e}"
        );
        let e = aug.apply(&[], 0, 4, 0, &mut []).unwrap_err();
        assert!(matches!(e, DataError::EmptyImageShape { .. }), "{e}");
        let e = aug.apply(&src, usize::MAX, 2, 0, &mut dst).unwrap_err();
        assert!(matches!(e, DataError::ShapeMismatch { .. }), "{e}");
        // The identity fast path checks lengths too.
        let e = Augment::IDENTITY
            .apply(&src, 3, 4, 0, &mut dst[..3])
            .unwrap_err();
        assert!(matches!(e, DataError::BufferLength { .. }), "{e}");
    }

    #[test]
    fn validate_rejects_bad_numbers() {
        MNIST_LIKE.validate().unwrap();
        Augment::IDENTITY.validate().unwrap();
        let bad = [
            Augment {
                max_shift: f32::NAN,
                ..MNIST_LIKE
            },
            Augment {
                max_shift: -1.0,
                ..MNIST_LIKE
            },
            Augment {
                max_rotation_degrees: f32::INFINITY,
                ..MNIST_LIKE
            },
            Augment {
                max_rotation_degrees: -5.0,
                ..MNIST_LIKE
            },
            Augment {
                scale: (0.0, 1.0),
                ..MNIST_LIKE
            },
            Augment {
                scale: (1.1, 0.9),
                ..MNIST_LIKE
            },
            Augment {
                scale: (0.9, f32::NAN),
                ..MNIST_LIKE
            },
        ];
        for aug in bad {
            let e = aug.validate().unwrap_err();
            assert!(matches!(e, DataError::InvalidAugment { .. }), "{e}");
            let (src, mut dst) = (vec![0u8; 4], vec![0u8; 4]);
            assert!(aug.apply(&src, 2, 2, 0, &mut dst).is_err());
        }
        let e = bad[0].validate().unwrap_err().to_string();
        assert!(e.contains("max_shift = NaN"), "{e}");
        let e = bad[5].validate().unwrap_err().to_string();
        assert!(e.contains("scale = (1.1, 0.9)"), "{e}");
    }

    #[test]
    fn augment_seeds_are_distinct_and_stable() {
        let seeds: std::collections::HashSet<u64> = (0..3)
            .flat_map(|e| (0..1000).map(move |p| augment_seed(7, e, p)))
            .collect();
        assert_eq!(seeds.len(), 3000);
        assert_eq!(augment_seed(7, 1, 2), augment_seed(7, 1, 2));
        assert_ne!(augment_seed(7, 1, 2), augment_seed(8, 1, 2));
    }

    #[test]
    fn probability_transforms_about_that_share_of_images() {
        let src: Vec<u8> = (0..49).map(|p| if p % 3 == 0 { 200 } else { 0 }).collect();
        let mut dst = vec![0; 49];
        let half = Augment {
            probability: 0.5,
            ..MNIST_LIKE
        };
        let changed = (0..1000)
            .filter(|&seed| {
                half.apply(&src, 7, 7, seed, &mut dst).unwrap();
                dst != src
            })
            .count();
        // Binomial(1000, ≈0.5): 3.5 standard deviations either way.
        assert!((445..=555).contains(&changed), "{changed} of 1000 changed");
        let never = Augment {
            probability: 0.0,
            ..MNIST_LIKE
        };
        assert!(never.is_identity());
        assert!(
            Augment {
                probability: 1.5,
                ..MNIST_LIKE
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn serde_uses_the_field_names_and_rejects_unknown_ones() {
        let json = serde_json::to_string(&MNIST_LIKE).unwrap();
        assert_eq!(
            json,
            r#"{"max_shift":2.0,"max_rotation_degrees":10.0,"scale":[0.9,1.1],"horizontal_flip":false,"probability":1.0}"#
        );
        assert_eq!(serde_json::from_str::<Augment>(&json).unwrap(), MNIST_LIKE);
        // Written before `probability` existed: every image is transformed.
        let old = r#"{"max_shift":2.0,"max_rotation_degrees":10.0,"scale":[0.9,1.1],"horizontal_flip":false}"#;
        assert_eq!(serde_json::from_str::<Augment>(old).unwrap(), MNIST_LIKE);
        let extra = json.replace('}', r#","shear":1.0}"#);
        let e = serde_json::from_str::<Augment>(&extra).unwrap_err();
        assert!(e.to_string().contains("unknown field `shear`"), "{e}");
    }
}
