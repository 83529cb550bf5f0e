//! IP sockets over the guest's own loopback, checked against Linux: each guest program
//! from tests/guest/ runs natively in the kernel (whose network is the loopback
//! backend) and under `qemu-riscv64` on the host's loopback, and the outputs must be
//! equal. (tests/guest/net_loopback.c runs end to end, in tests/net.rs and the reference
//! suite.)

mod harness;

use harness::same_as_linux;

/// recvmsg's and sendmsg's IP control messages (IP_PKTINFO, IP_TTL, IP_TOS, timestamps,
/// the IPv6 ones) and IP_RECVERR's error queue.
#[test]
fn ip_control_messages_match_linux() {
    same_as_linux("net_cmsg");
}

/// TCP and UDP semantics over 127.0.0.1 and ::1 (also run end to end in tests/net.rs).
#[test]
fn loopback_sockets_match_linux() {
    same_as_linux("net_loopback");
}

/// POLLRDHUP/EPOLLRDHUP on TCP and AF_UNIX stream sockets (a peer's SHUT_WR or close, an
/// own SHUT_RD), and the edge-triggered report of a close after the reader drained.
#[test]
fn read_hangup_matches_linux() {
    same_as_linux("io_rdhup");
}
