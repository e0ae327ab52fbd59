//! The trained tower alone, as an embedding model.

use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;
use siamese_data::{Dataset, Normalizer};
use siamese_nn::Tower;
use siamese_train::{Config, FirstLayer, IMAGE_SHAPE_KEY, NORMALIZER_KEY, files};

use crate::error::{EvalError, Result, mismatch};

/// Images per parallel chunk of [`pixel_features`]; fixed, so the work split does not
/// depend on the thread count.
const PIXEL_CHUNK: usize = 1024;

/// A trained tower with the input normalization it was trained with: images in,
/// embeddings out.
///
/// ```no_run
/// use siamese_eval::Embedder;
/// let embedder = Embedder::from_run_dir("runs/base".as_ref())?;
/// let blank = vec![0u8; 2 * 784]; // two all-black 28×28 images
/// let emb = embedder.embed_images(&blank, 784)?;
/// assert_eq!(emb.dim(), (2, embedder.dim()));
/// # Ok::<(), siamese_eval::EvalError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Embedder {
    tower: Tower,
    params: Vec<f32>,
    normalizer: Normalizer,
    image_shape: Option<Vec<usize>>,
    first_layer: FirstLayer,
}

impl Embedder {
    /// A tower, its parameters and the normalizer its inputs need.
    pub fn new(tower: Tower, params: Vec<f32>, normalizer: Normalizer) -> Result<Self> {
        if params.len() != tower.num_params() {
            return Err(mismatch(
                "parameter count",
                tower.num_params(),
                params.len(),
            ));
        }
        Ok(Self {
            tower,
            params,
            normalizer,
            image_shape: None,
            first_layer: FirstLayer::Auto,
        })
    }

    /// Reads a `tower.safetensors` file written by training: the tower, and the normalizer
    /// and image shape stored in its header (a file without a normalizer gets `p / 255`,
    /// what training uses by default).
    pub fn from_tower_file(path: &Path) -> Result<Self> {
        let saved = siamese_nn::load_tower(path)?;
        let format = |message: String| EvalError::Format {
            path: path.to_owned(),
            message,
        };
        let normalizer = match saved.metadata.get(NORMALIZER_KEY) {
            Some(json) => serde_json::from_str(json)
                .map_err(|e| format(format!("normalizer `{NORMALIZER_KEY}`: {e}")))?,
            None => Normalizer::unit_range(),
        };
        let image_shape: Option<Vec<usize>> = match saved.metadata.get(IMAGE_SHAPE_KEY) {
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|e| format(format!("image shape `{IMAGE_SHAPE_KEY}`: {e}")))?,
            ),
            None => None,
        };
        let mut embedder = Self::new(saved.tower, saved.params, normalizer)?;
        embedder.image_shape = image_shape;
        Ok(embedder)
    }

    /// Reads the tower of a run directory (`tower.safetensors`), with the first-layer
    /// choice of the run's `config.ron` when there is one.
    pub fn from_run_dir(dir: &Path) -> Result<Self> {
        let mut embedder = Self::from_tower_file(&dir.join(files::TOWER))?;
        let config_path = dir.join(files::CONFIG);
        if config_path.exists() {
            embedder.first_layer = Config::load(&config_path)?.training.first_layer;
        }
        Ok(embedder)
    }

    /// Chooses the first layer's arithmetic: `Auto` (the default) skips zero pixels when
    /// most pixels are zero, as training does. Results agree to rounding either way.
    pub fn with_first_layer(mut self, first_layer: FirstLayer) -> Self {
        self.first_layer = first_layer;
        self
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

    /// The input normalization.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// The tower.
    pub fn tower(&self) -> &Tower {
        &self.tower
    }

    /// The tower's flat parameter buffer.
    pub fn params(&self) -> &[f32] {
        &self.params
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
        feed(
            &self
                .normalizer
                .lut()
                .map(f32::to_bits)
                .map(u32::to_le_bytes)
                .concat(),
        );
        for p in &self.params {
            feed(&p.to_bits().to_le_bytes());
        }
        format!("{hash:016x}")
    }

    /// Embeds every image of `data`, one row each, in order: batched and parallel (rayon)
    /// over fixed chunks, so the numbers do not depend on the thread count.
    pub fn embed(&self, data: &Dataset) -> Result<Array2<f32>> {
        if data.image_len() != self.image_len() {
            return Err(mismatch(
                "pixels per image",
                self.image_len(),
                data.image_len(),
            ));
        }
        let sparse = self.sparse_for(data.images());
        Ok(siamese_train::embed(
            &self.tower,
            &self.params,
            &self.normalizer,
            data,
            sparse,
        )?)
    }

    /// Embeds images given as raw `u8` pixels, `image_len` per image, back to back.
    pub fn embed_images(&self, pixels: &[u8], image_len: usize) -> Result<Array2<f32>> {
        if image_len != self.image_len() {
            return Err(mismatch("pixels per image", self.image_len(), image_len));
        }
        if pixels.len() % image_len != 0 {
            return Err(mismatch(
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

    fn sparse_for(&self, pixels: &[u8]) -> bool {
        let zero_stays_zero = self.normalizer.maps_zero_to_zero();
        match self.first_layer {
            FirstLayer::Dense => false,
            FirstLayer::Sparse => zero_stays_zero,
            FirstLayer::Auto => {
                // Same rule as training: sparse pays off below about half the pixels lit.
                let lit = pixels.par_iter().filter(|&&p| p != 0).count();
                zero_stays_zero && (lit as f64) < 0.5 * pixels.len().max(1) as f64
            }
        }
    }
}

/// Raw pixels as "embeddings" (`p / 255`, one row per image): the baseline that shows what
/// learning added. Any affine pixel normalization with one mean and one deviation for all
/// pixels ranks neighbours the same way, so this one stands for all of them.
pub fn pixel_features(data: &Dataset) -> Array2<f32> {
    let len = data.image_len();
    let mut out = Array2::<f32>::zeros((data.len(), len));
    let unit = Normalizer::unit_range();
    let lut = unit.lut();
    if let Some(slice) = out.as_slice_mut() {
        slice
            .par_chunks_mut(PIXEL_CHUNK * len.max(1))
            .zip(data.images().par_chunks(PIXEL_CHUNK * len.max(1)))
            .for_each(|(dst, src)| {
                for (d, &p) in dst.iter_mut().zip(src) {
                    *d = lut[usize::from(p)];
                }
            });
    }
    out
}
