//! `-` as the input (standard input) and `-o -` (standard output). The job itself needs
//! files (it reads its input twice and keeps a state beside its output), so standard input
//! is first saved to a temporary file, and the output is written to one and copied to
//! standard output once complete. Such a job cannot be resumed: the temporary files go
//! with the process, and the tool says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::job::Job;
use crate::error::Error;
use crate::output::OutputFormat;
use crate::progress::notice;

/// The temporary files of a job on standard input or output.
pub(crate) struct Stdio {
    _dir: tempfile::TempDir,
    /// The temporary output to copy to standard output at the end.
    to_stdout: Option<PathBuf>,
}

/// Whether `path` is `-`: standard input or output.
pub(crate) fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Puts files in place of `-` in the job (standard input saved to a temporary file, the
/// output written to one); the temporary files, if any.
pub(crate) fn redirect(job: &mut Job) -> Result<Option<Stdio>, Error> {
    if !is_dash(&job.input) && !is_dash(&job.output) {
        return Ok(None);
    }
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    if is_dash(&job.input) {
        let path = dir.path().join("stdin");
        let mut file =
            std::fs::File::create(&path).map_err(|e| Error::io("cannot save standard input", e))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut file)
            .map_err(|e| Error::io("cannot read standard input", e))?;
        notice(
            "message",
            "Reading standard input: a job on standard input cannot be resumed if it is \
             interrupted; give the input as a file to be able to resume.",
        );
        job.input = path;
    }
    let mut to_stdout = None;
    if is_dash(&job.output) {
        let name = match job.output_format {
            OutputFormat::Csv => "out.csv",
            OutputFormat::Jsonl => "out.jsonl",
            OutputFormat::Parquet => "out.parquet",
        };
        job.output = dir.path().join(name);
        to_stdout = Some(job.output.clone());
    }
    Ok(Some(Stdio {
        _dir: dir,
        to_stdout,
    }))
}

impl Stdio {
    /// Copies a finished job's output to standard output.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        match &self.to_stdout {
            Some(path) => copy_to_stdout(path),
            None => Ok(()),
        }
    }
}

/// Copies the finished file at `path` to standard output.
pub(crate) fn copy_to_stdout(path: &Path) -> Result<(), Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot read the output", e))?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))?;
    Ok(())
}
