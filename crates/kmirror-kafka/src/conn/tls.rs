//! TLS over rustls (ring provider): CA certificates from a PEM file, a JKS/PKCS12 truststore, inline PEM
//! or the system store, optional client certificate (mTLS, from the same kinds of source), and hostname verification that can be switched off the way Kafka's
//! `ssl.endpoint.identification.algorithm=` does, while still verifying the certificate chain.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::stores;
use crate::config::{ConfigError, TlsConfig, TlsProtocol};
use crate::error::Error;

fn invalid(key: &str, reason: impl fmt::Display) -> Error {
    Error::Config(ConfigError::Invalid {
        key: key.into(),
        value: String::new(),
        reason: reason.to_string(),
    })
}

/// Builds the rustls client config once per client; every connection shares it. Every file and store
/// is read here, so [`TlsConfig::check`] finds the same problems a connection would.
pub(crate) fn build_tls_config(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match stores::trusted_certs(tls)? {
        Some(certs) => {
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    invalid(
                        "ssl.truststore.location",
                        format!("a CA certificate in it is not usable: {e}"),
                    )
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::Config(ConfigError::Missing {
                    key: "ssl.truststore.location".into(),
                    reason:
                        "no CA given and no system CA certificates found; point it at the CA that \
                             signed the broker certificates"
                            .into(),
                }));
            }
        }
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| invalid("ssl.truststore.location", e))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.verify_hostname {
        webpki
    } else {
        Arc::new(ChainOnlyVerifier { inner: webpki })
    };
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = if tls.protocols.is_empty() {
        vec![&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        tls.protocols
            .iter()
            .map(|p| match p {
                TlsProtocol::Tls12 => &rustls::version::TLS12,
                TlsProtocol::Tls13 => &rustls::version::TLS13,
            })
            .collect()
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| invalid("ssl.enabled.protocols", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match stores::client_identity(tls)? {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            invalid(
                "ssl.keystore.location",
                format!(
                    "the client key cannot be used ({e}); kmirror needs an RSA, ECDSA (with its public \
                     key, which Java-written EC keys lack: re-encode with `openssl pkey`) or Ed25519 key"
                ),
            )
        })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

pub(super) async fn handshake(
    config: &Arc<rustls::ClientConfig>,
    host: &str,
    broker: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, Error> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| Error::Tls {
        broker: broker.to_string(),
        message: format!("'{host}' is not a valid TLS server name: {e}"),
    })?;
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| Error::Tls {
            broker: broker.to_string(),
            message: e.to_string(),
        })
}

/// A TLS 1.3 broker judges the client certificate after the handshake, so its refusal arrives as a TLS alert
/// on the first request (an I/O error, which would be retried as if the broker were down). Names it instead.
pub(super) fn refused_after_handshake(e: Error, has_client_cert: bool) -> Error {
    let Error::Io { broker, source } = &e else {
        return e;
    };
    let alert = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let Some(rustls::Error::AlertReceived(alert)) = alert else {
        return e;
    };
    use rustls::AlertDescription as A;
    let message = match alert {
        A::CertificateRequired | A::BadCertificate | A::HandshakeFailure if !has_client_cert => {
            format!(
                "the broker requires a client certificate (alert {alert:?}); give kmirror one with \
             ssl.keystore.location (mutual TLS)"
            )
        }
        A::BadCertificate
        | A::UnknownCA
        | A::CertificateUnknown
        | A::CertificateExpired
        | A::CertificateRevoked
        | A::UnsupportedCertificate
        | A::AccessDenied => format!(
            "the broker refused the client certificate (alert {alert:?}); check that it is valid and signed \
             by a CA in the broker's ssl.truststore"
        ),
        other => format!("the broker ended the TLS session (alert {other:?})"),
    };
    Error::Tls {
        broker: broker.clone(),
        message,
    }
}

/// Verifies the chain and signatures like WebPKI but accepts a certificate for another name: what
/// `ssl.endpoint.identification.algorithm=` (empty) means in Kafka.
#[derive(Debug)]
struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
