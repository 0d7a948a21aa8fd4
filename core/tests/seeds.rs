//! The seeds' numbers and tables, reproduced exactly by the replay trace.

use eventfold_core::{Mode, Trace, display, scenario};

/// One process-table row as the seed prints it:
/// (Step, Action, Event Produced, Kafka Topic State, State After Event, Output).
type Row = (
    u64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn table(id: &str) -> Vec<(u64, String, String, String, String, String)> {
    let s = scenario::by_id(id).expect("scenario exists");
    let trace = Trace::new(s.projection.clone(), Mode::Lenient, s.events.clone());
    trace
        .steps()
        .map(|step| {
            (
                step.step,
                step.action.clone(),
                step.event.clone(),
                trace.topic_text(step.topic_len),
                display::js(&step.state),
                step.output_text().to_owned(),
            )
        })
        .collect()
}

fn check(id: &str, expected: &[Row]) {
    let got = table(id);
    let expected: Vec<_> = expected
        .iter()
        .map(|r| {
            (
                r.0,
                r.1.into(),
                r.2.into(),
                r.3.into(),
                r.4.into(),
                r.5.into(),
            )
        })
        .collect();
    for (got, want) in got.iter().zip(&expected) {
        assert_eq!(got, want, "row {} of {id}", want.0);
    }
    assert_eq!(got.len(), expected.len(), "number of rows of {id}");
}

const CREATED: &str = "{orderId: 123, status: 'created'}";
const SHIPPED: &str = "{orderId: 123, status: 'shipped'}";
const ONE: &str = "[orderCreatedEvent]";
const TWO: &str = "[orderCreatedEvent, orderUpdatedEvent]";

#[test]
fn orders_reproduces_seed_001_process_table() {
    #[rustfmt::skip]
    check("orders", &[
        (1, "Receive new order command", "orderCreatedEvent", "[]", "{}", "No output"),
        (2, "Produce event to Kafka", "orderCreatedEvent", ONE, "{}", "No output"),
        (3, "Consumer reads orderCreatedEvent", "orderCreatedEvent", ONE, "{}", "No output"),
        (4, "Apply event to state", "orderCreatedEvent", ONE, CREATED, CREATED),
        (5, "Print updated state", "orderCreatedEvent", ONE, CREATED, CREATED),
        (6, "Receive update command", "orderUpdatedEvent", ONE, CREATED, "No output"),
        (7, "Produce update event", "orderUpdatedEvent", TWO, CREATED, "No output"),
        (8, "Consumer reads orderUpdatedEvent", "orderUpdatedEvent", TWO, CREATED, "No output"),
        (9, "Apply update event to state", "orderUpdatedEvent", TWO, SHIPPED, SHIPPED),
        (10, "Print updated state", "orderUpdatedEvent", TWO, SHIPPED, SHIPPED),
        (11, "No more events", "-", TWO, SHIPPED, "Stop processing"),
    ]);
}

#[test]
fn bank_reproduces_seed_000_balance() {
    let rows = table("bank");
    assert_eq!(rows.len(), 16, "three events make 3 × 5 + 1 rows");
    let prints: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "Print updated state")
        .map(|r| r.5.as_str())
        .collect();
    assert_eq!(
        prints,
        [
            "Current balance: 100",
            "Current balance: 60",
            "Current balance: 120"
        ]
    );
    let last = rows.last().unwrap();
    assert_eq!(last.3, "[deposit 100, withdrawal 40, deposit 60]");
    assert_eq!(last.4, "{balance: 120}");
    assert_eq!(last.5, "Stop processing");
}

#[test]
fn bank_seed_002_also_ends_at_120() {
    let rows = table("bank-002");
    assert_eq!(rows[14].5, "Current balance: 120");
    assert_eq!(rows[14].3, "[deposit 100, withdrawal 30, deposit 50]");
}

#[test]
fn users_seed_004_counts_logins_per_user() {
    let rows = table("users");
    assert_eq!(rows.len(), 11);
    assert_eq!(
        rows[9].4,
        "{userId: '123', registeredAt: '2023-10-01T12:00:00Z', logins: 1, lastLogin: '2023-10-01T12:10:00Z'}"
    );
    assert_eq!(rows[0].1, "Receive register user command");
    assert_eq!(rows[10].3, "[UserRegistered 123, UserLoggedIn 123]");
}

#[test]
fn seed_001_quiz_answers_come_from_the_trace() {
    // "At which step does the Kafka topic contain two events?" — step 7 is the first.
    let s = scenario::orders();
    let trace = Trace::new(s.projection.clone(), Mode::Lenient, s.events.clone());
    let first_two = trace.steps().find(|st| st.topic_len == 2).map(|st| st.step);
    assert_eq!(first_two, Some(7));
    // "What is the state after step 4?"
    assert_eq!(display::js(&trace.step(4).unwrap().state), CREATED);
}
