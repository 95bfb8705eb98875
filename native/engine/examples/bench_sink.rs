//! A minimal HTTP/1.1 sink on 127.0.0.1 for `make bench` (bench/run.sh), run as its own OS
//! process so that its CPU is not charged to the node under test.
//!
//! `bench_sink fast|hang [PORT]` prints `PORT <n>` on stdout once it listens, then:
//! - `fast`: reads each request (Content-Length bodies, keep-alive) and answers `204` at once,
//!   as GA4's `/mp/collect` does;
//! - `hang`: reads requests and never answers (a hanging endpoint); connections stay open until
//!   the client closes them.
//!
//! `GET /stats` answers `requests=<n> bytes=<n> open=<n>` in either mode. It exits when its
//! standard input is closed, so a dead harness never leaves it behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    bytes: AtomicU64,
    open: AtomicU64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let hang = match args.next().as_deref() {
        Some("fast") => false,
        Some("hang") => true,
        _ => {
            eprintln!("usage: bench_sink fast|hang [PORT]");
            std::process::exit(2);
        }
    };
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(serve(hang, port));
}

async fn serve(hang: bool, port: u16) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("reuseaddr");
    socket
        .bind(([127, 0, 0, 1], port).into())
        .expect("bind 127.0.0.1");
    let listener = socket.listen(8192).expect("listen");
    println!("PORT {}", listener.local_addr().expect("addr").port());
    // Exit when the harness closes our stdin.
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
    let stats = Arc::new(Stats::default());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stats = stats.clone();
        tokio::spawn(async move {
            stats.open.fetch_add(1, Ordering::Relaxed);
            let _ = connection(stream, hang, &stats).await;
            stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn connection(mut stream: TcpStream, hang: bool, stats: &Stats) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16384];
    loop {
        // Headers.
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..head_end + length);
        if head.starts_with("GET /stats") {
            let body = format!(
                "requests={} bytes={} open={}\n",
                stats.requests.load(Ordering::Relaxed),
                stats.bytes.load(Ordering::Relaxed),
                stats.open.load(Ordering::Relaxed)
            );
            let out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{}",
                body.len(),
                body
            );
            stream.write_all(out.as_bytes()).await?;
            continue;
        }
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(length as u64, Ordering::Relaxed);
        if hang {
            // Never answer: wait for the client to go away.
            loop {
                if stream.read(&mut chunk).await? == 0 {
                    return Ok(());
                }
            }
        }
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
