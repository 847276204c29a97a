//! [`Sequential`]: every request on the serving thread, one at a time.

use crate::dispatch::{Dispatch, Job};

/// Runs each request to completion on the serving thread before accepting the next one:
/// Python's plain `TCPServer` (no mix-in).
///
/// Simple and enough for short requests; a slow client holds up everyone behind it. A handler
/// that [parks](crate::StreamRequest::park) its connection waits for the next input right here,
/// on the serving thread: the semantics are kept, nothing is freed.
///
/// # Examples
///
/// ```
/// use socketserver::{BaseServer, Sequential, StreamRequest, TcpSocket};
///
/// // `SequentialTcpServer<H>` is this type.
/// let server: BaseServer<TcpSocket, Sequential, _> =
///     BaseServer::<TcpSocket, Sequential, _>::new("127.0.0.1:0", |_req: &mut StreamRequest| Ok(()))?;
/// # drop(server);
/// # Ok::<(), socketserver::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Sequential;

impl Dispatch for Sequential {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn process_request(&mut self, job: Box<dyn Job>) {
        job.run();
    }
}
