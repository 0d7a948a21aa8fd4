use std::rc::Rc;

use eventfold_core::scenario::Command;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct CommandsProps {
    pub commands: Rc<[Command]>,
    /// The event line of the command issued, with the learner's value in it.
    pub on_command: Callback<String>,
}

/// The lesson's commands: each button appends its event to the log. A command with
/// a field the learner may set (the amount of a deposit, the order to ship) has a
/// box for it beside its button; the button says what it will do ("Deposit 75"), and
/// a value the event cannot take is named inline and appends nothing.
///
/// The page gives this component a new key for each lesson, so the values typed
/// start again from the lesson's own.
#[component]
pub fn Commands(props: &CommandsProps) -> Html {
    let values = use_state(|| {
        props
            .commands
            .iter()
            .map(|command| command.field.as_ref().map(|f| f.value.clone()))
            .collect::<Vec<_>>()
    });
    html! {
        <section class="commands" data-testid="commands" aria-label="Commands">
            <span class="kicker">{ "Issue a command" }</span>
            { for props.commands.iter().enumerate().map(|(index, command)| {
                let value = values.get(index).cloned().flatten();
                let issued = match &value {
                    Some(value) => command.with_value(value),
                    None => Ok(command.clone()),
                };
                let label = issued.as_ref().map_or(&command.label, |c| &c.label).clone();
                let onsubmit = {
                    let on_command = props.on_command.clone();
                    let issued = issued.clone();
                    Callback::from(move |event: SubmitEvent| {
                        event.prevent_default();
                        if let Ok(command) = &issued {
                            on_command.emit(command.line.clone());
                        }
                    })
                };
                let error_id = format!("command-{index}-error");
                html! {
                    <form class="command" {onsubmit}>
                        <button type="submit" data-testid="command" title={
                            issued.as_ref().map_or_else(|e| e.clone(), |c| c.line.clone())
                        }>{ label }</button>
                        if let (Some(field), Some(value)) = (&command.field, &value) {
                            <input type="text" data-testid="command-value" size="6"
                                inputmode={if field.number { "decimal" } else { "text" }}
                                aria-label={format!("{} for “{}”", field.name, command.label)}
                                aria-invalid={issued.is_err().to_string()}
                                aria-describedby={issued.is_err().then(|| error_id.clone())}
                                value={value.clone()}
                                oninput={
                                    let values = values.clone();
                                    Callback::from(move |event: InputEvent| {
                                        if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                                            let mut next = (*values).clone();
                                            if let Some(slot) = next.get_mut(index) {
                                                *slot = Some(input.value());
                                            }
                                            values.set(next);
                                        }
                                    })
                                } />
                        }
                        if let Err(error) = &issued {
                            <span class="error" id={error_id} data-testid="error" role="alert">
                                { error }
                            </span>
                        }
                    </form>
                }
            }) }
        </section>
    }
}
