//! JSON Schema generation from the Rust types (being written).
