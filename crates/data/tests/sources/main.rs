//! Bring-your-own-images sources, on collections written from the real MNIST
//! test set: folders, manifests and arrays, bad input under both policies, the
//! decode cache and the IDX importer. Fails (never skips) without the MNIST files.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod cache;
mod fixtures;
mod folder;
mod import;
mod manifest;
mod npy;
mod queries;
