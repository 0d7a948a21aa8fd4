//! The eventfold page: step through an event-sourced replay.
//!
//! Pick a lesson, step through its process table, and see every view of the same
//! step at once: the process flow, the topic's log, the state with its changes, the
//! status tracker and the console; edit the log or the projection and the history
//! re-folds. Every string shown is computed by `eventfold-core`; the app only holds
//! the simulator's state ([`state`]) and the components lay it out.
//!
//! The parts it lays out live in the library (`lib.rs`, whose `# Layout` lists
//! them), so the component tests in `frontend/tests` can render them one by one.

use eventfold_frontend::{components, hooks, keep, replay, state, url};

use eventfold_core::{builtin, edit, keep as kept, quiz};
use yew::prelude::*;

use components::announcer::Announcer;
use components::big_log::{BigLogProps, big_log};
use components::commands::Commands;
use components::compare::{CompareProps, compare};
use components::console::{ConsoleProps, console};
use components::controls::Controls;
use components::event_editor::{EventEditorProps, event_editor};
use components::flow::flow;
use components::keep::{KeepProps, export_import};
use components::key_moment::key_moment;
use components::lesson_intro::lesson_intro;
use components::process_table::ProcessTable;
use components::projection_editor::{ProjectionEditorProps, projection_editor};
use components::quiz::Quiz;
use components::scan::{ScanProps, scan};
use components::scenario_select::{ScenarioSelectProps, scenario_select};
use components::share::Share;
use components::state_view::StateView;
use components::topic_log::{EventEdit, TopicLog};
use components::tracker::tracker;
use hooks::use_hash_change::use_hash_change;
use hooks::use_interval::use_interval;
use hooks::use_keys::{Key, use_keys};
use hooks::use_projector::use_projector;
use state::{Action, SPEEDS};

#[component]
fn App() -> Html {
    // The address the page opened with: its lesson, step and any shared log.
    let opened = use_memo((), |_| url::read());
    let sim = use_reducer({
        let opened = opened.clone();
        move || url::open(&opened, keep::load())
    });
    let choices = use_memo((), |_| replay::choices());
    let dispatcher = sim.dispatcher();
    let send = |make: fn(String) -> Action| {
        let dispatcher = dispatcher.clone();
        Callback::from(move |text: String| dispatcher.dispatch(make(text)))
    };
    let on_action = {
        let dispatcher = dispatcher.clone();
        Callback::from(move |action: Action| dispatcher.dispatch(action))
    };
    let on_pick = {
        let dispatcher = dispatcher.clone();
        Callback::from(move |step: u64| dispatcher.dispatch(Action::Seek(step)))
    };
    let on_select = {
        let dispatcher = dispatcher.clone();
        Callback::from(move |id: &'static str| dispatcher.dispatch(Action::Open(id, None)))
    };

    let period = sim
        .playing
        .then(|| 1000 / SPEEDS[sim.speed.min(SPEEDS.len() - 1)] as i32);
    use_interval(period, {
        let dispatcher = dispatcher.clone();
        Callback::from(move |()| dispatcher.dispatch(Action::Tick))
    });
    use_keys({
        let dispatcher = dispatcher.clone();
        Callback::from(move |key: Key| {
            dispatcher.dispatch(match key {
                Key::Back => Action::Back,
                Key::Forward => Action::Forward,
                Key::PlayPause => Action::TogglePlay,
                Key::First => Action::Reset,
                Key::Last => Action::End,
            })
        })
    });
    use_hash_change({
        let dispatcher = dispatcher.clone();
        Callback::from(move |()| {
            for action in url::follow(url::read()) {
                dispatcher.dispatch(action);
            }
        })
    });
    // The log's and the projection's part of the address, worked out once per fold
    // (an edit or a pick), not per step.
    let carried = use_memo((sim.lesson, sim.generation), {
        let sim = sim.clone();
        move |_| url::carried(&sim)
    });
    // The address and the stored step, written once stepping or scrubbing pauses
    // (and when the page is left), not on every frame of a scrub.
    url::use_address(sim.lesson, sim.step(), carried.clone());
    // The link this page opened with is noted as it was read until anything changes.
    let opened_generation = use_memo((), {
        let generation = sim.generation;
        move |_| generation
    });
    // Every fold (an edit, a pick) is stored, so a reload resumes; the log only when
    // it changed, so stepping through a big one stays cheap.
    use_effect_with((sim.lesson, sim.generation), {
        let sim = sim.clone();
        move |_| keep::save(&sim.session())
    });
    keep::use_import(sim.import_progress(), {
        let dispatcher = dispatcher.clone();
        Callback::from(move |()| dispatcher.dispatch(Action::ImportMore))
    });
    let on_export_log = {
        let sim = sim.clone();
        Callback::from(move |()| {
            keep::download(
                &format!("{}.ndjson", sim.lesson),
                "application/x-ndjson",
                &sim.events_text,
            )
        })
    };
    let on_export_trace = {
        let sim = sim.clone();
        Callback::from(move |()| {
            if sim.big() {
                // The button is disabled then; a stray event must not build gigabytes.
                return;
            }
            let text = kept::trace_json(&sim.trace);
            keep::download(
                &format!("{}-trace.json", sim.lesson),
                "application/json",
                &text,
            )
        })
    };
    let on_import = {
        let dispatcher = dispatcher.clone();
        Callback::from(move |file: web_sys::File| {
            let dispatcher = dispatcher.clone();
            // Read, then folded in slices with its progress shown (state::Action::Import).
            dispatcher.dispatch(Action::Reading(file.name()));
            keep::read(file, move |text| dispatcher.dispatch(Action::Import(text)));
        })
    };
    // For docs/perf.md: the time from navigation to the first rendered table, read
    // by scripts/page-smoke through the Performance API.
    use_effect_with((), |_| {
        if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
            let _ = performance.mark("eventfold:first-table");
        }
    });

    let on_command = {
        let dispatcher = dispatcher.clone();
        Callback::from(move |line: String| dispatcher.dispatch(Action::Command(line)))
    };
    // The topic log's buttons edit one line of the text; the replay stays where it is.
    let on_event_edit = {
        let sim = sim.clone();
        let dispatcher = dispatcher.clone();
        Callback::from(move |wanted: EventEdit| {
            let edited = match wanted {
                EventEdit::Delete { partition, offset } => {
                    edit::delete(&sim.events_text, partition, offset)
                }
                EventEdit::InsertCopyBefore { partition, offset } => {
                    edit::insert_copy_before(&sim.events_text, partition, offset)
                }
            };
            if let Some(text) = edited {
                dispatcher.dispatch(Action::EditEvents(text));
            }
        })
    };

    let (projector, toggle_projector) = use_projector();
    // The quiz's question on the step the learner is on, asked afresh at each step.
    let step_question = use_memo((sim.lesson, sim.generation, sim.step()), {
        let sim = sim.clone();
        move |(_, _, step)| quiz::at_step(&sim.trace, *step).map(std::rc::Rc::new)
    });

    let frame = sim.frame.clone();
    html! {
        <main>
            <header>
                <h1>{ "eventfold" }</h1>
                { scenario_select(&ScenarioSelectProps { choices: (*choices).clone(), selected: sim.lesson, on_select }) }
                <button data-testid="projector" class="projector-toggle"
                    aria-pressed={projector.to_string()}
                    title="Large type and high contrast, for a classroom projector"
                    onclick={Callback::from(move |_: MouseEvent| toggle_projector.emit(()))}>
                    { "Projector mode" }
                </button>
            </header>
            <Announcer frame={frame.clone()} />
            <h2>{ sim.title }</h2>
            { lesson_intro(sim.explanation, &sim.notes) }
            <Controls step={sim.step()} steps={sim.steps()} playing={sim.playing}
                speed={sim.speed} on_action={on_action} busy={sim.busy.clone()} />
            <Share link={carried.clone()}
                unreadable={(sim.generation == *opened_generation && sim.lesson == opened.id)
                    .then(|| opened.unreadable())
                    .flatten()} />
            <Commands key={sim.lesson} commands={sim.commands.clone()} on_command={on_command} />
            { flow(frame.step.phase.stages()) }
            <div class="now">
                <StateView frame={frame.clone()} />
                { key_moment(&frame.step.phase.key_moment()) }
                <section class="console-box" aria-labelledby="console-heading">
                    <h3 id="console-heading">{ "Console" }</h3>
                    { console(&ConsoleProps { lines: sim.console() }) }
                </section>
            </div>
            <ProcessTable trace={sim.trace.clone()} current={sim.step()} on_pick={on_pick.clone()} />
            <TopicLog topic={sim.topic} frame={frame.clone()} on_edit={on_event_edit} />
            { tracker(&frame) }
            { scan(&ScanProps {
                text: sim.invariant_text.clone(),
                error: sim.invariant_error.clone(),
                violations: sim.violations.clone(),
                on_edit: send(Action::EditInvariant),
                on_pick: on_pick.clone(),
            }) }
            { compare(&CompareProps {
                names: &builtin::NAMES[..],
                own: sim.lesson_projection.as_ref().map(|(p, _)| p.name().to_owned()),
                selected: sim.compare_name.clone(),
                comparison: sim.comparison.clone(),
                compaction: sim.compaction.clone(),
                on_pick: send(Action::PickCompare),
                on_step: on_pick.clone(),
            }) }
            <Quiz key={format!("{}-{}", sim.lesson, sim.generation)} questions={sim.quiz.clone()}
                current={(*step_question).clone()} on_pick={on_pick.clone()} />
            { export_import(&KeepProps {
                on_export_log,
                on_export_trace,
                trace_off: sim.trace_export_off(),
                on_import,
            }) }
            <div class="editors">
                if sim.big() {
                    { big_log(&BigLogProps {
                        text: sim.events_text.clone(),
                        events: sim.trace.events().len(),
                        errors: sim.log_errors.clone(),
                        on_pick,
                    }) }
                } else {
                    { event_editor(&EventEditorProps {
                        text: sim.events_text.to_string(),
                        errors: sim.log_errors.clone(),
                        on_edit: send(Action::EditEvents),
                        on_pick,
                    }) }
                }
                { projection_editor(&ProjectionEditorProps {
                    names: &builtin::NAMES[..],
                    selected: sim.projection_name.clone(),
                    own: sim.lesson_projection.as_ref().map(|(p, _)| p.name().to_owned()),
                    text: sim.projection_text.clone(),
                    error: sim.spec_error.clone(),
                    on_pick: send(Action::PickProjection),
                    on_edit: send(Action::EditProjection),
                }) }
            </div>
        </main>
    }
}

/// The lessons; a `#live…` address (followed or pasted) opens live mode's own page,
/// `live/` (`eventfold_frontend::live`), which this page's download does not carry.
#[component]
fn Root() -> Html {
    let live =
        use_state(|| eventfold_frontend::live::is_live(&eventfold_frontend::live::current_hash()));
    use_hash_change({
        let live = live.clone();
        Callback::from(move |()| {
            live.set(eventfold_frontend::live::is_live(
                &eventfold_frontend::live::current_hash(),
            ))
        })
    });
    use_effect_with(*live, |live| {
        if *live {
            eventfold_frontend::live::open_live_page();
        }
    });
    if *live {
        html! { <p>{ "Opening live mode…" }</p> }
    } else {
        html! { <App /> }
    }
}

fn main() {
    yew::Renderer::<Root>::new().render();
}
