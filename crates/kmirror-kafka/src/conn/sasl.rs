//! SASL authentication after ApiVersions: SaslHandshake names the mechanism, SaslAuthenticate carries
//! its messages (KIP-152). PLAIN is one message; SCRAM is two round trips; OAUTHBEARER (RFC 7628) is one
//! message carrying the token.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use super::oauth::TokenSource;
use super::scram::{ScramClient, ScramHash};
use super::{Handshake, KafkaRequest, negotiate};
use crate::config::{SaslConfig, SaslMechanism};
use crate::error::Error;

/// Authenticates; returns the session lifetime the broker set (KIP-368), if any.
pub(super) async fn authenticate(
    hs: &mut Handshake<'_>,
    versions: &HashMap<i16, (i16, i16)>,
    sasl: &SaslConfig,
    tokens: Option<&TokenSource>,
) -> Result<Option<Duration>, Error> {
    let auth_failed = |broker: &str, message: String| Error::Authentication {
        broker: broker.to_string(),
        mechanism: sasl.mechanism,
        user: sasl.username.clone(),
        message,
    };
    let hv = version::<SaslHandshakeRequest>(versions, hs.broker())?;
    let resp = hs
        .exchange(
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str(sasl.mechanism.name())),
            hv,
        )
        .await?;
    if resp.error_code == 33 {
        return Err(Error::UnsupportedSaslMechanism {
            broker: hs.broker().to_string(),
            mechanism: sasl.mechanism,
            enabled: resp.mechanisms.iter().map(|m| m.to_string()).collect(),
        });
    }
    if resp.error_code != 0 {
        return Err(auth_failed(
            hs.broker(),
            format!("SaslHandshake error code {}", resp.error_code),
        ));
    }
    if hv == 0 {
        return Err(auth_failed(
            hs.broker(),
            "broker only speaks SaslHandshake v0 (Kafka < 1.0), which kmirror does not support"
                .into(),
        ));
    }
    let av = version::<SaslAuthenticateRequest>(versions, hs.broker())?;
    let session = match sasl.mechanism {
        SaslMechanism::Plain => {
            let msg = format!("\0{}\0{}", sasl.username, sasl.password);
            step(hs, av, sasl, msg.into_bytes()).await?.1
        }
        SaslMechanism::OAuthBearer => {
            let tokens = tokens.ok_or_else(|| {
                auth_failed(
                    hs.broker(),
                    "OAUTHBEARER without a token source; set sasl.oauthbearer.token.endpoint.url"
                        .into(),
                )
            })?;
            let token = tokens.token().await?;
            let refused = |why: &str| {
                format!(
                    "the broker refused the token ({why}); check that sasl.oauthbearer.token.endpoint.url is the \
                     identity provider whose keys the broker trusts, and the token's audience, issuer and scope"
                )
            };
            let (challenge, session) = step(
                hs,
                av,
                sasl,
                format!("n,,\x01auth=Bearer {token}\x01{}\x01", tokens.extensions()).into_bytes(),
            )
            .await
            .map_err(|e| match e {
                Error::Authentication { message, .. } => {
                    auth_failed(hs.broker(), refused(&message))
                }
                other => other,
            })?;
            if !challenge.is_empty() {
                // RFC 7628: the server explains the refusal; the client acknowledges with %x01 and the
                // server then fails the exchange.
                let why = String::from_utf8_lossy(&challenge).into_owned();
                let _ = step(hs, av, sasl, vec![1]).await;
                return Err(auth_failed(hs.broker(), refused(&why)));
            }
            session
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let hash = if sasl.mechanism == SaslMechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let mut scram = ScramClient::new(
                hash,
                &sasl.username,
                &sasl.password,
                ScramClient::random_nonce(),
            );
            let (server_first, _) = step(hs, av, sasl, scram.client_first().into_bytes()).await?;
            let server_first = String::from_utf8_lossy(&server_first).into_owned();
            let client_final = scram
                .client_final(&server_first)
                .map_err(|m| auth_failed(hs.broker(), m))?;
            let (server_final, session) = step(hs, av, sasl, client_final.into_bytes()).await?;
            scram
                .verify_server_final(&String::from_utf8_lossy(&server_final))
                .map_err(|m| auth_failed(hs.broker(), m))?;
            session
        }
    };
    Ok(session)
}

/// One SaslAuthenticate round trip: our message out, the server's answer back, with the session lifetime
/// it announced (KIP-368; `None` when it does not limit the session).
async fn step(
    hs: &mut Handshake<'_>,
    version: i16,
    sasl: &SaslConfig,
    msg: Vec<u8>,
) -> Result<(Bytes, Option<Duration>), Error> {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(msg));
    let resp = hs.exchange(&req, version).await?;
    if resp.error_code != 0 {
        let message = resp
            .error_message
            .map(|m| m.to_string())
            .unwrap_or_else(|| format!("error code {}", resp.error_code));
        return Err(Error::Authentication {
            broker: hs.broker().to_string(),
            mechanism: sasl.mechanism,
            user: sasl.username.clone(),
            message,
        });
    }
    let session = u64::try_from(resp.session_lifetime_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    Ok((resp.auth_bytes, session))
}

fn version<R: KafkaRequest>(
    versions: &HashMap<i16, (i16, i16)>,
    broker: &str,
) -> Result<i16, Error> {
    negotiate(versions, R::KEY, R::VERSIONS.min, R::VERSIONS.max).map_err(|(bmin, bmax)| {
        Error::UnsupportedVersion {
            broker: broker.to_string(),
            api: R::NAME,
            broker_min: bmin,
            broker_max: bmax,
            ours_min: R::VERSIONS.min,
            ours_max: R::VERSIONS.max,
        }
    })
}
