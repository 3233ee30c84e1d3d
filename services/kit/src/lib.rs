//! The component kit: the pieces every component's `serve` is assembled from, so that a new
//! component's `lib.rs` reads as a short recipe.

pub mod cache;
pub mod euca_signature;
pub mod private;
pub mod security;
pub mod time;
