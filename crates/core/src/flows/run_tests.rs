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
