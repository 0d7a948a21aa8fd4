use eventfold_core::lesson::KeyMoment;
use yew::prelude::*;

/// The key moment that explains the current step.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn key_moment(moment: &KeyMoment) -> Html {
    html! {
        <aside class="moment" data-testid="key-moment" aria-live="polite">
            <p class="kicker">{ "Key moment" }</p>
            <h3>{ moment.question }</h3>
            <p>{ moment.answer }</p>
        </aside>
    }
}
