//! Reading the three signature headers of a delivery.

use http::HeaderMap;

use crate::error::{Kind, WebhookError};

/// The header holding the delivery's unique id (the same on every retry of one event).
pub const WEBHOOK_ID: &str = "webhook-id";
/// The header holding the time of signing, in Unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The header holding the signatures: space-separated `v1,<base64>` entries.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// The signature version this crate verifies.
const V1: &str = "v1,";

/// The signed parts of a delivery's headers, borrowed from them.
pub(crate) struct SignedHeaders<'a> {
    pub(crate) id: &'a str,
    /// The timestamp as sent: it is signed as text.
    pub(crate) timestamp_text: &'a str,
    pub(crate) timestamp: u64,
    /// The base64 part of every `v1` entry, in order.
    pub(crate) v1_signatures: Vec<&'a str>,
}

impl<'a> SignedHeaders<'a> {
    /// Reads the headers; at most `max_entries` signature entries are accepted.
    pub(crate) fn read(headers: &'a HeaderMap, max_entries: usize) -> Result<Self, WebhookError> {
        let id = single(headers, WEBHOOK_ID)?;
        if id.is_empty() {
            return Err(WebhookError::malformed(WEBHOOK_ID, "it is empty"));
        }
        let timestamp_text = single(headers, WEBHOOK_TIMESTAMP)?;
        let timestamp = unix_seconds(timestamp_text)?;
        let v1_signatures = v1_entries(headers, max_entries)?;
        Ok(Self {
            id,
            timestamp_text,
            timestamp,
            v1_signatures,
        })
    }
}

/// The one value of `name`, as text.
fn single<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookError> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or_else(|| WebhookError::new(Kind::MissingHeader(name)))?;
    if values.next().is_some() {
        return Err(WebhookError::malformed(name, "it is sent more than once"));
    }
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| WebhookError::malformed(name, "it holds bytes that are not visible ASCII"))
}

/// Unix seconds: ASCII digits only (no sign, no fraction), as the sender signs them.
fn unix_seconds(text: &str) -> Result<u64, WebhookError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten().ok_or_else(|| {
        let shown: String = text.chars().take(32).collect();
        WebhookError::malformed(
            WEBHOOK_TIMESTAMP,
            format!("expected Unix seconds (digits only), found {shown:?}"),
        )
    })
}

/// The base64 parts of the `v1` entries of every `webhook-signature` value. Entries of other
/// versions are skipped; a header without any `v1` entry is malformed.
fn v1_entries(headers: &HeaderMap, max_entries: usize) -> Result<Vec<&str>, WebhookError> {
    let mut values = headers.get_all(WEBHOOK_SIGNATURE).iter().peekable();
    if values.peek().is_none() {
        return Err(WebhookError::new(Kind::MissingHeader(WEBHOOK_SIGNATURE)));
    }
    let mut entries = 0;
    let mut v1 = Vec::new();
    for value in values {
        let text = value.to_str().map_err(|_| {
            WebhookError::malformed(
                WEBHOOK_SIGNATURE,
                "it holds bytes that are not visible ASCII",
            )
        })?;
        for entry in text.split_ascii_whitespace() {
            entries += 1;
            if entries > max_entries {
                return Err(WebhookError::malformed(
                    WEBHOOK_SIGNATURE,
                    format!(
                        "it has more than {max_entries} entries (see Verifier::max_signatures)"
                    ),
                ));
            }
            if let Some(signature) = entry.strip_prefix(V1) {
                v1.push(signature);
            }
        }
    }
    if v1.is_empty() {
        return Err(WebhookError::malformed(
            WEBHOOK_SIGNATURE,
            format!(
                "it has no `v1,<base64>` entry among its {entries} entries (this crate verifies \
                 version v1)"
            ),
        ));
    }
    Ok(v1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn reads_every_v1_entry_across_values_and_skips_other_versions() {
        let map = headers(&[
            (WEBHOOK_ID, "whevent_1"),
            (WEBHOOK_TIMESTAMP, " 1700000000 "),
            (WEBHOOK_SIGNATURE, "v1,AAA= v2,BBB=  v1,CCC="),
            (WEBHOOK_SIGNATURE, "v1a,DDD= v1,EEE="),
        ]);
        let read = SignedHeaders::read(&map, 10).expect("valid");
        assert_eq!((read.id, read.timestamp), ("whevent_1", 1_700_000_000));
        assert_eq!(read.timestamp_text, "1700000000");
        assert_eq!(read.v1_signatures, ["AAA=", "CCC=", "EEE="]);
    }

    #[test]
    fn names_the_header_at_fault() {
        let good = [
            (WEBHOOK_ID, "whevent_1"),
            (WEBHOOK_TIMESTAMP, "1700000000"),
            (WEBHOOK_SIGNATURE, "v1,AAA="),
        ];
        for missing in 0..3 {
            let mut pairs = good.to_vec();
            let (name, _) = pairs.remove(missing);
            let error = SignedHeaders::read(&headers(&pairs), 10)
                .err()
                .expect("missing");
            assert!(
                error.is_missing_header() && error.header() == Some(name),
                "{error}"
            );
            assert!(error.to_string().contains(name), "{error}");
        }
        for (name, bad) in [
            (WEBHOOK_ID, ""),
            (WEBHOOK_TIMESTAMP, "-5"),
            (WEBHOOK_TIMESTAMP, "+5"),
            (WEBHOOK_TIMESTAMP, "1700000000.5"),
            (WEBHOOK_TIMESTAMP, "99999999999999999999999"),
            (WEBHOOK_SIGNATURE, "v2,AAA= AAA="),
        ] {
            let pairs: Vec<_> = good
                .iter()
                .map(|&(n, v)| (n, if n == name { bad } else { v }))
                .collect();
            let error = SignedHeaders::read(&headers(&pairs), 10)
                .err()
                .expect("malformed");
            assert!(
                error.is_malformed_header() && error.header() == Some(name),
                "{error}"
            );
        }
        let twice = headers(&[
            (WEBHOOK_ID, "a"),
            (WEBHOOK_ID, "b"),
            (WEBHOOK_TIMESTAMP, "1"),
            (WEBHOOK_SIGNATURE, "v1,AAA="),
        ]);
        let error = SignedHeaders::read(&twice, 10).err().expect("ambiguous");
        assert!(error.to_string().contains("more than once"), "{error}");
    }

    #[test]
    fn the_number_of_entries_is_bounded() {
        let many = ["v1,AAA="; 5].join(" ");
        let map = headers(&[
            (WEBHOOK_ID, "a"),
            (WEBHOOK_TIMESTAMP, "1"),
            (WEBHOOK_SIGNATURE, &many),
        ]);
        assert_eq!(
            SignedHeaders::read(&map, 5)
                .expect("at the limit")
                .v1_signatures
                .len(),
            5
        );
        let error = SignedHeaders::read(&map, 4).err().expect("over the limit");
        assert!(
            error.is_malformed_header() && error.to_string().contains("more than 4"),
            "{error}"
        );
    }
}
