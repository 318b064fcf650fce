//! Kafka's own Java tools (console consumer, consumer-groups, ...) as a second independent oracle.

use std::process::Command;

/// What a Java tool printed.
#[derive(Debug)]
pub struct JavaOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `scripts/kafka-tool TOOL ARGS...` (see that script for the tool names) and returns its output.
pub fn kafka_tool(tool: &str, args: &[&str]) -> JavaOutput {
    let script = crate::repo_root().join("scripts/kafka-tool");
    let out = Command::new(&script)
        .arg(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    JavaOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
