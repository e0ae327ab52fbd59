use std::collections::BTreeMap;
use std::path::Path;

use siamese_io::{F32Tensor, FileError, TensorFile, write_tensor_file};

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
    let kernels: Vec<Vec<f32>> = tower
        .layers()
        .iter()
        .map(|layer| Ok(layer.weights(params)?.iter().copied().collect()))
        .collect::<Result<_>>()?;
    let names: Vec<(String, String)> = (0..tower.layers().len())
        .map(|i| (format!("dense_{i}.kernel"), format!("dense_{i}.bias")))
        .collect();
    let mut tensors = Vec::with_capacity(2 * tower.layers().len());
    for ((layer, kernel), (kernel_name, bias_name)) in
        tower.layers().iter().zip(&kernels).zip(&names)
    {
        tensors.push(F32Tensor {
            name: kernel_name,
            shape: vec![layer.input(), layer.output()],
            values: kernel,
        });
        tensors.push(F32Tensor {
            name: bias_name,
            shape: vec![layer.output()],
            values: layer.bias(params)?,
        });
    }
    let mut info = metadata.clone();
    info.insert(
        SPEC_KEY.into(),
        serde_json::to_string(tower.spec()).map_err(|e| FileError::format(path, e.to_string()))?,
    );
    let version = FORMAT_VERSION.to_string();
    write_tensor_file(path, (VERSION_KEY, &version), &tensors, &info)?;
    Ok(())
}

/// Reads a file written by [`save_tower`], checking the format version and that every tensor
/// has the shape the stored spec implies.
pub fn load_tower(path: &Path) -> Result<SavedTower> {
    let version = FORMAT_VERSION.to_string();
    let mut file = TensorFile::read(path, (VERSION_KEY, &version), "tower file")?;
    let mut metadata = file.take_metadata();
    let spec_json = metadata
        .remove(SPEC_KEY)
        .ok_or_else(|| file.format_error(format!("no `{SPEC_KEY}` in the header")))?;
    let spec: TowerSpec = serde_json::from_str(&spec_json)
        .map_err(|e| file.format_error(format!("bad tower spec in the header: {e}")))?;
    let tower = Tower::new(spec)?;
    // Every tensor is read and checked against the spec before the parameter buffer is
    // made: a header alone can declare billions of parameters in a file of a hundred bytes,
    // but tensors of the declared shapes have to be in the file.
    let tensors = tower
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let kernel = file.f32_tensor(
                &format!("dense_{i}.kernel"),
                Some(&[layer.input(), layer.output()]),
            )?;
            let bias = file.f32_tensor(&format!("dense_{i}.bias"), Some(&[layer.output()]))?;
            Ok((kernel, bias))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut params = vec![0.0f32; tower.num_params()];
    for (layer, (kernel, bias)) in tower.layers().iter().zip(&tensors) {
        for (r, row) in kernel.chunks_exact(layer.output()).enumerate() {
            let start = layer.offset() + r * layer.stride();
            params[start..start + layer.output()].copy_from_slice(row);
        }
        let start = layer.bias_offset();
        params[start..start + layer.output()].copy_from_slice(bias);
    }
    Ok(SavedTower {
        tower,
        params,
        metadata,
    })
}
