use web_sys::{File, HtmlInputElement};
use yew::prelude::*;

#[derive(PartialEq)]
pub struct KeepProps {
    pub on_export_log: Callback<()>,
    pub on_export_trace: Callback<()>,
    /// Why the trace cannot be exported (a big log), shown beside its disabled button.
    pub trace_off: Option<String>,
    /// The NDJSON file chosen to replace the log.
    pub on_import: Callback<File>,
}

/// Export the log and the trace, import a log; the session itself is kept across
/// reloads without asking.
///
/// A plain function rather than a component: it has no state of its own, and each
/// component costs about 650 B of the page's gzipped wasm in Yew's per-component code
/// (docs/perf.md, "Page size").
pub fn export_import(props: &KeepProps) -> Html {
    let onchange = {
        let on_import = props.on_import.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                if let Some(file) = input.files().and_then(|files| files.get(0)) {
                    on_import.emit(file);
                }
                // Cleared, so choosing the same file again imports it again.
                input.set_value("");
            }
        })
    };
    let click = |callback: &Callback<()>| {
        let callback = callback.clone();
        Callback::from(move |_: MouseEvent| callback.emit(()))
    };
    html! {
        <section class="keep" aria-label="Export and import">
            <button data-testid="export-log" onclick={click(&props.on_export_log)}>
                { "Export log (NDJSON)" }
            </button>
            <button data-testid="export-trace" onclick={click(&props.on_export_trace)}
                disabled={props.trace_off.is_some()}
                aria-describedby={props.trace_off.is_some().then_some("export-trace-note")}>
                { "Export trace (JSON)" }
            </button>
            <label class="import">
                { "Import log (NDJSON) " }
                <input type="file" data-testid="import-log" accept=".ndjson,.jsonl,.json,.txt,application/x-ndjson"
                    {onchange} />
            </label>
            if let Some(reason) = &props.trace_off {
                <p class="note" id="export-trace-note" data-testid="export-trace-note">{ reason }</p>
            }
        </section>
    }
}
