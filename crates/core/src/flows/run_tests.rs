use super::*;
use crate::flows::model::{Param, Template};

fn step(name: &str, action: Action, next: Option<&str>) -> Step {
    Step { name: name.into(), action, next: next.map(Into::into), on_timeout: None, on_error: None }
}

fn flow(steps: Vec<Step>) -> Flow {
    Flow {
        name: "t".into(),
        description: None,
        side: Side::Customer,
        trigger: None,
        params: vec![Param { name: "key".into(), required: true, default: None }],
        start: steps[0].name.clone(),
        steps,
    }
}

fn run_of(f: &Flow) -> Run {
    let params = serde_json::json!({"key": "k1"}).as_object().cloned().unwrap_or_default();
    new_run(
        FlowRunId::new(),
        WorkspaceId::new(),
        ConversationId::new(),
        FlowId::new(),
        f,
        1,
        params,
        serde_json::Value::Null,
        None,
        None,
        Timestamp(1_000),
    )
}

#[test]
fn a_run_waits_at_ask_and_goes_on_with_the_answer() {
    let f = flow(vec![step(
        "q",
        Action::Ask {
            text: Some(Template("Pick".into())),
            choices: vec!["Yes".into(), "No".into()],
            pattern: None,
            retries: 1,
            into: "a".into(),
            timeout_secs: Some(60),
        },
        Some("end"),
    )]);
    let mut run = run_of(&f);
    let chat = serde_json::json!({});
    let fx = advance(&f, &mut run, Input::Start, &chat, Timestamp(1_000));
    assert_eq!(run.state, RunState::Waiting);
    assert_eq!(run.wait, Some(Wait::Message));
    assert!(matches!(fx[1], Effect::Send { .. }));
    assert_eq!(fx[2], Effect::Timer { secs: 60 });
    // A wrong answer is asked again once, then a right one finishes the run.
    let fx = advance(&f, &mut run, Input::Message { text: "maybe".into() }, &chat, Timestamp(2_000));
    assert!(matches!(&fx[..], [Effect::Send { .. }]));
    assert_eq!(run.state, RunState::Waiting);
    let fx = advance(&f, &mut run, Input::Message { text: " yes ".into() }, &chat, Timestamp(3_000));
    assert_eq!(run.state, RunState::Completed);
    assert_eq!(run.vars["a"], "Yes");
    assert_eq!(fx, vec![Effect::Finished { state: RunState::Completed }]);
}

#[test]
fn an_unhandled_timeout_fails_the_run_and_a_handled_one_follows_on_timeout() {
    let wait = Action::WaitForEvent { event: "e".into(), key: Template("k".into()), into: None, timeout_secs: Some(5) };
    let f = flow(vec![step("w", wait.clone(), Some("end"))]);
    let mut run = run_of(&f);
    advance(&f, &mut run, Input::Start, &serde_json::json!({}), Timestamp(0));
    advance(&f, &mut run, Input::Timeout, &serde_json::json!({}), Timestamp(5_000));
    assert_eq!(run.state, RunState::Failed);
    assert!(run.error.as_deref().unwrap_or("").contains("timed out"));

    let mut handled = step("w", wait, Some("end"));
    handled.on_timeout = Some("bye".into());
    let f = flow(vec![
        handled,
        step(
            "bye",
            Action::SendMessage { text: Template("bye".into()), format: Format::Plain, sender: Sender::System },
            Some("end"),
        ),
    ]);
    let mut run = run_of(&f);
    advance(&f, &mut run, Input::Start, &serde_json::json!({}), Timestamp(0));
    let fx = advance(&f, &mut run, Input::Timeout, &serde_json::json!({}), Timestamp(5_000));
    assert_eq!(run.state, RunState::Completed);
    assert!(matches!(&fx[1], Effect::Send { text, .. } if text == "bye"));
}

#[test]
fn a_loop_that_never_waits_is_stopped() {
    let f = flow(vec![step("a", Action::SetVars { vars: Default::default() }, Some("a"))]);
    let mut run = run_of(&f);
    advance(&f, &mut run, Input::Start, &serde_json::json!({}), Timestamp(0));
    assert_eq!(run.state, RunState::Failed);
    assert!(run.error.as_deref().unwrap_or("").contains("without waiting"));
}

mod random {
    use proptest::prelude::*;

    use super::*;
    use crate::flows::model::{Case, RouteTarget, ValueTemplate};

    const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

    fn target() -> impl Strategy<Value = String> {
        prop_oneof![prop::sample::select(NAMES.to_vec()).prop_map(str::to_owned), Just(END.to_owned())]
    }

    fn text() -> impl Strategy<Value = Template> {
        prop::sample::select(vec![
            "hi",
            "{{ vars.x }}",
            "{{ params.key }}!",
            "{{ chat.id }}",
            "",
            "{{ vars.error.message }}",
        ])
        .prop_map(|s| Template(s.to_owned()))
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            text().prop_map(|text| Action::SendMessage { text, format: Format::Plain, sender: Sender::System }),
            text().prop_map(|text| Action::SendMessage { text, format: Format::Markdown, sender: Sender::Agent }),
            (proptest::option::of(text()), 0..3u32, proptest::option::of(1..5u32)).prop_map(|(text, retries, t)| {
                Action::Ask {
                    text,
                    choices: vec!["Yes".into()],
                    pattern: None,
                    retries,
                    into: "x".into(),
                    timeout_secs: t,
                }
            }),
            Just(Action::SetVars {
                vars: serde_json::json!({"x": "{{ vars.x }}1"}).as_object().cloned().unwrap_or_default()
            }),
            (target(), target()).prop_map(|(a, b)| Action::Branch {
                cases: vec![Case {
                    condition: crate::routing::expr::Expr::parse("if", "vars.x == \"Yes\"", template::VARS).unwrap(),
                    next: a,
                }],
                default: b,
            }),
            text().prop_map(|key| Action::PublishEvent {
                event: "e".into(),
                key,
                data: ValueTemplate(serde_json::json!({}))
            }),
            (text(), proptest::option::of(1..5u32)).prop_map(|(key, t)| Action::WaitForEvent {
                event: "e".into(),
                key,
                into: Some("x".into()),
                timeout_secs: t
            }),
            Just(Action::Route { target: RouteTarget::Workflow, priority: 0 }),
            Just(Action::EndChat),
            (1..5u32).prop_map(|secs| Action::Wait { secs }),
        ]
    }

    fn flow_of() -> impl Strategy<Value = Flow> {
        prop::collection::vec(
            (action(), target(), proptest::option::of(target()), proptest::option::of(target())),
            1..5,
        )
        .prop_map(|steps| {
            let steps = steps
                .into_iter()
                .enumerate()
                .map(|(i, (action, next, on_timeout, on_error))| Step {
                    name: NAMES[i].to_owned(),
                    action,
                    next: Some(next),
                    on_timeout,
                    on_error,
                })
                .collect();
            flow(steps)
        })
    }

    fn input() -> impl Strategy<Value = Input> {
        prop_oneof![
            prop::sample::select(vec!["yes", "no", ""]).prop_map(|t| Input::Message { text: t.to_owned() }),
            Just(Input::Event { data: serde_json::json!({"n": 1}) }),
            Just(Input::Done { result: serde_json::json!({"status": 200}) }),
            Just(Input::Failed { error: "boom".into() }),
            Just(Input::Timeout),
            Just(Input::FormSubmitted { values: Values::new() }),
        ]
    }

    proptest! {
        /// Any flow (transitions to missing steps included: a stored flow
        /// may be damaged), any inputs: the interpreter never panics, a run
        /// waits only while active, a finished run waits for nothing, and
        /// no wake takes more than the step budget.
        #[test]
        fn the_interpreter_never_panics_and_keeps_its_state_consistent(
            f in flow_of(),
            inputs in prop::collection::vec(input(), 0..12),
        ) {
            let mut run = run_of(&f);
            let chat = serde_json::json!({"id": "cnv_x", "attributes": {}});
            let mut now = 1_000;
            advance(&f, &mut run, Input::Start, &chat, Timestamp(now));
            for i in inputs {
                if !run.state.is_active() {
                    break;
                }
                now += 1_000;
                let before = run.steps_taken;
                let effects = advance(&f, &mut run, i, &chat, Timestamp(now));
                prop_assert!(run.steps_taken - before <= MAX_STEPS_PER_WAKE + 1);
                let finished = effects.iter().any(|e| matches!(e, Effect::Finished { .. }));
                prop_assert_eq!(finished, !run.state.is_active());
            }
            prop_assert_eq!(run.state.is_active(), run.wait.is_some());
        }
    }
}
