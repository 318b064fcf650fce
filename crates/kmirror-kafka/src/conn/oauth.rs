//! OAUTHBEARER tokens as Kafka's `OAuthBearerLoginCallbackHandler` gets them: the OAuth client-credentials
//! grant against `sasl.oauthbearer.token.endpoint.url` (HTTP Basic with the url-encoded client id and
//! secret, `grant_type=client_credentials` and the optional scope), or a token read from a `file:` URL.
//! One token is shared by every connection of a client and replaced once 80% of its lifetime has passed
//! (Kafka's default `sasl.login.refresh.window.factor`), so new connections always log in with a live one.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::stores;
use crate::config::{ClientConfig, OAuthConfig, SaslMechanism};
use crate::error::Error;

/// Part of a token's lifetime after which it is replaced.
const REFRESH_FACTOR: f64 = 0.8;
/// Lifetime assumed when neither the token (`exp`) nor the endpoint (`expires_in`) says.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// How long one token request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

struct Token {
    value: String,
    refresh_at: Instant,
}

/// The token of one client, fetched on first use and refreshed before it expires.
pub(crate) struct TokenSource {
    config: OAuthConfig,
    client_id: String,
    client_secret: String,
    /// Roots for an `https://` endpoint: the system's plus the cluster's truststore.
    roots: Arc<RootCertStore>,
    cached: tokio::sync::Mutex<Option<Token>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.config.token_endpoint)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl TokenSource {
    /// `None` unless the client uses OAUTHBEARER.
    pub(crate) fn for_client(config: &ClientConfig) -> Result<Option<Arc<Self>>, Error> {
        let (Some(sasl), Some(oauth)) = (&config.sasl, &config.oauth) else {
            return Ok(None);
        };
        if sasl.mechanism != SaslMechanism::OAuthBearer {
            return Ok(None);
        }
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(certs) = stores::trusted_certs(&config.tls)? {
            for cert in certs {
                let _ = roots.add(cert);
            }
        }
        Ok(Some(Arc::new(Self {
            config: oauth.clone(),
            client_id: sasl.username.clone(),
            client_secret: sasl.password.clone(),
            roots: Arc::new(roots),
            cached: tokio::sync::Mutex::new(None),
        })))
    }

    /// The SASL extensions to send with the token, as RFC 7628 key/value pairs (`\x01key=value`).
    pub(crate) fn extensions(&self) -> String {
        self.config
            .extensions
            .iter()
            .map(|(k, v)| format!("{k}={v}\x01"))
            .collect()
    }

    /// A token that has not reached its refresh point; fetched now if needed.
    pub(crate) async fn token(&self) -> Result<String, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let (value, expires_in) = tokio::time::timeout(FETCH_TIMEOUT, self.fetch())
            .await
            .map_err(|_| self.unavailable(format!("no answer within {FETCH_TIMEOUT:?}")))??;
        let lifetime = lifetime(&value, expires_in).unwrap_or(DEFAULT_LIFETIME);
        *cached = Some(Token {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime.mul_f64(REFRESH_FACTOR),
        });
        Ok(value)
    }

    /// The credentials or the answer are wrong: trying again will not help.
    fn failed(&self, message: String) -> Error {
        self.error(message, false)
    }

    /// The endpoint could not be reached or failed: worth trying again.
    fn unavailable(&self, message: String) -> Error {
        self.error(message, true)
    }

    fn error(&self, message: String, retriable: bool) -> Error {
        Error::TokenEndpoint {
            endpoint: self.config.token_endpoint.clone(),
            client: self.client_id.clone(),
            message,
            retriable,
        }
    }

    /// (token, `expires_in` from the endpoint).
    async fn fetch(&self) -> Result<(String, Option<Duration>), Error> {
        let url = &self.config.token_endpoint;
        if let Some(path) = url
            .strip_prefix("file://")
            .or_else(|| url.strip_prefix("file:"))
        {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| self.unavailable(format!("cannot read {path}: {e}")))?;
            return Ok((text.trim().to_owned(), None));
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|e| self.failed(format!("bad URL: {e}")))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .ok_or_else(|| self.failed("the URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| self.unavailable(format!("cannot connect to {host}:{port}: {e}")))?;
        let mut body = "grant_type=client_credentials".to_owned();
        if let Some(scope) = &self.config.scope {
            body.push_str("&scope=");
            body.push_str(&form_encode(scope));
        }
        let basic = STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(&self.client_secret)
        ));
        let request =
            http::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()).to_owned())
                .header(
                    http::header::HOST,
                    uri.authority().map_or(host.as_str(), |a| a.as_str()),
                )
                .header(http::header::AUTHORIZATION, format!("Basic {basic}"))
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(http::header::ACCEPT, "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| self.failed(e.to_string()))?;
        let (status, bytes) = if https {
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| self.failed(e.to_string()))?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
            let name = ServerName::try_from(host.clone())
                .map_err(|e| self.failed(format!("bad host name {host}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| self.unavailable(format!("TLS with {host}:{port}: {e}")))?;
            self.exchange(tls, request).await?
        } else {
            self.exchange(tcp, request).await?
        };
        if !status.is_success() {
            let message = format!(
                "the endpoint answered {status}: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
            return Err(if status.is_server_error() {
                self.unavailable(message)
            } else {
                self.failed(message)
            });
        }
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.failed(format!("the answer is not JSON: {e}")))?;
        let token = json
            .get("access_token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| self.failed("the answer has no access_token".into()))?;
        let expires_in = json
            .get("expires_in")
            .and_then(|v| v.as_u64())
            .map(Duration::from_secs);
        Ok((token.to_owned(), expires_in))
    }

    async fn exchange<S>(
        &self,
        stream: S,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, Bytes), Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| self.unavailable(e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| self.unavailable(e.to_string()))?
                .to_bytes();
            Ok((status, body))
        }
        .await;
        driver.abort();
        result
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (what Java's `URLEncoder` produces).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// How long a token lives: its `exp` claim (a JWT), else the endpoint's `expires_in`.
fn lifetime(token: &str, expires_in: Option<Duration>) -> Option<Duration> {
    claims(token)
        .and_then(|c| c.get("exp").and_then(serde_json::Value::as_u64))
        .map(|exp| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            Duration::from_secs(exp.saturating_sub(now))
        })
        .or(expires_in)
}

/// The claims of a JWT (not verified: the broker does that).
fn claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()
}

/// The token's `sub` claim: the principal Kafka's default OAUTHBEARER validator gives the client.
pub(crate) fn subject(token: &str) -> Option<String> {
    claims(token)?.get("sub")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn lifetime_from_exp_then_expires_in() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let t = jwt(&format!(r#"{{"sub":"mm2","exp":{}}}"#, now + 100));
        let l = lifetime(&t, Some(Duration::from_secs(5))).unwrap_or_default();
        assert!(
            l > Duration::from_secs(90) && l <= Duration::from_secs(100),
            "{l:?}"
        );
        assert_eq!(subject(&t).as_deref(), Some("mm2"));
        assert_eq!(
            lifetime("opaque-token", Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(lifetime("opaque-token", None), None);
    }

    #[test]
    fn form_encoding_matches_java() {
        assert_eq!(form_encode("a b+c/d:é"), "a+b%2Bc%2Fd%3A%C3%A9");
        assert_eq!(form_encode("kafka-client_1.x*"), "kafka-client_1.x*");
    }
}
