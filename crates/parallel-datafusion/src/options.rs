//! The third argument of `parallel_enrich`: options of the call, `'basis'` and
//! `'group=<task group id>'`, separated by commas.

/// Adds each output column's sources to the result.
pub(crate) const BASIS: &str = "basis";
/// Runs the rows in this existing task group, reconciled by client tags.
pub(crate) const GROUP: &str = "group";

/// What the third argument asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallOptions {
    /// Each output column `X` also gets `X_citations`, `X_confidence`, `X_reasoning`.
    pub(crate) basis: bool,
    /// The query's task group: every call adds its rows there, tagged so that a call run
    /// again (a task the engine retries) finds its runs instead of paying for them twice.
    pub(crate) group: Option<String>,
}

impl CallOptions {
    /// Reads `'basis'`, `'group=tgrp_...'` or `'basis, group=tgrp_...'`; the error says what
    /// the options are.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut options = Self::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item.eq_ignore_ascii_case(BASIS) {
                options.basis = true;
                continue;
            }
            let group = item
                .split_once('=')
                .filter(|(key, _)| key.trim().eq_ignore_ascii_case(GROUP))
                .map(|(_, id)| id.trim());
            match group {
                Some(id) if is_group_id(id) => options.group = Some(id.to_owned()),
                Some(id) => {
                    return Err(format!(
                        "`{id}` is not a task group id (an id such as `tgrp_...`, without \
                         spaces)"
                    ));
                }
                None => {
                    return Err(format!(
                        "the third argument has {item:?}; the options are '{BASIS}' (add each \
                         column's citations, confidence and reasoning to the result) and \
                         '{GROUP}=<task group id>' (run the rows in that group, so that a \
                         retried task pays for no row twice), separated by commas"
                    ));
                }
            }
        }
        Ok(options)
    }
}

/// A group id is printable, without spaces or quotes, and not empty.
fn is_group_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_in_any_order_and_unknown_ones_named() {
        assert!(CallOptions::parse(" Basis ").unwrap().basis);
        let both = CallOptions::parse("group = tgrp_1a-B, basis").unwrap();
        assert_eq!(
            both,
            CallOptions {
                basis: true,
                group: Some("tgrp_1a-B".to_owned()),
            }
        );
        assert_eq!(CallOptions::parse("").unwrap(), CallOptions::default());
        let err = CallOptions::parse("sources").unwrap_err();
        assert!(err.contains("the options are 'basis'"), "{err}");
        let err = CallOptions::parse("group=tgrp 1").unwrap_err();
        assert!(err.contains("`tgrp 1` is not a task group id"), "{err}");
        assert!(CallOptions::parse("group=").is_err());
    }
}
