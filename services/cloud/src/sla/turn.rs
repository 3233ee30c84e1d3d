//! The cloud's one turn to check capacity against the SLAs and record what it admits, given
//! to the waiting request of the highest priority first (of equal priorities, the one that
//! came first): when requests contend, the higher-priority account's goes first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

/// The turn and its queue.
#[derive(Debug, Default)]
pub struct Turns {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    /// Waiting requests: priority, then arrival (earlier first).
    waiting: BinaryHeap<(i64, Reverse<u64>)>,
    arrivals: u64,
}

/// The turn, held until dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    turns: &'a Turns,
}

impl Turns {
    /// Waits for the turn of a request of `priority`.
    pub async fn take(&self, priority: i64) -> Turn<'_> {
        let waiting = {
            let mut state = self.lock();
            state.arrivals += 1;
            let me = (priority, Reverse(state.arrivals));
            state.waiting.push(me);
            Waiting { turns: self, me }
        };
        loop {
            // Registered before the check, so a release between the two is not missed.
            let changed = self.changed.notified();
            {
                let mut state = self.lock();
                if !state.held && state.waiting.peek() == Some(&waiting.me) {
                    state.waiting.pop();
                    state.held = true;
                    return Turn { turns: self };
                }
            }
            changed.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request in the queue, which leaves it when given up (its future dropped) or admitted.
struct Waiting<'a> {
    turns: &'a Turns,
    me: (i64, Reverse<u64>),
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.turns.lock().waiting.retain(|w| *w != self.me);
        self.turns.changed.notify_waiters();
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.lock().held = false;
        self.turns.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_waiting_request_of_the_highest_priority_goes_first() {
        let turns = Arc::new(Turns::default());
        let held = turns.take(0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for (name, priority) in [("low", 1), ("high", 9), ("mid", 5), ("high-later", 9)] {
            let (mine, order) = (Arc::clone(&turns), Arc::clone(&order));
            waiting.push(tokio::spawn(async move {
                let _turn = mine.take(priority).await;
                order
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(name);
            }));
            // Each queued before the next arrives.
            while turns.lock().waiting.len() < waiting.len() {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for task in waiting {
            task.await.expect("a waiter finishes");
        }
        let order = order.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(order, ["high", "high-later", "mid", "low"]);
    }
}
