//! The component kit: the pieces every component's `serve` is assembled from, so that a new
//! component's `lib.rs` reads as a short recipe.

pub mod cache;
pub mod euca_signature;
pub mod forward;
mod logging;
pub mod private;
pub mod probe;
pub mod security;
mod serve;
pub mod time;

pub use logging::{init_tracing, log_to_file, LogFile};
pub use serve::{blocking, detached, main, service_beside, service_url, termination};

/// Limits on a reply listing every instance of a node or a cluster (ncDescribeInstances,
/// DescribeInstances): each instance is about 1 KB and 50 parsed nodes of XML (25 elements),
/// so past about 2,600 the defaults (130,000 nodes) refuse it. These admit about 20,000, and
/// bound the memory one reply can take (about 110 bytes a parsed node).
pub const INSTANCE_LIST_LIMITS: xmlbind::Limits = xmlbind::Limits {
    max_bytes: 64 << 20,
    max_depth: 64,
    max_attributes: 64,
    max_nodes: 1_000_000,
    max_text: 8 << 20,
};

// For `announce_ready!`, expanded in the components.
#[doc(hidden)]
pub use tracing;
