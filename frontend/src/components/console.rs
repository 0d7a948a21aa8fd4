use std::rc::Rc;

use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ConsoleProps {
    /// Lines the consumer printed, oldest first.
    pub lines: Rc<[String]>,
}

/// What the seeds' consumer prints to its terminal.
#[component]
pub fn Console(props: &ConsoleProps) -> Html {
    html! {
        <pre class="console" data-testid="output">{ props.lines.join("\n") }</pre>
    }
}
