//! The HTML format: one self-contained page (no scripts, no outside
//! resources) that reads like the text format.
//!
//! Every piece of user content — messages, names, file names, form values,
//! record ids — and every attribute value is escaped with minijinja's HTML
//! escaper; user markup is never passed through (a Markdown message shows
//! as its source). The page carries a `Content-Security-Policy` that allows
//! nothing but its own stylesheet (by hash), so even a mistake here could
//! not run a script or load anything. Files link to their API resource, and
//! links send no referrer.

use std::fmt::Write as _;

use base64::Engine as _;
use minijinja::HtmlEscape as Esc;
use sha2::{Digest as _, Sha256};

use super::lines::{Line, line};
use super::{Context, Header, Layout, Person, SharedFile, Summary, size, when};
use crate::event::Event;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1d1d1f}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left;vertical-align:top}\
.meta,time,.role{color:#666;font-size:.85rem}ol.log{list-style:none;padding:0}ol.log li{margin:.35rem 0}\
.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.1rem 0 0 1rem}.note{color:#555;font-style:italic}\
.sha{font-size:.75rem;overflow-wrap:anywhere}";

/// The policy the page carries (and that a server should send with it): no
/// scripts, frames, images, fonts, forms or connections; only its own
/// stylesheet, named by its hash.
pub fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'")
}

#[derive(Debug, Default)]
pub(super) struct Html {
    /// A segment's list is open and must be closed.
    open: bool,
}

impl Layout for Html {
    fn start(&mut self, header: &Header, out: &mut String) {
        let c = &header.conversation;
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(
            out,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            Esc(&content_security_policy())
        );
        out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let _ = writeln!(out, "<title>Transcript of conversation {}</title>", Esc(&c.id.to_string()));
        let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>\n<header>");
        let _ = writeln!(out, "<h1>Transcript of conversation <code>{}</code></h1>", Esc(&c.id.to_string()));
        let _ = writeln!(out, "<p class=\"meta\">Exported {} (times are UTC).</p>", time(header.exported_at));
        if let Some(r) = &c.record_id {
            let _ = writeln!(out, "<p>Record: <code>{}</code></p>", Esc(r));
        }
        if header.segments.len() > 1 {
            let n = header.segments.len();
            let _ = writeln!(out, "<p>It continues earlier chats: {n} segments, oldest first.</p>");
        }
        people(&header.participants, out);
        out.push_str("</header>\n<main>\n");
    }

    fn segment(&mut self, s: &Summary, out: &mut String) {
        self.close(out);
        let id = s.id.to_string();
        let _ = writeln!(out, "<section class=\"segment\" id=\"{}\">", Esc(&id));
        let _ = writeln!(out, "<h2>Conversation <code>{}</code></h2>", Esc(&id));
        out.push_str("<p class=\"meta\">");
        if let Some(previous) = s.previous_conversation_id {
            let _ = write!(out, "Continues <code>{}</code> · ", Esc(&previous.to_string()));
        }
        let _ = write!(out, "Started {}", time(s.created_at));
        if let Some(ended) = s.ended_at {
            let _ = write!(out, " · ended {}", time(ended));
        }
        out.push_str("</p>\n<ol class=\"log\">\n");
        self.open = true;
    }

    fn event(&mut self, e: &Event, ctx: &Context, out: &mut String) {
        let stamp = time(e.at);
        match line(e, ctx) {
            Line::Skipped => {}
            Line::Said { who, content } => {
                let role = who.role.map_or("", |r| r.as_str());
                let _ = writeln!(
                    out,
                    "<li class=\"msg role-{}\">{stamp} <b class=\"who\">{}</b> <span class=\"role\">{}</span>\
                     <div class=\"text\">{}</div></li>",
                    Esc(role),
                    Esc(&who.name),
                    Esc(role),
                    Esc(content)
                );
            }
            Line::Note { text, file } => {
                let _ = write!(out, "<li class=\"note\">{stamp} <span>{}</span>", Esc(&text));
                if let Some(f) = file {
                    shared_file(&f, out);
                }
                out.push_str("</li>\n");
            }
        }
    }

    fn finish(&mut self, _ctx: &Context, out: &mut String) {
        self.close(out);
        out.push_str("</main>\n</body>\n</html>\n");
    }
}

impl Html {
    fn close(&mut self, out: &mut String) {
        if std::mem::take(&mut self.open) {
            out.push_str("</ol>\n</section>\n");
        }
    }
}

fn time(t: crate::clock::Timestamp) -> String {
    format!("<time datetime=\"{}\">{}</time>", Esc(&t.to_rfc3339()), Esc(&when(t)))
}

fn people(list: &[Person], out: &mut String) {
    out.push_str("<h2>Participants</h2>\n<table>\n<thead><tr><th>Name</th><th>Role</th><th>Conversation</th>");
    out.push_str("<th>Joined</th><th>Left</th></tr></thead>\n<tbody>\n");
    for p in list {
        let left = p.left_at.map(time).unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{left}</td></tr>",
            Esc(&p.display_name),
            Esc(p.role.as_str()),
            Esc(&p.conversation_id.to_string()),
            time(p.joined_at),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// ` <a href="…">report.pdf</a> (application/pdf, 12.1 KiB, approved) sha256 …`
fn shared_file(f: &SharedFile, out: &mut String) {
    let _ = write!(
        out,
        " <a href=\"{}\" rel=\"noopener noreferrer\">{}</a> <span class=\"meta\">({}, {}, {})</span> \
         <code class=\"sha\">sha256 {}</code>",
        Esc(&f.link),
        Esc(&f.name),
        Esc(&f.content_type),
        Esc(&size(f.size)),
        Esc(f.status.as_str()),
        Esc(&f.sha256)
    );
}
