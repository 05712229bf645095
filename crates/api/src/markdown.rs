//! Markdown messages as safe HTML for the web pages: each `text/markdown`
//! message the API hands out carries `html`, rendered from its content when
//! it is read (so a stricter policy applies to every stored message at once).
//!
//! Raw HTML in the source is shown as text, never passed through; the
//! rendered HTML is then cleaned by ammonia: no script, no event handlers,
//! no `javascript:` or `data:` links, no images (a customer must not make the
//! console fetch a tracker), links open a new tab with `noopener`.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event as Md, Options, Parser};
use serde::Serialize;
use switchboard_core::event::{ContentType, Event, EventKind};

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.rm_tags(["img"])
        .url_schemes(HashSet::from(["http", "https", "mailto", "tel"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank");
    b
});

/// Markdown as sanitized HTML.
pub fn render(source: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let parser = Parser::new_ext(source, options).map(|e| match e {
        Md::Html(raw) | Md::InlineHtml(raw) => Md::Text(raw),
        other => other,
    });
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    CLEANER.clean(&html).to_string()
}

/// An event as the API writes it: a markdown message also carries `html`.
#[derive(Debug)]
pub struct WireEvent<'a>(pub &'a Event);

impl Serialize for WireEvent<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct WithHtml<'a> {
            #[serde(flatten)]
            event: &'a Event,
            html: String,
        }
        match &self.0.kind {
            EventKind::Message { content_type: ContentType::TextMarkdown, content } => {
                WithHtml { event: self.0, html: render(content) }.serialize(s)
            }
            _ => self.0.serialize(s),
        }
    }
}

/// Serializes a list of events as the API writes them.
pub fn events<S: serde::Serializer>(events: &[Event], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(events.iter().map(WireEvent))
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_is_rendered_and_nothing_can_run() {
        assert_eq!(render("**hi** _there_"), "<p><strong>hi</strong> <em>there</em></p>\n");
        let link = render("[docs](https://example.com/a)");
        assert!(link.contains("href=\"https://example.com/a\""), "{link}");
        assert!(link.contains("rel=\"noopener noreferrer nofollow\"") && link.contains("target=\"_blank\""), "{link}");
        for attack in [
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "<script>alert(1)</script>",
            "<svg onload=alert(1)>",
            "![x](https://tracker.example/p.png)",
            "<a href=\"javascript:alert(1)\">x</a>",
        ] {
            let html = render(attack).to_ascii_lowercase();
            // What a browser would take as markup: the text between `<` and `>`
            // (what was typed as HTML comes out escaped, as text).
            for tag in html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or_default()) {
                let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or_default();
                assert!(["p", "a", "em", "strong", "code"].contains(&name), "{attack} → {html}");
                assert!(
                    !tag.contains(" on") && !tag.contains("javascript:") && !tag.contains("data:"),
                    "{attack} → {html}"
                );
            }
        }
        // Raw HTML is shown, not dropped: the reader sees what was typed.
        assert_eq!(render("a <b>c</b>"), "<p>a &lt;b&gt;c&lt;/b&gt;</p>\n");
    }
}
