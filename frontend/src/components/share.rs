use std::rc::Rc;

use eventfold_core::share::{LinkLog, MAX_LOG_CHARS};
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct ShareProps {
    /// How the address carries the log.
    pub log: Rc<LinkLog>,
    /// Why the log of the link this page was opened with could not be read.
    pub unreadable: Option<String>,
}

/// What the address bar holds of an edited log: a link reproduces it, or the log is
/// too big for a link (the address then names the lesson and step only), or the
/// link this page came from held a log that could not be read.
#[component]
pub fn Share(props: &ShareProps) -> Html {
    if let Some(why) = &props.unreadable {
        return html! {
            <p class="link-note error" data-testid="link-note" role="alert">
                { format!("The link's log could not be read ({why}); this is the lesson's own log.") }
            </p>
        };
    }
    match &*props.log {
        LinkLog::Unedited => html! {},
        LinkLog::Edited(_) => html! {
            <p class="link-note muted" data-testid="link-note" data-fits="true">
                { "The address holds your edits: a link to this page opens this log at this step." }
            </p>
        },
        LinkLog::TooBig { chars } => html! {
            <p class="link-note warn" data-testid="link-note" data-fits="false" role="status">
                { format!("This log is too big for a link (its edits would take {} KB of the address; \
                    a link holds up to {} KB): the address names the lesson and the step only. \
                    Export the log (NDJSON) to share it.",
                    chars.div_ceil(1000), MAX_LOG_CHARS / 1000) }
            </p>
        },
    }
}
