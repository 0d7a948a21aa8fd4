use std::rc::Rc;

use eventfold_core::quiz::Question;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct QuizProps {
    pub questions: Rc<[Question]>,
    /// The question on the step the learner is on ("What is the state after step
    /// N?"), when the step has one.
    #[prop_or_default]
    pub current: Option<Rc<Question>>,
    /// Jumps to the step that shows an answer.
    pub on_pick: Callback<u64>,
}

/// The quiz on the current log, headed by a question on the current step. Each
/// question answers as soon as a choice is clicked; the page gives the quiz a new
/// key whenever the log re-folds, and the step's question one per step, so old
/// answers never sit under new questions.
#[component]
pub fn Quiz(props: &QuizProps) -> Html {
    let chosen = use_state(|| vec![None::<usize>; props.questions.len()]);
    html! {
        <section class="quiz" data-testid="quiz" aria-labelledby="quiz-heading">
            <h3 id="quiz-heading">{ "Quiz" }</h3>
            if let Some(question) = &props.current {
                <StepQuestion key={question.step} question={question.clone()}
                    on_pick={props.on_pick.clone()} />
            }
            <ol>
                { for props.questions.iter().enumerate().map(|(n, question)| {
                    let on_choose = {
                        let chosen = chosen.clone();
                        Callback::from(move |c: usize| {
                            let mut next = (*chosen).clone();
                            if let Some(slot) = next.get_mut(n) {
                                *slot = Some(c);
                            }
                            chosen.set(next);
                        })
                    };
                    html! {
                        <li data-testid="quiz-question">
                            { asked(question, chosen.get(n).copied().flatten(), on_choose, &props.on_pick) }
                        </li>
                    }
                }) }
            </ol>
        </section>
    }
}

#[derive(PartialEq, Properties)]
struct StepQuestionProps {
    question: Rc<Question>,
    on_pick: Callback<u64>,
}

/// The question on the current step, with its own answer.
#[component]
fn StepQuestion(props: &StepQuestionProps) -> Html {
    let chosen = use_state(|| None::<usize>);
    let on_choose = {
        let chosen = chosen.clone();
        Callback::from(move |c: usize| chosen.set(Some(c)))
    };
    html! {
        <div class="step-question" data-testid="quiz-step-question">
            <p class="kicker">{ "About this step" }</p>
            { asked(&props.question, *chosen, on_choose, &props.on_pick) }
        </div>
    }
}

/// A question, its choices (the picked one pressed) and, once picked, the verdict.
fn asked(
    question: &Question,
    picked: Option<usize>,
    on_choose: Callback<usize>,
    on_pick: &Callback<u64>,
) -> Html {
    let feedback = picked.map(|choice| question.feedback(choice));
    html! {
        <>
            <p class="prompt">{ &question.prompt }</p>
            <div class="choices" role="group" aria-label={question.prompt.clone()}>
                { for question.choices.iter().enumerate().map(|(c, text)| {
                    let on_choose = on_choose.clone();
                    html! {
                        <button data-testid="quiz-choice"
                            aria-pressed={(picked == Some(c)).to_string()}
                            onclick={Callback::from(move |_: MouseEvent| on_choose.emit(c))}>
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
                        let on_pick = on_pick.clone();
                        let step = question.step;
                        Callback::from(move |_: MouseEvent| on_pick.emit(step))
                    }}>{ format!("show step {}", question.step) }</button>
                </p>
            }
        </>
    }
}
