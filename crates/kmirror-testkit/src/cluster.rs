//! Addresses of the local clusters, read from the environment `scripts/kafka-local env` prints.

use std::path::PathBuf;

/// One local Kafka cluster as started by `scripts/kafka-local`.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Cluster name: `A`, `B`, ...
    pub name: String,
    /// PLAINTEXT listener, `127.0.0.1:port`.
    pub bootstrap: String,
    /// SASL_PLAINTEXT listener (SCRAM-SHA-512/256 and PLAIN), when started with `--auth scram`.
    pub sasl_bootstrap: Option<String>,
    /// SSL listener, when started with `--tls`.
    pub tls_bootstrap: Option<String>,
    /// SASL_SSL listener, when started with both.
    pub sasl_tls_bootstrap: Option<String>,
    pub sasl: Option<SaslCredentials>,
    pub tls: Option<TlsFiles>,
}

/// The SCRAM/PLAIN user created when the clusters were formatted.
#[derive(Debug, Clone)]
pub struct SaslCredentials {
    pub username: String,
    pub password: String,
}

/// PEM files generated for the TLS listeners.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// The cluster called `name` (`"A"`, `"B"`...).
///
/// # Panics
/// When the clusters are not running: an integration test must fail loudly, never pass silently.
pub fn cluster(name: &str) -> Cluster {
    let var = |suffix: &str| std::env::var(format!("KMIRROR_{name}_{suffix}")).ok();
    let Some(bootstrap) = var("BOOTSTRAP") else {
        panic!(
            "KMIRROR_{name}_BOOTSTRAP is not set: this integration test needs the local Kafka clusters. \
             Run it through scripts/test, or start them with `scripts/kafka-local up --auth scram --tls` \
             and `source <(scripts/kafka-local env)` before cargo test."
        )
    };
    let env = |key: &str| std::env::var(key).ok();
    let sasl = match (env("KMIRROR_SASL_USER"), env("KMIRROR_SASL_PASSWORD")) {
        (Some(username), Some(password)) => Some(SaslCredentials { username, password }),
        _ => None,
    };
    let tls = match (
        env("KMIRROR_TLS_CA"),
        env("KMIRROR_TLS_CLIENT_CERT"),
        env("KMIRROR_TLS_CLIENT_KEY"),
    ) {
        (Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
            ca: ca.into(),
            client_cert: cert.into(),
            client_key: key.into(),
        }),
        _ => None,
    };
    Cluster {
        name: name.to_string(),
        bootstrap,
        sasl_bootstrap: var("SASL_BOOTSTRAP"),
        tls_bootstrap: var("TLS_BOOTSTRAP"),
        sasl_tls_bootstrap: var("SASL_TLS_BOOTSTRAP"),
        sasl,
        tls,
    }
}

/// The repository's top folder (where `scripts/` lives).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}

impl Cluster {
    /// Kills (SIGKILL) this cluster's broker, for fault tests. Start it again with [`Cluster::start`].
    pub fn kill(&self) {
        self.kafka_local(&["kill", &self.name]);
    }

    /// Stops this cluster's broker cleanly.
    pub fn stop(&self) {
        self.kafka_local(&["stop", &self.name]);
    }

    /// Starts this cluster's broker again on its existing storage and waits until it answers.
    pub fn start(&self) {
        self.kafka_local(&["start", &self.name]);
    }

    fn kafka_local(&self, args: &[&str]) {
        let script = repo_root().join("scripts/kafka-local");
        let status = std::process::Command::new(&script)
            .args(args)
            .status()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
        assert!(
            status.success(),
            "scripts/kafka-local {args:?} failed with {status}"
        );
    }
}
