//! The HTTP server both services run: an actix-web `App` served over HTTP/1 on connections wrapped in
//! [`RepairingStream`], so targets the `http` crate refuses reach the service (see `request_target`).
//!
//! actix-web's `HttpServer` hands each accepted socket straight to actix-http and offers no way to wrap
//! it, so this assembles what `HttpServer::listen` assembles (actix-web `src/server.rs`) from the same
//! public parts: an actix-server `Server` accepting on the listener, and per connection actix-http's
//! `HttpService` with `HttpServer`'s defaults (5-second keep-alive and request-head timeouts, 1-second
//! disconnect timeout, half-closed connections allowed). Two differences:
//! - actix-web's `AppConfig` is its public default (host `localhost:8080`): actix-web exposes no
//!   constructor for it, and nothing here reads it (scim-api builds URLs from its own settings).
//! - OS signals are the caller's ([`crate::shutdown_on_signal`] drains first), never actix-server's.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Protocol, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;

use crate::request_target::RepairingStream;

/// How long a client whose connection is closing may take to read the end of its answer
/// (`HttpServer`'s default; actix-http's own is none).
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The knobs the services set on their server.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Worker threads; `None`: one per CPU.
    pub workers: Option<usize>,
    /// Blocking threads per worker; `None`: actix's default.
    pub max_blocking_threads: Option<usize>,
    /// How long in-flight requests may run once a graceful stop begins.
    pub shutdown_timeout_seconds: u64,
}

/// Serves the app `factory` builds (once per worker) on `listener`. The server runs once awaited or
/// spawned; stop it through its handle.
pub fn serve<F, I, S, B>(listener: TcpListener, options: ServerOptions, factory: F) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let address = listener.local_addr()?;
    let mut builder = Server::build()
        .disable_signals()
        .shutdown_timeout(options.shutdown_timeout_seconds);
    if let Some(workers) = options.workers {
        builder = builder.workers(workers);
    }
    if let Some(threads) = options.max_blocking_threads {
        builder = builder.worker_max_blocking_threads(threads);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let server = builder.listen(format!("http-{address}"), listener, move || {
        let app = factory()
            .into_factory()
            .map_err(|error| error.into().error_response());
        let shutdown = shutdown.clone();
        let http = HttpService::build()
            .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
            .local_addr(address)
            // Closes idle keep-alive connections, and busy ones after their current request, when a
            // graceful stop begins, as `HttpServer` does; otherwise they hold the stop up to the shutdown
            // timeout. (The method is hidden from actix-http's docs; `HttpServer` is its user.)
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .finish(map_config(app, |()| AppConfig::default()));
        fn_service(|stream: TcpStream| async move {
            let peer = stream.peer_addr().ok();
            Ok((RepairingStream::new(stream), Protocol::Http1, peer))
        })
        .and_then(http)
    })?;
    Ok(server.run())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Instant;

    use actix_web::http::StatusCode;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpRequest, HttpResponse, web};

    use super::*;
    use crate::error_format::{ErrorFormat, render_framework_errors};

    struct PlainErrors;

    impl ErrorFormat for PlainErrors {
        fn is_own(_: &actix_web::Error) -> bool {
            false
        }

        fn framework_error(status: StatusCode, detail: String) -> HttpResponse {
            HttpResponse::build(status).body(format!("plain: {detail}"))
        }
    }

    /// Reads one answer (head and Content-Length body) and returns it as text.
    fn read_answer(stream: &mut std::net::TcpStream) -> String {
        let mut answer = Vec::new();
        let mut buf = [0; 4096];
        loop {
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .map_or(0, |n| n.parse().unwrap());
                if body.len() >= length {
                    return text;
                }
            }
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed mid-answer: {text}");
            answer.extend_from_slice(&buf[..n]);
        }
    }

    #[actix_web::test]
    async fn raw_targets_reach_the_app_encoded_and_a_stop_closes_idle_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let options = ServerOptions {
            workers: Some(1),
            max_blocking_threads: None,
            shutdown_timeout_seconds: 30,
        };
        let server = serve(listener, options, || {
            App::new()
                .wrap(from_fn(render_framework_errors::<PlainErrors>))
                .route(
                    "/echo",
                    web::get().to(|req: HttpRequest| async move { req.query_string().to_owned() }),
                )
        })
        .unwrap();
        let handle = server.handle();
        let running = actix_web::rt::spawn(server);

        let client = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            stream
                .write_all(b"GET /echo?q=\"a\"&r=\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let repaired = read_answer(&mut stream);
            let too_long = format!("GET /echo?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
            stream.write_all(too_long.as_bytes()).unwrap();
            let unrepairable = read_answer(&mut stream);
            (stream, repaired, unrepairable)
        })
        .await
        .unwrap();
        let (mut stream, repaired, unrepairable) = client;
        assert!(repaired.starts_with("HTTP/1.1 200 OK\r\n"), "{repaired}");
        assert!(repaired.ends_with("\r\n\r\nq=%22a%22&r=%C3%A9"), "{repaired}");
        assert!(
            unrepairable.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{unrepairable}"
        );
        assert!(
            unrepairable.contains("\r\n\r\nplain: the request target is not a valid URI"),
            "{unrepairable}"
        );

        // The connection is idle in keep-alive (5 s): a graceful stop closes it at once.
        let started = Instant::now();
        handle.stop(true).await;
        running.await.unwrap().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        let closed = tokio::task::spawn_blocking(move || stream.read(&mut [0; 16]).unwrap())
            .await
            .unwrap();
        assert_eq!(closed, 0);
    }
}
