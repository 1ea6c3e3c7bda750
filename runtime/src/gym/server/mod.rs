//! The Gym environment server (`mlgym serve`): MLGym's Gym API over HTTP/JSON for many
//! concurrent episodes, each with its own thread, [`crate::gym::GymEnv`] and sandbox.
//!
//! Endpoints (described in `openapi.json`, served at `GET /openapi.json`):
//!
//! | method and path | does |
//! | --- | --- |
//! | `POST /episodes` | create an episode and reset it: `{"task", "seed", "max_steps", "command_timeout", "reward", "model"}` → 201 `{"id", "system", "observation", "info"}` |
//! | `POST /episodes/{id}/reset` | start a new episode in the slot (`{"task", "seed"}`, both optional) |
//! | `POST /episodes/{id}/step` | `{"action"}` or `{"response"}` → `{"observation", "reward", "done", "info"}` |
//! | `DELETE /episodes/{id}` | close: end the sandbox, complete the records → `{"exit_status", "info"}` |
//! | `GET /episodes`, `GET /episodes/{id}` | list / show open episodes |
//! | `POST /episodes/{id}/keepalive` | renew the idle lease without acting |
//! | `GET /episodes/{id}/attach` | the attach stream (see [`attach`]): closing it closes the episode |
//! | `GET /healthz`, `GET /openapi.json` | health, API description (no token needed) |
//!
//! Lifetimes: an episode ends when its client closes it, when its attach stream's
//! connection drops (the client disconnected), when no request arrived for the idle
//! timeout while no attach stream was open, or when the server shuts down (SIGINT or
//! SIGTERM: no new connections, requests in flight finish, attach streams end with a
//! `shutdown` event, then every open episode is closed as `closed (server_shutdown)`
//! with complete records). A `step` in flight is never interrupted: shutdown waits for
//! it.

pub mod attach;
pub mod registry;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::gym::env::GymConfig;
use registry::{Registry, CLOSED_BY_SHUTDOWN};
use routes::Shared;

/// Settings of the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen (port 0: any free port; see [`Server::local_addr`]).
    pub bind: SocketAddr,
    /// The most episodes open at once.
    pub max_episodes: usize,
    /// An episode with no request for this long (and no attach stream) is closed.
    pub idle_timeout: Duration,
    /// Interval of attach-stream heartbeats (how fast a disconnect is noticed).
    pub heartbeat: Duration,
    /// Bearer token every request except `/healthz` and `/openapi.json` must carry.
    pub token: Option<String>,
    /// Settings of new episodes (out dir, recorded names, reward, episode template).
    pub gym: GymConfig,
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another server using the port? pick another with --bind)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    /// Signal handlers could not be installed.
    #[error("installing the SIGINT/SIGTERM handlers: {0}")]
    Signals(std::io::Error),
}

/// What a finished server did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Episodes that were still open at shutdown and were closed by it.
    pub closed_at_shutdown: usize,
}

/// A bound server, not yet serving.
pub struct Server {
    rt: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    cfg: ServerConfig,
    addr: SocketAddr,
}

impl Server {
    /// Binds the address and prepares the runtime.
    pub fn bind(cfg: ServerConfig) -> Result<Server, ServerError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("gym-http")
            .build()
            .map_err(ServerError::Runtime)?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(cfg.bind))
            .map_err(|source| ServerError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: cfg.bind,
            source,
        })?;
        Ok(Server {
            rt,
            listener,
            cfg,
            addr,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub fn run_until_signal(self) -> Result<Summary, ServerError> {
        let signals = {
            let _enter = self.rt.enter();
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
            let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
            async move {
                tokio::select! {
                    _ = term.recv() => eprintln!("gym: SIGTERM: shutting down"),
                    _ = int.recv() => eprintln!("gym: SIGINT: shutting down"),
                }
            }
        };
        self.run_until(signals)
    }

    /// Serves until `stop` completes, then shuts down gracefully: no new connections,
    /// attach streams end, requests in flight finish, every open episode is closed with
    /// complete records.
    pub fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Summary, ServerError> {
        let Server {
            rt, listener, cfg, ..
        } = self;
        let registry = Arc::new(Registry::new(cfg.max_episodes.max(1)));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            template: cfg.gym.clone(),
            token: cfg.token.clone(),
            heartbeat: cfg.heartbeat,
            idle_timeout: cfg.idle_timeout,
            shutdown: shutdown_rx,
        });
        let app = routes::router(shared);
        let reaper = {
            let registry = registry.clone();
            let idle = cfg.idle_timeout;
            let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
            rt.spawn(async move {
                let mut every = tokio::time::interval(tick);
                loop {
                    every.tick().await;
                    registry.reap_idle(idle);
                }
            })
        };
        let shutdown_registry = registry.clone();
        let signal = async move {
            stop.await;
            shutdown_registry.begin_shutdown();
            let _ = shutdown_tx.send(true);
        };
        let served = rt.block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
        });
        reaper.abort();
        // Requests have finished; close what is still open (blocking: waits for each
        // episode's thread to complete its records).
        let closed = registry.close_all(CLOSED_BY_SHUTDOWN);
        rt.shutdown_timeout(Duration::from_secs(5));
        served.map_err(ServerError::Serve)?;
        eprintln!("gym: shut down; {closed} open episode(s) closed");
        Ok(Summary {
            closed_at_shutdown: closed,
        })
    }
}
