//! Connections that can be cut from outside.
//!
//! A `/v2/events` client whose socket stopped draining leaves hyper waiting on a write
//! that never completes, so the response body is never polled again and cannot end the
//! connection itself. Every connection accepted by the shared serving edge
//! ([`mesos_common::serve`]) carries a [`Cut`]: firing it fails the pending read or write
//! at once, and hyper drops the connection. Handlers find it, with the client's address,
//! in the [`Peer`] connect info.

pub use mesos_common::serve::{Cut, Peer};
