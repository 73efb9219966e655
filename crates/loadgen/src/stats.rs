//! Latency samples and their summary (count, mean, p50/p90/p99, max), in milliseconds.

use serde::Serialize;

#[derive(Debug, Default, Clone)]
pub struct Samples {
    values: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Samples {
    pub fn push(&mut self, ms: f64) {
        if ms.is_finite() {
            self.values.push(ms);
        }
    }

    pub fn extend(&mut self, other: Samples) {
        self.values.extend(other.values);
    }

    /// Every sample plus `delta` (e.g. run time minus the time a Wait asked for).
    pub fn shifted(&self, delta: f64) -> Samples {
        Samples { values: self.values.iter().map(|v| v + delta).collect() }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Nearest-rank percentiles over every sample (no sampling, no buckets).
    pub fn summary(&self) -> Option<Summary> {
        if self.values.is_empty() {
            return None;
        }
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
            v[i.clamp(1, v.len()) - 1]
        };
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        Some(Summary {
            count: v.len(),
            mean_ms: round(v.iter().sum::<f64>() / v.len() as f64),
            p50_ms: round(rank(50.0)),
            p90_ms: round(rank(90.0)),
            p99_ms: round(rank(99.0)),
            max_ms: round(v[v.len() - 1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for i in 1..=100 {
            s.push(i as f64);
        }
        let sum = s.summary().unwrap();
        assert_eq!((sum.p50_ms, sum.p90_ms, sum.p99_ms, sum.max_ms), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(sum.count, 100);
        assert!(Samples::default().summary().is_none());
    }
}
