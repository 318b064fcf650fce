//! SCRAM-SHA-256/512 client side (RFC 5802 / RFC 7677), as Kafka speaks it: no channel binding
//! (`n,,`), no authzid, minimum 4096 iterations. Pure message logic; `sasl` moves the bytes.
//!
//! Written here on `ring` (already our TLS crypto) because the SCRAM crates on crates.io are either
//! unmaintained (`scram` 0.6, 2021, old ring) or a large general SASL framework (`rsasl`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};

const MIN_ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, Copy)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha512 => &digest::SHA512,
        }
    }
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

/// One SCRAM exchange: client-first, then client-final from server-first, then verify server-final.
#[derive(Debug)]
pub(crate) struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
}

/// `=` and `,` are escaped in SCRAM user names (RFC 5802 §5.1).
fn escape_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

fn hmac(hash: ScramHash, key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hash.hmac(), key), data)
        .as_ref()
        .to_vec()
}

impl ScramClient {
    pub(crate) fn new(hash: ScramHash, user: &str, password: &str, nonce: String) -> Self {
        let client_first_bare = format!("n={},r={nonce}", escape_name(user));
        Self {
            hash,
            password: password.to_string(),
            nonce,
            client_first_bare,
            server_signature: None,
        }
    }

    /// A fresh random nonce (printable, no commas).
    pub(crate) fn random_nonce() -> String {
        use rand::Rng;
        let mut rng = rand::rng();
        (0..32)
            .map(|_| {
                const CHARS: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                CHARS[rng.random_range(0..CHARS.len())] as char
            })
            .collect()
    }

    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Answers the server-first message with the client-final message (carrying the proof).
    pub(crate) fn client_final(&mut self, server_first: &str) -> Result<String, String> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attr in server_first.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                Some(("e", v)) => return Err(format!("server error: {v}")),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(format!("malformed server-first message '{server_first}'"));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("server nonce does not extend the client nonce".into());
        }
        let salt = B64
            .decode(salt)
            .map_err(|e| format!("salt is not base64: {e}"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| format!("iteration count '{iterations}' is not a number"))?;
        if iterations < MIN_ITERATIONS {
            return Err(format!(
                "server asks for {iterations} iterations, fewer than the minimum {MIN_ITERATIONS}"
            ));
        }
        let hash = self.hash;
        let mut salted = vec![0u8; hash.digest().output_len()];
        let rounds = std::num::NonZeroU32::new(iterations).ok_or("zero iterations")?;
        pbkdf2::derive(
            hash.pbkdf2(),
            rounds,
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let client_key = hmac(hash, &salted, b"Client Key");
        let stored_key = digest::digest(hash.digest(), &client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac(hash, stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(hash, &salted, b"Server Key");
        self.server_signature = Some(hmac(hash, &server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server's signature: proof that the server knows the password too.
    pub(crate) fn verify_server_final(&self, server_final: &str) -> Result<(), String> {
        if let Some(e) = server_final.strip_prefix("e=") {
            return Err(format!("server error: {e}"));
        }
        let v = server_final
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .ok_or_else(|| format!("malformed server-final message '{server_final}'"))?;
        let got = B64
            .decode(v)
            .map_err(|e| format!("server signature is not base64: {e}"))?;
        match &self.server_signature {
            Some(expected) if *expected == got => Ok(()),
            _ => {
                Err("server signature does not match: the server does not know the password".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SCRAM-SHA-256 example exchange from RFC 7677 §3.
    #[test]
    fn rfc7677_example() {
        let mut c = ScramClient::new(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = c
            .client_final(
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .expect("client final");
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .expect("server verified");
        assert!(c.verify_server_final("v=AAAA").is_err());
        assert!(c.verify_server_final("e=invalid-proof").is_err());
    }

    #[test]
    fn rejects_foreign_nonce_and_weak_iterations() {
        let mut c = ScramClient::new(ScramHash::Sha512, "u,=x", "p", "abc".into());
        assert_eq!(c.client_first(), "n,,n=u=2C=3Dx,r=abc");
        assert!(c.client_final("r=zzz123,s=AAAA,i=4096").is_err());
        assert!(c.client_final("r=abc123,s=AAAA,i=1000").is_err());
        assert!(c.client_final("r=abc123,s=AAAA,i=4096").is_ok());
    }
}
