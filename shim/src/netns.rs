//! The container's network namespace, entered by the task process before the guest starts:
//! a Kubernetes pod's (joined by its path), a new one (`ctr run` without `--net-host`), or
//! none (the host's network). The guest's sockets (wasi:sockets on the host) then live in
//! that namespace, as a runc container's do.

use std::fs::File;

use anyhow::{Context, Result};
use nix::sched::{CloneFlags, setns, unshare};

use crate::plan::Network;

pub fn enter(network: &Network) -> Result<()> {
    match network {
        Network::Host => Ok(()),
        Network::Join(path) => {
            let ns = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            setns(&ns, CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("joining the network namespace {}", path.display()))
        }
        Network::New => {
            unshare(CloneFlags::CLONE_NEWNET).context("creating a network namespace")?;
            loopback_up()
        }
    }
}

/// A new namespace's loopback interface starts down; runc brings it up, so do we
/// (netdevice(7): SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP).
fn loopback_up() -> Result<()> {
    use nix::libc;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    use std::os::fd::AsRawFd;

    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("a socket to configure lo")?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = src as libc::c_char;
    }
    // SAFETY: `sock` is an open socket and `req` a valid ifreq naming "lo"; the kernel
    // fills in ifr_flags (the union member SIOCGIFFLAGS uses).
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error()).context("SIOCGIFFLAGS lo");
    }
    // SAFETY: ifr_flags is the union member SIOCGIFFLAGS just wrote.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS reads ifr_name and ifr_flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error()).context("SIOCSIFFLAGS lo");
    }
    Ok(())
}
