use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ConsoleProps {
    /// Lines the consumer has printed by the current step, oldest first.
    pub lines: Vec<String>,
}

/// What the seeds' consumer prints to its terminal.
#[component]
pub fn Console(props: &ConsoleProps) -> Html {
    html! {
        <pre class="console" data-testid="output" aria-label="Console output">
            { props.lines.join("\n") }
        </pre>
    }
}
