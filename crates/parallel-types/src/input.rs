//! The input of a task run (`TaskRunInput`) and its optional settings.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::serde_util::{null_as_default, present};
use crate::{Metadata, Processor, TaskSpec};

/// One task run to create: the body of `POST /v1/tasks/runs`, an element of an add-runs
/// request, and the `input` of a `task_run.state` event.
///
/// Optional fields that arrive as an explicit `null` are written back as `null`, absent ones
/// stay absent, so a decoded value re-encodes to the same JSON. Equality ignores that
/// difference: `null` and absence mean the same thing.
#[derive(Clone)]
#[non_exhaustive]
pub struct RunInput {
    /// The task input: free text (a JSON string) or a JSON object.
    pub input: Value,
    /// The processor to run with.
    pub processor: Processor,
    /// Metadata stored with the run.
    pub metadata: Option<Metadata>,
    /// Task spec for this run; overrides a group's `default_task_spec`.
    pub task_spec: Option<TaskSpec>,
    /// Which sources the run may use.
    pub source_policy: Option<SourcePolicy>,
    /// Extra settings such as location.
    pub advanced_settings: Option<AdvancedSettings>,
    /// Interaction to continue from (a previous run's `interaction_id`).
    pub previous_interaction_id: Option<String>,
    /// MCP servers the run may call.
    pub mcp_servers: Option<Vec<McpServer>>,
    /// Whether the run records progress events (default on for `pro` and above).
    pub enable_events: Option<bool>,
    /// Webhook to notify on status changes.
    pub webhook: Option<Webhook>,
    /// Scope key for memory shared between runs.
    pub memory_scope_key: Option<String>,
    explicit_nulls: NullFields,
}

/// Which optional fields of a [`RunInput`] were (or are to be) written as explicit `null`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct NullFields(u16);

const NULLABLE: [&str; 9] = [
    "metadata",
    "task_spec",
    "source_policy",
    "advanced_settings",
    "previous_interaction_id",
    "mcp_servers",
    "enable_events",
    "webhook",
    "memory_scope_key",
];

impl NullFields {
    fn set(&mut self, index: usize) {
        self.0 |= 1 << index;
    }

    fn get(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
}

impl fmt::Debug for NullFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(
                NULLABLE
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| self.get(*i))
                    .map(|(_, name)| name),
            )
            .finish()
    }
}

impl RunInput {
    /// A run of `input` (a JSON string or object) on `processor`, all else unset.
    pub fn new(input: impl Into<Value>, processor: impl Into<Processor>) -> Self {
        Self {
            input: input.into(),
            processor: processor.into(),
            metadata: None,
            task_spec: None,
            source_policy: None,
            advanced_settings: None,
            previous_interaction_id: None,
            mcp_servers: None,
            enable_events: None,
            webhook: None,
            memory_scope_key: None,
            explicit_nulls: NullFields::default(),
        }
    }

    /// Sets the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the task spec.
    #[must_use]
    pub fn with_task_spec(mut self, task_spec: TaskSpec) -> Self {
        self.task_spec = Some(task_spec);
        self
    }

    /// Sets the source policy.
    #[must_use]
    pub fn with_source_policy(mut self, source_policy: SourcePolicy) -> Self {
        self.source_policy = Some(source_policy);
        self
    }

    /// Sets the advanced settings.
    #[must_use]
    pub fn with_advanced_settings(mut self, advanced_settings: AdvancedSettings) -> Self {
        self.advanced_settings = Some(advanced_settings);
        self
    }

    /// Sets the interaction to continue from.
    #[must_use]
    pub fn with_previous_interaction_id(mut self, id: impl Into<String>) -> Self {
        self.previous_interaction_id = Some(id.into());
        self
    }

    /// Sets the MCP servers.
    #[must_use]
    pub fn with_mcp_servers(mut self, servers: Vec<McpServer>) -> Self {
        self.mcp_servers = Some(servers);
        self
    }

    /// Turns progress events on or off.
    #[must_use]
    pub fn with_enable_events(mut self, enable: bool) -> Self {
        self.enable_events = Some(enable);
        self
    }

    /// Sets the webhook.
    #[must_use]
    pub fn with_webhook(mut self, webhook: Webhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// Sets the memory scope key.
    #[must_use]
    pub fn with_memory_scope_key(mut self, key: impl Into<String>) -> Self {
        self.memory_scope_key = Some(key.into());
        self
    }

    /// Writes every unset optional field as an explicit `null`, the way the server echoes
    /// inputs back. `memory_scope_key`, newer than the published spec, stays absent.
    #[must_use]
    pub fn with_explicit_nulls(mut self) -> Self {
        for index in 0..NULLABLE.len() - 1 {
            self.explicit_nulls.set(index);
        }
        self
    }
}

impl PartialEq for RunInput {
    fn eq(&self, other: &Self) -> bool {
        // `explicit_nulls` is left out on purpose: null and absence mean the same.
        self.input == other.input
            && self.processor == other.processor
            && self.metadata == other.metadata
            && self.task_spec == other.task_spec
            && self.source_policy == other.source_policy
            && self.advanced_settings == other.advanced_settings
            && self.previous_interaction_id == other.previous_interaction_id
            && self.mcp_servers == other.mcp_servers
            && self.enable_events == other.enable_events
            && self.webhook == other.webhook
            && self.memory_scope_key == other.memory_scope_key
    }
}

impl fmt::Debug for RunInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // MCP server headers may hold credentials; `McpServer`'s Debug redacts them.
        f.debug_struct("RunInput")
            .field("input", &self.input)
            .field("processor", &self.processor)
            .field("metadata", &self.metadata)
            .field("task_spec", &self.task_spec)
            .field("source_policy", &self.source_policy)
            .field("advanced_settings", &self.advanced_settings)
            .field("previous_interaction_id", &self.previous_interaction_id)
            .field("mcp_servers", &self.mcp_servers)
            .field("enable_events", &self.enable_events)
            .field("webhook", &self.webhook)
            .field("memory_scope_key", &self.memory_scope_key)
            .finish_non_exhaustive()
    }
}

impl Serialize for RunInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn field<S: SerializeStruct, T: Serialize>(
            state: &mut S,
            nulls: NullFields,
            index: usize,
            value: Option<&T>,
        ) -> Result<(), S::Error> {
            let name = NULLABLE[index];
            match value {
                Some(value) => state.serialize_field(name, value),
                None if nulls.get(index) => state.serialize_field(name, &()),
                None => state.skip_field(name),
            }
        }

        let nulls = self.explicit_nulls;
        let mut state = serializer.serialize_struct("RunInput", 2 + NULLABLE.len())?;
        state.serialize_field("input", &self.input)?;
        state.serialize_field("processor", &self.processor)?;
        field(&mut state, nulls, 0, self.metadata.as_ref())?;
        field(&mut state, nulls, 1, self.task_spec.as_ref())?;
        field(&mut state, nulls, 2, self.source_policy.as_ref())?;
        field(&mut state, nulls, 3, self.advanced_settings.as_ref())?;
        field(&mut state, nulls, 4, self.previous_interaction_id.as_ref())?;
        field(&mut state, nulls, 5, self.mcp_servers.as_ref())?;
        field(&mut state, nulls, 6, self.enable_events.as_ref())?;
        field(&mut state, nulls, 7, self.webhook.as_ref())?;
        field(&mut state, nulls, 8, self.memory_scope_key.as_ref())?;
        state.end()
    }
}

impl<'de> Deserialize<'de> for RunInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// `Some(None)` = explicit null, `None` = absent: exactly the three states needed.
        #[allow(clippy::option_option)]
        #[derive(Deserialize)]
        #[serde(rename = "RunInput")]
        struct Wire {
            input: Value,
            processor: Processor,
            #[serde(default, deserialize_with = "present")]
            metadata: Option<Option<Metadata>>,
            #[serde(default, deserialize_with = "present")]
            task_spec: Option<Option<TaskSpec>>,
            #[serde(default, deserialize_with = "present")]
            source_policy: Option<Option<SourcePolicy>>,
            #[serde(default, deserialize_with = "present")]
            advanced_settings: Option<Option<AdvancedSettings>>,
            #[serde(default, deserialize_with = "present")]
            previous_interaction_id: Option<Option<String>>,
            #[serde(default, deserialize_with = "present")]
            mcp_servers: Option<Option<Vec<McpServer>>>,
            #[serde(default, deserialize_with = "present")]
            enable_events: Option<Option<bool>>,
            #[serde(default, deserialize_with = "present")]
            webhook: Option<Option<Webhook>>,
            #[serde(default, deserialize_with = "present")]
            memory_scope_key: Option<Option<String>>,
        }

        #[allow(clippy::option_option)]
        fn take<T>(nulls: &mut NullFields, index: usize, value: Option<Option<T>>) -> Option<T> {
            match value {
                Some(None) => {
                    nulls.set(index);
                    None
                }
                Some(value) => value,
                None => None,
            }
        }

        let wire = Wire::deserialize(deserializer)?;
        let mut nulls = NullFields::default();
        Ok(Self {
            input: wire.input,
            processor: wire.processor,
            metadata: take(&mut nulls, 0, wire.metadata),
            task_spec: take(&mut nulls, 1, wire.task_spec),
            source_policy: take(&mut nulls, 2, wire.source_policy),
            advanced_settings: take(&mut nulls, 3, wire.advanced_settings),
            previous_interaction_id: take(&mut nulls, 4, wire.previous_interaction_id),
            mcp_servers: take(&mut nulls, 5, wire.mcp_servers),
            enable_events: take(&mut nulls, 6, wire.enable_events),
            webhook: take(&mut nulls, 7, wire.webhook),
            memory_scope_key: take(&mut nulls, 8, wire.memory_scope_key),
            explicit_nulls: nulls,
        })
    }
}

/// Restricts the sources a run may use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourcePolicy {
    /// Only these domains (plain domains or `.tld`-style suffixes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_domains: Option<Vec<String>>,
    /// Never these domains. Include and exclude lists hold at most 200 entries together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_domains: Option<Vec<String>>,
    /// Only sources published on or after this date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_date: Option<String>,
}

impl SourcePolicy {
    /// Only these domains.
    #[must_use]
    pub fn with_include_domains(mut self, domains: Vec<String>) -> Self {
        self.include_domains = Some(domains);
        self
    }

    /// Never these domains.
    #[must_use]
    pub fn with_exclude_domains(mut self, domains: Vec<String>) -> Self {
        self.exclude_domains = Some(domains);
        self
    }

    /// Only sources published on or after `date` (`YYYY-MM-DD`).
    #[must_use]
    pub fn with_after_date(mut self, date: impl Into<String>) -> Self {
        self.after_date = Some(date.into());
        self
    }
}

/// Extra run settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdvancedSettings {
    /// ISO 3166-1 alpha-2 country code (`us`, `gb`, ...) to localize research to.
    #[serde(default)]
    pub location: Option<String>,
    /// Partner data sources to enable for the run (standard processors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_sources: Option<DataSources>,
}

impl AdvancedSettings {
    /// Settings that localize research to `location` (ISO 3166-1 alpha-2, e.g. `us`).
    pub fn location(location: impl Into<String>) -> Self {
        Self {
            location: Some(location.into()),
            data_sources: None,
        }
    }

    /// Sets the partner data sources.
    #[must_use]
    pub fn with_data_sources(mut self, data_sources: DataSources) -> Self {
        self.data_sources = Some(data_sources);
        self
    }
}

/// Partner data sources a run may use besides those its processor includes
/// (`advanced_settings.data_sources`). A partner name must not also name an MCP server of
/// the run; the server checks that, this type does not.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataSources {
    /// Free partners (never billed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<Vec<String>>,
    /// Pay-per-use partners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_per_use: Option<Vec<String>>,
}

impl DataSources {
    /// Sets the free partners.
    #[must_use]
    pub fn with_free(mut self, partners: Vec<String>) -> Self {
        self.free = Some(partners);
        self
    }

    /// Sets the pay-per-use partners.
    #[must_use]
    pub fn with_pay_per_use(mut self, partners: Vec<String>) -> Self {
        self.pay_per_use = Some(partners);
        self
    }
}

/// An MCP server a run may call.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct McpServer {
    /// Server name, as the run refers to it.
    pub name: String,
    /// Server URL.
    pub url: String,
    /// Server kind; the API knows only `"url"` (its default).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// Headers sent to the server; may carry credentials, so `Debug` hides their values.
    /// A value is `None` when the server echoes it as `null` (it does not send secrets back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, Option<String>>>,
    /// Tools the run may call; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<Vec<String>>,
}

impl McpServer {
    /// A server called `name` at `url`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            r#type: None,
            headers: None,
            allowed_tools: None,
        }
    }

    /// Sets the headers sent to the server (credentials included; `Debug` hides them).
    #[must_use]
    pub fn with_headers(mut self, headers: BTreeMap<String, Option<String>>) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Sets the tools the run may call.
    #[must_use]
    pub fn with_allowed_tools(mut self, tools: Vec<String>) -> Self {
        self.allowed_tools = Some(tools);
        self
    }
}

impl fmt::Debug for McpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names = self
            .headers
            .as_ref()
            .map(|headers| headers.keys().collect::<Vec<_>>());
        f.debug_struct("McpServer")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("type", &self.r#type)
            .field(
                "headers",
                &header_names.map(|names| format!("{names:?} (values hidden)")),
            )
            .field("allowed_tools", &self.allowed_tools)
            .finish()
    }
}

/// A webhook notified when a run changes status (beta `webhook-2025-08-12`).
///
/// `event_types` is always written, an empty list included, so that a caller can send `[]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Webhook {
    /// The URL to call.
    pub url: String,
    /// Event types to send (the API knows `task_run.status`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub event_types: Vec<String>,
    /// The secret deliveries are signed with; the account's webhook secret when unset.
    /// `Debug` never shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl Webhook {
    /// The event type of a run's status change, the one the API knows.
    pub const TASK_RUN_STATUS: &'static str = "task_run.status";

    /// A webhook to `url` for `task_run.status` events, signed with the account's secret.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            event_types: vec![Self::TASK_RUN_STATUS.to_owned()],
            secret: None,
        }
    }

    /// Sets the event types (an empty list is sent as `[]`).
    #[must_use]
    pub fn with_event_types(mut self, event_types: Vec<String>) -> Self {
        self.event_types = event_types;
        self
    }

    /// Signs deliveries with `secret` instead of the account's webhook secret.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("secret", &self.secret.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_event_type_list_is_sent() {
        let webhook = Webhook::new("https://hooks.example/p").with_event_types(Vec::new());
        let encoded = serde_json::to_value(&webhook).expect("encode");
        assert_eq!(
            encoded,
            serde_json::json!({"url": "https://hooks.example/p", "event_types": []})
        );
        let default =
            serde_json::to_value(Webhook::new("https://hooks.example/p")).expect("encode");
        assert_eq!(
            default["event_types"],
            serde_json::json!(["task_run.status"])
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let webhook = Webhook::new("https://hooks.example/p").with_secret("whsec-s3cr3t");
        let shown = format!("{webhook:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("(hidden)"),
            "{shown}"
        );
        assert_eq!(
            serde_json::to_value(&webhook).expect("encode")["secret"],
            "whsec-s3cr3t",
            "the secret is sent to the API"
        );
        let mut server = McpServer::new("crm", "https://mcp.example");
        server.headers = Some(BTreeMap::from([
            ("Authorization".to_owned(), Some("Bearer t0ken".to_owned())),
            ("X-Echoed".to_owned(), None),
        ]));
        let shown = format!("{server:?}");
        assert!(
            !shown.contains("t0ken") && shown.contains("Authorization"),
            "{shown}"
        );
    }
}
