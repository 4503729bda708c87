//! The compact row sets the state stores: which rows are written, submitted, rejected...

/// A set of row numbers, one bit per row: 125 KB for a million rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowSet {
    words: Vec<u64>,
    len: u64,
}

impl RowSet {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `row`; returns whether it was new.
    pub(crate) fn insert(&mut self, row: u64) -> bool {
        let (word, bit) = Self::locate(row);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        if self.words[word] & mask == 0 {
            self.words[word] |= mask;
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Removes `row`; returns whether it was there.
    pub(crate) fn remove(&mut self, row: u64) -> bool {
        let (word, bit) = Self::locate(row);
        let mask = 1u64 << bit;
        match self.words.get_mut(word) {
            Some(w) if *w & mask != 0 => {
                *w &= !mask;
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    /// Whether `row` is in the set.
    pub(crate) fn contains(&self, row: u64) -> bool {
        let (word, bit) = Self::locate(row);
        self.words.get(word).is_some_and(|w| w & (1u64 << bit) != 0)
    }

    /// How many rows are in the set.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The set as sorted, disjoint, half-open ranges `[start, end)`.
    pub(crate) fn ranges(&self) -> Vec<[u64; 2]> {
        let mut ranges: Vec<[u64; 2]> = Vec::new();
        for (index, &word) in self.words.iter().enumerate() {
            if word == 0 {
                continue;
            }
            let base = index as u64 * 64;
            let mut bits = word;
            while bits != 0 {
                let row = base + u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                match ranges.last_mut() {
                    Some(last) if last[1] == row => last[1] = row + 1,
                    _ => ranges.push([row, row + 1]),
                }
            }
        }
        ranges
    }

    /// Builds a set from half-open ranges (as written by [`RowSet::ranges`]).
    pub(crate) fn from_ranges(ranges: &[[u64; 2]]) -> Self {
        let mut set = Self::new();
        for &[start, end] in ranges {
            for row in start..end {
                set.insert(row);
            }
        }
        set
    }

    fn locate(row: u64) -> (usize, u32) {
        // Row numbers index a file the tool streams; they fit usize on every supported target.
        #[allow(clippy::cast_possible_truncation)]
        let word = (row / 64) as usize;
        #[allow(clippy::cast_possible_truncation)]
        let bit = (row % 64) as u32;
        (word, bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_set_counts_and_ranges() {
        let mut set = RowSet::new();
        for row in [0, 1, 2, 5, 63, 64, 65, 200] {
            assert!(set.insert(row));
        }
        assert!(!set.insert(64));
        assert_eq!(set.len(), 8);
        assert!(set.contains(63) && !set.contains(3) && !set.contains(10_000));
        assert_eq!(set.ranges(), vec![[0, 3], [5, 6], [63, 66], [200, 201]]);
        assert_eq!(RowSet::from_ranges(&set.ranges()), set);
    }
}
