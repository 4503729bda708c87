//! `-` as the input (standard input) and `-o -` (standard output). The job itself needs
//! files (it reads its input twice and keeps a state beside its output), so standard input
//! is first saved to a temporary file, and the output is written to one and copied to
//! standard output once complete. Such a job cannot be resumed: the temporary files go
//! with the process, and the tool says so.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::progress::notice;
use crate::{Error, OutputFormat};

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

/// The arguments with files in place of `-`, and the temporary files, if any.
pub(crate) fn redirect(args: &RunArgs) -> Result<(Cow<'_, RunArgs>, Option<Stdio>), Error> {
    if !is_dash(&args.input) && !is_dash(&args.output) {
        return Ok((Cow::Borrowed(args), None));
    }
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    let mut args = args.clone();
    if is_dash(&args.input) {
        let Some(format) = args.format else {
            return Err(Error::usage(
                "reading standard input (`-`) needs --format csv, jsonl or parquet",
            ));
        };
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
        args.input = path;
        args.format = Some(format);
    }
    let mut to_stdout = None;
    if is_dash(&args.output) {
        let format = args.output_format.unwrap_or(OutputFormat::Jsonl);
        let name = match format {
            OutputFormat::Csv => "out.csv",
            OutputFormat::Jsonl => "out.jsonl",
            OutputFormat::Parquet => "out.parquet",
        };
        args.output = dir.path().join(name);
        args.output_format = Some(format);
        to_stdout = Some(args.output.clone());
    }
    Ok((
        Cow::Owned(args),
        Some(Stdio {
            _dir: dir,
            to_stdout,
        }),
    ))
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
