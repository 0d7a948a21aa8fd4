use eventfold_core::lesson::KeyMoment;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct KeyMomentProps {
    pub moment: KeyMoment,
}

/// The key moment that explains the current step.
#[component]
pub fn KeyMomentCard(props: &KeyMomentProps) -> Html {
    html! {
        <aside class="moment" data-testid="key-moment" aria-live="polite">
            <p class="kicker">{ "Key moment" }</p>
            <h3>{ props.moment.question }</h3>
            <p>{ props.moment.answer }</p>
        </aside>
    }
}
