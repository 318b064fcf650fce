//! `run(config, shutdown)`: wires clients, flows, heartbeats and the HTTP API together, and returns once
//! shutdown has drained in-flight data and committed progress.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kmirror_kafka::{Client, ClientConfig};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiState, serve};
use crate::config::{Config, FlowConfig, Role, Side};
use crate::flow::{FlowClients, run_flow};
use crate::flow_state::read_flow_state;
use crate::heartbeat::HeartbeatEmitter;
use crate::telemetry::{Metrics, StatusBoard};
use kmirror_kafka::admin::Admin;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot serve HTTP on {addr}: {source}; change kmirror.http.listen")]
    Http {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// How long shutdown waits for flows to drain before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

/// Runs every active flow of `config` until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServiceError> {
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(StatusBoard::default());
    if let Some(addr) = config.http_listen {
        let state = ApiState {
            metrics: metrics.clone(),
            status: status.clone(),
        };
        let (bound, _) = serve(addr, state, shutdown.clone())
            .await
            .map_err(|source| ServiceError::Http { addr, source })?;
        tracing::info!(%bound, "serving /metrics, /status and the status page");
    }

    let mut tasks = JoinSet::new();
    for flow in &config.flows {
        if flow.enabled {
            status.add_flow(&flow.name());
            tasks.spawn(supervise_flow(
                config.clone(),
                flow.clone(),
                metrics.clone(),
                status.clone(),
                shutdown.clone(),
            ));
        }
        if flow.emit_heartbeats.enabled {
            tasks.spawn(supervise_heartbeats(
                config.clone(),
                flow.clone(),
                metrics.clone(),
                status.clone(),
                shutdown.clone(),
            ));
        }
    }
    if tasks.is_empty() {
        tracing::warn!("no flow is enabled and no heartbeats are emitted: nothing to do");
    }
    shutdown.cancelled().await;
    tracing::info!("shutting down: draining in-flight data and committing progress");
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "some flows did not finish within {SHUTDOWN_GRACE:?}; their last progress is committed"
        );
    }
    Ok(())
}

/// Connects a client for one side and role of a flow, retrying until it works or shutdown. Failures are
/// reported on the status board and in the log with what to check.
async fn connect(
    config: &Config,
    flow: &FlowConfig,
    side: Side,
    role: Role,
    status: &StatusBoard,
    shutdown: &CancellationToken,
) -> Option<Client> {
    let alias = match side {
        Side::Source => &flow.source,
        Side::Target => &flow.target,
    };
    let props: BTreeMap<String, String> = config.client_properties(flow, side, role);
    let subject = format!("cluster {alias}");
    let client_config = match ClientConfig::from_properties(&props) {
        Ok((mut c, _ignored)) => {
            c.client_id = format!("kmirror-{}-{}", flow.name(), role.as_str());
            c
        }
        Err(e) => {
            let message = format!("the client settings of cluster {alias} are invalid: {e}");
            tracing::error!(flow = %flow.name(), "{message}");
            status.problem(&flow.name(), &subject, message);
            shutdown.cancelled().await;
            return None;
        }
    };
    let mut delay = Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            connected = Client::connect(client_config.clone()) => match connected {
                Ok(client) => {
                    status.resolve(&flow.name(), &subject);
                    return Some(client);
                }
                Err(e) => {
                    tracing::error!(flow = %flow.name(), cluster = %alias, error = %e, "cannot connect; retrying in {delay:?}");
                    status.problem(&flow.name(), &subject, e.to_string());
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

async fn supervise_flow(
    config: Arc<Config>,
    flow: FlowConfig,
    metrics: Arc<Metrics>,
    status: Arc<StatusBoard>,
    shutdown: CancellationToken,
) {
    let name = flow.name();
    loop {
        let Some(source) = connect(
            &config,
            &flow,
            Side::Source,
            Role::Consumer,
            &status,
            &shutdown,
        )
        .await
        else {
            return;
        };
        let Some(target) = connect(
            &config,
            &flow,
            Side::Target,
            Role::Producer,
            &status,
            &shutdown,
        )
        .await
        else {
            return;
        };
        // A flow failed over (fenced) writes nothing into its target: wait until the fence is lifted.
        if !wait_while_fenced(&target, &name, &status, &shutdown).await {
            return;
        }
        let offset_syncs = if flow.offset_syncs_cluster() == flow.source {
            source.clone()
        } else {
            target.clone()
        };
        let clients = FlowClients {
            source,
            target: target.clone(),
            offset_syncs,
        };
        // Stops the flow (gracefully: in-flight data acknowledged, progress committed) once it is fenced.
        let stop = shutdown.child_token();
        let watcher = tokio::spawn(watch_fence(
            target,
            name.clone(),
            status.clone(),
            stop.clone(),
        ));
        let result = run_flow(
            config.clone(),
            flow.clone(),
            clients,
            metrics.clone(),
            status.clone(),
            stop,
        )
        .await;
        watcher.abort();
        match result {
            Ok(()) if shutdown.is_cancelled() => return,
            // Fenced while running: back to waiting for the fence to be lifted.
            Ok(()) => continue,
            Err(e) => {
                tracing::error!(flow = %name, error = %e, "flow stopped; restarting in 10 s");
                status.problem(&name, "flow", e.to_string());
                metrics.error(&flow.source, &flow.target, "flow");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
}

/// How often a running flow checks whether it was failed over, and a fenced one whether it may run again.
const FENCE_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Waits while flow `name` is fenced in its target cluster; false on shutdown. A flow state that cannot be
/// read does not keep the flow from running (it is reported).
async fn wait_while_fenced(
    target: &Client,
    name: &str,
    status: &StatusBoard,
    shutdown: &CancellationToken,
) -> bool {
    let mut reported = false;
    loop {
        match read_flow_state(target, name).await {
            Ok(state) if state.is_fenced() => {
                if !reported {
                    tracing::warn!(flow = %name, "not replicating: {}", state.describe());
                    status.problem(name, FENCE_SUBJECT, state.describe());
                    reported = true;
                }
            }
            Ok(_) => {
                if reported {
                    tracing::info!(flow = %name, "the fence was lifted; replicating again");
                }
                status.resolve(name, FENCE_SUBJECT);
                return true;
            }
            Err(e) => {
                tracing::warn!(flow = %name, error = %e, "cannot tell whether the flow was failed over; replicating");
                return true;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(FENCE_CHECK_INTERVAL) => {}
        }
    }
}

/// Cancels `stop` as soon as flow `name` is found fenced in its target cluster.
async fn watch_fence(
    target: Client,
    name: String,
    status: Arc<StatusBoard>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(FENCE_CHECK_INTERVAL) => {}
        }
        match read_flow_state(&target, &name).await {
            Ok(state) if state.is_fenced() => {
                tracing::warn!(flow = %name, "stopping: {}", state.describe());
                status.problem(&name, FENCE_SUBJECT, state.describe());
                stop.cancel();
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(flow = %name, error = %e, "flow state not readable this time")
            }
        }
    }
}

/// The `/status` subject of a flow's fence.
const FENCE_SUBJECT: &str = "fenced";

async fn supervise_heartbeats(
    config: Arc<Config>,
    flow: FlowConfig,
    metrics: Arc<Metrics>,
    status: Arc<StatusBoard>,
    shutdown: CancellationToken,
) {
    loop {
        let Some(target) = connect(
            &config,
            &flow,
            Side::Target,
            Role::Producer,
            &status,
            &shutdown,
        )
        .await
        else {
            return;
        };
        let emitter =
            HeartbeatEmitter::new(&flow, Admin::new(target), status.clone(), metrics.clone());
        match emitter.run(shutdown.clone()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(flow = %flow.name(), error = %e, "heartbeats stopped; restarting in 10 s");
                status.problem(&flow.name(), "heartbeats", e.to_string());
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
}
