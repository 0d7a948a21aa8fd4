use std::rc::Rc;

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::replay::Choice;

#[derive(PartialEq)]
pub struct ScenarioSelectProps {
    pub choices: Rc<[Choice]>,
    pub selected: &'static str,
    pub on_select: Callback<&'static str>,
}

/// The scenario picker.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn scenario_select(props: &ScenarioSelectProps) -> Html {
    let onchange = {
        let choices = props.choices.clone();
        let on_select = props.on_select.clone();
        Callback::from(move |event: Event| {
            let Some(select) = event.target_dyn_into::<HtmlSelectElement>() else {
                return;
            };
            // Hand back the &'static id from the list rather than the DOM's string,
            // so only ids core knows can be selected.
            let value = select.value();
            if let Some(choice) = choices.iter().find(|c| c.id == value) {
                on_select.emit(choice.id);
            }
        })
    };

    html! {
        <label class="scenario">
            { "Lesson " }
            <select data-testid="scenario-select" {onchange}>
                { for props.choices.iter().map(|c| html! {
                    <option value={c.id} selected={c.id == props.selected}>{ c.title }</option>
                }) }
            </select>
        </label>
    }
}
