//! The simulator's state and every way it changes ([`Action`]), as a Yew reducer.
//!
//! The reducer only moves data between core's calls: it folds the log with
//! [`Trace::new`], moves a [`Cursor`] and asks [`Frame::at`] what the current step
//! shows. Every edit re-folds the whole history; stepping costs a seek from core's
//! snapshots.

use std::rc::Rc;
use std::sync::Arc;

use eventfold_core::compare::{self, Comparison};
use eventfold_core::decl::{self, Spec};
use eventfold_core::invariant::Invariant;
use eventfold_core::keep::Session;
use eventfold_core::lesson::{self, Frame};
use eventfold_core::quiz::{self, Question};
use eventfold_core::scenario::Command;
use eventfold_core::{Cursor, Envelope, Mode, Phase, Projection, Trace, builtin, scenario};
use yew::Reducible;

use crate::replay::{self, Row};

/// Playback speeds the speed picker offers, in steps per second.
pub const SPEEDS: [u32; 4] = [1, 2, 4, 8];

/// The projection picker's entry for a projection typed in the editor.
pub const CUSTOM: &str = "custom";

/// One of the log's errors, as the event editor lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogError {
    pub message: String,
    /// The apply row of the event, where the process table shows the error.
    pub step: u64,
}

#[derive(Clone)]
pub struct Sim {
    pub lesson: &'static str,
    pub title: &'static str,
    /// The lesson's paragraph and its computed notes.
    pub explanation: &'static str,
    pub notes: Rc<[String]>,
    pub commands: Rc<[Command]>,
    pub topic: &'static str,
    /// The event editor's text, exactly as typed.
    pub events_text: String,
    /// `builtin::NAMES` entry, the lesson's own projection's name, or [`CUSTOM`].
    pub projection_name: String,
    /// The lesson's projection when it is not a built-in, so the picker can offer it
    /// back after another one was tried, with its spec text if it has one.
    pub lesson_projection: Option<(Arc<dyn Projection>, Option<String>)>,
    /// The projection editor's text, exactly as typed.
    pub projection_text: String,
    /// Why the projection editor's text is not a usable spec; the last good
    /// projection keeps folding meanwhile.
    pub spec_error: Option<String>,
    pub log_errors: Rc<[LogError]>,
    /// The editor line of each event, for error messages.
    lines: Rc<[i64]>,
    pub trace: Rc<Trace>,
    /// The quiz on the current trace.
    pub quiz: Rc<[Question]>,
    /// Counts folds, so views holding answers to an older log start afresh.
    pub generation: u64,
    pub rows: Rc<[Row]>,
    pub cursor: Cursor,
    pub frame: Rc<Frame>,
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// The scan's invariant, exactly as typed (empty: no scan).
    pub invariant_text: String,
    /// Why the invariant's text does not parse.
    pub invariant_error: Option<String>,
    /// The rows that break the invariant: their step and the line the list shows.
    pub violations: Rc<[(u64, String)]>,
    /// The second projection of the comparison (empty: none).
    pub compare_name: String,
    /// The log folded with the current projection and with `compare_name`.
    pub comparison: Option<Rc<Comparison>>,
    /// The log against its compacted form.
    pub compaction: Rc<Comparison>,
}

pub enum Action {
    /// Opens a lesson at a step (1 when `None`).
    Open(&'static str, Option<u64>),
    /// Follows a link: another lesson opens afresh; a step of the open lesson is
    /// only a seek, so edits to its log survive.
    Follow(&'static str, Option<u64>),
    Back,
    Forward,
    Seek(u64),
    Reset,
    End,
    TogglePlay,
    /// One timer tick while playing: a step forward, stopping at the end.
    Tick,
    Speed(usize),
    EditEvents(String),
    PickProjection(String),
    EditProjection(String),
    /// Issues one of the lesson's commands: its event is appended to the log, and
    /// the replay moves to the end to show what it did.
    Command(usize),
    /// The scan's invariant was edited.
    EditInvariant(String),
    /// Picks the projection to compare with (empty: none).
    PickCompare(String),
}

/// A folded log and what the page lists of it.
struct Folded {
    trace: Rc<Trace>,
    rows: Rc<[Row]>,
    log_errors: Rc<[LogError]>,
    lines: Rc<[i64]>,
    quiz: Rc<[Question]>,
}

impl Folded {
    /// Folds `events`, the editor's lines `lines` (one per event).
    fn new(projection: Arc<dyn Projection>, events: Vec<Envelope>, lines: Rc<[i64]>) -> Folded {
        let trace = Trace::new(projection, Mode::Lenient, events);
        let log_errors = trace
            .outcomes()
            .iter()
            .enumerate()
            .filter_map(|(index, outcome)| {
                Some(LogError {
                    message: lesson::editor_error(
                        lines.get(index).copied().unwrap_or(index as i64),
                        outcome.error()?,
                    ),
                    step: trace.step_of(index, Phase::Apply),
                })
            })
            .collect();
        Folded {
            rows: replay::rows(&trace),
            quiz: quiz::questions(&trace).into(),
            log_errors,
            lines,
            trace: Rc::new(trace),
        }
    }
}

impl Sim {
    /// Lesson `id` at `step`; an unknown id opens the first lesson.
    pub fn open(id: &str, step: Option<u64>) -> Sim {
        let lesson = scenario::by_id(id).unwrap_or_else(scenario::bank);
        let name = lesson.projection.name().to_owned();
        let events_text = lesson::ndjson_text(&lesson.events);
        // The editor shows one event per line, so event i is on line i.
        let lines = (0..lesson.events.len() as i64).collect();
        let folded = Folded::new(lesson.projection.clone(), lesson.events, lines);
        let mut cursor = Cursor::default();
        cursor.seek(step.unwrap_or(1), &folded.trace);
        let compaction = Rc::new(compare::compaction(&folded.trace));
        Sim {
            lesson: lesson.id,
            title: lesson.title,
            explanation: lesson.explanation,
            notes: lesson.notes.into(),
            commands: lesson.commands.into(),
            topic: lesson.topic,
            events_text,
            projection_text: decl::twin(&name)
                .map(str::to_owned)
                .or_else(|| lesson.spec.clone())
                .unwrap_or_default(),
            lesson_projection: builtin::by_name(&name)
                .is_none()
                .then(|| (lesson.projection.clone(), lesson.spec.clone())),
            projection_name: name,
            spec_error: None,
            frame: Rc::new(Frame::at(&folded.trace, cursor.step())),
            cursor,
            log_errors: folded.log_errors,
            lines: folded.lines,
            quiz: folded.quiz,
            generation: 0,
            rows: folded.rows,
            trace: folded.trace,
            playing: false,
            speed: 1,
            invariant_text: String::new(),
            invariant_error: None,
            violations: Rc::new([]),
            compare_name: String::new(),
            comparison: None,
            compaction,
        }
    }

    /// Lesson `id` at `step` (the stored step when `None`), with a stored session's
    /// edits when it is of the same lesson: a reload keeps the log, the projection
    /// and the step; a link to another lesson opens that lesson afresh.
    pub fn resume(id: &str, step: Option<u64>, saved: Option<Session>) -> Sim {
        let sim = Sim::open(id, step);
        let Some(saved) = saved.filter(|saved| saved.lesson == sim.lesson) else {
            return sim;
        };
        let mut sim = Rc::new(sim);
        if saved.events != sim.events_text {
            sim = sim.reduce(Action::EditEvents(saved.events));
        }
        if saved.projection == CUSTOM {
            sim = sim.reduce(Action::EditProjection(saved.spec));
        } else if saved.projection != sim.projection_name {
            sim = sim.reduce(Action::PickProjection(saved.projection));
        }
        sim = sim.reduce(Action::Seek(step.unwrap_or(saved.step)));
        Rc::unwrap_or_clone(sim)
    }

    /// What a reload keeps.
    pub fn session(&self) -> Session {
        Session {
            lesson: self.lesson.to_owned(),
            events: self.events_text.clone(),
            projection: self.projection_name.clone(),
            spec: self.projection_text.clone(),
            step: self.step(),
        }
    }

    /// A projection the pickers offer by name: a built-in or the lesson's own.
    fn projection_named(&self, name: &str) -> Option<Arc<dyn Projection>> {
        builtin::by_name(name).or_else(|| {
            self.lesson_projection
                .as_ref()
                .filter(|(projection, _)| projection.name() == name)
                .map(|(projection, _)| projection.clone())
        })
    }

    /// Folds the log again for the comparisons, once per fold or pick.
    fn compare(&mut self) {
        self.comparison = self
            .projection_named(&self.compare_name)
            .map(|other| Rc::new(compare::projections(&self.trace, other)));
        self.compaction = Rc::new(compare::compaction(&self.trace));
    }

    /// Checks the invariant over the whole trace, once per fold or edit of it.
    fn scan(&mut self) {
        let parsed = (!self.invariant_text.trim().is_empty())
            .then(|| Invariant::parse(&self.invariant_text))
            .transpose();
        self.invariant_error = parsed.as_ref().err().map(ToString::to_string);
        self.violations = match parsed {
            Ok(Some(invariant)) => invariant
                .scan(&self.trace)
                .iter()
                .map(|violation| (violation.step, violation.text()))
                .collect(),
            _ => Rc::new([]),
        };
    }

    /// Replaces the trace, keeping the cursor's row where the new trace still has it.
    fn set(&mut self, folded: Folded) {
        self.trace = folded.trace;
        self.rows = folded.rows;
        self.log_errors = folded.log_errors;
        self.lines = folded.lines;
        self.quiz = folded.quiz;
        self.generation += 1;
        self.scan();
        self.compare();
        self.move_to(self.cursor.step());
    }

    fn move_to(&mut self, step: u64) {
        self.cursor.seek(step, &self.trace);
        self.frame = Rc::new(Frame::at(&self.trace, self.cursor.step()));
    }

    pub fn step(&self) -> u64 {
        self.cursor.step()
    }

    pub fn steps(&self) -> u64 {
        self.trace.len()
    }

    pub fn at_end(&self) -> bool {
        self.step() == self.steps()
    }

    /// The console as it stands at the current step.
    pub fn console(&self) -> Vec<String> {
        replay::console_until(&self.rows, self.step())
    }

    /// Re-folds the editor's log with the current projection.
    fn refold(&mut self) {
        let log = lesson::parse_editor(self.topic, &self.events_text);
        self.set(Folded::new(
            self.trace.projection().clone(),
            log.events,
            log.lines.into(),
        ));
    }

    /// Folds the current log with another projection.
    fn use_projection(&mut self, projection: Arc<dyn Projection>) {
        self.set(Folded::new(
            projection,
            self.trace.events().to_vec(),
            self.lines.clone(),
        ));
    }
}

impl Reducible for Sim {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut sim = (*self).clone();
        match action {
            Action::Open(id, step) => {
                let speed = sim.speed;
                sim = Sim::open(id, step);
                sim.speed = speed;
            }
            Action::Follow(id, step) if id == sim.lesson => sim.move_to(step.unwrap_or(1)),
            Action::Follow(id, step) => {
                let speed = sim.speed;
                sim = Sim::open(id, step);
                sim.speed = speed;
            }
            Action::Back => sim.move_to(sim.step().saturating_sub(1)),
            Action::Forward => sim.move_to(sim.step() + 1),
            Action::Seek(step) => sim.move_to(step),
            Action::Reset => {
                sim.playing = false;
                sim.move_to(1);
            }
            Action::End => sim.move_to(sim.steps()),
            Action::TogglePlay => {
                // Play from the end starts the replay over, as a player does.
                if !sim.playing && sim.at_end() {
                    sim.move_to(1);
                }
                sim.playing = !sim.playing;
            }
            Action::Tick => {
                if sim.playing {
                    sim.move_to(sim.step() + 1);
                    sim.playing = !sim.at_end();
                }
            }
            Action::Speed(speed) => sim.speed = speed.min(SPEEDS.len() - 1),
            Action::EditEvents(text) => {
                sim.events_text = text;
                sim.refold();
            }
            Action::PickProjection(name) => {
                let own = sim
                    .lesson_projection
                    .clone()
                    .filter(|(projection, _)| projection.name() == name);
                if let Some(projection) = builtin::by_name(&name) {
                    sim.projection_text = decl::twin(&name).unwrap_or_default().to_owned();
                    sim.projection_name = name;
                    sim.spec_error = None;
                    sim.use_projection(projection);
                } else if let Some((projection, spec)) = own {
                    sim.projection_text = spec.unwrap_or_default();
                    sim.projection_name = name;
                    sim.spec_error = None;
                    sim.use_projection(projection);
                }
            }
            Action::EditProjection(text) => {
                let parsed = Spec::parse(&text);
                sim.projection_text = text;
                match parsed {
                    Ok(spec) => {
                        sim.projection_name = CUSTOM.to_owned();
                        sim.spec_error = None;
                        sim.use_projection(Arc::new(spec));
                    }
                    Err(error) => sim.spec_error = Some(error.to_string()),
                }
            }
            Action::Command(index) => {
                if let Some(command) = sim.commands.get(index).cloned() {
                    // Appended to the editor's text, so the event is there to see and
                    // edit, and nothing typed before is lost.
                    if !sim.events_text.is_empty() && !sim.events_text.ends_with('\n') {
                        sim.events_text.push('\n');
                    }
                    sim.events_text.push_str(&command.line);
                    sim.events_text.push('\n');
                    sim.refold();
                    sim.playing = false;
                    sim.move_to(sim.steps());
                }
            }
            Action::EditInvariant(text) => {
                sim.invariant_text = text;
                sim.scan();
            }
            Action::PickCompare(name) => {
                sim.compare_name = name;
                sim.compare();
            }
        }
        Rc::new(sim)
    }
}
