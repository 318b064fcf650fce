//! TLS over rustls (ring provider): CA bundle from a PEM file or the system store, optional client
//! certificate (mTLS), and hostname verification that can be switched off the way Kafka's
//! `ssl.endpoint.identification.algorithm=` does, while still verifying the certificate chain.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::{ConfigError, TlsConfig};
use crate::error::Error;

fn file_error(what: &'static str, path: &Path, message: impl fmt::Display) -> Error {
    Error::Config(ConfigError::File {
        what,
        path: path.to_path_buf(),
        message: message.to_string(),
    })
}

fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// Builds the rustls client config once per client; every connection shares it.
pub(crate) fn build_tls_config(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in load_certs("CA file", path)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error("CA file", path, e))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::Config(ConfigError::Missing {
                    key: "ssl.truststore.location / ssl.ca.location".into(),
                    reason: "no CA given and no system CA certificates found".into(),
                }));
            }
        }
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| {
            Error::Config(ConfigError::Invalid {
                key: "ssl.truststore.location".into(),
                value: String::new(),
                reason: e.to_string(),
            })
        })?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.verify_hostname {
        webpki
    } else {
        Arc::new(ChainOnlyVerifier { inner: webpki })
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            Error::Config(ConfigError::Invalid {
                key: "ssl.protocol".into(),
                value: String::new(),
                reason: e.to_string(),
            })
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = load_certs("client certificate", cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("client key", key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| file_error("client certificate", cert, e))?
        }
        _ => builder.with_no_client_auth(),
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
