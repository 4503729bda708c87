//! Beta gating, an opt-in fault: run inputs that use a beta field need its `parallel-beta`
//! header value.
//!
//! Older docs tied `webhook` to `webhook-2025-08-12` and `mcp_servers` to
//! `mcp-server-2025-07-17`; the official SDKs (1.3.7) no longer do, and send `parallel-beta`
//! only when the caller asks (spec §1), so the emulator accepts both fields without the header.
//! With [`Faults::require_betas`](crate::Faults::require_betas) it refuses such an input with a
//! `422` naming the missing value, as a server that still gates them would.

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::request::{ApiError, at};

/// The beta a run's `webhook` needs.
pub(crate) const WEBHOOK: &str = "webhook-2025-08-12";
/// The beta a run's `mcp_servers` needs.
pub(crate) const MCP_SERVER: &str = "mcp-server-2025-07-17";

/// The values of every `parallel-beta` header (a comma-separated list, spaces tolerated),
/// and whether beta fields need them.
#[derive(Debug, Default)]
pub(crate) struct Betas {
    sent: Vec<String>,
    required: bool,
}

impl Betas {
    /// The betas a request sent; `required` makes [`check_input`](Self::check_input) refuse
    /// a beta field without its value.
    pub(crate) fn from_headers(headers: &HeaderMap, required: bool) -> Betas {
        let sent = headers
            .get_all("parallel-beta")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        Betas { sent, required }
    }

    fn has(&self, beta: &str) -> bool {
        self.sent.iter().any(|b| b == beta)
    }

    /// Checks one run input at `loc` against the betas sent, when they are required.
    pub(crate) fn check_input(
        &self,
        input: &Map<String, Value>,
        loc: &str,
    ) -> Result<(), ApiError> {
        if !self.required {
            return Ok(());
        }
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
        Betas::from_headers(&headers, true)
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

    #[test]
    fn beta_fields_need_no_header_unless_required() {
        let input = json!({"webhook": {"url": "http://127.0.0.1:1/"}, "mcp_servers": []});
        let not_required = Betas::from_headers(&HeaderMap::new(), false);
        assert!(
            not_required
                .check_input(input.as_object().unwrap(), "")
                .is_ok()
        );
    }
}
