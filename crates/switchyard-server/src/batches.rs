//! Batches from a queue of finished requests, for the sinks that write in bulk (spend logs,
//! OTLP, webhooks): a batch closes when it is full or its first item has waited `interval`;
//! after the stop signal the queue is closed and drained without waiting.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// Reads a queue batch by batch until it is closed and empty.
pub(crate) struct Batches<T> {
    rx: mpsc::Receiver<T>,
    stop: oneshot::Receiver<()>,
    stopping: bool,
    size: usize,
    interval: Duration,
}

impl<T> Batches<T> {
    /// Batches of at most `size` items from `rx`, closed after `interval`; `stop` drains.
    pub(crate) fn new(
        rx: mpsc::Receiver<T>,
        stop: oneshot::Receiver<()>,
        size: usize,
        interval: Duration,
    ) -> Self {
        Batches {
            rx,
            stop,
            stopping: false,
            size: size.max(1),
            interval,
        }
    }

    /// Fills `batch` (cleared first) with the next batch; false once the queue is closed and
    /// empty.
    pub(crate) async fn next(&mut self, batch: &mut Vec<T>) -> bool {
        batch.clear();
        // Wait for the first item of a batch (or the stop signal).
        let first = loop {
            if self.stopping {
                break self.rx.recv().await;
            }
            tokio::select! {
                item = self.rx.recv() => break item,
                _ = &mut self.stop => self.begin_stop(),
            }
        };
        let Some(first) = first else { return false };
        batch.push(first);
        // One timer per batch, and everything already queued taken at once: under load a
        // wake-up per row would cost more than writing it.
        let closes = tokio::time::sleep(self.interval);
        tokio::pin!(closes);
        while batch.len() < self.size {
            if self.stopping {
                match self.rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
                continue;
            }
            let room = self.size - batch.len();
            tokio::select! {
                taken = self.rx.recv_many(batch, room) => if taken == 0 {
                    break;
                },
                () = &mut closes => break,
                _ = &mut self.stop => self.begin_stop(),
            }
        }
        true
    }

    fn begin_stop(&mut self) {
        self.stopping = true;
        self.rx.close();
    }
}
