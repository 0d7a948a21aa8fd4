use eventfold_core::lesson::Stage;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct FlowProps {
    /// The stages the current step lights (core's `Phase::stages`).
    pub lit: &'static [Stage],
}

/// Seed 001's process flow, Command → Event → Append to topic → Stored → Replay →
/// State, with the current step's stages lit.
#[component]
pub fn Flow(props: &FlowProps) -> Html {
    html! {
        <ol class="flow" data-testid="flow" aria-label="Process flow">
            { for Stage::ALL.iter().map(|stage| {
                let lit = props.lit.contains(stage);
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
