//! Bios and requests (`struct bio`, `struct request`) and a disk's request queue: a FIFO in
//! which a bio that continues the last queued request (same partition, direction, next
//! sector) is merged into it (a back merge, `blk_attempt_back_merge`); requests go to the
//! driver one at a time in arrival order. Pure: the segments are kernel addresses the
//! submitter owns until the bio completes.
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::genhd::ReqOp;
use super::SECTOR_SHIFT;

/// One segment of a bio (`struct bio_vec`, its page already resolved to a kernel address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BioVec {
    pub addr: usize,
    pub len: u32,
}

/// A bio's completion (`bi_end_io` + `bi_status`), shared with the task waiting for it.
#[derive(Debug, Default)]
pub struct Completion {
    done: AtomicBool,
    /// 0 or a negative errno.
    status: AtomicI32,
}

impl Completion {
    pub fn new() -> Arc<Completion> {
        Arc::new(Completion::default())
    }

    /// `bio_endio`: records the status, then marks the bio done.
    pub fn complete(&self, status: i32) {
        self.status.store(status, Ordering::Relaxed);
        self.done.store(true, Ordering::Release);
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// 0 or the negative errno the bio ended with.
    pub fn status(&self) -> i32 {
        self.status.load(Ordering::Relaxed)
    }
}

/// A bio: `op` on the sectors from `sector` (the whole disk's numbering, after the
/// partition remap) into or from `segs`, in 512-byte multiples.
#[derive(Debug)]
pub struct Bio {
    pub op: ReqOp,
    /// The partition the bio was submitted to (0: the whole disk), for the accounting.
    pub partno: u32,
    pub sector: u64,
    pub segs: Vec<BioVec>,
    pub done: Arc<Completion>,
}

impl Bio {
    /// Bytes the bio moves.
    pub fn size(&self) -> u64 {
        self.segs.iter().map(|s| u64::from(s.len)).sum()
    }

    /// `bio_sectors`.
    pub fn sectors(&self) -> u64 {
        self.size() >> SECTOR_SHIFT
    }
}

/// A request: one or more bios covering consecutive sectors, all one direction.
#[derive(Debug)]
pub struct Request {
    pub op: ReqOp,
    pub partno: u32,
    pub sector: u64,
    pub nr_sectors: u64,
    pub bios: Vec<Bio>,
    /// When the first bio was queued (ns), for the accounting of its time.
    pub start_ns: u64,
}

impl Request {
    /// The segments in transfer order.
    pub fn segments(&self) -> impl Iterator<Item = &BioVec> {
        self.bios.iter().flat_map(|b| b.segs.iter())
    }

    /// Completes every bio with `status`.
    pub fn complete(&self, status: i32) {
        for b in &self.bios {
            b.done.complete(status);
        }
    }
}

/// What `add_bio` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    /// The bio joined the last queued request (counted as a merge).
    Merged,
    /// It became a new request at the tail.
    New,
}

/// A disk's queue of requests not yet given to the driver.
#[derive(Debug, Default)]
pub struct RequestQueue {
    fifo: VecDeque<Request>,
    /// Largest request in sectors (`max_hw_sectors`).
    pub max_sectors: u64,
}

impl RequestQueue {
    pub fn new(max_sectors: u64) -> RequestQueue {
        RequestQueue { fifo: VecDeque::new(), max_sectors }
    }

    /// Queues `bio`, merging it into the last request when it continues it.
    pub fn add_bio(&mut self, bio: Bio, now_ns: u64) -> Queued {
        if let Some(last) = self.fifo.back_mut() {
            if last.op == bio.op
                && last.partno == bio.partno
                && last.sector + last.nr_sectors == bio.sector
                && last.nr_sectors + bio.sectors() <= self.max_sectors
            {
                last.nr_sectors += bio.sectors();
                last.bios.push(bio);
                return Queued::Merged;
            }
        }
        let rq = Request {
            op: bio.op,
            partno: bio.partno,
            sector: bio.sector,
            nr_sectors: bio.sectors(),
            bios: alloc::vec![bio],
            start_ns: now_ns,
        };
        self.fifo.push_back(rq);
        Queued::New
    }

    /// Appends `rq` (a plug's request), merging it into the last queued request when it
    /// continues it (same partition and direction, next sector, within `max_sectors`), as
    /// `blk_mq_flush_plug_list`'s insert tries a back merge. Whether it merged (its first
    /// bio is then one more merge; the others were counted when they joined it).
    pub fn add_request(&mut self, rq: Request) -> bool {
        if let Some(last) = self.fifo.back_mut() {
            if last.op == rq.op
                && last.partno == rq.partno
                && last.sector + last.nr_sectors == rq.sector
                && last.nr_sectors + rq.nr_sectors <= self.max_sectors
            {
                last.nr_sectors += rq.nr_sectors;
                last.bios.extend(rq.bios);
                return true;
            }
        }
        self.fifo.push_back(rq);
        false
    }

    /// Moves every request of `plug` (a plug's list, `blk_finish_plug`) to the tail of this
    /// queue in order, merging where [`add_request`](Self::add_request) does; the requests
    /// that joined a queued one (each one more merge).
    pub fn splice(&mut self, plug: &mut RequestQueue) -> usize {
        let mut merged = 0;
        while let Some(rq) = plug.fifo.pop_front() {
            merged += usize::from(self.add_request(rq));
        }
        merged
    }

    /// The queued requests, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Request> {
        self.fifo.iter()
    }

    /// The oldest request, for the driver.
    pub fn dispatch(&mut self) -> Option<Request> {
        self.fifo.pop_front()
    }

    /// Puts back a request the driver could not take (it stays first).
    pub fn requeue(&mut self, rq: Request) {
        self.fifo.push_front(rq);
    }

    pub fn len(&self) -> usize {
        self.fifo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fifo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bio(op: ReqOp, partno: u32, sector: u64, sectors: u32) -> Bio {
        Bio {
            op,
            partno,
            sector,
            segs: alloc::vec![BioVec { addr: 0x1000, len: sectors * 512 }],
            done: Completion::new(),
        }
    }

    #[test]
    fn contiguous_bios_merge_and_requests_leave_in_order() {
        let mut q = RequestQueue::new(256);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 1, 100, 8), 5), Queued::New);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 1, 108, 8), 6), Queued::Merged);
        // Not contiguous, other direction, other partition: new requests.
        assert_eq!(q.add_bio(bio(ReqOp::Read, 1, 200, 8), 7), Queued::New);
        assert_eq!(q.add_bio(bio(ReqOp::Write, 1, 208, 8), 8), Queued::New);
        assert_eq!(q.add_bio(bio(ReqOp::Write, 2, 216, 8), 9), Queued::New);
        assert_eq!(q.len(), 4);
        let first = q.dispatch().unwrap();
        assert_eq!(
            (first.sector, first.nr_sectors, first.bios.len(), first.start_ns),
            (100, 16, 2, 5)
        );
        assert_eq!(first.segments().count(), 2);
        assert_eq!(q.dispatch().unwrap().sector, 200);
        let w = q.dispatch().unwrap();
        q.requeue(w);
        assert_eq!(q.dispatch().unwrap().sector, 208);
        assert_eq!(q.dispatch().unwrap().partno, 2);
        assert!(q.dispatch().is_none());
    }

    #[test]
    fn merging_stops_at_the_request_size_limit() {
        let mut q = RequestQueue::new(16);
        q.add_bio(bio(ReqOp::Read, 0, 0, 8), 0);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 0, 8, 8), 0), Queued::Merged);
        assert_eq!(q.add_bio(bio(ReqOp::Read, 0, 16, 8), 0), Queued::New);
    }

    /// A small deterministic generator (xorshift) for the model tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// A plug's list spliced onto a disk's queue against a model: every bio reaches the
    /// driver exactly once, in submission order; each request is one direction and one
    /// partition, its bios back to back on the disk and its segments in bio order, its size
    /// within the limit; two neighbouring requests are separate only where they could not be
    /// one (a gap, another direction or partition, or the size limit); and the merges
    /// counted are the bios that joined a request.
    #[test]
    fn plugged_bios_merge_as_the_model_says() {
        for seed in 1..200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let max = [16u64, 64, 256][(seed % 3) as usize];
            let mut q = RequestQueue::new(max);
            // Something already queued (the driver busy) half the time.
            let mut submitted: Vec<(ReqOp, u32, u64, u64)> = Vec::new();
            if seed % 2 == 0 {
                let b = bio(ReqOp::Read, 2, 800, 8);
                submitted.push((b.op, b.partno, b.sector, b.sectors()));
                q.add_bio(b, 0);
            }
            let mut plug = RequestQueue::new(max);
            let mut merges = 0;
            let mut sector = 800 + 8 * (rng.next() % 3);
            for i in 0..(1 + rng.next() % 12) {
                // Mostly the next slot (swap read-ahead's neighbours), sometimes a jump back
                // or forward, the other direction, or the other partition.
                let r = rng.next() % 10;
                if r == 0 {
                    sector = sector.saturating_sub(8 * (1 + rng.next() % 4));
                } else if r == 1 {
                    sector += 8 * (1 + rng.next() % 4);
                }
                let op = if rng.next().is_multiple_of(8) { ReqOp::Write } else { ReqOp::Read };
                let partno = if rng.next().is_multiple_of(16) { 1 } else { 2 };
                let mut b = bio(op, partno, sector, 8);
                b.segs[0].addr = 0x10_0000 + (i as usize) * 0x1000;
                submitted.push((op, partno, sector, 8));
                if plug.add_bio(b, 0) == Queued::Merged {
                    merges += 1;
                }
                sector += 8;
            }
            merges += q.splice(&mut plug);
            assert!(plug.is_empty());
            let rqs: Vec<Request> = core::iter::from_fn(|| q.dispatch()).collect();
            // Every bio once, in order.
            let got: Vec<(ReqOp, u32, u64, u64)> = rqs
                .iter()
                .flat_map(|r| r.bios.iter().map(|b| (b.op, b.partno, b.sector, b.sectors())))
                .collect();
            assert_eq!(got, submitted, "seed {seed}");
            for r in &rqs {
                assert!(r.nr_sectors <= max);
                let mut at = r.sector;
                for b in &r.bios {
                    assert_eq!((b.op, b.partno, b.sector), (r.op, r.partno, at), "seed {seed}");
                    at += b.sectors();
                }
                assert_eq!(at, r.sector + r.nr_sectors);
                let segs: Vec<&BioVec> = r.segments().collect();
                let want: Vec<&BioVec> = r.bios.iter().flat_map(|b| b.segs.iter()).collect();
                assert_eq!(segs, want);
            }
            for w in rqs.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                let mergeable = a.op == b.op
                    && a.partno == b.partno
                    && a.sector + a.nr_sectors == b.sector
                    && a.nr_sectors + b.nr_sectors <= max;
                assert!(
                    !mergeable,
                    "seed {seed}: requests at {} and {} not merged",
                    a.sector, b.sector
                );
            }
            assert_eq!(merges, submitted.len() - rqs.len(), "seed {seed}");
        }
    }

    #[test]
    fn a_spliced_request_joins_the_queued_one_it_continues() {
        let mut q = RequestQueue::new(64);
        q.add_bio(bio(ReqOp::Read, 1, 100, 8), 3);
        let mut plug = RequestQueue::new(64);
        plug.add_bio(bio(ReqOp::Read, 1, 108, 8), 4);
        plug.add_bio(bio(ReqOp::Read, 1, 116, 8), 4);
        plug.add_bio(bio(ReqOp::Read, 1, 300, 8), 4);
        assert_eq!(q.splice(&mut plug), 1);
        let first = q.dispatch().unwrap();
        assert_eq!(
            (first.sector, first.nr_sectors, first.bios.len(), first.start_ns),
            (100, 24, 3, 3)
        );
        assert_eq!(q.dispatch().unwrap().sector, 300);
    }

    #[test]
    fn completion_reaches_every_bio() {
        let mut q = RequestQueue::new(64);
        let a = bio(ReqOp::Read, 0, 0, 1);
        let b = bio(ReqOp::Read, 0, 1, 1);
        let (da, db) = (a.done.clone(), b.done.clone());
        q.add_bio(a, 0);
        q.add_bio(b, 0);
        assert!(!da.is_done());
        q.dispatch().unwrap().complete(-5);
        assert!(da.is_done() && db.is_done());
        assert_eq!((da.status(), db.status()), (-5, -5));
    }
}
