//! Placement: which offers can run which instances, and why not.
