//! `Content-Encoding: aws-chunked` bodies (the SDKs' streaming uploads), decoded without
//! their signatures: `<hex size>[;chunk-signature=...]\r\n<bytes>\r\n` ... `0...\r\n`, then
//! optional trailers (`x-amz-checksum-crc32:...`) and an empty line.
//!
//! Used when the built-in S3 serves without credentials: requests are not authenticated, so
//! chunk signatures are not checked, only the framing. With credentials, s3s checks both.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

#[derive(Debug, thiserror::Error)]
#[error("malformed aws-chunked body: {0}")]
pub struct ChunkedError(&'static str);

enum State {
    /// Expecting a chunk header line.
    Header,
    /// Inside a chunk's bytes.
    Data(usize),
    /// Expecting the CRLF after a chunk's bytes.
    DataEnd,
    /// After the last (empty) chunk: trailer lines until an empty one.
    Trailers,
    Done,
}

/// The longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Decode an aws-chunked stream into the object's bytes.
pub fn decode<S, E>(inner: S) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display,
{
    let initial = (inner, BytesMut::new(), State::Header, false);
    futures_util::stream::unfold(initial, |(mut inner, mut buf, mut state, mut ended)| async move {
        loop {
            if let State::Done = state {
                return None;
            }
            match step(&mut buf, &mut state) {
                Ok(Some(bytes)) => return Some((Ok(bytes), (inner, buf, state, ended))),
                Ok(None) => {}
                Err(e) => {
                    let error = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
                    return Some((Err(error), (inner, buf, State::Done, true)));
                }
            }
            if matches!(state, State::Done) {
                return None;
            }
            if ended {
                let error =
                    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, ChunkedError("the body ended early"));
                return Some((Err(error), (inner, buf, State::Done, true)));
            }
            match inner.next().await {
                Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    let error = std::io::Error::other(e.to_string());
                    return Some((Err(error), (inner, buf, State::Done, true)));
                }
                None => ended = true,
            }
        }
    })
}

/// Advance as far as `buf` allows: `Some(bytes)` when object bytes are ready, `None` when
/// more input is needed (or the state moved on without output).
fn step(buf: &mut BytesMut, state: &mut State) -> Result<Option<Bytes>, ChunkedError> {
    loop {
        match state {
            State::Done => return Ok(None),
            State::Header => {
                let Some(line) = take_line(buf)? else { return Ok(None) };
                let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
                let size_text = std::str::from_utf8(size_text).map_err(|_| ChunkedError("a chunk size is not text"))?;
                let size =
                    usize::from_str_radix(size_text.trim(), 16).map_err(|_| ChunkedError("a chunk size is not hex"))?;
                *state = if size == 0 { State::Trailers } else { State::Data(size) };
            }
            State::Data(remaining) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = (*remaining).min(buf.len());
                let bytes = buf.split_to(n).freeze();
                *remaining -= n;
                if *remaining == 0 {
                    *state = State::DataEnd;
                }
                return Ok(Some(bytes));
            }
            State::DataEnd => {
                if buf.len() < 2 {
                    return Ok(None);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(ChunkedError("a chunk does not end with CRLF"));
                }
                buf.advance(2);
                *state = State::Header;
            }
            State::Trailers => {
                let Some(line) = take_line(buf)? else { return Ok(None) };
                if line.is_empty() {
                    *state = State::Done;
                    return Ok(None);
                }
            }
        }
    }
}

/// The next CRLF-terminated line without its CRLF, or `None` when it has not arrived whole.
fn take_line(buf: &mut BytesMut) -> Result<Option<Vec<u8>>, ChunkedError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(at) => {
            let line = buf.split_to(at).to_vec();
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE => Err(ChunkedError("a chunk header is too long")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<u8>, std::io::Error> {
        let pieces: Vec<Result<Bytes, std::io::Error>> = pieces.iter().map(|p| Ok(Bytes::copy_from_slice(p))).collect();
        let stream = decode(futures_util::stream::iter(pieces));
        futures_util::pin_mut!(stream);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut out = Vec::new();
            while let Some(bytes) = stream.next().await {
                out.extend_from_slice(&bytes?);
            }
            Ok(out)
        })
    }

    #[test]
    fn signed_and_trailer_framings_decode_across_any_split() {
        let body: &[u8] =
            b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=0\r\n\r\n";
        for split in 0..body.len() {
            assert_eq!(decode_all(&[&body[..split], &body[split..]]).unwrap(), b"hello world");
        }
        let trailer: &[u8] = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n";
        assert_eq!(decode_all(&[trailer]).unwrap(), b"abc");
    }

    #[test]
    fn truncated_or_malformed_bodies_are_errors() {
        assert!(decode_all(&[b"5\r\nhel"]).is_err());
        assert!(decode_all(&[b"zz\r\nhello\r\n0\r\n\r\n"]).is_err());
        assert!(decode_all(&[b"5\r\nhelloXX0\r\n\r\n"]).is_err());
    }
}
