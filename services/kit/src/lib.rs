//! The component kit: the pieces every component's `serve` is assembled from, so that a new
//! component's `lib.rs` reads as a short recipe.

mod logging;
mod serve;

pub use logging::init_tracing;
pub use serve::{announce_ready, service_url, termination};
