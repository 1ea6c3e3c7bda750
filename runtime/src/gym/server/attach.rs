//! `GET /episodes/{id}/attach`: how the server knows that a client went away.
//!
//! HTTP requests are independent, so "the client disconnected" needs a connection that
//! lasts as long as the client: the attach stream. It is a long-lived response of
//! newline-delimited JSON events (`attached`, then a `heartbeat` every `--heartbeat-ms`
//! with the step count, and finally `closed` or `shutdown`). While it is open the episode
//! is not subject to the idle timeout. When its connection closes before the episode
//! was closed — the client process died, its host vanished, or it hung up — the server
//! notices at the next heartbeat it cannot deliver, closes the episode as
//! `closed (client_disconnected)`, completes its records and ends its sandbox, killing
//! everything that ran in it. A client that never attaches is covered by the idle
//! timeout instead.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::json;
use tokio::sync::watch;

use super::registry::{Registry, Slot, SlotStatus, CLOSED_BY_DISCONNECT};
use super::routes::{ApiError, AppState};

/// Held by the stream; dropping it before the stream ended by itself means the client
/// disconnected.
struct Guard {
    registry: Arc<Registry>,
    slot: Arc<Slot>,
    ended: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.slot.detach();
        if !self.ended {
            self.registry
                .close_detached(&self.slot.id, CLOSED_BY_DISCONNECT);
        }
    }
}

struct StreamState {
    guard: Guard,
    status: watch::Receiver<SlotStatus>,
    shutdown: watch::Receiver<bool>,
    tick: tokio::time::Interval,
    started: bool,
    finished: bool,
}

fn line(v: serde_json::Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

async fn next_event(mut st: StreamState) -> Option<(Result<Bytes, Infallible>, StreamState)> {
    if st.finished {
        return None;
    }
    if !st.started {
        st.started = true;
        let s = st.status.borrow().clone();
        return Some((
            Ok(line(
                json!({ "event": "attached", "id": s.id, "step": s.step, "done": s.done }),
            )),
            st,
        ));
    }
    tokio::select! {
        _ = st.tick.tick() => {}
        r = st.status.changed() => { if r.is_err() { st.tick.tick().await; } }
        r = st.shutdown.changed() => { if r.is_err() { st.tick.tick().await; } }
    }
    let s = st.status.borrow_and_update().clone();
    let event = if *st.shutdown.borrow() {
        json!({ "event": "shutdown", "id": s.id })
    } else if s.state == "closed" {
        json!({ "event": "closed", "id": s.id, "step": s.step, "exit_status": s.exit_status })
    } else {
        return Some((
            Ok(line(
                json!({ "event": "heartbeat", "id": s.id, "step": s.step, "done": s.done }),
            )),
            st,
        ));
    };
    st.finished = true;
    st.guard.ended = true;
    Some((Ok(line(event)), st))
}

/// `GET /episodes/{id}/attach`.
pub async fn attach(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let slot = app
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no open episode `{id}`")))?;
    if !slot.attach() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("episode `{id}` already has an attach stream; a second client cannot attach"),
        ));
    }
    let guard = Guard {
        registry: app.registry.clone(),
        slot: slot.clone(),
        ended: false,
    };
    let period = app.heartbeat;
    let state = StreamState {
        guard,
        status: slot.subscribe(),
        shutdown: app.shutdown.clone(),
        tick: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        started: false,
        finished: false,
    };
    let stream = futures_util::stream::unfold(state, next_event);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(stream))
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("building the attach stream: {e}"),
            )
        })
}
