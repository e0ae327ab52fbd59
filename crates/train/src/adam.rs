//! Adam over one flat parameter buffer.

use rayon::prelude::*;
use siamese_nn::{Floats, zeroed_floats};

use crate::config::{LrSchedule, OptimizerConfig};

/// Elements per parallel chunk: large enough to amortize scheduling, small enough that the
/// 535k parameters of the tutorial's tower split across both cores.
const CHUNK: usize = 1 << 14;

/// Adam (Kingma & Ba 2015) with bias correction and optional decoupled weight decay
/// (Loshchilov & Hutter 2019), updating the parameter buffer in place.
///
/// ```
/// use siamese_train::{Adam, OptimizerConfig};
/// let config = OptimizerConfig { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, ..Default::default() };
/// let mut adam = Adam::new(&config, 1);
/// let mut params = [1.0f32];
/// adam.step(&mut params, &[2.0]);
/// // The first bias-corrected step moves by lr·sign(g).
/// assert!((params[0] - 0.9).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    schedule: LrSchedule,
    /// The schedule's factor for the next step; not state, set before every step.
    lr_factor: f32,
    /// Steps taken so far.
    pub(crate) t: u64,
    /// First moments, cache-line aligned like the parameters (see [`Floats`]).
    pub(crate) m: Floats,
    /// Second moments.
    pub(crate) v: Floats,
}

impl Adam {
    /// Zero moments for `len` parameters.
    pub fn new(config: &OptimizerConfig, len: usize) -> Self {
        Self {
            lr: config.lr,
            beta1: config.beta1,
            beta2: config.beta2,
            eps: config.eps,
            weight_decay: config.weight_decay,
            schedule: config.schedule,
            lr_factor: 1.0,
            t: 0,
            m: zeroed_floats(len),
            v: zeroed_floats(len),
        }
    }

    /// The settings this optimizer runs with.
    pub fn config(&self) -> OptimizerConfig {
        OptimizerConfig {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            schedule: self.schedule,
        }
    }

    /// Sets the learning rate of the next steps to `factor · lr` (see
    /// [`LrSchedule::factor`]).
    pub fn set_lr_factor(&mut self, factor: f32) {
        self.lr_factor = factor;
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update with gradient `grads`. Elementwise, so the result does not depend on how
    /// the chunks are spread over threads.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let c = self.next_coefficients();
        params
            .par_chunks_mut(CHUNK)
            .zip(grads.par_chunks(CHUNK))
            .zip(
                self.m
                    .par_chunks_mut(CHUNK)
                    .zip(self.v.par_chunks_mut(CHUNK)),
            )
            .for_each(|((p, g), (m, v))| {
                update(p, g, m, v, &c);
            });
    }

    /// One update with the gradient `Σ parts`, summed element by element in the order given
    /// (so the result does not depend on threads), which leaves every part zeroed: ready to
    /// accumulate the next step's gradient ([`crate::Stepper::run`] adds into its buffers).
    /// Zeroing each value right after reading it, while it is in cache, costs less than a
    /// separate pass over the buffers before the next step.
    ///
    /// Returns whether every summed gradient element was finite; when not, the parameters
    /// are left in an unspecified state and training must stop.
    pub fn step_sum<G>(&mut self, params: &mut [f32], parts: &mut [G]) -> bool
    where
        G: AsMut<[f32]> + Send,
    {
        let c = self.next_coefficients();
        let moments = self
            .m
            .par_chunks_mut(CHUNK)
            .zip(self.v.par_chunks_mut(CHUNK));
        match parts {
            [] => true,
            [g0] => params
                .par_chunks_mut(CHUNK)
                .zip(g0.as_mut().par_chunks_mut(CHUNK))
                .zip(moments)
                .map(|((p, g0), (m, v))| update_clearing(p, g0, m, v, &c))
                .reduce(|| true, |a, b| a && b),
            [g0, g1] => params
                .par_chunks_mut(CHUNK)
                .zip(g0.as_mut().par_chunks_mut(CHUNK))
                .zip(g1.as_mut().par_chunks_mut(CHUNK))
                .zip(moments)
                .map(|(((p, g0), g1), (m, v))| update_two_clearing(p, g0, g1, m, v, &c))
                .reduce(|| true, |a, b| a && b),
            [g0, more @ ..] => {
                let g0 = g0.as_mut();
                // Part by part, so each element is summed in the order given.
                for g in more {
                    g0.par_chunks_mut(CHUNK)
                        .zip(g.as_mut().par_chunks_mut(CHUNK))
                        .for_each(|(total, part)| add_clearing(total, part));
                }
                params
                    .par_chunks_mut(CHUNK)
                    .zip(g0.par_chunks_mut(CHUNK))
                    .zip(moments)
                    .map(|((p, g0), (m, v))| update_clearing(p, g0, m, v, &c))
                    .reduce(|| true, |a, b| a && b)
            }
        }
    }

    fn next_coefficients(&mut self) -> Coefficients {
        self.t += 1;
        let t = self.t as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        // Bias corrections folded into two scalars: p -= lr·m̂/(√v̂ + ε)
        // with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
        Coefficients {
            b1,
            b2,
            step_size: self.lr * self.lr_factor / (1.0 - b1.powi(t)),
            inv_sqrt_c2: 1.0 / (1.0 - b2.powi(t)).sqrt(),
            eps: self.eps,
            decay: self.lr * self.lr_factor * self.weight_decay,
        }
    }
}

/// The scalars of one Adam step.
struct Coefficients {
    b1: f32,
    b2: f32,
    step_size: f32,
    inv_sqrt_c2: f32,
    eps: f32,
    decay: f32,
}

/// Moments below the smallest normal float are flushed to zero: rarely lit border pixels
/// leave ~30% of the first moments decaying into subnormals, whose arithmetic is slow on
/// many CPUs, and a moment that small moves no weight anyway.
#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// One element of Adam; returns 1.0 for a finite gradient, 0.0 otherwise (as a float, so
/// the caller's loop has no branch and vectorizes).
#[inline(always)]
fn update_one(p: &mut f32, g: f32, m: &mut f32, v: &mut f32, c: &Coefficients) -> bool {
    *m = flush(c.b1 * *m + (1.0 - c.b1) * g);
    *v = flush(c.b2 * *v + (1.0 - c.b2) * g * g);
    *p -= c.step_size * *m / (v.sqrt() * c.inv_sqrt_c2 + c.eps) + c.decay * *p;
    g.is_finite()
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: &Coefficients) -> bool {
    let mut finite = true;
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        finite &= update_one(p, g, m, v, c);
    }
    finite
}

/// Sets a gradient value to +0, writing only when it is not +0 already: most of a shard's
/// gradient stays zero (unlit pixels' rows, units inactive in the batch), and cache lines
/// left unwritten need no write-back to memory.
#[inline(always)]
fn clear(g: &mut f32) {
    if g.to_bits() != 0 {
        *g = 0.0;
    }
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn update_clearing(
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    c: &Coefficients,
) -> bool {
    let mut finite = true;
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        finite &= update_one(p, *g, m, v, c);
        clear(g);
    }
    finite
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn update_two_clearing(
    p: &mut [f32],
    g0: &mut [f32],
    g1: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    c: &Coefficients,
) -> bool {
    let mut finite = true;
    for ((((p, g0), g1), m), v) in p.iter_mut().zip(g0).zip(g1).zip(m).zip(v) {
        finite &= update_one(p, *g0 + *g1, m, v, c);
        clear(g0);
        clear(g1);
    }
    finite
}

#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn add_clearing(total: &mut [f32], part: &mut [f32]) {
    for (t, p) in total.iter_mut().zip(part) {
        *t += *p;
        clear(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lr: f32, weight_decay: f32) -> OptimizerConfig {
        OptimizerConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            ..OptimizerConfig::default()
        }
    }

    /// The textbook algorithm, in f64, step by step.
    fn reference(steps: &[f64], lr: f64) -> f64 {
        let (mut p, mut m, mut v) = (0.5f64, 0.0f64, 0.0f64);
        for (t, &g) in steps.iter().enumerate() {
            let t = (t + 1) as i32;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            let m_hat = m / (1.0 - 0.9f64.powi(t));
            let v_hat = v / (1.0 - 0.999f64.powi(t));
            p -= lr * m_hat / (v_hat.sqrt() + 1e-8);
        }
        p
    }

    #[test]
    fn matches_the_textbook_update() {
        let grads = [0.3, -1.2, 0.05, 2.0, -0.7];
        let mut adam = Adam::new(&config(0.01, 0.0), 1);
        let mut p = [0.5f32];
        for &g in &grads {
            adam.step(&mut p, &[g as f32]);
        }
        let expected = reference(&grads, 0.01);
        assert!(
            (p[0] as f64 - expected).abs() < 1e-6,
            "{} vs {expected}",
            p[0]
        );
        assert_eq!(adam.steps(), 5);
    }

    #[test]
    fn summing_parts_equals_stepping_with_the_sum() {
        for parts in 1..=3 {
            let n = CHUNK + 5;
            let grads: Vec<Vec<f32>> = (0..parts)
                .map(|k| {
                    (0..n)
                        .map(|i| ((i * (k + 3) % 17) as f32 - 8.0) / 8.0)
                        .collect()
                })
                .collect();
            let total: Vec<f32> = (0..n)
                .map(|i| grads.iter().fold(0.0, |acc, g| acc + g[i]))
                .collect();
            let mut a = Adam::new(&config(0.01, 0.1), n);
            let mut b = a.clone();
            let (mut pa, mut pb) = (vec![0.5f32; n], vec![0.5f32; n]);
            a.step(&mut pa, &total);
            let mut consumed = grads.clone();
            assert!(b.step_sum(&mut pb, &mut consumed));
            assert!(pa == pb, "{parts} parts");
            assert!(
                consumed.iter().flatten().all(|&g| g == 0.0),
                "{parts} parts left zeroed"
            );
        }
        let mut adam = Adam::new(&config(0.01, 0.0), 2);
        let mut bad = vec![vec![1.0, f32::NAN], vec![0.0, 0.0]];
        assert!(!adam.step_sum(&mut [0.0, 0.0], &mut bad));
    }

    #[test]
    fn decoupled_weight_decay_shrinks_without_gradient() {
        let mut adam = Adam::new(&config(0.1, 0.5), 1);
        let mut p = [2.0f32];
        adam.step(&mut p, &[0.0]);
        // Zero gradient: only the decay acts, p ← p − lr·wd·p.
        assert!((p[0] - (2.0 - 0.1 * 0.5 * 2.0)).abs() < 1e-6, "{}", p[0]);
    }

    #[test]
    fn long_buffers_split_into_chunks_give_the_same_update() {
        let n = 3 * CHUNK + 17;
        let grads: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let mut adam = Adam::new(&config(0.01, 0.0), n);
        let mut params = vec![0.5f32; n];
        adam.step(&mut params, &grads);
        for (i, (&p, &g)) in params.iter().zip(&grads).enumerate() {
            let expected = reference(&[g as f64], 0.01);
            assert!(
                (p as f64 - expected).abs() < 1e-6,
                "element {i}: {p} vs {expected}"
            );
        }
    }
}
