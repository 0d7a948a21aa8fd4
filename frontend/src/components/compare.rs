use std::rc::Rc;

use eventfold_core::compare::Comparison;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

pub struct CompareProps {
    /// The built-in projections' names.
    pub names: &'static [&'static str],
    /// The lesson's own projection, when it is not a built-in.
    pub own: Option<String>,
    /// The projection compared with (empty: none).
    pub selected: String,
    pub comparison: Option<Rc<Comparison>>,
    /// `None` for a big log, which is not folded again to compare (the box says so).
    pub compaction: Option<Rc<Comparison>>,
    pub on_pick: Callback<String>,
    /// Jumps to the first step where the projections differ.
    pub on_step: Callback<u64>,
}

/// Two final states side by side, with the sentence core says about them.
fn sides(comparison: &Comparison, left: String, right: String) -> Html {
    html! {
        <table class="sides">
            <tr><th scope="row">{ left }</th>
                <td data-testid="compare-left">{ &comparison.left.state }</td></tr>
            <tr><th scope="row">{ right }</th>
                <td data-testid="compare-right">{ &comparison.right.state }</td></tr>
        </table>
    }
}

/// The log folded by a second projection ("replay with new logic"), and the log
/// against its compacted form.
///
/// A plain function rather than a component: it has no state of its own, the app
/// hands it a new callback on every render (so a component would re-render every time
/// too), and each component costs about 650 B of the page's gzipped wasm in Yew's
/// per-component code (docs/perf.md, "Page size").
pub fn compare(props: &CompareProps) -> Html {
    let onchange = {
        let on_pick = props.on_pick.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<HtmlSelectElement>() {
                on_pick.emit(select.value());
            }
        })
    };
    let names = props
        .own
        .iter()
        .map(String::as_str)
        .chain(props.names.iter().copied());
    html! {
        <section class="compare" data-testid="compare" aria-labelledby="compare-heading">
            <h3 id="compare-heading">{ "Compare" }</h3>
            <label>
                { "Replay with new logic: also fold this log with " }
                <select data-testid="compare-select" {onchange}>
                    <option value="" selected={props.selected.is_empty()}>{ "(pick a projection)" }</option>
                    { for names.map(|name| html! {
                        <option value={name.to_owned()} selected={name == props.selected}>{ name }</option>
                    }) }
                </select>
            </label>
            if let Some(comparison) = &props.comparison {
                <div data-testid="compare-projections">
                    { sides(comparison, format!("{} (now)", comparison.left.projection),
                        comparison.right.projection.clone()) }
                    <p data-testid="compare-verdict">
                        { &comparison.verdict }{ " " }
                        if let Some(step) = comparison.first_difference {
                            <button class="link" onclick={
                                let on_step = props.on_step.clone();
                                Callback::from(move |_: MouseEvent| on_step.emit(step))
                            }>{ format!("show step {step}") }</button>
                        }
                    </p>
                </div>
            }
            <div data-testid="compare-compaction">
                <h4>{ "The full log vs its compacted form" }</h4>
                if let Some(compaction) = &props.compaction {
                    { sides(compaction, format!("Full log ({} records)", compaction.left.records),
                        format!("Compacted ({} records)", compaction.right.records)) }
                    <p data-testid="compare-verdict">{ &compaction.verdict }</p>
                } else {
                    <p class="note" data-testid="compare-skipped">
                        { format!("Not compared: comparing folds the whole log again on every edit, \
                            so it runs on logs of up to {} events, and this one is bigger.",
                            crate::state::BIG_LOG_EVENTS) }
                    </p>
                }
            </div>
        </section>
    }
}
