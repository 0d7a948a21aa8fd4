use eventfold_core::lesson::Frame;
use yew::prelude::*;

/// Seed 001's status tracker: the topic and the state after each produce and apply,
/// around the current step, the column we are at marked.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn tracker(frame: &Frame) -> Html {
    let columns = &frame.tracker;
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
