//! Deployment planning, pure: [`plan`] turns the apps as they are and as they should be
//! into ordered steps; [`rolling`] makes each decision of a rolling restart within the
//! bounds of an app's `upgradeStrategy`. (The service runs a change as one step for now;
//! these cores are what the deployment runner builds on.)

pub mod plan;
pub mod rolling;
