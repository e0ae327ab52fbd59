//! The element loops of the layers, compiled for AVX-512 and AVX2 besides the portable
//! baseline and picked at run time, so one portable binary still uses the machine's vectors.
//!
//! The sparse kernels keep a block of 64 outputs in registers while they walk the non-zeros,
//! and take the blocks in the outer loop: the weights (or gradients) of one block are a
//! 200 KB column strip that stays in L2 while every row of the batch goes through it,
//! where whole weight rows (1.6 MB for the first layer) would stream from L3.

use multiversion::multiversion;

use crate::Floats;

/// Output values kept in registers at once: 4 AVX-512 or 8 AVX2 registers.
pub(crate) const BLOCK: usize = 64;

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

/// Index rows per tile of the dense operand: a 128-row × 64-column tile is 32 KB, one
/// Zen 4 L1, so it stays in L1 or nearby L2 while every line of the sparse operand goes
/// through it. On MNIST's first layer (forward and weight gradient, aligned buffers) 128
/// rows ran 8–11% faster than 64, and 32 or 256 slower (`benches/README.md`).
pub(crate) const TILE_ROWS: usize = 128;

/// Where each line's entries cross tile boundaries: `bounds[l * (tiles + 1) + t]` is the
/// first entry of line `l` whose index is ≥ `t · TILE_ROWS`. Needs indices sorted within
/// each line (CSR rows and CSC columns built here are).
pub(crate) fn tile_bounds(x: Compressed<'_>, tiles: usize, bounds: &mut Vec<u32>) {
    bounds.clear();
    for l in 0..x.lines() {
        let (start, end) = (x.starts[l], x.starts[l + 1]);
        let mut at = start;
        for t in 0..tiles {
            let limit = (t * TILE_ROWS) as u32;
            while at < end && x.index[at as usize] < limit {
                at += 1;
            }
            bounds.push(at);
        }
        bounds.push(end);
    }
}

/// The dense operand of [`sparse_times_dense_tiled`]: row `j` of column block `b` starts
/// at `j * row_stride + b * block_stride`.
#[derive(Clone, Copy)]
pub(crate) struct Strips<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) row_stride: usize,
    pub(crate) block_stride: usize,
}

/// `out[l, :] += Σ_{(j, v) ∈ line l} v · m[j, :]` for every line `l` of `x`, over `blocks`
/// column blocks of 64; `out` rows are `out_stride` apart. Column blocks outermost, then
/// tiles of [`TILE_ROWS`] rows of `m`, then lines: each tile of `m` is read from L1 by every
/// line, and a line's 64 outputs stay in registers across its entries in the tile.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(crate) fn sparse_times_dense_tiled<'a>(
    x: Compressed<'a>,
    bounds: &[u32],
    m: Strips<'a>,
    out: &mut [f32],
    out_stride: usize,
    blocks: usize,
) {
    let lines = x.lines();
    let tiles = bounds.len() / lines.max(1) - 1;
    for b in 0..blocks {
        for t in 0..tiles {
            for l in 0..lines {
                let from = bounds[l * (tiles + 1) + t] as usize;
                let to = bounds[l * (tiles + 1) + t + 1] as usize;
                if from == to {
                    continue;
                }
                let at = l * out_stride + b * BLOCK;
                let out_block: &mut [f32; BLOCK] =
                    (&mut out[at..at + BLOCK]).try_into().expect("block length"); // ok: sliced to BLOCK
                let mut acc = *out_block;
                for (&j, &v) in x.index[from..to].iter().zip(&x.values[from..to]) {
                    let at = j as usize * m.row_stride + b * m.block_stride;
                    let m_block: &[f32; BLOCK] =
                        m.data[at..at + BLOCK].try_into().expect("block length"); // ok: sliced to BLOCK
                    for (a, &w) in acc.iter_mut().zip(m_block) {
                        *a += v * w;
                    }
                }
                *out_block = acc;
            }
        }
    }
}

/// Copies `m` (row-major `[rows, blocks · 64]`) into block-major order `[blocks][rows][64]`,
/// so that each 64-column strip is contiguous: rows 2 KB apart would otherwise crowd a
/// strip into a few cache sets.
pub(crate) fn pack_strips(m: &[f32], rows: usize, blocks: usize, packed: &mut Floats) {
    let width = blocks * BLOCK;
    packed.clear();
    for b in 0..blocks {
        for r in 0..rows {
            packed.extend_from_slice(&m[r * width + b * BLOCK..r * width + (b + 1) * BLOCK]);
        }
    }
}

/// Whether the tiled kernels serve a layer of this width.
pub(crate) fn tiled_width(width: usize) -> bool {
    width > 0 && width.is_multiple_of(BLOCK)
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
    fn tiled_kernel_matches_the_plain_one() {
        let (rows, inputs, out) = (5, 150, 2 * BLOCK);
        let w: Vec<f32> = (0..inputs * out)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 4.0)
            .collect();
        // Rows with entries spread over several tiles, one empty row.
        let mut starts = vec![0u32];
        let (mut index, mut values) = (Vec::new(), Vec::new());
        for r in 0..rows {
            for j in (r..inputs).step_by(7 + r) {
                if r != 3 {
                    index.push(j as u32);
                    values.push((j % 5) as f32 - 2.0);
                }
            }
            starts.push(index.len() as u32);
        }
        let x = Compressed {
            starts: &starts,
            index: &index,
            values: &values,
        };
        let bias = vec![0.5; out];
        let mut plain = vec![0.0; rows * out];
        sparse_times_matrix(x, &w, out, &bias, &mut plain);

        let mut bounds = Vec::new();
        tile_bounds(x, inputs.div_ceil(TILE_ROWS), &mut bounds);
        let mut tiled: Vec<f32> = (0..rows).flat_map(|_| bias.clone()).collect();
        let strips = Strips {
            data: &w,
            row_stride: out,
            block_stride: BLOCK,
        };
        sparse_times_dense_tiled(x, &bounds, strips, &mut tiled, out, out / BLOCK);
        for (i, (a, b)) in plain.iter().zip(&tiled).enumerate() {
            assert!((a - b).abs() < 1e-4, "element {i}: {a} vs {b}");
        }

        // The same through block-major packing.
        let mut packed = crate::zeroed_floats(0);
        pack_strips(&w, inputs, out / BLOCK, &mut packed);
        let mut from_packed: Vec<f32> = (0..rows).flat_map(|_| bias.clone()).collect();
        let strips = Strips {
            data: &packed,
            row_stride: BLOCK,
            block_stride: inputs * BLOCK,
        };
        sparse_times_dense_tiled(x, &bounds, strips, &mut from_packed, out, out / BLOCK);
        assert_eq!(tiled, from_packed);
    }

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
