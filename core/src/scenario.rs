//! The seeds' logs, ready to replay: the lessons the page and `eventfold replay
//! --scenario` start from.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::builtin;
use crate::envelope::Envelope;
use crate::projection::Projection;

/// A named log and the projection that folds it.
#[derive(Clone)]
pub struct Scenario {
    /// Stable id, used in URLs and on the command line.
    pub id: &'static str,
    pub title: &'static str,
    pub topic: &'static str,
    pub projection: Arc<dyn Projection>,
    pub events: Vec<Envelope>,
}

/// 2023-10-01T12:00:00Z, the first timestamp of seed 004; lessons without times of
/// their own count minutes from it, so seeking by timestamp has something to find.
const LESSON_EPOCH_MS: i64 = 1_696_161_600_000;

/// Ids of the built-in scenarios, in the order the page lists them.
pub const IDS: [&str; 4] = ["bank", "bank-002", "orders", "users"];

/// A scenario by id.
pub fn by_id(id: &str) -> Option<Scenario> {
    Some(match id {
        "bank" => bank(),
        "bank-002" => bank_002(),
        "orders" => orders(),
        "users" => users(),
        _ => return None,
    })
}

fn log(topic: &str, values: Vec<Value>) -> Vec<Envelope> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            Envelope::json(topic, i as i64, value)
                .with_timestamp(LESSON_EPOCH_MS + 60_000 * i as i64)
        })
        .collect()
}

fn builtin(name: &str) -> Arc<dyn Projection> {
    builtin::by_name(name).expect("built-in projection names are constants")
}

/// Seed 000: deposit 100, withdraw 40, deposit 60 on `bank_account_events`: balance 120.
pub fn bank() -> Scenario {
    Scenario {
        id: "bank",
        title: "Bank account (seed 000): 100 − 40 + 60",
        topic: "bank_account_events",
        projection: builtin("bank"),
        events: log(
            "bank_account_events",
            vec![
                json!({"type": "deposit", "amount": 100}),
                json!({"type": "withdrawal", "amount": 40}),
                json!({"type": "deposit", "amount": 60}),
            ],
        ),
    }
}

/// Seed 002: deposit 100, withdraw 30, deposit 50 on `bank-account-events`: balance 120.
pub fn bank_002() -> Scenario {
    Scenario {
        id: "bank-002",
        title: "Bank account (seed 002): 100 − 30 + 50",
        topic: "bank-account-events",
        projection: builtin("bank"),
        events: log(
            "bank-account-events",
            vec![
                json!({"type": "deposit", "amount": 100}),
                json!({"type": "withdrawal", "amount": 30}),
                json!({"type": "deposit", "amount": 50}),
            ],
        ),
    }
}

/// Seed 001: order 123 created, then shipped, on `orders`.
pub fn orders() -> Scenario {
    Scenario {
        id: "orders",
        title: "Orders (seed 001): created, then shipped",
        topic: "orders",
        projection: builtin("orders"),
        events: log(
            "orders",
            vec![
                json!({"type": "orderCreated", "orderId": 123}),
                json!({"type": "orderUpdated", "orderId": 123, "status": "shipped"}),
            ],
        ),
    }
}

/// Seed 004: user 123 registers, then logs in, on `events`.
pub fn users() -> Scenario {
    let mut events = log(
        "events",
        vec![
            json!({"event": "UserRegistered", "userId": "123", "timestamp": "2023-10-01T12:00:00Z"}),
            json!({"event": "UserLoggedIn", "userId": "123", "timestamp": "2023-10-01T12:10:00Z"}),
        ],
    );
    // The records carry the times the events name.
    events[1].timestamp = LESSON_EPOCH_MS + 10 * 60_000;
    Scenario {
        id: "users",
        title: "User registrations (seed 004)",
        topic: "events",
        projection: builtin("users"),
        events,
    }
}
