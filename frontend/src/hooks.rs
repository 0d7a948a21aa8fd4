pub mod use_hash_change;
pub mod use_interval;
pub mod use_keys;
pub mod use_projector;
