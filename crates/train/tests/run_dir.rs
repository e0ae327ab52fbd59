//! The run directory's JSON records read back exactly as written.

use siamese_train::{EpochMetrics, RunDir};

#[test]
fn metrics_read_back_to_the_bit() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    // Values whose shortest decimal forms a parser without exact rounding gets wrong by an
    // ulp; a resumed run replays figures like these (the accuracy that scales augmentation).
    let awkward = [
        0.425_357_451_999_999_97,
        0.1 + 0.2,
        1.0 / 3.0,
        0.987_654_321_012_345_6,
    ];
    let epochs: Vec<EpochMetrics> = awkward
        .iter()
        .enumerate()
        .map(|(i, &x)| EpochMetrics {
            epoch: i + 1,
            train_loss: x,
            train_accuracy: 1.0 - x / 7.0,
            val_loss: x * 3.0,
            val_accuracy: x.sqrt(),
            seconds: x / 11.0,
            eval_seconds: x * x,
            pairs_per_second: 1e5 / x,
        })
        .collect();
    run.write_metrics(&epochs).unwrap();
    let back = run.read_metrics().unwrap();
    for (a, b) in epochs.iter().zip(&back) {
        assert_eq!(a.train_accuracy.to_bits(), b.train_accuracy.to_bits());
        assert_eq!(a.seconds.to_bits(), b.seconds.to_bits());
    }
    assert_eq!(back, epochs);
}
