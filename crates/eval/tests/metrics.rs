//! Known-answer tests for every metric.

use siamese_eval::{
    EvalError, Neighbor, Neighbors, equal_error_rate, knn_accuracy, knn_predict, mean_knn_distance,
    relevant_counts, retrieval_metrics, roc_auc,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn n(label: u32) -> Neighbor {
    Neighbor {
        index: 0,
        label,
        distance: 0.0,
    }
}

fn nd(label: u32, distance: f32) -> Neighbor {
    Neighbor {
        index: 0,
        label,
        distance,
    }
}

#[test]
fn auc_of_a_perfect_separator_is_one_and_reversed_zero() {
    let pos = [true, true, false, false];
    assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &pos).unwrap(), 1.0);
    assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &pos).unwrap(), 0.0);
}

#[test]
fn auc_matches_the_scikit_learn_example_and_counts_ties_as_half() {
    // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
    assert!(close(auc, 0.75));
    // One positive tied with one of two negatives, above the other: (1 + 0.5) / 2.
    let auc = roc_auc(&[0.5, 0.5, 0.1], &[true, false, false]).unwrap();
    assert!(close(auc, 0.75));
    assert_eq!(
        roc_auc(&[0.3; 6], &[true, false, true, false, true, false]).unwrap(),
        0.5
    );
}

#[test]
fn auc_needs_both_classes_and_no_nan() {
    assert!(matches!(
        roc_auc(&[0.1, 0.2], &[true, true]),
        Err(EvalError::Undefined { .. })
    ));
    assert!(matches!(
        roc_auc(&[0.1, f32::NAN], &[true, false]),
        Err(EvalError::Undefined { .. })
    ));
    let err = roc_auc(&[0.1, 0.2], &[true]).unwrap_err();
    assert!(err.to_string().contains("expected 2, found 1"), "{err}");
}

#[test]
fn equal_error_rate_known_answers() {
    // Perfect separator: 0; constant score: 0.5.
    let pos = [true, true, false, false];
    assert_eq!(equal_error_rate(&[0.9, 0.8, 0.2, 0.1], &pos).unwrap(), 0.0);
    assert_eq!(equal_error_rate(&[0.5; 4], &pos).unwrap(), 0.5);
    // Ranking T T F T F F: at the threshold admitting the first four, FPR = FNR = 1/3.
    let scores = [0.9, 0.8, 0.7, 0.6, 0.1, 0.05];
    let pos = [true, true, false, true, false, false];
    assert!(close(equal_error_rate(&scores, &pos).unwrap(), 1.0 / 3.0));
    // Reversed ranking: everything wrong until the end, EER 1.
    assert_eq!(
        equal_error_rate(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]).unwrap(),
        1.0
    );
    // Crossing between operating points (0, 0.5) and (1, 0): interpolated at 1/3.
    let eer = equal_error_rate(&[0.9, 0.5, 0.5, 0.5], &[true, true, false, false]).unwrap();
    assert!(close(eer, 1.0 / 3.0), "{eer}");
}

#[test]
fn knn_vote_majority_with_ties_to_the_nearest() {
    let row = [n(3), n(5), n(5), n(3)];
    assert_eq!(knn_predict(&row, 1), Some(3));
    assert_eq!(knn_predict(&row, 3), Some(5));
    assert_eq!(knn_predict(&row, 4), Some(3)); // 2–2: label 3 has the nearest member
    assert_eq!(knn_predict(&[], 5), None);
    let hits = Neighbors::from_flat(3, vec![n(1), n(2), n(2), n(0), n(0), n(1)]).unwrap();
    assert_eq!(knn_accuracy(&hits, &[1, 0], 1).unwrap(), 1.0);
    assert_eq!(knn_accuracy(&hits, &[1, 0], 3).unwrap(), 0.5);
    assert!(knn_accuracy(&hits, &[1, 0], 4).is_err());
    assert!(knn_accuracy(&hits, &[1], 1).is_err());
}

#[test]
fn retrieval_metrics_known_ranking() {
    // Query A (label 1, R = 3): hit, miss, hit | hit  -> P@1 1, R-prec 2/3,
    //   MAP@R = (1/1 + 2/3) / 3.
    // Query B (label 0, R = 2): miss, hit | hit, hit -> P@1 0, R-prec 1/2, MAP@R = (1/2) / 2.
    // Query C (label 7, R = 0): left out.
    let hits = Neighbors::from_flat(
        4,
        vec![
            n(1),
            n(0),
            n(1),
            n(1), //
            n(1),
            n(0),
            n(0),
            n(0), //
            n(7),
            n(7),
            n(7),
            n(7),
        ],
    )
    .unwrap();
    let m = retrieval_metrics(&hits, &[1, 0, 7], &[3, 2, 0]).unwrap();
    assert_eq!(m.queries, 2);
    assert!(close(m.precision_at_1, 0.5));
    assert!(close(m.r_precision, (2.0 / 3.0 + 0.5) / 2.0));
    assert!(close(m.map_at_r, ((1.0 + 2.0 / 3.0) / 3.0 + 0.25) / 2.0));
}

#[test]
fn retrieval_metrics_of_a_perfect_ranking_are_one() {
    let hits = Neighbors::from_flat(2, vec![n(0), n(0), n(1), n(1)]).unwrap();
    let m = retrieval_metrics(&hits, &[0, 1], &[2, 2]).unwrap();
    assert_eq!(
        (m.precision_at_1, m.r_precision, m.map_at_r),
        (1.0, 1.0, 1.0)
    );
}

#[test]
fn retrieval_metrics_need_r_neighbours() {
    let hits = Neighbors::from_flat(2, vec![n(0), n(0)]).unwrap();
    let err = retrieval_metrics(&hits, &[0], &[3]).unwrap_err();
    assert!(err.to_string().contains("expected 3, found 2"), "{err}");
    assert!(matches!(
        retrieval_metrics(&hits, &[0], &[0]),
        Err(EvalError::Undefined { .. })
    ));
}

#[test]
fn relevant_counts_leave_the_query_out_of_its_own_set() {
    let labels = [0, 1, 1, 2, 1];
    assert_eq!(relevant_counts(&labels, &labels, true), [0, 2, 2, 0, 2]);
    assert_eq!(relevant_counts(&[1, 5], &labels, false), [3, 0]);
}

#[test]
fn novelty_score_is_the_mean_of_the_k_nearest_distances() {
    let hits = Neighbors::from_flat(3, vec![nd(0, 1.0), nd(0, 2.0), nd(0, 6.0)]).unwrap();
    assert_eq!(mean_knn_distance(&hits, 2).unwrap(), [1.5]);
    assert_eq!(mean_knn_distance(&hits, 3).unwrap(), [3.0]);
    assert!(mean_knn_distance(&hits, 0).is_err());
}
