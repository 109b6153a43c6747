//! The server's bookkeeping, shared by the handle and every connection: the
//! scripts and how far each has got, the API key, the request log and the
//! counters tests wait on.

use super::script::{Script, Step};
use super::RequestRecord;
use hyper::header::{HeaderMap, AUTHORIZATION};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use tokio::sync::watch;

pub(super) struct State {
    started: Instant,
    models: Mutex<Models>,
    api_key: Mutex<Option<String>>,
    requests: Mutex<Vec<RequestRecord>>,
    /// How many requests have been recorded.
    arrived: watch::Sender<usize>,
    /// How many requests are being answered, bodies included.
    in_flight: watch::Sender<usize>,
}

#[derive(Default)]
struct Models {
    /// Set by `set_script`; these are the models `/v1/models` lists.
    scripted: BTreeMap<String, Cursor>,
    /// Model names that are scripts themselves, parsed on first use so their
    /// steps advance like any other script's.
    implied: HashMap<String, Cursor>,
}

struct Cursor {
    script: Script,
    served: usize,
}

impl Cursor {
    fn new(script: Script) -> Cursor {
        Cursor { script, served: 0 }
    }

    fn next(&mut self) -> Step {
        let step = self.script.step(self.served).clone();
        self.served += 1;
        step
    }
}

/// The state is plain bookkeeping that a panicking holder cannot leave half
/// updated, so a poisoned lock is still good to use.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new() -> State {
        State {
            started: Instant::now(),
            models: Mutex::default(),
            api_key: Mutex::default(),
            requests: Mutex::default(),
            arrived: watch::Sender::new(0),
            in_flight: watch::Sender::new(0),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn set_script(&self, model: &str, script: Script) {
        lock(&self.models)
            .scripted
            .insert(model.to_owned(), Cursor::new(script));
    }

    pub fn scripts(&self) -> Vec<(String, Script)> {
        lock(&self.models)
            .scripted
            .iter()
            .map(|(model, cursor)| (model.clone(), cursor.script.clone()))
            .collect()
    }

    /// The step answering the next request for `model`; `None` for a model
    /// that has no script and whose name is not one.
    pub fn next_step(&self, model: &str) -> Option<Step> {
        let mut models = lock(&self.models);
        let models = &mut *models;
        if let Some(cursor) = models.scripted.get_mut(model) {
            return Some(cursor.next());
        }
        if let Some(cursor) = models.implied.get_mut(model) {
            return Some(cursor.next());
        }
        let script = model.parse().ok()?;
        let cursor = models
            .implied
            .entry(model.to_owned())
            .or_insert(Cursor::new(script));
        Some(cursor.next())
    }

    pub fn set_api_key(&self, key: Option<String>) {
        *lock(&self.api_key) = key;
    }

    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(key) = lock(&self.api_key).clone() else {
            return true;
        };
        // A bearer token (OpenAI, Ollama) or Anthropic's `x-api-key`.
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        [bearer, x_api_key].contains(&Some(key.as_str()))
    }

    /// Logs a request and returns its number, counting from 0.
    pub fn record(&self, record: RequestRecord) -> usize {
        let mut requests = lock(&self.requests);
        requests.push(record);
        // Under the lock, so waiters see the count grow in order.
        self.arrived.send_replace(requests.len());
        requests.len() - 1
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.requests).clone()
    }

    pub async fn wait_for_requests(&self, n: usize) {
        let mut arrived = self.arrived.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = arrived.wait_for(|&count| count >= n).await;
    }

    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    pub async fn wait_idle(&self) {
        let mut in_flight = self.in_flight.subscribe();
        let _ = in_flight.wait_for(|&count| count == 0).await;
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.in_flight.send_modify(|count| *count += 1);
        Busy(self.clone())
    }
}

/// A request being answered; see [`State::busy`].
pub(super) struct Busy(Arc<State>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|count| *count -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_scripts_win_and_model_names_can_be_scripts() {
        let state = State::new();
        assert_eq!(state.next_step("gpt-4o"), None);
        state.set_script("gpt-4o", Step::Auth.into());
        assert_eq!(state.next_step("gpt-4o"), Some(Step::Auth));

        let steps: Vec<_> = (0..3)
            .map(|_| state.next_step("server_error, ok").unwrap())
            .collect();
        assert_eq!(steps, [Step::ServerError, Step::Ok, Step::Ok]);
        // Implied scripts are not listed as scripted models.
        assert_eq!(state.scripts().len(), 1);
    }

    #[test]
    fn setting_a_script_restarts_it() {
        let state = State::new();
        let script: Script = "auth, ok".parse().unwrap();
        state.set_script("m", script.clone());
        assert_eq!(state.next_step("m"), Some(Step::Auth));
        assert_eq!(state.next_step("m"), Some(Step::Ok));
        state.set_script("m", script);
        assert_eq!(state.next_step("m"), Some(Step::Auth));
    }
}
