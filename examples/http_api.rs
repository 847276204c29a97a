//! A small HTTP API: an in-memory key-value store, with JSON errors.
//!
//! Run:   cargo run --example http_api [-- OPTIONS]
//!
//!   --addr HOST:PORT    default 127.0.0.1:8000
//!   --bind ADDR         the address alone (Python's `http.server --bind`)
//!   --port N            the port alone
//!   --mode MODE         pool (default): HttpService on a thread pool | event: the same
//!                       service on event loops
//!   --max-body BYTES    the largest value a PUT may store (default 1048576); larger: 413
//!
//! Try:   curl -i -X PUT --data-binary 'hello' http://127.0.0.1:8000/kv/greeting   (201)
//!        curl -i http://127.0.0.1:8000/kv/greeting                               (200 hello)
//!        curl -i http://127.0.0.1:8000/kv/                                       (["greeting"])
//!        curl -i -X DELETE http://127.0.0.1:8000/kv/greeting                     (204)
//!        curl -i -X POST http://127.0.0.1:8000/kv/greeting                       (405, Allow)
//!
//! `GET /kv/KEY` answers the value (`application/octet-stream`) or 404; `PUT /kv/KEY` stores
//! the body, read in pieces and at most --max-body bytes (201 for a new key, 204 for a
//! replaced one; larger: 413); `DELETE /kv/KEY` answers 204 or 404; `GET /kv/` lists the keys
//! as a JSON array. Keys are percent-decoded (`/kv/a%20b` is the key `a b`). Any other method
//! on `/kv/…` is 405 with `Allow`; any other path is 404. Every error is JSON:
//! `{"error":"not found","status":404}`, the server's own refusals (413, 400, 408) included.
//!
//! Once listening it prints one line, `listening on ADDR`. SIGINT or SIGTERM drains it, one
//! stderr line summarises the drain, exit 0. Bad usage: exit 2; an address that cannot be
//! used: one stderr line, exit 1.

mod common;

use std::collections::HashMap;
use std::io::{self, Read};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use socketserver::{BaseServer, Dispatch, RequestHandler, StreamRequest, TcpSocket};
use socketserver_http::{
    ErrorFormat, EventHttpServer, Exchange, HttpHandler, HttpLimits, HttpService, PoolHttpServer,
};

const USAGE: &str = "usage: http_api [--addr HOST:PORT] [--bind ADDR] [--port N] [--mode pool|event] [--max-body BYTES]";

/// The methods `/kv/KEY` takes.
const ALLOWED: &[&str] = &["GET", "HEAD", "PUT", "DELETE"];

/// The store, shared by every connection (the handler is cloned for each).
#[derive(Clone, Default)]
struct KeyValue {
    store: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl KeyValue {
    /// The key a path names: `Some("")` for `/kv/` (the listing), `None` outside `/kv/`.
    fn key(path: &str) -> Option<&str> {
        path.strip_prefix("/kv/")
    }

    /// `["a","b"]`, the keys sorted.
    fn listing(&self) -> Vec<u8> {
        let mut keys: Vec<String> = self.store.lock().keys().cloned().collect();
        keys.sort();
        let mut json = b"[".to_vec();
        for (n, key) in keys.iter().enumerate() {
            if n > 0 {
                json.push(b',');
            }
            push_json_string(&mut json, key);
        }
        json.push(b']');
        json
    }
}

impl HttpHandler for KeyValue {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let Some(key) = KeyValue::key(ex.path()) else {
            return ex.send_error(404, "not found");
        };
        if key.is_empty() {
            let listing = self.listing();
            return ex.send_json(200, listing);
        }
        // Copied out, so the lock is not held while the client reads.
        let value = self.store.lock().get(key).cloned();
        match value {
            Some(value) => ex.send_bytes(200, &value),
            None => ex.send_error(404, "not found"),
        }
    }

    fn do_put(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let key = match KeyValue::key(ex.path()) {
            None => return ex.send_error(404, "not found"),
            Some("") => return ex.send_method_not_allowed(&["GET", "HEAD"]),
            Some(key) => key.to_owned(),
        };
        // Read in pieces, bounded by max_body: a longer body is refused (413, in JSON) by the
        // server, before the handler for a Content-Length, as the read fails for chunked.
        let mut value = Vec::new();
        ex.body_reader().read_to_end(&mut value)?;
        let replaced = self.store.lock().insert(key, value).is_some();
        match replaced {
            true => ex.send_empty(204),
            false => ex.send_empty(201),
        }
    }

    fn do_delete(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let key = match KeyValue::key(ex.path()) {
            None => return ex.send_error(404, "not found"),
            Some("") => return ex.send_method_not_allowed(&["GET", "HEAD"]),
            Some(key) => key.to_owned(),
        };
        match self.store.lock().remove(&key) {
            Some(_) => ex.send_empty(204),
            None => ex.send_error(404, "not found"),
        }
    }

    fn do_post(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        self.do_other(ex)
    }

    fn do_other(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        match KeyValue::key(ex.path()) {
            Some("") => ex.send_method_not_allowed(&["GET", "HEAD"]),
            Some(_) => ex.send_method_not_allowed(ALLOWED),
            None => ex.send_error(404, "not found"),
        }
    }
}

/// Appends `text` as a JSON string: quotes, backslashes and control characters escaped.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// Prints the ready line and serves until a signal drains the server.
fn serve<M, H>(
    server: Result<BaseServer<TcpSocket, M, H>, socketserver::Error>,
) -> Result<(), String>
where
    M: Dispatch,
    H: RequestHandler<StreamRequest>,
{
    let mut server = server.map_err(|e| e.to_string())?;
    let bound = server.server_address().map_err(|e| e.to_string())?;
    common::serve_until_signal(
        "http_api",
        &mut server,
        &bound.to_string(),
        Duration::from_secs(30),
    )
}

/// `HOST:PORT` from `--bind` and `--port` (brackets for an IPv6 address).
fn join(host: &str, port: &str) -> String {
    match host.contains(':') && !host.starts_with('[') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let (mut address, mut bind, mut port) = ("127.0.0.1:8000".to_owned(), None, None);
    let mut mode = "pool".to_owned();
    let mut max_body = HttpLimits::default().max_body;
    let mut args = std::env::args().skip(1);
    let known = ["--addr", "--bind", "--port", "--mode", "--max-body"];
    loop {
        let (arg, value) = match common::next_flag("http_api", USAGE, &known, &mut args) {
            Ok(Some(pair)) => pair,
            Ok(None) => break,
            Err(status) => return status,
        };
        match arg.as_str() {
            "--addr" => address = value,
            "--bind" => bind = Some(value),
            "--port" => match value.parse::<u16>() {
                Ok(_) => port = Some(value),
                Err(_) => {
                    eprintln!("http_api: --port needs a port number; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--mode" => mode = value,
            "--max-body" => match value.parse::<u64>() {
                Ok(bytes) => max_body = bytes,
                Err(_) => {
                    eprintln!("http_api: --max-body needs a number of bytes; {USAGE}");
                    return ExitCode::from(2);
                }
            },
            _ => unreachable!("{arg} is one of the known flags"),
        }
    }
    if bind.is_some() || port.is_some() {
        let (host, default_port) = address.rsplit_once(':').unwrap_or((&address, "8000"));
        let host = bind.as_deref().unwrap_or(host);
        address = join(host, port.as_deref().unwrap_or(default_port));
    }
    // One service, made the same way for both servers (the event one serves it on its loops).
    let service = HttpService::new(KeyValue::default())
        .with_limits(HttpLimits::new().with_max_body(max_body))
        .with_error_format(ErrorFormat::Json);
    let result = match mode.as_str() {
        "pool" => serve(PoolHttpServer::new(address.as_str(), service)),
        "event" => serve(EventHttpServer::new(address.as_str(), service)),
        other => {
            eprintln!("http_api: unknown mode {other:?}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    common::exit_status("http_api", result)
}
