//! A typed client for AITP-T01 agents.
//!
//! This crate is being built: today it re-exports the protocol model so that
//! applications can already build and parse capability messages.
#![deny(missing_docs)]

pub use aitp;
