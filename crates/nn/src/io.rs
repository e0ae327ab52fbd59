use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{NnError, Result, Tower, TowerSpec};

/// Version of the tower file layout; bumped when the meaning of the tensors changes.
pub const FORMAT_VERSION: u32 = 1;

const VERSION_KEY: &str = "siamese.format_version";
const SPEC_KEY: &str = "siamese.tower_spec";

/// A tower read back from disk: its spec, its parameters and any extra metadata the writer
/// stored beside them (e.g. the input normalization).
#[derive(Clone, Debug)]
pub struct SavedTower {
    /// The tower, rebuilt from the stored spec.
    pub tower: Tower,
    /// The flat parameter buffer.
    pub params: Vec<f32>,
    /// Extra string metadata, without the keys this crate uses itself.
    pub metadata: BTreeMap<String, String>,
}

/// Writes the tower as a [safetensors](https://huggingface.co/docs/safetensors) file, one
/// tensor per weight (`dense_{i}.kernel` `[in, out]`, `dense_{i}.bias` `[out]`, Keras names and
/// layout) with the spec (JSON) and format version in the header metadata, so NumPy, PyTorch or
/// any safetensors reader can load the weights. The file is written to a temporary name first
/// and renamed, so a crash never leaves a half-written model behind.
pub fn save_tower(
    path: &Path,
    tower: &Tower,
    params: &[f32],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    if params.len() != tower.num_params() {
        return Err(NnError::BufferLength {
            what: "parameter",
            expected: tower.num_params(),
            found: params.len(),
        });
    }
    // Tensors are stored dense ([in, out] without the row padding of the buffer).
    let layer_bytes: Vec<(Vec<u8>, Vec<u8>)> = tower
        .layers()
        .iter()
        .map(|layer| {
            let weights = layer.weights(params)?;
            let w: Vec<u8> = weights.iter().flat_map(|v| v.to_le_bytes()).collect();
            let b: Vec<u8> = layer
                .bias(params)?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            Ok((w, b))
        })
        .collect::<Result<_>>()?;
    let mut tensors = Vec::with_capacity(2 * tower.layers().len());
    for (i, (layer, (w, b))) in tower.layers().iter().zip(&layer_bytes).enumerate() {
        let view = |shape: Vec<usize>, data| {
            TensorView::new(Dtype::F32, shape, data).map_err(|e| format_error(path, e))
        };
        tensors.push((
            format!("dense_{i}.kernel"),
            view(vec![layer.input(), layer.output()], w)?,
        ));
        tensors.push((format!("dense_{i}.bias"), view(vec![layer.output()], b)?));
    }
    let mut info: HashMap<String, String> = metadata.clone().into_iter().collect();
    info.insert(VERSION_KEY.into(), FORMAT_VERSION.to_string());
    info.insert(
        SPEC_KEY.into(),
        serde_json::to_string(tower.spec()).map_err(|e| format_error(path, e))?,
    );
    let file = safetensors::serialize(tensors, Some(info)).map_err(|e| format_error(path, e))?;
    write_atomically(path, &file)
}

/// Reads a file written by [`save_tower`], checking the format version and that every tensor
/// has the shape the stored spec implies.
pub fn load_tower(path: &Path) -> Result<SavedTower> {
    let bytes = std::fs::read(path).map_err(|source| NnError::Io {
        path: path.to_owned(),
        source,
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| format_error(path, e))?;
    let mut metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let version = metadata
        .remove(VERSION_KEY)
        .ok_or_else(|| NnError::Format {
            path: path.to_owned(),
            message: format!("no `{VERSION_KEY}` in the header: not a siamese tower file"),
        })?;
    if version != FORMAT_VERSION.to_string() {
        return Err(NnError::Format {
            path: path.to_owned(),
            message: format!("format version {version}, this build reads version {FORMAT_VERSION}"),
        });
    }
    let spec_json = metadata.remove(SPEC_KEY).ok_or_else(|| NnError::Format {
        path: path.to_owned(),
        message: format!("no `{SPEC_KEY}` in the header"),
    })?;
    let spec: TowerSpec = serde_json::from_str(&spec_json).map_err(|e| NnError::Format {
        path: path.to_owned(),
        message: format!("bad tower spec in the header: {e}"),
    })?;
    let tower = Tower::new(spec)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| format_error(path, e))?;
    let mut params = vec![0.0f32; tower.num_params()];
    for (i, layer) in tower.layers().iter().enumerate() {
        let kernel = read_f32_tensor(
            path,
            &tensors,
            &format!("dense_{i}.kernel"),
            Some(&[layer.input(), layer.output()]),
        )?;
        for (r, row) in kernel.chunks_exact(layer.output()).enumerate() {
            let start = layer.offset() + r * layer.stride();
            params[start..start + layer.output()].copy_from_slice(row);
        }
        let bias = read_f32_tensor(
            path,
            &tensors,
            &format!("dense_{i}.bias"),
            Some(&[layer.output()]),
        )?;
        let start = layer.bias_offset();
        params[start..start + layer.output()].copy_from_slice(&bias);
    }
    Ok(SavedTower {
        tower,
        params,
        metadata,
    })
}

/// Reads the `f32` tensor `name` of a safetensors file (`path` names it in errors), checking
/// its shape when `shape` is given and that it is one-dimensional otherwise.
pub fn read_f32_tensor(
    path: &Path,
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: Option<&[usize]>,
) -> Result<Vec<f32>> {
    let view = tensors.tensor(name).map_err(|e| NnError::Format {
        path: path.to_owned(),
        message: format!("tensor `{name}`: {e}"),
    })?;
    let shape_ok = match shape {
        Some(shape) => view.shape() == shape,
        None => view.shape().len() == 1,
    };
    if view.dtype() != Dtype::F32 || !shape_ok {
        let expected = shape.map_or_else(|| "[_]".to_owned(), |s| format!("{s:?}"));
        return Err(NnError::Format {
            path: path.to_owned(),
            message: format!(
                "tensor `{name}`: expected F32 {expected}, found {:?} {:?}",
                view.dtype(),
                view.shape()
            ),
        });
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| NnError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn format_error(path: &Path, error: impl std::fmt::Display) -> NnError {
    NnError::Format {
        path: path.to_owned(),
        message: error.to_string(),
    }
}
