//! The built-in projections of the seeds: `bank`, `orders` and `users`.
//!
//! Each is a typed aggregate (events decoded into a Rust enum, applied to a Rust
//! struct) wrapped in the [`Projection`] trait so the trace, the page and the bridge
//! treat it like any declarative projection.

pub mod bank;
pub mod orders;
pub mod users;

use std::sync::Arc;

use crate::projection::Projection;

/// Names of the built-in projections, in the order the page lists them.
pub const NAMES: [&str; 3] = ["bank", "orders", "users"];

/// A built-in projection by name.
pub fn by_name(name: &str) -> Option<Arc<dyn Projection>> {
    match name {
        "bank" => Some(Arc::new(bank::Bank)),
        "orders" => Some(Arc::new(orders::Orders)),
        "users" => Some(Arc::new(users::Users)),
        _ => None,
    }
}
