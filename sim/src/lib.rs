//! Simulated agents and benchmark frameworks (being written).
