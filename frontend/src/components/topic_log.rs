use std::rc::Rc;

use eventfold_core::lesson::Frame;
use yew::prelude::*;

/// An edit of the log asked for from the topic log's buttons, naming the event by
/// partition and offset as the log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventEdit {
    Delete { partition: i32, offset: i64 },
    InsertCopyBefore { partition: i32, offset: i64 },
}

#[derive(PartialEq, Properties)]
pub struct TopicLogProps {
    pub topic: &'static str,
    pub frame: Rc<Frame>,
    pub on_edit: Callback<EventEdit>,
}

/// The topic as Kafka keeps it: per partition, a log of records at their offsets,
/// the ones the consumer has applied shaded, the current step's record outlined,
/// and where the consumer reads next. Each record has buttons to delete it or to
/// insert a copy of it before it, which edit the log's text and re-fold it.
#[component]
pub fn TopicLog(props: &TopicLogProps) -> Html {
    let partitions = &props.frame.topic;
    html! {
        <section class="topic-log" data-testid="topic-log" aria-label="Topic log">
            <h3>{ "Topic " }<code>{ props.topic }</code></h3>
            if partitions.is_empty() {
                <p class="muted">{ "The topic is empty: nothing has been produced yet." }</p>
            }
            { for partitions.iter().map(|log| {
                let partition = log.partition;
                html! {
                <div class="partition">
                    <span class="partition-name">{ format!("partition {}", log.partition) }</span>
                    <ol class="records">
                        if log.hidden_before > 0 {
                            <li class="hidden">{ format!("… {} earlier", log.hidden_before) }</li>
                        }
                        { for log.entries.iter().map(|entry| html! {
                            <li class={classes!(
                                    entry.consumed.then_some("consumed"),
                                    entry.current.then_some("current"),
                                    (log.next_offset == Some(entry.offset)).then_some("next"),
                                )}
                                data-offset={entry.offset.to_string()}>
                                <span class="offset">{ entry.offset }</span>
                                <code>{ &entry.label }</code>
                                { edit_buttons(partition, entry.offset, &props.on_edit) }
                            </li>
                        }) }
                        if log.hidden_after > 0 {
                            <li class="hidden">{ format!("… {} later", log.hidden_after) }</li>
                        }
                    </ol>
                    <span class="consumer" data-testid="consumer-position">
                        { match log.next_offset {
                            Some(offset) => format!("consumer: next offset {offset}"),
                            None => "consumer: caught up".to_owned(),
                        } }
                    </span>
                </div>
            }}) }
        </section>
    }
}

/// "Insert a copy before" and "delete" for the record at `offset` of `partition`.
fn edit_buttons(partition: i32, offset: i64, on_edit: &Callback<EventEdit>) -> Html {
    let send = |edit: EventEdit| {
        let on_edit = on_edit.clone();
        Callback::from(move |_: MouseEvent| on_edit.emit(edit))
    };
    let place = format!("offset {offset} of partition {partition}");
    html! {
        <span class="record-edits">
            <button class="small" data-testid="insert-event"
                title="Insert a copy of this event before it"
                aria-label={format!("Insert a copy of the event at {place} before it")}
                onclick={send(EventEdit::InsertCopyBefore { partition, offset })}>{ "+" }</button>
            <button class="small" data-testid="delete-event"
                title="Delete this event from the log"
                aria-label={format!("Delete the event at {place}")}
                onclick={send(EventEdit::Delete { partition, offset })}>{ "✕" }</button>
        </span>
    }
}
