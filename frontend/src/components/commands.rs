use std::rc::Rc;

use eventfold_core::scenario::Command;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct CommandsProps {
    pub commands: Rc<[Command]>,
    /// The index of the command issued.
    pub on_command: Callback<usize>,
}

/// The lesson's commands: each button appends its event to the log.
#[component]
pub fn Commands(props: &CommandsProps) -> Html {
    html! {
        <section class="commands" data-testid="commands" aria-label="Commands">
            <span class="kicker">{ "Issue a command" }</span>
            { for props.commands.iter().enumerate().map(|(index, command)| {
                let on_command = props.on_command.clone();
                html! {
                    <button data-testid="command" title={command.line.clone()}
                        onclick={Callback::from(move |_: MouseEvent| on_command.emit(index))}>
                        { &command.label }
                    </button>
                }
            }) }
        </section>
    }
}
