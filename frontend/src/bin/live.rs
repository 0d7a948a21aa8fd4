//! The live page (`live.html`, served at `/live/`): a real Kafka topic folded
//! through `eventfold serve`. It is a page of its own, built from the same library
//! as the simulator, so the simulator's download does not carry live mode and live
//! mode's does not carry the lessons; the simulator sends `#live…` links here.

fn main() {
    yew::Renderer::<eventfold_frontend::live::Live>::new().render();
}
