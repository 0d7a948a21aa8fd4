//! The simulator's state and every way it changes ([`Action`]), as a Yew reducer.
//!
//! The reducer only moves data between core's calls: it folds the log with
//! [`Trace::new`], moves a [`Cursor`] and asks [`Frame::at`] what the current step
//! shows. Every edit re-folds the whole history; stepping costs a seek from core's
//! snapshots.
//!
//! Big logs (an imported file of a million events) stay cheap to step through:
//! nothing in [`Sim`] that is cloned per action grows with the log (texts are
//! `Rc<str>`, the trace an `Rc`), the process table asks core for the rows it shows,
//! the console shows its last [`replay::CONSOLE_SHOWN`] lines, and the views that
//! would fold the whole log again (the comparisons, the invariant scan) are switched
//! off above [`BIG_LOG_EVENTS`] with a note saying so. An import is read and folded
//! in slices of [`IMPORT_SLICE`] events between frames ([`Action::ImportMore`]), so
//! the page shows its progress instead of freezing.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use eventfold_core::compare::{self, Comparison};
use eventfold_core::decl::{self, Spec};
use eventfold_core::invariant::Invariant;
use eventfold_core::keep::Session;
use eventfold_core::lesson::{self, EditorReader, Frame};
use eventfold_core::quiz::{self, Question};
use eventfold_core::scenario::Command;
use eventfold_core::{Cursor, Envelope, Mode, Phase, Projection, Trace, builtin, edit, scenario};
use yew::Reducible;

use crate::replay;

/// Playback speeds the speed picker offers, in steps per second.
pub const SPEEDS: [u32; 4] = [1, 2, 4, 8];

/// The projection picker's entry for a projection typed in the editor.
pub const CUSTOM: &str = "custom";

/// Logs of more events than this are big: the comparisons and the invariant scan,
/// which fold the whole log again on every edit, are switched off (the page says so)
/// and the event editor gives way to a read-only preview.
pub const BIG_LOG_EVENTS: usize = 20_000;

/// Errors listed under the event editor; the rest are counted in one more line.
pub const LISTED_ERRORS: usize = 100;

/// Events between two snapshots of the page's traces: a quarter of core's default
/// ([`eventfold_core::trace::SNAPSHOT_EVERY`]), so a step of a big log replays at
/// most 255 events; the lessons' and imported logs' views are small.
pub const SNAPSHOT_EVERY: usize = 256;

/// Events an import reads and folds between two frames of the page (about 30 ms
/// in Chromium on the project's machine).
pub const IMPORT_SLICE: usize = 20_000;

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
    /// The event editor's text, exactly as typed (shared, never copied per action).
    pub events_text: Rc<str>,
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
    /// The log against its compacted form; `None` for a big log.
    pub compaction: Option<Rc<Comparison>>,
    /// What the page is busy with (reading or folding an imported file).
    pub busy: Option<String>,
    /// An import being folded, slice by slice.
    importing: Option<Rc<RefCell<Import>>>,
}

/// An imported text being read and folded in slices.
struct Import {
    text: Rc<str>,
    reader: EditorReader,
    trace: Trace,
    lines: Vec<i64>,
}

impl Import {
    fn new(projection: Arc<dyn Projection>, text: &str) -> Import {
        Import {
            text: text.into(),
            reader: EditorReader::default(),
            trace: Trace::with_snapshot_every(projection, Mode::Lenient, SNAPSHOT_EVERY, []),
            lines: Vec::new(),
        }
    }
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
    /// Issues a command: its event (an NDJSON line) is appended to the editor's
    /// text, so it is there to see and edit and nothing typed before is lost, and the
    /// replay stops at the end to show what it did.
    Command(String),
    /// The scan's invariant was edited.
    EditInvariant(String),
    /// Picks the projection to compare with (empty: none).
    PickCompare(String),
    /// A file is being read (its name): the page says so until it is imported.
    Reading(String),
    /// Replaces the log with an imported NDJSON text, folded in slices; `None`: the
    /// file could not be read, and the log stays as it was.
    Import(Option<String>),
    /// Reads and folds the next slice of an import (sent between frames).
    ImportMore,
}

/// A folded log and what the page lists of it.
struct Folded {
    trace: Rc<Trace>,
    log_errors: Rc<[LogError]>,
    lines: Rc<[i64]>,
    quiz: Rc<[Question]>,
}

impl Folded {
    /// Folds `events`, the editor's lines `lines` (one per event).
    fn new(
        projection: Arc<dyn Projection>,
        events: impl IntoIterator<Item = Envelope>,
        lines: Rc<[i64]>,
    ) -> Folded {
        let trace = Trace::with_snapshot_every(projection, Mode::Lenient, SNAPSHOT_EVERY, events);
        Folded::of(trace, lines)
    }

    /// What the page lists of a folded trace: its errors (the first
    /// [`LISTED_ERRORS`], then a count) and its quiz, which asks a few rows only.
    fn of(trace: Trace, lines: Rc<[i64]>) -> Folded {
        let failures = trace.failures();
        let error = |(index, error): &(usize, eventfold_core::FoldError)| LogError {
            message: lesson::editor_error(
                lines.get(*index).copied().unwrap_or(*index as i64),
                error,
            ),
            step: trace.step_of(*index, Phase::Apply),
        };
        let mut log_errors: Vec<LogError> =
            failures.iter().take(LISTED_ERRORS).map(error).collect();
        if let Some(next) = failures.get(LISTED_ERRORS) {
            log_errors.push(LogError {
                message: format!(
                    "… and {} more bad events, not listed (the next one is {})",
                    failures.len() - LISTED_ERRORS,
                    error(next).message
                ),
                step: error(next).step,
            });
        }
        Folded {
            quiz: quiz::questions(&trace).into(),
            log_errors: log_errors.into(),
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
        let events_text: Rc<str> = lesson::ndjson_text(&lesson.events).into();
        // The editor shows one event per line, so event i is on line i.
        let lines = (0..lesson.events.len() as i64).collect();
        let folded = Folded::new(lesson.projection.clone(), lesson.events, lines);
        let mut cursor = Cursor::default();
        cursor.seek(step.unwrap_or(1), &folded.trace);
        let compaction = Some(Rc::new(compare::compaction(&folded.trace)));
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
            trace: folded.trace,
            playing: false,
            speed: 1,
            invariant_text: String::new(),
            invariant_error: None,
            violations: Rc::new([]),
            compare_name: String::new(),
            comparison: None,
            compaction,
            busy: None,
            importing: None,
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
        if *saved.events != *sim.events_text {
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
            events: self.events_text.to_string(),
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

    /// True when the log has more than [`BIG_LOG_EVENTS`] events.
    pub fn big(&self) -> bool {
        self.trace.events().len() > BIG_LOG_EVENTS
    }

    /// Why the trace is not exported, for a big log: its JSON holds every row (five
    /// per event, each with its state), gigabytes for a million events, which would
    /// take the tab down with the session in it.
    pub fn trace_export_off(&self) -> Option<String> {
        self.big().then(|| {
            format!(
                "Trace export is off for logs over {BIG_LOG_EVENTS} events: this one's trace \
                 has {} rows, too many for one JSON file. Export the log instead; folding it \
                 again gives the same trace.",
                self.trace.len()
            )
        })
    }

    /// Folds the log again for the comparisons, once per fold or pick; not for a big
    /// log, where the compare box says so.
    fn compare(&mut self) {
        if self.big() {
            self.comparison = None;
            self.compaction = None;
            return;
        }
        self.comparison = self
            .projection_named(&self.compare_name)
            .map(|other| Rc::new(compare::projections(&self.trace, other)));
        self.compaction = Some(Rc::new(compare::compaction(&self.trace)));
    }

    /// Checks the invariant over the whole trace, once per fold or edit of it.
    fn scan(&mut self) {
        let parsed = (!self.invariant_text.trim().is_empty())
            .then(|| Invariant::parse(&self.invariant_text))
            .transpose();
        self.invariant_error = parsed.as_ref().err().map(ToString::to_string);
        if self.big() && matches!(parsed, Ok(Some(_))) {
            self.invariant_error = Some(format!(
                "Not scanned: the scan folds the whole log on every edit, so it runs on logs \
                 of up to {BIG_LOG_EVENTS} events, and this one has {}.",
                self.trace.events().len()
            ));
            self.violations = Rc::new([]);
            return;
        }
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

    /// The console as it stands at the current step (its last lines).
    pub fn console(&self) -> Vec<String> {
        replay::console_at(&self.trace, self.step())
    }

    /// How far an import has come: bytes read and the text's size.
    pub fn import_progress(&self) -> Option<(usize, usize)> {
        let import = self.importing.as_ref()?.borrow();
        Some((import.reader.position(), import.text.len()))
    }

    /// Starts folding an imported text, in slices.
    fn import(&mut self, text: String) {
        self.busy = Some(format!("Importing {} of NDJSON…", size(text.len())));
        let import = Import::new(self.trace.projection().clone(), &text);
        self.importing = Some(Rc::new(RefCell::new(import)));
    }

    /// Reads and folds the next [`IMPORT_SLICE`] events of the import; the last
    /// slice puts the imported log in place of the old one, at its first step.
    fn import_more(&mut self) {
        let Some(cell) = self.importing.clone() else {
            return;
        };
        let done = {
            let mut guard = cell.borrow_mut();
            let import = &mut *guard;
            let text = import.text.clone();
            let (reader, lines) = (&mut import.reader, &mut import.lines);
            let slice = std::iter::from_fn(|| {
                let (line, envelope, json) = reader.next_event_text(self.topic, &text)?;
                lines.push(line);
                Some((envelope, json))
            })
            .take(IMPORT_SLICE);
            import.trace.extend_from_text(slice);
            let read = import.reader.position();
            self.busy = Some(format!(
                "Importing: {} events folded, {} of {} read ({}%)…",
                import.trace.events().len(),
                size(read),
                size(text.len()),
                read * 100 / text.len().max(1)
            ));
            read >= text.len()
        };
        if done {
            self.importing = None;
            self.busy = None;
            // The previous state may still share the cell, so its contents are taken
            // out rather than the cell unwrapped.
            let import = cell.replace(Import::new(self.trace.projection().clone(), ""));
            self.events_text = import.text;
            self.set(Folded::of(import.trace, import.lines.into()));
            self.move_to(1);
        }
    }

    /// Re-folds the editor's log with the current projection.
    fn refold(&mut self) {
        let log = lesson::parse_editor(self.topic, &self.events_text);
        let folded = Folded::new(
            self.trace.projection().clone(),
            log.events,
            log.lines.into(),
        );
        self.set(folded);
    }

    /// Folds the current log with another projection.
    fn use_projection(&mut self, projection: Arc<dyn Projection>) {
        let folded = Folded::new(projection, self.trace.events().iter(), self.lines.clone());
        self.set(folded);
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
                sim.events_text = text.into();
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
            Action::Command(line) => {
                sim.events_text = edit::append(&sim.events_text, &line).into();
                sim.refold();
                sim.playing = false;
                sim.move_to(sim.steps());
            }
            Action::EditInvariant(text) => {
                sim.invariant_text = text;
                sim.scan();
            }
            Action::PickCompare(name) => {
                sim.compare_name = name;
                sim.compare();
            }
            Action::Reading(name) => sim.busy = Some(format!("Reading {name}…")),
            Action::Import(Some(text)) => {
                sim.playing = false;
                sim.import(text);
            }
            Action::Import(None) => sim.busy = None,
            Action::ImportMore => sim.import_more(),
        }
        Rc::new(sim)
    }
}

/// A byte count as the page prints it: `812 B`, `1.5 kB`, `31.9 MB` (rounded to the
/// nearest tenth). In integers: printing an `f64` to a precision (`{:.1}`) links
/// 7.7 KB (gzipped, measured) of float formatting into the page (docs/perf.md).
pub fn size(bytes: usize) -> String {
    let (unit, name) = match bytes {
        0..1_000 => return format!("{bytes} B"),
        1_000..999_950 => (100, "kB"),
        _ => (100_000, "MB"),
    };
    let tenths = (bytes + unit / 2) / unit;
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_printed_to_a_tenth() {
        for (bytes, printed) in [
            (0, "0 B"),
            (999, "999 B"),
            (1_000, "1.0 kB"),
            (1_049, "1.0 kB"),
            (1_050, "1.1 kB"),
            (999_949, "999.9 kB"),
            (999_950, "1.0 MB"),
            (31_900_000, "31.9 MB"),
            (31_949_999, "31.9 MB"),
        ] {
            assert_eq!(super::size(bytes), printed, "{bytes} bytes");
        }
    }
}
