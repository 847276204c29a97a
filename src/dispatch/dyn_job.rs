//! [`DynJob`]: a [`Job`] behind a box, so jobs of any type share one queue or one parker.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use crate::dispatch::job::{ParkedEvent, ParkedStep};
use crate::dispatch::{Job, Ran};
use crate::error::RequestError;

/// The object-safe face of [`Job`], for the pool's queues and the parker.
pub(crate) trait DynJob: Send {
    fn id(&self) -> u64;
    /// [`Job::run_until_parked`]: `Some` with the job when it parked.
    fn run_until_parked_boxed(self: Box<Self>) -> Option<Box<dyn DynJob>>;
    fn fail_boxed(self: Box<Self>, error: RequestError);
    fn end_parked_boxed(self: Box<Self>, timed_out: bool);
    fn parked_fd(&self) -> Option<BorrowedFd<'_>>;
    fn idle_for_drain(&self) -> bool;
    /// [`Job::end_idle`]: `Some` with the job when its close lingers.
    fn end_idle_boxed(self: Box<Self>) -> Option<Box<dyn DynJob>>;
    fn parked_step(&mut self, event: ParkedEvent, now: Instant) -> ParkedStep;
    /// [`Job::finish_parked`]: `Some` with the job when its close lingers.
    fn finish_parked_boxed(self: Box<Self>) -> Option<Box<dyn DynJob>>;
}

impl<J: Job> DynJob for J {
    fn id(&self) -> u64 {
        Job::id(self)
    }

    fn run_until_parked_boxed(self: Box<Self>) -> Option<Box<dyn DynJob>> {
        boxed_if_parked((*self).run_until_parked())
    }

    fn fail_boxed(self: Box<Self>, error: RequestError) {
        (*self).fail(error);
    }

    fn end_parked_boxed(self: Box<Self>, timed_out: bool) {
        (*self).end_parked(timed_out);
    }

    fn parked_fd(&self) -> Option<BorrowedFd<'_>> {
        Job::parked_fd(self)
    }

    fn idle_for_drain(&self) -> bool {
        Job::idle_for_drain(self)
    }

    fn end_idle_boxed(self: Box<Self>) -> Option<Box<dyn DynJob>> {
        boxed_if_parked((*self).end_idle())
    }

    fn parked_step(&mut self, event: ParkedEvent, now: Instant) -> ParkedStep {
        Job::parked_step(self, event, now)
    }

    fn finish_parked_boxed(self: Box<Self>) -> Option<Box<dyn DynJob>> {
        boxed_if_parked((*self).finish_parked())
    }
}

fn boxed_if_parked<J: Job>(ran: Ran<J>) -> Option<Box<dyn DynJob>> {
    match ran {
        Ran::Finished(_) => None,
        Ran::Parked(job) => Some(Box::new(job)),
    }
}
