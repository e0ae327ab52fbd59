//! The element loops of the layers, compiled for AVX-512 and AVX2 besides the portable
//! baseline and picked at run time, so one portable binary still uses the machine's vectors.
//!
//! The sparse kernels keep a block of 64 outputs in registers while they walk the non-zeros,
//! and take the blocks in the outer loop: the weights (or gradients) of one block are a
//! 200 KB column strip that stays in L2 while every row of the batch goes through it,
//! where whole weight rows (1.6 MB for the first layer) would stream from L3.

use multiversion::multiversion;

/// Output values kept in registers at once: 4 AVX-512 or 8 AVX2 registers.
const BLOCK: usize = 64;

/// A sparse matrix in compressed form: `starts[i]..starts[i + 1]` index the entries of line
/// `i` (a row for CSR, a column for CSC) in `index` (the other coordinate) and `values`.
#[derive(Clone, Copy)]
pub(crate) struct Compressed<'a> {
    pub(crate) starts: &'a [u32],
    pub(crate) index: &'a [u32],
    pub(crate) values: &'a [f32],
}

impl Compressed<'_> {
    fn lines(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    #[inline(always)]
    fn line(&self, i: usize) -> (&[u32], &[f32]) {
        let range = self.starts[i] as usize..self.starts[i + 1] as usize;
        (&self.index[range.clone()], &self.values[range])
    }
}

/// `y[i, :] = bias + Σ_k v_ik · W[c_ik, :]` for every row `i` of a CSR batch; `w` is
/// row-major with rows `w_stride` apart, `y` row-major `[rows, out]` with `out = bias.len()`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn sparse_times_matrix<'a>(
    x: Compressed<'a>,
    w: &[f32],
    w_stride: usize,
    bias: &[f32],
    y: &mut [f32],
) {
    let out = bias.len();
    let blocks = out / BLOCK * BLOCK;
    for start in (0..blocks).step_by(BLOCK) {
        let bias_block: &[f32; BLOCK] =
            bias[start..start + BLOCK].try_into().expect("block length"); // ok: sliced to BLOCK
        for (i, y_row) in y.chunks_exact_mut(out).enumerate().take(x.lines()) {
            let mut acc = *bias_block;
            let (cols, vals) = x.line(i);
            for (&c, &v) in cols.iter().zip(vals) {
                let at = c as usize * w_stride + start;
                let w_block: &[f32; BLOCK] = w[at..at + BLOCK].try_into().expect("block length"); // ok: sliced to BLOCK
                for (a, &wv) in acc.iter_mut().zip(w_block) {
                    *a += v * wv;
                }
            }
            y_row[start..start + BLOCK].copy_from_slice(&acc);
        }
    }
    if blocks < out {
        for (i, y_row) in y.chunks_exact_mut(out).enumerate().take(x.lines()) {
            let tail = &mut y_row[blocks..];
            tail.copy_from_slice(&bias[blocks..]);
            let (cols, vals) = x.line(i);
            for (&c, &v) in cols.iter().zip(vals) {
                let at = c as usize * w_stride;
                for (a, &wv) in tail.iter_mut().zip(&w[at + blocks..at + out]) {
                    *a += v * wv;
                }
            }
        }
    }
}

/// `g[c, :] += Σ_i v_ic · dz[r_ic, :]` for every column `c` of a CSC batch: the weight
/// gradient `xᵀ·dz` of a layer with sparse input. `dz` is row-major `[rows, out]`, `g`
/// row-major with rows `g_stride` apart.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn sparse_transpose_times_matrix<'a>(
    x: Compressed<'a>,
    dz: &[f32],
    g: &mut [f32],
    g_stride: usize,
    out: usize,
) {
    let blocks = out / BLOCK * BLOCK;
    for start in (0..blocks).step_by(BLOCK) {
        for (c, g_row) in g.chunks_mut(g_stride).enumerate().take(x.lines()) {
            let (rows, vals) = x.line(c);
            if rows.is_empty() {
                continue;
            }
            let g_block: &mut [f32; BLOCK] = (&mut g_row[start..start + BLOCK])
                .try_into()
                .expect("block length"); // ok: sliced to BLOCK
            let mut acc = *g_block;
            for (&r, &v) in rows.iter().zip(vals) {
                let at = r as usize * out + start;
                let dz_block: &[f32; BLOCK] = dz[at..at + BLOCK].try_into().expect("block length"); // ok: sliced to BLOCK
                for (a, &d) in acc.iter_mut().zip(dz_block) {
                    *a += v * d;
                }
            }
            *g_block = acc;
        }
    }
    if blocks < out {
        for (c, g_row) in g.chunks_mut(g_stride).enumerate().take(x.lines()) {
            let (rows, vals) = x.line(c);
            for (&r, &v) in rows.iter().zip(vals) {
                let at = r as usize * out;
                for (a, &d) in g_row[blocks..].iter_mut().zip(&dz[at + blocks..at + out]) {
                    *a += v * d;
                }
            }
        }
    }
}

/// `y ← y + bias` per row, then ReLU when asked; `y` is row-major `[_, bias.len()]`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn add_bias_activate(y: &mut [f32], bias: &[f32], relu: bool) {
    for row in y.chunks_exact_mut(bias.len()) {
        if relu {
            for (v, &b) in row.iter_mut().zip(bias) {
                let z = *v + b;
                *v = if z > 0.0 { z } else { 0.0 };
            }
        } else {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
    }
}

/// ReLU in place.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn relu(y: &mut [f32]) {
    for v in y {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// Zeroes `dy` where the ReLU output `y` was clamped (derivative at 0 taken as 0).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn relu_mask(y: &[f32], dy: &mut [f32]) {
    for (d, &out) in dy.iter_mut().zip(y) {
        *d = if out > 0.0 { *d } else { 0.0 };
    }
}

/// `sums += Σ_rows dz[row, :]`; `dz` is row-major `[_, sums.len()]`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn accumulate_column_sums(dz: &[f32], sums: &mut [f32]) {
    for row in dz.chunks_exact(sums.len()) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_kernels_match_the_plain_loops_with_and_without_a_tail() {
        for out in [BLOCK * 2, BLOCK + 5, 7] {
            let inputs = 9;
            let w: Vec<f32> = (0..inputs * out)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 4.0)
                .collect();
            let bias: Vec<f32> = (0..out).map(|i| i as f32 / 10.0).collect();
            // Two rows: {1: 0.5, 4: -2, 8: 3} and {} .
            let x = Compressed {
                starts: &[0, 3, 3],
                index: &[1, 4, 8],
                values: &[0.5, -2.0, 3.0],
            };
            let mut y = vec![0.0; 2 * out];
            sparse_times_matrix(x, &w, out, &bias, &mut y);
            for j in 0..out {
                let expected =
                    bias[j] + 0.5 * w[out + j] - 2.0 * w[4 * out + j] + 3.0 * w[8 * out + j];
                assert!((y[j] - expected).abs() < 1e-5, "out {out}, column {j}");
                assert_eq!(y[out + j], bias[j]);
            }

            // Columns of a 3-row batch: column 0 = {row 0: 2, row 2: -1}, column 1 empty.
            let xt = Compressed {
                starts: &[0, 2, 2],
                index: &[0, 2],
                values: &[2.0, -1.0],
            };
            let mut g = vec![1.0; 2 * out];
            sparse_transpose_times_matrix(xt, &w[..3 * out], &mut g, out, out);
            for j in 0..out {
                let expected = 1.0 + 2.0 * w[j] - w[2 * out + j];
                assert!((g[j] - expected).abs() < 1e-5, "out {out}, column {j}");
                assert_eq!(g[out + j], 1.0);
            }
        }
    }
}
