//! A scripted HTTP/1.1 server on 127.0.0.1 for the LLM-agent tests: each request gets
//! the next scripted reply (then the fallback), and every request is recorded. Replies
//! can be any status with headers, a connection that never answers, or one closed
//! without an answer. One thread per connection, `Connection: close` on every answer.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status, extra headers and body.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Read the request and never answer (until the server is dropped).
    Hang,
    /// Read the request and close the connection without answering.
    Close,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Reply {
        Reply::Http {
            status: 200,
            headers: vec![],
            body: body.to_string(),
        }
    }

    /// Any status with a raw body.
    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Http {
            status,
            headers: vec![],
            body: body.to_string(),
        }
    }

    /// Adds a header.
    pub fn header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Http {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Reply::Http {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }
}

/// An OpenAI chat completion with `content` and the given usage.
pub fn chat_usage(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens }
    })
}

/// An OpenAI chat completion: 1000 prompt tokens, 100 completion tokens.
pub fn chat(content: &str) -> Reply {
    Reply::ok(chat_usage(content, 1000, 100))
}

/// A MLGym-format response running `command`.
pub fn command(command: &str) -> Reply {
    chat(&format!(
        "DISCUSSION\nNext I run `{command}`.\n\n```\n{command}\n```\n"
    ))
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Request line, e.g. `POST /v1/chat/completions HTTP/1.1`.
    pub line: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Recorded {
    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

struct State {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Reply>,
    requests: Mutex<Vec<Recorded>>,
    stop: AtomicBool,
}

/// The server; stops when dropped.
pub struct TestServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    state: Arc<State>,
}

impl TestServer {
    /// Starts a server answering with `script`, then with `fallback`.
    pub fn start(script: Vec<Reply>, fallback: Reply) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            script: Mutex::new(script.into()),
            fallback: Mutex::new(fallback),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        TestServer { port, state }
    }

    /// The OpenAI-style base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Number of requests received.
    pub fn calls(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Recorded> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        line,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn serve(mut conn: TcpStream, st: &State) {
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    st.requests.lock().unwrap().push(req);
    let reply = st
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| st.fallback.lock().unwrap().clone());
    match reply {
        Reply::Close => drop(conn),
        Reply::Hang => {
            let t0 = Instant::now();
            while !st.stop.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Reply::Http {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                reason(status),
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            let _ = conn.write_all(out.as_bytes());
            let _ = conn.flush();
        }
    }
}
