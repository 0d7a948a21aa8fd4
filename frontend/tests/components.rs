//! Component tests: each renders one component of the page into a real (headless)
//! Chromium's DOM and checks what a learner would see there, or what a click sends.
//!
//! Run by `scripts/test` (stage `page-components`):
//! `cargo test -p eventfold-frontend --target wasm32-unknown-unknown`, with
//! `wasm-bindgen-test-runner` as the target's runner and `CHROMEDRIVER=chromedriver`
//! (frontend/webdriver.json passes Chromium the flags these machines need).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use eventfold_core::lesson::Frame;
use eventfold_core::share::{self, LinkLog, LinkProjection};
use eventfold_core::{Mode, Trace, quiz, scenario};
use eventfold_frontend::components::announcer::{Announcer, AnnouncerProps};
use eventfold_frontend::components::commands::{Commands, CommandsProps};
use eventfold_frontend::components::controls::{Controls, ControlsProps};
use eventfold_frontend::components::process_table::{ProcessTable, ProcessTableProps};
use eventfold_frontend::components::quiz::{Quiz, QuizProps};
use eventfold_frontend::components::share::{Share, ShareProps};
use eventfold_frontend::components::state_view::{StateView, StateViewProps};
use eventfold_frontend::components::topic_log::{EventEdit, TopicLog, TopicLogProps};
use eventfold_frontend::state::Action;
use eventfold_frontend::url::Carried;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    /// How to unmount the app each test rendered.
    static MOUNTED: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new());
}

/// Renders component `C` with `props` into a fresh element of the page and waits
/// for the render to finish. The apps earlier tests rendered are destroyed and their
/// elements removed first, so no test sees another's components or their effects.
async fn render<C>(props: C::Properties) -> Element
where
    C: BaseComponent,
{
    for unmount in MOUNTED.with(|mounted| mounted.take()) {
        unmount();
    }
    yew::scheduler::flush().await;
    // The page's body also holds the test runner's own output: only the test's
    // root element comes and goes.
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let app = yew::Renderer::<C>::with_root_and_props(root.clone(), props).render();
    let mounted_root = root.clone();
    MOUNTED.with(|mounted| {
        mounted.borrow_mut().push(Box::new(move || {
            app.destroy();
            mounted_root.remove();
        }))
    });
    yew::scheduler::flush().await;
    root
}

fn all(root: &Element, css: &str) -> Vec<Element> {
    let list = root.query_selector_all(css).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<Element>().ok())
        .collect()
}

fn one(root: &Element, css: &str) -> Element {
    root.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {css}"))
}

fn click(root: &Element, css: &str) {
    one(root, css).unchecked_into::<HtmlElement>().click();
}

/// A callback that records what it was sent.
fn recorder<T: 'static>() -> (Callback<T>, Rc<RefCell<Vec<T>>>) {
    let sent = Rc::new(RefCell::new(Vec::new()));
    let callback = {
        let sent = sent.clone();
        Callback::from(move |value| sent.borrow_mut().push(value))
    };
    (callback, sent)
}

fn bank() -> Trace {
    let lesson = scenario::bank();
    Trace::new(lesson.projection, Mode::Lenient, lesson.events)
}

#[wasm_bindgen_test]
async fn process_table_marks_the_current_row_and_picks_a_clicked_one() {
    let (on_pick, picked) = recorder::<u64>();
    let root = render::<ProcessTable>(ProcessTableProps {
        trace: Rc::new(bank()),
        current: 4,
        on_pick,
    })
    .await;
    let rows = all(&root, "[data-testid=process-table] tbody tr[data-step]");
    assert_eq!(rows.len(), 16, "the bank lesson has 16 rows");
    let current: Vec<String> = all(&root, "tr[aria-current=step]")
        .iter()
        .map(|row| row.get_attribute("data-step").unwrap())
        .collect();
    assert_eq!(current, ["4"], "only row 4 is the current step");
    let row4 = one(&root, "tr[data-step='4']").text_content().unwrap();
    assert!(
        row4.contains("{balance: 100}"),
        "row 4 shows the state: {row4}"
    );

    click(&root, "tr[data-step='7']");
    assert_eq!(*picked.borrow(), [7], "clicking row 7 asks for step 7");
}

#[wasm_bindgen_test]
async fn a_long_process_table_renders_a_window_around_the_current_row() {
    let (on_pick, _) = recorder::<u64>();
    // 1 000 events: 5 001 rows, over the 2 000 a table renders whole.
    let trace = Rc::new(eventfold_core::sample::import_bank(
        &eventfold_core::sample::bank_ndjson(1_000),
    ));
    let root = render::<ProcessTable>(ProcessTableProps {
        trace,
        current: 3_233,
        on_pick,
    })
    .await;
    yew::scheduler::flush().await;
    let rows = all(&root, "[data-testid=process-table] tbody tr[data-step]");
    assert!(
        !rows.is_empty() && rows.len() <= 120,
        "a window of rows, not 5 001: {}",
        rows.len()
    );
    let current: Vec<String> = all(&root, "tr[aria-current=step]")
        .iter()
        .map(|row| row.get_attribute("data-step").unwrap())
        .collect();
    assert_eq!(current, ["3233"], "the current row is in the window");
    let steps: Vec<u64> = rows
        .iter()
        .map(|row| row.get_attribute("data-step").unwrap().parse().unwrap())
        .collect();
    assert!(
        steps.windows(2).all(|w| w[1] == w[0] + 1),
        "the window's rows are consecutive: {steps:?}"
    );
    // Row 3 233 is the consume row of event 646 (0-based): the balance before it.
    let expected = eventfold_core::sample::bank_balance(646);
    let row = one(&root, "tr[data-step='3233']").text_content().unwrap();
    assert!(
        row.contains(&format!("{{balance: {expected}}}")),
        "row 3 233 shows the balance before its event, {expected}: {row}"
    );
}

#[wasm_bindgen_test]
async fn controls_show_the_step_and_disable_what_cannot_move() {
    let (on_action, sent) = recorder::<Action>();
    let root = render::<Controls>(ControlsProps {
        step: 1,
        steps: 16,
        playing: false,
        speed: 1,
        on_action,
        busy: None,
    })
    .await;
    let counter = one(&root, "[data-testid=step-counter]");
    assert_eq!(counter.text_content().unwrap(), "Step 1 of 16");
    assert_eq!(counter.get_attribute("data-step").as_deref(), Some("1"));
    assert_eq!(counter.get_attribute("data-steps").as_deref(), Some("16"));
    assert!(
        one(&root, "[data-testid=step-back]").has_attribute("disabled"),
        "there is no step before the first"
    );
    assert!(!one(&root, "[data-testid=step-forward]").has_attribute("disabled"));

    click(&root, "[data-testid=step-forward]");
    click(&root, "[data-testid=play]");
    let sent = sent.borrow();
    assert!(
        matches!(sent[..], [Action::Forward, Action::TogglePlay]),
        "forward, then play"
    );
}

#[wasm_bindgen_test]
async fn state_view_shows_the_state_as_json_with_the_change_marked() {
    let frame = Rc::new(Frame::at(&bank(), 9));
    let root = render::<StateView>(StateViewProps { frame }).await;
    let text = one(&root, "[data-testid=state-view]")
        .text_content()
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(&text).expect("the text is JSON");
    assert_eq!(state, serde_json::json!({"balance": 60}));
    let marked: Vec<String> = all(&root, "[data-testid=state-view] mark")
        .iter()
        .filter_map(|mark| mark.text_content())
        .collect();
    assert_eq!(marked.len(), 1, "one line changed at step 9: {marked:?}");
    assert!(marked[0].contains("60"), "{marked:?}");
}

/// Types `text` into an input the way a person does: the value, then an input event.
fn type_into(input: &Element, text: &str) {
    let input = input.unchecked_ref::<HtmlInputElement>();
    input.set_value(text);
    let init = web_sys::InputEventInit::new();
    init.set_bubbles(true);
    let event = web_sys::InputEvent::new_with_event_init_dict("input", &init).unwrap();
    input.dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn commands_take_an_amount_and_send_its_event() {
    let (on_command, sent) = recorder::<String>();
    let root = render::<Commands>(CommandsProps {
        commands: scenario::bank().commands.into(),
        on_command,
    })
    .await;
    let labels = |root: &Element| -> Vec<String> {
        all(root, "[data-testid=command]")
            .iter()
            .filter_map(|b| b.text_content())
            .collect()
    };
    assert_eq!(labels(&root), ["Deposit 50", "Withdraw 500"]);
    let boxes = all(&root, "[data-testid=command-value]");
    assert_eq!(boxes.len(), 2, "each bank command takes an amount");

    type_into(&boxes[0], "75");
    yew::scheduler::flush().await;
    assert_eq!(
        labels(&root),
        ["Deposit 75", "Withdraw 500"],
        "the button says what it does"
    );
    click(&root, "[data-testid=command]");
    assert_eq!(*sent.borrow(), [r#"{"type":"deposit","amount":75}"#]);

    type_into(&boxes[1], "lots");
    yew::scheduler::flush().await;
    let error = one(&root, "[data-testid=error]").text_content().unwrap();
    assert_eq!(error, "amount must be a number, not 'lots'");
    assert_eq!(
        boxes[1].get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    all(&root, "[data-testid=command]")[1]
        .unchecked_ref::<HtmlElement>()
        .click();
    assert_eq!(sent.borrow().len(), 1, "a bad amount sends nothing");
}

#[wasm_bindgen_test]
async fn quiz_answers_at_once() {
    let questions: Rc<[_]> = quiz::questions(&bank()).into();
    let first = questions[0].clone();
    let root = render::<Quiz>(QuizProps {
        questions,
        current: None,
        on_pick: Callback::noop(),
    })
    .await;
    assert!(
        all(&root, "[data-testid=quiz-step-question]").is_empty(),
        "no step, no question on it"
    );
    assert!(
        all(&root, "[data-testid=quiz-feedback]").is_empty(),
        "nothing is answered yet"
    );
    let wrong = (first.answer + 1) % first.choices.len();
    all(
        &root,
        "[data-testid=quiz-question]:first-child [data-testid=quiz-choice]",
    )[wrong]
        .unchecked_ref::<HtmlElement>()
        .click();
    yew::scheduler::flush().await;
    let feedback = one(&root, "[data-testid=quiz-feedback]");
    assert_eq!(
        feedback.get_attribute("data-correct").as_deref(),
        Some("false")
    );
    let text = feedback.text_content().unwrap();
    assert!(
        text.starts_with(&format!(
            "Not quite: the answer is {}.",
            first.choices[first.answer]
        )),
        "{text}"
    );
}

#[wasm_bindgen_test]
async fn quiz_asks_about_the_current_step() {
    let current = Rc::new(quiz::at_step(&bank(), 8).expect("step 8 has a question"));
    let (on_pick, picked) = recorder::<u64>();
    let root = render::<Quiz>(QuizProps {
        questions: quiz::questions(&bank()).into(),
        current: Some(current.clone()),
        on_pick,
    })
    .await;
    let asked = one(&root, "[data-testid=quiz-step-question]");
    assert_eq!(
        one(&asked, ".prompt").text_content().unwrap(),
        "What is the state after step 8?"
    );
    let right = all(&asked, "[data-testid=quiz-choice]")
        .into_iter()
        .find(|b| b.text_content().as_deref() == Some("{balance: 100}"))
        .expect("the right state is a choice");
    right.unchecked_ref::<HtmlElement>().click();
    yew::scheduler::flush().await;
    let feedback = one(&asked, "[data-testid=quiz-feedback]");
    assert_eq!(
        feedback.get_attribute("data-correct").as_deref(),
        Some("true")
    );
    assert!(
        feedback
            .text_content()
            .unwrap()
            .contains("does not change the state"),
        "the explanation says why"
    );
    assert!(
        all(
            &root,
            "[data-testid=quiz-question] [data-testid=quiz-feedback]"
        )
        .is_empty(),
        "the other questions stay unanswered"
    );
    click(&asked, "[data-testid=quiz-feedback] button");
    assert_eq!(*picked.borrow(), [8]);
}

#[wasm_bindgen_test]
async fn share_says_what_the_address_holds_of_the_log() {
    let note = |root: &Element| {
        root.query_selector("[data-testid=link-note]")
            .unwrap()
            .map(|n| (n.get_attribute("data-fits"), n.text_content().unwrap()))
    };
    let lesson = share::lesson_text("bank").unwrap();
    let link = |log: LinkLog, projection: LinkProjection| Rc::new(Carried { log, projection });
    let share = |link: Rc<Carried>| {
        render::<Share>(ShareProps {
            link,
            unreadable: None,
        })
    };
    let unedited = share(link(
        share::link_log(&lesson, &lesson),
        LinkProjection::Lesson,
    ))
    .await;
    assert_eq!(note(&unedited), None, "an unedited log needs no note");

    let picked = share::link_projection("bank", "orders", None);
    let (fits, text) =
        note(&share(link(LinkLog::Unedited, picked)).await).expect("another projection is noted");
    assert_eq!(fits.as_deref(), Some("true"));
    assert!(text.contains("holds your projection"), "{text}");

    let big: String = (0..300).map(|n| format!("{{\"amount\":{n}}}\n")).collect();
    let log = share::link_log(&lesson, &big);
    assert!(matches!(log, LinkLog::TooBig { .. }), "{log:?}");
    let (fits, text) =
        note(&share(link(log, LinkProjection::Lesson)).await).expect("a too-big log is noted");
    assert_eq!(fits.as_deref(), Some("false"));
    assert!(text.contains("log is too big for a link"), "{text}");
    assert!(text.contains("Export the log"), "{text}");

    let spec = format!("{{\"name\": \"{}\"}}", "x".repeat(5000));
    let projection = share::link_projection("bank", "custom", Some(&spec));
    let (fits, text) =
        note(&share(link(LinkLog::Unedited, projection)).await).expect("a too-big spec is noted");
    assert_eq!(fits.as_deref(), Some("false"));
    assert!(text.contains("projection is too big for a link"), "{text}");
}

#[wasm_bindgen_test]
async fn topic_log_buttons_name_the_event_they_edit() {
    let (on_edit, sent) = recorder::<EventEdit>();
    let frame = Rc::new(Frame::at(&bank(), 16));
    let root = render::<TopicLog>(TopicLogProps {
        topic: "bank_account_events",
        frame,
        on_edit,
    })
    .await;
    let deletes = all(&root, "[data-testid=delete-event]");
    assert_eq!(deletes.len(), 3, "one per record on the topic at the end");
    assert_eq!(
        deletes[1].get_attribute("aria-label").as_deref(),
        Some("Delete the event at offset 1 of partition 0")
    );
    deletes[1].unchecked_ref::<HtmlElement>().click();
    all(&root, "[data-testid=insert-event]")[0]
        .unchecked_ref::<HtmlElement>()
        .click();
    assert_eq!(
        *sent.borrow(),
        [
            EventEdit::Delete {
                partition: 0,
                offset: 1
            },
            EventEdit::InsertCopyBefore {
                partition: 0,
                offset: 0
            },
        ]
    );
}

#[wasm_bindgen_test]
async fn announcer_reads_out_the_step_and_the_state() {
    let root = render::<Announcer>(AnnouncerProps {
        frame: Rc::new(Frame::at(&bank(), 9)),
    })
    .await;
    let region = one(&root, "[data-testid=announcer]");
    assert_eq!(region.get_attribute("aria-live").as_deref(), Some("polite"));
    assert_eq!(
        region.text_content().unwrap(),
        "Step 9 of 16: Apply event to state. State: {balance: 60}."
    );
}
