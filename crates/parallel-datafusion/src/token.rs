//! The client-tag token of a call run in the query's group: the same on every attempt.
//!
//! A distributed engine that loses an executor runs its tasks again elsewhere, and the call
//! evaluates the same record batch again. Its token is a digest of what the call sends (the
//! processor, the task spec, and each row's position and input), so the second attempt
//! tags its inputs as the first did (`<token>:<position>`), and the batch engine finds the
//! runs already in the group instead of creating them again. Rows with the same input are
//! still distinct runs: the position is part of each tag.

use std::fmt::Write as _;

use parallel_client::batch::BatchInput;
use ring::digest::{Context, SHA256};

use crate::columns::Columns;
use crate::enrich::Settings;

/// Hex digits of the token: 128 bits of the digest, far from any chance collision.
const TOKEN_HEX: usize = 32;

/// The token of a call sending `inputs` with these settings and columns.
pub(crate) fn call_token(settings: &Settings, columns: &Columns, inputs: &[BatchInput]) -> String {
    let mut digest = Context::new(&SHA256);
    let mut field = |bytes: &[u8]| {
        // Each field with its length, so that no two sequences of fields read the same.
        digest.update(&(bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    };
    field(settings.processor.as_bytes());
    field(&serde_json::to_vec(&columns.spec).unwrap_or_default());
    for input in inputs {
        field(&input.position().to_le_bytes());
        field(input.input().get().as_bytes());
    }
    let digest = digest.finish();
    let mut token = String::with_capacity(TOKEN_HEX);
    for byte in &digest.as_ref()[..TOKEN_HEX / 2] {
        let _ = write!(token, "{byte:02x}");
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(processor: &str) -> Settings {
        Settings {
            client: parallel_client::Client::builder()
                .api_key("k")
                .build()
                .unwrap(),
            processor: processor.to_owned(),
            timeout: None,
            outage_tolerance: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn the_token_follows_what_the_call_sends_and_nothing_else() {
        let columns = Columns::parse("ceo: CEO name", false).unwrap();
        let inputs = |texts: &[&str]| -> Vec<BatchInput> {
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| BatchInput::new(i as u64, *t))
                .collect()
        };
        let lite = settings("lite");
        let token = call_token(&lite, &columns, &inputs(&["Acme", "Globex"]));
        assert_eq!(token.len(), TOKEN_HEX);
        // Another process, another client: the same rows give the same token.
        assert_eq!(
            call_token(&settings("lite"), &columns, &inputs(&["Acme", "Globex"])),
            token
        );
        for other in [
            call_token(&lite, &columns, &inputs(&["Globex", "Acme"])),
            call_token(&lite, &columns, &inputs(&["Acme"])),
            call_token(&settings("base"), &columns, &inputs(&["Acme", "Globex"])),
            call_token(
                &lite,
                &Columns::parse("ceo: CEO", false).unwrap(),
                &inputs(&["Acme", "Globex"]),
            ),
        ] {
            assert_ne!(other, token);
        }
    }
}
