//! HTTP API: `/metrics` (Prometheus), `/status` (JSON), `/` (a status page for people), `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::telemetry::{Metrics, StatusBoard};

#[derive(Debug, Clone)]
pub struct ApiState {
    pub metrics: Arc<Metrics>,
    pub status: Arc<StatusBoard>,
}

/// Binds `addr` and serves until `shutdown` is cancelled. Returns the bound address (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    state: ApiState,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/healthz", get(|| async { "ok" }))
        .route("/", get(page))
        .with_state(state);
    let handle = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "HTTP API stopped");
        }
    });
    Ok((bound, handle))
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

async fn status(State(s): State<ApiState>) -> impl IntoResponse {
    axum::Json(s.status.snapshot())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(s): State<ApiState>) -> Html<String> {
    let snap = s.status.snapshot();
    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5><title>kmirror</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;\
         padding:4px 8px;text-align:right}td:first-child,td:nth-child(2){text-align:left}.failed{background:#fdd}\
         </style><h1>kmirror</h1>",
    );
    let behind: Vec<String> = snap
        .flow_lag
        .iter()
        .map(|l| format!("{} {:.1} s", escape(&l.flow), l.lag_seconds))
        .collect();
    html.push_str(&format!(
        "<p>flows: {} &middot; total lag: {} records &middot; behind the source by: {}</p>",
        escape(&snap.flows.join(", ")),
        snap.total_lag_records,
        behind.join(", ")
    ));
    if !snap.problems.is_empty() {
        html.push_str("<h2>Problems</h2><ul>");
        for p in &snap.problems {
            html.push_str(&format!(
                "<li><b>{} {}</b>: {}</li>",
                escape(&p.flow),
                escape(&p.subject),
                escape(&p.message)
            ));
        }
        html.push_str("</ul>");
    }
    html.push_str(
        "<h2>Topics</h2><table><tr><th>flow</th><th>topic</th><th>partitions</th><th>copied</th><th>lag</th>\
         <th>done</th><th>records/s</th><th>caught up in</th></tr>",
    );
    for t in &snap.topics {
        let class = if t.failed_partitions > 0 {
            " class=failed"
        } else {
            ""
        };
        let eta = t
            .eta_seconds
            .map_or_else(|| "&ndash;".to_string(), |s| format!("{s} s"));
        html.push_str(&format!(
            "<tr{class}><td>{}</td><td>{} &rarr; {}</td><td>{}</td><td>{}</td><td>{}</td><td>{} %</td>\
             <td>{}</td><td>{eta}</td></tr>",
            escape(&t.flow),
            escape(&t.source_topic),
            escape(&t.target_topic),
            t.partitions,
            t.records_copied,
            t.lag_records,
            t.percent_copied,
            t.records_per_second,
        ));
    }
    html.push_str("</table>");
    html.push_str(
        "<h2>Partitions</h2><table><tr><th>flow</th><th>topic</th><th>partition</th><th>state</th>\
         <th>copied</th><th>next offset</th><th>source end</th><th>lag</th><th>error</th></tr>",
    );
    for p in &snap.partitions {
        let class = if p.error.is_some() {
            " class=failed"
        } else {
            ""
        };
        html.push_str(&format!(
            "<tr{class}><td>{}</td><td>{} &rarr; {}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            escape(&p.flow),
            escape(&p.source_topic),
            escape(&p.target_topic),
            p.partition,
            p.state,
            p.records_copied,
            p.next_source_offset,
            p.source_end_offset,
            p.lag_records,
            escape(p.error.as_deref().unwrap_or(""))
        ));
    }
    html.push_str("</table>");
    Html(html)
}
