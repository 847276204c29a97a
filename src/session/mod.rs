//! What an event loop drives: a connection handed over as an [`EventSession`] (object safe,
//! so one loop holds sessions of any protocol), made from [`SessionParts`]. Below the handler
//! and dispatch layers, which hand requests over without knowing the loop.

mod event_session;
mod handle_op;
mod session_parts;

pub use event_session::EventSession;
pub(crate) use event_session::{LoopContext, Next, Session};
pub(crate) use handle_op::{HandleOp, HandlePoster};
pub use session_parts::SessionParts;
