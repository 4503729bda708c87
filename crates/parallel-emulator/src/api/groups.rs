//! Groups: create one, add runs to one, and the group object.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use super::route::Query;
use super::{App, Reply, json};
use crate::beta::Betas;
use crate::ids::{GroupId, RunId};
use crate::request::{self, ApiError};
use crate::state::Group;
use crate::stats::Counters;
use crate::wire;

impl App {
    pub(super) fn create_group(&self, body: &[u8]) -> Reply {
        let obj = request::parse_object(body, true)?;
        let metadata = request::metadata(obj.get("metadata"), "metadata", self.lenient)?;
        let id = self.random.ids(1)?[0];
        let group =
            self.store
                .create_group(GroupId(id), self.clock.now(), metadata.map(Bytes::from));
        Counters::bump(&self.counters.groups_created, 1);
        let mut out = Vec::with_capacity(512);
        write_group_of(&mut out, &group);
        Ok(json(StatusCode::OK, out))
    }

    pub(super) fn add_runs(
        self: &Arc<Self>,
        group: &Arc<Group>,
        betas: &Betas,
        query: &str,
        body: &[u8],
    ) -> Reply {
        let params = Query::parse(query)?;
        params.bool("refresh_status")?;
        let obj = request::parse_object(body, false)?;
        let Some(inputs) = obj.get("inputs") else {
            return Err(ApiError::validation("inputs", "is required"));
        };
        let Some(inputs) = inputs.as_array() else {
            return Err(ApiError::validation(
                "inputs",
                "must be an array of task run inputs",
            ));
        };
        let max = self.limits.max_inputs_per_request;
        if inputs.len() > max {
            return Err(ApiError::validation(
                "inputs",
                format!(
                    "{} inputs in one request; at most {max} are allowed per request (split them over several requests)",
                    inputs.len()
                ),
            ));
        }
        let default_spec = request::task_spec(
            obj.get("default_task_spec"),
            "default_task_spec",
            &self.limits,
        )?;
        let parsed = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                self.check_input(v, &format!("inputs[{i}]"), default_spec.as_ref(), betas)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ids = self.random.ids(parsed.len())?;
        self.reserve_credit(parsed.len())?;
        let now = self.clock.now();
        let (runs, plans, hooks) = self.make_runs(parsed, &ids, now);
        let ids: Vec<RunId> = runs.iter().map(|r| r.id).collect();
        let outcome = self.store.add_runs(group, runs, now);
        if !plans.is_empty() {
            self.scheduler.schedule(group, outcome.first, &plans);
        }
        self.watch_webhooks(group, outcome.first, hooks);
        let mut out = Vec::with_capacity(256 + ids.len() * 40);
        out.extend_from_slice(b"{\"status\":");
        wire::write_status(&mut out, &outcome.status);
        out.extend_from_slice(b",\"run_ids\":[");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("\"{id}\"").as_bytes());
        }
        out.extend_from_slice(b"],\"run_cursor\":");
        if self.faults().runs_in_change_order {
            push_cursor(
                &mut out,
                usize::try_from(outcome.changes_before).unwrap_or(usize::MAX),
            );
        } else {
            push_cursor(&mut out, outcome.first);
        }
        out.extend_from_slice(b",\"event_cursor\":");
        push_cursor(&mut out, outcome.events_before);
        out.push(b'}');
        Ok(json(StatusCode::OK, out))
    }
}

fn push_cursor(out: &mut Vec<u8>, position: usize) {
    if position == 0 {
        out.extend_from_slice(b"null");
    } else {
        out.extend_from_slice(format!("\"{position}\"").as_bytes());
    }
}

pub(super) fn write_group_of(out: &mut Vec<u8>, group: &Group) {
    let status = group.lock().status();
    if let Some(id) = group.id {
        wire::write_group(
            out,
            id,
            group.created_at,
            group.metadata.as_deref(),
            &status,
        );
    }
}
