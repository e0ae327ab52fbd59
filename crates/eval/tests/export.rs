//! The raw-pixel baseline and the export files.

use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use siamese_data::Dataset;
use siamese_eval::{export_embeddings, pixel_features};

fn tiny_images() -> Dataset {
    let pixels: Vec<u8> = (0..24).map(|p| (p * 37 % 256) as u8).collect();
    Dataset::from_parts(pixels, vec![0, 1, 2, 1], vec![2, 3], 3).unwrap()
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
