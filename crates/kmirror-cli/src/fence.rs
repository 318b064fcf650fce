//! `kmirror unfence`: lift the fence `kmirror failover` recorded, an explicit and confirmed operator action.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kmirror::flow_state::{FlowPhase, FlowState, read_flow_state, write_flow_state};
use kmirror::ops::OpsClients;

use crate::offsets::{INVALID, command_line, load, runtime};

/// Arguments of `kmirror unfence`.
#[derive(Debug, clap::Args)]
pub struct UnfenceArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// The flow, `SOURCE->TARGET`.
    #[arg(long)]
    flow: String,
    /// Really lift it (without, the command only says what it would do).
    #[arg(long)]
    yes: bool,
}

pub fn unfence_cmd(args: &UnfenceArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    runtime()?.block_on(async {
        let clients = OpsClients::connect(&config, &args.flow).await?;
        let state = read_flow_state(&clients.target, &args.flow)
            .await
            .context("reading the flow's state")?;
        if !state.is_fenced() {
            println!("flow {} is not fenced: nothing to lift", args.flow);
            return Ok(ExitCode::SUCCESS);
        }
        println!("{}", state.describe());
        if !args.yes {
            println!(
                "\nLifting the fence lets `kmirror run` write into cluster {} again, from the flow's stored \
                 progress. Do it only once applications no longer write there (or after rebuilding it). \
                 Run again with --yes to lift it.",
                clients.flow.target
            );
            return Ok(ExitCode::from(1));
        }
        let lifted = FlowState::new(&args.flow, FlowPhase::Replicating, &command_line());
        write_flow_state(&clients.target, &lifted)
            .await
            .context("recording the lifted fence")?;
        tracing::info!(flow = %args.flow, by = %lifted.by, "fence lifted");
        println!(
            "fence lifted: a running `kmirror run` resumes flow {} within seconds, from its stored progress",
            args.flow
        );
        Ok(ExitCode::SUCCESS)
    })
}
