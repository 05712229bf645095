//! Administration: the first start, API keys and entry points.

use super::{Caller, Engine, admin_workspace, check_idle};
use crate::error::{Error, Result};
use crate::ids::{ApiKeyId, EntryPointId, WorkspaceId};
use crate::model::{ApiKey, EntryPoint, IdleSettings, Workspace};
use crate::token::{Secret, SecretKind};

/// What the first start (or a later one) set up.
#[derive(Debug)]
pub struct Bootstrap {
    pub workspace: Workspace,
    /// The entry point a fresh install creates (allows any origin).
    pub entry_point: Option<EntryPoint>,
    /// A generated admin key, to be shown once; `None` when the operator
    /// supplied one or the install already existed.
    pub generated_key: Option<Secret>,
}

/// A new entry point, or changes to one.
#[derive(Debug, Clone, Default)]
pub struct EntryPointSpec {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub idle: Option<IdleSettings>,
    pub enabled: Option<bool>,
    /// The schedule (by name) customers are told about; `Some(None)` takes it off.
    pub schedule: super::hours::ScheduleChoice,
    /// Its widget's look and pre-chat form, replaced whole.
    pub widget: Option<crate::widget::WidgetSettings>,
}

impl Engine {
    /// Makes sure a workspace exists with an admin key. With `admin_key`, that
    /// key is registered (if it is not already); on a fresh install without
    /// one, a key is generated and returned once.
    pub async fn bootstrap(&self, admin_key: Option<Secret>) -> Result<Bootstrap> {
        let now = self.now();
        let (workspace, fresh) = match self.store.first_workspace().await? {
            Some(w) => (w, false),
            None => {
                let w = Workspace { id: WorkspaceId::new(), name: "Default".into(), created_at: now };
                self.store.create_workspace(&w).await?;
                (w, true)
            }
        };
        let mut generated_key = None;
        let key = match admin_key {
            Some(k) => Some(k),
            None if fresh => {
                let k = Secret::generate(SecretKind::ApiKey);
                generated_key = Some(Secret::from_operator(k.expose().to_owned()));
                Some(k)
            }
            None => None,
        };
        if let Some(k) = key
            && self.store.api_key_by_token(&k.hash()).await?.is_none()
        {
            let record = ApiKey {
                id: ApiKeyId::new(),
                workspace_id: workspace.id,
                name: "admin".into(),
                created_at: now,
                revoked_at: None,
            };
            self.store.create_api_key(&record, &k.hash()).await?;
        }
        let entry_point = if fresh {
            let spec = EntryPointSpec {
                name: Some("Website".into()),
                allowed_origins: Some(vec!["*".into()]),
                ..Default::default()
            };
            Some(self.create_entry_point(&Caller::Admin { workspace: workspace.id }, spec).await?)
        } else {
            None
        };
        Ok(Bootstrap { workspace, entry_point, generated_key })
    }

    pub async fn create_entry_point(&self, caller: &Caller, spec: EntryPointSpec) -> Result<EntryPoint> {
        let workspace = admin_workspace(caller)?;
        let mut ep = EntryPoint {
            id: EntryPointId::new(),
            workspace_id: workspace,
            name: String::new(),
            allowed_origins: Vec::new(),
            idle: IdleSettings::default(),
            enabled: true,
            schedule_id: None,
            widget: Default::default(),
            created_at: self.now(),
        };
        if spec.name.is_none() {
            return Err(Error::invalid("name", "is required"));
        }
        let schedule = self.schedule_choice(workspace, spec.schedule.clone()).await?;
        apply_spec(&mut ep, spec)?;
        if let Some(schedule) = schedule {
            ep.schedule_id = schedule;
        }
        self.store.create_entry_point(&ep).await?;
        Ok(ep)
    }

    pub async fn update_entry_point(
        &self,
        caller: &Caller,
        id: EntryPointId,
        spec: EntryPointSpec,
    ) -> Result<EntryPoint> {
        let mut ep = self.entry_point(caller, id).await?;
        let schedule = self.schedule_choice(ep.workspace_id, spec.schedule.clone()).await?;
        apply_spec(&mut ep, spec)?;
        if let Some(schedule) = schedule {
            ep.schedule_id = schedule;
        }
        self.store.update_entry_point(&ep).await?;
        Ok(ep)
    }

    pub async fn entry_point(&self, caller: &Caller, id: EntryPointId) -> Result<EntryPoint> {
        let workspace = admin_workspace(caller)?;
        self.store
            .entry_point(id)
            .await?
            .filter(|e| e.workspace_id == workspace)
            .ok_or_else(|| Error::not_found("entry point"))
    }

    pub async fn entry_points(&self, caller: &Caller) -> Result<Vec<EntryPoint>> {
        let workspace = admin_workspace(caller)?;
        self.store.entry_points(workspace).await
    }

    /// An enabled entry point by id, for the public chat endpoints (CORS, start).
    pub async fn public_entry_point(&self, id: EntryPointId) -> Result<EntryPoint> {
        self.store.entry_point(id).await?.filter(|e| e.enabled).ok_or_else(|| Error::not_found("entry point"))
    }
}

fn apply_spec(ep: &mut EntryPoint, spec: EntryPointSpec) -> Result<()> {
    if let Some(name) = spec.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "1 to 200 characters, no control characters"));
        }
        ep.name = name;
    }
    if let Some(origins) = spec.allowed_origins {
        if origins.len() > 100 {
            return Err(Error::invalid("allowed_origins", "at most 100 origins"));
        }
        for o in &origins {
            check_origin(o)?;
        }
        ep.allowed_origins = origins;
    }
    if let Some(idle) = spec.idle {
        check_idle(&idle)?;
        ep.idle = idle;
    }
    if let Some(widget) = spec.widget {
        widget.check()?;
        ep.widget = widget;
    }
    if let Some(enabled) = spec.enabled {
        ep.enabled = enabled;
    }
    Ok(())
}

/// `*`, or `http(s)://host[:port]` with nothing after the host.
fn check_origin(origin: &str) -> Result<()> {
    let bad =
        || Error::invalid("allowed_origins", format!("`{origin}` is not an origin like https://example.com or *"));
    if origin == "*" {
        return Ok(());
    }
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")).ok_or_else(bad)?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    if host_ok && port_ok { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::check_origin;

    #[test]
    fn origins() {
        for ok in ["*", "https://example.com", "http://localhost:3000", "https://a-b.c.d"] {
            assert!(check_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "example.com",
            "https://",
            "https://x.com/path",
            "ftp://x.com",
            "https://x.com:0",
            "https://x.com:99999",
            "https://a b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
