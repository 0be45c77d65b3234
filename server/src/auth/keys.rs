//! Token keys and the JWTs themselves.
//!
//! - Our own access tokens are HS256, signed with a secret generated at
//!   first start into `DATA_DIR/jwt-secret` (64 random bytes, hex, mode
//!   0600) and reused afterwards. Claims: `iss` = [`ISSUER`], `sub` (user
//!   id), `sid` (session), `dev` (device), `role`, `iat`, `exp`, `jti`,
//!   `typ` = `"access"`.
//! - The web pages' session cookie holds a token of the same shape with
//!   `typ` = `"web"` and no `dev`: a web session only. [`Keys::verify`]
//!   (bearer tokens) refuses it and [`Keys::verify_web`] (the cookie)
//!   accepts nothing else, so a cookie copied out of a browser is no API
//!   token and a phone's token is no cookie.
//! - An external identity provider's tokens (RS256 or ES256, public key in
//!   PEM) are accepted when configured; their `sub` (a username) and `exp`
//!   are used, and their `iss` and `aud` must match when an issuer and an
//!   audience are configured.
//!
//! Verification picks the key by the header's `alg` and then pins that one
//! algorithm: `none` does not parse, HS256 is only ever checked with our
//! secret and RS256/ES256 only with the provider's public key, so neither
//! can be passed off as the other. Refresh tokens are opaque random strings,
//! not JWTs (see [`super::session`]).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::config::Config;
use crate::principal::Role;

/// `iss` of the tokens this server issues.
pub const ISSUER: &str = "gridsync";
/// `typ` of access tokens (bearer tokens of the API).
pub const ACCESS_TYP: &str = "access";
/// `typ` of web session tokens (the web pages' cookie only).
pub const WEB_TYP: &str = "web";
/// File name of the HS256 secret in the data directory.
pub const SECRET_FILE: &str = "jwt-secret";
/// Bytes of a generated secret.
const SECRET_BYTES: usize = 64;
/// Fewest secret bytes accepted from the file.
const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated on `exp`, seconds.
const LEEWAY: u64 = 30;

/// The claims of an access token we issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Session id: ended sessions fail on the next request.
    pub sid: String,
    /// Device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Role when issued (informational: the role in force is read from the
    /// directory on every request).
    pub role: Role,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// Token id (UUID).
    pub jti: String,
    /// [`ACCESS_TYP`], or [`WEB_TYP`] for a web session's cookie.
    pub typ: String,
}

/// The claims used from an external provider's token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExternalClaims {
    /// A username of the directory.
    pub sub: String,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

/// A token whose signature and claims checked out (the directory has not
/// been asked yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedToken {
    /// One of ours.
    Own(AccessClaims),
    /// The external identity provider's.
    External(ExternalClaims),
}

struct ExternalKey {
    key: DecodingKey,
    algorithm: Algorithm,
    issuer: Option<String>,
    audience: Option<String>,
}

/// Signing and verification keys, and token lifetimes.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    external: Option<ExternalKey>,
    access_ttl: u64,
    refresh_ttl: u64,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("secret", &"<redacted>")
            .field("external", &self.external.as_ref().map(|e| e.algorithm))
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish()
    }
}

impl Keys {
    /// Load the HS256 secret from `config.data_dir/jwt-secret`, creating it
    /// on first start, and the external provider's public key if configured.
    pub fn load_or_create(config: &Config) -> anyhow::Result<Keys> {
        let secret = load_or_create_secret(&config.data_dir.join(SECRET_FILE))?;
        let mut keys =
            Keys::from_secret(&secret, config.access_token_ttl, config.refresh_token_ttl)?;
        if let Some(path) = &config.external_jwt_public_key {
            let pem = std::fs::read(path).with_context(|| {
                format!(
                    "reading the identity provider's public key {}",
                    path.display()
                )
            })?;
            keys = keys.with_external_pem(&pem).with_context(|| {
                format!(
                    "loading the identity provider's public key {}",
                    path.display()
                )
            })?;
            keys = keys.with_external_claims(
                config.external_jwt_issuer.clone(),
                config.external_jwt_audience.clone(),
            );
        }
        Ok(keys)
    }

    /// Keys from a secret (at least 32 bytes) and lifetimes in seconds.
    pub fn from_secret(secret: &[u8], access_ttl: u64, refresh_ttl: u64) -> anyhow::Result<Keys> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the token secret must be at least {MIN_SECRET_BYTES} bytes"
        );
        anyhow::ensure!(
            access_ttl > 0 && refresh_ttl > 0,
            "token lifetimes must be positive"
        );
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            external: None,
            access_ttl,
            refresh_ttl,
        })
    }

    /// Also accept tokens signed by the holder of this public key (PEM:
    /// an RSA key for RS256 or a P-256 key for ES256).
    pub fn with_external_pem(mut self, pem: &[u8]) -> anyhow::Result<Keys> {
        let external = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            ExternalKey {
                key,
                algorithm: Algorithm::RS256,
                issuer: None,
                audience: None,
            }
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            ExternalKey {
                key,
                algorithm: Algorithm::ES256,
                issuer: None,
                audience: None,
            }
        } else {
            anyhow::bail!("not a PEM RSA or EC public key (expected -----BEGIN PUBLIC KEY-----)");
        };
        self.external = Some(external);
        Ok(self)
    }

    /// Require the external provider's tokens to carry this `iss` and/or
    /// this `aud` (after [`Keys::with_external_pem`]).
    pub fn with_external_claims(
        mut self,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Keys {
        if let Some(ext) = &mut self.external {
            ext.issuer = issuer;
            ext.audience = audience;
        }
        self
    }

    /// Lifetime of access tokens, seconds.
    pub fn access_ttl(&self) -> u64 {
        self.access_ttl
    }

    /// Lifetime of refresh tokens, seconds.
    pub fn refresh_ttl(&self) -> u64 {
        self.refresh_ttl
    }

    /// The algorithm of the external provider's key, if one is configured.
    pub fn external_algorithm(&self) -> Option<Algorithm> {
        self.external.as_ref().map(|e| e.algorithm)
    }

    /// Sign access-token claims.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Internal(format!("signing: {e}")))
    }

    /// An access token for a session, valid from `now` for the access lifetime.
    pub fn access_token(
        &self,
        user_id: &str,
        session_id: &str,
        device_id: Option<&str>,
        role: Role,
        now: u64,
    ) -> Result<String, AuthError> {
        self.sign(&AccessClaims {
            iss: ISSUER.to_owned(),
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            dev: device_id.map(str::to_owned),
            role,
            iat: now,
            exp: now + self.access_ttl,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS_TYP.to_owned(),
        })
    }

    /// A web session's token (the cookie of the web pages), valid from
    /// `now` for `ttl` seconds. No device: a browser is not a registered
    /// device.
    pub fn web_token(
        &self,
        user_id: &str,
        session_id: &str,
        role: Role,
        now: u64,
        ttl: u64,
    ) -> Result<String, AuthError> {
        self.sign(&AccessClaims {
            iss: ISSUER.to_owned(),
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            dev: None,
            role,
            iat: now,
            exp: now + ttl,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: WEB_TYP.to_owned(),
        })
    }

    /// Check one of our tokens: signature, algorithm, expiry, issuer.
    fn verify_own(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = LEEWAY;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.validate_aud = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &v)
            .map_err(map_jwt_error)?;
        Ok(data.claims)
    }

    /// Check the token of a web session cookie: ours, and of type
    /// [`WEB_TYP`]. A bearer token of the API is refused.
    pub fn verify_web(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::InvalidToken);
        }
        let claims = self.verify_own(token)?;
        if claims.typ != WEB_TYP {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }

    /// Check a bearer token's signature, algorithm, expiry, issuer and type.
    /// A web session's token is refused ([`AuthError::WebSessionToken`]).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg == Algorithm::HS256 {
            let claims = self.verify_own(token)?;
            // Web sessions have no device; so had their tokens before
            // they got a type of their own (`typ: access`, no `dev`).
            if claims.typ == WEB_TYP || (claims.typ == ACCESS_TYP && claims.dev.is_none()) {
                return Err(AuthError::WebSessionToken);
            }
            if claims.typ != ACCESS_TYP {
                return Err(AuthError::InvalidToken);
            }
            return Ok(VerifiedToken::Own(claims));
        }
        match &self.external {
            Some(ext) if header.alg == ext.algorithm => {
                let mut v = Validation::new(ext.algorithm);
                v.leeway = LEEWAY;
                let mut required = vec!["exp", "sub"];
                if let Some(iss) = &ext.issuer {
                    v.set_issuer(&[iss]);
                    required.push("iss");
                }
                match &ext.audience {
                    Some(aud) => {
                        v.set_audience(&[aud]);
                        required.push("aud");
                    }
                    None => v.validate_aud = false,
                }
                v.set_required_spec_claims(&required);
                let data = jsonwebtoken::decode::<ExternalClaims>(token, &ext.key, &v)
                    .map_err(map_jwt_error)?;
                Ok(VerifiedToken::External(data.claims))
            }
            _ => Err(AuthError::InvalidToken),
        }
    }
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        _ => AuthError::InvalidToken,
    }
}

/// Read the secret at `path`, or create it (0600) if absent. Creation is
/// atomic: the secret is written to a temporary file and linked into place,
/// so two servers starting together agree on one secret.
fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        let mut secret = [0u8; SECRET_BYTES];
        rand::rng().fill(&mut secret[..]);
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{SECRET_FILE}.{}", uuid::Uuid::new_v4()));
        let mut file = private_file(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(format!("{}\n", hex::encode(secret)).as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        drop(file);
        let placed = match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            // A file system without hard links: a plain rename, still
            // never leaving a half-written secret in place.
            Err(_) if !path.exists() => std::fs::rename(&tmp, path).map(|()| true),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&tmp);
        if placed.with_context(|| format!("creating {}", path.display()))? {
            tracing::info!(path = %path.display(), "generated a new token secret");
        }
    }
    restrict_permissions(path)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let secret = hex::decode(text.trim())
        .with_context(|| format!("{} must hold the secret as hex", path.display()))?;
    anyhow::ensure!(
        secret.len() >= MIN_SECRET_BYTES,
        "{} holds {} bytes; at least {MIN_SECRET_BYTES} are needed",
        path.display(),
        secret.len()
    );
    Ok(secret)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// The secret must be readable by its owner only; tighten it if it is not.
#[cfg(unix)]
fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "token secret was readable by others; setting mode 0600");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("setting permissions of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}
