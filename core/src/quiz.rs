//! A quiz generated from a trace, in the style of seed 001's visual quiz ("What is
//! the state after step 4?", "At which step does the topic hold two events?").
//!
//! Every answer and every wrong choice comes from the trace itself: states the
//! aggregate really had at other steps, steps next to the right one, outputs the
//! consumer printed elsewhere. That makes the distractors plausible, which is what
//! makes a quiz teach. The order of the choices is derived from the trace too (core
//! has no randomness), so the same log always gives the same quiz.

use crate::display;
use crate::projection::Projection;
use crate::trace::{Phase, STEPS_PER_EVENT, Step, Trace};

/// One multiple-choice question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub prompt: String,
    pub choices: Vec<String>,
    /// Index of the right choice.
    pub answer: usize,
    /// Why the right choice is right, shown after any answer.
    pub explanation: String,
    /// The row of the process table that shows the answer.
    pub step: u64,
}

/// What the page says after a choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub correct: bool,
    pub text: String,
}

impl Question {
    /// The verdict on choice `choice`, with the explanation.
    pub fn feedback(&self, choice: usize) -> Feedback {
        let correct = choice == self.answer;
        let text = if correct {
            format!("Correct. {}", self.explanation)
        } else {
            format!(
                "Not quite: the answer is {}. {}",
                self.choices[self.answer], self.explanation
            )
        };
        Feedback { correct, text }
    }
}

/// Builds a question from its right answer and candidate distractors: duplicates of
/// the answer and of each other are dropped, at most three distractors kept, and the
/// choices turned by `turn` so the right one is not always first.
fn question(
    prompt: String,
    answer: String,
    distractors: impl IntoIterator<Item = String>,
    explanation: String,
    step: u64,
    turn: usize,
) -> Option<Question> {
    let mut choices = vec![answer];
    for candidate in distractors {
        if choices.len() == 4 {
            break;
        }
        // `null` is the state of a deleted or never-built aggregate: no learner would
        // pick it, so it makes a poor distractor.
        if candidate != "null" && !choices.contains(&candidate) {
            choices.push(candidate);
        }
    }
    if choices.len() < 2 {
        // A question with one choice teaches nothing.
        return None;
    }
    let shift = turn % choices.len();
    choices.rotate_right(shift);
    Some(Question {
        prompt,
        choices,
        answer: shift,
        explanation,
        step,
    })
}

/// The apply row of event `index`.
fn apply_row(trace: &Trace, index: usize) -> Option<Step> {
    trace.step(trace.step_of(index, Phase::Apply))
}

/// "the state" or "the state of alice", as the aggregate calls for.
fn state_of(step: &Step) -> String {
    match &step.aggregate {
        Some(id) => format!("the state of {id}"),
        None => "the state".into(),
    }
}

/// The quiz for `trace`: up to five questions, fewer for a short log.
pub fn questions(trace: &Trace) -> Vec<Question> {
    let events = trace.folded_events();
    let projection = trace.projection();
    let last = trace
        .step(trace.len())
        .expect("a trace always has its final row");
    // A number derived from the log, so each log turns its choices its own way.
    let seed = last
        .state
        .to_string()
        .bytes()
        .map(usize::from)
        .sum::<usize>()
        + events;
    let mut quiz = Vec::new();

    // 1. The state after an apply row in the middle of the log.
    if events > 0 {
        let index = events / 2;
        if let Some(row) = apply_row(trace, index) {
            let before = if index == 0 {
                projection.initial()
            } else {
                trace
                    .step(row.step - 1)
                    .map(|s| {
                        trace
                            .view_at(s.step)
                            .get(&row.aggregate)
                            .cloned()
                            .unwrap_or_else(|| projection.initial())
                    })
                    .unwrap_or_else(|| projection.initial())
            };
            let mut distractors = vec![display::js(&before)];
            for other in [
                index + 1,
                index.wrapping_sub(1),
                events.saturating_sub(1),
                0,
            ] {
                if other < events
                    && let Some(s) = apply_row(trace, other)
                {
                    distractors.push(display::js(&s.state));
                }
            }
            distractors.push(display::js(&projection.initial()));
            quiz.extend(question(
                format!("What is {} after step {}?", state_of(&row), row.step),
                display::js(&row.state),
                distractors,
                format!(
                    "Step {} applies {}, which takes {} from {} to {}.",
                    row.step,
                    row.event,
                    state_of(&row),
                    display::js(&before),
                    display::js(&row.state)
                ),
                row.step,
                seed,
            ));
        }
    }

    // 2. When the topic first holds two events.
    if events >= 2 {
        let answer = trace.step_of(1, Phase::Produce);
        let label = |step: u64| format!("Step {step}");
        let second = trace.step(answer).map(|s| s.event).unwrap_or_default();
        quiz.extend(question(
            "At which step does the Kafka topic first contain two events?".into(),
            label(answer),
            [
                trace.step_of(0, Phase::Produce),
                trace.step_of(1, Phase::Apply),
                trace.step_of(1, Phase::Command),
            ]
            .map(label),
            format!(
                "Step {answer} produces {second}, the second event; a command alone \
                 (step {}) adds nothing to the topic.",
                trace.step_of(1, Phase::Command)
            ),
            answer,
            seed + 1,
        ));
    }

    // 3. What the state would be if the consumer never applied anything.
    let initial = display::js(&projection.initial());
    let mut distractors = vec![display::js(&last.state)];
    if events > 0
        && let Some(first) = apply_row(trace, 0)
    {
        distractors.push(display::js(&first.state));
    }
    quiz.extend(question(
        "If the consumer did not apply events, what would the state be at the end?".into(),
        initial.clone(),
        distractors,
        format!(
            "The events would all be on the topic, but the state only changes when the \
             consumer applies them: it would stay at the initial state {initial}."
        ),
        last.step,
        seed + 2,
    ));

    // 4. How many events the topic holds at the end, against the number of rows.
    let count = |n: usize| n.to_string();
    quiz.extend(question(
        "How many events does the Kafka topic hold at the end?".into(),
        count(events),
        [
            count(events + 1),
            count(events.saturating_sub(1)),
            count(trace.len() as usize),
        ],
        format!(
            "Each event is produced to the topic once. The table has {} rows per event \
             plus the final one ({} rows), but the topic holds {events} events.",
            STEPS_PER_EVENT,
            trace.len()
        ),
        last.step,
        seed + 3,
    ));

    // 5. What the consumer prints after the last event.
    if events > 0 {
        let print = trace.step_of(events - 1, Phase::Print);
        if let Some(row) = trace.step(print) {
            let mut distractors: Vec<String> = [events.wrapping_sub(2), 0, events / 2]
                .into_iter()
                .filter(|i| *i < events)
                .filter_map(|i| trace.step(trace.step_of(i, Phase::Print)))
                .map(|s| s.output_text().to_owned())
                .collect();
            distractors.push(printed_initial(&**projection));
            quiz.extend(question(
                format!("What does the consumer print at step {print}?"),
                row.output_text().to_owned(),
                distractors,
                format!(
                    "Step {print} prints the state after the last event, {}.",
                    row.event
                ),
                print,
                seed + 4,
            ));
        }
    }
    quiz
}

/// A question on the row the learner is on: "What is the state after step N?",
/// with the states the aggregate had just before and around it as the other
/// choices. Rows that only carry an event along (a command, a produce, a read, a
/// print) leave the state as it was, which is the point the question makes there.
/// `None` when the trace has too little to choose from (an empty log).
///
/// The page asks it at every step, so it costs one seek for the rows around the
/// step ([`Trace::steps_in`]) and one near the start of the log, whatever the log's
/// length.
pub fn at_step(trace: &Trace, step: u64) -> Option<Question> {
    let step = step.clamp(1, trace.len());
    let events = trace.folded_events();
    // The row's event (the end row counts as the one after the last), and the rows
    // from the previous event's command to the apply row two events on.
    let index = ((step - 1) / STEPS_PER_EVENT) as usize;
    let first = trace
        .step_of(index.saturating_sub(1), Phase::Command)
        .min(step);
    let last = trace.step_of(index + 2, Phase::Apply).max(step);
    let window: Vec<Step> = trace.steps_in(first..=last).collect();
    let at = |step: u64| window.iter().find(|row| row.step == step);
    let row = at(step)?;
    // The aggregate's state before the row's event: its command row still shows it.
    let before = match row.event_index {
        Some(index) => &at(trace.step_of(index, Phase::Command))?.state,
        None => &at(step - 1)?.state,
    };
    let mut distractors = vec![display::js(before)];
    if let Some(index) = row.event_index {
        // The row's own event applied first: before its apply row, the state it
        // is about to become is the tempting wrong answer.
        for other in [index, index + 1, index.wrapping_sub(1), index + 2] {
            if other < events
                && let Some(s) = at(trace.step_of(other, Phase::Apply))
                && s.aggregate == row.aggregate
            {
                distractors.push(display::js(&s.state));
            }
        }
        if let Some(s) = apply_row(trace, 0)
            && s.aggregate == row.aggregate
        {
            distractors.push(display::js(&s.state));
        }
    }
    // Where the aggregate ends up: its events may be far apart in a keyed log.
    if let Some(last) = trace.final_view().get(&row.aggregate) {
        distractors.push(display::js(last));
    }
    distractors.push(display::js(&trace.projection().initial()));
    let after = display::js(&row.state);
    let explanation = if row.phase == Phase::Apply && row.error.is_none() {
        format!(
            "Step {} applies {}, which takes {} from {} to {after}.",
            row.step,
            row.event,
            state_of(row),
            display::js(before)
        )
    } else if row.phase == Phase::Apply {
        format!(
            "Step {} is rejected by the projection, so {} stays {after}.",
            row.step,
            state_of(row)
        )
    } else if row.event_index.is_none() {
        format!(
            "Step {} ends the replay: the state is everything folded, {after}.",
            row.step
        )
    } else {
        format!(
            "Step {} ({}) does not change {}: only applying an event does, so it is still {after}.",
            row.step,
            // ASCII only: `str::to_lowercase` links Unicode's case tables, 8 KB of the
            // page's gzipped download, for a lower-case first word (docs/perf.md).
            row.action.to_ascii_lowercase(),
            state_of(row)
        )
    };
    question(
        format!("What is {} after step {}?", state_of(row), row.step),
        after,
        distractors,
        explanation,
        row.step,
        row.step as usize + events,
    )
}

/// What the consumer would print for the initial state.
fn printed_initial(projection: &dyn Projection) -> String {
    projection.render(&projection.initial())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::Mode;
    use crate::scenario;

    fn quiz(id: &str) -> Vec<Question> {
        let s = scenario::by_id(id).unwrap();
        questions(&Trace::new(s.projection, Mode::Lenient, s.events))
    }

    /// The prompt, the right choice and every choice of question `n` of lesson `id`.
    fn check(id: &str, n: usize, prompt: &str, answer: &str, choices: &[&str]) {
        let q = &quiz(id)[n];
        assert_eq!(q.prompt, prompt, "{id} #{n}");
        assert_eq!(q.choices[q.answer], answer, "{id} #{n}");
        let mut got: Vec<&str> = q.choices.iter().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = choices.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "{id} #{n}");
    }

    #[test]
    fn questions_come_from_the_trace() {
        check(
            "orders",
            0,
            "What is the state after step 9?",
            "{orderId: 123, status: 'shipped'}",
            &[
                "{orderId: 123, status: 'shipped'}",
                "{orderId: 123, status: 'created'}",
                "{}",
            ],
        );
        check(
            "orders",
            1,
            "At which step does the Kafka topic first contain two events?",
            "Step 7",
            &["Step 7", "Step 2", "Step 9", "Step 6"],
        );
        check(
            "bank",
            2,
            "If the consumer did not apply events, what would the state be at the end?",
            "{balance: 0}",
            &["{balance: 0}", "{balance: 120}", "{balance: 100}"],
        );
        check(
            "bank",
            3,
            "How many events does the Kafka topic hold at the end?",
            "3",
            &["3", "4", "2", "16"],
        );
        check(
            "bank",
            4,
            "What does the consumer print at step 15?",
            "Current balance: 120",
            &[
                "Current balance: 120",
                "Current balance: 60",
                "Current balance: 100",
                "Current balance: 0",
            ],
        );
    }

    /// The current-step question of lesson `id` at `step`: its prompt, answer,
    /// choices (sorted) and explanation.
    fn check_step(id: &str, step: u64, prompt: &str, answer: &str, choices: &[&str], why: &str) {
        let s = scenario::by_id(id).unwrap();
        let trace = Trace::new(s.projection, Mode::Lenient, s.events);
        let q = at_step(&trace, step).unwrap_or_else(|| panic!("{id} step {step}"));
        assert_eq!(q.prompt, prompt, "{id} {step}");
        assert_eq!(q.choices[q.answer], answer, "{id} {step}");
        let mut got: Vec<&str> = q.choices.iter().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = choices.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "{id} {step}");
        assert_eq!(q.explanation, why, "{id} {step}");
        assert_eq!(q.step, step);
    }

    #[test]
    fn the_current_step_has_its_question() {
        check_step(
            "bank",
            9,
            "What is the state after step 9?",
            "{balance: 60}",
            &[
                "{balance: 60}",
                "{balance: 100}",
                "{balance: 120}",
                "{balance: 0}",
            ],
            "Step 9 applies withdrawal 40, which takes the state from {balance: 100} to {balance: 60}.",
        );
        check_step(
            "bank",
            8,
            "What is the state after step 8?",
            "{balance: 100}",
            &[
                "{balance: 100}",
                "{balance: 60}",
                "{balance: 120}",
                "{balance: 0}",
            ],
            "Step 8 (consumer reads withdrawal 40) does not change the state: only applying \
             an event does, so it is still {balance: 100}.",
        );
        check_step(
            "keys-partitions",
            4,
            "What is the state of alice after step 4?",
            "{balance: 100}",
            &["{balance: 100}", "{balance: 0}", "{balance: 80}"],
            "Step 4 applies alice: deposit 100, which takes the state of alice from {balance: 0} to {balance: 100}.",
        );
        // Every row of every lesson: the right answer is the row's own state.
        for id in scenario::IDS {
            let s = scenario::by_id(id).unwrap();
            let trace = Trace::new(s.projection, Mode::Lenient, s.events);
            for step in 1..=trace.len() {
                if let Some(q) = at_step(&trace, step) {
                    let row = trace.step(step).unwrap();
                    assert_eq!(q.choices[q.answer], display::js(&row.state), "{id} {step}");
                    assert_eq!(
                        q.prompt,
                        format!("What is {} after step {step}?", state_of(&row))
                    );
                }
            }
        }
        let blank = scenario::blank();
        let trace = Trace::new(blank.projection, Mode::Lenient, blank.events);
        assert_eq!(
            at_step(&trace, 1),
            None,
            "one row, one state: nothing to choose"
        );
    }

    #[test]
    fn the_right_answer_moves_and_feedback_explains() {
        let positions: std::collections::BTreeSet<usize> = scenario::IDS
            .iter()
            .flat_map(|id| quiz(id))
            .map(|q| q.answer)
            .collect();
        assert!(positions.len() > 2, "answers sit at {positions:?}");
        for id in scenario::IDS {
            for q in quiz(id) {
                assert!(q.choices.len() >= 2, "{id}: {q:?}");
                let right = q.feedback(q.answer);
                assert!(right.correct && right.text.starts_with("Correct."));
                let wrong = q.feedback((q.answer + 1) % q.choices.len());
                assert!(!wrong.correct);
                assert!(
                    wrong.text.contains(&q.choices[q.answer]),
                    "{id}: {}",
                    wrong.text
                );
            }
        }
        assert_eq!(quiz("bank"), quiz("bank"), "no randomness");
        let blank = quiz("blank");
        assert!(blank.iter().all(|q| !q.prompt.contains("two events")));
    }
}
