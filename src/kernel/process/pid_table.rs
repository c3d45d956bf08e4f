//! The task table indexed by pid, as Linux finds a task by pid through its pid namespace's
//! `idr` (`find_task_by_vpid`) in a fixed number of steps: a two-level table, the first level
//! one slot per 64 pids (allocated once, with the table), the second a chunk of 64 task slots
//! allocated when its first pid is used and freed with its last. A lookup is two indexings
//! whatever the number of tasks; a `BTreeMap` keyed by pid, which this replaces, searched a
//! node or two whose length grew with the number of tasks on every lookup, and the scheduler,
//! fork, exit and wait look tasks up many times per fork. Iteration is in pid order (`ps`,
//! `/proc`), over the chunks in use only (a bitmap of them).
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Pids per second-level chunk.
const CHUNK: usize = 64;
/// Bits per word of the bitmap of chunks in use.
const WORD: usize = u64::BITS as usize;

/// One chunk of 64 pids' slots and how many of them are in use.
struct Chunk<T> {
    slots: [Option<Box<T>>; CHUNK],
    live: usize,
}

/// A table of boxed values (tasks) by pid, for pids below the `limit` it was made with.
pub struct PidTable<T> {
    /// The chunks, by `pid / CHUNK`.
    chunks: Box<[Option<Box<Chunk<T>>>]>,
    /// Which chunks exist (bit `i % 64` of word `i / 64` for chunk `i`).
    in_use: Vec<u64>,
    len: usize,
}

impl<T> PidTable<T> {
    /// An empty table for pids `0..limit` (`pid_max`): its first level is allocated here, so
    /// that later inserts allocate only chunks (and a table whose tasks have all gone holds
    /// no more memory than before they came).
    pub fn new(limit: u32) -> Self {
        let n = (limit as usize).div_ceil(CHUNK);
        PidTable {
            chunks: (0..n).map(|_| None).collect(),
            in_use: alloc::vec![0; n.div_ceil(WORD)],
            len: 0,
        }
    }

    /// The number of values (`nr_threads` for the task table).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, pid: u32) -> Option<&Option<Box<T>>> {
        let pid = pid as usize;
        self.chunks.get(pid / CHUNK)?.as_ref().map(|c| &c.slots[pid % CHUNK])
    }

    pub fn get(&self, pid: &u32) -> Option<&T> {
        self.slot(*pid)?.as_deref()
    }

    pub fn get_mut(&mut self, pid: &u32) -> Option<&mut T> {
        let pid = *pid as usize;
        self.chunks.get_mut(pid / CHUNK)?.as_mut()?.slots[pid % CHUNK].as_deref_mut()
    }

    pub fn contains_key(&self, pid: &u32) -> bool {
        self.slot(*pid).is_some_and(|s| s.is_some())
    }

    /// Puts `value` under `pid`; the value it replaces. Panics for a pid at or above the
    /// table's limit (pids come from `alloc_pid`, which stays below it).
    pub fn insert(&mut self, pid: u32, value: Box<T>) -> Option<Box<T>> {
        let pid = pid as usize;
        let i = pid / CHUNK;
        let chunk = self.chunks[i]
            .get_or_insert_with(|| Box::new(Chunk { slots: [const { None }; CHUNK], live: 0 }));
        let old = chunk.slots[pid % CHUNK].replace(value);
        if old.is_none() {
            chunk.live += 1;
            self.len += 1;
            self.in_use[i / WORD] |= 1 << (i % WORD);
        }
        old
    }

    /// Takes the value under `pid` out; its chunk goes with the last value in it.
    pub fn remove(&mut self, pid: &u32) -> Option<Box<T>> {
        let pid = *pid as usize;
        let i = pid / CHUNK;
        let chunk = self.chunks.get_mut(i)?.as_mut()?;
        let old = chunk.slots[pid % CHUNK].take()?;
        chunk.live -= 1;
        self.len -= 1;
        if chunk.live == 0 {
            self.chunks[i] = None;
            self.in_use[i / WORD] &= !(1 << (i % WORD));
        }
        Some(old)
    }

    /// The pids and values, in pid order (the chunks in use only: a word of the bitmap that
    /// is 0 skips 64 chunks at once).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        let groups = self.chunks.chunks(WORD).enumerate();
        self.in_use
            .iter()
            .zip(groups)
            .filter(|(bits, _)| **bits != 0)
            .flat_map(|(_, (g, group))| {
                group
                    .iter()
                    .enumerate()
                    .filter_map(move |(k, c)| Some(((g * WORD + k) * CHUNK, c.as_deref()?)))
            })
            .flat_map(|(base, chunk)| {
                chunk
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(move |(j, s)| Some(((base + j) as u32, s.as_deref()?)))
            })
    }

    /// The values, in pid order.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The pids, in order.
    pub fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter().map(|(pid, _)| pid)
    }

    /// The values, mutable, in pid order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        let groups = self.chunks.chunks_mut(WORD);
        self.in_use
            .iter()
            .zip(groups)
            .filter(|(bits, _)| **bits != 0)
            .flat_map(|(_, group)| group.iter_mut().flatten())
            .flat_map(|c| c.slots.iter_mut().flatten().map(|b| &mut **b))
    }
}

impl<T> core::ops::Index<&u32> for PidTable<T> {
    type Output = T;

    /// The value under `pid`; panics when there is none, as a map's index does.
    fn index(&self, pid: &u32) -> &T {
        self.get(pid).expect("no value under this pid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    const LIMIT: u32 = 32768;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32, u32),
        Remove(u32),
        Get(u32),
    }

    fn pid() -> impl Strategy<Value = u32> {
        // Clustered pids (chunks filled and emptied) and some anywhere, a few past the limit.
        prop_oneof![0u32..200, 0u32..LIMIT, LIMIT - 70..LIMIT + 70]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (pid(), any::<u32>()).prop_map(|(p, v)| Op::Insert(p, v)),
            pid().prop_map(Op::Remove),
            pid().prop_map(Op::Get),
        ]
    }

    proptest! {
        /// The table against a `BTreeMap` model: every operation's answer, the length, and
        /// the order of iteration, after every step.
        #[test]
        fn pid_table_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..300)) {
            let mut t: PidTable<u32> = PidTable::new(LIMIT);
            let mut model: BTreeMap<u32, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(p, v) if p < LIMIT => {
                        prop_assert_eq!(t.insert(p, Box::new(v)).map(|b| *b), model.insert(p, v));
                    }
                    Op::Insert(..) => {}
                    Op::Remove(p) => prop_assert_eq!(t.remove(&p).map(|b| *b), model.remove(&p)),
                    Op::Get(p) => {
                        prop_assert_eq!(t.get(&p).copied(), model.get(&p).copied());
                        prop_assert_eq!(t.contains_key(&p), model.contains_key(&p));
                        if let Some(v) = t.get_mut(&p) {
                            *v = v.wrapping_add(1);
                            *model.get_mut(&p).unwrap() = *v;
                        }
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                prop_assert_eq!(t.is_empty(), model.is_empty());
                let got: Vec<(u32, u32)> = t.iter().map(|(p, v)| (p, *v)).collect();
                let want: Vec<(u32, u32)> = model.iter().map(|(p, v)| (*p, *v)).collect();
                prop_assert_eq!(&got, &want);
                prop_assert!(t.keys().eq(model.keys().copied()));
                let mut_order: Vec<u32> = t.values_mut().map(|v| *v).collect();
                prop_assert!(mut_order.iter().eq(model.values()));
            }
        }
    }

    /// A chunk goes with its last value: a table emptied holds only its first level.
    #[test]
    fn pid_table_frees_empty_chunks() {
        let mut t: PidTable<u32> = PidTable::new(LIMIT);
        for p in 60..200 {
            t.insert(p, Box::new(p));
        }
        assert_eq!(t.chunks.iter().filter(|c| c.is_some()).count(), 4);
        for p in 60..130 {
            assert_eq!(t.remove(&p).map(|b| *b), Some(p));
        }
        assert_eq!(t.chunks.iter().filter(|c| c.is_some()).count(), 2);
        for p in 130..200 {
            t.remove(&p);
        }
        assert!(t.chunks.iter().all(|c| c.is_none()));
        assert!(t.in_use.iter().all(|&w| w == 0));
    }

    /// A pid at or above the limit is never there (a `kill` of any number asks).
    #[test]
    fn pid_table_pids_past_the_limit_are_absent() {
        let mut t: PidTable<u32> = PidTable::new(LIMIT);
        t.insert(LIMIT - 1, Box::new(7));
        assert_eq!(t.get(&(LIMIT - 1)), Some(&7));
        assert_eq!(t.get(&LIMIT), None);
        assert_eq!(t.get(&u32::MAX), None);
        assert!(t.get_mut(&u32::MAX).is_none());
        assert!(t.remove(&(LIMIT + 5)).is_none());
        assert_eq!(t[&(LIMIT - 1)], 7);
    }
}
