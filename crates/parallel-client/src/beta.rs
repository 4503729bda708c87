//! The `parallel-beta` header: beta features a request opts into.

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;
use parallel_types::RunInput;

/// The name of the header that lists the betas a request uses.
pub(crate) const HEADER: &str = "parallel-beta";

/// A beta feature of the API, sent in the `parallel-beta` header.
///
/// The known values are variants; any other string is kept as [`Beta::Other`], so a beta
/// newer than this client can still be asked for. The client adds by itself the beta a
/// request's fields were tied to: `webhook` ([`Beta::Webhook`]), `mcp_servers`
/// ([`Beta::McpServer`]), `enable_events` and the run events stream ([`Beta::EventsSse`]).
/// The official SDKs (1.3.7) send `parallel-beta` only when the caller asks, and no longer
/// tie `webhook` or `mcp_servers` to a beta: the service accepts both without the header, and
/// the header this client adds for them is accepted as well.
/// Set more per call with [`PendingRequest::betas`](crate::PendingRequest::betas) on any
/// request (`client.run_result(id).betas([Beta::FieldBasis])`), or on every request with
/// `ClientBuilder::header("parallel-beta", ..)`; all are merged, without repeats, and
/// joined with `,` as the official SDKs do.
///
/// ```
/// use parallel_client::Beta;
///
/// assert_eq!(Beta::FieldBasis.as_str(), "field-basis-2025-11-25");
/// assert_eq!("webhook-2025-08-12".parse::<Beta>().unwrap(), Beta::Webhook);
/// assert_eq!(Beta::from("new-thing-2027-01-01"), Beta::Other("new-thing-2027-01-01".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Beta {
    /// `mcp-server-2025-07-17`: MCP servers on runs (`mcp_servers`). Older docs require it
    /// for `mcp_servers`; since SDK 1.3.7 the field needs no beta (its tool calls are "now
    /// included directly in the output", `mcp_tool_calls`).
    McpServer,
    /// `events-sse-2025-07-24`: run-level progress events (`enable_events`, the run events
    /// stream).
    EventsSse,
    /// `webhook-2025-08-12`: a webhook called when a run finishes (`webhook`). Older docs
    /// require it for `webhook`; since SDK 1.3.7 the field needs no beta.
    Webhook,
    /// `findall-2025-09-15`: the `FindAll` API.
    FindAll,
    /// `search-extract-2025-10-10`: the Search and Extract APIs.
    SearchExtract,
    /// `field-basis-2025-11-25`: basis entries per array element (`field` like
    /// `key_executives.0`) beside the one for the whole list. SDK 1.3.7 describes them as
    /// always present for list fields; with SDK 1.3.0 they came only with this beta, so ask
    /// for it to get them from a server that still gates them.
    FieldBasis,
    /// Any other beta, by its wire name.
    Other(String),
}

impl Beta {
    /// The known betas, with their wire names.
    const KNOWN: [(Beta, &'static str); 6] = [
        (Beta::McpServer, "mcp-server-2025-07-17"),
        (Beta::EventsSse, "events-sse-2025-07-24"),
        (Beta::Webhook, "webhook-2025-08-12"),
        (Beta::FindAll, "findall-2025-09-15"),
        (Beta::SearchExtract, "search-extract-2025-10-10"),
        (Beta::FieldBasis, "field-basis-2025-11-25"),
    ];

    /// The wire name, as sent in the header.
    pub fn as_str(&self) -> &str {
        match self {
            Beta::Other(name) => name,
            known => Self::KNOWN
                .iter()
                .find(|(beta, _)| beta == known)
                .map_or("", |(_, name)| name),
        }
    }
}

impl From<&str> for Beta {
    fn from(name: &str) -> Self {
        let name = name.trim();
        Self::KNOWN
            .iter()
            .find(|(_, known)| *known == name)
            .map_or_else(|| Beta::Other(name.to_owned()), |(beta, _)| beta.clone())
    }
}

impl From<String> for Beta {
    fn from(name: String) -> Self {
        Beta::from(name.as_str())
    }
}

impl FromStr for Beta {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(Beta::from(name))
    }
}

impl fmt::Display for Beta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The betas a run input needs for the beta fields it uses.
pub(crate) fn required_by(input: &RunInput) -> impl Iterator<Item = Beta> {
    [
        input.webhook.is_some().then_some(Beta::Webhook),
        input.mcp_servers.is_some().then_some(Beta::McpServer),
        (input.enable_events == Some(true)).then_some(Beta::EventsSse),
    ]
    .into_iter()
    .flatten()
}

/// The betas of a request: those asked for, then those its inputs need, without repeats.
pub(crate) fn for_inputs<'a>(
    asked: &[Beta],
    inputs: impl IntoIterator<Item = &'a RunInput>,
) -> Vec<Beta> {
    let mut betas = asked.to_vec();
    for input in inputs {
        for beta in required_by(input) {
            if !betas.contains(&beta) {
                betas.push(beta);
            }
        }
    }
    betas
}

/// The `parallel-beta` header value: the names in `existing` (the client's own header
/// values, each a comma-separated list) and then `betas`, each once, joined with `,`.
/// `None` when there are none.
pub(crate) fn header_value<'a>(
    existing: impl IntoIterator<Item = &'a HeaderValue>,
    betas: &[Beta],
) -> Option<HeaderValue> {
    let mut names: Vec<&str> = Vec::new();
    let existing = existing
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','));
    for name in existing.chain(betas.iter().map(Beta::as_str)) {
        let name = name.trim();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return None;
    }
    HeaderValue::from_str(&names.join(",")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_beta_round_trips_through_its_name() {
        for (beta, name) in Beta::KNOWN {
            assert_eq!(beta.as_str(), name);
            assert_eq!(Beta::from(name), beta);
            assert_eq!(beta.to_string(), name);
        }
        assert_eq!(Beta::from(" other-1 ").as_str(), "other-1");
    }

    #[test]
    fn beta_fields_need_their_betas() {
        let mut input = RunInput::new("q", "lite");
        assert_eq!(required_by(&input).count(), 0);
        input.enable_events = Some(false);
        assert_eq!(required_by(&input).count(), 0);
        input.enable_events = Some(true);
        input.mcp_servers = Some(Vec::new());
        assert_eq!(
            required_by(&input).collect::<Vec<_>>(),
            [Beta::McpServer, Beta::EventsSse]
        );
    }

    #[test]
    fn the_header_merges_without_repeats_in_order() {
        let mut with_events = RunInput::new("q", "lite");
        with_events.enable_events = Some(true);
        let betas = for_inputs(
            &[Beta::FieldBasis, Beta::EventsSse],
            [&with_events, &with_events],
        );
        assert_eq!(betas, [Beta::FieldBasis, Beta::EventsSse]);
        let client_wide = HeaderValue::from_static("x-1, field-basis-2025-11-25");
        let value = header_value([&client_wide], &betas).unwrap();
        assert_eq!(value, "x-1,field-basis-2025-11-25,events-sse-2025-07-24");
        assert_eq!(header_value([], &[]), None);
    }
}
