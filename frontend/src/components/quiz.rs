use std::rc::Rc;

use eventfold_core::quiz::Question;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct QuizProps {
    pub questions: Rc<[Question]>,
    /// Jumps to the step that shows an answer.
    pub on_pick: Callback<u64>,
}

/// The quiz on the current log. Each question answers as soon as a choice is
/// clicked; the page gives it a new key whenever the log re-folds, so old answers
/// never sit under new questions.
#[component]
pub fn Quiz(props: &QuizProps) -> Html {
    let chosen = use_state(|| vec![None::<usize>; props.questions.len()]);
    html! {
        <section class="quiz" data-testid="quiz" aria-labelledby="quiz-heading">
            <h3 id="quiz-heading">{ "Quiz" }</h3>
            <ol>
                { for props.questions.iter().enumerate().map(|(n, question)| {
                    let picked = chosen.get(n).copied().flatten();
                    let feedback = picked.map(|choice| question.feedback(choice));
                    html! {
                        <li data-testid="quiz-question">
                            <p class="prompt">{ &question.prompt }</p>
                            <div class="choices" role="group" aria-label={question.prompt.clone()}>
                                { for question.choices.iter().enumerate().map(|(c, text)| {
                                    let chosen = chosen.clone();
                                    let onclick = Callback::from(move |_: MouseEvent| {
                                        let mut next = (*chosen).clone();
                                        if let Some(slot) = next.get_mut(n) {
                                            *slot = Some(c);
                                        }
                                        chosen.set(next);
                                    });
                                    html! {
                                        <button data-testid="quiz-choice"
                                            aria-pressed={(picked == Some(c)).to_string()} {onclick}>
                                            { text }
                                        </button>
                                    }
                                }) }
                            </div>
                            if let Some(feedback) = feedback {
                                <p data-testid="quiz-feedback" role="status"
                                    class={if feedback.correct { "right" } else { "wrong" }}
                                    data-correct={feedback.correct.to_string()}>
                                    { feedback.text }{ " " }
                                    <button class="link" onclick={{
                                        let on_pick = props.on_pick.clone();
                                        let step = question.step;
                                        Callback::from(move |_: MouseEvent| on_pick.emit(step))
                                    }}>{ format!("show step {}", question.step) }</button>
                                </p>
                            }
                        </li>
                    }
                }) }
            </ol>
        </section>
    }
}
