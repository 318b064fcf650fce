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
    #[error("{key}: cannot use {what} {path}: {message}")]
    File {
        key: String,
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
    /// OAUTHBEARER with tokens from an OIDC token endpoint (client credentials) or a token file.
    OAuthBearer,
}

impl SaslMechanism {
    /// The name brokers use in `sasl.enabled.mechanisms`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// TLS settings, as Java clients give them: PEM files, JKS or PKCS12 stores, or PEM inline.
///
/// A file is read by what it holds, not by its name or `ssl.*store.type`: a JKS store starts with
/// `0xFEEDFEED`, PKCS12 with a DER sequence, PEM with `-----BEGIN` (Java's own JKS reader accepts PKCS12
/// the same way).
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificates that signed the brokers' certificates: a PEM file or a JKS/PKCS12 truststore
    /// (`ssl.truststore.location`, `ssl.ca.location`). `None` (and no `ca_pem`) uses the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain for brokers with `ssl.client.auth=required`: a PEM file, or a JKS/PKCS12
    /// keystore holding the key too (`ssl.keystore.location`, `ssl.certificate.location`).
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1, or encrypted PKCS#8 with `key_password`) for a PEM
    /// `cert_file`; may be the same file.
    pub key_file: Option<PathBuf>,
    /// Check that the broker certificate names the host (or IP) we dialled. On by default, as in Kafka.
    pub verify_hostname: bool,
    /// `ssl.truststore.certificates`: CA certificates given inline as PEM.
    pub ca_pem: Option<String>,
    /// `ssl.keystore.certificate.chain`: the client certificate chain inline as PEM.
    pub cert_pem: Option<String>,
    /// `ssl.keystore.key`: the client's private key inline as PEM (as `key_file`).
    pub key_pem: Option<String>,
    /// `ssl.truststore.password`: opens a JKS/PKCS12 truststore (a JKS store also reads without it).
    pub truststore_password: Option<String>,
    /// `ssl.keystore.password`: opens a JKS/PKCS12 keystore.
    pub keystore_password: Option<String>,
    /// `ssl.key.password`: the key entry's own password in a JKS keystore (default: the store password), or
    /// the password of an encrypted PEM key.
    pub key_password: Option<String>,
    /// `ssl.enabled.protocols`: which TLS versions may be negotiated; empty means TLS 1.2 and 1.3.
    pub protocols: Vec<TlsProtocol>,
}

/// A TLS version kmirror can speak (rustls: 1.2 and 1.3; older versions are broken and refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProtocol {
    Tls12,
    Tls13,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_hostname: true,
            ca_pem: None,
            cert_pem: None,
            key_pem: None,
            truststore_password: None,
            keystore_password: None,
            key_password: None,
            protocols: Vec::new(),
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("TlsConfig")
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("verify_hostname", &self.verify_hostname)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<inline PEM>"))
            .field("cert_pem", &self.cert_pem.as_ref().map(|_| "<inline PEM>"))
            .field("key_pem", &hidden(&self.key_pem))
            .field("truststore_password", &hidden(&self.truststore_password))
            .field("keystore_password", &hidden(&self.keystore_password))
            .field("key_password", &hidden(&self.key_password))
            .field("protocols", &self.protocols)
            .finish()
    }
}

impl TlsConfig {
    /// Reads every file and store this config names and builds the TLS client config once, so wrong
    /// paths, passwords and contents are reported before any connection (each error names its key).
    pub fn check(&self) -> Result<(), ConfigError> {
        match crate::conn::build_tls_config(self) {
            Ok(_) => Ok(()),
            Err(crate::error::Error::Config(e)) => Err(e),
            Err(e) => Err(ConfigError::Invalid {
                key: "ssl.*".into(),
                value: String::new(),
                reason: e.to_string(),
            }),
        }
    }

    /// The subject of the client certificate as Kafka's default principal builder names it (RFC 2253,
    /// most specific part first, e.g. `CN=kmirror,O=example`), for `User:<subject>` in ACLs; `None`
    /// without a client certificate or when it cannot be read.
    pub fn client_subject(&self) -> Option<String> {
        let (chain, _) = crate::conn::client_identity(self).ok()??;
        let leaf = p12_keystore::Certificate::from_der(chain.first()?.as_ref()).ok()?;
        // x509-parser prints the RDNs in certificate order, separated by ", "; RFC 2253 reverses them.
        let mut parts: Vec<&str> = leaf.subject().split(", ").collect();
        parts.reverse();
        Some(parts.join(","))
    }

    /// Whether a client certificate is configured (mutual TLS).
    pub fn has_client_cert(&self) -> bool {
        self.cert_file.is_some() || self.cert_pem.is_some()
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

/// Where OAUTHBEARER tokens come from (Kafka's `OAuthBearerLoginCallbackHandler`). The client id and
/// secret are [`SaslConfig::username`] and [`SaslConfig::password`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    /// `sasl.oauthbearer.token.endpoint.url`: an `https://` (or `http://`) OIDC token endpoint asked with
    /// the client-credentials grant, or a `file:` URL of a file holding a token (re-read at each refresh).
    pub token_endpoint: String,
    /// `scope` in the JAAS line, or `sasl.oauthbearer.scope`.
    pub scope: Option<String>,
    /// SASL extensions sent with the token (JAAS options `extension_<name>="value"`), e.g. Confluent Cloud's
    /// `logicalCluster` and `identityPoolId`.
    pub extensions: BTreeMap<String, String>,
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
    /// Token source, when `sasl` is OAUTHBEARER.
    pub oauth: Option<OAuthConfig>,
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
            oauth: None,
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

/// The SASL mechanisms and login modules Kafka users meet that kmirror does not speak, with what to use.
const SASL_ALTERNATIVES: &str = "kmirror speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over SASL, and mutual TLS \
     (security.protocol=SSL with ssl.keystore.*); most managed services offer one of them (Confluent Cloud and \
     Azure Event Hubs: PLAIN with an API key or connection string; Amazon MSK: SCRAM-SHA-512 or mTLS; Aiven: \
     SCRAM or mTLS; Strimzi: SCRAM-SHA-512 or mTLS)";

fn from_properties(
    props: &BTreeMap<String, String>,
) -> Result<(ClientConfig, Vec<String>), ConfigError> {
    let (config, ignored, mut errors) = parse_properties(props);
    match config {
        Some(c) if errors.is_empty() => Ok((c, ignored)),
        _ => Err(errors.swap_remove(0)),
    }
}

impl ClientConfig {
    /// Every problem of these properties, without connecting: keys, SASL credentials, and (for TLS) the
    /// truststore/keystore files and passwords, read and parsed. Empty means the client can be built.
    pub fn check_properties(props: &BTreeMap<String, String>) -> Vec<ConfigError> {
        let (config, _, mut errors) = parse_properties(props);
        if let Some(c) = &config
            && c.security_protocol.uses_tls()
            && let Err(e) = c.tls.check()
        {
            errors.push(e);
        }
        // A token file is read at every refresh; it must be there from the start.
        if let Some(oauth) = config.as_ref().and_then(|c| c.oauth.as_ref())
            && let Some(path) = oauth
                .token_endpoint
                .strip_prefix("file://")
                .or_else(|| oauth.token_endpoint.strip_prefix("file:"))
            && let Err(e) = std::fs::metadata(path)
        {
            errors.push(ConfigError::File {
                key: "sasl.oauthbearer.token.endpoint.url".into(),
                what: "token file",
                path: PathBuf::from(path),
                message: e.to_string(),
            });
        }
        errors
    }
}

impl ConfigError {
    /// The property the problem is about (as Kafka names it, without any MM2 prefix).
    pub fn key(&self) -> &str {
        match self {
            Self::Invalid { key, .. }
            | Self::Missing { key, .. }
            | Self::Unsupported { key, .. }
            | Self::File { key, .. } => key,
        }
    }
}

/// Parses Kafka client properties, collecting every problem instead of stopping at the first.
fn parse_properties(
    props: &BTreeMap<String, String>,
) -> (Option<ClientConfig>, Vec<String>, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let get = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let Some(bootstrap) = get("bootstrap.servers") else {
        errors.push(ConfigError::Missing {
            key: "bootstrap.servers".into(),
            reason: "at least one host:port is needed to find the cluster".into(),
        });
        return (None, Vec::new(), errors);
    };
    let mut c = ClientConfig::new(bootstrap);
    let mut ignored = Vec::new();
    let mut mechanism: Option<(String, String)> = None;
    let mut jaas: Option<String> = None;
    let (mut user, mut pass) = (None, None);
    let mut callback_handler: Option<(String, String)> = None;
    let mut oauth_keys: BTreeMap<&str, String> = BTreeMap::new();
    for (key, value) in props {
        let v = value.trim();
        let invalid = |reason: &str| ConfigError::Invalid {
            key: key.clone(),
            value: v.into(),
            reason: reason.into(),
        };
        match key.as_str() {
            "bootstrap.servers" => {}
            "client.id" => c.client_id = v.to_string(),
            "security.protocol" => match v.to_ascii_uppercase().as_str() {
                "PLAINTEXT" => c.security_protocol = SecurityProtocol::Plaintext,
                "SSL" => c.security_protocol = SecurityProtocol::Ssl,
                "SASL_PLAINTEXT" => c.security_protocol = SecurityProtocol::SaslPlaintext,
                "SASL_SSL" => c.security_protocol = SecurityProtocol::SaslSsl,
                _ => errors.push(invalid(
                    "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                )),
            },
            "sasl.mechanism" | "sasl.mechanisms" => mechanism = Some((key.clone(), v.to_string())),
            "sasl.jaas.config" => jaas = Some(v.to_string()),
            "sasl.username" => user = Some(v.to_string()),
            "sasl.password" => pass = Some(value.to_string()),
            "sasl.login.callback.handler.class" | "sasl.client.callback.handler.class"
                if !v.is_empty() =>
            {
                callback_handler = Some((key.clone(), v.to_string()))
            }
            "sasl.oauthbearer.token.endpoint.url"
            | "sasl.oauthbearer.client.credentials.client.id"
            | "sasl.oauthbearer.client.credentials.client.secret"
            | "sasl.oauthbearer.scope" => {
                oauth_keys.insert(key.as_str(), value.trim().to_string());
            }
            "ssl.truststore.location" | "ssl.ca.location" => c.tls.ca_file = Some(PathBuf::from(v)),
            "ssl.keystore.location" => {
                c.tls.cert_file = Some(PathBuf::from(v));
                c.tls.key_file = Some(PathBuf::from(v));
            }
            "ssl.certificate.location" => c.tls.cert_file = Some(PathBuf::from(v)),
            "ssl.key.location" => c.tls.key_file = Some(PathBuf::from(v)),
            "ssl.truststore.type" | "ssl.keystore.type" => {
                if !["JKS", "PKCS12", "PEM"].contains(&v.to_ascii_uppercase().as_str()) {
                    errors.push(ConfigError::Unsupported {
                        key: key.clone(),
                        value: v.into(),
                        remedy: "kmirror reads JKS, PKCS12 and PEM stores".into(),
                    });
                }
            }
            "ssl.truststore.password" => c.tls.truststore_password = Some(value.to_string()),
            "ssl.keystore.password" => c.tls.keystore_password = Some(value.to_string()),
            "ssl.key.password" => c.tls.key_password = Some(value.to_string()),
            "ssl.truststore.certificates" => c.tls.ca_pem = Some(value.to_string()),
            "ssl.keystore.certificate.chain" => c.tls.cert_pem = Some(value.to_string()),
            "ssl.keystore.key" => c.tls.key_pem = Some(value.to_string()),
            "ssl.endpoint.identification.algorithm" => match v.to_ascii_lowercase().as_str() {
                "" | "none" => c.tls.verify_hostname = false,
                "https" => c.tls.verify_hostname = true,
                _ => errors.push(invalid("expected \"https\" or \"\" (no hostname check)")),
            },
            "ssl.enabled.protocols" => match parse_protocols(v) {
                Ok(p) => c.tls.protocols = p,
                Err(reason) => errors.push(invalid(&reason)),
            },
            "ssl.protocol" => {
                let p = v.to_ascii_uppercase();
                if !(p == "TLS" || p == "TLSV1.2" || p == "TLSV1.3") {
                    errors.push(ConfigError::Unsupported {
                        key: key.clone(),
                        value: v.into(),
                        remedy: "kmirror speaks TLSv1.2 and TLSv1.3; use ssl.protocol=TLSv1.3 (Kafka's default)"
                            .into(),
                    });
                }
            }
            "ssl.engine.factory.class" | "ssl.provider" | "security.providers" if !v.is_empty() => {
                errors.push(ConfigError::Unsupported {
                    key: key.clone(),
                    value: v.into(),
                    remedy: "kmirror's TLS is rustls and cannot load Java security providers; give the stores \
                             with ssl.truststore.* / ssl.keystore.* instead"
                        .into(),
                });
            }
            "enable.ssl.certificate.verification" if v.eq_ignore_ascii_case("false") => {
                errors.push(ConfigError::Unsupported {
                    key: key.clone(),
                    value: v.into(),
                    remedy: "kmirror always verifies broker certificates; give it the CA with \
                             ssl.truststore.location (or ssl.truststore.certificates)"
                        .into(),
                });
            }
            "request.timeout.ms" => match millis(key, v) {
                Ok(d) => c.request_timeout = d,
                Err(e) => errors.push(e),
            },
            "metadata.max.age.ms" => match millis(key, v) {
                Ok(d) => c.metadata_max_age = d,
                Err(e) => errors.push(e),
            },
            "reconnect.backoff.ms" => match millis(key, v) {
                Ok(d) => c.reconnect_backoff = d,
                Err(e) => errors.push(e),
            },
            "reconnect.backoff.max.ms" => match millis(key, v) {
                Ok(d) => c.reconnect_backoff_max = d,
                Err(e) => errors.push(e),
            },
            "delivery.timeout.ms" => match millis(key, v) {
                Ok(d) => c.delivery_timeout = d,
                Err(e) => errors.push(e),
            },
            _ => ignored.push(key.clone()),
        }
    }
    if c.tls.cert_pem.is_some() != c.tls.key_pem.is_some() {
        errors.push(ConfigError::Missing {
            key: if c.tls.cert_pem.is_some() {
                "ssl.keystore.key".into()
            } else {
                "ssl.keystore.certificate.chain".into()
            },
            reason:
                "an inline client certificate chain needs its private key and the other way round"
                    .into(),
        });
    }
    // Kafka only reads the SASL settings when the protocol uses SASL; so does kmirror.
    if c.security_protocol.uses_sasl() {
        match sasl_config(
            c.security_protocol,
            mechanism,
            jaas,
            (user, pass),
            callback_handler,
            &oauth_keys,
        ) {
            Ok((sasl, oauth)) => {
                c.sasl = Some(sasl);
                c.oauth = oauth;
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty()
        && let Err(e) = c.validate()
    {
        errors.push(e);
    }
    (Some(c), ignored, errors)
}

/// `ssl.enabled.protocols`: versions rustls cannot speak (TLSv1, TLSv1.1, SSLv3) are left out, as long as
/// one usable version remains.
fn parse_protocols(v: &str) -> Result<Vec<TlsProtocol>, String> {
    let mut out = Vec::new();
    for p in split_list(v) {
        match p.to_ascii_uppercase().as_str() {
            "TLSV1.2" => out.push(TlsProtocol::Tls12),
            "TLSV1.3" => out.push(TlsProtocol::Tls13),
            "TLSV1" | "TLSV1.1" | "SSLV3" | "SSLV2HELLO" => {}
            _ => {
                return Err(format!(
                    "unknown TLS version `{p}`; use TLSv1.2 and/or TLSv1.3"
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(
            "kmirror speaks TLSv1.2 and TLSv1.3 only (older versions are insecure); list one of them"
                .into(),
        );
    }
    Ok(out)
}

/// Kafka's OIDC login callback handler, by its 3.x and 4.x class names.
const OAUTH_LOGIN_HANDLERS: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
];

fn sasl_config(
    protocol: SecurityProtocol,
    mechanism: Option<(String, String)>,
    jaas: Option<String>,
    (user, pass): (Option<String>, Option<String>),
    callback_handler: Option<(String, String)>,
    oauth_keys: &BTreeMap<&str, String>,
) -> Result<(SaslConfig, Option<OAuthConfig>), ConfigError> {
    let mechanism = match mechanism {
        Some((key, v)) => Some(parse_mechanism(&key, &v)?),
        None => None,
    };
    if let Some((key, class)) = &callback_handler
        && !(key == "sasl.login.callback.handler.class"
            && OAUTH_LOGIN_HANDLERS.contains(&class.as_str()))
    {
        return Err(ConfigError::Unsupported {
            key: key.clone(),
            value: class.clone(),
            remedy: format!(
                "kmirror cannot load Java callback handlers; it has OIDC client credentials built in \
                 ({}). {SASL_ALTERNATIVES}",
                OAUTH_LOGIN_HANDLERS[0]
            ),
        });
    }
    let jaas = match jaas {
        Some(j) => Some(parse_jaas(&j)?),
        None => None,
    };
    let module = jaas.as_ref().map(|j| j.module);
    let mechanism = match (mechanism, module) {
        (Some(m), _) => m,
        // Kafka's default sasl.mechanism is GSSAPI; kmirror follows the login module instead.
        (None, Some(LoginModule::Plain)) => SaslMechanism::Plain,
        (None, Some(LoginModule::OAuthBearer)) => SaslMechanism::OAuthBearer,
        _ => {
            return Err(ConfigError::Missing {
                key: "sasl.mechanism".into(),
                reason: "say which mechanism to use: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER \
                         (Kafka's default, GSSAPI, is not supported)"
                    .into(),
            });
        }
    };
    let expected = match mechanism {
        SaslMechanism::Plain => LoginModule::Plain,
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => LoginModule::Scram,
        SaslMechanism::OAuthBearer => LoginModule::OAuthBearer,
    };
    if let Some(m) = module
        && m != expected
    {
        return Err(ConfigError::Invalid {
            key: "sasl.jaas.config".into(),
            value: "<redacted>".into(),
            reason: format!(
                "its login module does not match sasl.mechanism={mechanism} (use {})",
                expected.class()
            ),
        });
    }
    let option = |name: &str| jaas.as_ref().and_then(|j| j.options.get(name).cloned());
    if mechanism == SaslMechanism::OAuthBearer {
        let extensions = jaas
            .as_ref()
            .map(|j| {
                j.options
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.strip_prefix("extension_")?.to_owned(), v.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        return oauth_config(option, oauth_keys, extensions);
    }
    let (u, p) = match (jaas.is_some(), user, pass) {
        (true, _, _) => (option("username"), option("password")),
        (false, Some(u), Some(p)) => (Some(u), Some(p)),
        _ => {
            return Err(ConfigError::Missing {
                key: "sasl.jaas.config".into(),
                reason: format!(
                    "security.protocol={protocol} needs credentials, e.g. org.apache.kafka.common.security.scram.\
                     ScramLoginModule required username=\"u\" password=\"p\";"
                ),
            });
        }
    };
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "sasl.jaas.config".into(),
        value: "<redacted>".into(),
        reason: reason.into(),
    };
    match (u, p) {
        (Some(username), Some(password)) => Ok((
            SaslConfig {
                mechanism,
                username,
                password,
            },
            None,
        )),
        (Some(_), None) => Err(invalid(
            "has no password=\"...\"; add it (or take it from a file or the environment with \
             ${file:...} / ${env:...})",
        )),
        _ => Err(invalid("needs both username=\"...\" and password=\"...\"")),
    }
}

/// OAUTHBEARER: the token endpoint and the client credentials (JAAS options `clientId`, `clientSecret`,
/// `scope`, or Kafka 4.1's `sasl.oauthbearer.client.credentials.*` / `sasl.oauthbearer.scope` keys).
fn oauth_config(
    option: impl Fn(&str) -> Option<String>,
    keys: &BTreeMap<&str, String>,
    extensions: BTreeMap<String, String>,
) -> Result<(SaslConfig, Option<OAuthConfig>), ConfigError> {
    let key = |k: &str| keys.get(k).cloned().filter(|v| !v.is_empty());
    if option("unsecuredLoginStringClaim_sub").is_some() {
        return Err(ConfigError::Unsupported {
            key: "sasl.jaas.config".into(),
            value: "unsecuredLoginStringClaim_sub".into(),
            remedy: "unsecured (unsigned) OAUTHBEARER tokens are for development only; configure \
                     sasl.oauthbearer.token.endpoint.url with clientId/clientSecret"
                .into(),
        });
    }
    let endpoint = key("sasl.oauthbearer.token.endpoint.url").ok_or_else(|| ConfigError::Missing {
        key: "sasl.oauthbearer.token.endpoint.url".into(),
        reason: "OAUTHBEARER needs the identity provider's token endpoint (https://...) or a token file \
                 (file:///...)"
            .into(),
    })?;
    let lower = endpoint.to_ascii_lowercase();
    if !(lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("file:"))
    {
        return Err(ConfigError::Invalid {
            key: "sasl.oauthbearer.token.endpoint.url".into(),
            value: endpoint,
            reason: "expected an https://, http:// or file: URL".into(),
        });
    }
    let is_file = lower.starts_with("file:");
    let client_id =
        option("clientId").or_else(|| key("sasl.oauthbearer.client.credentials.client.id"));
    let secret =
        option("clientSecret").or_else(|| key("sasl.oauthbearer.client.credentials.client.secret"));
    let (username, password) = match (client_id, secret) {
        (Some(id), Some(secret)) => (id, secret),
        (None, None) if is_file => (String::new(), String::new()),
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                key: "sasl.jaas.config".into(),
                reason: "the OAuthBearerLoginModule line has clientId but no clientSecret=\"...\""
                    .into(),
            });
        }
        _ => {
            return Err(ConfigError::Missing {
                key: "sasl.jaas.config".into(),
                reason: "OAUTHBEARER with a token endpoint needs clientId=\"...\" clientSecret=\"...\" in the \
                         OAuthBearerLoginModule line"
                    .into(),
            });
        }
    };
    let scope = option("scope").or_else(|| key("sasl.oauthbearer.scope"));
    Ok((
        SaslConfig {
            mechanism: SaslMechanism::OAuthBearer,
            username,
            password,
        },
        Some(OAuthConfig {
            token_endpoint: endpoint,
            scope,
            extensions,
        }),
    ))
}

fn parse_mechanism(key: &str, v: &str) -> Result<SaslMechanism, ConfigError> {
    let unsupported = |why: &str| ConfigError::Unsupported {
        key: key.into(),
        value: v.into(),
        remedy: format!("{why}{SASL_ALTERNATIVES}"),
    };
    match v.to_ascii_uppercase().as_str() {
        "PLAIN" => Ok(SaslMechanism::Plain),
        "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
        "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
        "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
        "AWS_MSK_IAM" => Err(unsupported("AWS MSK IAM is not implemented yet; ")),
        "GSSAPI" => Err(unsupported(
            "GSSAPI (Kerberos) needs a Kerberos library kmirror does not link; ",
        )),
        _ => Err(unsupported("")),
    }
}

/// The login modules kmirror reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginModule {
    Plain,
    Scram,
    OAuthBearer,
}

impl LoginModule {
    fn class(self) -> &'static str {
        match self {
            Self::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
            Self::Scram => "org.apache.kafka.common.security.scram.ScramLoginModule",
            Self::OAuthBearer => {
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
            }
        }
    }
}

/// A parsed `sasl.jaas.config`: its module and options.
struct Jaas {
    module: LoginModule,
    options: BTreeMap<String, String>,
}

/// Parses `<LoginModule> required username="u" password="p";` into (mechanism hint, user, password).
fn parse_jaas(v: &str) -> Result<Jaas, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "sasl.jaas.config".into(),
        value: "<redacted>".into(),
        reason: reason.into(),
    };
    let mut rest = v.trim().trim_end_matches(';').trim();
    let module_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let module = &rest[..module_end];
    let module = if module.ends_with("PlainLoginModule") {
        LoginModule::Plain
    } else if module.ends_with("ScramLoginModule") {
        LoginModule::Scram
    } else if module.ends_with("OAuthBearerLoginModule") {
        LoginModule::OAuthBearer
    } else {
        return Err(ConfigError::Unsupported {
            key: "sasl.jaas.config".into(),
            value: module.into(),
            remedy: format!(
                "kmirror reads PlainLoginModule, ScramLoginModule and OAuthBearerLoginModule lines; \
                 {SASL_ALTERNATIVES}"
            ),
        });
    };
    rest = rest[module_end..].trim_start();
    let flag_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest = rest[flag_end..].trim_start();
    let mut options = BTreeMap::new();
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
        options.insert(key.to_string(), value);
    }
    Ok(Jaas { module, options })
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
    fn a_missing_store_is_reported_by_its_key_before_connecting() {
        let p = props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nonexistent/truststore.jks"),
            ("ssl.truststore.type", "JKS"),
        ]);
        let errors = ClientConfig::check_properties(&p);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key(), "ssl.truststore.location");
        assert!(
            errors[0]
                .to_string()
                .contains("/nonexistent/truststore.jks")
        );
    }

    #[test]
    fn every_problem_is_collected_not_just_the_first() {
        let p = props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="u";"#,
            ),
            ("ssl.enabled.protocols", "TLSv1,TLSv1.1"),
            ("request.timeout.ms", "soon"),
        ]);
        let keys: Vec<String> = ClientConfig::check_properties(&p)
            .iter()
            .map(|e| e.key().to_owned())
            .collect();
        for k in [
            "sasl.jaas.config",
            "ssl.enabled.protocols",
            "request.timeout.ms",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} not in {keys:?}");
        }
    }

    #[test]
    fn enabled_protocols_keep_what_rustls_speaks() {
        assert_eq!(
            parse_protocols("TLSv1.2, TLSv1.3, TLSv1.1"),
            Ok(vec![TlsProtocol::Tls12, TlsProtocol::Tls13])
        );
        assert!(parse_protocols("TLSv1").is_err());
        assert!(parse_protocols("TLSv9").is_err());
    }

    #[test]
    fn oauthbearer_login_module_with_client_credentials_and_extensions() {
        let (c, _) = ClientConfig::from_properties(&props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_SSL"),
            (
                "sasl.login.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
            ),
            ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="mm2" clientSecret="s" scope="kafka" extension_logicalCluster="lkc-1";"#,
            ),
        ]))
        .expect("valid");
        let sasl = c.sasl.expect("sasl");
        assert_eq!(
            sasl.mechanism,
            SaslMechanism::OAuthBearer,
            "implied by the module"
        );
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("mm2", "s")
        );
        let oauth = c.oauth.expect("oauth");
        assert_eq!(oauth.scope.as_deref(), Some("kafka"));
        assert_eq!(
            oauth.extensions.get("logicalCluster").map(String::as_str),
            Some("lkc-1")
        );
    }

    #[test]
    fn client_subject_names_the_principal_brokers_see() {
        let store =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stores/keystore.p12");
        let tls = TlsConfig {
            cert_file: Some(store.clone()),
            key_file: Some(store),
            keystore_password: Some("storepass".into()),
            ..TlsConfig::default()
        };
        assert_eq!(tls.client_subject().as_deref(), Some("CN=kmirror-fixture"));
        assert_eq!(TlsConfig::default().client_subject(), None);
    }

    #[test]
    fn passwords_are_not_in_debug_output() {
        let (c, _) = ClientConfig::from_properties(&props(&[
            ("bootstrap.servers", "a:1"),
            ("ssl.truststore.password", "hunter2"),
            ("ssl.keystore.password", "hunter3"),
            ("ssl.key.password", "hunter4"),
            ("ssl.keystore.key", "-----BEGIN PRIVATE KEY----- hunter5"),
            (
                "ssl.keystore.certificate.chain",
                "-----BEGIN CERTIFICATE-----",
            ),
        ]))
        .expect("valid");
        assert!(!format!("{c:?}").contains("hunter"), "{c:?}");
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
