use yew::prelude::*;

#[derive(PartialEq)]
pub struct ConsoleProps {
    /// Lines the consumer has printed by the current step, oldest first.
    pub lines: Vec<String>,
}

/// What the seeds' consumer prints to its terminal.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn console(props: &ConsoleProps) -> Html {
    html! {
        <pre class="console" data-testid="output" aria-label="Console output">
            { props.lines.join("\n") }
        </pre>
    }
}
