//! The component kit: the pieces every component's `serve` is assembled from, so that a new
//! component's `lib.rs` reads as a short recipe.

pub mod cache;
pub mod euca_signature;
pub mod forward;
mod logging;
pub mod private;
pub mod security;
mod serve;
pub mod time;

pub use logging::{init_tracing, log_to_file, LogFile};
pub use serve::{blocking, detached, main, service_url, termination};

// For `announce_ready!`, expanded in the components.
#[doc(hidden)]
pub use tracing;
