//! `switchboard demo`: a workspace with everything in it, served, so that a
//! new user sees the whole product in a minute. It seeds (once) an entry
//! point with a styled widget and a pre-chat form, two agents with
//! passwords, two queues, a workflow, the example flows and some canned
//! responses, then prints the URLs to open.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser};
use serde_json::{Value, json};
use switchboard_core::engine::admin::EntryPointSpec;
use switchboard_core::engine::directory::CannedResponse;
use switchboard_core::engine::routing::{AgentSpec, QueueSpec};
use switchboard_core::engine::{Caller, Engine};
use switchboard_core::flows::events::EventType;
use switchboard_core::ids::EntryPointId;
use switchboard_core::model::EntryPoint;
use tokio::sync::oneshot;

use crate::config::Config;

/// `switchboard demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the demo keeps its data (a workspace of its own, apart from `./data`).
    #[arg(long, default_value = "./switchboard-demo")]
    pub data_dir: PathBuf,
}

/// The password of the demo's agents.
pub const PASSWORD: &str = "switchboard";

/// The demo's agents: login and name.
pub const AGENTS: [(&str, &str); 2] = [("ann", "Ann Lee"), ("bob", "Bob Stone")];

const WORKFLOW: &str = "\
filters:
  - name: billing
    if: chat.attributes.topic == \"Billing\"
    steps:
      - queue: billing
default:
  queue: technical
";

/// The flows of `examples/`, deployed as they are.
const FLOWS: [&str; 3] = [
    include_str!("../../../examples/use-of-funds/customer.yaml"),
    include_str!("../../../examples/use-of-funds/agent.yaml"),
    include_str!("../../../examples/greeter/greeter.yaml"),
];
const USE_OF_FUNDS_EVENT: &str = include_str!("../../../examples/use-of-funds/event-type.json");

/// The `serve` configuration of the demo: defaults, on its own address and data dir.
pub fn config(args: &DemoArgs) -> anyhow::Result<Config> {
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        config: Config,
    }
    let listen = args.listen.to_string();
    let data_dir = args.data_dir.to_string_lossy().into_owned();
    let parsed = Serve::try_parse_from(["serve", "--listen", &listen, "--data-dir", &data_dir])
        .context("building the demo's configuration")?;
    Ok(parsed.config)
}

/// Runs the demo server until it is stopped.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let (seeded_tx, seeded_rx) = oneshot::channel();
    let server = crate::serve_with(listener, config, crate::shutdown_signal(), move |engine| {
        tokio::spawn(async move {
            let _ = seeded_tx.send(seed(engine).await);
        });
    });
    tokio::pin!(server);
    tokio::select! {
        done = &mut server => return done,
        seeded = seeded_rx => {
            let entry = seeded.context("the demo's setup stopped")?.context("setting up the demo")?;
            print_welcome(&base, entry.id, &args.data_dir.join("admin-key"));
        }
    }
    server.await
}

fn print_welcome(base: &str, entry: EntryPointId, key_file: &std::path::Path) {
    let logins = AGENTS.iter().map(|(login, _)| *login).collect::<Vec<_>>().join(" or ");
    let key = key_file.display();
    println!(
        "\nSwitchboard demo is running.\n\n\
         \x20 Customer (a page with the chat widget):  {base}/demo/?entry_point={entry}\n\
         \x20 Agent console:                           {base}/console/   (log in as {logins}, password `{PASSWORD}`)\n\
         \x20 Supervisor view:                         {base}/supervisor/   (sign in with the key in {key})\n\
         \x20 Admin pages:                             {base}/admin/   (the same key)\n\
         \x20 API documentation:                       {base}/api/docs\n\n\
         Open the console, set yourself Available, then start a chat from the customer page.\n\
         Stop with Ctrl-C; the data stays in the demo's data dir for the next run.\n"
    );
}

/// Fills the workspace, unless an earlier run did; returns the entry point.
pub async fn seed(engine: Arc<Engine>) -> anyhow::Result<EntryPoint> {
    let err = |e: switchboard_core::Error| anyhow::anyhow!("{e}");
    let workspace = engine.bootstrap(None).await.map_err(err)?.workspace.id;
    let admin = Caller::Admin { workspace };
    let entry = engine
        .entry_points(&admin)
        .await
        .map_err(err)?
        .into_iter()
        .next()
        .context("the workspace has no entry point")?;
    if engine.agents(&admin).await.map_err(err)?.iter().any(|a| a.login.as_deref() == Some(AGENTS[0].0)) {
        return Ok(entry);
    }
    for queue in ["billing", "technical"] {
        let spec = QueueSpec { name: Some(queue.into()), offer_timeout_secs: Some(30), ..Default::default() };
        engine.create_queue(&admin, spec).await.map_err(err)?;
    }
    engine.apply_workflow(&admin, WORKFLOW).await.map_err(err)?;
    for (login, name) in AGENTS {
        let spec = AgentSpec {
            name: Some(name.into()),
            login: Some(login.into()),
            password: Some(PASSWORD.into()),
            capacity: Some(3),
            ..Default::default()
        };
        engine.create_agent(&admin, spec).await.map_err(err)?;
    }
    let mut event: Value = serde_json::from_str(USE_OF_FUNDS_EVENT).context("the example event type")?;
    event["name"] = json!("use_of_funds");
    let event: EventType = serde_json::from_value(event).context("the example event type")?;
    engine.put_event_type(&admin, event).await.map_err(err)?;
    for source in FLOWS {
        engine.deploy_flow(&admin, source, &[]).await.map_err(err)?;
    }
    let mut settings = engine.settings(&admin).await.map_err(err)?;
    settings.canned_responses = canned();
    engine.put_settings(&admin, settings).await.map_err(err)?;
    let widget = serde_json::from_value(json!({
        "title": "Acme support",
        "accent_color": "#2f5bd3",
        "greeting": "Hi! Tell us who you are and a person from our team will answer.",
        "prechat": [
            {"name": "display_name", "label": "Your name", "required": true},
            {"name": "email", "label": "Email", "kind": "email"},
        ]
    }))
    .context("the demo widget")?;
    // The greeter bot of `examples/` starts on chats of the entry point named `website`.
    let spec = EntryPointSpec { name: Some("website".into()), widget: Some(widget), ..Default::default() };
    engine.update_entry_point(&admin, entry.id, spec).await.map_err(err)
}

fn canned() -> Vec<CannedResponse> {
    [
        ("hello", "Greeting", "Hello! Thanks for reaching out. How can I help you today?"),
        ("moment", "One moment", "Thanks, give me a moment to look into this for you."),
        ("invoice", "Invoice copy", "You can download every invoice from **Account → Billing → Invoices**."),
        ("bye", "Closing", "Is there anything else I can help you with? Have a great day!"),
    ]
    .into_iter()
    .map(|(id, title, text)| CannedResponse { id: id.into(), title: title.into(), text: text.into() })
    .collect()
}
