//! Running the real `kmirror` binary in end-to-end tests, as an operator would.
#![allow(dead_code)]

pub mod checkpoints;
pub mod groups;
pub mod oidc;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kmirror_testkit::{ReadRecord, read_all, topic_end_offsets, unique_name};

/// A `kmirror run` process with its config file and log.
pub struct Mirror {
    child: Option<Child>,
    pub config: PathBuf,
    pub log: PathBuf,
    /// Extra environment for the process (e.g. `KMIRROR_LOG_FORMAT`).
    env: Vec<(String, String)>,
}

impl Mirror {
    /// Writes `properties` to a fresh file and starts `kmirror run --config` on it.
    pub fn start(properties: &str) -> Self {
        Self::start_with_env(properties, &[])
    }

    /// [`Mirror::start`] with extra environment variables.
    pub fn start_with_env(properties: &str, env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("kmirror-e2e-"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("mm2.properties");
        std::fs::write(&config, properties).expect("write config");
        let log = dir.join("kmirror.log");
        let mut m = Self {
            child: None,
            config,
            log,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        m.restart();
        m
    }

    /// Starts the process again on the same config (after `kill` or `stop`), appending to the same log.
    pub fn restart(&mut self) {
        self.kill(); // never two kmirror processes on one config
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kmirror"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info,kmirror=debug")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start kmirror");
        self.child = Some(child);
    }

    /// `kill -9`: no chance to flush or commit anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        for _ in 0..600 {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        panic!(
            "kmirror did not stop within 60 s of SIGTERM; log:\n{}",
            self.log_text()
        );
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.kill();
    }
}

/// MM2 properties for clusters `src` and `dst` bound to the local clusters A and B, plus `extra` lines.
/// Heartbeat topics follow the topic filter (`heartbeats.replication.enabled = false`): tests share the
/// clusters, and MM2's default would copy every other test's heartbeat topics too.
pub fn mm2_properties(src: &str, dst: &str, extra: &str) -> String {
    let a = kmirror_testkit::cluster("A");
    let b = kmirror_testkit::cluster("B");
    format!(
        "clusters = {src}, {dst}\n{src}.bootstrap.servers = {}\n{dst}.bootstrap.servers = {}\n\
         replication.factor = 1\ncheckpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\noffset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\nconfig.storage.replication.factor = 1\n\
         heartbeats.replication.enabled = false\n{extra}\n",
        a.bootstrap, b.bootstrap
    )
}

/// Total records (end offsets) of a topic, or 0 if it does not exist yet.
pub async fn record_total(bootstrap: &str, topic: &str) -> i64 {
    let b = bootstrap.to_string();
    let t = topic.to_string();
    // topic_end_offsets panics on a missing topic: treat that as "not there yet".
    match tokio::spawn(async move { topic_end_offsets(&b, &t).await }).await {
        Ok(parts) => parts.iter().map(|(_, _, hi)| hi).sum(),
        Err(_) => 0,
    }
}

/// Waits until `target` on `bootstrap` holds `expected` records (end offsets), failing with kmirror's log.
pub async fn wait_for_records(
    mirror: &Mirror,
    bootstrap: &str,
    target: &str,
    expected: i64,
    timeout: Duration,
) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let n = record_total(bootstrap, target).await;
        if n >= expected {
            assert_eq!(
                n, expected,
                "{target} holds more records than the source: duplicates"
            );
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "timed out: {target} has {n} of {expected} records after {timeout:?}; kmirror log:\n{}",
                tail(&mirror.log_text(), 60)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Asserts the two topics hold the same records per partition: same order, key, value, headers, timestamp.
pub async fn assert_same_records(
    source_bootstrap: &str,
    source: &str,
    target_bootstrap: &str,
    target: &str,
) {
    let a = read_all(source_bootstrap, source).await;
    let b = read_all(target_bootstrap, target).await;
    compare(&a, &b, source, target);
}

pub fn compare(a: &[ReadRecord], b: &[ReadRecord], source: &str, target: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{source} has {} records, {target} has {}",
        a.len(),
        b.len()
    );
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.content(),
            y.content(),
            "record {i} differs ({source} offset {} vs {target} offset {})",
            x.offset,
            y.offset
        );
    }
}

/// Simple keyed records spread over `partitions`, for tests about positions rather than content.
pub fn plain_records(n: usize, partitions: i32, tag: &str) -> Vec<kmirror_testkit::ProducedRecord> {
    (0..n)
        .map(|i| kmirror_testkit::ProducedRecord {
            partition: (i % partitions as usize) as i32,
            key: Some(format!("k-{tag}-{i}").into_bytes()),
            value: Some(format!("v-{tag}-{i}").into_bytes()),
            headers: Vec::new(),
            timestamp: None,
        })
        .collect()
}

/// A GET on kmirror's HTTP API: the whole response (headers and body), or "" while nothing listens.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The value of a Prometheus sample (`name{labels} value`) whose line contains every one of `needles`.
pub fn metric_value(metrics: &str, name: &str, needles: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && needles.iter().all(|n| l.contains(n)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Starts a stopped cluster again when dropped (also when the test panics), unless taken first: later test
/// binaries need every cluster running.
pub struct StartOnDrop(pub Option<kmirror_testkit::Cluster>);

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.start();
        }
    }
}

/// Runs a `kmirror` operator command to its end: (exit code 0, stdout, stderr).
pub fn run_kmirror(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run kmirror");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
