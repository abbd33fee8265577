//! The gRPC length-prefixed message framing (1 byte compressed flag, 4 bytes
//! big-endian length, the message), read incrementally from body chunks.
//!
//! ```
//! use orders_testkit::grpc::frame::{FrameDecoder, encode_frame};
//!
//! let mut dec = FrameDecoder::default();
//! let wire = encode_frame(b"hello");
//! dec.push(&wire[..3]);
//! assert!(dec.next_message().is_none());
//! dec.push(&wire[3..]);
//! assert_eq!(&dec.next_message().unwrap().unwrap()[..], b"hello");
//! ```

use bytes::{Buf, Bytes, BytesMut};

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The compressed flag was set; the testkit does not decompress.
    Compressed,
    /// The flag byte was neither 0 nor 1.
    BadFlag(u8),
}

/// Accumulates body bytes and yields whole messages.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
    /// A chunk given whole, read without copying while no partial message
    /// is buffered (the usual case: one message per chunk).
    chunk: Bytes,
}

impl FrameDecoder {
    /// Appends bytes read from the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.spill();
        self.buf.extend_from_slice(chunk);
    }

    /// Appends a chunk read from the body; whole messages in it are later
    /// handed out without copying.
    pub fn push_bytes(&mut self, chunk: Bytes) {
        if self.buf.is_empty() && self.chunk.is_empty() {
            self.chunk = chunk;
        } else {
            self.spill();
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Moves the unread part of the whole chunk into the buffer.
    fn spill(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// The next whole message, if one is buffered.
    pub fn next_message(&mut self) -> Option<Result<Bytes, FrameError>> {
        if !self.chunk.is_empty() {
            let c = &self.chunk;
            if c.len() >= 5 {
                let len = u32::from_be_bytes([c[1], c[2], c[3], c[4]]) as usize;
                if c.len() >= 5 + len {
                    let flag = c[0];
                    let message = c.slice(5..5 + len);
                    self.chunk.advance(5 + len);
                    return Some(match flag {
                        0 => Ok(message),
                        1 => Err(FrameError::Compressed),
                        other => Err(FrameError::BadFlag(other)),
                    });
                }
            }
            self.spill();
        }
        if self.buf.len() < 5 {
            return None;
        }
        let flag = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.buf.len() < 5 + len {
            return None;
        }
        self.buf.advance(5);
        let message = self.buf.split_to(len).freeze();
        Some(match flag {
            0 => Ok(message),
            1 => Err(FrameError::Compressed),
            other => Err(FrameError::BadFlag(other)),
        })
    }

    /// Bytes buffered that do not yet form a whole message.
    pub fn pending(&self) -> usize {
        self.buf.len() + self.chunk.len()
    }
}

/// Frames one uncompressed message.
pub fn encode_frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.extend_from_slice(&[0]);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out.freeze()
}
