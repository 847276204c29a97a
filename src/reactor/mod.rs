//! The one mechanism behind parking and the event loop: connections registered in a selector,
//! with deadlines, owned by a loop thread that other threads post work to.

mod driver;
mod mailbox;
#[expect(
    clippy::module_inception,
    reason = "the module is named after its one type"
)]
mod reactor;
mod timer_heap;

pub(crate) use driver::{drive, drive_until, end_all, Driver, Flow};
pub(crate) use mailbox::Mailbox;
pub(crate) use reactor::{Reactor, Ready};
