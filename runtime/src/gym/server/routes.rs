//! The HTTP endpoints (see `openapi.json` beside this file, served at `/openapi.json`).
//! Every error is JSON `{"error": "..."}` with a status code that says whose fault it is:
//! 400 malformed JSON, 401 bad token, 404 unknown episode or route, 405 wrong method,
//! 409 the episode's state forbids it (step after done), 413 body too large, 422 invalid fields (unknown task, unparsable response), 429 episode limit, 500
//! the runtime failed, 503 shutting down or the episode's GPUs are busy.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{oneshot, watch};

use super::attach;
use super::registry::{Command, Registry, Slot, SlotError};
use crate::gym::env::{GymConfig, GymError, StepRequest};
use crate::gym::reward::RewardKind;

/// The OpenAPI description of these endpoints.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest `max_steps` a client may ask for.
pub const MAX_STEPS_LIMIT: usize = 10_000;

/// What every handler shares.
pub struct Shared {
    /// Open episodes.
    pub registry: Arc<Registry>,
    /// Settings of new episodes (requests may override some).
    pub template: GymConfig,
    /// The bearer token, when one is required.
    pub token: Option<String>,
    /// Interval of attach-stream heartbeats.
    pub heartbeat: Duration,
    /// Idle timeout of episodes.
    pub idle_timeout: Duration,
    /// Becomes true when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
}

/// The handlers' state.
pub type AppState = Arc<Shared>;

/// An HTTP error: a status and a sentence for `{"error": ...}`.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The sentence.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn unknown_episode(id: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("no open episode `{id}`: list open episodes with GET /episodes, create one with POST /episodes"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<GymError> for ApiError {
    fn from(e: GymError) -> ApiError {
        let status = match &e {
            GymError::UnknownTask(_) | GymError::Format { .. } | GymError::Invalid(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            GymError::NotStarted | GymError::Ended { .. } => StatusCode::CONFLICT,
            // Another episode or run holds the GPUs (or the host lacks them): retry later.
            GymError::Gpu(_) => StatusCode::SERVICE_UNAVAILABLE,
            GymError::Run(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<SlotError> for ApiError {
    fn from(e: SlotError) -> ApiError {
        let status = match &e {
            SlotError::Full(_) => StatusCode::TOO_MANY_REQUESTS,
            SlotError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            SlotError::Thread(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A JSON request body (whatever the `Content-Type` says, so `curl -d` works); `None`
/// for an empty body.
pub struct JsonBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                e.status(),
                format!("reading the request body: {}", e.body_text()),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize::<_, T>(&mut de)
            .map_err(|e| body_error(&e.path().to_string(), e.inner()))?;
        de.end().map_err(|e| body_error(".", &e))?;
        Ok(JsonBody(Some(value)))
    }
}

/// 422 for JSON of the wrong shape (naming the field), 400 for text that is not JSON.
fn body_error(path: &str, e: &serde_json::Error) -> ApiError {
    if e.is_data() {
        let at = if path == "." {
            String::new()
        } else {
            format!("field `{path}`: ")
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid request: {at}{e}"),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request body is not valid JSON: {e}"),
        )
    }
}

fn required<T>(body: JsonBody<T>, what: &str) -> Result<T, ApiError> {
    body.0.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request needs a JSON body: {what}"),
        )
    })
}

/// `POST /episodes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Task id.
    pub task: String,
    /// Seed of every evaluation.
    #[serde(default)]
    pub seed: u64,
    /// Step budget (default: the server's).
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Timeout of ordinary commands in seconds (default: the server's).
    #[serde(default)]
    pub command_timeout: Option<u64>,
    /// Reward kind (default: the server's).
    #[serde(default)]
    pub reward: Option<RewardKind>,
    /// Model name for the records.
    #[serde(default)]
    pub model: Option<String>,
}

/// `POST /episodes/{id}/reset`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Task id (default: the episode's).
    #[serde(default)]
    pub task: Option<String>,
    /// Seed (default: the episode's).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// The router with every endpoint, the auth layer and JSON fallbacks.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/episodes", get(list).post(create))
        .route("/episodes/{id}", get(status).delete(close))
        .route("/episodes/{id}/reset", post(reset))
        .route("/episodes/{id}/step", post(step))
        .route("/episodes/{id}/keepalive", post(keepalive))
        .route("/episodes/{id}/attach", get(attach::attach))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such endpoint: see GET /openapi.json",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint: see GET /openapi.json",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// Constant-time comparison (the token's length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(
    State(app): State<AppState>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let open = matches!(req.uri().path(), "/healthz" | "/openapi.json");
    if let (Some(token), false) = (&app.token, open) {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(given.trim().as_bytes(), token.as_bytes()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token: send `Authorization: Bearer <token>` with the token given to `mlgym serve` (--token-file or $MLGYM_GYM_TOKEN)",
            )
            .into_response();
        }
    }
    next.run(req).await
}

fn not_shutting_down(app: &AppState) -> Result<(), ApiError> {
    if app.registry.shutting_down() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ));
    }
    Ok(())
}

async fn healthz(State(app): State<AppState>) -> Json<serde_json::Value> {
    Json(
        json!({ "status": if app.registry.shutting_down() { "shutting_down" } else { "ok" }, "episodes": app.registry.list().len(), "max_episodes": app.registry.max() }),
    )
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list(State(app): State<AppState>) -> Json<serde_json::Value> {
    let episodes = app.registry.list();
    Json(
        json!({ "open": episodes.len(), "max_episodes": app.registry.max(), "idle_timeout_s": app.idle_timeout.as_secs_f64(), "episodes": episodes }),
    )
}

async fn status(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let slot = open_slot(&app, &id)?;
    Ok(Json(json!(slot.status())))
}

/// Awaits a reply from an episode's thread; a dropped reply means the episode closed.
async fn answer<T>(id: &str, rx: oneshot::Receiver<Result<T, GymError>>) -> Result<T, ApiError> {
    match rx.await {
        Ok(r) => r.map_err(ApiError::from),
        Err(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("episode `{id}` was closed"),
        )),
    }
}

/// Sends the command `make` builds to the episode's thread and awaits its reply; an
/// episode whose thread has ended is unknown (404).
async fn ask<T>(
    slot: &Slot,
    id: &str,
    make: impl FnOnce(oneshot::Sender<Result<T, GymError>>) -> Command,
) -> Result<T, ApiError> {
    let (reply, rx) = oneshot::channel();
    if !slot.send(make(reply)) {
        return Err(ApiError::unknown_episode(id));
    }
    answer(id, rx).await
}

/// The open episode `id`, or 404.
fn open_slot(app: &AppState, id: &str) -> Result<Arc<Slot>, ApiError> {
    app.registry
        .get(id)
        .ok_or_else(|| ApiError::unknown_episode(id))
}

/// Checks that the request's `task` is in the registry (422 with the registry's reason).
fn known_task(task: &str) -> Result<(), ApiError> {
    mlgym_tasks::registry::get(task).map(|_| ()).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("field `task`: {e}"),
        )
    })
}

async fn create(
    State(app): State<AppState>,
    body: JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    not_shutting_down(&app)?;
    let req = required(body, "{\"task\": \"battleOfSexes\", \"seed\": 0}")?;
    known_task(&req.task)?;
    let mut cfg = app.template.clone();
    if let Some(m) = req.max_steps {
        if m == 0 || m > MAX_STEPS_LIMIT {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("field `max_steps`: {m} is not in 1..={MAX_STEPS_LIMIT}"),
            ));
        }
        cfg.episode.max_steps = m;
    }
    if let Some(t) = req.command_timeout {
        if t == 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "field `command_timeout`: give at least 1 second",
            ));
        }
        cfg.episode.short_timeout = Duration::from_secs(t);
    }
    if let Some(r) = req.reward {
        cfg.reward = r;
    }
    if let Some(m) = req.model.filter(|m| !m.trim().is_empty()) {
        cfg.model = m;
    }
    let slot = app.registry.create(cfg)?;
    let _busy = slot.enter();
    let (reply, rx) = oneshot::channel();
    slot.send(Command::Reset {
        task: req.task,
        seed: req.seed,
        reply,
    });
    match answer(&slot.id, rx).await {
        Ok(out) => Ok((StatusCode::CREATED, Json(json!({ "id": slot.id, "system": out.system, "observation": out.observation, "info": out.info })))
            .into_response()),
        Err(e) => {
            app.registry.close_detached(&slot.id, "closed (reset failed)");
            Err(e)
        }
    }
}

async fn reset(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<ResetRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    not_shutting_down(&app)?;
    let slot = open_slot(&app, &id)?;
    let req = body.0.unwrap_or_default();
    let current = slot.status();
    let task = req.task.unwrap_or(current.task);
    known_task(&task)?;
    let _busy = slot.enter();
    let seed = req.seed.unwrap_or(current.seed);
    let out = ask(&slot, &id, |reply| Command::Reset { task, seed, reply }).await?;
    Ok(Json(
        json!({ "id": id, "system": out.system, "observation": out.observation, "info": out.info }),
    ))
}

async fn step(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: JsonBody<StepRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    not_shutting_down(&app)?;
    let slot = open_slot(&app, &id)?;
    let request = required(
        body,
        "{\"action\": \"ls\"} or {\"response\": \"<the model's raw response>\"}",
    )?;
    let _busy = slot.enter();
    let t = ask(&slot, &id, |reply| Command::Step { request, reply }).await?;
    Ok(Json(
        json!({ "id": id, "observation": t.observation, "reward": t.reward, "done": t.done, "info": t.info }),
    ))
}

async fn close(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let slot = app
        .registry
        .remove(&id)
        .ok_or_else(|| ApiError::unknown_episode(&id))?;
    let closed = ask(&slot, &id, |reply| Command::Close {
        status: crate::gym::env::CLOSED_BY_CLIENT.into(),
        reply: Some(reply),
    })
    .await?;
    match closed {
        Some(c) => Ok(Json(
            json!({ "id": id, "exit_status": c.exit_status, "info": c.info }),
        )),
        None => Ok(Json(json!({ "id": id, "exit_status": null, "info": null }))),
    }
}

async fn keepalive(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let slot = open_slot(&app, &id)?;
    drop(slot.enter());
    Ok(Json(
        json!({ "id": id, "idle_timeout_s": app.idle_timeout.as_secs_f64() }),
    ))
}
