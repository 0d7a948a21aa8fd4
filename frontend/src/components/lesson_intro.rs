use std::rc::Rc;

use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct LessonIntroProps {
    pub explanation: &'static str,
    pub notes: Rc<[String]>,
}

/// What the lesson teaches, and the results core computed for it that the table
/// does not show.
#[component]
pub fn LessonIntro(props: &LessonIntroProps) -> Html {
    html! {
        <section class="intro" aria-label="About this lesson">
            <p data-testid="lesson-explanation">{ props.explanation }</p>
            if !props.notes.is_empty() {
                <ul class="notes" data-testid="lesson-notes">
                    { for props.notes.iter().map(|note| html! { <li>{ note }</li> }) }
                </ul>
            }
        </section>
    }
}
