use std::cell::Cell;
use std::rc::Rc;

use eventfold_core::Trace;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

use crate::replay::{self, Row};

/// Tables of up to this many rows render every row (every lesson does); longer ones
/// render the rows in view plus [`OVERSCAN`] either side, between two spacer rows
/// that keep the scroll height.
pub const ALL_ROWS_UP_TO: u64 = 2_000;

/// Rows rendered above and below the ones in view of a long table.
pub const OVERSCAN: u64 = 4;

/// A long table's rows are one line high (cells do not wrap), so the scroll
/// position says which rows are in view; the height is measured after each render.
const ROW_HEIGHT: f64 = 30.0;

/// The spacers' total height at most. Chromium lays out elements up to about 33.5
/// million pixels high; a million-event log has five million rows, so past this
/// height a pixel of scroll stands for more than one pixel of rows.
const MAX_SCROLL_PX: f64 = 8_000_000.0;

#[derive(Properties)]
pub struct ProcessTableProps {
    pub trace: Rc<Trace>,
    pub current: u64,
    pub on_pick: Callback<u64>,
}

impl PartialEq for ProcessTableProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.trace, &other.trace)
            && self.current == other.current
            && self.on_pick == other.on_pick
    }
}

/// Where a long table's window sits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    /// First and last row rendered (1-based, inclusive).
    first: u64,
    last: u64,
    /// Heights of the spacer rows above and below them.
    above: f64,
    below: f64,
    /// The scroll position the window was computed for.
    scroll: f64,
    /// The rows fully in view (below the sticky header), about.
    in_view: (u64, u64),
}

/// `value` within `0..=max` (`max` is never negative). Not `f64::clamp`: its check of
/// its bounds formats them with `Debug` on failure, which links float printing into
/// the page (docs/perf.md, "Page size").
fn within(value: f64, max: f64) -> f64 {
    value.max(0.0).min(max)
}

/// The window of a table of `steps` rows scrolled to `scroll` in a box `viewport`
/// pixels high. When `centre` is given (the current row moved out of view), the
/// window and its scroll position are centred on that row instead.
fn window(steps: u64, row_height: f64, viewport: f64, scroll: f64, centre: Option<u64>) -> Window {
    let total = steps as f64 * row_height;
    let height = total.min(MAX_SCROLL_PX);
    let max_scroll = (height - viewport).max(0.0);
    let max_real = (total - viewport).max(0.0);
    let real_of = |scroll: f64| {
        if max_scroll > 0.0 {
            within(scroll, max_scroll) * max_real / max_scroll
        } else {
            0.0
        }
    };
    let (scroll, real) = match centre {
        Some(step) => {
            let real = within(
                (step - 1) as f64 * row_height - (viewport - row_height) / 2.0,
                max_real,
            );
            let scroll = if max_real > 0.0 {
                real * max_scroll / max_real
            } else {
                0.0
            };
            (scroll, real)
        }
        None => (within(scroll, max_scroll), real_of(scroll)),
    };
    let top_row = (real / row_height).floor() as u64; // 0-based
    let in_view = (viewport / row_height).ceil() as u64 + 1;
    let first0 = top_row.saturating_sub(OVERSCAN);
    let last0 = (top_row + in_view + OVERSCAN).min(steps); // exclusive
    // Row `first0` sits where the scrolled box shows it: the top row's top is
    // `real - top_row * row_height` above the box's top edge.
    let above = (scroll - (real - first0 as f64 * row_height)).max(0.0);
    let below = (height - above - (last0 - first0) as f64 * row_height).max(0.0);
    // The sticky header covers about one row at the top.
    let whole = ((viewport / row_height).floor() as u64)
        .saturating_sub(1)
        .max(1);
    Window {
        first: first0 + 1,
        last: last0,
        above,
        below,
        scroll,
        in_view: (top_row + 2, top_row + whole),
    }
}

/// The seeds' process table: one row per step, the current one marked and kept in
/// view. Clicking a row jumps to it. A long table (an imported log) renders only the
/// rows in view, which core computes from its nearest snapshot.
#[component]
pub fn ProcessTable(props: &ProcessTableProps) -> Html {
    let scroller = use_node_ref();
    let steps = props.trace.len();
    let long = steps > ALL_ROWS_UP_TO;
    // The box's scroll position as last seen or set: kept outside the component's
    // state so that the scroll event of a position the table set itself does not
    // render the table a second time; a learner's own scrolling does.
    let scroll = use_mut_ref(|| Cell::new(0.0_f64));
    let rerender = use_force_update();
    let viewport = use_state_eq(|| 384.0_f64);
    let header = use_state_eq(|| 32.0_f64);
    let row_height = use_state_eq(|| ROW_HEIGHT);
    // The current row of the last render: the window follows the current row only
    // when it moves, so a learner can scroll the table away from it.
    let shown_current = use_mut_ref(|| Cell::new(0_u64));
    // The row height and box height of the last render: when a measurement changes
    // them, a scroll position stands for other rows, so the window may follow the
    // current row again.
    let shown_geometry = use_mut_ref(|| Cell::new((0.0_f64, 0.0_f64)));

    let rows_view = (*viewport - *header).max(*row_height);
    let window = long.then(|| {
        let at = scroll.borrow().get();
        let plain = window(steps, *row_height, rows_view, at, None);
        let moved = shown_current.borrow().get() != props.current
            || shown_geometry.borrow().get() != (*row_height, rows_view);
        let (top, bottom) = plain.in_view;
        if moved && !(top..=bottom).contains(&props.current) {
            window(steps, *row_height, rows_view, at, Some(props.current))
        } else {
            plain
        }
    });

    {
        let scroller = scroller.clone();
        let scroll = scroll.clone();
        let viewport = viewport.clone();
        let header = header.clone();
        let row_height = row_height.clone();
        let shown_current = shown_current.clone();
        let current = props.current;
        let shown_geometry = shown_geometry.clone();
        let geometry = (*row_height, rows_view);
        use_effect_with((current, window, Rc::as_ptr(&props.trace)), move |_| {
            let moved = shown_current.borrow().replace(current) != current;
            shown_geometry.borrow().set(geometry);
            match window {
                None => keep_current_in_view(&scroller),
                Some(window) => {
                    if let Some(element) = scroller.cast::<HtmlElement>() {
                        scroll.borrow().set(window.scroll);
                        if (f64::from(element.scroll_top()) - window.scroll).abs() > 1.0 {
                            element.set_scroll_top(window.scroll as i32);
                        }
                        // Rows a fraction of a pixel taller than measured add up over
                        // a window: after a step, the box is nudged so the current
                        // row shows whole (its scroll event renders the window again).
                        if moved {
                            keep_current_in_view(&scroller);
                        }
                        // The box is as high as the window at most: without its
                        // stylesheet's max-height it would grow with every row
                        // rendered, and the window with it, to the whole table.
                        let window_height = web_sys::window()
                            .and_then(|w| w.inner_height().ok())
                            .and_then(|h| h.as_f64())
                            .unwrap_or(1000.0);
                        let height = f64::from(element.client_height()).min(window_height);
                        if height > 0.0 {
                            viewport.set(height);
                        }
                        let measure = |css: &str| {
                            element
                                .query_selector(css)
                                .ok()
                                .flatten()
                                .and_then(|e| e.dyn_into::<HtmlElement>().ok())
                                .map(|e| e.get_bounding_client_rect().height())
                                .filter(|h| *h > 0.0)
                        };
                        if let Some(h) = measure("thead") {
                            header.set(h);
                        }
                        if let Some(h) = measure("tbody tr[data-step]") {
                            row_height.set(h);
                        }
                    }
                }
            }
        });
    }

    let onscroll = {
        let scroll = scroll.clone();
        let scroller = scroller.clone();
        Callback::from(move |_: Event| {
            if let Some(element) = scroller.cast::<HtmlElement>() {
                let at = f64::from(element.scroll_top());
                if long && (at - scroll.borrow().get()).abs() > 1.0 {
                    scroll.borrow().set(at);
                    rerender.force_update();
                }
            }
        })
    };

    let rows = match window {
        Some(w) => replay::rows_in(&props.trace, w.first..=w.last),
        None => replay::rows_in(&props.trace, 1..=steps),
    };
    let spacer = |height: f64| {
        // In hundredths of a pixel, printed from an integer: printing an `f64` links
        // float formatting (7.7 KB gzipped, measured) into the page for this one number.
        let centi = (height.max(0.0) * 100.0) as u64;
        html! {
            <tr class="spacer" aria-hidden="true">
                <td colspan="6" style={format!("height: {}.{:02}px", centi / 100, centi % 100)}></td>
            </tr>
        }
    };

    html! {
        <div class="table-scroll" ref={scroller} {onscroll}>
            <table class={classes!("process", long.then_some("virtual"))} data-testid="process-table"
                data-rows={steps.to_string()}>
                <thead>
                    <tr>
                        <th>{ "Step" }</th>
                        { seed_heads() }
                    </tr>
                </thead>
                <tbody>
                    if let Some(w) = window && w.above > 0.0 {
                        { spacer(w.above) }
                    }
                    { for rows.iter().map(|r| row(r, r.step == props.current, &props.on_pick, !long)) }
                    if let Some(w) = window && w.below > 0.0 {
                        { spacer(w.below) }
                    }
                </tbody>
            </table>
        </div>
    }
}

/// A row of the table; keyed by its step in a lesson's table. A long table's window
/// is not keyed: a jump then rewrites the text of the rows already there instead of
/// replacing every row element, which is most of a jump's DOM work.
fn row(row: &Row, current: bool, on_pick: &Callback<u64>, keyed: bool) -> Html {
    let onclick = {
        let on_pick = on_pick.clone();
        let step = row.step;
        Callback::from(move |_: MouseEvent| on_pick.emit(step))
    };
    let mut node = html! {
        <tr data-step={row.step.to_string()} {onclick}
            aria-current={current.then_some("step")}
            class={classes!(row.failed.then_some("failed"), current.then_some("current"))}>
            <td class="step">{ row.step }</td>
            <td>{ &row.action }</td>
            <td><code>{ &row.event }</code></td>
            <td><code>{ &row.topic }</code></td>
            <td><code>{ &row.state }</code></td>
            <td>{ &row.output }</td>
        </tr>
    };
    if keyed && let yew::virtual_dom::VNode::VTag(tag) = &mut node {
        Rc::make_mut(tag).key = Some(row.step.into());
    }
    node
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

/// The seeds' columns after Step, as the process table heads them (the live table
/// heads its own Record and Key columns before these).
pub fn seed_heads() -> Html {
    html! {
        <>
            <th>{ "Action" }</th>
            <th>{ "Event Produced" }</th>
            <th>{ "Kafka Topic State" }</th>
            <th>{ "State After Event" }</th>
            <th>{ "Output" }</th>
        </>
    }
}
