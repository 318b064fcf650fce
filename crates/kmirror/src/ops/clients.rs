//! One-shot clients for a flow's clusters: an operator command either gets an answer or says which cluster
//! did not answer, it does not retry forever like the service.

use std::time::Duration;

use kmirror_kafka::{Client, ClientConfig};

use crate::config::{Config, FlowConfig, Role, Side};

/// How long connecting to one cluster may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no flow {0} in the configuration (flows: {1})")]
    NoSuchFlow(String, String),
    #[error("the client settings of cluster {alias} are invalid: {message}")]
    ClientConfig { alias: String, message: String },
    #[error("cannot connect to cluster {alias}: {message}")]
    Connect { alias: String, message: String },
    #[error("{what} on cluster {alias}: {message}")]
    Cluster {
        what: String,
        alias: String,
        message: String,
    },
}

/// The clients of one flow, connected once.
#[derive(Debug, Clone)]
pub struct OpsClients {
    pub flow: FlowConfig,
    /// `Err` when the source did not answer (unplanned failover): the target's records are all there is.
    pub source: Result<Client, String>,
    pub target: Client,
    /// The cluster holding the offset-syncs topic, when reachable.
    pub offset_syncs: Result<Client, String>,
}

impl OpsClients {
    /// Connects to the clusters of flow `name` (`A->B`). Only the target is required.
    pub async fn connect(config: &Config, name: &str) -> Result<Self, OpsError> {
        let flow = config
            .flows
            .iter()
            .find(|f| f.name() == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<String> = config.flows.iter().map(FlowConfig::name).collect();
                OpsError::NoSuchFlow(name.to_string(), names.join(", "))
            })?;
        let source = connect(config, &flow, Side::Source).await;
        let target = connect(config, &flow, Side::Target)
            .await
            .map_err(|message| OpsError::Connect {
                alias: flow.target.clone(),
                message,
            })?;
        let offset_syncs = if flow.offset_syncs_cluster() == flow.source {
            source.clone()
        } else {
            Ok(target.clone())
        };
        Ok(Self {
            flow,
            source,
            target,
            offset_syncs,
        })
    }
}

async fn connect(config: &Config, flow: &FlowConfig, side: Side) -> Result<Client, String> {
    let props = config.client_properties(flow, side, Role::Admin);
    let (mut client_config, _ignored) =
        ClientConfig::from_properties(&props).map_err(|e| e.to_string())?;
    client_config.client_id = format!("kmirror-ops-{}", flow.name());
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(client_config)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}
