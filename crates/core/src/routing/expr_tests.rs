//! Tests of routing expressions: evaluation, static checks, and input that must never panic.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn agent_expr(source: &str) -> Expr {
    Expr::parse("agents", source, &["agent"]).unwrap()
}

fn rejected(source: &str) -> Error {
    Expr::parse("filters[0].if", source, &["agent"]).unwrap_err()
}

#[test]
fn the_example_is_true_or_false_by_the_agent() {
    let e = agent_expr(r#""billing" in agent.skills && agent.level >= 2"#);
    let senior = json!({"skills": ["billing", "sales"], "level": 3});
    let junior = json!({"skills": ["billing"], "level": 1});
    let other = json!({"skills": ["sales"], "level": 5});
    assert_eq!(e.eval(&[("agent", &senior)]), Ok(true));
    assert_eq!(e.eval(&[("agent", &junior)]), Ok(false));
    assert_eq!(e.eval(&[("agent", &other)]), Ok(false));
    assert!(e.matches(&[("agent", &senior)]));
    assert!(!e.matches(&[("agent", &junior)]));
}

#[test]
fn in_works_on_lists_and_maps() {
    let agent = json!({"skills": ["billing"], "langs": {"es": 3}});
    assert!(agent_expr(r#""billing" in agent.skills"#).matches(&[("agent", &agent)]));
    assert!(!agent_expr(r#""sales" in agent.skills"#).matches(&[("agent", &agent)]));
    assert!(agent_expr(r#""es" in agent.langs"#).matches(&[("agent", &agent)]));
    assert!(agent_expr(r#"agent.skills.exists(s, s.startsWith("bill"))"#).matches(&[("agent", &agent)]));
}

#[test]
fn nested_attributes_are_reachable() {
    let chat = json!({"attributes": {"customer": {"tier": "gold", "spend": 1250.5}}});
    let e = Expr::parse(
        "if",
        r#"chat.attributes.customer.tier == "gold" && chat.attributes.customer.spend > 1000.0"#,
        &["chat"],
    )
    .unwrap();
    assert_eq!(e.eval(&[("chat", &chat)]), Ok(true));
}

#[test]
fn numbers_are_ints_when_integral() {
    let agent = json!({"level": 2.0, "score": 2.5, "big": u64::MAX});
    assert!(agent_expr("agent.level == 2").matches(&[("agent", &agent)]));
    assert!(agent_expr("agent.score > 2.0").matches(&[("agent", &agent)]));
    assert!(agent_expr("agent.big > 0u").matches(&[("agent", &agent)]));
}

#[test]
fn a_missing_key_is_an_error_and_so_false() {
    let e = agent_expr("agent.level >= 2");
    let agent = json!({"skills": []});
    assert!(matches!(e.eval(&[("agent", &agent)]), Err(ExprError::Eval(_))));
    assert!(!e.matches(&[("agent", &agent)]));
    // An unbound variable too.
    assert!(!e.matches(&[]));

    let guarded = agent_expr("has(agent.level) && agent.level >= 2");
    assert_eq!(guarded.eval(&[("agent", &agent)]), Ok(false));
    assert_eq!(guarded.eval(&[("agent", &json!({"level": 2}))]), Ok(true));
}

#[test]
fn non_boolean_expressions_are_rejected_when_parsed() {
    for source in [
        "agent.level + 1",
        r#""x""#,
        "1",
        "[1]",
        "{}",
        "null",
        "-agent.level",
        "size(agent.skills)",
        "agent.skills.map(s, s)",
        "agent.vip ? 1 : 2",
    ] {
        let e = rejected(source);
        assert_eq!(e.field.as_deref(), Some("filters[0].if"), "{source}");
        assert!(e.message.contains("true or false"), "{source}: {}", e.message);
    }
    // Those that may be boolean are fine.
    for source in ["agent.vip", "agent.flags[0]", "true", "agent.skills.all(s, s != '')", "!agent.away"] {
        agent_expr(source);
    }
}

#[test]
fn a_non_boolean_result_is_reported_when_evaluated() {
    let e = agent_expr("agent.x");
    assert_eq!(e.eval(&[("agent", &json!({"x": "yes"}))]), Err(ExprError::NotBoolean("string".to_owned())));
    assert_eq!(e.eval(&[("agent", &json!({"x": 1.5}))]), Err(ExprError::NotBoolean("double".to_owned())));
    assert!(!e.matches(&[("agent", &json!({"x": "yes"}))]));
    assert_eq!(e.eval(&[("agent", &json!({"x": true}))]), Ok(true));
}

#[test]
fn type_mismatches_are_evaluation_errors() {
    let e = agent_expr("agent.level >= 2");
    assert!(matches!(e.eval(&[("agent", &json!({"level": "two"}))]), Err(ExprError::Eval(_))));
}

#[test]
fn syntax_errors_name_the_field_and_position() {
    let e = rejected("agent.level >= ");
    assert_eq!(e.field.as_deref(), Some("filters[0].if"));
    assert!(e.message.contains("syntax error at column 16"), "{}", e.message);
    let e = rejected("agent.level\n&& &&");
    assert!(e.message.contains("line 2, column 4"), "{}", e.message);
    assert!(rejected("has(agent)").message.contains("has()"));
}

#[test]
fn unknown_variables_are_rejected() {
    let e = rejected("foo.level > 1");
    assert_eq!(e.field.as_deref(), Some("filters[0].if"));
    assert_eq!(e.message, "unknown variable `foo`; expressions may use agent");
    let e = Expr::parse("if", "agent.vip", &["chat"]).unwrap_err();
    assert_eq!(e.message, "unknown variable `agent`; expressions may use chat");
    // Comprehension variables are in scope only inside their comprehension.
    agent_expr("agent.skills.exists(s, s == 'x')");
    assert!(rejected("agent.skills.exists(s, s == 'x') && s == 'y'").message.contains("`s`"));
    // Type names are not variables.
    agent_expr("type(agent.level) == int");
}

#[test]
fn empty_and_oversized_sources_are_rejected() {
    assert!(rejected("").message.contains("empty"));
    assert!(rejected("  \n ").message.contains("empty"));
    let long = format!("agent.a == '{}'", "x".repeat(MAX_SOURCE_CHARS));
    assert!(rejected(&long).message.contains("longer than 2000"));
}

#[test]
fn pathological_nesting_is_rejected_before_parsing() {
    for source in [
        "(".repeat(2_000),
        format!("{}true{}", "(".repeat(60), ")".repeat(60)),
        format!("{}1{} == 1", "[".repeat(40), "]".repeat(40)),
        vec!["1"; 999].join("+"),
        format!("agent{}", ".a".repeat(990)),
        format!("agent{}", "[0]".repeat(600)),
        format!("{} == 1", vec!["1"; 200].join("+")),
        "[1].all(a, [1].all(b, [1].all(c, true)))".to_owned(),
    ] {
        let e = Expr::parse("if", &source, &["agent"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("if"));
        assert!(e.message.contains("more than") || e.message.contains("at most"), "{}", e.message);
    }
    // Long runs the parser folds as it goes are fine.
    agent_expr(&format!("{}true", "!".repeat(1_990)));
    agent_expr(&vec!["agent.a"; 150].join(" && "));
    // Brackets inside strings do not count.
    agent_expr(&format!("agent.name == '{}'", "(".repeat(100)));
    agent_expr(&format!("agent.name == r\"\\{}\"", "(".repeat(100)));
    agent_expr(&format!("agent.name == '''{}'''", "(\"".repeat(40)));
}

#[test]
fn equality_debug_and_serialization_use_the_source() {
    let a = agent_expr("agent.vip");
    assert_eq!(a, agent_expr("agent.vip"));
    assert_ne!(a, agent_expr("agent.vip == true"));
    assert_eq!(format!("{a:?}"), r#"Expr("agent.vip")"#);
    assert_eq!(serde_json::to_value(&a).unwrap(), json!("agent.vip"));
}

#[test]
fn expressions_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expr>();
}

/// Text that looks like CEL: identifiers, literals, operators, brackets.
fn expression_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("agent".to_owned()),
        Just("chat".to_owned()),
        Just(".".to_owned()),
        Just("level".to_owned()),
        Just("skills".to_owned()),
        "[a-z]{1,3}",
        "-?[0-9]{1,20}(\\.[0-9]{0,3})?(e[0-9]{1,3})?u?",
        "\"[a-z\\\\\"']{0,4}\"",
        "'[a-z\\\\\"']{0,4}'",
        Just("\"\"\"".to_owned()),
        Just("b'\\xff'".to_owned()),
        Just("r'\\'".to_owned()),
        prop::sample::select(vec![
            "&&",
            "||",
            "!",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "+",
            "-",
            "*",
            "/",
            "%",
            "in",
            "?",
            ":",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ".?",
            "has(",
            "size(",
            "int(",
            "uint(",
            "double(",
            "string(",
            "bytes(",
            "type(",
            "dyn(",
            ".all(x,",
            ".exists(x,",
            ".exists_one(x,",
            ".map(x,",
            ".filter(x,",
            "x",
            "true",
            "false",
            "null",
            "optional.of(",
            ".orValue(",
            "[?",
            "`",
            "\\",
            "\u{0}",
            "é",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615u",
            "1e308",
            "0x",
            "0xFFu",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.join(" ").chars().take(200).collect())
}

fn values() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z]{0,4}".prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["level", "skills", "x", "attributes", "a"]).prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parsing_arbitrary_text_never_panics(source in "\\PC{0,200}") {
        let _ = Expr::parse("if", &source, &["agent", "chat"]);
    }

    #[test]
    fn parsing_and_evaluating_expression_like_text_never_panics(
        source in expression_like(),
        agent in values(),
        chat in values(),
    ) {
        if let Ok(e) = Expr::parse("if", &source, &["agent", "chat", "x"]) {
            let x = json!([1, "a", true]);
            let _ = e.eval(&[("agent", &agent), ("chat", &chat), ("x", &x)]);
            let _ = e.matches(&[("agent", &agent)]);
        }
    }
}
