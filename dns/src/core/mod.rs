//! The pure core: cluster state in, records and answers out.

pub mod cluster;
pub mod labels;
pub mod records;
pub mod zone;
