//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    access_keys, agents, conversations, directory, entry_points, export, files, flows, hours, log, participants,
    retention, routing, supervisor,
};
use crate::{error, event_stream, stream, wire};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "The native API of Switchboard, a contact-center chat engine. Every conversation is an \
            ordered, durable log: each event has a `seq` (1, 2, 3, … with no gaps); a send is answered only once \
            it is committed; a retried send with the same `client_token` is stored once. Errors share one shape, \
            `{\"error\":{\"code\",\"message\",\"field\"}}`, with codes: malformed_request (400), invalid_field (422), \
            unauthenticated (401), forbidden (403), not_found (404), method_not_allowed (405), conversation_ended, \
            participant_left and conflict (409), payload_too_large (413), unsupported_media_type (415), \
            rate_limited (429, with Retry-After), unavailable (503), internal (500)."
    ),
    paths(
        entry_points::create, entry_points::list, entry_points::get, entry_points::update, entry_points::start_chat, entry_points::widget, directory::directory,
        conversations::list, conversations::create, conversations::get, conversations::update, conversations::end,
        conversations::me, retention::erase, retention::list,
        participants::list, participants::add, participants::remove, participants::issue_token, participants::revoke_tokens,
        log::send_message, log::send_event, log::transcript, log::poll, export::export,
        stream::stream,
        agents::create, agents::list, agents::get, agents::update, agents::issue_token, agents::revoke_tokens,
        agents::login, agents::set_activity, agents::activities, agents::create_activity, agents::delete_activity,
        routing::create_queue, routing::list_queues, routing::get_queue, routing::update_queue,
        hours::create, hours::list, hours::get, hours::put, hours::delete, hours::availability,
        routing::put_workflow, routing::get_workflow, routing::route, routing::task, routing::explain, routing::queue_position, routing::transfer,
        routing::agent_input, routing::request_file, routing::file_requests, routing::cancel_file_request,
        routing::offers, routing::accept, routing::decline, routing::message_requests, routing::pick_up,
        supervisor::queues, supervisor::conversations, supervisor::history,
        flows::validate, flows::deploy, flows::list, flows::versions, flows::graph_of, flows::launch, flows::runs,
        flows::run, flows::run_log, flows::cancel, flows::submit_form, flows::put_event_type, flows::event_types,
        flows::publish, flows::custom_events, flows::outbox, flows::replay, flows::create_webhook, flows::webhooks,
        flows::webhook, flows::update_webhook, flows::delete_webhook, flows::deliveries, flows::webhook_secret,
        flows::rotate_webhook_secret, event_stream::stream,
        files::start, files::upload, files::complete, files::list, files::get, files::download,
        files::decline_request, files::settings, files::put_settings,
        access_keys::create, access_keys::list, access_keys::revoke,
    ),
    components(schemas(error::ErrorResponse, error::ErrorBody, wire::EventDoc)),
    modifiers(&BearerAuth),
    tags(
        (name = "chats", description = "Starting a chat as a customer (public)"),
        (name = "conversations", description = "Conversations and their attributes"),
        (name = "participants", description = "Who is in a conversation, and their tokens"),
        (name = "messages", description = "The log: messages, receipts, transcript, its export, long-poll"),
        (name = "stream", description = "The WebSocket stream"),
        (name = "entry points", description = "Public ways into chat"),
        (name = "agents", description = "Agents, their credentials and presence"),
        (name = "routing", description = "Queues, the workflow, schedules (hours of operation), tasks, offers and transfers"),
        (name = "supervisor", description = "Queue statistics, live chats, monitoring and barging in"),
        (name = "flows", description = "Flows, their runs, forms, custom events and the outbox"),
        (name = "files", description = "Attachments, their signed upload and download links, and file settings"),
        (name = "access keys", description = "Key ids and secrets that sign server-to-server requests (AWS Signature V4)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A workspace API key (`sbk_…`), an agent token (`sba_…`) or a participant token (`sbp_…`)",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    /// Every schema the document points to is in it.
    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected reference {r}"));
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r} is not in the document");
        }
    }

    #[test]
    fn erasure_is_described() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let erase = &doc["paths"]["/api/v1/conversations/{id}"]["delete"];
        let params: Vec<&str> =
            erase["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(params, ["id", "end", "reason"]);
        for status in ["200", "403", "404", "409"] {
            assert!(erase["responses"].get(status).is_some(), "DELETE answers {status}");
        }
        assert!(doc["paths"]["/api/v1/erasures"]["get"].is_object());
        let deleted = &doc["components"]["schemas"]["DeletedCounts"]["properties"];
        assert!(deleted.get("events").is_some() && deleted.get("attachments").is_some());
    }

    #[test]
    fn persistent_chat_is_described() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["StartChatRequest"]["properties"].get("continue_from").is_some());
        assert!(schemas["CreateConversationRequest"]["properties"].get("continue_from").is_some());
        assert!(schemas["ContinueFromRequest"]["properties"].get("rehydration").is_some());
        assert!(schemas["QueueRequest"]["properties"].get("prefer_previous_agent_secs").is_some());
        assert!(schemas["ConversationView"]["properties"].get("next_conversation_id").is_some());
        let params = doc["paths"]["/api/v1/conversations/{id}/transcript"]["get"]["parameters"].as_array().unwrap();
        for name in ["segments", "after", "before"] {
            assert!(params.iter().any(|p| p["name"] == name), "transcript parameter {name}");
        }
    }

    #[test]
    fn transcript_export_is_described() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let get = &doc["paths"]["/api/v1/conversations/{id}/transcript/export"]["get"];
        let params = get["parameters"].as_array().unwrap();
        for name in ["id", "format", "segments"] {
            assert!(params.iter().any(|p| p["name"] == name), "export parameter {name}");
        }
        let content = &get["responses"]["200"]["content"];
        for media in ["application/json", "text/plain", "text/html"] {
            assert!(content.get(media).is_some(), "export answers {media}: {content}");
        }
        assert!(get["responses"].get("422").is_some());
        let schema = &doc["components"]["schemas"]["TranscriptExport"]["properties"];
        for key in ["export", "conversation", "segments", "participants", "events", "attachments"] {
            assert!(schema.get(key).is_some(), "TranscriptExport.{key}");
        }
    }

    #[test]
    fn hours_are_described() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let paths = &doc["paths"];
        for method in ["get", "post"] {
            assert!(paths["/api/v1/schedules"][method].is_object(), "{method} /schedules");
        }
        for method in ["get", "put", "delete"] {
            assert!(paths["/api/v1/schedules/{id}"][method].is_object(), "{method} /schedules/{{id}}");
        }
        let post = &paths["/api/v1/schedules"]["post"]["requestBody"]["content"];
        assert!(post.get("application/json").is_some() && post.get("application/yaml").is_some(), "{post}");
        let availability = &paths["/api/v1/entry-points/{id}/availability"]["get"];
        assert!(availability["security"].is_null(), "public, like starting a chat");
        let schemas = &doc["components"]["schemas"];
        for (schema, field) in [
            ("ScheduleRequest", "time_zone"),
            ("ScheduleView", "exceptions"),
            ("AvailabilityView", "next_open_at"),
            ("QueueRequest", "schedule"),
            ("QueueView", "schedule"),
            ("EntryPointRequest", "schedule"),
            ("EntryPointView", "schedule"),
            ("RouteStepView", "when_closed"),
        ] {
            assert!(schemas[schema]["properties"].get(field).is_some(), "{schema}.{field}");
        }
    }

    #[test]
    fn routing_explanations_are_described() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let get = &doc["paths"]["/api/v1/conversations/{id}/task/explain"]["get"];
        for status in ["200", "403", "404"] {
            assert!(get["responses"].get(status).is_some(), "explain answers {status}");
        }
        let text = get["description"].as_str().unwrap_or_default();
        for reason in ["not_present", "outside_hours", "expression_false", "at_capacity", "declined_before"] {
            assert!(text.contains(reason), "the description names {reason}");
        }
        let schemas = &doc["components"]["schemas"];
        for key in ["eligible", "winner", "skipped", "counts"] {
            assert!(schemas["NowView"]["properties"].get(key).is_some(), "NowView.{key}");
        }
        assert!(schemas["HistoryView"]["properties"].get("detail").is_some());
    }
}
