//! Finite-difference checks of every backward pass.
//!
//! Tolerance: central differences with step h = 1e-2 on an f32 network, scored against the
//! analytic gradient as |analytic − numeric| ≤ 2e-3 + 1e-2·|numeric|. The loss is the
//! weighted sum L = Σ c ⊙ output with fixed random weights c, evaluated in f64, so the
//! numeric error is dominated by f32 rounding of the outputs (≈ 1e-6/h).

use ndarray::{Array2, ArrayView2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand_distr::Uniform;
use rand_chacha::ChaCha8Rng;
use siamese_nn::{CsrBatch, Dense, Init, Input, Relu, Tower, TowerSpec};

const H: f32 = 1e-2;

fn random(shape: (usize, usize), seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::random_using(shape, Uniform::new(-1.0f32, 1.0).unwrap(), &mut rng)
}

fn weighted_sum(y: ArrayView2<'_, f32>, c: &Array2<f32>) -> f64 {
    y.iter().zip(c).map(|(&a, &b)| a as f64 * b as f64).sum()
}

fn assert_close(analytic: f32, numeric: f64, what: &str) {
    let tol = 2e-3 + 1e-2 * numeric.abs();
    assert!(
        (analytic as f64 - numeric).abs() <= tol,
        "{what}: analytic {analytic} vs numeric {numeric} (tolerance {tol})"
    );
}

#[test]
fn dense_backward_matches_finite_differences() {
    // 64 outputs: rows are padded in the parameter buffer (see `Dense::stride`).
    for output in [4, 64] {
        check_dense_backward(output);
    }
}

fn check_dense_backward(output: usize) {
    let (rows, input) = (3, 5);
    let layer = Dense::new(input, output, 0, false);
    let mut params = random((1, layer.num_params()), 1)
        .into_raw_vec_and_offset()
        .0;
    let x = random((rows, input), 2);
    let c = random((rows, output), 3);
    let loss = |params: &[f32], x: &Array2<f32>| {
        let mut y = Array2::zeros((rows, output));
        layer.forward(params, x.view(), y.view_mut()).unwrap();
        weighted_sum(y.view(), &c)
    };

    let mut y = Array2::zeros((rows, output));
    layer.forward(&params, x.view(), y.view_mut()).unwrap();
    let mut dy = c.clone();
    let mut grads = vec![0.0; layer.num_params()];
    let mut dx = Array2::zeros((rows, input));
    layer
        .backward(
            &params,
            x.view(),
            y.view(),
            dy.view_mut(),
            &mut grads,
            Some(dx.view_mut()),
        )
        .unwrap();

    for p in 0..params.len() {
        let keep = params[p];
        params[p] = keep + H;
        let up = loss(&params, &x);
        params[p] = keep - H;
        let down = loss(&params, &x);
        params[p] = keep;
        assert_close(
            grads[p],
            (up - down) / (2.0 * H as f64),
            &format!("param {p}"),
        );
    }
    for idx in 0..rows * input {
        let (i, j) = (idx / input, idx % input);
        let mut xp = x.clone();
        xp[[i, j]] += H;
        let mut xm = x.clone();
        xm[[i, j]] -= H;
        let numeric = (loss(&params, &xp) - loss(&params, &xm)) / (2.0 * H as f64);
        assert_close(dx[[i, j]], numeric, &format!("input ({i}, {j})"));
    }
}

#[test]
fn dense_gradients_accumulate() {
    let layer = Dense::new(3, 2, 0, true);
    let params = random((1, layer.num_params()), 4)
        .into_raw_vec_and_offset()
        .0;
    let x = random((4, 3), 5);
    let mut y = Array2::zeros((4, 2));
    layer.forward(&params, x.view(), y.view_mut()).unwrap();
    let mut once = vec![0.0; layer.num_params()];
    let mut twice = vec![0.0; layer.num_params()];
    for (grads, times) in [(&mut once, 1), (&mut twice, 2)] {
        for _ in 0..times {
            let mut dy = Array2::ones((4, 2));
            layer
                .backward(&params, x.view(), y.view(), dy.view_mut(), grads, None)
                .unwrap();
        }
    }
    for (a, b) in once.iter().zip(&twice) {
        assert!((2.0 * a - b).abs() <= 1e-6, "{a} * 2 != {b}");
    }
}

#[test]
fn relu_backward_matches_finite_differences() {
    // Inputs kept at least 0.1 from the kink so that ±h never crosses it.
    let x = random((4, 6), 6).mapv(|v| {
        if v.abs() < 0.1 {
            v + 0.2f32.copysign(v)
        } else {
            v
        }
    });
    let c = random((4, 6), 7);
    let loss = |x: &Array2<f32>| {
        let mut y = x.clone();
        Relu::forward(y.view_mut());
        weighted_sum(y.view(), &c)
    };
    let mut y = x.clone();
    Relu::forward(y.view_mut());
    let mut dy = c.clone();
    Relu::backward(y.view(), dy.view_mut());
    for i in 0..4 {
        for j in 0..6 {
            let mut xp = x.clone();
            xp[[i, j]] += H;
            let mut xm = x.clone();
            xm[[i, j]] -= H;
            let numeric = (loss(&xp) - loss(&xm)) / (2.0 * H as f64);
            assert_close(dy[[i, j]], numeric, &format!("relu ({i}, {j})"));
        }
    }
}

fn small_tower(final_activation: bool) -> Tower {
    Tower::new(TowerSpec {
        input: 7,
        hidden: vec![6, 5],
        embedding: 4,
        final_activation,
    })
    .unwrap()
}

#[test]
fn tower_backward_matches_finite_differences() {
    // Threshold 0: hidden layers always dense; 2: always sparse (skipping zero activations).
    for (final_activation, threshold) in [(false, 0.0), (true, 0.0), (false, 2.0), (true, 2.0)] {
        let tower = small_tower(final_activation);
        let mut params = tower.init_params(Init::HeNormal, 11).unwrap();
        // Non-zero biases, so that the bias gradients and ReLU masks are exercised.
        for layer in tower.layers() {
            let b = layer.offset() + layer.input() * layer.output();
            for (k, v) in params[b..b + layer.output()].iter_mut().enumerate() {
                *v = 0.1 * (k as f32 - 1.5);
            }
        }
        check_tower_gradients(&tower, params, 5, threshold, 12);
    }
}

/// Compares every parameter's and input's analytic gradient with central differences, for a
/// batch of `rows` random inputs and hidden-layer sparsity threshold `threshold`.
fn check_tower_gradients(
    tower: &Tower,
    mut params: siamese_nn::Floats,
    rows: usize,
    threshold: f64,
    seed: u64,
) {
    let (input, embedding) = (tower.spec().input, tower.spec().embedding);
    let x = random((rows, input), seed);
    let c = random((rows, embedding), seed + 1);
    let mut ws = tower.workspace(rows);
    ws.set_sparse_threshold(threshold);
    let loss = |params: &[f32], x: &Array2<f32>, ws: &mut siamese_nn::Workspace| {
        let y = tower.forward(params, Input::Dense(x.view()), ws).unwrap();
        weighted_sum(y, &c)
    };
    loss(&params, &x, &mut ws);
    let mut grads = vec![0.0; tower.num_params()];
    let mut dx = Array2::zeros((rows, input));
    tower
        .backward(
            &params,
            Input::Dense(x.view()),
            &mut ws,
            c.view(),
            &mut grads,
            Some(dx.view_mut()),
        )
        .unwrap();
    assert!(grads.iter().any(|&g| g != 0.0));
    for p in 0..params.len() {
        let keep = params[p];
        params[p] = keep + H;
        let up = loss(&params, &x, &mut ws);
        params[p] = keep - H;
        let down = loss(&params, &x, &mut ws);
        params[p] = keep;
        assert_close(
            grads[p],
            (up - down) / (2.0 * H as f64),
            &format!("param {p}"),
        );
    }
    for i in 0..rows {
        for j in 0..input {
            let mut xp = x.clone();
            xp[[i, j]] += H;
            let mut xm = x.clone();
            xm[[i, j]] -= H;
            let numeric =
                (loss(&params, &xp, &mut ws) - loss(&params, &xm, &mut ws)) / (2.0 * H as f64);
            assert_close(dx[[i, j]], numeric, &format!("input ({i}, {j})"));
        }
    }
}

#[test]
fn sparse_first_layer_matches_dense() {
    for hidden in [6, 128] {
        check_sparse_matches_dense(hidden);
    }
}

fn check_sparse_matches_dense(hidden: usize) {
    let tower = Tower::new(TowerSpec {
        input: 7,
        hidden: vec![hidden, 5],
        embedding: 4,
        final_activation: false,
    })
    .unwrap();
    let rows = 6;
    let params = tower.init_params(Init::GlorotUniform, 21).unwrap();
    // About 30% of the inputs non-zero, as for MNIST digits.
    let x = random((rows, 7), 22).mapv(|v| if v > 0.4 { v } else { 0.0 });
    let csr = CsrBatch::from_dense(x.view());
    assert!(csr.density() > 0.0 && csr.density() < 0.6);
    let c = random((rows, 4), 23);

    let mut ws_dense = tower.workspace(rows);
    let mut ws_sparse = tower.workspace(rows);
    let dense_out = tower
        .forward(&params, Input::Dense(x.view()), &mut ws_dense)
        .unwrap()
        .to_owned();
    let sparse_out = tower
        .forward(&params, Input::Sparse(&csr), &mut ws_sparse)
        .unwrap()
        .to_owned();
    for (a, b) in dense_out.iter().zip(&sparse_out) {
        assert!((a - b).abs() <= 1e-5, "forward: dense {a} vs sparse {b}");
    }

    let mut g_dense = vec![0.0; tower.num_params()];
    let mut g_sparse = vec![0.0; tower.num_params()];
    tower
        .backward(
            &params,
            Input::Dense(x.view()),
            &mut ws_dense,
            c.view(),
            &mut g_dense,
            None,
        )
        .unwrap();
    tower
        .backward(
            &params,
            Input::Sparse(&csr),
            &mut ws_sparse,
            c.view(),
            &mut g_sparse,
            None,
        )
        .unwrap();
    for (p, (a, b)) in g_dense.iter().zip(&g_sparse).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5,
            "gradient {p}: dense {a} vs sparse {b}"
        );
    }
}

#[test]
fn shape_errors_name_the_array() {
    let tower = small_tower(false);
    let params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    let mut ws = tower.workspace(2);
    let wrong_width = Array2::<f32>::zeros((2, 6));
    let err = tower
        .forward(&params, Input::Dense(wrong_width.view()), &mut ws)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("tower input: expected [2, 7], found [2, 6]"),
        "{err}"
    );

    let too_many = Array2::<f32>::zeros((3, 7));
    let err = tower
        .forward(&params, Input::Dense(too_many.view()), &mut ws)
        .unwrap_err();
    assert!(err.to_string().contains("workspace capacity"), "{err}");

    let err = tower
        .forward(&params[1..], Input::Dense(wrong_width.view()), &mut ws)
        .unwrap_err();
    assert!(err.to_string().contains("parameter buffer holds"), "{err}");
}

#[test]
fn invalid_specs_are_rejected_with_the_field() {
    let err = Tower::new(TowerSpec {
        input: 4,
        hidden: vec![3, 0],
        embedding: 2,
        final_activation: false,
    })
    .unwrap_err();
    assert!(err.to_string().contains("hidden = [3, 0]"), "{err}");
    let err = Tower::new(TowerSpec {
        input: 0,
        hidden: vec![],
        embedding: 2,
        final_activation: false,
    })
    .unwrap_err();
    assert!(err.to_string().contains("input = 0"), "{err}");
}

#[test]
fn init_is_seeded_and_scaled() {
    let tower = Tower::new(TowerSpec {
        input: 784,
        hidden: vec![512],
        embedding: 128,
        final_activation: false,
    })
    .unwrap();
    let a = tower.init_params(Init::GlorotUniform, 5).unwrap();
    let b = tower.init_params(Init::GlorotUniform, 5).unwrap();
    let c = tower.init_params(Init::GlorotUniform, 6).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let layer = &tower.layers()[0];
    let limit = (6.0f32 / (784.0 + 512.0)).sqrt();
    let first = layer.weights(&a).unwrap();
    assert!(first.iter().all(|v| v.abs() <= limit));
    let max = first.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        max > 0.95 * limit,
        "uniform draws should reach near the limit"
    );
    // Biases start at zero, and so does the row padding of the buffer.
    assert!(layer.bias(&a).unwrap().iter().all(|&v| v == 0.0));
    let logical: usize = tower
        .layers()
        .iter()
        .map(|l| l.input() * l.output() + l.output())
        .sum();
    assert_eq!(a.iter().filter(|&&v| v != 0.0).count(), logical - 512 - 128);

    let he = tower.init_params(Init::HeNormal, 5).unwrap();
    let w = layer.weights(&he).unwrap();
    let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
    let expected = 2.0 / 784.0;
    assert!(
        (var - expected).abs() < 0.05 * expected,
        "He variance {var} vs {expected}"
    );
}

#[test]
fn sparse_hidden_layers_match_dense_ones() {
    // Wide enough for the tiled kernels (multiples of 64), with negative biases so that most
    // activations are zero, as in a trained tower.
    let tower = Tower::new(TowerSpec {
        input: 20,
        hidden: vec![128, 64],
        embedding: 64,
        final_activation: false,
    })
    .unwrap();
    let mut params = tower.init_params(Init::HeNormal, 31).unwrap();
    for layer in &tower.layers()[..2] {
        let b = layer.bias_offset();
        for v in &mut params[b..b + layer.output()] {
            *v = -0.5;
        }
    }
    let rows = 9;
    let x = random((rows, 20), 32).mapv(|v| v.abs());
    let c = random((rows, 64), 33);
    let mut results = Vec::new();
    for threshold in [0.0, 2.0] {
        let mut ws = tower.workspace(rows);
        ws.set_sparse_threshold(threshold);
        let out = tower
            .forward(&params, Input::Dense(x.view()), &mut ws)
            .unwrap()
            .to_owned();
        let mut grads = vec![0.0; tower.num_params()];
        let mut dx = Array2::zeros((rows, 20));
        tower
            .backward(
                &params,
                Input::Dense(x.view()),
                &mut ws,
                c.view(),
                &mut grads,
                Some(dx.view_mut()),
            )
            .unwrap();
        results.push((out, grads, dx));
    }
    let (dense, sparse) = (&results[0], &results[1]);
    let close = |a: &[f32], b: &[f32], what: &str| {
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!(
                (p - q).abs() <= 1e-4 * (1.0 + p.abs()),
                "{what} {i}: dense {p} vs sparse {q}"
            );
        }
    };
    close(
        dense.0.as_slice().unwrap(),
        sparse.0.as_slice().unwrap(),
        "output",
    );
    close(&dense.1, &sparse.1, "gradient");
    close(
        dense.2.as_slice().unwrap(),
        sparse.2.as_slice().unwrap(),
        "input gradient",
    );
    assert!(dense.1.iter().any(|&g| g != 0.0));
}

#[test]
fn backward_through_mostly_inactive_units_matches_finite_differences() {
    // Second hidden layer: 14 of 16 units get a bias so negative that they never fire, as
    // most units of a trained tower's second layer; the backward pass then works on the live
    // columns only. Checked for dense and sparse hidden inputs.
    for threshold in [0.0, 2.0] {
        let tower = Tower::new(TowerSpec {
            input: 6,
            hidden: vec![8, 16],
            embedding: 3,
            final_activation: false,
        })
        .unwrap();
        let mut params = tower.init_params(Init::HeNormal, 41).unwrap();
        let b = tower.layers()[1].bias_offset();
        for (k, v) in params[b..b + 16].iter_mut().enumerate() {
            *v = if k % 8 == 3 { 0.5 } else { -100.0 };
        }
        check_tower_gradients(&tower, params, 4, threshold, 42);
    }
}
