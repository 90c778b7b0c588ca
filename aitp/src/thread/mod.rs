//! Threads, messages and actors (being written).
