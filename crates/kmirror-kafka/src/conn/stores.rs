//! Reading TLS material the way Java clients hold it: PEM files or inline PEM, PKCS12 stores (the
//! `p12-keystore` crate) and JKS stores. A file is recognised by its first bytes, as Java's own keystore
//! loader does, so a `truststore.jks` that keytool wrote as PKCS12 (its default since Java 9) just works.
//!
//! Every error names the property it comes from and what to do, because it is shown at config load.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::{ConfigError, TlsConfig};

/// What a store file holds, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pem,
    Jks,
    Pkcs12,
}

fn kind_of(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(&jks::MAGIC) {
        Some(Kind::Jks)
    } else if bytes.first() == Some(&0x30) {
        Some(Kind::Pkcs12)
    } else if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        Some(Kind::Pem)
    } else {
        None
    }
}

fn file_error(
    key: &str,
    what: &'static str,
    path: &Path,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError::File {
        key: key.to_string(),
        what,
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read(key: &str, what: &'static str, path: &Path) -> Result<(Vec<u8>, Kind), ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| {
        file_error(
            key,
            what,
            path,
            format!("{e}; check the path (relative paths start at kmirror's working directory)"),
        )
    })?;
    let kind = kind_of(&bytes).ok_or_else(|| {
        file_error(
            key,
            what,
            path,
            "it is neither PEM, JKS nor PKCS12; point it at the store or PEM file",
        )
    })?;
    Ok((bytes, kind))
}

fn pem_certs(
    key: &str,
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, what, path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(key, what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// A PEM private key: unencrypted (PKCS#8, PKCS#1, SEC1), or encrypted PKCS#8 opened with
/// `ssl.key.password`, which is how Kafka's PEM keystores carry a key password.
fn pem_key(
    key: &str,
    what: &'static str,
    path: &Path,
    pem: &[u8],
    key_password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let text = String::from_utf8_lossy(pem);
    let Some(start) = text.find(ENCRYPTED_BEGIN) else {
        return PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| file_error(key, what, path, format!("no usable PEM private key: {e}")));
    };
    let password = key_password.ok_or_else(|| {
        file_error(
            "ssl.key.password",
            what,
            path,
            "the private key is encrypted; set ssl.key.password",
        )
    })?;
    let body = &text[start + ENCRYPTED_BEGIN.len()..];
    let body = body.split(ENCRYPTED_END).next().unwrap_or_default();
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| file_error(key, what, path, format!("bad PEM encrypted key: {e}")))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| file_error(key, what, path, format!("bad encrypted PKCS#8 key: {e}")))?;
    let plain = info.decrypt(password).map_err(|e| {
        file_error(
            "ssl.key.password",
            what,
            path,
            format!("cannot decrypt the private key ({e}); check ssl.key.password"),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

/// The CA certificates to trust: `ssl.truststore.certificates` (inline) or the truststore file; `None`
/// when neither is given (the system roots are used).
pub(crate) fn trusted_certs(
    tls: &TlsConfig,
) -> Result<Option<Vec<CertificateDer<'static>>>, ConfigError> {
    if let Some(pem) = &tls.ca_pem {
        let inline = Path::new("(inline)");
        return pem_certs(
            "ssl.truststore.certificates",
            "inline CA certificates",
            inline,
            pem.as_bytes(),
        )
        .map(Some);
    }
    let Some(path) = &tls.ca_file else {
        return Ok(None);
    };
    const KEY: &str = "ssl.truststore.location";
    let what = "truststore";
    let (bytes, kind) = read(KEY, what, path)?;
    let certs = match kind {
        Kind::Pem => pem_certs(KEY, what, path, &bytes)?,
        Kind::Jks => {
            let store = jks::parse(&bytes, tls.truststore_password.as_deref())
                .map_err(|e| store_error(e, "ssl.truststore.password", KEY, what, path))?;
            let mut certs = store.trusted;
            // A keystore given as truststore: its chains' CA certificates are what Java would trust.
            certs.extend(store.keys.into_iter().flat_map(|k| k.chain));
            certs.into_iter().map(CertificateDer::from).collect()
        }
        Kind::Pkcs12 => {
            let archive = match tls.truststore_password.as_deref() {
                Some(password) => p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, password)
                    .map_err(|e| pkcs12_error(e, "ssl.truststore.password", KEY, what, path))?,
                // Newer JDKs write truststores without protection; Java then reads them without a password.
                None => p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, "").map_err(|_| {
                    file_error(
                        "ssl.truststore.password",
                        what,
                        path,
                        "this PKCS12 truststore is protected; set ssl.truststore.password",
                    )
                })?,
            };
            archive
                .certs
                .iter()
                .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
                .collect()
        }
    };
    if certs.is_empty() {
        return Err(file_error(
            KEY,
            what,
            path,
            "it holds no certificate; import the CA with `keytool -importcert`",
        ));
    }
    Ok(Some(certs))
}

/// The client certificate chain and key for mutual TLS, if configured.
pub(crate) fn client_identity(
    tls: &TlsConfig,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConfigError> {
    if let (Some(chain), Some(key)) = (&tls.cert_pem, &tls.key_pem) {
        let inline = Path::new("(inline)");
        let certs = pem_certs(
            "ssl.keystore.certificate.chain",
            "inline certificate chain",
            inline,
            chain.as_bytes(),
        )?;
        let key = pem_key(
            "ssl.keystore.key",
            "inline private key",
            inline,
            key.as_bytes(),
            tls.key_password.as_deref(),
        )?;
        return Ok(Some((certs, key)));
    }
    let Some(path) = &tls.cert_file else {
        return Ok(None);
    };
    const KEY: &str = "ssl.keystore.location";
    let what = "keystore";
    let (bytes, kind) = read(KEY, what, path)?;
    match kind {
        Kind::Pem => {
            let certs = pem_certs(KEY, what, path, &bytes)?;
            let key_path = tls.key_file.as_deref().unwrap_or(path);
            let key_bytes = if key_path == path {
                bytes
            } else {
                read("ssl.key.location", "private key", key_path)?.0
            };
            let key = pem_key(KEY, what, key_path, &key_bytes, tls.key_password.as_deref())?;
            Ok(Some((certs, key)))
        }
        Kind::Jks => {
            let store_password = tls.keystore_password.as_deref().ok_or_else(|| {
                file_error(
                    "ssl.keystore.password",
                    what,
                    path,
                    "a JKS keystore needs its password; set ssl.keystore.password",
                )
            })?;
            let store = jks::parse(&bytes, Some(store_password))
                .map_err(|e| store_error(e, "ssl.keystore.password", KEY, what, path))?;
            let entry = store.keys.into_iter().next().ok_or_else(|| {
                file_error(
                    KEY,
                    what,
                    path,
                    "it holds no private key entry; it looks like a truststore",
                )
            })?;
            let key_password = tls.key_password.as_deref().unwrap_or(store_password);
            let key = jks::decrypt_key(&entry.protected_key, key_password)
                .map_err(|e| store_error(e, "ssl.key.password", KEY, what, path))?;
            let certs = entry.chain.into_iter().map(CertificateDer::from).collect();
            Ok(Some((
                certs,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            )))
        }
        Kind::Pkcs12 => {
            let password = tls.keystore_password.as_deref().ok_or_else(|| {
                file_error(
                    "ssl.keystore.password",
                    what,
                    path,
                    "a PKCS12 keystore needs its password; set ssl.keystore.password",
                )
            })?;
            let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&bytes, password)
                .map_err(|e| pkcs12_error(e, "ssl.keystore.password", KEY, what, path))?;
            let bag = archive.keys.first().ok_or_else(|| {
                file_error(
                    KEY,
                    what,
                    path,
                    "it holds no private key; it looks like a truststore",
                )
            })?;
            // The leaf is the certificate with the key's local key id; the others complete the chain.
            let id = bag.local_key_id.as_ref().map(|k| k.0.as_slice());
            let (leaf, rest): (Vec<_>, Vec<_>) = archive
                .certs
                .iter()
                .partition(|c| id.is_some() && c.local_key_id.as_deref() == id);
            let certs: Vec<CertificateDer<'static>> = leaf
                .into_iter()
                .chain(rest.into_iter().filter(|c| !c.trusted))
                .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
                .collect();
            if certs.is_empty() {
                return Err(file_error(
                    KEY,
                    what,
                    path,
                    "it holds a key but no certificate",
                ));
            }
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bag.key.as_der().to_vec()));
            Ok(Some((certs, key)))
        }
    }
}

fn store_error(
    e: jks::Error,
    password_key: &str,
    key: &str,
    what: &'static str,
    path: &Path,
) -> ConfigError {
    match e {
        jks::Error::WrongPassword => file_error(
            password_key,
            what,
            path,
            format!("the password does not open it; check {password_key}"),
        ),
        jks::Error::Malformed(m) => {
            file_error(key, what, path, format!("not a valid JKS store: {m}"))
        }
    }
}

fn pkcs12_error(
    e: p12_keystore::error::Error,
    password_key: &str,
    key: &str,
    what: &'static str,
    path: &Path,
) -> ConfigError {
    use p12_keystore::error::Error as E;
    match e {
        // A wrong password shows as a failed MAC, or as garbage after decryption.
        E::MacError(_) | E::UnpadError | E::InvalidData | E::DerError(_) => file_error(
            password_key,
            what,
            path,
            format!("cannot open it ({e}); check {password_key}"),
        ),
        other => file_error(
            key,
            what,
            path,
            format!("not a usable PKCS12 store: {other}"),
        ),
    }
}

/// Java KeyStore (JKS), read-only: trusted certificates and private key entries protected with Sun's
/// key protector. No maintained Rust crate reads it without panicking on bad input, and the format is
/// small and frozen, so it is read here with bounds checks throughout (`ring` supplies SHA-1).
mod jks {
    use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY as SHA1};

    pub(super) const MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];
    const WHITENER: &[u8] = b"Mighty Aphrodite";
    /// OID 1.3.6.1.4.1.42.2.17.1.1, Sun's JKS key protector, DER-encoded with tag and length.
    const KEY_PROTECTOR_OID: &[u8] = &[
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01,
    ];

    #[derive(Debug)]
    pub(super) enum Error {
        WrongPassword,
        Malformed(String),
    }

    pub(super) struct KeyEntry {
        pub protected_key: Vec<u8>,
        pub chain: Vec<Vec<u8>>,
    }

    pub(super) struct Store {
        pub trusted: Vec<Vec<u8>>,
        pub keys: Vec<KeyEntry>,
    }

    struct Reader<'a> {
        buf: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
            let end = self
                .pos
                .checked_add(n)
                .filter(|&e| e <= self.buf.len())
                .ok_or_else(|| Error::Malformed("truncated".into()))?;
            let s = &self.buf[self.pos..end];
            self.pos = end;
            Ok(s)
        }
        fn u16(&mut self) -> Result<u16, Error> {
            let b = self.take(2)?;
            Ok(u16::from_be_bytes([b[0], b[1]]))
        }
        fn u32(&mut self) -> Result<u32, Error> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        fn utf(&mut self) -> Result<&'a [u8], Error> {
            let n = self.u16()? as usize;
            self.take(n)
        }
        fn blob(&mut self) -> Result<Vec<u8>, Error> {
            let n = self.u32()? as usize;
            Ok(self.take(n)?.to_vec())
        }
        fn cert(&mut self, version: u32) -> Result<Vec<u8>, Error> {
            if version == 2 {
                let ty = self.utf()?;
                if ty != b"X.509" {
                    return Err(Error::Malformed(format!(
                        "certificate type {} is not X.509",
                        String::from_utf8_lossy(ty)
                    )));
                }
            }
            self.blob()
        }
    }

    /// Java's password bytes: each UTF-16 code unit big-endian.
    fn password_bytes(password: &str) -> Vec<u8> {
        password.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    /// Parses a store. With a password, the store's SHA-1 integrity digest is checked (a mismatch means a
    /// wrong password, or a corrupt file); without one it is read unchecked, as Java does for truststores.
    pub(super) fn parse(bytes: &[u8], password: Option<&str>) -> Result<Store, Error> {
        if bytes.len() < 4 + 20 {
            return Err(Error::Malformed("too short".into()));
        }
        let (body, tag) = bytes.split_at(bytes.len() - 20);
        if let Some(p) = password {
            let mut ctx = Context::new(&SHA1);
            ctx.update(&password_bytes(p));
            ctx.update(WHITENER);
            ctx.update(body);
            if ctx.finish().as_ref() != tag {
                return Err(Error::WrongPassword);
            }
        }
        let mut r = Reader { buf: body, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(Error::Malformed("no JKS magic number".into()));
        }
        let version = r.u32()?;
        if version != 1 && version != 2 {
            return Err(Error::Malformed(format!("unknown version {version}")));
        }
        let count = r.u32()?;
        let mut store = Store {
            trusted: Vec::new(),
            keys: Vec::new(),
        };
        for _ in 0..count {
            let tag = r.u32()?;
            let _alias = r.utf()?;
            let _created = r.take(8)?;
            match tag {
                1 => {
                    let protected_key = r.blob()?;
                    let n = r.u32()?;
                    let mut chain = Vec::new();
                    for _ in 0..n {
                        chain.push(r.cert(version)?);
                    }
                    store.keys.push(KeyEntry {
                        protected_key,
                        chain,
                    });
                }
                2 => store.trusted.push(r.cert(version)?),
                // Secret-key entries (tag 3) are JCEKS, not JKS.
                other => return Err(Error::Malformed(format!("unknown entry tag {other}"))),
            }
        }
        Ok(store)
    }

    /// Reads one DER tag-length header at `pos`; returns (tag, content start, content end).
    fn der(buf: &[u8], pos: usize) -> Result<(u8, usize, usize), Error> {
        let bad = || Error::Malformed("bad protected key encoding".into());
        let tag = *buf.get(pos).ok_or_else(bad)?;
        let first = *buf.get(pos + 1).ok_or_else(bad)? as usize;
        let (len, start) = if first < 0x80 {
            (first, pos + 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return Err(bad());
            }
            let bytes = buf.get(pos + 2..pos + 2 + n).ok_or_else(bad)?;
            (
                bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize),
                pos + 2 + n,
            )
        };
        let end = start
            .checked_add(len)
            .filter(|&e| e <= buf.len())
            .ok_or_else(bad)?;
        Ok((tag, start, end))
    }

    /// Undoes Sun's key protector: `EncryptedPrivateKeyInfo` whose data is salt (20) || key XOR
    /// SHA-1 stream || SHA-1(password || key). Returns the PKCS#8 key.
    pub(super) fn decrypt_key(protected: &[u8], password: &str) -> Result<Vec<u8>, Error> {
        let bad = |m: &str| Error::Malformed(m.to_string());
        let (tag, start, end) = der(protected, 0)?;
        if tag != 0x30 {
            return Err(bad("protected key is not a DER sequence"));
        }
        let (tag, alg_start, alg_end) = der(protected, start)?;
        if tag != 0x30 || !protected[alg_start..alg_end].starts_with(KEY_PROTECTOR_OID) {
            return Err(bad(
                "the key is protected with an algorithm other than JKS's own (a JCEKS store?); convert \
                 the store to PKCS12 with keytool -importkeystore",
            ));
        }
        let (tag, data_start, data_end) = der(protected, alg_end)?;
        if tag != 0x04 || data_end > end {
            return Err(bad("protected key has no encrypted data"));
        }
        let data = &protected[data_start..data_end];
        if data.len() < 40 {
            return Err(bad("protected key too short"));
        }
        let (salt, rest) = data.split_at(20);
        let (encrypted, check) = rest.split_at(rest.len() - 20);
        let pw = password_bytes(password);
        let mut key = Vec::with_capacity(encrypted.len());
        let mut block = salt.to_vec();
        for chunk in encrypted.chunks(20) {
            let mut ctx = Context::new(&SHA1);
            ctx.update(&pw);
            ctx.update(&block);
            block = ctx.finish().as_ref().to_vec();
            key.extend(chunk.iter().zip(&block).map(|(a, b)| a ^ b));
        }
        let mut ctx = Context::new(&SHA1);
        ctx.update(&pw);
        ctx.update(&key);
        if ctx.finish().as_ref() != check {
            return Err(Error::WrongPassword);
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    //! Stores made by Java 17's keytool (`tests/fixtures/stores`): `truststore.jks` holds `ca.pem`;
    //! `keystore.jks` an RSA key (store password `storepass`, key password `keypass`); `keystore.p12` an RSA
    //! key (`storepass`).
    use std::path::PathBuf;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stores")
            .join(name)
    }

    fn pem_ca() -> Vec<CertificateDer<'static>> {
        let pem = std::fs::read(fixture("ca.pem")).expect("fixture");
        pem_certs("k", "ca", Path::new("ca.pem"), &pem).expect("pem")
    }

    #[test]
    fn jks_truststore_reads_with_or_without_its_password() {
        for password in [Some("storepass".to_owned()), None] {
            let tls = TlsConfig {
                ca_file: Some(fixture("truststore.jks")),
                truststore_password: password,
                ..TlsConfig::default()
            };
            let certs = trusted_certs(&tls).expect("read").expect("some");
            assert_eq!(certs, pem_ca());
        }
        let wrong = TlsConfig {
            ca_file: Some(fixture("truststore.jks")),
            truststore_password: Some("nope".into()),
            ..TlsConfig::default()
        };
        let e = trusted_certs(&wrong).expect_err("wrong password");
        assert_eq!(e.key(), "ssl.truststore.password");
    }

    #[test]
    fn jks_keystore_uses_the_key_password() {
        let mut tls = TlsConfig {
            cert_file: Some(fixture("keystore.jks")),
            key_file: Some(fixture("keystore.jks")),
            keystore_password: Some("storepass".into()),
            key_password: Some("keypass".into()),
            ..TlsConfig::default()
        };
        let (chain, key) = client_identity(&tls).expect("read").expect("some");
        assert_eq!(chain.len(), 1);
        assert!(matches!(key, PrivateKeyDer::Pkcs8(_)));
        // The pair must be usable by rustls, i.e. the key really was decrypted.
        rustls::crypto::ring::sign::any_supported_type(&key).expect("usable key");

        tls.key_password = None; // then the store password is tried, as in Java, and is wrong here
        let e = client_identity(&tls).expect_err("wrong key password");
        assert_eq!(e.key(), "ssl.key.password");
        tls.keystore_password = Some("nope".into());
        let e = client_identity(&tls).expect_err("wrong store password");
        assert_eq!(e.key(), "ssl.keystore.password");
    }

    #[test]
    fn unprotected_pkcs12_truststore_reads_without_a_password() {
        let tls = TlsConfig {
            ca_file: Some(fixture("truststore-open.p12")),
            ..TlsConfig::default()
        };
        assert_eq!(trusted_certs(&tls).expect("read"), Some(pem_ca()));
    }

    #[test]
    fn pkcs12_keystore_and_its_password() {
        let mut tls = TlsConfig {
            cert_file: Some(fixture("keystore.p12")),
            key_file: Some(fixture("keystore.p12")),
            keystore_password: Some("storepass".into()),
            ..TlsConfig::default()
        };
        let (chain, key) = client_identity(&tls).expect("read").expect("some");
        assert_eq!(chain.len(), 1);
        rustls::crypto::ring::sign::any_supported_type(&key).expect("usable key");
        tls.keystore_password = Some("nope".into());
        let e = client_identity(&tls).expect_err("wrong password");
        assert_eq!(e.key(), "ssl.keystore.password");
        tls.keystore_password = None;
        assert_eq!(
            client_identity(&tls).expect_err("no password").key(),
            "ssl.keystore.password"
        );
    }

    #[test]
    fn inline_pem_and_garbage() {
        let pem = std::fs::read_to_string(fixture("ca.pem")).expect("fixture");
        let tls = TlsConfig {
            ca_pem: Some(pem),
            ..TlsConfig::default()
        };
        assert_eq!(trusted_certs(&tls).expect("ok"), Some(pem_ca()));
        let tls = TlsConfig {
            ca_pem: Some("not a certificate".into()),
            ..TlsConfig::default()
        };
        assert_eq!(
            trusted_certs(&tls).expect_err("bad").key(),
            "ssl.truststore.certificates"
        );
        let tls = TlsConfig {
            ca_file: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")),
            ..TlsConfig::default()
        };
        assert!(
            trusted_certs(&tls)
                .expect_err("toml")
                .to_string()
                .contains("neither PEM")
        );
    }

    #[test]
    fn encrypted_pem_key_opens_with_the_key_password() {
        let key = std::fs::read(fixture("key-encrypted.pem")).expect("fixture");
        let open = |password: Option<&str>| {
            pem_key("ssl.keystore.key", "key", Path::new("k"), &key, password)
        };
        let k = open(Some("keypass")).expect("decrypts");
        rustls::crypto::ring::sign::any_supported_type(&k).expect("usable key");
        assert_eq!(
            open(Some("nope")).expect_err("wrong").key(),
            "ssl.key.password"
        );
        assert_eq!(
            open(None).expect_err("no password").key(),
            "ssl.key.password"
        );
    }

    #[test]
    fn truncated_jks_is_an_error_not_a_panic() {
        let bytes = std::fs::read(fixture("keystore.jks")).expect("fixture");
        for n in 0..bytes.len() {
            let _ = jks::parse(&bytes[..n], None).map(|s| {
                for k in s.keys {
                    let _ = jks::decrypt_key(&k.protected_key, "keypass");
                }
            });
        }
    }
}
