//! The three formats over one constructed history: a chat and its
//! continuation, with messages, a file shared and scanned, a requested file,
//! and hostile names, messages and file names.

use super::*;
use crate::event::{ContentType, EndReason, EventKind};
use crate::ids::{EventId, FileRequestId};

const HOSTILE: &str = "<script>alert(1)</script>";
const HOSTILE_NAME: &str = "Eve\"><img src=x onerror=alert(2)>";
const HOSTILE_FILE: &str = "x\" onmouseover=\"alert(3)\".pdf<script>";
const BASE: &str = "https://chat.example.com";

struct Fixture {
    header: Header,
    events: Vec<Event>,
    attachment: AttachmentId,
    first: ConversationId,
    second: ConversationId,
}

fn at(n: i64) -> Timestamp {
    // 2026-12-04T10:15:00Z plus n seconds.
    Timestamp(1_796_379_300_000 + n * 1000)
}

fn summary(id: ConversationId, previous: Option<ConversationId>, last_seq: i64, start: i64) -> Summary {
    Summary {
        id,
        workspace_id: WorkspaceId::new(),
        state: ConversationState::Ended,
        attributes: Attributes::new(),
        record_id: Some("500XY".into()),
        previous_conversation_id: previous,
        rehydration: previous.map(|_| Rehydration::EntirePastSession),
        next_conversation_id: None,
        created_at: at(start),
        ended_at: Some(at(start + 50)),
        last_seq,
    }
}

fn person(id: ParticipantId, c: ConversationId, role: Role, name: &str) -> Person {
    Person { id, conversation_id: c, role, display_name: name.into(), joined_at: at(1), left_at: None }
}

fn event(c: ConversationId, seq: i64, by: Option<ParticipantId>, kind: EventKind) -> Event {
    Event { conversation_id: c, seq, id: EventId::new(), at: at(seq), participant_id: by, kind, client_token: None }
}

fn message(c: ConversationId, seq: i64, by: ParticipantId, content: &str) -> Event {
    event(c, seq, Some(by), EventKind::Message { content_type: ContentType::TextPlain, content: content.into() })
}

fn fixture() -> Fixture {
    let (first, second) = (ConversationId::new(), ConversationId::new());
    let (alice, sam, eve) = (ParticipantId::new(), ParticipantId::new(), ParticipantId::new());
    let attachment = AttachmentId::new();
    let request = FileRequestId::new();
    let joined = |c, seq, who, role, name: &str| {
        event(c, seq, Some(who), EventKind::ParticipantJoined { member_id: who, role, display_name: name.into() })
    };
    let events = vec![
        event(first, 1, None, EventKind::ConversationCreated { attributes: Attributes::new() }),
        joined(first, 2, alice, Role::Customer, "Alice"),
        joined(first, 3, sam, Role::Agent, "Sam"),
        message(first, 4, alice, "hello"),
        message(first, 5, sam, "Hi Alice,\r\nhow can I help?"),
        event(first, 6, Some(sam), EventKind::FileRequested { request_id: request, record_id: Some("500XY".into()) }),
        event(
            first,
            7,
            Some(alice),
            EventKind::Attachment {
                attachment_id: attachment,
                name: HOSTILE_FILE.into(),
                content_type: "application/pdf".into(),
                size: 12_400,
                sha256: "ab".repeat(32),
                status: AttachmentStatus::Scanning,
                thumbnail: false,
                request_id: Some(request),
            },
        ),
        event(
            first,
            8,
            None,
            EventKind::AttachmentScanned {
                attachment_id: attachment,
                status: AttachmentStatus::Approved,
                reason: None,
            },
        ),
        event(
            first,
            9,
            None,
            EventKind::FileReceived { request_id: request, attachment_id: attachment, record_id: Some("500XY".into()) },
        ),
        event(first, 10, Some(alice), EventKind::Read { message_id: EventId::new() }),
        event(first, 11, Some(alice), EventKind::ConversationEnded { reason: EndReason::Ended }),
        event(second, 1, None, EventKind::ConversationCreated { attributes: Attributes::new() }),
        joined(second, 2, eve, Role::Customer, HOSTILE_NAME),
        message(second, 3, eve, HOSTILE),
        message(second, 4, eve, "bell\u{7} and \u{1b}[2J clear and \u{202e}reversed"),
    ];
    let header = Header {
        conversation: summary(second, Some(first), 4, 100),
        segments: vec![summary(first, None, 11, 0), summary(second, Some(first), 4, 100)],
        participants: vec![
            person(alice, first, Role::Customer, "Alice"),
            person(sam, first, Role::Agent, "Sam"),
            person(eve, second, Role::Customer, HOSTILE_NAME),
        ],
        segments_mode: Segments::All,
        exported_at: at(200),
    };
    Fixture { header, events, attachment, first, second }
}

fn render(format: Format) -> (Fixture, String) {
    let f = fixture();
    let out = render_all(format, &f.header, Links::new(&format!("{BASE}/")), &f.events);
    (f, out)
}

#[test]
fn json_is_one_document_with_every_event_in_order() {
    let (f, out) = render(Format::Json);
    let doc = crate::strict_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(doc["export"]["format"], "switchboard.transcript");
    assert_eq!(doc["export"]["segments"], "all");
    assert_eq!(doc["conversation"]["id"], f.second.to_string());
    let segments: Vec<&str> = doc["segments"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(segments, [f.first.to_string(), f.second.to_string()]);
    assert_eq!(doc["participants"][2]["display_name"], HOSTILE_NAME);
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), f.events.len(), "receipts too");
    for (e, original) in events.iter().zip(&f.events) {
        assert_eq!(serde_json::from_value::<Event>(e.clone()).unwrap(), *original);
    }
    let files = doc["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["name"], HOSTILE_FILE);
    assert_eq!(files[0]["status"], "approved", "the verdict, not the status at upload");
    assert_eq!(files[0]["link"], format!("{BASE}/api/v1/conversations/{}/attachments/{}", f.first, f.attachment));
}

#[test]
fn json_of_an_empty_log_is_a_document_too() {
    let f = fixture();
    let out = render_all(Format::Json, &f.header, Links::new(BASE), &[]);
    let doc = crate::strict_json::from_str(&out).unwrap();
    assert_eq!(doc["events"].as_array().unwrap().len(), 0);
    assert_eq!(doc["attachments"].as_array().unwrap().len(), 0);
}

#[test]
fn text_reads_as_lines_with_segments_marked() {
    let (f, out) = render(Format::Text);
    let expect = [
        format!("Transcript of conversation {}", f.second),
        format!("== Conversation {}, started 2026-12-04 10:15:00Z, ended 2026-12-04 10:15:50Z ==", f.first),
        "[2026-12-04 10:15:01Z] Conversation started.".into(),
        "[2026-12-04 10:15:02Z] Alice (customer) joined.".into(),
        "[2026-12-04 10:15:04Z] Alice (customer): hello".into(),
        "[2026-12-04 10:15:05Z] Sam (agent): Hi Alice,\n    how can I help?".into(),
        "[2026-12-04 10:15:06Z] Sam (agent) asked for a file for record 500XY.".into(),
        format!(
            "[2026-12-04 10:15:07Z] Alice (customer) attached a file: {HOSTILE_FILE} (application/pdf, 12.1 KiB, \
             sha256 {}, scanning) <{BASE}/api/v1/conversations/{}/attachments/{}>",
            "ab".repeat(32),
            f.first,
            f.attachment
        ),
        format!("[2026-12-04 10:15:08Z] The file {HOSTILE_FILE} passed the scan."),
        "[2026-12-04 10:15:09Z] The requested file arrived and was linked to record 500XY:".into(),
        "[2026-12-04 10:15:11Z] Conversation ended by Alice (customer).".into(),
        format!("== Conversation {} (continues {}), started 2026-12-04 10:16:40Z", f.second, f.first),
        format!("[2026-12-04 10:15:03Z] {HOSTILE_NAME} (customer): {HOSTILE}"),
    ];
    for line in expect {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("10:15:10Z"), "receipts are left out:\n{out}");
    let first = out.find(&format!("== Conversation {}", f.first)).unwrap();
    let second = out.find(&format!("== Conversation {}", f.second)).unwrap();
    assert!(first < second, "oldest segment first");
}

#[test]
fn text_cannot_drive_a_terminal() {
    let (_, out) = render(Format::Text);
    assert!(out.contains(r"bell\u{7} and \u{1b}[2J clear and \u{202e}reversed"), "{out}");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "no raw control characters");
    assert!(!out.contains('\u{202e}'));
}

#[test]
fn html_escapes_every_piece_of_user_content() {
    let (f, out) = render(Format::Html);
    assert!(!out.contains("<script"), "no script element, hostile or ours:\n{out}");
    assert!(!out.contains("<img"), "{out}");
    assert!(!out.contains("\" onmouseover"), "an attribute cannot be broken out of:\n{out}");
    assert!(out.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "the message shows as text:\n{out}");
    assert!(out.contains("Eve&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), "{out}");
    assert!(out.contains("x&quot; onmouseover=&quot;alert(3)&quot;.pdf&lt;script&gt;"), "{out}");
    let link = format!("{BASE}/api/v1/conversations/{}/attachments/{}", f.first, f.attachment).replace('/', "&#x2f;");
    assert!(out.contains(&format!("<a href=\"{link}\" rel=\"noopener noreferrer\">")), "{out}");
    assert!(out.contains(&format!("<section class=\"segment\" id=\"{}\">", f.first)));
    assert!(out.trim_end().ends_with("</html>"));
    assert_eq!(out.matches("<section").count(), out.matches("</section>").count());
}

#[test]
fn html_allows_nothing_but_its_own_stylesheet() {
    let (_, out) = render(Format::Html);
    let policy = content_security_policy();
    assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"), "{policy}");
    let meta = format!("content=\"{}\"", minijinja::HtmlEscape(&policy));
    assert!(out.contains("<meta http-equiv=\"Content-Security-Policy\"") && out.contains(&meta), "{out}");
    // The hash in the policy is the hash of the one style element's text.
    let (start, end) = (out.find("<style>").unwrap() + 7, out.find("</style>").unwrap());
    let digest = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&out.as_bytes()[start..end]))
    };
    assert!(policy.contains(&format!("'sha256-{digest}'")));
    assert_eq!(out.matches("<style>").count(), 1);
    // Every `<` left in the page opens one of our own tags (the user's are
    // escaped): none has an event handler, a script URL or a source.
    for tag in out.split('<').skip(1).map(|rest| rest.split('>').next().unwrap().to_ascii_lowercase()) {
        for bad in [" on", "javascript:", " style=", " src=", "script"] {
            assert!(!tag.contains(bad), "<{tag}> has {bad:?}");
        }
        if let Some((_, href)) = tag.split_once("href=\"") {
            assert!(href.starts_with("https:&#x2f;&#x2f;chat.example.com&#x2f;api"), "<{tag}>");
        }
    }
}

#[test]
fn formats_and_segments_parse_their_names() {
    for f in Format::ALL {
        assert_eq!(Format::parse(f.as_str()), Some(f));
    }
    assert_eq!(Format::parse("txt"), Some(Format::Text));
    assert_eq!(Format::parse("pdf"), None);
    assert_eq!(Format::Text.extension(), "txt");
    assert_eq!(Format::Html.content_type(), "text/html; charset=utf-8");
    assert_eq!(Segments::parse("all"), Some(Segments::All));
    assert_eq!(Segments::parse("ALL"), None);
}

#[test]
fn sizes_and_times_read_well() {
    assert_eq!(size(0), "0 B");
    assert_eq!(size(1023), "1023 B");
    assert_eq!(size(12_400), "12.1 KiB");
    assert_eq!(size(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    assert_eq!(size(u64::MAX), "16777216.0 TiB");
    assert_eq!(when(at(2)), "2026-12-04 10:15:02Z");
}
