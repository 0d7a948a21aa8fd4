//! The eventfold page: replays one of core's scenarios as the seeds' process table.
//!
//! This is the placeholder page: a scenario picker, the process table and a console.
//! Every string it shows is computed by `eventfold-core` (see [`replay`]); the
//! components only lay that text out.

mod components;
mod replay;
mod url;

use yew::prelude::*;

use components::console::Console;
use components::process_table::ProcessTable;
use components::scenario_select::ScenarioSelect;
use replay::Replay;

#[component]
fn App() -> Html {
    let selected = use_state(url::scenario);
    // Folding is cheap for the lessons, but re-rendering must not refold: the
    // trace is recomputed only when another scenario is picked.
    let replay = use_memo(*selected, |id| Replay::of(id));
    let choices = use_memo((), |_| replay::choices());

    let on_select = {
        let selected = selected.clone();
        Callback::from(move |id: &'static str| {
            url::show_scenario(id);
            selected.set(id);
        })
    };

    html! {
        <main>
            <header>
                <h1>{ "eventfold" }</h1>
                <ScenarioSelect choices={(*choices).clone()} selected={*selected} {on_select} />
            </header>
            <h2>{ replay.title }</h2>
            <p class="topic">{ "Topic " }<code>{ replay.topic }</code></p>
            <ProcessTable rows={replay.rows.clone()} />
            <h3>{ "Console" }</h3>
            <Console lines={replay.console.clone()} />
        </main>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
