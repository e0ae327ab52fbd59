//! How the figures and `report.md` show the run's classes and images: each class by the
//! name the trained model carries (its number when the data named none), each image in
//! its own shape and colors.

use image::{ImageBuffer, Rgb, RgbImage};
use siamese_data::Dataset;
use siamese_train::{DataSource, TrainedModel};

use crate::{ReportError, Result};

/// How grayscale images are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Inverted: IDX files (MNIST and its kin) store white ink on black, which reads
    /// better as dark ink on the white page.
    InkOnPaper,
    /// As stored: a user's own images look as they do in any image viewer.
    AsStored,
}

/// The names and pictures of one run.
#[derive(Clone, Copy)]
pub(crate) struct Look<'a> {
    /// The one source of the class names (saved with the tower at training time).
    model: &'a TrainedModel,
    tone: Tone,
}

impl<'a> Look<'a> {
    /// How a run trained on `source` with the resulting `model` is shown.
    pub(crate) fn new(model: &'a TrainedModel, source: &DataSource) -> Self {
        let tone = match source {
            DataSource::Idx => Tone::InkOnPaper,
            DataSource::Folder(_) | DataSource::Manifest(_) | DataSource::Npy { .. } => {
                Tone::AsStored
            }
        };
        Self { model, tone }
    }

    /// The name of class `label` (its number when the data named none), on one line: a
    /// manifest's label may hold a tab or a line break, which would break a table row.
    pub(crate) fn class_name(&self, label: u32) -> String {
        self.model
            .class_name(label)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// Image `i` of `data` as RGB pixels, from `[H, W]` (or `[H, W, 1]`) grayscale or
    /// `[H, W, 3]` RGB, at its own size.
    ///
    /// # Errors
    /// [`ReportError::Unsuitable`] for another shape, or an index past the data.
    pub(crate) fn image(&self, data: &Dataset, i: usize) -> Result<RgbImage> {
        let (h, w, channels) = match *data.image_shape() {
            [h, w] | [h, w, 1] => (h, w, 1),
            [h, w, 3] => (h, w, 3),
            ref shape => {
                return Err(ReportError::Unsuitable {
                    what: format!(
                        "images of shape {shape:?} cannot be shown (need height × width, \
                         with 1 or 3 channels)"
                    ),
                });
            }
        };
        let pixels = data.get_image(i).ok_or_else(|| ReportError::Unsuitable {
            what: format!("image {i} of a data set of {}", data.len()),
        })?;
        let size = |side: usize| {
            u32::try_from(side).map_err(|_| ReportError::Unsuitable {
                what: format!(
                    "images of shape {:?} are too large to show",
                    data.image_shape()
                ),
            })
        };
        let (w32, h32) = (size(w)?, size(h)?);
        let rgb = match (channels, self.tone) {
            (3, _) => pixels.to_vec(),
            (_, Tone::InkOnPaper) => pixels.iter().flat_map(|&v| [255 - v; 3]).collect(),
            (_, Tone::AsStored) => pixels.iter().flat_map(|&v| [v; 3]).collect(),
        };
        ImageBuffer::<Rgb<u8>, _>::from_raw(w32, h32, rgb).ok_or_else(|| ReportError::Unsuitable {
            what: format!(
                "image {i} has {} values, not {h} × {w} × {channels}",
                pixels.len()
            ),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use siamese_data::Normalizer;
    use siamese_nn::{Tower, TowerSpec};

    /// An untrained tower that names its classes `names`, for figures drawn without a run.
    pub(crate) fn model(names: Option<Vec<String>>) -> TrainedModel {
        let tower = Tower::new(TowerSpec {
            input: 4,
            hidden: vec![3],
            embedding: 2,
            final_activation: false,
        })
        .unwrap();
        let params = vec![0.0; tower.num_params()];
        TrainedModel::new(tower, params, Normalizer::unit_range())
            .unwrap()
            .with_class_names(names)
    }

    #[test]
    fn classes_are_named_by_the_model_else_numbered() {
        let named = model(Some(vec!["cat".into(), "dog\tday".into()]));
        let look = Look::new(&named, &DataSource::Folder("photos".into()));
        assert_eq!(look.class_name(0), "cat");
        assert_eq!(look.class_name(1), "dog day");
        assert_eq!(look.class_name(7), "7");
        let unnamed = model(None);
        assert_eq!(Look::new(&unnamed, &DataSource::Idx).class_name(3), "3");
    }

    #[test]
    fn gray_idx_images_are_inverted_and_user_images_kept() {
        let m = model(None);
        let gray =
            Dataset::from_parts(vec![0, 255, 10, 20, 30, 40], vec![0], vec![2, 3], 1).unwrap();
        let idx = Look::new(&m, &DataSource::Idx).image(&gray, 0).unwrap();
        assert_eq!(idx.dimensions(), (3, 2));
        assert_eq!(idx.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(idx.get_pixel(1, 0).0, [0, 0, 0]);
        let folder = Look::new(&m, &DataSource::Folder("f".into()));
        assert_eq!(folder.image(&gray, 0).unwrap().get_pixel(2, 1).0, [40; 3]);

        let rgb: Vec<u8> = (0..12).collect();
        let rgb = Dataset::from_parts(rgb, vec![0], vec![2, 2, 3], 1).unwrap();
        // RGB is never inverted, whatever the source.
        let shown = Look::new(&m, &DataSource::Idx).image(&rgb, 0).unwrap();
        assert_eq!(shown.dimensions(), (2, 2));
        assert_eq!(shown.get_pixel(1, 1).0, [9, 10, 11]);

        let cube = Dataset::from_parts(vec![0; 8], vec![0], vec![2, 2, 2], 1).unwrap();
        assert!(matches!(
            folder.image(&cube, 0),
            Err(ReportError::Unsuitable { .. })
        ));
        assert!(folder.image(&gray, 1).is_err());
    }
}
