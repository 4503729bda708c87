//! Shell completion scripts and man pages, generated from the command line's clap
//! definition, so that they cannot drift from what the tool accepts.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

/// The name the scripts and pages call the tool by.
const BIN: &str = "parallel-batch";

/// The name the bash script is generated under: one without a hyphen. `clap_complete`'s bash
/// script spells a subcommand's state two ways when the name has a hyphen, so that it never
/// completes a subcommand's flags (clap-rs/clap#6421); the script is then registered for
/// [`BIN`].
const BASH_NAME: &str = "parallel_batch";

/// Writes the completion script for `shell` to `out`.
pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    if shell != clap_complete::Shell::Bash {
        clap_complete::generate(shell, &mut visible_command(), BIN, out);
        return;
    }
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(), BASH_NAME, &mut script);
    let script = String::from_utf8_lossy(&script).replace(
        &format!(" -o default {BASH_NAME}\n"),
        &format!(" -o default {BIN}\n"),
    );
    let _ = out.write_all(script.as_bytes());
}

/// Prints the completion script for `shell` on standard output.
pub(crate) fn print_completions(shell: clap_complete::Shell) -> Result<(), Error> {
    // Rendered first: the generator panics on a failed write, say a closed pipe.
    let mut script = Vec::new();
    completions(shell, &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

/// The command line as a user sees it: the hidden commands (the man pages' generator) left
/// out, which completion scripts would otherwise offer.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let mut visible = clap::Command::new(BIN).version(env!("CARGO_PKG_VERSION"));
    if let Some(about) = full.get_about() {
        visible = visible.about(about.clone());
    }
    visible
        .args(full.get_arguments().cloned())
        .subcommand_required(true)
        .subcommands(full.get_subcommands().filter(|c| !c.is_hide_set()).cloned())
}

/// The man pages: `parallel-batch.1`, and `parallel-batch-COMMAND.1` for each command, as
/// (file name, roff text).
pub(crate) fn man_pages() -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut command = visible_command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    for sub in command.get_subcommands() {
        pages.push(man_page(sub.clone())?);
    }
    pages.insert(0, man_page(command)?);
    Ok(pages)
}

fn man_page(command: clap::Command) -> Result<(String, Vec<u8>), Error> {
    let man = clap_mangen::Man::new(command);
    let mut roff = Vec::new();
    man.render(&mut roff)
        .map_err(|e| Error::io("cannot render a man page", e))?;
    Ok((man.get_filename(), roff))
}

/// Writes the man pages into `dir`, and names them on stderr.
pub(crate) fn write_man_pages(dir: &Path) -> Result<(), Error> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a directory; make it first",
            dir.display()
        )));
    }
    for (name, roff) in man_pages()? {
        let path = dir.join(name);
        std::fs::write(&path, roff)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        eprintln!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(shell: clap_complete::Shell) -> String {
        let mut out = Vec::new();
        completions(shell, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn completion_scripts_offer_every_command_and_run_flag_but_no_hidden_one() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let script = script(shell);
            for word in [
                "run",
                "status",
                "wait",
                "results",
                "events",
                "emulator",
                "completions",
                // Fish names a long flag `-l dry-run`.
                "dry-run",
                "max-cost",
                "prices",
                "basis",
                "base-url",
            ] {
                assert!(script.contains(word), "{shell}: no `{word}`");
            }
            assert!(!script.contains("man-pages"), "{shell}: offers man-pages");
        }
    }

    #[test]
    fn man_pages_document_every_command_and_flag() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "parallel-batch.1",
                "parallel-batch-run.1",
                "parallel-batch-status.1",
                "parallel-batch-wait.1",
                "parallel-batch-results.1",
                "parallel-batch-events.1",
                "parallel-batch-emulator.1",
                "parallel-batch-completions.1",
            ]
        );
        let page = |name: &str| {
            let (_, roff) = pages.iter().find(|(n, _)| n == name).unwrap();
            String::from_utf8(roff.clone()).unwrap()
        };
        // roff writes a flag's hyphens escaped: `\-\-dry\-run`.
        let run = page("parallel-batch-run.1");
        for flag in [
            r"\-\-dry\-run",
            r"\-\-max\-cost",
            r"\-\-prices",
            r"\-\-basis",
            r"\-\-columns",
        ] {
            assert!(run.contains(flag), "run page without {flag}");
        }
        assert!(page("parallel-batch-results.1").contains(r"\-\-basis"));
        let main = page("parallel-batch.1");
        assert!(main.contains(r"\-\-base\-url") && main.contains("completions"));
        assert!(
            !main.contains("man\\-pages"),
            "the hidden command is listed"
        );
    }
}
