use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::state::CUSTOM;

#[derive(PartialEq)]
pub struct ProjectionEditorProps {
    /// The built-in projections' names.
    pub names: &'static [&'static str],
    /// The lesson's own projection, when it is not a built-in.
    pub own: Option<String>,
    /// The selected name, or [`CUSTOM`].
    pub selected: String,
    pub text: String,
    pub error: Option<String>,
    pub on_pick: Callback<String>,
    pub on_edit: Callback<String>,
}

/// Picks a built-in projection, or edits a declarative one starting from the
/// built-in's twin. A spec mistake is shown while the last good projection keeps
/// folding.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn projection_editor(props: &ProjectionEditorProps) -> Html {
    let onchange = {
        let on_pick = props.on_pick.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<HtmlSelectElement>() {
                on_pick.emit(select.value());
            }
        })
    };
    let oninput = {
        let on_edit = props.on_edit.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event.target_dyn_into::<HtmlTextAreaElement>() {
                on_edit.emit(area.value());
            }
        })
    };
    let custom = props.selected == CUSTOM;
    html! {
        <section class="editor">
            <h3>
                <label>
                    { "Projection " }
                    <select data-testid="projection-select" {onchange}>
                        if let Some(own) = &props.own {
                            <option value={own.clone()} selected={*own == props.selected}>
                                { format!("{own} (this lesson's)") }
                            </option>
                        }
                        { for props.names.iter().map(|name| html! {
                            <option value={*name} selected={*name == props.selected}>{ *name }</option>
                        }) }
                        <option value={CUSTOM} selected={custom} disabled={!custom}>
                            { "custom (declarative)" }
                        </option>
                    </select>
                </label>
            </h3>
            <textarea data-testid="projection-editor" spellcheck="false" rows="8"
                aria-label="Declarative projection (JSON)" value={props.text.clone()} {oninput} />
            if let Some(error) = &props.error {
                <p class="error" data-testid="error" role="alert">
                    { format!("Projection not applied: {error}") }
                </p>
            } else {
                <p class="muted">{ "Edit the spec to fold the log with your own rules." }</p>
            }
        </section>
    }
}
