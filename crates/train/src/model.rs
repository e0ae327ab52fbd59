//! The trained model: a tower, its parameters and everything needed to feed it images the
//! way training did (normalizer, image shape, dense or sparse first layer).

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;
use siamese_data::sources::read_images;
use siamese_data::{Channels, Dataset, Normalizer};
use siamese_io::FileError;
use siamese_nn::{CsrBatch, Floats, Input, Tower, floats_from};

use crate::batch::{gather_sparse, view};
use crate::config::FirstLayer;
use crate::{Result, TrainError};

/// Metadata key under which a tower file stores its input normalizer (JSON).
const NORMALIZER_KEY: &str = "siamese.normalizer";
/// Metadata key under which a tower file stores the image shape (JSON).
const IMAGE_SHAPE_KEY: &str = "siamese.image_shape";
/// Metadata key under which a tower file says its embeddings are scaled to unit length.
const NORMALIZE_KEY: &str = "siamese.normalize_embeddings";
/// Header key of the class names (a JSON list, by label), when the data named its classes.
const CLASS_NAMES_KEY: &str = "siamese.class_names";

/// Images per parallel chunk when embedding. Fixed, so results do not depend on threads.
const EMBED_CHUNK: usize = 256;

/// Whether the first layer should walk only the non-zero pixels of images whose share of
/// non-zero pixels is `pixel_density`: the one rule, used by training and by every later
/// embedding. Sparse input needs zero pixels to stay zero after normalization.
pub fn uses_sparse_input(choice: FirstLayer, normalizer: &Normalizer, pixel_density: f64) -> bool {
    match choice {
        FirstLayer::Dense => false,
        FirstLayer::Sparse => normalizer.maps_zero_to_zero(),
        // Above about 40% of the pixels lit, the dense product's better blocking wins: on
        // Fashion-MNIST (49.8% lit) dense epochs took 0.70× (pairs) and 0.88× (SupCon
        // batches) the time of sparse ones; MNIST (19%) is far on the sparse side.
        FirstLayer::Auto => normalizer.maps_zero_to_zero() && pixel_density < SPARSE_INPUT_DENSITY,
    }
}

/// Below this share of non-zero training pixels, `FirstLayer::Auto` walks only the non-zero
/// pixels.
pub const SPARSE_INPUT_DENSITY: f64 = 0.4;

/// The share of non-zero values in `pixels` (0 for none).
pub fn pixel_density(pixels: &[u8]) -> f64 {
    let lit = pixels.par_iter().filter(|&&p| p != 0).count();
    lit as f64 / pixels.len().max(1) as f64
}

/// A trained tower with the input normalization it was trained with: images in,
/// embeddings out. Training writes it to `tower.safetensors`
/// ([`crate::RunDir::write_model`]); evaluation, search and reports read it back
/// ([`crate::RunDir::read_model`]).
///
/// ```no_run
/// use siamese_train::RunDir;
/// let model = RunDir::new("runs/base").read_model()?;
/// let blank = vec![0u8; 2 * 784]; // two all-black 28×28 images
/// let emb = model.embed_images(&blank, 784)?;
/// assert_eq!(emb.dim(), (2, model.dim()));
/// # Ok::<(), siamese_train::TrainError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TrainedModel {
    tower: Tower,
    /// Cache-line aligned for the layers' kernels (see [`Floats`]).
    params: Floats,
    normalizer: Normalizer,
    image_shape: Option<Vec<usize>>,
    first_layer: FirstLayer,
    normalize: bool,
    class_names: Option<Vec<String>>,
}

impl TrainedModel {
    /// A tower, its parameters (copied into a cache-line aligned buffer, see [`Floats`]) and
    /// the normalizer its inputs need; the first layer is chosen by [`uses_sparse_input`]
    /// with [`FirstLayer::Auto`].
    ///
    /// # Errors
    /// [`TrainError::Mismatch`] when `params` does not fit the tower.
    pub fn new(tower: Tower, params: impl AsRef<[f32]>, normalizer: Normalizer) -> Result<Self> {
        let params = params.as_ref();
        if params.len() != tower.num_params() {
            return Err(TrainError::mismatch(
                "parameter count",
                tower.num_params(),
                params.len(),
            ));
        }
        Ok(Self {
            tower,
            params: floats_from(params),
            normalizer,
            image_shape: None,
            first_layer: FirstLayer::Auto,
            normalize: false,
            class_names: None,
        })
    }

    /// Records the name of each class (by label), saved with the tower so that whatever
    /// reads the tower can name what it finds.
    pub fn with_class_names(mut self, names: Option<Vec<String>>) -> Self {
        self.class_names = names;
        self
    }

    /// The class names stored with the tower, by label, if the data named its classes.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The name of class `label`: its stored name, else the number.
    pub fn class_name(&self, label: u32) -> String {
        self.class_names
            .as_ref()
            .and_then(|names| names.get(label as usize))
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    /// Scales every embedding to unit length (L2) after the tower, as training did when
    /// the config says `model.normalize: true`; saved with the tower.
    pub fn with_normalized_embeddings(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }

    /// Whether embeddings are scaled to unit length.
    pub fn normalizes_embeddings(&self) -> bool {
        self.normalize
    }

    /// Records the shape of the images (e.g. `[28, 28]`), saved with the tower.
    pub fn with_image_shape(mut self, shape: Vec<usize>) -> Self {
        self.image_shape = Some(shape);
        self
    }

    /// Chooses the first layer's arithmetic (see [`uses_sparse_input`]). Results agree to
    /// rounding either way.
    pub fn with_first_layer(mut self, first_layer: FirstLayer) -> Self {
        self.first_layer = first_layer;
        self
    }

    /// Reads a tower file written by [`TrainedModel::save`]: the tower, and the normalizer,
    /// image shape and class names stored in its header (a file without a normalizer gets `p / 255`,
    /// what training uses by default).
    ///
    /// # Errors
    /// A missing or malformed file.
    pub fn load(path: &Path) -> Result<Self> {
        let saved = siamese_nn::load_tower(path)?;
        let format = |message: String| TrainError::from(FileError::format(path, message));
        let normalizer = match saved.metadata.get(NORMALIZER_KEY) {
            Some(json) => serde_json::from_str(json)
                .map_err(|e| format(format!("normalizer `{NORMALIZER_KEY}`: {e}")))?,
            None => Normalizer::unit_range(),
        };
        let image_shape = match saved.metadata.get(IMAGE_SHAPE_KEY) {
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|e| format(format!("image shape `{IMAGE_SHAPE_KEY}`: {e}")))?,
            ),
            None => None,
        };
        let normalize = match saved.metadata.get(NORMALIZE_KEY).map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format(format!(
                    "`{NORMALIZE_KEY}`: expected true or false, found {other:?}"
                )));
            }
        };
        let class_names = match saved.metadata.get(CLASS_NAMES_KEY) {
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|e| format(format!("class names `{CLASS_NAMES_KEY}`: {e}")))?,
            ),
            None => None,
        };
        let mut model = Self::new(saved.tower, saved.params, normalizer)?;
        model.image_shape = image_shape;
        model.normalize = normalize;
        model.class_names = class_names;
        Ok(model)
    }

    /// Writes the tower as safetensors ([`siamese_nn::save_tower`]) with the normalizer and
    /// image shape in its header, atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut metadata =
            BTreeMap::from([(NORMALIZER_KEY.to_owned(), to_json(&self.normalizer)?)]);
        if let Some(shape) = &self.image_shape {
            metadata.insert(IMAGE_SHAPE_KEY.to_owned(), to_json(shape)?);
        }
        // Only written when set, so towers of the pair recipe keep their old header.
        if self.normalize {
            metadata.insert(NORMALIZE_KEY.to_owned(), "true".to_owned());
        }
        if let Some(names) = &self.class_names {
            metadata.insert(CLASS_NAMES_KEY.to_owned(), to_json(names)?);
        }
        siamese_nn::save_tower(path, &self.tower, &self.params, &metadata)?;
        Ok(())
    }

    /// Length of an embedding.
    pub fn dim(&self) -> usize {
        self.tower.spec().embedding
    }

    /// Pixels per image the tower takes.
    pub fn image_len(&self) -> usize {
        self.tower.spec().input
    }

    /// The image shape stored with the tower, if any (e.g. `[28, 28]`).
    pub fn image_shape(&self) -> Option<&[usize]> {
        self.image_shape.as_deref()
    }

    /// How an image file must be converted for this tower, from the stored image shape:
    /// gray for `[H, W]` (or `[H, W, 1]`), RGB for `[H, W, 3]`, resized to `[H, W]`.
    ///
    /// # Errors
    /// [`TrainError::Mismatch`] for a tower that stores no image shape, or one no image
    /// file converts to.
    pub fn input_format(&self) -> Result<(Channels, [usize; 2])> {
        match self.image_shape() {
            Some(&[h, w]) | Some(&[h, w, 1]) => Ok((Channels::Gray, [h, w])),
            Some(&[h, w, 3]) => Ok((Channels::Rgb, [h, w])),
            other => Err(TrainError::mismatch(
                "the tower's image shape",
                "[H, W] or [H, W, 3] to convert image files to",
                other.map_or_else(|| "none recorded".to_owned(), |s| format!("{s:?}")),
            )),
        }
    }

    /// Reads image files as this tower's input, converted exactly as training converted its
    /// images ([`siamese_data::sources::read_images`] to [`TrainedModel::input_format`]):
    /// any size, gray or colour, becomes the tower's shape. The dataset's labels are all 0.
    ///
    /// # Errors
    /// [`TrainError::Data`] naming the first file (in the order given) that cannot be
    /// read or decoded; the errors of [`TrainedModel::input_format`].
    pub fn read_images<P: AsRef<Path> + Sync>(&self, paths: &[P]) -> Result<Dataset> {
        let (channels, size) = self.input_format()?;
        let pixels = read_images(paths, channels, size)?;
        let shape = match channels {
            Channels::Gray => size.to_vec(),
            Channels::Rgb => vec![size[0], size[1], 3],
        };
        Ok(Dataset::from_parts(pixels, vec![0; paths.len()], shape, 1)?)
    }

    /// The input normalization.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// The first-layer choice.
    pub fn first_layer(&self) -> FirstLayer {
        self.first_layer
    }

    /// The tower.
    pub fn tower(&self) -> &Tower {
        &self.tower
    }

    /// The tower's flat parameter buffer.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The parameters, for the optimizer while training.
    pub(crate) fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// A short hex digest of the tower spec, parameters and normalizer (64-bit FNV-1a):
    /// tells whether a saved index was built with this model. Not cryptographic.
    pub fn fingerprint(&self) -> String {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
            }
        };
        feed(format!("{:?}", self.tower.spec()).as_bytes());
        if self.normalize {
            feed(b"normalize");
        }
        feed(
            &self
                .normalizer
                .lut()
                .map(f32::to_bits)
                .map(u32::to_le_bytes)
                .concat(),
        );
        for p in self.params.iter() {
            feed(&p.to_bits().to_le_bytes());
        }
        format!("{hash:016x}")
    }

    /// Whether images like `pixels` go through the sparse first layer.
    pub fn sparse_input_for(&self, pixels: &[u8]) -> bool {
        let density = match self.first_layer {
            FirstLayer::Auto => pixel_density(pixels),
            FirstLayer::Dense | FirstLayer::Sparse => 0.0,
        };
        uses_sparse_input(self.first_layer, &self.normalizer, density)
    }

    /// Embeds every image of `data`, one row each, in order: batched and parallel (rayon)
    /// over fixed chunks, so the numbers do not depend on the thread count.
    ///
    /// # Errors
    /// [`TrainError::Mismatch`] when the images do not have the tower's pixel count.
    pub fn embed(&self, data: &Dataset) -> Result<Array2<f32>> {
        self.embed_with(data, self.sparse_input_for(data.images()))
    }

    /// Embeds images given as raw `u8` pixels, `image_len` per image, back to back.
    ///
    /// # Errors
    /// [`TrainError::Mismatch`] when `image_len` is not the tower's or the buffer is not a
    /// whole number of images.
    pub fn embed_images(&self, pixels: &[u8], image_len: usize) -> Result<Array2<f32>> {
        if image_len != self.image_len() {
            return Err(TrainError::mismatch(
                "pixels per image",
                self.image_len(),
                image_len,
            ));
        }
        if !pixels.len().is_multiple_of(image_len) {
            return Err(TrainError::mismatch(
                "pixel buffer length",
                format!("a multiple of {image_len}"),
                pixels.len(),
            ));
        }
        let count = pixels.len() / image_len;
        // The dataset's labels are never read; one class keeps it valid.
        let data = Dataset::from_parts(pixels.to_vec(), vec![0; count], vec![image_len], 1)?;
        self.embed(&data)
    }

    /// [`TrainedModel::embed`] with the first layer's arithmetic given: training decides it
    /// once from its training images and keeps it for every embedding of the run.
    pub(crate) fn embed_with(&self, data: &Dataset, sparse: bool) -> Result<Array2<f32>> {
        let (tower, params, normalizer) = (&self.tower, &self.params[..], &self.normalizer);
        let dim = tower.spec().embedding;
        let image_len = data.image_len();
        if image_len != tower.spec().input {
            return Err(TrainError::mismatch(
                "pixels per image",
                tower.spec().input,
                image_len,
            ));
        }
        let mut out = Array2::<f32>::zeros((data.len(), dim));
        let Some(out_slice) = out.as_slice_mut() else {
            return Err(TrainError::Internal("fresh array not contiguous".into()));
        };
        out_slice
            .par_chunks_mut(EMBED_CHUNK * dim)
            .enumerate()
            .try_for_each_init(
                || {
                    (
                        tower.workspace(EMBED_CHUNK),
                        vec![0.0f32; EMBED_CHUNK * image_len],
                        CsrBatch::with_capacity(
                            image_len,
                            EMBED_CHUNK,
                            EMBED_CHUNK * image_len / 4,
                        ),
                        vec![0.0f32; EMBED_CHUNK],
                    )
                },
                |(ws, dense, csr, norms), (chunk, out_rows)| -> Result<()> {
                    let start = chunk * EMBED_CHUNK;
                    let rows = out_rows.len() / dim;
                    let indices = start..start + rows;
                    let input = if sparse {
                        gather_sparse(normalizer, data, indices, csr);
                        Input::Sparse(csr)
                    } else {
                        let dense = &mut dense[..rows * image_len];
                        normalizer.gather(data, indices, dense)?;
                        Input::Dense(view(dense, rows, image_len)?)
                    };
                    let emb = tower.forward(params, input, ws)?;
                    for (dst, src) in out_rows.iter_mut().zip(emb.iter()) {
                        *dst = *src;
                    }
                    if self.normalize {
                        normalize_rows(out_rows, dim, norms)?;
                    }
                    Ok(())
                },
            )?;
        Ok(out)
    }
}

/// Scales each row of `rows` (`dim` wide) to unit length in place, exactly as the training
/// step does, so a model's distances after training equal those it was trained on.
pub(crate) fn normalize_rows(rows: &mut [f32], dim: usize, norms: &mut [f32]) -> Result<()> {
    let n = rows.len() / dim.max(1);
    let input = rows.to_vec();
    siamese_loss::l2_normalize(&input, dim, rows, &mut norms[..n])?;
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| TrainError::Internal(e.to_string()))
}
