//! The `net-relay` component's WIT layer: `friscy:net/sockets` exported over [`RelayNet`],
//! which talks to `friscy-proxy` through the imported `friscy:net/transport`. Only
//! conversions live here.

use std::cell::RefCell;
use std::net::SocketAddr;

use super::{Closed, RelayNet, Transport};
use crate::{Errno, Family, Kind, Net, SockOpt};

wit_bindgen::generate!({
    path: "../../wit",
    world: "friscy:net/net-relay",
    generate_all,
});

use exports::friscy::net::sockets as wit;
use friscy::net::transport;

/// The imported transport.
struct WitTransport;

impl Transport for WitTransport {
    fn send(&mut self, message: Vec<u8>) -> Result<(), Closed> {
        transport::send(&message).map_err(|_| Closed)
    }
    fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Closed> {
        transport::try_recv().map_err(|_| Closed)
    }
    fn subscribe(&mut self) -> Option<u32> {
        // The export's `subscribe` asks the import directly, keeping the pollable a typed
        // resource instead of a raw handle.
        None
    }
}

thread_local! {
    static NET: RefCell<RelayNet<WitTransport>> = RefCell::new(RelayNet::new(WitTransport));
}

fn with<T>(f: impl FnOnce(&mut RelayNet<WitTransport>) -> T) -> T {
    NET.with(|n| f(&mut n.borrow_mut()))
}

fn err(e: Errno) -> u16 {
    e as u16
}

crate::address_conversions!(wit);

fn opt_in(o: wit::SocketOption) -> SockOpt {
    match o {
        wit::SocketOption::ReuseAddress => SockOpt::ReuseAddress,
        wit::SocketOption::KeepAlive => SockOpt::KeepAlive,
        wit::SocketOption::NoDelay => SockOpt::NoDelay,
        wit::SocketOption::ReceiveBufferSize => SockOpt::ReceiveBufferSize,
        wit::SocketOption::SendBufferSize => SockOpt::SendBufferSize,
        wit::SocketOption::HopLimit => SockOpt::HopLimit,
        wit::SocketOption::V6Only => SockOpt::V6Only,
    }
}

struct Component;

impl wit::Guest for Component {
    fn create(family: wit::Family, kind: wit::Kind) -> Result<wit::Socket, wit::Errno> {
        let family = match family {
            wit::Family::Inet => Family::Inet,
            wit::Family::Inet6 => Family::Inet6,
        };
        let kind = match kind {
            wit::Kind::Stream => Kind::Stream,
            wit::Kind::Datagram => Kind::Datagram,
        };
        with(|n| n.create(family, kind)).map_err(err)
    }
    fn close(s: wit::Socket) {
        with(|n| n.close(s))
    }
    fn bind(s: wit::Socket, addr: wit::Address) -> Result<(), wit::Errno> {
        with(|n| n.bind(s, addr_in(addr))).map_err(err)
    }
    fn connect(s: wit::Socket, addr: wit::Address) -> Result<(), wit::Errno> {
        with(|n| n.connect(s, addr_in(addr))).map_err(err)
    }
    fn listen(s: wit::Socket, backlog: u32) -> Result<(), wit::Errno> {
        with(|n| n.listen(s, backlog)).map_err(err)
    }
    fn accept(s: wit::Socket) -> Result<(wit::Socket, wit::Address), wit::Errno> {
        with(|n| n.accept(s))
            .map(|(c, a)| (c, addr_out(a)))
            .map_err(err)
    }
    fn send(s: wit::Socket, data: Vec<u8>, to: Option<wit::Address>) -> Result<u32, wit::Errno> {
        // A `list<u8>` cannot exceed 4 GiB on wasm32, so the count fits.
        with(|n| n.send(s, &data, to.map(addr_in)))
            .map(|c| c as u32)
            .map_err(err)
    }
    fn recv(
        s: wit::Socket,
        max: u32,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<wit::Address>), wit::Errno> {
        with(|n| n.recv(s, max as usize, peek))
            .map(|(d, a)| (d, a.map(addr_out)))
            .map_err(err)
    }
    fn shutdown(s: wit::Socket, how: u8) -> Result<(), wit::Errno> {
        with(|n| n.shutdown(s, how)).map_err(err)
    }
    fn local_address(s: wit::Socket) -> Result<wit::Address, wit::Errno> {
        with(|n| n.local_address(s)).map(addr_out).map_err(err)
    }
    fn remote_address(s: wit::Socket) -> Result<wit::Address, wit::Errno> {
        with(|n| n.remote_address(s)).map(addr_out).map_err(err)
    }
    fn set_option(s: wit::Socket, opt: wit::SocketOption, value: u64) -> Result<(), wit::Errno> {
        with(|n| n.set_option(s, opt_in(opt), value)).map_err(err)
    }
    fn get_option(s: wit::Socket, opt: wit::SocketOption) -> Result<u64, wit::Errno> {
        with(|n| n.get_option(s, opt_in(opt))).map_err(err)
    }
    fn take_error(s: wit::Socket) -> wit::Errno {
        with(|n| n.take_error(s)).map_or(0, err)
    }
    fn poll_readiness(s: wit::Socket) -> wit::Readiness {
        let r = with(|n| n.readiness(s));
        let mut out = wit::Readiness::empty();
        for (on, flag) in [
            (r.readable, wit::Readiness::READABLE),
            (r.writable, wit::Readiness::WRITABLE),
            (r.hangup, wit::Readiness::HANGUP),
            (r.error, wit::Readiness::ERROR),
        ] {
            if on {
                out = out | flag;
            }
        }
        out
    }
    fn subscribe(_: wit::Socket, _: bool, _: bool) -> Vec<wit::Pollable> {
        // Every readiness change arrives as a message, so one pollable serves all sockets.
        vec![transport::subscribe()]
    }
    fn pump() -> bool {
        // The relay's sends go straight into the transport's queue (the proxy's window
        // paces them): nothing waits here.
        false
    }
    fn subscribe_queued() -> Vec<wit::Pollable> {
        Vec::new()
    }
    fn resolve(name: String) -> Result<Vec<wit::Address>, wit::Errno> {
        // The kernel's DNS responder asks synchronously: wait here for the proxy's answer
        // (RelayNet asks once, then answers from what arrives), at most 10 s.
        let deadline = wasi::clocks::monotonic_clock::now() + 10_000_000_000;
        loop {
            match with(|n| n.resolve(&name)) {
                Err(Errno::EAGAIN) if wasi::clocks::monotonic_clock::now() < deadline => {
                    let timer = wasi::clocks::monotonic_clock::subscribe_instant(deadline);
                    wasi::io::poll::poll(&[&transport::subscribe(), &timer]);
                }
                Err(Errno::EAGAIN) => return Err(err(Errno::ETIMEDOUT)),
                Err(e) => return Err(err(e)),
                Ok(ips) => {
                    return Ok(ips
                        .into_iter()
                        .map(|ip| addr_out(SocketAddr::new(ip, 0)))
                        .collect());
                }
            }
        }
    }
    fn enabled() -> bool {
        true
    }
}

export!(Component);
