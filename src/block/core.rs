//! The running block layer: the registered disks (`add_disk`), each with its request queue
//! and statistics; `submit_bio_wait` (the end-of-device check and its message, the partition
//! remap, queueing, and a sleep until the bio completes); the driver's side
//! (`blk_mq_end_request`), which accounts the request and dispatches the next one. The
//! driver completes requests from its interrupt handler, so the waiting task sleeps (the
//! console idles in `wfi` or runs the programs that can run) while the card works.
use alloc::string::String;
use alloc::vec::Vec;

use super::blk_mq::{Bio, BioVec, Completion, Queued, Request, RequestQueue};
use super::genhd::{self, Gendisk, Part, ReqOp};
use super::task;
use super::SECTOR_SIZE;
use crate::abi::errno::Errno;
use crate::kernel::process::{self, iowait};
use crate::kernel::spinlock::IrqSpinLock;
use crate::kernel::time::{get_jiffies_64, ktime_get_boottime_ns};
use crate::kprintln;

/// How long a request may take before the block layer asks the driver to abort it (Linux's
/// default request timeout is 30 s; the SD card needs milliseconds).
const REQUEST_TIMEOUT_NS: u64 = 5_000_000_000;

/// Nanoseconds per jiffy (a sleeper's timeout is in jiffies).
const NS_PER_JIFFY: u64 = 1_000_000_000 / crate::kernel::time::HZ;

/// A block driver's operations (`struct blk_mq_ops`).
pub trait BlockOps: Sync {
    /// Starts `rq` on the device (`queue_rq`); gives it back when the device is busy.
    fn queue_rq(&self, rq: Request) -> Result<(), Request>;
    /// The request in progress has run past its deadline: stop the device and give it back
    /// (`timeout`), or None when nothing is in progress.
    fn timeout(&self) -> Option<Request>;
}

/// A registered disk.
struct Disk {
    gd: Gendisk,
    queue: RequestQueue,
    ops: &'static dyn BlockOps,
    /// A request is with the driver.
    busy: bool,
    /// `read_ahead_kb` (`bdi->ra_pages` in KiB): the read-ahead window of its files and of
    /// its block-device files.
    ra_kb: u64,
}

/// The default `read_ahead_kb` of a disk (`VM_READAHEAD_PAGES`).
pub const DEFAULT_READ_AHEAD_KB: u64 =
    crate::mm::readahead::VM_READAHEAD_PAGES * crate::mm::PAGE_SIZE / 1024;

static DISKS: IrqSpinLock<Vec<Disk>> = IrqSpinLock::new(Vec::new());

/// Submitters that hold a lock another task may need (the page cache of `/boot`'s files):
/// while any is waiting for I/O, the wait idles in `wfi` instead of running other tasks,
/// which could spin on that lock forever (pivm's kernel code is not preempted).
static NO_SCHEDULE: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Keeps `submit_bio_wait` from scheduling while it lives (see [`NO_SCHEDULE`]).
pub struct NoScheduleGuard(());

impl NoScheduleGuard {
    pub fn new() -> Self {
        NO_SCHEDULE.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        NoScheduleGuard(())
    }
}

impl Default for NoScheduleGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoScheduleGuard {
    fn drop(&mut self) {
        NO_SCHEDULE.fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether a waiting submitter may give the CPU to another task.
fn may_schedule() -> bool {
    NO_SCHEDULE.load(core::sync::atomic::Ordering::Relaxed) == 0
}

/// `device_add_disk`: registers `gd`, served by `ops`, requests of at most `max_sectors`.
/// Returns the disk's number.
pub fn add_disk(gd: Gendisk, ops: &'static dyn BlockOps, max_sectors: u64) -> usize {
    let mut d = DISKS.lock();
    d.push(Disk {
        gd,
        queue: RequestQueue::new(max_sectors),
        ops,
        busy: false,
        ra_kb: DEFAULT_READ_AHEAD_KB,
    });
    d.len() - 1
}

/// `read_ahead_kb` of disk `disk` (the default for a disk that is not registered).
pub fn read_ahead_kb(disk: usize) -> u64 {
    DISKS.lock().get(disk).map_or(DEFAULT_READ_AHEAD_KB, |d| d.ra_kb)
}

/// Sets `read_ahead_kb` of disk `disk` (`blockdev --setra`, `queue/read_ahead_kb`); files
/// opened (or mapped) afterwards use it.
pub fn set_read_ahead_kb(disk: usize, kb: u64) {
    if let Some(d) = DISKS.lock().get_mut(disk) {
        d.ra_kb = kb;
    }
}

/// Replaces the partitions of disk `disk` with what the table parser found; prints the
/// warnings `blk_add_partitions` prints.
pub fn set_partitions(disk: usize, parsed: &super::partitions::msdos::Parsed) {
    let warnings = DISKS.lock().get_mut(disk).map(|d| d.gd.add_partitions(parsed));
    for w in warnings.into_iter().flatten() {
        kprintln!("{}", w);
    }
}

/// `blk_add_partitions` / `bdev_disk_changed`: reads disk `disk`'s partition table through
/// the block layer like any other I/O (sector 0 as the page holding it, as
/// `read_part_sector` does), prints `check_partition`'s line and the warnings, and replaces
/// its partitions with what was found (none for a bad table).
pub fn scan_partitions(disk: usize) {
    use super::partitions::msdos;
    let Some((name, minors)) = DISKS.lock().get(disk).map(|d| (d.gd.name().into(), d.gd.minors))
    else {
        return;
    };
    let name: String = name;
    /// Bytes `read_part_sector` reads for sector 0 (a page).
    const PAGE: usize = 4096;
    let mut first_page: Option<Vec<u8>> = None;
    let parsed = msdos::msdos_partition(&name, minors, |sector| {
        let mut out = [0u8; SECTOR_SIZE];
        if sector == 0 {
            if first_page.is_none() {
                let mut page = alloc::vec![0u8; PAGE];
                let seg = BioVec { addr: page.as_mut_ptr() as usize, len: PAGE as u32 };
                submit_bio_wait(disk, 0, ReqOp::Read, 0, alloc::vec![seg]).ok()?;
                first_page = Some(page);
            }
            out.copy_from_slice(&first_page.as_ref()?[..SECTOR_SIZE]);
            return Some(out);
        }
        let mut buf = alloc::vec![0u8; SECTOR_SIZE];
        let seg = BioVec { addr: buf.as_mut_ptr() as usize, len: SECTOR_SIZE as u32 };
        submit_bio_wait(disk, 0, ReqOp::Read, sector, alloc::vec![seg]).ok()?;
        out.copy_from_slice(&buf);
        Some(out)
    });
    kprintln!("{}", parsed.line);
    set_partitions(disk, &parsed);
}

/// A block device by name (`mmcblk0`, `mmcblk0p2`, with or without `/dev/`): its disk
/// and partition number.
pub fn lookup(name: &str) -> Option<(usize, u32)> {
    let name = name.strip_prefix("/dev/").unwrap_or(name);
    let d = DISKS.lock();
    d.iter()
        .enumerate()
        .find_map(|(i, disk)| disk.gd.parts.iter().find(|p| p.name == name).map(|p| (i, p.partno)))
}

/// The device's name and size in sectors.
pub fn part_info(disk: usize, partno: u32) -> Option<(String, u64)> {
    let d = DISKS.lock();
    let gd = &d.get(disk)?.gd;
    let p = &gd.parts[gd.part_index(partno)?];
    Some((p.name.clone(), p.nr_sects))
}

/// Copies of every partition of every disk, in registration order (for the /proc files).
pub fn parts_snapshot() -> Vec<Part> {
    DISKS.lock().iter().flat_map(|d| d.gd.parts.iter().cloned()).collect()
}

/// `submit_bio_wait`: `op` on `segs` (each a multiple of 512 bytes) at `sector` of partition
/// `partno` of disk `disk`; returns when the bio completed. A range past the end of the
/// device is refused with Linux's message and `EIO`, before anything is queued.
pub fn submit_bio_wait(
    disk: usize,
    partno: u32,
    op: ReqOp,
    sector: u64,
    segs: Vec<BioVec>,
) -> Result<(), Errno> {
    let done = submit_bio(disk, partno, op, sector, segs)?;
    wait_bio(disk, &done)
}

/// `submit_bio`: checks and queues the bio as [`submit_bio_wait`] does and starts the queue;
/// the bio's completion, for [`wait_bio`].
pub fn submit_bio(
    disk: usize,
    partno: u32,
    op: ReqOp,
    sector: u64,
    segs: Vec<BioVec>,
) -> Result<alloc::sync::Arc<Completion>, Errno> {
    let (bio, idx) = prepare_bio(disk, partno, op, sector, segs)?;
    let done = bio.done.clone();
    {
        let mut d = DISKS.lock();
        let dk = d.get_mut(disk).ok_or(Errno::ENXIO)?;
        if dk.queue.add_bio(bio, ktime_get_boottime_ns()) == Queued::Merged {
            dk.gd.account_io_merge(idx, op);
        }
    }
    run_queue(disk);
    Ok(done)
}

/// `submit_bio_checks` + `blk_partition_remap`: a bio of `op` on `segs` at `sector` of
/// partition `partno`, remapped to the whole disk's numbering, and its partition's index. A
/// segment that is not whole sectors is `EINVAL`; a range past the end of the device is
/// refused with Linux's message and `EIO`.
fn prepare_bio(
    disk: usize,
    partno: u32,
    op: ReqOp,
    sector: u64,
    segs: Vec<BioVec>,
) -> Result<(Bio, usize), Errno> {
    if segs.iter().any(|s| s.len == 0 || !(s.len as usize).is_multiple_of(SECTOR_SIZE)) {
        return Err(Errno::EINVAL);
    }
    let d = DISKS.lock();
    let disk_ref = d.get(disk).ok_or(Errno::ENXIO)?;
    let idx = disk_ref.gd.part_index(partno).ok_or(Errno::ENXIO)?;
    let part = &disk_ref.gd.parts[idx];
    let bio = Bio { op, partno, sector, segs, done: Completion::new() };
    let (nr, limit) = (bio.sectors(), part.nr_sects);
    if !genhd::fits(sector, nr, limit) {
        let name = part.name.clone();
        drop(d);
        kprintln!(
            "{}",
            genhd::beyond_eod_message(&task::current_comm(), &name, op, sector, nr, limit)
        );
        return Err(Errno::EIO);
    }
    Ok((Bio { sector: sector + part.start_sect, ..bio }, idx))
}

/// `blk_start_plug`: bios submitted through the returned plug wait in a list of their own
/// (the task's `plug->mq_list`), where a bio that continues the last one joins its request,
/// instead of going to the driver one at a time; [`BlkPlug::finish`] or dropping the plug
/// (`blk_finish_plug`) moves them to disk `disk`'s queue and starts it. Other submitters are
/// not held up. A bio still in a plug has not been queued: its submitter finishes the plug
/// before it waits for it (it must not sleep or schedule with the plug held).
pub fn blk_start_plug(disk: usize) -> BlkPlug {
    let max = DISKS.lock().get(disk).map_or(0, |d| d.queue.max_sectors);
    BlkPlug { disk, list: RequestQueue::new(max), merges: Vec::new() }
}

/// A plug (see [`blk_start_plug`]).
pub struct BlkPlug {
    disk: usize,
    list: RequestQueue,
    /// The partition index and direction of each bio merged in the list (for diskstats).
    merges: Vec<(usize, ReqOp)>,
}

impl BlkPlug {
    /// The disk this plug collects bios for.
    pub fn disk(&self) -> usize {
        self.disk
    }

    /// `submit_bio` under the plug: checked and remapped as [`submit_bio`] does, then held
    /// in the plug's list (merged into its last request when it continues it).
    pub fn submit_bio(
        &mut self,
        partno: u32,
        op: ReqOp,
        sector: u64,
        segs: Vec<BioVec>,
    ) -> Result<alloc::sync::Arc<Completion>, Errno> {
        let (bio, idx) = prepare_bio(self.disk, partno, op, sector, segs)?;
        let done = bio.done.clone();
        if self.list.add_bio(bio, ktime_get_boottime_ns()) == Queued::Merged {
            self.merges.push((idx, op));
        }
        Ok(done)
    }

    /// Requests in the plug's list (for the tests' counters).
    pub fn requests(&self) -> usize {
        self.list.len()
    }

    /// `blk_finish_plug`.
    pub fn finish(self) {}

    fn flush(&mut self) {
        if self.list.is_empty() {
            return;
        }
        {
            let mut d = DISKS.lock();
            let Some(dk) = d.get_mut(self.disk) else { return };
            for &(idx, op) in &self.merges {
                dk.gd.account_io_merge(idx, op);
            }
            self.merges.clear();
            // Only the list's first request can join the queued one it continues (the
            // others follow one of their own): its first bio is then one more merge.
            let first = self.list.iter().next().map(|r| (r.partno, r.op));
            if dk.queue.splice(&mut self.list) > 0 {
                if let Some(idx) = first.and_then(|(partno, _)| dk.gd.part_index(partno)) {
                    dk.gd.account_io_merge(idx, first.map_or(ReqOp::Read, |f| f.1));
                }
            }
        }
        run_queue(self.disk);
    }
}

impl Drop for BlkPlug {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Waits for a bio [`submit_bio`] queued; its result.
pub fn wait_bio(disk: usize, done: &alloc::sync::Arc<Completion>) -> Result<(), Errno> {
    wait(disk, done);
    match done.status() {
        0 => Ok(()),
        e => Err(Errno::from_code((-e) as u32).unwrap_or(Errno::EIO)),
    }
}

/// Sleeps until `done`: the CPU idles (or runs other tasks) until an interrupt completes
/// the bio. A request past its deadline is aborted through the driver.
fn wait(disk: usize, done: &alloc::sync::Arc<Completion>) {
    use crate::arch::irqflags;
    // A submitter in an exception handler (a page fault reading a file page) runs with
    // interrupts masked; the completion is an interrupt, so they are on while it waits, as
    // Linux's do_page_fault turns them on for a fault from a context that had them.
    let masked = irqflags::irqs_disabled();
    // A program with no lock held sleeps at once, before its interrupts are on (the
    // card's completion would otherwise be taken right here under QEMU, whose card answers
    // at once): other tasks run while the card works, and the completion wakes it.
    let waited = done.is_done()
        || (may_schedule() && task::io_sleep(done, REQUEST_TIMEOUT_NS / NS_PER_JIFFY + 1));
    if !waited {
        iowait::note_idle_wait();
    }
    if masked {
        irqflags::local_irq_enable();
    }
    wait_for(disk, done);
    if masked {
        irqflags::local_irq_disable();
    }
}

fn wait_for(disk: usize, done: &alloc::sync::Arc<Completion>) {
    let mut deadline = ktime_get_boottime_ns() + REQUEST_TIMEOUT_NS;
    while !done.is_done() {
        // A program waiting with no lock held sleeps, other tasks run, and the completion
        // interrupt wakes it; any other waiter (the console, pivm's idle task, and every
        // wait on the 64-bit kernel, which has no other task) idles in `wfi`.
        let left = deadline.saturating_sub(ktime_get_boottime_ns());
        if !(may_schedule() && task::io_sleep(done, left / NS_PER_JIFFY + 1)) {
            crate::kernel::time::idle_wait(|| {
                (done.is_done()
                    || (may_schedule() && process::others_runnable())
                    || ktime_get_boottime_ns() > deadline)
                    .then_some(())
            });
        }
        if done.is_done() {
            break;
        }
        if ktime_get_boottime_ns() > deadline {
            let ops = DISKS.lock().get(disk).map(|d| d.ops);
            if let Some(rq) = ops.and_then(|o| o.timeout()) {
                blk_mq_end_request(disk, rq, -(Errno::ETIMEDOUT.code()));
            }
            deadline = ktime_get_boottime_ns() + REQUEST_TIMEOUT_NS;
            continue;
        }
        if may_schedule() && process::others_runnable() {
            process::schedule();
        }
    }
}

/// `blk_mq_run_hw_queue`: hands the oldest queued request to an idle driver.
pub fn run_queue(disk: usize) {
    let (rq, ops) = {
        let mut d = DISKS.lock();
        let Some(dk) = d.get_mut(disk) else { return };
        if dk.busy {
            return;
        }
        let Some(rq) = dk.queue.dispatch() else { return };
        dk.busy = true;
        if let Some(idx) = dk.gd.part_index(rq.partno) {
            dk.gd.account_io_start(idx, rq.op, get_jiffies_64());
        }
        (rq, dk.ops)
    };
    if let Err(rq) = ops.queue_rq(rq) {
        // The device is busy with something else; the driver runs the queue again when done.
        let mut d = DISKS.lock();
        if let Some(dk) = d.get_mut(disk) {
            dk.busy = false;
            if let Some(idx) = dk.gd.part_index(rq.partno) {
                let dir = rq.op as usize;
                let s = &mut dk.gd.parts[idx].stats;
                s.in_flight[dir] = s.in_flight[dir].saturating_sub(1);
                if idx != 0 {
                    let s = &mut dk.gd.parts[0].stats;
                    s.in_flight[dir] = s.in_flight[dir].saturating_sub(1);
                }
            }
            dk.queue.requeue(rq);
        }
    }
}

/// `blk_mq_end_request`, from the driver (its interrupt handler, with none of its locks
/// held): accounts the request (`status` 0: every sector moved), completes its bios, and
/// dispatches the next request.
pub fn blk_mq_end_request(disk: usize, rq: Request, status: i32) {
    {
        let mut d = DISKS.lock();
        if let Some(dk) = d.get_mut(disk) {
            dk.busy = false;
            if let Some(idx) = dk.gd.part_index(rq.partno) {
                let sectors = if status == 0 { rq.nr_sectors } else { 0 };
                let ns = ktime_get_boottime_ns().saturating_sub(rq.start_ns);
                dk.gd.account_io_done(idx, rq.op, sectors, ns, get_jiffies_64());
            }
        }
    }
    rq.complete(status);
    iowait::io_completed();
    run_queue(disk);
}

/// Whether any disk is registered.
pub fn have_disks() -> bool {
    !DISKS.lock().is_empty()
}

/// /proc/partitions.
pub fn render_partitions(w: &mut impl core::fmt::Write) -> core::fmt::Result {
    crate::proc::partitions::render(w, parts_snapshot().iter())
}

/// /proc/diskstats.
pub fn render_diskstats(w: &mut impl core::fmt::Write) -> core::fmt::Result {
    let ms_per_jiffy = 1000 / crate::kernel::time::HZ;
    crate::proc::diskstats::render(w, parts_snapshot().iter(), ms_per_jiffy)
}
