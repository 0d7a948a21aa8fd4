use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::state::{Action, SPEEDS};

#[derive(PartialEq, Properties)]
pub struct ControlsProps {
    pub step: u64,
    pub steps: u64,
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    pub on_action: Callback<Action>,
    /// What the page is busy with (an import being folded), shown by the counter.
    #[prop_or_default]
    pub busy: Option<String>,
}

/// The player: step back and forward, play/pause at a speed, reset, jump to the end,
/// a scrubber over every step, and where we are.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let send = |make: fn() -> Action| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(make()))
    };
    let on_scrub = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>()
                && let Ok(step) = input.value().parse()
            {
                on_action.emit(Action::Seek(step));
            }
        })
    };
    let on_speed = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<HtmlSelectElement>()
                && let Ok(speed) = select.value().parse()
            {
                on_action.emit(Action::Speed(speed));
            }
        })
    };
    let first = props.step <= 1;
    let last = props.step >= props.steps;

    html! {
        <div class="controls" role="toolbar" aria-label="Replay controls">
            <button data-testid="reset" onclick={send(|| Action::Reset)} title="Reset (Home)">
                { "⇤ Reset" }
            </button>
            <button data-testid="step-back" onclick={send(|| Action::Back)} disabled={first}
                title="Step back (←)">{ "◀ Back" }</button>
            <button data-testid="play" class="play" onclick={send(|| Action::TogglePlay)}
                aria-pressed={props.playing.to_string()} title="Play / pause (space)">
                { if props.playing { "❚❚ Pause" } else { "▶ Play" } }
            </button>
            <button data-testid="step-forward" onclick={send(|| Action::Forward)} disabled={last}
                title="Step forward (→)">{ "Forward ▶" }</button>
            <button data-testid="jump-end" onclick={send(|| Action::End)} title="Jump to the end (End)">
                { "End ⇥" }
            </button>
            <label class="speed">
                { "Speed " }
                <select data-testid="speed" onchange={on_speed}>
                    { for SPEEDS.iter().enumerate().map(|(i, per_second)| html! {
                        <option value={i.to_string()} selected={i == props.speed}>
                            { format!("{per_second} step{}/s", if *per_second == 1 { "" } else { "s" }) }
                        </option>
                    }) }
                </select>
            </label>
            <input type="range" class="scrubber" data-testid="scrubber" aria-label="Step"
                min="1" max={props.steps.to_string()} value={props.step.to_string()}
                oninput={on_scrub} />
            <span class="counter" data-testid="step-counter" aria-live="polite"
                data-step={props.step.to_string()} data-steps={props.steps.to_string()}>
                { format!("Step {} of {}", props.step, props.steps) }
            </span>
            if let Some(busy) = &props.busy {
                <span class="busy" data-testid="busy" role="status" aria-live="polite">
                    <span class="spinner" aria-hidden="true"></span>{ busy }
                </span>
            }
        </div>
    }
}
