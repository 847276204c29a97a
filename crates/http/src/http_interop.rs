//! Interop with the [`http`](https://docs.rs/http) crate, the types hyper, axum, reqwest and
//! tower share: a request's [`Method`](http::Method), [`Version`](http::Version),
//! [`HeaderMap`](http::HeaderMap) and [`Parts`](http::request::Parts), and responses given as
//! a [`StatusCode`](http::StatusCode) or a whole [`http::Response`]. The Python-named API stays
//! as it is; these are other doors to the same exchange.

use std::io;

use crate::exchange::Exchange;
use crate::request::{HttpRequest, Version};

/// The `http` crate's version.
impl From<Version> for http::Version {
    fn from(version: Version) -> Self {
        match version {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        }
    }
}

/// Conversions to the `http` crate's types.
impl HttpRequest {
    /// The method as an [`http::Method`] (`GET` is [`http::Method::GET`]; any other token an
    /// extension method).
    ///
    /// # Examples
    ///
    /// ```
    /// use socketserver_http::{HttpRequest, Version};
    ///
    /// let request = HttpRequest {
    ///     method: "PUT".to_owned(),
    ///     target: "/kv/a?x=1".to_owned(),
    ///     version: Version::Http11,
    ///     headers: vec![("Content-Type".to_owned(), b"text/plain".to_vec())],
    /// };
    /// assert_eq!(request.http_method(), http::Method::PUT);
    /// assert_eq!(request.header_map()[http::header::CONTENT_TYPE], "text/plain");
    /// let parts = request.to_parts()?;
    /// assert_eq!((parts.uri.path(), parts.uri.query()), ("/kv/a", Some("x=1")));
    /// assert_eq!(parts.version, http::Version::HTTP_11);
    /// # Ok::<(), http::Error>(())
    /// ```
    pub fn http_method(&self) -> http::Method {
        // The head parser takes only a token (RFC 9110's `tchar`s), and `http` takes any
        // token: a method that parsed here always converts (the unit tests try every byte).
        http::Method::from_bytes(self.method.as_bytes())
            .expect("a parsed method is a token, which http::Method takes")
    }

    /// The version as an [`http::Version`].
    pub fn http_version(&self) -> http::Version {
        self.version.into()
    }

    /// The header fields as an [`http::HeaderMap`], in order, repeated names kept. A field
    /// whose name or value `http` does not take is left out (the head parser lets none
    /// through that it would refuse but obsolete line folding's, which it refuses too).
    #[doc(alias = "headers")]
    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes());
            let value = http::HeaderValue::from_bytes(value);
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
        }
        map
    }

    /// The head as [`http::request::Parts`]: method, URI (the target as sent), version and
    /// header fields — what a tower service or an `http`-based router takes.
    ///
    /// # Errors
    ///
    /// A target [`http::Uri`] does not take (the head parser allows a few bytes, such as
    /// `{` or `"`, that `http` refuses).
    pub fn to_parts(&self) -> Result<http::request::Parts, http::Error> {
        let (mut parts, ()) = http::Request::builder()
            .method(self.http_method())
            .uri(self.target.as_str())
            .version(self.http_version())
            .body(())?
            .into_parts();
        parts.headers = self.header_map();
        Ok(parts)
    }
}

/// Responses and requests as the `http` crate's types.
impl Exchange<'_> {
    /// [`send_response`](Self::send_response) with an [`http::StatusCode`].
    ///
    /// # Errors
    ///
    /// As [`send_response`](Self::send_response).
    pub fn send_status(&mut self, status: http::StatusCode) -> io::Result<()> {
        self.send_response(status.as_u16())
    }

    /// Sends a whole [`http::Response`] in one call: its status, its header fields (in order),
    /// `Content-Length` from the body (a `Content-Length` or `Transfer-Encoding` in the
    /// response is replaced: the body given is the body sent), then the body (none for `HEAD`,
    /// 204 and 304).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use socketserver_http::{Exchange, HttpHandler, HttpService, PoolHttpServer};
    ///
    /// #[derive(Clone)]
    /// struct Api;
    ///
    /// impl HttpHandler for Api {
    ///     fn do_get(&mut self, ex: &mut Exchange<'_>) -> std::io::Result<()> {
    ///         let response = http::Response::builder()
    ///             .status(http::StatusCode::CREATED)
    ///             .header(http::header::CONTENT_TYPE, "application/json")
    ///             .body(br#"{"id":7}"#)
    ///             .expect("a valid response");
    ///         ex.send_http_response(response)
    ///     }
    /// }
    ///
    /// let mut server = PoolHttpServer::new("127.0.0.1:0", HttpService::new(Api))?;
    /// let address = server.server_address()?;
    /// let stop = server.shutdown_handle();
    /// let serving = std::thread::spawn(move || server.serve_forever());
    /// let mut client = std::net::TcpStream::connect(address)?;
    /// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut reply = String::new();
    /// client.read_to_string(&mut reply)?;
    /// assert!(reply.starts_with("HTTP/1.1 201 Created\r\n"), "{reply}");
    /// assert!(reply.contains("\r\nContent-Length: 8\r\n") && reply.ends_with(r#"{"id":7}"#));
    /// stop.shutdown();
    /// serving.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Writing to the connection failed.
    pub fn send_http_response<B: AsRef<[u8]>>(
        &mut self,
        response: http::Response<B>,
    ) -> io::Result<()> {
        let (parts, body) = response.into_parts();
        let code = parts.status.as_u16();
        self.send_response(code)?;
        for (name, value) in &parts.headers {
            if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
                continue;
            }
            self.push_header(name.as_str(), value.as_bytes());
        }
        let body = body.as_ref();
        let bodiless = matches!(code, 204 | 304);
        if !bodiless {
            self.send_header("Content-Length", &body.len().to_string())?;
        }
        self.end_headers()?;
        match bodiless {
            true => Ok(()),
            false => self.write_body(body),
        }
    }

    /// The request whole as an [`http::Request`], its body read
    /// ([`read_body`](Self::read_body)): for code written against the `http` crate.
    ///
    /// # Errors
    ///
    /// A target [`http::Uri`] does not take (`InvalidInput`), or reading the body failed.
    pub fn to_http_request(&mut self) -> io::Result<http::Request<Vec<u8>>> {
        let parts = self
            .request()
            .to_parts()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let body = self.read_body()?.unwrap_or_default();
        Ok(http::Request::from_parts(parts, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method the head parser takes converts (the `expect` above never fires).
    #[test]
    fn every_parsed_method_is_an_http_method() {
        for byte in 0..=255u8 {
            let head = [&[byte][..], b" / HTTP/1.1\r\n\r\n"].concat();
            let mut headers = [httparse::EMPTY_HEADER; 1];
            let mut request = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(_)) = request.parse(&head) {
                let method = request.method.unwrap();
                assert!(
                    http::Method::from_bytes(method.as_bytes()).is_ok(),
                    "{byte}"
                );
            }
        }
        let long = "X".repeat(100);
        assert!(http::Method::from_bytes(long.as_bytes()).is_ok());
    }

    #[test]
    fn headers_keep_order_and_repeats() {
        let request = HttpRequest {
            method: "GET".to_owned(),
            target: "/".to_owned(),
            version: Version::Http10,
            headers: vec![
                ("Accept".to_owned(), b"a".to_vec()),
                ("accept".to_owned(), b"b".to_vec()),
                ("X-Odd".to_owned(), b"caf\xe9".to_vec()),
                ("Bad Name".to_owned(), b"x".to_vec()),
            ],
        };
        let map = request.header_map();
        let accepts: Vec<_> = map.get_all("accept").iter().collect();
        assert_eq!(accepts, ["a", "b"]);
        assert_eq!(map["x-odd"].as_bytes(), b"caf\xe9");
        assert_eq!(map.len(), 3);
        assert_eq!(request.http_version(), http::Version::HTTP_10);
    }
}
