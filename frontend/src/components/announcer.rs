use std::rc::Rc;

use eventfold_core::display;
use eventfold_core::lesson::Frame;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct AnnouncerProps {
    pub frame: Rc<Frame>,
}

/// A line a screen reader reads out whenever the step changes: where we are, what
/// the step does and the state after it, as the process table's row says them.
/// Hidden from sight: the views already show it all.
#[component]
pub fn Announcer(props: &AnnouncerProps) -> Html {
    let step = &props.frame.step;
    let mut text = format!(
        "Step {} of {}: {}. State: {}.",
        step.step,
        props.frame.steps,
        step.action,
        display::js(&step.state)
    );
    if let Some(error) = &step.error {
        text.push_str(&format!(" Error: {error}."));
    }
    html! {
        <p class="visually-hidden" data-testid="announcer" role="status" aria-live="polite"
            aria-atomic="true">{ text }</p>
    }
}
