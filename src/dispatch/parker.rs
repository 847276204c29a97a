//! [`Parker`]: one thread that holds every parked connection of a strategy, in a selector.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use parking_lot::Mutex;
use selectors::Interest;

use crate::dispatch::job::{Job, ParkedEvent, ParkedStep, RunOutcome};
use crate::dispatch::live_threads::LiveThreads;
use crate::reactor::{drive, Driver, Flow, Mailbox, Reactor, Ready};
use crate::sys;

/// What the strategy does with a job whose input has arrived (queue it for a worker, start a
/// thread).
pub(crate) type Resume = Arc<dyn Fn(Box<dyn Job>) + Send + Sync>;

/// Holds parked jobs without a thread each: one parker thread waits on all their sockets (and
/// their deadlines) in a [`Reactor`], sends the output their handlers left (so a slow reader
/// holds no worker), gathers the next message of those that parked with a framing (so a slow
/// sender holds none either), lingers over the closes, and hands each job back through
/// `resume` when its input is ready. Started with the first park.
pub(crate) struct Parker {
    name: String,
    resume: Resume,
    running: OnceLock<Option<Running>>,
    /// `false` once closing: jobs parked after that are given back to be ended.
    open: Mutex<bool>,
    /// Counts the parker thread while it runs (shared with the strategy's own count).
    live: LiveThreads,
}

struct Running {
    mailbox: Arc<Mailbox<Message>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What other threads post to a parker's loop.
pub(crate) enum Message {
    Park(Box<dyn Job>),
    /// A graceful drain began or moved on: end the parked jobs that count as idle now.
    Drain,
    Close,
    /// Nothing for the parked jobs: the loop's driver has other work to look at (the pool's
    /// leader: a request queued while no worker waits for one).
    Nudge,
}

/// A parked job in the reactor.
pub(crate) struct Parked(Box<dyn Job>);

impl AsFd for Parked {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0
            .parked_fd()
            .expect("only jobs with a descriptor are parked")
    }
}

impl Parker {
    /// A parker whose thread will be named `name`.
    pub(crate) fn new(name: &str, resume: Resume, live: LiveThreads) -> Self {
        Parker {
            name: name.to_owned(),
            resume,
            running: OnceLock::new(),
            open: Mutex::new(true),
            live,
        }
    }

    /// Parks `job` until its input arrives; gives it back when the parker is closed or could
    /// not start (the caller then ends it).
    pub(crate) fn park(&self, job: Box<dyn Job>) -> Result<(), Box<dyn Job>> {
        if job.parked_fd().is_none() {
            return Err(job);
        }
        let open = self.open.lock();
        if !*open {
            return Err(job);
        }
        match self.running.get_or_init(|| self.start()) {
            Some(running) => {
                running.mailbox.post(Message::Park(job));
                Ok(())
            }
            None => Err(job),
        }
    }

    fn start(&self) -> Option<Running> {
        let mailbox = Mailbox::new()
            .map_err(|error| tracing::error!(%error, "cannot create the parker's waker"))
            .ok()?;
        let theirs = Arc::clone(&mailbox);
        let resume = Arc::clone(&self.resume);
        let builder = thread::Builder::new().name(self.name.clone());
        let thread = self
            .live
            .spawn(builder, move || {
                if let Err(error) = park_loop(&theirs, &resume) {
                    tracing::error!(%error, "the parker stopped");
                }
            })
            .map_err(|error| tracing::error!(%error, "cannot spawn the parker thread"))
            .ok()?;
        tracing::debug!(name = %self.name, "parker started");
        Some(Running {
            mailbox,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// A graceful drain began or moved on: parked jobs that now count as idle (and have no
    /// input waiting) are ended; those with input are resumed. Jobs parked later are checked
    /// as they arrive.
    pub(crate) fn drain(&self) {
        if let Some(Some(running)) = self.running.get() {
            running.mailbox.post(Message::Drain);
        }
    }

    /// Stops parking: every parked job is ended (its `finish` runs, its connection is shut
    /// down), later parks are refused, and the parker thread is joined. Idempotent.
    pub(crate) fn close(&self) {
        *self.open.lock() = false;
        if let Some(Some(running)) = self.running.get() {
            running.mailbox.post(Message::Close);
            if let Some(thread) = running.thread.lock().take() {
                let _ = thread.join();
            }
        }
    }
}

/// The parker thread: takes parked jobs, sends their pending output, gathers their next
/// message, resumes the ones whose input is ready, and ends the silent ones.
fn park_loop(mailbox: &Mailbox<Message>, resume: &Resume) -> io::Result<()> {
    drive(mailbox, 256, &mut ParkerDriver { resume })
}

/// The parker as a kind of loop: its entries are parked jobs. Driven by the parker thread,
/// or by the pool's workers in turn (`thread_pool.rs`).
pub(crate) struct ParkerDriver<'a> {
    pub(crate) resume: &'a Resume,
}

impl Driver for ParkerDriver<'_> {
    type Entry = Parked;
    type Message = Message;

    fn message(&mut self, reactor: &mut Reactor<Parked>, message: Message, now: Instant) -> Flow {
        match message {
            Message::Park(job) => admit(reactor, job, now, self.resume),
            Message::Drain => {
                for key in reactor.keys() {
                    drain_if_idle(reactor, key, now, self.resume);
                }
            }
            Message::Close => return Flow::Stop,
            Message::Nudge => {}
        }
        Flow::Continue
    }

    fn expired(&mut self, reactor: &mut Reactor<Parked>, key: usize, now: Instant) {
        step(reactor, key, ParkedEvent::Expired, now, self.resume);
    }

    fn ready(&mut self, reactor: &mut Reactor<Parked>, ready: Ready, now: Instant) {
        let event = match ready.writable {
            true => ParkedEvent::Writable,
            false => ParkedEvent::Readable,
        };
        step(reactor, ready.key, event, now, self.resume);
    }

    fn end(&mut self, Parked(job): Parked) {
        end(job);
    }

    fn leftover(&mut self, message: Message) {
        if let Message::Park(job) = message {
            end(job);
        }
    }
}

/// Takes `job` into the reactor and moves it on at once (`Admitted`): it may be resumed or
/// ended right away.
pub(crate) fn admit(
    reactor: &mut Reactor<Parked>,
    job: Box<dyn Job>,
    now: Instant,
    resume: &Resume,
) {
    match reactor.insert(Parked(job), None) {
        Ok(key) => {
            step(reactor, key, ParkedEvent::Admitted, now, resume);
            drain_if_idle(reactor, key, now, resume);
        }
        Err((Parked(job), error)) => {
            // Cannot watch it: let a worker wait for its input instead.
            tracing::warn!(conn_id = job.id(), %error, "cannot park a connection; resuming it");
            resume(job);
        }
    }
}

/// Moves the job under `key` on after `event`: watch it for what it waits for, resume it, or
/// end it.
fn step(
    reactor: &mut Reactor<Parked>,
    key: usize,
    event: ParkedEvent,
    now: Instant,
    resume: &Resume,
) {
    let Some(Parked(job)) = reactor.get_mut(key) else {
        return;
    };
    let next = panic::catch_unwind(AssertUnwindSafe(|| job.parked_step(event, now)))
        .unwrap_or_else(|_| {
            tracing::error!("a parked connection's step panicked");
            ParkedStep::Done
        });
    match next {
        ParkedStep::Wait { writable, deadline } => {
            let interest = match writable {
                true => Interest::WRITABLE,
                false => Interest::READABLE,
            };
            match reactor.set_interest(key, Some(interest)) {
                Ok(()) => reactor.set_deadline(key, deadline),
                Err(error) => {
                    if let Some(Parked(job)) = reactor.remove(key) {
                        // Cannot watch it: let a worker wait for its input instead.
                        tracing::warn!(conn_id = job.id(), %error, "cannot watch a parked connection; resuming it");
                        resume(job);
                    }
                }
            }
        }
        ParkedStep::Resume => {
            if let Some(Parked(job)) = reactor.remove(key) {
                tracing::trace!(conn_id = job.id(), "input for a parked connection");
                resume(job);
            }
        }
        ParkedStep::Done => {
            if let Some(Parked(job)) = reactor.remove(key) {
                end_and_keep_closing(reactor, job, |job| job.finish_parked(), now, resume);
            }
        }
    }
}

/// During a drain: ends the job under `key` if it is idle — unless its input has arrived
/// meanwhile (then that is a message in flight, which is gathered or run).
fn drain_if_idle(reactor: &mut Reactor<Parked>, key: usize, now: Instant, resume: &Resume) {
    let Some(Parked(job)) = reactor.get_mut(key) else {
        return;
    };
    if !job.idle_for_drain() {
        return;
    }
    if job.parked_fd().is_some_and(sys::readable_now) {
        step(reactor, key, ParkedEvent::Readable, now, resume);
    } else if let Some(Parked(job)) = reactor.remove(key) {
        end_and_keep_closing(reactor, job, |job| job.end_idle(), now, resume);
    }
}

/// Ends a job taken out of the reactor (`ending` runs its end; a panic is caught). One whose
/// close still lingers (its last output on its way) comes back in: the parker waits for it
/// as for any parked connection, so no close waits on the parker's thread.
fn end_and_keep_closing(
    reactor: &mut Reactor<Parked>,
    job: Box<dyn Job>,
    ending: fn(Box<dyn Job>) -> RunOutcome,
    now: Instant,
    resume: &Resume,
) {
    let ended = panic::catch_unwind(AssertUnwindSafe(|| ending(job))).unwrap_or_else(|_| {
        tracing::error!("ending a parked connection panicked");
        RunOutcome::Finished(false)
    });
    if let RunOutcome::Parked(job) = ended {
        admit(reactor, job, now, resume);
    }
}

/// Ends a job the server no longer serves (the parker closes).
pub(crate) fn end(job: Box<dyn Job>) {
    // Jobs catch their handlers' panics; this guards the parker against anything else.
    if panic::catch_unwind(AssertUnwindSafe(|| job.end_parked())).is_err() {
        tracing::error!("ending a parked connection panicked");
    }
}

impl Drop for Parker {
    fn drop(&mut self) {
        self.close();
    }
}
