//! Lenient payload shapes: the variations of the wire that the official SDKs accept, one per
//! run, so that clients meet each of them (see `EmulatorBuilder::lenient_payloads`).

use serde_json::{Map, Value, json};

/// One lenient shape. Each run in lenient mode gets one, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variation {
    /// Metadata values that are a nested object and a null.
    MetadataAnyType,
    /// MCP server headers whose values are null.
    McpHeaderNull,
    /// A citation without `url`.
    CitationWithoutUrl,
    /// The echoed task spec with `output_schema: null`.
    SpecSchemaNull,
    /// The echoed task spec with a JSON output schema without `json_schema`.
    SpecWithoutJsonSchema,
    /// The echoed task spec with a text schema whose description is not a string.
    DescriptionNotString,
    /// A `task_run.progress_msg.extract` message.
    ProgressExtract,
    /// `advanced_settings.data_sources`.
    DataSources,
    /// Basis entries with `citations: null`.
    CitationsNull,
    /// A webhook with an empty `event_types` list.
    WebhookNoEventTypes,
}

impl Variation {
    const ALL: [Variation; 10] = [
        Variation::MetadataAnyType,
        Variation::McpHeaderNull,
        Variation::CitationWithoutUrl,
        Variation::SpecSchemaNull,
        Variation::SpecWithoutJsonSchema,
        Variation::DescriptionNotString,
        Variation::ProgressExtract,
        Variation::DataSources,
        Variation::CitationsNull,
        Variation::WebhookNoEventTypes,
    ];

    /// The variation of the `nth` run created in lenient mode: every ten consecutive runs
    /// show all ten, in an order that starts where the seed says.
    pub(crate) fn nth(seed: u64, nth: u64) -> Variation {
        let len = Self::ALL.len() as u64;
        let index = (seed % len + nth) % len;
        Self::ALL[usize::try_from(index).unwrap_or(0)]
    }

    /// The metadata to echo: the run's own, plus a nested object and a null.
    pub(crate) fn metadata(self, own: Option<&[u8]>) -> Option<Vec<u8>> {
        const EXTRA: &[u8] = br#""lenient_nested":{"a":[1,"b"]},"lenient_null":null}"#;
        if self != Variation::MetadataAnyType {
            return None;
        }
        let mut out = match own {
            Some(m) if m.len() > 2 => {
                let mut v = m[..m.len() - 1].to_vec();
                v.push(b',');
                v
            }
            _ => b"{".to_vec(),
        };
        out.extend_from_slice(EXTRA);
        Some(out)
    }

    /// The echoed `task_spec`, when this variation replaces it.
    pub(crate) fn task_spec(self) -> Option<Value> {
        match self {
            Variation::SpecSchemaNull => Some(json!({"output_schema": null, "input_schema": null})),
            Variation::SpecWithoutJsonSchema => {
                Some(json!({"output_schema": {"type": "json"}, "input_schema": null}))
            }
            Variation::DescriptionNotString => Some(json!({
                "output_schema": {"type": "text", "description": null},
                "input_schema": null
            })),
            _ => None,
        }
    }

    /// The echoed `advanced_settings`, when this variation changes it.
    pub(crate) fn advanced_settings(self, own: Option<&Value>) -> Option<Value> {
        (self == Variation::DataSources).then(|| {
            let mut settings = own
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| Map::from_iter([("location".to_owned(), Value::Null)]));
            settings.insert("data_sources".into(), json!(["web"]));
            Value::Object(settings)
        })
    }

    /// The echoed `webhook`, when this variation changes it.
    pub(crate) fn webhook(self, own: Option<&Value>) -> Option<Value> {
        (self == Variation::WebhookNoEventTypes).then(|| {
            let mut hook = own.and_then(Value::as_object).cloned().unwrap_or_else(|| {
                Map::from_iter([("url".to_owned(), json!("http://127.0.0.1:9/lenient"))])
            });
            hook.insert("event_types".into(), json!([]));
            hook.remove("secret");
            Value::Object(hook)
        })
    }

    /// The echoed `mcp_servers` (`servers` as checked, with their `headers` as sent), when
    /// this variation changes them: header names kept, values null.
    pub(crate) fn mcp_servers(self, servers: Option<&Value>) -> Option<Value> {
        if self != Variation::McpHeaderNull {
            return None;
        }
        let lenient = json!([{
            "name": "lenient",
            "url": "https://mcp.example.com/sse",
            "type": "url",
            "headers": {"authorization": "secret"},
            "allowed_tools": null
        }]);
        let mut servers = servers.filter(|s| !s.is_null()).cloned().unwrap_or(lenient);
        for server in servers.as_array_mut().into_iter().flatten() {
            let Some(server) = server.as_object_mut() else {
                continue;
            };
            let names: Map<String, Value> = server
                .get("headers")
                .and_then(Value::as_object)
                .map_or_else(
                    || Map::from_iter([("authorization".to_owned(), Value::Null)]),
                    |h| h.keys().map(|k| (k.clone(), Value::Null)).collect(),
                );
            server.insert("headers".into(), Value::Object(names));
        }
        Some(servers)
    }

    /// Rewrites a run's output (`TaskRunJsonOutput` or `TaskRunTextOutput`) for the
    /// citation variations; `None` leaves it as written.
    pub(crate) fn output(self, output: &[u8]) -> Option<Vec<u8>> {
        if !matches!(
            self,
            Variation::CitationWithoutUrl | Variation::CitationsNull
        ) {
            return None;
        }
        let mut value: Value = serde_json::from_slice(output).ok()?;
        let basis = value.get_mut("basis")?.as_array_mut()?;
        for (i, entry) in basis.iter_mut().enumerate() {
            let Some(entry) = entry.as_object_mut() else {
                continue;
            };
            if self == Variation::CitationsNull {
                entry.insert("citations".into(), Value::Null);
            } else if i == 0 {
                let first = entry
                    .get_mut("citations")
                    .and_then(Value::as_array_mut)
                    .and_then(|c| c.first_mut())
                    .and_then(Value::as_object_mut);
                if let Some(citation) = first {
                    citation.remove("url");
                } else {
                    entry.insert(
                        "citations".into(),
                        json!([{"title": "No address", "excerpts": null}]),
                    );
                }
            }
        }
        serde_json::to_vec(&value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_consecutive_runs_show_every_variation() {
        for seed in [0, 7, 123_456] {
            let mut seen: Vec<Variation> = (40..50).map(|n| Variation::nth(seed, n)).collect();
            seen.dedup();
            seen.sort_by_key(|v| Variation::ALL.iter().position(|a| a == v));
            seen.dedup();
            assert_eq!(seen, Variation::ALL, "seed {seed}");
        }
    }

    #[test]
    fn metadata_keeps_the_runs_own_keys() {
        let m = Variation::MetadataAnyType
            .metadata(Some(br#"{"row":3}"#))
            .unwrap();
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(
            v,
            json!({"row": 3, "lenient_nested": {"a": [1, "b"]}, "lenient_null": null})
        );
        let m = Variation::MetadataAnyType.metadata(None).unwrap();
        let v: Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(
            v,
            json!({"lenient_nested": {"a": [1, "b"]}, "lenient_null": null})
        );
        assert!(Variation::DataSources.metadata(None).is_none());
    }

    #[test]
    fn mcp_header_values_become_null_and_secrets_never_show() {
        let sent =
            json!([{"name": "a", "url": "https://m.example", "headers": {"x-key": "s3cret"}}]);
        let echo = Variation::McpHeaderNull.mcp_servers(Some(&sent)).unwrap();
        assert_eq!(echo[0]["headers"], json!({"x-key": null}));
        let added = Variation::McpHeaderNull.mcp_servers(None).unwrap();
        assert_eq!(added[0]["headers"], json!({"authorization": null}));
        assert!(!added.to_string().contains("secret"));
    }

    #[test]
    fn citation_variations_rewrite_the_basis() {
        let output = br#"{"type":"text","content":"x","basis":[{"field":"output","reasoning":"r","citations":[{"url":"https://a.example","title":null,"excerpts":[]}],"confidence":"high"}]}"#;
        let v: Value =
            serde_json::from_slice(&Variation::CitationWithoutUrl.output(output).unwrap()).unwrap();
        assert!(v["basis"][0]["citations"][0].get("url").is_none(), "{v}");
        assert_eq!(v["basis"][0]["citations"][0]["title"], Value::Null);
        let v: Value =
            serde_json::from_slice(&Variation::CitationsNull.output(output).unwrap()).unwrap();
        assert_eq!(v["basis"][0]["citations"], Value::Null);
        assert!(Variation::ProgressExtract.output(output).is_none());
    }
}
