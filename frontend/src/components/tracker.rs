use std::rc::Rc;

use eventfold_core::lesson::Frame;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct TrackerProps {
    pub frame: Rc<Frame>,
}

/// Seed 001's status tracker: the topic and the state after each produce and apply,
/// around the current step, the column we are at marked.
#[component]
pub fn Tracker(props: &TrackerProps) -> Html {
    let columns = &props.frame.tracker;
    let class = |current: bool| classes!(current.then_some("current"));
    html! {
        <section class="tracker" aria-label="Status tracker">
            <h3>{ "Status tracker" }</h3>
            <div class="wide">
                <table data-testid="tracker">
                    <thead>
                        <tr>
                            <th>{ "Variable" }</th>
                            { for columns.iter().map(|c| html! {
                                <th class={class(c.current)} data-step={c.step.to_string()}>{ &c.heading }</th>
                            }) }
                        </tr>
                    </thead>
                    <tbody>
                        <tr>
                            <th>{ "Kafka Topic" }</th>
                            { for columns.iter().map(|c| html! {
                                <td class={class(c.current)}><code>{ &c.topic }</code></td>
                            }) }
                        </tr>
                        <tr>
                            <th>{ "State" }</th>
                            { for columns.iter().map(|c| html! {
                                <td class={class(c.current)}><code>{ &c.state }</code></td>
                            }) }
                        </tr>
                    </tbody>
                </table>
            </div>
        </section>
    }
}
