//! Values that must never be printed: API secrets and URLs that carry them.

use std::fmt;

/// The mask written wherever a secret would otherwise appear.
pub const MASK: &str = "***";

/// A GA4 Measurement Protocol `api_secret`. `Debug` and `Display` print only [`MASK`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it: the request URL.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// A request URL whose `api_secret` query parameter is a secret.
/// `Debug` and `Display` print the URL with the secret replaced by [`MASK`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl {
    real: reqwest::Url,
    masked: String,
}

impl SecretUrl {
    /// Builds `base?measurement_id=ID&api_secret=SECRET`, keeping any query `base` already has.
    pub fn new(base: &reqwest::Url, measurement_id: &str, secret: &Secret) -> Self {
        let mut real = base.clone();
        let mut masked = base.clone();
        real.query_pairs_mut()
            .append_pair("measurement_id", measurement_id)
            .append_pair("api_secret", secret.expose());
        masked
            .query_pairs_mut()
            .append_pair("measurement_id", measurement_id)
            .append_pair("api_secret", "SECRETMASK");
        let masked = masked.as_str().replace("SECRETMASK", MASK);
        SecretUrl { real, masked }
    }

    /// The URL to send to, secret included.
    pub fn expose(&self) -> &reqwest::Url {
        &self.real
    }

    /// The URL with the secret masked, safe to show.
    pub fn masked(&self) -> &str {
        &self.masked
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_printed() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "hunter2-secret");
    }

    #[test]
    fn url_masks_secret_but_keeps_it_for_sending() {
        let base = reqwest::Url::parse("http://127.0.0.1:8080/mp/collect").unwrap();
        let u = SecretUrl::new(&base, "G-ABC", &Secret::new("s3cr&t"));
        assert_eq!(
            u.expose().as_str(),
            "http://127.0.0.1:8080/mp/collect?measurement_id=G-ABC&api_secret=s3cr%26t"
        );
        assert_eq!(
            u.masked(),
            "http://127.0.0.1:8080/mp/collect?measurement_id=G-ABC&api_secret=***"
        );
        assert!(!format!("{u:?}{u}").contains("s3cr"));
    }
}
