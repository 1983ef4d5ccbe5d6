//! The body-read timeout: a client that sends its headers promptly and then its body a
//! byte a second would hold a connection and a handler for as long as it likes, since
//! hyper bounds only the headers. Every request body therefore has
//! `LIBPROCESS_HTTP_BODY_TIMEOUT` to arrive, counted from the first read of it; past it
//! the read fails, and the edge answers 408 (closing an HTTP/1 connection) whatever the
//! handler made of the failed read.
//!
//! Bodies that are streams by design (the agent link's gRPC, ATTACH_CONTAINER_INPUT) are
//! lifted out of it by their handler through the [`BodyDeadline`] in the request's
//! extensions, or by routing through [`streaming_bodies`].
//!
//! ```text
//!   Incoming ──TimedBody (deadline from first poll)──▶ app ──response──▶ expired? ──▶ 408
//!                     ▲ BodyDeadline::lift (streams)
//! ```

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// The body deadline of one request, in its extensions.
#[derive(Debug, Clone, Default)]
pub struct BodyDeadline(Arc<DeadlineState>);

#[derive(Debug, Default)]
struct DeadlineState {
    lifted: AtomicBool,
    expired: AtomicBool,
}

impl BodyDeadline {
    /// No deadline for this body: it is a stream meant to last (the handler bounds it).
    pub fn lift(&self) {
        self.0.lifted.store(true, Ordering::SeqCst);
    }

    /// Whether the body was still arriving when its time ran out.
    pub fn expired(&self) -> bool {
        self.0.expired.load(Ordering::SeqCst)
    }
}

/// The error a body read gets once the deadline has passed.
#[derive(Debug)]
pub struct BodyTimeout(pub Duration);

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} (LIBPROCESS_HTTP_BODY_TIMEOUT)",
            crate::flags::format_duration(self.0)
        )
    }
}

impl Error for BodyTimeout {}

/// A request body that fails with [`BodyTimeout`] when it is not complete `timeout` after
/// its first read.
pub struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    deadline: BodyDeadline,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, timeout: Duration, deadline: BodyDeadline) -> TimedBody<B> {
        TimedBody {
            inner,
            timeout,
            deadline,
            sleep: None,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.0.lifted.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.deadline.0.expired.store(true, Ordering::SeqCst);
                Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the client gets when its body ran out of time: 408 with a JSON message, and on
/// HTTP/1 `Connection: close` (the rest of the body is never read, so the connection
/// cannot carry another request).
pub fn timed_out(timeout: Duration, version: Version) -> Response {
    let body = serde_json::json!({ "message": BodyTimeout(timeout).to_string() });
    let mut response = (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if version < Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Middleware (`axum::middleware::from_fn`) for routes whose request bodies are streams
/// meant to last: lifts their deadline.
pub async fn streaming_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(deadline) = request.extensions().get::<BodyDeadline>() {
        deadline.lift();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    type Sent = Result<Frame<Bytes>, std::io::Error>;
    type ChannelBody = http_body_util::StreamBody<tokio_stream::wrappers::ReceiverStream<Sent>>;

    /// A body whose frames come from a channel, as a client sends them.
    fn channel_body() -> (tokio::sync::mpsc::Sender<Sent>, ChannelBody) {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        (tx, body)
    }

    /// Sends `n` one-byte frames, `every` apart.
    fn trickle(
        tx: tokio::sync::mpsc::Sender<Sent>,
        n: usize,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            for _ in 0..n {
                if tx
                    .send(Ok(Frame::data(Bytes::from_static(b"x"))))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    #[tokio::test]
    async fn a_body_still_arriving_at_the_deadline_fails_and_is_marked() {
        let (tx, body) = channel_body();
        let deadline = BodyDeadline::default();
        let mut timed = TimedBody::new(body, Duration::from_millis(200), deadline.clone());
        // 100 bytes 50 ms apart take 5 s: far beyond the 200 ms deadline.
        let trickle = trickle(tx, 100, Duration::from_millis(50));
        let mut got = 0;
        let error = loop {
            match timed.frame().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e,
                None => panic!("the body ended"),
            }
        };
        assert!(error.is::<BodyTimeout>(), "{error}");
        assert!(deadline.expired());
        assert!(got < 100, "cut before the whole body arrived");
        trickle.abort();
    }

    #[tokio::test]
    async fn a_prompt_or_lifted_body_is_read_whole() {
        let (tx, body) = channel_body();
        let deadline = BodyDeadline::default();
        let timed = TimedBody::new(body, Duration::from_secs(5), deadline.clone());
        tx.send(Ok(Frame::data(Bytes::from_static(b"whole"))))
            .await
            .unwrap();
        drop(tx);
        let bytes = timed.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"whole");
        assert!(!deadline.expired());

        let (tx, body) = channel_body();
        let deadline = BodyDeadline::default();
        deadline.lift();
        // 20 bytes 20 ms apart outlast the 50 ms deadline at least eightfold.
        let timed = TimedBody::new(body, Duration::from_millis(50), deadline.clone());
        let _trickle = trickle(tx, 20, Duration::from_millis(20));
        let bytes = timed.collect().await.unwrap().to_bytes();
        assert_eq!(
            bytes.len(),
            20,
            "a stream outlives the deadline once lifted"
        );
        assert!(!deadline.expired());
    }

    #[test]
    fn the_answer_is_408_and_closes_http1() {
        let r = timed_out(Duration::from_secs(30), Version::HTTP_11);
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(r.headers()[header::CONNECTION], "close");
        let r = timed_out(Duration::from_secs(30), Version::HTTP_2);
        assert!(!r.headers().contains_key(header::CONNECTION));
    }
}
