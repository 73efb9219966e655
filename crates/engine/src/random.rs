//! The engine's source of randomness for the interpreter (task tokens, UUIDs, jitter).

use asl::eval::Randomness;
use rand::RngCore;

/// Operating-system seeded randomness: task tokens must not be guessable.
pub struct OsRandomness(rand::rngs::StdRng);

impl OsRandomness {
    pub fn new() -> Self {
        use rand::SeedableRng;
        Self(rand::rngs::StdRng::from_entropy())
    }
}

impl Default for OsRandomness {
    fn default() -> Self {
        Self::new()
    }
}

impl Randomness for OsRandomness {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

impl OsRandomness {
    /// A fresh execution name, as AWS generates one when StartExecution has none (a UUID).
    pub fn new_execution_name() -> String {
        Self::new().uuid_v4()
    }
}
