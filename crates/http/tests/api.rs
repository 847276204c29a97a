//! What an HTTP API needs, in both forms made the same way (`HttpService` into a pool or an
//! event server): the target split and decoded, one-call responses, JSON errors (the
//! server's own refusals included), bodies read in pieces (streamed from the connection on a
//! pool when over `max_gathered_body`), what a partial read leaves, and the `http` crate's
//! types.

use std::io::{self, Read, Write};

use socketserver_http::{ErrorFormat, Exchange, HttpHandler, HttpLimits, HttpService};

mod util;

use util::{connect, read_head_and_body, Form, Served};

#[derive(Clone)]
struct Api;

impl HttpHandler for Api {
    fn do_get(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        match ex.path() {
            "/http" => {
                let parts = ex.request().to_parts().map_err(io::Error::other)?;
                let response = http::Response::builder()
                    .status(http::StatusCode::CREATED)
                    .header("X-Method", parts.method.as_str())
                    .header("X-Query", parts.uri.query().unwrap_or(""))
                    .header(http::header::CONTENT_LENGTH, "999")
                    .body(b"made with http".to_vec())
                    .map_err(io::Error::other)?;
                ex.send_http_response(response)
            }
            "/status" => {
                ex.send_status(http::StatusCode::IM_A_TEAPOT)?;
                ex.send_header("Content-Length", "0")?;
                ex.end_headers()
            }
            path if path.starts_with("/t/") => {
                let mut json = format!("{{\"path\":{path:?}");
                for (name, value) in ex.query_pairs() {
                    json.push_str(&format!(",{name:?}:{value:?}"));
                }
                json.push('}');
                ex.send_json(200, json)
            }
            _ => ex.send_error(404, "no such \"thing\""),
        }
    }

    /// `/count?piece=N`: reads the body N bytes at a time; answers its length and checksum.
    /// `/partial?take=N`: reads N bytes only.
    fn do_put(&mut self, ex: &mut Exchange<'_>) -> io::Result<()> {
        let number = |name| {
            ex.target()
                .query(name)
                .and_then(|n| n.parse::<usize>().ok())
        };
        let (piece, take) = (number("piece").unwrap_or(4096), number("take"));
        let mut buf = vec![0; piece];
        let (mut total, mut sum) = (0usize, 0u64);
        let mut reader = ex.body_reader();
        loop {
            let want = take.map_or(piece, |take| (take - total).min(piece));
            let n = reader.read(&mut buf[..want])?;
            assert!(n <= piece);
            if n == 0 {
                break;
            }
            total += n;
            sum += buf[..n].iter().map(|&b| u64::from(b)).sum::<u64>();
        }
        ex.send_text(200, &format!("{total} bytes, sum {sum}"))
    }
}

/// Bodies of at most 64 KiB; a pool gathers 1 KiB and streams the rest.
fn start(form: Form) -> Served<Api> {
    let limits = HttpLimits::new()
        .with_max_body(64 * 1024)
        .with_max_gathered_body(1024);
    let service = HttpService::new(Api)
        .with_limits(limits)
        .with_error_format(ErrorFormat::Json);
    Served::start_service(form, service)
}

fn body_of(size: usize) -> Vec<u8> {
    (0..size).map(|n| (n % 251) as u8).collect()
}

fn sum(body: &[u8]) -> u64 {
    body.iter().map(|&b| u64::from(b)).sum()
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn the_target_is_split_and_decoded(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    client
        .write_all(b"GET /t/a%20b%zz?x=1&y=a+b%2Bc&flag HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, body) = read_head_and_body(&mut client);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    assert_eq!(
        body,
        r#"{"path":"/t/a b%zz","x":"1","y":"a b+c","flag":""}"#
    );
    server.stop();
}
both_forms!(the_target_is_split_and_decoded);

fn errors_are_json_the_servers_own_included(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    client
        .write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, body) = read_head_and_body(&mut client);
    assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    assert_eq!(body, r#"{"error":"no such \"thing\"","status":404}"#);
    // A Content-Length over max_body: refused before the handler, in JSON too.
    client
        .write_all(b"PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        .unwrap();
    let (head, body) = read_head_and_body(&mut client);
    assert!(
        head.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(body.contains(r#""status":413"#), "{body}");
    server.stop();
}
both_forms!(errors_are_json_the_servers_own_included);

/// A chunked body that grows past max_body: on a pool the handler's read fails with the
/// refusal (its `?` has the server answer it); on event loops it is refused before.
fn a_chunked_body_over_the_limit_gets_a_json_413(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    let mut request =
        b"PUT /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&chunked(&body_of(70 * 1024), 8192));
    // The server may close before it has read everything: a failed write is fine.
    let _ = client.write_all(&request);
    let (head, body) = read_head_and_body(&mut client);
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    assert!(
        head.contains("Content-Type: application/json\r\n"),
        "{head}"
    );
    assert!(body.contains(r#""status":413"#), "{body}");
    server.stop();
}
both_forms!(a_chunked_body_over_the_limit_gets_a_json_413);

/// Bodies over what a pool gathers are read in pieces no larger than the handler's buffer,
/// Content-Length and chunked alike, and the connection carries the next request.
fn bodies_are_read_in_pieces(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    let body = body_of(50 * 1024);
    for piece in [1000, 7] {
        let mut request = format!(
            "PUT /count?piece={piece} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        client.write_all(&request).unwrap();
        let (head, reply) = read_head_and_body(&mut client);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(reply, format!("{} bytes, sum {}", body.len(), sum(&body)));
        let mut request = format!(
            "PUT /count?piece={piece} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        request.extend_from_slice(&chunked(&body, 3000));
        client.write_all(&request).unwrap();
        let (head, reply) = read_head_and_body(&mut client);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(reply, format!("{} bytes, sum {}", body.len(), sum(&body)));
    }
    // A small body (gathered in both forms) after them on the same connection.
    client
        .write_all(b"PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    assert_eq!(read_head_and_body(&mut client).1, "3 bytes, sum 294");
    server.stop();
}
both_forms!(bodies_are_read_in_pieces);

/// A handler that reads part of a body: the rest never passes for the next request. A
/// gathered body is dropped and the connection goes on; a streamed one is skipped if it has
/// arrived, else the response says `Connection: close` and the connection ends.
fn a_partial_read_never_swallows_the_next_request(form: Form) {
    let server = start(form);
    for size in [10, 20 * 1024] {
        let mut client = connect(server.address());
        let mut request = format!(
            "PUT /partial?take=3&piece=2 HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
        )
        .into_bytes();
        request.extend_from_slice(&vec![b'z'; size]);
        request.extend_from_slice(b"GET /t/next HTTP/1.1\r\nHost: x\r\n\r\n");
        client.write_all(&request).unwrap();
        let (head, reply) = read_head_and_body(&mut client);
        assert_eq!(reply, "3 bytes, sum 366", "{head}");
        if head.contains("Connection: close\r\n") {
            assert!(size > 1024, "a gathered body keeps the connection: {head}");
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
        } else {
            let (head, reply) = read_head_and_body(&mut client);
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            assert_eq!(reply, r#"{"path":"/t/next"}"#);
        }
    }
    server.stop();
}
both_forms!(a_partial_read_never_swallows_the_next_request);

fn the_http_crates_types(form: Form) {
    let server = start(form);
    let mut client = connect(server.address());
    client
        .write_all(
            b"GET /http?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let (head, body) = read_head_and_body(&mut client);
    assert!(head.starts_with("HTTP/1.1 201 Created\r\n"), "{head}");
    assert!(head.contains("x-method: GET\r\n"), "{head}");
    assert!(head.contains("x-query: q=1\r\n"), "{head}");
    // The length is the body's, not the one the response claimed.
    assert!(
        head.contains("Content-Length: 14\r\n") && !head.contains("999"),
        "{head}"
    );
    assert_eq!(body, "made with http");
    let (head, _) = read_head_and_body(&mut client);
    assert!(head.starts_with("HTTP/1.1 418 I'm a teapot\r\n"), "{head}");
    server.stop();
}
both_forms!(the_http_crates_types);
