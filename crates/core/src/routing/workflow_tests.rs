//! Tests of workflow parsing: the format, routing by filters, and errors that name the field and line.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const EXAMPLE: &str = r#"filters:
  - name: vip-billing
    if: chat.attributes.topic == "billing" && chat.attributes.vip == true   # optional
    priority: 10
    steps:
      - queue: billing-tier2
        agents: agent.level >= 3
        timeout: 60
        skip_if_nobody_available: true
      - queue: billing
  - name: spanish
    if: chat.attributes.language == "es"
    steps:
      - queue: spanish
default:
  queue: general
"#;

fn step(queue: &str) -> Step {
    Step {
        queue: queue.to_owned(),
        agents: None,
        timeout_secs: None,
        skip_if_nobody_available: false,
        ring: None,
        message: None,
        when_closed: WhenClosed::Wait,
    }
}

fn chat(attributes: serde_json::Value) -> serde_json::Value {
    json!({ "attributes": attributes })
}

fn yaml_err(source: &str) -> Error {
    parse_yaml(source).unwrap_err()
}

#[test]
fn the_example_parses_to_the_expected_workflow() {
    let expected = Workflow {
        filters: vec![
            Filter {
                name: "vip-billing".to_owned(),
                condition: Some(
                    Expr::parse(
                        "if",
                        r#"chat.attributes.topic == "billing" && chat.attributes.vip == true"#,
                        &["chat"],
                    )
                    .unwrap(),
                ),
                priority: 10,
                steps: vec![
                    Step {
                        queue: "billing-tier2".to_owned(),
                        agents: Some(Expr::parse("agents", "agent.level >= 3", &["agent"]).unwrap()),
                        timeout_secs: Some(60),
                        skip_if_nobody_available: true,
                        ring: None,
                        message: None,
                        when_closed: WhenClosed::Wait,
                    },
                    step("billing"),
                ],
            },
            Filter {
                name: "spanish".to_owned(),
                condition: Some(Expr::parse("if", r#"chat.attributes.language == "es""#, &["chat"]).unwrap()),
                priority: 0,
                steps: vec![step("spanish")],
            },
        ],
        default: Some(step("general")),
    };
    assert_eq!(parse_yaml(EXAMPLE).unwrap(), expected);
    assert_eq!(parse_yaml(EXAMPLE).unwrap().queue_names(), ["billing-tier2", "billing", "spanish", "general"]);
}

#[test]
fn route_takes_the_first_matching_filter_then_the_default() {
    let w = parse_yaml(EXAMPLE).unwrap();

    let vip = w.route(&chat(json!({"topic": "billing", "vip": true, "language": "es"}))).unwrap();
    assert_eq!(vip.filter.as_deref(), Some("vip-billing"));
    assert_eq!(vip.priority, 10);
    let queues: Vec<&str> = vip.steps.iter().map(|s| s.queue.as_str()).collect();
    assert_eq!(queues, ["billing-tier2", "billing", "general"]);

    // Not a VIP: the second filter, by order.
    let es = w.route(&chat(json!({"topic": "billing", "vip": false, "language": "es"}))).unwrap();
    assert_eq!(es.filter.as_deref(), Some("spanish"));
    assert_eq!(es.priority, 0);
    assert_eq!(es.steps, [step("spanish"), step("general")]);

    // Conditions that fail to evaluate (no such attribute) count as false.
    let other = w.route(&chat(json!({}))).unwrap();
    assert_eq!(other, Route { filter: None, priority: 0, steps: vec![step("general")] });
    assert_eq!(w.route(&json!(null)).unwrap().filter, None);
}

#[test]
fn a_filter_without_if_matches_everything_and_no_default_means_none() {
    let w = parse_yaml("filters:\n  - name: all\n    steps: [{queue: q}]\n").unwrap();
    assert_eq!(w.route(&json!({})).unwrap().steps, [step("q")]);

    let w = parse_yaml("filters:\n  - name: es\n    if: chat.lang == 'es'\n    steps: [{queue: q}]\n").unwrap();
    assert_eq!(w.route(&json!({"lang": "en"})), None);
    assert_eq!(w.route(&json!({"lang": "es"})).unwrap().filter.as_deref(), Some("es"));

    for empty in ["", "# nothing yet\n", "null", "~", "filters: []", "filters:\n", "{}"] {
        let w = parse_yaml(empty).unwrap();
        assert_eq!(w, Workflow::default(), "{empty:?}");
        assert_eq!(w.route(&json!({})), None);
    }
}

#[test]
fn timeouts_accept_units() {
    for (text, seconds) in [("60", 60), ("\"90s\"", 90), ("2m", 120), ("'1h'", 3_600), ("1h30m", 5_400), ("'45'", 45)] {
        let w = parse_yaml(&format!("default:\n  queue: q\n  timeout: {text}\n")).unwrap();
        assert_eq!(w.default.unwrap().timeout_secs, Some(seconds), "{text}");
    }
    for text in ["0", "0s", "86401", "25h", "-5", "1.5", "90x", "1h30", "s", "''", "99999999999999999999999h", "true"] {
        let e = yaml_err(&format!("default:\n  queue: q\n  timeout: {text}\n"));
        assert_eq!(e.field.as_deref(), Some("default.timeout"), "{text}");
        assert!(e.message.starts_with("line 3, column 12: "), "{text}: {}", e.message);
    }
}

#[test]
fn a_misspelt_field_names_its_line_and_path() {
    let source = EXAMPLE.replace("        agents: agent.level >= 3\n        timeout: 60", "        timout: 60");
    assert_eq!(source.lines().nth(6), Some("        timout: 60"));
    let e = yaml_err(&source);
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].timout"));
    assert!(e.message.starts_with("line 7, column 9: unknown field `timout`"), "{}", e.message);
    assert!(e.message.contains("allowed fields: queue, agents, timeout, skip_if_nobody_available"));
    assert!(e.message.contains("did you mean `timeout`?"), "{}", e.message);

    let e = yaml_err("filters: []\ndefualt:\n  queue: q\n");
    assert_eq!(e.field.as_deref(), Some("defualt"));
    assert!(e.message.starts_with("line 2, column 1: "), "{}", e.message);
}

#[test]
fn wrong_types_name_their_line_and_path() {
    let e = yaml_err("filters:\n  - name: a\n    priority: high\n    steps: [{queue: q}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].priority"));
    assert_eq!(e.message, "line 3, column 15: expected a whole number, got a string");

    let e = yaml_err("filters:\n  - name: a\n    steps:\n      - queue: q\n        skip_if_nobody_available: no\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].skip_if_nobody_available"));
    assert!(e.message.starts_with("line 5, column 35: expected true or false"), "{}", e.message);

    let e = yaml_err("filters:\n  name: a\n");
    assert_eq!(e.field.as_deref(), Some("filters"));
    assert!(e.message.starts_with("line 2, column 3: expected a list of filters, got a mapping"), "{}", e.message);

    let e = yaml_err("default:\n  queue: 42\n");
    assert_eq!(e.field.as_deref(), Some("default.queue"));
    assert!(e.message.contains("put it in quotes"), "{}", e.message);

    let e = yaml_err("- a\n- b\n");
    assert_eq!(e.field.as_deref(), Some("workflow"));
    assert!(e.message.starts_with("line 1, column 1: expected a mapping"), "{}", e.message);
}

#[test]
fn syntax_errors_and_duplicate_keys_name_their_line() {
    let e = yaml_err("filters:\n  - name: a\n    steps: [{queue: q}\n");
    assert_eq!(e.field.as_deref(), Some("workflow"));
    assert!(e.message.starts_with("line "), "{}", e.message);
    assert!(e.message.contains("invalid YAML"), "{}", e.message);

    let e = yaml_err("default:\n  queue: a\n  queue: b\n");
    assert_eq!(e.message, "line 3, column 3: invalid YAML: duplicate field `queue`");

    let e = yaml_err("filters: []\n---\nfilters: []\n");
    assert_eq!(e.message, "line 2, column 1: invalid YAML: a workflow is a single YAML document (found another `---`)");
}

#[test]
fn bad_expressions_are_reported_at_their_field() {
    let e = yaml_err("filters:\n  - name: a\n    if: chat.topic ==\n    steps: [{queue: q}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].if"));
    assert!(e.message.starts_with("line 3, column 9: syntax error at column 14"), "{}", e.message);

    // Conditions see `chat` and `hours`, steps see `agent`.
    let e = yaml_err("filters:\n  - name: a\n    if: agent.level > 1\n    steps: [{queue: q}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].if"));
    assert!(e.message.ends_with("unknown variable `agent`; expressions may use chat, hours"), "{}", e.message);
    let e = yaml_err("default:\n  queue: q\n  agents: chat.vip\n");
    assert_eq!(e.field.as_deref(), Some("default.agents"));

    let e = yaml_err("default:\n  queue: q\n  agents: agent.level + 1\n");
    assert!(e.message.contains("true or false"), "{}", e.message);

    // `if: true` is a YAML boolean, and a fine condition.
    let w = parse_yaml("filters:\n  - name: a\n    if: true\n    steps: [{queue: q}]\n").unwrap();
    assert_eq!(w.filters[0].condition.as_ref().map(Expr::source), Some("true"));
}

#[test]
fn names_counts_and_ranges_are_checked() {
    let e = yaml_err(
        "filters:\n  - name: a\n    steps: [{queue: q}]\n  - name: b\n    steps: [{queue: q}]\n  - name: a\n    steps: [{queue: q}]\n",
    );
    assert_eq!(e.field.as_deref(), Some("filters[2].name"));
    assert_eq!(e.message, "line 6, column 11: duplicate filter name `a` (also filters[0])");

    let e = yaml_err("default:\n  timeout: 0\n  queue: q\n");
    assert_eq!(e.field.as_deref(), Some("default.timeout"));
    assert!(e.message.starts_with("line 2, column 12: a timeout of 0 seconds is out of range"), "{}", e.message);

    let e = yaml_err("filters:\n  - name: ''\n    steps: [{queue: q}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].name"));
    let e = yaml_err(&format!("default:\n  queue: {}\n", "q".repeat(101)));
    assert_eq!(e.field.as_deref(), Some("default.queue"));
    let e = yaml_err("filters:\n  - name: a\n    steps: []\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].steps"));
    let e = yaml_err("filters:\n  - name: a\n");
    assert_eq!(
        (e.field.as_deref(), e.message.as_str()),
        (Some("filters[0].steps"), "line 2, column 5: missing field `steps`")
    );
    let e = yaml_err("filters:\n  - steps: [{queue: q}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].name"));
    let e = yaml_err("filters:\n  - name: a\n    steps: [{agents: agent.x}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].queue"));
    let e = yaml_err("filters:\n  - name: a\n    priority: 1001\n    steps: [{queue: q}]\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].priority"));
    parse_yaml("filters:\n  - name: a\n    priority: -1000\n    steps: [{queue: q}]\n").unwrap();

    let steps = vec!["{queue: q}"; MAX_STEPS + 1].join(", ");
    let e = yaml_err(&format!("filters:\n  - name: a\n    steps: [{steps}]\n"));
    assert_eq!(e.field.as_deref(), Some("filters[0].steps"));

    let filters: String = (0..=MAX_FILTERS).map(|i| format!("  - {{name: f{i}, steps: [{{queue: q}}]}}\n")).collect();
    let e = yaml_err(&format!("filters:\n{filters}"));
    assert_eq!(e.field.as_deref(), Some("filters"));
    let filters: String = (0..MAX_FILTERS).map(|i| format!("  - {{name: f{i}, steps: [{{queue: q}}]}}\n")).collect();
    assert_eq!(parse_yaml(&format!("filters:\n{filters}")).unwrap().filters.len(), MAX_FILTERS);
}

#[test]
fn oversized_documents_and_alias_bombs_are_rejected() {
    let big = format!("# {}\nfilters: []\n", "x".repeat(MAX_DOCUMENT_BYTES));
    assert_eq!(yaml_err(&big).field.as_deref(), Some("workflow"));

    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"]) {
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    bomb.push_str("filters: *i\n");
    let e = yaml_err(&bomb);
    assert_eq!(e.field.as_deref(), Some("workflow"));
    assert!(e.message.contains("too large, or expands too many aliases"), "{}", e.message);

    let deep = format!("default: {}{}\n", "[".repeat(1_000), "]".repeat(1_000));
    assert!(parse_yaml(&deep).is_err());
    let deep = format!("default:\n{}", (1..200).map(|i| format!("{}- \n", " ".repeat(i * 2))).collect::<String>());
    assert!(parse_yaml(&deep).is_err());
}

#[test]
fn modest_aliases_are_fine() {
    let source = "x: &steps\n  - queue: a\n  - queue: b\nfilters:\n  - name: one\n    steps: *steps\n  - name: two\n    steps: *steps\n";
    // `x` is not a workflow field, so this fails — but on `x`, not on the aliases.
    assert_eq!(yaml_err(source).field.as_deref(), Some("x"));
    let source = "filters:\n  - name: one\n    steps: &steps\n      - queue: a\n  - name: two\n    steps: *steps\n";
    let w = parse_yaml(source).unwrap();
    assert_eq!(w.filters[1].steps, [step("a")]);
}

#[test]
fn json_round_trips() {
    let w = parse_yaml(EXAMPLE).unwrap();
    let value = serde_json::to_value(&w).unwrap();
    assert_eq!(
        value["filters"][0]["if"],
        json!(r#"chat.attributes.topic == "billing" && chat.attributes.vip == true"#)
    );
    assert_eq!(value["filters"][0]["steps"][0]["timeout"], json!(60));
    assert_eq!(value["default"], json!({"queue": "general", "skip_if_nobody_available": false}));
    assert_eq!(from_json(&value).unwrap(), w);
    // Through serde as well, e.g. inside a stored record.
    let back: Workflow = serde_json::from_value(value).unwrap();
    assert_eq!(back, w);
    assert_eq!(from_json(&serde_json::to_value(Workflow::default()).unwrap()).unwrap(), Workflow::default());
}

#[test]
fn json_gets_the_same_checks_without_lines() {
    let e = from_json(&json!({"filters": [{"name": "a", "steps": [{"queue": "q", "timeout": 0}]}]})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].timeout"));
    assert!(e.message.starts_with("a timeout of 0"), "{}", e.message);
    let e = from_json(&json!({"filters": [{"name": "a", "steps": [{"queue": "q", "timeout": 1.5}]}]})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].timeout"));
    let e = from_json(&json!({"filters": [], "extra": 1})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("extra"));
    let e = from_json(&json!([1])).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("workflow"));
    let e = from_json(&json!({"default": {"queue": "q", "agents": "agent."}})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("default.agents"));
    assert_eq!(from_json(&json!(null)).unwrap(), Workflow::default());
    assert!(
        serde_json::from_value::<Workflow>(json!({"default": {}})).unwrap_err().to_string().contains("default.queue")
    );

    let mut deep = json!("q");
    for _ in 0..1_000 {
        deep = json!({ "queue": deep });
    }
    let e = from_json(&json!({ "default": deep })).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("default.queue"));
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("90"), Some(90));
    assert_eq!(parse_duration(" 2m "), Some(120));
    assert_eq!(parse_duration("1h1m1s"), Some(3_661));
    assert_eq!(parse_duration("1h30"), None);
    assert_eq!(parse_duration("m"), None);
    assert_eq!(parse_duration(""), None);
    assert_eq!(parse_duration("+5"), None);
    assert_eq!(parse_duration("99999999999999999999999"), Some(u64::MAX));
}

/// YAML-ish text: workflow keys, indentation, flow and anchor syntax.
fn yaml_like() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "filters:",
        "default:",
        "name:",
        "if:",
        "priority:",
        "steps:",
        "queue:",
        "agents:",
        "timeout:",
        "skip_if_nobody_available:",
        "- ",
        "  ",
        "\n",
        "\n  ",
        "\n    ",
        "\n      ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "<<: ",
        "? ",
        ": ",
        "'",
        "\"",
        "#",
        "---",
        "...",
        "|",
        ">",
        "!!str ",
        "!!int ",
        "!!binary ",
        "!x ",
        "q",
        "a",
        "10",
        "-1",
        "1e9",
        "0x10",
        "true",
        "no",
        "~",
        "null",
        "2m",
        "chat.x == 1",
        "agent.level >= 2",
        "\t",
        "\u{feff}",
        "%YAML 1.2\n",
        "\\",
        "é",
    ]);
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

/// JSON values shaped roughly like workflows, valid or not.
fn workflow_like() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        (-3i64..100_000).prop_map(|i| json!(i)),
        Just(json!(1.5)),
        prop::sample::select(vec![
            "",
            "q",
            "billing",
            "2m",
            "90s",
            "1h30",
            "chat.x == 1",
            "agent.level >= 2",
            "chat.",
            "agent.x + 1",
            "has(chat.vip) && chat.vip",
            "no",
            "é",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "filters",
                    "default",
                    "name",
                    "if",
                    "priority",
                    "steps",
                    "queue",
                    "agents",
                    "timeout",
                    "skip_if_nobody_available",
                    "other",
                ])
                .prop_map(str::to_owned),
                inner,
                0..5,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An error without its line, to compare YAML errors with JSON ones.
fn unlocated(e: Error) -> (Option<String>, String) {
    let message = match e.message.split_once(": ") {
        Some((at, rest)) if at.starts_with("line ") => rest.to_owned(),
        _ => e.message,
    };
    (e.field, message)
}

#[test]
fn a_message_step_ends_its_route_and_the_default_is_not_added() {
    let w = parse_yaml(
        "filters:\n  - name: after-hours\n    steps:\n      - queue: support\n        ring: 2\n      - queue: support\n        message: true\n  - name: sales\n    steps:\n      - queue: sales\n        message: \"Leave us your number\"\ndefault:\n  queue: general\n",
    )
    .unwrap();
    let route = w.route(&chat(serde_json::json!({}))).unwrap();
    assert_eq!(route.steps.len(), 2, "no default after a message step");
    assert_eq!((route.steps[0].ring, route.steps[1].message.as_deref()), (Some(2), Some(DEFAULT_MESSAGE)));
    assert_eq!(w.filters[1].steps[0].message.as_deref(), Some("Leave us your number"));
    // Stored and read back, it is the same workflow.
    assert_eq!(from_json(&serde_json::to_value(&w).unwrap()).unwrap(), w);
}

#[test]
fn ring_and_message_steps_are_checked() {
    for (source, field, words) in [
        (
            "filters:\n  - name: a\n    steps:\n      - queue: q\n        ring: 0\n",
            "filters[0].steps[0].ring",
            "line 5",
        ),
        (
            "filters:\n  - name: a\n    steps:\n      - queue: q\n        ring: 2\n",
            "filters[0].steps[0].ring",
            "last of its route",
        ),
        ("default:\n  queue: q\n  ring: 2\n", "default.ring", "line 3"),
        (
            "filters:\n  - name: a\n    steps:\n      - queue: q\n        message: true\n      - queue: q\n",
            "filters[0].steps[0].message",
            "never be reached",
        ),
        (
            "filters:\n  - name: a\n    steps:\n      - queue: q\n        message: true\n        ring: 2\n",
            "filters[0].steps[0].ring",
            "only `queue`",
        ),
        (
            "filters:\n  - name: a\n    steps:\n      - queue: q\n        message: \"  \"\n",
            "filters[0].steps[0].message",
            "1 to 1000",
        ),
        (
            "filters:\n  - name: a\n    steps:\n      - queue: q\n        message: 7\n",
            "filters[0].steps[0].message",
            "expected true",
        ),
    ] {
        let (got, message) = unlocated(yaml_err(source));
        assert_eq!(got.as_deref(), Some(field), "{source}: {message}");
        assert!(message.contains(words) || yaml_err(source).message.contains(words), "{source}: {message}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// JSON is YAML too: read both ways, a document gives the same workflow or the same error.
    #[test]
    fn yaml_and_json_agree(value in workflow_like()) {
        let text = serde_json::to_string(&value).unwrap();
        let from_yaml = parse_yaml(&text).map_err(unlocated);
        let from_json = from_json(&value).map_err(unlocated);
        prop_assert_eq!(from_yaml, from_json, "{}", text);
    }

    #[test]
    fn parse_yaml_never_panics_on_arbitrary_text(source in "\\PC{0,300}") {
        let _ = parse_yaml(&source);
    }

    #[test]
    fn parse_yaml_never_panics_on_yaml_like_text(source in yaml_like()) {
        if let Ok(w) = parse_yaml(&source) {
            // Whatever parses round-trips through JSON.
            let value = serde_json::to_value(&w).unwrap();
            prop_assert_eq!(from_json(&value).unwrap(), w);
        }
    }
}

#[test]
fn when_closed_and_hours_in_conditions() {
    let wf = parse_yaml(
        r#"filters:
  - name: after-hours
    if: "!chat.open || !hours['support']"
    steps:
      - queue: night
  - name: weekend
    if: hours["weekend desk"]
    steps:
      - queue: day
        when_closed: next
      - queue: night
"#,
    )
    .unwrap();
    assert_eq!(wf.filters[1].steps[0].when_closed, WhenClosed::Next);
    assert_eq!(wf.filters[1].steps[1].when_closed, WhenClosed::Wait);
    assert!(wf.uses_hours());
    assert_eq!(
        wf.schedule_names(),
        [("filters[0].if".to_owned(), "support".to_owned()), ("filters[1].if".to_owned(), "weekend desk".to_owned())]
    );
    let open = json!({"support": true, "weekend desk": true});
    let route = |chat_open: bool, hours: &serde_json::Value| {
        wf.route_in(&json!({"attributes": {}, "open": chat_open}), hours).and_then(|r| r.filter)
    };
    assert_eq!(route(false, &open).as_deref(), Some("after-hours"));
    assert_eq!(route(true, &json!({"support": false})).as_deref(), Some("after-hours"));
    assert_eq!(route(true, &open).as_deref(), Some("weekend"));
    // An unknown name reads as false (the API refuses it when applied).
    assert_eq!(route(true, &json!({"support": true})), None);
    // Written back and read again, the same.
    let back = from_json(&serde_json::to_value(&wf).unwrap()).unwrap();
    assert_eq!(back, wf);

    let e = yaml_err("filters:\n  - name: f\n    steps:\n      - queue: q\n        when_closed: later\n");
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].when_closed"));
    assert!(e.message.starts_with("line 5") && e.message.contains("not one of: wait, next"), "{}", e.message);
    let e = yaml_err(
        "filters:\n  - name: f\n    steps:\n      - queue: q\n        message: true\n        when_closed: next\n",
    );
    assert_eq!(e.field.as_deref(), Some("filters[0].steps[0].when_closed"));
}
