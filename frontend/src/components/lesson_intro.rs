use yew::prelude::*;

/// What the lesson teaches, and the results core computed for it that the table
/// does not show.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn lesson_intro(explanation: &str, notes: &[String]) -> Html {
    html! {
        <section class="intro" aria-label="About this lesson">
            <p data-testid="lesson-explanation">{ explanation }</p>
            if !notes.is_empty() {
                <ul class="notes" data-testid="lesson-notes">
                    { for notes.iter().map(|note| html! { <li>{ note }</li> }) }
                </ul>
            }
        </section>
    }
}
