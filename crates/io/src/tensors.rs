use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{FileError, write_atomically};

/// A safetensors file read whole and checked for its kind and version: the one reader
/// behind tower files, checkpoints and search indexes.
#[derive(Clone, Debug)]
pub struct TensorFile {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: BTreeMap<String, String>,
}

/// One `f32` tensor to write: its name, shape and values in row-major order.
#[derive(Clone, Debug)]
pub struct F32Tensor<'a> {
    /// Tensor name, e.g. `dense_0.kernel`.
    pub name: &'a str,
    /// Its shape; the product must equal `values.len()`.
    pub shape: Vec<usize>,
    /// The values.
    pub values: &'a [f32],
}

impl TensorFile {
    /// Reads `path` and checks that its header holds `version.0` with the value `version.1`.
    /// `kind` names the file in errors ("not a siamese {kind}").
    ///
    /// # Errors
    /// [`FileError::Io`] when the file cannot be read, [`FileError::Format`] when it is not
    /// safetensors, lacks the version key or has another version.
    pub fn read(path: &Path, version: (&str, &str), kind: &str) -> Result<Self, FileError> {
        let bytes = std::fs::read(path).map_err(|error| FileError::Io {
            path: path.to_owned(),
            error,
        })?;
        let format = |message: String| FileError::Format {
            path: path.to_owned(),
            message,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format(e.to_string()))?;
        let mut metadata: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let (key, expected) = version;
        match metadata.remove(key) {
            Some(found) if found == expected => {}
            Some(found) => {
                return Err(format(format!(
                    "{kind} version {found}, this build reads version {expected}"
                )));
            }
            None => {
                return Err(format(format!(
                    "no `{key}` in the header: not a siamese {kind}"
                )));
            }
        }
        // Validates the tensor table once, so later look-ups only fail on names and shapes.
        SafeTensors::deserialize(&bytes).map_err(|e| format(e.to_string()))?;
        Ok(Self {
            path: path.to_owned(),
            bytes,
            metadata,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's string metadata, without the version key.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Takes the metadata out, leaving it empty.
    pub fn take_metadata(&mut self) -> BTreeMap<String, String> {
        std::mem::take(&mut self.metadata)
    }

    /// The metadata value under `key`.
    ///
    /// # Errors
    /// [`FileError::Format`] "no `key` in the header" when it is missing.
    pub fn required(&self, key: &str) -> Result<&str, FileError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.format_error(format!("no `{key}` in the header")))
    }

    /// The `f32` tensor `name`, checked against `shape` when given and to be
    /// one-dimensional otherwise.
    ///
    /// # Errors
    /// [`FileError::Format`] when it is missing or has another dtype or shape.
    pub fn f32_tensor(&self, name: &str, shape: Option<&[usize]>) -> Result<Vec<f32>, FileError> {
        self.tensor(name, Dtype::F32, shape, f32::from_le_bytes)
    }

    /// The `u32` tensor `name`, checked like [`TensorFile::f32_tensor`].
    ///
    /// # Errors
    /// [`FileError::Format`] when it is missing or has another dtype or shape.
    pub fn u32_tensor(&self, name: &str, shape: Option<&[usize]>) -> Result<Vec<u32>, FileError> {
        self.tensor(name, Dtype::U32, shape, u32::from_le_bytes)
    }

    /// The shape of tensor `name`.
    ///
    /// # Errors
    /// [`FileError::Format`] when there is no such tensor.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>, FileError> {
        let tensors = self.tensors()?;
        let view = tensors
            .tensor(name)
            .map_err(|e| self.format_error(format!("tensor `{name}`: {e}")))?;
        Ok(view.shape().to_vec())
    }

    /// An error about this file's content.
    pub fn format_error(&self, message: String) -> FileError {
        FileError::Format {
            path: self.path.clone(),
            message,
        }
    }

    fn tensors(&self) -> Result<SafeTensors<'_>, FileError> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| self.format_error(e.to_string()))
    }

    fn tensor<T>(
        &self,
        name: &str,
        dtype: Dtype,
        shape: Option<&[usize]>,
        decode: fn([u8; 4]) -> T,
    ) -> Result<Vec<T>, FileError> {
        let tensors = self.tensors()?;
        let view = tensors
            .tensor(name)
            .map_err(|e| self.format_error(format!("tensor `{name}`: {e}")))?;
        let shape_ok = match shape {
            Some(shape) => view.shape() == shape,
            None => view.shape().len() == 1,
        };
        if view.dtype() != dtype || !shape_ok {
            let expected = shape.map_or_else(|| "[_]".to_owned(), |s| format!("{s:?}"));
            return Err(self.format_error(format!(
                "tensor `{name}`: expected {dtype:?} {expected}, found {:?} {:?}",
                view.dtype(),
                view.shape()
            )));
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|c| decode([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Writes `tensors` as a safetensors file with `metadata` and the version `version.0 =
/// version.1` in its header, atomically ([`write_atomically`]). Any safetensors reader
/// (NumPy, PyTorch) can load the result.
///
/// # Errors
/// [`FileError::Format`] when a shape does not match its values, [`FileError::Io`] when
/// the file cannot be written.
pub fn write_tensor_file(
    path: &Path,
    version: (&str, &str),
    tensors: &[F32Tensor<'_>],
    metadata: &BTreeMap<String, String>,
) -> Result<(), FileError> {
    write_tensors(path, version, tensors, &[], metadata)
}

/// [`write_tensor_file`] with `u32` tensors as well.
///
/// # Errors
/// As [`write_tensor_file`].
pub fn write_tensors(
    path: &Path,
    version: (&str, &str),
    f32_tensors: &[F32Tensor<'_>],
    u32_tensors: &[(&str, Vec<usize>, &[u32])],
    metadata: &BTreeMap<String, String>,
) -> Result<(), FileError> {
    let format = |e: safetensors::SafeTensorError| FileError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let f32_bytes: Vec<Vec<u8>> = f32_tensors
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let u32_bytes: Vec<Vec<u8>> = u32_tensors
        .iter()
        .map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(f32_tensors.len() + u32_tensors.len());
    for (t, bytes) in f32_tensors.iter().zip(&f32_bytes) {
        views.push((
            t.name,
            TensorView::new(Dtype::F32, t.shape.clone(), bytes).map_err(format)?,
        ));
    }
    for ((name, shape, _), bytes) in u32_tensors.iter().zip(&u32_bytes) {
        views.push((
            *name,
            TensorView::new(Dtype::U32, shape.clone(), bytes).map_err(format)?,
        ));
    }
    let mut header: HashMap<String, String> = metadata.clone().into_iter().collect();
    header.insert(version.0.to_owned(), version.1.to_owned());
    let bytes = safetensors::serialize(views, Some(header)).map_err(format)?;
    Ok(write_atomically(path, &bytes)?)
}
