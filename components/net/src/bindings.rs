//! The net component's WIT layer: `friscy:net/sockets` exported over [`WasiNet`]. Only
//! conversions live here.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

use crate::generated::exports::friscy::net::sockets as t;
use crate::generated::wasi::io::poll::Pollable;
use crate::wasi::WasiNet;
use crate::{Family, Kind, Net, SockOpt};

thread_local! {
    static NET: RefCell<Option<WasiNet>> = const { RefCell::new(None) };
}

fn with<T>(f: impl FnOnce(&mut WasiNet) -> T) -> T {
    NET.with(|cell| f(cell.borrow_mut().get_or_insert_with(WasiNet::new)))
}

crate::address_conversions!(t);

fn opt(o: t::SocketOption) -> SockOpt {
    match o {
        t::SocketOption::ReuseAddress => SockOpt::ReuseAddress,
        t::SocketOption::KeepAlive => SockOpt::KeepAlive,
        t::SocketOption::NoDelay => SockOpt::NoDelay,
        t::SocketOption::ReceiveBufferSize => SockOpt::ReceiveBufferSize,
        t::SocketOption::SendBufferSize => SockOpt::SendBufferSize,
        t::SocketOption::HopLimit => SockOpt::HopLimit,
        t::SocketOption::V6Only => SockOpt::V6Only,
    }
}

type R<T> = Result<T, t::Errno>;

fn e<T>(r: Result<T, crate::Errno>) -> R<T> {
    r.map_err(|e| e as u16)
}

struct Component;

impl t::Guest for Component {
    fn create(family: t::Family, kind: t::Kind) -> R<t::Socket> {
        let family = match family {
            t::Family::Inet => Family::Inet,
            t::Family::Inet6 => Family::Inet6,
        };
        let kind = match kind {
            t::Kind::Stream => Kind::Stream,
            t::Kind::Datagram => Kind::Datagram,
        };
        e(with(|n| n.create(family, kind)))
    }
    fn close(s: t::Socket) {
        with(|n| n.close(s))
    }
    fn bind(s: t::Socket, addr: t::Address) -> R<()> {
        e(with(|n| n.bind(s, addr_in(addr))))
    }
    fn connect(s: t::Socket, addr: t::Address) -> R<()> {
        e(with(|n| n.connect(s, addr_in(addr))))
    }
    fn listen(s: t::Socket, backlog: u32) -> R<()> {
        e(with(|n| n.listen(s, backlog)))
    }
    fn accept(s: t::Socket) -> R<(t::Socket, t::Address)> {
        e(with(|n| n.accept(s)).map(|(s, a)| (s, addr_out(a))))
    }
    fn send(s: t::Socket, data: Vec<u8>, to: Option<t::Address>) -> R<u32> {
        e(with(|n| n.send(s, &data, to.map(addr_in))).map(|n| n as u32))
    }
    fn recv(s: t::Socket, max: u32, peek: bool) -> R<(Vec<u8>, Option<t::Address>)> {
        e(with(|n| n.recv(s, max as usize, peek)).map(|(d, a)| (d, a.map(addr_out))))
    }
    fn shutdown(s: t::Socket, how: u8) -> R<()> {
        e(with(|n| n.shutdown(s, how)))
    }
    fn local_address(s: t::Socket) -> R<t::Address> {
        e(with(|n| n.local_address(s)).map(addr_out))
    }
    fn remote_address(s: t::Socket) -> R<t::Address> {
        e(with(|n| n.remote_address(s)).map(addr_out))
    }
    fn set_option(s: t::Socket, o: t::SocketOption, value: u64) -> R<()> {
        e(with(|n| n.set_option(s, opt(o), value)))
    }
    fn get_option(s: t::Socket, o: t::SocketOption) -> R<u64> {
        e(with(|n| n.get_option(s, opt(o))))
    }
    fn take_error(s: t::Socket) -> t::Errno {
        with(|n| n.take_error(s)).map_or(0, |e| e as u16)
    }
    fn poll_readiness(s: t::Socket) -> t::Readiness {
        let r = with(|n| n.readiness(s));
        let mut out = t::Readiness::empty();
        for (on, flag) in [
            (r.readable, t::Readiness::READABLE),
            (r.writable, t::Readiness::WRITABLE),
            (r.hangup, t::Readiness::HANGUP),
            (r.error, t::Readiness::ERROR),
        ] {
            if on {
                out = out | flag;
            }
        }
        out
    }
    fn subscribe(s: t::Socket, read: bool, write: bool) -> Vec<Pollable> {
        with(|n| n.subscribe(s, read, write))
            .into_iter()
            // SAFETY: WasiNet::subscribe hands over handles it took from owned pollables.
            .map(|h| unsafe { Pollable::from_handle(h) })
            .collect()
    }
    fn pump() -> bool {
        with(|n| n.pump())
    }
    fn subscribe_queued() -> Vec<Pollable> {
        with(|n| n.subscribe_queued())
            .into_iter()
            // SAFETY: as in `subscribe`.
            .map(|h| unsafe { Pollable::from_handle(h) })
            .collect()
    }
    fn resolve(name: String) -> R<Vec<t::Address>> {
        e(with(|n| n.resolve(&name))).map(|ips| {
            ips.into_iter()
                .map(|ip: IpAddr| addr_out(SocketAddr::new(ip, 0)))
                .collect()
        })
    }
    fn enabled() -> bool {
        with(|n| n.enabled())
    }
}

crate::generated::export!(Component with_types_in crate::generated);
