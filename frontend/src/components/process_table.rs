use std::rc::Rc;

use web_sys::HtmlElement;
use yew::prelude::*;

use crate::replay::Row;

#[derive(PartialEq, Properties)]
pub struct ProcessTableProps {
    pub rows: Rc<[Row]>,
    pub current: u64,
    pub on_pick: Callback<u64>,
}

/// The seeds' process table: one row per step, the current one marked and kept in
/// view. Clicking a row jumps to it.
#[component]
pub fn ProcessTable(props: &ProcessTableProps) -> Html {
    let scroller = use_node_ref();
    {
        let scroller = scroller.clone();
        use_effect_with((props.current, props.rows.clone()), move |_| {
            keep_current_in_view(&scroller);
        });
    }

    html! {
        <div class="table-scroll" ref={scroller}>
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
                    { for props.rows.iter().map(|r| row(r, r.step == props.current, &props.on_pick)) }
                </tbody>
            </table>
        </div>
    }
}

fn row(row: &Row, current: bool, on_pick: &Callback<u64>) -> Html {
    let onclick = {
        let on_pick = on_pick.clone();
        let step = row.step;
        Callback::from(move |_: MouseEvent| on_pick.emit(step))
    };
    html! {
        <tr key={row.step} data-step={row.step.to_string()} {onclick}
            aria-current={current.then_some("step")}
            class={classes!(row.failed.then_some("failed"), current.then_some("current"))}>
            <td class="step">{ row.step }</td>
            <td>{ &row.action }</td>
            <td><code>{ &row.event }</code></td>
            <td><code>{ &row.topic }</code></td>
            <td><code>{ &row.state }</code></td>
            <td>{ &row.output }</td>
        </tr>
    }
}

/// Scrolls the table's own box (not the page) so the current row shows below the
/// sticky header.
fn keep_current_in_view(scroller: &NodeRef) {
    let Some(scroller) = scroller.cast::<HtmlElement>() else {
        return;
    };
    let Ok(Some(row)) = scroller.query_selector("tr[aria-current=\"step\"]") else {
        return;
    };
    let header = scroller
        .query_selector("thead")
        .ok()
        .flatten()
        .map_or(0.0, |h| h.get_bounding_client_rect().height());
    let view = scroller.get_bounding_client_rect();
    let rect = row.get_bounding_client_rect();
    let top = rect.top() - view.top() - header;
    // The visible box ends above a horizontal scrollbar, if there is one.
    let bottom = rect.bottom()
        - (view.top() + f64::from(scroller.client_top()) + f64::from(scroller.client_height()));
    let scroll = f64::from(scroller.scroll_top());
    if top < 0.0 {
        scroller.set_scroll_top((scroll + top) as i32);
    } else if bottom > 0.0 {
        scroller.set_scroll_top((scroll + bottom) as i32);
    }
}
