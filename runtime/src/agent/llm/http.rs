//! One HTTP POST, behind a small trait so backends do not depend on the client library.
//! The real transport is `ureq` (blocking, rustls); it never retries by itself and never
//! turns a status code into an error — [`super::backend`] classifies statuses.

use std::time::Duration;

/// A POST request.
pub struct HttpRequest {
    /// Full URL.
    pub url: String,
    /// Headers (may hold the API key: never log them).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
}

/// A response of any status.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl HttpResponse {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request that got no response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request timed out (`timeout_secs`).
    #[error("the request timed out ({0})")]
    Timeout(String),
    /// No connection, or it broke before a complete response.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The request itself is unusable (bad URL, TLS setup): retrying cannot help.
    #[error("{0}")]
    Fatal(String),
}

impl TransportError {
    /// Whether another attempt may succeed.
    pub fn retryable(&self) -> bool {
        !matches!(self, TransportError::Fatal(_))
    }
}

/// Sends POST requests.
pub trait Transport: Send {
    /// Sends `req` and reads the whole response.
    fn post(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Largest response body read (bytes).
const BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// The `ureq` transport.
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl std::fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqTransport")
    }
}

/// Whether `url` points at this machine (no proxy is used for it).
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl UreqTransport {
    /// A client whose requests time out after `timeout` (the whole exchange). Requests to
    /// loopback addresses bypass any proxy from the environment.
    pub fn new(timeout: Duration, endpoint: &str) -> UreqTransport {
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(format!("mlgym/{}", env!("CARGO_PKG_VERSION")));
        if is_loopback(endpoint) {
            cfg = cfg.proxy(None);
        }
        UreqTransport {
            agent: cfg.build().into(),
        }
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Timeout(t) => TransportError::Timeout(format!("{t:?}")),
        ureq::Error::Io(io)
            if io.kind() == std::io::ErrorKind::TimedOut
                || io.kind() == std::io::ErrorKind::WouldBlock =>
        {
            TransportError::Timeout(io.to_string())
        }
        ureq::Error::Io(io) => TransportError::Connection(io.to_string()),
        ureq::Error::HostNotFound => TransportError::Connection("host not found".into()),
        ureq::Error::ConnectionFailed => TransportError::Connection("no connection".into()),
        ureq::Error::Protocol(p) => {
            TransportError::Connection(format!("malformed HTTP from the server: {p}"))
        }
        ureq::Error::BodyStalled => TransportError::Connection("the response body stalled".into()),
        other => TransportError::Fatal(other.to_string()),
    }
}

impl Transport for UreqTransport {
    fn post(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut builder = self
            .agent
            .post(&req.url)
            .header("content-type", "application/json");
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut resp = builder.send(req.body.as_str()).map_err(map_error)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(map_error)?;
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8000/v1"));
        assert!(is_loopback("http://localhost:11434/v1"));
        assert!(is_loopback("http://[::1]:8080/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
        assert!(!is_loopback("http://127.example.com/v1"));
    }
}
