//! Connections that can be cut from outside.
//!
//! An event-stream client whose socket stopped draining leaves hyper waiting on a write
//! that never completes, so the response body is never polled again and cannot end the
//! connection itself; a client that never finishes its first request holds its socket
//! while hyper waits. Each accepted connection therefore carries a [`Cut`]: firing it
//! fails the pending read or write at once (below TLS), and hyper drops the connection.
//! Handlers find it, with the client's address, in the [`Peer`] connect info.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The switch that ends one connection.
#[derive(Debug, Default)]
pub struct Cut {
    done: AtomicBool,
    waker: AtomicWaker,
}

impl Cut {
    /// Ends the connection: its pending and later reads and writes fail.
    pub fn cut(&self) {
        self.done.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    pub fn is_cut(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Err once cut; else registers `cx` to be woken by a cut.
    fn check(&self, cx: &Context<'_>) -> io::Result<()> {
        if self.is_cut() {
            return Err(aborted());
        }
        self.waker.register(cx.waker());
        if self.is_cut() {
            return Err(aborted());
        }
        Ok(())
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection cut")
}

/// The client of a connection and its cut switch (axum connect info).
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub cut: Arc<Cut>,
}

/// An accepted connection with its cut switch.
pub struct CutStream {
    inner: TcpStream,
    cut: Arc<Cut>,
}

impl CutStream {
    pub fn new(inner: TcpStream, cut: Arc<Cut>) -> CutStream {
        CutStream { inner, cut }
    }
}

impl AsyncRead for CutStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.cut.check(cx)?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CutStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.cut.check(cx)?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.cut.check(cx)?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.cut.check(cx)?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
