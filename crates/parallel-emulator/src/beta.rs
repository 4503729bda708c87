//! Beta gating: run inputs that use a beta field need its `parallel-beta` header value.
//!
//! Inferred from the docs (spec §1 and §11: "`webhook-2025-08-12`: needed for `webhook` on
//! runs", "`mcp-server-2025-07-17`: needed for `mcp_servers`"); the API reference itself
//! declares the header optional, and how the real service answers without it is not
//! documented. The emulator refuses such an input with a `422` naming the missing value.

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::request::{ApiError, at};

/// The beta a run's `webhook` needs.
pub(crate) const WEBHOOK: &str = "webhook-2025-08-12";
/// The beta a run's `mcp_servers` needs.
pub(crate) const MCP_SERVER: &str = "mcp-server-2025-07-17";

/// The values of every `parallel-beta` header: a comma-separated list, spaces tolerated.
#[derive(Debug, Default)]
pub(crate) struct Betas(Vec<String>);

impl Betas {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Betas {
        Betas(
            headers
                .get_all("parallel-beta")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    fn has(&self, beta: &str) -> bool {
        self.0.iter().any(|b| b == beta)
    }

    /// Checks one run input at `loc` against the betas sent.
    pub(crate) fn check_input(
        &self,
        input: &Map<String, Value>,
        loc: &str,
    ) -> Result<(), ApiError> {
        for (field, beta) in [("webhook", WEBHOOK), ("mcp_servers", MCP_SERVER)] {
            if input.get(field).is_some_and(|v| !v.is_null()) && !self.has(beta) {
                return Err(ApiError::validation(
                    &at(loc, field),
                    format!(
                        "`{field}` is a beta feature: send the header `parallel-beta: {beta}` (comma-separated with any other betas)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn betas(values: &[&str]) -> Betas {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("parallel-beta", v.parse().unwrap());
        }
        Betas::from_headers(&headers)
    }

    #[test]
    fn the_header_is_a_list_with_spaces_tolerated() {
        let b = betas(&[
            "events-sse-2025-07-24 , webhook-2025-08-12",
            "mcp-server-2025-07-17",
        ]);
        assert!(b.has(WEBHOOK) && b.has(MCP_SERVER) && b.has("events-sse-2025-07-24"));
        assert!(!betas(&["webhook-2025-08-1"]).has(WEBHOOK));
    }

    #[test]
    fn a_beta_field_without_its_header_names_the_header_value() {
        let input =
            json!({"input": "x", "processor": "lite", "webhook": {"url": "http://127.0.0.1:1/"}});
        let input = input.as_object().unwrap();
        let e = betas(&[]).check_input(input, "inputs[2]").unwrap_err();
        assert_eq!(e.status, http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("inputs[2].webhook"), "{}", e.message);
        assert!(e.message.contains(WEBHOOK), "{}", e.message);
        assert!(betas(&[WEBHOOK]).check_input(input, "").is_ok());
        let input = json!({"mcp_servers": [], "webhook": null});
        let e = betas(&[WEBHOOK])
            .check_input(input.as_object().unwrap(), "")
            .unwrap_err();
        assert!(e.message.contains(MCP_SERVER), "{}", e.message);
    }
}
