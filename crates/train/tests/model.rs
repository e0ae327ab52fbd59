//! The trained model: embedding, the sparse-input rule and the tower file.

use siamese_data::{Dataset, Normalizer};
use siamese_nn::{Init, Tower, TowerSpec};
use siamese_train::{FirstLayer, TrainedModel, uses_sparse_input};

fn tiny_model() -> TrainedModel {
    let tower = Tower::new(TowerSpec {
        input: 6,
        hidden: vec![5],
        embedding: 3,
        final_activation: false,
    })
    .unwrap();
    let params = tower.init_params(Init::GlorotUniform, 1).unwrap();
    TrainedModel::new(tower, params, Normalizer::unit_range()).unwrap()
}

fn tiny_images() -> Dataset {
    let pixels: Vec<u8> = (0..24).map(|p| (p * 37 % 256) as u8).collect();
    Dataset::from_parts(pixels, vec![0, 1, 2, 1], vec![2, 3], 3).unwrap()
}

#[test]
fn embed_images_equals_embed_of_a_dataset_and_sparse_equals_dense() {
    let model = tiny_model();
    let data = tiny_images();
    let a = model.embed(&data).unwrap();
    assert_eq!(a.dim(), (4, 3));
    let b = model.embed_images(data.images(), 6).unwrap();
    assert_eq!(a, b);
    let dense = model
        .clone()
        .with_first_layer(FirstLayer::Dense)
        .embed(&data)
        .unwrap();
    let sparse = model
        .with_first_layer(FirstLayer::Sparse)
        .embed(&data)
        .unwrap();
    for (x, y) in dense.iter().zip(sparse.iter()) {
        assert!((x - y).abs() < 1e-5);
    }
}

#[test]
fn wrong_image_sizes_are_errors() {
    let model = tiny_model();
    let err = model.embed_images(&[0; 10], 5).unwrap_err();
    assert!(err.to_string().contains("expected 6, found 5"), "{err}");
    let err = model.embed_images(&[0; 10], 6).unwrap_err();
    assert!(err.to_string().contains("multiple of 6"), "{err}");
}

#[test]
fn tower_file_round_trip_keeps_normalizer_and_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tower.safetensors");
    let model = tiny_model();
    let norm = Normalizer::new(0.1, 0.3).unwrap();
    let other = TrainedModel::new(model.tower().clone(), model.params(), norm.clone())
        .unwrap()
        .with_image_shape(vec![2, 3]);
    other.save(&path).unwrap();
    let back = TrainedModel::load(&path).unwrap();
    assert_eq!(back.normalizer(), &norm);
    assert_eq!(back.image_shape(), Some(&[2, 3][..]));
    assert_eq!(back.params(), model.params());
    // Same weights, other normalizer: another model.
    assert_ne!(back.fingerprint(), model.fingerprint());
    assert_eq!(tiny_model().fingerprint(), model.fingerprint());
}

#[test]
fn sparse_input_only_where_zero_stays_zero_and_most_pixels_are_dark() {
    let unit = Normalizer::unit_range();
    let shifted = Normalizer::new(0.1, 0.3).unwrap();
    assert!(uses_sparse_input(FirstLayer::Auto, &unit, 0.19));
    assert!(!uses_sparse_input(FirstLayer::Auto, &unit, 0.5));
    assert!(!uses_sparse_input(FirstLayer::Auto, &shifted, 0.19));
    assert!(uses_sparse_input(FirstLayer::Sparse, &unit, 0.9));
    assert!(!uses_sparse_input(FirstLayer::Sparse, &shifted, 0.0));
    assert!(!uses_sparse_input(FirstLayer::Dense, &unit, 0.0));
    // The model applies the same rule to the images it is given.
    let model = tiny_model();
    assert!(model.sparse_input_for(&[0, 0, 0, 9]));
    assert!(!model.sparse_input_for(&[0, 0, 9, 9]));
}
