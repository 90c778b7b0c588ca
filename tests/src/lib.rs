//! Cross-crate integration tests of aitp-rs live in `tests/`.
