//! Placement: which offers can run which instances, and why not.
//!
//! Pure and synchronous: offers and instances in, launches and rejection reasons out; no I/O,
//! no clock.

mod constraint;
mod offer;
mod reason;
#[cfg(test)]
mod testkit;

pub use constraint::{Constraint, ConstraintError, Field, Operator};
pub use offer::{Agent, Attribute, AttributeValue, FaultDomain, Offer};
pub use reason::Reason;
