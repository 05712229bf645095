//! `switchboard access-key`: the workspace's access keys (the key id and
//! secret that sign server-to-server requests with AWS Signature V4),
//! directly on the database or through a running server's API, like the
//! other commands. `create` prints the secret, once.

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_api::routes::access_keys::AccessKeyView;
use switchboard_core::ids::AccessKeyId;

use super::remote::Server;
use super::{Admin, Via, failed, via};

#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Makes an access key and prints its id and secret (the secret is not
    /// shown again).
    Create {
        #[arg(long)]
        name: String,
    },
    /// Lists the access keys, revoked ones too (never their secrets).
    List,
    /// Revokes an access key: it signs nothing from now on.
    Revoke { id: String },
}

impl AccessKeyCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "access-key create",
            Self::List => "access-key list",
            Self::Revoke { .. } => "access-key revoke",
        }
    }
}

fn print_key(k: AccessKeyView) {
    let revoked = k.revoked_at.map(|t| format!("  (revoked {t})")).unwrap_or_default();
    println!("{}  {:<24} created {}{revoked}", k.id, k.name, k.created_at);
}

fn print_created(id: &str, secret: &str) {
    println!("access key id:     {id}");
    println!("secret access key: {secret}");
    println!("(the secret is shown this once; keep it somewhere safe)");
}

fn parse_id(id: &str) -> anyhow::Result<AccessKeyId> {
    AccessKeyId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn access_key(cmd: Admin<AccessKeyCommand>) -> anyhow::Result<()> {
    let db = match via(&cmd, cmd.command.name()).await? {
        Via::Database(db) => db,
        Via::Server(server) => return run_api(&server, cmd.command).await,
    };
    let (engine, caller) = (&db.engine, &db.caller);
    let result = async {
        match cmd.command {
            AccessKeyCommand::Create { name } => {
                let (key, secret) = engine.create_access_key(caller, &name).await.map_err(failed)?;
                print_created(key.id.as_str(), &secret);
            }
            AccessKeyCommand::List => {
                for k in engine.access_keys(caller).await.map_err(failed)? {
                    print_key(k.into());
                }
            }
            AccessKeyCommand::Revoke { id } => {
                let key = engine.revoke_access_key(caller, &parse_id(&id)?).await.map_err(failed)?;
                print_key(key.into());
            }
        }
        Ok(())
    }
    .await;
    db.close().await;
    result
}

async fn run_api(server: &Server, cmd: AccessKeyCommand) -> anyhow::Result<()> {
    let list = || async {
        let v = server.call(server.request(Method::GET, "/api/v1/access-keys")).await?;
        serde_json::from_value::<Vec<AccessKeyView>>(v).context("reading the server's answer")
    };
    match cmd {
        AccessKeyCommand::Create { name } => {
            let req = server.request(Method::POST, "/api/v1/access-keys").json(&json!({ "name": name }));
            let made: Value = server.call(req).await?;
            let field = |f: &str| made[f].as_str().map(str::to_owned).context("reading the server's answer");
            print_created(&field("id")?, &field("secret")?);
        }
        AccessKeyCommand::List => {
            for k in list().await? {
                print_key(k);
            }
        }
        AccessKeyCommand::Revoke { id } => {
            let id = parse_id(&id)?;
            server.call_no_content(server.request(Method::DELETE, &format!("/api/v1/access-keys/{id}"))).await?;
            if let Some(k) = list().await?.into_iter().find(|k| k.id == id.as_str()) {
                print_key(k);
            }
        }
    }
    Ok(())
}
