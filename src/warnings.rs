//! A fixed-capacity list of boot-time warnings (no heap exists when they are collected): the
//! command-line parser and the layout computation each return one, and boot prints them.

/// Up to `N` warnings in the order they arose; more are counted, not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warnings<T: Copy, const N: usize> {
    items: [Option<T>; N],
    len: usize,
    dropped: usize,
}

impl<T: Copy, const N: usize> Default for Warnings<T, N> {
    fn default() -> Self {
        Self { items: [None; N], len: 0, dropped: 0 }
    }
}

impl<T: Copy, const N: usize> Warnings<T, N> {
    pub(crate) fn push(&mut self, w: T) {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(w);
                self.len += 1;
            }
            None => self.dropped += 1,
        }
    }

    /// Appends another list's warnings (and its count of dropped ones).
    pub fn extend(&mut self, other: &Self) {
        for w in other.iter() {
            self.push(*w);
        }
        self.dropped += other.dropped;
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items[..self.len].iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Warnings that did not fit.
    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_n_and_counts_the_rest() {
        let mut w: Warnings<u8, 2> = Warnings::default();
        assert!(w.is_empty());
        for i in 0..5 {
            w.push(i);
        }
        assert_eq!(w.iter().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!((w.len(), w.dropped()), (2, 3));
    }
}
