//! Builder tests: exact event sequences for the common shapes, and property tests that any
//! sequence of normalized events yields a grammatical stream whose final `Response` equals the
//! one the non-streaming path folds.

use proptest::prelude::*;
use serde_json::json;
use switchyard_types::responses::{
    CreateResponse, Item, ResponseStatus, ResponseStreamEvent, Usage,
};

use super::*;
use crate::error::{Error, ErrorKind};

fn request() -> CreateResponse {
    serde_json::from_value(json!({"model": "m", "input": "hi"})).unwrap()
}

fn builder(streaming: bool) -> ResponseBuilder {
    ResponseBuilder::new(
        envelope(&request(), "resp_0a1b".into(), "m".into(), 1),
        streaming,
        true,
    )
}

/// Runs events through a streaming and a folding builder; returns the stream and checks that
/// both agree on the final response.
fn run(events: &[StreamEvent]) -> Vec<ResponseStreamEvent> {
    let mut streaming = builder(true);
    let mut folding = builder(false);
    streaming.start();
    folding.start();
    for event in events {
        streaming.push(event.clone()).unwrap();
        folding.push(event.clone()).unwrap();
    }
    streaming.complete();
    folding.complete();
    assert!(!folding.has_events(), "the folding builder must not emit");
    let out: Vec<_> = streaming.drain().collect();
    let mut a = streaming.response().clone();
    let mut b = folding.response().clone();
    // completed_at is a clock reading.
    a.completed_at = None;
    b.completed_at = None;
    assert_eq!(a, b, "streaming and folding disagree");
    out
}

fn kinds(events: &[ResponseStreamEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind()).collect()
}

#[test]
fn plain_text_matches_the_reference_sequence() {
    let events = run(&[
        StreamEvent::TextDelta("Hi".into()),
        StreamEvent::TextDelta(" there!".into()),
        StreamEvent::Usage(Usage {
            input_tokens: 37,
            output_tokens: 11,
            ..Default::default()
        }),
        StreamEvent::Finish(FinishReason::Stop),
    ]);
    grammar::check_stream(&events).unwrap();
    assert_eq!(
        kinds(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let last = serde_json::to_value(&events[9]).unwrap();
    assert_eq!(last["sequence_number"], 9);
    assert_eq!(last["response"]["status"], "completed");
    assert_eq!(last["response"]["usage"]["total_tokens"], 48);
    assert_eq!(
        last["response"]["usage"]["input_tokens_details"],
        json!({"cached_tokens": 0, "cache_write_tokens": 0})
    );
    let item = &last["response"]["output"][0];
    assert_eq!(item["id"], "msg_0a1b00000000");
    assert_eq!(
        item["content"][0],
        json!({"type": "output_text", "text": "Hi there!", "annotations": [], "logprobs": []})
    );
    let delta = serde_json::to_value(&events[4]).unwrap();
    assert_eq!(
        delta,
        json!({"type": "response.output_text.delta", "sequence_number": 4,
            "item_id": "msg_0a1b00000000", "output_index": 0, "content_index": 0,
            "delta": "Hi", "logprobs": []})
    );
}

#[test]
fn reasoning_then_parallel_tool_calls() {
    let events = run(&[
        StreamEvent::ReasoningDelta("Think".into()),
        StreamEvent::ReasoningDelta("ing".into()),
        StreamEvent::ToolCallStart {
            call_id: Some("call_a".into()),
            name: "get_weather".into(),
            kind: ToolCallKind::Function,
            namespace: None,
        },
        StreamEvent::ToolCallDelta("{\"city\":".into()),
        StreamEvent::ToolCallDelta("\"Paris\"}".into()),
        StreamEvent::ToolCallStart {
            call_id: None,
            name: "get_time".into(),
            kind: ToolCallKind::Function,
            namespace: None,
        },
        StreamEvent::ToolCallDelta("{}".into()),
        StreamEvent::Finish(FinishReason::Stop),
    ]);
    grammar::check_stream(&events).unwrap();
    let ResponseStreamEvent::Completed(done) = events.last().unwrap() else {
        panic!()
    };
    let output = &done.response.output;
    assert_eq!(output.len(), 3);
    assert!(
        matches!(&output[0], Item::Reasoning(r) if r.summary.len() == 1 && r.id.as_deref() == Some("rs_0a1b00000000"))
    );
    assert!(
        matches!(&output[1], Item::FunctionCall(c) if c.arguments == "{\"city\":\"Paris\"}" && c.call_id == "call_a")
    );
    assert!(matches!(&output[2], Item::FunctionCall(c) if c.call_id.starts_with("call_")));
    assert!(!kinds(&events).contains(&"response.content_part.added"));
}

#[test]
fn refusal_then_text_are_two_parts_of_one_message() {
    let events = run(&[
        StreamEvent::RefusalDelta("I can't".into()),
        StreamEvent::TextDelta("But here is".into()),
    ]);
    grammar::check_stream(&events).unwrap();
    let ResponseStreamEvent::Completed(done) = events.last().unwrap() else {
        panic!()
    };
    let Item::Message(m) = &done.response.output[0] else {
        panic!()
    };
    let v = serde_json::to_value(&m.content).unwrap();
    assert_eq!(v[0]["type"], "refusal");
    assert_eq!(v[1]["type"], "output_text");
}

#[test]
fn length_limit_gives_incomplete_with_reason() {
    let events = run(&[
        StreamEvent::TextDelta("cut".into()),
        StreamEvent::Finish(FinishReason::Length),
    ]);
    grammar::check_stream(&events).unwrap();
    let ResponseStreamEvent::Incomplete(done) = events.last().unwrap() else {
        panic!("{:?}", kinds(&events))
    };
    assert_eq!(done.response.status, ResponseStatus::Incomplete);
    assert_eq!(
        done.response.incomplete_details.as_ref().unwrap().reason,
        "max_output_tokens"
    );
    let v = serde_json::to_value(&done.response.output[0]).unwrap();
    assert_eq!(v["status"], "incomplete");
}

#[test]
fn failure_mid_item_closes_it_and_carries_the_code() {
    let mut b = builder(true);
    b.start();
    b.push(StreamEvent::TextDelta("partial".into())).unwrap();
    b.fail(&Error::upstream(
        ErrorKind::RateLimited,
        "Please try again in 2s",
    ));
    let events: Vec<_> = b.drain().collect();
    grammar::check_stream(&events).unwrap();
    let v = serde_json::to_value(events.last().unwrap()).unwrap();
    assert_eq!(v["type"], "response.failed");
    assert_eq!(
        v["response"]["error"],
        json!({"code": "rate_limit_exceeded", "message": "Please try again in 2s"})
    );
}

#[test]
fn encrypted_reasoning_only_when_included() {
    let events = [
        StreamEvent::ReasoningDelta("t".into()),
        StreamEvent::ReasoningEncrypted("sig".into()),
        StreamEvent::ItemDone,
        StreamEvent::ReasoningEncrypted("redacted".into()),
        StreamEvent::TextDelta("x".into()),
    ];
    let out = run(&events);
    grammar::check_stream(&out).unwrap();
    let ResponseStreamEvent::Completed(done) = out.last().unwrap() else {
        panic!()
    };
    let blobs: Vec<_> = done
        .response
        .output
        .iter()
        .filter_map(|i| match i {
            Item::Reasoning(r) => r.encrypted_content.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(blobs, ["sig", "redacted"]);

    let mut without = ResponseBuilder::new(
        envelope(&request(), "resp_x".into(), "m".into(), 1),
        false,
        false,
    );
    for e in events {
        without.push(e).unwrap();
    }
    without.complete();
    // The builder keeps the blobs for the state store; the client does not see them.
    let kept = serde_json::to_value(without.response()).unwrap();
    assert!(kept.to_string().contains("encrypted_content"), "{kept}");
    let v = serde_json::to_value(without.into_response()).unwrap();
    assert!(!v.to_string().contains("encrypted_content"));
}

/// `shown_as_is` (the gateway then serialises the stored response once, for the client too)
/// holds exactly when the client's view is the stored response itself.
#[test]
fn shown_as_is_exactly_when_nothing_is_hidden() {
    let call = |state: Option<&str>| {
        let mut events = vec![StreamEvent::ToolCallStart {
            call_id: Some("call_1".into()),
            name: "f".into(),
            kind: ToolCallKind::Function,
            namespace: None,
        }];
        events.extend(state.map(|s| StreamEvent::ToolCallState(s.into())));
        events.push(StreamEvent::ToolCallDelta("{}".into()));
        events
    };
    let cases = [
        (vec![StreamEvent::TextDelta("x".into())], [true, true]),
        (
            vec![
                StreamEvent::ReasoningDelta("t".into()),
                StreamEvent::ReasoningEncrypted("sig".into()),
                StreamEvent::TextDelta("x".into()),
            ],
            // Without `include`, the blob is hidden; with it, shown.
            [false, true],
        ),
        (
            vec![
                StreamEvent::ReasoningDelta("t".into()),
                StreamEvent::TextDelta("x".into()),
            ],
            [true, true],
        ),
        (call(None), [true, true]),
        // Call state is never shown.
        (call(Some("thought")), [false, false]),
    ];
    for (events, expected) in cases {
        for (include, expected) in [false, true].into_iter().zip(expected) {
            let mut builder = ResponseBuilder::new(
                envelope(&request(), "resp_x".into(), "m".into(), 1),
                false,
                include,
            );
            for event in events.clone() {
                builder.push(event).unwrap();
            }
            builder.complete();
            let shown_as_is = builder.shown_as_is();
            let stored = builder.response().clone();
            let shown = builder.into_response();
            assert_eq!(shown_as_is, expected, "{events:?}, include {include}");
            assert_eq!(
                shown_as_is,
                shown == stored,
                "{events:?}, include {include}"
            );
        }
    }
}

#[test]
fn tool_delta_without_a_call_is_an_upstream_error() {
    let mut b = builder(true);
    b.start();
    assert!(b.push(StreamEvent::ToolCallDelta("{}".into())).is_err());
}

#[test]
fn relay_rewrites_ids_and_fills_an_empty_completed_output() {
    let mut b = builder(true);
    let upstream: Vec<ResponseStreamEvent> = serde_json::from_value(json!([
        {"type": "response.created", "sequence_number": 0,
         "response": {"id": "resp_up", "status": "in_progress", "output": [], "model": "gpt-5"}},
        {"type": "response.in_progress", "sequence_number": 1,
         "response": {"id": "resp_up", "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
         "item": {"id": "msg_up", "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_up",
         "output_index": 0, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}},
        {"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_up",
         "output_index": 0, "content_index": 0, "delta": "ok", "obfuscation": "zz"},
        {"type": "response.output_text.done", "sequence_number": 5, "item_id": "msg_up",
         "output_index": 0, "content_index": 0, "text": "ok"},
        {"type": "response.content_part.done", "sequence_number": 6, "item_id": "msg_up",
         "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "ok"}},
        {"type": "response.output_item.done", "sequence_number": 7, "output_index": 0,
         "item": {"id": "msg_up", "type": "message", "status": "completed", "role": "assistant",
                  "content": [{"type": "output_text", "text": "ok"}]}},
        {"type": "response.completed", "sequence_number": 8,
         "response": {"id": "resp_up", "status": "completed", "completed_at": 2, "output": [],
                      "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}}
    ]))
    .unwrap();
    for event in upstream {
        b.relay(event);
    }
    assert!(b.is_terminal());
    assert_eq!(b.upstream_response_id(), Some("resp_up"));
    let events: Vec<_> = b.drain().collect();
    grammar::check_stream(&events).unwrap();
    let last = serde_json::to_value(events.last().unwrap()).unwrap();
    // A client-safe upstream id is kept.
    assert_eq!(last["response"]["id"], "resp_up");
    assert_eq!(last["response"]["output"][0]["id"], "msg_up");
    let delta = serde_json::to_value(&events[4]).unwrap();
    assert_eq!(delta["obfuscation"], "zz");
}

#[test]
fn relay_replaces_an_upstream_id_clients_cannot_use() {
    let mut b = builder(true);
    for event in [
        json!({"type": "response.created", "response": {"id": "0f9c-uuid:with:colons"}}),
        json!({"type": "response.completed", "response": {"id": "0f9c-uuid:with:colons",
            "status": "completed", "completed_at": 1, "output": [],
            "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}}),
    ] {
        b.relay(serde_json::from_value(event).unwrap());
    }
    let events: Vec<_> = b.drain().collect();
    grammar::check_stream(&events).unwrap();
    for event in &events {
        assert_eq!(event.response().unwrap().id, "resp_0a1b");
    }
    assert_eq!(b.upstream_response_id(), Some("0f9c-uuid:with:colons"));
}

#[test]
fn relay_without_created_still_starts_properly_and_can_fail() {
    let mut b = builder(true);
    b.relay(
        serde_json::from_value(
            json!({"type": "response.output_item.added", "output_index": 0,
        "item": {"id": "fc_1", "type": "function_call", "status": "in_progress",
                 "arguments": "", "call_id": "call_1", "name": "f"}}),
        )
        .unwrap(),
    );
    b.fail(&Error::upstream(ErrorKind::Upstream, "connection reset"));
    let events: Vec<_> = b.drain().collect();
    grammar::check_stream(&events).unwrap();
    assert_eq!(events[0].kind(), "response.created");
}

fn arb_event() -> impl Strategy<Value = StreamEvent> {
    let text = "[a-z ]{0,6}";
    prop_oneof![
        text.prop_map(StreamEvent::TextDelta),
        text.prop_map(StreamEvent::RefusalDelta),
        text.prop_map(StreamEvent::ReasoningDelta),
        "[a-z]{1,4}".prop_map(StreamEvent::ReasoningEncrypted),
        (
            proptest::option::of("call_[a-z]{4}"),
            "[a-z]{1,5}",
            any::<bool>()
        )
            .prop_map(|(call_id, name, custom)| StreamEvent::ToolCallStart {
                call_id,
                name,
                kind: if custom {
                    ToolCallKind::Custom
                } else {
                    ToolCallKind::Function
                },
                namespace: None,
            }),
        Just(StreamEvent::ItemDone),
        (0u64..100, 0u64..100).prop_map(|(i, o)| StreamEvent::Usage(Usage {
            input_tokens: i,
            output_tokens: o,
            ..Default::default()
        })),
        prop_oneof![
            Just(FinishReason::Stop),
            Just(FinishReason::Length),
            Just(FinishReason::ContentFilter)
        ]
        .prop_map(StreamEvent::Finish),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any event sequence yields a stream that obeys the grammar, and the folded response equals
    /// the streamed one. Tool argument deltas are only generated right after a call starts, as
    /// providers guarantee (the builder rejects others, tested above).
    #[test]
    fn any_sequence_is_grammatical(
        raw in proptest::collection::vec((arb_event(), proptest::option::of("[a-z{}\":]{1,5}")), 0..40),
        fail_at_end in any::<bool>(),
    ) {
        let mut events = Vec::new();
        let mut in_call = false;
        for (event, delta) in raw {
            match &event {
                StreamEvent::ToolCallStart { .. } => in_call = true,
                StreamEvent::TextDelta(t) | StreamEvent::RefusalDelta(t) | StreamEvent::ReasoningDelta(t) if !t.is_empty() => in_call = false,
                StreamEvent::ReasoningEncrypted(_) | StreamEvent::ItemDone => in_call = false,
                _ => {}
            }
            events.push(event);
            if in_call && let Some(delta) = delta {
                events.push(StreamEvent::ToolCallDelta(delta));
            }
        }
        if fail_at_end {
            let mut b = builder(true);
            b.start();
            for e in &events {
                b.push(e.clone()).unwrap();
            }
            b.fail(&Error::upstream(ErrorKind::Upstream, "boom"));
            let out: Vec<_> = b.drain().collect();
            prop_assert!(grammar::check_stream(&out).is_ok(), "{:?}", grammar::check_stream(&out));
        } else {
            let out = run(&events);
            prop_assert!(grammar::check_stream(&out).is_ok(), "{:?}", grammar::check_stream(&out));
        }
    }
}

#[test]
fn a_reported_cost_is_kept_for_accounting_and_shown_only_on_request() {
    let usage = Usage {
        input_tokens: 10,
        output_tokens: 5,
        total_tokens: 15,
        ..Usage::default()
    };
    // Without `include_cost_in_streaming_usage`: kept for accounting, never shown.
    let mut b = builder(false);
    b.start();
    b.push(StreamEvent::Usage(usage.clone())).unwrap();
    b.push(StreamEvent::ReportedCost(0.25)).unwrap();
    b.push(StreamEvent::TextDelta("hi".into())).unwrap();
    b.complete();
    assert_eq!(b.reported_cost(), Some(0.25));
    let shown = serde_json::to_value(&b.response().usage).unwrap();
    assert!(
        shown.get("reported_cost").is_none() && shown.get("cost").is_none(),
        "{shown}"
    );
    // With it, and no price known here: the reported figure is the `cost`.
    let mut b = builder(true).with_cost_in_usage(true, None);
    b.start();
    b.push(StreamEvent::Usage(usage)).unwrap();
    b.push(StreamEvent::ReportedCost(0.5)).unwrap();
    b.complete();
    let shown = serde_json::to_value(&b.response().usage).unwrap();
    assert_eq!(shown["cost"], 0.5, "{shown}");
    assert!(shown.get("reported_cost").is_none(), "{shown}");
}
