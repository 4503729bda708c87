//! The order of the rows in a finished file.

/// The order of the rows in a finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Order {
    /// By input row (`row`), as the input had them: what a spreadsheet user expects.
    Input,
    /// As the runs finished (for `results`: as the group's runs stream gives them), the
    /// order in which the file grew.
    Completion,
}
