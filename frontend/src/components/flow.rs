use eventfold_core::lesson::Stage;
use yew::prelude::*;

/// Seed 001's process flow, Command → Event → Append to topic → Stored → Replay →
/// State, with `lit` (the current step's stages, core's `Phase::stages`) lit.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn flow(lit: &[Stage]) -> Html {
    html! {
        <ol class="flow" data-testid="flow" aria-label="Process flow">
            { for Stage::ALL.iter().map(|stage| {
                let lit = lit.contains(stage);
                html! {
                    // No aria-current here: that marks the process table's current row
                    // alone, for screen readers and tests alike.
                    <li class={classes!(lit.then_some("lit"))} data-lit={lit.to_string()}>
                        { stage.label() }
                        if lit {
                            <span class="visually-hidden">{ " (now)" }</span>
                        }
                    </li>
                }
            }) }
        </ol>
    }
}
