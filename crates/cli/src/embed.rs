use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use siamese_data::sources::image_files;
use siamese_eval::{Split, export_embeddings, export_image_embeddings, load_split};

use crate::eval::OpenRun;

#[derive(Debug, Args)]
pub(crate) struct EmbedArgs {
    /// A run directory written by `siamese train`.
    run_dir: PathBuf,
    /// Which images: train (the whole training file), test, or val (the validation images
    /// training used).
    #[arg(long, default_value = "test", conflicts_with = "images")]
    split: Split,
    /// Image files, or folders whose image files (PNG, JPEG, BMP, GIF, TIFF, WebP, found
    /// recursively, sorted by path, hidden ones left out) are embedded instead of a split.
    /// Each image is converted as training converted its images: resized to the tower's
    /// size and made gray or colour as it was trained. Writes embeddings.npy and paths.txt
    /// (the image of each row).
    #[arg(long, value_name = "FILE|FOLDER", num_args = 1..)]
    images: Vec<PathBuf>,
    /// Data directory [default: $SIAMESE_DATA_DIR or the run's config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Output directory [default: <run-dir>/embeddings, or <run-dir>/embeddings/images with
    /// --images].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: EmbedArgs) -> Result<()> {
    let run = OpenRun::open(&args.run_dir, args.data)?;
    if !args.images.is_empty() {
        let out = args
            .out
            .unwrap_or_else(|| run.dir.embeddings_dir().join("images"));
        return embed_files(&run, &args.images, out);
    }
    let data = load_split(&run.config, args.split)?;
    let start = Instant::now();
    let embeddings = run.model.embed(&data)?;
    let seconds = start.elapsed().as_secs_f64();
    let out = args.out.unwrap_or_else(|| run.dir.embeddings_dir());
    let written = export_embeddings(&out, args.split.name(), &embeddings, data.labels())
        .context("exporting the embeddings")?;
    println!(
        "embedded {} {} images into {} dimensions in {seconds:.2} s",
        data.len(),
        args.split,
        run.model.dim()
    );
    for path in [
        &written.embeddings_npy,
        &written.labels_npy,
        &written.vectors_tsv,
        &written.metadata_tsv,
    ] {
        println!("  {}", path.display());
    }
    Ok(())
}

/// `--images`: the files named and those in the folders named, embedded into `out`.
fn embed_files(run: &OpenRun, given: &[PathBuf], out: PathBuf) -> Result<()> {
    let mut paths = Vec::new();
    for path in given {
        if path.is_dir() {
            let found = image_files(path)?;
            if found.is_empty() {
                bail!(
                    "{}: no image files (png, jpg/jpeg, bmp, gif, tif/tiff, webp) in this folder",
                    path.display()
                );
            }
            paths.extend(found);
        } else {
            paths.push(path.clone());
        }
    }
    let start = Instant::now();
    let images = run
        .model
        .read_images(&paths)
        .context("reading the images to embed")?;
    let embeddings = run.model.embed(&images)?;
    let seconds = start.elapsed().as_secs_f64();
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let written =
        export_image_embeddings(&out, &embeddings, &names).context("exporting the embeddings")?;
    println!(
        "embedded {} images into {} dimensions in {seconds:.2} s",
        paths.len(),
        run.model.dim()
    );
    for path in [&written.embeddings_npy, &written.paths_txt] {
        println!("  {}", path.display());
    }
    Ok(())
}
