//! `run --dry-run`: the checks a run makes before it sends anything (the input read whole,
//! the task, the job's state, `--max-cost`), then how many runs it would send and what they
//! would cost. No group is made, nothing is sent, and no file is written, not even the
//! job's directory.

use std::path::Path;

use parallel_client::pricing::Estimate;

use super::feed;
use super::job::Job;
use super::plan::{self, Plan};
use super::stdio;
use crate::error::Error;

/// What a dry run found.
#[derive(Debug)]
pub(crate) struct DryRun {
    job: Job,
    plan: Plan,
    estimate: Option<Estimate>,
    /// Which delimiter a CSV input is read with, when its header chose another than its
    /// extension implies.
    delimiter_note: Option<String>,
}

/// Checks `job` as a run would before sending anything, on the backend `label`
/// (`embedded`: the embedded emulator, not started), and says what the run would send.
pub(crate) async fn dry_run(mut job: Job, label: &str, embedded: bool) -> Result<DryRun, Error> {
    if crate::files::earlier::not_taken_over(&job.files()) {
        // Its state is read where a run moves it, which a dry run does not do.
        return Err(Error::state(format!(
            "{} is the output of a job an earlier parallel-batch started, whose files are \
             still beside it; a dry run does not move them. Run the command without \
             --dry-run (with --max-cost to bound what it sends): it moves them into {} and \
             says what the rest will cost before it sends anything",
            job.output.display(),
            job.files().dir().display()
        )));
    }
    let (input, output) = (job.input.clone(), job.output.clone());
    // Standard input is read into a temporary file, removed with `_stdio`.
    let _stdio = stdio::redirect(&mut job)?;
    let scanned = feed::scan(&job).await?;
    let plan = plan::plan(&job, label, embedded, &scanned)?;
    let estimate = job.pricing.check(&job.processor, plan.runs)?;
    (job.input, job.output) = (input, output);
    let delimiter_note = scanned.delimiter.and_then(|d| d.notice(&job.input));
    Ok(DryRun {
        job,
        plan,
        estimate,
        delimiter_note,
    })
}

impl DryRun {
    /// Prints what the run would do: a JSON object on standard output with `json`, else a
    /// few lines there.
    pub(crate) fn print(&self, json: bool) {
        let (job, plan) = (&self.job, &self.plan);
        if json {
            let mut members = plan::json_members(job, plan, self.estimate.as_ref());
            members.insert("dry_run".into(), true.into());
            members.insert("input".into(), path_json(&job.input));
            members.insert("output".into(), path_json(&job.output));
            if let Some(note) = &self.delimiter_note {
                members.insert("delimiter_note".into(), note.clone().into());
            }
            println!("{}", serde_json::Value::Object(members));
            return;
        }
        let what = if plan.runs == 0 {
            format!(
                "Dry run: nothing to send; all {} rows of {} are in {} already.",
                plan.rows,
                job.input.display(),
                job.output.display()
            )
        } else {
            let again = super::report::sent_again(plan.fixed, plan.retried)
                .map(|again| format!(" ({again})"))
                .unwrap_or_default();
            format!(
                "Dry run: {} of the {} rows of {} would be sent{again}.\n{}",
                plan.runs,
                plan.rows,
                job.input.display(),
                plan::describe(job, plan, self.estimate.as_ref())
            )
        };
        if let Some(note) = &self.delimiter_note {
            println!("{note}");
        }
        println!("{what}\nNothing was sent and no file was written.");
    }
}

fn path_json(path: &Path) -> serde_json::Value {
    path.to_string_lossy().into_owned().into()
}
