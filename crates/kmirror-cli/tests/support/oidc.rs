//! An OIDC token endpoint for tests: the client-credentials grant over HTTP, issuing RS256 JWTs signed with
//! the key whose JWKS the local brokers' OAUTH listener trusts (`scripts/kafka-local`).
#![allow(dead_code)]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A client-credentials token endpoint that knows one client; counts the tokens it issued and when.
pub struct TokenEndpoint {
    pub url: String,
    pub issued: Arc<AtomicUsize>,
    pub times: Arc<Mutex<Vec<Instant>>>,
}

impl TokenEndpoint {
    /// Whether a token was issued at least `d` after the first one (a refresh, not a first login).
    pub fn issued_later_than(&self, d: Duration) -> bool {
        let times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        match (times.first(), times.last()) {
            (Some(first), Some(last)) => *last >= *first + d,
            _ => false,
        }
    }
}

fn signing_key() -> RsaKeyPair {
    let path = std::env::var("KMIRROR_OAUTH_SIGNING_KEY").expect(
        "KMIRROR_OAUTH_SIGNING_KEY: start the clusters with scripts/kafka-local up --auth scram",
    );
    let pem = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(b64).expect("PEM base64");
    RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key")
}

/// An RS256 JWT for `sub`, valid `lifetime_s` seconds.
fn jwt(key: &RsaKeyPair, sub: &str, lifetime_s: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT","kid":"kmirror-test"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"sub":"{sub}","iat":{now},"exp":{},"scope":"kafka"}}"#,
        now + lifetime_s
    ));
    let input = format!("{header}.{claims}");
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Serves tokens valid `lifetime_s` seconds to `client_id`/`secret` (HTTP Basic, client-credentials grant);
/// 401 otherwise.
pub async fn serve(client_id: &str, secret: &str, lifetime_s: u64) -> TokenEndpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/oauth2/token",
        listener.local_addr().expect("addr")
    );
    let expected = format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")));
    let issued = Arc::new(AtomicUsize::new(0));
    let key = Arc::new(signing_key());
    let times = Arc::new(Mutex::new(Vec::new()));
    let (sub, count, when) = (client_id.to_owned(), issued.clone(), times.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (expected, key, sub, count, when) = (
                expected.clone(),
                key.clone(),
                sub.clone(),
                count.clone(),
                when.clone(),
            );
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then the body by Content-Length.
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let authorized = text.lines().any(|l| {
                    l.to_ascii_lowercase().starts_with("authorization:")
                        && l[14..].trim() == expected
                });
                let grant = text.contains("grant_type=client_credentials");
                let (status, body) = if authorized && grant {
                    count.fetch_add(1, Ordering::SeqCst);
                    when.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(Instant::now());
                    let token = jwt(&key, &sub, lifetime_s);
                    (
                        "200 OK",
                        format!(
                            r#"{{"access_token":"{token}","token_type":"bearer","expires_in":300}}"#
                        ),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        r#"{"error":"invalid_client"}"#.to_owned(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    TokenEndpoint { url, issued, times }
}
