//! Task tokens: the base64url text of 32 random bytes the interpreter issues to a task that
//! waits for an answer. Parse, don't validate: a [`TaskToken`] made from a client's text has
//! that shape, else AWS's `InvalidToken`. The store keeps a token only as its hash
//! ([`TaskToken::hash`]).

use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::EngineError;

/// AWS's limit on a `taskToken`'s length.
const MAX_TOKEN_LENGTH: usize = 2048;

/// A task token as a client sends it back (SendTaskSuccess, SendTaskFailure,
/// SendTaskHeartbeat) or GetActivityTask hands it out.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskToken(String);

impl TaskToken {
    /// Read a token a client sent: 1 to 2,048 characters (AWS's model), which must be one
    /// Baton issued (32 bytes in base64url; surrounding blanks are ignored).
    pub fn parse(text: &str) -> Result<TaskToken, EngineError> {
        if text.is_empty() || text.len() > MAX_TOKEN_LENGTH {
            return Err(EngineError::InvalidToken("Invalid token".into()));
        }
        let trimmed = text.trim();
        match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed) {
            Ok(bytes) if bytes.len() == 32 => Ok(TaskToken(trimmed.to_owned())),
            _ => Err(EngineError::InvalidToken(text.to_owned())),
        }
    }

    /// A token the interpreter issued (kept in a task's request until it is handed out).
    pub(crate) fn issued(text: String) -> TaskToken {
        TaskToken(text)
    }

    /// What the store keys a task by: SHA-256 of the token's text.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Tokens are secrets: logs and debug output show only that one was there.
impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_bytes_of_base64url() {
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
        let token = TaskToken::parse(&format!(" {text}\n")).expect("a well-formed token");
        assert_eq!(token.as_str(), text);
        assert_eq!(token.hash(), Sha256::digest(text.as_bytes()).to_vec());
        assert_eq!(TaskToken::parse("garbage").unwrap_err().to_string(), "Invalid Token: 'garbage'");
        assert_eq!(TaskToken::parse("").unwrap_err().to_string(), "Invalid Token: 'Invalid token'");
        assert_eq!(TaskToken::parse(&"a".repeat(2049)).unwrap_err().aws_name(), "InvalidToken");
    }
}
