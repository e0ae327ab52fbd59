//! Config errors name the file, the position or the field, and what was expected.

use std::path::Path;

use siamese_train::{Config, Overrides, TrainError};

fn config_text(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs")
            .join(name),
    )
    .unwrap()
}

fn base_text() -> String {
    config_text("base.ron")
}

fn pairs_text() -> String {
    config_text("pairs.ron")
}

#[test]
fn every_shipped_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "expected base, keras-parity and smoke in {}",
        dir.display()
    );
}

#[test]
fn tutorial_config_is_the_tutorials_experiment_and_pairs_differs_only_in_pairs_and_margin() {
    let tutorial = Config::from_ron_str(&config_text("tutorial.ron"), "tutorial.ron").unwrap();
    assert_eq!(tutorial.model.hidden, vec![512, 256]);
    assert_eq!(tutorial.model.embedding, 128);
    assert!(!tutorial.model.final_activation);
    assert_eq!(tutorial.loss.margin, 1.0);
    assert_eq!(tutorial.optimizer.lr, 1e-3);
    assert_eq!(tutorial.training.batch_size, 128);
    assert_eq!(tutorial.training.epochs, 5);
    assert_eq!(tutorial.training.pairs, siamese_train::PairRecipe::Classic);
    assert!(matches!(
        tutorial.data.validation,
        siamese_train::Validation::Holdout { .. }
    ));

    let pairs = Config::from_ron_str(&pairs_text(), "pairs.ron").unwrap();
    let mut expected = tutorial.clone();
    expected.loss.margin = 3.0;
    expected.training.pairs = siamese_train::PairRecipe::Random {
        count: 108_400,
        positive_fraction: 0.5,
        fresh_each_epoch: true,
    };
    expected.output.dir = pairs.output.dir.clone();
    assert_eq!(pairs, expected);
}

#[test]
fn unknown_field_names_file_position_and_field() {
    let text = pairs_text().replace("margin: 3.0,", "margin: 3.0,\n        margn: 2.0,");
    let err = Config::from_ron_str(&text, "configs/typo.ron").unwrap_err();
    let TrainError::ConfigSyntax { line, column, .. } = &err else {
        panic!("{err:?}")
    };
    let expected_line = text.lines().position(|l| l.contains("margn")).unwrap() + 1;
    assert_eq!(*line, expected_line, "{err}");
    assert!(*column > 1);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("configs/typo.ron:{expected_line}:")),
        "{message}"
    );
    assert!(message.contains("margn"), "{message}");
}

#[test]
fn wrong_type_names_position_and_expectation() {
    let text = pairs_text().replace("batch_size: 128,", "batch_size: \"many\",");
    let err = Config::from_ron_str(&text, "wrong.ron").unwrap_err();
    let expected_line = text.lines().position(|l| l.contains("\"many\"")).unwrap() + 1;
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("wrong.ron:{expected_line}:")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("expected"), "{message}");
}

#[test]
fn invalid_values_name_the_field_and_value() {
    let cases = [
        ("lr: 0.001,", "lr: -0.5,", "optimizer.lr", "-0.5"),
        ("margin: 3.0,", "margin: 0.0,", "loss.margin", "0.0"),
        (
            "hidden: [512, 256],",
            "hidden: [512, 0],",
            "model.hidden",
            "[512, 0]",
        ),
        ("epochs: 5,", "epochs: 0,", "training.epochs", "0"),
        (
            "batch_size: 128,",
            "batch_size: 0,",
            "training.batch_size",
            "0",
        ),
        ("embedding: 128,", "embedding: 0,", "model.embedding", "0"),
        ("beta2: 0.999,", "beta2: 1.0,", "optimizer.beta2", "1.0"),
        (
            "Holdout(count: 5000, from: Last)",
            "Holdout(count: 0, from: Last)",
            "data.validation.count",
            "0",
        ),
        (
            "seed: 42,",
            "seed: 42, checkpoint_every: Some(Steps(0)),",
            "training.checkpoint_every",
            "Steps(0)",
        ),
        (
            "seed: 42,",
            "seed: 42, checkpoint_every: Some(Seconds(-1.0)),",
            "training.checkpoint_every",
            "Seconds(-1.0)",
        ),
    ];
    for (from, to, field, value) in cases {
        let text = pairs_text().replace(from, to);
        assert_ne!(text, pairs_text(), "pattern {from} not in pairs.ron");
        let err = Config::from_ron_str(&text, "bad.ron").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("`{field}` = {value}")) && message.starts_with("bad.ron"),
            "{message}"
        );
    }
}

#[test]
fn overrides_apply_and_are_validated() {
    let mut config = Config::from_ron_str(&base_text(), "base.ron").unwrap();
    config
        .apply(&Overrides {
            epochs: Some(2),
            threads: Some(1),
            output_dir: Some("elsewhere".into()),
            ..Overrides::default()
        })
        .unwrap();
    assert_eq!((config.training.epochs, config.training.threads), (2, 1));
    assert_eq!(config.output.dir, Path::new("elsewhere"));
    let err = config
        .apply(&Overrides {
            lr: Some(0.0),
            ..Overrides::default()
        })
        .unwrap_err();
    assert_eq!(err.field, "optimizer.lr");
}

#[test]
fn missing_config_file_names_the_path() {
    let err = Config::load(Path::new("no/such/config.ron"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no/such/config.ron"), "{err}");
}

#[test]
fn in_batch_settings_that_do_not_fit_together_name_the_field() {
    let base = Config::from_ron_str(&base_text(), "base.ron").unwrap();
    let field_of = |edit: &dyn Fn(&mut Config)| {
        let mut config = base.clone();
        edit(&mut config);
        config.validate().map(|()| "").unwrap_or_else(|e| e.field)
    };
    use siamese_train::{AugmentSchedule, BatchRecipe, LrSchedule, Objective};
    let pairs_with = |objective| {
        move |c: &mut Config| {
            c.loss.objective = objective;
            c.training.batches = BatchRecipe::Pairs;
            c.training.augment = None;
        }
    };
    assert_eq!(
        field_of(&pairs_with(Objective::SupCon { temperature: 0.1 })),
        "training.batches"
    );
    assert_eq!(
        field_of(&|c| {
            c.loss.objective = Objective::Pairs;
            c.training.augment = None;
        }),
        "loss.objective"
    );
    assert_eq!(field_of(&|c| c.model.normalize = false), "model.normalize");
    assert_eq!(
        field_of(&|c| c.loss.objective = Objective::SupCon { temperature: 0.0 }),
        "loss.objective.temperature"
    );
    assert_eq!(
        field_of(&|c| c.training.batches = BatchRecipe::ClassBalanced {
            images_per_class: 7
        }),
        "training.batches.images_per_class"
    );
    assert_eq!(
        field_of(
            &|c| c.training.augment_schedule = AugmentSchedule::WhenFitting { from: 0.9, to: 0.9 }
        ),
        "training.augment_schedule"
    );
    assert_eq!(
        field_of(&|c| c.optimizer.schedule = LrSchedule::Cosine {
            warmup_epochs: 1.0,
            final_fraction: 2.0
        }),
        "optimizer.schedule.final_fraction"
    );
    assert_eq!(field_of(&|_| {}), "");
}

/// A crash input of the `ron_config` fuzz target: `configs/base.ron` with one class of 2^63
/// images filling the batch, where the check for "at least 2 classes per batch" computed
/// `2 * images_per_class` and overflowed.
#[test]
fn fuzz_regression_images_per_class_of_half_the_address_space_is_an_error() {
    let text = base_text()
        .replace("batch_size: 250", "batch_size: 9223372036854775808")
        .replace(
            "images_per_class: 25",
            "images_per_class: 9223372036854775808",
        );
    assert!(text.contains("images_per_class: 9223372036854775808"));
    let err = Config::from_ron_str(&text, "overflow.ron").unwrap_err();
    match err {
        TrainError::ConfigInvalid { invalid, .. } => {
            assert_eq!(invalid.field, "training.batches.images_per_class");
        }
        other => panic!("expected ConfigInvalid, got {other}"),
    }
}
