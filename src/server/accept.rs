//! Accepting: one connection at a time with its errors classified (and the back-off when
//! descriptors or memory run out), the listener watched only while accepting is possible, and
//! the backlog taken whole when a drain closes the listener.

use std::collections::VecDeque;
use std::time::Duration;

use selectors::Interest;

use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::handler::RequestHandler;
use crate::hooks::ServerHooks;
use crate::sys::{self, AcceptErrorClass};
use crate::transport::TcpServer;

use super::base_server::{BaseServer, LISTENER};

/// The first pause after running out of descriptors or memory; it doubles up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What one accept attempt did.
#[derive(PartialEq, Eq)]
pub(super) enum Accepted {
    /// A request was taken and dispatched (or rejected).
    Request,
    /// A transient error: try again.
    Retry,
    /// Nothing to take, or accepting is paused.
    Nothing,
}

/// Accepting.
impl<S, M, H, K> BaseServer<S, M, H, K>
where
    S: TcpServer,
    M: Dispatch,
    H: RequestHandler<S::Request>,
    K: ServerHooks<S::Request>,
{
    /// Takes one request and dispatches it, classifying accept errors.
    pub(super) fn accept_one(&mut self) -> Result<Accepted, Error> {
        match self.parts.socket.get_request(&self.serving.context) {
            Ok(request) => {
                if let Some(pause) = self.serving.backoff.take() {
                    tracing::info!(last_pause = ?pause, "accepting again");
                }
                self.admit_accepted(request);
                Ok(Accepted::Request)
            }
            Err(error) => match sys::classify_accept_error(&error) {
                AcceptErrorClass::WouldBlock => Ok(Accepted::Nothing),
                AcceptErrorClass::Transient => {
                    tracing::debug!(%error, "transient accept error; retrying");
                    Ok(Accepted::Retry)
                }
                AcceptErrorClass::Exhausted => {
                    let pause = match self.serving.backoff {
                        None => {
                            tracing::warn!(%error, "out of resources: pausing accept until they free up");
                            BACKOFF_START
                        }
                        Some(pause) => (pause * 2).min(BACKOFF_MAX),
                    };
                    self.serving.backoff = Some(pause);
                    Ok(Accepted::Nothing)
                }
                AcceptErrorClass::Fatal => Err(Error::Accept {
                    address: self.address_for_messages(),
                    source: error,
                }),
            },
        }
    }

    /// Watches the listener only while accepting is possible; otherwise a readable listener
    /// would wake the loop again and again.
    pub(super) fn sync_listener(&mut self) -> Result<(), Error> {
        let want = self.serving.backoff.is_none()
            && self.parts.dispatch.has_capacity()
            && self.registry.has_room();
        match (want, self.serving.listener_registered) {
            (true, false) => {
                let fd = self.parts.socket.fileno().ok_or(Error::Closed)?;
                self.serving
                    .reactor
                    .watch_fixed(fd, Interest::READABLE, LISTENER)?;
                self.serving.listener_registered = true;
            }
            (false, true) => self.unregister_listener(),
            _ => {}
        }
        Ok(())
    }

    /// Accepts everything the kernel holds in the listen backlog now: those clients'
    /// `connect` succeeded, so they are served rather than reset by the listener's close.
    pub(super) fn take_backlog(&mut self) -> VecDeque<S::Request> {
        let mut backlog = VecDeque::new();
        loop {
            match self.parts.socket.get_request(&self.serving.context) {
                Ok(request) => backlog.push_back(request),
                Err(error) => match sys::classify_accept_error(&error) {
                    AcceptErrorClass::WouldBlock => break,
                    AcceptErrorClass::Transient => {}
                    AcceptErrorClass::Exhausted | AcceptErrorClass::Fatal => {
                        tracing::warn!(%error, "accepting the backlog while draining failed; closing the listener");
                        break;
                    }
                },
            }
        }
        backlog
    }
}
