//! A flow as a Mermaid diagram, for the admin UI and for reviews: one node
//! per step, one edge per transition, labelled by the outcome it is for.
//!
//! Node ids are positions (`s0`, `s1` …), never names, and every label is
//! quoted with Mermaid's entity codes for anything that could end it early
//! or be read as markup: whatever a flow's author wrote, the diagram parses.
//! The output depends on the flow alone, so it can be compared and cached.

use std::fmt::Write as _;

use super::model::{Action, END, Flow, Step};

/// How much of a branch condition an edge label shows, in characters.
const MAX_CONDITION_CHARS: usize = 40;
const START_ID: &str = "flow_start";
/// Not `end`: that is a keyword in Mermaid's flowcharts.
const END_ID: &str = "flow_end";

/// The flow as a `flowchart TD` Mermaid diagram.
pub fn mermaid(flow: &Flow) -> String {
    let edges: Vec<(usize, Option<String>, &str)> = flow
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, step)| outcomes(step).into_iter().map(move |(label, target)| (i, label, target)))
        .collect();

    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(out, "    {START_ID}([\"start\"])");
    for (i, step) in flow.steps.iter().enumerate() {
        let label = format!("{}<br/>{}", escape(&step.name), escape(step.action.type_name()));
        let _ = writeln!(out, "    s{i}[\"{label}\"]");
    }
    if edges.iter().any(|(_, _, target)| *target == END) {
        let _ = writeln!(out, "    {END_ID}([\"end\"])");
    }
    if let Some(start) = node_id(flow, &flow.start) {
        let _ = writeln!(out, "    {START_ID} --> {start}");
    }
    for (from, label, target) in &edges {
        let Some(to) = node_id(flow, target) else { continue };
        match label {
            None => {
                let _ = writeln!(out, "    s{from} --> {to}");
            }
            Some(label) => {
                let _ = writeln!(out, "    s{from} -->|\"{}\"| {to}", escape(label));
            }
        }
    }
    out
}

/// Each transition of a step with its edge label: none for `next`, the
/// condition for a branch case, else the outcome's name.
fn outcomes(step: &Step) -> Vec<(Option<String>, &str)> {
    let mut out: Vec<(Option<String>, &str)> = Vec::new();
    if let Action::Branch { cases, default } = &step.action {
        out.extend(cases.iter().map(|c| (Some(shorten(c.condition.source())), c.next.as_str())));
        out.push((Some("default".to_owned()), default.as_str()));
    }
    out.extend(step.next.as_deref().map(|n| (None, n)));
    out.extend(step.on_timeout.as_deref().map(|n| (Some("timeout".to_owned()), n)));
    out.extend(step.on_error.as_deref().map(|n| (Some("error".to_owned()), n)));
    out
}

/// The diagram's id of a transition's target; `None` for a step that does
/// not exist (a parsed flow has none).
fn node_id(flow: &Flow, target: &str) -> Option<String> {
    if target == END {
        return Some(END_ID.to_owned());
    }
    flow.steps.iter().position(|s| s.name == target).map(|i| format!("s{i}"))
}

/// The first [`MAX_CONDITION_CHARS`] characters, on one line.
fn shorten(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_CONDITION_CHARS {
        return one_line;
    }
    let mut short: String = one_line.chars().take(MAX_CONDITION_CHARS - 1).collect();
    short.push('…');
    short
}

/// Text safe inside a quoted Mermaid label: quotes, brackets, markup and
/// Mermaid's own `#` entity marker become entity codes; line breaks become
/// spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' | '[' | ']' | '{' | '}' | '(' | ')' | '|' | '`' | ';' => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::parse::{Catalog, parse_yaml};

    const FLOW: &str = r#"
name: greeter
steps:
  hello:
    type: send_message
    text: "Hi!"
    next: topic
  topic:
    type: ask
    text: What is it about?
    into: topic
    timeout: 5m
    on_timeout: human
    on_error: end
    next: pick
  pick:
    type: branch
    cases:
      - if: 'vars.topic == "Billing" && vars.topic != "a very long string that goes on"'
        next: billing
      - if: 'vars.topic == "(x) [y] {z} #1 <b> | `c`"'
        next: end
    default: human
  billing: { type: route, queue: billing, next: end }
  human: { type: route, workflow: true, next: end }
"#;

    fn flow() -> Flow {
        parse_yaml(FLOW, &Catalog::default()).unwrap()
    }

    #[test]
    fn draws_every_step_and_transition() {
        let diagram = mermaid(&flow());
        let expected = "flowchart TD
    flow_start([\"start\"])
    s0[\"hello<br/>send_message\"]
    s1[\"topic<br/>ask\"]
    s2[\"pick<br/>branch\"]
    s3[\"billing<br/>route\"]
    s4[\"human<br/>route\"]
    flow_end([\"end\"])
    flow_start --> s0
    s0 --> s1
    s1 --> s2
    s1 -->|\"timeout\"| s4
    s1 -->|\"error\"| flow_end
    s2 -->|\"vars.topic == #quot;Billing#quot; #amp;#amp; vars.topic !…\"| s3
    s2 -->|\"vars.topic == #quot;#40;x#41; #91;y#93; #123;z#125; #35;1 #lt;b#gt; #124; #96;c#96;#quot;\"| flow_end
    s2 -->|\"default\"| s4
    s3 --> flow_end
    s4 --> flow_end
";
        assert_eq!(diagram, expected);
        assert_eq!(mermaid(&flow()), diagram, "deterministic");
    }

    #[test]
    fn a_flow_that_never_ends_has_no_end_node() {
        let flow = parse_yaml(
            "name: loop\nstart: b\nsteps:\n  a: { type: wait, for: 1h, next: b }\n  b: { type: wait, for: 1h, next: a }\n",
            &Catalog::default(),
        )
        .unwrap();
        let diagram = mermaid(&flow);
        assert!(!diagram.contains("flow_end"), "{diagram}");
        assert!(diagram.contains("flow_start --> s1\n"), "{diagram}");
    }

    #[test]
    fn labels_never_contain_what_ends_them() {
        for text in ["\"", "]", "[\"x\"]", "a\nb", "--> x", "end", "|x|", "#quot;"] {
            let escaped = escape(text);
            assert!(!escaped.contains(['"', '[', ']', '\n', '|', '<', '>']), "{text}: {escaped}");
        }
        assert_eq!(shorten("a  b\n c"), "a b c");
        assert_eq!(shorten(&"x".repeat(41)).chars().count(), 40);
    }
}
