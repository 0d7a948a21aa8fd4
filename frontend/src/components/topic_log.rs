use std::rc::Rc;

use eventfold_core::lesson::Frame;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct TopicLogProps {
    pub topic: &'static str,
    pub frame: Rc<Frame>,
}

/// The topic as Kafka keeps it: per partition, a log of records at their offsets,
/// the ones the consumer has applied shaded, the current step's record outlined,
/// and where the consumer reads next.
#[component]
pub fn TopicLog(props: &TopicLogProps) -> Html {
    let partitions = &props.frame.topic;
    html! {
        <section class="topic-log" data-testid="topic-log" aria-label="Topic log">
            <h3>{ "Topic " }<code>{ props.topic }</code></h3>
            if partitions.is_empty() {
                <p class="muted">{ "The topic is empty: nothing has been produced yet." }</p>
            }
            { for partitions.iter().map(|log| html! {
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
            }) }
        </section>
    }
}
