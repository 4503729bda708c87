//! Resuming: what an earlier session of the same batch (same group and token) left behind.

use std::collections::HashMap;

use parallel_types::TaskRun;

use super::collect;
use super::options::Skip;
use crate::client::Client;
use crate::error::Error;

/// A run an earlier session created, as the group lists it.
pub(crate) struct Earlier {
    pub(crate) run: TaskRun,
    /// Its place in the runs stream (counted from 0), and the cursor of the run before it.
    pub(crate) place: u64,
    pub(crate) cursor: Option<String>,
}

/// The runs of the batch already in the group.
pub(crate) struct Found {
    /// By position; the first run of a position wins.
    pub(crate) earlier: HashMap<u64, Earlier>,
    /// The runs stream cursor after the last run.
    pub(crate) cursor: Option<String>,
    /// Positions found with more than one run (another client with the same token).
    pub(crate) duplicates: u64,
}

/// Indexes the runs of `group_id` tagged with `token`, except the positions `skip` says the
/// caller holds already. Only the run is kept (its metadata dropped), so memory stays small.
pub(crate) async fn find_earlier(
    client: &Client,
    group_id: &str,
    token: &str,
    skip: Option<&Skip>,
) -> Result<Found, Error> {
    let mut found = Found {
        earlier: HashMap::new(),
        cursor: None,
        duplicates: 0,
    };
    found.cursor = collect::scan(
        client,
        group_id,
        token,
        |position, mut run, place, cursor| {
            if skip.is_some_and(|done| done(position)) {
                return;
            }
            if found.earlier.contains_key(&position) {
                found.duplicates += 1;
                return;
            }
            run.metadata = None;
            run.warnings = None;
            found
                .earlier
                .insert(position, Earlier { run, place, cursor });
        },
    )
    .await?;
    Ok(found)
}
