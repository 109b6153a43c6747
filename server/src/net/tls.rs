//! HTTPS from PEM files (`--tls-cert`, `--tls-key`) through rustls.

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::ServerConfig;

/// A certificate chain and its key, read and checked at start-up so a bad
/// file stops the server before it opens its database.
#[derive(Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Tls> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("--tls-cert {}: reading PEM certificates", cert.display()))?;
        if chain.is_empty() {
            anyhow::bail!(
                "--tls-cert {}: no `BEGIN CERTIFICATE` block found",
                cert.display()
            );
        }
        let private_key = PrivateKeyDer::from_pem_file(key).with_context(|| {
            format!(
                "--tls-key {}: reading a PEM private key (PKCS#8, PKCS#1 or SEC1)",
                key.display()
            )
        })?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .with_context(|| {
                format!(
                    "--tls-cert {} and --tls-key {} do not make a usable pair",
                    cert.display(),
                    key.display()
                )
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            config: Arc::new(config),
        })
    }

    pub(super) fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}
