//! HTTP: `GET /metrics` and little else, on tiny_http's threaded server.
//!
//! - `/metrics` (GET or HEAD): the newest pass, in OpenMetrics when the
//!   client's `Accept` names it (Prometheus does), else the Prometheus text
//!   format; `503` if no pass could be had in time.
//! - `/`: a line saying where the metrics are. Any other path: `404`.
//!   Any other method: `405` with `Allow: GET, HEAD`.
//!
//! Slow clients: tiny_http reads each connection's requests on a thread of
//! its own, so a client that sends slowly holds no worker here. A client
//! that reads slowly holds one worker while its response is written; the
//! listening socket carries a send timeout (`SO_SNDTIMEO`, which Linux
//! copies to every accepted socket), so that write gives up after
//! `write_timeout` and the worker moves on. Sampling runs on its own
//! thread ([`crate::sampler`]) and is never held by either.

use std::io::Cursor;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::metrics::Format;
use crate::sampler::Sampler;

/// How the server behaves.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// A pass younger than this is served again instead of reading every
    /// ring anew.
    pub max_age: Duration,
    /// How long a request waits for a pass before `503`.
    pub sample_wait: Duration,
    /// How long writing a response may block before the client is dropped.
    pub write_timeout: Duration,
    /// Worker threads answering requests.
    pub workers: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_age: Duration::from_millis(500),
            sample_wait: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            workers: 4,
        }
    }
}

/// A running server: its workers and the sampler they share.
pub struct Running {
    server: Arc<Server>,
    workers: Vec<JoinHandle<()>>,
    sampler: Arc<Sampler>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("addr", &self.addr).finish()
    }
}

/// Binds `addr` and starts answering with `sampler`'s passes.
pub fn start(addr: SocketAddr, sampler: Sampler, opts: ServeOptions) -> std::io::Result<Running> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let timeout = TimeVal::new(
        opts.write_timeout.as_secs() as _,
        opts.write_timeout.subsec_micros() as _,
    );
    setsockopt(&listener, sockopt::SendTimeout, &timeout).map_err(std::io::Error::from)?;
    let server = Arc::new(
        Server::from_listener(listener, None).map_err(|e| std::io::Error::other(e.to_string()))?,
    );
    let sampler = Arc::new(sampler);
    let workers = (0..opts.workers.max(1))
        .map(|i| {
            let server = server.clone();
            let sampler = sampler.clone();
            std::thread::Builder::new()
                .name(format!("forge-http-{i}"))
                .spawn(move || {
                    for request in server.incoming_requests() {
                        answer(request, &sampler, opts);
                    }
                })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(Running {
        server,
        workers,
        sampler,
        addr,
    })
}

impl Running {
    /// The address it listens on (the port, when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering and sampling, and waits for the threads.
    pub fn stop(self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
        drop(self.sampler);
    }
}

fn header(name: &str, value: &str) -> Header {
    // Only our own constant names and values reach here.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn text(status: u16, body: &str) -> Response<Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

/// Answers one request; a failed write only means the client went away.
fn answer(request: Request, sampler: &Sampler, opts: ServeOptions) {
    let path = request.url().split('?').next().unwrap_or("");
    let get = matches!(request.method(), Method::Get | Method::Head);
    let result = match (path, get) {
        ("/metrics", true) => {
            let accept = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Accept"))
                .map(|h| h.value.as_str().to_owned());
            let format = Format::negotiate(accept.as_deref());
            match sampler.get(opts.max_age, opts.sample_wait) {
                Some(exposition) => {
                    let body = exposition.text(format);
                    let len = body.len();
                    let response = Response::new(
                        StatusCode(200),
                        vec![header("Content-Type", format.content_type())],
                        Cursor::new(ArcBytes(body)),
                        Some(len),
                        None,
                    )
                    // A Content-Length, never chunks: the length is known.
                    .with_chunked_threshold(usize::MAX);
                    request.respond(response)
                }
                None => request.respond(text(
                    503,
                    "no sample of the host's rings could be taken in time; try again\n",
                )),
            }
        }
        ("/", true) => request.respond(text(
            200,
            "forge-exporter: every Forge ring of this host, for Prometheus, at /metrics\n",
        )),
        ("/metrics" | "/", false) => request.respond(
            text(405, "method not allowed: use GET (or HEAD)\n")
                .with_header(header("Allow", "GET, HEAD")),
        ),
        _ => {
            let body = format!("not found: {path}; the metrics are at /metrics\n");
            request.respond(text(404, &body))
        }
    };
    // The client went away, or did not read its response within the send
    // timeout: nothing to do but drop the connection.
    let _ = result;
}

/// A shared exposition as a byte slice, so every response reads the same
/// text without copying it.
struct ArcBytes(Arc<str>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}
