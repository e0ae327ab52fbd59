//! Exact search checked against brute force, across block boundaries; save and load.

use ndarray::Array2;
use siamese_eval::{EvalError, Index, Neighbors};
use siamese_io::FileError;

/// Small integer coordinates: every product and sum is exact in f32, so the GEMM route and
/// brute force agree bit for bit, ties included.
fn grid_points(rows: usize, dim: usize, seed: u64) -> Array2<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    Array2::from_shape_fn((rows, dim), |_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % 7) as f32 - 3.0
    })
}

fn brute_force(
    index: &Array2<f32>,
    queries: &Array2<f32>,
    k: usize,
    skip_self: bool,
) -> Vec<Vec<(u32, f32)>> {
    queries
        .outer_iter()
        .enumerate()
        .map(|(qi, q)| {
            let mut all: Vec<(f32, u32)> = index
                .outer_iter()
                .enumerate()
                .filter(|(j, _)| !(skip_self && *j == qi))
                .map(|(j, x)| {
                    let d2: f32 = q.iter().zip(x.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d2, j as u32)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            all.truncate(k);
            all.into_iter().map(|(d2, j)| (j, d2.sqrt())).collect()
        })
        .collect()
}

fn as_pairs(hits: &Neighbors) -> Vec<Vec<(u32, f32)>> {
    hits.rows()
        .map(|r| r.iter().map(|n| (n.index, n.distance)).collect())
        .collect()
}

#[test]
fn search_equals_brute_force_across_blocks() {
    // 2100 items: eight item blocks of 256 and a partial one; 300 queries: five blocks of
    // 64 (the least), the last partial.
    let items = grid_points(2100, 8, 1);
    let labels: Vec<u32> = (0..2100).map(|i| i % 10).collect();
    let queries = grid_points(300, 8, 2);
    let index = Index::new(items.clone(), labels.clone()).unwrap();
    for k in [1, 5, 37] {
        let hits = index.search(queries.view(), k).unwrap();
        assert_eq!((hits.len(), hits.k()), (300, k));
        assert_eq!(
            as_pairs(&hits),
            brute_force(&items, &queries, k, false),
            "k = {k}"
        );
        for row in hits.rows() {
            for n in row {
                assert_eq!(n.label, labels[n.index as usize]);
            }
        }
    }
}

#[test]
fn ties_are_broken_by_index_across_all_blocks() {
    // Coordinates in -3..=3 in 3 dimensions: 343 points, so 700 items repeat many of them
    // and most distances tie, exactly (small integers). 2600 queries make 7 blocks of 384
    // and a partial one; 700 items are two blocks of 256 and a partial one. k = 40 spans
    // more than one 16-lane group of the filter; k = 700 keeps every item.
    let items = grid_points(700, 3, 11);
    let queries = grid_points(2600, 3, 12);
    let index = Index::new(items.clone(), vec![0; 700]).unwrap();
    for k in [1, 10, 40, 700] {
        let hits = index.search(queries.view(), k).unwrap();
        assert_eq!(
            as_pairs(&hits),
            brute_force(&items, &queries, k, false),
            "k = {k}"
        );
    }
    for k in [1, 10, 699] {
        let hits = index.search_self(k).unwrap();
        assert_eq!(
            as_pairs(&hits),
            brute_force(&items, &items, k, true),
            "k = {k}"
        );
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // Fractional coordinates, so the products round: the same bits must come out whatever
    // rayon's pool, and a query searched in a smaller batch gets the same neighbours.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = |rows: usize, cols: usize| {
        Array2::from_shape_fn((rows, cols), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
    };
    let items = uniform(1500, 24);
    let queries = uniform(900, 24);
    let index = Index::new(items, (0..1500).map(|i| i % 7).collect()).unwrap();
    let in_pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| index.search(queries.view(), 10).unwrap())
    };
    let one = in_pool(1);
    for threads in [2, 3, 8] {
        assert_eq!(in_pool(threads), one, "{threads} threads");
    }
    let some = ndarray::Slice::from(100..164);
    let batch = index
        .search(queries.slice_axis(ndarray::Axis(0), some).view(), 10)
        .unwrap();
    for (q, row) in batch.rows().enumerate() {
        let full = one.row(100 + q);
        let ids = |r: &[siamese_eval::Neighbor]| r.iter().map(|n| n.index).collect::<Vec<_>>();
        assert_eq!(ids(row), ids(full), "query {}", 100 + q);
    }
}

#[test]
fn search_self_leaves_each_query_out() {
    let items = grid_points(400, 4, 3);
    let index = Index::new(items.clone(), vec![0; 400]).unwrap();
    let hits = index.search_self(9).unwrap();
    assert_eq!(as_pairs(&hits), brute_force(&items, &items, 9, true));
    assert!(
        hits.rows()
            .enumerate()
            .all(|(q, r)| r.iter().all(|n| n.index as usize != q))
    );
    // k is capped at the other items.
    assert_eq!(index.search_self(10_000).unwrap().k(), 399);
}

#[test]
fn distances_are_euclidean_and_clamped() {
    let index = Index::new(ndarray::array![[3.0f32, 4.0], [0.0, 0.0]], vec![1, 2]).unwrap();
    let hits = index
        .search(ndarray::array![[0.0f32, 0.0]].view(), 2)
        .unwrap();
    assert_eq!(hits.row(0)[0].distance, 0.0);
    assert_eq!(hits.row(0)[1].distance, 5.0);
    assert_eq!(hits.row(0)[1].label, 1);
    assert!(hits.row(1).is_empty());
}

#[test]
fn bad_arguments_are_errors() {
    let index = Index::new(grid_points(10, 3, 4), vec![0; 10]).unwrap();
    let err = index.search(grid_points(2, 4, 5).view(), 3).unwrap_err();
    assert!(
        err.to_string()
            .contains("query dimension: expected 3, found 4"),
        "{err}"
    );
    assert!(matches!(
        index.search(grid_points(2, 3, 5).view(), 0),
        Err(EvalError::Invalid { .. })
    ));
    assert!(Index::new(grid_points(3, 3, 6), vec![0; 2]).is_err());
}

#[test]
fn truncate_keeps_the_nearest() {
    let index = Index::new(grid_points(50, 3, 7), vec![0; 50]).unwrap();
    let queries = grid_points(5, 3, 8);
    let hits = index.search(queries.view(), 10).unwrap();
    let top3 = hits.truncate(3).unwrap();
    assert_eq!(top3, index.search(queries.view(), 3).unwrap());
    assert!(hits.truncate(11).is_err());
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.safetensors");
    let mut index = Index::new(grid_points(20, 5, 9), (0..20).collect()).unwrap();
    index.metadata_mut().insert("origin".into(), "test".into());
    index.save(&path).unwrap();
    let back = Index::load(&path).unwrap();
    assert_eq!(back, index);
    assert_eq!(back.metadata()["origin"], "test");
}

#[test]
fn load_rejects_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.safetensors");
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(matches!(
        Index::load(&path),
        Err(EvalError::File(FileError::Format { .. }))
    ));
    assert!(matches!(
        Index::load(&dir.path().join("missing")),
        Err(EvalError::File(FileError::Io { .. }))
    ));
    // A tower file is safetensors but not an index.
    let tower = siamese_nn::Tower::new(siamese_nn::TowerSpec {
        input: 4,
        hidden: vec![],
        embedding: 2,
        final_activation: false,
    })
    .unwrap();
    let params = vec![0.0; tower.num_params()];
    siamese_nn::save_tower(&path, &tower, &params, &Default::default()).unwrap();
    let err = Index::load(&path).unwrap_err();
    assert!(
        err.to_string().contains("not a siamese index file"),
        "{err}"
    );
}
