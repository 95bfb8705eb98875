//! A small scriptable HTTP/1.1 server on 127.0.0.1 for the sender tests.
//!
//! It records every request (method, path, query, content type, body, arrival time) and
//! answers each according to a script kept per `measurement_id` (the query parameter), falling
//! back to a default action. Connections are kept alive between requests.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer this status with an empty body.
    Status(u16),
    /// Answer this status with these extra headers (e.g. `Retry-After`, `Location`).
    StatusWith(u16, Vec<(String, String)>),
    /// Answer 200 with this JSON body.
    Json(String),
    /// Never answer; close when the client does.
    Hang,
    /// Wait, then do the inner action.
    Sleep(Duration, Box<Action>),
    /// Reset the connection (RST) without answering.
    Reset,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// A query parameter's raw value.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    answered: std::sync::atomic::AtomicUsize,
    scripts: Mutex<HashMap<String, VecDeque<Action>>>,
    default: Mutex<Option<Action>>,
}

/// A running test server; stops when the runtime it was started on stops.
#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<State>,
}

/// Wraps accepted TCP streams (e.g. into TLS) before HTTP is spoken on them.
pub type Wrap = Arc<
    dyn Fn(
            TcpStream,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Box<dyn Stream>>> + Send>>
        + Send
        + Sync,
>;

/// A bidirectional byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Makes the connection close with a reset, when the stream supports it.
    fn zero_linger(&self) {}
}

impl Stream for TcpStream {
    fn zero_linger(&self) {
        let _ = self.set_zero_linger();
    }
}

impl TestServer {
    /// Starts a plain HTTP server on 127.0.0.1 (a free port), answering 200 by default.
    pub async fn start() -> Self {
        Self::start_wrapped(None).await
    }

    /// Starts a server whose connections go through `wrap` first (e.g. a TLS acceptor).
    pub async fn start_wrapped(wrap: Option<Wrap>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let server = TestServer {
            addr,
            state: state.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                let wrap = wrap.clone();
                tokio::spawn(async move {
                    let stream: Box<dyn Stream> = match wrap {
                        None => Box::new(tcp),
                        Some(wrap) => match wrap(tcp).await {
                            Some(s) => s,
                            None => return,
                        },
                    };
                    serve(stream, state).await;
                });
            }
        });
        server
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Queues actions for the requests carrying this `measurement_id`.
    pub fn script(&self, measurement_id: &str, actions: Vec<Action>) {
        self.state
            .scripts
            .lock()
            .unwrap()
            .entry(measurement_id.to_string())
            .or_default()
            .extend(actions);
    }

    /// The action for requests with no scripted action left (initially 200).
    pub fn set_default(&self, action: Action) {
        *self.state.default.lock().unwrap() = Some(action);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many answers the server has written (to the end, flushed).
    pub fn answered(&self) -> usize {
        self.state
            .answered
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The requests received for one measurement id.
    pub fn requests_for(&self, measurement_id: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.param("measurement_id").as_deref() == Some(measurement_id))
            .collect()
    }
}

fn next_action(state: &State, measurement_id: &str) -> Action {
    if let Some(a) = state
        .scripts
        .lock()
        .unwrap()
        .get_mut(measurement_id)
        .and_then(VecDeque::pop_front)
    {
        return a;
    }
    state
        .default
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(Action::Status(200))
}

async fn serve(mut stream: Box<dyn Stream>, state: Arc<State>) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let id = req.param("measurement_id").unwrap_or_default();
        state.requests.lock().unwrap().push(req);
        let mut action = next_action(&state, &id);
        while let Action::Sleep(d, inner) = action {
            tokio::time::sleep(d).await;
            action = *inner;
        }
        let (status, headers, body) = match action {
            Action::Status(s) => (s, Vec::new(), String::new()),
            Action::StatusWith(s, h) => (s, h, String::new()),
            Action::Json(b) => (200, Vec::new(), b),
            Action::Hang => {
                // Wait for the client to give up and close.
                let mut sink = [0u8; 1024];
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
                return;
            }
            Action::Reset => {
                stream.zero_linger();
                return;
            }
            Action::Sleep(..) => unreachable!(),
        };
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        if !body.is_empty() {
            out.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&body);
        if stream.write_all(out.as_bytes()).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        state
            .answered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// Reads one request (head + Content-Length body); `None` at EOF or on garbage.
async fn read_request(stream: &mut Box<dyn Stream>, buf: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let mut content_length = 0usize;
    let mut content_type = None;
    for line in lines {
        let (k, v) = line.split_once(':')?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            content_length = v.parse().ok()?;
        } else if k.eq_ignore_ascii_case("content-type") {
            content_type = Some(v.to_string());
        }
    }
    let body_start = head_end + 4;
    while buf.len() < body_start + content_length {
        let mut chunk = [0u8; 16384];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + content_length].to_vec();
    buf.drain(..body_start + content_length);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Recorded {
        method,
        path,
        query,
        content_type,
        body,
        at,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Stream for tokio_rustls::server::TlsStream<TcpStream> {
    fn zero_linger(&self) {
        let _ = self.get_ref().0.set_zero_linger();
    }
}

/// A test PKI: a CA and a server certificate for 127.0.0.1 signed by it.
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// A TLS acceptor presenting the server certificate.
    pub acceptor: tokio_rustls::TlsAcceptor,
}

impl TestPki {
    /// Generates a fresh CA and server certificate.
    pub fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "msm test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        TestPki {
            ca_pem: ca_cert.pem(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }

    /// Starts an HTTPS test server presenting this PKI's server certificate.
    pub async fn start_server(&self) -> TestServer {
        let acceptor = self.acceptor.clone();
        let wrap: Wrap = Arc::new(move |tcp| {
            let acceptor = acceptor.clone();
            Box::pin(async move {
                let tls = acceptor.accept(tcp).await.ok()?;
                Some(Box::new(tls) as Box<dyn Stream>)
            })
        });
        TestServer::start_wrapped(Some(wrap)).await
    }
}

impl TestServer {
    /// `https://127.0.0.1:PORT{path}`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }
}
