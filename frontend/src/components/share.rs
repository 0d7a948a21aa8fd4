use std::rc::Rc;

use eventfold_core::share::{LinkLog, LinkProjection, MAX_LOG_CHARS};
use yew::prelude::*;

use crate::url::Carried;

#[derive(PartialEq, Properties)]
pub struct ShareProps {
    /// How the address carries the log and the projection.
    pub link: Rc<Carried>,
    /// What of the link this page was opened with could not be read, said in full.
    pub unreadable: Option<String>,
}

/// What the address bar holds of an edited log and a projection other than the
/// lesson's: a link reproduces them, or one is too big for a link (the address then
/// leaves it out), or the link this page came from held a part that could not be read.
#[component]
pub fn Share(props: &ShareProps) -> Html {
    if let Some(why) = &props.unreadable {
        return html! {
            <p class="link-note error" data-testid="link-note" role="alert">{ why }</p>
        };
    }
    let too_big = |what: &str, chars: usize, instead: &str| {
        format!(
            "This {what} is too big for a link (it would take {} KB of the address; a link \
             holds up to {} KB): the address leaves it out. {instead}",
            chars.div_ceil(1000),
            MAX_LOG_CHARS / 1000
        )
    };
    let mut left_out = Vec::new();
    if let LinkLog::TooBig { chars } = props.link.log {
        left_out.push(too_big(
            "log",
            chars,
            "Export the log (NDJSON) to share it.",
        ));
    }
    if let LinkProjection::TooBig { chars } = props.link.projection {
        left_out.push(too_big("projection", chars, "Copy its spec to share it."));
    }
    if !left_out.is_empty() {
        return html! {
            <p class="link-note warn" data-testid="link-note" data-fits="false" role="status">
                { left_out.join(" ") }
            </p>
        };
    }
    let edited = matches!(props.link.log, LinkLog::Edited(_));
    let picked = props.link.projection != LinkProjection::Lesson;
    let holds = match (edited, picked) {
        (false, false) => return html! {},
        (true, false) => "your edits: a link to this page opens this log at this step.",
        (false, true) => {
            "your projection: a link to this page folds the lesson with it, at this step."
        }
        (true, true) => {
            "your edits and your projection: a link to this page opens this log, folded the same way, at this step."
        }
    };
    html! {
        <p class="link-note muted" data-testid="link-note" data-fits="true">
            { format!("The address holds {holds}") }
        </p>
    }
}
