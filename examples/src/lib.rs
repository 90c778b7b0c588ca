//! Runnable examples of aitp-rs: see the `[[example]]` targets.
