//! Kafka, simulated faithfully (work in progress).
