//! The socket under a connection, so that a connection to a server that stopped answering can
//! be cut. A hung server (frozen, or behind a partition that still acknowledges TCP) leaves a
//! statement waiting for a reply that never comes; a cancel request does not help (nothing
//! reads it), and neither TCP keepalives nor `tcp_user_timeout` fire, since the server's kernel
//! keeps acknowledging. Shutting the socket down (`shutdown(SHUT_RDWR)`) from another thread
//! makes the waiting read fail at once, and the client then reports the connection closed.
//!
//! The client library does not expose its socket, so it is found (Linux): right after
//! connecting, the server says which addresses the connection has (`inet_client_addr()` and
//! `inet_client_port()` are ours, `inet_server_addr()` and `inet_server_port()` its own). Each
//! socket of this process (`/proc/self/fd`) is duplicated with `pidfd_getfd` into a descriptor
//! of our own and kept if its local and peer addresses are exactly those (a TCP connection is
//! the only one with its four-tuple on a host). The duplicate lives as long as the connection
//! (see `pool::Conn`) and refers to that socket whatever becomes of the descriptor number the
//! client uses: a shutdown can never hit another file. It also keeps the socket open until the
//! connection is dropped, which happens at the same time.
//!
//! Not found, and a commit past its deadline is then only cancelled (a hung server keeps it
//! waiting): Unix-domain sockets (the server reports no address), a proxy or NAT in between
//! (the server sees other addresses), a server without these functions, a kernel before 5.6 or
//! a sandbox that refuses `pidfd_getfd`, and systems other than Linux.

pub(crate) use imp::{locate, Socket};

#[cfg(target_os = "linux")]
mod imp {
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::OwnedFd;

    use postgres::Client;
    use rustix::net::{getpeername, getsockname, shutdown, Shutdown};
    use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};

    use crate::engine::postgres::sql::ADDRESSES;

    /// Our own descriptor of a connection's socket.
    pub(crate) struct Socket {
        fd: OwnedFd,
    }

    impl Socket {
        /// Shuts the socket down both ways: a read waiting on it fails now, and so does any
        /// later use of the connection. Never blocks.
        pub(crate) fn cut(&self) {
            // Nothing to do if it fails: the socket is then already unusable.
            let _ = shutdown(&self.fd, Shutdown::Both);
        }
    }

    /// The socket of `client`'s connection, if it can be told apart (see the module docs).
    pub(crate) fn locate(client: &mut Client) -> Option<Socket> {
        let (local, peer) = addresses(client)?;
        find(local, peer)
    }

    /// Our address and the server's, as the server sees the connection.
    fn addresses(client: &mut Client) -> Option<(SocketAddr, SocketAddr)> {
        // Any error (a server without these functions) only means the socket is not found.
        let row = client.query_opt(ADDRESSES, &[]).ok()??;
        let address = |ip: usize, port: usize| -> Option<SocketAddr> {
            let ip: IpAddr = row.try_get::<_, Option<String>>(ip).ok()??.parse().ok()?;
            let port = u16::try_from(row.try_get::<_, Option<i32>>(port).ok()??).ok()?;
            Some(SocketAddr::new(ip.to_canonical(), port))
        };
        Some((address(0, 1)?, address(2, 3)?))
    }

    /// The socket of this process whose local and peer addresses are `local` and `peer`.
    pub(super) fn find(local: SocketAddr, peer: SocketAddr) -> Option<Socket> {
        let me = pidfd_open(getpid(), PidfdFlags::empty()).ok()?;
        for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
            let Some(n) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            // Only sockets are worth a look: their link reads `socket:[inode]`.
            let socket = std::fs::read_link(entry.path())
                .is_ok_and(|l| l.as_os_str().as_encoded_bytes().starts_with(b"socket:"));
            if !socket {
                continue;
            }
            // A duplicate, checked itself: if the number was closed and reused meanwhile, the
            // duplicate is of the new file, and its addresses tell.
            let Ok(fd) = pidfd_getfd(&me, n, PidfdGetfdFlags::empty()) else {
                continue;
            };
            if addressed(&fd, local, peer) {
                return Some(Socket { fd });
            }
        }
        None
    }

    /// Whether `fd` is a socket connected from `local` to `peer`.
    fn addressed(fd: &OwnedFd, local: SocketAddr, peer: SocketAddr) -> bool {
        let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        let ours = getsockname(fd)
            .ok()
            .and_then(|a| SocketAddr::try_from(a).ok())
            .map(canonical);
        let theirs = getpeername(fd)
            .ok()
            .flatten()
            .and_then(|a| SocketAddr::try_from(a).ok())
            .map(canonical);
        ours == Some(local) && theirs == Some(peer)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use postgres::Client;

    /// No socket is found on this system (see the module docs).
    pub(crate) enum Socket {}

    impl Socket {
        pub(crate) fn cut(&self) {
            match *self {}
        }
    }

    pub(crate) fn locate(_client: &mut Client) -> Option<Socket> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    use super::imp::find;

    #[test]
    fn the_socket_of_a_connection_is_found_and_cut() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let (local, peer) = (
            client.local_addr().expect("local"),
            client.peer_addr().expect("peer"),
        );

        // The accepted end has the same addresses the other way round: only ours matches.
        let found = find(local, peer).expect("the client's socket is found");
        assert!(find(peer, local).is_some(), "the accepted end is found too");
        let mut elsewhere = peer;
        elsewhere.set_port(peer.port().wrapping_add(1));
        assert!(find(local, elsewhere).is_none(), "another peer is not ours");

        // A cut through our duplicate ends the connection for the descriptor the owner uses:
        // its reads see the end at once, and the server sees it closed.
        found.cut();
        let mut buf = [0u8; 1];
        assert_eq!((&client).read(&mut buf).expect("read after a cut"), 0);
        assert_eq!(server.read(&mut buf).expect("server read"), 0);
    }
}
