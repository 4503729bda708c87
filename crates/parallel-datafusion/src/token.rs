//! The client-tag token of a call run in the query's group: the same on every attempt.
//!
//! A distributed engine that loses an executor runs its tasks again elsewhere, and the call
//! evaluates the same record batch again. Its token is a digest of what the call sends (the
//! processor, the task spec, and each row's position and input), so the second attempt
//! tags its inputs as the first did (`<token>:<position>`), and the batch engine finds the
//! runs already in the group instead of creating them again. Rows with the same input are
//! still distinct runs within a call: the position is part of each tag. Two calls that send
//! the same rows in the same order would share a token; the rows' keys (the fourth
//! argument, an id column) are part of the digest, so that with a key they do not.

use std::fmt::Write as _;

use datafusion::arrow::array::{Array, ArrayRef};
use parallel_client::batch::BatchInput;
use ring::digest::{Context, SHA256};

use crate::columns::Columns;

/// Hex digits of the token: 128 bits of the digest, far from any chance collision.
const TOKEN_HEX: usize = 32;

/// The token of a call sending `inputs` to `processor` with these columns, and these rows'
/// keys if there are.
pub(crate) fn call_token(
    processor: &str,
    columns: &Columns,
    inputs: &[BatchInput],
    keys: Option<&ArrayRef>,
) -> String {
    let mut digest = Context::new(&SHA256);
    let mut field = |bytes: &[u8]| {
        // Each field with its length, so that no two sequences of fields read the same.
        digest.update(&(bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    };
    field(processor.as_bytes());
    field(&serde_json::to_vec(&columns.spec).unwrap_or_default());
    let mut key = Vec::new();
    for input in inputs {
        field(&input.position().to_le_bytes());
        field(input.input().get().as_bytes());
        if let Some(keys) = keys {
            key.clear();
            let row = usize::try_from(input.position()).unwrap_or(usize::MAX);
            if row < keys.len() {
                parallel_arrow::write_json(&mut key, keys.as_ref(), row);
            }
            field(&key);
        }
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
        let lite = "lite";
        let token = call_token(lite, &columns, &inputs(&["Acme", "Globex"]), None);
        assert_eq!(token.len(), TOKEN_HEX);
        // Another call, another process: the same rows give the same token.
        assert_eq!(
            call_token("lite", &columns, &inputs(&["Acme", "Globex"]), None),
            token
        );
        // The same rows with keys: the same token for the same keys, another for others.
        let keys = |ids: Vec<i64>| -> ArrayRef {
            std::sync::Arc::new(datafusion::arrow::array::Int64Array::from(ids))
        };
        let rows = inputs(&["Acme", "Globex"]);
        let keyed = call_token(lite, &columns, &rows, Some(&keys(vec![1, 2])));
        assert_ne!(keyed, token);
        assert_eq!(
            call_token(lite, &columns, &rows, Some(&keys(vec![1, 2]))),
            keyed
        );
        assert_ne!(
            call_token(lite, &columns, &rows, Some(&keys(vec![3, 4]))),
            keyed
        );
        for other in [
            call_token(lite, &columns, &inputs(&["Globex", "Acme"]), None),
            call_token(lite, &columns, &inputs(&["Acme"]), None),
            call_token("base", &columns, &inputs(&["Acme", "Globex"]), None),
            call_token(
                &lite,
                &Columns::parse("ceo: CEO", false).unwrap(),
                &inputs(&["Acme", "Globex"]),
                None,
            ),
        ] {
            assert_ne!(other, token);
        }
    }
}
