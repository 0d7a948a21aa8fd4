use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

/// The simulator's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Back,
    Forward,
    PlayPause,
    First,
    Last,
}

/// Listens on the whole document for ← → (step), space (play/pause), Home and End,
/// and emits them to `on_key`, which should be stable (built from a reducer's
/// dispatcher).
///
/// Keys typed into the editors and pickers are theirs; on the scrubber, which moves
/// itself with the arrows and Home/End, only space is taken. Space is also kept from
/// clicking a focused button, so after a click on "Step forward" it still plays.
#[hook]
pub fn use_keys(on_key: Callback<Key>) {
    use_effect_with((), move |_| {
        let document = web_sys::window().and_then(|w| w.document());
        let keydown = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
            if event.alt_key() || event.ctrl_key() || event.meta_key() {
                return;
            }
            let key = match event.key().as_str() {
                "ArrowLeft" => Key::Back,
                "ArrowRight" => Key::Forward,
                " " | "Spacebar" => Key::PlayPause,
                "Home" => Key::First,
                "End" => Key::Last,
                _ => return,
            };
            match owner(&event) {
                Owner::Text => return,
                Owner::Range if key != Key::PlayPause => return,
                _ => {}
            }
            event.prevent_default();
            on_key.emit(key);
        });
        // A button clicks on the keyup of space; the keydown above already acted.
        let keyup = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
            if event.key() == " " && owner(&event) == Owner::Button {
                event.prevent_default();
            }
        });
        if let Some(document) = &document {
            let _ = document
                .add_event_listener_with_callback("keydown", keydown.as_ref().unchecked_ref());
            let _ =
                document.add_event_listener_with_callback("keyup", keyup.as_ref().unchecked_ref());
        }
        move || {
            if let Some(document) = document {
                let _ = document.remove_event_listener_with_callback(
                    "keydown",
                    keydown.as_ref().unchecked_ref(),
                );
                let _ = document
                    .remove_event_listener_with_callback("keyup", keyup.as_ref().unchecked_ref());
            }
        }
    });
}

/// Which kind of element a key event is aimed at.
#[derive(PartialEq)]
enum Owner {
    /// Editors, pickers and text fields: their keys are theirs.
    Text,
    /// The scrubber.
    Range,
    Button,
    Page,
}

fn owner(event: &KeyboardEvent) -> Owner {
    let Some(element) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return Owner::Page;
    };
    match element.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => Owner::Text,
        "BUTTON" => Owner::Button,
        "INPUT" => match element.dyn_into::<HtmlInputElement>() {
            Ok(input) if input.type_() == "range" => Owner::Range,
            _ => Owner::Text,
        },
        _ => Owner::Page,
    }
}
