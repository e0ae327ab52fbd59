//! Tower files: round trip, and every way a file can be wrong is an error, not a panic.

use std::collections::BTreeMap;

use siamese_nn::{Init, Tower, TowerSpec, load_tower, save_tower};

fn tower() -> Tower {
    Tower::new(TowerSpec {
        input: 6,
        hidden: vec![5],
        embedding: 3,
        final_activation: false,
    })
    .unwrap()
}

#[test]
fn round_trip_keeps_spec_params_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tower.safetensors");
    let tower = tower();
    let params = tower.init_params(Init::HeNormal, 3).unwrap();
    let meta = BTreeMap::from([("normalizer".to_string(), "{\"scale\":0.5}".to_string())]);
    save_tower(&path, &tower, &params, &meta).unwrap();

    let saved = load_tower(&path).unwrap();
    assert_eq!(saved.tower.spec(), tower.spec());
    assert_eq!(saved.params[..], params[..]);
    assert_eq!(saved.metadata, meta);
    // Nothing but the file itself is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tower.safetensors");
    let tower = tower();
    let params = tower.init_params(Init::HeNormal, 3).unwrap();
    save_tower(&path, &tower, &params, &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let bad = dir.path().join(format!("cut{cut}.safetensors"));
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let err = load_tower(&bad).unwrap_err().to_string();
        assert!(err.contains(&format!("cut{cut}.safetensors")), "{err}");
    }

    let missing = load_tower(&dir.path().join("nope.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.safetensors"), "{missing}");

    // A safetensors file from another tool: no siamese header.
    let foreign = safetensors::serialize(
        [(
            "w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0u8; 4])
                .unwrap(),
        )],
        None,
    )
    .unwrap();
    let path = dir.path().join("foreign.safetensors");
    std::fs::write(&path, foreign).unwrap();
    let err = load_tower(&path).unwrap_err().to_string();
    assert!(err.contains("not a siamese tower file"), "{err}");
}

#[test]
fn shape_mismatch_between_spec_and_tensors_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tower.safetensors");
    let tower = tower();
    let params = tower.init_params(Init::HeNormal, 3).unwrap();
    save_tower(&path, &tower, &params, &BTreeMap::new()).unwrap();
    // Rewrite the header's spec to claim a wider hidden layer than the tensors hold.
    // The replacement has the same length, so the header's length prefix stays valid.
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = br#"\"hidden\":[5]"#;
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("spec in header");
    bytes[at + needle.len() - 2] = b'9';
    std::fs::write(&path, &bytes).unwrap();
    let err = load_tower(&path).unwrap_err().to_string();
    assert!(
        err.contains("dense_0.kernel") && err.contains("expected F32 [6, 9]"),
        "{err}"
    );
}

#[test]
fn wrong_parameter_count_is_refused_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let tower = tower();
    let err = save_tower(
        &dir.path().join("t.safetensors"),
        &tower,
        &[0.0; 3],
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs"), "{err}");
}
