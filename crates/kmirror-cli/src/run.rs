//! `kmirror run`: replicate until Ctrl-C / SIGTERM, then drain and commit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kmirror::config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An unchanged MirrorMaker 2 `mm2.properties`, or a `kmirror.toml`.
    #[arg(long, short)]
    config: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kmirror")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        kmirror::service::run(config, shutdown)
            .await
            .context("kmirror stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// First Ctrl-C / SIGTERM: graceful shutdown. Second: exit at once.
async fn watch_signals(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops kmirror gracefully");
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        }
    };
    for round in 0..2 {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        if round == 0 {
            tracing::info!(
                "stop requested: finishing in-flight work (signal again to exit at once)"
            );
            shutdown.cancel();
        } else {
            tracing::warn!("second stop request: exiting without waiting");
            std::process::exit(130);
        }
    }
}
