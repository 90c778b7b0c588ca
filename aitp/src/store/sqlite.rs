//! SqliteStore (being written).
