//! The edges: the master's event stream in, DNS and HTTP answers out.

pub mod dns;
pub mod forward;
pub mod http;
pub mod master;
pub mod wire;

use std::sync::{Arc, RwLock};

use crate::core::zone::Zone;

/// The zone being served; replaced whole on every change, read by every query.
pub type ZoneCell = Arc<RwLock<Arc<Zone>>>;
