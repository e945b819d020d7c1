//! An HTTP proxy in front of the test S3 server: it counts the requests
//! that pass by kind (LIST, GET, HEAD, PUT, …), and can misbehave as real
//! networks and servers do: answer 500, reset the connection, or accept a
//! request and never answer.
//!
//! One request per connection: each answer carries `Connection: close`, so
//! the client opens a new connection for the next request, and each fault
//! hits exactly one request.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to the requests it receives, in order: first the
/// 500s, then the resets, then it forwards (or, if `silent`, swallows
/// every request without a word).
#[derive(Debug, Clone, Copy, Default)]
pub struct Plan {
    pub errors_500: usize,
    pub resets: usize,
    pub silent: bool,
}

struct State {
    plan: Plan,
    counts: BTreeMap<String, usize>,
}

pub struct Proxy {
    port: u16,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy on a free loopback port, forwarding to `upstream_port`.
    pub fn start(upstream_port: u16, plan: Plan) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State {
            plan,
            counts: BTreeMap::new(),
        }));
        let stopped = Arc::new(AtomicBool::new(false));
        let (shared, stop) = (Arc::clone(&state), Arc::clone(&stopped));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
                std::thread::spawn(move || serve(client, upstream_port, &shared, &stop));
            }
        });
        Proxy {
            port,
            state,
            stopped,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests received so far, by kind.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.state.lock().expect("proxy state").counts.clone()
    }

    pub fn reset_counts(&self) {
        self.state.lock().expect("proxy state").counts.clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// What to do with one request.
enum Action {
    Error500,
    Reset,
    Swallow,
    Forward,
}

fn serve(client: TcpStream, upstream_port: u16, state: &Mutex<State>, stopped: &AtomicBool) {
    let mut reader = BufReader::new(match client.try_clone() {
        Ok(stream) => stream,
        Err(_) => return,
    });
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let end = line == b"\r\n";
        head.extend_from_slice(&line);
        if end {
            break;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length: usize = header(&head, "content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let action = {
        let mut state = state.lock().expect("proxy state");
        *state.counts.entry(kind(&request_line)).or_default() += 1;
        if state.plan.errors_500 > 0 {
            state.plan.errors_500 -= 1;
            Action::Error500
        } else if state.plan.resets > 0 {
            state.plan.resets -= 1;
            Action::Reset
        } else if state.plan.silent {
            Action::Swallow
        } else {
            Action::Forward
        }
    };
    let mut client = client;
    match action {
        Action::Error500 => {
            let body = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>";
            let _ = write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Action::Reset => {
            // A zero linger turns the close into a TCP reset.
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Action::Swallow => {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Action::Forward => {
            let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                return;
            };
            let head: String = head
                .split("\r\n")
                .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
                .filter(|line| !line.is_empty())
                .map(|line| format!("{line}\r\n"))
                .collect();
            let forwarded = format!("{head}Connection: close\r\n\r\n");
            if upstream.write_all(forwarded.as_bytes()).is_err()
                || upstream.write_all(&body).is_err()
            {
                return;
            }
            let mut answer = Vec::new();
            if upstream.read_to_end(&mut answer).is_err() {
                return;
            }
            let _ = client.write_all(&close_after(&answer));
        }
    }
}

/// The answer with `Connection: close`, whatever the server said.
fn close_after(answer: &[u8]) -> Vec<u8> {
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer.to_vec();
    };
    let head = String::from_utf8_lossy(&answer[..split]);
    let mut out: String = head
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[split + 4..]);
    bytes
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// LIST for a bucket listing, else the method.
fn kind(request_line: &str) -> String {
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    if method == "GET" && target.contains("list-type=") {
        "LIST".to_string()
    } else {
        method.to_string()
    }
}
