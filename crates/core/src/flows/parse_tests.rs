//! Tests of flow parsing: the format, every step type, and errors that name
//! their field and line, all of them at once.

use super::*;
use crate::flows::form::{Field, FieldKind};
use proptest::prelude::*;
use serde_json::json;

/// Every step type once, with most of their settings.
const FULL: &str = r#"name: everything
description: Every step type once
side: customer
trigger:
  chat_started: [website, app]
params:
  case_id: { required: true }
  lang: { default: en }
  note:
start: hello
steps:
  hello:
    type: send_message
    text: "Hi {{ chat.attributes.name }}, about {{ params.case_id }}"
    format: markdown
    as: agent
    next: topic
  topic:
    type: ask
    text: What is it about?
    choices: [Billing, Technical]
    retries: 3
    into: topic
    timeout: 5m
    on_timeout: human
    next: details
  details:
    type: show_form
    form:
      name: details
      title: A few details
      description: So that we can help
      fields:
        - { name: amount, type: number, min: 0, max: 10000, required: true }
        - { name: email, label: Your email, type: email }
        - { name: reference, type: text, pattern: "[A-Z]{2}[0-9]+" }
        - { name: when, type: date }
        - { name: urgent, type: boolean }
        - { name: size, type: choice, choices: [S, M, L] }
    into: details
    timeout: 2d
    on_timeout: end
    next: remember
  remember:
    type: set_attributes
    attributes: { topic: "{{ vars.topic }}", amount: 3, cleared: null }
    record_id: "{{ params.case_id }}"
    next: compute
  compute:
    type: set_vars
    vars: { greeting: "Hello {{ vars.details.email }}", count: 1 }
    next: pick
  pick:
    type: branch
    cases:
      - if: vars.topic == "Billing"
        next: lookup
      - if: vars.details.amount > 1000
        next: human
    default: announce
  lookup:
    type: http_request
    method: post
    url: "https://api.example.com/cases/{{ params.case_id }}"
    headers: { Authorization: "Bearer {{ vars.greeting }}", X-Trace: fixed }
    body: { topic: "{{ vars.topic }}", amounts: [1, 2.5, "{{ vars.count }}"] }
    timeout: 30s
    into: lookup
    on_timeout: human
    on_error: human
    next: announce
  announce:
    type: publish_event
    event: use_of_funds
    key: "{{ params.case_id }}"
    data: { reason: "{{ vars.topic }}" }
    next: await
  await:
    type: wait_for_event
    event: use_of_funds
    key: "{{ params.case_id }}"
    into: answer
    timeout: 1h
    on_timeout: pause
    next: input
  input:
    type: set_agent_input
    text: "Reason: {{ vars.answer.reason }}"
    next: file
  file:
    type: request_file
    record_id: "{{ params.case_id }}"
    next: launch
  launch:
    type: launch_flow
    flow: agent-helper
    params: { key: "{{ params.case_id }}" }
    next: sub
  sub:
    type: subflow
    flow: survey
    params: {}
    into: survey
    next: pause
  pause:
    type: wait
    for: 90s
    next: move
  move:
    type: transfer
    agent: ada
    next: human
  human:
    type: route
    queue: billing
    priority: 5
    next: bye
  bye:
    type: end_chat
"#;

const CUSTOMER_EXAMPLE: &str = r#"name: use-of-funds-customer
side: customer
params:
  key: { required: true }
steps:
  ask:
    type: show_form
    form:
      name: use_of_funds
      title: Use of funds
      fields:
        - { name: reason, label: What will the funds be used for?, type: choice, required: true, choices: [Renovation work, Purchase, Refinancing, Other] }
    into: answer
    timeout: 1h
    next: publish
    on_timeout: end
  publish:
    type: publish_event
    event: use_of_funds
    key: "{{ params.key }}"
    data: { reason: "{{ vars.answer.reason }}" }
    next: thanks
  thanks:
    type: send_message
    text: "Thanks, we have your answer."
    next: end
"#;

const AGENT_EXAMPLE: &str = r#"name: use-of-funds-agent
description: Asks the customer what the funds are for, and notes the answer.
side: agent
steps:
  launch:
    type: launch_flow
    flow: use-of-funds-customer
    params: { key: "{{ chat.record_id }}" }
    next: tell
  tell:
    type: send_message
    as: agent
    text: I have sent you a short form about the use of funds.
    next: wait
  wait:
    type: wait_for_event
    event: use_of_funds
    key: "{{ chat.record_id }}"
    into: result
    timeout: 1d
    on_timeout: end
    next: note
  note:
    type: send_message
    text: "The customer answered: {{ vars.result.reason }}"
    next: record
  record:
    type: set_attributes
    attributes: { use_of_funds: "{{ vars.result.reason }}" }
    next: end
"#;

fn use_of_funds() -> EventType {
    EventType {
        name: "use_of_funds".to_owned(),
        description: None,
        fields: vec![
            Field {
                name: "reason".to_owned(),
                label: "Reason".to_owned(),
                kind: FieldKind::Choice { choices: vec!["Purchase".to_owned(), "Other".to_owned()] },
                required: true,
            },
            Field {
                name: "note".to_owned(),
                label: "Note".to_owned(),
                kind: FieldKind::Text { pattern: None },
                required: false,
            },
        ],
        retention_days: 3,
    }
}

/// What the full flow and the examples refer to.
fn catalog() -> Catalog {
    Catalog {
        event_types: Some(vec![use_of_funds()]),
        flows: Some(vec!["agent-helper".to_owned(), "survey".to_owned(), "use-of-funds-customer".to_owned()]),
        queues: Some(vec!["billing".to_owned(), "general".to_owned()]),
    }
}

fn parse(source: &str) -> Flow {
    parse_yaml(source, &catalog()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn errors(source: &str) -> Vec<Error> {
    match parse_yaml(source, &catalog()) {
        Ok(flow) => panic!("expected errors, parsed {flow:#?}"),
        Err(errors) => errors,
    }
}

/// The one error at `field` (there must be exactly one there).
fn error_at(source: &str, field: &str) -> Error {
    let all = errors(source);
    let count = all.iter().filter(|e| e.field.as_deref() == Some(field)).count();
    assert_eq!(count, 1, "one error at {field}, got {all:#?}");
    all.into_iter().find(|e| e.field.as_deref() == Some(field)).unwrap()
}

/// The 1-based line of the first line containing `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    source.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("no {needle:?}"))
}

/// `error_at`, checking the message starts at the line of `needle` and contains `text`.
fn expect(source: &str, field: &str, needle: &str, text: &str) -> Error {
    let e = error_at(source, field);
    let line = format!("line {}, column ", line_of(source, needle));
    assert!(e.message.starts_with(&line), "{field}: expected {line}…, got {}", e.message);
    assert!(e.message.contains(text), "{field}: expected {text:?} in {}", e.message);
    e
}

/// A small valid flow with one step to vary: `STEP` is replaced.
fn with_step(step: &str) -> String {
    format!("name: small\nparams:\n  key:\nsteps:\n  first:\n{step}  last:\n    type: end_chat\n")
}

#[test]
fn the_full_flow_parses_with_every_step_type() {
    let flow = parse(FULL);
    assert_eq!(flow.name, "everything");
    assert_eq!(flow.description.as_deref(), Some("Every step type once"));
    assert_eq!(flow.side, Side::Customer);
    assert_eq!(flow.trigger, Some(Trigger::ChatStarted(vec!["website".to_owned(), "app".to_owned()])));
    assert_eq!(
        flow.params,
        [
            Param { name: "case_id".to_owned(), required: true, default: None },
            Param { name: "lang".to_owned(), required: false, default: Some(json!("en")) },
            Param { name: "note".to_owned(), required: false, default: None },
        ]
    );
    assert_eq!(flow.start, "hello");
    let mut types: Vec<&str> = flow.steps.iter().map(|s| s.action.type_name()).collect();
    types.sort_unstable();
    let mut all = Action::TYPES.to_vec();
    all.sort_unstable();
    assert_eq!(types, all);

    let step = |name: &str| flow.step(name).unwrap().clone();
    assert_eq!(
        step("hello").action,
        Action::SendMessage {
            text: Template("Hi {{ chat.attributes.name }}, about {{ params.case_id }}".to_owned()),
            format: Format::Markdown,
            sender: Sender::Agent,
        }
    );
    assert_eq!(
        step("topic").action,
        Action::Ask {
            text: Some(Template("What is it about?".to_owned())),
            choices: vec!["Billing".to_owned(), "Technical".to_owned()],
            pattern: None,
            retries: 3,
            into: "topic".to_owned(),
            timeout_secs: Some(300),
        }
    );
    assert_eq!(step("topic").on_timeout.as_deref(), Some("human"));
    let Action::ShowForm { form, timeout_secs, .. } = step("details").action else { panic!() };
    assert_eq!(timeout_secs, Some(2 * 86_400));
    assert_eq!(form.fields.len(), 6);
    assert_eq!(form.fields[0].kind, FieldKind::Number { min: Some(0.0), max: Some(10_000.0) });
    assert_eq!(form.fields[0].label, "amount", "the label defaults to the name");
    assert_eq!(form.fields[1].label, "Your email");
    assert_eq!(form.fields[5].kind, FieldKind::Choice { choices: vec!["S".into(), "M".into(), "L".into()] });
    let Action::SetAttributes { attributes, record_id } = step("remember").action else { panic!() };
    assert_eq!(
        serde_json::Value::Object(attributes),
        json!({"topic": "{{ vars.topic }}", "amount": 3, "cleared": null})
    );
    assert_eq!(record_id, Some(Template("{{ params.case_id }}".to_owned())));
    let Action::Branch { cases, default } = step("pick").action else { panic!() };
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[1].condition.source(), "vars.details.amount > 1000");
    assert_eq!(default, "announce");
    assert_eq!(step("pick").next, None);
    let Action::HttpRequest { method, headers, body, timeout_secs, into, .. } = step("lookup").action else { panic!() };
    assert_eq!(method, Method::Post);
    assert_eq!(headers[1], ("X-Trace".to_owned(), Template("fixed".to_owned())));
    assert_eq!(body.unwrap().0["amounts"], json!([1, 2.5, "{{ vars.count }}"]));
    assert_eq!((timeout_secs, into.as_deref()), (30, Some("lookup")));
    assert_eq!(step("human").action, Action::Route { target: RouteTarget::Queue("billing".to_owned()), priority: 5 });
    assert_eq!(step("move").action, Action::Transfer { target: RouteTarget::Agent("ada".to_owned()) });
    assert_eq!(step("pause").action, Action::Wait { secs: 90 });
    assert_eq!(step("bye").next.as_deref(), Some(END), "end_chat finishes by default");
    assert!(matches!(step("sub").action, Action::Subflow { into: Some(ref i), .. } if i == "survey"));
}

#[test]
fn the_examples_parse() {
    let customer = parse(CUSTOMER_EXAMPLE);
    assert_eq!(customer.start, "ask");
    assert_eq!(customer.steps.len(), 3);
    let agent = parse(AGENT_EXAMPLE);
    assert_eq!(agent.side, Side::Agent);
    assert_eq!(
        agent.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["launch", "tell", "wait", "note", "record"]
    );
    assert_eq!(agent.step("wait").unwrap().action.type_name(), "wait_for_event");
    // Nothing outside the flow is checked without a catalog.
    parse_yaml(CUSTOMER_EXAMPLE, &Catalog::default()).unwrap();
    parse_yaml(AGENT_EXAMPLE, &Catalog::default()).unwrap();
}

#[test]
fn defaults_apply() {
    let flow = parse(&with_step(
        "    type: ask\n    into: answer\n    next: http\n  http:\n    type: http_request\n    url: https://x.test/a\n    next: route\n  route:\n    type: route\n    workflow: true\n    next: last\n",
    ));
    assert_eq!(flow.side, Side::Customer);
    assert_eq!(flow.trigger, None);
    assert_eq!(flow.start, "first", "the first step listed");
    let Action::Ask { retries, timeout_secs, text, .. } = &flow.steps[0].action else { panic!() };
    assert_eq!((*retries, *timeout_secs, text), (2, None, &None));
    let Action::HttpRequest { method, timeout_secs, into, body, .. } = &flow.steps[1].action else { panic!() };
    assert_eq!((*method, *timeout_secs, into, body), (Method::Get, 10, &None, &None));
    assert_eq!(flow.steps[2].action, Action::Route { target: RouteTarget::Workflow, priority: 0 });
    let flow = parse(&with_step("    type: send_message\n    text: hi\n    next: last\n"));
    assert_eq!(
        flow.steps[0].action,
        Action::SendMessage { text: Template("hi".to_owned()), format: Format::Plain, sender: Sender::System }
    );
}

#[test]
fn triggers_of_each_kind() {
    let base = "\nsteps:\n  a: { type: end_chat }\n";
    let flow = parse(&format!("name: t\ntrigger:\n  message_added: [web]{base}"));
    assert_eq!(flow.trigger, Some(Trigger::MessageAdded(vec!["web".to_owned()])));
    let flow = parse(&format!("name: t\ntrigger: {{ event: use_of_funds }}{base}"));
    assert_eq!(flow.trigger, Some(Trigger::Event("use_of_funds".to_owned())));

    let source = format!("name: t\ntrigger:\n  event: use_of_fund{base}");
    expect(
        &source,
        "trigger.event",
        "use_of_fund",
        "there is no event type `use_of_fund` (did you mean `use_of_funds`?)",
    );
    let source = format!("name: t\ntrigger:\n  event: x\n  chat_started: [a]{base}");
    expect(&source, "trigger", "event: x", "exactly one of");
    let source = format!("name: t\ntrigger:\n  chat_started: []{base}");
    expect(&source, "trigger.chat_started", "chat_started", "at least one entry point");
    let source = format!("name: t\ntrigger:\n  chat_started: [web, '']{base}");
    expect(&source, "trigger.chat_started[1]", "chat_started", "must not be empty");
}

/// Steps by name: a `serde_json::Value` object does not keep its keys in
/// document order (the workspace does not enable `preserve_order`).
fn by_name(mut flow: Flow) -> Flow {
    flow.steps.sort_by(|a, b| a.name.cmp(&b.name));
    flow
}

#[test]
fn json_gives_the_same_flow_as_yaml() {
    for source in [FULL, CUSTOMER_EXAMPLE, AGENT_EXAMPLE] {
        let value: serde_json::Value = serde_saphyr::from_str(source).unwrap();
        assert_eq!(by_name(from_json(&value, &catalog()).unwrap()), by_name(parse(source)));
        let text = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(by_name(parse_stored(&text).unwrap()), by_name(parse(source)));
    }
}

#[test]
fn stored_json_keeps_its_steps_in_document_order() {
    let source = r#"{"name": "t", "steps": {"zeta": {"type": "wait", "for": "1m", "next": "alpha"}, "alpha": {"type": "end_chat"}}}"#;
    let flow = parse_stored(source).unwrap();
    assert_eq!(flow.start, "zeta");
    assert_eq!(flow.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["zeta", "alpha"]);
    assert_eq!(flow, parse_yaml(source, &Catalog::default()).unwrap(), "JSON is YAML too");
    let deep = format!("{{\"name\": \"t\", \"x\": {}1{}}}", "[".repeat(30), "]".repeat(30));
    assert_eq!(parse_stored(&deep).unwrap_err()[0].message, "the document nests too deeply");
}

#[test]
fn a_stored_flow_reads_back_as_it_was() {
    for source in [FULL, CUSTOMER_EXAMPLE, AGENT_EXAMPLE] {
        let flow = parse(source);
        let stored = serde_json::to_value(&flow).unwrap();
        assert_eq!(from_json(&stored, &catalog()).unwrap(), flow);
        assert_eq!(parse_stored(&stored.to_string()).unwrap(), flow);
        assert_eq!(parse_stored(source).unwrap(), flow);
    }
    let e = parse_stored("  {\"name\": ").unwrap_err();
    assert_eq!(e[0].field.as_deref(), Some("flow"));
    assert!(e[0].message.starts_with("invalid JSON"), "{}", e[0].message);
}

#[test]
fn json_errors_name_the_same_paths_without_lines() {
    let value = json!({"name": "x", "steps": {"a": {"type": "ask", "into": "v", "timeout": 0, "next": "end"}}});
    let e = from_json(&value, &catalog()).unwrap_err();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].field.as_deref(), Some("steps.a.timeout"));
    assert!(e[0].message.starts_with("a timeout of 0 seconds is out of range"), "{}", e[0].message);

    let mut deep = json!("x");
    for _ in 0..30 {
        deep = json!([deep]);
    }
    let value = json!({"name": "x", "steps": {"a": {"type": "set_vars", "vars": {"v": deep}, "next": "end"}}});
    let e = from_json(&value, &catalog()).unwrap_err();
    assert_eq!(e[0].field.as_deref(), Some("flow"));
}

#[test]
fn unknown_fields_and_types_suggest_the_nearest() {
    let source = FULL.replace("description: Every", "descripton: Every");
    let e = expect(&source, "descripton", "descripton", "unknown field `descripton`");
    assert!(e.message.contains("did you mean `description`?"), "{}", e.message);

    let source = with_step("    type: send_mesage\n    text: hi\n    next: last\n");
    let e = expect(
        &source,
        "steps.first.type",
        "send_mesage",
        "unknown step type `send_mesage` (did you mean `send_message`?)",
    );
    assert!(e.message.contains("types: send_message, ask, show_form"), "{}", e.message);

    let source = with_step("    type: send_message\n    txt: hi\n    next: last\n");
    let e = expect(&source, "steps.first.txt", "txt:", "unknown field `txt`");
    assert!(e.message.contains("(did you mean `text`?)"), "{}", e.message);
    assert!(e.message.contains("allowed fields: type, text, format, as, next, on_timeout, on_error"), "{}", e.message);

    let source =
        with_step("    type: branch\n    cases: [{ if: 'true', next: last }]\n    default: last\n    next: last\n");
    expect(&source, "steps.first.next", "    next: last", "unknown field `next`");

    let source = with_step("    type: send_message\n    text: hi\n    format: html\n    next: last\n");
    expect(&source, "steps.first.format", "format:", "expected one of: plain, markdown; got `html`");
    let source = with_step("    type: send_message\n    text: hi\n    as: bot\n    next: last\n");
    expect(&source, "steps.first.as", "as: bot", "expected one of: system, agent");
}

#[test]
fn transitions_are_required_and_must_lead_somewhere() {
    let source = with_step("    type: send_message\n    text: hi\n");
    let e = expect(&source, "steps.first.next", "type: send_message", "missing transition `next`");
    assert!(e.message.ends_with("use `next: end` to finish the flow"), "{}", e.message);

    // The steps after one without `next` are not reported as unreachable: only the cause is.
    let source = "name: t\nsteps:\n  a: { type: wait, for: 5 }\n  b: { type: wait, for: 5, next: end }\n";
    assert_eq!(errors(source).len(), 1);

    let source = with_step("    type: send_message\n    text: hi\n    next: lsat\n");
    let e = expect(&source, "steps.first.next", "next: lsat", "dangling transition: there is no step `lsat`");
    assert!(e.message.contains("(did you mean `last`?)"), "{}", e.message);

    let source = FULL.replace("default: announce", "default: anounce");
    expect(&source, "steps.pick.default", "default: anounce", "(did you mean `announce`?)");
    let source = FULL.replace("        next: human\n    default", "        next: humane\n    default");
    expect(&source, "steps.pick.cases[1].next", "next: humane", "no step `humane`");

    let source =
        "name: t\nsteps:\n  a: { type: end_chat }\n  b: { type: end_chat }\n  c: { type: wait, for: 5, next: b }\n";
    let all = errors(source);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0].field.as_deref(), Some("steps.b"));
    assert!(all[0].message.starts_with("line 4, column 3: unreachable step"), "{}", all[0].message);
    assert_eq!(all[1].field.as_deref(), Some("steps.c"));

    let source = "name: t\nstart: b\nsteps:\n  a: { type: end_chat }\n";
    expect(source, "start", "start: b", "there is no step `b` to start with");
    let source =
        "name: t\nstart: b\nsteps:\n  a: { type: wait, for: 5, next: end }\n  b: { type: wait, for: 5, next: end }\n";
    expect(source, "steps.a", "  a:", "unreachable step: no transition leads to `a` from the start (`b`)");
}

#[test]
fn on_timeout_only_where_a_step_can_time_out() {
    let source = with_step("    type: send_message\n    text: hi\n    next: last\n    on_timeout: last\n");
    expect(&source, "steps.first.on_timeout", "on_timeout", "only for steps that can time out");
    let source = with_step("    type: ask\n    into: x\n    next: last\n    on_timeout: last\n");
    expect(&source, "steps.first.on_timeout", "on_timeout", "with a `timeout`");
    parse(&with_step("    type: ask\n    into: x\n    timeout: 60\n    next: last\n    on_timeout: last\n"));
    parse(&with_step("    type: http_request\n    url: http://h/\n    next: last\n    on_timeout: last\n"));
    parse(&with_step("    type: send_message\n    text: hi\n    next: last\n    on_error: end\n"));
}

#[test]
fn durations_accept_units_up_to_thirty_days() {
    for (text, seconds) in
        [("45", 45), ("\"90s\"", 90), ("5m", 300), ("1h30m", 5_400), ("2d", 172_800), ("30d", 2_592_000)]
    {
        let flow = parse(&with_step(&format!("    type: wait\n    for: {text}\n    next: last\n")));
        assert_eq!(flow.steps[0].action, Action::Wait { secs: seconds }, "{text}");
    }
    for text in ["0", "31d", "2592001", "1.5", "90x", "1h30", "-1", "true"] {
        let source = with_step(&format!("    type: ask\n    into: x\n    timeout: {text}\n    next: last\n"));
        expect(&source, "steps.first.timeout", "timeout:", "");
    }
    let source = with_step("    type: ask\n    into: x\n    timeout: 31d\n    next: last\n");
    expect(&source, "steps.first.timeout", "timeout:", "from 1 to 2592000 (30 days)");
    let source = with_step("    type: http_request\n    url: http://h/\n    timeout: 2m\n    next: last\n");
    expect(&source, "steps.first.timeout", "timeout:", "from 1 to 60 (a minute)");
    let source = with_step("    type: wait\n    next: last\n");
    expect(&source, "steps.first.for", "type: wait", "missing field `for`");
}

#[test]
fn templates_are_checked_where_they_are_written() {
    let source = with_step("    type: send_message\n    text: \"Hi {{ chat.name \"\n    next: last\n");
    expect(&source, "steps.first.text", "text:", "syntax error");
    let source = with_step("    type: send_message\n    text: \"Hi {{ customer.name }}\"\n    next: last\n");
    expect(&source, "steps.first.text", "text:", "unknown variable `customer`");
    let source = with_step(
        "    type: http_request\n    method: POST\n    url: http://h/\n    body: { a: [1, { b: \"{{ x }}\" }] }\n    next: last\n",
    );
    expect(&source, "steps.first.body.a[1].b", "body:", "unknown variable `x`");
    let source = with_step("    type: set_vars\n    vars: { n: \"{{ 'x' * 9 }}\" }\n    next: last\n");
    expect(&source, "steps.first.vars.n", "vars:", "`*`");
}

#[test]
fn variables_and_parameters_must_be_declared() {
    let source = CUSTOMER_EXAMPLE.replace("{{ vars.answer.reason }}", "{{ vars.anwser.reason }}");
    expect(
        &source,
        "steps.publish.data.reason",
        "data:",
        "`vars.anwser` is not set by any step (`into` or `set_vars`) (did you mean `answer`?)",
    );
    let source = CUSTOMER_EXAMPLE.replace("{{ params.key }}", "{{ params.kye }}");
    expect(&source, "steps.publish.key", "key: \"{{", "`params.kye` is not a declared parameter (did you mean `key`?)");
    // Set by any step, in any order; whole objects and other roots are not checked.
    parse(&with_step(
        "    type: send_message\n    text: \"{{ vars.later }} {{ vars }} {{ chat.x.y }}\"\n    next: set\n  set:\n    type: set_vars\n    vars: { later: 1 }\n    next: last\n",
    ));
}

#[test]
fn branch_conditions_are_cel_over_the_flow_variables() {
    let source = FULL.replace("if: vars.details.amount > 1000", "if: vars.details.amount >");
    let e = expect(&source, "steps.pick.cases[1].if", "if: vars.details.amount >", "syntax error");
    assert!(e.message.starts_with(&format!("line {}, column 13: ", line_of(&source, "amount >"))), "{}", e.message);
    let source = FULL.replace("if: vars.details.amount > 1000", "if: agent.level > 1");
    expect(&source, "steps.pick.cases[1].if", "agent.level", "unknown variable `agent`");
    let source = with_step("    type: branch\n    cases: []\n    default: last\n");
    expect(&source, "steps.first.cases", "cases:", "at least one case");
    let source = with_step("    type: branch\n    cases: [{ if: 'true', next: last }]\n");
    expect(&source, "steps.first.default", "type: branch", "missing field `default`");
}

#[test]
fn forms_are_checked_field_by_field() {
    let source = CUSTOMER_EXAMPLE.replace("type: choice", "type: choise");
    let e = expect(
        &source,
        "steps.ask.form.fields[0].type",
        "choise",
        "unknown field type `choise` (did you mean `choice`?)",
    );
    assert!(e.message.contains("types: text, number, choice, date, email, boolean"), "{}", e.message);

    let fields = "      fields:\n        - { name: a, type: text }\n        - { name: b, type: number, min: 5, max: 1 }\n        - { name: c, type: colour }\n        - { name: a, type: date }\n        - { name: e, type: number, pattern: x }\n        - { name: f, type: choice }\n        - { name: g, type: text, pattern: '(' }\n";
    let source = with_step(&format!(
        "    type: show_form\n    form:\n      name: f\n      title: T\n{fields}    into: answer\n    next: last\n"
    ));
    let all = errors(&source);
    let paths: Vec<&str> = all.iter().filter_map(|e| e.field.as_deref()).collect();
    assert_eq!(
        paths,
        [
            "steps.first.form.fields[1].max",
            "steps.first.form.fields[2].type",
            "steps.first.form.fields[3].name",
            "steps.first.form.fields[4].pattern",
            "steps.first.form.fields[5].choices",
            "steps.first.form.fields[6].pattern",
        ],
        "{all:#?}"
    );
    expect(&source, "steps.first.form.fields[2].type", "colour", "unknown field type `colour`");

    let source = AGENT_EXAMPLE.replace(
        "  record:\n",
        "  form1:\n    type: show_form\n    form: { name: dup, title: A, fields: [{ name: a, type: date }] }\n    into: one\n    next: form2\n  form2:\n    type: show_form\n    form: { name: dup, title: B, fields: [{ name: a, type: date }] }\n    into: two\n    next: record\n  record:\n",
    ).replace("    next: record\n  form1", "    next: form1\n  form1");
    expect(&source, "steps.form2.form.name", "name: dup, title: B", "duplicate form name `dup` (also in steps.form1)");

    let source =
        with_step("    type: show_form\n    form: { name: f, title: T, fields: [] }\n    into: x\n    next: last\n");
    expect(&source, "steps.first.form.fields", "form:", "1 to 50 fields");
    let source =
        with_step("    type: show_form\n    form: { name: f, fields: [{ name: a, type: date }] }\n    next: last\n");
    let all = errors(&source);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0].field.as_deref(), Some("steps.first.form.title"));
    assert_eq!(all[1].field.as_deref(), Some("steps.first.into"));
}

#[test]
fn ask_settings_are_checked() {
    let source = with_step("    type: ask\n    into: 9lives\n    next: last\n");
    expect(&source, "steps.first.into", "9lives", "not a valid name");
    let source = with_step("    type: ask\n    into: x\n    retries: 11\n    next: last\n");
    expect(&source, "steps.first.retries", "retries", "from 0 to 10");
    let source = with_step("    type: ask\n    into: x\n    pattern: '[a-'\n    next: last\n");
    expect(&source, "steps.first.pattern", "pattern", "not a valid regular expression");
    let choices: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
    let source =
        with_step(&format!("    type: ask\n    into: x\n    choices: [{}]\n    next: last\n", choices.join(", ")));
    expect(&source, "steps.first.choices", "choices", "more than the limit of 50");
    let source = with_step("    type: ask\n    next: last\n");
    expect(&source, "steps.first.into", "type: ask", "missing field `into`");
}

#[test]
fn http_requests_are_checked() {
    let source = with_step("    type: http_request\n    url: http://h/\n    body: { a: 1 }\n    next: last\n");
    expect(&source, "steps.first.body", "body:", "a GET request has no body");
    let source = with_step("    type: http_request\n    url: ftp://h/file\n    next: last\n");
    expect(&source, "steps.first.url", "url:", "not an http:// or https:// URL");
    let source = with_step("    type: http_request\n    url: \"ftp://{{ params.key }}/\"\n    next: last\n");
    expect(&source, "steps.first.url", "url:", "not an http:// or https:// URL");
    let source = with_step("    type: http_request\n    url: not a url\n    next: last\n");
    expect(&source, "steps.first.url", "url:", "not an http:// or https:// URL");
    let source = with_step("    type: http_request\n    url: https://\n    next: last\n");
    expect(&source, "steps.first.url", "url:", "has no host");
    let source =
        with_step("    type: http_request\n    url: \"{{ params.key }}\"\n    method: patch\n    next: last\n");
    assert!(matches!(parse(&source).steps[0].action, Action::HttpRequest { method: Method::Patch, .. }));
    let source = with_step("    type: http_request\n    method: FETCH\n    url: http://h/\n    next: last\n");
    expect(&source, "steps.first.method", "FETCH", "unknown HTTP method `FETCH`");
    let source =
        with_step("    type: http_request\n    url: http://h/\n    headers: { \"Bad Header\": x }\n    next: last\n");
    expect(&source, "steps.first.headers.Bad Header", "headers", "not a valid HTTP header name");
    let source = with_step("    type: http_request\n    url: http://h/\n    into: Result\n    next: last\n");
    expect(&source, "steps.first.into", "into", "not a valid name");
}

#[test]
fn events_are_checked_against_their_declared_types() {
    let source = CUSTOMER_EXAMPLE.replace("event: use_of_funds", "event: use_of_fund");
    expect(
        &source,
        "steps.publish.event",
        "event:",
        "there is no event type `use_of_fund` (did you mean `use_of_funds`?)",
    );
    let source = CUSTOMER_EXAMPLE.replace("data: { reason:", "data: { note: x, reasn:");
    let all = errors(&source);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0].field.as_deref(), Some("steps.publish.data.reasn"));
    assert!(all[0].message.contains("has no field `reasn` (did you mean `reason`?)"), "{}", all[0].message);
    assert_eq!(all[1].field.as_deref(), Some("steps.publish.data"));
    assert!(all[1].message.contains("requires the field `reason`"), "{}", all[1].message);
    // Without declared types, any data goes.
    parse_yaml(&source, &Catalog::default()).unwrap();
    let source = AGENT_EXAMPLE.replace("event: use_of_funds", "event: Use-Of-Funds");
    expect(&source, "steps.wait.event", "event:", "not a valid event type name");
}

#[test]
fn routes_name_exactly_one_target() {
    let source = with_step("    type: route\n    queue: billing\n    agent: ada\n    next: last\n");
    expect(
        &source,
        "steps.first.agent",
        "agent: ada",
        "give only one of `queue`, `agent` or `workflow`, not queue and agent",
    );
    let source = with_step("    type: transfer\n    next: last\n");
    expect(&source, "steps.first", "type: transfer", "missing target");
    let source = with_step("    type: route\n    queue: biling\n    next: last\n");
    expect(&source, "steps.first.queue", "biling", "there is no queue `biling` (did you mean `billing`?)");
    let source = with_step("    type: route\n    workflow: false\n    next: last\n");
    expect(&source, "steps.first.workflow", "workflow", "can only be `true`");
    let source = with_step("    type: route\n    workflow: true\n    priority: 1001\n    next: last\n");
    expect(&source, "steps.first.priority", "priority", "from -1000 to 1000");
}

#[test]
fn launched_flows_are_others_that_exist() {
    let source = with_step("    type: launch_flow\n    flow: small\n    next: last\n");
    expect(&source, "steps.first.flow", "flow: small", "a flow cannot run itself");
    let source = with_step("    type: subflow\n    flow: survy\n    next: last\n");
    expect(&source, "steps.first.flow", "survy", "there is no flow `survy` (did you mean `survey`?)");
    let source = with_step("    type: launch_flow\n    flow: survey\n    params: { 9x: 1 }\n    next: last\n");
    expect(&source, "steps.first.params.9x", "params: {", "not a valid name");
}

#[test]
fn names_params_and_the_document_are_checked() {
    let e = error_at("steps:\n  a: { type: end_chat }\n", "name");
    assert_eq!(e.message, "line 1, column 1: missing field `name`");
    let source = "name: Bad Name\nsteps:\n  a: { type: end_chat }\n";
    expect(source, "name", "name:", "not a valid flow name");
    let source = "name: t\nsteps:\n  end: { type: end_chat }\n";
    expect(source, "steps.end", "end:", "cannot name a step");
    let source = "name: t\nsteps:\n  Hello: { type: end_chat }\n";
    expect(source, "steps.Hello", "Hello", "not a valid step name");
    let source = "name: t\nparams:\n  case-id:\nsteps:\n  a: { type: end_chat }\n";
    expect(source, "params.case-id", "case-id", "not a valid name");
    let source = "name: t\nparams:\n  k: { required: true, default: 1 }\nsteps:\n  a: { type: end_chat }\n";
    expect(source, "params.k.default", "required: true", "no use for a default");
    let source = "name: t\nside: both\nsteps:\n  a: { type: end_chat }\n";
    expect(source, "side", "side", "expected one of: customer, agent");
    let source = "name: t\nsteps: {}\n";
    expect(source, "steps", "steps", "at least one step");
    let source = with_step("    type: set_attributes\n    next: last\n");
    expect(&source, "steps.first", "type: set_attributes", "needs `attributes`, `record_id` or both");
    let source = with_step("    type: set_vars\n    vars: {}\n    next: last\n");
    expect(&source, "steps.first.vars", "vars: {}", "at least one variable");

    let steps: String = (0..=MAX_STEPS).map(|i| format!("  s{i}: {{ type: end_chat }}\n")).collect();
    let e = error_at(&format!("name: t\nsteps:\n{steps}"), "steps");
    assert!(e.message.contains("more than the limit of 200"), "{}", e.message);

    for empty in ["", "# nothing\n", "null"] {
        assert_eq!(errors(empty)[0].field.as_deref(), Some("flow"), "{empty:?}");
    }
    let e = errors("- a\n- b\n");
    assert!(e[0].message.starts_with("line 1, column 1: expected a flow"), "{}", e[0].message);
    let e = errors("name: t\nsteps: [\n");
    assert!(e[0].message.contains("invalid YAML"), "{}", e[0].message);
    let e = errors("name: t\n---\nname: u\n");
    assert!(e[0].message.ends_with("a flow is a single YAML document (found another `---`)"), "{}", e[0].message);
    let big = format!("# {}\nname: t\n", "x".repeat(MAX_DOCUMENT_BYTES));
    assert!(errors(&big)[0].message.contains("more than the limit"));
}

#[test]
fn every_error_is_reported_at_once() {
    let source = "name: t\ndescripton: x\nsteps:\n  a:\n    type: send_message\n    text: \"{{ oops }}\"\n    next: b\n  b:\n    type: ask\n    into: x\n    timeout: 0\n    next: nowhere\n  c:\n    type: sleep\n";
    let all = errors(source);
    let got: Vec<(&str, &str)> =
        all.iter().map(|e| (e.field.as_deref().unwrap_or(""), e.message.split(':').next().unwrap_or(""))).collect();
    assert_eq!(
        got,
        [
            ("descripton", "line 2, column 1"),
            ("steps.a.text", "line 6, column 11"),
            ("steps.b.timeout", "line 11, column 14"),
            ("steps.c.type", "line 14, column 11"),
            ("steps.b.next", "line 12, column 11"),
        ],
        "{all:#?}"
    );

    let steps: String = (0..60).map(|i| format!("  s{i}: {{ type: wait, for: 0, next: end }}\n")).collect();
    assert_eq!(errors(&format!("name: t\nsteps:\n{steps}")).len(), MAX_ERRORS);
}

#[test]
fn aliases_are_bounded() {
    let mut bomb = String::from("name: t\nx: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"]) {
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let e = errors(&bomb);
    assert!(e[0].message.contains("too large, or expands too many aliases"), "{}", e[0].message);
}

/// Lines of a valid document to mutate, and tokens to put in.
fn mutation() -> impl Strategy<Value = (prop::sample::Index, prop::sample::Index, u8, &'static str)> {
    let token = prop::sample::select(vec![
        "",
        " ",
        "  ",
        "\n",
        "- ",
        ":",
        ": ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "'",
        "\"",
        "#",
        "&a ",
        "*a",
        "~",
        "null",
        "end",
        "next: end",
        "type: branch",
        "type: wait",
        "timeout: 0",
        "on_timeout: end",
        "{{",
        "}}",
        "{% set a %}",
        "*",
        "é",
        "\t",
        "true",
        "1e9",
        "-1",
        "into: x",
        "vars.x",
        "hello",
        "steps:",
        "name: x",
    ]);
    (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u8..5, token)
}

fn mutate(source: &str, mutations: &[(prop::sample::Index, prop::sample::Index, u8, &str)]) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    for (line, column, kind, token) in mutations {
        if lines.is_empty() {
            break;
        }
        let i = line.index(lines.len());
        match kind {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            2 => lines[i] = format!("{}{token}", lines[i].split(':').next().unwrap_or_default()),
            3 => {
                let text = &lines[i];
                let at = column.index(text.len() + 1);
                let at = (0..=at).rev().find(|a| text.is_char_boundary(*a)).unwrap_or(0);
                lines[i] = format!("{}{token}{}", &text[..at], &text[at..]);
            }
            _ => {
                let j = column.index(lines.len());
                lines.swap(i, j);
            }
        }
    }
    lines.join("\n")
}

/// JSON values shaped roughly like flows, valid or not.
fn flow_like() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        (-3i64..100_000).prop_map(|i| json!(i)),
        Just(json!(1.5)),
        prop::sample::select(vec![
            "",
            "a",
            "b",
            "end",
            "send_message",
            "ask",
            "branch",
            "wait",
            "route",
            "2m",
            "x",
            "{{ vars.x }}",
            "{{ params.a }}",
            "vars.x == 1",
            "https://h/",
            "GET",
            "post",
            "billing",
            "use_of_funds",
            "text",
            "agent",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "name",
                    "steps",
                    "params",
                    "start",
                    "trigger",
                    "side",
                    "a",
                    "b",
                    "type",
                    "next",
                    "text",
                    "into",
                    "timeout",
                    "for",
                    "cases",
                    "if",
                    "default",
                    "on_timeout",
                    "on_error",
                    "queue",
                    "workflow",
                    "url",
                    "body",
                    "method",
                    "form",
                    "fields",
                    "required",
                    "vars",
                ])
                .prop_map(str::to_owned),
                inner,
                0..5,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Errors without their lines, to compare YAML errors with JSON ones.
fn unlocated(errors: Vec<Error>) -> Vec<(Option<String>, String)> {
    errors
        .into_iter()
        .map(|e| {
            let message = match e.message.split_once(": ") {
                Some((at, rest)) if at.starts_with("line ") => rest.to_owned(),
                _ => e.message,
            };
            (e.field, message)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn parse_yaml_never_panics_on_arbitrary_text(source in "\\PC{0,300}") {
        let _ = parse_yaml(&source, &catalog());
        let _ = parse_stored(&source);
    }

    #[test]
    fn parse_yaml_never_panics_on_mutated_flows(
        which in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let source = mutate([FULL, CUSTOMER_EXAMPLE, AGENT_EXAMPLE][which], &mutations);
        match parse_yaml(&source, &catalog()) {
            // Whatever parses reads back the same from its stored form.
            Ok(flow) => {
                let stored = serde_json::to_value(&flow).unwrap();
                prop_assert_eq!(from_json(&stored, &catalog()).unwrap(), flow);
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS);
                prop_assert!(errors.iter().all(|e| e.field.is_some()));
            }
        }
    }

    /// JSON is YAML too: read both ways, a document gives the same flow or the same errors.
    #[test]
    fn yaml_and_json_agree(value in flow_like()) {
        let text = serde_json::to_string(&value).unwrap();
        let from_yaml = parse_yaml(&text, &catalog()).map_err(unlocated);
        let from_json = from_json(&value, &catalog()).map_err(unlocated);
        prop_assert_eq!(from_yaml, from_json, "{}", text);
    }
}

#[test]
fn request_file_waits_only_with_into_and_times_out_only_then() {
    let waits = parse(&with_step(
        "    type: request_file\n    into: file\n    timeout: 10m\n    on_timeout: last\n    next: last\n",
    ));
    let Action::RequestFile { into, timeout_secs, .. } = &waits.steps[0].action else { panic!("{waits:#?}") };
    assert_eq!((into.as_deref(), *timeout_secs), (Some("file"), Some(600)));
    let goes_on = parse(&with_step("    type: request_file\n    next: last\n"));
    assert!(matches!(goes_on.steps[0].action, Action::RequestFile { into: None, timeout_secs: None, .. }));
    let source = with_step("    type: request_file\n    timeout: 10m\n    next: last\n");
    expect(&source, "steps.first.timeout", "timeout: 10m", "only a step that waits for the file");
}
