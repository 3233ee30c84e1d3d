//! Image bundles as `euca-bundle-image` makes them, and what Walrus does with them.
//!
//! A bundle is a manifest ([`manifest`]) and parts: the image is tarred, gzipped and encrypted
//! with AES-128-CBC under a fresh key ([`keys`]), and the encrypted stream is split into
//! parts. [`unbundle()`] reverses that, checking every digest; [`create`] makes bundles (and
//! [`cli`] is `euca bundle-image`).
//!
//! GetDecryptedImage ([`http`]): a node, proven by its `EucaSignature`
//! ([`node_signature`]), asks for the image of a manifest a known user signed ([`signers`]);
//! [`images`] decrypts it once, reading the parts from Walrus' storage as it goes
//! ([`bridge`]), into the disk cache it is then served from.

pub mod bridge;
pub mod cli;
pub mod create;
pub mod http;
pub mod images;
pub mod keys;
pub mod manifest;
pub mod node_signature;
pub mod signers;
mod store;
mod stream;
pub mod unbundle;
pub mod upload;

pub use http::ImageOperations;
pub use images::{ImageSettings, Images};
pub use keys::{ImageKey, KeyError, SealedKey};
pub use manifest::{Image, MachineConfiguration, Manifest, ManifestError, Part};
pub use unbundle::{unbundle, UnbundleError};

/// The internal operations of a Walrus configured by `config`: GetDecryptedImage, when the
/// cloud's key is in KEYS. Without it Walrus serves S3 alone (and says why in its log).
pub fn internal_operations(
    config: &crate::Config,
) -> Option<std::sync::Arc<dyn crate::hooks::InternalOperations>> {
    let settings = ImageSettings {
        cache_bytes: config.image_cache_bytes,
        ..ImageSettings::default()
    };
    match Images::open(&settings, &config.data, &config.keys) {
        Ok(images) => Some(std::sync::Arc::new(ImageOperations::new(images))),
        Err(e) => {
            tracing::warn!(error = %e, "GetDecryptedImage is off");
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
