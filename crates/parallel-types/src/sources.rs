//! [`FieldSources`]: an output's research basis folded into one record per output field,
//! the three columns (`X_citations`, `X_confidence`, `X_reasoning`) every tool adds for a
//! field `X` when asked for sources.

use crate::FieldBasis;

/// The suffixes of the columns that carry a field's sources, in the order tools write them:
/// `X_citations` (the URLs), `X_confidence`, `X_reasoning`.
pub const SOURCE_SUFFIXES: [&str; 3] = ["_citations", "_confidence", "_reasoning"];

/// The names of the source columns of field `field`: `[X_citations, X_confidence,
/// X_reasoning]`.
pub fn source_column_names(field: &str) -> [String; 3] {
    SOURCE_SUFFIXES.map(|suffix| format!("{field}{suffix}"))
}

/// What an output's basis says about one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldSources {
    /// The URLs cited, in the basis's order, each once.
    pub citations: Vec<String>,
    /// The confidence the service gives (`low`, `medium`, `high`), if any.
    pub confidence: Option<String>,
    /// Why the value was given, if the basis says.
    pub reasoning: Option<String>,
}

impl FieldSources {
    /// The sources of `field` (a top-level output field, `output` for a text output) in
    /// `basis`.
    ///
    /// A list field may have an entry per element (`tags.0`, `tags.1`, with the
    /// `field-basis-2025-11-25` beta) beside or instead of its own: the citations of every
    /// entry are gathered; the field's own entry gives the confidence and reasoning, or, when
    /// it has none, the elements do (the lowest confidence, their reasonings one per line).
    ///
    /// ```
    /// use parallel_types::{FieldBasis, FieldSources};
    ///
    /// let basis: Vec<FieldBasis> = serde_json::from_str(r#"[
    ///   {"field": "ceo", "reasoning": "From the company site.", "confidence": "high",
    ///    "citations": [{"url": "https://acme.example/about"}]},
    ///   {"field": "hq", "reasoning": "Two filings agree.", "confidence": "medium",
    ///    "citations": [{"url": "https://a.example"}, {"url": "https://b.example"}]}
    /// ]"#)?;
    /// let hq = FieldSources::of(&basis, "hq");
    /// assert_eq!(hq.citations, ["https://a.example", "https://b.example"]);
    /// assert_eq!(hq.confidence.as_deref(), Some("medium"));
    /// assert_eq!(FieldSources::of(&basis, "founded"), FieldSources::default());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn of(basis: &[FieldBasis], field: &str) -> Self {
        let mut sources = Self::default();
        let mut own = None;
        let mut elements = Vec::new();
        for entry in basis {
            let is_own = entry.field == field;
            let is_element = entry
                .field
                .strip_prefix(field)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|index| {
                    !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())
                });
            if !is_own && !is_element {
                continue;
            }
            for url in entry
                .citation_list()
                .iter()
                .filter_map(|c| c.url.as_deref())
            {
                if !sources.citations.iter().any(|seen| seen == url) {
                    sources.citations.push(url.to_owned());
                }
            }
            if is_own {
                own = Some(entry);
            } else {
                elements.push(entry);
            }
        }
        if let Some(own) = own {
            sources.confidence.clone_from(&own.confidence);
            sources.reasoning = Some(own.reasoning.clone()).filter(|r| !r.is_empty());
        } else if !elements.is_empty() {
            sources.confidence = elements
                .iter()
                .filter_map(|e| e.confidence.as_deref())
                .min_by_key(|c| confidence_rank(c))
                .map(str::to_owned);
            let reasonings: Vec<&str> = elements
                .iter()
                .map(|e| e.reasoning.as_str())
                .filter(|r| !r.is_empty())
                .collect();
            sources.reasoning = Some(reasonings.join("\n")).filter(|r| !r.is_empty());
        }
        sources
    }
}

/// `low` < `medium` < `high`; a value the service may add later sorts after them.
fn confidence_rank(confidence: &str) -> u8 {
    match confidence.to_ascii_lowercase().as_str() {
        "low" => 0,
        "medium" => 1,
        "high" => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basis(json: &str) -> Vec<FieldBasis> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn element_entries_gather_their_citations_and_the_lowest_confidence() {
        let basis = basis(
            r#"[
            {"field": "tags.0", "reasoning": "first", "confidence": "high",
             "citations": [{"url": "https://a.example"}, {"url": "https://b.example"}]},
            {"field": "tags.1", "reasoning": "second", "confidence": "low",
             "citations": [{"url": "https://b.example"}, {"title": "no url"}]},
            {"field": "tags_extra", "reasoning": "another field", "confidence": "low",
             "citations": [{"url": "https://c.example"}]},
            {"field": "tags.x", "reasoning": "not an element", "citations": null}
        ]"#,
        );
        let tags = FieldSources::of(&basis, "tags");
        assert_eq!(tags.citations, ["https://a.example", "https://b.example"]);
        assert_eq!(tags.confidence.as_deref(), Some("low"));
        assert_eq!(tags.reasoning.as_deref(), Some("first\nsecond"));
    }

    #[test]
    fn the_fields_own_entry_gives_confidence_and_reasoning() {
        let basis = basis(
            r#"[
            {"field": "tags", "reasoning": "", "confidence": null,
             "citations": [{"url": "https://own.example"}]},
            {"field": "tags.0", "reasoning": "first", "confidence": "high",
             "citations": [{"url": "https://a.example"}]}
        ]"#,
        );
        let tags = FieldSources::of(&basis, "tags");
        assert_eq!(tags.citations, ["https://own.example", "https://a.example"]);
        assert_eq!((tags.confidence, tags.reasoning), (None, None));
        assert_eq!(
            source_column_names("ceo"),
            ["ceo_citations", "ceo_confidence", "ceo_reasoning"]
        );
    }
}
