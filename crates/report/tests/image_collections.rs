//! Reports of runs trained on a user's own image collection: class folders with names,
//! grayscale 28 × 28 and RGB 16 × 16, built from real MNIST test digits.
//!
//! Set `SIAMESE_REPORT_SAMPLES=<dir>` to keep the pictures (in `<dir>/named` and
//! `<dir>/rgb`) for a look.

use std::path::{Path, PathBuf};

use image::{GrayImage, Rgb, RgbImage};
use siamese_data::Mnist;
use siamese_report::{FIGURES, REPORT_MD, ReportInputs, write_report};
use siamese_train::{Config, DataSource, RunDir, RunOptions, Silent, Validation};

const NAMES: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
/// Test digits per class written to the collection: 300 in all.
const PER_CLASS: usize = 30;

/// The real MNIST directory: `SIAMESE_DATA_DIR`, or `../shared/data/mnist` beside the repo.
fn data_dir() -> PathBuf {
    siamese_data::data_dir_from_env()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"))
}

/// The first [`PER_CLASS`] MNIST test digits of each class, written by `save` into
/// `root/<name>/<n>.png`, class `c` named `names[c]`.
fn write_collection(root: &Path, names: &[String], save: impl Fn(&GrayImage, usize, &Path)) {
    let test = Mnist::load(data_dir()).expect("MNIST files").test;
    let mut written = vec![0; names.len()];
    for i in 0..test.len() {
        let class = test.label(i) as usize;
        if written[class] == PER_CLASS {
            continue;
        }
        let dir = root.join(&names[class]);
        std::fs::create_dir_all(&dir).unwrap();
        let digit = GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap();
        save(&digit, class, &dir.join(format!("{i}.png")));
        written[class] += 1;
    }
    assert!(written.iter().all(|&n| n == PER_CLASS), "{written:?}");
}

/// A tiny run (configs/smoke.ron, one epoch) on the class folders in `root`, then its report.
fn train_and_report(root: &Path, run: &Path, adjust: impl FnOnce(&mut Config)) -> String {
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.ron");
    let mut config = Config::load(&smoke).unwrap();
    config.data.source = DataSource::Folder(root.to_owned());
    // 300 images: 240 for training (40 of them for validation), 60 for testing.
    config.data.train_limit = None;
    config.data.test_limit = None;
    config.data.validation = Validation::Holdout {
        count: 40,
        from: siamese_train::HoldoutFrom::Last,
    };
    config.training.epochs = 1;
    config.output.dir = run.to_owned();
    adjust(&mut config);
    siamese_train::train(&config, &RunOptions::default(), &mut Silent).unwrap();

    let inputs = ReportInputs::load(RunDir::new(run), None).unwrap();
    let written = write_report(&inputs).unwrap();
    assert_eq!(written.len(), FIGURES.len() + 1);
    for figure in FIGURES {
        let path = run.join(figure.file);
        let picture = image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        assert_eq!(picture.dimensions(), figure.size, "{}", figure.file);
        let pixels = picture.pixels().count();
        let inked = picture.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(
            inked * 100 > pixels && inked * 2 < pixels,
            "{}: {inked} of {pixels} pixels not white",
            figure.file
        );
    }
    std::fs::read_to_string(run.join(REPORT_MD)).unwrap()
}

/// Copies the pictures and report of `run` to `$SIAMESE_REPORT_SAMPLES/<name>`, if set.
fn keep_samples(run: &Path, name: &str) {
    let Some(samples) = std::env::var_os("SIAMESE_REPORT_SAMPLES") else {
        return;
    };
    let to = Path::new(&samples).join(name);
    std::fs::create_dir_all(&to).unwrap();
    for file in FIGURES.iter().map(|f| f.file).chain([REPORT_MD]) {
        std::fs::copy(run.join(file), to.join(file)).unwrap();
    }
}

#[test]
fn report_of_named_classes_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("digits");
    let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    write_collection(&root, &names, |digit, _, path| digit.save(path).unwrap());
    let run = tmp.path().join("run");
    let report = train_and_report(&root, &run, |_| {});
    keep_samples(&run, "named");

    // Folder classes are numbered in the sorted order of their names.
    let model = RunDir::new(&run).read_model().unwrap();
    let mut sorted = NAMES.to_vec();
    sorted.sort_unstable();
    assert_eq!(model.class_names().unwrap(), sorted);
    for name in NAMES {
        assert!(
            report.contains(&format!("\n| {name} | ")),
            "no row for {name} in\n{report}"
        );
    }
    assert!(
        report.contains("| Images | 28 × 28, grayscale |"),
        "{report}"
    );
}

#[test]
fn report_of_rgb_images_with_long_names_draws() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tinted");
    // Long folder names, to be shortened; each class's digits in a color of its own.
    let names: Vec<String> = NAMES
        .iter()
        .map(|n| format!("{n}: handwritten, scanned and tinted by class"))
        .collect();
    write_collection(&root, &names, |digit, class, path| {
        let tint = [(class * 25) as u8, 255 - (class * 20) as u8, 120];
        let rgb = RgbImage::from_fn(28, 28, |x, y| {
            let v = u16::from(digit.get_pixel(x, y).0[0]);
            Rgb(tint.map(|t| (v * u16::from(t) / 255) as u8))
        });
        rgb.save(path).unwrap();
    });
    let run = tmp.path().join("run");
    let report = train_and_report(&root, &run, |config| {
        config.data.channels = Some(3);
        config.data.image_size = Some((16, 16));
    });
    keep_samples(&run, "rgb");

    assert!(report.contains("| Images | 16 × 16, RGB |"), "{report}");
    // Table cells keep 40 characters of a name; these are 45 to 47 long.
    assert!(
        report.contains("| seven: handwritten, scanned and tinted b… | "),
        "{report}"
    );
}
