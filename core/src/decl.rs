//! Declarative projections written as JSON (work in progress).
