//! Timestamps as ASL defines them (RFC 3339 with an uppercase `T` and `Z`), parsed for Wait
//! and Choice, and formatted as AWS writes them in the context object and history.

/// Milliseconds since the Unix epoch, UTC. The interpreter's only notion of time.
pub type Millis = i64;

/// Parse an ASL timestamp (e.g. `2016-03-14T01:59:00Z`, `2016-03-14T01:59:00.123+02:00`).
/// Returns `None` when the text is not one.
pub fn parse(text: &str) -> Option<Millis> {
    let _ = text;
    todo!("timestamp: parse")
}

/// Format as AWS does in the context object (`2024-01-01T00:00:00.123Z`).
pub fn format(ms: Millis) -> String {
    let _ = ms;
    todo!("timestamp: format")
}
