//! Deployments, pure: [`plan`] turns the apps as they are and as they should be into
//! ordered steps; [`runner`] runs a plan step by step against the apps' observed state;
//! [`rolling`] makes each decision of a rolling restart within the bounds of an app's
//! `upgradeStrategy`; [`readiness`] models `readinessChecks`. The service executes what
//! they decide.

pub mod plan;
pub mod readiness;
pub mod rolling;
pub mod runner;

pub use runner::Deployment;
