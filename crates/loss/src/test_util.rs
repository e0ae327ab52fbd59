//! Test helpers shared by the in-batch losses: a tiny PRNG, batches, and a
//! finite-difference gradient check.

use crate::{BatchLoss, BatchScratch};

/// Deterministic values in [-1, 1) without pulling in `rand` (an LCG; the
/// high bits are good enough for test data).
pub(crate) fn values(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// `n` labels, `n / classes` of each of `classes` classes (give or take one),
/// in a seeded shuffled order so that classes are not contiguous.
pub(crate) fn labels(seed: u64, n: usize, classes: u32) -> Vec<u32> {
    let mut l: Vec<u32> = (0..n).map(|i| i as u32 % classes).collect();
    let r = values(seed ^ 0x5eed, n);
    // Fisher–Yates driven by the same LCG.
    for i in (1..n).rev() {
        let j = (((r[i] + 1.0) * 0.5 * (i + 1) as f32) as usize).min(i);
        l.swap(i, j);
    }
    l
}

/// Rows scaled to unit L2 norm (computed in f64), as the train crate feeds
/// the similarity losses.
pub(crate) fn unit_rows(mut v: Vec<f32>, dim: usize) -> Vec<f32> {
    for row in v.chunks_exact_mut(dim) {
        let norm = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        for x in row {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
    v
}

/// Loss and gradient with a fresh scratch.
pub(crate) fn eval(
    loss: &dyn BatchLoss,
    emb: &[f32],
    dim: usize,
    labels: &[u32],
) -> (f64, Vec<f32>) {
    let mut grad = vec![f32::NAN; emb.len()];
    let total = loss
        .forward_backward(emb, dim, labels, &mut BatchScratch::default(), &mut grad)
        .unwrap();
    (total, grad)
}

/// Tolerance of [`fd_check`]: `|numeric − analytic| ≤ atol + rtol·|analytic|`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tol {
    /// Central-difference step on each coordinate.
    pub(crate) h: f32,
    pub(crate) atol: f64,
    pub(crate) rtol: f64,
}

/// The tolerance of the gradient checks of every in-batch loss: steps of
/// `h = 1e-3` on the f32 inputs, `|numeric − analytic| ≤ 1e-4 + 5e-4·|analytic|`.
///
/// f32 rounding inside the loss (~1e-7 on values of order 1) gives ~5e-5
/// over a step of 2e-3; truncation, h² times the third derivative over 6, is
/// below ~4e-5 even for the stiffest case (the multi-similarity negative term
/// with β = 50, whose third derivative in `S` is up to ~β²/10). The largest
/// error observed is under 0.3 of this bound, and scaling the gradient by
/// 1.005 fails every check.
pub(crate) const FD_TOL: Tol = Tol {
    h: 1e-3,
    atol: 1e-4,
    rtol: 5e-4,
};

/// Central differences of the f64 loss around f32 inputs.
///
/// The quotient divides by the step actually taken, `x_k+ − x_k−` (exact in
/// f64), not by `2h`, which f32 rounding of `x ± h` would bias by up to
/// ~1e-4 relative. Errors then come from the f32 rounding inside the loss
/// (~1e-7 relative, i.e. ~1e-7/h in the quotient) and from truncation
/// (~h²·|L'''|/6).
///
/// `signature` returns the discrete choices of the loss (mined rows, active
/// hinges, active clamps) from a reference implementation; it must be equal at
/// `x − h`, `x` and `x + h` for every coordinate, otherwise the loss is not
/// smooth across the step and the check would be meaningless — the test data
/// must then be changed, so that fails the test too.
///
pub(crate) fn fd_check(
    loss: &dyn BatchLoss,
    emb: &[f32],
    dim: usize,
    labels: &[u32],
    tol: Tol,
    signature: &dyn Fn(&[f32]) -> Vec<usize>,
) {
    let (_, grad) = eval(loss, emb, dim, labels);
    let base = signature(emb);
    for k in 0..emb.len() {
        let (mut ep, mut em) = (emb.to_vec(), emb.to_vec());
        ep[k] += tol.h;
        em[k] -= tol.h;
        assert_eq!(
            signature(&ep),
            base,
            "+h on coordinate {k} changes the mining"
        );
        assert_eq!(
            signature(&em),
            base,
            "-h on coordinate {k} changes the mining"
        );
        let step = f64::from(ep[k]) - f64::from(em[k]);
        let num = (eval(loss, &ep, dim, labels).0 - eval(loss, &em, dim, labels).0) / step;
        let ana = f64::from(grad[k]);
        let bound = tol.atol + tol.rtol * ana.abs();
        assert!(
            (num - ana).abs() <= bound,
            "d/de[{k}]: numeric {num} vs analytic {ana} (tolerance {bound})"
        );
    }
}

/// Whether no single-coordinate step of ±h changes the signature: the first
/// seeds for which this holds are the ones the gradient checks of the mined
/// losses use (a batch of 12 rows has hundreds of hinges and mining
/// thresholds, so some seeds put one within 1e-3 of a step).
pub(crate) fn mining_is_stable(
    emb: &[f32],
    h: f32,
    signature: &dyn Fn(&[f32]) -> Vec<usize>,
) -> bool {
    let base = signature(emb);
    (0..emb.len()).all(|k| {
        [h, -h].iter().all(|&step| {
            let mut e = emb.to_vec();
            e[k] += step;
            signature(&e) == base
        })
    })
}

/// Permuting the rows (and labels) permutes the gradient and keeps the loss,
/// up to the rounding of sums taken in another order.
pub(crate) fn check_permutation(loss: &dyn BatchLoss, emb: &[f32], dim: usize, labels: &[u32]) {
    let n = labels.len();
    // A fixed permutation with no fixed point for n > 1: i -> 5i + 3 mod n
    // is a bijection whenever gcd(5, n) = 1.
    assert_ne!(n % 5, 0);
    let perm: Vec<usize> = (0..n).map(|i| (5 * i + 3) % n).collect();
    let mut pe = vec![0.0; emb.len()];
    let mut pl = vec![0; n];
    for (new, &old) in perm.iter().enumerate() {
        pe[new * dim..(new + 1) * dim].copy_from_slice(&emb[old * dim..(old + 1) * dim]);
        pl[new] = labels[old];
    }
    let (l0, g0) = eval(loss, emb, dim, labels);
    let (l1, g1) = eval(loss, &pe, dim, &pl);
    assert!(
        (l0 - l1).abs() <= 1e-6 * l0.abs().max(1.0),
        "loss {l0} vs permuted {l1}"
    );
    for (new, &old) in perm.iter().enumerate() {
        for k in 0..dim {
            let (a, b) = (g0[old * dim + k], g1[new * dim + k]);
            assert!(
                (a - b).abs() <= 1e-5 * a.abs().max(1e-2),
                "row {old} coordinate {k}: {a} vs permuted {b}"
            );
        }
    }
}

/// Same input twice, with a fresh and with a reused scratch (which has seen
/// a larger batch in between): bit-identical loss and gradient, and the
/// second call on the grown scratch does not reallocate it.
pub(crate) fn check_determinism(loss: &dyn BatchLoss, emb: &[f32], dim: usize, labels: &[u32]) {
    let (l0, g0) = eval(loss, emb, dim, labels);
    let mut scratch = BatchScratch::default();
    let mut grad = vec![0.0; emb.len()];
    // A larger batch first, so the scratch holds stale values beyond n × n.
    let n = labels.len();
    let big_emb = values(99, 2 * emb.len());
    let big_labels = labels.repeat(2);
    let mut big_grad = vec![0.0; big_emb.len()];
    loss.forward_backward(&big_emb, dim, &big_labels, &mut scratch, &mut big_grad)
        .unwrap();
    let before = scratch.fingerprint();
    for _ in 0..2 {
        let l1 = loss
            .forward_backward(emb, dim, labels, &mut scratch, &mut grad)
            .unwrap();
        assert_eq!(l0.to_bits(), l1.to_bits());
        assert!(
            g0.iter()
                .zip(&grad)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    assert_eq!(
        scratch.fingerprint(),
        before,
        "the scratch was reallocated for n = {n}"
    );
}

/// Every output finite, every gradient entry finite.
pub(crate) fn assert_finite(total: f64, grad: &[f32]) {
    assert!(total.is_finite(), "loss {total}");
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
}

/// Checks shared by every in-batch loss: shape errors (leaving `grad`
/// untouched), empty and single-row batches, and no panic on NaN or infinite
/// input.
pub(crate) fn check_common_edge_cases(loss: &dyn BatchLoss) {
    use crate::LossError;
    let mut s = BatchScratch::default();
    let mut grad = [7.0f32; 6];
    assert_eq!(
        loss.forward_backward(&[0.0; 5], 2, &[0, 0, 1], &mut s, &mut grad),
        Err(LossError::ShapeMismatch {
            what: "embeddings (n × dim)",
            expected: 6,
            found: 5
        })
    );
    assert_eq!(
        loss.forward_backward(&[0.0; 6], 2, &[0, 0, 1], &mut s, &mut grad[..4]),
        Err(LossError::ShapeMismatch {
            what: "grad (n × dim)",
            expected: 6,
            found: 4
        })
    );
    assert_eq!(
        loss.forward_backward(&[], 0, &[0, 1], &mut s, &mut []),
        Err(LossError::ZeroDim)
    );
    assert_eq!(grad, [7.0; 6], "grad written on error");
    // n·dim overflowing usize is a shape error, not an overflow panic.
    assert!(matches!(
        loss.forward_backward(&[0.0; 6], usize::MAX, &[0, 1], &mut s, &mut grad),
        Err(LossError::ShapeMismatch { .. })
    ));

    assert_eq!(loss.forward_backward(&[], 3, &[], &mut s, &mut []), Ok(0.0));
    let mut g1 = [f32::NAN; 3];
    assert_eq!(
        loss.forward_backward(&[0.3, -0.4, 0.5], 3, &[4], &mut s, &mut g1),
        Ok(0.0)
    );
    assert_eq!(g1, [0.0; 3]);

    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX] {
        let mut emb = unit_rows(values(5, 12), 3);
        emb[4] = bad;
        let mut g = vec![0.0; 12];
        // Any value is acceptable (NaN included); a panic is not.
        let _ = loss.forward_backward(&emb, 3, &[0, 0, 1, 1], &mut s, &mut g);
        let emb = [bad; 12];
        let _ = loss.forward_backward(&emb, 3, &[0, 0, 1, 1], &mut s, &mut g);
    }
}
