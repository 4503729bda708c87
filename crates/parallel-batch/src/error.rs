//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

use parallel_client::Error as ClientError;

/// Everything that can stop a `parallel-batch` command.
///
/// Opaque on purpose: match with the `is_*()` predicates, read the message with `Display`, and
/// walk the cause with [`std::error::Error::source`]. Every message says what happened and, where
/// there is one, what to do about it.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

#[derive(Debug)]
enum Kind {
    /// The command line asks for something impossible.
    Usage(String),
    /// A row of the input file is malformed.
    Input {
        path: PathBuf,
        /// What `line` counts: `line` (CSV, JSONL) or `row` (Parquet).
        unit: &'static str,
        line: u64,
        column: Option<String>,
        message: String,
    },
    /// The input file as a whole is unreadable (say, not a Parquet file).
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    InputFile { path: PathBuf, message: String },
    /// Reading or writing a local file failed.
    Io { what: String },
    /// The state file beside the output is unusable.
    State(String),
    /// No API key and nothing else to talk to.
    MissingKey,
    /// The API (or the network) refused: the client's error is the source; `advice` is what
    /// its message does not say (the API's detail, what to check), told after it.
    Api {
        what: String,
        advice: Option<String>,
    },
    /// The user pressed Ctrl-C (SIGINT, exit 130) or the process got SIGTERM (exit 143).
    Interrupted { exit_code: u8 },
}

impl Error {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage(message.into()))
    }

    pub(crate) fn input(
        path: impl Into<PathBuf>,
        line: u64,
        column: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::input_at(path, "line", line, column, message)
    }

    /// An input error at `line`, counted in `unit` (`line`, or `row` for Parquet).
    pub(crate) fn input_at(
        path: impl Into<PathBuf>,
        unit: &'static str,
        line: u64,
        column: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Kind::Input {
            path: path.into(),
            unit,
            line,
            column,
            message: message.into(),
        })
    }

    /// The input file as a whole cannot be read (as its format).
    pub(crate) fn input_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(Kind::InputFile {
            path: path.into(),
            message: message.into(),
        })
    }

    /// Parquet was asked for, and this build has no Parquet support.
    #[cfg(not(feature = "parquet"))]
    pub(crate) fn parquet_not_built() -> Self {
        Self::usage(
            "this parallel-batch was built without Parquet support; build it with the \
             `parquet` feature (`cargo install parallel-batch --features parquet`, or \
             `cargo run --release -p parallel-batch --features parquet -- ...`)",
        )
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(Kind::Io { what: what.into() }).with_source(source)
    }

    pub(crate) fn state(message: impl Into<String>) -> Self {
        Self::new(Kind::State(message.into()))
    }

    pub(crate) fn missing_key() -> Self {
        Self::new(Kind::MissingKey)
    }

    pub(crate) fn api(what: impl Into<String>, source: ClientError) -> Self {
        Self::new(Kind::Api {
            what: what.into(),
            advice: api_advice(&source),
        })
        .with_source(source)
    }

    /// An API error known by its message only (no client error to keep as the source).
    pub(crate) fn api_message_only(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Kind::Api {
            what: format!("{}: {}", what.into(), message.into()),
            advice: None,
        })
    }

    /// Stopped by SIGINT (Ctrl-C): exit code 130.
    pub(crate) fn interrupted() -> Self {
        Self::new(Kind::Interrupted { exit_code: 130 })
    }

    /// Stopped by SIGTERM: exit code 143.
    pub(crate) fn terminated() -> Self {
        Self::new(Kind::Interrupted { exit_code: 143 })
    }

    fn new(kind: Kind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The command line was inconsistent (for example two task definitions at once).
    pub fn is_usage(&self) -> bool {
        matches!(self.kind, Kind::Usage(_))
    }

    /// The input file, or a row of it, could not be read; the message names the file and,
    /// for a row, its line (its row for Parquet) and column.
    pub fn is_input(&self) -> bool {
        matches!(self.kind, Kind::Input { .. } | Kind::InputFile { .. })
    }

    /// A local file could not be read or written.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io { .. })
    }

    /// The state file beside the output does not match this command or is damaged.
    pub fn is_state(&self) -> bool {
        matches!(self.kind, Kind::State(_))
    }

    /// No API key was configured for a command that needs the real API.
    pub fn is_missing_key(&self) -> bool {
        matches!(self.kind, Kind::MissingKey)
    }

    /// The message, each of its causes, then what to check: what the tool prints.
    /// (`Display` is the message alone, never a cause's text, as error reporters that walk
    /// [`source`](std::error::Error::source) expect.)
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            text.push_str(": ");
            text.push_str(&error.to_string());
            cause = error.source();
        }
        if let Kind::Api {
            advice: Some(advice),
            ..
        } = &self.kind
        {
            text.push_str(advice);
        }
        text
    }

    /// The API answered with an error, or could not be reached.
    pub fn is_api(&self) -> bool {
        matches!(self.kind, Kind::Api { .. })
    }

    /// The account is out of credit (the API answered `402 Payment Required`): add credit and
    /// run the same command again to finish the job.
    pub fn is_insufficient_credit(&self) -> bool {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<ClientError>())
            .is_some_and(ClientError::is_insufficient_credit)
    }

    /// The user interrupted the command (Ctrl-C or SIGTERM); what was written is kept.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.kind, Kind::Interrupted { .. })
    }

    /// The line of the input file at fault, for input errors.
    pub fn line(&self) -> Option<u64> {
        match &self.kind {
            Kind::Input { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The process exit code this error maps to: 2 for usage and input mistakes, 130 for an
    /// interruption (143 for SIGTERM), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Usage(_) | Kind::Input { .. } | Kind::InputFile { .. } | Kind::MissingKey => 2,
            Kind::Interrupted { exit_code } => exit_code,
            _ => 1,
        }
    }
}

/// What the client's message leaves out: the detail of the API's error (validation errors
/// reach the user verbatim), and for a refused key, what to check.
fn api_advice(error: &ClientError) -> Option<String> {
    let mut advice = String::new();
    if let Some(detail) = error.api_error().and_then(|api| api.detail.as_ref()) {
        let detail = detail.to_string();
        if detail != "null" {
            advice = format!(" ({detail})");
        }
    }
    if error.status().is_some_and(|s| s.as_u16() == 401) {
        advice.push_str(
            "; check PARALLEL_API_KEY (create a key at https://platform.parallel.ai), \
             or run on the local emulator with --emulator",
        );
    }
    (!advice.is_empty()).then_some(advice)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Usage(message) | Kind::State(message) => f.write_str(message),
            Kind::Input {
                path,
                unit,
                line,
                column,
                message,
            } => {
                write!(f, "{}: {unit} {line}", path.display())?;
                if let Some(column) = column {
                    write!(f, ", column {column}")?;
                }
                write!(f, ": {message}")
            }
            Kind::InputFile { path, message } => write!(f, "{}: {message}", path.display()),
            // The cause is the `source()`, so that error reporters print it once; the tool's
            // own report ([`Error::report`]) appends it (and an API error's advice after it).
            Kind::Io { what } | Kind::Api { what, .. } => f.write_str(what),
            Kind::MissingKey => f.write_str(
                "no API key: set PARALLEL_API_KEY (for example `export PARALLEL_API_KEY=...`, \
                 keys are created at https://platform.parallel.ai), or pass --base-url to \
                 talk to a running emulator (`parallel-batch emulator`)",
            ),
            Kind::Interrupted { .. } => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn an_io_error_names_its_cause_once() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::io("cannot open in.csv", cause);
        assert_eq!(error.to_string(), "cannot open in.csv");
        let source = std::error::Error::source(&error).expect("the cause is the source");
        assert_eq!(source.to_string(), "no such file");
        assert_eq!(error.report(), "cannot open in.csv: no such file");
    }

    /// A client error from a server that answers 401 with an API error body.
    fn refused_key() -> parallel_client::Error {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request);
            let body = r#"{"type":"error","error":{"ref_id":"r1","message":"Invalid API key","detail":{"hint":"rotate"}}}"#;
            let answer = format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).unwrap();
        });
        let client = parallel_client::Client::builder()
            .base_url(&url)
            .api_key("wrong")
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(std::future::IntoFuture::into_future(
                client.group("tgrp_1").get(),
            ))
            .unwrap_err()
    }

    #[test]
    fn an_api_error_leaves_its_cause_to_source_and_reports_it_once() {
        let cause = refused_key();
        let cause_text = cause.to_string();
        assert!(cause_text.contains("Invalid API key"), "{cause_text}");
        let error = Error::api("cannot get group tgrp_1", cause);
        assert_eq!(error.to_string(), "cannot get group tgrp_1");
        let source = std::error::Error::source(&error).expect("the cause is the source");
        assert_eq!(source.to_string(), cause_text);
        let report = error.report();
        assert_eq!(report.matches("Invalid API key").count(), 1, "{report}");
        assert!(
            report.starts_with(&format!("cannot get group tgrp_1: {cause_text}")),
            "{report}"
        );
        assert!(
            report.ends_with(
                " ({\"hint\":\"rotate\"}); check PARALLEL_API_KEY (create a key at \
                 https://platform.parallel.ai), or run on the local emulator with --emulator"
            ),
            "{report}"
        );
    }
}
