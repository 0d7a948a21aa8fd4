use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

pub struct ScanProps {
    pub text: String,
    pub error: Option<String>,
    /// Each violation's step and its line.
    pub violations: Rc<[(u64, String)]>,
    pub on_edit: Callback<String>,
    /// Jumps to a violation's step.
    pub on_pick: Callback<u64>,
}

/// An invariant checked over the whole log, with the rows that break it.
///
/// A plain function rather than a component: it has no state of its own, the app
/// hands it a new callback on every render (so a component would re-render every time
/// too), and each component costs about 650 B of the page's gzipped wasm in Yew's
/// per-component code (docs/perf.md, "Page size").
pub fn scan(props: &ScanProps) -> Html {
    let oninput = {
        let on_edit = props.on_edit.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                on_edit.emit(input.value());
            }
        })
    };
    let checked = !props.text.trim().is_empty() && props.error.is_none();
    html! {
        <section class="scan" aria-labelledby="scan-heading">
            <label for="invariant"><h3 id="scan-heading">{ "Scan: an invariant over the whole log" }</h3></label>
            <input id="invariant" data-testid="invariant" spellcheck="false"
                placeholder="balance >= 0 && balance < 1000" value={props.text.clone()} {oninput} />
            if let Some(error) = &props.error {
                <p class="error" data-testid="error" role="alert">{ error }</p>
            }
            <ul class="violations" data-testid="violations">
                { for props.violations.iter().map(|(step, text)| {
                    let on_pick = props.on_pick.clone();
                    let step = *step;
                    html! {
                        <li><button class="link" data-step={step.to_string()}
                            onclick={Callback::from(move |_: MouseEvent| on_pick.emit(step))}>
                            { text }
                        </button></li>
                    }
                }) }
            </ul>
            if checked && props.violations.is_empty() {
                <p class="muted">{ "Holds after every event." }</p>
            }
        </section>
    }
}
