//! [`HeadFraming`] and [`BodyFraming`]: how the loop that holds a parked HTTP connection knows
//! a request head, then its body, has arrived — so a pool worker runs only for a whole request,
//! and a client that sends slowly (slowloris, a slow body) holds none.

use socketserver::{Framed, MessageFraming};

use crate::chunked::ChunkedDecoder;
use crate::head::{check_bounds, head_end};
use crate::limits::HttpLimits;

/// A request head: whole once its empty line has arrived, or as soon as it breaks a limit (the
/// handler then refuses it without waiting for more).
#[derive(Debug)]
pub(crate) struct HeadFraming {
    limits: HttpLimits,
    /// Bytes searched for the head's end so far.
    scanned: usize,
}

impl HeadFraming {
    pub(crate) fn new(limits: HttpLimits) -> Self {
        HeadFraming { limits, scanned: 0 }
    }
}

impl MessageFraming for HeadFraming {
    fn frame(&mut self, buffered: &[u8]) -> Framed {
        let end = head_end(buffered, self.scanned);
        self.scanned = buffered.len();
        let arrived = &buffered[..end.unwrap_or(buffered.len())];
        match end.is_some() || check_bounds(arrived, &self.limits).is_err() {
            true => Framed::Complete,
            false => Framed::Incomplete,
        }
    }

    fn max_len(&self) -> usize {
        // Never reached: `check_bounds` answers first.
        self.limits
            .max_head
            .max(self.limits.max_request_line)
            .saturating_add(4)
    }
}

/// A request body: `Content-Length` bytes, or a chunked body to its last chunk (checked as it
/// arrives: a malformed or too large body is complete as soon as that is known, so the
/// handler refuses it at once).
#[derive(Debug)]
pub(crate) enum BodyFraming {
    Length(u64),
    Chunked {
        decoder: ChunkedDecoder,
        /// Bytes of the body the decoder has taken.
        taken: usize,
        /// The most raw bytes the body may take (chunk sizes and extensions included).
        max_len: usize,
    },
}

impl BodyFraming {
    /// A chunked body of at most `max_body` bytes of data. Its raw form may take twice that
    /// and 64 KiB more (the chunk-size lines): past it, 413.
    pub(crate) fn chunked(max_body: u64) -> Self {
        let max_len = usize::try_from(max_body)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .saturating_add(64 * 1024);
        BodyFraming::Chunked {
            decoder: ChunkedDecoder::counting(max_body),
            taken: 0,
            max_len,
        }
    }
}

impl MessageFraming for BodyFraming {
    fn frame(&mut self, buffered: &[u8]) -> Framed {
        let whole = match self {
            BodyFraming::Length(length) => buffered.len() as u64 >= *length,
            BodyFraming::Chunked { decoder, taken, .. } => {
                match decoder.feed(&buffered[(*taken).min(buffered.len())..]) {
                    Ok(n) => {
                        *taken += n;
                        decoder.is_done()
                    }
                    // The handler finds the same error in the same bytes and refuses them.
                    Err(_) => true,
                }
            }
        };
        match whole {
            true => Framed::Complete,
            false => Framed::Incomplete,
        }
    }

    fn max_len(&self) -> usize {
        match self {
            BodyFraming::Length(length) => usize::try_from(*length).unwrap_or(usize::MAX).max(1),
            BodyFraming::Chunked { max_len, .. } => *max_len,
        }
    }
}
