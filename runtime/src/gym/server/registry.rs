//! The server's open episodes: one [`Slot`] per episode, each served by a dedicated
//! thread that owns its [`GymEnv`] (and so its sandbox) and runs its commands in order.
//! Handlers talk to the thread through a channel and await the reply, so blocking
//! episode code never runs on the async runtime.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::gym::env::{
    Closed, GymConfig, GymEnv, GymError, Info, ResetOutput, StepRequest, Transition,
};

/// Exit status recorded when the client's attach stream disconnected.
pub const CLOSED_BY_DISCONNECT: &str = "closed (client_disconnected)";
/// Exit status recorded when no request arrived within the idle timeout.
pub const CLOSED_BY_IDLE: &str = "closed (idle_timeout)";
/// Exit status recorded when the server shut down with the episode open.
pub const CLOSED_BY_SHUTDOWN: &str = "closed (server_shutdown)";

/// What the thread of an episode is asked to do.
pub enum Command {
    /// `reset(task, seed)`.
    Reset {
        /// Task id.
        task: String,
        /// Seed.
        seed: u64,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<ResetOutput, GymError>>,
    },
    /// `step`.
    Step {
        /// The step.
        request: StepRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Transition, GymError>>,
    },
    /// `close`, recording `status` if the episode had not ended; the thread then ends.
    Close {
        /// Exit status for an episode that had not ended.
        status: String,
        /// Where the answer goes (none when nobody waits).
        reply: Option<oneshot::Sender<Result<Option<Closed>, GymError>>>,
    },
}

/// What `GET /episodes` shows of an episode.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SlotStatus {
    /// The episode id.
    pub id: String,
    /// `starting`, `running`, `ended` (awaiting close or reset) or `closed`.
    pub state: String,
    /// Task id.
    pub task: String,
    /// Seed.
    pub seed: u64,
    /// Steps taken.
    pub step: usize,
    /// Step budget.
    pub max_steps: usize,
    /// Whether the episode is over.
    pub done: bool,
    /// MLGym's exit status, once over.
    pub exit_status: Option<String>,
    /// The run directory.
    pub run_dir: Option<PathBuf>,
    /// Sum of the rewards.
    pub episode_return: f64,
    /// Whether a client holds the attach stream.
    pub attached: bool,
    /// Seconds since the last request.
    pub idle_s: f64,
}

impl SlotStatus {
    fn update(&mut self, info: &Info) {
        self.state = if info.done {
            "ended".into()
        } else {
            "running".into()
        };
        self.task = info.task.clone();
        self.seed = info.seed;
        self.step = info.step;
        self.max_steps = info.max_steps;
        self.done = info.done;
        self.exit_status = info.exit_status.clone();
        self.run_dir = Some(info.run_dir.clone());
        self.episode_return = info.episode_return;
    }
}

/// One open episode.
pub struct Slot {
    /// The id.
    pub id: String,
    tx: mpsc::Sender<Command>,
    status: watch::Sender<SlotStatus>,
    last_activity: Mutex<Instant>,
    busy: AtomicUsize,
    attached: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Slot {
    /// Marks a request as started (the idle clock stops while one runs).
    pub fn enter(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        self.touch();
        Busy(self.clone())
    }

    fn touch(&self) {
        *lock(&self.last_activity) = Instant::now();
    }

    /// Sends a command to the episode's thread; false when the thread has ended.
    pub fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).is_ok()
    }

    /// The status as shown by `GET /episodes`.
    pub fn status(&self) -> SlotStatus {
        let mut s = self.status.borrow().clone();
        s.attached = self.attached.load(Ordering::SeqCst);
        s.idle_s = if self.busy.load(Ordering::SeqCst) > 0 {
            0.0
        } else {
            lock(&self.last_activity).elapsed().as_secs_f64()
        };
        s
    }

    /// Status changes (after every command; `closed` last).
    pub fn subscribe(&self) -> watch::Receiver<SlotStatus> {
        self.status.subscribe()
    }

    /// Claims the attach stream; false when a client already holds it.
    pub fn attach(&self) -> bool {
        !self.attached.swap(true, Ordering::SeqCst)
    }

    /// Releases the attach stream.
    pub fn detach(&self) {
        self.attached.store(false, Ordering::SeqCst);
        self.touch();
    }
}

/// A request in progress on a slot; dropping it restarts the idle clock.
pub struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a slot could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// `--max-episodes` are open.
    #[error("the server already holds {0} episodes (--max-episodes {0}): close one (DELETE /episodes/ID) and try again")]
    Full(usize),
    /// The server is shutting down.
    #[error("the server is shutting down and takes no new episodes")]
    ShuttingDown,
    /// The thread could not be started.
    #[error("starting the episode's thread: {0}")]
    Thread(String),
}

/// All open episodes.
pub struct Registry {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    max: usize,
    shutting_down: AtomicBool,
    counter: AtomicUsize,
}

impl Registry {
    /// An empty registry holding at most `max` episodes at once.
    pub fn new(max: usize) -> Registry {
        Registry {
            slots: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            max,
            shutting_down: AtomicBool::new(false),
            counter: AtomicUsize::new(0),
        }
    }

    /// The most episodes held at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    fn new_id(&self) -> String {
        use std::io::Read;
        let mut bytes = [0u8; 8];
        let random = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .is_ok();
        if !random {
            let n = self.counter.fetch_add(1, Ordering::SeqCst) as u64;
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            bytes = (t ^ n.rotate_left(32) ^ u64::from(std::process::id())).to_le_bytes();
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Creates a slot and its thread, which owns a fresh [`GymEnv`] with `cfg`.
    pub fn create(&self, cfg: GymConfig) -> Result<Arc<Slot>, SlotError> {
        let mut slots = lock(&self.slots);
        if self.shutting_down() {
            return Err(SlotError::ShuttingDown);
        }
        if slots.len() >= self.max {
            return Err(SlotError::Full(self.max));
        }
        let id = self.new_id();
        let (tx, rx) = mpsc::channel();
        let status = SlotStatus {
            id: id.clone(),
            state: "starting".into(),
            max_steps: cfg.episode.max_steps,
            ..SlotStatus::default()
        };
        let (status_tx, _) = watch::channel(status);
        let slot = Arc::new(Slot {
            id: id.clone(),
            tx,
            status: status_tx,
            last_activity: Mutex::new(Instant::now()),
            busy: AtomicUsize::new(0),
            attached: AtomicBool::new(false),
        });
        let for_thread = slot.clone();
        let handle = std::thread::Builder::new()
            .name(format!("gym-{id}"))
            .spawn(move || worker(GymEnv::new(cfg), rx, for_thread))
            .map_err(|e| SlotError::Thread(e.to_string()))?;
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        slots.insert(id, slot.clone());
        Ok(slot)
    }

    /// The slot with `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Slot>> {
        lock(&self.slots).get(id).cloned()
    }

    /// Every slot's status, by id.
    pub fn list(&self) -> Vec<SlotStatus> {
        let mut v: Vec<SlotStatus> = lock(&self.slots).values().map(|s| s.status()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Removes the slot with `id` (new requests see 404) and returns it.
    pub fn remove(&self, id: &str) -> Option<Arc<Slot>> {
        lock(&self.slots).remove(id)
    }

    /// Removes the slot and tells its thread to close the episode, without waiting.
    pub fn close_detached(&self, id: &str, status: &str) {
        if let Some(slot) = self.remove(id) {
            eprintln!("gym: episode {id}: closing ({status})");
            slot.send(Command::Close {
                status: status.to_string(),
                reply: None,
            });
        }
    }

    /// Closes every episode that has had no request for `idle` and holds no attach
    /// stream. Returns the ids closed.
    pub fn reap_idle(&self, idle: Duration) -> Vec<String> {
        let expired: Vec<String> = lock(&self.slots)
            .values()
            .filter(|s| {
                s.busy.load(Ordering::SeqCst) == 0
                    && !s.attached.load(Ordering::SeqCst)
                    && lock(&s.last_activity).elapsed() >= idle
            })
            .map(|s| s.id.clone())
            .collect();
        for id in &expired {
            self.close_detached(id, CLOSED_BY_IDLE);
        }
        expired
    }

    /// Marks the start of shutdown: no new episodes.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Closes every open episode with `status` and waits until each thread has finished
    /// its records and ended its sandbox. Returns how many episodes were open.
    pub fn close_all(&self, status: &str) -> usize {
        self.begin_shutdown();
        let slots: Vec<Arc<Slot>> = lock(&self.slots).drain().map(|(_, s)| s).collect();
        for s in &slots {
            eprintln!("gym: episode {}: closing ({status})", s.id);
            s.send(Command::Close {
                status: status.to_string(),
                reply: None,
            });
        }
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            let _ = t.join();
        }
        slots.len()
    }
}

/// The thread of one episode: runs commands in order until `Close` (or until every
/// sender is gone, which closes the episode as at shutdown).
fn worker(mut env: GymEnv, rx: mpsc::Receiver<Command>, slot: Arc<Slot>) {
    let publish = |info: Option<Info>| {
        if let Some(info) = info {
            slot.status.send_modify(|s| s.update(&info));
        }
    };
    let mut close_status = CLOSED_BY_SHUTDOWN.to_string();
    let mut close_reply = None;
    for cmd in rx.iter() {
        match cmd {
            Command::Reset { task, seed, reply } => {
                let r = env.reset(&task, seed);
                match &r {
                    Ok(out) => {
                        eprintln!(
                            "gym: episode {}: {} seed {} in {}",
                            slot.id,
                            out.info.task,
                            seed,
                            out.info.run_dir.display()
                        );
                        publish(Some(out.info.clone()));
                    }
                    Err(e) => eprintln!("gym: episode {}: reset failed: {e}", slot.id),
                }
                let _ = reply.send(r);
            }
            Command::Step { request, reply } => {
                let r = env.step_with(request);
                if let Ok(t) = &r {
                    publish(Some(t.info.clone()));
                }
                let _ = reply.send(r);
            }
            Command::Close { status, reply } => {
                close_status = status;
                close_reply = reply;
                break;
            }
        }
    }
    let r = env.close_as(&close_status);
    match &r {
        Ok(Some(c)) => {
            eprintln!(
                "gym: episode {}: closed, exit status `{}`",
                slot.id, c.exit_status
            );
            publish(Some(c.info.clone()));
        }
        Ok(None) => {}
        Err(e) => eprintln!("gym: episode {}: closing failed: {e}", slot.id),
    }
    slot.status.send_modify(|s| s.state = "closed".into());
    if let Some(reply) = close_reply {
        let _ = reply.send(r);
    }
}
