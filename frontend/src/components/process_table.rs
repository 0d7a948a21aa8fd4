use std::rc::Rc;

use yew::prelude::*;

use crate::replay::Row;

#[derive(PartialEq, Properties)]
pub struct ProcessTableProps {
    pub rows: Rc<[Row]>,
}

/// The seeds' process table: one row per step of the replay.
#[component]
pub fn ProcessTable(props: &ProcessTableProps) -> Html {
    html! {
        <table class="process" data-testid="process-table">
            <thead>
                <tr>
                    <th>{ "Step" }</th>
                    <th>{ "Action" }</th>
                    <th>{ "Event Produced" }</th>
                    <th>{ "Kafka Topic State" }</th>
                    <th>{ "State After Event" }</th>
                    <th>{ "Output" }</th>
                </tr>
            </thead>
            <tbody>
                { for props.rows.iter().map(row) }
            </tbody>
        </table>
    }
}

fn row(row: &Row) -> Html {
    html! {
        <tr key={row.step} data-step={row.step.to_string()} class={classes!(row.failed.then_some("failed"))}>
            <td class="step">{ row.step }</td>
            <td>{ &row.action }</td>
            <td><code>{ &row.event }</code></td>
            <td><code>{ &row.topic }</code></td>
            <td><code>{ &row.state }</code></td>
            <td>{ &row.output }</td>
        </tr>
    }
}
