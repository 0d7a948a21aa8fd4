use std::rc::Rc;

use eventfold_core::diff::{ChangeKind, Line};
use eventfold_core::lesson::Frame;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct StateViewProps {
    pub frame: Rc<Frame>,
}

/// The current step's state as pretty JSON, the lines this step changed marked, and
/// below it what the step removed and any error the step hit.
#[component]
pub fn StateView(props: &StateViewProps) -> Html {
    let frame = &props.frame;
    let removed: Vec<&str> = frame
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Removed)
        .map(|c| c.path.as_str())
        .collect();
    let changed = frame
        .changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Removed)
        .count();
    let summary = match (changed, removed.len()) {
        (0, 0) => "Nothing changed at this step.".to_owned(),
        (n, 0) => format!("Marked: {n} change{} at this step.", plural(n)),
        (n, _) => format!(
            "Marked: {n} change{}; removed {}.",
            plural(n),
            removed.join(", ")
        ),
    };
    let aggregate = frame.step.aggregate.as_ref().map(|id| id.to_string());
    html! {
        <section class="state" aria-labelledby="state-heading">
            <h3 id="state-heading">
                { "State" }
                if let Some(id) = aggregate {
                    <span class="aggregate">{ " of " }<code>{ id }</code></span>
                }
            </h3>
            <pre data-testid="state-view">{ for lines(&frame.state) }</pre>
            <p class="changes" data-testid="state-changes">{ summary }</p>
            if let Some(error) = &frame.step.error {
                <p class="error" data-testid="error" role="alert">
                    { format!("Step {}: {}", frame.step.step, error) }
                </p>
            }
        </section>
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The lines, with a newline between them (not after the last), so the element's
/// text is exactly the pretty JSON.
fn lines(lines: &[Line]) -> impl Iterator<Item = Html> + '_ {
    lines.iter().enumerate().map(|(i, line)| {
        let newline = if i == 0 { "" } else { "\n" };
        if line.changed {
            html! { <>{ newline }<mark class="changed">{ &line.text }</mark></> }
        } else {
            html! { <>{ newline }{ &line.text }</> }
        }
    })
}
