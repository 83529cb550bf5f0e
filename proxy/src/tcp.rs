//! One TCP connection of a guest: bytes from the guest (`Data` frames, acknowledged with
//! `Credit` once written) to the socket, and bytes from the socket to the guest within the
//! credit the guest granted, so neither direction buffers more than a window.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use friscy_net::relay::frame::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc};

use crate::session::{Out, errno_of, msg};

/// Bytes read from a connection per `Data` frame.
const CHUNK: usize = 64 * 1024;

/// How many bytes the guest lets us send on a stream.
#[derive(Default)]
pub(crate) struct Credit {
    bytes: Mutex<u64>,
    more: Notify,
}

impl Credit {
    pub(crate) fn add(&self, n: u32) {
        *self.bytes.lock().unwrap() += n as u64;
        self.more.notify_one();
    }
    /// Waits for some credit; only the stream's reader consumes it, so it is still there.
    async fn wait(&self) -> usize {
        loop {
            let more = self.more.notified();
            let n = *self.bytes.lock().unwrap();
            if n > 0 {
                return n.min(CHUNK as u64) as usize;
            }
            more.await;
        }
    }
    fn consume(&self, n: usize) {
        *self.bytes.lock().unwrap() -= n as u64;
    }
}

pub(crate) enum Cmd {
    Data(Vec<u8>),
    Shutdown,
    Close,
}

/// An established TCP stream's relay: guest frames to the socket, socket bytes to the guest
/// within the guest's credit.
pub(crate) struct Conn {
    pub stream: u32,
    pub out: Out,
    pub credit: Arc<Credit>,
    /// Shared with the session, which counts the guest's `Data` against it.
    pub allowance: Arc<AtomicI64>,
    pub cmds: mpsc::UnboundedReceiver<Cmd>,
}

enum WriteEnd {
    /// The guest closed the stream (or the session ended).
    Closed,
    Failed(u16, String),
}

impl Conn {
    pub(crate) async fn relay(mut self, tcp: TcpStream) {
        let stream = self.stream;
        let (rd, wr) = tcp.into_split();
        let out = self.out.clone();
        let credit = self.credit.clone();
        let reader = read_loop(stream, rd, out.clone(), credit);
        let writer = self.write_loop(wr);
        tokio::pin!(reader, writer);
        let mut reading = true;
        let end = loop {
            tokio::select! {
                r = &mut reader, if reading => match r {
                    // The peer finished sending (FIN); the guest may still write.
                    Ok(()) => {
                        reading = false;
                        if out.send(msg(Frame::Shutdown { stream })).await.is_err() {
                            break None;
                        }
                    }
                    Err((errno, why)) => break Some((errno, why)),
                },
                w = &mut writer => match w {
                    WriteEnd::Closed => break None,
                    WriteEnd::Failed(errno, why) => break Some((errno, why)),
                },
            }
        };
        if let Some((errno, message)) = end {
            let _ = out
                .send(msg(Frame::Error {
                    stream,
                    errno,
                    message,
                }))
                .await;
        }
    }

    async fn write_loop(&mut self, mut wr: OwnedWriteHalf) -> WriteEnd {
        while let Some(cmd) = self.cmds.recv().await {
            match cmd {
                Cmd::Data(d) => {
                    if let Err(e) = wr.write_all(&d).await {
                        return WriteEnd::Failed(errno_of(&e), format!("send: {e}"));
                    }
                    self.allowance.fetch_add(d.len() as i64, Ordering::Relaxed);
                    let f = Frame::Credit {
                        stream: self.stream,
                        bytes: d.len() as u32,
                    };
                    if self.out.send(msg(f)).await.is_err() {
                        return WriteEnd::Closed;
                    }
                }
                Cmd::Shutdown => {
                    let _ = wr.shutdown().await;
                }
                Cmd::Close => {
                    // close(2) sends what was already written, then FIN.
                    let _ = wr.shutdown().await;
                    return WriteEnd::Closed;
                }
            }
        }
        WriteEnd::Closed
    }
}

async fn read_loop(
    stream: u32,
    mut rd: OwnedReadHalf,
    out: Out,
    credit: Arc<Credit>,
) -> Result<(), (u16, String)> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = credit.wait().await;
        match rd.read(&mut buf[..n]).await {
            Ok(0) => return Ok(()),
            Ok(k) => {
                credit.consume(k);
                let f = Frame::Data {
                    stream,
                    data: buf[..k].to_vec(),
                };
                if out.send(msg(f)).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => return Err((errno_of(&e), format!("recv: {e}"))),
        }
    }
}

pub(crate) fn listen(bind: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let sock = if bind.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As Linux servers usually ask for: a restarted guest server can rebind at once.
    sock.set_reuseaddr(true)?;
    sock.bind(bind)?;
    sock.listen(backlog.clamp(1, 4096))
}
