//! Connections by broker address, opened on first use and reopened after failures with jittered
//! exponential backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::conn::{ConnectSettings, Connection};
use crate::error::Error;

#[derive(Debug, Default)]
struct SlotState {
    conn: Option<Arc<Connection>>,
    failures: u32,
    retry_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Debug)]
pub(crate) struct Pool {
    settings: ConnectSettings,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// `base * 2^(failures-1)`, capped at `max`, then ±20 % jitter so many clients do not reconnect in step.
pub(crate) fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    use rand::Rng;
    let exp = failures.saturating_sub(1).min(20);
    let raw = base.saturating_mul(1u32 << exp).min(max);
    let jitter = rand::rng().random_range(0.8..1.2);
    raw.mul_f64(jitter)
}

impl Pool {
    /// The connection settings every connection of this pool uses.
    pub(crate) fn settings(&self) -> &ConnectSettings {
        &self.settings
    }

    pub(crate) fn new(settings: ConnectSettings) -> Self {
        Self {
            settings,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, addr: &str) -> Arc<Slot> {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(addr.to_string())
            .or_default()
            .clone()
    }

    /// A live connection to `addr`, connecting (after the backoff of earlier failures) when needed.
    /// One connect attempt at a time per broker; others wait for its outcome.
    pub(crate) async fn get(&self, addr: &str) -> Result<Arc<Connection>, Error> {
        let slot = self.slot(addr);
        let mut st = slot.state.lock().await;
        if let Some(c) = &st.conn
            && c.is_alive()
        {
            return Ok(c.clone());
        }
        st.conn = None;
        if let Some(at) = st.retry_at
            && at > Instant::now()
        {
            tokio::time::sleep_until(at.into()).await;
        }
        match Connection::connect(addr, &self.settings).await {
            Ok(c) => {
                let c = Arc::new(c);
                st.conn = Some(c.clone());
                st.failures = 0;
                st.retry_at = None;
                Ok(c)
            }
            Err(e) => {
                st.failures += 1;
                let cfg = &self.settings.config;
                st.retry_at = Some(
                    Instant::now()
                        + backoff(
                            cfg.reconnect_backoff,
                            cfg.reconnect_backoff_max,
                            st.failures,
                        ),
                );
                tracing::debug!(broker = addr, error = %e, failures = st.failures, "connect failed");
                Err(e)
            }
        }
    }

    /// Addresses with a live connection right now (cheap choices for "any broker" requests).
    pub(crate) fn live(&self) -> Vec<String> {
        let slots: Vec<(String, Arc<Slot>)> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(a, s)| (a.clone(), s.clone()))
            .collect();
        slots
            .into_iter()
            .filter(|(_, s)| {
                s.state
                    .try_lock()
                    .map(|st| st.conn.as_ref().is_some_and(|c| c.is_alive()))
                    .unwrap_or(false)
            })
            .map(|(a, _)| a)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(10);
        let b1 = backoff(base, max, 1);
        assert!(
            b1 >= Duration::from_millis(80) && b1 <= Duration::from_millis(120),
            "{b1:?}"
        );
        let b4 = backoff(base, max, 4);
        assert!(
            b4 >= Duration::from_millis(640) && b4 <= Duration::from_millis(960),
            "{b4:?}"
        );
        let b30 = backoff(base, max, 30);
        assert!(
            b30 <= Duration::from_secs(12) && b30 >= Duration::from_secs(8),
            "{b30:?}"
        );
    }
}
