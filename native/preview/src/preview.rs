//! A preview: the configuration's node facts, the events the engine builds from them, the
//! exact requests of the configured tracking id (api_secret masked, as the engine plans
//! them), and which names depend on the running node.

use std::path::Path;

use mongoose_system_metrics_engine::api;
use mongoose_system_metrics_engine::node::value::{PathElem, Value, NODE_INFO_LIMITS};
use mongoose_system_metrics_engine::report::event::Event;
use mongoose_system_metrics_engine::wire::options::SendOptions;
use mongoose_system_metrics_engine::wire::plan;

use crate::facts::{self, NodeFacts, StartedModules};
use crate::mim_config::{invalid, parse_toml, ConfigError, MimConfig};
use crate::release::Release;
use crate::service::ServiceSection;

/// The `client_id` of the requests shown: the running node's is its cluster id or a UUID
/// kept beside its report file, unknown offline.
pub const CLIENT_ID_PLACEHOLDER: &str = "client-id-of-the-running-node";

/// Whether a node running the configuration reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporting {
    /// The service runs and reports.
    On,
    /// `report = false`: nothing is collected or sent.
    ReportFalse,
    /// No `[services.service_mongoose_system_metrics]`: the service does not run.
    NoSection,
}

/// One request, as the engine plans it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The measurement id.
    pub tracking_id: String,
    /// The URL, api_secret masked as `***`.
    pub url: String,
    /// The JSON body.
    pub body: String,
}

/// Everything a preview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The release previewed.
    pub release: Release,
    /// The configuration as read.
    pub config: MimConfig,
    /// The modules started on each host type.
    pub started: StartedModules,
    /// The node facts.
    pub facts: NodeFacts,
    /// Whether the node reports.
    pub reporting: Reporting,
    /// The events of one report (none when the node does not report).
    pub events: Vec<Event>,
    /// The requests to the configured tracking id.
    pub requests: Vec<Request>,
    /// The configured tracking id, when the engine refuses it (nothing is sent for it).
    pub invalid_tracking_id: Option<String>,
    /// Event and param names whose values only the running node knows.
    pub runtime_only: Vec<&'static str>,
}

/// Why a preview could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// The file (exit status 1).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The node's facts are over the engine's input limits: a node running this file would
    /// fail its report with this error (exit status 1).
    #[error("a node running this configuration could not build its report: {0}")]
    TooLarge(String),
    /// The engine refused the facts or the options: a defect of this program.
    #[error("the engine refused the preview's input: {0}")]
    Engine(String),
}

/// Previews the configuration file at `path` for `release`.
pub fn preview_file(path: &Path, release: &Release) -> Result<Preview, PreviewError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(e.to_string()))?;
    let extension = path.extension().and_then(|e| e.to_str());
    preview_text(&text, extension, release)
}

/// Previews configuration `text`, from a file with `extension`.
pub fn preview_text(
    text: &str,
    extension: Option<&str>,
    release: &Release,
) -> Result<Preview, PreviewError> {
    let config = MimConfig::read(&parse_toml(text)?, release)?;
    let started = facts::started_modules(&config, release);
    let facts = NodeFacts::gather(&config, release, extension, &started);
    let reporting = match &config.service {
        None => Reporting::NoSection,
        Some(ServiceSection {
            report: Some(false),
            ..
        }) => Reporting::ReportFalse,
        Some(_) => Reporting::On,
    };
    let mut preview = Preview {
        release: release.clone(),
        started,
        facts,
        reporting,
        events: Vec::new(),
        requests: Vec::new(),
        invalid_tracking_id: None,
        runtime_only: Vec::new(),
        config,
    };
    if reporting != Reporting::On {
        return Ok(preview);
    }
    let facts = preview.facts.to_value();
    // As a node's NIF refuses the same facts, before building anything.
    facts
        .check_limits(NODE_INFO_LIMITS)
        .map_err(|e| PreviewError::TooLarge(e.reason))?;
    preview.events = api::build_report(&facts).map_err(|e| PreviewError::Engine(e.to_string()))?;
    if let Some(service) = preview.config.service.clone() {
        plan_requests(&mut preview, &service)?;
    }
    preview.runtime_only = runtime_only(&preview);
    Ok(preview)
}

/// The configured tracking id's requests, planned by the engine.
fn plan_requests(preview: &mut Preview, service: &ServiceSection) -> Result<(), PreviewError> {
    let Some((id, secret)) = &service.tracking_id else {
        return Ok(());
    };
    let bin = |s: &str| Value::Binary(s.as_bytes().to_vec());
    let key = |s: &str| Value::Atom(s.to_string());
    let tracking = Value::Map(vec![
        (key("id"), bin(id)),
        (key("secret"), bin(secret.expose())),
    ]);
    let mut opts = vec![
        (key("client_id"), bin(CLIENT_ID_PLACEHOLDER)),
        (key("tracking_ids"), Value::List(vec![tracking])),
    ];
    if let Some(url) = service.endpoint() {
        opts.push((key("url"), bin(url)));
    }
    if service.validate {
        opts.push((key("mode"), key("validate")));
    }
    let opts = SendOptions::from_value(&Value::Map(opts)).map_err(|e| {
        // The one option the file can make invalid: a `url` that is not an http(s) URL.
        if e.path == [PathElem::Key("url".to_string())] {
            PreviewError::Config(invalid(
                "services.service_mongoose_system_metrics.url",
                e.reason,
            ))
        } else {
            PreviewError::Engine(e.to_string())
        }
    })?;
    let plan =
        plan::plan(&preview.events, &opts).map_err(|e| PreviewError::Engine(e.to_string()))?;
    for tracking in plan.trackings {
        if !tracking.valid {
            preview.invalid_tracking_id = Some(tracking.tracking_id);
            continue;
        }
        for request in tracking.requests {
            preview.requests.push(Request {
                tracking_id: tracking.tracking_id.clone(),
                url: request.url.masked().to_string(),
                body: String::from_utf8_lossy(&request.body).into_owned(),
            });
        }
    }
    Ok(())
}

/// The names whose values only the running node knows: the cluster's uptime, node number
/// and components; the domain count when host types can gain domains at run time; the
/// stanza counts; the client id of every request.
fn runtime_only(preview: &Preview) -> Vec<&'static str> {
    let mut names = vec!["uptime", "node_number", "component"];
    if !preview.config.host_types.is_empty() {
        names.push("domain_count");
    }
    if preview.facts.stanza_counts.is_some() {
        names.push("xmpp_stanza_count");
    }
    names.push("client_id");
    names
}
