use std::rc::Rc;

use eventfold_core::lesson;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::state::LogError;

pub struct EventEditorProps {
    pub text: String,
    pub errors: Rc<[LogError]>,
    pub on_edit: Callback<String>,
    /// Jumps to an error's step.
    pub on_pick: Callback<u64>,
}

/// The log as NDJSON, one event per line (offset = line index). Every edit re-folds
/// the whole history; each bad line is listed with the step that shows it.
///
/// A plain function rather than a component: it has no state of its own, the app
/// hands it a new callback on every render (so a component would re-render every time
/// too), and each component costs about 650 B of the page's gzipped wasm in Yew's
/// per-component code (docs/perf.md, "Page size").
pub fn event_editor(props: &EventEditorProps) -> Html {
    let oninput = {
        let on_edit = props.on_edit.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event.target_dyn_into::<HtmlTextAreaElement>() {
                on_edit.emit(area.value());
            }
        })
    };
    html! {
        <section class="editor">
            <label for="event-editor"><h3>{ "Events (NDJSON, one per line)" }</h3></label>
            <textarea id="event-editor" data-testid="event-editor" spellcheck="false"
                rows="8" value={props.text.clone()} {oninput} />
            <p class="muted">{ lesson::EDITOR_HINT }</p>
            { error_list(&props.errors, &props.on_pick) }
        </section>
    }
}

/// The log's errors, each with a button that jumps to the row that shows it (the
/// editor and the big log's preview list them alike).
pub fn error_list(errors: &[LogError], on_pick: &Callback<u64>) -> Html {
    if errors.is_empty() {
        return Html::default();
    }
    html! {
        <ul class="errors">
            { for errors.iter().map(|error| {
                let on_pick = on_pick.clone();
                let step = error.step;
                html! {
                    <li class="error" data-testid="error" role="alert">
                        { &error.message }{ " " }
                        <button class="link" onclick={Callback::from(move |_: MouseEvent| on_pick.emit(step))}>
                            { format!("show step {step}") }
                        </button>
                    </li>
                }
            }) }
        </ul>
    }
}
