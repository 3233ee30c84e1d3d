//! The console's pages, one file per topic.

mod controls;

pub mod buckets;
pub mod capacity;
pub mod health;
pub mod images;
pub mod instances;
pub mod provisioning;
pub mod storage;
