//! Augmentation runs per image inside the training loop, so it must not
//! allocate; and on real digits it must stay a digit: mass roughly kept.

mod common;

use siamese_alloc_probe::{PeakAlloc, largest_allocation};
use siamese_data::{Augment, Mnist, augment_seed};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const MNIST_LIKE: Augment = Augment {
    max_shift: 2.0,
    max_rotation_degrees: 10.0,
    scale: (0.9, 1.1),
    horizontal_flip: true,
    probability: 1.0,
};

#[test]
fn apply_does_not_allocate() {
    let src: Vec<u8> = (0..28 * 28).map(|i| (i * 37 % 256) as u8).collect();
    let mut dst = vec![0u8; src.len()];
    for aug in [MNIST_LIKE, Augment::IDENTITY] {
        let largest = largest_allocation(|| {
            for position in 0..100 {
                let seed = augment_seed(1, 2, position);
                aug.apply(&src, 28, 28, seed, &mut dst).unwrap();
            }
        });
        assert_eq!(largest, 0, "{aug:?}");
    }
}

#[test]
fn real_digits_keep_their_ink() {
    // Ink scales with the area, s²: per image the sum of pixels changes by
    // the factor s², which spans 0.81..1.21 (bounds widened a little for
    // interpolation and rounding); over 500 digits it changes by the mean of
    // s², within 2 % (0.4 % seen).
    let mnist = Mnist::load(common::real_mnist_dir()).unwrap();
    let train = &mnist.train;
    let mut dst = vec![0u8; train.image_len()];
    let (mut before, mut after) = (0.0f64, 0.0f64);
    for i in 0..500 {
        let src = train.image(i);
        MNIST_LIKE
            .apply(src, 28, 28, augment_seed(7, 0, i as u64), &mut dst)
            .unwrap();
        let sum = |img: &[u8]| img.iter().map(|&p| f64::from(p)).sum::<f64>();
        let (b, a) = (sum(src), sum(&dst));
        let ratio = a / b;
        assert!((0.75..1.25).contains(&ratio), "image {i}: {ratio}");
        before += b;
        after += a;
    }
    // E[s²] for s uniform in (0.9, 1.1) is 1 + 0.2²/12.
    let expected = 1.0 + 0.04 / 12.0;
    assert!(
        (after / before / expected - 1.0).abs() < 0.03,
        "{}",
        after / before
    );
}
