//! `switchboard access-key …` as an operator runs it: the real binary, on a
//! database no server holds, then through a running server's API, then
//! directly again. The secret it prints once signs a `StartChatContact`
//! the server accepts, until the key is revoked.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_dialect_connect::sigv4;

use crate::cli_flow::{Serve, cli, ok};

/// The id and secret `access-key create` printed.
fn created(out: &str) -> (String, String) {
    let field = |label: &str| {
        out.lines().find_map(|l| l.strip_prefix(label)).map(|v| v.trim().to_owned()).unwrap_or_else(|| panic!("{out}"))
    };
    (field("access key id:"), field("secret access key:"))
}

/// A signed `PUT /contact/chat` for the server's first entry point.
async fn start(server: &Serve, id: &str, secret: &str) -> StatusCode {
    let workspace = server.admin(Method::GET, "/api/v1/me", Value::Null).await["workspace_id"].clone();
    let ep = server.admin(Method::GET, "/api/v1/entry-points", Value::Null).await[0]["id"].clone();
    let body = serde_json::to_vec(
        &json!({"InstanceId": workspace, "ContactFlowId": ep, "ParticipantDetails": {"DisplayName": "Jane"}}),
    )
    .unwrap();
    let host = server.base().trim_start_matches("http://").to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let headers = vec![("host".to_owned(), host), ("x-amz-date".to_owned(), sigv4::format_amz_date(now))];
    let req = sigv4::Request { method: "PUT", path: "/contact/chat", query: "", headers: &headers, body: &body };
    let authorization = sigv4::sign(&req, id, secret, "eu-west-1", "connect").unwrap();
    let mut put = reqwest::Client::new().put(format!("{}/contact/chat", server.base())).body(body.clone());
    for (n, v) in headers.iter().chain([&("authorization".to_owned(), authorization)]) {
        put = put.header(n.as_str(), v.as_str());
    }
    put.send().await.unwrap().status()
}

fn listed(dir_out: &str) -> Vec<Vec<String>> {
    dir_out.lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
}

async fn list(dir: &Path) -> String {
    ok(dir, &["access-key", "list"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_keys_are_made_listed_and_revoked_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // No server yet: the command opens the database.
    let (first, first_secret) = created(&ok(dir, &["access-key", "create", "--name", "widget"]).await);
    assert!(first.starts_with("SBAK") && first.len() == 20, "{first}");
    assert_eq!(first_secret.len(), 40);
    let ran = cli(dir, &["access-key", "create", "--name", " "]).await;
    assert!(!ran.ok && ran.err.contains("name: 1 to 200 characters"), "{}", ran.err);

    // Through the running server: the key signs; a second one is made there.
    let server = Serve::start(dir).await;
    assert_eq!(start(&server, &first, &first_secret).await, StatusCode::OK);
    assert_eq!(start(&server, &first, "wrong").await, StatusCode::FORBIDDEN);
    let (second, second_secret) = created(&ok(dir, &["access-key", "create", "--name", "batch"]).await);
    assert_eq!(start(&server, &second, &second_secret).await, StatusCode::OK);
    let out = list(dir).await;
    assert!(!out.contains(&first_secret) && !out.contains(&second_secret), "no secret is listed: {out}");
    let rows = listed(&out);
    assert_eq!(
        rows.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect::<Vec<_>>(),
        [(first.as_str(), "widget"), (second.as_str(), "batch")]
    );

    let revoked = ok(dir, &["access-key", "revoke", &first]).await;
    assert!(revoked.starts_with(&first) && revoked.contains("(revoked 20"), "{revoked}");
    assert_eq!(start(&server, &first, &first_secret).await, StatusCode::FORBIDDEN);
    assert_eq!(start(&server, &second, &second_secret).await, StatusCode::OK);
    let ran = cli(dir, &["access-key", "revoke", "SBAKAAAAAAAAAAAAAAAA"]).await;
    assert!(!ran.ok && ran.err.contains("access key not found"), "{}", ran.err);
    let through_the_api = list(dir).await;
    server.stop().await;

    // Directly again: the same list.
    assert_eq!(list(dir).await, through_the_api);
    let ran = cli(dir, &["access-key", "revoke", "not-a-key"]).await;
    assert!(!ran.ok && ran.err.contains("not a valid access key id"), "{}", ran.err);
}
