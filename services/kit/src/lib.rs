//! The component kit: the pieces every component's `serve` is assembled from, so that a new
//! component's `lib.rs` reads as a short recipe.

mod logging;
mod serve;

pub use logging::init_tracing;
pub use serve::{service_url, termination};

// For `announce_ready!`, expanded in the components.
#[doc(hidden)]
pub use tracing;
