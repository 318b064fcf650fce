//! Client settings, and their mapping from Kafka's own client property names so an existing
//! `mm2.properties` or consumer/producer config works unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}={value:?} is invalid: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("{key} is required: {reason}")]
    Missing { key: String, reason: String },
    #[error("{key}={value:?} is not supported: {remedy}")]
    Unsupported {
        key: String,
        value: String,
        remedy: String,
    },
    #[error("cannot use {what} {path}: {message}")]
    File {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
}

/// How bytes travel to the brokers (Kafka's `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        })
    }
}

/// The SASL mechanisms this client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    /// The name brokers use in `sasl.enabled.mechanisms`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// TLS settings. PEM files only: that is what both Kafka (`ssl.truststore.type=PEM`) and librdkafka read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificates that signed the brokers' certificates; `None` uses the system's trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM), for brokers with `ssl.client.auth=required`.
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM, PKCS#8, PKCS#1 or SEC1; unencrypted) for `cert_file`. May be the same file.
    pub key_file: Option<PathBuf>,
    /// Check that the broker certificate names the host (or IP) we dialled. On by default, as in Kafka.
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        }
    }
}

/// SASL credentials. Debug output hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything needed to talk to one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `host:port` addresses used only to find the cluster; the metadata names the real brokers.
    pub bootstrap_servers: Vec<String>,
    pub client_id: String,
    pub security_protocol: SecurityProtocol,
    pub tls: TlsConfig,
    /// Required when `security_protocol` is SASL_*.
    pub sasl: Option<SaslConfig>,
    /// How long one request may wait for its response before the connection is dropped (default 30 s).
    pub request_timeout: Duration,
    /// Metadata older than this is refreshed in the background (default 30 s, Kafka's 5 min is too slow
    /// to notice new partitions promptly).
    pub metadata_max_age: Duration,
    /// First wait before reconnecting to a broker (default 100 ms); doubles per failure, jittered.
    pub reconnect_backoff: Duration,
    /// Upper bound of the reconnect wait (default 10 s).
    pub reconnect_backoff_max: Duration,
    /// How long a produced batch may be retried before it fails (default 120 s, Kafka's
    /// `delivery.timeout.ms`).
    pub delivery_timeout: Duration,
}

impl ClientConfig {
    /// A plaintext config for `bootstrap` (a comma-separated `host:port` list is accepted).
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: split_list(&bootstrap.into()),
            client_id: "kmirror".to_string(),
            security_protocol: SecurityProtocol::Plaintext,
            tls: TlsConfig::default(),
            sasl: None,
            request_timeout: Duration::from_secs(30),
            metadata_max_age: Duration::from_secs(30),
            reconnect_backoff: Duration::from_millis(100),
            reconnect_backoff_max: Duration::from_secs(10),
            delivery_timeout: Duration::from_secs(120),
        }
    }

    /// Builds a config from Kafka's client property names (see the crate docs for the list). Keys this
    /// client does not use are returned, so the caller can warn about them; they are not errors.
    pub fn from_properties(
        props: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        from_properties(props)
    }

    /// Checks the combinations a broker would otherwise reject at connect time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bootstrap_servers.is_empty() {
            return Err(ConfigError::Missing {
                key: "bootstrap.servers".into(),
                reason: "at least one host:port is needed to find the cluster".into(),
            });
        }
        for s in &self.bootstrap_servers {
            if split_host_port(s).is_none() {
                return Err(ConfigError::Invalid {
                    key: "bootstrap.servers".into(),
                    value: s.clone(),
                    reason: "expected host:port".into(),
                });
            }
        }
        if self.security_protocol.uses_sasl() && self.sasl.is_none() {
            return Err(ConfigError::Missing {
                key: "sasl.jaas.config".into(),
                reason: format!(
                    "security.protocol={} needs SASL credentials",
                    self.security_protocol
                ),
            });
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError::Missing {
                key: "ssl.certificate.location / ssl.key.location".into(),
                reason: "a client certificate needs its private key and the other way round".into(),
            });
        }
        Ok(())
    }
}

/// Splits `host:port` (also `[v6]:port`) into its parts.
pub(crate) fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host, port.parse().ok()?))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn millis(key: &str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|e| ConfigError::Invalid {
            key: key.into(),
            value: value.into(),
            reason: format!("expected milliseconds: {e}"),
        })
}

fn from_properties(
    props: &BTreeMap<String, String>,
) -> Result<(ClientConfig, Vec<String>), ConfigError> {
    let get = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let bootstrap = get("bootstrap.servers").ok_or_else(|| ConfigError::Missing {
        key: "bootstrap.servers".into(),
        reason: "at least one host:port is needed to find the cluster".into(),
    })?;
    let mut c = ClientConfig::new(bootstrap);
    let mut ignored = Vec::new();
    let mut mechanism: Option<SaslMechanism> = None;
    let mut jaas: Option<(Option<SaslMechanism>, String, String)> = None;
    let (mut user, mut pass) = (None, None);
    let mut truststore: Option<(String, Option<String>)> = None;
    let mut keystore: Option<(String, Option<String>)> = None;
    for (key, value) in props {
        let v = value.trim();
        match key.as_str() {
            "bootstrap.servers" => {}
            "client.id" => c.client_id = v.to_string(),
            "security.protocol" => {
                c.security_protocol = match v.to_ascii_uppercase().as_str() {
                    "PLAINTEXT" => SecurityProtocol::Plaintext,
                    "SSL" => SecurityProtocol::Ssl,
                    "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
                    "SASL_SSL" => SecurityProtocol::SaslSsl,
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: key.clone(),
                            value: v.into(),
                            reason: "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL".into(),
                        });
                    }
                }
            }
            "sasl.mechanism" | "sasl.mechanisms" => mechanism = Some(parse_mechanism(key, v)?),
            "sasl.jaas.config" => jaas = Some(parse_jaas(v)?),
            "sasl.username" => user = Some(v.to_string()),
            "sasl.password" => pass = Some(value.to_string()),
            "ssl.truststore.location" => {
                truststore = Some((v.to_string(), truststore.and_then(|t| t.1)))
            }
            "ssl.truststore.type" => {
                let loc = truststore.map(|t| t.0).unwrap_or_default();
                truststore = Some((loc, Some(v.to_string())));
            }
            "ssl.ca.location" => c.tls.ca_file = Some(PathBuf::from(v)),
            "ssl.keystore.location" => keystore = Some((v.to_string(), keystore.and_then(|k| k.1))),
            "ssl.keystore.type" => {
                let loc = keystore.map(|k| k.0).unwrap_or_default();
                keystore = Some((loc, Some(v.to_string())));
            }
            "ssl.certificate.location" => c.tls.cert_file = Some(PathBuf::from(v)),
            "ssl.key.location" => c.tls.key_file = Some(PathBuf::from(v)),
            "ssl.endpoint.identification.algorithm" => {
                c.tls.verify_hostname = match v.to_ascii_lowercase().as_str() {
                    "" | "none" => false,
                    "https" => true,
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: key.clone(),
                            value: v.into(),
                            reason: "expected \"https\" or \"\" (no hostname check)".into(),
                        });
                    }
                }
            }
            "enable.ssl.certificate.verification" if v.eq_ignore_ascii_case("false") => {
                return Err(ConfigError::Unsupported {
                    key: key.clone(),
                    value: v.into(),
                    remedy: "kmirror always verifies broker certificates; give it the CA with ssl.ca.location"
                        .into(),
                });
            }
            "ssl.truststore.certificates"
            | "ssl.keystore.certificate.chain"
            | "ssl.keystore.key" => {
                return Err(ConfigError::Unsupported {
                    key: key.clone(),
                    value: "<inline PEM>".into(),
                    remedy: "write the PEM to a file and use ssl.truststore.location / ssl.keystore.location".into(),
                });
            }
            "request.timeout.ms" => c.request_timeout = millis(key, v)?,
            "metadata.max.age.ms" => c.metadata_max_age = millis(key, v)?,
            "reconnect.backoff.ms" => c.reconnect_backoff = millis(key, v)?,
            "reconnect.backoff.max.ms" => c.reconnect_backoff_max = millis(key, v)?,
            "delivery.timeout.ms" => c.delivery_timeout = millis(key, v)?,
            _ => ignored.push(key.clone()),
        }
    }
    if let Some((loc, ty)) = truststore.filter(|t| !t.0.is_empty()) {
        require_pem("ssl.truststore", &loc, ty.as_deref())?;
        c.tls.ca_file = Some(PathBuf::from(loc));
    }
    if let Some((loc, ty)) = keystore.filter(|k| !k.0.is_empty()) {
        require_pem("ssl.keystore", &loc, ty.as_deref())?;
        c.tls.cert_file = Some(PathBuf::from(&loc));
        c.tls.key_file = Some(PathBuf::from(loc));
    }
    if c.security_protocol.uses_sasl() {
        let (jaas_mech, u, p) = match (jaas, user, pass) {
            (Some(j), _, _) => j,
            (None, Some(u), Some(p)) => (None, u, p),
            _ => {
                return Err(ConfigError::Missing {
                    key: "sasl.jaas.config".into(),
                    reason: format!(
                        "security.protocol={} needs credentials, e.g. org.apache.kafka.common.security.scram.\
                         ScramLoginModule required username=\"u\" password=\"p\";",
                        c.security_protocol
                    ),
                });
            }
        };
        let mechanism = match (mechanism, jaas_mech) {
            (Some(m), _) => m,
            (None, Some(SaslMechanism::Plain)) => SaslMechanism::Plain,
            _ => {
                return Err(ConfigError::Missing {
                    key: "sasl.mechanism".into(),
                    reason: "say which mechanism to use: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                        .into(),
                });
            }
        };
        if let Some(j) = jaas_mech
            && (j == SaslMechanism::Plain) != (mechanism == SaslMechanism::Plain)
        {
            return Err(ConfigError::Invalid {
                key: "sasl.jaas.config".into(),
                value: "<redacted>".into(),
                reason: format!("its login module does not match sasl.mechanism={mechanism}"),
            });
        }
        c.sasl = Some(SaslConfig {
            mechanism,
            username: u,
            password: p,
        });
    }
    c.validate()?;
    Ok((c, ignored))
}

fn parse_mechanism(key: &str, v: &str) -> Result<SaslMechanism, ConfigError> {
    match v.to_ascii_uppercase().as_str() {
        "PLAIN" => Ok(SaslMechanism::Plain),
        "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
        "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
        _ => Err(ConfigError::Unsupported {
            key: key.into(),
            value: v.into(),
            remedy: "kmirror speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512".into(),
        }),
    }
}

fn require_pem(prefix: &str, location: &str, ty: Option<&str>) -> Result<(), ConfigError> {
    let is_pem = match ty {
        Some(t) => t.eq_ignore_ascii_case("PEM"),
        // Kafka's default store type is JKS, but a PEM file given without the type is unambiguous.
        None => std::fs::read(location)
            .map(|b| b.windows(10).any(|w| w == b"-----BEGIN"))
            .unwrap_or(false),
    };
    if is_pem {
        Ok(())
    } else {
        Err(ConfigError::Unsupported {
            key: format!("{prefix}.location"),
            value: location.into(),
            remedy: format!(
                "kmirror reads PEM files only; convert the {} store (e.g. `openssl pkcs12 -in store.p12 -out \
                 store.pem -nodes`, or keytool -exportcert for JKS) and set {prefix}.type=PEM",
                ty.unwrap_or("JKS")
            ),
        })
    }
}

/// Parses `<LoginModule> required username="u" password="p";` into (mechanism hint, user, password).
fn parse_jaas(v: &str) -> Result<(Option<SaslMechanism>, String, String), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "sasl.jaas.config".into(),
        value: "<redacted>".into(),
        reason: reason.into(),
    };
    let mut rest = v.trim().trim_end_matches(';').trim();
    let module_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let module = &rest[..module_end];
    let hint = if module.ends_with("PlainLoginModule") {
        Some(SaslMechanism::Plain)
    } else if module.ends_with("ScramLoginModule") {
        None
    } else {
        return Err(ConfigError::Unsupported {
            key: "sasl.jaas.config".into(),
            value: module.into(),
            remedy: "kmirror supports PlainLoginModule and ScramLoginModule".into(),
        });
    };
    rest = rest[module_end..].trim_start();
    let flag_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest = rest[flag_end..].trim_start();
    let (mut user, mut pass) = (None, None);
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| invalid("expected key=\"value\" options"))?;
        let key = rest[..eq].trim();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(stripped) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = stripped.char_indices();
            let mut end = None;
            while let Some((i, ch)) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            out.push(next);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end.ok_or_else(|| invalid("unterminated quoted value"))?;
            value = out;
            rest = stripped[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = rest[end..].trim_start();
        }
        match key {
            "username" => user = Some(value),
            "password" => pass = Some(value),
            _ => {}
        }
    }
    match (user, pass) {
        (Some(u), Some(p)) => Ok((hint, u, p)),
        _ => Err(invalid("needs both username=\"...\" and password=\"...\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn maps_kafka_scram_ssl_properties() {
        let dir = std::env::temp_dir().join(format!("kmirror-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").expect("write");
        let (c, ignored) = ClientConfig::from_properties(&props(&[
            ("bootstrap.servers", "a:9092, b:9093"),
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="mm2" password="p\"w";"#,
            ),
            ("ssl.truststore.location", ca.to_str().expect("utf8")),
            ("ssl.endpoint.identification.algorithm", ""),
            ("request.timeout.ms", "5000"),
            ("linger.ms", "5"),
        ]))
        .expect("valid");
        assert_eq!(c.bootstrap_servers, vec!["a:9092", "b:9093"]);
        assert_eq!(c.security_protocol, SecurityProtocol::SaslSsl);
        let sasl = c.sasl.as_ref().expect("sasl");
        assert_eq!(
            (
                sasl.mechanism,
                sasl.username.as_str(),
                sasl.password.as_str()
            ),
            (SaslMechanism::ScramSha512, "mm2", "p\"w")
        );
        assert_eq!(c.tls.ca_file.as_deref(), Some(ca.as_path()));
        assert!(!c.tls.verify_hostname);
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(ignored, vec!["linger.ms"]);
        assert!(
            !format!("{c:?}").contains("p\\\"w"),
            "password must not be printed"
        );
    }

    #[test]
    fn plain_login_module_implies_plain() {
        let (c, _) = ClientConfig::from_properties(&props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=p;",
            ),
        ]))
        .expect("valid");
        assert_eq!(c.sasl.expect("sasl").mechanism, SaslMechanism::Plain);
    }

    #[test]
    fn jks_truststore_is_a_clear_error() {
        let err = ClientConfig::from_properties(&props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nonexistent/truststore.jks"),
            ("ssl.truststore.type", "JKS"),
        ]))
        .expect_err("JKS refused");
        let s = err.to_string();
        assert!(
            s.contains("PEM") && s.contains("ssl.truststore.location"),
            "{s}"
        );
    }

    #[test]
    fn sasl_without_credentials_or_mechanism_is_refused() {
        let base = [
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_SSL"),
        ];
        assert!(ClientConfig::from_properties(&props(&base)).is_err());
        let mut p = props(&base);
        p.insert(
            "sasl.jaas.config".into(),
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";".into(),
        );
        let err = ClientConfig::from_properties(&p).expect_err("mechanism missing");
        assert!(err.to_string().contains("sasl.mechanism"));
        let mut p2 = p.clone();
        p2.insert(
            "sasl.jaas.config".into(),
            "com.example.Kerberos required;".into(),
        );
        assert!(ClientConfig::from_properties(&p2).is_err());
    }

    #[test]
    fn new_splits_bootstrap_and_validates() {
        let c = ClientConfig::new("h1:1,h2:2");
        assert_eq!(c.bootstrap_servers.len(), 2);
        assert!(c.validate().is_ok());
        assert!(ClientConfig::new("nohost").validate().is_err());
        assert_eq!(split_host_port("[::1]:9092"), Some(("::1", 9092)));
    }
}
