//! Which input line each row starts on, kept small: the distance from row number to line
//! number changes only at multi-line rows, blank lines and the like, so only the changes are
//! stored (one entry for an ordinary file, whatever its length).

/// Row number to input line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LineMap {
    /// (first row, line minus row from that row on), by row.
    steps: Vec<(u64, u64)>,
}

impl LineMap {
    /// Records that `row` starts on `line` (rows in increasing order).
    pub(crate) fn push(&mut self, row: u64, line: u64) {
        let delta = line.saturating_sub(row);
        if self.steps.last().is_none_or(|&(_, d)| d != delta) {
            self.steps.push((row, delta));
        }
    }

    /// The line where `row` starts, if it was recorded.
    pub(crate) fn line(&self, row: u64) -> Option<u64> {
        let at = self.steps.partition_point(|&(start, _)| start <= row);
        let (_, delta) = self.steps.get(at.checked_sub(1)?)?;
        Some(row + delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_steps() {
        let mut map = LineMap::default();
        for (row, line) in [(0, 2), (1, 3), (2, 4), (3, 7), (4, 8), (5, 10)] {
            map.push(row, line);
        }
        assert_eq!(map.steps.len(), 3, "one entry per change");
        let lines: Vec<_> = (0..6).map(|r| map.line(r).unwrap()).collect();
        assert_eq!(lines, [2, 3, 4, 7, 8, 10]);
        assert_eq!(LineMap::default().line(0), None);
    }
}
