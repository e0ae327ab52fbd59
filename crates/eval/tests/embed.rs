//! The embedding model and the export files.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use siamese_data::{Dataset, Normalizer};
use siamese_eval::{Embedder, export_embeddings, pixel_features};
use siamese_nn::{Init, Tower, TowerSpec};
use siamese_train::FirstLayer;

fn tiny_embedder() -> Embedder {
    let tower = Tower::new(TowerSpec {
        input: 6,
        hidden: vec![5],
        embedding: 3,
        final_activation: false,
    })
    .unwrap();
    let params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    Embedder::new(tower, params, Normalizer::unit_range()).unwrap()
}

fn tiny_images() -> Dataset {
    let pixels: Vec<u8> = (0..24).map(|p| (p * 37 % 256) as u8).collect();
    Dataset::from_parts(pixels, vec![0, 1, 2, 1], vec![2, 3], 3).unwrap()
}

#[test]
fn embed_images_equals_embed_of_a_dataset_and_sparse_equals_dense() {
    let embedder = tiny_embedder();
    let data = tiny_images();
    let a = embedder.embed(&data).unwrap();
    assert_eq!(a.dim(), (4, 3));
    let b = embedder.embed_images(data.images(), 6).unwrap();
    assert_eq!(a, b);
    let dense = embedder
        .clone()
        .with_first_layer(FirstLayer::Dense)
        .embed(&data)
        .unwrap();
    let sparse = embedder
        .with_first_layer(FirstLayer::Sparse)
        .embed(&data)
        .unwrap();
    for (x, y) in dense.iter().zip(sparse.iter()) {
        assert!((x - y).abs() < 1e-5);
    }
}

#[test]
fn wrong_image_sizes_are_errors() {
    let embedder = tiny_embedder();
    let err = embedder.embed_images(&[0; 10], 5).unwrap_err();
    assert!(err.to_string().contains("expected 6, found 5"), "{err}");
    let err = embedder.embed_images(&[0; 10], 6).unwrap_err();
    assert!(err.to_string().contains("multiple of 6"), "{err}");
}

#[test]
fn tower_file_round_trip_keeps_normalizer_and_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tower.safetensors");
    let embedder = tiny_embedder();
    let norm = Normalizer::new(0.1, 0.3).unwrap();
    let mut meta = BTreeMap::new();
    meta.insert(
        siamese_train::NORMALIZER_KEY.to_owned(),
        serde_json::to_string(&norm).unwrap(),
    );
    meta.insert(
        siamese_train::IMAGE_SHAPE_KEY.to_owned(),
        "[2, 3]".to_owned(),
    );
    siamese_nn::save_tower(&path, embedder.tower(), embedder.params(), &meta).unwrap();
    let back = Embedder::from_tower_file(&path).unwrap();
    assert_eq!(back.normalizer(), &norm);
    assert_eq!(back.image_shape(), Some(&[2, 3][..]));
    assert_eq!(back.params(), embedder.params());
    // Same weights, other normalizer: another model.
    assert_ne!(back.fingerprint(), embedder.fingerprint());
    assert_eq!(tiny_embedder().fingerprint(), embedder.fingerprint());
}

#[test]
fn pixel_features_are_unit_range() {
    let data = tiny_images();
    let f = pixel_features(&data);
    assert_eq!(f.dim(), (4, 6));
    assert_eq!(f[[0, 1]], 37.0 / 255.0);
}

#[test]
fn export_writes_numpy_and_projector_files() {
    let dir = tempfile::tempdir().unwrap();
    let emb = Array2::from_shape_vec((2, 3), vec![0.5f32, -1.0, 2.25, 0.0, 1e-3, 3.0]).unwrap();
    let files = export_embeddings(dir.path(), "test", &emb, &[7, 3]).unwrap();
    let back: Array2<f32> = read_npy(&files.embeddings_npy).unwrap();
    assert_eq!(back, emb);
    let labels: Array1<u32> = read_npy(&files.labels_npy).unwrap();
    assert_eq!(labels.to_vec(), [7, 3]);
    assert_eq!(
        std::fs::read_to_string(&files.vectors_tsv).unwrap(),
        "0.5\t-1\t2.25\n0\t0.001\t3\n"
    );
    assert_eq!(
        std::fs::read_to_string(&files.metadata_tsv).unwrap(),
        "index\tlabel\n0\t7\n1\t3\n"
    );
    assert!(export_embeddings(dir.path(), "x", &emb, &[1]).is_err());
}
