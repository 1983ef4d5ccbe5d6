//! Marathon state storage.
