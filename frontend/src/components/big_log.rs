use std::rc::Rc;

use yew::prelude::*;

use crate::components::event_editor::error_list;
use crate::keep;
use crate::state::LogError;

/// Lines of a big log shown as its preview.
pub const PREVIEW_LINES: usize = 20;

pub struct BigLogProps {
    /// The log's NDJSON text (shared: it can be tens of MB).
    pub text: Rc<str>,
    pub events: usize,
    pub errors: Rc<[LogError]>,
    /// Jumps to an error's step.
    pub on_pick: Callback<u64>,
}

/// In place of the event editor for a big log (an imported file): a textarea of
/// millions of lines would cost every keystroke a re-fold of all of them. Says so,
/// shows the first lines, lists the bad events, and says whether a reload keeps it.
///
/// A plain function rather than a component: it has no state of its own, the app
/// hands it a new callback on every render (so a component would re-render every time
/// too), and each component costs about 650 B of the page's gzipped wasm in Yew's
/// per-component code (docs/perf.md, "Page size").
pub fn big_log(props: &BigLogProps) -> Html {
    let preview: String = props
        .text
        .lines()
        .take(PREVIEW_LINES)
        .collect::<Vec<_>>()
        .join("\n");
    html! {
        <section class="editor big-log" data-testid="big-log">
            <h3>{ "Events (NDJSON, one per line)" }</h3>
            <p class="note" data-testid="big-log-note">
                { format!("This log has {} events ({}): too many to edit in the page. \
                    Its first {PREVIEW_LINES} lines are below; export it to edit it elsewhere, and \
                    import it again.", props.events, crate::state::size(props.text.len())) }
            </p>
            if !keep::kept(props.text.len()) {
                <p class="note" data-testid="keep-note">
                    { format!("It is also too big for this browser's storage (over {} MB): a \
                        reload opens the lesson without it, so export it to keep it.",
                        keep::KEEP_MAX_BYTES / 1_000_000) }
                </p>
            }
            <pre class="preview" aria-label="The log's first lines">{ preview }</pre>
            { error_list(&props.errors, &props.on_pick) }
        </section>
    }
}
